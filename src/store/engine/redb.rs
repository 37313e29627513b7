//! The embedded engine: [redb](https://docs.rs/redb), a copy-on-write
//! B-tree in one file (`<data dir>/baton.redb`) whose memory is bounded by
//! its page cache. Everything lives in one redb table (`board`), so a
//! change that touches several key spaces is one atomic write transaction,
//! committed with `Durability::Immediate` (fsync before the commit returns).

use std::path::Path;
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
            source: Box::new(source),
        };
        std::fs::create_dir_all(dir).map_err(|e| open_error(redb::Error::Io(e)))?;
        let cache = usize::try_from(cache_bytes).unwrap_or(usize::MAX);
        let deadline = std::time::Instant::now() + lock_wait;
        let db = loop {
            match redb::Builder::new()
                .set_cache_size(cache)
                .create(dir.join(DB_FILE))
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
        Ok(Self { db })
    }
}

impl Engine for RedbEngine {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        use redb::ReadableDatabase;
        Ok(Box::new(RedbRead(self.db.begin_read()?.open_table(BOARD)?)))
    }

    fn transact(
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
