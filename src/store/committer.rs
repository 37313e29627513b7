//! The committer: the store's single writer. [`Store::commit`](super::Store::commit)
//! queues a batch in [`GroupCommit`]; one thread ([`spawn`]) takes
//! everything queued, applies it in one write transaction of the engine
//! ([`apply_group`]), commits it, marks those tickets durable and only then
//! publishes their live events. The first failure fails the store for good
//! ([`fail`]).
//!
//! **Deletion** (retention, `DELETE /api/v1/tasks/{id}`) is expanded by the
//! committer, which alone knows what is on disk: [`WriteBatch::delete_task`]
//! removes the task record, its renewal, its contexts, and every audit event
//! of the task with its `x/` and `l/` entries; [`WriteBatch::prune_events`]
//! removes the oldest audit events that belong to no live task. The highest
//! event id ever removed is kept in `m/events_pruned_through`, so event ids
//! are never handed out twice (also when the newest events were removed) and
//! an SSE client resuming from before it can be told to resync.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use tokio::sync::watch;

use super::batch::{Published, Ticket, WriteBatch};
use super::engine::{Engine, KvRead, KvWrite, TxError};
use super::error::StoreError;
use super::keys::{
    collect_range, context_prefix, decode, encode, event_id_from_key, get_in, key, prefix_end,
    read_meta, task_event_key, EVENT, EVENTS_PRUNED_META, META, RENEWAL, TASK, TASK_COUNT_META,
    TASK_EVENT,
};
use super::leases::lease_index_entry;
use crate::model::{Event, EventKind, Millis, Task, TaskId, TaskStatus};

/// A commit waiting for the committer thread.
pub(super) struct Pending {
    pub(super) ticket: u64,
    pub(super) batch: WriteBatch,
}

pub(super) struct Queue {
    pub(super) items: Vec<Pending>,
    /// Last ticket handed out.
    pub(super) last_ticket: u64,
}

/// What the committer shares with the facade: the queue, the tickets
/// applied, flushed and durable, the failure, and the live-event channel.
pub(super) struct GroupCommit {
    pub(super) queue: Mutex<Queue>,
    pub(super) wake: Condvar,
    /// Last ticket handed out (mirrors `queue.last_ticket` for lock-free reads).
    pub(super) enqueued: AtomicU64,
    pub(super) events_tx: tokio::sync::broadcast::Sender<Arc<Published>>,
    /// Highest ticket whose batch was handed to sled (applied or being
    /// applied, maybe not flushed): a waiter at or below it whose flush
    /// failed has an unknown outcome, one above it was never written.
    pub(super) applied: AtomicU64,
    /// Highest ticket a successful flush covered (never the wake-up value
    /// a failure sends on `durable_tx`).
    pub(super) flushed: AtomicU64,
    /// Highest ticket known durable; `u64::MAX` once the store failed (to
    /// wake every waiter).
    pub(super) durable_tx: watch::Sender<u64>,
    pub(super) durable_rx: watch::Receiver<u64>,
    pub(super) stop: AtomicBool,
    pub(super) failure: OnceLock<String>,
    pub(super) flushes: AtomicU64,
    /// Highest event id ever deleted (`m/events_pruned_through`).
    pub(super) pruned_through: AtomicU64,
    /// Where the next [`WriteBatch::prune_events`] pass starts (in memory:
    /// after a restart the first pass starts from the oldest event again).
    pub(super) prune_cursor: AtomicU64,
    /// Fault injection (unit tests, and [`Store::fail_next_flush`](super::Store::fail_next_flush)
    /// for integration tests): idle unless a test arms it.
    pub(super) faults: faults::Faults,
}

impl GroupCommit {
    /// The committer's state for a store whose highest deleted event id is
    /// `pruned_through`, nothing queued yet.
    pub(super) fn new(pruned_through: u64) -> Self {
        let (durable_tx, durable_rx) = watch::channel(0);
        let (events_tx, _) = tokio::sync::broadcast::channel(4096);
        GroupCommit {
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
            faults: faults::Faults::default(),
        }
    }
}

/// Start the committer thread on `db`, handing out event ids from
/// `next_event` on. A panic in it is caught and fails the store.
///
/// Errors: [`StoreError::Thread`] when the thread cannot be started.
pub(super) fn spawn(
    db: Arc<dyn Engine>,
    gc: Arc<GroupCommit>,
    next_event: u64,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    std::thread::Builder::new()
        .name("baton-committer".into())
        .spawn(move || {
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                committer_loop(&*db, &gc, next_event)
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
        .map_err(StoreError::Thread)
}

/// Fail the store for good: refuse later commits and wake every waiter
/// with the error. The transaction that failed (if any) was dropped
/// uncommitted, so the writes whose writers are told they failed never
/// reach the disk later.
pub(super) fn fail(gc: &GroupCommit, what: &str, e: &dyn std::fmt::Display) {
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
                    published.push(Published::new(event, task, Ticket(ticket)));
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

/// Fault injection for tests: a panic, a failed flush, and a gate that
/// holds the committer between apply and flush. Idle (two atomic loads and
/// an uncontended lock per commit group) unless a test arms one.
pub(super) mod faults {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::{Receiver, Sender};
    use std::sync::Mutex;

    #[derive(Default)]
    pub(in crate::store) struct Faults {
        /// The next batch panics the committer before it is applied.
        pub(in crate::store) panic: AtomicBool,
        /// The next flush fails (as ENOSPC would).
        pub(in crate::store) fail_flush: AtomicBool,
        /// When set: after applying, the committer says so on the sender
        /// and waits for the receiver before flushing.
        pub(in crate::store) gate: Mutex<Option<(Sender<()>, Receiver<()>)>>,
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
