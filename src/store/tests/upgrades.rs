//! Data directories of older batons: without the lease index, and sled's.

use super::leases::{read_all, write_history, Step};
use super::*;

#[tokio::test]
async fn a_data_dir_without_the_lease_index_is_indexed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let steps: Vec<Step> = (0..12)
        .map(|i| Step {
            worker: i % 3,
            end: (i % 4 != 3).then_some(i % 6),
            gap: 5,
            len: 3,
        })
        .collect();
    let all = LeaseQuery {
        since: None,
        until: None,
        worker: None,
        after: None,
        limit: 100,
        max_scan: 100,
    };
    let want = {
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let want = write_history(&store, &steps).await;
        assert_eq!(read_all(&store, &all), want);
        // what an older baton left behind: the audit log without the index
        let stale: Vec<Vec<u8>> = scan_prefix_in(&store.read().unwrap(), LEASE)
            .unwrap()
            .map(|kv| kv.unwrap().0)
            .collect();
        store
            .db
            .get()
            .unwrap()
            .transact(
                &mut |t| {
                    for k in &stale {
                        t.remove(k)?;
                    }
                    t.remove(&key(META, LEASE_INDEX_META.as_bytes()))?;
                    Ok(())
                },
                &mut || Ok(()),
            )
            .unwrap();
        assert!(read_all(&store, &all).is_empty());
        store.close().unwrap();
        want
    };
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(read_all(&store, &all), want);
    store.close().unwrap();
}

/// A data directory of a baton before redb holds a sled store. The first
/// start copies it into `baton.redb` (events, their ids and the audit
/// index included); later starts never copy again, so what changed since
/// (here: the old task deleted) stays changed; sled's files stay put.
#[cfg(feature = "sled")]
#[tokio::test]
async fn a_sled_data_directory_of_an_older_baton_is_copied_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let tree = db.open_tree("board").unwrap();
        let mut old = task("old");
        old.status = TaskStatus::Done;
        tree.insert(key(TASK, b"old"), encode(&old)).unwrap();
        let mut ev = added("old");
        ev.id = 7;
        tree.insert(key(EVENT, &7u64.to_be_bytes()), encode(&ev))
            .unwrap();
        tree.insert(task_event_key(&old.id, 7), Vec::new()).unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    let old = TaskId::from_trusted("old");
    assert_eq!(store.load_tasks().unwrap().len(), 1);
    assert_eq!(store.task_events(&old).unwrap().len(), 1);
    assert_eq!(store.last_event_id().unwrap(), 7);
    assert_eq!(store.meta(SLED_MIGRATED_META).unwrap(), 1);
    let t = store.commit(add("new")).unwrap();
    store.wait_durable(t).await.unwrap();
    assert_eq!(
        store.last_event_id().unwrap(),
        8,
        "ids continue after the copied ones"
    );
    let mut b = WriteBatch::new();
    b.delete_task(&old);
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();
    store.close().unwrap();
    drop(store);

    let store = Store::open(dir.path(), 1 << 20).unwrap();
    let ids: Vec<String> = store
        .load_tasks()
        .unwrap()
        .into_iter()
        .map(|t| t.id.to_string())
        .collect();
    assert_eq!(ids, vec!["new".to_owned()], "copied once, not again");
    assert!(
        dir.path().join("db").is_file(),
        "sled's files are left as they were"
    );
    store.close().unwrap();
}
