//! A backup and its restore, through the store's own reads.

use super::*;

/// Everything a backup carries, read back through the store's own reads.
fn observable(store: &Store) -> serde_json::Value {
    let tasks = store.load_tasks().unwrap();
    let contexts: Vec<_> = tasks
        .iter()
        .map(|t| store.context_list(&t.id).unwrap())
        .collect();
    let task_events: Vec<_> = tasks
        .iter()
        .map(|t| store.task_events(&t.id).unwrap())
        .collect();
    serde_json::json!({
        "tasks": tasks,
        "contexts": contexts,
        "task_events": task_events,
        "events": store.events_after(0, 1000).unwrap(),
        "leases": store.lease_history(&all_leases()).unwrap().leases,
        "slots": store.load_slots().unwrap(),
        "gateway_names": store.load_gateway_names().unwrap(),
        "requests": store.load_requests().unwrap(),
        "lease_ceiling": store.meta("lease_ceiling").unwrap(),
        "last_event_id": store.last_event_id().unwrap(),
        "pruned_through": store.events_pruned_through(),
        "task_count": store.task_count().unwrap(),
    })
}

fn export_lines(store: &Store) -> Vec<String> {
    let mut lines = Vec::new();
    store
        .export(|l| {
            lines.push(l);
            true
        })
        .unwrap();
    lines
}

#[tokio::test]
async fn a_backup_restores_into_an_empty_store_as_the_same_board() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    let mut b = add("gone");
    b.put_meta("lease_ceiling", 2048);
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();
    // a deleted task: its event ids stay handed out after the restore
    let mut b = WriteBatch::new();
    b.delete_task(&TaskId::from_trusted("gone"));
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();
    let mut running = task("t7");
    running.status = TaskStatus::Running;
    running.lease = Some(Box::new(crate::model::Lease {
        task_id: running.id.clone(),
        lease_id: 7,
        worker: "w".into(),
        slot: 0,
        expires_at: 100,
        claimed_at: 2,
        owner: None,
        compat: false,
    }));
    let mut b = add("a");
    b.put_task(&running);
    b.put_event(lease_event(EventKind::TaskClaimed, 7, "w", 2), None);
    b.put_context(&running.id, "notes", &serde_json::json!({"v": [1, 2]}));
    b.put_slot(&SlotRecord {
        slot: 3,
        worker: "w".into(),
        since: 1,
        expires_at: Some(50),
        task: None,
    });
    for (kind, name, server, target) in [
        (GatewayKind::Tool, "fs__read", "fs", "read"),
        (GatewayKind::Prompt, "fs__read", "fs", "read"),
        (GatewayKind::Tool, "fs__read_0123456789", "fs", "read.me"),
    ] {
        b.put_gateway_name(&GatewayName {
            kind,
            name: name.into(),
            server: server.into(),
            target: target.into(),
        });
    }
    b.put_request(&crate::model::RequestRecord {
        key: crate::model::RequestKey {
            kind: crate::model::RequestKind::ClaimNext,
            owner: Some("alice".into()),
            worker: "w".into(),
            request_id: "r-1".into(),
        },
        at: 2,
        answer: crate::model::RequestAnswer::Lease {
            task_id: running.id.clone(),
            lease_id: 7,
        },
    });
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();
    // a heartbeat after the last full write: the backup carries its expiry
    let mut b = WriteBatch::new();
    b.put_renewal(&running.id, 7, 900, 3);
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();

    let lines = export_lines(&store);
    let before = observable(&store);
    assert_eq!(before["gateway_names"].as_array().map(Vec::len), Some(3));
    assert_eq!(before["requests"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        before["tasks"][1]["lease"]["expires_at"],
        "1970-01-01T00:00:00.900Z"
    );
    let target = tempfile::tempdir().unwrap();
    let summary = Store::restore(
        target.path(),
        1 << 20,
        std::io::Cursor::new(lines.join("\n")),
    )
    .unwrap();
    assert_eq!((summary.tasks, summary.events), (2, 2));
    let restored = Store::open(target.path(), 1 << 20).unwrap();
    assert_eq!(observable(&restored), before);
    // and a second round trip writes the same records
    assert_eq!(export_lines(&restored)[1..], lines[1..]);

    // new writes continue after every id handed out before the backup
    restored
        .wait_durable(restored.commit(add("next")).unwrap())
        .await
        .unwrap();
    let ev = restored.task_events(&TaskId::from_trusted("next")).unwrap();
    assert_eq!(ev[0].id, before["last_event_id"].as_u64().unwrap() + 1);

    restored.close().unwrap();
    drop(restored);

    // a store that holds a board refuses, and so does a file cut short
    let err = Store::restore(
        target.path(),
        1 << 20,
        std::io::Cursor::new(lines.join("\n")),
    )
    .unwrap_err();
    assert!(
        matches!(err, crate::store::backup::BackupError::NotEmpty(_)),
        "{err}"
    );
    let empty = tempfile::tempdir().unwrap();
    let cut = lines[..lines.len() - 1].join("\n");
    let err = Store::restore(empty.path(), 1 << 20, std::io::Cursor::new(cut)).unwrap_err();
    assert!(
        matches!(err, crate::store::backup::BackupError::Truncated(_)),
        "{err}"
    );
    let fresh = Store::open(empty.path(), 1 << 20).unwrap();
    assert!(
        fresh.load_tasks().unwrap().is_empty(),
        "nothing of a refused file is kept"
    );
    assert_eq!(fresh.last_event_id().unwrap(), 0);
    fresh.close().unwrap();
    store.close().unwrap();
}

/// A backup written before gateway names were kept (format version 1: no
/// `gateway_name` lines) still restores, as the same board with no gateway
/// names; a store that kept gateway names counts as holding a board.
#[tokio::test]
async fn a_version_1_backup_still_restores() {
    let v1 = [
        r#"{"format":"baton-backup","version":1,"created_at":"2026-12-02T03:40:00.000Z","baton":"0.1.0","last_event_id":1,"events_pruned_through":0}"#,
        r#"{"meta":{"name":"lease_ceiling","value":1024}}"#,
        r#"{"task":{"id":"a","title":"a","max_attempts":3,"status":"ready","created_at":"2026-12-02T00:00:00Z","updated_at":"2026-12-02T00:00:00Z"}}"#,
        r#"{"end":{"records":2}}"#,
    ]
    .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let summary = Store::restore(dir.path(), 1 << 20, std::io::Cursor::new(v1.clone())).unwrap();
    assert_eq!((summary.tasks, summary.other), (1, 1));
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(store.load_tasks().unwrap().len(), 1);
    assert!(store.load_gateway_names().unwrap().is_empty());
    assert_eq!(store.meta("lease_ceiling").unwrap(), 1024);
    store.close().unwrap();

    let named = tempfile::tempdir().unwrap();
    let store = Store::open(named.path(), 1 << 20).unwrap();
    let mut b = WriteBatch::new();
    b.put_gateway_name(&GatewayName {
        kind: GatewayKind::Tool,
        name: "fs__read".into(),
        server: "fs".into(),
        target: "read".into(),
    });
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();
    store.close().unwrap();
    drop(store);
    let err = Store::restore(named.path(), 1 << 20, std::io::Cursor::new(v1)).unwrap_err();
    assert!(err.to_string().contains("gateway names"), "{err}");
}

/// A backup of format version 1 (written before remembered requests
/// existed, issue 23.8) still restores into this baton, with its slot holds.
#[tokio::test]
async fn a_version_1_backup_with_slot_holds_still_restores() {
    let mut header = crate::store::backup::BackupHeader::new(1, 0);
    header.version = 1;
    let lines = [
        serde_json::to_string(&header).unwrap(),
        r#"{"meta":{"name":"lease_ceiling","value":1024}}"#.to_owned(),
        r#"{"slot":{"slot":0,"worker":"w","since":1,"expires_at":50,"task":null}}"#.to_owned(),
        r#"{"end":{"records":2}}"#.to_owned(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let summary =
        Store::restore(dir.path(), 1 << 20, std::io::Cursor::new(lines.join("\n"))).unwrap();
    assert_eq!(summary.other, 2);
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(store.load_slots().unwrap().len(), 1);
    assert!(store.load_requests().unwrap().is_empty());
    assert_eq!(store.meta("lease_ceiling").unwrap(), 1024);
    store.close().unwrap();
}
