//! `TaskRegistry`: the only writer of task state.
//!
//! State: a [`TaskTable`] (records, ready queue, lease expiries), the live
//! [`TaskContext`] of every running task, and the `t/` key space of the store.
//! Messages: [`AddTasks`], [`ClaimNext`], [`ClaimTask`], [`Heartbeat`],
//! [`Complete`], [`Fail`], [`Release`], [`Cancel`], [`Reset`] from the edges;
//! [`DeadlineExceeded`] from task contexts; a timer of its own sweeps lapsed leases.
//! It also keeps the MCP task handles ([`Operation`]s, the `o/` key space):
//! [`OpenOperation`], [`SettleOperation`], [`CancelOperation`], [`GetOperation`].
//!
//! Talks to: the [`DependencyResolver`] (validates new edges, tells which
//! dependents became ready or must cascade) and the [`SlotAllocator`] (a claim
//! takes a slot and a task in one step). While it waits for their answers its
//! mailbox is held ([`AtomicResponse`]), so each operation is atomic with
//! respect to every other; the whole effect (records, audit events, lease
//! counter) is then written as one [`WriteBatch`]. Replies carry the commit's
//! [`Ticket`]; the caller answers its client only once that is durable.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::actors::context::TaskContext;
use crate::actors::metrics::Metrics;
use crate::actors::resolver::{
    AddNodes, DependencyResolver, MarkCancelled, MarkDone, MarkFailed, RemoveNodes, ResetNode,
};
use crate::actors::slots::{AcquireSlot, BindSlot, SlotAllocator, TaskEnded};
use crate::actors::BoardView;
use crate::config::Settings;
use crate::core::graph::Readiness;
use crate::core::table::{Effects, LeaseRef, TaskError, TaskTable};
use crate::core::validate::{check_value_size, clip, validate_batch};
use crate::error::Error;
use crate::model::{
    now_ms, Lease, Millis, Operation, OperationState, Task, TaskId, TaskSpec, TaskStatus,
};
use crate::store::{Store, Ticket, WriteBatch};

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
    poisoned: bool,
    /// Lease ids below this are reserved on disk (`m/lease_ceiling`); a claim
    /// that reaches it reserves the next block in its own commit, so lease
    /// ids stay monotonic across restarts without a write per claim.
    lease_ceiling: u64,
    /// MCP task handles by id (every record of the `o/` key space).
    operations: HashMap<String, Operation>,
}

/// Lease ids reserved per write of the ceiling.
const LEASE_BLOCK: u64 = 1024;

impl TaskRegistry {
    /// A registry over a table rebuilt from storage.
    pub fn new(
        table: TaskTable,
        store: Store,
        resolver: Addr<DependencyResolver>,
        slots: Addr<SlotAllocator>,
        view: Arc<BoardView>,
        metrics: Arc<Metrics>,
        settings: Arc<Settings>,
    ) -> Self {
        Self {
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
        }
    }

    /// Builder: the MCP task handles loaded from the store.
    pub fn with_operations(mut self, ops: Vec<Operation>) -> Self {
        self.operations = ops.into_iter().map(|o| (o.id.clone(), o)).collect();
        self
    }

    /// Queue `batch`; a failed write poisons the registry (nothing after it
    /// could be made durable in order).
    fn write(&mut self, batch: WriteBatch) -> Result<Ticket, Error> {
        if self.poisoned {
            return Err(Error::Unavailable(
                "the task store (a write failed earlier; restart baton)",
            ));
        }
        self.store.commit(batch).map_err(|e| {
            tracing::error!(error = %e, "commit failed; the registry refuses further writes");
            self.poisoned = true;
            self.view.set_healthy(false);
            e.into()
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
                let d = Duration::from_millis(end.saturating_sub(now_ms()));
                (d, ctx.address().recipient())
            });
        let handle = TaskContext::spawn(
            lease.task_id.clone(),
            lease.lease_id,
            deadline,
            self.store.clone(),
            self.settings.tasks.max_context_value_bytes,
        );
        if let Some(old) = self.view.contexts.insert(lease.task_id.clone(), handle) {
            old.revoke();
        }
    }

    /// Apply resolver answers, write everything as one batch, then update
    /// slots, contexts, views and metrics.
    fn commit(
        &mut self,
        mut fx: Effects,
        res: Resolutions,
        now: Millis,
        ctx: &mut Context<Self>,
    ) -> Result<Ticket, Error> {
        if self.poisoned {
            return Err(Error::Unavailable(
                "the task store (a write failed earlier; restart baton)",
            ));
        }
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
        for lease in &fx.leases_ended {
            self.slots.do_send(TaskEnded {
                slot: lease.slot,
                task: lease.task_id.clone(),
            });
            if let Some((_, h)) = self.view.contexts.remove(&lease.task_id) {
                h.revoke();
            }
            self.metrics
                .observe_run_time(now.saturating_sub(lease.claimed_at));
        }
        for lease in &fx.leases_started {
            self.spawn_context(lease, ctx);
        }
        self.view.set_counts(self.table.counts());
        Ok(ticket)
    }

    /// Commit `fx`, first asking the resolver about what finished, failed or
    /// was cancelled (holding the mailbox meanwhile), then map the result.
    fn finish<T: 'static>(
        &mut self,
        mut fx: Effects,
        now: Millis,
        then: impl FnOnce(&mut Self, Ticket) -> Result<T, Error> + 'static,
    ) -> Fut<T> {
        let needs_resolver =
            !(fx.done.is_empty() && fx.failed.is_empty() && fx.cancelled.is_empty());
        if !needs_resolver {
            return Box::pin(actix::fut::wrap_future::<_, Self>(async {}).map(
                move |_, act, ctx| {
                    let ticket = act.commit(fx, Resolutions::default(), now, ctx)?;
                    then(act, ticket)
                },
            ));
        }
        let fut = resolve(
            self.resolver.clone(),
            std::mem::take(&mut fx.done),
            std::mem::take(&mut fx.failed),
            std::mem::take(&mut fx.cancelled),
        );
        Box::pin(fut.into_actor(self).map(move |res, act, ctx| {
            let res = match res {
                Ok(r) => r,
                Err(e) => {
                    act.poisoned = true;
                    return Err(e);
                }
            };
            let ticket = act.commit(fx, res, now, ctx)?;
            then(act, ticket)
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
    ) -> Fut<Claimed> {
        let slots = self.slots.clone();
        let (w, t) = (worker.clone(), id.clone());
        let acquire = async move {
            match slot {
                Some(s) => slots
                    .send(BindSlot {
                        slot: s,
                        worker: w,
                        task: t,
                    })
                    .await?
                    .map(|()| s),
                None => slots.send(AcquireSlot { worker: w, task: t }).await?,
            }
            .map_err(Error::from)
        };
        Box::pin(acquire.into_actor(self).map(move |slot, act, ctx| {
            let slot = slot?;
            let now = now_ms();
            let mut fx = Effects::default();
            let lease = match act.table.claim(&id, &worker, slot, now, ttl_ms, &mut fx) {
                Ok(l) => l,
                Err(e) => {
                    act.slots.do_send(TaskEnded { slot, task: id });
                    return Err(e.into());
                }
            };
            let ticket = act.commit(fx, Resolutions::default(), now, ctx)?;
            Ok(Claimed {
                task: act.task(&id)?,
                lease,
                ticket,
            })
        }))
    }

    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let now = now_ms();
        let expired = self.table.expired(now);
        if expired.is_empty() {
            return;
        }
        let mut fx = Effects::default();
        for (id, lease_id) in expired {
            tracing::info!(task = %id, lease_id, "lease expired");
            self.table
                .expire(&id, lease_id, "lease expired".into(), now, &mut fx);
        }
        // Run it as an atomic step of our own: nothing else interleaves.
        ctx.wait(log_failure(self.finish(fx, now, |_, _| Ok(()))));
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
            .filter_map(|t| t.lease.clone())
            .collect();
        for lease in &running {
            self.spawn_context(lease, ctx);
        }
        self.view.set_counts(self.table.counts());
        let every = Duration::from_millis(self.settings.leases.sweep_interval_ms);
        ctx.run_interval(every, |act, ctx| act.sweep(ctx));
    }
}

/// Validate and add tasks (one, or an atomic batch with dependencies inside it).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Vec<Task>, Ticket), Error>")]
pub struct AddTasks {
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
        let nodes: Vec<(TaskId, Vec<TaskId>)> = tasks
            .iter()
            .map(|t| (t.id.clone(), t.dependencies.clone()))
            .collect();
        let resolver = self.resolver.clone();
        let ids: Vec<TaskId> = nodes.iter().map(|(id, _)| id.clone()).collect();
        let fut = async move { resolver.send(AddNodes { nodes }).await };
        AtomicResponse::new(Box::pin(fut.into_actor(self).map(move |res, act, ctx| {
            let readiness = res.map_err(Error::from)??;
            let now = now_ms();
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
            let mut fx = Effects::default();
            act.table.insert(tasks, now, &mut fx);
            match act.commit(fx, Resolutions::default(), now, ctx) {
                Ok(ticket) => {
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
        let inner = self.claim_into_slot(id, msg.worker, msg.slot, ttl);
        AtomicResponse::new(Box::pin(inner.map(|r, _, _| r.map(Some))))
    }
}

/// Claim the best ready task that carries an executor whose server is not in
/// `blocked` (the dispatcher's claim: a task whose server's breaker is open
/// waits, unclaimed). `Ok(None)`: nothing is ready for it.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Claimed>, Error>")]
pub struct ClaimNextExecutor {
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
        let inner = self.claim_into_slot(id, msg.worker, None, ttl);
        AtomicResponse::new(Box::pin(inner.map(|r, _, _| r.map(Some))))
    }
}

/// Claim a specific ready task.
#[derive(Debug, Message)]
#[rtype(result = "Result<Claimed, Error>")]
pub struct ClaimTask {
    /// Task.
    pub id: TaskId,
    /// Claiming worker.
    pub worker: String,
    /// Explicit slot the worker holds (otherwise a free one is taken).
    pub slot: Option<u32>,
    /// Lease TTL override in milliseconds (compat routes).
    pub ttl_ms: Option<u64>,
}

impl Handler<ClaimTask> for TaskRegistry {
    type Result = Reply<Claimed>;
    fn handle(&mut self, msg: ClaimTask, _: &mut Context<Self>) -> Self::Result {
        if let Err(e) = self.table.check_claimable(&msg.id) {
            return done(Err(e.into()));
        }
        let ttl = msg.ttl_ms.unwrap_or_else(|| self.ttl_ms());
        AtomicResponse::new(self.claim_into_slot(msg.id, msg.worker, msg.slot, ttl))
    }
}

/// Extend a lease.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Task, Ticket), Error>")]
pub struct Heartbeat {
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
        let now = now_ms();
        let ttl = msg.ttl_ms.unwrap_or_else(|| self.ttl_ms());
        let mut fx = Effects::default();
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
        let now = now_ms();
        let mut fx = Effects::default();
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
        let now = now_ms();
        let mut fx = Effects::default();
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
    /// Task.
    pub id: TaskId,
    /// Lease held.
    pub lease: LeaseRef,
}

impl Handler<Release> for TaskRegistry {
    type Result = Reply<(Task, Ticket)>;
    fn handle(&mut self, msg: Release, _: &mut Context<Self>) -> Self::Result {
        let now = now_ms();
        let mut fx = Effects::default();
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
    /// Task.
    pub id: TaskId,
    /// Why.
    pub reason: Option<String>,
}

impl Handler<Cancel> for TaskRegistry {
    type Result = Reply<(Task, Ticket)>;
    fn handle(&mut self, msg: Cancel, _: &mut Context<Self>) -> Self::Result {
        let now = now_ms();
        let mut fx = Effects::default();
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
        let id = msg.id;
        let fut = async move { resolver.send(ResetNode { id }).await };
        AtomicResponse::new(Box::pin(fut.into_actor(self).map(move |res, act, ctx| {
            let list = res.map_err(Error::from)?;
            let now = now_ms();
            let mut fx = Effects::default();
            let ids: Vec<(TaskId, bool)> = list
                .iter()
                .map(|(id, r)| (id.clone(), *r == Readiness::Ready))
                .collect();
            act.table.reset(&ids, now, &mut fx);
            let ticket = act.commit(fx, Resolutions::default(), now, ctx)?;
            let out = ids
                .iter()
                .filter_map(|(id, _)| act.table.get(id).cloned())
                .collect();
            Ok((out, ticket))
        })))
    }
}

/// A task context's execution deadline passed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DeadlineExceeded {
    /// Task.
    pub task: TaskId,
    /// The lease the deadline belonged to (ignored if no longer current).
    pub lease_id: u64,
}

impl Handler<DeadlineExceeded> for TaskRegistry {
    type Result = AtomicResponse<Self, ()>;
    fn handle(&mut self, msg: DeadlineExceeded, _: &mut Context<Self>) -> Self::Result {
        let now = now_ms();
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
        let now = now_ms();
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
            .filter(|o| !o.expired(now_ms()))
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
        op.updated_at = now_ms();
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
