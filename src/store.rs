//! sled persistence: key layout, versioned values and group commit.
//!
//! Everything lives in one sled tree (`board`) split into key spaces, so a
//! change that touches several of them (a task, its audit events, the lease
//! counter) is one atomic [`sled::Batch`]:
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `t/` | task id | [`Task`] |
//! | `e/` | event id (u64 BE) | [`Event`] |
//! | `x/` | task id, `0x00`, event id (u64 BE) | empty (per-task audit index) |
//! | `s/` | slot (u32 BE) | [`SlotRecord`] (explicit slot claims only) |
//! | `c/` | task id, `0x00`, context key | JSON value |
//! | `m/` | name | u64 BE counters (`lease_ceiling`) |
//! | `o/` | operation id | [`Operation`] (MCP task handles, SEP-2663) |
//!
//! Values are a version byte ([`FORMAT_VERSION`]) followed by JSON.
//!
//! **Group commit.** [`Store::commit`] queues a batch and returns a
//! [`Ticket`] at once. A single committer thread takes everything queued,
//! applies it as one sled batch, flushes once, and marks those tickets
//! durable. Callers reply to their client only after [`Store::wait_durable`]
//! — so an acknowledged write is on disk, concurrent writers share one
//! fsync, and the actors never spend their own time inside sled. Readers
//! call [`Store::barrier`] first, so they never show a state a crash could
//! still undo.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tokio::sync::watch;

use crate::model::{Event, Millis, Operation, Task, TaskId};

/// Version byte in front of every stored value.
pub const FORMAT_VERSION: u8 = 1;

const TASK: &[u8] = b"t/";
const EVENT: &[u8] = b"e/";
const TASK_EVENT: &[u8] = b"x/";
const SLOT: &[u8] = b"s/";
const CONTEXT: &[u8] = b"c/";
const META: &[u8] = b"m/";
const OPERATION: &[u8] = b"o/";

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled reported an I/O or corruption error.
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    /// A stored value could not be decoded.
    #[error("corrupt value under {key}: {reason}")]
    Corrupt {
        /// Key (lossy UTF-8).
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// A flush failed; the store refuses further acknowledgements.
    #[error("flush failed, writes are no longer acknowledged: {0}")]
    FlushFailed(String),
    /// The store was closed (runtime shut down).
    #[error("the store is closed")]
    Closed,
    /// The data directory could not be opened.
    #[error("cannot open data directory {path}: {source}")]
    Open {
        /// Directory.
        path: PathBuf,
        /// Cause.
        source: sled::Error,
    },
}

/// An explicit slot claim as stored (task-bound slots are derived from leases).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRecord {
    /// Slot number.
    pub slot: u32,
    /// Holder.
    pub worker: String,
    /// Claimed at.
    pub since: Millis,
    /// Lapses at unless used.
    pub expires_at: Millis,
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
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len() + self.events.len()
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

    /// Write a task record.
    pub fn put_task(&mut self, task: &Task) {
        self.insert(key(TASK, task.id.as_str().as_bytes()), encode(task));
    }

    /// Append an audit event (global log and per-task index). Its id is
    /// assigned on commit; `task` is the snapshot published with it.
    pub fn put_event(&mut self, event: Event, task: Option<Arc<Task>>) {
        self.events.push((event, task));
    }

    /// Write an explicit slot claim.
    pub fn put_slot(&mut self, rec: &SlotRecord) {
        self.insert(key(SLOT, &rec.slot.to_be_bytes()), encode(rec));
    }

    /// Remove an explicit slot claim.
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

    /// Write a counter.
    pub fn put_meta(&mut self, name: &str, value: u64) {
        self.insert(key(META, name.as_bytes()), value.to_be_bytes().to_vec());
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
    let mut out = vec![FORMAT_VERSION];
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
    /// Highest ticket known durable.
    durable_tx: watch::Sender<u64>,
    durable_rx: watch::Receiver<u64>,
    stop: AtomicBool,
    failure: OnceLock<String>,
    flushes: AtomicU64,
}

/// The persistent board. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    tree: sled::Tree,
    gc: Arc<GroupCommit>,
    flusher: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
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
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .flush_every_ms(None)
            .open()
            .map_err(|source| StoreError::Open {
                path: dir.to_path_buf(),
                source,
            })?;
        let tree = db.open_tree("board")?;
        let (durable_tx, durable_rx) = watch::channel(0);
        let last_event = last_event_in(&tree)?;
        let (events_tx, _) = tokio::sync::broadcast::channel(4096);
        let gc = Arc::new(GroupCommit {
            queue: Mutex::new(Queue {
                items: Vec::new(),
                last_ticket: 0,
            }),
            wake: Condvar::new(),
            enqueued: AtomicU64::new(0),
            events_tx,
            durable_tx,
            durable_rx,
            stop: AtomicBool::new(false),
            failure: OnceLock::new(),
            flushes: AtomicU64::new(0),
        });
        let flusher = {
            let gc = gc.clone();
            let db = db.clone();
            let tree = tree.clone();
            std::thread::Builder::new()
                .name("baton-committer".into())
                .spawn(move || committer_loop(&db, &tree, &gc, last_event + 1))
                .map_err(|e| StoreError::Open {
                    path: dir.to_path_buf(),
                    source: sled::Error::Io(e),
                })?
        };
        Ok(Self {
            db,
            tree,
            gc,
            flusher: Arc::new(Mutex::new(Some(flusher))),
        })
    }

    /// Queue `batch` for the committer thread, which applies queued batches
    /// in order (atomically each, merged into one sled batch) and then
    /// flushes. The write is visible to readers that passed
    /// [`Store::barrier`] and durable once [`Store::wait_durable`] on the
    /// returned ticket resolves.
    pub fn commit(&self, batch: WriteBatch) -> Result<Ticket, StoreError> {
        if let Some(f) = self.gc.failure.get() {
            return Err(StoreError::FlushFailed(f.clone()));
        }
        if self.gc.stop.load(Ordering::SeqCst) {
            return Err(StoreError::Closed);
        }
        let mut q = self.gc.queue.lock().unwrap_or_else(|p| p.into_inner());
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

    /// Whether a flush has failed (the store then refuses writes).
    pub fn is_failed(&self) -> bool {
        self.gc.failure.get().is_some()
    }

    /// Resolve once the commit behind `ticket` is on disk.
    pub async fn wait_durable(&self, ticket: Ticket) -> Result<(), StoreError> {
        if *self.gc.durable_rx.borrow() >= ticket.0 && self.gc.failure.get().is_none() {
            return Ok(());
        }
        let mut rx = self.gc.durable_rx.clone();
        // The sender lives as long as `self`, so this only ends by the predicate.
        let _ = rx.wait_for(|d| *d >= ticket.0).await;
        match self.gc.failure.get() {
            Some(f) => Err(StoreError::FlushFailed(f.clone())),
            None => Ok(()),
        }
    }

    /// Resolve once every commit applied so far is on disk (a read barrier:
    /// readers never show a client state that a crash could still undo).
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

    /// Apply and flush everything queued, then stop the committer thread. Idempotent.
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
        self.db.flush()?;
        if self.gc.failure.get().is_none() {
            let last = self.gc.enqueued.load(Ordering::SeqCst);
            self.gc.durable_tx.send_replace(last);
        }
        Ok(())
    }

    // ---- reads ----------------------------------------------------------

    /// Every task record.
    pub fn load_tasks(&self) -> Result<Vec<Task>, StoreError> {
        self.scan(TASK)
    }

    /// One task record.
    pub fn get_task(&self, id: &TaskId) -> Result<Option<Task>, StoreError> {
        let k = key(TASK, id.as_str().as_bytes());
        self.tree.get(&k)?.map(|v| decode(&k, &v)).transpose()
    }

    /// Task records in id order, starting after `after` (exclusive).
    pub fn tasks_after(
        &self,
        after: Option<&str>,
    ) -> impl Iterator<Item = Result<Task, StoreError>> + '_ {
        let start = match after {
            Some(a) => {
                let mut k = key(TASK, a.as_bytes());
                k.push(0);
                k
            }
            None => TASK.to_vec(),
        };
        let mut end = TASK.to_vec();
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        self.tree.range(start..end).map(|kv| {
            let (k, v) = kv?;
            decode(&k, &v)
        })
    }

    /// Whether anyone listens to live events.
    pub fn has_subscribers(&self) -> bool {
        self.gc.events_tx.receiver_count() > 0
    }

    /// Every MCP task-handle record.
    pub fn load_operations(&self) -> Result<Vec<Operation>, StoreError> {
        self.scan(OPERATION)
    }

    /// Every explicit slot claim.
    pub fn load_slots(&self) -> Result<Vec<SlotRecord>, StoreError> {
        self.scan(SLOT)
    }

    /// A counter, 0 when absent.
    pub fn meta(&self, name: &str) -> Result<u64, StoreError> {
        let k = key(META, name.as_bytes());
        Ok(match self.tree.get(&k)? {
            Some(v) => {
                let arr: [u8; 8] = v.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                    key: name.into(),
                    reason: "counter is not 8 bytes".into(),
                })?;
                u64::from_be_bytes(arr)
            }
            None => 0,
        })
    }

    /// Id of the newest event, 0 when there is none.
    pub fn last_event_id(&self) -> Result<u64, StoreError> {
        last_event_in(&self.tree)
    }

    /// Up to `limit` events with id greater than `after`, oldest first.
    pub fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let start = key(EVENT, &(after.saturating_add(1)).to_be_bytes());
        let end = key(EVENT, &u64::MAX.to_be_bytes());
        self.tree
            .range(start..=end)
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
        let mut out = Vec::new();
        for kv in self.tree.scan_prefix(&prefix) {
            let (k, _) = kv?;
            let id = event_id_from_key(&k[prefix.len()..]);
            let ek = key(EVENT, &id.to_be_bytes());
            if let Some(v) = self.tree.get(&ek)? {
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
        self.tree.get(&k)?.map(|v| decode(&k, &v)).transpose()
    }

    /// Every context value of a task, by key.
    pub fn context_list(
        &self,
        task: &TaskId,
    ) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
        let prefix = context_prefix(task);
        let mut out = serde_json::Map::new();
        for kv in self.tree.scan_prefix(&prefix) {
            let (k, v) = kv?;
            let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            out.insert(name, decode(&k, &v)?);
        }
        Ok(out)
    }

    fn scan<T: DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<T>, StoreError> {
        self.tree
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect()
    }
}

fn last_event_in(tree: &sled::Tree) -> Result<u64, StoreError> {
    let last = tree.scan_prefix(EVENT).next_back().transpose()?;
    Ok(last.map_or(0, |(k, _)| event_id_from_key(&k[EVENT.len()..])))
}

fn event_id_from_key(bytes: &[u8]) -> u64 {
    let mut arr = [0u8; 8];
    let n = bytes.len().min(8);
    arr[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(arr)
}

fn fail(gc: &GroupCommit, what: &str, e: &sled::Error) {
    tracing::error!(error = %e, what, "storage failed; refusing further acknowledgements");
    let _ = gc.failure.set(format!("{what}: {e}"));
    gc.durable_tx.send_replace(u64::MAX);
}

/// The single storage writer: takes everything queued, applies it as one
/// sled batch (in queue order, so later writes to a key win), assigns event
/// ids and publishes events in that order, flushes once, and then declares
/// every ticket it took durable. Concurrent writers share one flush.
fn committer_loop(db: &sled::Db, tree: &sled::Tree, gc: &GroupCommit, mut next_event: u64) {
    loop {
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
        let mut merged = sled::Batch::default();
        let mut published = Vec::new();
        let live = gc.events_tx.receiver_count() > 0;
        for Pending { ticket, batch } in items {
            for (k, v) in batch.ops {
                match v {
                    Some(v) => merged.insert(k, v),
                    None => merged.remove(k),
                }
            }
            for (mut event, task) in batch.events {
                event.id = next_event;
                next_event += 1;
                merged.insert(key(EVENT, &event.id.to_be_bytes()), encode(&event));
                if let Some(t) = &event.task_id {
                    merged.insert(task_event_key(t, event.id), Vec::new());
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
        if let Err(e) = tree.apply_batch(merged) {
            fail(gc, "apply", &e);
            return;
        }
        for p in published {
            let _ = gc.events_tx.send(Arc::new(p));
        }
        if let Err(e) = db.flush() {
            fail(gc, "flush", &e);
            return;
        }
        gc.flushes.fetch_add(1, Ordering::Relaxed);
        gc.durable_tx.send_replace(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, TaskStatus};

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

    #[test]
    fn unknown_format_version_is_reported_not_panicked() {
        let err = decode::<Task>(b"t/x", &[9, b'{', b'}']).unwrap_err();
        assert!(err.to_string().contains("unknown format version 9"));
    }
}
