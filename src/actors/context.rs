//! `TaskContext`: one actor per claimed task, holding that task's private
//! context and its execution deadline.
//!
//! State: the task id, the lease it serves (shared with the registry, which
//! revokes it the moment the lease ends), and an optional deadline timer.
//! Messages: [`PutContext`] (lease-checked write of one key; persisted in the
//! `c/` key space) and [`StopContext`]. Talks to: the
//! [`TaskRegistry`](super::registry::TaskRegistry), by sending it
//! [`DeadlineExceeded`](super::registry::DeadlineExceeded) when the task's
//! `timeout_secs` runs out. Each context is its own actor: a panic inside one
//! stops that actor only, never another task's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;

use crate::actors::registry::DeadlineExceeded;
use crate::core::table::TaskError;
use crate::core::validate::check_value_size;
use crate::error::Error;
use crate::model::{now_ms, Event, EventKind, TaskId};
use crate::store::{Store, Ticket, WriteBatch};

/// Longest context key.
pub const MAX_KEY_LEN: usize = 256;

/// The lease a context serves; `None` once revoked.
pub type LeaseCell = Arc<Mutex<Option<u64>>>;

/// Handle the registry and the edges keep to a live context.
#[derive(Clone)]
pub struct ContextHandle {
    /// The actor.
    pub addr: Addr<TaskContext>,
    /// Its lease cell.
    pub lease: LeaseCell,
}

impl ContextHandle {
    /// Revoke the lease (synchronously). The actor stops by itself once the
    /// registry drops this handle (no address left, nothing pending), or when
    /// its deadline timer fires.
    pub fn revoke(&self) {
        *self.lease.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// The per-task context actor.
pub struct TaskContext {
    task: TaskId,
    lease: LeaseCell,
    /// The deadline and whom to tell when it passes.
    deadline: Option<(Duration, Recipient<DeadlineExceeded>)>,
    store: Store,
    max_value_bytes: usize,
}

impl TaskContext {
    /// Start a context for `task` under `lease_id`; returns its handle.
    pub fn spawn(
        task: TaskId,
        lease_id: u64,
        deadline: Option<(Duration, Recipient<DeadlineExceeded>)>,
        store: Store,
        max_value_bytes: usize,
    ) -> ContextHandle {
        let lease: LeaseCell = Arc::new(Mutex::new(Some(lease_id)));
        let addr = TaskContext {
            task,
            lease: lease.clone(),
            deadline,
            store,
            max_value_bytes,
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
                if let Some(lease_id) = lease {
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
    /// Key (1..=256 printable characters).
    pub key: String,
    /// Value.
    pub value: serde_json::Value,
}

/// Check a context key.
pub fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
        return Err(Error::invalid(
            "key",
            format!("must be 1 to {MAX_KEY_LEN} printable characters"),
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
        if *lease != Some(msg.lease_id) {
            return Err(TaskError::StaleLease {
                task: self.task.clone(),
                presented: msg.lease_id,
                current: *lease,
            }
            .into());
        }
        let mut batch = WriteBatch::new();
        batch.put_context(&self.task, &msg.key, &msg.value);
        batch.put_event(
            Event {
                id: 0,
                at: now_ms(),
                kind: EventKind::ContextSet,
                task_id: Some(self.task.clone()),
                worker: None,
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
        let a = TaskContext::spawn(
            TaskId::from_trusted("a"),
            1,
            far.clone(),
            store.clone(),
            1024,
        );
        let b = TaskContext::spawn(TaskId::from_trusted("b"), 2, far, store.clone(), 1024);
        assert!(
            a.addr.send(Boom).await.is_err(),
            "the panicking context dies"
        );
        let put = |lease_id| PutContext {
            lease_id,
            key: "k".into(),
            value: serde_json::json!(1),
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
        // revocation is immediate for writes
        b.revoke();
        assert!(b.addr.send(put(2)).await.map_or(true, |r| r.is_err()));
        store.close().unwrap();
    }
}
