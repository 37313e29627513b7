//! Deleting tasks and pruning the audit log, expanded by the committer.

use super::*;

#[tokio::test]
async fn deleting_a_task_removes_everything_under_it_and_never_reuses_its_event_ids() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    let mut b = add("keep");
    b.put_meta("lease_ceiling", 1024);
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();
    let baseline = key_spaces(&store);
    let mut done = task("t7");
    done.status = TaskStatus::Done;
    let mut b = WriteBatch::new();
    b.put_task(&done);
    b.put_event(added("t7"), None);
    b.put_event(lease_event(EventKind::TaskClaimed, 7, "w", 2), None);
    b.put_event(lease_event(EventKind::TaskCompleted, 7, "w", 3), None);
    b.put_context(&done.id, "k", &serde_json::json!({"v": 1}));
    b.put_renewal(&done.id, 7, 10, 2);
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();
    assert_eq!(store.lease_history(&all_leases()).unwrap().leases.len(), 1);
    let newest = store.last_event_id().unwrap();

    let mut b = WriteBatch::new();
    b.delete_task(&done.id);
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();
    let mut after = key_spaces(&store);
    // the pruned-through counter is the one key the deletion adds
    assert_eq!(after.get("m/").copied(), baseline.get("m/").map(|n| n + 1));
    after.insert("m/".into(), baseline["m/"]);
    assert_eq!(after, baseline, "keys left behind");
    assert_eq!(store.events_pruned_through(), newest);
    assert!(store
        .lease_history(&all_leases())
        .unwrap()
        .leases
        .is_empty());
    assert_eq!(
        store.last_event_id().unwrap(),
        newest,
        "ids handed out stay handed out"
    );
    store.close().unwrap();
    drop(store);

    // the deleted events were the newest: a restart must not hand their ids out again
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(store.events_pruned_through(), newest);
    store
        .wait_durable(store.commit(add("next")).unwrap())
        .await
        .unwrap();
    let ev = store.task_events(&TaskId::from_trusted("next")).unwrap();
    assert_eq!(ev[0].id, newest + 1);
}

#[tokio::test]
async fn pruning_events_keeps_those_of_live_tasks_and_stops_at_the_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    let live = task("live"); // ready
    let mut finished = task("fin");
    finished.status = TaskStatus::Done;
    let mut failed = task("resettable");
    failed.status = TaskStatus::Failed;
    let slot_event = |at| Event {
        task_id: None,
        kind: EventKind::SlotClaimed,
        at,
        slot: Some(1),
        ..added("x")
    };
    let at = |mut e: Event, at| {
        e.at = at;
        e
    };
    let mut b = WriteBatch::new();
    b.put_task(&live);
    b.put_task(&finished);
    b.put_task(&failed);
    b.put_event(at(added("live"), 10), None);
    b.put_event(slot_event(11), None);
    b.put_event(at(added("fin"), 12), None);
    b.put_event(at(added("gone"), 13), None); // its task was never stored
    b.put_event(at(added("resettable"), 14), None); // failed: may be reset
    b.put_event(slot_event(500), None); // newer than the cutoff
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();

    let mut b = WriteBatch::new();
    b.prune_events(100, 1000);
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();
    let left: Vec<(EventKind, u64)> = store
        .events_after(0, 100)
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.at))
        .collect();
    assert_eq!(
        left,
        vec![
            (EventKind::TaskAdded, 10),
            (EventKind::TaskAdded, 14),
            (EventKind::SlotClaimed, 500)
        ]
    );
    assert_eq!(store.task_events(&live.id).unwrap().len(), 1);
    assert!(store.task_events(&finished.id).unwrap().is_empty());
    assert_eq!(store.task_events(&failed.id).unwrap().len(), 1);
    assert_eq!(
        store.load_tasks().unwrap().len(),
        3,
        "tasks are not touched"
    );

    // bounded: a pass examines at most `max` events
    let mut b = WriteBatch::new();
    for i in 0..10 {
        b.put_event(slot_event(600 + i), None);
    }
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();
    let mut b = WriteBatch::new();
    b.prune_events(10_000, 4);
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();
    // the first pass reached its cutoff, so this one starts over: the two
    // kept events (live, resettable) count against its 4, then 500 and 600 go
    assert_eq!(store.events_after(0, 100).unwrap().len(), 3 + 10 - 2);
}

/// Review of the retention pass: the scan cursor moved past the old
/// events of a task that was still live, so once that task was done they
/// stayed until the task itself was deleted. The cursor now starts over
/// after each full cycle, and they go in a later one.
#[tokio::test]
async fn events_kept_for_a_live_task_are_pruned_once_it_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    let mut running = task("long");
    running.status = TaskStatus::Running;
    let mut b = WriteBatch::new();
    b.put_task(&running);
    let mut old = added("long");
    old.at = 10;
    b.put_event(old, None);
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();
    let prune = || {
        let mut b = WriteBatch::new();
        b.prune_events(100, 1000);
        b
    };
    store
        .wait_durable(store.commit(prune()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        store.task_events(&running.id).unwrap().len(),
        1,
        "live: kept"
    );

    running.status = TaskStatus::Done;
    let mut b = WriteBatch::new();
    b.put_task(&running);
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();
    store
        .wait_durable(store.commit(prune()).unwrap())
        .await
        .unwrap();
    assert!(
        store.task_events(&running.id).unwrap().is_empty(),
        "done and old: pruned on the next cycle"
    );
    assert!(store.events_after(0, 10).unwrap().is_empty());
}
