//! The design card's engine: [sled](https://docs.rs/sled) 0.34, a
//! log-structured B-tree in `<data dir>/baton.sled/` (`[storage] backend =
//! "sled"`, behind the `sled` cargo feature, on by default).
//!
//! - **A commit group is one [`sled::Batch`]**, applied with
//!   `Tree::apply_batch` (sled seals a batch in its log so that recovery
//!   replays all of it or none of it), then made durable with
//!   `Tree::flush`, which writes sled's dirty log buffers with `pwrite` and
//!   waits for them with `sync_file_range(WAIT_BEFORE | WRITE |
//!   WAIT_AFTER)`, and then an `fdatasync` of sled's log file (`db`) by this
//!   engine. Once `pwrite` returned the bytes are the kernel's, so a
//!   `kill -9` of baton cannot take them back; `sync_file_range` alone does
//!   not flush the drive's cache nor the file's size when the log grew,
//!   which is what the `fdatasync` adds against a power loss. (Values over
//!   a quarter of sled's 512 KiB segments go to files in `blobs/`, which
//!   sled writes but never syncs: they survive a `kill -9`, not
//!   necessarily a power loss.)
//! - **Snapshots.** sled has none: an iterator sees writes made while it
//!   runs, and a read between two steps of a batch waits for it but then
//!   sees it. This engine keeps them above sled: every commit group is a
//!   generation; a snapshot remembers the generation it was taken at; and a
//!   group committed while an older snapshot is alive first records the
//!   values its keys had before (an undo entry, kept in memory while such a
//!   snapshot lives). A snapshot's read reads sled and then lays over it
//!   the earliest undo entry newer than the snapshot that holds the key.
//!   Range reads go in chunks, each read from sled first and then
//!   corrected by the undo entries of its key interval, so a group applied
//!   during the scan is seen through its undo entry, never half.
//! - **The write transaction** collects its writes in an overlay over the
//!   tree (reads through it see them); they reach sled only after
//!   `before_commit` succeeded. One transaction at a time.
//! - **Reads after a failed flush.** A group whose apply, flush or sync
//!   failed may be in sled's memory (and on disk or not after a restart).
//!   Every group records its keys' earlier values first; on a failure
//!   those become a permanent undo entry and every later snapshot is
//!   taken at the generation before the group: the last durable state,
//!   which is what a restart shows of everything acknowledged.
//!   That covers a failure before sled saw the group and one that left sled
//!   working. After a real I/O error (a full disk) sled 0.34 latches it,
//!   and a read may write (it consolidates the pages it reads), so reads
//!   can fail with that error until a restart; redb and fjall keep
//!   answering.
//! - **Memory grows with the keys written**: sled 0.34 keeps materialised
//!   copies of the nodes it wrote, beyond `cache_capacity` (BENCHMARKS.md
//!   measures it on the 1,000,000-task board). redb and fjall are bounded
//!   by their caches.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Engine, Entries, Entry, KvRead, KvWrite, Snapshot, TxError};
use crate::store::error::StoreError;

/// sled's directory inside the data directory.
pub(crate) const SLED_DIR: &str = "baton.sled";

/// The tree everything lives in (as in the sled stores of older batons).
const BOARD: &str = "board";

/// Keys read from sled per step of a snapshot's range scan (the first
/// step reads fewer: a `last` rarely needs more than one key).
const CHUNK: usize = 256;

/// A sled error as a [`StoreError`].
fn sled_error(e: sled::Error) -> StoreError {
    let io = matches!(e, sled::Error::Io(_));
    StoreError::Embedded {
        engine: "sled",
        io,
        source: Box::new(e),
    }
}

/// An I/O error of the engine's own (the log file's `fdatasync`).
fn io_error(e: std::io::Error) -> StoreError {
    StoreError::Embedded {
        engine: "sled",
        io: true,
        source: Box::new(e),
    }
}

/// A key's values before later commit groups: `None` where it was absent.
type Undo = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The generations above sled (see the module docs).
#[derive(Default)]
struct Versions {
    /// Generation of the last commit group applied to sled.
    current: u64,
    /// Live snapshots, counted by the generation they were taken at.
    readers: BTreeMap<u64, usize>,
    /// For each generation an older live snapshot predates: its keys'
    /// values before it.
    undo: BTreeMap<u64, Undo>,
    /// Once a commit group failed after it reached sled: the generation
    /// before it, the last one known durable. Every later snapshot is
    /// taken at it (a permanent reader keeps the failed group's undo
    /// entry), so reads show what a restart shows at least, never the
    /// group whose outcome is unknown.
    durable: Option<u64>,
}

impl Versions {
    /// Generation `failed` did not become durable: from now on snapshots
    /// are taken at the generation before it, whose values `undo` holds
    /// for the keys `failed` changed (a snapshot taken in between, at
    /// `failed`, may still show it).
    fn pin_before(&mut self, failed: u64, undo: Undo) {
        let durable = failed - 1;
        self.undo.entry(failed).or_insert(undo);
        *self.readers.entry(durable).or_default() += 1;
        self.durable = Some(durable);
    }

    /// Drop the undo entries no live snapshot needs: generation `h` is
    /// needed while a snapshot of a generation below `h` lives.
    fn prune(&mut self) {
        match self.readers.keys().next() {
            None => self.undo.clear(),
            Some(&oldest) => {
                let keep = self.undo.split_off(&(oldest + 1));
                self.undo = keep;
            }
        }
    }

    /// The value `k` had at generation `generation`, if a later group
    /// changed it (`Some(None)`: it was absent then); `None` when no group
    /// after `generation` touched it (sled's value is the one).
    fn before(&self, generation: u64, k: &[u8]) -> Option<Option<Vec<u8>>> {
        self.undo
            .range(generation + 1..)
            .find_map(|(_, undo)| undo.get(k).cloned())
    }

    /// The keys of `interval` that groups after `generation` changed, with
    /// their values at `generation`.
    fn changed_in(&self, generation: u64, interval: Interval<'_>) -> Undo {
        let mut out = Undo::new();
        for undo in self.undo.range(generation + 1..).map(|(_, u)| u) {
            for (k, v) in undo.range::<[u8], _>(interval) {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        out
    }
}

/// The sled engine (see the module docs).
pub(crate) struct SledEngine {
    db: sled::Db,
    tree: sled::Tree,
    /// sled's log file, synced after each flush.
    log: std::fs::File,
    versions: Arc<Mutex<Versions>>,
    /// Held for the whole of a write transaction: one at a time.
    writer: Mutex<()>,
    /// Set once a transaction failed in sled (see `Drop`).
    failed: std::sync::atomic::AtomicBool,
    /// One more handle, leaked instead of dropped after a failure (see
    /// `Drop`).
    keep: Option<sled::Db>,
}

impl SledEngine {
    /// Open (or create) sled in `dir/baton.sled` with a cache of
    /// `cache_bytes`. The caller holds the data directory's lock.
    ///
    /// Errors: [`StoreError::Open`] when sled cannot open its files.
    pub(crate) fn open(dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let path = dir.join(SLED_DIR);
        let open_error = |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Open {
            path: dir.to_path_buf(),
            source,
        };
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(cache_bytes)
            // every commit group flushes; sled's own timer would only add syncs
            .flush_every_ms(None)
            .open()
            .map_err(|e| open_error(Box::new(e)))?;
        let tree = db.open_tree(BOARD).map_err(|e| open_error(Box::new(e)))?;
        let log = std::fs::File::open(path.join("db")).map_err(|e| open_error(Box::new(e)))?;
        Ok(Self {
            keep: Some(db.clone()),
            db,
            tree,
            log,
            versions: Arc::default(),
            writer: Mutex::new(()),
            failed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn versions(&self) -> MutexGuard<'_, Versions> {
        lock(&self.versions)
    }

    /// A snapshot of everything applied so far.
    fn read(&self) -> SledRead {
        let mut v = self.versions();
        let generation = v.durable.unwrap_or(v.current);
        *v.readers.entry(generation).or_default() += 1;
        SledRead {
            tree: self.tree.clone(),
            generation,
            versions: Arc::clone(&self.versions),
        }
    }
}

fn lock(v: &Mutex<Versions>) -> MutexGuard<'_, Versions> {
    v.lock().unwrap_or_else(|p| p.into_inner())
}

impl Drop for SledEngine {
    fn drop(&mut self) {
        // After a failed write (a full disk), sled's last handle would wait
        // for ever in the flush it makes when dropped, for log space it
        // cannot get; baton then could not shut down. The handles are let
        // go without being dropped instead: nothing unacknowledged needs
        // the flush, and a store that failed is not reopened in this
        // process (sled's lock on its log stays held until it exits).
        if self.failed.load(std::sync::atomic::Ordering::SeqCst) {
            std::mem::forget(self.keep.take());
            return;
        }
        // sled flushes when its last handle goes too; this makes a failure
        // visible in the log instead of silent
        if let Err(e) = self.db.flush() {
            tracing::warn!(error = %e, "sled: the flush on close failed");
        }
    }
}

impl Engine for SledEngine {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Ok(Box::new(self.read()))
    }

    fn transact(
        &self,
        apply: &mut dyn FnMut(&mut dyn KvWrite) -> Result<(), StoreError>,
        before_commit: &mut dyn FnMut() -> Result<(), StoreError>,
    ) -> Result<(), TxError> {
        // a group refused by `before_commit` (an injected failed flush)
        // never touched sled, which can still flush on drop; any other
        // error may be sled's latched I/O error (see `Drop`)
        let mut refused = false;
        let outcome = {
            let mut guarded = || {
                let done = before_commit();
                refused = done.is_err();
                done
            };
            self.transact_once(apply, &mut guarded)
        };
        if outcome.is_err() && !refused {
            self.failed.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        outcome
    }
}

impl SledEngine {
    /// [`Engine::transact`], without noting its failure.
    fn transact_once(
        &self,
        apply: &mut dyn FnMut(&mut dyn KvWrite) -> Result<(), StoreError>,
        before_commit: &mut dyn FnMut() -> Result<(), StoreError>,
    ) -> Result<(), TxError> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut tx = SledWrite {
            tree: &self.tree,
            writes: BTreeMap::new(),
        };
        apply(&mut tx).map_err(TxError::Apply)?;
        let writes = tx.writes;
        // an error here drops the writes: nothing reaches sled
        before_commit().map_err(TxError::Apply)?;
        if writes.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for (k, v) in &writes {
            match v {
                Some(v) => batch.insert(k.as_slice(), v.as_slice()),
                None => batch.remove(k.as_slice()),
            }
        }
        // the keys' values before this group: the undo entry of a snapshot
        // taken before it, and what reads show if its flush fails
        let mut undo = Undo::new();
        for k in writes.keys() {
            let old = self
                .tree
                .get(k)
                .map_err(|e| TxError::Apply(sled_error(e)))?;
            undo.insert(k.clone(), old.map(|o| o.to_vec()));
        }
        let next = {
            // held until the generation moved on: a snapshot is taken
            // either before (and gets the undo entry) or after this group
            let mut v = self.versions();
            let next = v.current + 1;
            if !v.readers.is_empty() {
                v.undo.insert(next, undo.clone());
            }
            // from here on the outcome is unknown until the sync returned
            let applied = self.tree.apply_batch(batch);
            v.current = next;
            if let Err(e) = applied {
                v.pin_before(next, undo);
                return Err(TxError::Commit(sled_error(e)));
            }
            next
        };
        let synced = self
            .tree
            .flush()
            .map_err(|e| TxError::Commit(sled_error(e)))
            .and_then(|_| {
                self.log
                    .sync_data()
                    .map_err(|e| TxError::Commit(io_error(e)))
            });
        if synced.is_err() {
            self.versions().pin_before(next, undo);
        }
        synced
    }
}

/// The bounds of an interval of keys.
type Interval<'k> = (Bound<&'k [u8]>, Bound<&'k [u8]>);

/// `[start, end)` as bounds; `None` when it is empty (sled, like
/// `BTreeMap`, must not be asked for an inverted range).
fn bounds<'k>(start: &'k [u8], end: &'k [u8]) -> Option<Interval<'k>> {
    (start < end).then_some((Bound::Included(start), Bound::Excluded(end)))
}

fn entry(kv: sled::Result<(sled::IVec, sled::IVec)>) -> Result<Entry, StoreError> {
    let (k, v) = kv.map_err(sled_error)?;
    Ok((k.to_vec(), v.to_vec()))
}

/// A snapshot: sled's tree read as it was at `generation`.
struct SledRead {
    tree: sled::Tree,
    generation: u64,
    versions: Arc<Mutex<Versions>>,
}

impl Drop for SledRead {
    fn drop(&mut self) {
        let mut v = lock(&self.versions);
        if let Some(n) = v.readers.get_mut(&self.generation) {
            *n -= 1;
            if *n == 0 {
                v.readers.remove(&self.generation);
            }
        }
        v.prune();
    }
}

impl KvRead for SledRead {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        // sled first, then the undo entries: a group applied in between
        // recorded its undo entry before it touched sled
        let now = self.tree.get(k).map_err(sled_error)?;
        match lock(&self.versions).before(self.generation, k) {
            Some(then) => Ok(then),
            None => Ok(now.map(|v| v.to_vec())),
        }
    }

    fn range(&self, start: &[u8], end: &[u8]) -> Result<Entries<'_>, StoreError> {
        Ok(Box::new(Scan::new(self, start, end, false)))
    }

    fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<Entry>, StoreError> {
        Scan::new(self, start, end, true).next().transpose()
    }
}

/// A snapshot's range scan, a chunk at a time (see the module docs).
struct Scan<'s> {
    snap: &'s SledRead,
    /// The keys not yet read: `[lo, hi)`; `lo` inclusive, `hi` exclusive.
    lo: Vec<u8>,
    hi: Vec<u8>,
    backwards: bool,
    /// Keys to read in the next chunk.
    chunk: usize,
    ready: VecDeque<Entry>,
    done: bool,
}

impl<'s> Scan<'s> {
    fn new(snap: &'s SledRead, start: &[u8], end: &[u8], backwards: bool) -> Self {
        Self {
            snap,
            lo: start.to_vec(),
            hi: end.to_vec(),
            backwards,
            chunk: 8,
            ready: VecDeque::new(),
            done: start >= end,
        }
    }

    /// Read the next chunk from sled, correct it by the undo entries of
    /// the key interval it covers, and queue its entries.
    fn fill(&mut self) -> Result<(), StoreError> {
        let Some(range) = bounds(&self.lo, &self.hi) else {
            self.done = true;
            return Ok(());
        };
        let iter = self.snap.tree.range::<&[u8], _>(range);
        let read: Vec<Entry> = if self.backwards {
            iter.rev()
                .take(self.chunk)
                .map(entry)
                .collect::<Result<_, _>>()?
        } else {
            iter.take(self.chunk).map(entry).collect::<Result<_, _>>()?
        };
        let full = read.len() == self.chunk;
        self.chunk = (self.chunk * 4).min(CHUNK);
        // the interval this chunk covers, and where the next one starts
        let (interval, next): (Interval<'_>, Option<Vec<u8>>) = match read.last() {
            Some((k, _)) if full && !self.backwards => (
                (
                    Bound::Included(self.lo.as_slice()),
                    Bound::Included(k.as_slice()),
                ),
                Some(successor(k)),
            ),
            Some((k, _)) if full => (
                (
                    Bound::Included(k.as_slice()),
                    Bound::Excluded(self.hi.as_slice()),
                ),
                Some(k.clone()),
            ),
            _ => (
                (
                    Bound::Included(self.lo.as_slice()),
                    Bound::Excluded(self.hi.as_slice()),
                ),
                None,
            ),
        };
        let changed = lock(&self.snap.versions).changed_in(self.snap.generation, interval);
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = read
            .into_iter()
            .filter(|(k, _)| !changed.contains_key(k))
            .collect();
        merged.extend(changed.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        if self.backwards {
            self.ready.extend(merged.into_iter().rev());
        } else {
            self.ready.extend(merged);
        }
        match next {
            Some(k) if self.backwards => self.hi = k,
            Some(k) => self.lo = k,
            None => self.done = true,
        }
        Ok(())
    }
}

/// The smallest key after `k`.
fn successor(k: &[u8]) -> Vec<u8> {
    let mut next = k.to_vec();
    next.push(0);
    next
}

impl Iterator for Scan<'_> {
    type Item = Result<Entry, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(Ok(e));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.fill() {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}

/// The write transaction: sled as the last group left it (the committer is
/// its only writer) under this transaction's writes (`None`: removed).
struct SledWrite<'t> {
    tree: &'t sled::Tree,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl SledWrite<'_> {
    /// The entries of `[start, end)` as this transaction sees them, in key
    /// order, or from the highest key down when `backwards`.
    fn merged(&self, start: &[u8], end: &[u8], backwards: bool) -> Entries<'_> {
        let Some(range) = bounds(start, end) else {
            return Box::new(std::iter::empty());
        };
        let base = self.tree.range::<&[u8], _>(range);
        let writes = self.writes.range::<[u8], _>(range);
        if backwards {
            Box::new(Overlay::new(base.rev().map(entry), writes.rev(), true))
        } else {
            Box::new(Overlay::new(base.map(entry), writes, false))
        }
    }
}

impl KvRead for SledWrite<'_> {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.writes.get(k) {
            Some(written) => Ok(written.clone()),
            None => Ok(self.tree.get(k).map_err(sled_error)?.map(|v| v.to_vec())),
        }
    }

    fn range(&self, start: &[u8], end: &[u8]) -> Result<Entries<'_>, StoreError> {
        Ok(self.merged(start, end, false))
    }

    fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<Entry>, StoreError> {
        self.merged(start, end, true).next().transpose()
    }
}

impl KvWrite for SledWrite<'_> {
    fn insert(&mut self, k: &[u8], v: &[u8]) -> Result<(), StoreError> {
        self.writes.insert(k.to_vec(), Some(v.to_vec()));
        Ok(())
    }

    fn remove(&mut self, k: &[u8]) -> Result<(), StoreError> {
        self.writes.insert(k.to_vec(), None);
        Ok(())
    }
}

/// Stored entries (in one direction) merged with a transaction's writes
/// over them (same direction): a written key hides the stored one; a
/// removed key (`None`) is left out.
struct Overlay<'w, B, W>
where
    B: Iterator<Item = Result<Entry, StoreError>>,
    W: Iterator<Item = (&'w Vec<u8>, &'w Option<Vec<u8>>)>,
{
    base: std::iter::Peekable<B>,
    writes: std::iter::Peekable<W>,
    backwards: bool,
}

impl<'w, B, W> Overlay<'w, B, W>
where
    B: Iterator<Item = Result<Entry, StoreError>>,
    W: Iterator<Item = (&'w Vec<u8>, &'w Option<Vec<u8>>)>,
{
    fn new(base: B, writes: W, backwards: bool) -> Self {
        Self {
            base: base.peekable(),
            writes: writes.peekable(),
            backwards,
        }
    }
}

impl<'w, B, W> Iterator for Overlay<'w, B, W>
where
    B: Iterator<Item = Result<Entry, StoreError>>,
    W: Iterator<Item = (&'w Vec<u8>, &'w Option<Vec<u8>>)>,
{
    type Item = Result<Entry, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.base.peek(), self.writes.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) => return self.base.next(),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(Ok((b, _))), Some((w, _))) if self.backwards => w.as_slice().cmp(b),
                (Some(Ok((b, _))), Some((w, _))) => b.as_slice().cmp(w),
            };
            // `Less`: the stored entry comes first; `Equal`: the write
            // hides it; `Greater`: the write comes first
            if order == std::cmp::Ordering::Less {
                return self.base.next();
            }
            if order == std::cmp::Ordering::Equal {
                self.base.next();
            }
            if let Some((k, Some(v))) = self.writes.next() {
                return Some(Ok((k.clone(), v.clone())));
            }
            // a removal: nothing to yield for this key
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(dir: &Path) -> SledEngine {
        SledEngine::open(dir, 8 << 20).expect("open sled")
    }

    fn put(e: &SledEngine, writes: &[(&str, Option<&str>)]) {
        e.transact(
            &mut |t| {
                for (k, v) in writes {
                    match v {
                        Some(v) => t.insert(k.as_bytes(), v.as_bytes())?,
                        None => t.remove(k.as_bytes())?,
                    }
                }
                Ok(())
            },
            &mut || Ok(()),
        )
        .expect("commit");
    }

    fn all(r: &dyn KvRead, start: &str, end: &str) -> Vec<String> {
        r.range(start.as_bytes(), end.as_bytes())
            .expect("range")
            .map(|kv| {
                let (k, v) = kv.expect("entry");
                format!(
                    "{}={}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&v)
                )
            })
            .collect()
    }

    /// A snapshot keeps showing the board as it was when it was taken,
    /// through later commits that change, add and remove keys (also keys
    /// beyond a scan chunk), in gets, scans both ways and `last`; a
    /// snapshot taken later sees them.
    #[test]
    fn a_snapshot_never_sees_a_later_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = engine(dir.path());
        let many: Vec<(String, Option<&str>)> = (0..600)
            .map(|i| (format!("k{i:04}"), Some("old")))
            .collect();
        let many: Vec<(&str, Option<&str>)> = many.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        put(&e, &many);
        let before = e.read();
        put(
            &e,
            &[
                ("k0000", Some("new")),
                ("k0300", None),
                ("k0300a", Some("new")),
            ],
        );
        let middle = e.read();
        put(
            &e,
            &[("k0599", None), ("k0600", Some("new")), ("k0001", None)],
        );
        let old = all(&before, "k", "l");
        assert_eq!(old.len(), 600);
        assert!(old.iter().all(|kv| kv.ends_with("=old")), "{old:?}");
        assert_eq!(before.get(b"k0300").expect("get"), Some(b"old".to_vec()));
        assert_eq!(before.get(b"k0300a").expect("get"), None);
        assert_eq!(
            before.last(b"k", b"l").expect("last"),
            Some((b"k0599".to_vec(), b"old".to_vec()))
        );
        let back: Vec<Entry> = Scan::new(&before, b"k", b"l", true)
            .collect::<Result<_, _>>()
            .expect("scan back");
        assert_eq!(back.len(), 600);
        assert_eq!(back[0].0, b"k0599".to_vec());
        let mid = all(&middle, "k", "l");
        assert_eq!(mid.len(), 600, "one removed, one added");
        assert_eq!(mid[0], "k0000=new");
        assert!(mid.contains(&"k0300a=new".to_owned()));
        assert!(mid.contains(&"k0001=old".to_owned()));
        let now = all(&*e.snapshot().expect("snapshot"), "k", "l");
        assert_eq!(now.len(), 599);
        assert_eq!(now.last().map(String::as_str), Some("k0600=new"));
        drop((before, middle));
        assert!(
            e.versions().undo.is_empty(),
            "undo entries go with the snapshots"
        );
        assert!(e.versions().readers.is_empty());
    }

    /// Inside a transaction, reads see its own writes over sled's keys in
    /// both directions; a failed transaction writes nothing.
    #[test]
    fn a_transaction_reads_its_own_writes_and_a_failed_one_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = engine(dir.path());
        put(
            &e,
            &[("a", Some("old")), ("c", Some("old")), ("e", Some("old"))],
        );
        e.transact(
            &mut |t| {
                t.insert(b"b", b"new")?;
                t.insert(b"c", b"new")?;
                t.remove(b"e")?;
                assert_eq!(all(&*t, "a", "z"), ["a=old", "b=new", "c=new"]);
                assert_eq!(t.last(b"a", b"z")?, Some((b"c".to_vec(), b"new".to_vec())));
                assert_eq!(t.last(b"d", b"z")?, None, "e is removed");
                Ok(())
            },
            &mut || Ok(()),
        )
        .expect("commit");
        let refused = e.transact(&mut |t| t.insert(b"x", b"new"), &mut || {
            Err(StoreError::Closed)
        });
        assert!(matches!(refused, Err(TxError::Apply(StoreError::Closed))));
        let snap = e.snapshot().expect("snapshot");
        assert_eq!(all(&*snap, "", "z"), ["a=old", "b=new", "c=new"]);
        assert!(snap.range(b"z", b"a").expect("range").next().is_none());
    }
}
