//! Who the worker is, decided in one place for every edge (REST, MCP,
//! hooks): pure, so the board and the edges share it.
//!
//! A client names its worker once per connection with the `X-Baton-Worker`
//! header ([`WORKER_HEADER`]; Claude Code expands `${BATON_WORKER}` into it
//! on its MCP entry and its `http` hooks). An edge reads it with
//! [`worker_from_header`]; a call that also names a worker in its
//! arguments is resolved by [`resolve_worker`]:
//!
//! | header | argument | worker |
//! |---|---|---|
//! | `a` | — | `a` |
//! | — | `b` | `b` |
//! | `a` | `a` | `a` |
//! | `a` | `b` | refused: `worker_mismatch` (400) |
//! | — | — | refused: `invalid_field` on `worker`, saying how to set `BATON_WORKER` |
//!
//! An empty header counts as absent: Claude Code sends `""` for an unset
//! `${BATON_WORKER}`. With auth off a worker name separates leases and
//! reservations; it is not a security boundary (the token is).

use crate::error_code::{ErrorCode, ServiceError};

/// The header that names a connection's worker (lowercase, as `http` matches it).
pub const WORKER_HEADER: &str = "x-baton-worker";

/// How to name a worker, for refusals that found none.
pub const HOW_TO_NAME_A_WORKER: &str = "name the worker: send the X-Baton-Worker header \
     (Claude Code: set BATON_WORKER in the agent's environment; `baton hooks install` writes \
     \"X-Baton-Worker\": \"${BATON_WORKER}\" into .mcp.json and the hooks) or pass `worker`";

/// Why no worker could be decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkerError {
    /// The header and the argument name different workers.
    #[error("worker: the X-Baton-Worker header says '{header}' but the argument says '{argument}'; send one, or the same in both")]
    Mismatch {
        /// The header's value.
        header: String,
        /// The argument's value.
        argument: String,
    },
    /// Neither the header nor the argument names a worker.
    #[error("worker: {HOW_TO_NAME_A_WORKER}")]
    Missing,
    /// The header is not a valid worker name (not UTF-8, control
    /// characters, longer than 256 bytes).
    #[error("X-Baton-Worker: {0}")]
    BadHeader(String),
    /// The argument is not a valid worker name.
    #[error("worker: {NAME_RULE}")]
    BadName,
}

/// What a worker name must be.
pub const NAME_RULE: &str = "must be 1 to 256 bytes (UTF-8) without control characters";

/// Whether `name` is a valid worker name ([`NAME_RULE`]).
pub fn is_valid_name(name: &str) -> bool {
    !name.trim().is_empty() && name.len() <= 256 && !name.chars().any(char::is_control)
}

impl WorkerError {
    /// The request field the error is about (`worker`, or the header).
    pub fn field(&self) -> &'static str {
        match self {
            WorkerError::Mismatch { .. } | WorkerError::Missing | WorkerError::BadName => "worker",
            WorkerError::BadHeader(_) => "X-Baton-Worker",
        }
    }
}

impl ServiceError for WorkerError {
    /// `worker_mismatch` for a disagreement, `invalid_field` otherwise.
    fn error_code(&self) -> ErrorCode {
        match self {
            WorkerError::Mismatch { .. } => ErrorCode::WorkerMismatch,
            WorkerError::Missing | WorkerError::BadHeader(_) | WorkerError::BadName => {
                ErrorCode::InvalidField
            }
        }
    }
}

/// The worker an `X-Baton-Worker` header value names: `None` for no header
/// or an empty (or all-blank) one; the trimmed name otherwise.
///
/// Errors: [`WorkerError::BadHeader`] for a value that is not UTF-8 or not
/// a valid worker name (1 to 256 bytes, no control characters).
pub fn worker_from_header(value: Option<&[u8]>) -> Result<Option<String>, WorkerError> {
    let Some(raw) = value else {
        return Ok(None);
    };
    let text = std::str::from_utf8(raw)
        .map_err(|_| WorkerError::BadHeader("must be UTF-8".into()))?
        .trim();
    if text.is_empty() {
        return Ok(None);
    }
    if !is_valid_name(text) {
        return Err(WorkerError::BadHeader(NAME_RULE.into()));
    }
    Ok(Some(text.to_owned()))
}

/// The worker a call acts as: the header's (`X-Baton-Worker`), else the
/// argument's (an empty argument counts as absent).
///
/// Errors: `worker_mismatch` when both are given and differ;
/// `invalid_field` on `worker` when neither is (saying how to set
/// `BATON_WORKER`) or the argument is not a valid worker name.
pub fn resolve_worker(header: Option<&str>, argument: Option<&str>) -> Result<String, WorkerError> {
    let header = header.map(str::trim).filter(|h| !h.is_empty());
    let argument = argument.filter(|a| !a.is_empty());
    let worker = match (header, argument) {
        (Some(h), Some(a)) if h != a => {
            return Err(WorkerError::Mismatch {
                header: h.to_owned(),
                argument: a.to_owned(),
            })
        }
        (Some(h), _) => h,
        (None, Some(a)) => a,
        (None, None) => return Err(WorkerError::Missing),
    };
    if !is_valid_name(worker) {
        return Err(WorkerError::BadName);
    }
    Ok(worker.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_wins_alone_and_must_agree_with_the_argument() {
        assert_eq!(resolve_worker(Some("a"), None).unwrap(), "a");
        assert_eq!(resolve_worker(None, Some("b")).unwrap(), "b");
        assert_eq!(resolve_worker(Some("a"), Some("a")).unwrap(), "a");
        assert_eq!(resolve_worker(Some(""), Some("b")).unwrap(), "b");
        let e = resolve_worker(Some("a"), Some("b")).unwrap_err();
        assert_eq!(e.error_code(), ErrorCode::WorkerMismatch);
        assert_eq!(Some(e.field()), Some("worker"));
        let e = resolve_worker(None, None).unwrap_err();
        assert_eq!(e.error_code(), ErrorCode::InvalidField);
        assert!(e.to_string().contains("BATON_WORKER"), "{e}");
        assert!(resolve_worker(None, Some("a\nb")).is_err());
    }

    #[test]
    fn an_empty_header_names_nobody_and_a_bad_one_is_refused() {
        assert_eq!(worker_from_header(None).unwrap(), None);
        assert_eq!(worker_from_header(Some(b"")).unwrap(), None);
        assert_eq!(worker_from_header(Some(b"  ")).unwrap(), None);
        assert_eq!(
            worker_from_header(Some(b" alice ")).unwrap().as_deref(),
            Some("alice")
        );
        let e = worker_from_header(Some(&[0xff, 0xfe])).unwrap_err();
        assert_eq!(Some(e.field()), Some("X-Baton-Worker"));
        assert!(worker_from_header(Some("x".repeat(257).as_bytes())).is_err());
    }
}
