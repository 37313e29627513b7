//! Parents and delays in the [`TaskTable`]: a parent (a task with subtasks)
//! waits `blocked` for its children and is never handed out; a worker may
//! split the task it holds (its lease ends as `split`); the graph's
//! [`Fallout`] is applied here (ready leaves, roll-ups, cascades); a task put
//! off until its `run_after` waits in the delayed index until
//! [`TaskTable::wake`]; and [`TaskTable::settle`] keeps each parent's
//! [`Subtasks`] counts and every blocked task's reason current.

use super::{Effects, LeaseRef, TaskError, TaskTable};
use crate::core::graph::{Fallout, NodeState};
use crate::model::{rfc3339, EventKind, Millis, Subtasks, TaskId, TaskStatus};

/// Most children a rolled-up parent's `output` lists (the counts cover all).
pub const MAX_LISTED_SUBTASKS: usize = 100;

/// The reason of a task waiting for its time.
pub(super) fn not_before(at: Millis) -> String {
    format!("not before {}", rfc3339::format(at))
}

/// The reason of a parent waiting for its children.
fn waits_for(s: &Subtasks) -> String {
    format!("waits for {} of {} children", s.open(), s.total)
}

impl TaskTable {
    /// Whether `id` is a parent (has subtasks on the board).
    pub fn is_container(&self, id: &TaskId) -> bool {
        self.children.contains_key(id)
    }

    /// The children of `id`, oldest first (empty for a leaf).
    pub fn children_of(&self, id: &TaskId) -> Vec<TaskId> {
        let mut kids = self.children.get(id).cloned().unwrap_or_default();
        kids.sort_by_key(|c| self.get(c).map_or(u64::MAX, |t| t.seq));
        kids
    }

    /// A parent's children by outcome (`None` for a leaf).
    pub fn subtasks_of(&self, id: &TaskId) -> Option<Subtasks> {
        let c = self.child_counts.get(id)?;
        let n = |s: TaskStatus| c[s.index()];
        let total: u32 = c.iter().sum();
        (total > 0).then_some(Subtasks {
            total,
            done: n(TaskStatus::Done),
            failed: n(TaskStatus::Failed),
            cancelled: n(TaskStatus::Cancelled),
        })
    }

    /// A blocked task whose dependencies are done waits for `at` (ms): into
    /// the delayed index, with its reason. Parents do not wait for time.
    pub(super) fn wait_until(&mut self, id: &TaskId, at: Millis, now: Millis, fx: &mut Effects) {
        if self.is_container(id) {
            return;
        }
        let reason = Some(not_before(at));
        let changed = self.get(id).is_some_and(|t| {
            t.status == TaskStatus::Blocked
                && (t.blocked_reason != reason || t.run_after != Some(at))
        });
        if changed {
            self.update(id, now, |t| {
                t.run_after = Some(at);
                t.blocked_reason = reason;
            });
            fx.changed.push(id.clone());
        }
        self.delayed.insert((at, id.clone()));
    }

    /// When the next delayed task is due (ms), if any.
    pub fn next_wake(&self) -> Option<Millis> {
        self.delayed.iter().next().map(|(at, _)| *at)
    }

    /// Delayed tasks whose `run_after` has come by `now` become ready
    /// (`task_ready`); returns how many.
    pub fn wake(&mut self, now: Millis, fx: &mut Effects) -> usize {
        let mut woken = 0;
        while let Some((at, id)) = self.delayed.first().cloned() {
            if at > now {
                break;
            }
            self.delayed.remove(&(at, id.clone()));
            let due = self
                .get(&id)
                .is_some_and(|t| t.status == TaskStatus::Blocked && t.run_after == Some(at))
                && !self.is_container(&id);
            if !due {
                continue;
            }
            self.update(&id, now, |t| t.status = TaskStatus::Ready);
            if let Some(t) = self.get(&id) {
                fx.event(EventKind::TaskReady, t, Some(TaskStatus::Blocked), now);
            }
            woken += 1;
        }
        woken
    }

    /// Whether subtasks may be added under `id` by the caller: a running
    /// task only by its holder, under its lease (`by`) — a split; a lease
    /// named for a task that is not running is stale. A missing or finished
    /// parent is the graph's to refuse (it names the field).
    pub fn check_split(
        &self,
        id: &TaskId,
        by: Option<&LeaseRef>,
        now: Millis,
        actor: &crate::model::Principal,
    ) -> Result<(), TaskError> {
        let Some(t) = self.get(id) else {
            return Ok(());
        };
        match (t.status, by) {
            (TaskStatus::Running, Some(by)) => self.check_lease(id, by, now, actor).map(|_| ()),
            (TaskStatus::Running, None) => Err(TaskError::WrongStatus {
                task: id.clone(),
                status: t.status,
                action: "add subtasks to it without its lease (only the worker holding it may split it: send its lease_id)",
            }),
            (_, Some(by)) => self.check_lease(id, by, now, actor).map(|_| ()),
            (_, None) => Ok(()),
        }
    }

    /// `id` gained subtasks: it becomes a parent. A ready task goes back to
    /// `blocked` (`task_blocked`); a running one — a split, checked by
    /// [`TaskTable::check_split`] — ends its lease as `split` (the attempt
    /// does not count) and waits `blocked`.
    pub fn contain(&mut self, id: &TaskId, now: Millis, fx: &mut Effects) {
        let Some(from) = self.get(id).map(|t| t.status) else {
            return;
        };
        match from {
            TaskStatus::Running => {
                self.end_lease(
                    id,
                    TaskStatus::Blocked,
                    EventKind::TaskSplit,
                    now,
                    fx,
                    |t| {
                        t.attempts = t.attempts.saturating_sub(1);
                    },
                );
            }
            TaskStatus::Ready => {
                self.update(id, now, |t| t.status = TaskStatus::Blocked);
                if let Some(t) = self.get(id) {
                    let ev = fx.event(EventKind::TaskBlocked, t, Some(from), now);
                    ev.reason = Some("waits for its subtasks".into());
                }
            }
            _ => fx.changed.push(id.clone()),
        }
    }

    /// A parent whose last unfinished child ended, some child done: it is
    /// `done` (`task_completed`), its `output` listing its children's ids
    /// and outcomes (at most [`MAX_LISTED_SUBTASKS`]; not their outputs).
    fn roll_up(&mut self, id: &TaskId, now: Millis, fx: &mut Effects) {
        let Some(from) = self.get(id).map(|t| t.status) else {
            return;
        };
        if from.is_terminal() || from == TaskStatus::Running {
            return;
        }
        let kids = self.children_of(id);
        let listed: Vec<serde_json::Value> = kids
            .iter()
            .take(MAX_LISTED_SUBTASKS)
            .filter_map(|c| self.get(c))
            .map(|c| serde_json::json!({ "id": c.id, "status": c.status }))
            .collect();
        let counts = self.subtasks_of(id).unwrap_or_default();
        let mut output = serde_json::json!({
            "subtasks": listed,
            "total": counts.total,
            "done": counts.done,
            "cancelled": counts.cancelled,
        });
        if kids.len() > MAX_LISTED_SUBTASKS {
            output["more"] = serde_json::json!(kids.len() - MAX_LISTED_SUBTASKS);
        }
        self.update(id, now, |t| {
            t.status = TaskStatus::Done;
            t.output = Some(Box::new(output));
            t.error = None;
            t.finished_at = Some(now);
        });
        if let Some(t) = self.get(id) {
            let ev = fx.event(EventKind::TaskCompleted, t, Some(from), now);
            ev.reason = Some("every subtask finished".into());
        }
    }

    /// Apply what the graph said an end did: ready leaves become ready
    /// (or wait for their time), parents roll up, dependents and relatives
    /// fail or are cancelled with the reason of their cause (running
    /// children of a cancelled parent lose their lease).
    pub fn apply(&mut self, fallout: &Fallout, now: Millis, fx: &mut Effects) {
        self.make_ready(&fallout.ready, now, fx);
        for e in &fallout.ended {
            match e.state {
                NodeState::Done => self.roll_up(&e.id, now, fx),
                NodeState::Failed | NodeState::Cancelled => {
                    let to = if e.state == NodeState::Failed {
                        TaskStatus::Failed
                    } else {
                        TaskStatus::Cancelled
                    };
                    let reason = e.cause.reason(e.state).unwrap_or_default();
                    self.follow(&e.id, to, &reason, now, fx);
                }
                NodeState::Pending => {}
            }
        }
    }

    /// Bring the parents of every task `fx` changed (and every parent it
    /// changed) up to date: their [`Subtasks`] counts and, while blocked,
    /// their reason ("waits for 3 of 5 children"). A parent rewritten here
    /// joins `fx.changed` (no audit event: its status did not change).
    pub fn settle(&mut self, now: Millis, fx: &mut Effects) {
        let mut parents: Vec<TaskId> = Vec::new();
        for id in &fx.changed {
            if self.is_container(id) && !parents.contains(id) {
                parents.push(id.clone());
            }
            if let Some(p) = self.get(id).and_then(|t| t.parent.clone()) {
                if !parents.contains(&p) {
                    parents.push(p);
                }
            }
        }
        for p in parents {
            let Some(t) = self.get(&p) else { continue };
            let counts = self.subtasks_of(&p);
            let reason = match (t.status, &counts) {
                (TaskStatus::Blocked, Some(c)) => Some(waits_for(c)),
                _ => t.blocked_reason.clone(),
            };
            if t.subtasks == counts && t.blocked_reason == reason {
                continue;
            }
            self.update(&p, now, |t| {
                t.subtasks = counts;
                t.blocked_reason = reason;
            });
            fx.changed.push(p);
        }
    }
}
