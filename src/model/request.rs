//! [`RequestRecord`]: the first answer to a request that carried an
//! idempotency key (`request_id`), kept so that a client whose answer was
//! lost (a dropped connection, a `kill -9` of baton) can send the same
//! request again and get the same answer instead of a second lease or a
//! second slot hold nobody knows about.
//!
//! A record lives exactly as long as what it answered: a claim's record
//! until that lease ends (completed, failed, released, expired, cancelled),
//! a slot claim's record until that hold ends (released, lapsed). It is
//! written in the same commit as the claim or hold it answers and removed
//! in the same commit as that lease's or hold's end.

use serde::{Deserialize, Serialize};

use super::id::TaskId;
use super::time::Millis;

/// Longest `request_id`, in bytes (UTF-8).
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Which request a `request_id` was sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// A claim of the best ready task: REST `POST /api/v1/tasks/claim-next`,
    /// MCP `claim_next_task`.
    ClaimNext,
    /// An explicit slot hold: REST `POST /api/v1/slots/claim`, MCP
    /// `claim_worker_slot`, agent-coordinate-mcp `POST /api/claim-worker-slot`.
    ClaimSlot,
}

impl RequestKind {
    /// Short stable tag, used in store keys.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::ClaimNext => "claim_next",
            RequestKind::ClaimSlot => "claim_slot",
        }
    }
}

/// Who sent a request and under which key: the same `request_id` from
/// another worker or another token is another request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestKey {
    /// Which kind of request (a claim or a slot hold).
    pub kind: RequestKind,
    /// The access token (or JWT subject) that sent it; `None` without auth.
    pub owner: Option<String>,
    /// The worker named in it (empty for an anonymous slot claim).
    pub worker: String,
    /// The client's idempotency key (1 to [`MAX_REQUEST_ID_LEN`] bytes, no
    /// control characters).
    pub request_id: String,
}

/// What was answered the first time. It also names the lease or hold the
/// record lives as long as.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestAnswer {
    /// A claim: the task and the fencing token of the lease handed out.
    Lease {
        /// The claimed task.
        task_id: TaskId,
        /// Its lease id.
        lease_id: u64,
    },
    /// An explicit slot hold: the slot and when the hold began (ms since the
    /// Unix epoch), which tells this hold from a later one of the same slot.
    Slot {
        /// Slot number (`0..count`).
        slot: u32,
        /// The hold's `since`.
        since: Millis,
    },
}

/// A remembered request: its key, when it was first answered (ms since the
/// Unix epoch) and that answer. Stored in the `q/` key space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Who asked, under which key.
    pub key: RequestKey,
    /// When it was first answered.
    pub at: Millis,
    /// What the first request was answered: the lease or the slot hold.
    pub answer: RequestAnswer,
}

/// Check a client's `request_id`: 1 to [`MAX_REQUEST_ID_LEN`] bytes without
/// control characters. The error text says what is wrong.
pub fn check_request_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_REQUEST_ID_LEN || id.chars().any(char::is_control) {
        return Err(format!(
            "must be 1 to {MAX_REQUEST_ID_LEN} bytes (UTF-8) without control characters"
        ));
    }
    Ok(())
}
