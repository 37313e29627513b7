//! The argument and result types of baton's own tools (their JSON Schemas are
//! the tools' `inputSchema` and `outputSchema`). Each is a plain serde type;
//! the board's own types ([`Task`], [`Claim`], [`SlotInfo`]) appear in them
//! as they are. Argument types refuse unknown fields (`additionalProperties:
//! false` in their schema); a call is checked against the schema before it
//! gets here, so the refusal names the argument and the nearest valid one
//! (`super::arguments`).

use std::time::Duration;

use rmcp::schemars;
use serde::{Deserialize, Serialize};

use crate::board::Claim;
use crate::model::{SlotInfo, Task, TaskSpec, TaskStatus};

/// Arguments naming a task.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskRef {
    /// The task's id.
    pub task_id: String,
}

/// Several tasks added atomically.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTasksArgs {
    /// Tasks; `dependencies` may name tasks earlier or later in this list.
    pub tasks: Vec<TaskSpec>,
}

/// Result of `add_tasks`: the tasks added, in request order.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TasksOut {
    /// The tasks as stored, in request order (as many as fit in
    /// `mcp.max_result_bytes`).
    pub tasks: Vec<Task>,
    /// Present when not all fit in the result: how many more, and how to read them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more: Option<String>,
}

/// A page of a listing tool: `cursor` and `limit`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageArgs {
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size (default 50, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// A page of ready tasks, best first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AvailableOut {
    /// Ready tasks, best first (priority, then age).
    pub tasks: Vec<Task>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

impl AvailableOut {
    /// The cursor after `t` in best-first order: `{priority}/{seq}`.
    pub(crate) fn cursor_of(t: &Task) -> String {
        format!("{}/{}", t.priority, t.seq)
    }

    /// Whether `t` comes after the cursor `(priority, seq)` in best-first
    /// order (higher priority first, then older).
    pub(crate) fn is_after(t: &Task, (priority, seq): (i32, u64)) -> bool {
        t.priority < priority || (t.priority == priority && t.seq > seq)
    }

    /// Parse a cursor made by [`Self::cursor_of`].
    pub(crate) fn parse_cursor(c: &str) -> Option<(i32, u64)> {
        let (p, s) = c.split_once('/')?;
        Some((p.parse().ok()?, s.parse().ok()?))
    }
}

/// Filters of `list_tasks`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
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
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size (default 50, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Arguments of `claim_next_task`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimNextArgs {
    /// Your worker name (stable across calls).
    pub worker: String,
    /// Only tasks carrying all these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Idempotency key: a retry with it (answer lost) returns the same claim.
    #[serde(default)]
    pub request_id: Option<String>,
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
#[serde(deny_unknown_fields)]
pub struct ClaimArgs {
    /// The ready task to claim.
    pub task_id: String,
    /// Your worker name.
    pub worker: String,
    /// An explicit slot you hold (from `claim_worker_slot`).
    #[serde(default)]
    pub slot: Option<u32>,
}

/// A lease-carrying call.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaseArgs {
    /// The task you hold.
    pub task_id: String,
    /// `lease_id` from your claim.
    pub lease_id: u64,
}

/// Arguments of `complete_task`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteArgs {
    /// The task you hold.
    pub task_id: String,
    /// `lease_id` from your claim.
    pub lease_id: u64,
    /// The result (any JSON).
    #[serde(default)]
    pub output: Option<serde_json::Value>,
}

/// Arguments of `fail_task`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailArgs {
    /// The task you hold.
    pub task_id: String,
    /// `lease_id` from your claim.
    pub lease_id: u64,
    /// What went wrong.
    pub error: String,
    /// Retry while attempts remain (default true).
    #[serde(default)]
    pub retry: Option<bool>,
}

/// Arguments of `cancel_task`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelArgs {
    /// The task to cancel.
    pub task_id: String,
    /// Why (kept in the audit log).
    #[serde(default)]
    pub reason: Option<String>,
}

/// The outcome of a task.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ResultOut {
    /// The task's id.
    pub task_id: String,
    /// The task's status when the wait ended.
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
            output: t.output.map(|o| *o),
            error: t.error,
        }
    }
}

/// Arguments of `wait_for_task`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitArgs {
    /// The task to wait for.
    pub task_id: String,
    /// Give up after this many seconds (default 30, at most 600).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

impl WaitArgs {
    /// The wait's timeout: `timeout_secs` (default 30) clamped to 1..=600 s.
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.unwrap_or(30).clamp(1, 600))
    }
}

/// Arguments of `claim_worker_slot`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerArgs {
    /// Your worker name.
    pub worker: String,
    /// Idempotency key: a retry with it (answer lost) returns the same slot.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// A slot number.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SlotOut {
    /// The slot number now held (`0..slots`).
    pub slot: u32,
}

/// Arguments of `release_worker_slot`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseSlotArgs {
    /// The slot you hold.
    pub slot: u32,
    /// Your worker name (the holder).
    pub worker: String,
}

/// The slot table.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WorkersOut {
    /// Slots with their holder and task, by number.
    pub slots: Vec<SlotInfo>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Arguments naming a downstream server.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerRef {
    /// Server name (a key of `mcpServers`).
    pub server: String,
}

/// Result of `list_servers`: one status object per downstream server, a page at a time.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ServersOut {
    /// Each server: name, transport, state, breaker {state, counts, retry_at}, last_error,
    /// tools, restarts, calls, failed_calls, latency {p50_ms, p95_ms, p99_ms}.
    pub servers: Vec<serde_json::Value>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// One downstream server.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ServerOut {
    /// Its status (as in `list_servers`).
    pub server: serde_json::Value,
    /// Gateway names of its tools.
    pub tools: Vec<String>,
    /// Present when not all tool names fit in the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more: Option<String>,
}

/// Arguments of `context_list`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextListArgs {
    /// The task whose context to list.
    pub task_id: String,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size (default 50, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Arguments of `context_get`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextGetArgs {
    /// The task's id.
    pub task_id: String,
    /// The context key to read.
    pub key: String,
}

/// Arguments of `context_set`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextSetArgs {
    /// The task you hold.
    pub task_id: String,
    /// `lease_id` from your claim (only the current holder may write).
    pub lease_id: u64,
    /// The context key (at most 256 bytes).
    pub key: String,
    /// Value (any JSON).
    pub value: serde_json::Value,
}

/// One context value.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ContextValue {
    /// The task's id.
    pub task_id: String,
    /// The context key read.
    pub key: String,
    /// Value (null when unset).
    pub value: Option<serde_json::Value>,
}

/// A task's whole context.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ContextOut {
    /// The task's id.
    pub task_id: String,
    /// Key → value, in key order.
    pub context: serde_json::Map<String, serde_json::Value>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Result of `reset_failed_task`: every task reset, and a note when not all fit.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ResetOut {
    /// The failed task and its failed dependents, reset.
    pub reset: Vec<Task>,
    /// Present when not all fit in the result: how many more, and how to read them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more: Option<String>,
}

/// A task with its dependents.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TaskOut {
    /// The task as stored now.
    pub task: Task,
    /// Ids of tasks depending on it.
    pub dependents: Vec<String>,
    /// For a ready task a claim would pass over now: why it waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waits: Option<String>,
    /// Present when not all dependents fit in the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more: Option<String>,
}
