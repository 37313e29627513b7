//! [`SlotInfo`]: one worker slot as clients see it (holder, task, since when,
//! until when an explicit hold lapses).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::id::TaskId;
use super::rfc3339;
use super::time::Millis;

/// A worker slot as shown to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, schemars::JsonSchema)]
pub struct SlotInfo {
    /// Slot number, `0..count`.
    pub slot: u32,
    /// Holder, if any.
    pub worker: Option<String>,
    /// Task running in it, if any.
    pub task_id: Option<TaskId>,
    /// Claimed explicitly (`POST /slots/claim`) rather than together with a task.
    pub explicit: bool,
    /// When it was taken.
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    #[schemars(with = "Option<String>")]
    pub since: Option<Millis>,
    /// When an explicit claim lapses unless used.
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    #[schemars(with = "Option<String>")]
    pub expires_at: Option<Millis>,
}
