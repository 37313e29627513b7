//! One live connection of a server actor and how it ends: the rmcp peer,
//! the task that waits for the connection to close, the stdio child's
//! process group, and [`terminate`] (SIGTERM, grace, SIGKILL, reap).

use std::time::Duration;

use nix::sys::signal::Signal;
use rmcp::service::{RoleClient, RunningServiceCancellationToken};
use rmcp::Peer;
use tokio::task::JoinHandle;

use super::super::process::ProcessGroup;
use crate::model::Millis;

/// Extra time, past the grace period, for rmcp's connection task to finish.
const CLOSE_SLACK: Duration = Duration::from_secs(5);

/// One live connection.
pub(super) struct Connection {
    /// The connection attempt it came from (events of other attempts are ignored).
    pub(super) generation: u64,
    /// Where calls, pings and list requests go.
    pub(super) peer: Peer<RoleClient>,
    /// Ends rmcp's connection task (taken by [`terminate`]).
    pub(super) cancel: Option<RunningServiceCancellationToken>,
    /// The task that reports the connection's end to the actor.
    pub(super) waiter: Option<JoinHandle<()>>,
    /// The stdio child's process group.
    pub(super) group: Option<ProcessGroup>,
    /// The stdio child's process id.
    pub(super) pid: Option<u32>,
    /// The server declared the `prompts` capability.
    pub(super) has_prompts: bool,
    /// Since when it is up (Unix ms, the runtime's clock).
    pub(super) up_since_ms: Millis,
    /// Set once [`terminate`] has seen the group gone.
    pub(super) terminated: bool,
}

impl Drop for Connection {
    fn drop(&mut self) {
        // safety net: a connection dropped without `terminate` (its task was
        // cancelled, the runtime is going down) takes its process group with it
        if !self.terminated {
            if let Some(g) = self.group {
                g.signal(Signal::SIGKILL);
            }
        }
    }
}

/// Close a connection and terminate its process group: SIGTERM to the group
/// and close the client (stdin), up to `grace` for the group to exit, then
/// SIGKILL; then wait for rmcp's connection task (which reaps the child).
pub(super) async fn terminate(mut conn: Connection, grace: Duration) {
    if let Some(g) = conn.group {
        g.signal(Signal::SIGTERM);
    }
    if let Some(cancel) = conn.cancel.take() {
        cancel.cancel();
    }
    if let Some(g) = conn.group {
        conn.terminated = g.terminate(grace).await;
    }
    if let Some(waiter) = conn.waiter.take() {
        if tokio::time::timeout(grace + CLOSE_SLACK, waiter)
            .await
            .is_err()
        {
            tracing::warn!(pid = conn.pid, "MCP connection task did not finish");
        }
    }
}
