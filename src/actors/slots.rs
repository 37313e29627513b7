//! `SlotAllocator`: owns the N worker slots.
//!
//! State: a [`SlotTable`] (holder, task, explicit flag, expiry per slot) and
//! the `s/` key space of the store, where only *explicit* holds are persisted
//! (task-bound holds are derived from running tasks' leases on restart).
//! Messages: [`AcquireSlot`], [`BindSlot`], [`TaskEnded`] from the registry;
//! [`ClaimSlot`], [`ReleaseSlot`], [`ListSlots`] from the edges. A timer
//! frees idle explicit holds whose time ran out.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::core::slots::{Holder, SlotError, SlotTable};
use crate::error::Error;
use crate::model::{now_ms, Event, EventKind, SlotInfo, TaskId};
use crate::store::{SlotRecord, Store, Ticket, WriteBatch};

/// The allocator actor.
pub struct SlotAllocator {
    table: SlotTable,
    store: Store,
    explicit_ttl_ms: u64,
    busy: Arc<AtomicUsize>,
}

impl SlotAllocator {
    /// Start from a table rebuilt from storage; `busy` mirrors the held count for lock-free stats.
    pub fn new(
        table: SlotTable,
        store: Store,
        explicit_ttl_ms: u64,
        busy: Arc<AtomicUsize>,
    ) -> Self {
        busy.store(table.busy(), Ordering::Relaxed);
        Self {
            table,
            store,
            explicit_ttl_ms,
            busy,
        }
    }

    fn publish(&self) {
        self.busy.store(self.table.busy(), Ordering::Relaxed);
    }

    fn slot_event(kind: EventKind, slot: u32, worker: &str, reason: Option<String>) -> Event {
        Event {
            id: 0,
            at: now_ms(),
            kind,
            task_id: None,
            worker: Some(worker.to_owned()),
            slot: Some(slot),
            lease_id: None,
            from: None,
            to: None,
            reason,
        }
    }

    fn sweep(&mut self) {
        let lapsed = self.table.expire(now_ms());
        if lapsed.is_empty() {
            return;
        }
        let mut batch = WriteBatch::new();
        for (slot, h) in &lapsed {
            tracing::info!(slot, worker = %h.worker, "explicit slot claim lapsed");
            batch.remove_slot(*slot);
            batch.put_event(
                Self::slot_event(
                    EventKind::SlotReleased,
                    *slot,
                    &h.worker,
                    Some("idle claim lapsed".into()),
                ),
                None,
            );
        }
        if let Err(e) = self.store.commit(batch) {
            tracing::error!(error = %e, "cannot persist lapsed slot claims");
        }
        self.publish();
    }
}

impl Actor for SlotAllocator {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(Duration::from_secs(1), |act, _| act.sweep());
    }
}

/// Take a free slot for a task being claimed.
#[derive(Debug, Message)]
#[rtype(result = "Result<u32, SlotError>")]
pub struct AcquireSlot {
    /// Claiming worker.
    pub worker: String,
    /// Task to run.
    pub task: TaskId,
}

impl Handler<AcquireSlot> for SlotAllocator {
    type Result = Result<u32, SlotError>;
    fn handle(&mut self, msg: AcquireSlot, _: &mut Context<Self>) -> Self::Result {
        let r = self.table.acquire(
            &msg.worker,
            Some(msg.task),
            false,
            now_ms(),
            self.explicit_ttl_ms,
        );
        self.publish();
        r
    }
}

/// Run a task in an explicit slot the worker holds.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), SlotError>")]
pub struct BindSlot {
    /// Slot.
    pub slot: u32,
    /// Worker that must hold it.
    pub worker: String,
    /// Task to run.
    pub task: TaskId,
}

impl Handler<BindSlot> for SlotAllocator {
    type Result = Result<(), SlotError>;
    fn handle(&mut self, msg: BindSlot, _: &mut Context<Self>) -> Self::Result {
        self.table.bind(msg.slot, &msg.worker, msg.task)
    }
}

/// The task in a slot ended (its lease is gone).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct TaskEnded {
    /// Slot.
    pub slot: u32,
    /// Task.
    pub task: TaskId,
}

impl Handler<TaskEnded> for SlotAllocator {
    type Result = ();
    fn handle(&mut self, msg: TaskEnded, _: &mut Context<Self>) {
        self.table
            .task_ended(msg.slot, &msg.task, now_ms(), self.explicit_ttl_ms);
        self.publish();
    }
}

/// Hold a slot explicitly (agent-coordinate-mcp style).
#[derive(Debug, Message)]
#[rtype(result = "Result<(u32, Ticket), Error>")]
pub struct ClaimSlot {
    /// Worker.
    pub worker: String,
}

impl Handler<ClaimSlot> for SlotAllocator {
    type Result = Result<(u32, Ticket), Error>;
    fn handle(&mut self, msg: ClaimSlot, _: &mut Context<Self>) -> Self::Result {
        let now = now_ms();
        let slot = self
            .table
            .acquire(&msg.worker, None, true, now, self.explicit_ttl_ms)?;
        let mut batch = WriteBatch::new();
        batch.put_slot(&SlotRecord {
            slot,
            worker: msg.worker.clone(),
            since: now,
            expires_at: now.saturating_add(self.explicit_ttl_ms),
        });
        batch.put_event(
            Self::slot_event(EventKind::SlotClaimed, slot, &msg.worker, None),
            None,
        );
        self.publish();
        Ok((slot, self.store.commit(batch)?))
    }
}

/// Give back an explicit hold; `worker`, when given, must be the holder.
#[derive(Debug, Message)]
#[rtype(result = "Result<Ticket, Error>")]
pub struct ReleaseSlot {
    /// Slot.
    pub slot: u32,
    /// Holder.
    pub worker: Option<String>,
}

impl Handler<ReleaseSlot> for SlotAllocator {
    type Result = Result<Ticket, Error>;
    fn handle(&mut self, msg: ReleaseSlot, _: &mut Context<Self>) -> Self::Result {
        let holder: Holder = self.table.release(msg.slot, msg.worker.as_deref())?;
        let mut batch = WriteBatch::new();
        batch.remove_slot(msg.slot);
        batch.put_event(
            Self::slot_event(EventKind::SlotReleased, msg.slot, &holder.worker, None),
            None,
        );
        self.publish();
        Ok(self.store.commit(batch)?)
    }
}

/// Snapshot of every slot.
#[derive(Debug, Message)]
#[rtype(result = "Vec<SlotInfo>")]
pub struct ListSlots;

impl Handler<ListSlots> for SlotAllocator {
    type Result = MessageResult<ListSlots>;
    fn handle(&mut self, _: ListSlots, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.table.infos())
    }
}
