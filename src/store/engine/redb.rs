//! The embedded engine: [redb](https://docs.rs/redb), a copy-on-write
//! B-tree in one file (`<data dir>/baton.redb`) whose memory is bounded by
//! its page cache. Everything lives in one redb table (`board`), so a
//! change that touches several key spaces is one atomic write transaction,
//! committed with `Durability::Immediate` (fsync before the commit returns).
//!
//! **Reads after a failed write.** redb latches its first I/O error (a full
//! disk): every later access of that handle, reads of pages not in its
//! cache included, fails with "previous I/O error". So the file is opened in
//! redb's `SingleWriter` mode, in which read-only handles may share it with
//! the writer and serve its last complete commit; the first failed write
//! transaction opens such a read-only handle, and every later snapshot
//! reads through it: the last commit that succeeded, which is what a
//! restart shows (a commit whose fsync failed is not shown: its header is
//! marked unflushed until then).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use redb::ReadableTable;

use super::{Engine, Entries, Entry, KvRead, KvWrite, Snapshot, TxError};
use crate::store::error::StoreError;

/// The redb file inside the data directory.
pub const DB_FILE: &str = "baton.redb";

/// redb's error types, each a [`StoreError::Engine`].
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

/// The one redb table everything lives in (keys and values are bytes; the
/// key spaces are prefixes, laid out by `store/keys.rs`).
const BOARD: redb::TableDefinition<'static, &'static [u8], &'static [u8]> =
    redb::TableDefinition::new("board");

/// The embedded engine: [redb](https://docs.rs/redb), a copy-on-write
/// B-tree in one file (`<data dir>/baton.redb`) whose memory is bounded by
/// its page cache. Commits are `Durability::Immediate` (one fsync).
pub(crate) struct RedbEngine {
    db: redb::Database,
    /// The database file.
    path: PathBuf,
    /// Page cache of the read-only handle (as the writer's).
    cache: usize,
    /// Once a write transaction failed: the file opened again read-only
    /// (see the module docs), or why it could not be (then snapshots keep
    /// using `db`, which fails reads of pages it has not cached).
    after_failure: OnceLock<Result<redb::ReadOnlyDatabase, String>>,
}

impl RedbEngine {
    /// Open (or create) `dir/baton.redb` with a page cache of `cache_bytes`,
    /// waiting up to `lock_wait` while another handle holds its lock.
    pub(crate) fn open(
        dir: &Path,
        cache_bytes: u64,
        lock_wait: Duration,
    ) -> Result<Self, StoreError> {
        let open_error = |source: redb::Error| StoreError::Open {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| open_error(redb::Error::Io(e)))?;
        let cache = usize::try_from(cache_bytes).unwrap_or(usize::MAX);
        let deadline = std::time::Instant::now() + lock_wait;
        let path = dir.join(DB_FILE);
        let db = loop {
            match redb::Builder::new()
                .set_cache_size(cache)
                .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
                .create(&path)
            {
                Ok(db) => break db,
                Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                    if std::time::Instant::now() >= deadline {
                        return Err(StoreError::Locked {
                            path: dir.to_path_buf(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(open_error(e.into())),
            }
        };
        // the table exists before any reader opens it
        let tx = db.begin_write()?;
        tx.open_table(BOARD)?;
        tx.commit()?;
        Ok(Self {
            db,
            path,
            cache,
            after_failure: OnceLock::new(),
        })
    }

    /// After a failed write transaction: open the file read-only beside
    /// the failed handle (once), for every later snapshot.
    fn open_reader(&self) {
        self.after_failure.get_or_init(|| {
            let reader = redb::Builder::new()
                .set_cache_size(self.cache)
                .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
                .open_read_only(&self.path)
                .map_err(|e| e.to_string());
            match &reader {
                Ok(_) => tracing::warn!(
                    path = %self.path.display(),
                    "a write failed: reads now go through a read-only handle (the last complete commit)"
                ),
                Err(e) => tracing::error!(
                    path = %self.path.display(),
                    error = %e,
                    "a write failed and the file cannot be opened read-only: reads may fail until restart"
                ),
            }
            reader
        });
    }

    fn transact_once(
        &self,
        apply: &mut dyn FnMut(&mut dyn KvWrite) -> Result<(), StoreError>,
        before_commit: &mut dyn FnMut() -> Result<(), StoreError>,
    ) -> Result<(), TxError> {
        let tx = self
            .db
            .begin_write()
            .map_err(|e| TxError::Apply(e.into()))?;
        {
            let table = tx.open_table(BOARD).map_err(|e| TxError::Apply(e.into()))?;
            apply(&mut RedbWrite(table)).map_err(TxError::Apply)?;
        }
        // dropping `tx` on an error aborts it: nothing is written
        before_commit().map_err(TxError::Apply)?;
        tx.commit().map_err(|e| TxError::Commit(e.into()))
    }
}

impl Engine for RedbEngine {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        use redb::ReadableDatabase;
        let tx = match self.after_failure.get() {
            Some(Ok(reader)) => reader.begin_read()?,
            _ => self.db.begin_read()?,
        };
        Ok(Box::new(RedbRead(tx.open_table(BOARD)?)))
    }

    fn transact(
        &self,
        apply: &mut dyn FnMut(&mut dyn KvWrite) -> Result<(), StoreError>,
        before_commit: &mut dyn FnMut() -> Result<(), StoreError>,
    ) -> Result<(), TxError> {
        let done = self.transact_once(apply, before_commit);
        if done.is_err() {
            // the store fails for good on this error; reads go on
            self.open_reader();
        }
        done
    }
}

/// Entries of any redb table with keys in `[start, end)`.
fn redb_range<'a>(
    t: &'a impl redb::ReadableTable<&'static [u8], &'static [u8]>,
    start: &[u8],
    end: &[u8],
) -> Result<Entries<'a>, StoreError> {
    Ok(Box::new(t.range::<&[u8]>(start..end)?.map(|kv| {
        let (k, v) = kv?;
        Ok((k.value().to_vec(), v.value().to_vec()))
    })))
}

fn redb_last(
    t: &impl redb::ReadableTable<&'static [u8], &'static [u8]>,
    start: &[u8],
    end: &[u8],
) -> Result<Option<Entry>, StoreError> {
    match t.range::<&[u8]>(start..end)?.next_back() {
        Some(kv) => {
            let (k, v) = kv?;
            Ok(Some((k.value().to_vec(), v.value().to_vec())))
        }
        None => Ok(None),
    }
}

struct RedbRead(redb::ReadOnlyTable<&'static [u8], &'static [u8]>);

impl KvRead for RedbRead {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(k)?.map(|g| g.value().to_vec()))
    }

    fn range(&self, start: &[u8], end: &[u8]) -> Result<Entries<'_>, StoreError> {
        redb_range(&self.0, start, end)
    }

    fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<Entry>, StoreError> {
        redb_last(&self.0, start, end)
    }
}

struct RedbWrite<'t>(redb::Table<'t, &'static [u8], &'static [u8]>);

impl KvRead for RedbWrite<'_> {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(k)?.map(|g| g.value().to_vec()))
    }

    fn range(&self, start: &[u8], end: &[u8]) -> Result<Entries<'_>, StoreError> {
        redb_range(&self.0, start, end)
    }

    fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<Entry>, StoreError> {
        redb_last(&self.0, start, end)
    }
}

impl KvWrite for RedbWrite<'_> {
    fn insert(&mut self, k: &[u8], v: &[u8]) -> Result<(), StoreError> {
        self.0.insert(k, v)?;
        Ok(())
    }

    fn remove(&mut self, k: &[u8]) -> Result<(), StoreError> {
        self.0.remove(k)?;
        Ok(())
    }
}
