//! The committer's failure handling: a failed flush, a panic, a read
//! during an uncommitted group, shutdown racing writers, the directory lock.

use super::*;

#[tokio::test]
async fn a_failed_commit_fails_its_writers_refuses_later_writes_and_close_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    let ok = store.commit(add("kept")).unwrap();
    store.wait_durable(ok).await.unwrap();
    let flushes = store.flush_count();

    store.gc.faults.fail_flush.store(true, Ordering::SeqCst);
    let t = store.commit(add("lost")).unwrap();
    let err = tokio::time::timeout(BOUND, store.wait_durable(t))
        .await
        .expect("a waiter of the failed batch is woken");
    // its batch was applied before the flush failed: the outcome is unknown
    assert!(matches!(err, Err(StoreError::OutcomeUnknown(ref f)) if f.contains("no space")));
    assert!(store.is_failed());
    assert!(store.failure().is_some_and(|f| f.starts_with("commit")));
    // every later write is refused before it is queued
    assert!(matches!(
        store.commit(add("later")),
        Err(StoreError::FlushFailed(_))
    ));
    // reads after the failure cannot pass the barrier either
    assert!(store.barrier().await.is_err());
    // close returns at once with the failure and flushes nothing
    let closer = store.clone();
    let closed = tokio::task::spawn_blocking(move || closer.close());
    let closed = tokio::time::timeout(BOUND, closed).await.unwrap().unwrap();
    assert!(matches!(closed, Err(StoreError::FlushFailed(_))));
    assert_eq!(store.flush_count(), flushes, "no flush after the failure");
    // a ticket a flush covered before the failure is still durable: a
    // writer that asks late is not told its write failed (it is on disk)
    assert!(store.wait_durable(ok).await.is_ok());
}

#[tokio::test]
async fn a_read_during_an_uncommitted_group_sees_none_of_it_and_its_barrier_waits() {
    for flush_fails in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let (applied, open) = gate(&store);
        let t = store.commit(add("x")).unwrap();
        applied
            .recv_timeout(BOUND)
            .expect("the committer applied the batch");
        // a read snapshot shows only committed (durable) transactions ...
        let seen = store.get_task(&TaskId::from_trusted("x")).unwrap();
        assert!(seen.is_none(), "an uncommitted write was visible");
        // ... and the barrier after it still holds until the commit (a
        // read that starts later may see it)
        let mut barrier = Box::pin(store.barrier());
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut barrier)
                .await
                .is_err(),
            "the read barrier passed while the batch it covers was unflushed"
        );
        store
            .gc
            .faults
            .fail_flush
            .store(flush_fails, Ordering::SeqCst);
        open.send(()).unwrap();
        let passed = tokio::time::timeout(BOUND, barrier).await.unwrap();
        assert_eq!(passed.is_ok(), !flush_fails, "flush_fails = {flush_fails}");
        assert_eq!(store.wait_durable(t).await.is_ok(), !flush_fails);
        let _ = store.close();
    }
}

#[tokio::test]
async fn live_events_are_published_only_after_their_flush() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    let mut rx = store.subscribe();
    let (applied, open) = gate(&store);
    let t = store.commit(add("e")).unwrap();
    applied.recv_timeout(BOUND).unwrap();
    assert!(
        matches!(
            rx.try_recv(),
            Err(tokio::sync::broadcast::error::TryRecvError::Empty)
        ),
        "an event went out before its batch was durable"
    );
    open.send(()).unwrap();
    let p = tokio::time::timeout(BOUND, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.event.id, 1);
    assert!(*store.gc.durable_rx.borrow() >= p.ticket.0);
    store.wait_durable(t).await.unwrap();

    // an event of a batch whose flush fails is never published
    let (applied, open) = gate(&store);
    store.gc.faults.fail_flush.store(true, Ordering::SeqCst);
    let t = store.commit(add("never")).unwrap();
    applied.recv_timeout(BOUND).unwrap();
    open.send(()).unwrap();
    assert!(store.wait_durable(t).await.is_err());
    assert!(matches!(
        rx.try_recv(),
        Err(tokio::sync::broadcast::error::TryRecvError::Empty)
    ));
}

#[tokio::test]
async fn a_committer_panic_fails_the_store_and_wakes_every_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    store.gc.faults.panic.store(true, Ordering::SeqCst);
    let tickets: Vec<_> = (0..5)
        .map(|i| store.commit(add(&format!("p{i}"))).unwrap())
        .collect();
    for t in tickets {
        let r = tokio::time::timeout(BOUND, store.wait_durable(t))
            .await
            .expect("a writer waited forever on a dead committer");
        assert!(r.is_err());
    }
    assert!(store.failure().is_some_and(|f| f.contains("panicked")));
    assert!(matches!(
        store.commit(add("after")),
        Err(StoreError::FlushFailed(_))
    ));
    assert!(store.close().is_err());
}

#[tokio::test]
async fn the_task_count_follows_adds_rewrites_and_deletes_and_loading_streams_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(store.task_count().unwrap(), 0);
    // more records than one chunk of the loader, in two groups
    let mut b = WriteBatch::new();
    for i in 0..2500 {
        b.put_task(&task(&format!("t{i:05}")));
    }
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();
    assert_eq!(store.task_count().unwrap(), 2500);
    // a rewrite of a stored record counts nothing; a removal counts once
    let mut b = WriteBatch::new();
    b.put_task(&task("t00001"));
    b.delete_task(&TaskId::from_trusted("t00002"));
    b.delete_task(&TaskId::from_trusted("absent"));
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();
    assert_eq!(store.task_count().unwrap(), 2499);
    let mut seen = Vec::new();
    store.for_each_task(|t| seen.push(t.id)).unwrap();
    assert_eq!(seen.len(), 2499);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "id order");

    // a store whose count is wrong (written before the count existed) is fixed once
    let mut b = WriteBatch::new();
    b.put_meta(TASK_COUNT_META, 7);
    store.wait_durable(store.commit(b).unwrap()).await.unwrap();
    store.fix_task_count(seen.len() as u64).await.unwrap();
    assert_eq!(store.task_count().unwrap(), 2499);
    store.close().unwrap();
}

/// CI saw `could not acquire lock … WouldBlock` reopening a directory
/// right after the last handle of a closed store was dropped: sled's
/// background writers release the lock a moment later. Reopening must
/// wait for that, every time.
#[test]
fn a_store_reopened_right_after_close_opens() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = 0;
    for round in 0..30 {
        let store =
            Store::open(dir.path(), 1 << 20).unwrap_or_else(|e| panic!("round {round}: {e}"));
        // enough concurrent bytes that sled seals buffers and hands
        // their writes to its background threads
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let mut t = task(&format!("r{round}-w{w}-{i}"));
                        t.description = "x".repeat(8 * 1024);
                        let mut b = WriteBatch::new();
                        b.put_task(&t);
                        let _unwaited = store.commit(b).unwrap(); // close() flushes it
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        expected += 100;
        store.close().unwrap();
    }
    let store = Store::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(store.load_tasks().unwrap().len(), expected);
}

#[test]
fn a_directory_held_by_a_live_store_is_reported_as_locked() {
    let dir = tempfile::tempdir().unwrap();
    let _live = Store::open(dir.path(), 1 << 20).unwrap();
    let started = std::time::Instant::now();
    let err = RedbEngine::open(dir.path(), 1 << 20, Duration::from_millis(200))
        .err()
        .expect("locked");
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("in use by another process"));
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn a_write_racing_shutdown_is_applied_or_refused_never_lost() {
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let mut acked = Vec::new();
                    let mut refused = Vec::new();
                    for i in 0..200 {
                        let id = format!("w{w}-{i}");
                        match store.commit(add(&id)) {
                            Ok(t) => acked.push((id, t)),
                            Err(StoreError::Closed) => refused.push(id),
                            Err(e) => panic!("unexpected {e}"),
                        }
                    }
                    (acked, refused)
                })
            })
            .collect();
        // close while the writers run (after the first commit, so the race is real)
        while store.commit_count() == 0 {
            std::thread::yield_now();
        }
        let closer = store.clone();
        tokio::task::spawn_blocking(move || closer.close())
            .await
            .unwrap()
            .unwrap();
        let mut acked = Vec::new();
        let mut refused = Vec::new();
        for w in writers {
            let (a, r) = w.join().unwrap();
            acked.extend(a);
            refused.extend(r);
        }
        for (id, t) in &acked {
            let r = tokio::time::timeout(BOUND, store.wait_durable(*t))
                .await
                .unwrap_or_else(|_| panic!("round {round}: {id} waits forever"));
            assert!(r.is_ok(), "round {round}: {id} acknowledged as failed");
        }
        drop(store);
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let on_disk: std::collections::HashSet<String> = store
            .load_tasks()
            .unwrap()
            .into_iter()
            .map(|t| t.id.to_string())
            .collect();
        for (id, _) in &acked {
            assert!(
                on_disk.contains(id),
                "round {round}: acknowledged {id} lost"
            );
        }
        for id in &refused {
            assert!(!on_disk.contains(id), "round {round}: refused {id} written");
        }
        assert_eq!(on_disk.len(), acked.len());
        store.close().unwrap();
    }
}
