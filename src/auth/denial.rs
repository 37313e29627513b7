//! [`Denial`]: why the guard refused a request, as data. The HTTP answer it
//! becomes (status, JSON body, `WWW-Authenticate`, `Retry-After`) is
//! decided where every error becomes HTTP, `api::error`, which implements
//! `actix_web::ResponseError` for it.

use crate::error_code::ErrorCode;

/// Why the edge guard or authorization refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// `Unauthorized`, `Forbidden`, `ForbiddenOrigin`, `ForbiddenHost`,
    /// `NotLeaseOwner`, `UnsupportedMediaType` or `RateLimited`.
    pub code: ErrorCode,
    /// What is wrong and how to fix it.
    pub message: String,
    /// `WWW-Authenticate` value to send with a 401.
    pub challenge: Option<String>,
    /// Seconds to wait before retrying (429).
    pub retry_after_secs: Option<u64>,
}

impl Denial {
    /// A refusal with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            challenge: None,
            retry_after_secs: None,
        }
    }
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
