//! The one check every claim path makes: may this ready task start for this
//! worker now? ([`TaskRegistry::blocker`]) and which ready task is the next
//! that may ([`TaskRegistry::pick`]).
//!
//! **Where it lives, and why here.** The registry owns the ready queue, the
//! leases and — since a claimed task's declared paths are reserved for its
//! lease in the claim's own commit, and a lease's reservations end in the
//! commit that ends the lease — the live reservations too
//! ([`ReservationTable`](crate::core::reservations::ReservationTable), a
//! field of the registry). So the check reads only the registry's own state,
//! inside the handler that claims: `ClaimNext`, `ClaimTask` (which the
//! compat `claim-task` uses) and `ClaimNextExecutor` (the dispatcher) all
//! call these two methods, and nothing can change between check and claim.
//!
//! **A task may start** when (1) its concurrency key, if `[concurrency]
//! limits` names it, has fewer running tasks than the limit, and (2) its
//! declared `paths` conflict with no live reservation (running tasks'
//! paths are their leases' reservations) under the conflict rule — the
//! claiming worker never conflicts with itself. The dispatcher claims as
//! nobody (`""`, which conflicts with every holder): its executor tasks
//! share one worker name, yet each is a holder of its own.
//!
//! **No starvation.** [`TaskRegistry::pick`] walks the ready queue in claim
//! order (priority, then age). A task skipped for its paths keeps its
//! place, and its paths are "queued": a later task whose paths would
//! conflict with a queued task's (whoever holds them: the queued task has
//! no holder yet) is skipped too. So when the conflict ends, the older task
//! is the first in line over those paths; newer tasks over the same paths
//! cannot keep overtaking it. Only tasks this claim could take (its tags,
//! or the dispatcher's servers) queue, so a worker is never held back by a
//! task it could never claim.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::TaskRegistry;
use crate::core::reservations::{conflict_between, Conflict, PatternSet, ReservationTable, Side};
use crate::model::{Millis, ReservationMode, Task, TaskId, TaskStatus};

/// Why a ready task may not start now.
#[derive(Debug, Clone)]
pub(super) enum Blocker {
    /// Its paths conflict with a live reservation.
    Paths(Conflict),
    /// Its concurrency key is at its limit.
    Key {
        /// The key.
        key: String,
        /// Its limit.
        limit: u32,
    },
    /// It waits behind an older ready task over the same paths.
    Behind(TaskId),
}

/// Compiled `paths` of tasks, by id (a task's paths never change).
#[derive(Debug, Default)]
pub(super) struct PathCache(HashMap<TaskId, Arc<PatternSet>>);

impl PathCache {
    /// Most entries kept before the cache starts over.
    const MAX: usize = 65_536;

    /// `task`'s compiled paths (`None`: it declares none, or they no longer
    /// compile — validated on add, so only a hand-edited store).
    pub(super) fn of(&mut self, task: &Task) -> Option<Arc<PatternSet>> {
        if task.paths.is_empty() {
            return None;
        }
        if let Some(s) = self.0.get(&task.id) {
            return Some(s.clone());
        }
        let set = Arc::new(PatternSet::compile(&task.paths).ok()?);
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        self.0.insert(task.id.clone(), set.clone());
        Some(set)
    }
}

/// Why `task` may not start for `worker` at `now` (`None`: it may): its
/// concurrency key at its limit, or its paths in conflict with a live
/// reservation. The registry's fields, borrowed apart.
fn blocker_of(
    task: &Task,
    worker: &str,
    now: Millis,
    cache: &mut PathCache,
    reservations: &ReservationTable,
    running_keys: &HashMap<String, u32>,
    limits: &BTreeMap<String, u32>,
) -> Option<Blocker> {
    if let Some(key) = &task.concurrency_key {
        if let Some(&limit) = limits.get(key) {
            if running_keys.get(key).copied().unwrap_or(0) >= limit {
                return Some(Blocker::Key {
                    key: key.clone(),
                    limit,
                });
            }
        }
    }
    let set = cache.of(task)?;
    let side = Side {
        worker,
        mode: task.paths_mode,
        set: &set,
    };
    reservations.conflict(side, now).map(Blocker::Paths)
}

/// Paths of skipped tasks, in claim order: later tasks may not overtake them.
type Queued = Vec<(TaskId, ReservationMode, Arc<PatternSet>)>;

/// The queued task whose paths `mine` would conflict with (a queued task
/// has no holder yet: it conflicts with everyone).
fn behind(mine: Side<'_>, queued: &Queued) -> Option<Blocker> {
    queued
        .iter()
        .find(|(_, mode, set)| {
            let theirs = Side {
                worker: "\u{0}queued",
                mode: *mode,
                set,
            };
            conflict_between(mine, theirs).is_some()
        })
        .map(|(id, _, _)| Blocker::Behind(id.clone()))
}

impl TaskRegistry {
    /// Why `task` may not start for `worker` at `now` (`None`: it may).
    /// Does not look at older ready tasks (a claim of this task by id).
    pub(super) fn blocker(&mut self, task: &Task, worker: &str, now: Millis) -> Option<Blocker> {
        blocker_of(
            task,
            worker,
            now,
            &mut self.path_cache,
            &self.reservations,
            &self.running_keys,
            &self.settings.concurrency.limits,
        )
    }

    /// The first ready task `wanted` accepts that may start for `worker`
    /// at `now` (see the module docs), recording the skips in the metrics.
    pub(super) fn pick(
        &mut self,
        wanted: impl Fn(&Task) -> bool,
        worker: &str,
        now: Millis,
    ) -> Option<TaskId> {
        let (found, paths, keys) = self.walk(wanted, worker, now, None);
        self.metrics.claim_skipped(paths, keys);
        found.map(|(id, _)| id)
    }

    /// Walk the ready queue as [`TaskRegistry::pick`] does, up to `stop`
    /// (then: that task and why it waits, if it does) or to the first task
    /// that may start. Returns it with its blocker, and the skips (paths,
    /// keys). A task with neither paths nor key is never held back, so the
    /// common case costs one step.
    fn walk(
        &mut self,
        wanted: impl Fn(&Task) -> bool,
        worker: &str,
        now: Millis,
        stop: Option<&TaskId>,
    ) -> (Option<(TaskId, Option<Blocker>)>, u64, u64) {
        let TaskRegistry {
            table,
            path_cache,
            reservations,
            running_keys,
            settings,
            ..
        } = self;
        let limits = &settings.concurrency.limits;
        let mut queued: Queued = Vec::new();
        let (mut paths, mut keys) = (0u64, 0u64);
        for t in table.ready_where(&wanted) {
            let mut why = blocker_of(
                t,
                worker,
                now,
                path_cache,
                reservations,
                running_keys,
                limits,
            );
            let set = path_cache.of(t);
            if why.is_none() {
                if let Some(set) = &set {
                    let mine = Side {
                        worker,
                        mode: t.paths_mode,
                        set,
                    };
                    why = behind(mine, &queued);
                }
            }
            if stop == Some(&t.id) {
                return (Some((t.id.clone(), why)), paths, keys);
            }
            match why {
                None if stop.is_none() => return (Some((t.id.clone(), None)), paths, keys),
                None => {}
                Some(Blocker::Key { .. }) => keys += 1,
                Some(_) => {
                    paths += 1;
                    if let Some(set) = set {
                        queued.push((t.id.clone(), t.paths_mode, set));
                    }
                }
            }
        }
        (None, paths, keys)
    }

    /// Why the ready task `id` waits, in words, when a claim would skip it
    /// now (for `get_task`): "waits for `src/api/**` held by task `api`
    /// (worker alice) until 12:04:31Z". `None` when it is not ready or
    /// nothing holds it back.
    pub(super) fn why_waiting(&mut self, id: &TaskId, now: Millis) -> Option<String> {
        let task = self.table.get(id)?;
        if task.status != TaskStatus::Ready {
            return None;
        }
        if task.paths.is_empty() && task.concurrency_key.is_none() {
            return None;
        }
        let agent = task.executor.is_none();
        let wanted = move |t: &Task| (t.executor.is_none()) == agent;
        // no worker conflicts with nobody: every holder counts
        let (found, _, _) = self.walk(wanted, "", now, Some(id));
        let (_, why) = found?;
        Some(match why? {
            Blocker::Paths(c) => {
                let mut s = format!("waits for `{}` held", c.held);
                if let Some(t) = &c.task {
                    s.push_str(&format!(" by task `{t}`"));
                }
                s.push_str(&format!(
                    " (worker {}) until {}",
                    c.worker,
                    crate::model::rfc3339::format(c.expires_at)
                ));
                s
            }
            Blocker::Key { key, limit } => format!(
                "waits for concurrency key `{key}`: {limit} running task(s) already hold it (its limit)"
            ),
            Blocker::Behind(older) => format!(
                "waits behind older ready task `{older}`, whose paths overlap and which is first in line for them"
            ),
        })
    }

    /// Count `task`'s concurrency key as running (`+1`) or ended (`-1`).
    pub(super) fn count_key(&mut self, task: &TaskId, up: bool) {
        let Some(key) = self.table.get(task).and_then(|t| t.concurrency_key.clone()) else {
            return;
        };
        let n = self.running_keys.entry(key.clone()).or_insert(0);
        if up {
            *n += 1;
        } else {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.running_keys.remove(&key);
            }
        }
    }
}
