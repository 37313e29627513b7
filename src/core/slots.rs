//! `SlotTable`: N worker slots and who holds them, pure and synchronous.
//!
//! A slot is held either *with a task* (taken by a claim, freed when the
//! task's lease ends) or *explicitly* (`POST /slots/claim`, the
//! agent-coordinate-mcp way: a worker holds a slot and runs tasks in it one
//! after another). Explicit holds carry their own expiry so a vanished worker
//! cannot keep a slot forever.

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

/// Who holds a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Worker name.
    pub worker: String,
    /// Task running in the slot.
    pub task: Option<TaskId>,
    /// Held explicitly (survives its task).
    pub explicit: bool,
    /// Taken at.
    pub since: Millis,
    /// Explicit holds lapse at this time when idle.
    pub expires_at: Option<Millis>,
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

    /// Take the lowest free slot.
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

    /// Run `task` in an explicit slot held by `worker`.
    pub fn bind(&mut self, slot: u32, worker: &str, task: TaskId) -> Result<(), SlotError> {
        self.check(slot)?;
        match self.slots[slot as usize].as_mut() {
            Some(h) if h.explicit && (h.worker == worker || h.worker.is_empty()) => match &h.task {
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
            },
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
    pub fn release(&mut self, slot: u32, worker: Option<&str>) -> Result<Holder, SlotError> {
        self.check(slot)?;
        let entry = &mut self.slots[slot as usize];
        match entry {
            None => Err(SlotError::NotClaimed(slot)),
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

    /// Extend an idle explicit hold.
    pub fn touch(&mut self, slot: u32, now: Millis, explicit_ttl_ms: u64) {
        if let Some(Some(h)) = self.slots.get_mut(slot as usize) {
            if h.explicit && h.task.is_none() {
                h.expires_at = Some(now.saturating_add(explicit_ttl_ms));
            }
        }
    }

    /// Free idle explicit holds whose time ran out.
    pub fn expire(&mut self, now: Millis) -> Vec<(u32, Holder)> {
        let mut out = Vec::new();
        for (i, entry) in self.slots.iter_mut().enumerate() {
            let lapsed = matches!(entry, Some(h) if h.explicit && h.task.is_none() && h.expires_at.is_some_and(|e| e <= now));
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
        assert!(t.bind(s, "other", task.clone()).is_err());
        t.bind(s, "w", task.clone()).unwrap();
        assert!(matches!(
            t.release(s, Some("w")),
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
    fn release_refuses_a_slot_one_does_not_hold() {
        let mut t = SlotTable::new(1);
        assert_eq!(t.release(0, Some("w")), Err(SlotError::NotClaimed(0)));
        t.acquire("w", None, true, 0, 100).unwrap();
        assert!(matches!(
            t.release(0, Some("x")),
            Err(SlotError::NotHeld { .. })
        ));
        assert!(matches!(
            t.release(5, None),
            Err(SlotError::NoSuchSlot { .. })
        ));
        assert!(t.release(0, Some("w")).is_ok());
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
                        let r = t.release(slot, Some(&worker));
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
                        let r = t.bind(slot, &worker, task.clone());
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
