//! The log-structured engine: [fjall](https://docs.rs/fjall) 3, an LSM-tree
//! in `<data dir>/baton.fjall/` (`[storage] backend = "fjall"`).
//!
//! - **A commit group is one single-writer transaction**
//!   (`SingleWriterTxDatabase::write_tx`), committed with
//!   `PersistMode::SyncData`: the commit appends the group to fjall's
//!   journal as one batch (start marker, items, end marker with a checksum;
//!   recovery replays a batch whole or drops it) and `fdatasync`s the
//!   journal before it returns. `fdatasync` writes the data and the metadata
//!   needed to read it back (the file's size, when the journal grew past
//!   the space fjall preallocates) and flushes the drive's cache, so an
//!   acknowledged group survives a power loss as well as a `kill -9`;
//!   `SyncAll` (`fsync`) would add only timestamps, which recovery never
//!   reads, at the cost of more journal metadata writes. One sync per group.
//! - **Snapshots** are fjall's own (`read_tx`: a sequence number; a read
//!   sees every batch committed before it and nothing later).
//! - **The write transaction** reads its own writes (fjall merges its
//!   memtable into reads); dropped uncommitted it writes nothing.
//! - **Reads after a failed commit.** fjall writes a batch to its journal
//!   and syncs it before it puts the batch into its memtables and makes
//!   its sequence number visible; a commit whose journal write or sync
//!   fails returns first (and fjall refuses later writes), so snapshots
//!   keep answering with the last durable commit, as a restart shows it.
//! - **Memory** is fjall's block cache (`[storage] cache_mb`) plus the
//!   memtables not yet flushed to disk (bounded by fjall's write buffer).
//!   fjall flushes and compacts on background threads of its own.

use std::path::Path;

use fjall::{KeyspaceCreateOptions, PersistMode, Readable};

use super::{Engine, Entries, Entry, KvRead, KvWrite, Snapshot, TxError};
use crate::store::error::StoreError;

/// fjall's directory inside the data directory.
pub(crate) const FJALL_DIR: &str = "baton.fjall";

/// The keyspace everything lives in.
const BOARD: &str = "board";

/// Table files fjall keeps open at most (its default is 900); the
/// descriptor budget (`crate::descriptors`) reserves this many for it.
const FJALL_CACHED_FILES: usize = 128;

/// A fjall error as a [`StoreError`]: I/O failures (and fjall's refusal
/// of every write after one, `Poisoned`) are the disk's.
fn fjall_error(e: fjall::Error) -> StoreError {
    let io = matches!(
        e,
        fjall::Error::Io(_)
            | fjall::Error::Poisoned
            | fjall::Error::Storage(fjall::LsmError::Io(_))
    );
    StoreError::Embedded {
        engine: "fjall",
        io,
        source: Box::new(e),
    }
}

/// The fjall engine (see the module docs).
pub(crate) struct FjallEngine {
    db: fjall::SingleWriterTxDatabase,
    board: fjall::SingleWriterTxKeyspace,
}

impl FjallEngine {
    /// Open (or create) fjall in `dir/baton.fjall` with a block cache of
    /// `cache_bytes`. The caller holds the data directory's lock.
    ///
    /// Errors: [`StoreError::Open`] when fjall cannot open or recover its
    /// files.
    pub(crate) fn open(dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let open_error = |e: fjall::Error| StoreError::Open {
            path: dir.to_path_buf(),
            source: Box::new(e),
        };
        let db = fjall::SingleWriterTxDatabase::builder(dir.join(FJALL_DIR))
            .cache_size(cache_bytes)
            .max_cached_files(Some(FJALL_CACHED_FILES))
            .open()
            .map_err(open_error)?;
        let board = db
            .keyspace(BOARD, KeyspaceCreateOptions::default)
            .map_err(open_error)?;
        Ok(Self { db, board })
    }
}

impl Engine for FjallEngine {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Ok(Box::new(FjallRead {
            snap: self.db.read_tx(),
            board: self.board.inner().clone(),
        }))
    }

    fn transact(
        &self,
        apply: &mut dyn FnMut(&mut dyn KvWrite) -> Result<(), StoreError>,
        before_commit: &mut dyn FnMut() -> Result<(), StoreError>,
    ) -> Result<(), TxError> {
        let mut tx = FjallWrite {
            tx: self.db.write_tx().durability(Some(PersistMode::SyncData)),
            board: &self.board,
        };
        apply(&mut tx).map_err(TxError::Apply)?;
        // dropping `tx` on an error rolls it back: nothing is written
        before_commit().map_err(TxError::Apply)?;
        tx.tx.commit().map_err(|e| TxError::Commit(fjall_error(e)))
    }
}

/// Entries of `[start, end)` through any fjall reader (a snapshot, the
/// write transaction), forwards or from the highest key down.
fn fjall_range<'a>(
    r: &impl Readable,
    board: &fjall::Keyspace,
    start: &[u8],
    end: &[u8],
    backwards: bool,
) -> Entries<'a> {
    if start >= end {
        return Box::new(std::iter::empty());
    }
    let iter = r.range(board, start..end);
    let entry = |g: fjall::Guard| {
        let (k, v) = g.into_inner().map_err(fjall_error)?;
        Ok((k.to_vec(), v.to_vec()))
    };
    if backwards {
        Box::new(iter.rev().map(entry))
    } else {
        Box::new(iter.map(entry))
    }
}

fn fjall_get(
    r: &impl Readable,
    board: &fjall::Keyspace,
    k: &[u8],
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(r.get(board, k).map_err(fjall_error)?.map(|v| v.to_vec()))
}

/// A snapshot: fjall's own (a sequence number).
struct FjallRead {
    snap: fjall::Snapshot,
    board: fjall::Keyspace,
}

impl KvRead for FjallRead {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        fjall_get(&self.snap, &self.board, k)
    }

    fn range(&self, start: &[u8], end: &[u8]) -> Result<Entries<'_>, StoreError> {
        Ok(fjall_range(&self.snap, &self.board, start, end, false))
    }

    fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<Entry>, StoreError> {
        fjall_range(&self.snap, &self.board, start, end, true)
            .next()
            .transpose()
    }
}

/// The committer's write transaction.
struct FjallWrite<'t> {
    tx: fjall::SingleWriterWriteTx<'t>,
    board: &'t fjall::SingleWriterTxKeyspace,
}

impl KvRead for FjallWrite<'_> {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        fjall_get(&self.tx, self.board.inner(), k)
    }

    fn range(&self, start: &[u8], end: &[u8]) -> Result<Entries<'_>, StoreError> {
        Ok(fjall_range(&self.tx, self.board.inner(), start, end, false))
    }

    fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<Entry>, StoreError> {
        fjall_range(&self.tx, self.board.inner(), start, end, true)
            .next()
            .transpose()
    }
}

impl KvWrite for FjallWrite<'_> {
    fn insert(&mut self, k: &[u8], v: &[u8]) -> Result<(), StoreError> {
        self.tx.insert(self.board, k, v);
        Ok(())
    }

    fn remove(&mut self, k: &[u8]) -> Result<(), StoreError> {
        self.tx.remove(self.board, k);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot never sees a later commit; a transaction reads its own
    /// writes both ways; a failed one writes nothing.
    #[test]
    fn snapshots_and_transactions_behave_as_the_seam_says() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = FjallEngine::open(dir.path(), 8 << 20).expect("open");
        e.transact(
            &mut |t| {
                t.insert(b"a", b"old")?;
                t.insert(b"c", b"old")?;
                t.insert(b"e", b"old")
            },
            &mut || Ok(()),
        )
        .expect("commit");
        let before = e.snapshot().expect("snapshot");
        e.transact(
            &mut |t| {
                t.insert(b"b", b"new")?;
                t.remove(b"e")?;
                let seen: Vec<Entry> = t.range(b"a", b"z")?.collect::<Result<_, _>>()?;
                assert_eq!(seen.len(), 3);
                assert_eq!(t.last(b"d", b"z")?, None, "e is removed");
                assert_eq!(t.get(b"b")?, Some(b"new".to_vec()));
                Ok(())
            },
            &mut || Ok(()),
        )
        .expect("commit");
        let refused = e.transact(&mut |t| t.insert(b"x", b"new"), &mut || {
            Err(StoreError::Closed)
        });
        assert!(matches!(refused, Err(TxError::Apply(StoreError::Closed))));
        assert_eq!(before.get(b"e").expect("get"), Some(b"old".to_vec()));
        assert_eq!(before.get(b"b").expect("get"), None);
        let now = e.snapshot().expect("snapshot");
        assert_eq!(now.get(b"x").expect("get"), None);
        assert_eq!(
            now.last(b"", b"z").expect("last"),
            Some((b"c".to_vec(), b"old".to_vec()))
        );
        assert!(now.range(b"z", b"a").expect("range").next().is_none());
    }
}
