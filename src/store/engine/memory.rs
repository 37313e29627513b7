//! The memory engine: the board's ordered key space as a `BTreeMap` in this
//! process, for tests and embedders that want a board without a disk or a
//! server. Like apalis' in-memory backend it is the cheapest engine behind
//! the same seam, and it runs the same conformance suite
//! (`tests/store_conformance.rs`) as redb and PostgreSQL, so the store's
//! rules are checked in milliseconds and a new engine has a reference to
//! agree with.
//!
//! - **No durability.** A commit is "durable" once it is in the map; the
//!   board is gone with the process. Nothing here survives a crash, and
//!   nothing claims to.
//! - **Snapshots** share the map: the engine keeps it behind an `Arc`, a
//!   snapshot clones that `Arc`, and a commit changes the map copy-on-write
//!   (`Arc::make_mut`: in place when no snapshot holds it, else on a copy),
//!   so a snapshot never sees a later commit and a reader never waits for
//!   the committer.
//! - **A transaction** collects its writes in an overlay over the map it
//!   started from (reads through it see them); they reach the map only
//!   after `before_commit` succeeded, and an error drops them unwritten.
//!   One transaction runs at a time.
//! - **A [`MemoryBoard`] outlives its stores**: a test can close a store and
//!   open another on the same board, as a restart would (without a crash).
//!   One store at a time: opening a board a live store still holds waits
//!   for it as long as a data directory's lock would, then fails with
//!   [`StoreError::Locked`].

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

use super::{Engine, Entries, Entry, KvRead, KvWrite, Snapshot, TxError};
use crate::store::error::StoreError;

/// The key space: keys and values as bytes, in key order.
type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// What [`StoreError::Locked`] names as the "directory" of a board in
/// memory.
const MEMORY_PATH: &str = "(memory)";

/// A board kept in this process's memory: open a store on it with
/// [`Store::open_memory`](crate::store::Store::open_memory). Cheap to
/// clone; clones name the same board. The board (every key the stores on it
/// wrote) lives as long as any clone of it, and no longer: nothing is ever
/// written to a disk.
#[derive(Clone, Default)]
pub struct MemoryBoard(Arc<Shared>);

#[derive(Default)]
struct Shared {
    /// The committed key space; replaced copy-on-write by each commit.
    map: RwLock<Arc<Map>>,
    /// Whether an engine (a live store) holds the board.
    held: Mutex<bool>,
    /// Signalled when the engine holding the board lets it go.
    released: Condvar,
}

impl MemoryBoard {
    /// A new, empty board.
    pub fn new() -> Self {
        Self::default()
    }

    /// The committed key space now (a snapshot: later commits do not
    /// change it).
    fn committed(&self) -> Arc<Map> {
        Arc::clone(&self.0.map.read().unwrap_or_else(|p| p.into_inner()))
    }
}

impl std::fmt::Debug for MemoryBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBoard")
            .field("keys", &self.committed().len())
            .finish_non_exhaustive()
    }
}

/// The engine of one store on a [`MemoryBoard`]; lets the board go when
/// dropped (the store closed).
pub(crate) struct MemoryEngine {
    board: MemoryBoard,
    /// Held for the whole of a write transaction: one at a time.
    writer: Mutex<()>,
}

impl MemoryEngine {
    /// Take `board` for one store, waiting up to `wait` while another
    /// store still holds it.
    ///
    /// Errors: [`StoreError::Locked`] when it is still held after `wait`.
    pub(crate) fn open(board: &MemoryBoard, wait: Duration) -> Result<Self, StoreError> {
        let shared = &board.0;
        let held = shared.held.lock().unwrap_or_else(|p| p.into_inner());
        let (mut held, _) = shared
            .released
            .wait_timeout_while(held, wait, |held| *held)
            .unwrap_or_else(|p| p.into_inner());
        if *held {
            return Err(StoreError::Locked {
                path: PathBuf::from(MEMORY_PATH),
            });
        }
        *held = true;
        Ok(Self {
            board: board.clone(),
            writer: Mutex::new(()),
        })
    }
}

impl Drop for MemoryEngine {
    fn drop(&mut self) {
        let shared = &self.board.0;
        *shared.held.lock().unwrap_or_else(|p| p.into_inner()) = false;
        shared.released.notify_all();
    }
}

impl Engine for MemoryEngine {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Ok(Box::new(MemoryRead(self.board.committed())))
    }

    fn transact(
        &self,
        apply: &mut dyn FnMut(&mut dyn KvWrite) -> Result<(), StoreError>,
        before_commit: &mut dyn FnMut() -> Result<(), StoreError>,
    ) -> Result<(), TxError> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let base = self.board.committed();
        let mut tx = MemoryWrite {
            base: &base,
            overlay: BTreeMap::new(),
        };
        apply(&mut tx).map_err(TxError::Apply)?;
        let overlay = tx.overlay;
        // an error here drops the overlay: nothing is written
        before_commit().map_err(TxError::Apply)?;
        // the transaction's own hold on the map goes first, so the commit
        // changes it in place unless a reader's snapshot still holds it
        drop(base);
        let mut map = self.board.0.map.write().unwrap_or_else(|p| p.into_inner());
        let map = Arc::make_mut(&mut map);
        for (k, v) in overlay {
            match v {
                Some(v) => map.insert(k, v),
                None => map.remove(&k),
            };
        }
        Ok(())
    }
}

/// The bounds of a range of keys, as `BTreeMap::range` takes them.
type KeyRange<'k> = (Bound<&'k [u8]>, Bound<&'k [u8]>);

/// `[start, end)` as the bounds of a map range; `None` when it is empty
/// (`BTreeMap::range` panics on a start after the end).
fn bounds<'k>(start: &'k [u8], end: &'k [u8]) -> Option<KeyRange<'k>> {
    (start < end).then_some((Bound::Included(start), Bound::Excluded(end)))
}

/// A snapshot: the map as it was committed when the snapshot was taken.
struct MemoryRead(Arc<Map>);

impl KvRead for MemoryRead {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(k).cloned())
    }

    fn range(&self, start: &[u8], end: &[u8]) -> Result<Entries<'_>, StoreError> {
        let Some(range) = bounds(start, end) else {
            return Ok(Box::new(std::iter::empty()));
        };
        Ok(Box::new(
            self.0
                .range::<[u8], _>(range)
                .map(|(k, v)| Ok((k.clone(), v.clone()))),
        ))
    }

    fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<Entry>, StoreError> {
        let Some(range) = bounds(start, end) else {
            return Ok(None);
        };
        Ok(self
            .0
            .range::<[u8], _>(range)
            .next_back()
            .map(|(k, v)| (k.clone(), v.clone())))
    }
}

/// A write transaction: the committed map it started from, and its own
/// writes over it (`None`: removed).
struct MemoryWrite<'b> {
    base: &'b Map,
    overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl MemoryWrite<'_> {
    /// The entries of `[start, end)` as this transaction sees them, in key
    /// order, or from the highest key down when `backwards`.
    fn merged(
        &self,
        start: &[u8],
        end: &[u8],
        backwards: bool,
    ) -> Box<dyn Iterator<Item = Entry> + '_> {
        let Some(range) = bounds(start, end) else {
            return Box::new(std::iter::empty());
        };
        let base = self.base.range::<[u8], _>(range);
        let overlay = self.overlay.range::<[u8], _>(range);
        if backwards {
            Box::new(Merge::new(base.rev(), overlay.rev(), true))
        } else {
            Box::new(Merge::new(base, overlay, false))
        }
    }
}

impl KvRead for MemoryWrite<'_> {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(match self.overlay.get(k) {
            Some(written) => written.clone(),
            None => self.base.get(k).cloned(),
        })
    }

    fn range(&self, start: &[u8], end: &[u8]) -> Result<Entries<'_>, StoreError> {
        Ok(Box::new(self.merged(start, end, false).map(Ok)))
    }

    fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<Entry>, StoreError> {
        Ok(self.merged(start, end, true).next())
    }
}

impl KvWrite for MemoryWrite<'_> {
    fn insert(&mut self, k: &[u8], v: &[u8]) -> Result<(), StoreError> {
        self.overlay.insert(k.to_vec(), Some(v.to_vec()));
        Ok(())
    }

    fn remove(&mut self, k: &[u8]) -> Result<(), StoreError> {
        self.overlay.insert(k.to_vec(), None);
        Ok(())
    }
}

/// Two ranges of keys in the same direction merged into one: the committed
/// entries and a transaction's writes over them. A written key hides the
/// committed one; a removed key (`None`) is left out.
struct Merge<'a, B, O>
where
    B: Iterator<Item = (&'a Vec<u8>, &'a Vec<u8>)>,
    O: Iterator<Item = (&'a Vec<u8>, &'a Option<Vec<u8>>)>,
{
    base: Peekable<B>,
    overlay: Peekable<O>,
    /// Keys come from the highest down.
    backwards: bool,
}

impl<'a, B, O> Merge<'a, B, O>
where
    B: Iterator<Item = (&'a Vec<u8>, &'a Vec<u8>)>,
    O: Iterator<Item = (&'a Vec<u8>, &'a Option<Vec<u8>>)>,
{
    fn new(base: B, overlay: O, backwards: bool) -> Self {
        Self {
            base: base.peekable(),
            overlay: overlay.peekable(),
            backwards,
        }
    }
}

impl<'a, B, O> Iterator for Merge<'a, B, O>
where
    B: Iterator<Item = (&'a Vec<u8>, &'a Vec<u8>)>,
    O: Iterator<Item = (&'a Vec<u8>, &'a Option<Vec<u8>>)>,
{
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        loop {
            let order = match (self.base.peek(), self.overlay.peek()) {
                (None, None) => return None,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some((b, _)), Some((o, _))) if self.backwards => o.cmp(b),
                (Some((b, _)), Some((o, _))) => b.cmp(o),
            };
            // `Less`: the committed entry comes first; `Equal`: the write
            // hides it; `Greater`: the write comes first
            if order == std::cmp::Ordering::Less {
                return self.base.next().map(|(k, v)| (k.clone(), v.clone()));
            }
            if order == std::cmp::Ordering::Equal {
                self.base.next();
            }
            if let Some((k, Some(v))) = self.overlay.next() {
                return Some((k.clone(), v.clone()));
            }
            // a removal: nothing to yield for this key
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board_with(keys: &[&str]) -> MemoryEngine {
        let engine = MemoryEngine::open(&MemoryBoard::new(), Duration::ZERO).unwrap();
        engine
            .transact(
                &mut |t| {
                    for k in keys {
                        t.insert(k.as_bytes(), b"old")?;
                    }
                    Ok(())
                },
                &mut || Ok(()),
            )
            .unwrap();
        engine
    }

    fn keys(entries: impl Iterator<Item = Entry>) -> Vec<String> {
        entries
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&v)
                )
            })
            .collect()
    }

    /// Inside a transaction, reads see its own writes and removals laid
    /// over the committed keys, in both directions; a snapshot taken before
    /// sees none of them, before or after the commit.
    #[test]
    fn a_transaction_reads_its_own_writes_and_a_snapshot_never_does() {
        let engine = board_with(&["a", "c", "e"]);
        let before = engine.snapshot().unwrap();
        engine
            .transact(
                &mut |t| {
                    t.insert(b"b", b"new")?;
                    t.insert(b"c", b"new")?;
                    t.remove(b"e")?;
                    t.remove(b"x")?;
                    let forwards: Vec<Entry> = t.range(b"a", b"z")?.collect::<Result<_, _>>()?;
                    assert_eq!(keys(forwards.into_iter()), ["a=old", "b=new", "c=new"]);
                    assert_eq!(t.last(b"a", b"z")?, Some((b"c".to_vec(), b"new".to_vec())));
                    assert_eq!(t.last(b"d", b"z")?, None, "e is removed");
                    assert_eq!(t.get(b"e")?, None);
                    assert_eq!(t.count_present(&[b"a".to_vec(), b"e".to_vec()])?, 1);
                    Ok(())
                },
                &mut || Ok(()),
            )
            .unwrap();
        let old: Vec<Entry> = before
            .range(b"", b"z")
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(keys(old.into_iter()), ["a=old", "c=old", "e=old"]);
        let now: Vec<Entry> = engine
            .snapshot()
            .unwrap()
            .range(b"", b"z")
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(keys(now.into_iter()), ["a=old", "b=new", "c=new"]);
        // an empty or inverted range is empty, not a panic
        assert!(before.range(b"z", b"a").unwrap().next().is_none());
        assert_eq!(before.last(b"c", b"c").unwrap(), None);
    }

    /// A transaction whose apply or before-commit step fails writes nothing.
    #[test]
    fn a_failed_transaction_writes_nothing() {
        let engine = board_with(&["a"]);
        let refused = engine.transact(&mut |t| t.insert(b"b", b"new"), &mut || {
            Err(StoreError::Closed)
        });
        assert!(matches!(refused, Err(TxError::Apply(StoreError::Closed))));
        assert_eq!(engine.snapshot().unwrap().get(b"b").unwrap(), None);
    }

    /// One store at a time: a board held by a live engine is refused after
    /// the wait, and taken again once that engine is gone, with its keys.
    #[test]
    fn a_board_is_held_by_one_engine_at_a_time_and_keeps_its_keys() {
        let board = MemoryBoard::new();
        let first = MemoryEngine::open(&board, Duration::ZERO).unwrap();
        first
            .transact(&mut |t| t.insert(b"k", b"v"), &mut || Ok(()))
            .unwrap();
        let refused = MemoryEngine::open(&board, Duration::from_millis(20));
        assert!(matches!(refused, Err(StoreError::Locked { .. })));
        drop(first);
        let again = MemoryEngine::open(&board, Duration::ZERO).unwrap();
        assert_eq!(
            again.snapshot().unwrap().get(b"k").unwrap(),
            Some(b"v".to_vec())
        );
    }
}
