//! The lease state machine of [`TaskTable`]: claim a ready task under a new
//! fenced lease, check a presented lease (id or compat worker name, owner,
//! time), heartbeat, and end it — complete, fail (retry or for good),
//! release, expire — plus the expiry index the sweep reads.

use super::{Claimant, Effects, FailOutcome, LeaseRef, TaskError, TaskTable};
use crate::model::{EventKind, Lease, Millis, Principal, Task, TaskId, TaskStatus};

impl TaskTable {
    /// Claim a ready task for `who.worker` into `who.slot`; the lease lapses
    /// at `now + who.ttl_ms`.
    pub fn claim(
        &mut self,
        id: &TaskId,
        who: Claimant<'_>,
        now: Millis,
        fx: &mut Effects,
    ) -> Result<Lease, TaskError> {
        self.check_claimable(id)?;
        let (worker, slot) = (who.worker, who.slot);
        let lease = Lease {
            task_id: id.clone(),
            lease_id: self.next_lease_id,
            worker: worker.to_owned(),
            slot,
            expires_at: now.saturating_add(who.ttl_ms),
            claimed_at: now,
            owner: fx.actor.name.clone(),
            compat: who.compat,
        };
        self.next_lease_id += 1;
        let l = lease.clone();
        self.update(id, now, |t| {
            t.status = TaskStatus::Running;
            t.attempts += 1;
            t.lease = Some(Box::new(l));
            t.worker = Some(worker.to_owned());
            t.started_at = Some(now);
            t.finished_at = None;
        });
        if let Some(t) = self.tasks.get(id) {
            let ev = fx.event(EventKind::TaskClaimed, t, Some(TaskStatus::Ready), now);
            ev.worker = Some(worker.to_owned());
            ev.slot = Some(slot);
            ev.lease_id = Some(lease.lease_id);
        }
        fx.leases_started.push(lease.clone());
        Ok(lease)
    }

    /// The current lease of a running task, checked against `by`, against
    /// its owner (only the token that created it, or an admin — `actor` —
    /// may act under it) and against the time: a lease whose `expires_at` is
    /// not after `now` is refused ([`TaskError::LeaseExpired`]) even before
    /// the sweep frees the task. Every lease-fenced operation goes through
    /// this check.
    pub fn check_lease(
        &self,
        id: &TaskId,
        by: &LeaseRef,
        now: Millis,
        actor: &Principal,
    ) -> Result<&Lease, TaskError> {
        let l = self.current_lease(id, by)?;
        if !actor.may_act_on(l.owner.as_deref()) {
            return Err(TaskError::NotOwner {
                task: id.clone(),
                owner: l.owner.clone(),
            });
        }
        if l.expires_at <= now {
            return Err(TaskError::LeaseExpired {
                task: id.clone(),
                lease_id: l.lease_id,
                expires_at: l.expires_at,
            });
        }
        Ok(l)
    }

    /// The current lease of a running task if `by` names it, lapsed or not.
    fn current_lease(&self, id: &TaskId, by: &LeaseRef) -> Result<&Lease, TaskError> {
        let t = self
            .tasks
            .get(id)
            .ok_or_else(|| TaskError::NotFound(id.clone()))?;
        match (&t.lease, by) {
            (Some(l), LeaseRef::Id(lid)) if l.lease_id == *lid => Ok(l),
            (Some(l), LeaseRef::Worker(w)) if l.compat && l.worker == *w => Ok(l),
            (current, LeaseRef::Id(lid)) => Err(TaskError::StaleLease {
                task: id.clone(),
                presented: *lid,
                current: current.as_ref().map(|l| l.lease_id),
            }),
            (_, LeaseRef::Worker(w)) => Err(TaskError::NotHolder {
                task: id.clone(),
                worker: w.clone(),
            }),
        }
    }

    /// Extend a lease to `now + ttl_ms`.
    pub fn heartbeat(
        &mut self,
        id: &TaskId,
        by: &LeaseRef,
        now: Millis,
        ttl_ms: u64,
        fx: &mut Effects,
    ) -> Result<Lease, TaskError> {
        self.check_lease(id, by, now, &fx.actor)?;
        let lease = self
            .update(id, now, |t| {
                t.lease.as_mut().map(|l| {
                    l.expires_at = now.saturating_add(ttl_ms);
                    Lease::clone(l)
                })
            })
            .flatten()
            .ok_or_else(|| TaskError::NotFound(id.clone()))?;
        // no audit event and no rewrite of the task: the registry persists
        // only the renewal (the audit log keeps claim, expiry and lease end)
        fx.leases_renewed.push(lease.clone());
        Ok(lease)
    }

    /// End the current lease, moving the task to `to`.
    pub(super) fn end_lease(
        &mut self,
        id: &TaskId,
        to: TaskStatus,
        kind: EventKind,
        now: Millis,
        fx: &mut Effects,
        apply: impl FnOnce(&mut Task),
    ) -> Option<Lease> {
        let lease = self
            .update(id, now, |t| {
                let l = t.lease.take().map(|l| *l);
                t.status = to;
                if to.is_terminal() {
                    t.finished_at = Some(now);
                } else {
                    // ready again: nobody works on it
                    t.worker = None;
                    t.started_at = None;
                }
                apply(t);
                l
            })
            .flatten();
        if let Some(t) = self.tasks.get(id) {
            let ev = fx.event(kind, t, Some(TaskStatus::Running), now);
            if let Some(l) = &lease {
                ev.worker = Some(l.worker.clone());
                ev.slot = Some(l.slot);
                ev.lease_id = Some(l.lease_id);
            }
            ev.reason = t.error.clone();
        }
        if let Some(l) = &lease {
            fx.leases_ended.push(l.clone());
        }
        lease
    }

    /// Complete a running task.
    pub fn complete(
        &mut self,
        id: &TaskId,
        by: &LeaseRef,
        output: Option<serde_json::Value>,
        now: Millis,
        fx: &mut Effects,
    ) -> Result<(), TaskError> {
        self.check_lease(id, by, now, &fx.actor)?;
        self.end_lease(
            id,
            TaskStatus::Done,
            EventKind::TaskCompleted,
            now,
            fx,
            |t| {
                t.output = output.map(Box::new);
                t.error = None;
            },
        );
        fx.done.push(id.clone());
        Ok(())
    }

    /// Fail the current attempt. With `retry` and attempts left, the task is
    /// ready again; otherwise it fails for good.
    pub fn fail(
        &mut self,
        id: &TaskId,
        by: &LeaseRef,
        error: String,
        retry: bool,
        now: Millis,
        fx: &mut Effects,
    ) -> Result<FailOutcome, TaskError> {
        self.check_lease(id, by, now, &fx.actor)?;
        Ok(self.fail_attempt(id, error, retry, EventKind::TaskFailed, now, fx))
    }

    fn fail_attempt(
        &mut self,
        id: &TaskId,
        error: String,
        retry: bool,
        kind: EventKind,
        now: Millis,
        fx: &mut Effects,
    ) -> FailOutcome {
        let attempts_left = self
            .tasks
            .get(id)
            .is_some_and(|t| t.attempts < t.max_attempts);
        if retry && attempts_left {
            let kind = if kind == EventKind::TaskExpired {
                kind
            } else {
                EventKind::TaskRetried
            };
            self.end_lease(id, TaskStatus::Ready, kind, now, fx, |t| {
                t.error = Some(error)
            });
            FailOutcome::Retried
        } else {
            let error = if retry && kind == EventKind::TaskExpired {
                self.tasks
                    .get(id)
                    .map(|t| format!("{error} (attempt {} of {})", t.attempts, t.max_attempts))
                    .unwrap_or(error)
            } else {
                error
            };
            self.end_lease(id, TaskStatus::Failed, kind, now, fx, |t| {
                t.error = Some(error)
            });
            fx.failed.push(id.clone());
            FailOutcome::Failed
        }
    }

    /// Give a task back without counting the attempt.
    pub fn release(
        &mut self,
        id: &TaskId,
        by: &LeaseRef,
        now: Millis,
        fx: &mut Effects,
    ) -> Result<(), TaskError> {
        self.check_lease(id, by, now, &fx.actor)?;
        self.end_lease(
            id,
            TaskStatus::Ready,
            EventKind::TaskReleased,
            now,
            fx,
            |t| {
                t.attempts = t.attempts.saturating_sub(1);
            },
        );
        Ok(())
    }

    /// Leases that lapsed by `now`, oldest first.
    pub fn expired(&self, now: Millis) -> Vec<(TaskId, u64)> {
        self.expiries
            .iter()
            .take_while(|(at, _)| *at <= now)
            .filter_map(|(_, id)| {
                self.tasks
                    .get(id)
                    .and_then(|t| t.lease.as_ref())
                    .map(|l| (id.clone(), l.lease_id))
            })
            .collect()
    }

    /// The leases of running tasks, soonest to lapse first (reads the
    /// expiry index: as many steps as tasks run).
    pub fn leases(&self) -> impl Iterator<Item = &Lease> {
        self.expiries
            .iter()
            .filter_map(|(_, id)| self.tasks.get(id).and_then(|t| t.lease.as_deref()))
    }

    /// When the next lease lapses.
    pub fn next_expiry(&self) -> Option<Millis> {
        self.expiries.iter().next().map(|(at, _)| *at)
    }

    /// A lease lapsed (or its execution deadline passed): the attempt fails,
    /// the task is retried while attempts remain. No-op for a stale lease.
    pub fn expire(
        &mut self,
        id: &TaskId,
        lease_id: u64,
        reason: String,
        now: Millis,
        fx: &mut Effects,
    ) -> Option<FailOutcome> {
        self.current_lease(id, &LeaseRef::Id(lease_id)).ok()?;
        Some(self.fail_attempt(id, reason, true, EventKind::TaskExpired, now, fx))
    }
}
