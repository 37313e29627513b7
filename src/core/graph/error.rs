//! [`GraphError`]: why the DAG refused a batch or a reset (missing, cancelled
//! or still-failed dependency, duplicate id, cycle with its path).

use crate::core::text::clip;
use crate::error_code::{ErrorCode, ServiceError};
use crate::model::TaskId;

/// Ids of a cycle shown at each end of [`GraphError::Cycle`]'s message.
const CYCLE_IDS_SHOWN: usize = 4;

/// Bytes of each id shown in [`GraphError::Cycle`]'s message (a longer id is
/// cut, with `…`).
const CYCLE_ID_BYTES: usize = 64;

/// `dependency cycle of N tasks: a -> b -> c -> a`; a cycle longer than
/// twice [`CYCLE_IDS_SHOWN`] shows its first and last ids around the number
/// left out (`a -> b -> c -> d -> … 9992 more … -> w -> x -> y -> z -> a`),
/// each id cut to [`CYCLE_ID_BYTES`]: at most about 700 bytes, whatever the
/// cycle's length (a 10,000-task cycle listed in full was 89 KB).
fn cycle_message(path: &[TaskId]) -> String {
    // the path closes on itself: its last id is its first again
    let tasks = path.len().saturating_sub(1).max(1);
    let show = |ids: &[TaskId]| {
        ids.iter()
            .map(|id| clip(id.as_str().to_owned(), CYCLE_ID_BYTES))
            .collect::<Vec<_>>()
            .join(" -> ")
    };
    let noun = if tasks == 1 { "task" } else { "tasks" };
    if path.len() <= 2 * CYCLE_IDS_SHOWN + 1 {
        return format!("dependency cycle of {tasks} {noun}: {}", show(path));
    }
    let head = &path[..CYCLE_IDS_SHOWN];
    let tail = &path[path.len() - CYCLE_IDS_SHOWN - 1..];
    let left_out = path.len() - head.len() - tail.len();
    format!(
        "dependency cycle of {tasks} {noun}: {} -> … {left_out} more … -> {}",
        show(head),
        show(tail)
    )
}

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
    /// The message names the cycle's length and its first and last ids
    /// only (see `cycle_message`), so it stays short for any cycle.
    #[error("{}", cycle_message(path))]
    Cycle {
        /// The cycle, in full.
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
