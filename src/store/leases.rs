//! The lease index and heartbeats: which lease held which task when, read
//! without walking the whole audit log, and the last renewal of a running
//! lease.
//!
//! **Lease index.** The committer also writes, for every event that starts
//! (`task_claimed`) or ends (completed, failed, retried, released, expired,
//! cancelled while running) a lease, an `l/` entry pointing at that event, in
//! the same atomic batch. [`Store::lease_history`](super::Store::lease_history) reads leases in claim
//! order from it and the audit events it points to. A data directory written
//! before the index existed is indexed once by
//! [`Store::open`](super::Store::open) ([`index_leases`]).
//!
//! **Heartbeats** write only an `h/` record (24 bytes), not the task and no
//! audit event: reads of a task lay the renewal over the stored record when
//! it is for the same lease, and every full write of the task removes it
//! (the record then carries the latest expiry itself).

use super::engine::{Engine, KvRead, TxError};
use super::error::StoreError;
use super::keys::{
    decode, event_id_from_key, get_in, key, prefix_end, range_in, scan_prefix_in, EVENT, LEASE,
    META, RENEWAL,
};
use crate::model::{Event, EventKind, LeaseOutcome, LeaseRecord, Millis, Task, TaskStatus};

/// `m/` counter naming the version of the `l/` lease index that is complete.
pub(super) const LEASE_INDEX_META: &str = "lease_index";
pub(super) const LEASE_INDEX_VERSION: u64 = 1;
const LEASE_CLAIM: u8 = 0;
const LEASE_END: u8 = 1;

/// Filters and paging of [`Store::lease_history`](super::Store::lease_history). A lease is listed when it
/// overlaps the window `[since, until)`: claimed before `until` and not ended
/// before `since`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseQuery {
    /// Leave out leases that ended before this time (ms since the epoch).
    pub since: Option<Millis>,
    /// Leave out leases claimed at or after this time (ms since the epoch).
    pub until: Option<Millis>,
    /// Only leases held by this worker.
    pub worker: Option<String>,
    /// Continue after this lease id (the previous page's `next_cursor`).
    pub after: Option<u64>,
    /// Most leases returned.
    pub limit: usize,
    /// Most leases looked at in one call (bounds the work of a sparse filter);
    /// the page then ends early with a `next_cursor`.
    pub max_scan: usize,
}

/// One page of [`Store::lease_history`](super::Store::lease_history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHistory {
    /// Leases in lease-id (= claim) order.
    pub leases: Vec<LeaseRecord>,
    /// Lease id to continue after; `None` when nothing follows. A page may be
    /// shorter than the limit (even empty) and still have one, when the scan
    /// budget ran out first.
    pub next_cursor: Option<u64>,
}

/// One `l/` entry: which lease, claim or end, and the event it points to.
struct LeaseEntry {
    lease: u64,
    mark: u8,
    event: u64,
    at: Millis,
}

/// Leases in claim order (lease id), read from the `l/` index and the
/// audit events it points to; see [`LeaseQuery`] for the filters. Reads
/// at most `max_scan` leases' index entries and decodes only the leases
/// it returns.
pub(super) fn lease_history(
    snapshot: &dyn KvRead,
    q: &LeaseQuery,
) -> Result<LeaseHistory, StoreError> {
    let empty = LeaseHistory {
        leases: Vec::new(),
        next_cursor: None,
    };
    let first = match q.after {
        None => 0,
        Some(a) => match a.checked_add(1) {
            Some(f) => f,
            None => return Ok(empty),
        },
    };
    // one snapshot for the index and the events it points to
    let mut entries = range_in(
        snapshot,
        &key(LEASE, &first.to_be_bytes()),
        &prefix_end(LEASE),
    )?
    .map(|kv| kv.and_then(|(k, v)| lease_entry(&k, &v)))
    .peekable();
    let mut leases = Vec::new();
    let mut scanned = 0usize;
    while let Some(e) = entries.next() {
        let e = e?;
        let lease = e.lease;
        let (mut claim, mut ended) = (None, None);
        let mut put = |e: LeaseEntry| match e.mark {
            LEASE_CLAIM => claim = Some(e),
            _ => ended = Some(e),
        };
        put(e);
        while let Some(Ok(n)) = entries.peek() {
            if n.lease != lease {
                break;
            }
            if let Some(n) = entries.next().transpose()? {
                put(n);
            }
        }
        scanned += 1;
        if let Some(claim) = claim {
            if let Some(r) = lease_record(snapshot, q, &claim, ended.as_ref())? {
                leases.push(r);
            }
        }
        if entries.peek().is_none() {
            break;
        }
        if leases.len() >= q.limit || scanned >= q.max_scan {
            return Ok(LeaseHistory {
                leases,
                next_cursor: Some(lease),
            });
        }
    }
    Ok(LeaseHistory {
        leases,
        next_cursor: None,
    })
}

/// One lease from its index entries, if it passes the filters.
fn lease_record(
    snapshot: &dyn KvRead,
    q: &LeaseQuery,
    claim: &LeaseEntry,
    ended: Option<&LeaseEntry>,
) -> Result<Option<LeaseRecord>, StoreError> {
    if q.until.is_some_and(|u| claim.at >= u)
        || q.since.is_some_and(|s| ended.is_some_and(|e| e.at < s))
    {
        return Ok(None);
    }
    let Some(claimed) = event_in(snapshot, claim.event)? else {
        tracing::warn!(
            lease_id = claim.lease,
            "lease index points to a missing claim event"
        );
        return Ok(None);
    };
    let (Some(task_id), Some(worker)) = (claimed.task_id, claimed.worker) else {
        return Ok(None);
    };
    if q.worker.as_ref().is_some_and(|w| *w != worker) {
        return Ok(None);
    }
    let end_event = match ended {
        Some(e) => event_in(snapshot, e.event)?,
        None => None,
    };
    let (ended_at, outcome, reason) = match end_event {
        Some(ev) => (
            Some(ev.at),
            LeaseOutcome::of_end(ev.kind).unwrap_or(LeaseOutcome::Failed),
            ev.reason,
        ),
        None => (None, LeaseOutcome::Running, None),
    };
    Ok(Some(LeaseRecord {
        task_id,
        lease_id: claim.lease,
        worker,
        slot: claimed.slot,
        owner: claimed.actor,
        claimed_at: claimed.at,
        ended_at,
        outcome,
        reason,
    }))
}

/// One audit event by id.
fn event_in(snapshot: &dyn KvRead, id: u64) -> Result<Option<Event>, StoreError> {
    let k = key(EVENT, &id.to_be_bytes());
    get_in(snapshot, &k)?.map(|v| decode(&k, &v)).transpose()
}

/// `task` with its `h/` heartbeat record applied, if it has one.
pub(super) fn with_renewal(t: &dyn KvRead, mut task: Task) -> Result<Task, StoreError> {
    if task.lease.is_some() {
        let k = key(RENEWAL, task.id.as_str().as_bytes());
        if let Some(v) = get_in(t, &k)? {
            renew(&mut task, renewal(&k, &v)?);
        }
    }
    Ok(task)
}

/// A decoded `h/` record: (lease id, expires_at, renewed at).
pub(super) fn renewal(k: &[u8], v: &[u8]) -> Result<(u64, Millis, Millis), StoreError> {
    let word = |i: usize| {
        v.get(i * 8..i * 8 + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
    };
    match (word(0), word(1), word(2)) {
        (Some(lease), Some(expires_at), Some(at)) if v.len() == 24 => Ok((lease, expires_at, at)),
        _ => Err(StoreError::Corrupt {
            key: String::from_utf8_lossy(k).into_owned(),
            reason: "malformed heartbeat record".into(),
        }),
    }
}

/// Lay a heartbeat over a task record when it is for the task's lease.
pub(super) fn renew(task: &mut Task, (lease_id, expires_at, at): (u64, Millis, Millis)) {
    if let Some(l) = task.lease.as_mut().filter(|l| l.lease_id == lease_id) {
        // the renewal's expiry as is: a heartbeat may also shorten a lease
        // (the compat routes renew by their own, shorter TTL)
        l.expires_at = expires_at;
        task.updated_at = task.updated_at.max(at);
    }
}

/// The `l/` entry an event adds, if it starts or ends a lease.
pub(super) fn lease_index_entry(ev: &Event) -> Option<(Vec<u8>, Vec<u8>)> {
    let lease = ev.lease_id?;
    let mark = match ev.kind {
        EventKind::TaskClaimed => LEASE_CLAIM,
        k if LeaseOutcome::of_end(k).is_some() && ev.from == Some(TaskStatus::Running) => LEASE_END,
        _ => return None,
    };
    let mut k = key(LEASE, &lease.to_be_bytes());
    k.push(mark);
    let mut v = Vec::with_capacity(16);
    v.extend_from_slice(&ev.id.to_be_bytes());
    v.extend_from_slice(&ev.at.to_be_bytes());
    Some((k, v))
}

fn lease_entry(k: &[u8], v: &[u8]) -> Result<LeaseEntry, StoreError> {
    let corrupt = || StoreError::Corrupt {
        key: String::from_utf8_lossy(k).into_owned(),
        reason: "malformed lease index entry".into(),
    };
    let rest = k.get(LEASE.len()..).ok_or_else(corrupt)?;
    if rest.len() != 9 || v.len() != 16 {
        return Err(corrupt());
    }
    Ok(LeaseEntry {
        lease: event_id_from_key(&rest[..8]),
        mark: rest[8],
        event: event_id_from_key(&v[..8]),
        at: event_id_from_key(&v[8..]),
    })
}

/// Build the `l/` lease index from the audit log once (a data directory
/// written before the index existed); a no-op when it is complete.
pub(super) fn index_leases(db: &dyn Engine) -> Result<(), StoreError> {
    let meta_key = key(META, LEASE_INDEX_META.as_bytes());
    let snapshot = db.snapshot()?;
    let done = get_in(&*snapshot, &meta_key)?
        .is_some_and(|v| v.len() == 8 && event_id_from_key(&v) >= LEASE_INDEX_VERSION);
    if done {
        return Ok(());
    }
    let mut entries = Vec::new();
    for kv in scan_prefix_in(&*snapshot, EVENT)? {
        let (k, v) = kv?;
        match decode::<Event>(&k, &v) {
            Ok(ev) => entries.extend(lease_index_entry(&ev)),
            Err(e) => tracing::warn!(error = %e, "audit event left out of the lease index"),
        }
    }
    drop(snapshot);
    db.transact(
        &mut |t| {
            for (k, v) in &entries {
                t.insert(k, v)?;
            }
            t.insert(&meta_key, &LEASE_INDEX_VERSION.to_be_bytes())?;
            Ok(())
        },
        &mut || Ok(()),
    )
    .map_err(TxError::into_store)?;
    if !entries.is_empty() {
        tracing::info!(
            entries = entries.len(),
            "built the lease index from the audit log"
        );
    }
    Ok(())
}
