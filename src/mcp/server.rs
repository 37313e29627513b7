//! `BatonMcp`: the MCP server. Every tool is a thin wrapper over one
//! [`Board`] method (one actor message); there is no business logic here.
//! Results carry `structuredContent` (with a text copy) and an
//! `outputSchema`; bad arguments and refused operations come back as tool
//! errors (`isError: true`) whose text says what to fix.

// rmcp's tool-error type is `CallToolResult` itself; returning it by value is the API.
#![allow(clippy::result_large_err)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{
    CallToolResult, CancelTaskParams, CreateTaskResult, DetailedTask, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, GetTaskParams, GetTaskResult, Implementation,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams,
    ProgressNotificationParam, Prompt, PromptArgument, PromptMessage, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, RequestMetaObject, Resource, ResourceContents,
    ResourceTemplate, Role, ServerCapabilities, ServerConfig, SubscribeRequestParams, TaskPayload,
    UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::{
    schemars, tool, tool_handler, tool_router, ErrorData as McpError, RoleServer, ServerHandler,
};
use serde::{Deserialize, Serialize};

use crate::board::{Board, Claim, TaskFilter, TaskPage};
use crate::config::ToolProfile;
use crate::core::table::LeaseRef;
use crate::error::Error;
use crate::model::{rfc3339, Operation, OperationState, SlotInfo, Task, TaskSpec, TaskStatus};
use crate::pool::{CallOptions, PoolError};

/// A refused call as a tool error: `code: message (field: f)` plus the same as structured content.
pub(crate) fn tool_error(e: &Error) -> CallToolResult {
    CallToolResult::structured_error(serde_json::json!({ "error": error_body(e) }))
}

/// `{code, message}`, plus `field` for bad input, and for a downstream server
/// `server` and (breaker open) `retry_at`.
fn error_body(e: &Error) -> serde_json::Value {
    let mut v = serde_json::json!({ "code": e.code(), "message": e.to_string() });
    if let Some(f) = e.field() {
        v["field"] = f.into();
    }
    if let Error::Downstream(p) = e {
        if let Some(server) = p.server() {
            v["server"] = server.into();
        }
        if let PoolError::BreakerOpen { retry_at, .. } = p {
            v["retry_at"] = rfc3339::format(*retry_at).into();
        }
    }
    v
}

fn ok<T>(r: Result<T, Error>) -> Result<Json<T>, CallToolResult> {
    r.map(Json).map_err(|e| tool_error(&e))
}

/// The MCP server over a board.
#[derive(Clone)]
pub struct BatonMcp {
    board: Board,
    tool_router: ToolRouter<BatonMcp>,
    /// Resource URIs this session subscribed to.
    subscriptions: Arc<Mutex<HashSet<String>>>,
    /// Whether this session's notification forwarder runs.
    forwarding: Arc<AtomicBool>,
    /// Whether this session's tool-list-changed forwarder runs.
    list_forwarding: Arc<AtomicBool>,
    /// Tools shown unless the request picks a profile (`?profile=`).
    profile: ToolProfile,
}

impl std::fmt::Debug for BatonMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatonMcp").finish_non_exhaustive()
    }
}

// ---- argument and result types ---------------------------------------------

/// Arguments naming a task.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TaskRef {
    /// Task id.
    pub task_id: String,
}

/// Several tasks added atomically.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddTasksArgs {
    /// Tasks; `dependencies` may name tasks earlier or later in this list.
    pub tasks: Vec<TaskSpec>,
}

/// Tasks.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TasksOut {
    /// The tasks.
    pub tasks: Vec<Task>,
}

/// Filters of `list_tasks`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ListArgs {
    /// Only this status: blocked, ready, running, done, failed or cancelled.
    #[serde(default)]
    pub status: Option<String>,
    /// Only tasks carrying this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// Only tasks leased by this worker.
    #[serde(default)]
    pub worker: Option<String>,
    /// `next_cursor` from the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Arguments of `claim_next_task`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ClaimNextArgs {
    /// Your worker name (stable across calls).
    pub worker: String,
    /// Only tasks carrying all these tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Result of a claim.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ClaimOut {
    /// Whether a task was claimed (false: nothing is ready now).
    pub claimed: bool,
    /// The claimed task and its lease; pass `lease.lease_id` to every later call.
    pub claim: Option<Claim>,
}

/// Arguments of `claim_task`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ClaimArgs {
    /// Task id.
    pub task_id: String,
    /// Your worker name.
    pub worker: String,
    /// An explicit slot you hold (from `claim_worker_slot`).
    #[serde(default)]
    pub slot: Option<u32>,
}

/// A lease-carrying call.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct LeaseArgs {
    /// Task id.
    pub task_id: String,
    /// `lease_id` from your claim.
    pub lease_id: u64,
}

/// Arguments of `complete_task`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CompleteArgs {
    /// Task id.
    pub task_id: String,
    /// `lease_id` from your claim.
    pub lease_id: u64,
    /// The result (any JSON).
    #[serde(default)]
    pub output: Option<serde_json::Value>,
}

/// Arguments of `fail_task`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct FailArgs {
    /// Task id.
    pub task_id: String,
    /// `lease_id` from your claim.
    pub lease_id: u64,
    /// What went wrong.
    pub error: String,
    /// Retry while attempts remain (default true).
    #[serde(default)]
    pub retry: Option<bool>,
}

/// Arguments of `update_task` (agent-coordinate-mcp style, by worker name).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct UpdateArgs {
    /// Task id.
    pub task_id: String,
    /// `working` (extends the lease), `done` or `failed`.
    pub status: String,
    /// The worker holding the task.
    pub worker: String,
    /// Result, with `done`.
    #[serde(default)]
    pub output: Option<serde_json::Value>,
    /// Error, with `failed`.
    #[serde(default)]
    pub error: Option<String>,
}

/// Arguments of `cancel_task`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CancelArgs {
    /// Task id.
    pub task_id: String,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The outcome of a task.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ResultOut {
    /// Task id.
    pub task_id: String,
    /// Status.
    pub status: TaskStatus,
    /// Whether the task has finished (done, failed or cancelled).
    pub finished: bool,
    /// Output, when done.
    pub output: Option<serde_json::Value>,
    /// Error, when failed or cancelled.
    pub error: Option<String>,
}

impl From<Task> for ResultOut {
    fn from(t: Task) -> Self {
        Self {
            task_id: t.id.to_string(),
            status: t.status,
            finished: t.status.is_terminal(),
            output: t.output,
            error: t.error,
        }
    }
}

/// Arguments of `wait_for_task`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct WaitArgs {
    /// Task id.
    pub task_id: String,
    /// Give up after this many seconds (default 30, at most 600).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

impl WaitArgs {
    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.unwrap_or(30).clamp(1, 600))
    }
}

/// Arguments naming a worker.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct WorkerArgs {
    /// Worker name.
    pub worker: String,
}

/// A slot number.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SlotOut {
    /// The slot.
    pub slot: u32,
}

/// Arguments of `release_worker_slot`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ReleaseSlotArgs {
    /// The slot.
    pub slot: u32,
    /// The holder.
    pub worker: String,
}

/// The slot table.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WorkersOut {
    /// Every slot with its holder and task.
    pub slots: Vec<SlotInfo>,
}

/// Arguments naming a downstream server.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ServerRef {
    /// Server name (a key of `mcpServers`).
    pub server: String,
}

/// Downstream servers.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ServersOut {
    /// Each server: name, transport, state, breaker {state, counts, retry_at}, last_error,
    /// tools, restarts, calls, failed_calls, latency {p50_ms, p95_ms, p99_ms}.
    pub servers: Vec<serde_json::Value>,
}

/// One downstream server.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ServerOut {
    /// Its status (as in `list_servers`).
    pub server: serde_json::Value,
    /// Gateway names of its tools.
    pub tools: Vec<String>,
}

/// Arguments of `context_get`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ContextGetArgs {
    /// Task id.
    pub task_id: String,
    /// Key.
    pub key: String,
}

/// Arguments of `context_set`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ContextSetArgs {
    /// Task id.
    pub task_id: String,
    /// `lease_id` from your claim (only the current holder may write).
    pub lease_id: u64,
    /// Key.
    pub key: String,
    /// Value (any JSON).
    pub value: serde_json::Value,
}

/// One context value.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ContextValue {
    /// Key.
    pub key: String,
    /// Value (null when unset).
    pub value: Option<serde_json::Value>,
}

/// A task's whole context.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ContextOut {
    /// Key → value.
    pub context: serde_json::Map<String, serde_json::Value>,
}

/// Reset tasks.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ResetOut {
    /// The failed task and its failed dependents, reset.
    pub reset: Vec<Task>,
}

/// A task with its dependents.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TaskOut {
    /// The task.
    pub task: Task,
    /// Ids of tasks depending on it.
    pub dependents: Vec<String>,
}

// ---- tools -------------------------------------------------------------------

#[tool_router]
impl BatonMcp {
    /// A server over `board`.
    pub fn new(board: Board) -> Self {
        Self {
            board,
            tool_router: Self::tool_router(),
            subscriptions: Arc::default(),
            forwarding: Arc::default(),
            list_forwarding: Arc::default(),
            profile: ToolProfile::Full,
        }
    }

    /// Builder: the default tool profile.
    pub fn with_profile(mut self, profile: ToolProfile) -> Self {
        self.profile = profile;
        self
    }

    fn profile_of(&self, context: &RequestContext<RoleServer>) -> ToolProfile {
        // set per request by the `on_request` hook of the HTTP service (see `mcp::service`)
        rmcp_actix_web::transport::on_request_extensions(&context.extensions)
            .and_then(|e| e.get::<ToolProfile>())
            .copied()
            .unwrap_or(self.profile)
    }

    /// Add one task. Dependencies must exist; a cycle is refused.
    #[tool(annotations(
        title = "Add task",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn add_task(
        &self,
        Parameters(spec): Parameters<TaskSpec>,
    ) -> Result<Json<Task>, CallToolResult> {
        ok(self.board.add_task(spec).await)
    }

    /// Add several tasks as one atomic batch; dependencies may point inside the batch.
    #[tool(annotations(
        title = "Add tasks",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn add_tasks(
        &self,
        Parameters(a): Parameters<AddTasksArgs>,
    ) -> Result<Json<TasksOut>, CallToolResult> {
        ok(self
            .board
            .add_tasks(a.tasks)
            .await
            .map(|tasks| TasksOut { tasks }))
    }

    /// Get one task with its dependents.
    #[tool(annotations(
        title = "Get task",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn get_task(
        &self,
        Parameters(a): Parameters<TaskRef>,
    ) -> Result<Json<TaskOut>, CallToolResult> {
        ok(self
            .board
            .task_detail(&a.task_id)
            .await
            .map(|(task, deps)| TaskOut {
                task,
                dependents: deps.into_iter().map(|d| d.to_string()).collect(),
            }))
    }

    /// List tasks by status, tag or worker, a page at a time (follow `next_cursor`).
    #[tool(annotations(
        title = "List tasks",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn list_tasks(
        &self,
        Parameters(a): Parameters<ListArgs>,
    ) -> Result<Json<TaskPage>, CallToolResult> {
        let status = match a.status.as_deref() {
            None | Some("") => None,
            Some(s) => match TaskStatus::parse(s) {
                Some(st) => Some(st),
                None => {
                    return Err(tool_error(&Error::invalid(
                        "status",
                        format!("unknown status '{s}'; one of blocked, ready, running, done, failed, cancelled"),
                    )))
                }
            },
        };
        ok(self
            .board
            .list_tasks(TaskFilter {
                status,
                tag: a.tag,
                worker: a.worker,
                cursor: a.cursor,
                limit: a.limit,
            })
            .await)
    }

    /// Tasks ready to be claimed now, best first (priority, then age).
    #[tool(annotations(
        title = "Available tasks",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn get_available_tasks(&self) -> Result<Json<TasksOut>, CallToolResult> {
        ok(self
            .board
            .available_tasks()
            .await
            .map(|tasks| TasksOut { tasks }))
    }

    /// Claim the best ready task (optionally only tasks with all `tags`) together with a worker
    /// slot. Returns the task and a lease: heartbeat it while working, then complete or fail it.
    #[tool(annotations(
        title = "Claim next task",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn claim_next_task(
        &self,
        Parameters(a): Parameters<ClaimNextArgs>,
    ) -> Result<Json<ClaimOut>, CallToolResult> {
        ok(self
            .board
            .claim_next(&a.worker, a.tags, None)
            .await
            .map(|c| ClaimOut {
                claimed: c.is_some(),
                claim: c,
            }))
    }

    /// Claim a specific ready task.
    #[tool(annotations(
        title = "Claim task",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn claim_task(
        &self,
        Parameters(a): Parameters<ClaimArgs>,
    ) -> Result<Json<Claim>, CallToolResult> {
        ok(self.board.claim_task(&a.task_id, &a.worker, a.slot).await)
    }

    /// Extend your lease on a running task (call well before `lease.expires_at`).
    #[tool(annotations(
        title = "Heartbeat",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn heartbeat(
        &self,
        Parameters(a): Parameters<LeaseArgs>,
    ) -> Result<Json<Task>, CallToolResult> {
        ok(self
            .board
            .heartbeat(&a.task_id, LeaseRef::Id(a.lease_id))
            .await)
    }

    /// Complete a running task under your lease, with its output. Dependents may become ready.
    #[tool(annotations(
        title = "Complete task",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn complete_task(
        &self,
        Parameters(a): Parameters<CompleteArgs>,
    ) -> Result<Json<Task>, CallToolResult> {
        ok(self
            .board
            .complete(&a.task_id, LeaseRef::Id(a.lease_id), a.output)
            .await)
    }

    /// Fail the current attempt under your lease; it is retried while attempts remain unless
    /// `retry` is false. A task that fails for good fails its pending dependents.
    #[tool(annotations(
        title = "Fail task",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = false
    ))]
    async fn fail_task(
        &self,
        Parameters(a): Parameters<FailArgs>,
    ) -> Result<Json<Task>, CallToolResult> {
        ok(self
            .board
            .fail(
                &a.task_id,
                LeaseRef::Id(a.lease_id),
                a.error,
                a.retry.unwrap_or(true),
            )
            .await)
    }

    /// Give a task back without counting the attempt (it becomes ready for others).
    #[tool(annotations(
        title = "Release task",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn release_task(
        &self,
        Parameters(a): Parameters<LeaseArgs>,
    ) -> Result<Json<Task>, CallToolResult> {
        ok(self
            .board
            .release(&a.task_id, LeaseRef::Id(a.lease_id))
            .await)
    }

    /// Update a task by worker name (agent-coordinate-mcp style): `working` extends the lease,
    /// `done` completes, `failed` fails for good.
    #[tool(annotations(
        title = "Update task",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = false
    ))]
    async fn update_task(
        &self,
        Parameters(a): Parameters<UpdateArgs>,
    ) -> Result<Json<Task>, CallToolResult> {
        let by = LeaseRef::Worker(a.worker);
        let r = match a.status.as_str() {
            "working" => self.board.heartbeat(&a.task_id, by).await,
            "done" => self.board.complete(&a.task_id, by, a.output).await,
            "failed" => {
                let err = a.error.unwrap_or_else(|| "failed".into());
                self.board.fail(&a.task_id, by, err, false).await
            }
            other => Err(Error::invalid(
                "status",
                format!("unknown status '{other}'; one of working, done, failed"),
            )),
        };
        ok(r)
    }

    /// Cancel a task that has not finished; its pending dependents are cancelled too.
    #[tool(annotations(
        title = "Cancel task",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = false
    ))]
    async fn cancel_task(
        &self,
        Parameters(a): Parameters<CancelArgs>,
    ) -> Result<Json<Task>, CallToolResult> {
        ok(self.board.cancel(&a.task_id, a.reason).await)
    }

    /// Reset a failed task and the dependents that failed with it.
    #[tool(annotations(
        title = "Reset failed task",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn reset_failed_task(
        &self,
        Parameters(a): Parameters<TaskRef>,
    ) -> Result<Json<ResetOut>, CallToolResult> {
        ok(self
            .board
            .reset(&a.task_id)
            .await
            .map(|reset| ResetOut { reset }))
    }

    /// A task's status and, once finished, its output or error.
    #[tool(annotations(
        title = "Task result",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn get_task_result(
        &self,
        Parameters(a): Parameters<TaskRef>,
    ) -> Result<Json<ResultOut>, CallToolResult> {
        ok(self.board.get_task(&a.task_id).await.map(ResultOut::from))
    }

    /// Wait until a task finishes (done, failed or cancelled) or the timeout passes, sending
    /// progress notifications on every change when the request carries a progress token.
    /// Clients of the MCP tasks extension get a durable task handle instead (poll tasks/get).
    #[tool(annotations(
        title = "Wait for task",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn wait_for_task(
        &self,
        Parameters(a): Parameters<WaitArgs>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
    ) -> Result<Json<ResultOut>, CallToolResult> {
        let timeout = a.timeout();
        let token = meta.get_progress_token();
        let mut rx = self.board.store().subscribe();
        let mut task = match self.board.get_task(&a.task_id).await {
            Ok(t) => t,
            Err(e) => return Err(tool_error(&e)),
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut step = 0u32;
        if let (Some(tok), false) = (&token, task.status.is_terminal()) {
            // first notification: the wait has begun (subscribed before this read)
            let msg = format!("{} is {}", task.id, task.status);
            let _ = peer
                .notify_progress(ProgressNotificationParam::new(tok.clone(), 0.0).with_message(msg))
                .await;
        }
        while !task.status.is_terminal() {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Ok(p) if p.event.task_id.as_ref() == Some(&task.id) => {
                        if let Ok(t) = self.board.get_task(&a.task_id).await {
                            task = t;
                        }
                        step += 1;
                        if let Some(tok) = &token {
                            let msg = format!("{} is {}", task.id, task.status);
                            let _ = peer
                                .notify_progress(ProgressNotificationParam::new(tok.clone(), f64::from(step)).with_message(msg))
                                .await;
                        }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        if let Ok(t) = self.board.get_task(&a.task_id).await {
                            task = t;
                        }
                    }
                    Err(_) => break,
                },
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        Ok(Json(ResultOut::from(task)))
    }

    /// Hold a worker slot explicitly (then claim tasks into it with `claim_task` + `slot`).
    #[tool(annotations(
        title = "Claim worker slot",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn claim_worker_slot(
        &self,
        Parameters(a): Parameters<WorkerArgs>,
    ) -> Result<Json<SlotOut>, CallToolResult> {
        ok(self
            .board
            .claim_slot(&a.worker)
            .await
            .map(|slot| SlotOut { slot }))
    }

    /// Release a worker slot you hold.
    #[tool(annotations(
        title = "Release worker slot",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn release_worker_slot(
        &self,
        Parameters(a): Parameters<ReleaseSlotArgs>,
    ) -> Result<Json<SlotOut>, CallToolResult> {
        ok(self
            .board
            .release_slot(a.slot, Some(&a.worker))
            .await
            .map(|()| SlotOut { slot: a.slot }))
    }

    /// Every worker slot with its holder and running task.
    #[tool(annotations(
        title = "Workers",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn get_workers(&self) -> Result<Json<WorkersOut>, CallToolResult> {
        ok(self.board.slots().await.map(|slots| WorkersOut { slots }))
    }

    /// Downstream MCP servers baton calls (their tools appear here as `<server>__<tool>`):
    /// state, circuit breaker, last error, tool count, call latency.
    #[tool(annotations(
        title = "List downstream servers",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn list_servers(&self) -> Result<Json<ServersOut>, CallToolResult> {
        let servers = match self.board.pool() {
            Some(pool) => pool.status().await,
            None => Vec::new(),
        };
        Ok(Json(ServersOut {
            servers: servers
                .iter()
                .map(|s| serde_json::to_value(s).unwrap_or_default())
                .collect(),
        }))
    }

    /// One downstream MCP server's status, with the gateway names of its tools.
    #[tool(annotations(
        title = "Downstream server status",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn server_status(
        &self,
        Parameters(a): Parameters<ServerRef>,
    ) -> Result<Json<ServerOut>, CallToolResult> {
        let unknown = PoolError::UnknownServer {
            server: a.server.clone(),
        };
        let pool = self.board.pool().ok_or_else(|| gateway_error(&unknown))?;
        let status = pool
            .server_status(&a.server)
            .await
            .map_err(|e| gateway_error(&e))?;
        let tools = pool
            .server_tools(&a.server)
            .into_iter()
            .map(|t| t.name)
            .collect();
        Ok(Json(ServerOut {
            server: serde_json::to_value(status).unwrap_or_default(),
            tools,
        }))
    }

    /// Read one key of a task's context.
    #[tool(annotations(
        title = "Context get",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn context_get(
        &self,
        Parameters(a): Parameters<ContextGetArgs>,
    ) -> Result<Json<ContextValue>, CallToolResult> {
        ok(self
            .board
            .context_get(&a.task_id, &a.key)
            .await
            .map(|value| ContextValue { key: a.key, value }))
    }

    /// Write one key of a running task's context, under your lease (notes, progress, partial results).
    #[tool(annotations(
        title = "Context set",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn context_set(
        &self,
        Parameters(a): Parameters<ContextSetArgs>,
    ) -> Result<Json<ContextValue>, CallToolResult> {
        let value = a.value.clone();
        ok(self
            .board
            .context_put(&a.task_id, a.lease_id, &a.key, a.value)
            .await
            .map(|()| ContextValue {
                key: a.key,
                value: Some(value),
            }))
    }

    /// Read a task's whole context.
    #[tool(annotations(
        title = "Context list",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn context_list(
        &self,
        Parameters(a): Parameters<TaskRef>,
    ) -> Result<Json<ContextOut>, CallToolResult> {
        ok(self
            .board
            .context_list(&a.task_id)
            .await
            .map(|context| ContextOut { context }))
    }
}

const STATUSES: &[(&str, &str)] = &[
    ("blocked", "waiting for dependencies to be done"),
    ("ready", "claimable now"),
    (
        "running",
        "claimed under a lease; heartbeat it, then complete or fail it",
    ),
    ("done", "finished successfully (terminal)"),
    (
        "failed",
        "failed for good, itself or because a dependency failed (reset_failed_task brings it back)",
    ),
    (
        "cancelled",
        "cancelled; its pending dependents are cancelled too (terminal)",
    ),
];

fn json_contents(uri: &str, v: &serde_json::Value) -> ReadResourceResponse {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    ReadResourceResult::new(vec![
        ResourceContents::text(text, uri).with_mime_type("application/json")
    ])
    .into()
}

fn not_found(e: &Error) -> McpError {
    McpError::resource_not_found(e.to_string(), Some(serde_json::json!({ "code": e.code() })))
}

fn prompt_arg(
    args: &Option<serde_json::Map<String, serde_json::Value>>,
    name: &str,
) -> Option<String> {
    args.as_ref()?
        .get(name)
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// Tools that answer a client of the MCP tasks extension (SEP-2663) with a
/// task handle instead of holding the call open.
const TASK_TOOLS: [&str; 1] = ["wait_for_task"];

/// Suggested `tasks/get` polling interval.
const POLL_INTERVAL_MS: u64 = 500;

fn handle_error(e: &Error) -> McpError {
    match e {
        // SEP-2663: an unknown task id is invalid params (-32602).
        Error::OperationNotFound(_) => {
            McpError::invalid_params(e.to_string(), Some(serde_json::json!({ "code": e.code() })))
        }
        _ => McpError::internal_error(e.to_string(), Some(serde_json::json!({ "code": e.code() }))),
    }
}

/// The extension's view of a durable wait.
fn task_of(op: &Operation) -> rmcp::model::Task {
    let status = match &op.state {
        OperationState::Working => rmcp::model::TaskStatus::Working,
        OperationState::Completed { .. } => rmcp::model::TaskStatus::Completed,
        OperationState::Cancelled => rmcp::model::TaskStatus::Cancelled,
    };
    let message = match &op.state {
        OperationState::Working => format!("waiting for task {}", op.task_id),
        OperationState::Completed {
            task,
            finished: true,
        } => {
            format!("task {} is {}", task.id, task.status)
        }
        OperationState::Completed { task, .. } => {
            format!("timed out; task {} is {}", task.id, task.status)
        }
        OperationState::Cancelled => "cancelled".to_owned(),
    };
    rmcp::model::Task::new(
        op.id.clone(),
        status,
        rfc3339::format(op.created_at),
        rfc3339::format(op.updated_at),
    )
    .with_status_message(message)
    .with_ttl_ms(op.ttl_ms)
    .with_poll_interval_ms(POLL_INTERVAL_MS)
}

fn detailed(op: &Operation) -> DetailedTask {
    let payload = match &op.state {
        OperationState::Working => TaskPayload::Working,
        OperationState::Cancelled => TaskPayload::Cancelled,
        OperationState::Completed { task, .. } => {
            let out =
                serde_json::to_value(ResultOut::from(task.as_ref().clone())).unwrap_or_default();
            let result = serde_json::to_value(CallToolResult::structured(out))
                .ok()
                .and_then(|v| match v {
                    serde_json::Value::Object(m) => Some(m),
                    _ => None,
                })
                .unwrap_or_default();
            TaskPayload::Completed { result }
        }
    };
    DetailedTask::new(task_of(op), payload)
}

impl BatonMcp {
    /// `tools/call` of a task-capable tool by a client of the tasks extension:
    /// record the wait durably, then hand back its id.
    async fn open_task_handle(
        &self,
        request: rmcp::model::CallToolRequestParams,
    ) -> Result<rmcp::model::CallToolResponse, McpError> {
        let args = serde_json::Value::Object(request.arguments.unwrap_or_default());
        let a: WaitArgs = serde_json::from_value(args).map_err(|e| {
            McpError::invalid_params(format!("invalid arguments for wait_for_task: {e}"), None)
        })?;
        match self
            .board
            .open_wait(&request.name, &a.task_id, a.timeout())
            .await
        {
            Ok(op) => Ok(CreateTaskResult::new(task_of(&op)).into()),
            Err(e) => Ok(tool_error(&e).into()),
        }
    }
}

/// A gateway call that did not produce a result, as a tool error naming the
/// server (and, for an open breaker, when calls resume).
fn gateway_error(e: &PoolError) -> CallToolResult {
    tool_error(&Error::Downstream(e.clone()))
}

/// The answer to a request the client cancelled (rmcp does not send it on).
fn cancelled() -> McpError {
    McpError::internal_error("the request was cancelled by the client", None)
}

/// A gateway prompt that could not be fetched: the downstream's own
/// JSON-RPC error as it is, anything else as an error naming the server.
fn prompt_error(e: &PoolError) -> McpError {
    match e {
        PoolError::Downstream { error, .. } => error.as_ref().clone(),
        PoolError::UnknownPrompt { .. } => McpError::invalid_params(e.to_string(), None),
        _ => McpError::internal_error(
            e.to_string(),
            Some(error_body(&Error::Downstream(e.clone()))),
        ),
    }
}

impl BatonMcp {
    /// Tell this session's client when the gateway's tool or prompt list
    /// changes (a downstream server's list changed, or it restarted with
    /// other tools). Started by the session's first `tools/list` or
    /// `prompts/list`; ends with the session.
    fn start_list_forwarding(&self, peer: Peer<RoleServer>) {
        use tokio::sync::broadcast::error::RecvError;
        if self.list_forwarding.swap(true, Ordering::SeqCst) {
            return;
        }
        let Some(pool) = self.board.pool() else {
            return;
        };
        let mut tools = pool.subscribe_changes();
        let mut prompts = pool.subscribe_prompt_changes();
        tokio::spawn(async move {
            loop {
                let sent = tokio::select! {
                    r = tools.recv() => match r {
                        Ok(_) | Err(RecvError::Lagged(_)) => peer.notify_tool_list_changed().await.is_ok(),
                        Err(RecvError::Closed) => false, // the pool shut down
                    },
                    r = prompts.recv() => match r {
                        Ok(_) | Err(RecvError::Lagged(_)) => peer.notify_prompt_list_changed().await.is_ok(),
                        Err(RecvError::Closed) => false,
                    },
                    // no change for a while: check the session is still there
                    () = tokio::time::sleep(Duration::from_secs(30)) => !peer.is_transport_closed(),
                };
                if !sent || peer.is_transport_closed() {
                    return;
                }
            }
        });
    }

    /// Forward resource-updated notifications for subscribed `task://` URIs,
    /// once durable, until the session's peer goes away.
    fn start_forwarding(&self, peer: Peer<RoleServer>) {
        if self.forwarding.swap(true, Ordering::SeqCst) {
            return;
        }
        let store = self.board.store().clone();
        let subs = self.subscriptions.clone();
        let mut rx = store.subscribe();
        tokio::spawn(async move {
            loop {
                let p = match rx.recv().await {
                    Ok(p) => p,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                };
                let Some(id) = &p.event.task_id else { continue };
                let uris = [format!("task://{id}"), format!("task://{id}/context")];
                let wanted: Vec<String> = {
                    let subs = subs.lock().unwrap_or_else(|e| e.into_inner());
                    uris.into_iter().filter(|u| subs.contains(u)).collect()
                };
                if wanted.is_empty() {
                    continue;
                }
                if store.wait_durable(p.ticket).await.is_err() {
                    return;
                }
                for uri in wanted {
                    let param = rmcp::model::ResourceUpdatedNotificationParam::new(uri);
                    if peer.notify_resource_updated(param).await.is_err() {
                        return; // the session is gone
                    }
                }
            }
        });
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for BatonMcp {
    #[allow(deprecated)] // the logging capability, for 2025-era clients (SEP-2577)
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_logging()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_prompts()
                .enable_prompts_list_changed()
                .enable_tasks()
                .build(),
        )
        .with_server_info(Implementation::new("baton", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "baton is a shared task board. To work: claim_next_task with your worker name, \
                 heartbeat the lease while working, write notes with context_set, then \
                 complete_task (or fail_task). Always pass the lease_id from your claim.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListToolsResult, McpError> {
        let profile = self.profile_of(&context);
        #[allow(unused_mut)]
        let mut tools: Vec<_> = self
            .tool_router
            .list_all()
            .into_iter()
            .filter(|t| profile.allows(&t.name))
            .collect();
        #[cfg(feature = "conformance-fixtures")]
        tools.extend(super::fixtures::tools());
        if let (Some(pool), ToolProfile::Full) = (self.board.pool(), profile) {
            tools.extend(pool.tools().into_iter().map(|t| t.definition));
            self.start_list_forwarding(context.peer.clone());
        }
        Ok(rmcp::model::ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: rmcp::model::CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, McpError> {
        #[cfg(feature = "conformance-fixtures")]
        if let Some(r) = super::fixtures::call(&request, &context).await {
            return r.map(Into::into);
        }
        let profile = self.profile_of(&context);
        if !profile.allows(&request.name) {
            return Err(McpError::invalid_params(
                format!(
                    "tool '{}' is not in the '{}' profile of this connection; connect to /mcp?profile=full",
                    request.name,
                    profile.as_str()
                ),
                None,
            ));
        }
        if !self.tool_router.has_route(&request.name) {
            if let Some(pool) = self.board.pool() {
                if pool.resolve(&request.name).is_some() {
                    // a cancelled request drops the downstream call (which cancels it there)
                    let call = pool.call(&request.name, request.arguments, CallOptions::default());
                    let r = tokio::select! {
                        r = call => r,
                        () = context.ct.cancelled() => return Err(cancelled()),
                    };
                    return Ok(r.unwrap_or_else(|e| gateway_error(&e)).into());
                }
            }
        }
        let tasks_client = context
            .client_capabilities()
            .is_some_and(|caps| caps.supports_tasks());
        if tasks_client && TASK_TOOLS.contains(&request.name.as_ref()) {
            return self.open_task_handle(request).await;
        }
        let tcc = rmcp::handler::server::tool::ToolCallContext::new(self, request, context);
        self.tool_router.call(tcc).await
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        let op = self
            .board
            .poll_wait(&request.task_id)
            .await
            .map_err(|e| handle_error(&e))?;
        Ok(GetTaskResult::new(detailed(&op)))
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        // baton's task handles never ask the client for input: answers are
        // acknowledged and ignored, as the extension specifies for unknown keys.
        self.board
            .poll_wait(&request.task_id)
            .await
            .map(drop)
            .map_err(|e| handle_error(&e))
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.board
            .cancel_wait(&request.task_id)
            .await
            .map(drop)
            .map_err(|e| handle_error(&e))
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.tool_router.get(name).cloned()
    }

    // Logging is deprecated (SEP-2577) but 2025-06-18/2025-11-25 clients still call it.
    #[allow(deprecated)]
    async fn set_level(
        &self,
        request: rmcp::model::SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        // baton sends no log notifications yet; the level is accepted and recorded in the log.
        tracing::debug!(level = ?request.level, "client set its MCP log level");
        Ok(())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        #[allow(unused_mut)]
        let mut resources = vec![
            Resource::new("data://tasks/schema", "task-schema")
                .with_description("JSON Schema of a task as add_task accepts it")
                .with_mime_type("application/json"),
            Resource::new("data://tasks/statuses", "task-statuses")
                .with_description("The task statuses and what each means")
                .with_mime_type("application/json"),
            Resource::new("data://system/stats", "system-stats")
                .with_description("Task counts per status, worker slots, throughput series")
                .with_mime_type("application/json"),
        ];
        #[cfg(feature = "conformance-fixtures")]
        resources.extend(super::fixtures::resources());
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        #[allow(unused_mut)]
        let mut templates = vec![
            ResourceTemplate::new("task://{id}", "task")
                .with_description("One task (subscribe to be told when it changes)")
                .with_mime_type("application/json"),
            ResourceTemplate::new("task://{id}/context", "task-context")
                .with_description("One task's context values")
                .with_mime_type("application/json"),
        ];
        #[cfg(feature = "conformance-fixtures")]
        templates.extend(super::fixtures::templates());
        Ok(ListResourceTemplatesResult::with_all_items(templates))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let uri = request.uri.as_str();
        #[cfg(feature = "conformance-fixtures")]
        if let Some(r) = super::fixtures::read(uri) {
            return Ok(r.into());
        }
        match uri {
            "data://tasks/schema" => {
                let schema = schemars::schema_for!(TaskSpec);
                Ok(json_contents(
                    uri,
                    &serde_json::to_value(schema).unwrap_or_default(),
                ))
            }
            "data://tasks/statuses" => {
                let list: Vec<_> = STATUSES
                    .iter()
                    .map(|(s, d)| serde_json::json!({ "status": s, "meaning": d }))
                    .collect();
                Ok(json_contents(uri, &serde_json::json!({ "statuses": list })))
            }
            "data://system/stats" => {
                let stats = self
                    .board
                    .stats()
                    .await
                    .map_err(|e| McpError::internal_error(e.to_string(), None))?;
                Ok(json_contents(
                    uri,
                    &serde_json::to_value(stats).unwrap_or_default(),
                ))
            }
            _ => {
                let Some(rest) = uri.strip_prefix("task://") else {
                    return Err(McpError::resource_not_found(
                        format!("no resource {uri}"),
                        None,
                    ));
                };
                if let Some(id) = rest.strip_suffix("/context") {
                    let ctx = self
                        .board
                        .context_list(id)
                        .await
                        .map_err(|e| not_found(&e))?;
                    return Ok(json_contents(uri, &serde_json::json!({ "context": ctx })));
                }
                let task = self.board.get_task(rest).await.map_err(|e| not_found(&e))?;
                Ok(json_contents(
                    uri,
                    &serde_json::to_value(task).unwrap_or_default(),
                ))
            }
        }
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        #[cfg(feature = "conformance-fixtures")]
        if super::fixtures::is_fixture_uri(&request.uri) {
            self.subscriptions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(request.uri.clone());
            return Ok(());
        }
        let Some(rest) = request.uri.strip_prefix("task://") else {
            return Err(McpError::invalid_params(
                "only task://{id} and task://{id}/context can be subscribed to",
                None,
            ));
        };
        let id = rest.strip_suffix("/context").unwrap_or(rest);
        self.board.get_task(id).await.map_err(|e| not_found(&e))?;
        self.subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(request.uri.clone());
        self.start_forwarding(context.peer.clone());
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&request.uri);
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        #[allow(unused_mut)]
        let mut prompts = vec![
            Prompt::new(
                "work_next_task",
                Some("Guides an agent through claim → work → heartbeat → complete on this board"),
                Some(vec![
                    PromptArgument::new("worker")
                        .with_description("Your worker name")
                        .with_required(true),
                    PromptArgument::new("tags")
                        .with_description("Comma-separated tags you can handle")
                        .with_required(false),
                ]),
            ),
            Prompt::new(
                "task_summary",
                Some("Summarizes one task: status, dependencies, output or error, audit trail"),
                Some(vec![PromptArgument::new("task_id")
                    .with_description("Task id")
                    .with_required(true)]),
            ),
            Prompt::new::<_, &str>(
                "system_health",
                Some("Summarizes the board: counts per status, busy slots, recent throughput"),
                None,
            ),
        ];
        #[cfg(feature = "conformance-fixtures")]
        prompts.extend(super::fixtures::prompts());
        if let Some(pool) = self.board.pool() {
            prompts.extend(pool.prompts().into_iter().map(|p| p.definition));
            self.start_list_forwarding(context.peer.clone());
        }
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        if let Some(pool) = self.board.pool() {
            if pool.resolve_prompt(&request.name).is_some() {
                let get = pool.get_prompt(&request.name, request.arguments);
                let r = tokio::select! {
                    r = get => r,
                    () = context.ct.cancelled() => return Err(cancelled()),
                };
                return r.map(Into::into).map_err(|e| prompt_error(&e));
            }
        }
        let args = &request.arguments;
        #[cfg(feature = "conformance-fixtures")]
        if let Some(r) = super::fixtures::prompt(&request.name, args) {
            return Ok(r.into());
        }
        let text = match request.name.as_str() {
            "work_next_task" => {
                let worker = prompt_arg(args, "worker").ok_or_else(|| {
                    McpError::invalid_params("argument 'worker' is required", None)
                })?;
                let tags = prompt_arg(args, "tags").unwrap_or_default();
                format!(
                    "You are worker '{worker}' on the baton task board.\n\
                     1. Call claim_next_task with worker=\"{worker}\"{tags_hint}. If claimed is false, nothing is ready: wait and retry later.\n\
                     2. Read the task's title, description and payload. Keep the lease_id from the claim.\n\
                     3. While working, call heartbeat with the task_id and lease_id well before lease.expires_at, and record progress with context_set.\n\
                     4. When finished, call complete_task with the output; if you cannot finish, call fail_task with the error (it is retried while attempts remain) or release_task to hand it back.\n\
                     5. A stale_lease error means your lease lapsed and the task may have been given to someone else: stop working on it.\n\
                     Then repeat from step 1.",
                    tags_hint = if tags.is_empty() { String::new() } else { format!(" and tags=[{tags}]") }
                )
            }
            "task_summary" => {
                let id = prompt_arg(args, "task_id").ok_or_else(|| {
                    McpError::invalid_params("argument 'task_id' is required", None)
                })?;
                let (task, dependents) = self
                    .board
                    .task_detail(&id)
                    .await
                    .map_err(|e| not_found(&e))?;
                let events = self
                    .board
                    .task_events(&id)
                    .await
                    .map_err(|e| not_found(&e))?;
                format!(
                    "Summarize this task for a teammate in a few sentences: what it is, where it stands, \
                     what it produced or why it failed, and what it blocks.\n\nTask: {}\nDependents: {:?}\nAudit log: {}",
                    serde_json::to_string_pretty(&task).unwrap_or_default(),
                    dependents.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
                    serde_json::to_string(&events).unwrap_or_default()
                )
            }
            "system_health" => {
                let stats = self
                    .board
                    .stats()
                    .await
                    .map_err(|e| McpError::internal_error(e.to_string(), None))?;
                format!(
                    "Assess the health of this task board: is work flowing, are slots saturated, are tasks \
                     failing or stuck? Suggest one action if needed.\n\nStats: {}",
                    serde_json::to_string_pretty(&stats).unwrap_or_default()
                )
            }
            other => {
                return Err(McpError::invalid_params(
                    format!("no prompt named '{other}'"),
                    None,
                ))
            }
        };
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).into())
    }
}
