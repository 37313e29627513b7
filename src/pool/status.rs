//! [`ServerStatus`]: one downstream server as the admin surface (REST,
//! MCP `server_status`, the CLI, `/metrics`) shows it; [`ReloadStatus`]:
//! the server file and how its last reload went.

use serde::Serialize;
use utoipa::ToSchema;

use super::spec::TransportKind;
use super::state::ServerState;
use crate::core::breaker::BreakerView;
use crate::core::latency::Percentiles;
use crate::model::Millis;

/// One server, for the admin surface.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ServerStatus {
    /// The server's configured name (its key in `mcpServers`).
    pub name: String,
    /// `stdio` or `http` (absent for an invalid entry).
    pub transport: Option<TransportKind>,
    /// Where the server is in its life (`starting`, `ready`, `restarting`, ...).
    pub state: ServerState,
    /// Breaker state and counts.
    pub breaker: BreakerView,
    /// The most recent error (start failure, exit, transport failure, failed health check …).
    pub last_error: Option<String>,
    /// When it happened (Unix ms).
    pub last_error_at: Option<Millis>,
    /// Tools it offers.
    pub tools: usize,
    /// Prompts it offers (0 without the `prompts` capability).
    pub prompts: usize,
    /// Restarts so far (automatic and requested).
    pub restarts: u64,
    /// Calls that got an answer or failed (abandoned ones not counted).
    pub calls: u64,
    /// Calls that failed in transport or timed out.
    pub failed_calls: u64,
    /// Latency percentiles over the recent window.
    pub latency: Option<Percentiles>,
    /// Process id of the stdio child.
    pub pid: Option<u32>,
    /// Since when the current connection is up (Unix ms).
    pub up_since: Option<Millis>,
}

impl ServerStatus {
    /// A server that is not running (invalid, disabled): its name, state and
    /// an idle breaker, nothing else.
    pub(super) fn idle(
        name: &str,
        transport: Option<TransportKind>,
        state: ServerState,
        breaker: BreakerView,
    ) -> Self {
        Self {
            name: name.to_owned(),
            transport,
            state,
            breaker,
            last_error: None,
            last_error_at: None,
            tools: 0,
            prompts: 0,
            restarts: 0,
            calls: 0,
            failed_calls: 0,
            latency: None,
            pid: None,
            up_since: None,
        }
    }
}

/// What started a reload of the server file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReloadTrigger {
    /// The file watcher saw the file change.
    File,
    /// `SIGHUP` to `baton serve`.
    Signal,
    /// An admin asked for it with `POST /api/v1/servers/reload`.
    Api,
}

/// What an applied reload did, by server name (each list in name order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReloadReport {
    /// New in the file: started (or listed as disabled).
    pub added: Vec<String>,
    /// Gone from the file: their calls in flight finish, then they stop
    /// and their gateway names are forgotten.
    pub removed: Vec<String>,
    /// Entry or options changed: a new process (or connection) starts, the
    /// old one finishes its calls in flight and stops.
    pub changed: Vec<String>,
    /// Unchanged but `misconfigured`: tried again.
    pub retried: Vec<String>,
    /// Unchanged and left alone.
    pub unchanged: Vec<String>,
}

/// How the last reload ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// No reload since the pool started.
    #[default]
    None,
    /// The file was read and the pool now runs it.
    Applied,
    /// The file did not parse or validate: nothing changed (`errors` says why).
    Refused,
}

/// The server file and the last reload, as `GET /api/v1/servers` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReloadStatus {
    /// The server file reloads read (empty when none is configured).
    pub file: String,
    /// Whether baton watches the file and reloads when it changes.
    pub watching: bool,
    /// How the last reload ended.
    pub outcome: ReloadOutcome,
    /// What started it.
    pub trigger: Option<ReloadTrigger>,
    /// When it ended (Unix ms).
    pub at: Option<Millis>,
    /// Why it was refused, one line per problem (empty unless `refused`).
    pub errors: Vec<String>,
    /// What it changed (absent unless `applied`).
    pub changes: Option<ReloadReport>,
}
