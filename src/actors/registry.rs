//! `TaskRegistry`: the only writer of task state.
//!
//! State: a [`TaskTable`] (records, ready queue, lease expiries), the live
//! [`TaskContext`] of every running task, and the `t/` key space of the store.
//! Messages: [`AddTasks`], [`ClaimNext`], [`ClaimTask`], [`Heartbeat`],
//! [`Complete`], [`Fail`], [`Release`], [`Cancel`], [`Reset`], [`ListReady`],
//! [`SweepLeases`] from the edges; [`DeadlineExceeded`] from task contexts; a
//! timer of its own sweeps lapsed leases (every `leases.sweep_interval_ms`),
//! another runs retention (every `retention.interval_ms`: old terminal tasks
//! and old audit events are deleted in bounded batches; [`DeleteTask`]
//! deletes one terminal task now).
//!
//! Time comes from the runtime's [`Clock`]. A lease is refused by every
//! lease-fenced message from the instant its `expires_at` passes (the check
//! is in [`TaskTable::check_lease`]); the sweep only frees what lapsed.
//! It also keeps the MCP task handles ([`Operation`]s, the `o/` key space):
//! [`OpenOperation`], [`SettleOperation`], [`CancelOperation`], [`GetOperation`].
//!
//! Talks to: the [`DependencyResolver`] (validates new edges, tells which
//! dependents became ready or must cascade) and the [`SlotAllocator`] (a claim
//! takes a slot and a task in one step). While it waits for their answers its
//! mailbox is held ([`AtomicResponse`]), so each operation is atomic with
//! respect to every other; the whole effect (records, audit events, lease
//! counter) is then written as one [`WriteBatch`]. Replies carry the commit's
//! [`Ticket`]; the caller answers its client only once that is durable. When
//! a lease in an explicitly held slot ends, the slot allocator's rewrite of
//! that hold is awaited too, so the reply's ticket covers it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

pub use crate::actors::context::DeadlineExceeded;
use crate::actors::context::{ContextEnv, TaskContext};
use crate::actors::metrics::Metrics;
use crate::actors::resolver::{
    AddNodes, DependencyResolver, GetDependents, MarkCancelled, MarkDone, MarkFailed, Prune,
    RemoveNodes, ResetNode,
};
use crate::actors::slots::{AcquireSlot, BindSlot, SlotAllocator, TaskEnded};
use crate::actors::BoardView;
use crate::clock::Clock;
use crate::config::Settings;
use crate::core::graph::Readiness;
use crate::core::table::{Claimant, Effects, LeaseRef, TaskError, TaskTable};
use crate::core::validate::{check_value_size, clip, validate_batch};
use crate::error::Error;
use crate::model::{
    Event, EventKind, Lease, Millis, Operation, OperationState, Principal, Task, TaskId, TaskSpec,
    TaskStatus,
};
use crate::store::{Store, StoreError, Ticket, WriteBatch};

/// A successful claim.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The task, now running.
    pub task: Task,
    /// Its lease.
    pub lease: Lease,
    /// Commit to wait on.
    pub ticket: Ticket,
}

type Reply<T> = AtomicResponse<TaskRegistry, Result<T, Error>>;
type Fut<T> = ResponseActFuture<TaskRegistry, Result<T, Error>>;

fn ready<T: 'static>(r: Result<T, Error>) -> Fut<T> {
    Box::pin(actix::fut::ready(r))
}

fn done<T: 'static>(r: Result<T, Error>) -> Reply<T> {
    AtomicResponse::new(ready(r))
}

/// Results of asking the resolver about finished, failed and cancelled tasks.
#[derive(Default)]
struct Resolutions {
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

/// The registry actor.
pub struct TaskRegistry {
    table: TaskTable,
    store: Store,
    resolver: Addr<DependencyResolver>,
    slots: Addr<SlotAllocator>,
    view: Arc<BoardView>,
    metrics: Arc<Metrics>,
    settings: Arc<Settings>,
    clock: Clock,
    poisoned: bool,
    /// What every task context is started with.
    context_env: ContextEnv,
    /// Lease ids below this are reserved on disk (`m/lease_ceiling`); a claim
    /// that reaches it reserves the next block in its own commit, so lease
    /// ids stay monotonic across restarts without a write per claim.
    lease_ceiling: u64,
    /// MCP task handles by id (every record of the `o/` key space).
    operations: HashMap<String, Operation>,
    /// Running tasks that run in an explicitly held slot: when their lease
    /// ends the slot allocator rewrites that hold's record, and the reply
    /// waits for that write too.
    in_held_slot: HashSet<TaskId>,
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
    /// A registry over a table rebuilt from storage.
    // the actor's collaborators, each passed once at startup by `Runtime::start`
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        table: TaskTable,
        store: Store,
        resolver: Addr<DependencyResolver>,
        slots: Addr<SlotAllocator>,
        view: Arc<BoardView>,
        metrics: Arc<Metrics>,
        settings: Arc<Settings>,
        clock: Clock,
    ) -> Self {
        let context_env = ContextEnv {
            store: store.clone(),
            max_value_bytes: settings.tasks.max_context_value_bytes,
            clock: clock.clone(),
            live: view.live_contexts_cell(),
        };
        Self {
            context_env,
            clock,
            store,
            resolver,
            slots,
            view,
            metrics,
            lease_ceiling: table.next_lease_id(),
            table,
            settings,
            poisoned: false,
            operations: HashMap::new(),
            in_held_slot: HashSet::new(),
        }
    }

    /// Builder: the running tasks that run in an explicitly held slot (from recovery).
    pub fn with_held_slots(mut self, tasks: HashSet<TaskId>) -> Self {
        self.in_held_slot = tasks;
        self
    }

    /// Builder: the MCP task handles loaded from the store.
    pub fn with_operations(mut self, ops: Vec<Operation>) -> Self {
        self.operations = ops.into_iter().map(|o| (o.id.clone(), o)).collect();
        self
    }

    /// Queue `batch`; a failed write poisons the registry (nothing after it
    /// could be made durable in order).
    fn write(&mut self, batch: WriteBatch) -> Result<Ticket, Error> {
        self.refuse_if_poisoned()?;
        self.store.commit(batch).map_err(|e| {
            self.poison(format!("a commit was refused: {e}"));
            e.into()
        })
    }

    /// Stop taking writes for good: nothing after a lost write or a lost
    /// resolver answer could be kept consistent. `/readyz` then says why.
    fn poison(&mut self, reason: String) {
        tracing::error!(%reason, "the registry refuses further writes");
        self.poisoned = true;
        self.view
            .set_unhealthy(format!("the task registry stopped: {reason}"));
    }

    /// The error every write gets once the registry is poisoned: the
    /// store's own failure when that is the cause (503 `storage_unavailable`).
    fn refuse_if_poisoned(&self) -> Result<(), Error> {
        if !self.poisoned {
            return Ok(());
        }
        Err(match self.store.failure() {
            Some(f) => StoreError::FlushFailed(f.to_owned()).into(),
            None => {
                Error::Unavailable("the task registry (it stopped after an error; restart baton)")
            }
        })
    }

    fn ttl_ms(&self) -> u64 {
        self.settings.leases.ttl_secs.saturating_mul(1000)
    }

    fn task(&self, id: &TaskId) -> Result<Task, Error> {
        self.table
            .get(id)
            .cloned()
            .ok_or_else(|| TaskError::NotFound(id.clone()).into())
    }

    fn spawn_context(&mut self, lease: &Lease, ctx: &mut Context<Self>) {
        let deadline = self
            .table
            .get(&lease.task_id)
            .and_then(|t| t.timeout_secs)
            .map(|secs| {
                let end = lease.claimed_at.saturating_add(secs.saturating_mul(1000));
                let d = Duration::from_millis(end.saturating_sub(self.clock.now()));
                (d, ctx.address().recipient())
            });
        let handle = TaskContext::spawn(
            lease.task_id.clone(),
            (lease.lease_id, lease.expires_at),
            lease.owner.clone(),
            deadline,
            &self.context_env,
        );
        if let Some(old) = self.view.contexts.insert(lease.task_id.clone(), handle) {
            old.revoke();
        }
    }

    /// Apply resolver answers, write everything as one batch, then update
    /// slots, contexts, views and metrics. Returns the commit and the slot
    /// writes (explicit holds going idle) a reply must also wait for.
    fn commit(
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
        for lease in &fx.leases_ended {
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
    fn finish<T: 'static>(
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

    fn lease_reply(&mut self, id: TaskId, fx: Effects, now: Millis) -> Reply<(Task, Ticket)> {
        AtomicResponse::new(self.finish(fx, now, move |act, ticket| Ok((act.task(&id)?, ticket))))
    }

    fn claim_into_slot(
        &mut self,
        id: TaskId,
        worker: String,
        slot: Option<u32>,
        ttl_ms: u64,
        actor: Principal,
        compat: bool,
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
            // a claim ends no lease: nothing else to wait for
            let (ticket, _) = act.commit(fx, Resolutions::default(), now, ctx)?;
            if slot_held {
                act.in_held_slot.insert(id.clone());
            }
            Ok(Claimed {
                task: act.task(&id)?,
                lease,
                ticket,
            })
        }))
    }

    /// Expire the leases that lapsed by `now`; `None` if there are none.
    fn expire_lapsed(&mut self, now: Millis) -> Option<Effects> {
        let expired = self.table.expired(now);
        if expired.is_empty() {
            return None;
        }
        let mut fx = Effects::default();
        for (id, lease_id) in expired {
            tracing::info!(task = %id, lease_id, "lease expired");
            self.table
                .expire(&id, lease_id, "lease expired".into(), now, &mut fx);
        }
        Some(fx)
    }

    /// Forget `ids` (terminal tasks the resolver has already removed from
    /// the DAG) and add their deletion to `batch`, one `task_deleted` audit
    /// event each. Returns how many were forgotten.
    fn forget(
        &mut self,
        ids: &[TaskId],
        actor: &Principal,
        now: Millis,
        batch: &mut WriteBatch,
    ) -> usize {
        let mut n = 0;
        for id in ids {
            let Some(task) = self.table.remove_terminal(id) else {
                continue;
            };
            n += 1;
            batch.delete_task(id);
            batch.put_event(
                Event {
                    id: 0,
                    at: now,
                    kind: EventKind::TaskDeleted,
                    task_id: Some(id.clone()),
                    worker: None,
                    actor: actor.name.clone(),
                    slot: None,
                    lease_id: None,
                    from: Some(task.status),
                    to: None,
                    reason: None,
                },
                None,
            );
            self.metrics.task_event(EventKind::TaskDeleted);
        }
        if n > 0 {
            self.view.set_counts(self.table.counts());
        }
        n
    }

    /// One retention pass: delete up to `retention.batch` terminal tasks that
    /// ended more than `keep_terminal_secs` ago (those the resolver can drop
    /// without leaving a task that depends on a missing one) and prune old
    /// audit events, as one commit. Runs with the mailbox held.
    fn retention_pass(&mut self, ctx: &mut Context<Self>) {
        if self.poisoned {
            return;
        }
        let r = &self.settings.retention;
        let now = self.clock.now();
        let candidates = if r.keep_terminal_secs == 0 {
            Vec::new()
        } else {
            let cutoff = now.saturating_sub(r.keep_terminal_secs.saturating_mul(1000));
            // every old finished task is a candidate, not only the oldest
            // `batch`: those are often pinned by a later task that depends on
            // them, and the resolver deletes up to `batch` from the sinks
            self.table.ended_before(cutoff, usize::MAX)
        };
        let events = (r.keep_events_secs > 0).then(|| {
            let cutoff = now.saturating_sub(r.keep_events_secs.saturating_mul(1000));
            (cutoff, r.batch)
        });
        if candidates.is_empty() && events.is_none() {
            return;
        }
        let resolver = self.resolver.clone();
        let limit = r.batch;
        let ask = async move {
            if candidates.is_empty() {
                Ok(Vec::new())
            } else {
                resolver
                    .send(Prune {
                        ids: candidates,
                        limit,
                    })
                    .await
            }
        };
        ctx.wait(ask.into_actor(self).map(move |removed, act, _| {
            let removed = match removed {
                Ok(r) => r,
                Err(e) => {
                    act.poison(format!("a dependency resolver call failed: {e}"));
                    return;
                }
            };
            let mut batch = WriteBatch::new();
            let deleted = act.forget(&removed, &Principal::local(), now, &mut batch);
            if let Some((before, max)) = events {
                batch.prune_events(before, max);
            }
            match act.write(batch) {
                Ok(_) if deleted > 0 => {
                    tracing::info!(deleted, "retention deleted finished tasks");
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "retention pass failed"),
            }
        }));
    }

    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let now = self.clock.now();
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

impl Actor for TaskRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(4096);
        let running: Vec<Lease> = self
            .table
            .running()
            .filter_map(|t| t.lease.as_deref().cloned())
            .collect();
        for lease in &running {
            self.spawn_context(lease, ctx);
        }
        self.view.set_counts(self.table.counts());
        let every = Duration::from_millis(self.settings.leases.sweep_interval_ms);
        ctx.run_interval(every, |act, ctx| act.sweep(ctx));
        let every = Duration::from_millis(self.settings.retention.interval_ms);
        ctx.run_interval(every, |act, ctx| act.retention_pass(ctx));
    }
}

/// Every ready task an agent may claim (no executor tasks), best first,
/// read from the in-memory ready queue.
#[derive(Debug, Message)]
#[rtype(result = "Vec<Task>")]
pub struct ListReady;

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

/// Expire every lease that lapsed by the clock's now — what the sweep timer
/// does every `leases.sweep_interval_ms` — and answer with the commit to
/// wait on (`None`: nothing had lapsed).
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Ticket>, Error>")]
pub struct SweepLeases;

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

/// Validate and add tasks (one, or an atomic batch with dependencies inside it).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Vec<Task>, Ticket), Error>")]
pub struct AddTasks {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// Specs, in order.
    pub specs: Vec<TaskSpec>,
}

impl Handler<AddTasks> for TaskRegistry {
    type Result = Reply<(Vec<Task>, Ticket)>;
    fn handle(&mut self, msg: AddTasks, _: &mut Context<Self>) -> Self::Result {
        let tasks = match validate_batch(msg.specs, &self.settings.tasks) {
            Ok(t) => t,
            Err(e) => return done(Err(e.into())),
        };
        let actor = msg.actor;
        let nodes: Vec<(TaskId, Vec<TaskId>)> = tasks
            .iter()
            .map(|t| (t.id.clone(), t.dependencies.clone()))
            .collect();
        let resolver = self.resolver.clone();
        let ids: Vec<TaskId> = nodes.iter().map(|(id, _)| id.clone()).collect();
        let fut = async move { resolver.send(AddNodes { nodes }).await };
        AtomicResponse::new(Box::pin(fut.into_actor(self).map(move |res, act, ctx| {
            let readiness = res.map_err(Error::from)??;
            let now = act.clock.now();
            let mut tasks = tasks;
            for (t, r) in tasks.iter_mut().zip(readiness) {
                match r {
                    Readiness::Ready => t.status = TaskStatus::Ready,
                    Readiness::Blocked { .. } => t.status = TaskStatus::Blocked,
                    Readiness::DependencyFailed(d) => {
                        t.status = TaskStatus::Failed;
                        t.error = Some(format!("dependency '{d}' failed"));
                    }
                }
            }
            let mut fx = Effects::by(actor);
            act.table.insert(tasks, now, &mut fx);
            match act.commit(fx, Resolutions::default(), now, ctx) {
                Ok((ticket, _)) => {
                    let out = ids
                        .iter()
                        .filter_map(|id| act.table.get(id).cloned())
                        .collect();
                    Ok((out, ticket))
                }
                Err(e) => {
                    act.resolver.do_send(RemoveNodes { ids });
                    Err(e)
                }
            }
        })))
    }
}

/// Claim the best ready task (highest priority, then oldest) carrying all
/// `tags`, together with a slot, in one step. `Ok(None)`: nothing is ready.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Claimed>, Error>")]
pub struct ClaimNext {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// Claiming worker.
    pub worker: String,
    /// Required tags.
    pub tags: Vec<String>,
    /// Explicit slot the worker holds (otherwise a free one is taken).
    pub slot: Option<u32>,
}

impl Handler<ClaimNext> for TaskRegistry {
    type Result = Reply<Option<Claimed>>;
    fn handle(&mut self, msg: ClaimNext, _: &mut Context<Self>) -> Self::Result {
        let Some(id) = self.table.peek_ready(&msg.tags).cloned() else {
            return done(Ok(None));
        };
        let ttl = self.ttl_ms();
        let inner = self.claim_into_slot(id, msg.worker, msg.slot, ttl, msg.actor, false);
        AtomicResponse::new(Box::pin(inner.map(|r, _, _| r.map(Some))))
    }
}

/// Claim the best ready task that carries an executor whose server is not in
/// `blocked` (the dispatcher's claim: a task whose server's breaker is open
/// waits, unclaimed). `Ok(None)`: nothing is ready for it.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Claimed>, Error>")]
pub struct ClaimNextExecutor {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// Claiming worker (the dispatcher's name).
    pub worker: String,
    /// Servers not to call now.
    pub blocked: Vec<String>,
    /// Tasks the dispatcher still runs (an expired lease made them ready again).
    pub exclude: Vec<TaskId>,
}

impl Handler<ClaimNextExecutor> for TaskRegistry {
    type Result = Reply<Option<Claimed>>;
    fn handle(&mut self, msg: ClaimNextExecutor, _: &mut Context<Self>) -> Self::Result {
        let pick = self.table.peek_ready_where(|t| {
            t.executor
                .as_ref()
                .is_some_and(|e| !msg.blocked.contains(&e.server))
                && !msg.exclude.contains(&t.id)
        });
        let Some(id) = pick.cloned() else {
            return done(Ok(None));
        };
        let ttl = self.ttl_ms();
        let inner = self.claim_into_slot(id, msg.worker, None, ttl, msg.actor, false);
        AtomicResponse::new(Box::pin(inner.map(|r, _, _| r.map(Some))))
    }
}

/// Claim a specific ready task.
#[derive(Debug, Message)]
#[rtype(result = "Result<Claimed, Error>")]
pub struct ClaimTask {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// Task.
    pub id: TaskId,
    /// Claiming worker.
    pub worker: String,
    /// Explicit slot the worker holds (otherwise a free one is taken).
    pub slot: Option<u32>,
    /// Lease TTL override in milliseconds (compat routes).
    pub ttl_ms: Option<u64>,
    /// An agent-coordinate-mcp `claim-task`: the lease accepts updates by
    /// worker name ([`Lease::compat`]).
    pub compat: bool,
}

impl Handler<ClaimTask> for TaskRegistry {
    type Result = Reply<Claimed>;
    fn handle(&mut self, msg: ClaimTask, _: &mut Context<Self>) -> Self::Result {
        if let Err(e) = self.table.check_claimable(&msg.id) {
            return done(Err(e.into()));
        }
        let ttl = msg.ttl_ms.unwrap_or_else(|| self.ttl_ms());
        AtomicResponse::new(
            self.claim_into_slot(msg.id, msg.worker, msg.slot, ttl, msg.actor, msg.compat),
        )
    }
}

/// Extend a lease.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Task, Ticket), Error>")]
pub struct Heartbeat {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// Task.
    pub id: TaskId,
    /// Lease held.
    pub lease: LeaseRef,
    /// TTL override in milliseconds (compat routes).
    pub ttl_ms: Option<u64>,
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

/// Complete a running task under its lease.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Task, Ticket), Error>")]
pub struct Complete {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// Task.
    pub id: TaskId,
    /// Lease held.
    pub lease: LeaseRef,
    /// Result.
    pub output: Option<serde_json::Value>,
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

/// Fail the current attempt (retried while attempts remain, unless `retry` is false).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Task, Ticket), Error>")]
pub struct Fail {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// Task.
    pub id: TaskId,
    /// Lease held.
    pub lease: LeaseRef,
    /// What went wrong.
    pub error: String,
    /// Whether another attempt may be made.
    pub retry: bool,
}

impl Handler<Fail> for TaskRegistry {
    type Result = Reply<(Task, Ticket)>;
    fn handle(&mut self, msg: Fail, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let mut fx = Effects::by(msg.actor);
        let error = clip(msg.error, self.settings.tasks.max_error_len);
        if let Err(e) = self
            .table
            .fail(&msg.id, &msg.lease, error, msg.retry, now, &mut fx)
        {
            return done(Err(e.into()));
        }
        self.lease_reply(msg.id, fx, now)
    }
}

/// Give a task back (ready again; the attempt does not count).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Task, Ticket), Error>")]
pub struct Release {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// Task.
    pub id: TaskId,
    /// Lease held.
    pub lease: LeaseRef,
}

impl Handler<Release> for TaskRegistry {
    type Result = Reply<(Task, Ticket)>;
    fn handle(&mut self, msg: Release, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let mut fx = Effects::by(msg.actor);
        if let Err(e) = self.table.release(&msg.id, &msg.lease, now, &mut fx) {
            return done(Err(e.into()));
        }
        self.lease_reply(msg.id, fx, now)
    }
}

/// Cancel a task that has not finished (its pending dependents are cancelled too).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Task, Ticket), Error>")]
pub struct Cancel {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// Task.
    pub id: TaskId,
    /// Why.
    pub reason: Option<String>,
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

/// Reset a failed task and its failed dependents.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Vec<Task>, Ticket), Error>")]
pub struct Reset {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// The failed task.
    pub id: TaskId,
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

/// Delete one terminal task now, with its audit log and context.
///
/// Errors: [`TaskError::NotFound`]; [`TaskError::WrongStatus`] when it is not
/// done, failed or cancelled; [`TaskError::HasDependents`] while other tasks
/// depend on it.
#[derive(Debug, Message)]
#[rtype(result = "Result<Ticket, Error>")]
pub struct DeleteTask {
    /// Task.
    pub id: TaskId,
    /// Who asked (stamped on the `task_deleted` event).
    pub actor: Principal,
}

impl Handler<DeleteTask> for TaskRegistry {
    type Result = Reply<Ticket>;
    fn handle(&mut self, msg: DeleteTask, _: &mut Context<Self>) -> Self::Result {
        let checked = self.refuse_if_poisoned().and_then(|()| {
            let t = self.task(&msg.id)?;
            if t.status.is_terminal() {
                Ok(())
            } else {
                Err(TaskError::WrongStatus {
                    task: t.id,
                    status: t.status,
                    action: "delete it (only done, failed and cancelled tasks can be deleted)",
                }
                .into())
            }
        });
        if let Err(e) = checked {
            return AtomicResponse::new(Box::pin(ready(Err(e))));
        }
        let resolver = self.resolver.clone();
        let id = msg.id.clone();
        let ask = async move {
            let removed = resolver
                .send(Prune {
                    ids: vec![id.clone()],
                    limit: 1,
                })
                .await?;
            let dependents = if removed.is_empty() {
                resolver.send(GetDependents { id }).await?
            } else {
                Vec::new()
            };
            Ok::<_, Error>((removed, dependents))
        };
        AtomicResponse::new(Box::pin(ask.into_actor(self).map(move |r, act, _| {
            let (removed, dependents) = r?;
            if !dependents.is_empty() {
                return Err(TaskError::HasDependents {
                    task: msg.id,
                    dependents,
                }
                .into());
            }
            let now = act.clock.now();
            let mut batch = WriteBatch::new();
            act.forget(&removed, &msg.actor, now, &mut batch);
            act.write(batch)
        })))
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

// ---- MCP task handles (SEP-2663) ----------------------------------------------

/// Record a new MCP task handle (and drop expired ones).
#[derive(Debug, Message)]
#[rtype(result = "Result<Ticket, Error>")]
pub struct OpenOperation {
    /// The record, `Working`.
    pub op: Operation,
}

impl Handler<OpenOperation> for TaskRegistry {
    type Result = Result<Ticket, Error>;
    fn handle(&mut self, msg: OpenOperation, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let mut batch = WriteBatch::new();
        let expired: Vec<String> = self
            .operations
            .values()
            .filter(|o| o.expired(now))
            .map(|o| o.id.clone())
            .collect();
        for id in &expired {
            batch.remove_operation(id);
        }
        batch.put_operation(&msg.op);
        let ticket = self.write(batch)?;
        for id in expired {
            self.operations.remove(&id);
        }
        self.operations.insert(msg.op.id.clone(), msg.op);
        Ok(ticket)
    }
}

/// One MCP task handle.
#[derive(Debug, Message)]
#[rtype(result = "Result<Operation, Error>")]
pub struct GetOperation {
    /// Handle id.
    pub id: String,
}

impl TaskRegistry {
    fn operation(&self, id: &str) -> Result<&Operation, Error> {
        self.operations
            .get(id)
            .filter(|o| !o.expired(self.clock.now()))
            .ok_or_else(|| Error::OperationNotFound(id.to_owned()))
    }

    /// Move a working handle to `state`; a settled or cancelled one is left as it is.
    fn transition(
        &mut self,
        id: &str,
        state: OperationState,
    ) -> Result<(Operation, Option<Ticket>), Error> {
        let mut op = self.operation(id)?.clone();
        if op.is_terminal() {
            return Ok((op, None));
        }
        op.state = state;
        op.updated_at = self.clock.now();
        let mut batch = WriteBatch::new();
        batch.put_operation(&op);
        let ticket = self.write(batch)?;
        self.operations.insert(op.id.clone(), op.clone());
        Ok((op, Some(ticket)))
    }
}

impl Handler<GetOperation> for TaskRegistry {
    type Result = Result<Operation, Error>;
    fn handle(&mut self, msg: GetOperation, _: &mut Context<Self>) -> Self::Result {
        self.operation(&msg.id).cloned()
    }
}

/// Settle a working handle (the task finished or the wait timed out).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Operation, Option<Ticket>), Error>")]
pub struct SettleOperation {
    /// Handle id.
    pub id: String,
    /// The task as it was seen.
    pub task: Task,
    /// Whether it had finished.
    pub finished: bool,
}

impl Handler<SettleOperation> for TaskRegistry {
    type Result = Result<(Operation, Option<Ticket>), Error>;
    fn handle(&mut self, msg: SettleOperation, _: &mut Context<Self>) -> Self::Result {
        let state = OperationState::Completed {
            task: Box::new(msg.task),
            finished: msg.finished,
        };
        self.transition(&msg.id, state)
    }
}

/// Cancel a working handle (a settled one stays settled).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Operation, Option<Ticket>), Error>")]
pub struct CancelOperation {
    /// Handle id.
    pub id: String,
}

impl Handler<CancelOperation> for TaskRegistry {
    type Result = Result<(Operation, Option<Ticket>), Error>;
    fn handle(&mut self, msg: CancelOperation, _: &mut Context<Self>) -> Self::Result {
        self.transition(&msg.id, OperationState::Cancelled)
    }
}
