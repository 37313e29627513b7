//! What the board's list reads take and give: [`TaskFilter`] and
//! [`TaskPage`] (tasks in id order), [`LeaseFilter`] and [`LeasePage`] (the
//! lease history in claim order, at most [`LEASE_SCAN_BUDGET`] leases looked
//! at per page), and [`Stats`] (`/api/v1/stats`).

use serde::{Deserialize, Serialize};

use crate::actors::metrics::Series;
use crate::model::{LeaseRecord, Millis, Task, TaskStatus};

/// Filters and paging of [`Board::list_tasks`].
///
/// [`Board::list_tasks`]: crate::board::Board::list_tasks
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Only this status.
    pub status: Option<TaskStatus>,
    /// Only tasks carrying this tag.
    pub tag: Option<String>,
    /// Only tasks leased by this worker.
    pub worker: Option<String>,
    /// Continue after this cursor (from a previous page).
    pub cursor: Option<String>,
    /// Page size (bounded by `api.max_page_size`; default `api.default_page_size`).
    pub limit: Option<usize>,
}

/// One page of tasks, in id order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TaskPage {
    /// The page's tasks, in id order, at most the page size.
    pub tasks: Vec<Task>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// Id of the newest event when the page was read: subscribe to the event
    /// stream after it to follow changes from this snapshot on.
    pub last_event_id: u64,
}

/// Filters and paging of [`Board::lease_history`]. A lease is listed when it
/// overlaps `[since, until)`: claimed before `until`, not ended before `since`.
///
/// [`Board::lease_history`]: crate::board::Board::lease_history
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseFilter {
    /// Leave out leases that ended before this time (ms since the epoch).
    pub since: Option<Millis>,
    /// Leave out leases claimed at or after this time (ms since the epoch).
    pub until: Option<Millis>,
    /// Only leases held by this worker.
    pub worker: Option<String>,
    /// Continue after this cursor (a previous page's `next_cursor`).
    pub cursor: Option<String>,
    /// Page size (bounded by `api.max_page_size`; default `api.default_page_size`).
    pub limit: Option<usize>,
}

/// One page of the lease history, in claim order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeasePage {
    /// The leases, oldest claim first.
    pub leases: Vec<LeaseRecord>,
    /// Pass as `cursor` for the next page; `null` on the last page. A page can
    /// be shorter than `limit` (even empty) and still have one: one request
    /// looks at no more than [`LEASE_SCAN_BUDGET`] leases.
    pub next_cursor: Option<String>,
}

/// Most leases one [`Board::lease_history`] call looks at (filtered out or
/// not) before it ends the page with a `next_cursor`.
///
/// [`Board::lease_history`]: crate::board::Board::lease_history
pub const LEASE_SCAN_BUDGET: usize = 50_000;

/// Counts for `/api/v1/stats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Tasks per status plus `total`.
    pub tasks: serde_json::Map<String, serde_json::Value>,
    /// The slot table's counts as JSON: `{"total": slots configured, "busy": slots
    /// held}`.
    pub slots: serde_json::Value,
    /// The last minutes' per-second series (claims, completions, adds, request
    /// latency), oldest first.
    pub series: Series,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Commits applied and flushes performed (group commit at work).
    pub store: serde_json::Value,
}
