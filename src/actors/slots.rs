//! `SlotAllocator`: owns the N worker slots.
//!
//! State: a [`SlotTable`] (holder, task, explicit flag, expiry per slot) and
//! the `s/` key space of the store. Every change to an *explicit* hold — its
//! claim (named or anonymous), its adoption by the first worker to run a task
//! in it, binding to a task, going idle when that task ends, release, expiry —
//! is written as a [`SlotRecord`] in the same step, and the reply carries the
//! commit's [`Ticket`]: a change a client is told about is durable first.
//! Task-bound holds are not stored; they are derived from running tasks'
//! leases on restart ([`SlotTable::recover`]).
//!
//! Time: every message first frees the idle explicit holds that lapsed by
//! the clock's `now` (written in the same batch), so a lapsed hold is never
//! used, released or counted as held, whenever the sweep timer last ran.
//! An anonymous hold lapses `slots.adopt_within_secs` after it was taken
//! unless a claim adopted it; a named or adopted idle hold lapses
//! `leases.compat_ttl_secs` after it went idle.
//!
//! Retries: a [`ClaimSlot`] with a `request_id` is remembered (the `q/` key
//! space, a [`RequestRecord`] written in the hold's own commit) for as long
//! as that hold lasts, so the same request sent again — its answer was lost
//! — gets the same slot instead of a second hold nobody knows about. The
//! record is removed in the commit that ends the hold.
//!
//! Messages: [`AcquireSlot`], [`BindSlot`], [`TaskEnded`] from the registry;
//! [`ClaimSlot`], [`ReleaseSlot`], [`ListSlots`], [`SweepSlots`] from the
//! edges. A timer (every `leases.sweep_interval_ms`) frees lapsed holds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::clock::Clock;
use crate::core::requests::RequestTable;
use crate::core::slots::SlotTable;
use crate::error::Error;
use crate::model::{
    Event, EventKind, Millis, RequestAnswer, RequestKey, RequestKind, RequestRecord, SlotInfo,
    TaskId,
};
use crate::store::{SlotRecord, Store, StoreError, Ticket, WriteBatch};

/// The allocator actor.
pub struct SlotAllocator {
    table: SlotTable,
    store: Store,
    explicit_ttl_ms: u64,
    /// How long an anonymous hold waits to be adopted (ms).
    adopt_ms: u64,
    /// First answers of slot claims sent with a `request_id`, while their hold lasts.
    requests: RequestTable,
    /// Stored records found without their hold at start-up, removed by the next write.
    stale_requests: Vec<RequestKey>,
    sweep_every: Duration,
    busy: Arc<AtomicUsize>,
    clock: Clock,
    /// A write failed: in-memory state may be ahead of the store, so every
    /// later change is refused.
    poisoned: bool,
}

fn slot_event(
    kind: EventKind,
    at: Millis,
    slot: u32,
    worker: &str,
    reason: Option<String>,
) -> Event {
    Event {
        id: 0,
        at,
        kind,
        task_id: None,
        worker: (!worker.is_empty()).then(|| worker.to_owned()),
        actor: None,
        slot: Some(slot),
        lease_id: None,
        from: None,
        to: None,
        reason,
    }
}

impl SlotAllocator {
    /// Start from a table rebuilt from storage; `busy` mirrors the held count
    /// for lock-free stats; lapsed holds are looked for every `sweep_every`.
    pub fn new(
        table: SlotTable,
        store: Store,
        explicit_ttl_ms: u64,
        sweep_every: Duration,
        busy: Arc<AtomicUsize>,
        clock: Clock,
    ) -> Self {
        busy.store(table.busy(), Ordering::Relaxed);
        Self {
            table,
            store,
            explicit_ttl_ms,
            adopt_ms: explicit_ttl_ms,
            requests: RequestTable::new(),
            stale_requests: Vec::new(),
            sweep_every,
            busy,
            clock,
            poisoned: false,
        }
    }

    /// Builder: an anonymous hold lapses `adopt_ms` after it was taken
    /// unless a claim adopts it (default: the idle lifetime of any hold).
    pub fn with_adopt_within(mut self, adopt_ms: u64) -> Self {
        self.adopt_ms = adopt_ms;
        self
    }

    /// Builder: the remembered slot claims loaded from the store. A record
    /// whose hold is gone (not the same explicit hold of that slot) is
    /// dropped, and removed from the store by the next write.
    pub fn with_requests(mut self, records: Vec<RequestRecord>) -> Self {
        for rec in records {
            if rec.key.kind != RequestKind::ClaimSlot {
                continue;
            }
            if self.hold_of(&rec.answer).is_some() {
                self.requests.remember(rec);
            } else {
                self.stale_requests.push(rec.key);
            }
        }
        self
    }

    /// The explicit hold `answer` names, if it is still held (same slot,
    /// same `since`).
    fn hold_of(&self, answer: &RequestAnswer) -> Option<u32> {
        match answer {
            RequestAnswer::Slot { slot, since } => self
                .table
                .holder(*slot)
                .is_some_and(|h| h.explicit && h.since == *since)
                .then_some(*slot),
            RequestAnswer::Lease { .. } => None,
        }
    }

    /// The hold of `slot` that began at `since` ended: forget the request it answered.
    fn forget_hold(&mut self, slot: u32, since: Millis, batch: &mut WriteBatch) {
        if let Some(rec) = self
            .requests
            .forget_answer(&RequestAnswer::Slot { slot, since })
        {
            batch.remove_request(&rec.key);
        }
    }

    fn publish(&self) {
        self.busy.store(self.table.busy(), Ordering::Relaxed);
    }

    /// Write the record of `slot` as it is now (or its removal).
    fn put(&self, slot: u32, batch: &mut WriteBatch) {
        match self.table.holder(slot).filter(|h| h.explicit) {
            Some(h) => batch.put_slot(&SlotRecord {
                slot,
                worker: h.worker.clone(),
                since: h.since,
                expires_at: h.expires_at,
                task: h.task.clone(),
            }),
            None => batch.remove_slot(slot),
        }
    }

    /// Free the idle explicit holds that lapsed by `now` into `batch`.
    fn catch_up(&mut self, now: Millis, batch: &mut WriteBatch) {
        for key in self.stale_requests.drain(..) {
            batch.remove_request(&key);
        }
        for (slot, h) in self.table.expire(now) {
            let why = if h.worker.is_empty() {
                "anonymous claim not adopted in time"
            } else {
                "idle claim lapsed"
            };
            tracing::info!(slot, worker = %h.worker, why, "explicit slot claim lapsed");
            self.forget_hold(slot, h.since, batch);
            batch.remove_slot(slot);
            batch.put_event(
                slot_event(
                    EventKind::SlotReleased,
                    now,
                    slot,
                    &h.worker,
                    Some(why.into()),
                ),
                None,
            );
        }
    }

    /// Start a change at `now`: refuse if poisoned, then catch up on lapsed holds.
    fn begin(&mut self, now: Millis) -> Result<WriteBatch, Error> {
        self.refuse_if_poisoned()?;
        let mut batch = WriteBatch::new();
        self.catch_up(now, &mut batch);
        Ok(batch)
    }

    /// Commit `batch` (if anything is in it); a failed write poisons the allocator.
    fn write(&mut self, batch: WriteBatch) -> Result<Option<Ticket>, Error> {
        self.publish();
        if batch.is_empty() {
            return Ok(None);
        }
        match self.store.commit(batch) {
            Ok(t) => Ok(Some(t)),
            Err(e) => {
                tracing::error!(error = %e, "slot commit failed; the allocator refuses further changes");
                self.poisoned = true;
                Err(e.into())
            }
        }
    }

    /// The error every change gets once a slot write failed: the store's
    /// own failure (503 `storage_unavailable`).
    fn refuse_if_poisoned(&self) -> Result<(), Error> {
        if !self.poisoned {
            return Ok(());
        }
        Err(match self.store.failure() {
            Some(f) => StoreError::FlushFailed(f.to_owned()).into(),
            None => {
                Error::Unavailable("the slot allocator (a write failed earlier; restart baton)")
            }
        })
    }

    fn sweep(&mut self) -> Result<Option<Ticket>, Error> {
        let now = self.clock.now();
        let batch = self.begin(now)?;
        self.write(batch)
    }
}

impl Actor for SlotAllocator {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.sweep_every, |act, _| {
            if let Err(e) = act.sweep() {
                tracing::error!(error = %e, "cannot persist lapsed slot claims");
            }
        });
    }
}

/// Take a free slot for a task being claimed (not stored: the task's lease
/// records it). Answers the slot and the instant it was taken (ms since
/// the epoch, read once here): the claim must use that instant as the
/// lease's `claimed_at`, because a restart derives this holder's `since`
/// from it. Reading the time here, not in the registry, keeps the
/// allocator's time monotonic across its messages.
#[derive(Debug, Message)]
#[rtype(result = "Result<(u32, Millis), Error>")]
pub struct AcquireSlot {
    /// The claiming worker's name, recorded as the slot's holder.
    pub worker: String,
    /// Task to run.
    pub task: TaskId,
}

impl Handler<AcquireSlot> for SlotAllocator {
    type Result = Result<(u32, Millis), Error>;
    fn handle(&mut self, msg: AcquireSlot, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let batch = self.begin(now)?;
        let r = self.table.acquire(
            &msg.worker,
            Some(msg.task),
            false,
            now,
            self.explicit_ttl_ms,
        );
        // lapsed holds freed on the way are written either way
        self.write(batch)?;
        Ok((r?, now))
    }
}

/// Run a task in an explicit slot the worker holds (adopting an anonymous
/// hold). The new record is queued before the registry's claim commit, so
/// the claim's durability covers it. Answers the instant the hold was
/// checked (ms since the epoch), which the claim uses as its own time: a
/// hold that had lapsed by then is never bound.
#[derive(Debug, Message)]
#[rtype(result = "Result<Millis, Error>")]
pub struct BindSlot {
    /// The slot number (`0..slots`) the worker holds explicitly.
    pub slot: u32,
    /// Worker that must hold it.
    pub worker: String,
    /// Task to run.
    pub task: TaskId,
}

impl Handler<BindSlot> for SlotAllocator {
    type Result = Result<Millis, Error>;
    fn handle(&mut self, msg: BindSlot, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let mut batch = self.begin(now)?;
        let r = self.table.bind(msg.slot, &msg.worker, msg.task, now);
        if r.is_ok() {
            self.put(msg.slot, &mut batch);
        }
        self.write(batch)?;
        r?;
        Ok(now)
    }
}

/// The task in a slot ended (its lease is gone): a task-bound slot is freed,
/// an explicit one goes idle (stored). Returns the commit to wait on, if any.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Ticket>, Error>")]
pub struct TaskEnded {
    /// The slot number (`0..slots`) the task ran in.
    pub slot: u32,
    /// The task that ended; the slot is changed only if it still runs this task.
    pub task: TaskId,
}

impl Handler<TaskEnded> for SlotAllocator {
    type Result = Result<Option<Ticket>, Error>;
    fn handle(&mut self, msg: TaskEnded, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let explicit_bound = self
            .table
            .holder(msg.slot)
            .is_some_and(|h| h.explicit && h.task.as_ref() == Some(&msg.task));
        // on a poisoned allocator the slot is still freed in memory (the
        // lease is gone), but nothing is written
        let mut batch = WriteBatch::new();
        if !self.poisoned {
            self.catch_up(now, &mut batch);
        }
        self.table
            .task_ended(msg.slot, &msg.task, now, self.explicit_ttl_ms);
        if explicit_bound {
            self.put(msg.slot, &mut batch);
        }
        if self.poisoned {
            self.publish();
            self.refuse_if_poisoned()?;
        }
        self.write(batch)
    }
}

/// Hold a slot explicitly (agent-coordinate-mcp style); an empty `worker`
/// is an anonymous hold, adopted by the first worker to run a task in it
/// (and lapsing after `slots.adopt_within_secs` unless one does).
///
/// With a `request_id`, the answer is remembered while the hold lasts: the
/// same request again (same `owner`, `worker` and `request_id`) answers the
/// same slot and takes no other. Answers the slot and the commit to wait on
/// (`None` for a repeated answer: nothing was written, but what it repeats
/// may still be on its way to disk, so wait for a read barrier).
#[derive(Debug, Message)]
#[rtype(result = "Result<(u32, Option<Ticket>), Error>")]
pub struct ClaimSlot {
    /// Worker (may be empty).
    pub worker: String,
    /// The access token (or JWT subject) asking; `None` without auth.
    pub owner: Option<String>,
    /// The client's idempotency key, already checked.
    pub request_id: Option<String>,
}

impl Handler<ClaimSlot> for SlotAllocator {
    type Result = Result<(u32, Option<Ticket>), Error>;
    fn handle(&mut self, msg: ClaimSlot, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let mut batch = self.begin(now)?;
        let key = msg.request_id.map(|request_id| RequestKey {
            kind: RequestKind::ClaimSlot,
            owner: msg.owner,
            worker: msg.worker.clone(),
            request_id,
        });
        // a record lives as long as its hold, so a remembered slot is still that hold
        let repeated = key
            .as_ref()
            .and_then(|k| self.requests.get(k))
            .and_then(|rec| self.hold_of(&rec.answer));
        if let Some(slot) = repeated {
            let ticket = self.write(batch)?;
            return Ok((slot, ticket));
        }
        let ttl = if msg.worker.is_empty() {
            self.adopt_ms
        } else {
            self.explicit_ttl_ms
        };
        let slot = match self.table.acquire(&msg.worker, None, true, now, ttl) {
            Ok(s) => s,
            Err(e) => {
                self.write(batch)?;
                return Err(e.into());
            }
        };
        self.put(slot, &mut batch);
        if let Some(key) = key {
            let rec = RequestRecord {
                key,
                at: now,
                answer: RequestAnswer::Slot { slot, since: now },
            };
            for old in self.requests.remember(rec.clone()) {
                batch.remove_request(&old.key);
            }
            batch.put_request(&rec);
        }
        batch.put_event(
            slot_event(EventKind::SlotClaimed, now, slot, &msg.worker, None),
            None,
        );
        let ticket = self.write(batch)?;
        ticket
            .map(|t| (slot, Some(t)))
            .ok_or(Error::Unavailable("the slot store"))
    }
}

/// Give back an explicit hold; `worker`, when given, must be the holder.
#[derive(Debug, Message)]
#[rtype(result = "Result<Ticket, Error>")]
pub struct ReleaseSlot {
    /// The slot number (`0..slots`) to give back.
    pub slot: u32,
    /// The worker that must hold the slot (`None`: whoever holds it, an admin's
    /// release).
    pub worker: Option<String>,
}

impl Handler<ReleaseSlot> for SlotAllocator {
    type Result = Result<Ticket, Error>;
    fn handle(&mut self, msg: ReleaseSlot, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let mut batch = self.begin(now)?;
        let holder = match self.table.release(msg.slot, msg.worker.as_deref(), now) {
            Ok(h) => h,
            Err(e) => {
                self.write(batch)?;
                return Err(e.into());
            }
        };
        self.forget_hold(msg.slot, holder.since, &mut batch);
        batch.remove_slot(msg.slot);
        batch.put_event(
            slot_event(EventKind::SlotReleased, now, msg.slot, &holder.worker, None),
            None,
        );
        self.write(batch)?
            .ok_or(Error::Unavailable("the slot store"))
    }
}

/// Free every idle explicit hold that lapsed by now; the commit to wait on, if any.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Ticket>, Error>")]
pub struct SweepSlots;

impl Handler<SweepSlots> for SlotAllocator {
    type Result = Result<Option<Ticket>, Error>;
    fn handle(&mut self, _: SweepSlots, _: &mut Context<Self>) -> Self::Result {
        self.sweep()
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
