//! The leaf of baton's errors: [`ErrorCode`], every machine-readable code a
//! client sees, and [`ServiceError`], the one trait by which each
//! subsystem's error says its code.
//!
//! This file imports nothing of baton's, so any module may depend on it
//! without a circle: `store`, `pool`, `auth`, `config` and `core` implement
//! [`ServiceError`] beside their own error enums, and the aggregate
//! [`crate::error::Error`] only delegates (the pattern of quickwit's
//! `ServiceError::error_code`). `api::error` maps each code to one HTTP
//! status, `mcp::errors` to one MCP error.

/// Every machine-readable error code baton sends (`{"error": {"code": …}}`
/// on HTTP, `{code}` in MCP error data and tool errors). The wire form is
/// the snake_case name ([`ErrorCode::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    // ---- the caller's request ----------------------------------------------
    /// Malformed JSON body.
    InvalidJson,
    /// Malformed query string.
    InvalidQuery,
    /// Malformed path parameter.
    InvalidPath,
    /// A body field has the wrong type, or an unknown field was sent.
    InvalidBody,
    /// A field's value is invalid (named in `field`).
    InvalidField,
    /// A field exceeds its configured size bound.
    TooLarge,
    /// The body exceeds `api.max_body_bytes`.
    BodyTooLarge,
    /// The `X-Baton-Worker` header and the `worker` argument disagree.
    WorkerMismatch,
    /// The whole body did not arrive within `server.body_read_timeout_secs`
    /// of the request head (the connection is closed).
    BodyTimeout,
    /// A body was sent with a `Content-Type` other than `application/json`.
    UnsupportedMediaType,
    // ---- who is asking -----------------------------------------------------------
    /// No bearer token, or one that is unknown, revoked, expired or malformed.
    Unauthorized,
    /// The caller's role lacks the permission (the message names the role required).
    Forbidden,
    /// The request's `Origin` is not allowed (a web page of another site).
    ForbiddenOrigin,
    /// The request's `Host` is not allowed (DNS rebinding).
    ForbiddenHost,
    /// The lease belongs to another token.
    NotLeaseOwner,
    /// The caller's token exceeded `auth.rate_limit_per_sec`.
    RateLimited,
    /// An addressee has `[messages] max_unacked` unacknowledged messages
    /// that ask for an acknowledgement: 429, the message says the count.
    TooManyUnacked,
    // ---- not found -----------------------------------------------------------------
    /// No task with that id.
    TaskNotFound,
    /// No such worker slot.
    NoSuchSlot,
    /// No such context key.
    ContextKeyNotFound,
    /// No such route or resource.
    NotFound,
    /// The route exists but does not serve this HTTP method (405, with `Allow`).
    MethodNotAllowed,
    /// No MCP task handle with that id (unknown or expired).
    TaskHandleNotFound,
    /// No message with that id, or not in the caller's inbox.
    MessageNotFound,
    /// No access token with that name.
    TokenNotFound,
    /// No live reservation with that id.
    ReservationNotFound,
    /// No downstream server of that name.
    UnknownServer,
    /// No gateway tool of that name.
    UnknownTool,
    /// No gateway prompt of that name.
    UnknownPrompt,
    // ---- conflicts with the board's state -----------------------------------------
    /// The lease presented is not the task's current lease.
    StaleLease,
    /// The worker holds no lease on the task.
    NotLeaseHolder,
    /// The task's status does not allow the operation.
    InvalidStatus,
    /// Another holder holds an overlapping path reservation.
    ReservationConflict,
    /// A task's declared paths are reserved by another holder (claim of that task).
    PathsReserved,
    /// A task's concurrency key is at its limit (claim of that task).
    ConcurrencyLimit,
    /// The reservation belongs to another worker.
    NotReservationHolder,
    /// A `lease_required` downstream tool was called without a lease.
    LeaseRequired,
    /// A fenced downstream tool's path is not reserved by the caller.
    PathsNotReserved,
    /// A task with that id exists.
    TaskExists,
    /// Other tasks depend on the task (it cannot be deleted before them).
    HasDependents,
    /// An access token with that name exists.
    TokenExists,
    /// A dependency was cancelled.
    DependencyCancelled,
    /// A dependency failed (adding under it, or resetting while it is still failed).
    DependencyFailed,
    /// Every worker slot is taken.
    NoFreeSlot,
    /// The slot is not held by the caller.
    SlotNotHeld,
    /// The slot is busy with a task.
    SlotBusy,
    /// A dependency does not exist.
    MissingDependency,
    /// Adding the task would close a dependency cycle.
    DependencyCycle,
    /// A reload of the downstream server file was refused (it does not
    /// parse or validate); nothing changed.
    InvalidServerFile,
    // ---- baton or a downstream server cannot serve now ----------------------------
    /// Shutting down, or an actor is gone.
    Unavailable,
    /// This node follows another, and no leader can be reached now (an
    /// election is under way): nothing was sent to any leader; retry.
    NoLeader,
    /// This node follows another, and the leader did not answer a request
    /// it was sent (it died or dropped the connection): the request may or
    /// may not have been applied; read back before retrying.
    LeaderUnreachable,
    /// The store failed (a write could not be made durable: disk full, I/O
    /// error, a hung or dead committer); it refuses writes until restart and
    /// `/readyz` says why. The write that got this was not made durable.
    StorageUnavailable,
    /// A stored value is corrupt or the storage engine reported a bug.
    StorageError,
    /// The configuration is invalid.
    InvalidConfig,
    /// A downstream server is disabled.
    ServerDisabled,
    /// A downstream server's circuit breaker is open.
    BreakerOpen,
    /// A downstream server's breaker is half-open with probes in flight.
    BreakerProbing,
    /// A downstream server has `max_concurrent_calls` in flight.
    ServerBusy,
    /// A downstream server is starting or restarting.
    ServerNotReady,
    /// A downstream server failed for good.
    ServerFailed,
    /// A downstream server cannot be started until its configuration is
    /// fixed and reloaded (command not found, permission denied, malformed URL).
    ServerMisconfigured,
    /// A downstream call timed out.
    Timeout,
    /// A downstream connection failed.
    TransportError,
    /// A downstream server answered with an error.
    DownstreamError,
    /// A downstream server answered in a way baton does not relay.
    Unsupported,
    /// A fault inside baton (a bug): never the caller's fault.
    Internal,
}

impl ErrorCode {
    /// The snake_case wire name.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidJson => "invalid_json",
            InvalidQuery => "invalid_query",
            InvalidPath => "invalid_path",
            InvalidBody => "invalid_body",
            InvalidField => "invalid_field",
            TooLarge => "too_large",
            BodyTooLarge => "body_too_large",
            WorkerMismatch => "worker_mismatch",
            BodyTimeout => "body_timeout",
            UnsupportedMediaType => "unsupported_media_type",
            Unauthorized => "unauthorized",
            Forbidden => "forbidden",
            ForbiddenOrigin => "forbidden_origin",
            ForbiddenHost => "forbidden_host",
            NotLeaseOwner => "not_lease_owner",
            RateLimited => "rate_limited",
            TooManyUnacked => "too_many_unacked",
            TaskNotFound => "task_not_found",
            NoSuchSlot => "no_such_slot",
            ContextKeyNotFound => "context_key_not_found",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            TaskHandleNotFound => "task_handle_not_found",
            MessageNotFound => "message_not_found",
            TokenNotFound => "token_not_found",
            ReservationNotFound => "reservation_not_found",
            UnknownServer => "unknown_server",
            UnknownTool => "unknown_tool",
            UnknownPrompt => "unknown_prompt",
            StaleLease => "stale_lease",
            NotLeaseHolder => "not_lease_holder",
            InvalidStatus => "invalid_status",
            ReservationConflict => "reservation_conflict",
            PathsReserved => "paths_reserved",
            ConcurrencyLimit => "concurrency_limit",
            NotReservationHolder => "not_reservation_holder",
            LeaseRequired => "lease_required",
            PathsNotReserved => "paths_not_reserved",
            TaskExists => "task_exists",
            HasDependents => "has_dependents",
            TokenExists => "token_exists",
            DependencyCancelled => "dependency_cancelled",
            DependencyFailed => "dependency_failed",
            NoFreeSlot => "no_free_slot",
            SlotNotHeld => "slot_not_held",
            SlotBusy => "slot_busy",
            MissingDependency => "missing_dependency",
            DependencyCycle => "dependency_cycle",
            InvalidServerFile => "invalid_server_file",
            Unavailable => "unavailable",
            NoLeader => "no_leader",
            LeaderUnreachable => "leader_unreachable",
            StorageUnavailable => "storage_unavailable",
            StorageError => "storage_error",
            InvalidConfig => "invalid_config",
            ServerDisabled => "server_disabled",
            BreakerOpen => "breaker_open",
            BreakerProbing => "breaker_probing",
            ServerBusy => "server_busy",
            ServerNotReady => "server_not_ready",
            ServerFailed => "server_failed",
            ServerMisconfigured => "server_misconfigured",
            Timeout => "timeout",
            TransportError => "transport_error",
            DownstreamError => "downstream_error",
            Unsupported => "unsupported",
            Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// An error that knows its machine-readable code. Each subsystem's error
/// enum implements it next to its definition, so the code of a failure is
/// decided where the failure is defined, not in a central `match` that
/// would have to import every subsystem.
pub trait ServiceError: std::error::Error {
    /// The stable code clients see for this error (`{"error": {"code"}}`
    /// on HTTP, `{code}` in MCP error data).
    fn error_code(&self) -> ErrorCode;
}
