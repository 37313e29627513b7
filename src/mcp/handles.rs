//! Durable task handles: the MCP tasks extension (SEP-2663,
//! `io.modelcontextprotocol/tasks`). A client that declares the extension
//! gets a handle from a task-capable tool (`wait_for_task`) instead of a call
//! held open; the handle ([`Operation`]) is written by the task registry to
//! the store before it is returned, so `tasks/get` answers after a restart
//! too. `tasks/cancel` cancels the wait, not the board task.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CreateTaskResult, DetailedTask,
    TaskPayload,
};
use rmcp::ErrorData as McpError;

use super::dto::{ResultOut, WaitArgs};
use super::errors::{handle_error, tool_error};
use super::BatonMcp;
use crate::model::{rfc3339, Operation, OperationState};

/// Tools that answer a client of the MCP tasks extension (SEP-2663) with a
/// task handle instead of holding the call open.
pub(super) const TASK_TOOLS: [&str; 1] = ["wait_for_task"];

/// Suggested `tasks/get` polling interval.
const POLL_INTERVAL_MS: u64 = 500;

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
    pub(super) async fn open_task_handle(
        &self,
        request: CallToolRequestParams,
    ) -> Result<CallToolResponse, McpError> {
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

    /// `tasks/get`: the handle's state, with the result once completed.
    pub(super) async fn poll_handle(&self, id: &str) -> Result<DetailedTask, McpError> {
        let op = self
            .board
            .poll_wait(id)
            .await
            .map_err(|e| handle_error(&e))?;
        Ok(detailed(&op))
    }

    /// `tasks/update`: baton's task handles never ask the client for input,
    /// so answers are acknowledged and ignored, as the extension specifies
    /// for unknown keys (an unknown handle is still an error).
    pub(super) async fn answer_handle(&self, id: &str) -> Result<(), McpError> {
        self.board
            .poll_wait(id)
            .await
            .map(drop)
            .map_err(|e| handle_error(&e))
    }

    /// `tasks/cancel`: cancel the wait (the board task is left alone).
    pub(super) async fn cancel_handle(&self, id: &str) -> Result<(), McpError> {
        self.board
            .cancel_wait(id)
            .await
            .map(drop)
            .map_err(|e| handle_error(&e))
    }
}
