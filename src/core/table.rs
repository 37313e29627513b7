//! `TaskTable`: task records, the ready queue and the lease state machine,
//! pure and synchronous (time is passed in).
//!
//! Every mutating method either returns an error and changes nothing, or
//! applies the change and records it in an [`Effects`] accumulator: which
//! records to persist, which audit events to append, which leases began or
//! ended (so the registry can free slots and stop task contexts).

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

use crate::error::code::{ErrorCode, ServiceError};
use crate::model::{Event, EventKind, Lease, Millis, Principal, Task, TaskId, TaskStatus};

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
    /// The lease was created by another access token; only that token or an
    /// admin may act under it.
    #[error("task '{task}' is leased by another token ({}); only that token or an admin may act on its lease", owner.as_deref().unwrap_or("a request without a token"))]
    NotOwner {
        /// Task.
        task: TaskId,
        /// The lease's owner.
        owner: Option<String>,
    },
    /// The lease presented is the task's current one, but its time ran out
    /// (`expires_at` has passed): it is refused from that instant on, whether
    /// or not the sweep has freed the task yet.
    #[error("lease {lease_id} of task '{task}' expired at {}; claim the task again", crate::model::rfc3339::format(*expires_at))]
    LeaseExpired {
        /// Task.
        task: TaskId,
        /// The lapsed lease.
        lease_id: u64,
        /// When it lapsed (ms since the Unix epoch).
        expires_at: Millis,
    },
    /// The worker holds no lease on the task that accepts updates by name.
    #[error("worker '{worker}' does not hold task '{task}' (updates by worker name act only on a lease its own agent-coordinate-mcp claim-task created)")]
    NotHolder {
        /// Task.
        task: TaskId,
        /// Worker.
        worker: String,
    },
    /// A terminal task cannot be deleted while other tasks depend on it
    /// (they would point at a missing dependency); delete them first.
    #[error("task '{task}' cannot be deleted: {} depend on it (delete them first)", dependents.iter().map(|d| format!("'{d}'")).collect::<Vec<_>>().join(", "))]
    HasDependents {
        /// Task.
        task: TaskId,
        /// The tasks that depend on it.
        dependents: Vec<TaskId>,
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

impl ServiceError for TaskError {
    fn error_code(&self) -> ErrorCode {
        match self {
            TaskError::NotFound(_) => ErrorCode::TaskNotFound,
            TaskError::Invalid { .. } => ErrorCode::InvalidField,
            TaskError::TooLarge { .. } => ErrorCode::TooLarge,
            TaskError::StaleLease { .. } | TaskError::LeaseExpired { .. } => ErrorCode::StaleLease,
            TaskError::NotHolder { .. } => ErrorCode::NotLeaseHolder,
            TaskError::NotOwner { .. } => ErrorCode::NotLeaseOwner,
            TaskError::WrongStatus { .. } => ErrorCode::InvalidStatus,
            TaskError::HasDependents { .. } => ErrorCode::HasDependents,
        }
    }
}

/// How an update names the lease it acts under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseRef {
    /// The fencing token from the claim (every `/api/v1` and `/mcp` update).
    Id(u64),
    /// The holder's name (agent-coordinate-mcp compatibility: that API has no
    /// lease ids). Matches only a lease with [`Lease::compat`] set — one made
    /// by that API's `claim-task` — whose worker has this name.
    Worker(String),
}

/// Who claims, where, and for how long (see [`TaskTable::claim`]).
#[derive(Debug, Clone, Copy)]
pub struct Claimant<'a> {
    /// Claiming worker.
    pub worker: &'a str,
    /// Slot the task runs in.
    pub slot: u32,
    /// Lease time-to-live in milliseconds.
    pub ttl_ms: u64,
    /// Made by an agent-coordinate-mcp `claim-task`: updates by worker name
    /// may act on the lease ([`Lease::compat`]).
    pub compat: bool,
}

/// What a mutation did, to persist and publish: the effects of one request
/// made by [`Effects::actor`] (stamped on every audit event it causes, and
/// checked against a lease's owner).
#[derive(Debug, Default)]
pub struct Effects {
    /// Who made the request ([`Principal::local`] for baton's own changes).
    pub actor: Principal,
    /// Records to persist (may repeat; the registry dedupes).
    pub changed: Vec<TaskId>,
    /// Audit events (ids assigned by the store on commit).
    pub events: Vec<Event>,
    /// Leases created.
    pub leases_started: Vec<Lease>,
    /// Leases that ended (slot to free, context to stop).
    pub leases_ended: Vec<Lease>,
    /// Leases extended by a heartbeat (their new `expires_at`).
    pub leases_renewed: Vec<Lease>,
    /// Tasks that failed for good (dependents must cascade).
    pub failed: Vec<TaskId>,
    /// Tasks that were cancelled (dependents must cascade).
    pub cancelled: Vec<TaskId>,
    /// Tasks that finished (dependents may become ready).
    pub done: Vec<TaskId>,
}

impl Effects {
    /// Effects of a request made by `actor`.
    pub fn by(actor: Principal) -> Self {
        Self {
            actor,
            ..Self::default()
        }
    }

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
            actor: self.actor.name.clone(),
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

/// When a terminal task ended: `finished_at`, or its last update for
/// records that have none.
fn ended_at(task: &Task) -> Millis {
    task.finished_at.unwrap_or(task.updated_at)
}

/// The task table.
#[derive(Debug, Default)]
pub struct TaskTable {
    /// Boxed: a `Task` is about 550 bytes, and a growing map moves its
    /// entries; with boxes a resize moves 32-byte entries, and the old
    /// arrays it frees are a fraction of the size (at 1,000,000 tasks they
    /// were most of start-up's page faults and hundreds of MiB of RSS).
    tasks: HashMap<TaskId, Box<Task>>,
    ready: BTreeSet<ReadyKey>,
    expiries: BTreeSet<(Millis, TaskId)>,
    /// Terminal tasks by the time they ended (retention picks the oldest).
    ended: BTreeSet<(Millis, TaskId)>,
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
        self.tasks.get(id).map(|t| &**t)
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
        self.tasks.values().map(|t| &**t)
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
            s if s.is_terminal() => {
                self.ended.insert((ended_at(task), task.id.clone()));
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
            s if s.is_terminal() => {
                self.ended.remove(&(ended_at(task), task.id.clone()));
            }
            _ => {}
        }
    }

    /// Up to `limit` terminal tasks that ended before `cutoff` (ms), oldest
    /// first: the candidates of a retention pass.
    pub fn ended_before(&self, cutoff: Millis, limit: usize) -> Vec<TaskId> {
        self.ended
            .iter()
            .take_while(|(at, _)| *at < cutoff)
            .take(limit)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Forget a terminal task (it was deleted). `None`, and nothing
    /// changes, for an unknown or non-terminal task.
    pub fn remove_terminal(&mut self, id: &TaskId) -> Option<Task> {
        if !self.tasks.get(id)?.status.is_terminal() {
            return None;
        }
        let task = self.tasks.remove(id)?;
        self.unindex(&task);
        Some(*task)
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

    /// Make room for `additional` more tasks (start-up knows how many it
    /// will restore; growing a 1,000,000-entry map step by step rehashes
    /// every id several times and leaves the old arrays behind as RSS).
    pub fn reserve(&mut self, additional: usize) {
        self.tasks.reserve(additional);
    }

    /// Load a persisted task as is (recovery). A second task under the same
    /// id replaces the first.
    pub fn restore(&mut self, task: Task) {
        self.next_seq = self.next_seq.max(task.seq.saturating_add(1));
        if let Some(l) = &task.lease {
            self.next_lease_id = self.next_lease_id.max(l.lease_id.saturating_add(1));
        }
        self.index(&task);
        let id = task.id.clone();
        if let Some(old) = self.tasks.insert(id.clone(), Box::new(task)) {
            // only if the store held two records for one id: the old one's
            // index entries go, and the new one's are put back (they may
            // have been the same entries)
            self.unindex(&old);
            if let Some(new) = self.tasks.remove(&id) {
                self.index(&new);
                self.tasks.insert(id, new);
            }
        }
    }

    /// Insert new, validated tasks (ids unique, graph already checked). Each
    /// task's status must already be `blocked`, `ready` or `failed`.
    pub fn insert(&mut self, mut tasks: Vec<Task>, now: Millis, fx: &mut Effects) {
        for task in tasks.iter_mut() {
            task.seq = self.next_seq;
            self.next_seq += 1;
            task.created_at = now;
            task.updated_at = now;
            if task.status.is_terminal() {
                task.finished_at = Some(now);
            }
            let ev = fx.event(EventKind::TaskAdded, task, None, now);
            ev.reason = task.error.clone();
        }
        for task in tasks {
            self.index(&task);
            self.tasks.insert(task.id.clone(), Box::new(task));
        }
    }

    /// The best ready task for an agent carrying all `tags`: highest
    /// priority, then oldest. Tasks with an executor are left to the dispatcher.
    pub fn peek_ready(&self, tags: &[String]) -> Option<&TaskId> {
        self.peek_ready_where(|t| t.executor.is_none() && t.has_tags(tags))
    }

    /// Every ready task `wanted` accepts, best first (the claim order:
    /// priority, then age). Reads the ready index, not every task.
    pub fn ready_where<'a>(
        &'a self,
        wanted: impl Fn(&Task) -> bool + 'a,
    ) -> impl Iterator<Item = &'a Task> + 'a {
        self.ready
            .iter()
            .filter_map(|(_, _, id)| self.get(id))
            .filter(move |t| wanted(t))
    }

    /// The best ready task that `wanted` accepts.
    pub fn peek_ready_where(&self, wanted: impl Fn(&Task) -> bool) -> Option<&TaskId> {
        self.ready
            .iter()
            .map(|(_, _, id)| id)
            .find(|id| self.get(id).is_some_and(&wanted))
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
                t.finished_at = Some(now);
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
                t.worker = None;
                t.started_at = None;
                t.finished_at = None;
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
            .map(|t| &**t)
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
            worker: None,
            started_at: None,
            finished_at: None,
            created_at: 0,
            updated_at: 0,
            seq: 0,
            executor: None,
        }
    }

    fn id(s: &str) -> TaskId {
        TaskId::from_trusted(s)
    }

    fn who(worker: &str, slot: u32, ttl_ms: u64) -> Claimant<'_> {
        Claimant {
            worker,
            slot,
            ttl_ms,
            compat: false,
        }
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
        t.claim(&id("hi"), who("w", 0, 100), 0, &mut fx).unwrap();
        assert_eq!(t.peek_ready(&[]), Some(&id("old-low")));
    }

    #[test]
    fn stale_lease_is_refused_after_expiry_and_reclaim() {
        let mut t = TaskTable::new(1);
        let mut fx = Effects::default();
        t.insert(vec![new_task("a", 0, TaskStatus::Ready)], 0, &mut fx);
        let l1 = t.claim(&id("a"), who("w1", 0, 100), 0, &mut fx).unwrap();
        assert_eq!(t.expired(99), vec![]);
        assert_eq!(t.expired(100), vec![(id("a"), l1.lease_id)]);
        assert_eq!(
            t.expire(&id("a"), l1.lease_id, "lease expired".into(), 100, &mut fx),
            Some(FailOutcome::Retried)
        );
        let l2 = t.claim(&id("a"), who("w2", 1, 100), 101, &mut fx).unwrap();
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

    #[test]
    fn a_lapsed_lease_is_refused_from_expires_at_on_before_any_sweep() {
        let mut t = TaskTable::new(1);
        let mut fx = Effects::default();
        t.insert(vec![new_task("a", 0, TaskStatus::Ready)], 0, &mut fx);
        let l = t.claim(&id("a"), who("w", 0, 100), 0, &mut fx).unwrap();
        let by = LeaseRef::Id(l.lease_id);
        // 1 ms before: alive (and extended to 199)
        assert!(t.heartbeat(&id("a"), &by, 99, 100, &mut fx).is_ok());
        let lapsed = |r: Result<(), TaskError>| matches!(r, Err(TaskError::LeaseExpired { lease_id, expires_at: 199, .. }) if lease_id == l.lease_id);
        assert!(lapsed(
            t.heartbeat(&id("a"), &by, 199, 100, &mut fx).map(|_| ())
        ));
        assert!(lapsed(t.complete(&id("a"), &by, None, 199, &mut fx)));
        assert!(lapsed(
            t.fail(&id("a"), &by, "x".into(), true, 899, &mut fx)
                .map(|_| ())
        ));
        assert!(lapsed(t.release(&id("a"), &by, 899, &mut fx)));
        let a = t.get(&id("a")).unwrap();
        assert_eq!(
            (a.status, a.attempts),
            (TaskStatus::Running, 1),
            "nothing changed"
        );
        // the sweep expires it, with its own reason
        assert_eq!(t.expired(899), vec![(id("a"), l.lease_id)]);
        assert_eq!(
            t.expire(&id("a"), l.lease_id, "lease expired".into(), 899, &mut fx),
            Some(FailOutcome::Retried)
        );
    }

    #[test]
    fn a_worker_name_matches_only_a_compat_lease_of_that_worker() {
        let mut t = TaskTable::new(1);
        let mut fx = Effects::default();
        t.insert(
            vec![
                new_task("a", 0, TaskStatus::Ready),
                new_task("b", 0, TaskStatus::Ready),
            ],
            0,
            &mut fx,
        );
        t.claim(&id("a"), who("claude", 0, 100), 0, &mut fx)
            .unwrap();
        let compat = Claimant {
            compat: true,
            ..who("claude", 1, 100)
        };
        t.claim(&id("b"), compat, 0, &mut fx).unwrap();
        let by_name = LeaseRef::Worker("claude".into());
        assert!(matches!(
            t.complete(&id("a"), &by_name, None, 1, &mut fx),
            Err(TaskError::NotHolder { .. })
        ));
        assert!(matches!(
            t.complete(
                &id("b"),
                &LeaseRef::Worker("other".into()),
                None,
                1,
                &mut fx
            ),
            Err(TaskError::NotHolder { .. })
        ));
        assert!(t.complete(&id("b"), &by_name, None, 1, &mut fx).is_ok());
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
                            let l = t.claim(&next, who("w", 0, 100), now, &mut fx).unwrap();
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
