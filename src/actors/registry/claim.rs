//! Claims: [`ClaimNext`] (the best ready task an agent may take, by
//! priority then age, with tags), [`ClaimNextExecutor`] (the dispatcher's),
//! [`ClaimTask`] (a named one), each taking a slot from the slot allocator
//! and the task in one step; and [`ListReady`], the ready queue as agents see
//! it.
//!
//! Retries: a [`ClaimNext`] with a `request_id` whose claim is remembered,
//! and a [`ClaimTask`] of a task the same worker already holds, answer the
//! lease already held ([`Claimed::ticket`] `None`) and change nothing.

use actix::prelude::*;

use super::commit::Resolutions;
use super::messages::{ClaimNext, ClaimNextExecutor, ClaimTask, Claimed, ListReady};
use super::paths::Blocker;
use super::{done, Fut, Reply, TaskRegistry};
use crate::actors::slots::{AcquireSlot, BindSlot, TaskEnded};
use crate::core::reservations::ReservationError;
use crate::core::table::{Claimant, Effects};
use crate::error::Error;
use crate::model::{
    Lease, Principal, RequestAnswer, RequestKey, RequestKind, RequestRecord, Task, TaskId,
};

impl TaskRegistry {
    /// `lease` answered again: the task as it is now, nothing to write.
    fn again(&self, lease: Lease) -> Result<Claimed, crate::error::Error> {
        Ok(Claimed {
            task: self.task(&lease.task_id)?,
            lease,
            ticket: None,
        })
    }

    /// The live lease a remembered claim-next request handed out, if any.
    fn remembered(&self, key: &RequestKey) -> Option<Lease> {
        let rec = self.requests.get(key)?;
        self.lease_of(&rec.answer)
            .filter(|l| l.expires_at > self.clock.now())
            .cloned()
    }

    /// The live lease `worker` (for `actor`) already holds on task `id`, of
    /// the same kind and, when `slot` is given, in that slot: what a retried
    /// claim of that task answers.
    fn held_by(
        &self,
        id: &TaskId,
        worker: &str,
        actor: &Principal,
        slot: Option<u32>,
        compat: bool,
    ) -> Option<Lease> {
        let l = self.table.get(id)?.lease.as_deref()?;
        (l.worker == worker
            && l.owner == actor.name
            && l.compat == compat
            && slot.is_none_or(|s| s == l.slot)
            && l.expires_at > self.clock.now())
        .then(|| l.clone())
    }

    // one claim's parts, each passed once by the three handlers below
    #[allow(clippy::too_many_arguments)]
    fn claim_into_slot(
        &mut self,
        id: TaskId,
        worker: String,
        slot: Option<u32>,
        ttl_ms: u64,
        actor: Principal,
        compat: bool,
        remember: Option<RequestKey>,
    ) -> Fut<Claimed> {
        let slots = self.slots.clone();
        let (w, t) = (worker.clone(), id.clone());
        // the claim's time is the allocator's one read: a restart rebuilds
        // a task-bound slot's `since` from the lease's `claimed_at`
        let acquire = async move {
            match slot {
                Some(s) => slots
                    .send(BindSlot {
                        slot: s,
                        worker: w,
                        task: t,
                    })
                    .await?
                    .map(|at| (s, at)),
                None => slots.send(AcquireSlot { worker: w, task: t }).await?,
            }
        };
        let slot_held = slot.is_some();
        Box::pin(acquire.into_actor(self).map(move |taken, act, ctx| {
            let (slot, now) = taken?;
            let mut fx = Effects::by(actor);
            let who = Claimant {
                worker: &worker,
                slot,
                ttl_ms,
                compat,
            };
            let lease = match act.table.claim(&id, who, now, &mut fx) {
                Ok(l) => l,
                Err(e) => {
                    act.slots.do_send(TaskEnded { slot, task: id });
                    return Err(e.into());
                }
            };
            if let Some(key) = remember {
                act.remember_request(RequestRecord {
                    key,
                    at: now,
                    answer: RequestAnswer::Lease {
                        task_id: id.clone(),
                        lease_id: lease.lease_id,
                    },
                });
            }
            // the task's declared paths are its lease's, in this same commit
            act.reserve_for_lease(&lease, now);
            act.lapsed_leases.remove(&lease.worker);
            // a claim ends no lease: nothing else to wait for
            let (ticket, _) = act.commit(fx, Resolutions::default(), now, ctx)?;
            if slot_held {
                act.in_held_slot.insert(id.clone());
            }
            Ok(Claimed {
                task: act.task(&id)?,
                lease,
                ticket: Some(ticket),
            })
        }))
    }
}

impl TaskRegistry {
    /// Refuse a claim of the named task while its paths are reserved by
    /// another holder (`paths_reserved`) or its concurrency key is at its
    /// limit (`concurrency_limit`).
    fn check_startable(&mut self, id: &TaskId, worker: &str) -> Result<(), Error> {
        let now = self.clock.now();
        let Some(task) = self.table.get(id).cloned() else {
            return Ok(());
        };
        Err(match self.blocker(&task, worker, now) {
            None => return Ok(()),
            Some(Blocker::Paths(c)) => ReservationError::PathsReserved {
                task: id.clone(),
                conflict: Box::new(c),
            },
            Some(Blocker::Key { key, limit }) => ReservationError::ConcurrencyLimit {
                task: id.clone(),
                key,
                limit,
            },
            Some(Blocker::Behind(_)) => return Ok(()),
        }
        .into())
    }
}

impl Handler<ClaimNext> for TaskRegistry {
    type Result = Reply<Option<Claimed>>;
    fn handle(&mut self, msg: ClaimNext, _: &mut Context<Self>) -> Self::Result {
        let key = msg.request_id.map(|request_id| RequestKey {
            kind: RequestKind::ClaimNext,
            owner: msg.actor.name.clone(),
            worker: msg.worker.clone(),
            request_id,
        });
        if let Some(lease) = key.as_ref().and_then(|k| self.remembered(k)) {
            return done(self.again(lease).map(Some));
        }
        let now = self.clock.now();
        let tags = msg.tags;
        let wanted = |t: &Task| t.executor.is_none() && t.has_tags(&tags);
        let Some(id) = self.pick(wanted, &msg.worker, now) else {
            return done(Ok(None));
        };
        let ttl = self.ttl_ms();
        let inner = self.claim_into_slot(id, msg.worker, msg.slot, ttl, msg.actor, false, key);
        AtomicResponse::new(Box::pin(inner.map(|r, _, _| r.map(Some))))
    }
}

impl Handler<ClaimNextExecutor> for TaskRegistry {
    type Result = Reply<Option<Claimed>>;
    fn handle(&mut self, msg: ClaimNextExecutor, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let wanted = |t: &Task| {
            t.executor
                .as_ref()
                .is_some_and(|e| !msg.blocked.contains(&e.server))
                && !msg.exclude.contains(&t.id)
        };
        // every executor task is a holder of its own: the dispatcher's one
        // worker name must not let two of them run over the same paths
        let Some(id) = self.pick(wanted, "", now) else {
            return done(Ok(None));
        };
        let ttl = self.ttl_ms();
        let inner = self.claim_into_slot(id, msg.worker, None, ttl, msg.actor, false, None);
        AtomicResponse::new(Box::pin(inner.map(|r, _, _| r.map(Some))))
    }
}

impl Handler<ClaimTask> for TaskRegistry {
    type Result = Reply<Claimed>;
    fn handle(&mut self, msg: ClaimTask, _: &mut Context<Self>) -> Self::Result {
        // a retry whose first answer was lost: the lease already held
        if let Some(lease) = self.held_by(&msg.id, &msg.worker, &msg.actor, msg.slot, msg.compat) {
            return done(self.again(lease));
        }
        if let Err(e) = self.table.check_claimable(&msg.id) {
            return done(Err(e.into()));
        }
        if let Err(e) = self.check_startable(&msg.id, &msg.worker) {
            return done(Err(e));
        }
        let ttl = msg.ttl_ms.unwrap_or_else(|| self.ttl_ms());
        AtomicResponse::new(self.claim_into_slot(
            msg.id, msg.worker, msg.slot, ttl, msg.actor, msg.compat, None,
        ))
    }
}

impl Handler<ListReady> for TaskRegistry {
    type Result = MessageResult<ListReady>;
    fn handle(&mut self, _: ListReady, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.table
                .ready_where(|t| t.executor.is_none())
                .cloned()
                .collect(),
        )
    }
}
