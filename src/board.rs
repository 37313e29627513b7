//! `Board`: the typed in-process API. Every edge (REST, the
//! agent-coordinate-mcp routes, the CLI's server, MCP later) goes through it.
//!
//! Each write sends one message to the owning actor and then waits until the
//! commit it caused is durable, so a returned `Ok` is an acknowledged write.
//! Reads go to the store after a read barrier (nothing not yet durable is
//! shown) or to the lock-free [`BoardView`].

use std::sync::Arc;

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use crate::actors::context::{check_key, PutContext};
use crate::actors::metrics::{GetSeries, Metrics, MetricsCollector, RenderPrometheus, Series};
use crate::actors::registry::{
    AddTasks, Cancel, CancelOperation, ClaimNext, ClaimNextExecutor, ClaimTask, Claimed, Complete,
    Fail, GetOperation, Heartbeat, OpenOperation, Release, Reset, SettleOperation, TaskRegistry,
};
use crate::actors::resolver::{DependencyResolver, GetDependents};
use crate::actors::slots::{ClaimSlot, ListSlots, ReleaseSlot, SlotAllocator};
use crate::actors::BoardView;
use crate::config::Settings;
use crate::core::table::{LeaseRef, TaskError};
use crate::error::Error;
use crate::model::{
    now_ms, Event, Lease, Operation, OperationState, SlotInfo, Task, TaskId, TaskSpec, TaskStatus,
};
use crate::pool::PoolHandle;
use crate::store::{Store, Ticket};

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

/// The handle. Cheap to clone.
#[derive(Clone)]
pub struct Board {
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
    ) -> Self {
        Self {
            registry,
            resolver,
            slots,
            collector,
            store,
            view,
            metrics,
            settings,
            pool: None,
        }
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
        let r = self.registry.send(AddTasks { specs }).await??;
        self.durable(r).await
    }

    /// An executor must name a configured downstream server.
    fn check_executors(&self, specs: &[TaskSpec]) -> Result<(), Error> {
        for (i, spec) in specs.iter().enumerate() {
            let Some(e) = &spec.executor else { continue };
            let field = if specs.len() == 1 {
                "executor.server".to_owned()
            } else {
                format!("tasks[{i}].executor.server")
            };
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
        self.claim_task_ttl(id, worker, slot, None).await
    }

    /// Claim with a lease TTL override (compat routes).
    pub async fn claim_task_ttl(
        &self,
        id: &str,
        worker: &str,
        slot: Option<u32>,
        ttl_ms: Option<u64>,
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
            })
            .await??;
        self.claimed(c).await
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
            .send(Heartbeat { id, lease, ttl_ms })
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
        let r = self.registry.send(Complete { id, lease, output }).await??;
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
            })
            .await??;
        self.durable(r).await
    }

    /// Give a task back.
    pub async fn release(&self, id: &str, lease: LeaseRef) -> Result<Task, Error> {
        let id = self.id(id)?;
        let r = self.registry.send(Release { id, lease }).await??;
        self.durable(r).await
    }

    /// Cancel a task (and its pending dependents).
    pub async fn cancel(&self, id: &str, reason: Option<String>) -> Result<Task, Error> {
        let id = self.id(id)?;
        let r = self.registry.send(Cancel { id, reason }).await??;
        self.durable(r).await
    }

    /// Reset a failed task and its failed dependents.
    pub async fn reset(&self, id: &str) -> Result<Vec<Task>, Error> {
        let id = self.id(id)?;
        let r = self.registry.send(Reset { id }).await??;
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
        let now = now_ms();
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
        if !finished && now_ms() < op.deadline {
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

    /// One task.
    pub async fn get_task(&self, id: &str) -> Result<Task, Error> {
        let id = self.id(id)?;
        self.store.barrier().await?;
        self.store
            .get_task(&id)?
            .ok_or_else(|| TaskError::NotFound(id).into())
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
        self.store.barrier().await?;
        let last_event_id = self.store.last_event_id()?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
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
            Ok(TaskPage {
                tasks,
                next_cursor,
                last_event_id,
            })
        })
        .await
        .map_err(|_| Error::Unavailable("the task lister"))?
    }

    /// Every ready task an agent may claim (not executor tasks), best first (priority, then age).
    pub async fn available_tasks(&self) -> Result<Vec<Task>, Error> {
        let mut all = self.all_tasks().await?;
        // executor tasks are the dispatcher's, not offered to agents
        all.retain(|t| t.status == TaskStatus::Ready && t.executor.is_none());
        all.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.seq.cmp(&b.seq)));
        Ok(all)
    }

    /// Every task, in id order.
    pub async fn all_tasks(&self) -> Result<Vec<Task>, Error> {
        self.store.barrier().await?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.tasks_after(None).collect::<Result<Vec<_>, _>>())
            .await
            .map_err(|_| Error::Unavailable("the task lister"))?
            .map_err(Error::from)
    }

    /// A task's audit log.
    pub async fn task_events(&self, id: &str) -> Result<Vec<Event>, Error> {
        let task = self.get_task(id).await?;
        Ok(self.store.task_events(&task.id)?)
    }

    /// One context value.
    pub async fn context_get(
        &self,
        id: &str,
        key: &str,
    ) -> Result<Option<serde_json::Value>, Error> {
        let task = self.get_task(id).await?;
        Ok(self.store.context_get(&task.id, key)?)
    }

    /// All context values of a task.
    pub async fn context_list(
        &self,
        id: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        let task = self.get_task(id).await?;
        Ok(self.store.context_list(&task.id)?)
    }

    /// Every slot.
    pub async fn slots(&self) -> Result<Vec<SlotInfo>, Error> {
        Ok(self.slots.send(ListSlots).await?)
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
            "must be 1 to 256 printable characters",
        ));
    }
    Ok(())
}
