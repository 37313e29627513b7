//! The seam between the store and the engine under it: an ordered key space
//! of byte keys and byte values, read through consistent snapshots and
//! written by one transaction per commit group.
//!
//! Everything above this seam (the key layout, versioned values, group
//! commit, the failure semantics, deletion and pruning, the lease index,
//! backups) is the store's own and the same for every engine; an engine
//! only has to provide what an ordered, transactional key-value store
//! provides. [`RedbEngine`] is the embedded one.

use std::path::Path;
use std::time::Duration;

use redb::ReadableTable;

use super::{Entry, StoreError, DB_FILE};

/// Entries in key order, read lazily.
pub(crate) type Entries<'a> = Box<dyn Iterator<Item = Result<Entry, StoreError>> + 'a>;

/// A consistent read view of the key space: it shows every transaction
/// committed before it was taken and nothing later (a snapshot), or, for the
/// committer, its own transaction's writes so far.
pub(crate) trait KvRead {
    /// The value under `k`.
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Entries with keys in `[start, end)`, in key order.
    fn range(&self, start: &[u8], end: &[u8]) -> Result<Entries<'_>, StoreError>;
    /// The entry with the highest key in `[start, end)`.
    fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<Entry>, StoreError>;
}

impl<T: KvRead + ?Sized> KvRead for Box<T> {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(k)
    }

    fn range(&self, start: &[u8], end: &[u8]) -> Result<Entries<'_>, StoreError> {
        (**self).range(start, end)
    }

    fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<Entry>, StoreError> {
        (**self).last(start, end)
    }
}

/// The committer's write transaction. Reads through it see its writes.
pub(crate) trait KvWrite: KvRead {
    /// Set `k` to `v`.
    fn insert(&mut self, k: &[u8], v: &[u8]) -> Result<(), StoreError>;
    /// Remove `k` (nothing happens if it is absent).
    fn remove(&mut self, k: &[u8]) -> Result<(), StoreError>;
    /// How many of `keys` (distinct) hold a value now.
    fn count_present(&self, keys: &[Vec<u8>]) -> Result<u64, StoreError> {
        let mut n = 0;
        for k in keys {
            if self.get(k)?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }
}

/// A read snapshot that can move to another thread (start-up decodes on
/// one of its own; backups stream from a blocking thread).
pub(crate) type Snapshot = Box<dyn KvRead + Send>;

/// How a transaction failed.
#[derive(Debug)]
pub(crate) enum TxError {
    /// Before the commit began: nothing of the transaction was written.
    Apply(StoreError),
    /// During the commit: it may or may not have reached the disk.
    Commit(StoreError),
}

impl TxError {
    /// The error, whichever side of the commit it came from.
    pub(crate) fn into_store(self) -> StoreError {
        match self {
            TxError::Apply(e) | TxError::Commit(e) => e,
        }
    }
}

/// An engine: snapshots for readers, one write transaction at a time.
pub(crate) trait Engine: Send + Sync {
    /// A snapshot of everything committed so far.
    fn snapshot(&self) -> Result<Snapshot, StoreError>;

    /// One write transaction: `apply` makes its writes; `before_commit`
    /// runs between the writes and the durable commit (the committer marks
    /// the group applied there). An error of either drops the transaction
    /// unwritten ([`TxError::Apply`]); the commit returns once the
    /// transaction is durable (fsync) or failed ([`TxError::Commit`]).
    fn transact(
        &self,
        apply: &mut dyn FnMut(&mut dyn KvWrite) -> Result<(), StoreError>,
        before_commit: &mut dyn FnMut() -> Result<(), StoreError>,
    ) -> Result<(), TxError>;
}

/// The one redb table everything lives in (keys and values are bytes; the
/// key spaces are prefixes, see the module docs).
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
            source,
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
