//! The store's unit tests, by room: the committer's failure handling
//! ([`committer`]), deletion and pruning ([`deletion`]), the lease index
//! ([`leases`]), backups ([`backup`]) and older data directories
//! ([`upgrades`]). The promises every engine keeps are in
//! `tests/store_conformance.rs`; these reach inside (fault injection, the
//! key spaces) and run on redb.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::engine::redb::RedbEngine;
// some of these serve only the test of the sled import (the `sled` feature)
#[cfg_attr(not(feature = "sled"), allow(unused_imports))]
use super::keys::{
    decode, encode, key, scan_prefix_in, task_event_key, EVENT, LEASE, META, TASK, TASK_COUNT_META,
};
use super::leases::LEASE_INDEX_META;
#[cfg(feature = "sled")]
use super::sled_import::SLED_MIGRATED_META;
use super::*;
use crate::model::{
    EventKind, GatewayKind, GatewayName, LeaseOutcome, LeaseRecord, Millis, TaskStatus,
};

mod backup;
mod committer;
mod deletion;
mod leases;
mod upgrades;

fn task(id: &str) -> Task {
    Task {
        created_at: 1,
        updated_at: 1,
        seq: 1,
        ..Task::for_test(id)
    }
}

#[tokio::test]
async fn commit_is_durable_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let mut b = WriteBatch::new();
        b.put_task(&task("a"));
        b.put_event(
            Event {
                id: 0,
                at: 1,
                kind: EventKind::TaskAdded,
                task_id: Some(TaskId::from_trusted("a")),
                worker: None,
                actor: None,
                slot: None,
                lease_id: None,
                from: None,
                to: Some(TaskStatus::Ready),
                reason: None,
            },
            None,
        );
        b.put_context(&TaskId::from_trusted("a"), "k", &serde_json::json!(1));
        b.put_meta("next_lease_id", 9);
        let t = store.commit(b).unwrap();
        store.wait_durable(t).await.unwrap();
        store.close().unwrap();
    }
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(store.load_tasks().unwrap(), vec![task("a")]);
    assert_eq!(store.last_event_id().unwrap(), 1);
    assert_eq!(store.events_after(0, 10).unwrap().len(), 1);
    assert_eq!(store.events_after(1, 10).unwrap().len(), 0);
    let a = TaskId::from_trusted("a");
    assert_eq!(store.task_events(&a).unwrap().len(), 1);
    assert_eq!(store.context_list(&a).unwrap()["k"], serde_json::json!(1));
    assert_eq!(store.meta("next_lease_id").unwrap(), 9);
    // a task id that is a prefix of another does not see its events
    assert!(store
        .task_events(&TaskId::from_trusted("a2"))
        .unwrap()
        .is_empty());
    store.close().unwrap();
}

fn added(id: &str) -> Event {
    Event {
        id: 0,
        at: 1,
        kind: EventKind::TaskAdded,
        task_id: Some(TaskId::from_trusted(id)),
        worker: None,
        actor: None,
        slot: None,
        lease_id: None,
        from: None,
        to: Some(TaskStatus::Ready),
        reason: None,
    }
}

fn add(id: &str) -> WriteBatch {
    let mut b = WriteBatch::new();
    b.put_task(&task(id));
    b.put_event(added(id), None);
    b
}

/// Hold the committer between apply and flush; returns (applied, open).
fn gate(store: &Store) -> (std::sync::mpsc::Receiver<()>, std::sync::mpsc::Sender<()>) {
    let (applied_tx, applied_rx) = std::sync::mpsc::channel();
    let (open_tx, open_rx) = std::sync::mpsc::channel();
    *store.gc.faults.gate.lock().unwrap() = Some((applied_tx, open_rx));
    (applied_rx, open_tx)
}

const BOUND: Duration = Duration::from_secs(10);

fn all_leases() -> LeaseQuery {
    LeaseQuery {
        since: None,
        until: None,
        worker: None,
        after: None,
        limit: 100,
        max_scan: 1000,
    }
}

/// Keys of every key space, as (prefix, count), for assertions.
fn key_spaces(store: &Store) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for kv in scan_prefix_in(&store.read().unwrap(), b"").unwrap() {
        let (k, _) = kv.unwrap();
        *out.entry(String::from_utf8_lossy(&k[..2]).into_owned())
            .or_insert(0) += 1;
    }
    out
}

fn lease_event(kind: EventKind, lease: u64, worker: &str, at: Millis) -> Event {
    Event {
        id: 0,
        at,
        kind,
        task_id: Some(TaskId::from_trusted(format!("t{lease}"))),
        worker: Some(worker.to_owned()),
        slot: Some(0),
        lease_id: Some(lease),
        from: Some(if kind == EventKind::TaskClaimed {
            TaskStatus::Ready
        } else {
            TaskStatus::Running
        }),
        to: Some(TaskStatus::Running),
        reason: (kind == EventKind::TaskExpired).then(|| "lease expired".to_owned()),
        actor: None,
    }
}

#[test]
fn unknown_format_version_is_reported_not_panicked() {
    let err = decode::<Task>(b"t/x", &[9, b'{', b'}']).unwrap_err();
    assert!(err.to_string().contains("unknown format version 9"));
}
