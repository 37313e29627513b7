//! The lease index, against a model of generated histories.

use proptest::prelude::*;

use super::*;

/// One generated history: claims (lease ids in order) and, for some, the event ending them.
#[derive(Debug, Clone)]
pub(super) struct Step {
    pub(super) worker: usize,
    pub(super) end: Option<usize>,
    pub(super) gap: u64,
    pub(super) len: u64,
}

const WORKERS: [&str; 3] = ["a", "b", "c"];

const ENDS: [EventKind; 6] = [
    EventKind::TaskCompleted,
    EventKind::TaskFailed,
    EventKind::TaskRetried,
    EventKind::TaskExpired,
    EventKind::TaskReleased,
    EventKind::TaskCancelled,
];

/// Commit the history (in event-time order, heartbeats in between) and
/// return the leases a reader must see, in lease order.
pub(super) async fn write_history(store: &Store, steps: &[Step]) -> Vec<LeaseRecord> {
    let mut events = Vec::new();
    let mut expect = Vec::new();
    let mut at = 1_000;
    for (i, st) in steps.iter().enumerate() {
        let lease = i as u64 + 1;
        at += st.gap;
        let w = WORKERS[st.worker];
        events.push(lease_event(EventKind::TaskClaimed, lease, w, at));
        events.push(lease_event(EventKind::TaskHeartbeat, lease, w, at + 1));
        let end = st.end.map(|e| (ENDS[e], at + st.len));
        if let Some((kind, end_at)) = end {
            events.push(lease_event(kind, lease, w, end_at));
        }
        expect.push(LeaseRecord {
            task_id: TaskId::from_trusted(format!("t{lease}")),
            lease_id: lease,
            worker: w.to_owned(),
            slot: Some(0),
            owner: None,
            claimed_at: at,
            ended_at: end.map(|e| e.1),
            outcome: end.map_or(LeaseOutcome::Running, |e| {
                LeaseOutcome::of_end(e.0).unwrap()
            }),
            reason: end
                .filter(|e| e.0 == EventKind::TaskExpired)
                .map(|_| "lease expired".to_owned()),
        });
    }
    events.sort_by_key(|e| e.at);
    for chunk in events.chunks(5) {
        let mut b = WriteBatch::new();
        for e in chunk {
            b.put_event(e.clone(), None);
        }
        let t = store.commit(b).unwrap();
        store.wait_durable(t).await.unwrap();
    }
    expect
}

pub(super) fn read_all(store: &Store, q: &LeaseQuery) -> Vec<LeaseRecord> {
    let mut q = q.clone();
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let page = store.lease_history(&q).unwrap();
        assert!(page.leases.len() <= q.limit);
        out.extend(page.leases);
        match page.next_cursor {
            Some(c) => {
                assert!(q.after.is_none_or(|a| c > a), "the cursor moves forward");
                q.after = Some(c);
            }
            None => return out,
        }
    }
    panic!("paging did not end");
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        (
            0..3usize,
            proptest::option::weighted(0.8, 0..6usize),
            0..50u64,
            2..80u64,
        )
            .prop_map(|(worker, end, gap, len)| Step {
                worker,
                end,
                gap,
                len,
            }),
        0..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Model-based: whatever the history, filters and page sizes, the
    /// pages read back are exactly the model's leases overlapping the
    /// window, in lease order, each once.
    #[test]
    fn lease_history_pages_match_the_model(
        steps in steps(),
        since in proptest::option::of(900..3_000u64),
        span in proptest::option::of(0..2_000u64),
        worker in proptest::option::of(0..3usize),
        limit in 1..6usize,
        max_scan in 1..6usize,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            let model = write_history(&store, &steps).await;
            let until = since.zip(span).map(|(s, d)| s + d);
            let q = LeaseQuery {
                since,
                until,
                worker: worker.map(|w| WORKERS[w].to_owned()),
                after: None,
                limit,
                max_scan,
            };
            let want: Vec<LeaseRecord> = model
                .iter()
                .filter(|l| until.is_none_or(|u| l.claimed_at < u))
                .filter(|l| since.is_none_or(|s| l.ended_at.is_none_or(|e| e >= s)))
                .filter(|l| q.worker.as_ref().is_none_or(|w| *w == l.worker))
                .cloned()
                .collect();
            assert_eq!(read_all(&store, &q), want);
            store.close().unwrap();
        });
    }
}
