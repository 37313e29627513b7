//! The one place that turns baton's errors into MCP errors: a refused tool
//! call is a tool error (`isError: true`, text `{"error": {code, message,
//! field?}}`, no `structuredContent`),
//! a failed protocol request (resources, prompts, task handles) a JSON-RPC
//! error carrying the same `code`.

// rmcp's tool-error type is `CallToolResult` itself; returning it by value is the API.
#![allow(clippy::result_large_err)]

use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::ErrorData as McpError;

use crate::error::Error;
use crate::model::rfc3339;
use crate::pool::PoolError;

/// A refused call as a tool error: `isError: true` and one text block
/// holding `{"error": {code, message, field?, …}}` (JSON, so programs can
/// read the code and models the message). No `structuredContent`: a tool's
/// `outputSchema` describes its result, not its errors, and clients that
/// validate structured content reject an error that does not match it.
pub(crate) fn tool_error(e: &Error) -> CallToolResult {
    let body = serde_json::json!({ "error": error_body(e) });
    CallToolResult::error(vec![ContentBlock::text(body.to_string())])
}

/// `{code, message}`, plus `field` for bad input, and for a downstream server
/// `server` and (breaker open) `retry_at`.
pub(crate) fn error_body(e: &Error) -> serde_json::Value {
    let mut v = serde_json::json!({ "code": e.code(), "message": e.to_string() });
    if let Some(f) = e.field() {
        v["field"] = f.into();
    }
    if let Some(h) = e.holder() {
        v["holder"] = h.to_json();
    }
    if let Error::Downstream(p) = e {
        if let Some(server) = p.server() {
            v["server"] = server.into();
        }
        if let PoolError::BreakerOpen { retry_at, .. } = p {
            v["retry_at"] = rfc3339::format(*retry_at).into();
        }
    }
    v
}

/// A resource or prompt naming something that does not exist.
pub(crate) fn not_found(e: &Error) -> McpError {
    McpError::resource_not_found(e.to_string(), Some(serde_json::json!({ "code": e.code() })))
}

/// A task-handle request (`tasks/get`, `tasks/update`, `tasks/cancel`) that failed.
pub(crate) fn handle_error(e: &Error) -> McpError {
    match e {
        // SEP-2663: an unknown task id is invalid params (-32602).
        Error::OperationNotFound(_) => {
            McpError::invalid_params(e.to_string(), Some(serde_json::json!({ "code": e.code() })))
        }
        _ => McpError::internal_error(e.to_string(), Some(serde_json::json!({ "code": e.code() }))),
    }
}

/// A gateway call that did not produce a result, as a tool error naming the
/// server (and, for an open breaker, when calls resume).
pub(crate) fn gateway_error(e: &PoolError) -> CallToolResult {
    tool_error(&Error::Downstream(e.clone()))
}

/// The answer to a request the client cancelled (rmcp does not send it on).
pub(crate) fn cancelled() -> McpError {
    McpError::internal_error("the request was cancelled by the client", None)
}

/// A gateway prompt that could not be fetched: the downstream's own
/// JSON-RPC error as it is, anything else as an error naming the server.
pub(crate) fn prompt_error(e: &PoolError) -> McpError {
    match e {
        PoolError::Downstream { error, .. } => error.as_ref().clone(),
        PoolError::UnknownPrompt { .. } => McpError::invalid_params(e.to_string(), None),
        _ => McpError::internal_error(
            e.to_string(),
            Some(error_body(&Error::Downstream(e.clone()))),
        ),
    }
}
