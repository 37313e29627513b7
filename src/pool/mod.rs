//! The downstream MCP server pool: baton as an MCP *client* of other MCP
//! servers, whose tools it offers as `<server>__<tool>` and whose prompts it
//! offers as `<server>__<prompt>`.
//!
//! ## Parts
//!
//! | part | file | owns / does |
//! |---|---|---|
//! | [`PoolHandle`] | `handle.rs` | the public face: start, read views (no mailbox hop), status, restart/reset/shutdown |
//! | calls | `call.rs` | [`CallOptions`]; breaker, readiness, concurrency, admission, timeout, retries of one call |
//! | [`McpPool`] actor | `supervisor.rs` | one `McpServer` per enabled server; routes by name; the gateway tool and prompt catalogs |
//! | shared views | `shared.rs` | routes, breaker views, catalogs: written by the actors, read by every handle |
//! | [`McpServer`] actor | `server/` | the rmcp client, child process group, tool and prompt caches, breaker, health checks, restarts |
//! | rmcp client handler, connect | `client.rs` | `initialize`, `tools/list`, `prompts/list`, list-changed notifications, stderr → log |
//! | events | `events.rs` | what the client handler tells its server and a server tells the pool (below both) |
//! | gateway catalogs | `catalog.rs` | [`GatewayTool`], [`GatewayPrompt`] and their change announcements |
//! | gateway names | `names.rs` | the books of every name handed out, kept through a [`NameLedger`] so a name never changes meaning |
//! | state, status | `state.rs`, `status.rs` | [`ServerState`], [`ServerStatus`] |
//! | backoff | `backoff.rs` | exponential, jittered, capped delays (restarts, retries) |
//! | process groups | `process.rs` | SIGTERM → grace → SIGKILL to a child's whole group |
//! | server file | `spec.rs` | `.mcp.json` parsing, `${VAR}` expansion, per-entry errors |
//! | settings | `settings.rs` | `[pool]` defaults, `[pool.servers.<name>]` overrides |
//! | errors, metrics | `error.rs`, `metrics.rs` | [`PoolError`] and friends; `/metrics` lines |
//! | pure cores | `core/{breaker,names,latency,expand}.rs` | breaker state machine, gateway names, percentiles |
//!
//! Imports point down: `handle` → `call` and `supervisor` → `shared` →
//! `server/` → `client` → `events`, with the leaves (`status`, `spec`,
//! `error`, `state`, `catalog`, `names`, `backoff`, `process`, `settings`)
//! under them. The pool does not import the store: the names it keeps go
//! through the [`NameLedger`] it is handed.
//!
//! ## Time
//!
//! The pool runs on the runtime's [`Clock`](crate::clock::Clock)
//! ([`McpPool::start_with_clock`]; [`McpPool::start`] takes the system
//! clock): breakers are judged by its `now`, and the policy waits — restart
//! delays, health-check intervals, delays between retries — are its timers, so
//! a test on a manual clock steps them. Timeouts that bound real I/O (a
//! request, a child's start-up, a process group's grace) stay on tokio's time.
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

mod backoff;
mod call;
mod catalog;
mod client;
pub mod error;
mod events;
mod handle;
pub mod metrics;
mod names;
mod process;
mod server;
/// `[pool]` settings live in [`crate::config::pool`] (configuration is the
/// ground floor); this name keeps the old path `pool::settings` working.
pub use crate::config::pool as settings;
mod shared;
pub mod spec;
mod state;
mod status;
mod supervisor;

pub use self::call::CallOptions;
pub use self::catalog::{GatewayPrompt, GatewayTool, PromptsChanged, ToolsChanged};
pub use self::error::{PoolConfigError, PoolError, ServerIssue, SpecError};
pub use self::handle::PoolHandle;
pub use self::names::{NameChange, NameLedger, NamesNotSaved, RememberedNames};
pub use self::server::McpServer;
pub use self::spec::{ServerSet, ServerSpec, Transport, TransportKind};
pub use self::state::ServerState;
pub use self::status::ServerStatus;
pub use self::supervisor::McpPool;
pub use crate::config::pool::{PoolSettings, RestartPolicy, ServerOptions, ServerOverrides};
pub use crate::core::breaker::{BreakerState, BreakerView};
pub use crate::core::latency::Percentiles;
