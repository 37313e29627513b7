//! The one place where errors become HTTP statuses and JSON bodies
//! `{"error": {"code", "message", "field"?}}` ([`status_of`] maps every
//! [`ErrorCode`]; there is no fallback, so a new code must be given a status).
//! The agent-coordinate-mcp routes get the same status and headers in that
//! project's shape, `{"success": false, "error", "code"}`
//! ([`ApiError::compat_response`]).

use actix_web::http::header::{HeaderValue, ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

pub use crate::auth::Denial;
use crate::error::{Error, ErrorCode};

/// An error on its way to a client.
#[derive(Debug)]
pub enum ApiError {
    /// A library error.
    Board(Error),
    /// The request itself is malformed (bad JSON, bad query string).
    BadRequest {
        /// Code.
        code: ErrorCode,
        /// Message.
        message: String,
    },
    /// A request field has the wrong type or an unknown field was sent.
    Unprocessable {
        /// Message.
        message: String,
    },
    /// A JSON object in the body repeats a key (422 `invalid_body`, `field`
    /// naming the key's path; see [`crate::core::json`]).
    DuplicateKey(crate::core::json::DuplicateKey),
    /// The body exceeds `api.max_body_bytes`.
    BodyTooLarge(usize),
    /// The whole body did not arrive within this many seconds
    /// (`server.body_read_timeout_secs`; see [`super::deadline`]): 408.
    BodyTimeout(u64),
    /// A resource other than a task was not found.
    NotFound {
        /// Code.
        code: ErrorCode,
        /// Message.
        message: String,
    },
    /// Refused at the edge or by authorization: foreign `Host`/`Origin`,
    /// wrong `Content-Type`, missing/unknown token, missing role, rate limit.
    Denied(Denial),
    /// A query or path parameter that does not decode (a malformed value,
    /// an unknown or repeated parameter): 400 with the parameter in `field`.
    BadParam {
        /// [`ErrorCode::InvalidQuery`] or [`ErrorCode::InvalidPath`].
        code: ErrorCode,
        /// The parameter's name (`limit`, `slot`).
        field: String,
        /// What is wrong with it, naming it.
        message: String,
    },
    /// The path is a route that does not serve this method: 405 with an
    /// `Allow` header listing the methods it serves (from the route table).
    MethodNotAllowed {
        /// The method the request used.
        method: Method,
        /// The request's path.
        path: String,
        /// The methods the route serves, in the route table's order.
        allowed: Vec<Method>,
    },
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Board(e)
    }
}

impl From<Denial> for ApiError {
    fn from(d: Denial) -> Self {
        ApiError::Denied(d)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Board(e) => write!(f, "{e}"),
            ApiError::BadRequest { message, .. }
            | ApiError::Unprocessable { message }
            | ApiError::NotFound { message, .. } => f.write_str(message),
            ApiError::DuplicateKey(d) => write!(f, "invalid body: {d}"),
            ApiError::BodyTooLarge(n) => write!(f, "request body is larger than {n} bytes"),
            ApiError::BodyTimeout(secs) => write!(
                f,
                "the request body did not arrive within {secs} s of the request head \
                 ([server] body_read_timeout_secs); the connection is closed"
            ),
            ApiError::Denied(d) => f.write_str(&d.message),
            ApiError::BadParam { message, .. } => f.write_str(message),
            ApiError::MethodNotAllowed {
                method,
                path,
                allowed,
            } => write!(
                f,
                "{path} does not serve {method}; it serves {}",
                allow_list(allowed)
            ),
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
    /// The holding in the way of a reservation or a claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    holder: Option<serde_json::Value>,
}

/// HTTP status of an error code. Exhaustive: only [`ErrorCode::Internal`]
/// and storage failures are 500.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        InvalidJson | InvalidQuery | InvalidPath | WorkerMismatch => StatusCode::BAD_REQUEST,
        Unauthorized => StatusCode::UNAUTHORIZED,
        Forbidden | ForbiddenOrigin | ForbiddenHost | NotLeaseOwner => StatusCode::FORBIDDEN,
        TaskNotFound | ReservationNotFound | NoSuchSlot | ContextKeyNotFound | NotFound
        | TaskHandleNotFound | MessageNotFound | TokenNotFound | UnknownServer | UnknownTool
        | UnknownPrompt => StatusCode::NOT_FOUND,
        MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        StaleLease | NotLeaseHolder | InvalidStatus | TaskExists | TokenExists | HasDependents
        | DependencyCancelled | DependencyFailed | NoFreeSlot | SlotNotHeld | SlotBusy
        | ReservationConflict | PathsReserved | ConcurrencyLimit | NotReservationHolder
        | LeaseRequired | PathsNotReserved => StatusCode::CONFLICT,
        BodyTimeout => StatusCode::REQUEST_TIMEOUT,
        TooLarge | BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        InvalidField | InvalidBody | MissingDependency | DependencyCycle | InvalidServerFile => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        RateLimited | TooManyUnacked => StatusCode::TOO_MANY_REQUESTS,
        Unavailable | NoLeader | StorageUnavailable | ServerDisabled | BreakerOpen
        | BreakerProbing | ServerBusy | ServerNotReady | ServerFailed | ServerMisconfigured => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Timeout => StatusCode::GATEWAY_TIMEOUT,
        TransportError | DownstreamError | Unsupported | LeaderUnreachable => {
            StatusCode::BAD_GATEWAY
        }
        StorageError | InvalidConfig | Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// The stable machine-readable code the reply carries (`{"error": {"code"}}`); its
    /// HTTP status is [`status_of`]'s one match.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Board(e) => e.code(),
            ApiError::BadRequest { code, .. } | ApiError::NotFound { code, .. } => *code,
            ApiError::Unprocessable { .. } | ApiError::DuplicateKey(_) => ErrorCode::InvalidBody,
            ApiError::BodyTooLarge(_) => ErrorCode::BodyTooLarge,
            ApiError::BodyTimeout(_) => ErrorCode::BodyTimeout,
            ApiError::Denied(d) => d.code,
            ApiError::BadParam { code, .. } => *code,
            ApiError::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            ApiError::Board(e) => e.field(),
            ApiError::DuplicateKey(d) => Some(d.field()),
            ApiError::BadParam { field, .. } => Some(field.clone()),
            _ => None,
        }
    }

    /// The status and headers of this error ([`status_of`] its code, plus
    /// `WWW-Authenticate`, `Retry-After` or `Allow` where they apply), with
    /// the body still to be written: the one place both shapes start from.
    fn response_head(&self) -> actix_web::HttpResponseBuilder {
        let status = status_of(self.code());
        // a failover's `no_leader` (nothing was sent; retry) is routine, a
        // fault only when it lasts: a warning, not an error per request
        if self.code() == ErrorCode::NoLeader {
            tracing::warn!(code = %self.code(), error = %self, "request refused");
        } else if status.is_server_error() {
            tracing::error!(code = %self.code(), error = %self, "request failed");
        }
        let mut res = HttpResponse::build(status);
        match self {
            ApiError::Denied(d) => {
                if let Some(v) = d
                    .challenge
                    .as_deref()
                    .and_then(|c| HeaderValue::from_str(c).ok())
                {
                    res.insert_header((WWW_AUTHENTICATE, v));
                }
                if let Some(secs) = d.retry_after_secs {
                    res.insert_header((RETRY_AFTER, secs.max(1).to_string()));
                }
            }
            ApiError::MethodNotAllowed { allowed, .. } => {
                res.insert_header((ALLOW, allow_list(allowed)));
            }
            _ => {}
        }
        res
    }

    /// This error in agent-coordinate-mcp's shape, `{"success": false,
    /// "error": message, "code"}`, with the same status and headers as
    /// [`ResponseError::error_response`] (the compat routes' refusals that
    /// are not the board's, e.g. a wrong method).
    pub fn compat_response(&self) -> HttpResponse {
        self.response_head().json(serde_json::json!({
            "success": false,
            "error": self.to_string(),
            "code": self.code().as_str(),
        }))
    }

    /// A malformed request.
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }
}

/// A refusal of the guard renders exactly as [`ApiError::Denied`]: the
/// status of its code, the JSON error body, `WWW-Authenticate` on 401 and
/// `Retry-After` on 429. The guard (`crate::auth::guard`) answers through
/// this impl, so how a code becomes a status stays in this file.
impl ResponseError for Denial {
    fn status_code(&self) -> StatusCode {
        status_of(self.code)
    }

    fn error_response(&self) -> HttpResponse {
        ApiError::Denied(self.clone()).error_response()
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(self.code())
    }

    fn error_response(&self) -> HttpResponse {
        self.response_head().json(Body {
            error: Inner {
                code: self.code().as_str(),
                message: self.to_string(),
                field: self.field(),
                holder: match self {
                    ApiError::Board(e) => {
                        e.holder().map(crate::core::reservations::Conflict::to_json)
                    }
                    _ => None,
                },
            },
        })
    }
}

/// `GET, POST`: an `Allow` header's value.
fn allow_list(methods: &[Method]) -> String {
    methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}
