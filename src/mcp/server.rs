//! `BatonMcp`: the MCP server. Every tool is a thin wrapper over one
//! [`Board`] method (one actor message); there is no business logic here.
//! Results carry `structuredContent` (with a text copy) and an
//! `outputSchema`; bad arguments and refused operations come back as tool
//! errors (`isError: true`) whose text says what to fix.

// rmcp's tool-error type is `CallToolResult` itself; returning it by value is the API.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{
    CallToolResult, Implementation, ProgressNotificationParam, RequestMetaObject,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::Peer;
use rmcp::{schemars, tool, tool_handler, tool_router, RoleServer, ServerHandler};
use serde::{Deserialize, Serialize};

use crate::board::{Board, Claim, TaskFilter, TaskPage};
use crate::core::table::LeaseRef;
use crate::error::Error;
use crate::model::{SlotInfo, Task, TaskSpec, TaskStatus};

/// A refused call as a tool error: `code: message (field: f)` plus the same as structured content.
pub(crate) fn tool_error(e: &Error) -> CallToolResult {
    let mut v = serde_json::json!({ "error": { "code": e.code(), "message": e.to_string() } });
    if let Some(f) = e.field() {
        v["error"]["field"] = f.into();
    }
    CallToolResult::structured_error(v)
}

fn ok<T>(r: Result<T, Error>) -> Result<Json<T>, CallToolResult> {
    r.map(Json).map_err(|e| tool_error(&e))
}

/// The MCP server over a board.
#[derive(Clone)]
pub struct BatonMcp {
    board: Board,
    tool_router: ToolRouter<BatonMcp>,
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
        }
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
        let timeout = Duration::from_secs(a.timeout_secs.unwrap_or(30).clamp(1, 600));
        let token = meta.get_progress_token();
        let mut rx = self.board.store().subscribe();
        let mut task = match self.board.get_task(&a.task_id).await {
            Ok(t) => t,
            Err(e) => return Err(tool_error(&e)),
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut step = 0u32;
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

#[tool_handler(router = self.tool_router)]
impl ServerHandler for BatonMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("baton", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "baton is a shared task board. To work: claim_next_task with your worker name, \
                 heartbeat the lease while working, write notes with context_set, then \
                 complete_task (or fail_task). Always pass the lease_id from your claim.",
            )
    }
}
