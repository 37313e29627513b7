//! [`ServerStatus`]: one downstream server as the admin surface (REST,
//! MCP `server_status`, the CLI, `/metrics`) shows it.

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
