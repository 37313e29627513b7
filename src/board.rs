//! `Board`: the typed in-process API. Every edge (REST, the
//! agent-coordinate-mcp routes, the CLI's server, MCP later) goes through it.
//!
//! Each write sends one message to the owning actor and then waits until the
//! commit it caused is durable, so a returned `Ok` is an acknowledged write.
//! Reads go to the store and then pass a read barrier before they return
//! (nothing not yet durable is shown), or to the lock-free [`BoardView`].

use std::sync::Arc;

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use crate::actors::context::{check_key, PutContext};
use crate::actors::metrics::{GetSeries, Metrics, MetricsCollector, RenderPrometheus, Series};
use crate::actors::registry::{
    AddTasks, Cancel, CancelOperation, ClaimNext, ClaimNextExecutor, ClaimTask, Claimed, Complete,
    DeleteTask, Fail, GetOperation, Heartbeat, ListReady, OpenOperation, Release, Reset,
    SettleOperation, SweepLeases, TaskRegistry,
};
use crate::actors::resolver::{DependencyResolver, GetDependents};
use crate::actors::slots::{ClaimSlot, ListSlots, ReleaseSlot, SlotAllocator, SweepSlots};
use crate::actors::BoardView;
use crate::clock::Clock;
use crate::config::Settings;
use crate::core::table::{LeaseRef, TaskError};
use crate::error::Error;
use crate::model::{
    Event, Lease, LeaseRecord, Millis, Operation, OperationState, Principal, Role, SlotInfo, Task,
    TaskId, TaskSpec, TaskStatus,
};
use crate::pool::PoolHandle;
use crate::store::{LeaseQuery, Store, Ticket};

/// A task and its lease, as returned by a claim.
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema, schemars::JsonSchema,
)]
pub struct Claim {
    /// The task, now running.
    pub task: Task,
    /// The lease: present its `lease_id` on every later update.
    pub lease: Lease,
}

/// Filters and paging of [`Board::list_tasks`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Only this status.
    pub status: Option<TaskStatus>,
    /// Only tasks carrying this tag.
    pub tag: Option<String>,
    /// Only tasks leased by this worker.
    pub worker: Option<String>,
    /// Continue after this cursor (from a previous page).
    pub cursor: Option<String>,
    /// Page size (bounded by `api.max_page_size`; default `api.default_page_size`).
    pub limit: Option<usize>,
}

/// One page of tasks, in id order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TaskPage {
    /// The tasks.
    pub tasks: Vec<Task>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// Id of the newest event when the page was read: subscribe to the event
    /// stream after it to follow changes from this snapshot on.
    pub last_event_id: u64,
}

/// Filters and paging of [`Board::lease_history`]. A lease is listed when it
/// overlaps `[since, until)`: claimed before `until`, not ended before `since`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseFilter {
    /// Leave out leases that ended before this time (ms since the epoch).
    pub since: Option<Millis>,
    /// Leave out leases claimed at or after this time (ms since the epoch).
    pub until: Option<Millis>,
    /// Only leases held by this worker.
    pub worker: Option<String>,
    /// Continue after this cursor (a previous page's `next_cursor`).
    pub cursor: Option<String>,
    /// Page size (bounded by `api.max_page_size`; default `api.default_page_size`).
    pub limit: Option<usize>,
}

/// One page of the lease history, in claim order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeasePage {
    /// The leases, oldest claim first.
    pub leases: Vec<LeaseRecord>,
    /// Pass as `cursor` for the next page; `null` on the last page. A page can
    /// be shorter than `limit` (even empty) and still have one: one request
    /// looks at no more than [`LEASE_SCAN_BUDGET`] leases.
    pub next_cursor: Option<String>,
}

/// Most leases one [`Board::lease_history`] call looks at (filtered out or
/// not) before it ends the page with a `next_cursor`.
pub const LEASE_SCAN_BUDGET: usize = 50_000;

/// Counts for `/api/v1/stats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Tasks per status plus `total`.
    pub tasks: serde_json::Map<String, serde_json::Value>,
    /// `{total, busy}`.
    pub slots: serde_json::Value,
    /// Per-second series.
    pub series: Series,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Commits applied and flushes performed (group commit at work).
    pub store: serde_json::Value,
}

/// The handle. Cheap to clone. Every operation is made on behalf of
/// [`Board::actor`] ([`Principal::local`] unless [`Board::acting_as`] chose
/// another): recorded in the audit log, checked against lease owners and,
/// for executor tasks, against the admin role.
#[derive(Clone)]
pub struct Board {
    actor: Principal,
    registry: Addr<TaskRegistry>,
    resolver: Addr<DependencyResolver>,
    slots: Addr<SlotAllocator>,
    collector: Addr<MetricsCollector>,
    store: Store,
    view: Arc<BoardView>,
    metrics: Arc<Metrics>,
    settings: Arc<Settings>,
    /// Downstream MCP servers (executor tasks, the gateway, `/api/v1/servers`).
    pool: Option<PoolHandle>,
    clock: Clock,
    /// Cancelled when a shutdown begins ([`crate::Runtime::close_streams`]):
    /// every long-lived response (the SSE event stream, MCP sessions and
    /// their streams) ends, so a graceful HTTP stop is not held open by
    /// them until its timeout.
    closing: tokio_util::sync::CancellationToken,
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board").finish_non_exhaustive()
    }
}

/// Parse an id from a path or argument; an id that cannot exist is "not found".
pub fn task_id(s: &str, max_len: usize) -> Result<TaskId, Error> {
    TaskId::parse(s, max_len).map_err(|_| TaskError::NotFound(TaskId::from_trusted(s)).into())
}

impl Board {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        registry: Addr<TaskRegistry>,
        resolver: Addr<DependencyResolver>,
        slots: Addr<SlotAllocator>,
        collector: Addr<MetricsCollector>,
        store: Store,
        view: Arc<BoardView>,
        metrics: Arc<Metrics>,
        settings: Arc<Settings>,
        clock: Clock,
    ) -> Self {
        Self {
            actor: Principal::local(),
            clock,
            registry,
            resolver,
            slots,
            collector,
            store,
            view,
            metrics,
            settings,
            pool: None,
            closing: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// Cancelled once a shutdown has begun (see
    /// [`crate::Runtime::close_streams`]); long-lived streams end on it.
    pub fn closing(&self) -> &tokio_util::sync::CancellationToken {
        &self.closing
    }

    /// The same board, acting for `actor` (the edges call this with the
    /// caller that authenticated the request).
    pub fn acting_as(&self, actor: Principal) -> Board {
        Board {
            actor,
            ..self.clone()
        }
    }

    /// Who this handle acts for.
    pub fn actor(&self) -> &Principal {
        &self.actor
    }

    /// Builder: the downstream MCP server pool.
    pub(crate) fn with_pool(mut self, pool: PoolHandle) -> Self {
        self.pool = Some(pool);
        self
    }

    /// The downstream MCP server pool (absent in a board built without one).
    pub fn pool(&self) -> Option<&PoolHandle> {
        self.pool.as_ref()
    }

    /// Settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The clock every lease and slot expiry is measured by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The store (for the SSE stream and shutdown).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Shared metric handles.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Lock-free views.
    pub fn view(&self) -> &Arc<BoardView> {
        &self.view
    }

    fn id(&self, s: &str) -> Result<TaskId, Error> {
        task_id(s, self.settings.tasks.max_id_len)
    }

    /// Refuse unless [`Board::actor`] has at least `role`.
    pub fn require(&self, role: Role, action: &'static str) -> Result<(), Error> {
        if self.actor.role >= role {
            Ok(())
        } else {
            Err(Error::Forbidden {
                required: role,
                action,
            })
        }
    }

    async fn durable<T>(&self, r: (T, Ticket)) -> Result<T, Error> {
        self.store.wait_durable(r.1).await?;
        Ok(r.0)
    }

    // ---- writes ----------------------------------------------------------

    /// Add one task.
    pub async fn add_task(&self, spec: TaskSpec) -> Result<Task, Error> {
        let mut tasks = self.add_tasks(vec![spec]).await?;
        tasks.pop().ok_or(Error::Unavailable("the task registry"))
    }

    /// Add tasks as one atomic batch (dependencies may point inside the batch).
    pub async fn add_tasks(&self, specs: Vec<TaskSpec>) -> Result<Vec<Task>, Error> {
        self.check_executors(&specs)?;
        let r = self
            .registry
            .send(AddTasks {
                specs,
                actor: self.actor.clone(),
            })
            .await??;
        self.durable(r).await
    }

    /// Only admins create executor tasks; an executor must name a configured
    /// downstream server and one of its `executable_tools`.
    fn check_executors(&self, specs: &[TaskSpec]) -> Result<(), Error> {
        if specs.iter().any(|s| s.executor.is_some()) && self.actor.role < Role::Admin {
            return Err(Error::Forbidden {
                required: Role::Admin,
                action: "create tasks with an executor (baton would call a downstream tool)",
            });
        }
        for (i, spec) in specs.iter().enumerate() {
            let Some(e) = &spec.executor else { continue };
            let prefix = if specs.len() == 1 {
                "executor".to_owned()
            } else {
                format!("tasks[{i}].executor")
            };
            let field = format!("{prefix}.server");
            let servers = self
                .pool
                .as_ref()
                .map(PoolHandle::servers)
                .unwrap_or_default();
            if !servers.contains(&e.server) {
                let known = if servers.is_empty() {
                    "no downstream MCP servers are configured (--mcp-servers)".to_owned()
                } else {
                    format!("configured: {}", servers.join(", "))
                };
                return Err(Error::invalid(
                    field,
                    format!("no downstream MCP server named '{}'; {known}", e.server),
                ));
            }
            let allowed = self
                .pool
                .as_ref()
                .map(|p| p.executable_tools(&e.server))
                .unwrap_or_default();
            if !allowed.contains(&e.tool) {
                let listed = if allowed.is_empty() {
                    "none are allowed".to_owned()
                } else {
                    format!("allowed: {}", allowed.join(", "))
                };
                return Err(Error::invalid(
                    format!("{prefix}.tool"),
                    format!(
                        "tool '{}' of server '{}' is not in [pool.servers.{}] executable_tools ({listed})",
                        e.tool, e.server, e.server
                    ),
                ));
            }
        }
        Ok(())
    }

    async fn claimed(&self, c: Claimed) -> Result<Claim, Error> {
        self.store.wait_durable(c.ticket).await?;
        Ok(Claim {
            task: c.task,
            lease: c.lease,
        })
    }

    /// Claim the best ready task carrying all `tags`, with a slot. `None`: nothing is ready.
    pub async fn claim_next(
        &self,
        worker: &str,
        tags: Vec<String>,
        slot: Option<u32>,
    ) -> Result<Option<Claim>, Error> {
        check_worker(worker)?;
        let r = self
            .registry
            .send(ClaimNext {
                worker: worker.to_owned(),
                tags,
                slot,
                actor: self.actor.clone(),
            })
            .await??;
        match r {
            Some(c) => Ok(Some(self.claimed(c).await?)),
            None => {
                self.store.barrier().await?;
                Ok(None)
            }
        }
    }

    /// The dispatcher's claim: the best ready task with an executor whose
    /// server is not `blocked` (and not in `exclude`), with a slot.
    /// `Ok(None)`: none is ready.
    pub async fn claim_next_executor(
        &self,
        worker: &str,
        blocked: Vec<String>,
        exclude: Vec<TaskId>,
    ) -> Result<Option<Claim>, Error> {
        let r = self
            .registry
            .send(ClaimNextExecutor {
                worker: worker.to_owned(),
                blocked,
                exclude,
                actor: self.actor.clone(),
            })
            .await??;
        match r {
            Some(c) => Ok(Some(self.claimed(c).await?)),
            None => Ok(None),
        }
    }

    /// Claim a specific ready task.
    pub async fn claim_task(
        &self,
        id: &str,
        worker: &str,
        slot: Option<u32>,
    ) -> Result<Claim, Error> {
        self.claim_task_as(id, worker, slot, None, false).await
    }

    /// The agent-coordinate-mcp `claim-task`: the lease lasts
    /// `leases.compat_ttl_secs` and, unlike every other lease, accepts
    /// updates by `worker`'s name ([`LeaseRef::Worker`]) as that API has no
    /// lease ids.
    pub async fn compat_claim_task(
        &self,
        id: &str,
        worker: &str,
        slot: Option<u32>,
    ) -> Result<Claim, Error> {
        let ttl = self.settings.leases.compat_ttl_secs.saturating_mul(1000);
        self.claim_task_as(id, worker, slot, Some(ttl), true).await
    }

    async fn claim_task_as(
        &self,
        id: &str,
        worker: &str,
        slot: Option<u32>,
        ttl_ms: Option<u64>,
        compat: bool,
    ) -> Result<Claim, Error> {
        check_worker(worker)?;
        let id = self.id(id)?;
        let c = self
            .registry
            .send(ClaimTask {
                id,
                worker: worker.to_owned(),
                slot,
                ttl_ms,
                actor: self.actor.clone(),
                compat,
            })
            .await??;
        self.claimed(c).await
    }

    /// Expire, now, every lease and idle explicit slot hold whose time has
    /// passed by the clock — what the sweep timers do every
    /// `leases.sweep_interval_ms` — and return once that is durable. (A lapsed
    /// lease or hold is refused from the instant it lapses either way; this
    /// frees its task and slot.)
    pub async fn sweep_expired(&self) -> Result<(), Error> {
        if let Some(t) = self.registry.send(SweepLeases).await?? {
            self.store.wait_durable(t).await?;
        }
        if let Some(t) = self.slots.send(SweepSlots).await?? {
            self.store.wait_durable(t).await?;
        }
        Ok(())
    }

    /// Extend a lease.
    pub async fn heartbeat(&self, id: &str, lease: LeaseRef) -> Result<Task, Error> {
        self.heartbeat_ttl(id, lease, None).await
    }

    /// Extend a lease with a TTL override (compat routes).
    pub async fn heartbeat_ttl(
        &self,
        id: &str,
        lease: LeaseRef,
        ttl_ms: Option<u64>,
    ) -> Result<Task, Error> {
        let id = self.id(id)?;
        let r = self
            .registry
            .send(Heartbeat {
                id,
                lease,
                ttl_ms,
                actor: self.actor.clone(),
            })
            .await??;
        self.durable(r).await
    }

    /// Complete a running task.
    pub async fn complete(
        &self,
        id: &str,
        lease: LeaseRef,
        output: Option<serde_json::Value>,
    ) -> Result<Task, Error> {
        let id = self.id(id)?;
        let r = self
            .registry
            .send(Complete {
                id,
                lease,
                output,
                actor: self.actor.clone(),
            })
            .await??;
        self.durable(r).await
    }

    /// Fail the current attempt (retried while attempts remain, if `retry`).
    pub async fn fail(
        &self,
        id: &str,
        lease: LeaseRef,
        error: String,
        retry: bool,
    ) -> Result<Task, Error> {
        let id = self.id(id)?;
        let r = self
            .registry
            .send(Fail {
                id,
                lease,
                error,
                retry,
                actor: self.actor.clone(),
            })
            .await??;
        self.durable(r).await
    }

    /// Give a task back.
    pub async fn release(&self, id: &str, lease: LeaseRef) -> Result<Task, Error> {
        let id = self.id(id)?;
        let r = self
            .registry
            .send(Release {
                id,
                lease,
                actor: self.actor.clone(),
            })
            .await??;
        self.durable(r).await
    }

    /// Cancel a task (and its pending dependents). Admins only.
    pub async fn cancel(&self, id: &str, reason: Option<String>) -> Result<Task, Error> {
        self.require(Role::Admin, "cancel tasks")?;
        let id = self.id(id)?;
        let r = self
            .registry
            .send(Cancel {
                id,
                reason,
                actor: self.actor.clone(),
            })
            .await??;
        self.durable(r).await
    }

    /// Delete a terminal task now, with its audit log and context. Admins only.
    ///
    /// Errors: `task_not_found`, `invalid_status` (it has not finished),
    /// `has_dependents` (other tasks depend on it), `forbidden`.
    pub async fn delete_task(&self, id: &str) -> Result<(), Error> {
        self.require(Role::Admin, "delete tasks")?;
        let id = self.id(id)?;
        let ticket = self
            .registry
            .send(DeleteTask {
                id,
                actor: self.actor.clone(),
            })
            .await??;
        self.store.wait_durable(ticket).await?;
        Ok(())
    }

    /// Reset a failed task and its failed dependents.
    pub async fn reset(&self, id: &str) -> Result<Vec<Task>, Error> {
        let id = self.id(id)?;
        let r = self
            .registry
            .send(Reset {
                id,
                actor: self.actor.clone(),
            })
            .await??;
        self.durable(r).await
    }

    /// Write one context key of a running task under its lease.
    pub async fn context_put(
        &self,
        id: &str,
        lease_id: u64,
        key: &str,
        value: serde_json::Value,
    ) -> Result<(), Error> {
        let id = self.id(id)?;
        check_key(key)?;
        let handle = self.view.contexts.get(&id).map(|h| h.value().clone());
        let Some(handle) = handle else {
            return Err(self.no_context(&id, lease_id).await);
        };
        let sent = handle
            .addr
            .send(PutContext {
                lease_id,
                key: key.to_owned(),
                value,
                actor: self.actor.clone(),
            })
            .await;
        match sent {
            Ok(r) => {
                let ticket = r?;
                self.store.wait_durable(ticket).await?;
                Ok(())
            }
            // the context stopped between lookup and send: its lease ended
            Err(_) => Err(self.no_context(&id, lease_id).await),
        }
    }

    async fn no_context(&self, id: &TaskId, lease_id: u64) -> Error {
        match self.get_task(id.as_str()).await {
            Ok(t) => TaskError::StaleLease {
                task: id.clone(),
                presented: lease_id,
                current: t.lease.map(|l| l.lease_id),
            }
            .into(),
            Err(e) => e,
        }
    }

    /// Hold a slot explicitly.
    pub async fn claim_slot(&self, worker: &str) -> Result<u32, Error> {
        check_worker(worker)?;
        self.claim_slot_as(worker).await
    }

    /// Hold a slot explicitly; an empty `worker` is an anonymous hold that the
    /// first worker to claim a task in it adopts (agent-coordinate-mcp style).
    pub async fn claim_slot_as(&self, worker: &str) -> Result<u32, Error> {
        if !worker.is_empty() {
            check_worker(worker)?;
        }
        let r = self
            .slots
            .send(ClaimSlot {
                worker: worker.to_owned(),
            })
            .await??;
        self.durable(r).await
    }

    /// Release an explicit slot; `worker`, when given, must hold it.
    pub async fn release_slot(&self, slot: u32, worker: Option<&str>) -> Result<(), Error> {
        let t = self
            .slots
            .send(ReleaseSlot {
                slot,
                worker: worker.map(str::to_owned),
            })
            .await??;
        self.store.wait_durable(t).await?;
        Ok(())
    }

    // ---- durable waits (MCP task handles) ------------------------------------

    /// Record a durable wait on task `id` that gives up after `timeout`: the
    /// handle an MCP client of the tasks extension polls. Durable before it returns.
    pub async fn open_wait(
        &self,
        tool: &str,
        id: &str,
        timeout: std::time::Duration,
    ) -> Result<Operation, Error> {
        let task = self.get_task(id).await?;
        let now = self.clock.now();
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let op = Operation {
            id: format!("op-{}", uuid::Uuid::now_v7().simple()),
            tool: tool.to_owned(),
            task_id: task.id,
            deadline: now.saturating_add(timeout_ms),
            created_at: now,
            updated_at: now,
            ttl_ms: self
                .settings
                .mcp
                .task_handle_ttl_secs
                .saturating_mul(1000)
                .max(timeout_ms),
            state: OperationState::Working,
        };
        let ticket = self
            .registry
            .send(OpenOperation { op: op.clone() })
            .await??;
        self.store.wait_durable(ticket).await?;
        Ok(op)
    }

    /// A wait's current state. A working wait whose task has finished, or
    /// whose deadline has passed, is settled (durably) on the way.
    pub async fn poll_wait(&self, handle: &str) -> Result<Operation, Error> {
        let op = self
            .registry
            .send(GetOperation {
                id: handle.to_owned(),
            })
            .await??;
        if op.is_terminal() {
            return Ok(op);
        }
        let task = self.get_task(op.task_id.as_str()).await?;
        let finished = task.status.is_terminal();
        if !finished && self.clock.now() < op.deadline {
            return Ok(op);
        }
        let settle = SettleOperation {
            id: op.id,
            task,
            finished,
        };
        let (op, ticket) = self.registry.send(settle).await??;
        if let Some(t) = ticket {
            self.store.wait_durable(t).await?;
        }
        Ok(op)
    }

    /// Cancel a working wait (a settled one is left as it is).
    pub async fn cancel_wait(&self, handle: &str) -> Result<Operation, Error> {
        let (op, ticket) = self
            .registry
            .send(CancelOperation {
                id: handle.to_owned(),
            })
            .await??;
        if let Some(t) = ticket {
            self.store.wait_durable(t).await?;
        }
        Ok(op)
    }

    // ---- reads -----------------------------------------------------------

    /// Run a synchronous store read on the blocking pool, never on an
    /// actix-web worker or an arbiter (a store read can wait for the disk,
    /// and an audit log or a context can be large), then pass the read
    /// barrier: what the read saw is durable before it is shown.
    async fn read<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> Result<T, Error> {
        let store = self.store.clone();
        let value = tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|_| Error::Unavailable(what))??;
        self.store.barrier().await?;
        Ok(value)
    }

    /// One task.
    pub async fn get_task(&self, id: &str) -> Result<Task, Error> {
        let id = self.id(id)?;
        let key = id.clone();
        let task = self.read("a task read", move |s| s.get_task(&key)).await?;
        task.ok_or_else(|| TaskError::NotFound(id).into())
    }

    /// One task and its direct dependents.
    pub async fn task_detail(&self, id: &str) -> Result<(Task, Vec<TaskId>), Error> {
        let task = self.get_task(id).await?;
        let dependents = self
            .resolver
            .send(GetDependents {
                id: task.id.clone(),
            })
            .await?;
        Ok((task, dependents))
    }

    /// A page of tasks in id order.
    pub async fn list_tasks(&self, f: TaskFilter) -> Result<TaskPage, Error> {
        let api = &self.settings.api;
        let limit = f.limit.unwrap_or(api.default_page_size);
        if limit == 0 || limit > api.max_page_size {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {}", api.max_page_size),
            ));
        }
        let last_event_id = self.store.last_event_id()?;
        let store = self.store.clone();
        let page = tokio::task::spawn_blocking(move || {
            let mut tasks = Vec::with_capacity(limit.min(1024));
            let mut next_cursor = None;
            for t in store.tasks_after(f.cursor.as_deref()) {
                let t = t?;
                if f.status.is_some_and(|s| t.status != s)
                    || f.tag.as_ref().is_some_and(|tag| !t.tags.contains(tag))
                    || f.worker
                        .as_ref()
                        .is_some_and(|w| t.lease.as_ref().is_none_or(|l| l.worker != *w))
                {
                    continue;
                }
                if tasks.len() == limit {
                    next_cursor = tasks.last().map(|t: &Task| t.id.to_string());
                    break;
                }
                tasks.push(t);
            }
            Ok::<_, Error>(TaskPage {
                tasks,
                next_cursor,
                last_event_id,
            })
        })
        .await
        .map_err(|_| Error::Unavailable("the task lister"))??;
        self.store.barrier().await?;
        Ok(page)
    }

    /// Every ready task an agent may claim (not executor tasks — they are
    /// the dispatcher's), best first (priority, then age). Read from the
    /// registry's in-memory ready queue, then a read barrier: what is shown
    /// is durable.
    pub async fn available_tasks(&self) -> Result<Vec<Task>, Error> {
        let ready = self.registry.send(ListReady).await?;
        self.store.barrier().await?;
        Ok(ready)
    }

    /// Every task, in id order.
    pub async fn all_tasks(&self) -> Result<Vec<Task>, Error> {
        let store = self.store.clone();
        let tasks = tokio::task::spawn_blocking(move || {
            store.tasks_after(None).collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|_| Error::Unavailable("the task lister"))??;
        self.store.barrier().await?;
        Ok(tasks)
    }

    /// The lease history (who held which task when, and how each lease
    /// ended), built from the audit log. Errors: `limit` outside
    /// `1..=api.max_page_size`, a `cursor` that is not one this returned,
    /// `since` after `until`, or a blank `worker` (all `invalid_field`).
    pub async fn lease_history(&self, f: LeaseFilter) -> Result<LeasePage, Error> {
        let api = &self.settings.api;
        let limit = f.limit.unwrap_or(api.default_page_size);
        if limit == 0 || limit > api.max_page_size {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {}", api.max_page_size),
            ));
        }
        let after = match f.cursor.as_deref() {
            None => None,
            Some(c) => Some(c.parse::<u64>().map_err(|_| {
                Error::invalid("cursor", "must be the next_cursor of a previous page")
            })?),
        };
        if let (Some(s), Some(u)) = (f.since, f.until) {
            if s > u {
                return Err(Error::invalid("since", "must not be after until"));
            }
        }
        if let Some(w) = &f.worker {
            check_worker(w)?;
        }
        let q = LeaseQuery {
            since: f.since,
            until: f.until,
            worker: f.worker,
            after,
            limit,
            max_scan: LEASE_SCAN_BUDGET,
        };
        let page = self
            .read("the lease history", move |s| s.lease_history(&q))
            .await?;
        Ok(LeasePage {
            leases: page.leases,
            next_cursor: page.next_cursor.map(|c| c.to_string()),
        })
    }

    /// A task's audit log.
    pub async fn task_events(&self, id: &str) -> Result<Vec<Event>, Error> {
        let task = self.get_task(id).await?;
        self.read("an audit log read", move |s| s.task_events(&task.id))
            .await
    }

    /// One context value.
    pub async fn context_get(
        &self,
        id: &str,
        key: &str,
    ) -> Result<Option<serde_json::Value>, Error> {
        let task = self.get_task(id).await?;
        let key = key.to_owned();
        self.read("a context read", move |s| s.context_get(&task.id, &key))
            .await
    }

    /// All context values of a task.
    pub async fn context_list(
        &self,
        id: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        let task = self.get_task(id).await?;
        self.read("a context read", move |s| s.context_list(&task.id))
            .await
    }

    /// Every slot, then a read barrier: what is shown is durable.
    pub async fn slots(&self) -> Result<Vec<SlotInfo>, Error> {
        let slots = self.slots.send(ListSlots).await?;
        self.store.barrier().await?;
        Ok(slots)
    }

    /// Counts and series.
    pub async fn stats(&self) -> Result<Stats, Error> {
        let counts = self.view.counts();
        let mut tasks = serde_json::Map::new();
        for s in TaskStatus::ALL {
            tasks.insert(s.as_str().into(), counts[s.index()].into());
        }
        tasks.insert("total".into(), counts.iter().sum::<usize>().into());
        let series = self.collector.send(GetSeries).await?;
        Ok(Stats {
            tasks,
            slots: serde_json::json!({"total": self.view.slots_total, "busy": self.view.slots_busy()}),
            series,
            uptime_secs: self.view.started.elapsed().as_secs(),
            store: serde_json::json!({"commits": self.store.commit_count(), "flushes": self.store.flush_count()}),
        })
    }

    /// Prometheus text.
    pub async fn prometheus(&self) -> Result<String, Error> {
        let mut text = self.collector.send(RenderPrometheus).await?;
        if let Some(pool) = &self.pool {
            let body = crate::pool::metrics::render(&pool.status().await);
            match text.rfind("# EOF") {
                Some(at) => text.insert_str(at, &body),
                None => text.push_str(&body),
            }
        }
        Ok(text)
    }
}

/// Check a worker name.
pub fn check_worker(worker: &str) -> Result<(), Error> {
    if worker.trim().is_empty() || worker.len() > 256 || worker.chars().any(char::is_control) {
        return Err(Error::invalid(
            "worker",
            "must be 1 to 256 bytes (UTF-8) without control characters",
        ));
    }
    Ok(())
}
