//! How every change of the registry is made durable: ask the resolver what
//! the change did to dependents ([`resolve`]), apply that to the table, write
//! records, audit events and the lease ceiling as one [`WriteBatch`], then
//! free slots, stop and renew task contexts, update the view and the metrics;
//! the reply waits for the commit's [`Ticket`] and for the slot writes the
//! change caused ([`settle`]). [`TaskRegistry::finish`] runs all of it with
//! the mailbox held.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix::prelude::*;

use super::{ready, Fut, Reply, TaskRegistry};
use crate::actors::resolver::{DependencyResolver, MarkCancelled, MarkDone, MarkFailed};
use crate::actors::slots::{SlotAllocator, TaskEnded};
use crate::core::table::Effects;
use crate::error::Error;
use crate::model::{EventKind, Millis, RequestAnswer, Task, TaskId, TaskStatus};
use crate::store::{Ticket, WriteBatch};

/// Results of asking the resolver about finished, failed and cancelled tasks.
#[derive(Default)]
pub(super) struct Resolutions {
    ready: Vec<TaskId>,
    failed: Vec<(TaskId, Vec<TaskId>)>,
    cancelled: Vec<(TaskId, Vec<TaskId>)>,
}

async fn resolve(
    resolver: Addr<DependencyResolver>,
    done: Vec<TaskId>,
    failed: Vec<TaskId>,
    cancelled: Vec<TaskId>,
) -> Result<Resolutions, Error> {
    let mut r = Resolutions::default();
    for id in done {
        r.ready.extend(resolver.send(MarkDone { id }).await?);
    }
    for id in failed {
        let cascade = resolver.send(MarkFailed { id: id.clone() }).await?;
        r.failed.push((id, cascade));
    }
    for id in cancelled {
        let cascade = resolver.send(MarkCancelled { id: id.clone() }).await?;
        r.cancelled.push((id, cascade));
    }
    Ok(r)
}

/// A slot allocator write a reply must wait for.
type SlotWait = Request<SlotAllocator, TaskEnded>;

/// Wait for the slot writes behind `waits`; the later of them and `ticket`.
async fn settle(ticket: Ticket, waits: Vec<SlotWait>) -> Result<Ticket, Error> {
    let mut last = ticket;
    for w in waits {
        if let Some(t) = w.await?? {
            last = last.max(t);
        }
    }
    Ok(last)
}

/// Lease ids reserved per write of the ceiling.
const LEASE_BLOCK: u64 = 1024;

impl TaskRegistry {
    /// Apply resolver answers, write everything as one batch, then update
    /// slots, contexts, views and metrics. Returns the commit and the slot
    /// writes (explicit holds going idle) a reply must also wait for.
    pub(super) fn commit(
        &mut self,
        mut fx: Effects,
        res: Resolutions,
        now: Millis,
        ctx: &mut Context<Self>,
    ) -> Result<(Ticket, Vec<SlotWait>), Error> {
        self.refuse_if_poisoned()?;
        self.table.make_ready(&res.ready, now, &mut fx);
        for (cause, ids) in &res.failed {
            let reason = format!("dependency '{cause}' failed");
            self.table
                .cascade(ids, TaskStatus::Failed, &reason, now, &mut fx);
        }
        for (cause, ids) in &res.cancelled {
            let reason = format!("dependency '{cause}' was cancelled");
            self.table
                .cascade(ids, TaskStatus::Cancelled, &reason, now, &mut fx);
        }
        let live = self.store.has_subscribers();
        let mut batch = WriteBatch::new();
        let mut seen = HashSet::with_capacity(fx.changed.len());
        let mut snapshots: HashMap<TaskId, Arc<Task>> = HashMap::new();
        for id in &fx.changed {
            if !seen.insert(id) {
                continue;
            }
            if let Some(t) = self.table.get(id) {
                batch.put_task(t);
                if live {
                    snapshots.insert(id.clone(), Arc::new(t.clone()));
                }
            }
        }
        // a remembered claim lives as long as its lease: forgotten in the
        // commit that ends it
        for lease in &fx.leases_ended {
            let answer = RequestAnswer::Lease {
                task_id: lease.task_id.clone(),
                lease_id: lease.lease_id,
            };
            if let Some(rec) = self.requests.forget_answer(&answer) {
                self.request_writes.push((rec.key, None));
            }
        }
        for (key, rec) in self.request_writes.drain(..) {
            match rec {
                Some(rec) => batch.put_request(&rec),
                None => batch.remove_request(&key),
            }
        }
        for lease in &fx.leases_renewed {
            if !seen.contains(&lease.task_id) {
                batch.put_renewal(&lease.task_id, lease.lease_id, lease.expires_at, now);
            }
        }
        for ev in &fx.events {
            self.metrics.task_event(ev.kind);
        }
        for ev in fx.events {
            let snap = ev
                .task_id
                .as_ref()
                .and_then(|id| snapshots.get(id).cloned());
            batch.put_event(ev, snap);
        }
        // a lease's reservations end in the commit that ends the lease
        self.reservations_into(&mut batch, &fx.leases_ended, &fx.leases_renewed);
        let next_lease = self.table.next_lease_id();
        let new_ceiling = (next_lease > self.lease_ceiling).then(|| next_lease + LEASE_BLOCK);
        if let Some(c) = new_ceiling {
            batch.put_meta("lease_ceiling", c);
        }
        let ticket = self.write(batch)?;
        if let Some(c) = new_ceiling {
            self.lease_ceiling = c;
        }
        let mut waits = Vec::new();
        for lease in &fx.leases_started {
            self.count_key(&lease.task_id, true);
        }
        for lease in &fx.leases_ended {
            self.count_key(&lease.task_id, false);
            let ended = TaskEnded {
                slot: lease.slot,
                task: lease.task_id.clone(),
            };
            // sent after the lease end is queued: a freed slot is never
            // handed out before the end of its lease is on its way to disk
            if self.in_held_slot.remove(&lease.task_id) {
                waits.push(self.slots.send(ended));
            } else {
                self.slots.do_send(ended);
            }
            if let Some((_, h)) = self.view.contexts.remove(&lease.task_id) {
                h.revoke();
            }
            self.metrics
                .observe_run_time(now.saturating_sub(lease.claimed_at));
        }
        for lease in &fx.leases_started {
            self.spawn_context(lease, ctx);
        }
        for lease in &fx.leases_renewed {
            self.metrics.task_event(EventKind::TaskHeartbeat);
            if let Some(h) = self.view.contexts.get(&lease.task_id) {
                h.renew(lease.lease_id, lease.expires_at);
            }
        }
        self.view.set_counts(self.table.counts());
        Ok((ticket, waits))
    }

    /// Commit `fx`, first asking the resolver about what finished, failed or
    /// was cancelled, then wait for the slot writes the change caused, then
    /// map the result (holding the mailbox throughout).
    pub(super) fn finish<T: 'static>(
        &mut self,
        mut fx: Effects,
        now: Millis,
        then: impl FnOnce(&mut Self, Ticket) -> Result<T, Error> + 'static,
    ) -> Fut<T> {
        let needs_resolver =
            !(fx.done.is_empty() && fx.failed.is_empty() && fx.cancelled.is_empty());
        let resolved: Fut<Resolutions> = if needs_resolver {
            let fut = resolve(
                self.resolver.clone(),
                std::mem::take(&mut fx.done),
                std::mem::take(&mut fx.failed),
                std::mem::take(&mut fx.cancelled),
            );
            Box::pin(fut.into_actor(self).map(|res, act, _| {
                if let Err(e) = &res {
                    act.poison(format!("a dependency resolver call failed: {e}"));
                }
                res
            }))
        } else {
            ready(Ok(Resolutions::default()))
        };
        Box::pin(resolved.then(move |res, act, ctx| {
            let step = res.and_then(|res| act.commit(fx, res, now, ctx));
            let settled = async move {
                let (ticket, waits) = step?;
                settle(ticket, waits).await
            };
            settled
                .into_actor(act)
                .map(move |ticket, act, _| then(act, ticket?))
        }))
    }

    pub(super) fn lease_reply(
        &mut self,
        id: TaskId,
        fx: Effects,
        now: Millis,
    ) -> Reply<(Task, Ticket)> {
        AtomicResponse::new(self.finish(fx, now, move |act, ticket| Ok((act.task(&id)?, ticket))))
    }
}
