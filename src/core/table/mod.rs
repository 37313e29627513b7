//! `TaskTable`: task records, the ready queue and the lease state machine,
//! pure and synchronous (time is passed in).
//!
//! A task is `ready` only when its dependencies (and its ancestors') are
//! done — the graph says so — it is not a parent (a parent with subtasks is
//! never claimed: it waits for them) and its `run_after` has passed; a task
//! the graph released before its time waits `blocked` in the delayed index
//! until [`TaskTable::wake`] (the registry's sweep) reaches it.
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
//! | `activity.rs` | implicit renewal on a worker's activity, bounded by its last explicit sign of life |
//! | `lifecycle.rs` | cancel, cascade, make ready, reset |
//! | `tree.rs` | parents and delays: split a held task, roll a parent up, apply the graph's [`Fallout`](crate::core::graph::Fallout), wake delayed tasks, a parent's counts and every blocked task's reason |
//! | `effects.rs` | [`Effects`], what a mutation did |
//! | `error.rs` | [`TaskError`] |

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

use crate::model::{EventKind, Millis, Task, TaskId, TaskStatus};

mod activity;
mod effects;
mod error;
mod lease;
mod lifecycle;
#[cfg(test)]
mod tests;
mod tree;
#[cfg(test)]
mod tree_tests;

pub use activity::ImplicitRenewal;
pub use effects::Effects;
pub use error::TaskError;
pub use tree::MAX_LISTED_SUBTASKS;

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
    /// Blocked tasks whose dependencies are done, by the `run_after` they
    /// wait for (entries of tasks that moved on meanwhile are skipped when due).
    delayed: BTreeSet<(Millis, TaskId)>,
    /// Each parent's children (a parent is a task with subtasks).
    children: HashMap<TaskId, Vec<TaskId>>,
    /// Each parent's children by status, indexed like [`TaskStatus::ALL`].
    child_counts: HashMap<TaskId, [u32; 6]>,
    counts: [usize; 6],
    next_seq: u64,
    next_lease_id: u64,
    /// The last explicit sign of life of a running task's lease (a
    /// heartbeat or a context write; the claim counts as one), by task:
    /// `(lease_id, at)`. In memory only: after a restart the budget of
    /// implicit renewal counts from the claim again (the safe side).
    explicit: HashMap<TaskId, (u64, Millis)>,
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
        if let Some(p) = &task.parent {
            self.child_counts.entry(p.clone()).or_default()[task.status.index()] += 1;
        }
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
        if let Some(c) = task
            .parent
            .as_ref()
            .and_then(|p| self.child_counts.get_mut(p))
        {
            c[task.status.index()] = c[task.status.index()].saturating_sub(1);
        }
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
        if let Some(p) = &task.parent {
            if let Some(kids) = self.children.get_mut(p) {
                kids.retain(|c| c != id);
                if kids.is_empty() {
                    self.children.remove(p);
                }
            }
            if self
                .child_counts
                .get(p)
                .is_some_and(|c| c.iter().all(|n| *n == 0))
            {
                self.child_counts.remove(p);
            }
        }
        Some(*task)
    }

    /// Mutate a task keeping the indexes right.
    fn update<R>(&mut self, id: &TaskId, now: Millis, f: impl FnOnce(&mut Task) -> R) -> Option<R> {
        let mut task = self.tasks.remove(id)?;
        self.unindex(&task);
        let r = f(&mut task);
        task.updated_at = now;
        if task.status != TaskStatus::Blocked {
            task.blocked_reason = None;
        }
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
        if let Some(p) = &task.parent {
            let kids = self.children.entry(p.clone()).or_default();
            if !kids.contains(&id) {
                kids.push(id.clone());
            }
        }
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
    /// task's status must already be `blocked`, `ready` (its dependencies
    /// are done: it stays `blocked` in the delayed index when its
    /// `run_after` is still ahead) or `failed`.
    pub fn insert(&mut self, mut tasks: Vec<Task>, now: Millis, fx: &mut Effects) {
        for task in tasks.iter_mut() {
            task.seq = self.next_seq;
            self.next_seq += 1;
            task.created_at = now;
            task.updated_at = now;
            if task.status.is_terminal() {
                task.finished_at = Some(now);
            }
            if task.status == TaskStatus::Ready {
                if let Some(at) = task.run_after.filter(|at| *at > now) {
                    task.status = TaskStatus::Blocked;
                    task.blocked_reason = Some(tree::not_before(at));
                    self.delayed.insert((at, task.id.clone()));
                }
            }
            let ev = fx.event(EventKind::TaskAdded, task, None, now);
            ev.reason = task.error.clone();
        }
        for task in tasks {
            self.index(&task);
            if let Some(p) = &task.parent {
                self.children
                    .entry(p.clone())
                    .or_default()
                    .push(task.id.clone());
            }
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
