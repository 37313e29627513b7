//! The lease history read back from the audit log: one [`LeaseRecord`] per
//! lease from its `task_claimed` event to the event that ended it, and how it
//! ended ([`LeaseOutcome`]).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::event::EventKind;
use super::id::TaskId;
use super::rfc3339;
use super::time::Millis;

/// How a lease ended, in the lease history (`GET /api/v1/leases`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LeaseOutcome {
    /// Not ended yet: the task is still running under this lease.
    Running,
    /// Completed by its worker (`task_completed`).
    Done,
    /// The worker failed the attempt (`task_failed` or `task_retried`).
    Failed,
    /// The lease or the execution deadline lapsed (`task_expired`).
    Expired,
    /// The worker gave the task back (`task_released`).
    Released,
    /// The task was cancelled while running (`task_cancelled`).
    Cancelled,
}

impl LeaseOutcome {
    /// The outcome a lease-ending event records, `None` for events that do not end a lease.
    pub fn of_end(kind: EventKind) -> Option<Self> {
        match kind {
            EventKind::TaskCompleted => Some(LeaseOutcome::Done),
            EventKind::TaskFailed | EventKind::TaskRetried => Some(LeaseOutcome::Failed),
            EventKind::TaskExpired => Some(LeaseOutcome::Expired),
            EventKind::TaskReleased => Some(LeaseOutcome::Released),
            EventKind::TaskCancelled => Some(LeaseOutcome::Cancelled),
            _ => None,
        }
    }
}

/// One lease from claim to end, read back from the audit log: its
/// `task_claimed` event and the event that ended it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, schemars::JsonSchema)]
pub struct LeaseRecord {
    /// The leased task.
    pub task_id: TaskId,
    /// The lease's fencing token (leases are listed in this order, which is claim order).
    pub lease_id: u64,
    /// Who held it.
    pub worker: String,
    /// The worker slot it occupied.
    pub slot: Option<u32>,
    /// The access token (or JWT subject) that claimed it, when auth named the
    /// caller (the claim event's `actor`); `null` for local, unauthenticated use.
    pub owner: Option<String>,
    /// When it was claimed (the `task_claimed` event).
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    #[schemars(with = "String")]
    pub claimed_at: Millis,
    /// When it ended (the ending event); `null` while it is still held.
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    #[schemars(with = "Option<String>")]
    pub ended_at: Option<Millis>,
    /// How it ended; `running` while it is still held.
    pub outcome: LeaseOutcome,
    /// The ending event's reason (failure text, expiry, cancel reason), if any.
    pub reason: Option<String>,
}
