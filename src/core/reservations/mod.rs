//! Path reservations, pure: patterns and paths in normal form, the
//! conservative overlap decision, the conflict rule and the table of live
//! reservations. No I/O; time is passed in.
//!
//! A worker reserves repository-relative path patterns (`globset` globs,
//! not gitignore rules: see [`pattern`]) for the work it holds, exclusively
//! or shared. **Conflicts**: an exclusive holding conflicts with any other
//! holder's overlapping holding; a shared one only with another holder's
//! exclusive one; a holder (a worker name) never conflicts with itself
//! ([`conflict_between`]). **Overlap** is decided conservatively: if any
//! path could match both patterns they overlap (how: [`pattern`]).
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | [`ReservationError`], [`check_patterns`], [`check_paths`] |
//! | `pattern.rs` | normal form, [`PatternSet`] (globset + segment form), overlap |
//! | `table.rs` | [`ReservationTable`], [`conflict_between`], [`Conflict`] |
//! | `tests.rs` | property tests, the overlap against an enumeration oracle |

pub mod pattern;
mod table;
#[cfg(test)]
mod tests;

pub use pattern::{normalize_path, normalize_pattern, PatternSet, MAX_PATTERN_BYTES};
pub use table::{conflict_between, Conflict, Held, ReservationTable, Side};

use crate::error_code::{ErrorCode, ServiceError};
use crate::model::TaskId;

/// Why a reservation, a claim over reserved paths or a fenced call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReservationError {
    /// A pattern, path or other field is invalid (422, naming the field).
    #[error("{field}: {message}")]
    Invalid {
        /// The field (`patterns[3]`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Another holder holds an overlapping reservation.
    #[error("reservation conflict: {0}")]
    Conflict(Box<Conflict>),
    /// A task's declared paths are held by another holder (a claim of that task).
    #[error("task '{task}' cannot be claimed now: its paths are reserved: {conflict}")]
    PathsReserved {
        /// The task.
        task: TaskId,
        /// What is in the way.
        conflict: Box<Conflict>,
    },
    /// A task's concurrency key is at its limit (a claim of that task).
    #[error("task '{task}' cannot be claimed now: concurrency key '{key}' is at its limit of {limit} running task(s)")]
    ConcurrencyLimit {
        /// The task.
        task: TaskId,
        /// Its key.
        key: String,
        /// The key's limit (`[concurrency] limits`).
        limit: u32,
    },
    /// No live reservation with that id.
    #[error("reservation '{0}' not found (unknown, released or lapsed)")]
    NotFound(String),
    /// The reservation belongs to another worker.
    #[error("reservation '{id}' is held by worker '{holder}', not '{worker}'")]
    NotHolder {
        /// The reservation.
        id: String,
        /// Its holder.
        holder: String,
        /// Who asked.
        worker: String,
    },
    /// The reservation holds a running task's declared paths: it ends with
    /// that task's lease, not by itself.
    #[error("reservation '{id}' holds the declared paths of running task '{task}'; it ends with the task's lease (complete, fail or release the task)")]
    HeldForTask {
        /// The reservation.
        id: String,
        /// Its task.
        task: TaskId,
    },
    /// The reservation was made by another access token.
    #[error("reservation '{id}' was made by another token ({}); only that token or an admin may change it", owner.as_deref().unwrap_or("a request without a token"))]
    NotOwner {
        /// The reservation.
        id: String,
        /// Its owner.
        owner: Option<String>,
    },
    /// `lease_id` names no live lease of this worker.
    #[error("lease {lease_id} is not a live lease of worker '{worker}' (it ended, lapsed or belongs to another worker)")]
    NoLiveLease {
        /// The lease presented.
        lease_id: u64,
        /// Who asked.
        worker: String,
    },
    /// A `lease_required` downstream tool was called by a worker holding no lease.
    #[error("{tool} changes the world and needs a live lease: worker '{worker}' holds none (claim a task first)")]
    LeaseRequired {
        /// The gateway tool.
        tool: String,
        /// Who called.
        worker: String,
    },
    /// A `lease_required` tool was called by a worker whose leases all lapsed.
    #[error("{tool} needs a live lease: the lease of worker '{worker}' on task '{task}' lapsed at {}; claim the task again", crate::model::rfc3339::format(*expired_at))]
    LeaseLapsed {
        /// The gateway tool.
        tool: String,
        /// Who called.
        worker: String,
        /// The task of the lapsed lease.
        task: TaskId,
        /// When it lapsed (ms).
        expired_at: crate::model::Millis,
    },
    /// A fenced tool's path argument is not covered by a reservation of the caller.
    #[error("{tool}: path '{path}' (argument '{argument}') is not covered by a live reservation of worker '{worker}'; reserve it first (reserve_paths)")]
    NotReserved {
        /// The gateway tool.
        tool: String,
        /// The argument that holds the path.
        argument: String,
        /// The path.
        path: String,
        /// Who called.
        worker: String,
    },
    /// The `X-Baton-Worker` header and the `worker` argument disagree.
    #[error("worker: the X-Baton-Worker header says '{header}' but the argument says '{argument}'; send one, or the same in both")]
    WorkerMismatch {
        /// The header's value.
        header: String,
        /// The argument's value.
        argument: String,
    },
}

impl ReservationError {
    /// The field a 422 names.
    pub fn field(&self) -> Option<String> {
        match self {
            ReservationError::Invalid { field, .. } => Some(field.clone()),
            ReservationError::NoLiveLease { .. } => Some("lease_id".into()),
            ReservationError::WorkerMismatch { .. } => Some("worker".into()),
            ReservationError::NotFound(_) => Some("id".into()),
            _ => None,
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ReservationError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl ServiceError for ReservationError {
    fn error_code(&self) -> ErrorCode {
        match self {
            ReservationError::Invalid { .. } => ErrorCode::InvalidField,
            ReservationError::Conflict(_) => ErrorCode::ReservationConflict,
            ReservationError::PathsReserved { .. } => ErrorCode::PathsReserved,
            ReservationError::ConcurrencyLimit { .. } => ErrorCode::ConcurrencyLimit,
            ReservationError::NotFound(_) => ErrorCode::ReservationNotFound,
            ReservationError::NotHolder { .. } => ErrorCode::NotReservationHolder,
            ReservationError::HeldForTask { .. } => ErrorCode::InvalidStatus,
            ReservationError::NotOwner { .. } => ErrorCode::NotLeaseOwner,
            ReservationError::NoLiveLease { .. } | ReservationError::LeaseLapsed { .. } => {
                ErrorCode::StaleLease
            }
            ReservationError::LeaseRequired { .. } => ErrorCode::LeaseRequired,
            ReservationError::NotReserved { .. } => ErrorCode::PathsNotReserved,
            ReservationError::WorkerMismatch { .. } => ErrorCode::WorkerMismatch,
        }
    }
}

/// Normalize and compile `raw` patterns (field `field`, items
/// `field[i]`): at least one, at most `max`, each valid; duplicates
/// dropped after normalizing.
pub fn check_patterns(
    field: &str,
    raw: &[String],
    max: usize,
) -> Result<(Vec<String>, PatternSet), ReservationError> {
    if raw.is_empty() {
        return Err(ReservationError::invalid(
            field,
            "must hold at least one pattern",
        ));
    }
    if raw.len() > max {
        return Err(ReservationError::invalid(
            field,
            format!("at most {max} patterns (this one has {})", raw.len()),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, p) in raw.iter().enumerate() {
        let norm = normalize_pattern(p)
            .map_err(|m| ReservationError::invalid(format!("{field}[{i}]"), m))?;
        if !out.contains(&norm) {
            out.push(norm);
        }
    }
    let set = PatternSet::compile(&out)
        .map_err(|(i, m)| ReservationError::invalid(format!("{field}[{i}]"), m))?;
    Ok((out, set))
}

/// Normalize `raw` paths (field `field`): at least one, at most `max`.
pub fn check_paths(
    field: &str,
    raw: &[String],
    max: usize,
) -> Result<Vec<String>, ReservationError> {
    if raw.is_empty() {
        return Err(ReservationError::invalid(
            field,
            "must hold at least one path",
        ));
    }
    if raw.len() > max {
        return Err(ReservationError::invalid(
            field,
            format!("at most {max} paths (this one has {})", raw.len()),
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(i, p)| {
            normalize_path(p).map_err(|m| ReservationError::invalid(format!("{field}[{i}]"), m))
        })
        .collect()
}
