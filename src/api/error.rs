//! The one place where errors become HTTP statuses and JSON bodies
//! `{"error": {"code", "message", "field"?}}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::Error;

/// An error on its way to a client.
#[derive(Debug)]
pub enum ApiError {
    /// A library error.
    Board(Error),
    /// The request itself is malformed (bad JSON, bad query string).
    BadRequest {
        /// Code.
        code: &'static str,
        /// Message.
        message: String,
    },
    /// A request field has the wrong type or an unknown field was sent.
    Unprocessable {
        /// Message.
        message: String,
    },
    /// The body exceeds `api.max_body_bytes`.
    BodyTooLarge(usize),
    /// A resource other than a task was not found.
    NotFound {
        /// Code.
        code: &'static str,
        /// Message.
        message: String,
    },
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Board(e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Board(e) => write!(f, "{e}"),
            ApiError::BadRequest { message, .. }
            | ApiError::Unprocessable { message }
            | ApiError::NotFound { message, .. } => f.write_str(message),
            ApiError::BodyTooLarge(n) => write!(f, "request body is larger than {n} bytes"),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

/// HTTP status of an error code.
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "task_not_found"
        | "no_such_slot"
        | "context_key_not_found"
        | "not_found"
        | "task_handle_not_found" => StatusCode::NOT_FOUND,
        "invalid_field" | "missing_dependency" | "dependency_cycle" | "invalid_body" => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        "too_large" | "body_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "stale_lease"
        | "not_lease_holder"
        | "invalid_status"
        | "task_exists"
        | "dependency_cancelled"
        | "no_free_slot"
        | "slot_not_held"
        | "slot_busy" => StatusCode::CONFLICT,
        "invalid_json" | "invalid_query" | "invalid_path" => StatusCode::BAD_REQUEST,
        "unavailable" | "breaker_open" | "breaker_probing" | "server_busy" | "server_not_ready"
        | "server_failed" | "server_disabled" => StatusCode::SERVICE_UNAVAILABLE,
        "unknown_server" | "unknown_tool" | "unknown_prompt" => StatusCode::NOT_FOUND,
        "timeout" => StatusCode::GATEWAY_TIMEOUT,
        "transport_error" | "downstream_error" | "unsupported" => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// Machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Board(e) => e.code(),
            ApiError::BadRequest { code, .. } | ApiError::NotFound { code, .. } => code,
            ApiError::Unprocessable { .. } => "invalid_body",
            ApiError::BodyTooLarge(_) => "body_too_large",
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            ApiError::Board(e) => e.field(),
            _ => None,
        }
    }

    /// A malformed request.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(self.code())
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(code = self.code(), error = %self, "request failed");
        }
        HttpResponse::build(status).json(Body {
            error: Inner {
                code: self.code(),
                message: self.to_string(),
                field: self.field(),
            },
        })
    }
}
