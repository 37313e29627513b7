//! Unit and property tests of the task table.

use super::*;
use proptest::prelude::*;

fn new_task(id: &str, priority: i32, status: TaskStatus) -> Task {
    Task {
        priority,
        max_attempts: 2,
        status,
        ..Task::for_test(id)
    }
}

fn id(s: &str) -> TaskId {
    TaskId::from_trusted(s)
}

fn who(worker: &str, slot: u32, ttl_ms: u64) -> Claimant<'_> {
    Claimant {
        worker,
        slot,
        ttl_ms,
        compat: false,
    }
}

#[test]
fn claim_order_is_priority_then_age() {
    let mut t = TaskTable::new(1);
    let mut fx = Effects::default();
    t.insert(
        vec![
            new_task("old-low", 0, TaskStatus::Ready),
            new_task("hi", 5, TaskStatus::Ready),
            new_task("new-low", 0, TaskStatus::Ready),
        ],
        0,
        &mut fx,
    );
    assert_eq!(t.peek_ready(&[]), Some(&id("hi")));
    t.claim(&id("hi"), who("w", 0, 100), 0, &mut fx).unwrap();
    assert_eq!(t.peek_ready(&[]), Some(&id("old-low")));
}

#[test]
fn stale_lease_is_refused_after_expiry_and_reclaim() {
    let mut t = TaskTable::new(1);
    let mut fx = Effects::default();
    t.insert(vec![new_task("a", 0, TaskStatus::Ready)], 0, &mut fx);
    let l1 = t.claim(&id("a"), who("w1", 0, 100), 0, &mut fx).unwrap();
    assert_eq!(t.expired(99), vec![]);
    assert_eq!(t.expired(100), vec![(id("a"), l1.lease_id)]);
    assert_eq!(
        t.expire(&id("a"), l1.lease_id, "lease expired".into(), 100, &mut fx),
        Some(FailOutcome::Retried)
    );
    let l2 = t.claim(&id("a"), who("w2", 1, 100), 101, &mut fx).unwrap();
    assert!(l2.lease_id > l1.lease_id);
    let stale = LeaseRef::Id(l1.lease_id);
    assert!(matches!(
        t.complete(&id("a"), &stale, None, 102, &mut fx),
        Err(TaskError::StaleLease { current: Some(c), .. }) if c == l2.lease_id
    ));
    assert!(t
        .fail(&id("a"), &stale, "x".into(), true, 102, &mut fx)
        .is_err());
    assert!(t.heartbeat(&id("a"), &stale, 102, 100, &mut fx).is_err());
    // second expiry exhausts max_attempts = 2
    assert_eq!(
        t.expire(&id("a"), l2.lease_id, "lease expired".into(), 300, &mut fx),
        Some(FailOutcome::Failed)
    );
    let a = t.get(&id("a")).unwrap();
    assert_eq!(a.status, TaskStatus::Failed);
    assert_eq!(a.error.as_deref(), Some("lease expired (attempt 2 of 2)"));
    assert_eq!(t.counts()[TaskStatus::Failed.index()], 1);
}

#[test]
fn a_lapsed_lease_is_refused_from_expires_at_on_before_any_sweep() {
    let mut t = TaskTable::new(1);
    let mut fx = Effects::default();
    t.insert(vec![new_task("a", 0, TaskStatus::Ready)], 0, &mut fx);
    let l = t.claim(&id("a"), who("w", 0, 100), 0, &mut fx).unwrap();
    let by = LeaseRef::Id(l.lease_id);
    // 1 ms before: alive (and extended to 199)
    assert!(t.heartbeat(&id("a"), &by, 99, 100, &mut fx).is_ok());
    let lapsed = |r: Result<(), TaskError>| matches!(r, Err(TaskError::LeaseExpired { lease_id, expires_at: 199, .. }) if lease_id == l.lease_id);
    assert!(lapsed(
        t.heartbeat(&id("a"), &by, 199, 100, &mut fx).map(|_| ())
    ));
    assert!(lapsed(t.complete(&id("a"), &by, None, 199, &mut fx)));
    assert!(lapsed(
        t.fail(&id("a"), &by, "x".into(), true, 899, &mut fx)
            .map(|_| ())
    ));
    assert!(lapsed(t.release(&id("a"), &by, 899, &mut fx)));
    let a = t.get(&id("a")).unwrap();
    assert_eq!(
        (a.status, a.attempts),
        (TaskStatus::Running, 1),
        "nothing changed"
    );
    // the sweep expires it, with its own reason
    assert_eq!(t.expired(899), vec![(id("a"), l.lease_id)]);
    assert_eq!(
        t.expire(&id("a"), l.lease_id, "lease expired".into(), 899, &mut fx),
        Some(FailOutcome::Retried)
    );
}

#[test]
fn a_worker_name_matches_only_a_compat_lease_of_that_worker() {
    let mut t = TaskTable::new(1);
    let mut fx = Effects::default();
    t.insert(
        vec![
            new_task("a", 0, TaskStatus::Ready),
            new_task("b", 0, TaskStatus::Ready),
        ],
        0,
        &mut fx,
    );
    t.claim(&id("a"), who("claude", 0, 100), 0, &mut fx)
        .unwrap();
    let compat = Claimant {
        compat: true,
        ..who("claude", 1, 100)
    };
    t.claim(&id("b"), compat, 0, &mut fx).unwrap();
    let by_name = LeaseRef::Worker("claude".into());
    assert!(matches!(
        t.complete(&id("a"), &by_name, None, 1, &mut fx),
        Err(TaskError::NotHolder { .. })
    ));
    assert!(matches!(
        t.complete(
            &id("b"),
            &LeaseRef::Worker("other".into()),
            None,
            1,
            &mut fx
        ),
        Err(TaskError::NotHolder { .. })
    ));
    assert!(t.complete(&id("b"), &by_name, None, 1, &mut fx).is_ok());
}

/// The lease state machine under random operations keeps its invariants:
/// counts match records, a running task has exactly one lease and it is
/// the newest token issued for it, ready tasks have no lease, attempts
/// never exceed max_attempts, and stale tokens are always refused.
#[derive(Debug, Clone)]
enum Op {
    ClaimNext,
    Heartbeat(usize, bool),
    Complete(usize, bool),
    Fail(usize, bool),
    Release(usize, bool),
    Tick(u64),
    Cancel(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::ClaimNext),
        (0usize..8, any::<bool>()).prop_map(|(i, s)| Op::Heartbeat(i, s)),
        (0usize..8, any::<bool>()).prop_map(|(i, s)| Op::Complete(i, s)),
        (0usize..8, any::<bool>()).prop_map(|(i, s)| Op::Fail(i, s)),
        (0usize..8, any::<bool>()).prop_map(|(i, s)| Op::Release(i, s)),
        (1u64..200).prop_map(Op::Tick),
        (0usize..8).prop_map(Op::Cancel),
    ]
}

proptest! {
    #[test]
    fn lease_state_machine(ops in prop::collection::vec(op(), 0..200)) {
        let ids: Vec<TaskId> = (0..8).map(|i| id(&format!("t{i}"))).collect();
        let mut t = TaskTable::new(1);
        let mut fx = Effects::default();
        t.insert(ids.iter().map(|i| new_task(i.as_str(), 0, TaskStatus::Ready)).collect(), 0, &mut fx);
        let mut now = 0u64;
        let mut issued: HashMap<TaskId, Vec<u64>> = HashMap::new();
        for op in ops {
            let mut fx = Effects::default();
            let lease_ref = |t: &TaskTable, i: usize, stale: bool, issued: &HashMap<TaskId, Vec<u64>>| {
                let id = &ids[i];
                if stale {
                    // an older token for this task, or a token never issued for it
                    let old = issued.get(id).and_then(|v| v.iter().rev().nth(1).copied()).unwrap_or(999_999);
                    LeaseRef::Id(old)
                } else {
                    LeaseRef::Id(t.get(id).and_then(|t| t.lease.as_ref()).map_or(999_999, |l| l.lease_id))
                }
            };
            match op {
                Op::ClaimNext => {
                    if let Some(next) = t.peek_ready(&[]).cloned() {
                        let l = t.claim(&next, who("w", 0, 100), now, &mut fx).unwrap();
                        issued.entry(next).or_default().push(l.lease_id);
                    }
                }
                Op::Heartbeat(i, stale) => {
                    let r = lease_ref(&t, i, stale, &issued);
                    let res = t.heartbeat(&ids[i], &r, now, 100, &mut fx);
                    if stale { prop_assert!(res.is_err()); }
                }
                Op::Complete(i, stale) => {
                    let r = lease_ref(&t, i, stale, &issued);
                    let before = t.get(&ids[i]).unwrap().status;
                    let res = t.complete(&ids[i], &r, None, now, &mut fx);
                    if stale { prop_assert!(res.is_err()); }
                    if res.is_ok() { prop_assert_eq!(before, TaskStatus::Running); }
                }
                Op::Fail(i, stale) => {
                    let r = lease_ref(&t, i, stale, &issued);
                    let res = t.fail(&ids[i], &r, "boom".into(), true, now, &mut fx);
                    if stale { prop_assert!(res.is_err()); }
                }
                Op::Release(i, stale) => {
                    let r = lease_ref(&t, i, stale, &issued);
                    let res = t.release(&ids[i], &r, now, &mut fx);
                    if stale { prop_assert!(res.is_err()); }
                }
                Op::Tick(d) => {
                    now += d;
                    for (id, lid) in t.expired(now) {
                        prop_assert!(t.expire(&id, lid, "lease expired".into(), now, &mut fx).is_some());
                    }
                }
                Op::Cancel(i) => { let _ = t.cancel(&ids[i], None, now, &mut fx); }
            }
            // invariants
            let mut counts = [0usize; 6];
            for task in t.iter() {
                counts[task.status.index()] += 1;
                prop_assert!(task.attempts <= task.max_attempts);
                match task.status {
                    TaskStatus::Running => {
                        let l = task.lease.as_ref();
                        prop_assert!(l.is_some());
                        let newest = issued.get(&task.id).and_then(|v| v.last()).copied();
                        prop_assert_eq!(l.map(|l| l.lease_id), newest);
                        prop_assert!(l.is_some_and(|l| l.expires_at > now));
                    }
                    _ => prop_assert!(task.lease.is_none()),
                }
            }
            prop_assert_eq!(counts, t.counts());
            for lid in fx.leases_ended.iter().map(|l| l.lease_id) {
                prop_assert!(!t.iter().any(|x| x.lease.as_ref().is_some_and(|l| l.lease_id == lid)));
            }
        }
    }
}
