//! [`Reservation`]: path patterns a worker holds for the work it does, and
//! [`ReservationMode`], how it shares them. The pure rules (normalizing a
//! pattern, deciding overlap and conflicts) are in
//! [`crate::core::reservations`]; the task registry is the only writer.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::id::TaskId;
use super::rfc3339;
use super::time::Millis;

/// How a reservation shares its paths with other holders.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ReservationMode {
    /// No other holder may overlap (default).
    #[default]
    Exclusive,
    /// Other holders may overlap with shared ones.
    Shared,
}

impl ReservationMode {
    /// Lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationMode::Exclusive => "exclusive",
            ReservationMode::Shared => "shared",
        }
    }
}

/// Path patterns held by a worker: bound to a lease (it carries the lease's
/// fencing token, renews with it and ends when the lease ends) or to a TTL
/// (renewed by `renew_reservation`). Stored in the `r/` key space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, schemars::JsonSchema)]
pub struct Reservation {
    /// Unique id (`res-` and a UUID v7).
    pub id: String,
    /// The holder: the worker that reserved (or claimed the task).
    pub worker: String,
    /// Normalized, repository-relative `globset` globs
    /// (see [`crate::core::reservations`]).
    pub patterns: Vec<String>,
    /// Exclusive or shared.
    pub mode: ReservationMode,
    /// The task of the lease it belongs to (lease-bound reservations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<TaskId>,
    /// The lease's fencing token (lease-bound reservations): it ends with that lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_id: Option<u64>,
    /// TTL reservations: how far (ms) each renewal pushes `expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
    /// When it lapses: a TTL reservation's own expiry, a lease-bound one's
    /// lease's (kept current by every heartbeat).
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    #[schemars(with = "String")]
    pub expires_at: Millis,
    /// When it was made.
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    #[schemars(with = "String")]
    pub created_at: Millis,
    /// Name of the access token that made it (`None`: without a token); only
    /// that token or an admin may renew or release it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Made by a claim from the task's declared `paths`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_task: bool,
}

impl Reservation {
    /// Whether it is live at `now` (ms): not yet lapsed.
    pub fn live_at(&self, now: Millis) -> bool {
        self.expires_at > now
    }
}
