//! [`Lease`]: a worker's fenced claim on a running task, as it is held (the
//! history of leases that ended is [`LeaseRecord`](super::LeaseRecord)'s).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::id::TaskId;
use super::rfc3339;
use super::time::Millis;

/// A worker's claim on a running task. `lease_id` is a monotonic fencing token:
/// every claim gets a larger one, so an update carrying an older id is stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, schemars::JsonSchema)]
pub struct Lease {
    /// The leased task.
    pub task_id: TaskId,
    /// Fencing token, unique and increasing across the whole board.
    pub lease_id: u64,
    /// Who holds it.
    pub worker: String,
    /// The worker slot it occupies.
    pub slot: u32,
    /// When it lapses unless extended by a heartbeat.
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    #[schemars(with = "String")]
    pub expires_at: Millis,
    /// When the claim was made.
    #[serde(with = "rfc3339", default)]
    #[schema(value_type = String, format = DateTime)]
    #[schemars(with = "String")]
    pub claimed_at: Millis,
    /// Name of the access token that made the claim (`None`: made without a
    /// token). Only that token, or an admin, may act under this lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Made by an agent-coordinate-mcp `claim-task` (`/api/claim-task`):
    /// that API updates by worker name (`/api/update-task`), and only such a
    /// lease accepts it. Leases of `/api/v1` and `/mcp` claims are changed only
    /// by presenting their `lease_id`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub compat: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}
