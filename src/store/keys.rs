//! The key layout: which key space holds what, how a key is built, and how
//! a value is encoded.
//!
//! Everything lives in one ordered key space (one redb table, one
//! PostgreSQL table, one map in memory) split into key spaces by prefix, so
//! a change that touches several of them (a task, its audit events, the
//! lease counter) is one atomic write transaction:
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `t/` | task id | [`Task`] |
//! | `e/` | event id (u64 BE) | [`Event`] |
//! | `x/` | task id, `0x00`, event id (u64 BE) | empty (per-task audit index) |
//! | `s/` | slot (u32 BE) | [`SlotRecord`] (explicit slot holds; task-bound slots are derived from leases) |
//! | `c/` | task id, `0x00`, context key | JSON value |
//! | `m/` | name | u64 BE counters (`lease_ceiling`) |
//! | `o/` | operation id | [`Operation`] (MCP task handles, SEP-2663) |
//! | `k/` | token name | [`AccessToken`] (only the secret's SHA-256) |
//! | `l/` | lease id (u64 BE), `0x00` claim / `0x01` end | event id, event time (u64 BE each): the lease index |
//! | `h/` | task id | lease id, `expires_at`, renewal time (u64 BE each): the last heartbeat of a running lease |
//! | `g/` | `t/` or `p/` (tool, prompt), gateway name | [`GatewayName`]: a gateway name handed out, kept until its server leaves the server file |
//! | `q/` | request kind, `/`, JSON `[owner, worker, request_id]` | [`RequestRecord`] (the first answer to a request with an idempotency key, kept while its lease or slot hold lasts) |
//! | `r/` | reservation id | [`Reservation`] (path reservations; a lease-bound one is removed in the commit that ends its lease) |
//! | `n/` | message id (u64 BE) | [`Message`] (messages between workers, tasks and operators; `m/message_ceiling` is the highest id handed out) |
//! | `y/` | message id (u64 BE), worker | [`Receipt`] (when that worker read and acknowledged that message) |
//!
//! Values are a version byte ([`FORMAT_VERSION`]) followed by JSON.
//!
//! Besides the layout, this room holds the small reads every other room
//! makes over a snapshot ([`get_in`], [`scan_prefix_in`], [`read_meta`],
//! [`last_event_in`]), so that none of them spells a key by hand.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::engine::{Entries, Entry, KvRead};
use super::error::StoreError;
#[cfg(doc)]
use crate::model::{
    AccessToken, Event, GatewayName, Message, Operation, RequestRecord, Reservation, Task,
};
use crate::model::{GatewayKind, Millis, Receipt, RequestKey, TaskId};

/// Version byte in front of every stored value.
pub const FORMAT_VERSION: u8 = 1;

pub(super) const TASK: &[u8] = b"t/";
pub(super) const EVENT: &[u8] = b"e/";
pub(super) const TASK_EVENT: &[u8] = b"x/";
pub(super) const SLOT: &[u8] = b"s/";
pub(super) const CONTEXT: &[u8] = b"c/";
pub(super) const META: &[u8] = b"m/";
pub(super) const OPERATION: &[u8] = b"o/";
pub(super) const RENEWAL: &[u8] = b"h/";
pub(super) const TOKEN: &[u8] = b"k/";
pub(super) const LEASE: &[u8] = b"l/";
pub(super) const GATEWAY_NAME: &[u8] = b"g/";
pub(super) const REQUEST: &[u8] = b"q/";
pub(super) const RESERVATION: &[u8] = b"r/";
pub(super) const MESSAGE: &[u8] = b"n/";
pub(super) const RECEIPT: &[u8] = b"y/";

/// `m/` counter: the highest message id ever handed out (ids are never
/// reused, also after retention removed the newest messages).
pub const MESSAGE_CEILING_META: &str = "message_ceiling";

/// `m/` counter: the highest event id ever deleted (0: none).
pub(super) const EVENTS_PRUNED_META: &str = "events_pruned_through";
/// How many `t/` records the board holds, kept by the committer in the same
/// transaction as the records (start-up sizes its maps from it; a store
/// written before the counter existed is corrected by the first start-up).
pub(super) const TASK_COUNT_META: &str = "task_count";

/// An explicit slot hold as stored, rewritten by the slot allocator on every
/// change before the change is acknowledged (task-bound slots are derived
/// from their task's lease instead).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRecord {
    /// The slot number (`0..slots`) held.
    pub slot: u32,
    /// Holder; empty for an anonymous hold not yet adopted by a worker.
    pub worker: String,
    /// Claimed at (ms since the Unix epoch).
    pub since: Millis,
    /// While idle: when the hold lapses (ms since the Unix epoch); `None`
    /// while a task runs in it.
    #[serde(default)]
    pub expires_at: Option<Millis>,
    /// The task running in it, if any.
    #[serde(default)]
    pub task: Option<TaskId>,
}

pub(super) fn key(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + rest.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(rest);
    k
}

pub(super) fn task_event_key(task: &TaskId, event: u64) -> Vec<u8> {
    let mut k = key(TASK_EVENT, task.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(&event.to_be_bytes());
    k
}

/// `g/t/<name>` (a tool) or `g/p/<name>` (a prompt): names are unique per
/// catalog by their key.
pub(super) fn gateway_name_key(kind: GatewayKind, name: &str) -> Vec<u8> {
    let catalog: &[u8] = match kind {
        GatewayKind::Tool => b"t/",
        GatewayKind::Prompt => b"p/",
    };
    let mut k = key(GATEWAY_NAME, catalog);
    k.extend_from_slice(name.as_bytes());
    k
}

pub(super) fn context_prefix(task: &TaskId) -> Vec<u8> {
    let mut k = key(CONTEXT, task.as_str().as_bytes());
    k.push(0);
    k
}

pub(super) fn context_key(task: &TaskId, ctx_key: &str) -> Vec<u8> {
    let mut k = context_prefix(task);
    k.extend_from_slice(ctx_key.as_bytes());
    k
}

/// The `q/` key of a remembered request: its kind, then its owner, worker
/// and `request_id` as a JSON array (unambiguous whatever they contain).
pub(super) fn request_key(k: &RequestKey) -> Vec<u8> {
    let mut out = key(REQUEST, k.kind.as_str().as_bytes());
    out.push(b'/');
    // a tuple of strings always serializes
    if serde_json::to_writer(&mut out, &(&k.owner, &k.worker, &k.request_id)).is_err() {
        out.extend_from_slice(k.request_id.as_bytes());
    }
    out
}

/// The `n/` key of message `id`.
pub(super) fn message_key(id: u64) -> Vec<u8> {
    key(MESSAGE, &id.to_be_bytes())
}

/// The `y/` key of `worker`'s receipt of message `id`.
pub(super) fn receipt_key(id: u64, worker: &str) -> Vec<u8> {
    let mut k = key(RECEIPT, &id.to_be_bytes());
    k.extend_from_slice(worker.as_bytes());
    k
}

/// The `y/` key of `r`.
pub(super) fn receipt_key_of(r: &Receipt) -> Vec<u8> {
    receipt_key(r.message, &r.worker)
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // a task record is about 420 bytes, an event about 150: one allocation
    // instead of a growth step per doubling
    let mut out = Vec::with_capacity(512);
    out.push(FORMAT_VERSION);
    // Serializing our own plain data types into a Vec cannot fail.
    if serde_json::to_writer(&mut out, value).is_err() {
        out.truncate(1);
        out.extend_from_slice(b"null");
    }
    out
}

pub(super) fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason,
    };
    match bytes.split_first() {
        Some((&FORMAT_VERSION, body)) => {
            serde_json::from_slice(body).map_err(|e| corrupt(e.to_string()))
        }
        Some((v, _)) => Err(corrupt(format!("unknown format version {v}"))),
        None => Err(corrupt("empty value".into())),
    }
}

/// The first key after every key that starts with `prefix`.
pub(super) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.last_mut() {
        if *last < u8::MAX {
            *last += 1;
            return end;
        }
        end.pop();
    }
    vec![u8::MAX; prefix.len() + 1] // all 0xff: nothing sorts after it but longer keys
}

/// Entries with keys in `[start, end)`, in key order.
pub(super) fn range_in<'a>(
    t: &'a (impl KvRead + ?Sized),
    start: &[u8],
    end: &[u8],
) -> Result<Entries<'a>, StoreError> {
    t.range(start, end)
}

/// Entries whose keys start with `prefix`, in key order.
pub(super) fn scan_prefix_in<'a>(
    t: &'a (impl KvRead + ?Sized),
    prefix: &[u8],
) -> Result<Entries<'a>, StoreError> {
    t.range(prefix, &prefix_end(prefix))
}

/// The value under `k`.
pub(super) fn get_in(t: &(impl KvRead + ?Sized), k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    t.get(k)
}

/// Up to `limit` entries with keys in `[start, end)`, collected.
pub(super) fn collect_range(
    t: &(impl KvRead + ?Sized),
    start: &[u8],
    end: &[u8],
    limit: usize,
) -> Result<Vec<Entry>, StoreError> {
    t.range(start, end)?.take(limit).collect()
}

pub(super) fn read_meta(t: &(impl KvRead + ?Sized), name: &str) -> Result<u64, StoreError> {
    let k = key(META, name.as_bytes());
    Ok(match get_in(t, &k)? {
        Some(v) => {
            let arr: [u8; 8] = v.as_slice().try_into().map_err(|_| StoreError::Corrupt {
                key: name.into(),
                reason: "counter is not 8 bytes".into(),
            })?;
            u64::from_be_bytes(arr)
        }
        None => 0,
    })
}

pub(super) fn last_event_in(t: &dyn KvRead) -> Result<u64, StoreError> {
    let last = t.last(EVENT, &prefix_end(EVENT))?;
    Ok(last.map_or(0, |(k, _)| event_id_from_key(&k[EVENT.len()..])))
}

pub(super) fn event_id_from_key(bytes: &[u8]) -> u64 {
    let mut arr = [0u8; 8];
    let n = bytes.len().min(8);
    arr[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(arr)
}
