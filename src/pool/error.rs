//! The pool's errors: [`PoolError`] for calls and admin operations,
//! [`SpecError`] for one invalid server entry, [`PoolConfigError`] for a
//! server file that cannot be read at all.

use std::path::PathBuf;

use rmcp::ErrorData;

use crate::core::expand::ExpandError;
use crate::error_code::{ErrorCode, ServiceError};
use crate::model::Millis;

use super::state::ServerState;

/// Why a call or an admin operation on the pool failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PoolError {
    /// No server of that name is configured.
    #[error("unknown MCP server '{server}'")]
    UnknownServer {
        /// Requested name.
        server: String,
    },
    /// No gateway tool of that name.
    #[error("unknown tool '{name}'")]
    UnknownTool {
        /// Requested gateway name.
        name: String,
    },
    /// No gateway prompt of that name.
    #[error("unknown prompt '{name}'")]
    UnknownPrompt {
        /// Requested gateway name.
        name: String,
    },
    /// The server is disabled in the configuration.
    #[error("MCP server '{server}' is disabled")]
    Disabled {
        /// Server.
        server: String,
    },
    /// The breaker is open: the call was not sent.
    #[error("MCP server '{server}' is failing (circuit breaker open); calls resume after {}", fmt_millis(*retry_at))]
    BreakerOpen {
        /// Server.
        server: String,
        /// Unix time in milliseconds when the breaker half-opens.
        retry_at: Millis,
    },
    /// The breaker is half-open and its probe calls are in flight.
    #[error("MCP server '{server}' is recovering (circuit breaker half-open, probe calls in flight); retry shortly")]
    BreakerProbing {
        /// Server.
        server: String,
    },
    /// `max_concurrent_calls` calls are in flight.
    #[error("MCP server '{server}' is busy ({limit} calls in flight, the configured maximum)")]
    Busy {
        /// Server.
        server: String,
        /// `max_concurrent_calls`.
        limit: u32,
    },
    /// The server is starting or restarting and did not become ready in time.
    #[error("MCP server '{server}' is not ready ({state}) after {waited_ms} ms")]
    NotReady {
        /// Server.
        server: String,
        /// Its state.
        state: ServerState,
        /// How long the call waited.
        waited_ms: u64,
    },
    /// The server stopped restarting (restart policy or `max_restarts`).
    #[error("MCP server '{server}' has failed and is not restarted: {reason}")]
    Failed {
        /// Server.
        server: String,
        /// Its last error.
        reason: String,
    },
    /// The call did not complete within the request timeout; the server was sent `notifications/cancelled`.
    #[error("call to '{tool}' on MCP server '{server}' timed out after {after_ms} ms")]
    Timeout {
        /// Server.
        server: String,
        /// Tool, or prompt for a prompt get (the server's own name for it).
        tool: String,
        /// The timeout.
        after_ms: u64,
    },
    /// The connection failed (process exited, pipe or HTTP error).
    #[error("MCP server '{server}' transport failure: {message}")]
    Transport {
        /// Server.
        server: String,
        /// What happened.
        message: String,
    },
    /// The server answered with a JSON-RPC error (unknown tool, invalid arguments …).
    #[error("MCP server '{server}' returned an error: {error}")]
    Downstream {
        /// Server.
        server: String,
        /// Its error.
        error: Box<ErrorData>,
    },
    /// The server answered in a way the pool does not relay (an input request or a task).
    #[error("MCP server '{server}' answered with {what}, which the pool does not support")]
    Unsupported {
        /// Server.
        server: String,
        /// What it sent.
        what: &'static str,
    },
    /// The pool is shutting down.
    #[error("the MCP server pool is shutting down")]
    ShuttingDown,
}

fn fmt_millis(ms: Millis) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| format!("{ms} ms since the epoch"))
}

impl ServiceError for PoolError {
    fn error_code(&self) -> ErrorCode {
        match self {
            PoolError::UnknownServer { .. } => ErrorCode::UnknownServer,
            PoolError::UnknownTool { .. } => ErrorCode::UnknownTool,
            PoolError::UnknownPrompt { .. } => ErrorCode::UnknownPrompt,
            PoolError::Disabled { .. } => ErrorCode::ServerDisabled,
            PoolError::BreakerOpen { .. } => ErrorCode::BreakerOpen,
            PoolError::BreakerProbing { .. } => ErrorCode::BreakerProbing,
            PoolError::Busy { .. } => ErrorCode::ServerBusy,
            PoolError::NotReady { .. } => ErrorCode::ServerNotReady,
            PoolError::Failed { .. } => ErrorCode::ServerFailed,
            PoolError::Timeout { .. } => ErrorCode::Timeout,
            PoolError::Transport { .. } => ErrorCode::TransportError,
            PoolError::Downstream { .. } => ErrorCode::DownstreamError,
            PoolError::Unsupported { .. } => ErrorCode::Unsupported,
            PoolError::ShuttingDown => ErrorCode::Unavailable,
        }
    }
}

impl PoolError {
    /// The server the error is about, if any.
    pub fn server(&self) -> Option<&str> {
        match self {
            PoolError::UnknownServer { server }
            | PoolError::Disabled { server }
            | PoolError::BreakerOpen { server, .. }
            | PoolError::BreakerProbing { server }
            | PoolError::Busy { server, .. }
            | PoolError::NotReady { server, .. }
            | PoolError::Failed { server, .. }
            | PoolError::Timeout { server, .. }
            | PoolError::Transport { server, .. }
            | PoolError::Downstream { server, .. }
            | PoolError::Unsupported { server, .. } => Some(server),
            PoolError::UnknownTool { .. }
            | PoolError::UnknownPrompt { .. }
            | PoolError::ShuttingDown => None,
        }
    }

    /// Whether an idempotent call may be tried again: transport failures,
    /// and a server that was restarting and did not become ready in time.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            PoolError::Transport { .. } | PoolError::NotReady { .. }
        )
    }
}

impl From<actix::MailboxError> for PoolError {
    fn from(_: actix::MailboxError) -> Self {
        PoolError::ShuttingDown
    }
}

/// Why one server entry was not started. Reported with the server's name;
/// the other servers run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The name cannot be used in tool names.
    #[error("invalid server name: {0}")]
    InvalidName(String),
    /// The name can make two gateway names equal (`__` inside, a `_` at
    /// either end: see [`super::spec::unambiguous_server_name`]).
    #[error(
        "{why}; rename the server to '{rename}' (and its [pool.servers.<name>] options, if any)"
    )]
    AmbiguousName {
        /// Why, with an example of two pairs that would spell one name.
        why: String,
        /// A valid, unambiguous name the server file does not use yet.
        rename: String,
    },
    /// The entry is not a JSON object.
    #[error("the entry must be a JSON object")]
    NotAnObject,
    /// A field has the wrong JSON type.
    #[error("'{field}' must be {expected}")]
    WrongType {
        /// Field.
        field: String,
        /// What it must be.
        expected: &'static str,
    },
    /// Neither `command` nor `url`.
    #[error("needs \"command\" (stdio) or \"type\": \"http\" with \"url\" (streamable HTTP)")]
    NoTransport,
    /// A `type` the pool does not speak.
    #[error("unsupported type {0:?} (use \"stdio\", \"http\" or \"streamable-http\")")]
    UnsupportedType(String),
    /// `${VAR}` expansion failed.
    #[error("'{field}': {source}")]
    Expand {
        /// Field.
        field: String,
        /// Why.
        source: ExpandError,
    },
    /// The URL is not an absolute http(s) URL.
    #[error("invalid url {url:?}: {reason}")]
    InvalidUrl {
        /// The expanded URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A header name or value is not valid, or is set by the transport itself.
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader {
        /// Header name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A `[pool.servers.<name>]` option is out of range.
    #[error("pool.servers.{server}.{key}: {message}")]
    InvalidOption {
        /// Server.
        server: String,
        /// Key.
        key: &'static str,
        /// Why.
        message: String,
    },
    /// The name appears under both `mcpServers` and `servers`.
    #[error("defined twice (under both \"mcpServers\" and \"servers\")")]
    Duplicate,
    /// `[pool.servers.<name>]` names a server the file does not define.
    #[error("[pool.servers.{0}] has options for a server that is not in the server file")]
    UnknownOverride(String),
}

/// One server entry that was not started, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MCP server '{name}': {error}")]
pub struct ServerIssue {
    /// The entry's name as written.
    pub name: String,
    /// What is wrong with the entry (an unknown key, a missing `command` or `url`,
    /// ...).
    pub error: SpecError,
}

/// The server file as a whole is unusable (no server starts).
#[derive(Debug, thiserror::Error)]
pub enum PoolConfigError {
    /// It cannot be read.
    #[error("cannot read MCP server file {path}: {source}")]
    Read {
        /// Path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not JSON.
    #[error("MCP server file {path} is not valid JSON: {source}")]
    Json {
        /// Path.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// It has no `mcpServers` (or `servers`) object.
    #[error("MCP server file {path} has no \"mcpServers\" (or \"servers\") object")]
    NoServers {
        /// Path.
        path: PathBuf,
    },
    /// The `[pool]` defaults are out of range.
    #[error("invalid configuration: pool.{key}: {message}")]
    Invalid {
        /// Key.
        key: &'static str,
        /// Why.
        message: String,
    },
}

impl ServiceError for PoolConfigError {
    /// Always `invalid_config`: the server file or the `[pool]` defaults.
    fn error_code(&self) -> ErrorCode {
        ErrorCode::InvalidConfig
    }
}
