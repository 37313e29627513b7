//! Persistence: key layout, versioned values and group commit, over
//! [redb](https://docs.rs/redb) (a copy-on-write B-tree in one file,
//! `<data dir>/baton.redb`, whose memory is bounded by its page cache).
//!
//! Everything lives in one redb table (`board`) split into key spaces, so a
//! change that touches several of them (a task, its audit events, the lease
//! counter) is one atomic write transaction:
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
//!
//! Values are a version byte ([`FORMAT_VERSION`]) followed by JSON.
//!
//! **Deletion** (retention, `DELETE /api/v1/tasks/{id}`) is expanded by the
//! committer, which alone knows what is on disk: [`WriteBatch::delete_task`]
//! removes the task record, its renewal, its contexts, and every audit event
//! of the task with its `x/` and `l/` entries; [`WriteBatch::prune_events`]
//! removes the oldest audit events that belong to no live task. The highest
//! event id ever removed is kept in `m/events_pruned_through`, so event ids
//! are never handed out twice (also when the newest events were removed) and
//! an SSE client resuming from before it can be told to resync.
//!
//! **Heartbeats** write only an `h/` record (24 bytes), not the task and no
//! audit event: reads of a task lay the renewal over the stored record when
//! it is for the same lease, and every full write of the task removes it
//! (the record then carries the latest expiry itself).
//!
//! **Group commit.** [`Store::commit`] queues a batch and returns a
//! [`Ticket`] at once. A single committer thread takes everything queued,
//! applies it in one redb write transaction, commits it durably (redb's
//! `Durability::Immediate`: fsync before the commit returns), and marks
//! those tickets durable. Callers reply to their client only after [`Store::wait_durable`]
//! — so an acknowledged write is on disk, concurrent writers share one
//! fsync, and the actors never spend their own time inside the engine. Readers
//! read first and then call [`Store::barrier`], which waits until everything
//! committed before the barrier (so everything the read can have seen) is
//! durable: nothing a crash could still undo is ever shown. Live events are
//! published only after their flush, so an event id a client has seen is on
//! disk and never handed out again after a crash.
//!
//! **Failure.** The first failed apply or flush, or the committer thread's
//! death (a panic is caught), fails the store for good: every later
//! [`Store::commit`] is refused with [`StoreError::FlushFailed`], every
//! waiter of a ticket not yet durable gets that error, and the batch that
//! failed is never written later (an uncommitted redb transaction is simply
//! dropped). [`Store::wait_durable`] is also bounded by
//! [`COMMIT_TIMEOUT`]: a disk that hangs fails the store the same way.
//!
//! **Lease index.** The committer also writes, for every event that starts
//! (`task_claimed`) or ends (completed, failed, retried, released, expired,
//! cancelled while running) a lease, an `l/` entry pointing at that event, in
//! the same atomic batch. [`Store::lease_history`] reads leases in claim
//! order from it and the audit events it points to. A data directory written
//! before the index existed is indexed once by [`Store::open`].
//!
//! **Data directories of older versions** (sled 0.34, whose working set grew
//! with every key written: 9 GiB for a 1,000,000-task board) are copied into
//! `baton.redb` once by [`Store::open`]; the sled files are left as they
//! were (see [`migrate_from_sled`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tokio::sync::watch;

use crate::model::{
    AccessToken, Event, EventKind, LeaseOutcome, LeaseRecord, Millis, Operation, Task, TaskId,
    TaskStatus,
};

/// How long [`Store::wait_durable`] waits for one commit before it declares
/// the disk hung and fails the store (a commit normally takes one fsync,
/// well under a second).
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Version byte in front of every stored value.
pub const FORMAT_VERSION: u8 = 1;

const TASK: &[u8] = b"t/";
const EVENT: &[u8] = b"e/";
const TASK_EVENT: &[u8] = b"x/";
const SLOT: &[u8] = b"s/";
const CONTEXT: &[u8] = b"c/";
const META: &[u8] = b"m/";
const OPERATION: &[u8] = b"o/";
const RENEWAL: &[u8] = b"h/";
const TOKEN: &[u8] = b"k/";
const LEASE: &[u8] = b"l/";

/// `m/` counter: the highest event id ever deleted (0: none).
const EVENTS_PRUNED_META: &str = "events_pruned_through";
/// How many `t/` records the board holds, kept by the committer in the same
/// transaction as the records (start-up sizes its maps from it; a store
/// written before the counter existed is corrected by the first start-up).
const TASK_COUNT_META: &str = "task_count";

/// `m/` counter naming the version of the `l/` lease index that is complete.
const LEASE_INDEX_META: &str = "lease_index";
const LEASE_INDEX_VERSION: u64 = 1;
const LEASE_CLAIM: u8 = 0;
const LEASE_END: u8 = 1;

/// The redb file inside the data directory.
pub const DB_FILE: &str = "baton.redb";

/// A read snapshot of the board table.
use engine::{Engine, KvRead, KvWrite, RedbEngine, Snapshot, TxError};

mod engine;
mod postgres;

/// A stored key and its value.
type Entry = (Vec<u8>, Vec<u8>);

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage engine (redb) reported an I/O or corruption error.
    #[error("storage error: {0}")]
    Engine(#[from] redb::Error),
    /// Copying a data directory of an older baton (sled) into the current
    /// store failed. Nothing was lost: the sled files are untouched, and the
    /// copy starts over on the next start.
    #[error("cannot migrate the sled data in {path}: {reason}")]
    Migration {
        /// Directory.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A stored value could not be decoded.
    #[error("corrupt value under {key}: {reason}")]
    Corrupt {
        /// Key (lossy UTF-8).
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// A write to the disk failed earlier (or the committer died, or a
    /// commit hung longer than [`COMMIT_TIMEOUT`]); the store refuses every
    /// write until baton is restarted. The text says what failed.
    #[error("the store failed and refuses writes until restart ({0})")]
    FlushFailed(String),
    /// The store failed while this write was being made durable: its batch
    /// was being committed, and the commit that failed may have reached the
    /// disk before failing (a failed flush says nothing about what did reach
    /// the disk). After a restart it may or may not be there: read it back
    /// before retrying. The text says what failed.
    #[error("the store failed while this write was being made durable ({0}); it may or may not be on disk after a restart: read it back before retrying")]
    OutcomeUnknown(String),
    /// The store was closed (runtime shut down).
    #[error("the store is closed")]
    Closed,
    /// The PostgreSQL engine failed: the server cannot be reached, a
    /// statement or the schema migration failed. The text says which.
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// Another node took the leadership of the PostgreSQL database over
    /// (see [`crate::ha`]): this node's writes are refused from now on.
    #[error("this node no longer leads its database: another node took over (this node's epoch was {epoch}); its writes are refused")]
    Deposed {
        /// The epoch this node led.
        epoch: i64,
    },
    /// Another node leads the PostgreSQL database (its lease is live).
    #[error("another baton leads this database ({holder}); stop it first, or run this node as its follower")]
    Led {
        /// The leader's name (its advertised URL, or the offline command).
        holder: String,
    },
    /// The operating system refused a thread the store needs (start-up's
    /// record decoder).
    #[error("cannot start a storage thread: {0}")]
    Thread(std::io::Error),
    /// Another process (or a store of this process that is still shutting
    /// down) holds the data directory's lock for longer than [`LOCK_WAIT`].
    #[error("data directory {path} is in use by another process (its lock was not released within {} s)", LOCK_WAIT.as_secs())]
    Locked {
        /// Directory.
        path: PathBuf,
    },
    /// The data directory could not be opened.
    #[error("cannot open data directory {path}: {source}")]
    Open {
        /// Directory.
        path: PathBuf,
        /// Cause.
        source: redb::Error,
    },
}

impl crate::error::code::ServiceError for StoreError {
    /// `unavailable` once closed; `storage_unavailable` when a write could
    /// not be made durable or the store cannot be reached (the disk, the
    /// database, the leadership); `storage_error` for corrupt values and
    /// engine bugs.
    fn error_code(&self) -> crate::error::code::ErrorCode {
        use crate::error::code::ErrorCode;
        match self {
            StoreError::Closed => ErrorCode::Unavailable,
            StoreError::FlushFailed(_)
            | StoreError::OutcomeUnknown(_)
            | StoreError::Open { .. }
            | StoreError::Thread(_)
            | StoreError::Postgres(_)
            | StoreError::Deposed { .. }
            | StoreError::Led { .. }
            | StoreError::Locked { .. }
            | StoreError::Engine(redb::Error::Io(_))
            | StoreError::Migration { .. } => ErrorCode::StorageUnavailable,
            _ => ErrorCode::StorageError,
        }
    }
}

macro_rules! engine_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Engine(e.into())
            }
        }
    )*};
}
engine_errors!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// An explicit slot hold as stored, rewritten by the slot allocator on every
/// change before the change is acknowledged (task-bound slots are derived
/// from their task's lease instead).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRecord {
    /// Slot number.
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

/// Filters and paging of [`Store::lease_history`]. A lease is listed when it
/// overlaps the window `[since, until)`: claimed before `until` and not ended
/// before `since`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseQuery {
    /// Leave out leases that ended before this time (ms since the epoch).
    pub since: Option<Millis>,
    /// Leave out leases claimed at or after this time (ms since the epoch).
    pub until: Option<Millis>,
    /// Only leases held by this worker.
    pub worker: Option<String>,
    /// Continue after this lease id (the previous page's `next_cursor`).
    pub after: Option<u64>,
    /// Most leases returned.
    pub limit: usize,
    /// Most leases looked at in one call (bounds the work of a sparse filter);
    /// the page then ends early with a `next_cursor`.
    pub max_scan: usize,
}

/// One page of [`Store::lease_history`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHistory {
    /// Leases in lease-id (= claim) order.
    pub leases: Vec<LeaseRecord>,
    /// Lease id to continue after; `None` when nothing follows. A page may be
    /// shorter than the limit (even empty) and still have one, when the scan
    /// budget ran out first.
    pub next_cursor: Option<u64>,
}

/// One `l/` entry: which lease, claim or end, and the event it points to.
struct LeaseEntry {
    lease: u64,
    mark: u8,
    event: u64,
    at: Millis,
}

/// Proof that a commit was applied; wait on it with [`Store::wait_durable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[must_use = "a commit is durable only after wait_durable"]
pub struct Ticket(pub u64);

/// An event as published to live subscribers (SSE): the audit event, the
/// task's state right after it, and the commit to wait on before showing it.
#[derive(Debug, Clone)]
pub struct Published {
    /// The audit event, with its id.
    pub event: Event,
    /// The task right after the event (None for slot events).
    pub task: Option<Arc<Task>>,
    /// Commit that made it; send only once durable.
    pub ticket: Ticket,
}

/// A set of writes applied atomically by [`Store::commit`].
#[derive(Default)]
pub struct WriteBatch {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    events: Vec<(Event, Option<Arc<Task>>)>,
    /// Tasks to delete with everything under them (expanded by the committer).
    deletes: Vec<TaskId>,
    /// Audit events older than this (ms) to prune, at most this many examined.
    prune_events: Option<(Millis, usize)>,
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

    /// Write an access token record.
    pub fn put_token(&mut self, token: &AccessToken) {
        self.insert(key(TOKEN, token.name.as_bytes()), encode(token));
    }

    /// Remove an access token record.
    pub fn remove_token(&mut self, name: &str) {
        self.remove(key(TOKEN, name.as_bytes()));
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

fn key(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + rest.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(rest);
    k
}

fn task_event_key(task: &TaskId, event: u64) -> Vec<u8> {
    let mut k = key(TASK_EVENT, task.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(&event.to_be_bytes());
    k
}

fn context_prefix(task: &TaskId) -> Vec<u8> {
    let mut k = key(CONTEXT, task.as_str().as_bytes());
    k.push(0);
    k
}

fn context_key(task: &TaskId, ctx_key: &str) -> Vec<u8> {
    let mut k = context_prefix(task);
    k.extend_from_slice(ctx_key.as_bytes());
    k
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
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

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
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

/// How long [`Store::open`] waits for the data directory's lock. A store
/// of this process that is still shutting down (an embedder restarting its
/// runtime, a test) releases it once its last handle is dropped, which may
/// take a moment; another live process still gets a clear
/// [`StoreError::Locked`] after this bound.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// The first key after every key that starts with `prefix`.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
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
fn range_in<'a>(
    t: &'a (impl KvRead + ?Sized),
    start: &[u8],
    end: &[u8],
) -> Result<engine::Entries<'a>, StoreError> {
    t.range(start, end)
}

/// Entries whose keys start with `prefix`, in key order.
fn scan_prefix_in<'a>(
    t: &'a (impl KvRead + ?Sized),
    prefix: &[u8],
) -> Result<engine::Entries<'a>, StoreError> {
    t.range(prefix, &prefix_end(prefix))
}

/// The value under `k`.
fn get_in(t: &(impl KvRead + ?Sized), k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    t.get(k)
}

/// A walk over `[start, end)` of a snapshot it does not borrow: entries are
/// read a page at a time, each page starting after the last key read (so an
/// iterator can own its snapshot).
struct Paged {
    next: Vec<u8>,
    end: Vec<u8>,
    page: std::collections::VecDeque<Entry>,
    done: bool,
}

impl Paged {
    const PAGE: usize = 256;

    fn new(start: Vec<u8>, end: Vec<u8>) -> Self {
        Self {
            next: start,
            end,
            page: std::collections::VecDeque::new(),
            done: false,
        }
    }

    /// The next entry, reading the next page from `t` when needed.
    fn next_in(&mut self, t: &dyn KvRead) -> Option<Result<Entry, StoreError>> {
        if self.page.is_empty() && !self.done {
            match collect_range(t, &self.next, &self.end, Self::PAGE) {
                Ok(entries) => {
                    self.done = entries.len() < Self::PAGE;
                    if let Some((k, _)) = entries.last() {
                        self.next = k.clone();
                        self.next.push(0); // the first key after it
                    }
                    self.page.extend(entries);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        self.page.pop_front().map(Ok)
    }
}

/// Up to `limit` entries with keys in `[start, end)`, collected.
fn collect_range(
    t: &(impl KvRead + ?Sized),
    start: &[u8],
    end: &[u8],
    limit: usize,
) -> Result<Vec<Entry>, StoreError> {
    t.range(start, end)?.take(limit).collect()
}

/// Whether `dir` holds the files of a sled store (baton before redb).
fn has_sled_files(dir: &Path) -> bool {
    dir.join("conf").is_file() && dir.join("db").is_file()
}

/// `m/` flag: the sled data of this directory was copied completely.
const SLED_MIGRATED_META: &str = "migrated_from_sled";

/// Keys copied per write transaction while migrating.
const MIGRATION_CHUNK: usize = 50_000;

/// Copy the sled store a baton before redb left in `dir` into `db`, once:
/// every key of sled's `board` tree as is (the key layout and value format
/// did not change), in transactions of [`MIGRATION_CHUNK`] keys, the last
/// one also setting `m/migrated_from_sled`. A copy interrupted by a crash
/// starts over on the next start (copying is idempotent: sled is only
/// read). The sled files stay where they are, unused; the log says they can
/// be deleted. A no-op without sled files or once the flag is set.
fn migrate_from_sled(dir: &Path, db: &dyn Engine) -> Result<(), StoreError> {
    if !has_sled_files(dir) || read_meta(&*db.snapshot()?, SLED_MIGRATED_META)? == 1 {
        return Ok(());
    }
    let failed = |reason: String| StoreError::Migration {
        path: dir.to_path_buf(),
        reason,
    };
    tracing::info!(dir = %dir.display(), "copying the sled store of an older baton into {DB_FILE}");
    let sled_db = sled::Config::new()
        .path(dir)
        .open()
        .map_err(|e| failed(e.to_string()))?;
    let tree = sled_db
        .open_tree("board")
        .map_err(|e| failed(e.to_string()))?;
    let mut entries = tree.iter();
    let mut copied = 0usize;
    loop {
        let mut n = 0;
        db.transact(
            &mut |t| {
                for kv in entries.by_ref() {
                    let (k, v) = kv.map_err(|e| failed(e.to_string()))?;
                    t.insert(k.as_ref(), v.as_ref())?;
                    n += 1;
                    if n == MIGRATION_CHUNK {
                        break;
                    }
                }
                if n < MIGRATION_CHUNK {
                    let flag = key(META, SLED_MIGRATED_META.as_bytes());
                    t.insert(flag.as_slice(), 1u64.to_be_bytes().as_slice())?;
                }
                Ok(())
            },
            &mut || Ok(()),
        )
        .map_err(TxError::into_store)?;
        copied += n;
        if n < MIGRATION_CHUNK {
            break;
        }
    }
    tracing::info!(
        keys = copied,
        dir = %dir.display(),
        "copied the sled store into {DB_FILE}; sled's files (conf, db, blobs/, snap.*) are no longer used and can be deleted"
    );
    Ok(())
}

/// A commit waiting for the committer thread.
struct Pending {
    ticket: u64,
    batch: WriteBatch,
}

struct Queue {
    items: Vec<Pending>,
    /// Last ticket handed out.
    last_ticket: u64,
}

struct GroupCommit {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Last ticket handed out (mirrors `queue.last_ticket` for lock-free reads).
    enqueued: AtomicU64,
    events_tx: tokio::sync::broadcast::Sender<Arc<Published>>,
    /// Highest ticket whose batch was handed to sled (applied or being
    /// applied, maybe not flushed): a waiter at or below it whose flush
    /// failed has an unknown outcome, one above it was never written.
    applied: AtomicU64,
    /// Highest ticket a successful flush covered (never the wake-up value
    /// a failure sends on `durable_tx`).
    flushed: AtomicU64,
    /// Highest ticket known durable; `u64::MAX` once the store failed (to
    /// wake every waiter).
    durable_tx: watch::Sender<u64>,
    durable_rx: watch::Receiver<u64>,
    stop: AtomicBool,
    failure: OnceLock<String>,
    flushes: AtomicU64,
    /// Highest event id ever deleted (`m/events_pruned_through`).
    pruned_through: AtomicU64,
    /// Where the next [`WriteBatch::prune_events`] pass starts (in memory:
    /// after a restart the first pass starts from the oldest event again).
    prune_cursor: AtomicU64,
    #[cfg(test)]
    faults: faults::Faults,
}

/// The open database, until [`Store::close`] drops it: redb records a clean
/// shutdown when its last handle goes, so the next open needs no repair pass
/// (a walk of the whole file: seconds for a 1,000,000-task board). Reads
/// after the close get [`StoreError::Closed`].
struct OpenDb(std::sync::RwLock<Option<Arc<dyn Engine>>>);

impl OpenDb {
    fn get(&self) -> Result<Arc<dyn Engine>, StoreError> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(StoreError::Closed)
    }

    /// Let go of the database (it closes once in-flight reads end).
    fn release(&self) {
        let db = self.0.write().unwrap_or_else(|p| p.into_inner()).take();
        drop(db);
    }
}

/// The persistent board. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<OpenDb>,
    gc: Arc<GroupCommit>,
    flusher: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
    /// PostgreSQL: set once another node took the leadership over.
    deposed: Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("enqueued", &self.gc.enqueued.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Open (or create) the store in `dir`, with a page cache of `cache_bytes`,
    /// and start the flusher thread.
    ///
    /// Errors: [`StoreError::Locked`] when the directory's lock stays held
    /// for [`LOCK_WAIT`]; [`StoreError::Open`] for any other failure to open.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let db: Arc<dyn Engine> = Arc::new(RedbEngine::open(dir, cache_bytes, LOCK_WAIT)?);
        migrate_from_sled(dir, &*db)?;
        Self::start(db)
    }

    /// Open the store in the PostgreSQL database at `url`
    /// (`postgres://user:password@host:port/database`) with a pool of
    /// `pool_size` connections, creating or migrating its schema, and start
    /// the committer thread. Each commit group is one PostgreSQL
    /// transaction, acknowledged once `COMMIT` returned.
    ///
    /// Errors: [`StoreError::Postgres`] when the URL is malformed, the
    /// database cannot be reached within 10 s, or the migration fails.
    pub fn open_postgres(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        Self::open_postgres_as(url, pool_size, &crate::ha::Candidate::offline("store"))
    }

    /// [`Store::open_postgres`] as the leader `candidate` (see
    /// [`crate::ha`]): the store takes the database's leadership, renews
    /// it while open and gives it up when closed; every write transaction
    /// is fenced by its epoch.
    ///
    /// Errors: as [`Store::open_postgres`], and [`StoreError::Led`] when
    /// another node's lease stays live for `candidate.wait`.
    pub fn open_postgres_as(
        url: &str,
        pool_size: u32,
        candidate: &crate::ha::Candidate,
    ) -> Result<Self, StoreError> {
        let engine = postgres::PostgresEngine::open(url, pool_size, candidate)?;
        let deposed = engine.deposed_flag();
        let db: Arc<dyn Engine> = Arc::new(engine);
        let mut store = Self::start(db)?;
        store.deposed = Some(deposed);
        Ok(store)
    }

    /// Whether another node took the database's leadership from this
    /// store (PostgreSQL only; see [`crate::ha`]). It then refuses writes;
    /// `baton serve` steps down to follower.
    pub fn is_deposed(&self) -> bool {
        self.deposed
            .as_ref()
            .is_some_and(|d| d.load(Ordering::SeqCst))
    }

    /// Open the store `settings` name: PostgreSQL when `backend` is
    /// `postgres`, else redb in `data_dir`.
    pub fn open_with(settings: &crate::config::StorageSettings) -> Result<Self, StoreError> {
        Self::open_as(settings, &crate::ha::Candidate::offline("store"))
    }

    /// [`Store::open_with`]; on PostgreSQL as the leader `candidate` (see
    /// [`Store::open_postgres_as`]).
    pub fn open_as(
        settings: &crate::config::StorageSettings,
        candidate: &crate::ha::Candidate,
    ) -> Result<Self, StoreError> {
        match settings.backend {
            crate::config::StorageBackend::Redb => Self::open(
                &settings.data_dir,
                settings.cache_mb.saturating_mul(1024 * 1024),
            ),
            crate::config::StorageBackend::Postgres => {
                Self::open_postgres_as(&settings.url, settings.pool_size, candidate)
            }
        }
    }

    /// Rebuild what the store keeps beside the engine and start the committer.
    fn start(db: Arc<dyn Engine>) -> Result<Self, StoreError> {
        index_leases(&*db)?;
        let snapshot = db.snapshot()?;
        let pruned_through = read_meta(&*snapshot, EVENTS_PRUNED_META)?;
        // a deleted newest event must not have its id handed out again
        let last_event = last_event_in(&*snapshot)?.max(pruned_through);
        drop(snapshot);
        let (durable_tx, durable_rx) = watch::channel(0);
        let (events_tx, _) = tokio::sync::broadcast::channel(4096);
        let gc = Arc::new(GroupCommit {
            queue: Mutex::new(Queue {
                items: Vec::new(),
                last_ticket: 0,
            }),
            wake: Condvar::new(),
            enqueued: AtomicU64::new(0),
            events_tx,
            applied: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            durable_tx,
            durable_rx,
            stop: AtomicBool::new(false),
            failure: OnceLock::new(),
            flushes: AtomicU64::new(0),
            pruned_through: AtomicU64::new(pruned_through),
            prune_cursor: AtomicU64::new(0),
            #[cfg(test)]
            faults: faults::Faults::default(),
        });
        let flusher = {
            let gc = gc.clone();
            let db = Arc::clone(&db);
            std::thread::Builder::new()
                .name("baton-committer".into())
                .spawn(move || {
                    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        committer_loop(&*db, &gc, last_event + 1)
                    }));
                    if let Err(panic) = run {
                        let what = panic
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_owned())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "unknown panic".into());
                        fail(&gc, "committer", &format!("panicked: {what}"));
                    }
                })
                .map_err(StoreError::Thread)?
        };
        Ok(Self {
            db: Arc::new(OpenDb(std::sync::RwLock::new(Some(db)))),
            gc,
            flusher: Arc::new(Mutex::new(Some(flusher))),
            deposed: None,
        })
    }

    /// Queue `batch` for the committer thread, which applies queued batches
    /// in order (atomically each, in one write transaction) and then commits
    /// that transaction durably. The write is visible to readers that passed
    /// [`Store::barrier`] and durable once [`Store::wait_durable`] on the
    /// returned ticket resolves.
    ///
    /// Errors: [`StoreError::FlushFailed`] once the store has failed,
    /// [`StoreError::Closed`] once [`Store::close`] began. Both are decided
    /// under the queue lock, so a commit either lands in the queue before
    /// the committer's last drain (and is applied and flushed) or is refused.
    pub fn commit(&self, batch: WriteBatch) -> Result<Ticket, StoreError> {
        let mut q = self.gc.queue.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = self.gc.failure.get() {
            return Err(StoreError::FlushFailed(f.clone()));
        }
        if self.gc.stop.load(Ordering::SeqCst) {
            return Err(StoreError::Closed);
        }
        q.last_ticket += 1;
        let ticket = q.last_ticket;
        q.items.push(Pending { ticket, batch });
        self.gc.enqueued.store(ticket, Ordering::SeqCst);
        self.gc.wake.notify_one();
        Ok(Ticket(ticket))
    }

    /// Live events, in id order, from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<Published>> {
        self.gc.events_tx.subscribe()
    }

    /// Whether the store has failed (it then refuses writes).
    pub fn is_failed(&self) -> bool {
        self.gc.failure.get().is_some()
    }

    /// What failed, once the store has failed (for `/readyz` and logs).
    pub fn failure(&self) -> Option<&str> {
        self.gc.failure.get().map(String::as_str)
    }

    /// Resolve once the commit behind `ticket` is on disk.
    ///
    /// Errors, once the store failed (a flush failed, the committer died, or
    /// this commit took longer than [`COMMIT_TIMEOUT`], which fails the
    /// store: the disk is hung): [`StoreError::OutcomeUnknown`] when the
    /// commit had been applied but its flush did not succeed (it may be on
    /// disk after a restart), [`StoreError::FlushFailed`] when it was never
    /// applied (it is not). A commit flushed before the failure is `Ok`.
    pub async fn wait_durable(&self, ticket: Ticket) -> Result<(), StoreError> {
        if *self.gc.durable_rx.borrow() >= ticket.0 && self.gc.failure.get().is_none() {
            return Ok(());
        }
        let mut rx = self.gc.durable_rx.clone();
        // The sender lives as long as `self`, and every way the committer
        // ends advances it, so this ends by the predicate or the timeout.
        let waited = tokio::time::timeout(COMMIT_TIMEOUT, rx.wait_for(|d| *d >= ticket.0)).await;
        if waited.is_err() {
            let reason = format!(
                "a commit was not durable within {} s; the disk is hung",
                COMMIT_TIMEOUT.as_secs()
            );
            tracing::error!(ticket = ticket.0, %reason, "storage failed; refusing further acknowledgements");
            let _ = self.gc.failure.set(reason);
            self.gc.durable_tx.send_replace(u64::MAX);
        }
        match self.gc.failure.get() {
            None => Ok(()),
            // flushed before the failure: on disk, and acknowledged as such
            Some(_) if self.gc.flushed.load(Ordering::SeqCst) >= ticket.0 => Ok(()),
            // applied, then the flush failed: it may have reached the disk
            Some(f) if self.gc.applied.load(Ordering::SeqCst) >= ticket.0 => {
                Err(StoreError::OutcomeUnknown(f.clone()))
            }
            // never applied: it cannot be on disk
            Some(f) => Err(StoreError::FlushFailed(f.clone())),
        }
    }

    /// Resolve once every commit made so far is on disk. Call it **after** a
    /// read and before showing the result: whatever the read saw was
    /// committed before this call, so once it resolves nothing shown can be
    /// undone by a crash. (Called before a read, it would not cover a batch
    /// the committer applies while the read runs.)
    pub async fn barrier(&self) -> Result<(), StoreError> {
        let t = Ticket(self.gc.enqueued.load(Ordering::SeqCst));
        self.wait_durable(t).await
    }

    /// Number of flushes performed (for metrics).
    pub fn flush_count(&self) -> u64 {
        self.gc.flushes.load(Ordering::Relaxed)
    }

    /// Number of commits made (for metrics).
    pub fn commit_count(&self) -> u64 {
        self.gc.enqueued.load(Ordering::Relaxed)
    }

    /// Fault injection for crash tests (the in-process equivalent of
    /// `kill -9` between two requests): every commit still queued is dropped
    /// unapplied, the committer thread stops, later commits fail and waiters
    /// of unapplied tickets get an error. What the committer had already
    /// applied stays (as after a real crash, once it is flushed). Never call
    /// it outside a test: it loses unacknowledged writes by design.
    #[doc(hidden)]
    pub fn simulate_crash(&self) {
        {
            let mut q = self.gc.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.items.clear();
            self.gc.stop.store(true, Ordering::SeqCst);
            let _ = self.gc.failure.set("simulated crash".to_owned());
            self.gc.wake.notify_all();
        }
        let handle = self
            .flusher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        self.gc.durable_tx.send_replace(u64::MAX);
        // as after a crash, the directory can be opened again at once
        self.db.release();
    }

    /// Stop taking commits, let the committer apply and commit everything
    /// queued before, stop it, and close the database (later reads get
    /// [`StoreError::Closed`]). Idempotent.
    ///
    /// Errors: [`StoreError::FlushFailed`] when the store had failed; then
    /// nothing is flushed (the batch that failed, which its writers were
    /// told failed, must never reach the disk) and this returns at once.
    pub fn close(&self) -> Result<(), StoreError> {
        {
            let _q = self.gc.queue.lock().unwrap_or_else(|p| p.into_inner());
            self.gc.stop.store(true, Ordering::SeqCst);
            self.gc.wake.notify_all();
        }
        let handle = self
            .flusher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        // nothing is queued any more: close the database (a clean shutdown;
        // redb writes nothing that was not committed)
        self.db.release();
        match self.gc.failure.get() {
            Some(f) => Err(StoreError::FlushFailed(f.clone())),
            None => Ok(()),
        }
    }

    // ---- reads ----------------------------------------------------------

    /// Every task record (with its last heartbeat laid over it).
    pub fn load_tasks(&self) -> Result<Vec<Task>, StoreError> {
        let mut tasks = Vec::new();
        self.for_each_task(|t| tasks.push(t))?;
        Ok(tasks)
    }

    /// Hand every task record (with its last heartbeat laid over it) to
    /// `visit`, in id order, one at a time: start-up rebuilds the board from
    /// it without holding every record twice (a `Vec` of a 1,000,000-task
    /// board is half a gigabyte, and growing it cost a fifth of start-up).
    ///
    /// Reading and decoding run on a thread of their own, a chunk of records
    /// ahead of `visit` (decoding is about a third of a start-up's CPU, and
    /// building the maps most of the rest).
    pub fn for_each_task(&self, mut visit: impl FnMut(Task)) -> Result<(), StoreError> {
        const CHUNK: usize = 1024;
        let snapshot = self.read()?;
        let mut renewals = std::collections::HashMap::new();
        for kv in scan_prefix_in(&snapshot, RENEWAL)? {
            let (k, v) = kv?;
            renewals.insert(k[RENEWAL.len()..].to_vec(), renewal(&k, &v)?);
        }
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Task>>(8);
        std::thread::scope(|scope| {
            let reader = std::thread::Builder::new()
                .name("baton-load".into())
                .spawn_scoped(scope, move || -> Result<(), StoreError> {
                    let mut chunk = Vec::with_capacity(CHUNK);
                    for kv in scan_prefix_in(&snapshot, TASK)? {
                        let (k, v) = kv?;
                        let mut t: Task = decode(&k, &v)?;
                        if let Some(r) = renewals.get(t.id.as_str().as_bytes()) {
                            renew(&mut t, *r);
                        }
                        chunk.push(t);
                        if chunk.len() == CHUNK {
                            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                            if tx.send(full).is_err() {
                                return Ok(()); // the visitor stopped
                            }
                        }
                    }
                    if !chunk.is_empty() {
                        let _ = tx.send(chunk);
                    }
                    Ok(())
                })
                .map_err(StoreError::Thread)?;
            for chunk in rx {
                chunk.into_iter().for_each(&mut visit);
            }
            reader.join().map_err(|_| StoreError::Corrupt {
                key: "t/".into(),
                reason: "the thread decoding task records panicked".into(),
            })?
        })
    }

    /// How many task records the board holds, as counted by the committer
    /// (start-up sizes its maps from it). A store written before the count
    /// existed reads 0 until [`Store::fix_task_count`] has run once.
    pub fn task_count(&self) -> Result<u64, StoreError> {
        self.meta(TASK_COUNT_META)
    }

    /// Record `actual` as the number of task records when the stored count
    /// differs (start-up calls it after loading every record, so a store from
    /// before the count, or migrated from sled, gets it right from then on).
    pub async fn fix_task_count(&self, actual: u64) -> Result<(), StoreError> {
        if self.task_count()? == actual {
            return Ok(());
        }
        let mut batch = WriteBatch::new();
        batch.put_meta(TASK_COUNT_META, actual);
        let ticket = self.commit(batch)?;
        self.wait_durable(ticket).await
    }

    /// Write a consistent snapshot of the board (one read transaction) as
    /// the lines of a backup (see [`crate::backup`]): the header, every
    /// record, the `end` line. Each line is handed to `line` without its
    /// newline; `line` returns `false` to stop early (the reader went away;
    /// then 0 is returned). Returns the number of records (header and end
    /// line not counted).
    /// Blocking: reads the whole board; call it off the async workers.
    pub fn export(&self, mut line: impl FnMut(String) -> bool) -> Result<u64, StoreError> {
        use crate::backup::{BackupHeader, BackupRecord};
        let snapshot = self.read()?;
        let header = BackupHeader::new(
            last_event_in(&snapshot)?.max(read_meta(&snapshot, EVENTS_PRUNED_META)?),
            read_meta(&snapshot, EVENTS_PRUNED_META)?,
        );
        // our own plain data types always serialize
        if !line(serde_json::to_string(&header).unwrap_or_default()) {
            return Ok(0);
        }
        let mut records = 0u64;
        let mut emit = |r: &BackupRecord| -> bool {
            records += 1;
            line(serde_json::to_string(r).unwrap_or_default())
        };
        for kv in scan_prefix_in(&snapshot, META)? {
            let (k, _) = kv?;
            let name = String::from_utf8_lossy(&k[META.len()..]).into_owned();
            // derived on restore
            if [TASK_COUNT_META, LEASE_INDEX_META, EVENTS_PRUNED_META].contains(&name.as_str()) {
                continue;
            }
            let value = read_meta(&snapshot, &name)?;
            if !emit(&BackupRecord::Meta { name, value }) {
                return Ok(0);
            }
        }
        macro_rules! each {
            ($prefix:expr, |$k:ident, $v:ident| $make:expr) => {
                for kv in scan_prefix_in(&snapshot, $prefix)? {
                    let ($k, $v) = kv?;
                    let rec = $make;
                    if !emit(&rec) {
                        return Ok(0);
                    }
                }
            };
        }
        each!(TOKEN, |k, v| BackupRecord::Token(decode(&k, &v)?));
        each!(SLOT, |k, v| BackupRecord::Slot(decode(&k, &v)?));
        each!(OPERATION, |k, v| BackupRecord::Operation(decode(&k, &v)?));
        each!(TASK, |k, v| BackupRecord::Task(Box::new(with_renewal(
            &snapshot,
            decode(&k, &v)?
        )?)));
        each!(CONTEXT, |k, v| {
            let rest = &k[CONTEXT.len()..];
            let split = rest
                .iter()
                .position(|b| *b == 0)
                .ok_or_else(|| StoreError::Corrupt {
                    key: String::from_utf8_lossy(&k).into_owned(),
                    reason: "context key without a separator".into(),
                })?;
            BackupRecord::Context {
                task: TaskId::from_trusted(String::from_utf8_lossy(&rest[..split]).into_owned()),
                key: String::from_utf8_lossy(&rest[split + 1..]).into_owned(),
                value: decode(&k, &v)?,
            }
        });
        each!(EVENT, |k, v| BackupRecord::Event(decode(&k, &v)?));
        let end = BackupRecord::End { records };
        line(serde_json::to_string(&end).unwrap_or_default());
        Ok(records)
    }

    /// Load a backup (see [`crate::backup`]) into the store in `dir` (opened
    /// here and closed again; nothing else may use it meanwhile, which its
    /// lock ensures), which must be empty: no task, event, slot, context,
    /// handle or token ([`crate::backup::BackupError::NotEmpty`] otherwise).
    /// The whole file is checked and written in one write transaction,
    /// committed only after the `end` line checked out, so a refused or
    /// failed restore leaves the store as empty as it was. The derived data
    /// (per-task audit index, lease index, task count) is rebuilt.
    pub fn restore(
        dir: &Path,
        cache_bytes: u64,
        input: impl std::io::BufRead,
    ) -> Result<crate::backup::RestoreSummary, crate::backup::BackupError> {
        let store = Self::open(dir, cache_bytes)?;
        let imported = store.import(input);
        let closed = store.close();
        let summary = imported?; // the import's own error comes first
        closed?;
        Ok(summary)
    }

    /// [`Store::restore`] into the store `settings` name (a redb data
    /// directory or a PostgreSQL database): how a board moves between
    /// engines (`baton backup` from one, `baton restore` into the other).
    pub fn restore_with(
        settings: &crate::config::StorageSettings,
        input: impl std::io::BufRead,
    ) -> Result<crate::backup::RestoreSummary, crate::backup::BackupError> {
        let store = Self::open_as(settings, &crate::ha::Candidate::offline("restore"))?;
        let imported = store.import(input);
        let closed = store.close();
        let summary = imported?; // the import's own error comes first
        closed?;
        Ok(summary)
    }

    fn import(
        &self,
        input: impl std::io::BufRead,
    ) -> Result<crate::backup::RestoreSummary, crate::backup::BackupError> {
        use crate::backup::{read_backup, BackupError, BackupRecord, RestoreSummary};
        let db = self.db.get()?;
        {
            let snapshot = self.read()?;
            for (prefix, what) in [
                (TASK, "tasks"),
                (EVENT, "events"),
                (SLOT, "slot holds"),
                (CONTEXT, "context values"),
                (OPERATION, "task handles"),
                (TOKEN, "access tokens"),
            ] {
                if scan_prefix_in(&snapshot, prefix)?.next().is_some() {
                    return Err(BackupError::NotEmpty(format!("it has {what}")));
                }
            }
        }
        let mut summary = RestoreSummary::default();
        let mut failure: Option<BackupError> = None;
        let mut restored: Option<crate::backup::BackupHeader> = None;
        let mut input = Some(input);
        let outcome = db.transact(
            &mut |t| {
                let Some(input) = input.take() else {
                    return Ok(());
                };
                let mut put = |k: Vec<u8>, v: Vec<u8>| -> Result<(), BackupError> {
                    t.insert(&k, &v)?;
                    Ok(())
                };
                let read = read_backup(input, |rec| {
                    let mut batch = WriteBatch::new();
                    match rec {
                        BackupRecord::Meta { name, value } => batch.put_meta(&name, value),
                        BackupRecord::Token(tok) => batch.put_token(&tok),
                        BackupRecord::Slot(s) => batch.put_slot(&s),
                        BackupRecord::Operation(op) => batch.put_operation(&op),
                        BackupRecord::Task(task) => {
                            summary.tasks += 1;
                            put(key(TASK, task.id.as_str().as_bytes()), encode(&task))?;
                            return Ok(());
                        }
                        BackupRecord::Context {
                            task,
                            key: k,
                            value,
                        } => batch.put_context(&task, &k, &value),
                        BackupRecord::Event(ev) => {
                            summary.events += 1;
                            if let Some(id) = &ev.task_id {
                                if ev.kind != EventKind::TaskDeleted {
                                    put(task_event_key(id, ev.id), Vec::new())?;
                                }
                            }
                            if let Some((k, v)) = lease_index_entry(&ev) {
                                put(k, v)?;
                            }
                            put(key(EVENT, &ev.id.to_be_bytes()), encode(&ev))?;
                            return Ok(());
                        }
                        BackupRecord::End { .. } => return Ok(()),
                    }
                    summary.other += 1;
                    for (k, v) in batch.ops {
                        if let Some(v) = v {
                            put(k, v)?;
                        }
                    }
                    Ok(())
                });
                let header = match read {
                    Ok(header) => header,
                    Err(e) => {
                        failure = Some(e);
                        // aborts the transaction; the caller reports `failure`
                        return Err(StoreError::Closed);
                    }
                };
                for (name, value) in [
                    (TASK_COUNT_META, summary.tasks),
                    (LEASE_INDEX_META, LEASE_INDEX_VERSION),
                    (EVENTS_PRUNED_META, header.events_pruned_through),
                ] {
                    t.insert(&key(META, name.as_bytes()), &value.to_be_bytes())?;
                }
                restored = Some(header);
                Ok(())
            },
            &mut || Ok(()),
        );
        if let Some(e) = failure {
            return Err(e);
        }
        outcome.map_err(TxError::into_store)?;
        let header = restored.ok_or(StoreError::Closed)?;
        tracing::info!(
            tasks = summary.tasks,
            events = summary.events,
            other = summary.other,
            created_at = %header.created_at,
            "backup restored"
        );
        Ok(summary)
    }

    /// One task record (with its last heartbeat laid over it).
    pub fn get_task(&self, id: &TaskId) -> Result<Option<Task>, StoreError> {
        let k = key(TASK, id.as_str().as_bytes());
        let snapshot = self.read()?;
        let Some(v) = get_in(&snapshot, &k)? else {
            return Ok(None);
        };
        with_renewal(&snapshot, decode(&k, &v)?).map(Some)
    }

    /// A read snapshot of the board.
    fn read(&self) -> Result<Snapshot, StoreError> {
        self.db.get()?.snapshot()
    }

    /// Task records in id order, starting after `after` (exclusive).
    pub fn tasks_after(
        &self,
        after: Option<&str>,
    ) -> Box<dyn Iterator<Item = Result<Task, StoreError>> + Send + '_> {
        let start = match after {
            Some(a) => {
                let mut k = key(TASK, a.as_bytes());
                k.push(0);
                k
            }
            None => TASK.to_vec(),
        };
        let tasks = self.read().map(|snapshot| {
            let pages = Paged::new(start, prefix_end(TASK));
            let mut pages = pages;
            std::iter::from_fn(move || {
                let (k, v) = match pages.next_in(&*snapshot)? {
                    Ok(kv) => kv,
                    Err(e) => return Some(Err(e)),
                };
                Some(decode(&k, &v).and_then(|t| with_renewal(&*snapshot, t)))
            })
        });
        match tasks {
            Ok(tasks) => Box::new(tasks),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }

    /// Whether anyone listens to live events.
    pub fn has_subscribers(&self) -> bool {
        self.gc.events_tx.receiver_count() > 0
    }

    /// Every MCP task-handle record.
    pub fn load_operations(&self) -> Result<Vec<Operation>, StoreError> {
        self.scan(OPERATION)
    }

    /// Every access token record.
    pub fn load_tokens(&self) -> Result<Vec<AccessToken>, StoreError> {
        self.scan(TOKEN)
    }

    /// Every explicit slot hold.
    pub fn load_slots(&self) -> Result<Vec<SlotRecord>, StoreError> {
        self.scan(SLOT)
    }

    /// A counter, 0 when absent.
    pub fn meta(&self, name: &str) -> Result<u64, StoreError> {
        read_meta(&self.read()?, name)
    }

    /// Id of the newest event, 0 when there is none. Never lower than an id
    /// already handed out, also when the newest events were deleted.
    pub fn last_event_id(&self) -> Result<u64, StoreError> {
        Ok(last_event_in(&self.read()?)?.max(self.events_pruned_through()))
    }

    /// The highest event id ever deleted by retention (0: none). A client
    /// that resumes the event stream from a lower id may have missed events.
    pub fn events_pruned_through(&self) -> u64 {
        self.gc.pruned_through.load(Ordering::SeqCst)
    }

    /// Number of keys stored (a full scan: for tests and diagnostics).
    pub fn key_count(&self) -> usize {
        self.read()
            .and_then(|t| Ok(t.range(&[], &[u8::MAX; 8])?.count()))
            .unwrap_or(0)
    }

    /// Up to `limit` events with id greater than `after`, oldest first.
    pub fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let start = key(EVENT, &(after.saturating_add(1)).to_be_bytes());
        range_in(&self.read()?, &start, &prefix_end(EVENT))?
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect()
    }

    /// The audit log of one task, oldest first.
    pub fn task_events(&self, task: &TaskId) -> Result<Vec<Event>, StoreError> {
        let mut prefix = key(TASK_EVENT, task.as_str().as_bytes());
        prefix.push(0);
        let snapshot = self.read()?;
        let mut out = Vec::new();
        for kv in scan_prefix_in(&snapshot, &prefix)? {
            let (k, _) = kv?;
            let id = event_id_from_key(&k[prefix.len()..]);
            let ek = key(EVENT, &id.to_be_bytes());
            if let Some(v) = get_in(&snapshot, &ek)? {
                out.push(decode(&ek, &v)?);
            }
        }
        Ok(out)
    }

    /// One context value of a task.
    pub fn context_get(
        &self,
        task: &TaskId,
        ctx_key: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let k = context_key(task, ctx_key);
        get_in(&self.read()?, &k)?
            .map(|v| decode(&k, &v))
            .transpose()
    }

    /// Every context value of a task, by key.
    pub fn context_list(
        &self,
        task: &TaskId,
    ) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
        let prefix = context_prefix(task);
        let mut out = serde_json::Map::new();
        for kv in scan_prefix_in(&self.read()?, &prefix)? {
            let (k, v) = kv?;
            let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            out.insert(name, decode(&k, &v)?);
        }
        Ok(out)
    }

    /// Leases in claim order (lease id), read from the `l/` index and the
    /// audit events it points to; see [`LeaseQuery`] for the filters. Reads
    /// at most `max_scan` leases' index entries and decodes only the leases
    /// it returns.
    pub fn lease_history(&self, q: &LeaseQuery) -> Result<LeaseHistory, StoreError> {
        let empty = LeaseHistory {
            leases: Vec::new(),
            next_cursor: None,
        };
        let first = match q.after {
            None => 0,
            Some(a) => match a.checked_add(1) {
                Some(f) => f,
                None => return Ok(empty),
            },
        };
        // one snapshot for the index and the events it points to
        let snapshot = self.read()?;
        let mut entries = range_in(
            &snapshot,
            &key(LEASE, &first.to_be_bytes()),
            &prefix_end(LEASE),
        )?
        .map(|kv| kv.and_then(|(k, v)| lease_entry(&k, &v)))
        .peekable();
        let mut leases = Vec::new();
        let mut scanned = 0usize;
        while let Some(e) = entries.next() {
            let e = e?;
            let lease = e.lease;
            let (mut claim, mut ended) = (None, None);
            let mut put = |e: LeaseEntry| match e.mark {
                LEASE_CLAIM => claim = Some(e),
                _ => ended = Some(e),
            };
            put(e);
            while let Some(Ok(n)) = entries.peek() {
                if n.lease != lease {
                    break;
                }
                if let Some(n) = entries.next().transpose()? {
                    put(n);
                }
            }
            scanned += 1;
            if let Some(claim) = claim {
                if let Some(r) = lease_record(&snapshot, q, &claim, ended.as_ref())? {
                    leases.push(r);
                }
            }
            if entries.peek().is_none() {
                break;
            }
            if leases.len() >= q.limit || scanned >= q.max_scan {
                return Ok(LeaseHistory {
                    leases,
                    next_cursor: Some(lease),
                });
            }
        }
        Ok(LeaseHistory {
            leases,
            next_cursor: None,
        })
    }

    /// Every value under `prefix`, decoded.
    fn scan<T: DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<T>, StoreError> {
        scan_prefix_in(&self.read()?, prefix)?
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect()
    }
}

/// One lease from its index entries, if it passes the filters.
fn lease_record(
    snapshot: &dyn KvRead,
    q: &LeaseQuery,
    claim: &LeaseEntry,
    ended: Option<&LeaseEntry>,
) -> Result<Option<LeaseRecord>, StoreError> {
    if q.until.is_some_and(|u| claim.at >= u)
        || q.since.is_some_and(|s| ended.is_some_and(|e| e.at < s))
    {
        return Ok(None);
    }
    let Some(claimed) = event_in(snapshot, claim.event)? else {
        tracing::warn!(
            lease_id = claim.lease,
            "lease index points to a missing claim event"
        );
        return Ok(None);
    };
    let (Some(task_id), Some(worker)) = (claimed.task_id, claimed.worker) else {
        return Ok(None);
    };
    if q.worker.as_ref().is_some_and(|w| *w != worker) {
        return Ok(None);
    }
    let end_event = match ended {
        Some(e) => event_in(snapshot, e.event)?,
        None => None,
    };
    let (ended_at, outcome, reason) = match end_event {
        Some(ev) => (
            Some(ev.at),
            LeaseOutcome::of_end(ev.kind).unwrap_or(LeaseOutcome::Failed),
            ev.reason,
        ),
        None => (None, LeaseOutcome::Running, None),
    };
    Ok(Some(LeaseRecord {
        task_id,
        lease_id: claim.lease,
        worker,
        slot: claimed.slot,
        owner: claimed.actor,
        claimed_at: claimed.at,
        ended_at,
        outcome,
        reason,
    }))
}

/// One audit event by id.
fn event_in(snapshot: &dyn KvRead, id: u64) -> Result<Option<Event>, StoreError> {
    let k = key(EVENT, &id.to_be_bytes());
    get_in(snapshot, &k)?.map(|v| decode(&k, &v)).transpose()
}

/// `task` with its `h/` heartbeat record applied, if it has one.
fn with_renewal(t: &dyn KvRead, mut task: Task) -> Result<Task, StoreError> {
    if task.lease.is_some() {
        let k = key(RENEWAL, task.id.as_str().as_bytes());
        if let Some(v) = get_in(t, &k)? {
            renew(&mut task, renewal(&k, &v)?);
        }
    }
    Ok(task)
}

/// A decoded `h/` record: (lease id, expires_at, renewed at).
fn renewal(k: &[u8], v: &[u8]) -> Result<(u64, Millis, Millis), StoreError> {
    let word = |i: usize| {
        v.get(i * 8..i * 8 + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
    };
    match (word(0), word(1), word(2)) {
        (Some(lease), Some(expires_at), Some(at)) if v.len() == 24 => Ok((lease, expires_at, at)),
        _ => Err(StoreError::Corrupt {
            key: String::from_utf8_lossy(k).into_owned(),
            reason: "malformed heartbeat record".into(),
        }),
    }
}

/// Lay a heartbeat over a task record when it is for the task's lease.
fn renew(task: &mut Task, (lease_id, expires_at, at): (u64, Millis, Millis)) {
    if let Some(l) = task.lease.as_mut().filter(|l| l.lease_id == lease_id) {
        // the renewal's expiry as is: a heartbeat may also shorten a lease
        // (the compat routes renew by their own, shorter TTL)
        l.expires_at = expires_at;
        task.updated_at = task.updated_at.max(at);
    }
}

/// The `l/` entry an event adds, if it starts or ends a lease.
fn lease_index_entry(ev: &Event) -> Option<(Vec<u8>, Vec<u8>)> {
    let lease = ev.lease_id?;
    let mark = match ev.kind {
        EventKind::TaskClaimed => LEASE_CLAIM,
        k if LeaseOutcome::of_end(k).is_some() && ev.from == Some(TaskStatus::Running) => LEASE_END,
        _ => return None,
    };
    let mut k = key(LEASE, &lease.to_be_bytes());
    k.push(mark);
    let mut v = Vec::with_capacity(16);
    v.extend_from_slice(&ev.id.to_be_bytes());
    v.extend_from_slice(&ev.at.to_be_bytes());
    Some((k, v))
}

fn lease_entry(k: &[u8], v: &[u8]) -> Result<LeaseEntry, StoreError> {
    let corrupt = || StoreError::Corrupt {
        key: String::from_utf8_lossy(k).into_owned(),
        reason: "malformed lease index entry".into(),
    };
    let rest = k.get(LEASE.len()..).ok_or_else(corrupt)?;
    if rest.len() != 9 || v.len() != 16 {
        return Err(corrupt());
    }
    Ok(LeaseEntry {
        lease: event_id_from_key(&rest[..8]),
        mark: rest[8],
        event: event_id_from_key(&v[..8]),
        at: event_id_from_key(&v[8..]),
    })
}

/// Build the `l/` lease index from the audit log once (a data directory
/// written before the index existed); a no-op when it is complete.
fn index_leases(db: &dyn Engine) -> Result<(), StoreError> {
    let meta_key = key(META, LEASE_INDEX_META.as_bytes());
    let snapshot = db.snapshot()?;
    let done = get_in(&*snapshot, &meta_key)?
        .is_some_and(|v| v.len() == 8 && event_id_from_key(&v) >= LEASE_INDEX_VERSION);
    if done {
        return Ok(());
    }
    let mut entries = Vec::new();
    for kv in scan_prefix_in(&*snapshot, EVENT)? {
        let (k, v) = kv?;
        match decode::<Event>(&k, &v) {
            Ok(ev) => entries.extend(lease_index_entry(&ev)),
            Err(e) => tracing::warn!(error = %e, "audit event left out of the lease index"),
        }
    }
    drop(snapshot);
    db.transact(
        &mut |t| {
            for (k, v) in &entries {
                t.insert(k, v)?;
            }
            t.insert(&meta_key, &LEASE_INDEX_VERSION.to_be_bytes())?;
            Ok(())
        },
        &mut || Ok(()),
    )
    .map_err(TxError::into_store)?;
    if !entries.is_empty() {
        tracing::info!(
            entries = entries.len(),
            "built the lease index from the audit log"
        );
    }
    Ok(())
}

fn read_meta(t: &(impl KvRead + ?Sized), name: &str) -> Result<u64, StoreError> {
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

fn last_event_in(t: &dyn KvRead) -> Result<u64, StoreError> {
    let last = t.last(EVENT, &prefix_end(EVENT))?;
    Ok(last.map_or(0, |(k, _)| event_id_from_key(&k[EVENT.len()..])))
}

fn event_id_from_key(bytes: &[u8]) -> u64 {
    let mut arr = [0u8; 8];
    let n = bytes.len().min(8);
    arr[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(arr)
}

/// Fail the store for good: refuse later commits and wake every waiter
/// with the error. The transaction that failed (if any) was dropped
/// uncommitted, so the writes whose writers are told they failed never
/// reach the disk later.
fn fail(gc: &GroupCommit, what: &str, e: &dyn std::fmt::Display) {
    tracing::error!(error = %e, what, "storage failed; refusing further acknowledgements");
    {
        let _q = gc.queue.lock().unwrap_or_else(|p| p.into_inner());
        let _ = gc.failure.set(format!("{what}: {e}"));
    }
    gc.durable_tx.send_replace(u64::MAX);
}

/// The single storage writer: takes everything queued, applies it in one
/// redb write transaction (in queue order, so later writes to a key win),
/// assigns event ids in that order, commits durably once, and then declares
/// every ticket it took durable. Concurrent writers share one commit (one
/// fsync). Live events go out only after the commit: a subscriber never sees
/// an event (or an event id) a crash could take back.
fn committer_loop(db: &dyn Engine, gc: &GroupCommit, mut next_event: u64) {
    loop {
        if gc.failure.get().is_some() {
            return; // failed elsewhere (a hung commit timed out)
        }
        let items = {
            let mut q = gc.queue.lock().unwrap_or_else(|p| p.into_inner());
            while q.items.is_empty() && !gc.stop.load(Ordering::SeqCst) {
                q = gc.wake.wait(q).unwrap_or_else(|p| p.into_inner());
            }
            if q.items.is_empty() {
                return; // stopped and drained
            }
            std::mem::take(&mut q.items)
        };
        let last = items.last().map_or(0, |p| p.ticket);
        #[cfg(test)]
        gc.faults.before_apply();
        let live = gc.events_tx.receiver_count() > 0;
        let mut published = Vec::new();
        let mut pruned_top = 0;
        let mut items = Some(items);
        let mut group_next_event = next_event;
        let outcome = db.transact(
            &mut |t| {
                let items = items.take().unwrap_or_default();
                pruned_top =
                    apply_group(t, gc, items, &mut group_next_event, live, &mut published)?;
                Ok(())
            },
            &mut || {
                // from here on a failure leaves the outcome of the group
                // unknown: a commit that fails may still have reached the disk
                gc.applied.store(last, Ordering::SeqCst);
                #[cfg(test)]
                gc.faults
                    .after_apply()
                    .map_err(|e| StoreError::Engine(redb::Error::Io(e)))?;
                Ok(())
            },
        );
        match outcome {
            Ok(()) => next_event = group_next_event,
            Err(TxError::Apply(e)) if gc.applied.load(Ordering::SeqCst) < last => {
                // the transaction is dropped: none of the group is written
                fail(gc, "apply", &e);
                return;
            }
            Err(TxError::Apply(e) | TxError::Commit(e)) => {
                fail(gc, "commit", &e);
                return;
            }
        }
        gc.flushes.fetch_add(1, Ordering::Relaxed);
        gc.flushed.store(last, Ordering::SeqCst);
        gc.pruned_through.fetch_max(pruned_top, Ordering::SeqCst);
        gc.durable_tx.send_replace(last);
        for p in published {
            let _ = gc.events_tx.send(Arc::new(p));
        }
    }
}

/// One commit group as one write transaction, not yet committed; with the
/// highest event id its deletions removed (0: none).
fn apply_group(
    t: &mut dyn KvWrite,
    gc: &GroupCommit,
    items: Vec<Pending>,
    next_event: &mut u64,
    live: bool,
    published: &mut Vec<Published>,
) -> Result<u64, StoreError> {
    let mut pruned_top = 0u64;
    // the task records this group may add or remove: counted before and
    // after, the difference is the change of `m/task_count`
    let mut touched: Vec<Vec<u8>> = items
        .iter()
        .flat_map(|p| {
            let written = p
                .batch
                .ops
                .iter()
                .filter(|(k, _)| k.starts_with(TASK))
                .map(|(k, _)| k.clone());
            let deleted = p
                .batch
                .deletes
                .iter()
                .map(|id| key(TASK, id.as_str().as_bytes()));
            written.chain(deleted)
        })
        .collect();
    touched.sort_unstable();
    touched.dedup();
    let tasks_before = if touched.is_empty() {
        0
    } else {
        t.count_present(&touched)?
    };
    {
        for Pending { ticket, batch } in items {
            if !batch.deletes.is_empty() || batch.prune_events.is_some() {
                // a deletion reads what is stored, earlier batches of this
                // group included (the transaction sees its own writes)
                let mut removals = Vec::new();
                pruned_top = pruned_top.max(expand_deletions(&*t, gc, &batch, &mut removals)?);
                for k in removals {
                    t.remove(&k)?;
                }
            }
            for (k, v) in batch.ops {
                match v {
                    Some(v) => t.insert(&k, &v)?,
                    None => t.remove(&k)?,
                }
            }
            for (mut event, task) in batch.events {
                event.id = *next_event;
                *next_event += 1;
                t.insert(
                    key(EVENT, &event.id.to_be_bytes()).as_slice(),
                    encode(&event).as_slice(),
                )?;
                if let Some(id) = &event.task_id {
                    if event.kind != EventKind::TaskDeleted {
                        t.insert(task_event_key(id, event.id).as_slice(), [].as_slice())?;
                    }
                }
                if let Some((k, v)) = lease_index_entry(&event) {
                    t.insert(k.as_slice(), v.as_slice())?;
                }
                if live {
                    published.push(Published {
                        event,
                        task,
                        ticket: Ticket(ticket),
                    });
                }
            }
        }
        let tasks_after = if touched.is_empty() {
            0
        } else {
            t.count_present(&touched)?
        };
        if tasks_after != tasks_before {
            let count =
                (read_meta(&*t, TASK_COUNT_META)? + tasks_after).saturating_sub(tasks_before);
            t.insert(
                key(META, TASK_COUNT_META.as_bytes()).as_slice(),
                count.to_be_bytes().as_slice(),
            )?;
        }
        if pruned_top > gc.pruned_through.load(Ordering::SeqCst) {
            t.insert(
                key(META, EVENTS_PRUNED_META.as_bytes()).as_slice(),
                pruned_top.to_be_bytes().as_slice(),
            )?;
        }
    }
    Ok(pruned_top)
}

/// Expand `batch`'s deletions against what is stored into removals (keys)
/// in `out`. Returns the highest event id removed (0: none).
fn expand_deletions(
    tree: &(impl KvRead + ?Sized),
    gc: &GroupCommit,
    batch: &WriteBatch,
    out: &mut Vec<Vec<u8>>,
) -> Result<u64, StoreError> {
    let mut top = 0;
    for id in &batch.deletes {
        top = top.max(expand_delete(tree, id, out)?);
    }
    if let Some((before, max)) = batch.prune_events {
        let from = gc.prune_cursor.load(Ordering::SeqCst);
        let (removed, next) = expand_prune_events(tree, before, max, from, out)?;
        gc.prune_cursor.store(next, Ordering::SeqCst);
        top = top.max(removed);
    }
    Ok(top)
}

/// Removals for task `id`: its record, renewal, contexts and audit log.
fn expand_delete(
    tree: &(impl KvRead + ?Sized),
    id: &TaskId,
    out: &mut Vec<Vec<u8>>,
) -> Result<u64, StoreError> {
    let raw = id.as_str().as_bytes();
    out.push(key(TASK, raw));
    out.push(key(RENEWAL, raw));
    let mut prefix = key(TASK_EVENT, raw);
    prefix.push(0);
    let mut top = 0;
    for (k, _) in collect_range(tree, &prefix, &prefix_end(&prefix), usize::MAX)? {
        let event = event_id_from_key(&k[prefix.len()..]);
        remove_event(tree, event, out)?;
        out.push(k);
        top = top.max(event);
    }
    let contexts = context_prefix(id);
    for (k, _) in collect_range(tree, &contexts, &prefix_end(&contexts), usize::MAX)? {
        out.push(k);
    }
    Ok(top)
}

/// Remove event `id` and its lease-index entry (the caller removes the
/// `x/` entry it came from, if any).
fn remove_event(
    tree: &(impl KvRead + ?Sized),
    id: u64,
    out: &mut Vec<Vec<u8>>,
) -> Result<(), StoreError> {
    let k = key(EVENT, &id.to_be_bytes());
    if let Some(v) = get_in(tree, &k)? {
        // an undecodable event still goes; only its lease entry is then unknown
        if let Some((lk, _)) = decode::<Event>(&k, &v)
            .ok()
            .as_ref()
            .and_then(lease_index_entry)
        {
            out.push(lk);
        }
        out.push(k);
    }
    Ok(())
}

/// Removals for the audit events stamped before `before` that belong to no
/// live task, scanning from event id `from` and examining at most `max`.
/// Returns the highest id removed and where the next pass starts: after the
/// last event examined while old events remain, or back at the first event
/// once the scan reached the cutoff (or the end), so the events it kept
/// because their task was still live are looked at again in a later cycle.
fn expand_prune_events(
    tree: &(impl KvRead + ?Sized),
    before: Millis,
    max: usize,
    from: u64,
    out: &mut Vec<Vec<u8>>,
) -> Result<(u64, u64), StoreError> {
    let start = key(EVENT, &from.to_be_bytes());
    let mut top = 0;
    let mut next = from;
    let mut examined = 0;
    let mut reached_cutoff = false;
    for (k, v) in collect_range(tree, &start, &prefix_end(EVENT), max)? {
        examined += 1;
        let Ok(event) = decode::<Event>(&k, &v) else {
            next = event_id_from_key(&k[EVENT.len()..]).saturating_add(1);
            continue; // kept: a corrupt value is reported where it is read
        };
        if event.at >= before {
            reached_cutoff = true;
            break;
        }
        next = event.id.saturating_add(1);
        let live = match &event.task_id {
            None => false,
            Some(t) => match get_in(tree, &key(TASK, t.as_str().as_bytes()))? {
                None => false,
                // a failed task can be reset and run again: its log stays
                // until the task itself is deleted
                Some(tv) => decode::<Task>(&k, &tv).map_or(true, |t| {
                    !matches!(t.status, TaskStatus::Done | TaskStatus::Cancelled)
                }),
            },
        };
        if live {
            continue;
        }
        if let Some(t) = &event.task_id {
            out.push(task_event_key(t, event.id));
        }
        if let Some((lk, _)) = lease_index_entry(&event) {
            out.push(lk);
        }
        out.push(k);
        top = top.max(event.id);
    }
    if reached_cutoff || examined < max {
        // nothing older is left past this point: the next cycle starts over
        next = 0;
    }
    Ok((top, next))
}

/// Fault injection for the committer's unit tests: a panic, a failed
/// flush, and a gate that holds the committer between apply and flush.
#[cfg(test)]
mod faults {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::{Receiver, Sender};
    use std::sync::Mutex;

    #[derive(Default)]
    pub(super) struct Faults {
        /// The next batch panics the committer before it is applied.
        pub(super) panic: AtomicBool,
        /// The next flush fails (as ENOSPC would).
        pub(super) fail_flush: AtomicBool,
        /// When set: after applying, the committer says so on the sender
        /// and waits for the receiver before flushing.
        pub(super) gate: Mutex<Option<(Sender<()>, Receiver<()>)>>,
    }

    impl Faults {
        pub(super) fn before_apply(&self) {
            if self.panic.swap(false, Ordering::SeqCst) {
                panic!("injected committer panic");
            }
        }

        pub(super) fn after_apply(&self) -> Result<(), std::io::Error> {
            let gate = self.gate.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some((applied, open)) = gate {
                let _ = applied.send(());
                let _ = open.recv();
            }
            if self.fail_flush.swap(false, Ordering::SeqCst) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "injected: no space left on device",
                ));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn task(id: &str) -> Task {
        Task {
            id: TaskId::from_trusted(id),
            title: id.into(),
            description: String::new(),
            payload: None,
            tags: vec![],
            priority: 0,
            dependencies: vec![],
            max_attempts: 3,
            timeout_secs: None,
            status: TaskStatus::Ready,
            output: None,
            error: None,
            attempts: 0,
            lease: None,
            worker: None,
            started_at: None,
            finished_at: None,
            created_at: 1,
            updated_at: 1,
            seq: 1,
            executor: None,
        }
    }

    #[tokio::test]
    async fn commit_is_durable_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            let mut b = WriteBatch::new();
            b.put_task(&task("a"));
            b.put_event(
                Event {
                    id: 0,
                    at: 1,
                    kind: EventKind::TaskAdded,
                    task_id: Some(TaskId::from_trusted("a")),
                    worker: None,
                    actor: None,
                    slot: None,
                    lease_id: None,
                    from: None,
                    to: Some(TaskStatus::Ready),
                    reason: None,
                },
                None,
            );
            b.put_context(&TaskId::from_trusted("a"), "k", &serde_json::json!(1));
            b.put_meta("next_lease_id", 9);
            let t = store.commit(b).unwrap();
            store.wait_durable(t).await.unwrap();
            store.close().unwrap();
        }
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(store.load_tasks().unwrap(), vec![task("a")]);
        assert_eq!(store.last_event_id().unwrap(), 1);
        assert_eq!(store.events_after(0, 10).unwrap().len(), 1);
        assert_eq!(store.events_after(1, 10).unwrap().len(), 0);
        let a = TaskId::from_trusted("a");
        assert_eq!(store.task_events(&a).unwrap().len(), 1);
        assert_eq!(store.context_list(&a).unwrap()["k"], serde_json::json!(1));
        assert_eq!(store.meta("next_lease_id").unwrap(), 9);
        // a task id that is a prefix of another does not see its events
        assert!(store
            .task_events(&TaskId::from_trusted("a2"))
            .unwrap()
            .is_empty());
        store.close().unwrap();
    }

    fn added(id: &str) -> Event {
        Event {
            id: 0,
            at: 1,
            kind: EventKind::TaskAdded,
            task_id: Some(TaskId::from_trusted(id)),
            worker: None,
            actor: None,
            slot: None,
            lease_id: None,
            from: None,
            to: Some(TaskStatus::Ready),
            reason: None,
        }
    }

    fn add(id: &str) -> WriteBatch {
        let mut b = WriteBatch::new();
        b.put_task(&task(id));
        b.put_event(added(id), None);
        b
    }

    /// Hold the committer between apply and flush; returns (applied, open).
    fn gate(store: &Store) -> (std::sync::mpsc::Receiver<()>, std::sync::mpsc::Sender<()>) {
        let (applied_tx, applied_rx) = std::sync::mpsc::channel();
        let (open_tx, open_rx) = std::sync::mpsc::channel();
        *store.gc.faults.gate.lock().unwrap() = Some((applied_tx, open_rx));
        (applied_rx, open_tx)
    }

    const BOUND: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn a_failed_commit_fails_its_writers_refuses_later_writes_and_close_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let ok = store.commit(add("kept")).unwrap();
        store.wait_durable(ok).await.unwrap();
        let flushes = store.flush_count();

        store.gc.faults.fail_flush.store(true, Ordering::SeqCst);
        let t = store.commit(add("lost")).unwrap();
        let err = tokio::time::timeout(BOUND, store.wait_durable(t))
            .await
            .expect("a waiter of the failed batch is woken");
        // its batch was applied before the flush failed: the outcome is unknown
        assert!(matches!(err, Err(StoreError::OutcomeUnknown(ref f)) if f.contains("no space")));
        assert!(store.is_failed());
        assert!(store.failure().is_some_and(|f| f.starts_with("commit")));
        // every later write is refused before it is queued
        assert!(matches!(
            store.commit(add("later")),
            Err(StoreError::FlushFailed(_))
        ));
        // reads after the failure cannot pass the barrier either
        assert!(store.barrier().await.is_err());
        // close returns at once with the failure and flushes nothing
        let closer = store.clone();
        let closed = tokio::task::spawn_blocking(move || closer.close());
        let closed = tokio::time::timeout(BOUND, closed).await.unwrap().unwrap();
        assert!(matches!(closed, Err(StoreError::FlushFailed(_))));
        assert_eq!(store.flush_count(), flushes, "no flush after the failure");
        // a ticket a flush covered before the failure is still durable: a
        // writer that asks late is not told its write failed (it is on disk)
        assert!(store.wait_durable(ok).await.is_ok());
    }

    #[tokio::test]
    async fn a_read_during_an_uncommitted_group_sees_none_of_it_and_its_barrier_waits() {
        for flush_fails in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            let (applied, open) = gate(&store);
            let t = store.commit(add("x")).unwrap();
            applied
                .recv_timeout(BOUND)
                .expect("the committer applied the batch");
            // a read snapshot shows only committed (durable) transactions ...
            let seen = store.get_task(&TaskId::from_trusted("x")).unwrap();
            assert!(seen.is_none(), "an uncommitted write was visible");
            // ... and the barrier after it still holds until the commit (a
            // read that starts later may see it)
            let mut barrier = Box::pin(store.barrier());
            assert!(
                tokio::time::timeout(Duration::from_millis(50), &mut barrier)
                    .await
                    .is_err(),
                "the read barrier passed while the batch it covers was unflushed"
            );
            store
                .gc
                .faults
                .fail_flush
                .store(flush_fails, Ordering::SeqCst);
            open.send(()).unwrap();
            let passed = tokio::time::timeout(BOUND, barrier).await.unwrap();
            assert_eq!(passed.is_ok(), !flush_fails, "flush_fails = {flush_fails}");
            assert_eq!(store.wait_durable(t).await.is_ok(), !flush_fails);
            let _ = store.close();
        }
    }

    #[tokio::test]
    async fn live_events_are_published_only_after_their_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let mut rx = store.subscribe();
        let (applied, open) = gate(&store);
        let t = store.commit(add("e")).unwrap();
        applied.recv_timeout(BOUND).unwrap();
        assert!(
            matches!(
                rx.try_recv(),
                Err(tokio::sync::broadcast::error::TryRecvError::Empty)
            ),
            "an event went out before its batch was durable"
        );
        open.send(()).unwrap();
        let p = tokio::time::timeout(BOUND, rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.event.id, 1);
        assert!(*store.gc.durable_rx.borrow() >= p.ticket.0);
        store.wait_durable(t).await.unwrap();

        // an event of a batch whose flush fails is never published
        let (applied, open) = gate(&store);
        store.gc.faults.fail_flush.store(true, Ordering::SeqCst);
        let t = store.commit(add("never")).unwrap();
        applied.recv_timeout(BOUND).unwrap();
        open.send(()).unwrap();
        assert!(store.wait_durable(t).await.is_err());
        assert!(matches!(
            rx.try_recv(),
            Err(tokio::sync::broadcast::error::TryRecvError::Empty)
        ));
    }

    #[tokio::test]
    async fn a_committer_panic_fails_the_store_and_wakes_every_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        store.gc.faults.panic.store(true, Ordering::SeqCst);
        let tickets: Vec<_> = (0..5)
            .map(|i| store.commit(add(&format!("p{i}"))).unwrap())
            .collect();
        for t in tickets {
            let r = tokio::time::timeout(BOUND, store.wait_durable(t))
                .await
                .expect("a writer waited forever on a dead committer");
            assert!(r.is_err());
        }
        assert!(store.failure().is_some_and(|f| f.contains("panicked")));
        assert!(matches!(
            store.commit(add("after")),
            Err(StoreError::FlushFailed(_))
        ));
        assert!(store.close().is_err());
    }

    fn all_leases() -> LeaseQuery {
        LeaseQuery {
            since: None,
            until: None,
            worker: None,
            after: None,
            limit: 100,
            max_scan: 1000,
        }
    }

    /// Keys of every key space, as (prefix, count), for assertions.
    fn key_spaces(store: &Store) -> std::collections::BTreeMap<String, usize> {
        let mut out = std::collections::BTreeMap::new();
        for kv in scan_prefix_in(&store.read().unwrap(), b"").unwrap() {
            let (k, _) = kv.unwrap();
            *out.entry(String::from_utf8_lossy(&k[..2]).into_owned())
                .or_insert(0) += 1;
        }
        out
    }

    #[tokio::test]
    async fn the_task_count_follows_adds_rewrites_and_deletes_and_loading_streams_every_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(store.task_count().unwrap(), 0);
        // more records than one chunk of the loader, in two groups
        let mut b = WriteBatch::new();
        for i in 0..2500 {
            b.put_task(&task(&format!("t{i:05}")));
        }
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();
        assert_eq!(store.task_count().unwrap(), 2500);
        // a rewrite of a stored record counts nothing; a removal counts once
        let mut b = WriteBatch::new();
        b.put_task(&task("t00001"));
        b.delete_task(&TaskId::from_trusted("t00002"));
        b.delete_task(&TaskId::from_trusted("absent"));
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();
        assert_eq!(store.task_count().unwrap(), 2499);
        let mut seen = Vec::new();
        store.for_each_task(|t| seen.push(t.id)).unwrap();
        assert_eq!(seen.len(), 2499);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "id order");

        // a store whose count is wrong (written before the count existed) is fixed once
        let mut b = WriteBatch::new();
        b.put_meta(TASK_COUNT_META, 7);
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();
        store.fix_task_count(seen.len() as u64).await.unwrap();
        assert_eq!(store.task_count().unwrap(), 2499);
        store.close().unwrap();
    }

    /// Everything a backup carries, read back through the store's own reads.
    fn observable(store: &Store) -> serde_json::Value {
        let tasks = store.load_tasks().unwrap();
        let contexts: Vec<_> = tasks
            .iter()
            .map(|t| store.context_list(&t.id).unwrap())
            .collect();
        let task_events: Vec<_> = tasks
            .iter()
            .map(|t| store.task_events(&t.id).unwrap())
            .collect();
        serde_json::json!({
            "tasks": tasks,
            "contexts": contexts,
            "task_events": task_events,
            "events": store.events_after(0, 1000).unwrap(),
            "leases": store.lease_history(&all_leases()).unwrap().leases,
            "slots": store.load_slots().unwrap(),
            "lease_ceiling": store.meta("lease_ceiling").unwrap(),
            "last_event_id": store.last_event_id().unwrap(),
            "pruned_through": store.events_pruned_through(),
            "task_count": store.task_count().unwrap(),
        })
    }

    fn export_lines(store: &Store) -> Vec<String> {
        let mut lines = Vec::new();
        store
            .export(|l| {
                lines.push(l);
                true
            })
            .unwrap();
        lines
    }

    #[tokio::test]
    async fn a_backup_restores_into_an_empty_store_as_the_same_board() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let mut b = add("gone");
        b.put_meta("lease_ceiling", 2048);
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();
        // a deleted task: its event ids stay handed out after the restore
        let mut b = WriteBatch::new();
        b.delete_task(&TaskId::from_trusted("gone"));
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();
        let mut running = task("t7");
        running.status = TaskStatus::Running;
        running.lease = Some(Box::new(crate::model::Lease {
            task_id: running.id.clone(),
            lease_id: 7,
            worker: "w".into(),
            slot: 0,
            expires_at: 100,
            claimed_at: 2,
            owner: None,
            compat: false,
        }));
        let mut b = add("a");
        b.put_task(&running);
        b.put_event(lease_event(EventKind::TaskClaimed, 7, "w", 2), None);
        b.put_context(&running.id, "notes", &serde_json::json!({"v": [1, 2]}));
        b.put_slot(&SlotRecord {
            slot: 3,
            worker: "w".into(),
            since: 1,
            expires_at: Some(50),
            task: None,
        });
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();
        // a heartbeat after the last full write: the backup carries its expiry
        let mut b = WriteBatch::new();
        b.put_renewal(&running.id, 7, 900, 3);
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();

        let lines = export_lines(&store);
        let before = observable(&store);
        assert_eq!(
            before["tasks"][1]["lease"]["expires_at"],
            "1970-01-01T00:00:00.900Z"
        );
        let target = tempfile::tempdir().unwrap();
        let summary = Store::restore(
            target.path(),
            1 << 20,
            std::io::Cursor::new(lines.join("\n")),
        )
        .unwrap();
        assert_eq!((summary.tasks, summary.events), (2, 2));
        let restored = Store::open(target.path(), 1 << 20).unwrap();
        assert_eq!(observable(&restored), before);
        // and a second round trip writes the same records
        assert_eq!(export_lines(&restored)[1..], lines[1..]);

        // new writes continue after every id handed out before the backup
        restored
            .wait_durable(restored.commit(add("next")).unwrap())
            .await
            .unwrap();
        let ev = restored.task_events(&TaskId::from_trusted("next")).unwrap();
        assert_eq!(ev[0].id, before["last_event_id"].as_u64().unwrap() + 1);

        restored.close().unwrap();
        drop(restored);

        // a store that holds a board refuses, and so does a file cut short
        let err = Store::restore(
            target.path(),
            1 << 20,
            std::io::Cursor::new(lines.join("\n")),
        )
        .unwrap_err();
        assert!(
            matches!(err, crate::backup::BackupError::NotEmpty(_)),
            "{err}"
        );
        let empty = tempfile::tempdir().unwrap();
        let cut = lines[..lines.len() - 1].join("\n");
        let err = Store::restore(empty.path(), 1 << 20, std::io::Cursor::new(cut)).unwrap_err();
        assert!(
            matches!(err, crate::backup::BackupError::Truncated(_)),
            "{err}"
        );
        let fresh = Store::open(empty.path(), 1 << 20).unwrap();
        assert!(
            fresh.load_tasks().unwrap().is_empty(),
            "nothing of a refused file is kept"
        );
        assert_eq!(fresh.last_event_id().unwrap(), 0);
        fresh.close().unwrap();
        store.close().unwrap();
    }

    #[tokio::test]
    async fn deleting_a_task_removes_everything_under_it_and_never_reuses_its_event_ids() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let mut b = add("keep");
        b.put_meta("lease_ceiling", 1024);
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();
        let baseline = key_spaces(&store);
        let mut done = task("t7");
        done.status = TaskStatus::Done;
        let mut b = WriteBatch::new();
        b.put_task(&done);
        b.put_event(added("t7"), None);
        b.put_event(lease_event(EventKind::TaskClaimed, 7, "w", 2), None);
        b.put_event(lease_event(EventKind::TaskCompleted, 7, "w", 3), None);
        b.put_context(&done.id, "k", &serde_json::json!({"v": 1}));
        b.put_renewal(&done.id, 7, 10, 2);
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();
        assert_eq!(store.lease_history(&all_leases()).unwrap().leases.len(), 1);
        let newest = store.last_event_id().unwrap();

        let mut b = WriteBatch::new();
        b.delete_task(&done.id);
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();
        let mut after = key_spaces(&store);
        // the pruned-through counter is the one key the deletion adds
        assert_eq!(after.get("m/").copied(), baseline.get("m/").map(|n| n + 1));
        after.insert("m/".into(), baseline["m/"]);
        assert_eq!(after, baseline, "keys left behind");
        assert_eq!(store.events_pruned_through(), newest);
        assert!(store
            .lease_history(&all_leases())
            .unwrap()
            .leases
            .is_empty());
        assert_eq!(
            store.last_event_id().unwrap(),
            newest,
            "ids handed out stay handed out"
        );
        store.close().unwrap();
        drop(store);

        // the deleted events were the newest: a restart must not hand their ids out again
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(store.events_pruned_through(), newest);
        store
            .wait_durable(store.commit(add("next")).unwrap())
            .await
            .unwrap();
        let ev = store.task_events(&TaskId::from_trusted("next")).unwrap();
        assert_eq!(ev[0].id, newest + 1);
    }

    #[tokio::test]
    async fn pruning_events_keeps_those_of_live_tasks_and_stops_at_the_cutoff() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let live = task("live"); // ready
        let mut finished = task("fin");
        finished.status = TaskStatus::Done;
        let mut failed = task("resettable");
        failed.status = TaskStatus::Failed;
        let slot_event = |at| Event {
            task_id: None,
            kind: EventKind::SlotClaimed,
            at,
            slot: Some(1),
            ..added("x")
        };
        let at = |mut e: Event, at| {
            e.at = at;
            e
        };
        let mut b = WriteBatch::new();
        b.put_task(&live);
        b.put_task(&finished);
        b.put_task(&failed);
        b.put_event(at(added("live"), 10), None);
        b.put_event(slot_event(11), None);
        b.put_event(at(added("fin"), 12), None);
        b.put_event(at(added("gone"), 13), None); // its task was never stored
        b.put_event(at(added("resettable"), 14), None); // failed: may be reset
        b.put_event(slot_event(500), None); // newer than the cutoff
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();

        let mut b = WriteBatch::new();
        b.prune_events(100, 1000);
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();
        let left: Vec<(EventKind, u64)> = store
            .events_after(0, 100)
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.at))
            .collect();
        assert_eq!(
            left,
            vec![
                (EventKind::TaskAdded, 10),
                (EventKind::TaskAdded, 14),
                (EventKind::SlotClaimed, 500)
            ]
        );
        assert_eq!(store.task_events(&live.id).unwrap().len(), 1);
        assert!(store.task_events(&finished.id).unwrap().is_empty());
        assert_eq!(store.task_events(&failed.id).unwrap().len(), 1);
        assert_eq!(
            store.load_tasks().unwrap().len(),
            3,
            "tasks are not touched"
        );

        // bounded: a pass examines at most `max` events
        let mut b = WriteBatch::new();
        for i in 0..10 {
            b.put_event(slot_event(600 + i), None);
        }
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();
        let mut b = WriteBatch::new();
        b.prune_events(10_000, 4);
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();
        // the first pass reached its cutoff, so this one starts over: the two
        // kept events (live, resettable) count against its 4, then 500 and 600 go
        assert_eq!(store.events_after(0, 100).unwrap().len(), 3 + 10 - 2);
    }

    /// Review of the retention pass: the scan cursor moved past the old
    /// events of a task that was still live, so once that task was done they
    /// stayed until the task itself was deleted. The cursor now starts over
    /// after each full cycle, and they go in a later one.
    #[tokio::test]
    async fn events_kept_for_a_live_task_are_pruned_once_it_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let mut running = task("long");
        running.status = TaskStatus::Running;
        let mut b = WriteBatch::new();
        b.put_task(&running);
        let mut old = added("long");
        old.at = 10;
        b.put_event(old, None);
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();
        let prune = || {
            let mut b = WriteBatch::new();
            b.prune_events(100, 1000);
            b
        };
        store
            .wait_durable(store.commit(prune()).unwrap())
            .await
            .unwrap();
        assert_eq!(
            store.task_events(&running.id).unwrap().len(),
            1,
            "live: kept"
        );

        running.status = TaskStatus::Done;
        let mut b = WriteBatch::new();
        b.put_task(&running);
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();
        store
            .wait_durable(store.commit(prune()).unwrap())
            .await
            .unwrap();
        assert!(
            store.task_events(&running.id).unwrap().is_empty(),
            "done and old: pruned on the next cycle"
        );
        assert!(store.events_after(0, 10).unwrap().is_empty());
    }

    /// CI saw `could not acquire lock … WouldBlock` reopening a directory
    /// right after the last handle of a closed store was dropped: sled's
    /// background writers release the lock a moment later. Reopening must
    /// wait for that, every time.
    #[test]
    fn a_store_reopened_right_after_close_opens() {
        let dir = tempfile::tempdir().unwrap();
        let mut expected = 0;
        for round in 0..30 {
            let store =
                Store::open(dir.path(), 1 << 20).unwrap_or_else(|e| panic!("round {round}: {e}"));
            // enough concurrent bytes that sled seals buffers and hands
            // their writes to its background threads
            let writers: Vec<_> = (0..4)
                .map(|w| {
                    let store = store.clone();
                    std::thread::spawn(move || {
                        for i in 0..25 {
                            let mut t = task(&format!("r{round}-w{w}-{i}"));
                            t.description = "x".repeat(8 * 1024);
                            let mut b = WriteBatch::new();
                            b.put_task(&t);
                            let _unwaited = store.commit(b).unwrap(); // close() flushes it
                        }
                    })
                })
                .collect();
            for w in writers {
                w.join().unwrap();
            }
            expected += 100;
            store.close().unwrap();
        }
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(store.load_tasks().unwrap().len(), expected);
    }

    #[test]
    fn a_directory_held_by_a_live_store_is_reported_as_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _live = Store::open(dir.path(), 1 << 20).unwrap();
        let started = std::time::Instant::now();
        let err = RedbEngine::open(dir.path(), 1 << 20, Duration::from_millis(200))
            .err()
            .expect("locked");
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        assert!(err.to_string().contains("in use by another process"));
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_write_racing_shutdown_is_applied_or_refused_never_lost() {
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            let writers: Vec<_> = (0..4)
                .map(|w| {
                    let store = store.clone();
                    std::thread::spawn(move || {
                        let mut acked = Vec::new();
                        let mut refused = Vec::new();
                        for i in 0..200 {
                            let id = format!("w{w}-{i}");
                            match store.commit(add(&id)) {
                                Ok(t) => acked.push((id, t)),
                                Err(StoreError::Closed) => refused.push(id),
                                Err(e) => panic!("unexpected {e}"),
                            }
                        }
                        (acked, refused)
                    })
                })
                .collect();
            // close while the writers run (after the first commit, so the race is real)
            while store.commit_count() == 0 {
                std::thread::yield_now();
            }
            let closer = store.clone();
            tokio::task::spawn_blocking(move || closer.close())
                .await
                .unwrap()
                .unwrap();
            let mut acked = Vec::new();
            let mut refused = Vec::new();
            for w in writers {
                let (a, r) = w.join().unwrap();
                acked.extend(a);
                refused.extend(r);
            }
            for (id, t) in &acked {
                let r = tokio::time::timeout(BOUND, store.wait_durable(*t))
                    .await
                    .unwrap_or_else(|_| panic!("round {round}: {id} waits forever"));
                assert!(r.is_ok(), "round {round}: {id} acknowledged as failed");
            }
            drop(store);
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            let on_disk: std::collections::HashSet<String> = store
                .load_tasks()
                .unwrap()
                .into_iter()
                .map(|t| t.id.to_string())
                .collect();
            for (id, _) in &acked {
                assert!(
                    on_disk.contains(id),
                    "round {round}: acknowledged {id} lost"
                );
            }
            for id in &refused {
                assert!(!on_disk.contains(id), "round {round}: refused {id} written");
            }
            assert_eq!(on_disk.len(), acked.len());
            store.close().unwrap();
        }
    }

    fn lease_event(kind: EventKind, lease: u64, worker: &str, at: Millis) -> Event {
        Event {
            id: 0,
            at,
            kind,
            task_id: Some(TaskId::from_trusted(format!("t{lease}"))),
            worker: Some(worker.to_owned()),
            slot: Some(0),
            lease_id: Some(lease),
            from: Some(if kind == EventKind::TaskClaimed {
                TaskStatus::Ready
            } else {
                TaskStatus::Running
            }),
            to: Some(TaskStatus::Running),
            reason: (kind == EventKind::TaskExpired).then(|| "lease expired".to_owned()),
            actor: None,
        }
    }

    /// One generated history: claims (lease ids in order) and, for some, the event ending them.
    #[derive(Debug, Clone)]
    struct Step {
        worker: usize,
        end: Option<usize>,
        gap: u64,
        len: u64,
    }

    const WORKERS: [&str; 3] = ["a", "b", "c"];
    const ENDS: [EventKind; 6] = [
        EventKind::TaskCompleted,
        EventKind::TaskFailed,
        EventKind::TaskRetried,
        EventKind::TaskExpired,
        EventKind::TaskReleased,
        EventKind::TaskCancelled,
    ];

    /// Commit the history (in event-time order, heartbeats in between) and
    /// return the leases a reader must see, in lease order.
    async fn write_history(store: &Store, steps: &[Step]) -> Vec<LeaseRecord> {
        let mut events = Vec::new();
        let mut expect = Vec::new();
        let mut at = 1_000;
        for (i, st) in steps.iter().enumerate() {
            let lease = i as u64 + 1;
            at += st.gap;
            let w = WORKERS[st.worker];
            events.push(lease_event(EventKind::TaskClaimed, lease, w, at));
            events.push(lease_event(EventKind::TaskHeartbeat, lease, w, at + 1));
            let end = st.end.map(|e| (ENDS[e], at + st.len));
            if let Some((kind, end_at)) = end {
                events.push(lease_event(kind, lease, w, end_at));
            }
            expect.push(LeaseRecord {
                task_id: TaskId::from_trusted(format!("t{lease}")),
                lease_id: lease,
                worker: w.to_owned(),
                slot: Some(0),
                owner: None,
                claimed_at: at,
                ended_at: end.map(|e| e.1),
                outcome: end.map_or(LeaseOutcome::Running, |e| {
                    LeaseOutcome::of_end(e.0).unwrap()
                }),
                reason: end
                    .filter(|e| e.0 == EventKind::TaskExpired)
                    .map(|_| "lease expired".to_owned()),
            });
        }
        events.sort_by_key(|e| e.at);
        for chunk in events.chunks(5) {
            let mut b = WriteBatch::new();
            for e in chunk {
                b.put_event(e.clone(), None);
            }
            let t = store.commit(b).unwrap();
            store.wait_durable(t).await.unwrap();
        }
        expect
    }

    fn read_all(store: &Store, q: &LeaseQuery) -> Vec<LeaseRecord> {
        let mut q = q.clone();
        let mut out = Vec::new();
        for _ in 0..10_000 {
            let page = store.lease_history(&q).unwrap();
            assert!(page.leases.len() <= q.limit);
            out.extend(page.leases);
            match page.next_cursor {
                Some(c) => {
                    assert!(q.after.is_none_or(|a| c > a), "the cursor moves forward");
                    q.after = Some(c);
                }
                None => return out,
            }
        }
        panic!("paging did not end");
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        proptest::collection::vec(
            (
                0..3usize,
                proptest::option::weighted(0.8, 0..6usize),
                0..50u64,
                2..80u64,
            )
                .prop_map(|(worker, end, gap, len)| Step {
                    worker,
                    end,
                    gap,
                    len,
                }),
            0..40,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Model-based: whatever the history, filters and page sizes, the
        /// pages read back are exactly the model's leases overlapping the
        /// window, in lease order, each once.
        #[test]
        fn lease_history_pages_match_the_model(
            steps in steps(),
            since in proptest::option::of(900..3_000u64),
            span in proptest::option::of(0..2_000u64),
            worker in proptest::option::of(0..3usize),
            limit in 1..6usize,
            max_scan in 1..6usize,
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                let store = Store::open(dir.path(), 1 << 20).unwrap();
                let model = write_history(&store, &steps).await;
                let until = since.zip(span).map(|(s, d)| s + d);
                let q = LeaseQuery {
                    since,
                    until,
                    worker: worker.map(|w| WORKERS[w].to_owned()),
                    after: None,
                    limit,
                    max_scan,
                };
                let want: Vec<LeaseRecord> = model
                    .iter()
                    .filter(|l| until.is_none_or(|u| l.claimed_at < u))
                    .filter(|l| since.is_none_or(|s| l.ended_at.is_none_or(|e| e >= s)))
                    .filter(|l| q.worker.as_ref().is_none_or(|w| *w == l.worker))
                    .cloned()
                    .collect();
                assert_eq!(read_all(&store, &q), want);
                store.close().unwrap();
            });
        }
    }

    #[tokio::test]
    async fn a_data_dir_without_the_lease_index_is_indexed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let steps: Vec<Step> = (0..12)
            .map(|i| Step {
                worker: i % 3,
                end: (i % 4 != 3).then_some(i % 6),
                gap: 5,
                len: 3,
            })
            .collect();
        let all = LeaseQuery {
            since: None,
            until: None,
            worker: None,
            after: None,
            limit: 100,
            max_scan: 100,
        };
        let want = {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            let want = write_history(&store, &steps).await;
            assert_eq!(read_all(&store, &all), want);
            // what an older baton left behind: the audit log without the index
            let stale: Vec<Vec<u8>> = scan_prefix_in(&store.read().unwrap(), LEASE)
                .unwrap()
                .map(|kv| kv.unwrap().0)
                .collect();
            store
                .db
                .get()
                .unwrap()
                .transact(
                    &mut |t| {
                        for k in &stale {
                            t.remove(k)?;
                        }
                        t.remove(&key(META, LEASE_INDEX_META.as_bytes()))?;
                        Ok(())
                    },
                    &mut || Ok(()),
                )
                .unwrap();
            assert!(read_all(&store, &all).is_empty());
            store.close().unwrap();
            want
        };
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(read_all(&store, &all), want);
        store.close().unwrap();
    }

    /// A data directory of a baton before redb holds a sled store. The first
    /// start copies it into `baton.redb` (events, their ids and the audit
    /// index included); later starts never copy again, so what changed since
    /// (here: the old task deleted) stays changed; sled's files stay put.
    #[tokio::test]
    async fn a_sled_data_directory_of_an_older_baton_is_copied_once() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::Config::new().path(dir.path()).open().unwrap();
            let tree = db.open_tree("board").unwrap();
            let mut old = task("old");
            old.status = TaskStatus::Done;
            tree.insert(key(TASK, b"old"), encode(&old)).unwrap();
            let mut ev = added("old");
            ev.id = 7;
            tree.insert(key(EVENT, &7u64.to_be_bytes()), encode(&ev))
                .unwrap();
            tree.insert(task_event_key(&old.id, 7), Vec::new()).unwrap();
            db.flush().unwrap();
        }
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let old = TaskId::from_trusted("old");
        assert_eq!(store.load_tasks().unwrap().len(), 1);
        assert_eq!(store.task_events(&old).unwrap().len(), 1);
        assert_eq!(store.last_event_id().unwrap(), 7);
        assert_eq!(store.meta(SLED_MIGRATED_META).unwrap(), 1);
        let t = store.commit(add("new")).unwrap();
        store.wait_durable(t).await.unwrap();
        assert_eq!(
            store.last_event_id().unwrap(),
            8,
            "ids continue after the copied ones"
        );
        let mut b = WriteBatch::new();
        b.delete_task(&old);
        store.wait_durable(store.commit(b).unwrap()).await.unwrap();
        store.close().unwrap();
        drop(store);

        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let ids: Vec<String> = store
            .load_tasks()
            .unwrap()
            .into_iter()
            .map(|t| t.id.to_string())
            .collect();
        assert_eq!(ids, vec!["new".to_owned()], "copied once, not again");
        assert!(
            dir.path().join("db").is_file(),
            "sled's files are left as they were"
        );
        store.close().unwrap();
    }

    #[test]
    fn unknown_format_version_is_reported_not_panicked() {
        let err = decode::<Task>(b"t/x", &[9, b'{', b'}']).unwrap_err();
        assert!(err.to_string().contains("unknown format version 9"));
    }
}
