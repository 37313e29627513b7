//! [`ServerState`]: where a downstream server is in its life. A leaf: the
//! pool's errors, its status reports and its actors all name it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    /// Being started (spawn or connect, `initialize`, `tools/list`).
    Starting,
    /// Serving calls: `initialize` and `tools/list` succeeded.
    Ready,
    /// Its connection ended; waiting out the restart delay or starting again.
    Restarting,
    /// Not restarted any more (restart policy `never`, or `max_restarts` reached); `restart` revives it.
    Failed,
    /// `enabled = false` or `"disabled": true`: never started.
    Disabled,
    /// Stopped with the pool.
    Stopped,
    /// Its entry in the server file is invalid (see `last_error`).
    Invalid,
}

impl ServerState {
    /// The state's snake_case name (`ready`, `restarting`, ...), as shown in the status
    /// views.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Starting => "starting",
            ServerState::Ready => "ready",
            ServerState::Restarting => "restarting",
            ServerState::Failed => "failed",
            ServerState::Disabled => "disabled",
            ServerState::Stopped => "stopped",
            ServerState::Invalid => "invalid",
        }
    }
}

impl std::fmt::Display for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
