//! What a writer hands the store: a [`WriteBatch`] of writes applied
//! atomically, the [`Ticket`] that [`Store::commit`](super::Store::commit)
//! returns for it, and the [`Published`] event live subscribers get once
//! its commit is durable.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use super::keys::{
    context_key, encode, gateway_name_key, key, message_key, receipt_key, receipt_key_of,
    request_key, SlotRecord, META, OPERATION, RENEWAL, RESERVATION, SLOT, TASK, TOKEN,
};
use crate::model::{
    AccessToken, Event, GatewayKind, GatewayName, Message, Millis, Operation, Receipt, RequestKey,
    RequestRecord, Reservation, Task, TaskId,
};

/// Proof that a commit was applied; wait on it with
/// [`Store::wait_durable`](super::Store::wait_durable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[must_use = "a commit is durable only after wait_durable"]
pub struct Ticket(pub u64);

/// An event as published to live subscribers (SSE): the audit event, the
/// task's state right after it, and the commit to wait on before showing it.
/// One `Arc<Published>` goes to every subscriber; its wire form is encoded
/// once and shared ([`Published::encoded_with`]).
#[derive(Debug, Clone)]
pub struct Published {
    /// The audit event, with its id.
    pub event: Event,
    /// The task right after the event (None for slot events).
    pub task: Option<Arc<Task>>,
    /// Commit that made it; send only once durable.
    pub ticket: Ticket,
    /// The event as the event stream sends it, encoded by the first
    /// subscriber that needed it.
    encoded: OnceLock<Bytes>,
}

impl Published {
    /// An event to publish, not encoded yet.
    pub(super) fn new(event: Event, task: Option<Arc<Task>>, ticket: Ticket) -> Self {
        Self {
            event,
            task,
            ticket,
            encoded: OnceLock::new(),
        }
    }

    /// The event's wire form: `encode(self)` the first time, the same bytes
    /// (a reference-counted clone, never a copy) on every later call. With
    /// 1,000 subscribers an event is serialized once, not 1,000 times. Every
    /// caller must pass the same encoding (there is one: the SSE frame).
    pub fn encoded_with(&self, encode: impl FnOnce(&Published) -> Bytes) -> Bytes {
        self.encoded.get_or_init(|| encode(self)).clone()
    }
}

/// A set of writes applied atomically by [`Store::commit`](super::Store::commit).
#[derive(Default)]
pub struct WriteBatch {
    pub(super) ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    pub(super) events: Vec<(Event, Option<Arc<Task>>)>,
    /// Tasks to delete with everything under them (expanded by the committer).
    pub(super) deletes: Vec<TaskId>,
    /// Audit events older than this (ms) to prune, at most this many examined.
    pub(super) prune_events: Option<(Millis, usize)>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
            + self.events.len()
            + self.deletes.len()
            + usize::from(self.prune_events.is_some())
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push((key, Some(value)));
    }

    fn remove(&mut self, key: Vec<u8>) {
        self.ops.push((key, None));
    }

    /// Write a task record (and drop its heartbeat record: the task now
    /// carries the lease's latest expiry itself).
    pub fn put_task(&mut self, task: &Task) {
        self.insert(key(TASK, task.id.as_str().as_bytes()), encode(task));
        self.remove(key(RENEWAL, task.id.as_str().as_bytes()));
    }

    /// Record a heartbeat: `lease_id` of `task` now expires at `expires_at`
    /// (ms), renewed at `at` (ms) — without rewriting the task.
    pub fn put_renewal(&mut self, task: &TaskId, lease_id: u64, expires_at: Millis, at: Millis) {
        let mut v = Vec::with_capacity(24);
        v.extend_from_slice(&lease_id.to_be_bytes());
        v.extend_from_slice(&expires_at.to_be_bytes());
        v.extend_from_slice(&at.to_be_bytes());
        self.insert(key(RENEWAL, task.as_str().as_bytes()), v);
    }

    /// Append an audit event (global log and per-task index). Its id is
    /// assigned on commit; `task` is the snapshot published with it.
    pub fn put_event(&mut self, event: Event, task: Option<Arc<Task>>) {
        self.events.push((event, task));
    }

    /// Write an explicit slot hold.
    pub fn put_slot(&mut self, rec: &SlotRecord) {
        self.insert(key(SLOT, &rec.slot.to_be_bytes()), encode(rec));
    }

    /// Remove an explicit slot hold.
    pub fn remove_slot(&mut self, slot: u32) {
        self.remove(key(SLOT, &slot.to_be_bytes()));
    }

    /// Remember the first answer to a request with an idempotency key.
    pub fn put_request(&mut self, rec: &RequestRecord) {
        self.insert(request_key(&rec.key), encode(rec));
    }

    /// Forget a remembered request (what it answered ended).
    pub fn remove_request(&mut self, k: &RequestKey) {
        self.remove(request_key(k));
    }

    /// Write a message (the `n/` key space).
    pub fn put_message(&mut self, m: &Message) {
        self.insert(message_key(m.id), encode(m));
    }

    /// Remove message `id` (its receipts are removed one by one with
    /// [`WriteBatch::remove_receipt`]).
    pub fn remove_message(&mut self, id: u64) {
        self.remove(message_key(id));
    }

    /// Write a worker's receipt of a message (the `y/` key space).
    pub fn put_receipt(&mut self, r: &Receipt) {
        self.insert(receipt_key_of(r), encode(r));
    }

    /// Remove `worker`'s receipt of message `id`.
    pub fn remove_receipt(&mut self, id: u64, worker: &str) {
        self.remove(receipt_key(id, worker));
    }

    /// Write one context value of a task.
    pub fn put_context(&mut self, task: &TaskId, ctx_key: &str, value: &serde_json::Value) {
        self.insert(context_key(task, ctx_key), encode(value));
    }

    /// Write an MCP task-handle record.
    pub fn put_operation(&mut self, op: &Operation) {
        self.insert(key(OPERATION, op.id.as_bytes()), encode(op));
    }

    /// Remove an MCP task-handle record.
    pub fn remove_operation(&mut self, id: &str) {
        self.remove(key(OPERATION, id.as_bytes()));
    }

    /// Write a path reservation record.
    pub fn put_reservation(&mut self, res: &Reservation) {
        self.insert(key(RESERVATION, res.id.as_bytes()), encode(res));
    }

    /// Remove a path reservation record.
    pub fn remove_reservation(&mut self, id: &str) {
        self.remove(key(RESERVATION, id.as_bytes()));
    }

    /// Write an access token record.
    pub fn put_token(&mut self, token: &AccessToken) {
        self.insert(key(TOKEN, token.name.as_bytes()), encode(token));
    }

    /// Remove an access token record.
    pub fn remove_token(&mut self, name: &str) {
        self.remove(key(TOKEN, name.as_bytes()));
    }

    /// Keep a gateway name handed out (replacing whatever its catalog had
    /// under that name).
    pub fn put_gateway_name(&mut self, name: &GatewayName) {
        self.insert(gateway_name_key(name.kind, &name.name), encode(name));
    }

    /// Forget a gateway name (its server left the server file).
    pub fn remove_gateway_name(&mut self, kind: GatewayKind, name: &str) {
        self.remove(gateway_name_key(kind, name));
    }

    /// Write a counter.
    pub fn put_meta(&mut self, name: &str, value: u64) {
        self.insert(key(META, name.as_bytes()), value.to_be_bytes().to_vec());
    }

    /// Delete task `id` with its renewal record, its context values and its
    /// whole audit log (events, `x/` index and lease-index entries). The
    /// committer expands this against what is on disk, after every write
    /// queued before this batch. Callers delete only terminal tasks that no
    /// remaining task depends on.
    pub fn delete_task(&mut self, id: &TaskId) {
        self.deletes.push(id.clone());
    }

    /// Prune audit events stamped before `before` (ms since the epoch) that
    /// belong to no live task (slot events, and events of a done, cancelled
    /// or deleted task; a failed task can be reset, so its log stays),
    /// oldest first, examining at most `max` of them. Events of a live task
    /// stay; they go when their task is deleted.
    pub fn prune_events(&mut self, before: Millis, max: usize) {
        self.prune_events = Some((before, max));
    }
}
