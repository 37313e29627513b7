//! Unit tests of the registry actor: claim, complete, expiry and cascade
//! driven through its own messages, without HTTP or a runtime.
//!
//! The collaborators are the real ones, each a thin shell over a pure core
//! (the dependency resolver, the slot allocator), and the store is redb in a
//! temporary directory. Time is a stepping [`Clock`] (every read moves it
//! 1 ms, so an event that took its time from two reads shows); a test moves
//! it past a lease's expiry with [`Clock::advance`] instead of sleeping. The
//! actor's own timers are an hour apart, so only the messages a test sends
//! move the board: `send(..).await` is the step (quickwit's
//! `process_pending_and_observe`), then the test observes what a client
//! would read back (the store, the ready queue, the slots, the audit log).

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::*;
use crate::actors::resolver::DependencyResolver;
use crate::actors::slots::{ListSlots, SlotAllocator};
use crate::core::graph::DependencyGraph;
use crate::core::slots::{SlotError, SlotTable};
use crate::core::table::LeaseRef;
use crate::model::{EventKind, Principal, TaskSpec, TaskStatus};

/// Lease time-to-live of every claim (`leases.ttl_secs` = 30).
const TTL_MS: u64 = 30_000;
/// Where the clock starts (2023-11-14, ms since the Unix epoch).
const START: u64 = 1_700_000_000_000;
/// The interval of the actor's own timers: long enough never to fire in a test.
const HOUR_MS: u64 = 3_600_000;

/// A registry over an empty board, with its collaborators.
struct Harness {
    registry: Addr<TaskRegistry>,
    slots: Addr<SlotAllocator>,
    store: Store,
    clock: Clock,
    view: Arc<BoardView>,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// Start a registry with `slots` worker slots on a fresh store (inside
    /// the test's actix system).
    fn start(slots: u32) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::open(dir.path(), 1 << 20).expect("a redb store");
        let mut settings = Settings::default();
        settings.slots.count = slots;
        settings.leases.ttl_secs = TTL_MS / 1000;
        settings.leases.sweep_interval_ms = HOUR_MS;
        settings.retention.interval_ms = HOUR_MS;
        let settings = Arc::new(settings);
        let clock = Clock::stepping(START, 1);
        let view = Arc::new(BoardView::new(slots));
        let resolver = DependencyResolver::new(DependencyGraph::new()).start();
        let slot_addr = SlotAllocator::new(
            SlotTable::new(slots),
            store.clone(),
            settings.leases.compat_ttl_secs.saturating_mul(1000),
            Duration::from_millis(HOUR_MS),
            view.slots_busy_cell(),
            clock.clone(),
        )
        .start();
        let registry = TaskRegistry::new(
            TaskTable::new(1),
            store.clone(),
            resolver,
            slot_addr.clone(),
            view.clone(),
            Arc::new(Metrics::default()),
            settings,
            clock.clone(),
        )
        .start();
        Self {
            registry,
            slots: slot_addr,
            store,
            clock,
            view,
            _dir: dir,
        }
    }

    /// Send `msg` and wait until the registry has handled it.
    async fn ask<M>(&self, msg: M) -> M::Result
    where
        M: Message + Send + 'static,
        M::Result: Send,
        TaskRegistry: Handler<M>,
    {
        self.registry
            .send(msg)
            .await
            .expect("the registry is running")
    }

    async fn durable(&self, ticket: Ticket) {
        self.store
            .wait_durable(ticket)
            .await
            .expect("the commit is durable");
    }

    /// Add `specs` as one batch and wait until it is durable.
    async fn add(&self, specs: Vec<TaskSpec>) -> Vec<Task> {
        let (tasks, ticket) = self
            .ask(AddTasks {
                actor: Principal::local(),
                specs,
            })
            .await
            .expect("the batch is valid");
        self.durable(ticket).await;
        tasks
    }

    /// `worker` claims the best ready task; waits until the claim is durable.
    async fn claim_next(&self, worker: &str) -> Result<Option<Claimed>, Error> {
        self.claim_next_keyed(worker, None).await
    }

    /// [`Harness::claim_next`] with an idempotency key.
    async fn claim_next_keyed(
        &self,
        worker: &str,
        request_id: Option<&str>,
    ) -> Result<Option<Claimed>, Error> {
        let claimed = self
            .ask(ClaimNext {
                actor: Principal::local(),
                worker: worker.to_owned(),
                tags: vec![],
                slot: None,
                request_id: request_id.map(str::to_owned),
            })
            .await?;
        if let Some(c) = &claimed {
            self.settled(c.ticket).await;
        }
        Ok(claimed)
    }

    /// Wait for a claim's commit, or (a repeated answer) for a barrier.
    async fn settled(&self, ticket: Option<Ticket>) {
        match ticket {
            Some(t) => self.durable(t).await,
            None => self.store.barrier().await.expect("a barrier"),
        }
    }

    /// `worker` claims task `id`; waits until the claim is durable.
    async fn claim(&self, id: &str, worker: &str) -> Claimed {
        let c = self
            .ask(ClaimTask {
                actor: Principal::local(),
                id: tid(id),
                worker: worker.to_owned(),
                slot: None,
                ttl_ms: None,
                compat: false,
            })
            .await
            .expect("the task is claimable");
        self.settled(c.ticket).await;
        c
    }

    /// Task `id` as a client reads it back: from the store.
    fn stored(&self, id: &str) -> Task {
        self.store
            .get_task(&tid(id))
            .expect("a store read")
            .unwrap_or_else(|| panic!("task '{id}' is stored"))
    }

    /// Task `id`'s audit log, oldest first.
    fn kinds(&self, id: &str) -> Vec<EventKind> {
        self.store
            .task_events(&tid(id))
            .expect("an audit log read")
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    /// Ids of the ready tasks agents may claim, best first (the in-memory queue).
    async fn ready(&self) -> Vec<String> {
        self.ask(ListReady)
            .await
            .into_iter()
            .map(|t| t.id.to_string())
            .collect()
    }

    /// The slots that run a task now, as `(slot, task)`.
    async fn busy_slots(&self) -> Vec<(u32, String)> {
        self.slots
            .send(ListSlots)
            .await
            .expect("the slot allocator is running")
            .into_iter()
            .filter_map(|s| s.task_id.map(|t| (s.slot, t.to_string())))
            .collect()
    }

    fn close(self) {
        self.store.close().expect("the store closes");
    }
}

fn tid(id: &str) -> TaskId {
    TaskId::from_trusted(id)
}

fn spec(id: &str, deps: &[&str]) -> TaskSpec {
    TaskSpec {
        id: Some(id.to_owned()),
        title: Some(id.to_owned()),
        dependencies: deps.iter().map(|d| (*d).to_owned()).collect(),
        ..TaskSpec::default()
    }
}

fn complete(c: &Claimed, lease_id: u64) -> Complete {
    Complete {
        actor: Principal::local(),
        id: c.task.id.clone(),
        lease: LeaseRef::Id(lease_id),
        output: Some(serde_json::json!({"ok": true})),
    }
}

#[actix::test]
async fn claim_next_takes_the_best_ready_task_with_a_slot_under_a_fenced_lease() {
    let h = Harness::start(2);
    h.add(vec![
        spec("low", &[]),
        TaskSpec {
            priority: Some(5),
            ..spec("high", &[])
        },
    ])
    .await;

    let first = h.claim_next("w1").await.unwrap().expect("a ready task");
    assert_eq!(first.task.id, tid("high"), "priority first");
    assert_eq!(first.task.status, TaskStatus::Running);
    assert_eq!(first.task.attempts, 1);
    assert_eq!(first.lease.worker, "w1");
    assert_eq!(
        first.lease.expires_at,
        first.lease.claimed_at + TTL_MS,
        "one reading of the clock stamps the claim and its expiry"
    );
    assert_eq!(
        h.stored("high"),
        first.task,
        "the reply is what was written"
    );
    assert!(h.view.contexts.contains_key(&tid("high")));

    let second = h.claim_next("w2").await.unwrap().expect("a ready task");
    assert_eq!(second.task.id, tid("low"));
    assert!(
        second.lease.lease_id > first.lease.lease_id,
        "fencing tokens grow"
    );
    assert_ne!(second.lease.slot, first.lease.slot);
    let mut busy = h.busy_slots().await;
    busy.sort();
    let mut want = vec![
        (first.lease.slot, "high".to_owned()),
        (second.lease.slot, "low".to_owned()),
    ];
    want.sort();
    assert_eq!(busy, want);

    // every slot is taken: the claim is refused and the task stays ready
    h.add(vec![spec("third", &[])]).await;
    let refused = h.claim_next("w3").await;
    assert!(
        matches!(refused, Err(Error::Slot(SlotError::NoneFree(2)))),
        "{refused:?}"
    );
    assert_eq!(h.stored("third").status, TaskStatus::Ready);
    assert_eq!(h.ready().await, vec!["third"]);
    assert_eq!(h.kinds("third"), vec![EventKind::TaskAdded]);
    h.close();
}

#[actix::test]
async fn complete_under_a_stale_lease_changes_nothing_and_under_the_current_one_readies_dependents()
{
    let h = Harness::start(2);
    h.add(vec![spec("a", &[]), spec("b", &["a"])]).await;
    assert_eq!(h.stored("b").status, TaskStatus::Blocked);
    assert_eq!(h.ready().await, vec!["a"]);
    let c = h.claim("a", "w").await;

    let stale = h.ask(complete(&c, c.lease.lease_id + 1)).await;
    match stale {
        Err(Error::Task(TaskError::StaleLease {
            presented, current, ..
        })) => {
            assert_eq!(presented, c.lease.lease_id + 1);
            assert_eq!(current, Some(c.lease.lease_id));
        }
        other => panic!("expected a stale lease, got {other:?}"),
    }
    assert_eq!(h.stored("a"), c.task, "a refused update writes nothing");

    let (done, ticket) = h.ask(complete(&c, c.lease.lease_id)).await.unwrap();
    h.durable(ticket).await;
    assert_eq!(done.status, TaskStatus::Done);
    assert_eq!(h.stored("a"), done);
    assert_eq!(
        done.output.as_deref(),
        Some(&serde_json::json!({"ok": true}))
    );
    assert!(done.lease.is_none());
    assert_eq!(h.stored("b").status, TaskStatus::Ready);
    assert_eq!(h.ready().await, vec!["b"]);
    assert_eq!(h.busy_slots().await, vec![], "the slot is free again");
    assert!(
        !h.view.contexts.contains_key(&tid("a")),
        "its context stopped"
    );
    assert_eq!(
        h.kinds("a"),
        vec![
            EventKind::TaskAdded,
            EventKind::TaskClaimed,
            EventKind::TaskCompleted
        ]
    );
    assert_eq!(
        h.kinds("b"),
        vec![EventKind::TaskAdded, EventKind::TaskReady]
    );
    h.close();
}

#[actix::test]
async fn an_expired_lease_is_refused_at_once_then_swept_back_to_ready_until_its_last_attempt() {
    let h = Harness::start(1);
    h.add(vec![
        TaskSpec {
            max_attempts: Some(2),
            ..spec("a", &[])
        },
        spec("b", &["a"]),
    ])
    .await;
    let first = h.claim("a", "w").await;
    assert!(
        h.ask(SweepLeases).await.unwrap().is_none(),
        "nothing has lapsed yet"
    );

    h.clock.advance(TTL_MS);
    let late = h
        .ask(Heartbeat {
            actor: Principal::local(),
            id: tid("a"),
            lease: LeaseRef::Id(first.lease.lease_id),
            ttl_ms: None,
        })
        .await;
    assert!(
        matches!(
            late,
            Err(Error::Task(TaskError::LeaseExpired { lease_id, .. }))
                if lease_id == first.lease.lease_id
        ),
        "a lapsed lease is refused before any sweep: {late:?}"
    );

    let ticket = h.ask(SweepLeases).await.unwrap().expect("a lapsed lease");
    h.durable(ticket).await;
    let a = h.stored("a");
    assert_eq!(a.status, TaskStatus::Ready, "retried: an attempt is left");
    assert_eq!(a.attempts, 1);
    assert_eq!(a.error.as_deref(), Some("lease expired"));
    assert!(a.lease.is_none() && a.worker.is_none());
    assert_eq!(h.busy_slots().await, vec![]);
    assert!(!h.view.contexts.contains_key(&tid("a")));
    let stale = h.ask(complete(&first, first.lease.lease_id)).await;
    assert!(
        matches!(
            stale,
            Err(Error::Task(TaskError::StaleLease { current: None, .. }))
        ),
        "{stale:?}"
    );

    let second = h.claim("a", "w").await;
    assert!(second.lease.lease_id > first.lease.lease_id);
    assert_eq!(second.task.attempts, 2);
    h.clock.advance(TTL_MS);
    let ticket = h.ask(SweepLeases).await.unwrap().expect("a lapsed lease");
    h.durable(ticket).await;
    let a = h.stored("a");
    assert_eq!(a.status, TaskStatus::Failed, "no attempt is left");
    assert_eq!(a.error.as_deref(), Some("lease expired (attempt 2 of 2)"));
    let b = h.stored("b");
    assert_eq!(b.status, TaskStatus::Failed, "the dependent fails with it");
    assert_eq!(b.error.as_deref(), Some("dependency 'a' failed"));
    assert_eq!(
        h.kinds("a")
            .iter()
            .filter(|k| **k == EventKind::TaskExpired)
            .count(),
        2
    );
    assert!(h.ask(SweepLeases).await.unwrap().is_none());
    h.close();
}

#[actix::test]
async fn failing_for_good_cascades_to_pending_dependents_and_reset_brings_them_back() {
    let h = Harness::start(2);
    h.add(vec![
        spec("a", &[]),
        spec("b", &["a"]),
        spec("c", &["b"]),
        spec("d", &[]),
    ])
    .await;
    let c = h.claim("a", "w").await;
    let (failed, ticket) = h
        .ask(Fail {
            actor: Principal::local(),
            id: tid("a"),
            lease: LeaseRef::Id(c.lease.lease_id),
            error: "boom".to_owned(),
            retry: false,
        })
        .await
        .unwrap();
    h.durable(ticket).await;
    assert_eq!(failed.status, TaskStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("boom"));
    for id in ["b", "c"] {
        let t = h.stored(id);
        assert_eq!(t.status, TaskStatus::Failed, "{id} follows a");
        assert_eq!(t.error.as_deref(), Some("dependency 'a' failed"));
        assert_eq!(h.kinds(id).last(), Some(&EventKind::TaskFailed));
    }
    assert_eq!(
        h.stored("d").status,
        TaskStatus::Ready,
        "d depends on nothing"
    );
    assert_eq!(h.ready().await, vec!["d"]);

    let (reset, ticket) = h
        .ask(Reset {
            actor: Principal::local(),
            id: tid("a"),
        })
        .await
        .unwrap();
    h.durable(ticket).await;
    let statuses: Vec<(String, TaskStatus)> =
        reset.iter().map(|t| (t.id.to_string(), t.status)).collect();
    assert_eq!(
        statuses,
        vec![
            ("a".to_owned(), TaskStatus::Ready),
            ("b".to_owned(), TaskStatus::Blocked),
            ("c".to_owned(), TaskStatus::Blocked),
        ]
    );
    for t in &reset {
        assert_eq!(&h.stored(t.id.as_str()), t);
        assert_eq!((t.attempts, t.error.as_deref()), (0, None));
    }
    assert_eq!(h.ready().await, vec!["a", "d"]);
    h.close();
}

#[actix::test]
async fn cancel_frees_the_running_lease_and_cascades_to_pending_dependents() {
    let h = Harness::start(1);
    h.add(vec![spec("a", &[]), spec("b", &["a"])]).await;
    let c = h.claim("a", "w").await;
    let (cancelled, ticket) = h
        .ask(Cancel {
            actor: Principal::local(),
            id: tid("a"),
            reason: Some("not needed".to_owned()),
        })
        .await
        .unwrap();
    h.durable(ticket).await;
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    assert_eq!(cancelled.error.as_deref(), Some("not needed"));
    let b = h.stored("b");
    assert_eq!(b.status, TaskStatus::Cancelled);
    assert_eq!(b.error.as_deref(), Some("dependency 'a' was cancelled"));
    assert_eq!(h.busy_slots().await, vec![]);
    assert!(!h.view.contexts.contains_key(&tid("a")));

    let after = h.ask(complete(&c, c.lease.lease_id)).await;
    assert!(after.is_err(), "the lease ended with the cancel: {after:?}");
    assert_eq!(h.stored("a"), cancelled);
    h.close();
}

#[actix::test]
async fn a_passed_deadline_expires_the_lease_it_was_set_for_and_no_other() {
    let h = Harness::start(1);
    // an hour: the context's own timer never fires during the test, the
    // messages below stand in for it
    h.add(vec![TaskSpec {
        timeout_secs: Some(3600),
        ..spec("a", &[])
    }])
    .await;
    let c = h.claim("a", "w").await;

    h.ask(DeadlineExceeded {
        task: tid("a"),
        lease_id: c.lease.lease_id + 7,
    })
    .await;
    h.store.barrier().await.unwrap();
    assert_eq!(h.stored("a"), c.task, "another lease's deadline is ignored");
    assert!(h.ready().await.is_empty());

    h.ask(DeadlineExceeded {
        task: tid("a"),
        lease_id: c.lease.lease_id,
    })
    .await;
    h.store.barrier().await.unwrap();
    let a = h.stored("a");
    assert_eq!(a.status, TaskStatus::Ready, "retried: attempts are left");
    assert_eq!(a.attempts, 1);
    assert_eq!(a.error.as_deref(), Some("execution timeout after 3600s"));
    assert_eq!(h.kinds("a").last(), Some(&EventKind::TaskExpired));
    assert_eq!(h.busy_slots().await, vec![]);
    assert_eq!(h.ready().await, vec!["a"]);
    h.close();
}

/// Issue 23.8: a claim-next sent again with the same `request_id` (its
/// answer was lost) answers the same task and lease and claims nothing
/// else; the record is stored with the claim and removed with the lease's
/// end, after which the key claims afresh. Another worker's identical key
/// is another request.
#[actix::test]
async fn a_keyed_claim_next_sent_again_answers_the_same_lease_until_it_ends() {
    let h = Harness::start(3);
    h.add(vec![spec("a", &[]), spec("b", &[]), spec("c", &[])])
        .await;
    let first = h
        .claim_next_keyed("w", Some("r1"))
        .await
        .unwrap()
        .expect("a ready task");
    assert!(first.ticket.is_some(), "a claim is written");
    assert_eq!(
        h.store.load_requests().unwrap().len(),
        1,
        "remembered on disk"
    );
    let again = h
        .claim_next_keyed("w", Some("r1"))
        .await
        .unwrap()
        .expect("the same answer");
    assert_eq!(
        (again.task.id.clone(), again.lease.clone()),
        (first.task.id.clone(), first.lease.clone())
    );
    assert!(again.ticket.is_none(), "a repeat writes nothing");
    assert_eq!(h.ready().await.len(), 2, "nothing else was claimed");
    let other = h
        .claim_next_keyed("v", Some("r1"))
        .await
        .unwrap()
        .expect("another worker's request");
    assert_ne!(other.task.id, first.task.id);

    let (_, ticket) = h.ask(complete(&first, first.lease.lease_id)).await.unwrap();
    h.durable(ticket).await;
    let kept: Vec<String> = h
        .store
        .load_requests()
        .unwrap()
        .into_iter()
        .map(|r| r.key.worker)
        .collect();
    assert_eq!(
        kept,
        vec!["v"],
        "forgotten in the commit that ended the lease"
    );
    let fresh = h
        .claim_next_keyed("w", Some("r1"))
        .await
        .unwrap()
        .expect("a fresh claim");
    assert!(fresh.lease.lease_id > other.lease.lease_id);
    h.close();
}

/// Issue 23.8: a lapsed lease is not answered again: the keyed retry claims
/// afresh, and the sweep that expires the lease forgets its record.
#[actix::test]
async fn a_keyed_claim_whose_lease_lapsed_is_not_answered_again() {
    let h = Harness::start(2);
    h.add(vec![spec("a", &[]), spec("b", &[])]).await;
    let first = h
        .claim_next_keyed("w", Some("r1"))
        .await
        .unwrap()
        .expect("a");
    h.clock.advance(TTL_MS);
    let fresh = h
        .claim_next_keyed("w", Some("r1"))
        .await
        .unwrap()
        .expect("b");
    assert_ne!(fresh.task.id, first.task.id);
    let ticket = h.ask(SweepLeases).await.unwrap().expect("a lapsed lease");
    h.durable(ticket).await;
    let kept = h.store.load_requests().unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        kept[0].answer,
        crate::model::RequestAnswer::Lease {
            task_id: fresh.task.id.clone(),
            lease_id: fresh.lease.lease_id
        }
    );
    h.close();
}

/// Issue 23.8: claiming a named task the same worker already holds answers
/// its lease again (a retry whose answer was lost); another worker, or the
/// same worker on the other kind of lease or another slot, is refused.
#[actix::test]
async fn a_claim_of_a_task_its_worker_holds_answers_the_lease_it_holds() {
    let h = Harness::start(2);
    h.add(vec![spec("a", &[])]).await;
    let first = h.claim("a", "w").await;
    let again = h.claim("a", "w").await;
    assert_eq!(again.lease, first.lease);
    assert!(again.ticket.is_none(), "a repeat writes nothing");
    assert_eq!(h.kinds("a").len(), 2, "added, claimed once");
    let by = |worker: &str, slot: Option<u32>, compat: bool| ClaimTask {
        actor: Principal::local(),
        id: tid("a"),
        worker: worker.to_owned(),
        slot,
        ttl_ms: None,
        compat,
    };
    for refused in [
        by("v", None, false),
        by("w", None, true),
        by("w", Some(first.lease.slot + 1), false),
    ] {
        let r = h.ask(refused).await;
        assert!(
            matches!(r, Err(Error::Task(TaskError::WrongStatus { .. }))),
            "{r:?}"
        );
    }
    h.clock.advance(TTL_MS);
    let r = h.ask(by("w", None, false)).await;
    assert!(r.is_err(), "a lapsed lease is not answered again: {r:?}");
    h.close();
}

/// Issue 23.8 in the slot allocator: a slot claim sent again with the same
/// `request_id` answers the same slot and holds no other; its record is
/// stored with the hold and removed in the commit that releases it, after
/// which the key holds afresh.
#[actix::test]
async fn a_keyed_slot_claim_sent_again_answers_the_same_slot_until_the_hold_ends() {
    use crate::actors::slots::{ClaimSlot, ReleaseSlot};
    let h = Harness::start(3);
    let claim = || ClaimSlot {
        worker: String::new(),
        owner: None,
        request_id: Some("r1".into()),
    };
    let ask = |m: ClaimSlot| {
        let slots = h.slots.clone();
        async move { slots.send(m).await.expect("the allocator runs") }
    };
    let (slot, ticket) = ask(claim()).await.unwrap();
    h.settled(ticket).await;
    assert_eq!(
        h.store.load_requests().unwrap().len(),
        1,
        "stored with the hold"
    );
    let (again, ticket) = ask(claim()).await.unwrap();
    assert_eq!(
        (again, ticket),
        (slot, None),
        "the same slot, nothing written"
    );
    let busy = h.slots.send(ListSlots).await.unwrap();
    assert_eq!(busy.iter().filter(|s| s.explicit).count(), 1);
    let t = h
        .slots
        .send(ReleaseSlot { slot, worker: None })
        .await
        .unwrap()
        .unwrap();
    h.durable(t).await;
    assert!(
        h.store.load_requests().unwrap().is_empty(),
        "removed with the hold"
    );
    let (fresh, ticket) = ask(claim()).await.unwrap();
    assert!(ticket.is_some(), "a new hold is written");
    assert_eq!(fresh, slot, "the lowest free slot again, as a new hold");
    h.close();
}
