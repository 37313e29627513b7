//! Unit tests of trees and delays in the registry actor, driven through its
//! own messages on a stepping clock (the harness of `tests.rs`): a held
//! task split into subtasks that roll up, refusals that write nothing, a
//! cancel that takes a parent's running subtask off its slot, and a retry
//! put off by `retry_after_secs` that the sweep wakes only when it is due.

use super::tests::{spec, tid, Harness};
use super::*;
use crate::core::table::LeaseRef;
use crate::error::ErrorCode;
use crate::model::{EventKind, Principal, TaskSpec, TaskStatus};

fn sub(id: &str) -> TaskSpec {
    TaskSpec {
        id: Some(id.to_owned()),
        title: Some(id.to_owned()),
        ..TaskSpec::default()
    }
}

impl Harness {
    async fn split(
        &self,
        parent: &str,
        kids: &[&str],
        lease: Option<u64>,
    ) -> Result<(Task, Vec<Task>), Error> {
        let (p, tasks, ticket) = self
            .ask(AddSubtasks {
                actor: Principal::local(),
                parent: tid(parent),
                specs: kids.iter().map(|k| sub(k)).collect(),
                lease: lease.map(LeaseRef::Id),
            })
            .await?;
        self.durable(ticket).await;
        Ok((p, tasks))
    }

    async fn finish(&self, id: &str, worker: &str) {
        let c = self.claim(id, worker).await;
        let (_, ticket) = self
            .ask(Complete {
                actor: Principal::local(),
                id: tid(id),
                lease: LeaseRef::Id(c.lease.lease_id),
                output: None,
            })
            .await
            .expect("completed");
        self.durable(ticket).await;
    }
}

#[actix::test]
async fn a_held_task_split_into_three_rolls_up_when_its_subtasks_are_done() {
    let h = Harness::start(3);
    h.add(vec![spec("epic", &[]), spec("after", &["epic"])])
        .await;
    let held = h.claim("epic", "planner").await;
    assert_eq!(h.busy_slots().await.len(), 1);

    let e = h.split("epic", &["a"], None).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidStatus, "{e}");
    let (parent, kids) = h
        .split("epic", &["a", "b", "c"], Some(held.lease.lease_id))
        .await
        .expect("the holder splits its task");
    assert_eq!(parent.status, TaskStatus::Blocked);
    assert_eq!(
        parent.blocked_reason.as_deref(),
        Some("waits for 3 of 3 children")
    );
    assert!(parent.lease.is_none());
    assert_eq!(kids.len(), 3);
    assert!(kids.iter().all(|k| k.status == TaskStatus::Ready));
    assert_eq!(h.kinds("epic").last(), Some(&EventKind::TaskSplit));
    assert!(h.busy_slots().await.is_empty(), "the split freed its slot");
    assert_eq!(h.ready().await, vec!["a", "b", "c"], "never the parent");

    h.finish("a", "planner").await;
    h.finish("b", "w2").await;
    assert_eq!(
        h.stored("epic").blocked_reason.as_deref(),
        Some("waits for 1 of 3 children")
    );
    h.finish("c", "w3").await;
    let epic = h.stored("epic");
    assert_eq!(epic.status, TaskStatus::Done);
    let listed: Vec<(String, String)> = epic.output.as_ref().unwrap()["subtasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().into(),
                c["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        ["a", "b", "c"].map(|k| (k.to_owned(), "done".to_owned()))
    );
    assert_eq!(h.stored("after").status, TaskStatus::Ready);
    h.close();
}

#[actix::test]
async fn bad_subtasks_are_refused_and_nothing_is_written() {
    let h = Harness::start(2);
    h.add(vec![spec("p", &[]), spec("q", &["p"])]).await;
    let count = |h: &Harness| h.store.task_count().expect("a count");
    let before = count(&h);
    for (parent, kids, code) in [
        ("nope", vec![sub("x")], ErrorCode::InvalidField),
        (
            "p",
            vec![TaskSpec {
                dependencies: vec!["q".into()],
                ..sub("x")
            }],
            ErrorCode::DependencyCycle,
        ),
        (
            "p",
            vec![TaskSpec {
                parent: Some("q".into()),
                ..sub("x")
            }],
            ErrorCode::InvalidField,
        ),
    ] {
        let r = h
            .ask(AddSubtasks {
                actor: Principal::local(),
                parent: tid(parent),
                specs: kids,
                lease: None,
            })
            .await;
        let e = r.expect_err("refused");
        assert_eq!(e.code(), code, "{e}");
        assert!(
            matches!(e.field().as_deref(), Some("parent" | "tasks[0].parent")),
            "{e}: {:?}",
            e.field()
        );
    }
    assert_eq!(count(&h), before);
    assert_eq!(h.stored("p").status, TaskStatus::Ready, "p is still a leaf");
    h.close();
}

#[actix::test]
async fn cancelling_a_parent_cancels_its_running_subtask_and_frees_its_slot() {
    let h = Harness::start(2);
    h.add(vec![spec("p", &[])]).await;
    h.split("p", &["a", "b"], None).await.unwrap();
    h.claim("a", "w").await;
    let (_, ticket) = h
        .ask(Cancel {
            actor: Principal::local(),
            id: tid("p"),
            reason: None,
        })
        .await
        .unwrap();
    h.durable(ticket).await;
    for k in ["a", "b"] {
        let t = h.stored(k);
        assert_eq!(t.status, TaskStatus::Cancelled, "{k}");
        assert_eq!(t.error.as_deref(), Some("parent 'p' was cancelled"));
    }
    assert!(h.busy_slots().await.is_empty());
    h.close();
}

#[actix::test]
async fn a_retry_after_is_not_handed_out_before_its_time_and_the_sweep_wakes_it() {
    let h = Harness::start(1);
    h.add(vec![spec("flaky", &[])]).await;
    let c = h.claim("flaky", "w").await;
    let (t, ticket) = h
        .ask(Fail {
            actor: Principal::local(),
            id: tid("flaky"),
            lease: LeaseRef::Id(c.lease.lease_id),
            error: "try later".into(),
            retry: true,
            retry_after_secs: Some(2),
        })
        .await
        .unwrap();
    h.durable(ticket).await;
    assert_eq!(t.status, TaskStatus::Blocked);
    let due = t.run_after.expect("put off");
    assert!(t
        .blocked_reason
        .as_deref()
        .unwrap()
        .starts_with("not before "));
    assert!(h.claim_next("w").await.unwrap().is_none());
    // the sweep before the time wakes nothing
    h.clock.advance_to(due - 100);
    assert!(h.ask(SweepLeases).await.unwrap().is_none());
    assert!(h.ready().await.is_empty());
    h.clock.advance_to(due);
    let ticket = h.ask(SweepLeases).await.unwrap().expect("woken");
    h.durable(ticket).await;
    assert_eq!(h.stored("flaky").status, TaskStatus::Ready);
    assert_eq!(h.stored("flaky").blocked_reason, None);
    let again = h.claim_next("w").await.unwrap().expect("claimable now");
    assert_eq!(again.task.id.as_str(), "flaky");
    // too far ahead: refused, naming the field
    let e = h
        .ask(Release {
            actor: Principal::local(),
            id: tid("flaky"),
            lease: LeaseRef::Id(again.lease.lease_id),
            retry_after_secs: Some(365 * 24 * 3600),
        })
        .await
        .unwrap_err();
    assert_eq!(e.field().as_deref(), Some("retry_after_secs"), "{e}");
    h.close();
}
