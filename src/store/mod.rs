//! Persistence: the board as one ordered key space of versioned values
//! behind a group committer, over an engine: embedded in a data directory
//! ([redb](https://docs.rs/redb), the default: a copy-on-write B-tree in one
//! file whose memory is bounded by its page cache; [fjall](https://docs.rs/fjall),
//! log-structured; [sled](https://docs.rs/sled) 0.34, the design card's),
//! PostgreSQL (several nodes, one leader), or memory (tests, embedders;
//! never durable).
//!
//! This file is the facade: [`Store`] opens and closes a store, takes
//! commits, waits for them and hands out reads. Each concern has a room of
//! its own, and every room imports only rooms below it:
//!
//! | room | holds |
//! |---|---|
//! | `mod.rs` (here) | [`Store`]: open/close, [`Store::commit`], [`Store::wait_durable`], [`Store::barrier`], [`Store::subscribe`], the read methods |
//! | `committer.rs` | the group commit: queue, committer thread, applying a group, deletion and pruning |
//! | `reads.rs` | reads of tasks, events and context values over one snapshot |
//! | `leases.rs` | the `l/` lease index, [`Store::lease_history`], heartbeat records |
//! | [`backup`] | the backup format, [`Store::export`] and the restore's import |
//! | `sled_import.rs` | the one-time copy of an older baton's sled data directory |
//! | [`datadir`] | which embedded engine a data directory holds (its record), its lock |
//! | `batch.rs` | [`WriteBatch`], [`Ticket`], [`Published`] |
//! | `keys.rs` | the key layout, value encoding, small reads over a snapshot |
//! | `engine/` | the seam (ordered key space, snapshots, one transaction per group) and its engines: redb, fjall, sled, PostgreSQL (with its [`leader`] fence), memory ([`MemoryBoard`]) |
//! | `error.rs` | [`StoreError`] |
//!
//! **Group commit.** [`Store::commit`] queues a batch and returns a
//! [`Ticket`] at once. A single committer thread takes everything queued,
//! applies it in one write transaction of the engine, commits it durably
//! (redb: `Durability::Immediate`, an fsync before the commit returns;
//! PostgreSQL: `COMMIT` with its WAL flushed), and marks
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
//! failed is never written later (an uncommitted transaction is simply
//! dropped). [`Store::wait_durable`] is also bounded by
//! [`COMMIT_TIMEOUT`]: a disk that hangs fails the store the same way.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::model::{
    AccessToken, Event, GatewayName, Message, Operation, Receipt, RequestRecord, Reservation, Task,
    TaskId,
};

pub mod backup;
mod batch;
mod committer;
pub mod datadir;
mod engine;
mod error;
mod keys;
mod leases;
mod reads;
mod sled_import;
#[cfg(test)]
mod tests;

pub use batch::{Published, Ticket, WriteBatch};
pub use engine::leader;
pub use engine::memory::MemoryBoard;
pub use engine::redb::DB_FILE;
pub use error::{StoreError, LOCK_WAIT};
pub use keys::{SlotRecord, FORMAT_VERSION, MESSAGE_CEILING_META};
pub use leases::{LeaseHistory, LeaseQuery};

use backup::{BackupError, RestoreSummary};
use committer::{GroupCommit, Pending};
use engine::leader::Candidate;
use engine::memory::MemoryEngine;
use engine::postgres::PostgresEngine;
use engine::{Engine, Snapshot};
use keys::{
    get_in, last_event_in, message_key, read_meta, EVENTS_PRUNED_META, GATEWAY_NAME, MESSAGE,
    OPERATION, RECEIPT, REQUEST, RESERVATION, SLOT, TASK_COUNT_META, TOKEN,
};
use leases::index_leases;
use sled_import::migrate_from_sled;

/// How long [`Store::wait_durable`] waits for one commit before it declares
/// the disk hung and fails the store (a commit normally takes one fsync,
/// well under a second).
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(30);

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
    /// Open (or create) the store in `dir`, with a cache of `cache_bytes`,
    /// and start the committer thread: the engine the directory records
    /// (see [`datadir`]), redb for a new one.
    ///
    /// Errors: [`StoreError::Locked`] when the directory's lock stays held
    /// for [`LOCK_WAIT`]; [`StoreError::Open`] for any other failure to open.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        Self::open_embedded(dir, cache_bytes, crate::config::StorageBackend::default())
    }

    /// [`Store::open`] with `engine` for a new directory (`redb`, `fjall`,
    /// `sled`); a directory that holds a board keeps the engine it records.
    /// An older baton's sled files at the top of `dir` are copied in once
    /// (see `sled_import.rs`).
    ///
    /// Errors: as [`Store::open`]; [`StoreError::Open`] also for
    /// `postgres`, and for `sled` in a build without the `sled` feature.
    pub fn open_embedded(
        dir: &Path,
        cache_bytes: u64,
        engine: crate::config::StorageBackend,
    ) -> Result<Self, StoreError> {
        let (db, opened) = datadir::open(dir, cache_bytes, engine, LOCK_WAIT)?;
        tracing::debug!(dir = %dir.display(), engine = ?opened, "store opened");
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
        Self::open_postgres_as(url, pool_size, &Candidate::offline("store"))
    }

    /// [`Store::open_postgres`] as the leader `candidate` (see
    /// [`leader`]): the store takes the database's leadership, renews
    /// it while open and gives it up when closed; every write transaction
    /// is fenced by its epoch.
    ///
    /// Errors: as [`Store::open_postgres`], and [`StoreError::Led`] when
    /// another node's lease stays live for `candidate.wait`.
    pub fn open_postgres_as(
        url: &str,
        pool_size: u32,
        candidate: &Candidate,
    ) -> Result<Self, StoreError> {
        let engine = PostgresEngine::open(url, pool_size, candidate)?;
        let deposed = engine.deposed_flag();
        let db: Arc<dyn Engine> = Arc::new(engine);
        let mut store = Self::start(db)?;
        store.deposed = Some(deposed);
        Ok(store)
    }

    /// Open a store on `board`, a key space in this process's memory (see
    /// [`MemoryBoard`]), and start the committer thread. Nothing is ever
    /// written to a disk: a commit is "durable" once it is in the board, and
    /// the board is gone with the process. [`Store::close`] lets the board
    /// go, and a later store opened on it finds every commit the earlier one
    /// acknowledged, as after a restart without a crash.
    ///
    /// Errors: [`StoreError::Locked`] when another store still holds `board`
    /// after [`LOCK_WAIT`] (its path reads `(memory)`).
    pub fn open_memory(board: &MemoryBoard) -> Result<Self, StoreError> {
        let db: Arc<dyn Engine> = Arc::new(MemoryEngine::open(board, LOCK_WAIT)?);
        Self::start(db)
    }

    /// Whether another node took the database's leadership from this
    /// store (PostgreSQL only; see [`leader`]). It then refuses writes;
    /// `baton serve` steps down to follower.
    pub fn is_deposed(&self) -> bool {
        self.deposed
            .as_ref()
            .is_some_and(|d| d.load(Ordering::SeqCst))
    }

    /// Open the store `settings` name: PostgreSQL when `backend` is
    /// `postgres`, else the embedded engine in `data_dir` (see
    /// [`Store::open_embedded`]).
    pub fn open_with(settings: &crate::config::StorageSettings) -> Result<Self, StoreError> {
        Self::open_as(settings, &Candidate::offline("store"))
    }

    /// [`Store::open_with`]; on PostgreSQL as the leader `candidate` (see
    /// [`Store::open_postgres_as`]).
    pub fn open_as(
        settings: &crate::config::StorageSettings,
        candidate: &Candidate,
    ) -> Result<Self, StoreError> {
        match settings.backend {
            crate::config::StorageBackend::Postgres => {
                Self::open_postgres_as(&settings.url, settings.pool_size, candidate)
            }
            embedded => Self::open_embedded(
                &settings.data_dir,
                settings.cache_mb.saturating_mul(1024 * 1024),
                embedded,
            ),
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
        let gc = Arc::new(GroupCommit::new(pruned_through));
        let flusher = committer::spawn(Arc::clone(&db), gc.clone(), last_event + 1)?;
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

    /// The barrier a read of the store passes before it is shown:
    /// [`Store::barrier`] while the store works. Once it has failed, this
    /// resolves at once: nothing becomes durable any more, and a snapshot
    /// shows only transactions the engine committed before the failure (the
    /// group whose flush failed, and everything refused after it, are never
    /// in one), which is what a restart shows. So reads of the store keep
    /// answering after a failure; only writes are refused.
    ///
    /// Not for reads of memory the actors keep beside the store: that may
    /// hold changes that never became durable (see [`Store::is_failed`]).
    ///
    /// Errors: as [`Store::barrier`], never once the store has failed.
    pub async fn read_barrier(&self) -> Result<(), StoreError> {
        match self.barrier().await {
            Err(_) if self.is_failed() => Ok(()),
            done => done,
        }
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

    /// Fault injection for tests (the in-process equivalent of a disk that
    /// fills up): the next commit group is applied and then its commit
    /// fails as `ENOSPC` would, so its writers are told the outcome is
    /// unknown and the store fails (refusing every later write). The engine
    /// drops the group's transaction: it is not stored. Never call it
    /// outside a test.
    #[doc(hidden)]
    pub fn fail_next_flush(&self) {
        self.gc.faults.fail_flush.store(true, Ordering::SeqCst);
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
    /// `visit`, in id order, one at a time, decoding on a thread of its own a
    /// chunk of records ahead of `visit` (see `reads::for_each_task`).
    pub fn for_each_task(&self, visit: impl FnMut(Task)) -> Result<(), StoreError> {
        reads::for_each_task(self.read()?, visit)
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
    /// the lines of a backup (see [`backup`]): the header, every record, the
    /// `end` line. Each line is handed to `line` without its newline; `line`
    /// returns `false` to stop early (the reader went away; then 0 is
    /// returned). Returns the number of records (header and end line not
    /// counted).
    /// Blocking: reads the whole board; call it off the async workers.
    ///
    /// Errors: a failed read or decode, and [`StoreError::Corrupt`] for a
    /// record that does not serialize: the lines handed out so far then end
    /// without the `end` line, which a restore refuses.
    pub fn export(&self, line: impl FnMut(String) -> bool) -> Result<u64, StoreError> {
        backup::export(&*self.read()?, line)
    }

    /// Load a backup (see [`backup`]) into the store in `dir` (opened
    /// here and closed again; nothing else may use it meanwhile, which its
    /// lock ensures), which must be empty: no task, event, slot, context,
    /// handle, token or gateway name ([`BackupError::NotEmpty`] otherwise).
    /// The whole file is checked and written in one write transaction,
    /// committed only after the `end` line checked out, so a refused or
    /// failed restore leaves the store as empty as it was. The derived data
    /// (per-task audit index, lease index, task count) is rebuilt.
    pub fn restore(
        dir: &Path,
        cache_bytes: u64,
        input: impl std::io::BufRead,
    ) -> Result<RestoreSummary, BackupError> {
        Self::open(dir, cache_bytes)?.import_and_close(input)
    }

    /// [`Store::restore`] into the store `settings` name (an embedded data
    /// directory, of `backend`'s engine when new, or a PostgreSQL database): how a board moves between
    /// engines (`baton backup` from one, `baton restore` into the other).
    pub fn restore_with(
        settings: &crate::config::StorageSettings,
        input: impl std::io::BufRead,
    ) -> Result<RestoreSummary, BackupError> {
        Self::open_as(settings, &Candidate::offline("restore"))?.import_and_close(input)
    }

    /// [`Store::restore`] into `board` (see [`Store::open_memory`]), which no
    /// store may hold meanwhile.
    pub fn restore_memory(
        board: &MemoryBoard,
        input: impl std::io::BufRead,
    ) -> Result<RestoreSummary, BackupError> {
        Self::open_memory(board)?.import_and_close(input)
    }

    /// Import `input` into this store, just opened for it, and close it.
    fn import_and_close(self, input: impl std::io::BufRead) -> Result<RestoreSummary, BackupError> {
        let imported = self
            .db
            .get()
            .map_err(BackupError::from)
            .and_then(|db| backup::import(&*db, input));
        let closed = self.close();
        let summary = imported?; // the import's own error comes first
        closed?;
        Ok(summary)
    }

    /// One task record (with its last heartbeat laid over it).
    pub fn get_task(&self, id: &TaskId) -> Result<Option<Task>, StoreError> {
        reads::get_task(&*self.read()?, id)
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
        match self.read() {
            Ok(snapshot) => Box::new(reads::tasks_after(snapshot, after)),
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

    /// Every path reservation record (lease-bound ones included: the
    /// registry drops any whose lease is not the task's current one).
    pub fn load_reservations(&self) -> Result<Vec<Reservation>, StoreError> {
        self.scan(RESERVATION)
    }

    /// Every access token record.
    pub fn load_tokens(&self) -> Result<Vec<AccessToken>, StoreError> {
        self.scan(TOKEN)
    }

    /// Every gateway name handed out (tools and prompts), by catalog and
    /// name.
    pub fn load_gateway_names(&self) -> Result<Vec<GatewayName>, StoreError> {
        self.scan(GATEWAY_NAME)
    }

    /// Every explicit slot hold.
    pub fn load_slots(&self) -> Result<Vec<SlotRecord>, StoreError> {
        self.scan(SLOT)
    }

    /// Every remembered request (idempotency keys; see [`RequestRecord`]).
    pub fn load_requests(&self) -> Result<Vec<RequestRecord>, StoreError> {
        self.scan(REQUEST)
    }

    /// Every message, in id order (see [`Message`]).
    pub fn load_messages(&self) -> Result<Vec<Message>, StoreError> {
        self.scan(MESSAGE)
    }

    /// Every worker's receipt of every message, by message id.
    pub fn load_receipts(&self) -> Result<Vec<Receipt>, StoreError> {
        self.scan(RECEIPT)
    }

    /// One message (`None`: never sent, or removed by retention).
    pub fn get_message(&self, id: u64) -> Result<Option<Message>, StoreError> {
        let k = message_key(id);
        match get_in(&*self.read()?, &k)? {
            Some(v) => Ok(Some(keys::decode(&k, &v)?)),
            None => Ok(None),
        }
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
        reads::events_after(&*self.read()?, after, limit)
    }

    /// The audit log of one task, oldest first.
    pub fn task_events(&self, task: &TaskId) -> Result<Vec<Event>, StoreError> {
        reads::task_events(&*self.read()?, task)
    }

    /// One context value of a task.
    pub fn context_get(
        &self,
        task: &TaskId,
        ctx_key: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        reads::context_get(&*self.read()?, task, ctx_key)
    }

    /// Every context value of a task, by key.
    pub fn context_list(
        &self,
        task: &TaskId,
    ) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
        reads::context_list(&*self.read()?, task)
    }

    /// Leases in claim order (lease id), read from the `l/` index and the
    /// audit events it points to; see [`LeaseQuery`] for the filters. Reads
    /// at most `max_scan` leases' index entries and decodes only the leases
    /// it returns.
    pub fn lease_history(&self, q: &LeaseQuery) -> Result<LeaseHistory, StoreError> {
        leases::lease_history(&*self.read()?, q)
    }

    /// Every value under `prefix`, decoded.
    fn scan<T: DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<T>, StoreError> {
        reads::scan(&*self.read()?, prefix)
    }
}
