//! Implicit renewal on a worker's activity ([`RenewOnActivity`], the rule
//! of [`crate::core::table::ImplicitRenewal`]) and the explicit signs of
//! life that restart its budget ([`MarkExplicit`]: a context write; a
//! heartbeat marks itself); the tasks a worker holds ([`ListHeld`]).

use actix::prelude::*;

use super::messages::{ListHeld, MarkExplicit, RenewOnActivity};
use super::{done, Reply, TaskRegistry};
use crate::core::table::{Effects, ImplicitRenewal};
use crate::model::Lease;
use crate::store::Ticket;

impl TaskRegistry {
    fn implicit_bounds(&self) -> ImplicitRenewal {
        let leases = &self.settings.leases;
        ImplicitRenewal {
            ttl_ms: leases.ttl_secs.saturating_mul(1000),
            compat_ttl_ms: leases.compat_ttl_secs.saturating_mul(1000),
            max_implicit_ms: leases.max_implicit_secs.saturating_mul(1000),
        }
    }
}

impl Handler<RenewOnActivity> for TaskRegistry {
    type Result = Reply<(Vec<Lease>, Option<Ticket>)>;
    fn handle(&mut self, msg: RenewOnActivity, _: &mut Context<Self>) -> Self::Result {
        if !self.settings.leases.renew_on_activity {
            return done(Ok((Vec::new(), None)));
        }
        let now = self.clock.now();
        let mut fx = Effects::by(msg.actor);
        let renewed =
            self.table
                .renew_on_activity(&msg.worker, now, self.implicit_bounds(), &mut fx);
        if renewed.is_empty() {
            return done(Ok((Vec::new(), None)));
        }
        tracing::debug!(worker = %msg.worker, leases = renewed.len(), "leases renewed by activity");
        AtomicResponse::new(self.finish(fx, now, move |_, t| Ok((renewed, Some(t)))))
    }
}

impl Handler<MarkExplicit> for TaskRegistry {
    type Result = ();
    fn handle(&mut self, msg: MarkExplicit, _: &mut Context<Self>) {
        let now = self.clock.now();
        self.table.mark_explicit(&msg.id, msg.lease_id, now);
    }
}

impl Handler<ListHeld> for TaskRegistry {
    type Result = MessageResult<ListHeld>;
    fn handle(&mut self, msg: ListHeld, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.table.held_by(&msg.worker))
    }
}
