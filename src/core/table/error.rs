//! [`TaskError`]: every way the task table refuses an operation (unknown
//! task, invalid or oversized field, stale, expired or foreign lease, wrong
//! status, dependents in the way). Each names the task and what to do.

use crate::error_code::{ErrorCode, ServiceError};
use crate::model::{Millis, TaskId, TaskStatus};

/// Why a task operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// No task with that id.
    #[error("task '{0}' not found")]
    NotFound(TaskId),
    /// A field is invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// Path of the field (`tasks[2].dependencies[0]`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A field exceeds its size bound.
    #[error("{field}: {message}")]
    TooLarge {
        /// Path of the field.
        field: String,
        /// The bound.
        message: String,
    },
    /// The lease presented is not the task's current lease.
    #[error("stale lease {presented} for task '{task}' (current lease: {})", current.map_or("none".to_owned(), |c| c.to_string()))]
    StaleLease {
        /// Task.
        task: TaskId,
        /// Lease id presented.
        presented: u64,
        /// Current lease id, if the task is running.
        current: Option<u64>,
    },
    /// The lease was created by another access token; only that token or an
    /// admin may act under it.
    #[error("task '{task}' is leased by another token ({}); only that token or an admin may act on its lease", owner.as_deref().unwrap_or("a request without a token"))]
    NotOwner {
        /// Task.
        task: TaskId,
        /// The lease's owner.
        owner: Option<String>,
    },
    /// The lease presented is the task's current one, but its time ran out
    /// (`expires_at` has passed): it is refused from that instant on, whether
    /// or not the sweep has freed the task yet.
    #[error("lease {lease_id} of task '{task}' expired at {}; claim the task again", crate::model::rfc3339::format(*expires_at))]
    LeaseExpired {
        /// Task.
        task: TaskId,
        /// The lapsed lease.
        lease_id: u64,
        /// When it lapsed (ms since the Unix epoch).
        expires_at: Millis,
    },
    /// The worker holds no lease on the task that accepts updates by name.
    #[error("worker '{worker}' does not hold task '{task}' (updates by worker name act only on a lease its own agent-coordinate-mcp claim-task created)")]
    NotHolder {
        /// Task.
        task: TaskId,
        /// Worker.
        worker: String,
    },
    /// A terminal task cannot be deleted while other tasks depend on it
    /// (they would point at a missing dependency); delete them first.
    #[error("task '{task}' cannot be deleted: {} depend on it (delete them first)", dependents.iter().map(|d| format!("'{d}'")).collect::<Vec<_>>().join(", "))]
    HasDependents {
        /// Task.
        task: TaskId,
        /// The tasks that depend on it.
        dependents: Vec<TaskId>,
    },
    /// The operation needs another status.
    #[error("task '{task}' is {status}; cannot {action}")]
    WrongStatus {
        /// Task.
        task: TaskId,
        /// Its status.
        status: TaskStatus,
        /// What was attempted.
        action: &'static str,
    },
}

impl ServiceError for TaskError {
    fn error_code(&self) -> ErrorCode {
        match self {
            TaskError::NotFound(_) => ErrorCode::TaskNotFound,
            TaskError::Invalid { .. } => ErrorCode::InvalidField,
            TaskError::TooLarge { .. } => ErrorCode::TooLarge,
            TaskError::StaleLease { .. } | TaskError::LeaseExpired { .. } => ErrorCode::StaleLease,
            TaskError::NotHolder { .. } => ErrorCode::NotLeaseHolder,
            TaskError::NotOwner { .. } => ErrorCode::NotLeaseOwner,
            TaskError::WrongStatus { .. } => ErrorCode::InvalidStatus,
            TaskError::HasDependents { .. } => ErrorCode::HasDependents,
        }
    }
}
