//! The seam between the store and the engine under it: an ordered key space
//! of byte keys and byte values, read through consistent snapshots and
//! written by one transaction per commit group.
//!
//! Everything above this seam (the key layout, versioned values, group
//! commit, the failure semantics, deletion and pruning, the lease index,
//! backups) is the store's own and the same for every engine; an engine
//! only has to provide what an ordered, transactional key-value store
//! provides. The engines under it:
//!
//! | engine | where the board lives | durable once |
//! |---|---|---|
//! | [`redb`] | `<data dir>/baton.redb`, embedded | redb's commit returned (fsync) |
//! | `sled` | `<data dir>/baton.sled/`, embedded (cargo feature `sled`) | the batch applied, sled's log flushed and `fdatasync`ed |
//! | [`fjall`] | `<data dir>/baton.fjall/`, embedded | the transaction's journal batch `fdatasync`ed |
//! | [`postgres`] | one table of a PostgreSQL database, shared by the nodes of [`leader`] | `COMMIT` returned (WAL flushed) |
//! | [`memory`] | a `BTreeMap` in this process (tests, embedders) | never: gone with the process |
//!
//! Which embedded engine a data directory holds is recorded in it (see
//! `store/datadir.rs`).

use super::error::StoreError;

pub(crate) mod fjall;
pub mod leader;
pub(crate) mod memory;
pub(crate) mod postgres;
pub(crate) mod redb;
#[cfg(feature = "sled")]
pub(crate) mod sled;

/// A stored key and its value.
pub(crate) type Entry = (Vec<u8>, Vec<u8>);

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
