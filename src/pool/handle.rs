//! [`PoolHandle`]: the pool's public face — start, the read side (servers,
//! gateway tools and prompts, breakers, states: no mailbox hop), change
//! announcements, status, the admin operations (restart, reset, shutdown)
//! and the calls, which `call.rs` carries out.

use std::path::Path;
use std::sync::Arc;

use actix::Addr;
use rmcp::model::{CallToolResult, GetPromptResult, JsonObject};
use tokio::sync::broadcast;

use super::call::{self, CallOptions};
use super::catalog::{GatewayPrompt, GatewayTool, PromptsChanged, ToolsChanged};
use super::error::{PoolConfigError, PoolError, ServerIssue};
use super::settings::PoolSettings;
use super::shared::PoolShared;
use super::spec::{ServerSet, TransportKind};
use super::state::ServerState;
use super::status::ServerStatus;
use super::supervisor::{GetPoolStatus, McpPool, ResetServer, RestartServer, ShutdownPool};
use crate::clock::Clock;
use crate::core::breaker::BreakerView;

/// The pool's public face: cheap to clone, usable from any task.
#[derive(Clone)]
pub struct PoolHandle {
    pub(super) pool: Addr<McpPool>,
    pub(super) shared: Arc<PoolShared>,
}

impl std::fmt::Debug for PoolHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolHandle")
            .field("servers", &self.servers())
            .finish()
    }
}

impl PoolHandle {
    /// Read the server file (`file`, else `settings.mcp_servers`; none is an
    /// empty pool) and start the pool. Invalid entries are logged by name and
    /// the rest run; only an unreadable file or bad `[pool]` defaults fail.
    /// Needs a running actix system.
    pub fn start(settings: &PoolSettings, file: Option<&Path>) -> Result<Self, PoolConfigError> {
        Self::start_with_clock(settings, file, Clock::system())
    }

    /// [`PoolHandle::start`] on `clock`: breakers are judged by its `now`,
    /// and restart delays, health checks and retry delays are its timers
    /// (see [`crate::clock`]), so a [`Clock::manual`] lets a test step them.
    pub fn start_with_clock(
        settings: &PoolSettings,
        file: Option<&Path>,
        clock: Clock,
    ) -> Result<Self, PoolConfigError> {
        Ok(McpPool::start_with_clock(
            ServerSet::load(settings, file)?,
            clock,
        ))
    }

    /// Every configured server's name (disabled ones included), in order.
    pub fn servers(&self) -> Vec<String> {
        let mut names: Vec<String> = self.shared.routes.iter().map(|r| r.key().clone()).collect();
        names.sort();
        names
    }

    /// The tools of `server` that executor tasks may call (its
    /// `executable_tools`); empty for an unknown server.
    pub fn executable_tools(&self, server: &str) -> Vec<String> {
        self.shared
            .routes
            .get(server)
            .map(|r| r.options.executable_tools.clone())
            .unwrap_or_default()
    }

    /// The fencing of `server`'s tools: its `lease_required` tool patterns
    /// and its `path_arguments` (tool → argument); empty for an unknown server.
    pub fn fence(&self, server: &str) -> (Vec<String>, std::collections::BTreeMap<String, String>) {
        self.shared
            .routes
            .get(server)
            .map(|r| {
                (
                    r.options.lease_required.clone(),
                    r.options.path_arguments.clone(),
                )
            })
            .unwrap_or_default()
    }

    /// Entries of the server file that were not started, and why.
    pub fn issues(&self) -> Vec<ServerIssue> {
        self.shared.issues.clone()
    }

    /// Every gateway tool, in name order. No mailbox hop.
    pub fn tools(&self) -> Vec<GatewayTool> {
        self.shared.catalog().tools.values().cloned().collect()
    }

    /// One gateway tool by its gateway name. No mailbox hop.
    pub fn tool(&self, gateway_name: &str) -> Option<GatewayTool> {
        self.shared.catalog().tools.get(gateway_name).cloned()
    }

    /// The (server, tool) a gateway name stands for. No mailbox hop.
    pub fn resolve(&self, gateway_name: &str) -> Option<(String, String)> {
        self.shared
            .catalog()
            .table
            .resolve(gateway_name)
            .map(|(s, t)| (s.to_owned(), t.to_owned()))
    }

    /// Every gateway prompt, in name order. No mailbox hop.
    pub fn prompts(&self) -> Vec<GatewayPrompt> {
        self.shared
            .prompt_catalog()
            .prompts
            .values()
            .cloned()
            .collect()
    }

    /// One gateway prompt by its gateway name. No mailbox hop.
    pub fn prompt(&self, gateway_name: &str) -> Option<GatewayPrompt> {
        self.shared
            .prompt_catalog()
            .prompts
            .get(gateway_name)
            .cloned()
    }

    /// The (server, prompt) a gateway prompt name stands for. No mailbox hop.
    pub fn resolve_prompt(&self, gateway_name: &str) -> Option<(String, String)> {
        self.shared
            .prompt_catalog()
            .table
            .resolve(gateway_name)
            .map(|(s, p)| (s.to_owned(), p.to_owned()))
    }

    /// A server's breaker as its actor last published it. No mailbox hop.
    pub fn breaker(&self, server: &str) -> Option<BreakerView> {
        self.shared.breakers.get(server).map(|v| v.clone())
    }

    /// Where a configured server is in its life, as its actor last published
    /// it (`Disabled` for a disabled one; `None` for an unknown name). No
    /// mailbox hop.
    pub fn state(&self, server: &str) -> Option<ServerState> {
        self.shared.routes.get(server).map(|r| match &r.live {
            Some(live) => *live.state.borrow(),
            None => ServerState::Disabled,
        })
    }

    /// Calls to `server` that hold one of its `max_concurrent_calls` slots
    /// right now (being admitted or running); `None` for an unknown or a
    /// disabled server. No mailbox hop.
    pub fn calls_in_flight(&self, server: &str) -> Option<u32> {
        let route = self.shared.routes.get(server)?;
        let live = route.live.as_ref()?;
        let free = u32::try_from(live.semaphore.available_permits()).unwrap_or(u32::MAX);
        Some(live.limit.saturating_sub(free))
    }

    /// The transport of a configured server.
    pub fn transport(&self, server: &str) -> Option<TransportKind> {
        self.shared.routes.get(server).map(|r| r.kind)
    }

    /// Announcements of gateway tool-list changes (forward them to MCP
    /// clients as `notifications/tools/list_changed`). A receiver that falls
    /// more than 64 changes behind gets `Lagged`: re-read [`PoolHandle::tools`].
    pub fn subscribe_changes(&self) -> broadcast::Receiver<ToolsChanged> {
        self.shared.changes.subscribe()
    }

    /// Announcements of gateway prompt-list changes (forward them to MCP
    /// clients as `notifications/prompts/list_changed`). A receiver that
    /// falls more than 64 changes behind gets `Lagged`: re-read
    /// [`PoolHandle::prompts`].
    pub fn subscribe_prompt_changes(&self) -> broadcast::Receiver<PromptsChanged> {
        self.shared.prompt_changes.subscribe()
    }

    /// Status of every configured server (invalid entries included), in name
    /// order; empty once the pool has shut down.
    pub async fn status(&self) -> Vec<ServerStatus> {
        self.pool.send(GetPoolStatus).await.unwrap_or_default()
    }

    /// One configured server's status (an invalid entry included).
    pub async fn server_status(&self, server: &str) -> Result<ServerStatus, PoolError> {
        self.status()
            .await
            .into_iter()
            .find(|s| s.name == server)
            .ok_or_else(|| PoolError::UnknownServer {
                server: server.to_owned(),
            })
    }

    /// The gateway tools of one server, in name order. No mailbox hop.
    pub fn server_tools(&self, server: &str) -> Vec<GatewayTool> {
        self.tools()
            .into_iter()
            .filter(|t| t.server == server)
            .collect()
    }

    /// Restart a server: terminate its connection and process group, reset
    /// its restart backoff, start it again. Returns once the old process group
    /// is gone and the new start has begun (watch [`PoolHandle::status`]).
    pub async fn restart(&self, server: &str) -> Result<(), PoolError> {
        self.pool
            .send(RestartServer {
                name: server.to_owned(),
            })
            .await?
    }

    /// Close a server's breaker and clear its counts.
    pub async fn reset(&self, server: &str) -> Result<(), PoolError> {
        self.pool
            .send(ResetServer {
                name: server.to_owned(),
            })
            .await?
    }

    /// Stop every server and the pool. Returns when every child process
    /// group has been terminated (SIGTERM, grace, SIGKILL).
    pub async fn shutdown(self) {
        if self.pool.send(ShutdownPool).await.is_err() {
            tracing::debug!("MCP server pool already stopped");
        }
    }

    /// Call a tool by its gateway name (`<server>__<tool>`).
    pub async fn call(
        &self,
        gateway_name: &str,
        arguments: Option<JsonObject>,
        opts: CallOptions,
    ) -> Result<CallToolResult, PoolError> {
        let (server, tool) = self
            .resolve(gateway_name)
            .ok_or_else(|| PoolError::UnknownTool {
                name: gateway_name.to_owned(),
            })?;
        self.call_tool(&server, &tool, arguments, opts).await
    }

    /// Call `tool` (the server's own name) on `server`; see the module docs
    /// for breaker, readiness, concurrency, timeout, cancellation and retries.
    /// A tool's `isError: true` result is `Ok`.
    pub async fn call_tool(
        &self,
        server: &str,
        tool: &str,
        arguments: Option<JsonObject>,
        opts: CallOptions,
    ) -> Result<CallToolResult, PoolError> {
        call::call_tool(&self.shared, server, tool, arguments, opts).await
    }

    /// Get a prompt by its gateway name (`<server>__<prompt>`), filled in
    /// with `arguments`. Goes the way of a tool call (breaker, readiness,
    /// concurrency, the server's `request_timeout_ms`, cancellation) and,
    /// being idempotent, is retried after transport failures.
    pub async fn get_prompt(
        &self,
        gateway_name: &str,
        arguments: Option<JsonObject>,
    ) -> Result<GetPromptResult, PoolError> {
        let (server, prompt) =
            self.resolve_prompt(gateway_name)
                .ok_or_else(|| PoolError::UnknownPrompt {
                    name: gateway_name.to_owned(),
                })?;
        call::get_prompt(&self.shared, &server, &prompt, arguments).await
    }
}

impl McpPool {
    /// Start the pool and one [`McpServer`](super::McpServer) per enabled
    /// server of `set`, on the current actix arbiter and the system clock;
    /// invalid entries are logged by name. Needs a running actix system.
    pub fn start(set: ServerSet) -> PoolHandle {
        Self::start_with_clock(set, Clock::system())
    }

    /// [`McpPool::start`] on `clock` (see [`PoolHandle::start_with_clock`]).
    /// Its gateway names keep their meaning for the life of this pool only;
    /// [`McpPool::start_remembering`] keeps them longer.
    pub fn start_with_clock(set: ServerSet, clock: Clock) -> PoolHandle {
        Self::start_remembering(set, clock, None)
    }

    /// [`McpPool::start_with_clock`] with the gateway names kept so far and
    /// the [`NameLedger`](super::NameLedger) to keep new ones with (the
    /// runtime hands it the store's): a name once handed out keeps reaching
    /// the same (server, tool) across restarts of the server, the pool and
    /// baton, until its server leaves the server file (its names are then
    /// forgotten, at this start). A newcomer whose name is taken gets a
    /// suffixed one (see [`crate::core::names`]). `None`: names live as long
    /// as the pool.
    pub fn start_remembering(
        set: ServerSet,
        clock: Clock,
        remembered: Option<super::RememberedNames>,
    ) -> PoolHandle {
        let (pool, shared) = McpPool::spawn(set, clock, remembered);
        PoolHandle { pool, shared }
    }
}
