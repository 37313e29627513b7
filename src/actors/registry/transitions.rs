//! A task's transitions after its claim: under its lease ([`Heartbeat`],
//! [`Complete`], [`Fail`], [`Release`], each checked against the lease's id
//! or compat worker, its owner and its time; a fail or release may put the
//! task off with `retry_after_secs`) and outside it ([`Cancel`], which
//! carries pending dependents and a parent's unfinished subtasks along, and
//! [`Reset`] of a failed task and the failed tasks that fell with it).

use actix::prelude::*;

use super::commit::Resolutions;
use super::messages::{Cancel, Complete, Fail, Heartbeat, Release, Reset};
use super::{done, Reply, TaskRegistry};
use crate::actors::resolver::ResetNode;
use crate::core::graph::Readiness;
use crate::core::table::Effects;
use crate::core::validate::{check_delay, check_value_size, clip};
use crate::error::Error;
use crate::model::{Task, TaskId};
use crate::store::Ticket;

impl TaskRegistry {
    /// `retry_after_secs` as the time a task may run again (`None`: now);
    /// refused above `[tasks] max_delay_secs`.
    fn later(&self, secs: Option<u64>, now: crate::model::Millis) -> Result<Option<u64>, Error> {
        match secs {
            None => Ok(None),
            Some(s) => Ok(check_delay(
                "retry_after_secs",
                s,
                now,
                self.settings.tasks.max_delay_secs,
            )?),
        }
    }
}

impl Handler<Heartbeat> for TaskRegistry {
    type Result = Reply<(Task, Ticket)>;
    fn handle(&mut self, msg: Heartbeat, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let ttl = msg.ttl_ms.unwrap_or_else(|| self.ttl_ms());
        let mut fx = Effects::by(msg.actor);
        if let Err(e) = self.table.heartbeat(&msg.id, &msg.lease, now, ttl, &mut fx) {
            return done(Err(e.into()));
        }
        self.lease_reply(msg.id, fx, now)
    }
}

impl Handler<Complete> for TaskRegistry {
    type Result = Reply<(Task, Ticket)>;
    fn handle(&mut self, msg: Complete, _: &mut Context<Self>) -> Self::Result {
        if let Some(out) = &msg.output {
            if let Err(e) = check_value_size("output", out, self.settings.tasks.max_payload_bytes) {
                return done(Err(e.into()));
            }
        }
        let now = self.clock.now();
        let mut fx = Effects::by(msg.actor);
        if let Err(e) = self
            .table
            .complete(&msg.id, &msg.lease, msg.output, now, &mut fx)
        {
            return done(Err(e.into()));
        }
        self.lease_reply(msg.id, fx, now)
    }
}

impl Handler<Fail> for TaskRegistry {
    type Result = Reply<(Task, Ticket)>;
    fn handle(&mut self, msg: Fail, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let mut fx = Effects::by(msg.actor);
        let error = clip(msg.error, self.settings.tasks.max_error_len);
        let later = match self.later(msg.retry_after_secs, now) {
            Ok(l) => l,
            Err(e) => return done(Err(e)),
        };
        if let Err(e) = self
            .table
            .fail_until(&msg.id, &msg.lease, error, msg.retry, later, now, &mut fx)
        {
            return done(Err(e.into()));
        }
        self.lease_reply(msg.id, fx, now)
    }
}

impl Handler<Release> for TaskRegistry {
    type Result = Reply<(Task, Ticket)>;
    fn handle(&mut self, msg: Release, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let mut fx = Effects::by(msg.actor);
        let later = match self.later(msg.retry_after_secs, now) {
            Ok(l) => l,
            Err(e) => return done(Err(e)),
        };
        if let Err(e) = self
            .table
            .release_until(&msg.id, &msg.lease, later, now, &mut fx)
        {
            return done(Err(e.into()));
        }
        self.lease_reply(msg.id, fx, now)
    }
}

impl Handler<Cancel> for TaskRegistry {
    type Result = Reply<(Task, Ticket)>;
    fn handle(&mut self, msg: Cancel, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let mut fx = Effects::by(msg.actor);
        let reason = msg
            .reason
            .map(|r| clip(r, self.settings.tasks.max_error_len));
        if let Err(e) = self.table.cancel(&msg.id, reason, now, &mut fx) {
            return done(Err(e.into()));
        }
        self.lease_reply(msg.id, fx, now)
    }
}

impl Handler<Reset> for TaskRegistry {
    type Result = Reply<(Vec<Task>, Ticket)>;
    fn handle(&mut self, msg: Reset, _: &mut Context<Self>) -> Self::Result {
        if let Err(e) = self.table.check_resettable(&msg.id) {
            return done(Err(e.into()));
        }
        let resolver = self.resolver.clone();
        let (id, actor) = (msg.id, msg.actor);
        let fut = async move { resolver.send(ResetNode { id }).await };
        AtomicResponse::new(Box::pin(fut.into_actor(self).map(move |res, act, ctx| {
            let list = res.map_err(Error::from)??;
            let now = act.clock.now();
            let mut fx = Effects::by(actor);
            let ids: Vec<(TaskId, bool)> = list
                .iter()
                .map(|(id, r)| (id.clone(), *r == Readiness::Ready))
                .collect();
            act.table.reset(&ids, now, &mut fx);
            let (ticket, _) = act.commit(fx, Resolutions::default(), now, ctx)?;
            let out = ids
                .iter()
                .filter_map(|(id, _)| act.table.get(id).cloned())
                .collect();
            Ok((out, ticket))
        })))
    }
}
