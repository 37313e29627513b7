//! `TaskContext`: one actor per claimed task, holding that task's private
//! context and its execution deadline.
//!
//! State: the task id, the lease it serves (shared with the registry, which
//! revokes it the moment the lease ends), and an optional deadline timer.
//! Messages: [`PutContext`] (lease-checked write of one key; persisted in the
//! `c/` key space) and [`StopContext`]. Talks to: whoever started it (the
//! [`TaskRegistry`](crate::actors::registry::TaskRegistry)), by sending the
//! [`Recipient`] it was given a [`DeadlineExceeded`] when the task's
//! `timeout_secs` runs out. That event is defined here, beside the actor that
//! sends it, so a context needs nothing of the registry: the registry starts
//! contexts and handles their event, and the import points one way. Each
//! context is its own actor: a panic inside one stops that actor only, never
//! another task's.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;

use crate::actors::live::Live;
use crate::clock::Clock;
use crate::core::table::TaskError;
use crate::core::validate::check_value_size;
use crate::error::Error;
use crate::model::{Event, EventKind, Millis, Principal, TaskId};
use crate::store::{Store, Ticket, WriteBatch};

/// Longest context key.
pub const MAX_KEY_LEN: usize = 256;

/// The lease a context serves, `(lease_id, expires_at)`; `None` once
/// revoked. The registry renews `expires_at` on every heartbeat.
pub type LeaseCell = Arc<Mutex<Option<(u64, Millis)>>>;

/// Handle the registry and the edges keep to a live context.
#[derive(Clone)]
pub struct ContextHandle {
    /// The context actor's address: send it [`PutContext`], reads and notes.
    pub addr: Addr<TaskContext>,
    /// Its lease cell.
    pub lease: LeaseCell,
}

impl ContextHandle {
    /// Revoke the lease (synchronously) and stop the actor: writes already
    /// in its mailbox are refused (the lease is gone), then it stops — also
    /// when a deadline timer would otherwise keep it alive for days.
    pub fn revoke(&self) {
        *self.lease.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.addr.do_send(StopContext);
    }

    /// A heartbeat moved the lease's expiry (ignored for another lease).
    pub fn renew(&self, lease_id: u64, expires_at: Millis) {
        let mut cell = self.lease.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((id, exp)) = cell.as_mut() {
            if *id == lease_id {
                *exp = expires_at;
            }
        }
    }
}

/// What every context shares: the store it writes to, the value size
/// limit, the clock, and the count of live context actors (a gauge for
/// metrics and the leak soak). Cheap to clone.
#[derive(Clone)]
pub struct ContextEnv {
    /// Where context writes go.
    pub store: Store,
    /// Largest context value, in bytes of compact JSON (`[tasks]
    /// max_context_value_bytes`).
    pub max_value_bytes: usize,
    /// The runtime's clock (lease expiry is checked against it).
    pub clock: Clock,
    /// Context actors alive now (started and not yet dropped).
    pub live: Arc<AtomicUsize>,
}

impl ContextEnv {
    /// An environment with a fresh live-count.
    pub fn new(store: Store, max_value_bytes: usize, clock: Clock) -> Self {
        Self {
            store,
            max_value_bytes,
            clock,
            live: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// A task context's execution deadline passed: the event a [`TaskContext`]
/// sends to the [`Recipient`] it was started with (the registry, which
/// expires the lease if it is still current; its handler is in
/// `actors/registry/expiry.rs`).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DeadlineExceeded {
    /// The task whose deadline passed (the context's own task).
    pub task: TaskId,
    /// The lease the deadline belonged to (ignored if no longer current).
    pub lease_id: u64,
}

/// The per-task context actor.
pub struct TaskContext {
    task: TaskId,
    lease: LeaseCell,
    /// The token that created the lease (only it, or an admin, may write).
    owner: Option<String>,
    /// The deadline and whom to tell when it passes.
    deadline: Option<(Duration, Recipient<DeadlineExceeded>)>,
    store: Store,
    max_value_bytes: usize,
    clock: Clock,
    _live: Live,
}

impl TaskContext {
    /// Start a context for `task` under `lease = (lease_id, expires_at)`,
    /// created by `owner` (the lease's token name); returns its handle.
    pub fn spawn(
        task: TaskId,
        lease: (u64, Millis),
        owner: Option<String>,
        deadline: Option<(Duration, Recipient<DeadlineExceeded>)>,
        env: &ContextEnv,
    ) -> ContextHandle {
        let lease: LeaseCell = Arc::new(Mutex::new(Some(lease)));
        let addr = TaskContext {
            task,
            lease: lease.clone(),
            owner,
            deadline,
            store: env.store.clone(),
            max_value_bytes: env.max_value_bytes,
            clock: env.clock.clone(),
            _live: Live::new(&env.live),
        }
        .start();
        ContextHandle { addr, lease }
    }
}

impl Actor for TaskContext {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some((d, registry)) = self.deadline.clone() {
            ctx.run_later(d, move |act, ctx| {
                let lease = *act.lease.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((lease_id, _)) = lease {
                    tracing::info!(task = %act.task, lease_id, "execution deadline passed");
                    registry.do_send(DeadlineExceeded {
                        task: act.task.clone(),
                        lease_id,
                    });
                }
                ctx.stop();
            });
        }
    }
}

/// Write one key of the task's context under its current lease.
#[derive(Debug, Message)]
#[rtype(result = "Result<Ticket, Error>")]
pub struct PutContext {
    /// Lease the writer holds.
    pub lease_id: u64,
    /// Key (1..=256 bytes of UTF-8, no control characters).
    pub key: String,
    /// The value to store under `key`: any JSON, at most
    /// `tasks.max_context_value_bytes` serialized.
    pub value: serde_json::Value,
    /// Who writes (must own the lease or be an admin).
    pub actor: Principal,
}

/// Check a context key.
pub fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
        return Err(Error::invalid(
            "key",
            format!("must be 1 to {MAX_KEY_LEN} bytes (UTF-8) without control characters"),
        ));
    }
    Ok(())
}

impl Handler<PutContext> for TaskContext {
    type Result = Result<Ticket, Error>;
    fn handle(&mut self, msg: PutContext, _: &mut Context<Self>) -> Self::Result {
        check_key(&msg.key)?;
        check_value_size("value", &msg.value, self.max_value_bytes)?;
        // Hold the lease cell across check and commit: a revocation either
        // happens before (the write is refused) or after (the write was made
        // under a live lease).
        let lease = self.lease.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now();
        match *lease {
            Some((id, expires_at)) if id == msg.lease_id && expires_at <= now => {
                return Err(TaskError::LeaseExpired {
                    task: self.task.clone(),
                    lease_id: id,
                    expires_at,
                }
                .into());
            }
            Some((id, _)) if id == msg.lease_id => {}
            current => {
                return Err(TaskError::StaleLease {
                    task: self.task.clone(),
                    presented: msg.lease_id,
                    current: current.map(|(id, _)| id),
                }
                .into());
            }
        }
        if !msg.actor.may_act_on(self.owner.as_deref()) {
            return Err(TaskError::NotOwner {
                task: self.task.clone(),
                owner: self.owner.clone(),
            }
            .into());
        }
        let mut batch = WriteBatch::new();
        batch.put_context(&self.task, &msg.key, &msg.value);
        batch.put_event(
            Event {
                id: 0,
                at: now,
                kind: EventKind::ContextSet,
                task_id: Some(self.task.clone()),
                worker: None,
                actor: msg.actor.name,
                slot: None,
                lease_id: Some(msg.lease_id),
                from: None,
                to: None,
                reason: Some(msg.key),
            },
            None,
        );
        Ok(self.store.commit(batch)?)
    }
}

/// Stop the context (its lease ended).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct StopContext;

impl Handler<StopContext> for TaskContext {
    type Result = ();
    fn handle(&mut self, _: StopContext, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    struct Boom;
    impl Message for Boom {
        type Result = ();
    }
    impl Handler<Boom> for TaskContext {
        type Result = ();
        fn handle(&mut self, _: Boom, _: &mut Context<Self>) {
            panic!("injected panic in one task context");
        }
    }

    struct Sink;
    impl Actor for Sink {
        type Context = Context<Self>;
    }
    impl Handler<DeadlineExceeded> for Sink {
        type Result = ();
        fn handle(&mut self, _: DeadlineExceeded, _: &mut Context<Self>) {}
    }

    #[actix::test]
    async fn a_panic_in_one_context_leaves_the_others_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let sink: Recipient<DeadlineExceeded> = Sink.start().recipient();
        // both carry a (distant) deadline timer: the panic must not disturb b's
        let far = Some((Duration::from_secs(3600), sink));
        let clock = Clock::manual(1_000);
        let env = ContextEnv::new(store.clone(), 1024, clock.clone());
        let a = TaskContext::spawn(
            TaskId::from_trusted("a"),
            (1, 10_000),
            None,
            far.clone(),
            &env,
        );
        let b = TaskContext::spawn(TaskId::from_trusted("b"), (2, 10_000), None, far, &env);
        assert_eq!(env.live.load(Ordering::Relaxed), 2);
        assert!(
            a.addr.send(Boom).await.is_err(),
            "the panicking context dies"
        );
        let put = |lease_id| PutContext {
            lease_id,
            key: "k".into(),
            value: serde_json::json!(1),
            actor: Principal::local(),
        };
        let t = b.addr.send(put(2)).await.unwrap().unwrap();
        store.wait_durable(t).await.unwrap();
        assert_eq!(
            store.context_get(&TaskId::from_trusted("b"), "k").unwrap(),
            Some(serde_json::json!(1))
        );
        assert!(
            a.addr.send(put(1)).await.is_err(),
            "the dead one stays dead"
        );
        // the lease's time is checked at the write, whatever the sweep did
        clock.advance(9_000);
        assert!(matches!(
            b.addr.send(put(2)).await.unwrap(),
            Err(Error::Task(TaskError::LeaseExpired { lease_id: 2, .. }))
        ));
        b.renew(2, 20_000);
        let t = b.addr.send(put(2)).await.unwrap().unwrap();
        store.wait_durable(t).await.unwrap();
        // revocation is immediate for writes, and the actor stops although
        // its deadline timer is an hour away
        b.revoke();
        assert!(b.addr.send(put(2)).await.map_or(true, |r| r.is_err()));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while env.live.load(Ordering::Relaxed) > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            env.live.load(Ordering::Relaxed),
            0,
            "a context outlived its lease"
        );
        assert!(!b.addr.connected());
        store.close().unwrap();
    }
}
