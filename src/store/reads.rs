//! Reads of the board over one snapshot each: task records (with their
//! last heartbeat laid over them), the audit log, context values and the
//! other key spaces, decoded. [`Store`](super::Store)'s read methods take
//! the snapshot and call these; the lease index has its own room
//! ([`super::leases`]).
//!
//! A snapshot shows only committed transactions; the caller passes
//! [`Store::barrier`](super::Store::barrier) before it shows what it read.

use serde::de::DeserializeOwned;

use super::engine::{Entry, KvRead, Snapshot};
use super::error::StoreError;
use super::keys::{
    collect_range, context_key, context_prefix, decode, event_id_from_key, get_in, key, prefix_end,
    range_in, scan_prefix_in, EVENT, RENEWAL, TASK, TASK_EVENT,
};
use super::leases::{renew, renewal, with_renewal};
use crate::model::{Event, Task, TaskId};

/// Hand every task record (with its last heartbeat laid over it) to
/// `visit`, in id order, one at a time: start-up rebuilds the board from
/// it without holding every record twice (a `Vec` of a 1,000,000-task
/// board is half a gigabyte, and growing it cost a fifth of start-up).
///
/// Reading and decoding run on a thread of their own, a chunk of records
/// ahead of `visit` (decoding is about a third of a start-up's CPU, and
/// building the maps most of the rest).
pub(super) fn for_each_task(
    snapshot: Snapshot,
    mut visit: impl FnMut(Task),
) -> Result<(), StoreError> {
    const CHUNK: usize = 1024;
    let mut renewals = std::collections::HashMap::new();
    for kv in scan_prefix_in(&snapshot, RENEWAL)? {
        let (k, v) = kv?;
        renewals.insert(k[RENEWAL.len()..].to_vec(), renewal(&k, &v)?);
    }
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Task>>(8);
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("baton-load".into())
            .spawn_scoped(scope, move || -> Result<(), StoreError> {
                let mut chunk = Vec::with_capacity(CHUNK);
                for kv in scan_prefix_in(&snapshot, TASK)? {
                    let (k, v) = kv?;
                    let mut t: Task = decode(&k, &v)?;
                    if let Some(r) = renewals.get(t.id.as_str().as_bytes()) {
                        renew(&mut t, *r);
                    }
                    chunk.push(t);
                    if chunk.len() == CHUNK {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                        if tx.send(full).is_err() {
                            return Ok(()); // the visitor stopped
                        }
                    }
                }
                if !chunk.is_empty() {
                    let _ = tx.send(chunk);
                }
                Ok(())
            })
            .map_err(StoreError::Thread)?;
        for chunk in rx {
            chunk.into_iter().for_each(&mut visit);
        }
        reader.join().map_err(|_| StoreError::Corrupt {
            key: "t/".into(),
            reason: "the thread decoding task records panicked".into(),
        })?
    })
}

/// One task record (with its last heartbeat laid over it).
pub(super) fn get_task(snapshot: &dyn KvRead, id: &TaskId) -> Result<Option<Task>, StoreError> {
    let k = key(TASK, id.as_str().as_bytes());
    let Some(v) = get_in(snapshot, &k)? else {
        return Ok(None);
    };
    with_renewal(snapshot, decode(&k, &v)?).map(Some)
}

/// Task records in id order, starting after `after` (exclusive).
pub(super) fn tasks_after(
    snapshot: Snapshot,
    after: Option<&str>,
) -> impl Iterator<Item = Result<Task, StoreError>> + Send {
    let start = match after {
        Some(a) => {
            let mut k = key(TASK, a.as_bytes());
            k.push(0);
            k
        }
        None => TASK.to_vec(),
    };
    let pages = Paged::new(start, prefix_end(TASK));
    let mut pages = pages;
    std::iter::from_fn(move || {
        let (k, v) = match pages.next_in(&*snapshot)? {
            Ok(kv) => kv,
            Err(e) => return Some(Err(e)),
        };
        Some(decode(&k, &v).and_then(|t| with_renewal(&*snapshot, t)))
    })
}

/// Up to `limit` events with id greater than `after`, oldest first.
pub(super) fn events_after(
    snapshot: &dyn KvRead,
    after: u64,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let start = key(EVENT, &(after.saturating_add(1)).to_be_bytes());
    range_in(snapshot, &start, &prefix_end(EVENT))?
        .take(limit)
        .map(|kv| {
            let (k, v) = kv?;
            decode(&k, &v)
        })
        .collect()
}

/// The audit log of one task, oldest first.
pub(super) fn task_events(snapshot: &dyn KvRead, task: &TaskId) -> Result<Vec<Event>, StoreError> {
    let mut prefix = key(TASK_EVENT, task.as_str().as_bytes());
    prefix.push(0);
    let mut out = Vec::new();
    for kv in scan_prefix_in(snapshot, &prefix)? {
        let (k, _) = kv?;
        let id = event_id_from_key(&k[prefix.len()..]);
        let ek = key(EVENT, &id.to_be_bytes());
        if let Some(v) = get_in(snapshot, &ek)? {
            out.push(decode(&ek, &v)?);
        }
    }
    Ok(out)
}

/// One context value of a task.
pub(super) fn context_get(
    snapshot: &dyn KvRead,
    task: &TaskId,
    ctx_key: &str,
) -> Result<Option<serde_json::Value>, StoreError> {
    let k = context_key(task, ctx_key);
    get_in(snapshot, &k)?.map(|v| decode(&k, &v)).transpose()
}

/// Every context value of a task, by key.
pub(super) fn context_list(
    snapshot: &dyn KvRead,
    task: &TaskId,
) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
    let prefix = context_prefix(task);
    let mut out = serde_json::Map::new();
    for kv in scan_prefix_in(snapshot, &prefix)? {
        let (k, v) = kv?;
        let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
        out.insert(name, decode(&k, &v)?);
    }
    Ok(out)
}

/// Every value under `prefix`, decoded.
pub(super) fn scan<T: DeserializeOwned>(
    snapshot: &dyn KvRead,
    prefix: &[u8],
) -> Result<Vec<T>, StoreError> {
    scan_prefix_in(snapshot, prefix)?
        .map(|kv| {
            let (k, v) = kv?;
            decode(&k, &v)
        })
        .collect()
}

/// A walk over `[start, end)` of a snapshot it does not borrow: entries are
/// read a page at a time, each page starting after the last key read (so an
/// iterator can own its snapshot).
struct Paged {
    next: Vec<u8>,
    end: Vec<u8>,
    page: std::collections::VecDeque<Entry>,
    done: bool,
}

impl Paged {
    const PAGE: usize = 256;

    fn new(start: Vec<u8>, end: Vec<u8>) -> Self {
        Self {
            next: start,
            end,
            page: std::collections::VecDeque::new(),
            done: false,
        }
    }

    /// The next entry, reading the next page from `t` when needed.
    fn next_in(&mut self, t: &dyn KvRead) -> Option<Result<Entry, StoreError>> {
        if self.page.is_empty() && !self.done {
            match collect_range(t, &self.next, &self.end, Self::PAGE) {
                Ok(entries) => {
                    self.done = entries.len() < Self::PAGE;
                    if let Some((k, _)) = entries.last() {
                        self.next = k.clone();
                        self.next.push(0); // the first key after it
                    }
                    self.page.extend(entries);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        self.page.pop_front().map(Ok)
    }
}
