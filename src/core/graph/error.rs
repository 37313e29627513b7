//! [`GraphError`]: why the DAG refused a batch or a reset (missing, cancelled
//! or still-failed dependency, duplicate id, cycle with its path).

use crate::error_code::{ErrorCode, ServiceError};
use crate::model::TaskId;

/// Why a batch of new nodes was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// A dependency names a task that neither exists nor is in the batch.
    #[error("task '{task}' depends on '{dependency}', which does not exist")]
    MissingDependency {
        /// The dependent task.
        task: TaskId,
        /// The unknown id.
        dependency: TaskId,
    },
    /// The batch would close a cycle (the path is listed, first == last).
    #[error("dependency cycle: {}", path.iter().map(TaskId::as_str).collect::<Vec<_>>().join(" -> "))]
    Cycle {
        /// The cycle.
        path: Vec<TaskId>,
    },
    /// The id is already taken (by an existing task or earlier in the batch).
    #[error("task '{0}' already exists")]
    Duplicate(TaskId),
    /// A dependency is cancelled, so the task could never run.
    #[error("task '{task}' depends on '{dependency}', which is cancelled")]
    DependencyCancelled {
        /// The dependent task.
        task: TaskId,
        /// The cancelled dependency.
        dependency: TaskId,
    },
    /// A reset would change nothing: a dependency of the task is still failed.
    #[error("task '{task}' cannot be reset while its dependency '{dependency}' is failed; reset '{dependency}' (its failed dependents are reset with it)")]
    DependencyFailed {
        /// The task asked to reset.
        task: TaskId,
        /// The dependency that is still failed.
        dependency: TaskId,
    },
}

impl ServiceError for GraphError {
    fn error_code(&self) -> ErrorCode {
        match self {
            GraphError::MissingDependency { .. } => ErrorCode::MissingDependency,
            GraphError::Cycle { .. } => ErrorCode::DependencyCycle,
            GraphError::Duplicate(_) => ErrorCode::TaskExists,
            GraphError::DependencyCancelled { .. } => ErrorCode::DependencyCancelled,
            GraphError::DependencyFailed { .. } => ErrorCode::DependencyFailed,
        }
    }
}
