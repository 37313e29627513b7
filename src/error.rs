//! The crate error: one `thiserror` enum per subsystem, gathered here.
//!
//! Each error has a stable machine-readable [`Error::code`]; `api/error.rs`
//! maps codes to HTTP statuses in one place.

use crate::config::ConfigError;
use crate::core::graph::GraphError;
use crate::core::slots::SlotError;
use crate::core::table::TaskError;
use crate::store::StoreError;

/// Anything baton's library API can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Task lifecycle and validation.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// Dependency graph.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// Worker slots.
    #[error(transparent)]
    Slot(#[from] SlotError),
    /// Persistence.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The downstream MCP server configuration is unusable (unreadable file, bad `[pool]`).
    #[error(transparent)]
    PoolConfig(#[from] crate::pool::PoolConfigError),
    /// A downstream MCP server call or admin operation failed.
    #[error(transparent)]
    Downstream(#[from] crate::pool::PoolError),
    /// No MCP task handle (operation) with this id, or it expired.
    #[error("no task handle '{0}' (unknown or expired)")]
    OperationNotFound(String),
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
    /// Stable snake_case code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Task(e) => match e {
                TaskError::NotFound(_) => "task_not_found",
                TaskError::Invalid { .. } => "invalid_field",
                TaskError::TooLarge { .. } => "too_large",
                TaskError::StaleLease { .. } => "stale_lease",
                TaskError::NotHolder { .. } => "not_lease_holder",
                TaskError::WrongStatus { .. } => "invalid_status",
            },
            Error::Graph(e) => match e {
                GraphError::MissingDependency { .. } => "missing_dependency",
                GraphError::Cycle { .. } => "dependency_cycle",
                GraphError::Duplicate(_) => "task_exists",
                GraphError::DependencyCancelled { .. } => "dependency_cancelled",
            },
            Error::Slot(e) => match e {
                SlotError::NoneFree(_) => "no_free_slot",
                SlotError::NoSuchSlot { .. } => "no_such_slot",
                SlotError::NotHeld { .. } | SlotError::NotClaimed(_) => "slot_not_held",
                SlotError::Busy { .. } => "slot_busy",
            },
            Error::Store(StoreError::Closed) => "unavailable",
            Error::Store(_) => "storage_error",
            Error::Config(_) => "invalid_config",
            Error::OperationNotFound(_) => "task_handle_not_found",
            Error::PoolConfig(_) => "invalid_config",
            Error::Downstream(e) => e.code(),
            Error::Unavailable(_) => "unavailable",
        }
    }

    /// The request field the error is about, when there is one.
    pub fn field(&self) -> Option<String> {
        match self {
            Error::Task(TaskError::Invalid { field, .. } | TaskError::TooLarge { field, .. }) => {
                Some(field.clone())
            }
            Error::Task(TaskError::StaleLease { .. }) => Some("lease_id".into()),
            Error::Graph(GraphError::MissingDependency { .. } | GraphError::Cycle { .. })
            | Error::Graph(GraphError::DependencyCancelled { .. }) => Some("dependencies".into()),
            Error::Graph(GraphError::Duplicate(_)) => Some("id".into()),
            Error::Slot(SlotError::NoSuchSlot { .. }) => Some("slot".into()),
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

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
