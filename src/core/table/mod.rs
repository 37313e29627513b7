//! `TaskTable`: task records, the ready queue and the lease state machine,
//! pure and synchronous (time is passed in).
//!
//! Every mutating method either returns an error and changes nothing, or
//! applies the change and records it in an [`Effects`] accumulator: which
//! records to persist, which audit events to append, which leases began or
//! ended (so the registry can free slots and stop task contexts).
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | [`TaskTable`]: records, the ready queue and the status, expiry and end indexes; load, insert, reads |
//! | `lease.rs` | claim, lease checks, heartbeat, complete, fail, release, expiry |
//! | `lifecycle.rs` | cancel, cascade, make ready, reset |
//! | `effects.rs` | [`Effects`], what a mutation did |
//! | `error.rs` | [`TaskError`] |

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

use crate::model::{EventKind, Millis, Task, TaskId, TaskStatus};

mod effects;
mod error;
mod lease;
mod lifecycle;
#[cfg(test)]
mod tests;

pub use effects::Effects;
pub use error::TaskError;

/// How an update names the lease it acts under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseRef {
    /// The fencing token from the claim (every `/api/v1` and `/mcp` update).
    Id(u64),
    /// The holder's name (agent-coordinate-mcp compatibility: that API has no
    /// lease ids). Matches only a lease with [`Lease::compat`] set — one made
    /// by that API's `claim-task` — whose worker has this name.
    ///
    /// [`Lease::compat`]: crate::model::Lease::compat
    Worker(String),
}

/// Who claims, where, and for how long (see [`TaskTable::claim`]).
#[derive(Debug, Clone, Copy)]
pub struct Claimant<'a> {
    /// The claiming worker's name, recorded in the lease and the audit log.
    pub worker: &'a str,
    /// Slot the task runs in.
    pub slot: u32,
    /// Lease time-to-live in milliseconds.
    pub ttl_ms: u64,
    /// Made by an agent-coordinate-mcp `claim-task`: updates by worker name
    /// may act on the lease ([`Lease::compat`]).
    ///
    /// [`Lease::compat`]: crate::model::Lease::compat
    pub compat: bool,
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

    /// Running tasks (recovery: slots and contexts are derived from them).
    pub fn running(&self) -> impl Iterator<Item = &Task> {
        self.tasks
            .values()
            .map(|t| &**t)
            .filter(|t| t.status == TaskStatus::Running)
    }
}
