//! [`Operation`]: a durable wait an MCP client of the tasks extension
//! (SEP-2663) polls instead of holding a call open, and its lifecycle
//! ([`OperationState`]).

use serde::{Deserialize, Serialize};

use super::id::TaskId;
use super::task::Task;
use super::time::Millis;

/// A durable wait handed to an MCP client of the tasks extension (SEP-2663):
/// instead of holding a `wait_for_task` call open, the client gets this
/// record's id as a task handle and polls `tasks/get`. Stored in the `o/` key
/// space by the task registry before the handle is returned, so it survives a
/// restart of baton.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// Handle given to the client (`op-<uuid>`).
    pub id: String,
    /// The tool call it stands for.
    pub tool: String,
    /// The board task being waited on.
    pub task_id: TaskId,
    /// When the wait gives up (the call's timeout).
    pub deadline: Millis,
    /// When the handle was opened (ms since the Unix epoch).
    pub created_at: Millis,
    /// When the handle last changed state (ms since the Unix epoch).
    pub updated_at: Millis,
    /// How long after creation the record is kept.
    pub ttl_ms: u64,
    /// Where it stands.
    pub state: OperationState,
}

/// Lifecycle of an [`Operation`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OperationState {
    /// Still waiting for the task to finish or the deadline to pass.
    Working,
    /// Settled: the task finished, or the deadline passed (`finished: false`).
    Completed {
        /// The task when the wait settled.
        task: Box<Task>,
        /// Whether the task had reached a terminal status.
        finished: bool,
    },
    /// Cancelled by the client before it settled.
    Cancelled,
}

impl Operation {
    /// Whether the record may be discarded at `now`.
    pub fn expired(&self, now: Millis) -> bool {
        now >= self.created_at.saturating_add(self.ttl_ms)
    }

    /// Whether it has settled or was cancelled.
    pub fn is_terminal(&self) -> bool {
        !matches!(self.state, OperationState::Working)
    }
}
