//! `TaskTable`: task records, the ready queue and the lease state machine,
//! pure and synchronous (time is passed in).
//!
//! Every mutating method either returns an error and changes nothing, or
//! applies the change and records it in an [`Effects`] accumulator: which
//! records to persist, which audit events to append, which leases began or
//! ended (so the registry can free slots and stop task contexts).

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

use crate::model::{Event, EventKind, Lease, Millis, Task, TaskId, TaskStatus};

/// Why a task operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// No task with that id.
    #[error("task '{0}' not found")]
    NotFound(TaskId),
    /// A field is invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// Path of the field (`tasks[2].dependencies[0]`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A field exceeds its size bound.
    #[error("{field}: {message}")]
    TooLarge {
        /// Path of the field.
        field: String,
        /// The bound.
        message: String,
    },
    /// The lease presented is not the task's current lease.
    #[error("stale lease {presented} for task '{task}' (current lease: {})", current.map_or("none".to_owned(), |c| c.to_string()))]
    StaleLease {
        /// Task.
        task: TaskId,
        /// Lease id presented.
        presented: u64,
        /// Current lease id, if the task is running.
        current: Option<u64>,
    },
    /// The worker holds no lease on the task.
    #[error("worker '{worker}' does not hold task '{task}'")]
    NotHolder {
        /// Task.
        task: TaskId,
        /// Worker.
        worker: String,
    },
    /// The operation needs another status.
    #[error("task '{task}' is {status}; cannot {action}")]
    WrongStatus {
        /// Task.
        task: TaskId,
        /// Its status.
        status: TaskStatus,
        /// What was attempted.
        action: &'static str,
    },
}

/// How an update names the lease it acts under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseRef {
    /// The fencing token from the claim.
    Id(u64),
    /// The holder's name (agent-coordinate-mcp compatibility: that API has no lease ids).
    Worker(String),
}

/// What a mutation did, to persist and publish.
#[derive(Debug, Default)]
pub struct Effects {
    /// Records to persist (may repeat; the registry dedupes).
    pub changed: Vec<TaskId>,
    /// Audit events (ids assigned by the store on commit).
    pub events: Vec<Event>,
    /// Leases created.
    pub leases_started: Vec<Lease>,
    /// Leases that ended (slot to free, context to stop).
    pub leases_ended: Vec<Lease>,
    /// Tasks that failed for good (dependents must cascade).
    pub failed: Vec<TaskId>,
    /// Tasks that were cancelled (dependents must cascade).
    pub cancelled: Vec<TaskId>,
    /// Tasks that finished (dependents may become ready).
    pub done: Vec<TaskId>,
}

impl Effects {
    fn event(
        &mut self,
        kind: EventKind,
        task: &Task,
        from: Option<TaskStatus>,
        now: Millis,
    ) -> &mut Event {
        self.changed.push(task.id.clone());
        self.events.push(Event {
            id: 0,
            at: now,
            kind,
            task_id: Some(task.id.clone()),
            worker: None,
            slot: None,
            lease_id: None,
            from,
            to: Some(task.status),
            reason: None,
        });
        let last = self.events.len() - 1;
        &mut self.events[last]
    }
}

type ReadyKey = (Reverse<i32>, u64, TaskId);

/// The task table.
#[derive(Debug, Default)]
pub struct TaskTable {
    tasks: HashMap<TaskId, Task>,
    ready: BTreeSet<ReadyKey>,
    expiries: BTreeSet<(Millis, TaskId)>,
    counts: [usize; 6],
    next_seq: u64,
    next_lease_id: u64,
}

/// Result of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Attempts remain: back to `ready`.
    Retried,
    /// Failed for good.
    Failed,
}

impl TaskTable {
    /// An empty table whose next lease id is `next_lease_id` (at least 1).
    pub fn new(next_lease_id: u64) -> Self {
        Self {
            next_lease_id: next_lease_id.max(1),
            next_seq: 1,
            ..Self::default()
        }
    }

    /// The next fencing token to hand out (persisted by the registry).
    pub fn next_lease_id(&self) -> u64 {
        self.next_lease_id
    }

    /// A task by id.
    pub fn get(&self, id: &TaskId) -> Option<&Task> {
        self.tasks.get(id)
    }

    /// Whether a task exists.
    pub fn contains(&self, id: &TaskId) -> bool {
        self.tasks.contains_key(id)
    }

    /// Number of tasks per status, indexed like [`TaskStatus::ALL`].
    pub fn counts(&self) -> [usize; 6] {
        self.counts
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Every task (unordered).
    pub fn iter(&self) -> impl Iterator<Item = &Task> {
        self.tasks.values()
    }

    fn index(&mut self, task: &Task) {
        self.counts[task.status.index()] += 1;
        match task.status {
            TaskStatus::Ready => {
                self.ready
                    .insert((Reverse(task.priority), task.seq, task.id.clone()));
            }
            TaskStatus::Running => {
                if let Some(l) = &task.lease {
                    self.expiries.insert((l.expires_at, task.id.clone()));
                }
            }
            _ => {}
        }
    }

    fn unindex(&mut self, task: &Task) {
        self.counts[task.status.index()] -= 1;
        match task.status {
            TaskStatus::Ready => {
                self.ready
                    .remove(&(Reverse(task.priority), task.seq, task.id.clone()));
            }
            TaskStatus::Running => {
                if let Some(l) = &task.lease {
                    self.expiries.remove(&(l.expires_at, task.id.clone()));
                }
            }
            _ => {}
        }
    }

    /// Mutate a task keeping the indexes right.
    fn update<R>(&mut self, id: &TaskId, now: Millis, f: impl FnOnce(&mut Task) -> R) -> Option<R> {
        let mut task = self.tasks.remove(id)?;
        self.unindex(&task);
        let r = f(&mut task);
        task.updated_at = now;
        self.index(&task);
        self.tasks.insert(id.clone(), task);
        Some(r)
    }

    /// Load a persisted task as is (recovery).
    pub fn restore(&mut self, task: Task) {
        self.next_seq = self.next_seq.max(task.seq.saturating_add(1));
        if let Some(l) = &task.lease {
            self.next_lease_id = self.next_lease_id.max(l.lease_id.saturating_add(1));
        }
        if let Some(old) = self.tasks.remove(&task.id) {
            self.unindex(&old);
        }
        self.index(&task);
        self.tasks.insert(task.id.clone(), task);
    }

    /// Insert new, validated tasks (ids unique, graph already checked). Each
    /// task's status must already be `blocked`, `ready` or `failed`.
    pub fn insert(&mut self, mut tasks: Vec<Task>, now: Millis, fx: &mut Effects) {
        for task in tasks.iter_mut() {
            task.seq = self.next_seq;
            self.next_seq += 1;
            task.created_at = now;
            task.updated_at = now;
            let ev = fx.event(EventKind::TaskAdded, task, None, now);
            ev.reason = task.error.clone();
        }
        for task in tasks {
            self.index(&task);
            self.tasks.insert(task.id.clone(), task);
        }
    }

    /// The best ready task for an agent carrying all `tags`: highest
    /// priority, then oldest. Tasks with an executor are left to the dispatcher.
    pub fn peek_ready(&self, tags: &[String]) -> Option<&TaskId> {
        self.peek_ready_where(|t| t.executor.is_none() && t.has_tags(tags))
    }

    /// The best ready task that `wanted` accepts.
    pub fn peek_ready_where(&self, wanted: impl Fn(&Task) -> bool) -> Option<&TaskId> {
        self.ready
            .iter()
            .map(|(_, _, id)| id)
            .find(|id| self.tasks.get(*id).is_some_and(&wanted))
    }

    /// Check that `id` can be claimed.
    pub fn check_claimable(&self, id: &TaskId) -> Result<(), TaskError> {
        let t = self
            .tasks
            .get(id)
            .ok_or_else(|| TaskError::NotFound(id.clone()))?;
        if t.status != TaskStatus::Ready {
            return Err(TaskError::WrongStatus {
                task: id.clone(),
                status: t.status,
                action: "claim it (only ready tasks can be claimed)",
            });
        }
        Ok(())
    }

    /// Claim a ready task into `slot` for `worker`.
    pub fn claim(
        &mut self,
        id: &TaskId,
        worker: &str,
        slot: u32,
        now: Millis,
        ttl_ms: u64,
        fx: &mut Effects,
    ) -> Result<Lease, TaskError> {
        self.check_claimable(id)?;
        let lease = Lease {
            task_id: id.clone(),
            lease_id: self.next_lease_id,
            worker: worker.to_owned(),
            slot,
            expires_at: now.saturating_add(ttl_ms),
            claimed_at: now,
        };
        self.next_lease_id += 1;
        let l = lease.clone();
        self.update(id, now, |t| {
            t.status = TaskStatus::Running;
            t.attempts += 1;
            t.lease = Some(l);
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

    /// The current lease of a running task, checked against `by`.
    pub fn check_lease(&self, id: &TaskId, by: &LeaseRef) -> Result<&Lease, TaskError> {
        let t = self
            .tasks
            .get(id)
            .ok_or_else(|| TaskError::NotFound(id.clone()))?;
        match (&t.lease, by) {
            (Some(l), LeaseRef::Id(lid)) if l.lease_id == *lid => Ok(l),
            (Some(l), LeaseRef::Worker(w)) if l.worker == *w => Ok(l),
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
        self.check_lease(id, by)?;
        let lease = self
            .update(id, now, |t| {
                t.lease.as_mut().map(|l| {
                    l.expires_at = now.saturating_add(ttl_ms);
                    l.clone()
                })
            })
            .flatten()
            .ok_or_else(|| TaskError::NotFound(id.clone()))?;
        if let Some(t) = self.tasks.get(id) {
            let ev = fx.event(EventKind::TaskHeartbeat, t, Some(TaskStatus::Running), now);
            ev.worker = Some(lease.worker.clone());
            ev.slot = Some(lease.slot);
            ev.lease_id = Some(lease.lease_id);
        }
        Ok(lease)
    }

    /// End the current lease, moving the task to `to`.
    fn end_lease(
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
                let l = t.lease.take();
                t.status = to;
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
        self.check_lease(id, by)?;
        self.end_lease(
            id,
            TaskStatus::Done,
            EventKind::TaskCompleted,
            now,
            fx,
            |t| {
                t.output = output;
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
        self.check_lease(id, by)?;
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
        self.check_lease(id, by)?;
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
        self.check_lease(id, &LeaseRef::Id(lease_id)).ok()?;
        Some(self.fail_attempt(id, reason, true, EventKind::TaskExpired, now, fx))
    }

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
        let kind = if to == TaskStatus::Cancelled {
            EventKind::TaskCancelled
        } else {
            EventKind::TaskFailed
        };
        for id in ids {
            let Some(from) = self.tasks.get(id).map(|t| t.status) else {
                continue;
            };
            if !matches!(from, TaskStatus::Blocked | TaskStatus::Ready) {
                continue;
            }
            self.update(id, now, |t| {
                t.status = to;
                t.error = Some(reason.to_owned());
            });
            if let Some(t) = self.tasks.get(id) {
                let ev = fx.event(kind, t, Some(from), now);
                ev.reason = Some(reason.to_owned());
            }
        }
    }

    /// Blocked tasks whose dependencies are now done become ready.
    pub fn make_ready(&mut self, ids: &[TaskId], now: Millis, fx: &mut Effects) {
        for id in ids {
            if self.tasks.get(id).map(|t| t.status) != Some(TaskStatus::Blocked) {
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

    /// Reset failed tasks to `ready` (`true`) or `blocked` (`false`), clearing
    /// attempts and error.
    pub fn reset(&mut self, ids: &[(TaskId, bool)], now: Millis, fx: &mut Effects) {
        for (id, ready) in ids {
            if self.tasks.get(id).map(|t| t.status) != Some(TaskStatus::Failed) {
                continue;
            }
            let to = if *ready {
                TaskStatus::Ready
            } else {
                TaskStatus::Blocked
            };
            self.update(id, now, |t| {
                t.status = to;
                t.attempts = 0;
                t.error = None;
                t.output = None;
            });
            if let Some(t) = self.tasks.get(id) {
                fx.event(EventKind::TaskReset, t, Some(TaskStatus::Failed), now);
            }
        }
    }

    /// Running tasks (recovery: slots and contexts are derived from them).
    pub fn running(&self) -> impl Iterator<Item = &Task> {
        self.tasks
            .values()
            .filter(|t| t.status == TaskStatus::Running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn new_task(id: &str, priority: i32, status: TaskStatus) -> Task {
        Task {
            id: TaskId::from_trusted(id),
            title: id.into(),
            description: String::new(),
            payload: None,
            tags: vec![],
            priority,
            dependencies: vec![],
            max_attempts: 2,
            timeout_secs: None,
            status,
            output: None,
            error: None,
            attempts: 0,
            lease: None,
            created_at: 0,
            updated_at: 0,
            seq: 0,
            executor: None,
        }
    }

    fn id(s: &str) -> TaskId {
        TaskId::from_trusted(s)
    }

    #[test]
    fn claim_order_is_priority_then_age() {
        let mut t = TaskTable::new(1);
        let mut fx = Effects::default();
        t.insert(
            vec![
                new_task("old-low", 0, TaskStatus::Ready),
                new_task("hi", 5, TaskStatus::Ready),
                new_task("new-low", 0, TaskStatus::Ready),
            ],
            0,
            &mut fx,
        );
        assert_eq!(t.peek_ready(&[]), Some(&id("hi")));
        t.claim(&id("hi"), "w", 0, 0, 100, &mut fx).unwrap();
        assert_eq!(t.peek_ready(&[]), Some(&id("old-low")));
    }

    #[test]
    fn stale_lease_is_refused_after_expiry_and_reclaim() {
        let mut t = TaskTable::new(1);
        let mut fx = Effects::default();
        t.insert(vec![new_task("a", 0, TaskStatus::Ready)], 0, &mut fx);
        let l1 = t.claim(&id("a"), "w1", 0, 0, 100, &mut fx).unwrap();
        assert_eq!(t.expired(99), vec![]);
        assert_eq!(t.expired(100), vec![(id("a"), l1.lease_id)]);
        assert_eq!(
            t.expire(&id("a"), l1.lease_id, "lease expired".into(), 100, &mut fx),
            Some(FailOutcome::Retried)
        );
        let l2 = t.claim(&id("a"), "w2", 1, 101, 100, &mut fx).unwrap();
        assert!(l2.lease_id > l1.lease_id);
        let stale = LeaseRef::Id(l1.lease_id);
        assert!(matches!(
            t.complete(&id("a"), &stale, None, 102, &mut fx),
            Err(TaskError::StaleLease { current: Some(c), .. }) if c == l2.lease_id
        ));
        assert!(t
            .fail(&id("a"), &stale, "x".into(), true, 102, &mut fx)
            .is_err());
        assert!(t.heartbeat(&id("a"), &stale, 102, 100, &mut fx).is_err());
        // second expiry exhausts max_attempts = 2
        assert_eq!(
            t.expire(&id("a"), l2.lease_id, "lease expired".into(), 300, &mut fx),
            Some(FailOutcome::Failed)
        );
        let a = t.get(&id("a")).unwrap();
        assert_eq!(a.status, TaskStatus::Failed);
        assert_eq!(a.error.as_deref(), Some("lease expired (attempt 2 of 2)"));
        assert_eq!(t.counts()[TaskStatus::Failed.index()], 1);
    }

    /// The lease state machine under random operations keeps its invariants:
    /// counts match records, a running task has exactly one lease and it is
    /// the newest token issued for it, ready tasks have no lease, attempts
    /// never exceed max_attempts, and stale tokens are always refused.
    #[derive(Debug, Clone)]
    enum Op {
        ClaimNext,
        Heartbeat(usize, bool),
        Complete(usize, bool),
        Fail(usize, bool),
        Release(usize, bool),
        Tick(u64),
        Cancel(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::ClaimNext),
            (0usize..8, any::<bool>()).prop_map(|(i, s)| Op::Heartbeat(i, s)),
            (0usize..8, any::<bool>()).prop_map(|(i, s)| Op::Complete(i, s)),
            (0usize..8, any::<bool>()).prop_map(|(i, s)| Op::Fail(i, s)),
            (0usize..8, any::<bool>()).prop_map(|(i, s)| Op::Release(i, s)),
            (1u64..200).prop_map(Op::Tick),
            (0usize..8).prop_map(Op::Cancel),
        ]
    }

    proptest! {
        #[test]
        fn lease_state_machine(ops in prop::collection::vec(op(), 0..200)) {
            let ids: Vec<TaskId> = (0..8).map(|i| id(&format!("t{i}"))).collect();
            let mut t = TaskTable::new(1);
            let mut fx = Effects::default();
            t.insert(ids.iter().map(|i| new_task(i.as_str(), 0, TaskStatus::Ready)).collect(), 0, &mut fx);
            let mut now = 0u64;
            let mut issued: HashMap<TaskId, Vec<u64>> = HashMap::new();
            for op in ops {
                let mut fx = Effects::default();
                let lease_ref = |t: &TaskTable, i: usize, stale: bool, issued: &HashMap<TaskId, Vec<u64>>| {
                    let id = &ids[i];
                    if stale {
                        // an older token for this task, or a token never issued for it
                        let old = issued.get(id).and_then(|v| v.iter().rev().nth(1).copied()).unwrap_or(999_999);
                        LeaseRef::Id(old)
                    } else {
                        LeaseRef::Id(t.get(id).and_then(|t| t.lease.as_ref()).map_or(999_999, |l| l.lease_id))
                    }
                };
                match op {
                    Op::ClaimNext => {
                        if let Some(next) = t.peek_ready(&[]).cloned() {
                            let l = t.claim(&next, "w", 0, now, 100, &mut fx).unwrap();
                            issued.entry(next).or_default().push(l.lease_id);
                        }
                    }
                    Op::Heartbeat(i, stale) => {
                        let r = lease_ref(&t, i, stale, &issued);
                        let res = t.heartbeat(&ids[i], &r, now, 100, &mut fx);
                        if stale { prop_assert!(res.is_err()); }
                    }
                    Op::Complete(i, stale) => {
                        let r = lease_ref(&t, i, stale, &issued);
                        let before = t.get(&ids[i]).unwrap().status;
                        let res = t.complete(&ids[i], &r, None, now, &mut fx);
                        if stale { prop_assert!(res.is_err()); }
                        if res.is_ok() { prop_assert_eq!(before, TaskStatus::Running); }
                    }
                    Op::Fail(i, stale) => {
                        let r = lease_ref(&t, i, stale, &issued);
                        let res = t.fail(&ids[i], &r, "boom".into(), true, now, &mut fx);
                        if stale { prop_assert!(res.is_err()); }
                    }
                    Op::Release(i, stale) => {
                        let r = lease_ref(&t, i, stale, &issued);
                        let res = t.release(&ids[i], &r, now, &mut fx);
                        if stale { prop_assert!(res.is_err()); }
                    }
                    Op::Tick(d) => {
                        now += d;
                        for (id, lid) in t.expired(now) {
                            prop_assert!(t.expire(&id, lid, "lease expired".into(), now, &mut fx).is_some());
                        }
                    }
                    Op::Cancel(i) => { let _ = t.cancel(&ids[i], None, now, &mut fx); }
                }
                // invariants
                let mut counts = [0usize; 6];
                for task in t.iter() {
                    counts[task.status.index()] += 1;
                    prop_assert!(task.attempts <= task.max_attempts);
                    match task.status {
                        TaskStatus::Running => {
                            let l = task.lease.as_ref();
                            prop_assert!(l.is_some());
                            let newest = issued.get(&task.id).and_then(|v| v.last()).copied();
                            prop_assert_eq!(l.map(|l| l.lease_id), newest);
                            prop_assert!(l.is_some_and(|l| l.expires_at > now));
                        }
                        _ => prop_assert!(task.lease.is_none()),
                    }
                }
                prop_assert_eq!(counts, t.counts());
                for lid in fx.leases_ended.iter().map(|l| l.lease_id) {
                    prop_assert!(!t.iter().any(|x| x.lease.as_ref().is_some_and(|l| l.lease_id == lid)));
                }
            }
        }
    }
}
