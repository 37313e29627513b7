//! Expiry: leases whose `expires_at` passed by the clock are expired by the
//! sweep timer (every `leases.sweep_interval_ms`) or on demand
//! ([`SweepLeases`]); a task context whose execution deadline passed sends
//! [`DeadlineExceeded`]. Either way the attempt fails and the task is retried
//! while attempts remain, or fails for good (and its dependents with it).

use actix::prelude::*;

use super::messages::SweepLeases;
use super::{done, Fut, Reply, TaskRegistry};
use crate::actors::context::DeadlineExceeded;
use crate::core::table::Effects;
use crate::model::Millis;
use crate::store::Ticket;

impl TaskRegistry {
    /// Expire the leases that lapsed by `now`; `None` if there are none.
    fn expire_lapsed(&mut self, now: Millis) -> Option<Effects> {
        let expired = self.table.expired(now);
        if expired.is_empty() {
            return None;
        }
        let mut fx = Effects::default();
        for (id, lease_id) in expired {
            tracing::info!(task = %id, lease_id, "lease expired");
            if let Some(l) = self.table.get(&id).and_then(|t| t.lease.as_deref()) {
                self.lapsed_leases
                    .insert(l.worker.clone(), (id.clone(), l.expires_at));
            }
            self.table
                .expire(&id, lease_id, "lease expired".into(), now, &mut fx);
        }
        Some(fx)
    }

    pub(super) fn sweep(&mut self, ctx: &mut Context<Self>) {
        let now = self.clock.now();
        self.sweep_reservations(now);
        if let Some(fx) = self.expire_lapsed(now) {
            // Run it as an atomic step of our own: nothing else interleaves.
            ctx.wait(log_failure(self.finish(fx, now, |_, _| Ok(()))));
        }
    }
}

fn log_failure(fut: Fut<()>) -> impl ActorFuture<TaskRegistry, Output = ()> {
    fut.map(|r, _, _| {
        if let Err(e) = r {
            tracing::error!(error = %e, "lease expiry failed");
        }
    })
}

impl Handler<SweepLeases> for TaskRegistry {
    type Result = Reply<Option<Ticket>>;
    fn handle(&mut self, _: SweepLeases, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        match self.expire_lapsed(now) {
            None => done(Ok(None)),
            Some(fx) => AtomicResponse::new(self.finish(fx, now, |_, t| Ok(Some(t)))),
        }
    }
}

impl Handler<DeadlineExceeded> for TaskRegistry {
    type Result = AtomicResponse<Self, ()>;
    fn handle(&mut self, msg: DeadlineExceeded, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let mut fx = Effects::default();
        let secs = self
            .table
            .get(&msg.task)
            .and_then(|t| t.timeout_secs)
            .unwrap_or(0);
        let reason = format!("execution timeout after {secs}s");
        self.table
            .expire(&msg.task, msg.lease_id, reason, now, &mut fx);
        AtomicResponse::new(Box::pin(log_failure(self.finish(fx, now, |_, _| Ok(())))))
    }
}
