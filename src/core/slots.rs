//! `SlotTable`: N worker slots and who holds them, pure and synchronous.
//!
//! A slot is held either *with a task* (taken by a claim, freed when the
//! task's lease ends) or *explicitly* (`POST /slots/claim`, the
//! agent-coordinate-mcp way: a worker holds a slot and runs tasks in it one
//! after another). Explicit holds carry their own expiry so a vanished worker
//! cannot keep a slot forever (an anonymous hold — no worker — gets a short
//! one, `slots.adopt_within_secs`: until a claim adopts it nobody can find
//! it); an idle hold whose `expires_at` has passed is
//! not held any more — [`SlotTable::bind`] and [`SlotTable::release`] refuse
//! it at once, whether or not [`SlotTable::expire`] has freed it yet.
//!
//! Durability (the `SlotAllocator`'s job): every explicit hold is a stored
//! record, rewritten on every change; a task-bound hold is derived from its
//! task's lease. [`SlotTable::recover`] rebuilds the table from both.

use crate::error_code::{ErrorCode, ServiceError};
use crate::model::{Millis, SlotInfo, TaskId};

/// Why a slot operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    /// Every slot is taken.
    #[error("no free worker slot (all {0} are taken)")]
    NoneFree(u32),
    /// The slot number is out of range.
    #[error("slot {slot} does not exist (slots are 0..{count})")]
    NoSuchSlot {
        /// Requested slot.
        slot: u32,
        /// Number of slots.
        count: u32,
    },
    /// The slot is free or held by someone else.
    #[error("slot {slot} is not held by worker '{worker}'")]
    NotHeld {
        /// Requested slot.
        slot: u32,
        /// Who asked.
        worker: String,
    },
    /// The slot is free.
    #[error("slot {0} is not held")]
    NotClaimed(u32),
    /// The slot is running a task.
    #[error("slot {slot} is running task '{task}'; finish or release the task first")]
    Busy {
        /// Requested slot.
        slot: u32,
        /// Its task.
        task: TaskId,
    },
}

impl ServiceError for SlotError {
    fn error_code(&self) -> ErrorCode {
        match self {
            SlotError::NoneFree(_) => ErrorCode::NoFreeSlot,
            SlotError::NoSuchSlot { .. } => ErrorCode::NoSuchSlot,
            SlotError::NotHeld { .. } | SlotError::NotClaimed(_) => ErrorCode::SlotNotHeld,
            SlotError::Busy { .. } => ErrorCode::SlotBusy,
        }
    }
}

/// Who holds a slot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    /// The holding worker's name (free text, as it claimed).
    pub worker: String,
    /// Task running in the slot.
    pub task: Option<TaskId>,
    /// Held explicitly (survives its task).
    pub explicit: bool,
    /// When the slot was taken (ms since the Unix epoch, the claim's or hold's own
    /// time).
    pub since: Millis,
    /// Explicit holds lapse at this time when idle.
    pub expires_at: Option<Millis>,
}

impl Holder {
    /// An idle explicit hold whose time ran out by `now`.
    pub fn lapsed(&self, now: Millis) -> bool {
        self.explicit && self.task.is_none() && self.expires_at.is_some_and(|e| e <= now)
    }
}

/// A running task's lease, as [`SlotTable::recover`] needs it.
#[derive(Debug, Clone)]
pub struct RunningLease {
    /// The running task the lease is for.
    pub task: TaskId,
    /// The worker named in the lease, the slot's holder.
    pub worker: String,
    /// The slot it runs in.
    pub slot: u32,
    /// When it was claimed.
    pub claimed_at: Millis,
}

/// What [`SlotTable::recover`] could not put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryIssue {
    /// A stored explicit hold names a slot beyond the configured count.
    HoldOutOfRange {
        /// Slot.
        slot: u32,
        /// Holder.
        worker: String,
    },
    /// A running task's slot is out of range or held by someone else.
    LeaseWithoutSlot {
        /// Task.
        task: TaskId,
        /// Slot.
        slot: u32,
    },
}

/// The slot table.
#[derive(Debug, Clone)]
pub struct SlotTable {
    slots: Vec<Option<Holder>>,
    busy: usize,
}

impl SlotTable {
    /// `count` free slots.
    pub fn new(count: u32) -> Self {
        Self {
            slots: vec![None; count as usize],
            busy: 0,
        }
    }

    /// Number of slots.
    pub fn count(&self) -> u32 {
        u32::try_from(self.slots.len()).unwrap_or(u32::MAX)
    }

    /// Number of held slots.
    pub fn busy(&self) -> usize {
        self.busy
    }

    /// Holder of a slot.
    pub fn holder(&self, slot: u32) -> Option<&Holder> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    fn check(&self, slot: u32) -> Result<(), SlotError> {
        if (slot as usize) < self.slots.len() {
            Ok(())
        } else {
            Err(SlotError::NoSuchSlot {
                slot,
                count: self.count(),
            })
        }
    }

    /// Take the lowest free slot. An explicit hold lapses at
    /// `now + explicit_ttl_ms` unless a task runs in it by then (the slot
    /// allocator passes the adoption window for an anonymous hold, the idle
    /// lifetime for a named one).
    pub fn acquire(
        &mut self,
        worker: &str,
        task: Option<TaskId>,
        explicit: bool,
        now: Millis,
        explicit_ttl_ms: u64,
    ) -> Result<u32, SlotError> {
        let count = self.count();
        let Some(i) = self.slots.iter().position(Option::is_none) else {
            return Err(SlotError::NoneFree(count));
        };
        self.slots[i] = Some(Holder {
            worker: worker.to_owned(),
            task,
            explicit,
            since: now,
            expires_at: explicit.then(|| now.saturating_add(explicit_ttl_ms)),
        });
        self.busy += 1;
        Ok(u32::try_from(i).unwrap_or(u32::MAX))
    }

    /// Put a holder back as it was persisted or derived (recovery). Returns
    /// false if the slot is out of range or already taken.
    pub fn restore(&mut self, slot: u32, holder: Holder) -> bool {
        match self.slots.get_mut(slot as usize) {
            Some(s @ None) => {
                *s = Some(holder);
                self.busy += 1;
                true
            }
            _ => false,
        }
    }

    /// Rebuild the table after a restart from the stored explicit holds and
    /// the running tasks' leases.
    ///
    /// A task runs in an explicit hold of its worker (or an anonymous one)
    /// when its lease names that slot; otherwise its lease holds the slot.
    /// A stored hold still bound to a task that is no longer running there
    /// (its end was not yet recorded when baton stopped) becomes idle and
    /// lapses `explicit_ttl_ms` after `now` — never earlier than it would have.
    pub fn recover(
        count: u32,
        holds: Vec<(u32, Holder)>,
        running: &[RunningLease],
        now: Millis,
        explicit_ttl_ms: u64,
    ) -> (Self, Vec<RecoveryIssue>) {
        let mut table = Self::new(count);
        let mut issues = Vec::new();
        let mut was_bound = vec![false; count as usize];
        for (slot, mut h) in holds {
            let bound = h.task.take().is_some();
            h.explicit = true;
            if !table.restore(slot, h.clone()) {
                issues.push(RecoveryIssue::HoldOutOfRange {
                    slot,
                    worker: h.worker,
                });
            } else if let Some(b) = was_bound.get_mut(slot as usize) {
                *b = bound;
            }
        }
        for l in running {
            let explicit = table.holder(l.slot).is_some_and(|h| {
                h.explicit && h.task.is_none() && (h.worker == l.worker || h.worker.is_empty())
            });
            let ok = if explicit {
                // no lapse check: the running lease kept the hold alive
                match table.slots.get_mut(l.slot as usize) {
                    Some(Some(h)) => {
                        if h.worker.is_empty() {
                            h.worker = l.worker.clone();
                        }
                        h.task = Some(l.task.clone());
                        h.expires_at = None;
                        true
                    }
                    _ => false,
                }
            } else {
                table.restore(
                    l.slot,
                    Holder {
                        worker: l.worker.clone(),
                        task: Some(l.task.clone()),
                        explicit: false,
                        since: l.claimed_at,
                        expires_at: None,
                    },
                )
            };
            if !ok {
                issues.push(RecoveryIssue::LeaseWithoutSlot {
                    task: l.task.clone(),
                    slot: l.slot,
                });
            }
        }
        let idle_until = now.saturating_add(explicit_ttl_ms);
        for (i, entry) in table.slots.iter_mut().enumerate() {
            if let Some(h) = entry {
                if h.explicit && h.task.is_none() {
                    let floor = if was_bound[i] { idle_until } else { 0 };
                    h.expires_at = Some(h.expires_at.unwrap_or(idle_until).max(floor));
                }
            }
        }
        (table, issues)
    }

    /// Run `task` in an explicit slot held by `worker` (an anonymous hold is
    /// adopted by `worker`). Refused for a hold that lapsed by `now`.
    pub fn bind(
        &mut self,
        slot: u32,
        worker: &str,
        task: TaskId,
        now: Millis,
    ) -> Result<(), SlotError> {
        self.check(slot)?;
        match self.slots[slot as usize].as_mut() {
            Some(h)
                if h.explicit && (h.worker == worker || h.worker.is_empty()) && !h.lapsed(now) =>
            {
                match &h.task {
                    Some(t) if *t != task => Err(SlotError::Busy {
                        slot,
                        task: t.clone(),
                    }),
                    _ => {
                        if h.worker.is_empty() {
                            // an anonymous hold is adopted by its first worker
                            h.worker = worker.to_owned();
                        }
                        h.task = Some(task);
                        h.expires_at = None;
                        Ok(())
                    }
                }
            }
            _ => Err(SlotError::NotHeld {
                slot,
                worker: worker.to_owned(),
            }),
        }
    }

    /// The task running in `slot` ended: a task-bound slot is freed, an explicit
    /// one stays with its worker (idle, lapsing after `explicit_ttl_ms`).
    /// Returns whether the slot was freed. Ignores a slot not running `task`.
    pub fn task_ended(
        &mut self,
        slot: u32,
        task: &TaskId,
        now: Millis,
        explicit_ttl_ms: u64,
    ) -> bool {
        let Some(entry) = self.slots.get_mut(slot as usize) else {
            return false;
        };
        match entry {
            Some(h) if h.task.as_ref() == Some(task) => {
                if h.explicit {
                    h.task = None;
                    h.expires_at = Some(now.saturating_add(explicit_ttl_ms));
                    false
                } else {
                    *entry = None;
                    self.busy -= 1;
                    true
                }
            }
            _ => false,
        }
    }

    /// Release an explicit hold. `worker`, when given, must be the holder.
    /// A hold that lapsed by `now` is not held any more.
    pub fn release(
        &mut self,
        slot: u32,
        worker: Option<&str>,
        now: Millis,
    ) -> Result<Holder, SlotError> {
        self.check(slot)?;
        let entry = &mut self.slots[slot as usize];
        match entry {
            None => Err(SlotError::NotClaimed(slot)),
            Some(h) if h.lapsed(now) => Err(SlotError::NotClaimed(slot)),
            Some(h) if worker.is_some_and(|w| w != h.worker) || !h.explicit => {
                Err(SlotError::NotHeld {
                    slot,
                    worker: worker.unwrap_or_default().to_owned(),
                })
            }
            Some(Holder {
                task: Some(task), ..
            }) => Err(SlotError::Busy {
                slot,
                task: task.clone(),
            }),
            Some(_) => {
                self.busy -= 1;
                entry.take().ok_or(SlotError::NotClaimed(slot))
            }
        }
    }

    /// Free idle explicit holds whose time ran out by `now`.
    pub fn expire(&mut self, now: Millis) -> Vec<(u32, Holder)> {
        let mut out = Vec::new();
        for (i, entry) in self.slots.iter_mut().enumerate() {
            let lapsed = entry.as_ref().is_some_and(|h| h.lapsed(now));
            if lapsed {
                if let Some(h) = entry.take() {
                    self.busy -= 1;
                    out.push((u32::try_from(i).unwrap_or(u32::MAX), h));
                }
            }
        }
        out
    }

    /// Snapshot for clients.
    pub fn infos(&self) -> Vec<SlotInfo> {
        self.slots
            .iter()
            .enumerate()
            .map(|(i, h)| SlotInfo {
                slot: u32::try_from(i).unwrap_or(u32::MAX),
                worker: h
                    .as_ref()
                    .map(|h| h.worker.clone())
                    .filter(|w| !w.is_empty()),
                task_id: h.as_ref().and_then(|h| h.task.clone()),
                explicit: h.as_ref().is_some_and(|h| h.explicit),
                since: h.as_ref().map(|h| h.since),
                expires_at: h.as_ref().and_then(|h| h.expires_at),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn explicit_slot_survives_its_task_and_lapses_when_idle() {
        let mut t = SlotTable::new(2);
        let s = t.acquire("w", None, true, 0, 100).unwrap();
        let task = TaskId::from_trusted("a");
        assert!(t.bind(s, "other", task.clone(), 0).is_err());
        t.bind(s, "w", task.clone(), 0).unwrap();
        assert!(matches!(
            t.release(s, Some("w"), 0),
            Err(SlotError::Busy { .. })
        ));
        assert!(t.expire(10_000).is_empty(), "a running slot never lapses");
        assert!(!t.task_ended(s, &task, 50, 100));
        assert_eq!(t.busy(), 1);
        assert!(t.expire(149).is_empty());
        assert_eq!(t.expire(150).len(), 1);
        assert_eq!(t.busy(), 0);
    }

    #[test]
    fn a_lapsed_idle_hold_is_refused_before_the_sweep_frees_it() {
        let mut t = SlotTable::new(1);
        let s = t.acquire("w", None, true, 0, 100).unwrap();
        let task = TaskId::from_trusted("a");
        assert!(matches!(
            t.bind(s, "w", task.clone(), 100),
            Err(SlotError::NotHeld { .. })
        ));
        assert_eq!(t.release(s, Some("w"), 100), Err(SlotError::NotClaimed(s)));
        assert_eq!(t.busy(), 1, "still in the table until expire()");
        t.bind(s, "w", task, 99).unwrap();
        assert!(t.expire(10_000).is_empty(), "a running slot never lapses");
    }

    #[test]
    fn recovery_keeps_adoption_and_binding_and_never_shortens_an_idle_hold() {
        let a = TaskId::from_trusted("a");
        let b = TaskId::from_trusted("b");
        let hold = |worker: &str, task: Option<&TaskId>, expires_at| Holder {
            worker: worker.into(),
            task: task.cloned(),
            explicit: true,
            since: 1,
            expires_at,
        };
        let holds = vec![
            // adopted by w1 and running a
            (0, hold("w1", Some(&a), None)),
            // bound to b, whose end was not recorded before the crash
            (1, hold("w2", Some(&b), None)),
            // idle, lapses at 500
            (2, hold("w3", None, Some(500))),
            // out of range
            (9, hold("w9", None, Some(500))),
        ];
        let running = vec![
            RunningLease {
                task: a.clone(),
                worker: "w1".into(),
                slot: 0,
                claimed_at: 5,
            },
            RunningLease {
                task: TaskId::from_trusted("c"),
                worker: "x".into(),
                slot: 3,
                claimed_at: 7,
            },
        ];
        let (t, issues) = SlotTable::recover(4, holds, &running, 1_000, 100);
        assert_eq!(issues.len(), 1, "{issues:?}");
        let h0 = t.holder(0).unwrap();
        assert_eq!(
            (h0.worker.as_str(), h0.task.as_ref(), h0.expires_at),
            ("w1", Some(&a), None)
        );
        let h1 = t.holder(1).unwrap();
        assert_eq!((h1.task.as_ref(), h1.expires_at), (None, Some(1_100)));
        assert_eq!(t.holder(2).unwrap().expires_at, Some(500));
        let h3 = t.holder(3).unwrap();
        assert!(!h3.explicit && h3.worker == "x");
        assert_eq!(t.busy(), 4);
    }

    #[test]
    fn release_refuses_a_slot_one_does_not_hold() {
        let mut t = SlotTable::new(1);
        assert_eq!(t.release(0, Some("w"), 0), Err(SlotError::NotClaimed(0)));
        t.acquire("w", None, true, 0, 100).unwrap();
        assert!(matches!(
            t.release(0, Some("x"), 0),
            Err(SlotError::NotHeld { .. })
        ));
        assert!(matches!(
            t.release(5, None, 0),
            Err(SlotError::NoSuchSlot { .. })
        ));
        assert!(t.release(0, Some("w"), 0).is_ok());
    }

    proptest! {
        /// Against a model map: a slot is never handed out while held, busy
        /// never exceeds the count, and releases only succeed for holders.
        #[test]
        fn slots_are_never_double_booked(
            count in 1u32..8,
            ops in prop::collection::vec((0u8..5, 0u32..10, 0u8..3), 0..300),
        ) {
            let mut t = SlotTable::new(count);
            let mut model: HashMap<u32, (String, Option<TaskId>, bool)> = HashMap::new();
            let mut now = 0u64;
            for (i, (op, slot, w)) in ops.into_iter().enumerate() {
                now += 10;
                let worker = format!("w{w}");
                match op {
                    0 | 1 => {
                        let explicit = op == 1;
                        let task = (!explicit).then(|| TaskId::from_trusted(format!("t{i}")));
                        match t.acquire(&worker, task.clone(), explicit, now, 1_000_000) {
                            Ok(s) => {
                                prop_assert!(s < count);
                                prop_assert!(!model.contains_key(&s), "slot {s} double-booked");
                                model.insert(s, (worker, task, explicit));
                            }
                            Err(SlotError::NoneFree(_)) => prop_assert_eq!(model.len(), count as usize),
                            Err(e) => prop_assert!(false, "unexpected {e}"),
                        }
                    }
                    2 => {
                        let r = t.release(slot, Some(&worker), now);
                        let ok = matches!(model.get(&slot), Some((h, None, true)) if *h == worker);
                        prop_assert_eq!(r.is_ok(), ok);
                        if ok { model.remove(&slot); }
                    }
                    3 => {
                        if let Some((_, Some(task), false)) = model.get(&slot).cloned() {
                            prop_assert!(t.task_ended(slot, &task, now, 1_000_000));
                            model.remove(&slot);
                        }
                    }
                    _ => {
                        let task = TaskId::from_trusted(format!("b{i}"));
                        let r = t.bind(slot, &worker, task.clone(), now);
                        let ok = matches!(model.get(&slot), Some((h, None, true)) if *h == worker);
                        prop_assert_eq!(r.is_ok(), ok);
                        if ok { if let Some(m) = model.get_mut(&slot) { m.1 = Some(task); } }
                    }
                }
                prop_assert_eq!(t.busy(), model.len());
                prop_assert!(t.busy() <= count as usize);
            }
        }
    }
}
