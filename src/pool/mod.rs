//! The downstream MCP server pool: baton as an MCP *client* of other MCP
//! servers, whose tools it offers as `<server>__<tool>` and whose prompts it
//! offers as `<server>__<prompt>`.
//!
//! ## Parts
//!
//! | part | file | owns / does |
//! |---|---|---|
//! | [`McpPool`] actor | `supervisor.rs` | one `McpServer` per enabled server; routes by name; the gateway tool and prompt catalogs |
//! | [`McpServer`] actor | `server.rs` | the rmcp client, child process group, tool and prompt caches, breaker, health checks, restarts |
//! | rmcp client handler, connect | `client.rs` | `initialize`, `tools/list`, `prompts/list`, list-changed notifications, stderr → log |
//! | process groups | `process.rs` | SIGTERM → grace → SIGKILL to a child's whole group |
//! | server file | `spec.rs` | `.mcp.json` parsing, `${VAR}` expansion, per-entry errors |
//! | settings | `settings.rs` | `[pool]` defaults, `[pool.servers.<name>]` overrides |
//! | pure cores | `core/{breaker,names,latency,expand}.rs` | breaker state machine, gateway names, percentiles |
//!
//! ## Using it
//!
//! ```no_run
//! # async fn run(settings: baton::Settings) -> Result<(), Box<dyn std::error::Error>> {
//! use baton::pool::{CallOptions, PoolHandle};
//! // inside an actix system (Runtime::start, #[actix_web::main], #[actix_rt::test])
//! let pool = PoolHandle::start(&settings.pool, None)?; // invalid entries are logged and skipped
//! let mut changes = pool.subscribe_changes();          // forward as tools/list_changed
//! for t in pool.tools() {
//!     println!("{} = {}/{}", t.name, t.server, t.tool);
//! }
//! let args = serde_json::json!({"text": "hi"}).as_object().cloned();
//! let result = pool.call("echo__echo", args, CallOptions::default()).await?;
//! println!("{:?} {:?}", result.is_error, pool.breaker("echo"));
//! let mut prompt_changes = pool.subscribe_prompt_changes(); // prompts/list_changed
//! for p in pool.prompts() {
//!     println!("{} = {}/{}", p.name, p.server, p.prompt);
//! }
//! let args = serde_json::json!({"name": "Ada"}).as_object().cloned();
//! let prompt = pool.get_prompt("echo__greet", args).await?;
//! println!("{} messages", prompt.messages.len());
//! pool.shutdown().await; // every child process group is gone when this returns
//! # let _ = (changes.try_recv(), prompt_changes.try_recv());
//! # Ok(()) }
//! ```
//!
//! Prompts: a server that declares the `prompts` capability has its prompts
//! listed after `initialize` (all pages) and again on
//! `notifications/prompts/list_changed`; they are named like tools but in a
//! table of their own (a prompt and a tool may share a gateway name).
//! [`PoolHandle::get_prompt`] goes the way of a call below and, being
//! idempotent, is retried after transport failures.
//!
//! ## How a call (or a prompt get) goes
//!
//! 1. **Breaker, no mailbox hop**: the server's [`BreakerView`] is read from a
//!    shared map; while it is open the call fails at once with
//!    [`PoolError::BreakerOpen`] naming the server and when it will be retried.
//! 2. **Ready**: a server that is starting or restarting is waited for, within
//!    the call's timeout ([`PoolError::NotReady`] after it).
//! 3. **Concurrency**: at most `max_concurrent_calls` calls per server are in
//!    flight; one more fails at once with [`PoolError::Busy`] (no queueing, so
//!    a slow server cannot pile up waiting callers; the caller decides).
//! 4. **Admission** by the server's actor (breaker; at most
//!    `half_open_max_calls` probes while half-open).
//! 5. **The call** runs in the caller's task under the timeout
//!    (`request_timeout_ms`, or [`CallOptions::timeout`]). A call that times
//!    out, or whose future is dropped, is abandoned: rmcp sends the server
//!    `notifications/cancelled` for it.
//! 6. **Outcome**: a result — `isError: true` included — or a JSON-RPC error
//!    answer counts as a success for the breaker; a transport failure or a
//!    timeout counts as a failure.
//! 7. **Retries** (backon: exponential, jitter, capped at `retry_max_ms`) only
//!    for transport failures and not-ready servers, and only for idempotent
//!    calls: the tool's `annotations.idempotentHint` is true, or
//!    [`CallOptions::idempotent`] says so. Timeouts are not retried.

mod client;
pub mod error;
pub mod metrics;
mod process;
mod server;
/// `[pool]` settings live in [`crate::config::pool`] (configuration is the
/// ground floor); this name keeps the old path `pool::settings` working.
pub use crate::config::pool as settings;
pub mod spec;
mod supervisor;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use actix::Addr;
use backon::{ExponentialBuilder, Retryable};
use dashmap::DashMap;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, JsonObject, Prompt, Tool,
};
use rmcp::service::{RoleClient, ServiceError};
use rmcp::Peer;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch, Semaphore};
use utoipa::ToSchema;

pub use self::error::{PoolConfigError, PoolError, ServerIssue, SpecError};
pub use self::server::McpServer;
pub use self::spec::{ServerSet, ServerSpec, Transport, TransportKind};
pub use self::supervisor::McpPool;
pub use crate::config::pool::{PoolSettings, RestartPolicy, ServerOptions, ServerOverrides};
pub use crate::core::breaker::{BreakerState, BreakerView};
pub use crate::core::latency::Percentiles;

use self::server::{AdmitCall, CallFinished, CallOutcome};
use self::supervisor::{GetPoolStatus, ResetServer, RestartServer, ShutdownPool};
use crate::core::breaker::Permit;
use crate::core::names::NameTable;
use crate::error::code::ServiceError as _;
use crate::model::{now_ms, Millis};

/// Where a server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    /// Being started (spawn or connect, `initialize`, `tools/list`).
    Starting,
    /// Serving calls.
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
    /// snake_case name.
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

/// One server, for the admin surface.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ServerStatus {
    /// Name.
    pub name: String,
    /// `stdio` or `http` (absent for an invalid entry).
    pub transport: Option<TransportKind>,
    /// Life-cycle state.
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
    fn idle(
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

/// A downstream tool as the gateway offers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatewayTool {
    /// Gateway name, `<server>__<tool>` (see [`crate::core::names`]).
    pub name: String,
    /// Server.
    pub server: String,
    /// The server's own name for the tool.
    pub tool: String,
    /// `annotations.idempotentHint == true`: transport failures are retried.
    pub idempotent: bool,
    /// The server's definition, renamed to the gateway name.
    pub definition: Tool,
}

/// Sent on [`PoolHandle::subscribe_changes`] whenever the gateway tool list
/// changed because `server`'s list changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolsChanged {
    /// Server whose tools changed.
    pub server: String,
}

/// A downstream prompt as the gateway offers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatewayPrompt {
    /// Gateway name, `<server>__<prompt>` (same rules as tools, see
    /// [`crate::core::names`], in a table of its own).
    pub name: String,
    /// Server.
    pub server: String,
    /// The server's own name for the prompt.
    pub prompt: String,
    /// The server's definition, renamed to the gateway name.
    pub definition: Prompt,
}

/// Sent on [`PoolHandle::subscribe_prompt_changes`] whenever the gateway
/// prompt list changed because `server`'s list changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptsChanged {
    /// Server whose prompts changed.
    pub server: String,
}

/// Per-call options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallOptions {
    /// Whether the call may be retried after a transport failure; `None`
    /// follows the tool's `idempotentHint`.
    pub idempotent: Option<bool>,
    /// Per-attempt timeout instead of the server's `request_timeout_ms`.
    pub timeout: Option<Duration>,
}

impl CallOptions {
    /// Builder: mark the call idempotent (or not).
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = Some(yes);
        self
    }

    /// Builder: per-attempt timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Read side of one configured server (written once by the pool).
#[derive(Clone)]
struct Route {
    kind: TransportKind,
    options: Arc<ServerOptions>,
    /// `None` for a disabled server.
    live: Option<LiveRoute>,
}

#[derive(Clone)]
struct LiveRoute {
    addr: Addr<McpServer>,
    semaphore: Arc<Semaphore>,
    limit: u32,
    state: watch::Receiver<ServerState>,
}

/// The gateway tool list (written by the pool after every change).
#[derive(Debug, Default)]
struct Catalog {
    table: NameTable,
    tools: BTreeMap<String, GatewayTool>,
}

impl Catalog {
    fn idempotent(&self, server: &str, tool: &str) -> bool {
        self.table
            .name_of(server, tool)
            .and_then(|n| self.tools.get(n))
            .is_some_and(|t| t.idempotent)
    }
}

/// The gateway prompt list (written by the pool after every change); its
/// names are independent of the tools'.
#[derive(Debug, Default)]
struct PromptCatalog {
    table: NameTable,
    prompts: BTreeMap<String, GatewayPrompt>,
}

/// Views shared by the actors (writers) and every [`PoolHandle`] (readers).
struct PoolShared {
    routes: DashMap<String, Route>,
    /// Each server actor writes only its own entry.
    breakers: Arc<DashMap<String, BreakerView>>,
    catalog: RwLock<Arc<Catalog>>,
    changes: broadcast::Sender<ToolsChanged>,
    prompt_catalog: RwLock<Arc<PromptCatalog>>,
    prompt_changes: broadcast::Sender<PromptsChanged>,
    issues: Vec<ServerIssue>,
}

impl PoolShared {
    fn new(issues: Vec<ServerIssue>) -> Self {
        Self {
            routes: DashMap::new(),
            breakers: Arc::new(DashMap::new()),
            catalog: RwLock::new(Arc::new(Catalog::default())),
            changes: broadcast::channel(64).0,
            prompt_catalog: RwLock::new(Arc::new(PromptCatalog::default())),
            prompt_changes: broadcast::channel(64).0,
            issues,
        }
    }

    fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_catalog(&self, catalog: Catalog) {
        *self.catalog.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(catalog);
    }

    fn prompt_catalog(&self) -> Arc<PromptCatalog> {
        self.prompt_catalog
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_prompt_catalog(&self, catalog: PromptCatalog) {
        *self
            .prompt_catalog
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(catalog);
    }
}

/// One kind of request the pool forwards to a server, with the server's own
/// name of its target.
#[derive(Debug, Clone, Copy)]
enum Op<'a> {
    /// `tools/call`.
    CallTool(&'a str),
    /// `prompts/get`.
    GetPrompt(&'a str),
}

impl<'a> Op<'a> {
    /// The tool or prompt.
    fn target(self) -> &'a str {
        match self {
            Op::CallTool(name) | Op::GetPrompt(name) => name,
        }
    }

    /// For error messages: "call to 'x'", "prompts/get of 'x'".
    fn describe(self) -> String {
        match self {
            Op::CallTool(tool) => format!("call to '{tool}'"),
            Op::GetPrompt(prompt) => format!("prompts/get of '{prompt}'"),
        }
    }
}

/// A final answer from a server.
trait Answer {
    /// Outcome label for the debug log.
    fn outcome(&self) -> &'static str;
}

impl Answer for CallToolResult {
    fn outcome(&self) -> &'static str {
        if self.is_error == Some(true) {
            "tool_error"
        } else {
            "ok"
        }
    }
}

impl Answer for GetPromptResult {
    fn outcome(&self) -> &'static str {
        "ok"
    }
}

/// What one request yields: a final answer, or (inner `Err`) a description
/// of something else the server answered that the pool does not relay.
type Reply<T> = Result<Result<T, &'static str>, ServiceError>;

/// Exponential delays from `initial`, doubling, with up to 100% jitter, each
/// capped at `max`; `times` delays at most (`None`: no end).
pub(crate) fn backoff(
    initial: Duration,
    max: Duration,
    times: Option<usize>,
) -> impl Iterator<Item = Duration> + Send + Sync + Unpin {
    let builder = ExponentialBuilder::default()
        .with_min_delay(initial)
        .with_max_delay(max)
        .with_jitter();
    let builder = match times {
        Some(n) => builder.with_max_times(n),
        None => builder.without_max_times(),
    };
    backon::BackoffBuilder::build(builder).map(move |d| d.min(max))
}

/// The pool's public face: cheap to clone, usable from any task.
#[derive(Clone)]
pub struct PoolHandle {
    pool: Addr<McpPool>,
    shared: Arc<PoolShared>,
}

impl std::fmt::Debug for PoolHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolHandle")
            .field("servers", &self.servers())
            .finish()
    }
}

/// `AdmitCall`, safe to cancel: the request runs in a task of its own, so if
/// our caller is dropped while the actor answers, a permit it granted (a
/// half-open probe slot, say) is handed back as an abandoned call instead of
/// leaking and holding the breaker half-open.
async fn admit(addr: &Addr<McpServer>) -> Result<Result<server::Admission, PoolError>, PoolError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let addr = addr.clone();
    tokio::spawn(async move {
        let answer = addr.send(AdmitCall).await;
        if let Err(Ok(Ok(admission))) = tx.send(answer) {
            addr.do_send(CallFinished {
                permit: admission.permit,
                outcome: CallOutcome::Abandoned,
                latency: Duration::ZERO,
            });
        }
    });
    Ok(rx.await.map_err(|_| PoolError::ShuttingDown)??)
}

/// Ends an admitted call's accounting: the outcome, or "abandoned" if the
/// caller's future is dropped first.
struct CallGuard {
    addr: Addr<McpServer>,
    permit: Permit,
    started: Instant,
    done: bool,
}

impl CallGuard {
    fn finish(mut self, outcome: CallOutcome) {
        self.done = true;
        self.addr.do_send(CallFinished {
            permit: self.permit,
            outcome,
            latency: self.started.elapsed(),
        });
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if !self.done {
            self.addr.do_send(CallFinished {
                permit: self.permit,
                outcome: CallOutcome::Abandoned,
                latency: self.started.elapsed(),
            });
        }
    }
}

impl PoolHandle {
    /// Read the server file (`file`, else `settings.mcp_servers`; none is an
    /// empty pool) and start the pool. Invalid entries are logged by name and
    /// the rest run; only an unreadable file or bad `[pool]` defaults fail.
    /// Needs a running actix system.
    pub fn start(settings: &PoolSettings, file: Option<&Path>) -> Result<Self, PoolConfigError> {
        Ok(McpPool::start(ServerSet::load(settings, file)?))
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
        let idempotent = opts
            .idempotent
            .unwrap_or_else(|| self.shared.catalog().idempotent(server, tool));
        let mut params = CallToolRequestParams::new(tool.to_owned());
        if let Some(args) = arguments {
            params = params.with_arguments(args);
        }
        let send = move |peer: Peer<RoleClient>| {
            let params = params.clone();
            async move {
                peer.call_tool_once(params)
                    .await
                    .map(|answer| match answer {
                        CallToolResponse::Complete(r) => Ok(r),
                        CallToolResponse::InputRequired(_) => {
                            Err("an input request (input_required)")
                        }
                        _ => Err("a task"),
                    })
            }
        };
        self.request(server, Op::CallTool(tool), idempotent, opts.timeout, send)
            .await
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
        let mut params = GetPromptRequestParams::new(prompt.as_str());
        if let Some(args) = arguments {
            params = params.with_arguments(args);
        }
        let send = move |peer: Peer<RoleClient>| {
            let params = params.clone();
            async move {
                peer.get_prompt_once(params)
                    .await
                    .map(|answer| match answer {
                        GetPromptResponse::Complete(r) => Ok(r),
                        GetPromptResponse::InputRequired(_) => {
                            Err("an input request (input_required)")
                        }
                        _ => Err("an unknown prompts/get answer"),
                    })
            }
        };
        self.request(&server, Op::GetPrompt(&prompt), true, None, send)
            .await
    }

    /// One request to `server`, retried after transport failures if
    /// `idempotent`; `timeout` per attempt (default: the server's
    /// `request_timeout_ms`). `send` makes one attempt on an admitted peer.
    async fn request<T, F, Fut>(
        &self,
        server: &str,
        op: Op<'_>,
        idempotent: bool,
        timeout: Option<Duration>,
        send: F,
    ) -> Result<T, PoolError>
    where
        T: Answer,
        F: Fn(Peer<RoleClient>) -> Fut,
        Fut: Future<Output = Reply<T>>,
    {
        let route = self
            .shared
            .routes
            .get(server)
            .map(|r| r.clone())
            .ok_or_else(|| PoolError::UnknownServer {
                server: server.to_owned(),
            })?;
        let Some(live) = route.live else {
            return Err(PoolError::Disabled {
                server: server.to_owned(),
            });
        };
        let o = &route.options;
        let timeout = timeout.unwrap_or_else(|| o.request_timeout());
        let attempt = || self.attempt(server, &live, op, timeout, &send);
        let retries = if idempotent {
            o.retry_attempts.saturating_sub(1) as usize
        } else {
            0
        };
        if retries == 0 {
            return attempt().await;
        }
        let delays = backoff(
            Duration::from_millis(o.retry_initial_ms),
            Duration::from_millis(o.retry_max_ms),
            Some(retries),
        );
        attempt
            .retry(delays)
            .when(PoolError::is_retryable)
            .notify(|e, delay| {
                let delay_ms = delay.as_millis() as u64;
                match op {
                    Op::CallTool(tool) => tracing::warn!(
                        server,
                        tool,
                        error = %e,
                        delay_ms,
                        "retrying idempotent MCP tool call"
                    ),
                    Op::GetPrompt(prompt) => tracing::warn!(
                        server,
                        prompt,
                        error = %e,
                        delay_ms,
                        "retrying MCP prompt get"
                    ),
                }
            })
            .await
    }

    async fn attempt<T, F, Fut>(
        &self,
        server: &str,
        live: &LiveRoute,
        op: Op<'_>,
        timeout: Duration,
        send: &F,
    ) -> Result<T, PoolError>
    where
        T: Answer,
        F: Fn(Peer<RoleClient>) -> Fut,
        Fut: Future<Output = Reply<T>>,
    {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        let fail_fast = self
            .shared
            .breakers
            .get(server)
            .and_then(|v| v.rejects_until(now_ms()));
        if let Some(retry_at) = fail_fast {
            return Err(PoolError::BreakerOpen {
                server: server.to_owned(),
                retry_at,
            });
        }
        let mut state = live.state.clone();
        let (admission, _slot) = loop {
            wait_ready(server, &mut state, deadline, started).await?;
            let slot = live
                .semaphore
                .clone()
                .try_acquire_owned()
                .map_err(|_| PoolError::Busy {
                    server: server.to_owned(),
                    limit: live.limit,
                })?;
            match admit(&live.addr).await? {
                Ok(admission) => break (admission, slot),
                // lost a race with a crash: wait for the restart
                Err(PoolError::NotReady { .. }) => {
                    drop(slot);
                    if tokio::time::timeout_at(deadline, state.changed())
                        .await
                        .is_err()
                    {
                        return Err(not_ready(server, &state, started));
                    }
                }
                Err(e) => return Err(e),
            }
        };
        let guard = CallGuard {
            addr: live.addr.clone(),
            permit: admission.permit,
            started: Instant::now(),
            done: false,
        };
        // dropping the rmcp future (timeout, or our caller gone) sends notifications/cancelled
        let answer = tokio::time::timeout_at(deadline, send(admission.peer)).await;
        let latency_ms = guard.started.elapsed().as_secs_f64() * 1000.0;
        let server_name = || server.to_owned();
        let (outcome, result) = match answer {
            Ok(Ok(Ok(r))) => (CallOutcome::Answered, Ok(r)),
            Ok(Ok(Err(what))) => (
                CallOutcome::Answered,
                Err(PoolError::Unsupported {
                    server: server_name(),
                    what,
                }),
            ),
            Ok(Err(ServiceError::McpError(error))) => (
                CallOutcome::Answered,
                Err(PoolError::Downstream {
                    server: server_name(),
                    error: Box::new(error),
                }),
            ),
            Ok(Err(ServiceError::Timeout { .. })) | Err(_) => (
                CallOutcome::Failed(format!("{} timed out", op.describe())),
                Err(PoolError::Timeout {
                    server: server_name(),
                    tool: op.target().to_owned(),
                    after_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                }),
            ),
            Ok(Err(e)) => (
                CallOutcome::Failed(format!("{} failed: {e}", op.describe())),
                Err(PoolError::Transport {
                    server: server_name(),
                    message: e.to_string(),
                }),
            ),
        };
        let outcome_label = match &result {
            Ok(r) => r.outcome(),
            Err(e) => e.error_code().as_str(),
        };
        match op {
            Op::CallTool(tool) => tracing::debug!(
                server,
                tool,
                latency_ms,
                outcome = outcome_label,
                "MCP tool call"
            ),
            Op::GetPrompt(prompt) => tracing::debug!(
                server,
                prompt,
                latency_ms,
                outcome = outcome_label,
                "MCP prompt get"
            ),
        }
        guard.finish(outcome);
        result
    }
}

fn not_ready(server: &str, state: &watch::Receiver<ServerState>, started: Instant) -> PoolError {
    PoolError::NotReady {
        server: server.to_owned(),
        state: *state.borrow(),
        waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// Wait while the server is starting or restarting, until `deadline`. Other
/// states return at once: the server actor gives the precise error.
async fn wait_ready(
    server: &str,
    state: &mut watch::Receiver<ServerState>,
    deadline: tokio::time::Instant,
    started: Instant,
) -> Result<(), PoolError> {
    loop {
        let now = *state.borrow_and_update();
        if !matches!(now, ServerState::Starting | ServerState::Restarting) {
            return Ok(());
        }
        match tokio::time::timeout_at(deadline, state.changed()).await {
            Ok(Ok(())) => continue,
            Ok(Err(_)) => return Err(PoolError::ShuttingDown),
            Err(_) => return Err(not_ready(server, state, started)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let initial = Duration::from_millis(100);
        let max = Duration::from_millis(1_000);
        for _ in 0..50 {
            let d: Vec<Duration> = backoff(initial, max, Some(8)).collect();
            assert_eq!(d.len(), 8);
            assert!(d[0] >= initial && d[0] < initial * 2, "{d:?}");
            assert!(d[1] >= initial * 2 && d[1] < initial * 4, "{d:?}");
            assert!(d.windows(2).take(3).all(|w| w[0] <= w[1]), "{d:?}");
            assert!(d.iter().all(|x| *x <= max), "{d:?}");
        }
        assert!(backoff(initial, max, None).take(1000).count() == 1000);
    }
}
