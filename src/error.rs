//! The crate error: [`Error`] gathers one `thiserror` enum per subsystem.
//!
//! | file | what |
//! |---|---|
//! | [`crate::error_code`] | the leaf: [`ErrorCode`] (every code clients see) and [`ServiceError`] (how an error says its code); imports nothing of baton's, so the floors below this aggregate (`config`, `core`, `store`, `pool`, `auth`) import it and not this file |
//! | `error.rs` | the aggregate [`Error`], which delegates its code to the subsystem's error |
//!
//! Each error has a stable [`Error::code`]; `api/error.rs` maps every code to
//! an HTTP status in one place (an exhaustive `match`, so a new code cannot
//! fall through to 500), and `mcp` maps them to MCP errors in one place.

/// The leaf under its older path: callers above the aggregate may keep
/// naming `crate::error::code`; the floors below it name [`crate::error_code`].
pub use crate::error_code as code;
pub use crate::error_code::{ErrorCode, ServiceError};

use crate::auth::tokens::TokenError;
use crate::config::ConfigError;
use crate::core::graph::GraphError;
use crate::core::mailbox::MessageError;
use crate::core::reservations::ReservationError;
use crate::core::slots::SlotError;
use crate::core::table::TaskError;
use crate::core::worker::WorkerError;
use crate::pool::{PoolConfigError, PoolError};
use crate::store::StoreError;

/// Anything baton's library API can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Task lifecycle and validation.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// The dependency graph refused: a missing dependency, a cycle, a duplicate id, a
    /// failed or cancelled dependency.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// Worker slots: none free, no such slot, or held by another worker.
    #[error(transparent)]
    Slot(#[from] SlotError),
    /// Path reservations, claims over reserved paths, fenced gateway calls.
    #[error(transparent)]
    Reservation(#[from] ReservationError),
    /// The store refused or failed: closed, a failed flush (every later write is
    /// refused), an engine error.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The settings are unusable: unreadable file, unknown key, a value out of range.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The downstream MCP server configuration is unusable (unreadable file, bad `[pool]`).
    #[error(transparent)]
    PoolConfig(#[from] PoolConfigError),
    /// A downstream MCP server call or admin operation failed.
    #[error(transparent)]
    Downstream(#[from] PoolError),
    /// No MCP task handle (operation) with this id, or it expired.
    #[error("no task handle '{0}' (unknown or expired)")]
    OperationNotFound(String),
    /// Access tokens: a bad name, one that exists already, or a store failure while
    /// writing it.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// No worker could be decided (header and argument disagree, or neither names one).
    #[error(transparent)]
    Worker(#[from] WorkerError),
    /// Messages between workers.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// The caller's role may not do this.
    #[error("forbidden: to {action} the '{required}' role is required")]
    Forbidden {
        /// The least role that may.
        required: crate::model::Role,
        /// What was attempted.
        action: &'static str,
    },
    /// An actor is gone (shutting down) or the store refused a write earlier.
    #[error("{0} is unavailable")]
    Unavailable(&'static str),
}

impl From<actix::MailboxError> for Error {
    fn from(_: actix::MailboxError) -> Self {
        Error::Unavailable("the task board")
    }
}

impl Error {
    /// The stable code clients see: the subsystem error's own
    /// ([`ServiceError::error_code`]), or this enum's for the variants
    /// that belong to no subsystem.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Task(e) => e.error_code(),
            Error::Graph(e) => e.error_code(),
            Error::Slot(e) => e.error_code(),
            Error::Reservation(e) => e.error_code(),
            Error::Store(e) => e.error_code(),
            Error::Config(e) => e.error_code(),
            Error::PoolConfig(e) => e.error_code(),
            Error::Downstream(e) => e.error_code(),
            Error::Token(e) => e.error_code(),
            Error::Worker(e) => e.error_code(),
            Error::Message(e) => e.error_code(),
            Error::OperationNotFound(_) => ErrorCode::TaskHandleNotFound,
            Error::Forbidden { .. } => ErrorCode::Forbidden,
            Error::Unavailable(_) => ErrorCode::Unavailable,
        }
    }

    /// The request field the error is about, when there is one.
    pub fn field(&self) -> Option<String> {
        match self {
            Error::Task(TaskError::Invalid { field, .. } | TaskError::TooLarge { field, .. }) => {
                Some(field.clone())
            }
            Error::Task(TaskError::StaleLease { .. } | TaskError::LeaseExpired { .. }) => {
                Some("lease_id".into())
            }
            Error::Graph(GraphError::MissingDependency { .. } | GraphError::Cycle { .. })
            | Error::Graph(GraphError::DependencyCancelled { .. })
            | Error::Graph(GraphError::DependencyFailed { .. }) => Some("dependencies".into()),
            Error::Graph(GraphError::Duplicate(_)) => Some("id".into()),
            Error::Graph(
                GraphError::MissingParent { .. }
                | GraphError::ParentFinished { .. }
                | GraphError::TooDeep { .. }
                | GraphError::ParentCycle { .. },
            ) => Some("parent".into()),
            Error::Graph(GraphError::SubtaskWouldFail { .. }) => Some("dependencies".into()),
            Error::Token(TokenError::InvalidName(_)) => Some("name".into()),
            Error::Slot(SlotError::NoSuchSlot { .. }) => Some("slot".into()),
            Error::Worker(e) => Some(e.field().into()),
            Error::Message(e) => e.field(),
            Error::Reservation(e) => e.field(),
            _ => None,
        }
    }

    /// The holding in the way, for a reservation conflict or a claim of a
    /// task whose paths are reserved (rendered as `holder` in error bodies).
    pub fn holder(&self) -> Option<&crate::core::reservations::Conflict> {
        match self {
            Error::Reservation(ReservationError::Conflict(c))
            | Error::Reservation(ReservationError::PathsReserved { conflict: c, .. }) => Some(c),
            _ => None,
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Task(TaskError::Invalid {
            field: field.into(),
            message: message.into(),
        })
    }
}

impl ServiceError for Error {
    fn error_code(&self) -> ErrorCode {
        self.code()
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aggregate_says_the_subsystem_errors_own_code() {
        let cases: [(Error, ErrorCode); 6] = [
            (StoreError::Closed.into(), ErrorCode::Unavailable),
            (
                StoreError::FlushFailed("disk full".into()).into(),
                ErrorCode::StorageUnavailable,
            ),
            (
                TokenError::Exists("ci".into()).into(),
                ErrorCode::TokenExists,
            ),
            // a token write the store refused keeps the store's code
            (
                TokenError::Store(StoreError::FlushFailed("disk full".into())).into(),
                ErrorCode::StorageUnavailable,
            ),
            (
                ConfigError::Missing("baton.toml".into()).into(),
                ErrorCode::InvalidConfig,
            ),
            (PoolError::ShuttingDown.into(), ErrorCode::Unavailable),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code, "{e}");
            assert_eq!(e.error_code(), code, "{e}");
        }
    }
}
