//! The transitions of [`TaskTable`] outside a lease: cancel a task, let
//! dependents follow a failed or cancelled one (cascade), make blocked tasks
//! ready once their dependencies are done, and reset failed tasks.

use super::{Effects, TaskError, TaskTable};
use crate::model::{EventKind, Millis, TaskId, TaskStatus};

impl TaskTable {
    /// Cancel a non-terminal task.
    pub fn cancel(
        &mut self,
        id: &TaskId,
        reason: Option<String>,
        now: Millis,
        fx: &mut Effects,
    ) -> Result<(), TaskError> {
        let t = self
            .tasks
            .get(id)
            .ok_or_else(|| TaskError::NotFound(id.clone()))?;
        let from = t.status;
        if from.is_terminal() {
            return Err(TaskError::WrongStatus {
                task: id.clone(),
                status: from,
                action: "cancel it (it already finished)",
            });
        }
        let reason = reason.unwrap_or_else(|| "cancelled".to_owned());
        if from == TaskStatus::Running {
            self.end_lease(
                id,
                TaskStatus::Cancelled,
                EventKind::TaskCancelled,
                now,
                fx,
                |t| {
                    t.error = Some(reason);
                },
            );
        } else {
            self.update(id, now, |t| {
                t.status = TaskStatus::Cancelled;
                t.error = Some(reason);
                t.finished_at = Some(now);
            });
            if let Some(t) = self.tasks.get(id) {
                let ev = fx.event(EventKind::TaskCancelled, t, Some(from), now);
                ev.reason = t.error.clone();
            }
        }
        fx.cancelled.push(id.clone());
        Ok(())
    }

    /// Dependents of a failed or cancelled task follow it (`to` is `failed` or
    /// `cancelled`). Only blocked/ready tasks are touched.
    pub fn cascade(
        &mut self,
        ids: &[TaskId],
        to: TaskStatus,
        reason: &str,
        now: Millis,
        fx: &mut Effects,
    ) {
        for id in ids {
            self.follow(id, to, reason, now, fx);
        }
    }

    /// One task follows another's end (`to` is `failed` or `cancelled`,
    /// `reason` says whose): a blocked or ready task ends so; a running
    /// one only when cancelled (its parent was, or a sibling failed), its
    /// lease ending with it. Anything else is left as it is.
    pub(super) fn follow(
        &mut self,
        id: &TaskId,
        to: TaskStatus,
        reason: &str,
        now: Millis,
        fx: &mut Effects,
    ) {
        let kind = if to == TaskStatus::Cancelled {
            EventKind::TaskCancelled
        } else {
            EventKind::TaskFailed
        };
        let Some(from) = self.tasks.get(id).map(|t| t.status) else {
            return;
        };
        if from == TaskStatus::Running && to == TaskStatus::Cancelled {
            self.end_lease(id, to, kind, now, fx, |t| {
                t.error = Some(reason.to_owned());
            });
            return;
        }
        if !matches!(from, TaskStatus::Blocked | TaskStatus::Ready) {
            return;
        }
        self.update(id, now, |t| {
            t.status = to;
            t.error = Some(reason.to_owned());
            t.finished_at = Some(now);
        });
        if let Some(t) = self.tasks.get(id) {
            let ev = fx.event(kind, t, Some(from), now);
            ev.reason = Some(reason.to_owned());
        }
    }

    /// Blocked tasks whose dependencies are now done become ready — unless
    /// they are parents (they wait for their subtasks) or their `run_after`
    /// is still ahead (they wait for it in the delayed index).
    pub fn make_ready(&mut self, ids: &[TaskId], now: Millis, fx: &mut Effects) {
        for id in ids {
            let Some(t) = self.tasks.get(id) else {
                continue;
            };
            if t.status != TaskStatus::Blocked || self.children.contains_key(id) {
                continue;
            }
            if let Some(at) = t.run_after.filter(|at| *at > now) {
                self.wait_until(id, at, now, fx);
                continue;
            }
            self.update(id, now, |t| t.status = TaskStatus::Ready);
            if let Some(t) = self.tasks.get(id) {
                fx.event(EventKind::TaskReady, t, Some(TaskStatus::Blocked), now);
            }
        }
    }

    /// Check that `id` can be reset.
    pub fn check_resettable(&self, id: &TaskId) -> Result<(), TaskError> {
        let t = self
            .tasks
            .get(id)
            .ok_or_else(|| TaskError::NotFound(id.clone()))?;
        if t.status != TaskStatus::Failed {
            return Err(TaskError::WrongStatus {
                task: id.clone(),
                status: t.status,
                action: "reset it (only failed tasks can be reset)",
            });
        }
        Ok(())
    }

    /// Reset failed tasks to `ready` (`true`: their dependencies are done)
    /// or `blocked` (`false`), clearing attempts and error. A parent, or a
    /// task whose `run_after` is still ahead, is reset to `blocked`.
    pub fn reset(&mut self, ids: &[(TaskId, bool)], now: Millis, fx: &mut Effects) {
        for (id, ready) in ids {
            let Some(t) = self.tasks.get(id) else {
                continue;
            };
            if t.status != TaskStatus::Failed {
                continue;
            }
            let delay = t.run_after.filter(|at| *at > now);
            let to = if *ready && delay.is_none() && !self.children.contains_key(id) {
                TaskStatus::Ready
            } else {
                TaskStatus::Blocked
            };
            self.update(id, now, |t| {
                t.status = to;
                t.attempts = 0;
                t.error = None;
                t.output = None;
                t.worker = None;
                t.started_at = None;
                t.finished_at = None;
            });
            if let Some(t) = self.tasks.get(id) {
                fx.event(EventKind::TaskReset, t, Some(TaskStatus::Failed), now);
            }
            if let (true, Some(at)) = (*ready, delay) {
                self.wait_until(id, at, now, fx);
            }
        }
    }
}
