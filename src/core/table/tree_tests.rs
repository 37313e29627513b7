//! Unit tests of parents and delays in the task table: a split ends the
//! holder's lease as `split`, a parent is blocked with a reason that
//! counts its children and rolls up with their outcomes, a delayed task is
//! not ready before its time and is woken after it.

use super::*;
use crate::core::graph::{Cause, Ended, Fallout, NodeState};
use crate::model::{Principal, Subtasks, TaskStatus};

fn id(s: &str) -> TaskId {
    TaskId::from_trusted(s)
}

fn child(s: &str, parent: &str) -> Task {
    Task {
        parent: Some(id(parent)),
        ..Task::for_test(s)
    }
}

fn who(worker: &str) -> Claimant<'_> {
    Claimant {
        worker,
        slot: 0,
        ttl_ms: 10_000,
        compat: false,
    }
}

#[test]
fn splitting_a_held_task_ends_its_lease_as_split_and_it_waits_for_its_children() {
    let mut t = TaskTable::new(1);
    let mut fx = Effects::default();
    t.insert(vec![Task::for_test("p")], 0, &mut fx);
    let lease = t.claim(&id("p"), who("w"), 1, &mut fx).unwrap();
    let by = LeaseRef::Id(lease.lease_id);
    let me = Principal::local();
    assert!(
        matches!(
            t.check_split(&id("p"), None, 2, &me),
            Err(TaskError::WrongStatus { .. })
        ),
        "a running task is split only under its lease"
    );
    assert!(matches!(
        t.check_split(&id("p"), Some(&LeaseRef::Id(99)), 2, &me),
        Err(TaskError::StaleLease { .. })
    ));
    t.check_split(&id("p"), Some(&by), 2, &me).unwrap();
    let mut fx = Effects::default();
    t.insert(vec![child("a", "p"), child("b", "p")], 2, &mut fx);
    t.contain(&id("p"), 2, &mut fx);
    t.settle(2, &mut fx);
    let p = t.get(&id("p")).unwrap();
    assert_eq!(p.status, TaskStatus::Blocked);
    assert!(p.lease.is_none() && p.worker.is_none());
    assert_eq!(p.attempts, 0, "a split does not count as an attempt");
    assert_eq!(
        p.blocked_reason.as_deref(),
        Some("waits for 2 of 2 children")
    );
    assert_eq!(fx.leases_ended.len(), 1);
    assert!(fx.events.iter().any(|e| e.kind == EventKind::TaskSplit));
    assert!(t.is_container(&id("p")));
    assert_eq!(
        t.peek_ready(&[]),
        Some(&id("a")),
        "the parent is never handed out"
    );
}

#[test]
fn a_parent_counts_its_children_and_rolls_up_with_their_outcomes() {
    let mut t = TaskTable::new(1);
    let mut fx = Effects::default();
    t.insert(
        vec![
            Task {
                status: TaskStatus::Blocked,
                ..Task::for_test("p")
            },
            child("a", "p"),
            child("b", "p"),
            child("c", "p"),
        ],
        0,
        &mut fx,
    );
    t.settle(0, &mut fx);
    let l = t.claim(&id("a"), who("w"), 1, &mut fx).unwrap();
    let mut fx = Effects::default();
    t.complete(&id("a"), &LeaseRef::Id(l.lease_id), None, 2, &mut fx)
        .unwrap();
    t.cancel(&id("c"), None, 2, &mut fx).unwrap();
    t.settle(2, &mut fx);
    let p = t.get(&id("p")).unwrap();
    assert_eq!(
        p.blocked_reason.as_deref(),
        Some("waits for 1 of 3 children")
    );
    assert_eq!(
        p.subtasks,
        Some(Subtasks {
            total: 3,
            done: 1,
            failed: 0,
            cancelled: 1
        })
    );
    let l = t.claim(&id("b"), who("w"), 3, &mut fx).unwrap();
    let mut fx = Effects::default();
    t.complete(&id("b"), &LeaseRef::Id(l.lease_id), None, 4, &mut fx)
        .unwrap();
    let fallout = Fallout {
        ready: Vec::new(),
        ended: vec![Ended {
            id: id("p"),
            state: NodeState::Done,
            cause: Cause::Children,
        }],
    };
    t.apply(&fallout, 4, &mut fx);
    t.settle(4, &mut fx);
    let p = t.get(&id("p")).unwrap();
    assert_eq!(p.status, TaskStatus::Done);
    assert_eq!(p.blocked_reason, None);
    assert_eq!(
        p.output.as_deref(),
        Some(&serde_json::json!({
            "subtasks": [
                {"id": "a", "status": "done"},
                {"id": "b", "status": "done"},
                {"id": "c", "status": "cancelled"},
            ],
            "total": 3, "done": 2, "cancelled": 1,
        }))
    );
    assert!(
        !fx.done.contains(&id("p")),
        "a roll-up is the graph's: not asked about again"
    );
}

#[test]
fn cancelling_a_parent_takes_its_running_children_off_their_leases() {
    let mut t = TaskTable::new(1);
    let mut fx = Effects::default();
    t.insert(
        vec![
            Task {
                status: TaskStatus::Blocked,
                ..Task::for_test("p")
            },
            child("a", "p"),
        ],
        0,
        &mut fx,
    );
    t.claim(&id("a"), who("w"), 1, &mut fx).unwrap();
    let mut fx = Effects::default();
    t.cancel(&id("p"), None, 2, &mut fx).unwrap();
    let fallout = Fallout {
        ready: Vec::new(),
        ended: vec![Ended {
            id: id("a"),
            state: NodeState::Cancelled,
            cause: Cause::Parent(id("p")),
        }],
    };
    t.apply(&fallout, 2, &mut fx);
    let a = t.get(&id("a")).unwrap();
    assert_eq!(a.status, TaskStatus::Cancelled);
    assert_eq!(a.error.as_deref(), Some("parent 'p' was cancelled"));
    assert_eq!(fx.leases_ended.len(), 1, "its slot is freed");
}

#[test]
fn a_delayed_task_waits_blocked_until_its_time_and_a_retry_after_puts_a_failed_attempt_off() {
    let mut t = TaskTable::new(1);
    let mut fx = Effects::default();
    t.insert(
        vec![Task {
            run_after: Some(5_000),
            ..Task::for_test("d")
        }],
        1_000,
        &mut fx,
    );
    let d = t.get(&id("d")).unwrap();
    assert_eq!(d.status, TaskStatus::Blocked);
    assert_eq!(
        d.blocked_reason.as_deref(),
        Some("not before 1970-01-01T00:00:05.000Z")
    );
    assert_eq!(t.peek_ready(&[]), None);
    assert_eq!(t.next_wake(), Some(5_000));
    assert_eq!(t.wake(4_999, &mut fx), 0, "not a millisecond early");
    assert_eq!(t.wake(5_000, &mut fx), 1);
    assert_eq!(t.get(&id("d")).unwrap().status, TaskStatus::Ready);
    assert_eq!(t.get(&id("d")).unwrap().blocked_reason, None);

    let l = t.claim(&id("d"), who("w"), 6_000, &mut fx).unwrap();
    let outcome = t
        .fail_until(
            &id("d"),
            &LeaseRef::Id(l.lease_id),
            "flaky".into(),
            true,
            Some(8_000),
            6_000,
            &mut fx,
        )
        .unwrap();
    assert_eq!(outcome, FailOutcome::Retried);
    let d = t.get(&id("d")).unwrap();
    assert_eq!((d.status, d.run_after), (TaskStatus::Blocked, Some(8_000)));
    assert_eq!(t.peek_ready(&[]), None);
    assert_eq!(t.wake(7_999, &mut fx), 0);
    assert_eq!(t.wake(8_000, &mut fx), 1);

    let l = t.claim(&id("d"), who("w"), 9_000, &mut fx).unwrap();
    t.release_until(
        &id("d"),
        &LeaseRef::Id(l.lease_id),
        Some(10_000),
        9_000,
        &mut fx,
    )
    .unwrap();
    assert_eq!(t.get(&id("d")).unwrap().status, TaskStatus::Blocked);
    // a dependency done before the time: still waits for the time
    t.make_ready(&[id("d")], 9_500, &mut fx);
    assert_eq!(t.get(&id("d")).unwrap().status, TaskStatus::Blocked);
    assert_eq!(t.wake(10_000, &mut fx), 1);
    assert_eq!(t.get(&id("d")).unwrap().status, TaskStatus::Ready);
}

#[test]
fn a_delayed_task_that_became_a_parent_is_not_woken() {
    let mut t = TaskTable::new(1);
    let mut fx = Effects::default();
    t.insert(
        vec![Task {
            run_after: Some(5_000),
            ..Task::for_test("p")
        }],
        0,
        &mut fx,
    );
    t.insert(vec![child("a", "p")], 1, &mut fx);
    t.contain(&id("p"), 1, &mut fx);
    t.settle(1, &mut fx);
    assert_eq!(
        t.get(&id("p")).unwrap().blocked_reason.as_deref(),
        Some("waits for 1 of 1 children")
    );
    assert_eq!(t.wake(6_000, &mut fx), 0);
    assert_eq!(t.get(&id("p")).unwrap().status, TaskStatus::Blocked);
}
