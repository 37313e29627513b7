//! The audit log's entries: [`Event`] (one transition: when, what, which
//! task, who, from which status to which, why) and its [`EventKind`].

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::id::TaskId;
use super::rfc3339;
use super::task::TaskStatus;
use super::time::Millis;

/// What happened, in an audit/board event.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Task created (status `ready` or `blocked`).
    TaskAdded,
    /// Task became claimable.
    TaskReady,
    /// Task went back to waiting for dependencies (after a reset).
    TaskBlocked,
    /// Task claimed under a new lease.
    TaskClaimed,
    /// Lease extended. Heartbeats no longer append it to the audit log (they
    /// write a small renewal record instead); it stays for logs written
    /// before, and as the `kind` label of the heartbeat counter in metrics.
    TaskHeartbeat,
    /// Task completed under its lease: now `done`.
    TaskCompleted,
    /// Task failed for good.
    TaskFailed,
    /// An attempt failed; the task is ready again.
    TaskRetried,
    /// Worker gave the task back.
    TaskReleased,
    /// Lease or execution deadline lapsed.
    TaskExpired,
    /// Task cancelled (by a caller, or with a cancelled dependency).
    TaskCancelled,
    /// The worker holding the task split it into subtasks: its lease ended
    /// and it waits (`blocked`) for them as their parent.
    TaskSplit,
    /// Failed task reset.
    TaskReset,
    /// Explicit slot claim.
    SlotClaimed,
    /// Explicit slot released (or lapsed).
    SlotReleased,
    /// A context key was written.
    ContextSet,
    /// A progress line of the worker's tools (a Claude Code `PostToolUse`
    /// hook: tool and file), in `reason`; also kept in the task's
    /// `progress` context key.
    TaskProgress,
    /// A terminal task was deleted (by retention or `DELETE
    /// /api/v1/tasks/{id}`) with its audit log and context; the event keeps
    /// its id. It is not indexed under the task (whose log is gone).
    TaskDeleted,
    /// A message was sent (`reason`: its id; `task_id`: the task it is
    /// addressed to, if any; `worker`: the sending worker, if any).
    MessageSent,
    /// A message was acknowledged (`reason`: its id; `worker`: who
    /// acknowledged it; `task_id`: the task it is addressed to, if any).
    MessageAcked,
}

impl EventKind {
    /// snake_case wire name (`task_added`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::TaskAdded => "task_added",
            EventKind::TaskReady => "task_ready",
            EventKind::TaskBlocked => "task_blocked",
            EventKind::TaskClaimed => "task_claimed",
            EventKind::TaskHeartbeat => "task_heartbeat",
            EventKind::TaskCompleted => "task_completed",
            EventKind::TaskFailed => "task_failed",
            EventKind::TaskRetried => "task_retried",
            EventKind::TaskReleased => "task_released",
            EventKind::TaskExpired => "task_expired",
            EventKind::TaskCancelled => "task_cancelled",
            EventKind::TaskSplit => "task_split",
            EventKind::TaskReset => "task_reset",
            EventKind::SlotClaimed => "slot_claimed",
            EventKind::SlotReleased => "slot_released",
            EventKind::ContextSet => "context_set",
            EventKind::TaskProgress => "task_progress",
            EventKind::TaskDeleted => "task_deleted",
            EventKind::MessageSent => "message_sent",
            EventKind::MessageAcked => "message_acked",
        }
    }
}

/// One entry of the audit log (`events` tree), also streamed over SSE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, schemars::JsonSchema)]
pub struct Event {
    /// Global, increasing event id (the SSE `id:`).
    pub id: u64,
    /// When it happened (ms since the Unix epoch; RFC 3339 on the wire).
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    #[schemars(with = "String")]
    pub at: Millis,
    /// What happened (`task_claimed`, `task_completed`, ...).
    pub kind: EventKind,
    /// Which task, if any.
    pub task_id: Option<TaskId>,
    /// Acting worker, if any.
    pub worker: Option<String>,
    /// Name of the access token (or JWT subject) whose request made the
    /// change; absent for changes made without a token and for baton's own
    /// (lease expiry, cascades of those).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Slot involved, if any.
    pub slot: Option<u32>,
    /// Lease involved, if any.
    pub lease_id: Option<u64>,
    /// The task's status before the change, when the status changed.
    pub from: Option<TaskStatus>,
    /// The task's status after the change, when the status changed.
    pub to: Option<TaskStatus>,
    /// Why (error text, cascade cause, context key …); the message id of
    /// `message_sent` and `message_acked`.
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kind_names_match_serde() {
        for k in [
            EventKind::TaskAdded,
            EventKind::TaskExpired,
            EventKind::TaskSplit,
            EventKind::SlotReleased,
            EventKind::ContextSet,
            EventKind::TaskProgress,
            EventKind::MessageSent,
            EventKind::MessageAcked,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }
}
