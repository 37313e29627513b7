//! `McpServer`: one downstream MCP server.
//!
//! State it owns (single writer): the rmcp client connection (and, for stdio,
//! the child's process group), the server's tool and prompt lists, its
//! [`CircuitBreaker`], restart backoff, health checks, the latency window and
//! counters. After every breaker change it writes the server's
//! [`BreakerView`] into the pool-wide map that callers read without a
//! mailbox hop; its [`ServerState`] is published on a `watch` channel.
//!
//! Messages: [`AdmitCall`] and [`CallFinished`] around every call (the call
//! itself runs in the caller's task, so a dropped caller cancels it),
//! [`ToolListChanged`] and [`PromptListChanged`] from its rmcp client handler
//! (`GatewayClient`), [`GetServerStatus`], [`Restart`], [`ResetBreaker`] and
//! [`StopServer`] from the pool. It tells the pool [`ToolsRefreshed`] when its
//! tool list changes and [`PromptsRefreshed`] when its prompt list changes.
//!
//! Lifecycle: `starting` → `ready`; when the connection ends (child exit,
//! crash, closed session) the leftover process group is terminated and the
//! server is started again after an exponential, jittered, capped delay
//! (`restarting`), unless the restart policy says `never` or
//! `max_restarts` consecutive restarts failed (`failed`). A server that
//! stayed up `restart_reset_after_ms` starts again from the first delay.
//!
//! Time: the breaker, the error and uptime stamps and the uptime that resets
//! the restart delays are read from the runtime's [`Clock`]; the restart
//! delay and the health-check interval are its timers ([`Clock::sleep`]), so
//! a test on a manual clock fires them by advancing it. Timeouts that bound
//! real I/O (start-up, requests, the grace of a process group) are tokio's.
//!
//! | file | concern |
//! |---|---|
//! | `mod.rs` | the actor's state, connecting, restarts, status, restart and stop |
//! | `connection.rs` | one live connection and how it is terminated |
//! | `lists.rs` | the tool and prompt lists and their refreshes |
//! | `health.rs` | breaker admission and outcomes of calls, health checks, reset |
//!
//! [`ToolListChanged`]: crate::pool::events::ToolListChanged
//! [`PromptListChanged`]: crate::pool::events::PromptListChanged
//! [`ToolsRefreshed`]: crate::pool::events::ToolsRefreshed
//! [`PromptsRefreshed`]: crate::pool::events::PromptsRefreshed

mod connection;
mod health;
mod lists;

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use dashmap::DashMap;
use nix::sys::signal::Signal;
use rmcp::model::{Prompt, Tool};
use rmcp::service::QuitReason;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::connection::{terminate, Connection};
use self::lists::Refresh;
use super::backoff::backoff;
use super::client::{self, GatewayClient, StartError};
use super::error::PoolError;
use super::events::{PromptsRefreshed, ToolsRefreshed};
use super::process::ProcessGroup;
use super::spec::{ServerSpec, TransportKind};
use super::state::ServerState;
use super::status::ServerStatus;
use crate::clock::Clock;
use crate::config::pool::{RestartPolicy, ServerOptions};
use crate::core::breaker::{BreakerConfig, BreakerView, CircuitBreaker};
use crate::core::latency::LatencyWindow;
use crate::model::Millis;

pub(crate) use self::health::{
    Admission, AdmitCall, CallFinished, CallOutcome, ResetBreaker, Retire,
};

/// The server actor.
pub struct McpServer {
    spec: ServerSpec,
    pool: Recipient<ToolsRefreshed>,
    prompts_pool: Recipient<PromptsRefreshed>,
    state: ServerState,
    state_tx: watch::Sender<ServerState>,
    breaker: CircuitBreaker,
    breakers: Arc<DashMap<String, BreakerView>>,
    conn: Option<Connection>,
    /// Incremented for every connection attempt; events of older attempts are ignored.
    generation: u64,
    /// Process group of a child whose connection is still being set up.
    pending_group: Arc<AtomicI32>,
    connecting: Option<SpawnHandle>,
    restart_timer: Option<SpawnHandle>,
    backoff: Box<dyn Iterator<Item = Duration>>,
    consecutive_restarts: u32,
    restarts: u64,
    tools: Arc<Vec<Tool>>,
    tools_refresh: Refresh,
    prompts: Arc<Vec<Prompt>>,
    prompts_refresh: Refresh,
    last_error: Option<String>,
    last_error_at: Option<Millis>,
    latency: LatencyWindow,
    calls: u64,
    failed_calls: u64,
    ping_in_flight: bool,
    cleanups: Vec<JoinHandle<()>>,
    stopping: bool,
    /// The runtime's clock (see the module docs).
    clock: Clock,
    /// Which actor of this server name this is (the pool's count; a reload
    /// that changes a server starts a new actor with a new epoch).
    epoch: u64,
    /// The first tool and prompt lists were sent to the pool.
    tools_reported: bool,
    prompts_reported: bool,
    /// Replaced by a reload: finishing its calls in flight, no longer
    /// writing the pool-wide breaker view (its successor does).
    retired: bool,
}

impl McpServer {
    /// A server that starts connecting when the actor starts. `pool` and
    /// `prompts_pool` receive its tool and prompt lists when they change;
    /// `state_tx` publishes its state; `breakers` is the pool-wide read-side
    /// map, in which this actor writes only its own entry; `clock` is the
    /// runtime's; `epoch` tells its lists from those of an actor that had
    /// the same name before a reload.
    pub(crate) fn new(
        spec: ServerSpec,
        pool: Recipient<ToolsRefreshed>,
        prompts_pool: Recipient<PromptsRefreshed>,
        state_tx: watch::Sender<ServerState>,
        breakers: Arc<DashMap<String, BreakerView>>,
        clock: Clock,
        epoch: u64,
    ) -> Self {
        let o = &spec.options;
        Self {
            breaker: CircuitBreaker::new(breaker_config(o)),
            backoff: Box::new(restart_backoff(&spec)),
            latency: LatencyWindow::new(o.latency_window as usize),
            spec,
            pool,
            prompts_pool,
            state: ServerState::Starting,
            state_tx,
            breakers,
            conn: None,
            generation: 0,
            pending_group: Arc::new(AtomicI32::new(0)),
            connecting: None,
            restart_timer: None,
            consecutive_restarts: 0,
            restarts: 0,
            tools: Arc::new(Vec::new()),
            tools_refresh: Refresh::default(),
            prompts: Arc::new(Vec::new()),
            prompts_refresh: Refresh::default(),
            last_error: None,
            last_error_at: None,
            calls: 0,
            failed_calls: 0,
            ping_in_flight: false,
            cleanups: Vec::new(),
            stopping: false,
            clock,
            epoch,
            tools_reported: false,
            prompts_reported: false,
            retired: false,
        }
    }

    fn name(&self) -> &str {
        &self.spec.name
    }

    fn set_state(&mut self, state: ServerState) {
        if self.state != state {
            tracing::debug!(server = %self.spec.name, from = %self.state, to = %state, "MCP server state");
        }
        self.state = state;
        self.state_tx.send_replace(state);
    }

    fn record_error(&mut self, error: String) {
        self.last_error = Some(error);
        self.last_error_at = Some(self.clock.now());
    }

    fn reset_backoff(&mut self) {
        self.backoff = Box::new(restart_backoff(&self.spec));
        self.consecutive_restarts = 0;
    }

    /// Start a connection attempt.
    fn connect(&mut self, ctx: &mut Context<Self>, state: ServerState) {
        self.generation += 1;
        let generation = self.generation;
        self.set_state(state);
        self.pending_group.store(0, Ordering::SeqCst);
        let me = ctx.address();
        let handler = GatewayClient::new(me.clone().recipient(), me.recipient(), generation);
        let spec = self.spec.clone();
        let pending = self.pending_group.clone();
        let attempt = async move { client::connect(&spec, handler, pending).await }
            .into_actor(self)
            .map(move |result, act, ctx| act.connected(generation, result, ctx));
        self.connecting = Some(ctx.spawn(attempt));
    }

    fn connected(
        &mut self,
        generation: u64,
        result: Result<client::Connected, StartError>,
        ctx: &mut Context<Self>,
    ) {
        if generation != self.generation || self.stopping {
            // superseded by a restart or a stop: close what was opened
            if let Ok(c) = result {
                let grace = self.spec.options.shutdown_grace();
                self.track_cleanup(actix_rt::spawn(async move {
                    if let Some(g) = c.group {
                        g.terminate(grace).await;
                    }
                    let _ = c.service.cancel().await;
                }));
            }
            return;
        }
        self.connecting = None;
        self.pending_group.store(0, Ordering::SeqCst);
        match result {
            Ok(client::Connected {
                service,
                group,
                pid,
                tools,
                has_prompts,
                prompts,
            }) => {
                let peer = service.peer().clone();
                let cancel = service.cancellation_token();
                let addr = ctx.address();
                let waiter = actix_rt::spawn(async move {
                    let reason = match service.waiting().await {
                        Ok(QuitReason::Closed) => "connection closed by the server".to_owned(),
                        Ok(QuitReason::Cancelled) => "connection cancelled".to_owned(),
                        Ok(other) => format!("connection ended: {other:?}"),
                        Err(e) => format!("connection task failed: {e}"),
                    };
                    addr.do_send(ConnectionClosed { generation, reason });
                });
                tracing::info!(
                    server = %self.spec.name,
                    pid,
                    pgid = group.map(ProcessGroup::id),
                    tools = tools.len(),
                    prompts = prompts.len(),
                    "MCP server ready"
                );
                self.conn = Some(Connection {
                    generation,
                    peer,
                    cancel: Some(cancel),
                    waiter: Some(waiter),
                    group,
                    pid,
                    has_prompts,
                    up_since_ms: self.clock.now(),
                    terminated: false,
                });
                self.set_tools(tools);
                self.set_prompts(prompts);
                self.set_state(ServerState::Ready);
            }
            Err(StartError::Misconfigured(reason)) => {
                // a retry would fail the same way: wait for a reload (or a restart by hand)
                tracing::error!(
                    server = %self.spec.name,
                    reason = %reason,
                    "MCP server is misconfigured; not retried until the server file is reloaded"
                );
                self.record_error(format!("misconfigured: {reason}"));
                self.set_state(ServerState::Misconfigured);
            }
            Err(StartError::Failed(e)) => {
                tracing::warn!(server = %self.spec.name, error = %e, "MCP server failed to start");
                self.record_error(format!("start failed: {e}"));
                self.schedule_restart(ctx);
            }
        }
    }

    fn schedule_restart(&mut self, ctx: &mut Context<Self>) {
        let o = &self.spec.options;
        let exhausted = o.max_restarts > 0 && self.consecutive_restarts >= o.max_restarts;
        if o.restart == RestartPolicy::Never || exhausted {
            tracing::error!(
                server = %self.spec.name,
                restarts = self.restarts,
                last_error = self.last_error.as_deref().unwrap_or(""),
                "MCP server failed; not restarting"
            );
            self.set_state(ServerState::Failed);
            return;
        }
        let max = Duration::from_millis(o.restart_max_ms);
        let delay = self.backoff.next().unwrap_or(max);
        self.consecutive_restarts += 1;
        self.restarts += 1;
        self.set_state(ServerState::Restarting);
        tracing::warn!(
            server = %self.spec.name,
            delay_ms = delay.as_millis() as u64,
            attempt = self.consecutive_restarts,
            "restarting MCP server"
        );
        let timer = self
            .clock
            .sleep(delay)
            .into_actor(self)
            .map(|(), act, ctx| {
                act.restart_timer = None;
                act.connect(ctx, ServerState::Restarting);
            });
        self.restart_timer = Some(ctx.spawn(timer));
    }

    /// Stop a connection attempt in progress or scheduled; kill a half-started child.
    fn cancel_pending(&mut self, ctx: &mut Context<Self>) {
        if let Some(h) = self.connecting.take() {
            ctx.cancel_future(h);
        }
        if let Some(h) = self.restart_timer.take() {
            ctx.cancel_future(h);
        }
        let pgid = self.pending_group.swap(0, Ordering::SeqCst);
        if let Some(g) = u32::try_from(pgid).ok().and_then(ProcessGroup::of_leader) {
            g.signal(Signal::SIGKILL);
        }
    }

    fn track_cleanup(&mut self, handle: JoinHandle<()>) {
        self.cleanups.retain(|h| !h.is_finished());
        self.cleanups.push(handle);
    }

    fn status(&self) -> ServerStatus {
        ServerStatus {
            name: self.spec.name.clone(),
            transport: Some(self.spec.transport.kind()),
            state: self.state,
            breaker: self.breaker.view(),
            last_error: self.last_error.clone(),
            last_error_at: self.last_error_at,
            tools: self.tools.len(),
            prompts: self.prompts.len(),
            restarts: self.restarts,
            calls: self.calls,
            failed_calls: self.failed_calls,
            latency: self.latency.percentiles(),
            pid: self.conn.as_ref().and_then(|c| c.pid),
            up_since: self.conn.as_ref().map(|c| c.up_since_ms),
        }
    }
}

/// The breaker thresholds of a server's options.
fn breaker_config(o: &ServerOptions) -> BreakerConfig {
    BreakerConfig {
        failure_threshold: o.failure_threshold,
        success_threshold: o.success_threshold,
        open_timeout_ms: o.open_timeout_ms,
        half_open_max_calls: o.half_open_max_calls,
    }
}

fn restart_backoff(spec: &ServerSpec) -> impl Iterator<Item = Duration> + Send + Sync + Unpin {
    backoff(
        Duration::from_millis(spec.options.restart_initial_ms),
        Duration::from_millis(spec.options.restart_max_ms),
        None,
    )
}

impl Actor for McpServer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let before = self.breaker.state();
        self.breaker_changed(before);
        self.connect(ctx, ServerState::Starting);
        let every = self.spec.options.ping_interval_ms;
        if every > 0 {
            self.schedule_ping(ctx, Duration::from_millis(every));
        }
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        // safety net when stopped without StopServer (the system is going down):
        // nothing this server started may outlive it
        if let Some(g) = self.conn.as_ref().and_then(|c| c.group) {
            g.signal(Signal::SIGKILL);
        }
        let pgid = self.pending_group.swap(0, Ordering::SeqCst);
        if let Some(g) = u32::try_from(pgid).ok().and_then(ProcessGroup::of_leader) {
            g.signal(Signal::SIGKILL);
        }
        self.set_state(ServerState::Stopped);
    }
}

/// A connection's rmcp task ended (child exited, session closed, or cancelled).
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct ConnectionClosed {
    generation: u64,
    reason: String,
}

impl Handler<ConnectionClosed> for McpServer {
    type Result = ();

    fn handle(&mut self, msg: ConnectionClosed, ctx: &mut Context<Self>) {
        if self.conn.as_ref().map(|c| c.generation) != Some(msg.generation) {
            return; // an old connection, already replaced or closed on purpose
        }
        let Some(conn) = self.conn.take() else { return };
        let uptime = Duration::from_millis(self.clock.now().saturating_sub(conn.up_since_ms));
        let what = match self.spec.transport.kind() {
            TransportKind::Stdio => "process exited",
            TransportKind::Http => "connection lost",
        };
        tracing::warn!(
            server = %self.spec.name,
            pid = conn.pid,
            uptime_ms = uptime.as_millis() as u64,
            reason = %msg.reason,
            "MCP server {what}"
        );
        self.record_error(format!("{what}: {}", msg.reason));
        let grace = self.spec.options.shutdown_grace();
        self.track_cleanup(actix_rt::spawn(terminate(conn, grace)));
        if uptime >= Duration::from_millis(self.spec.options.restart_reset_after_ms) {
            self.reset_backoff();
        }
        if !self.stopping && !self.retired {
            self.schedule_restart(ctx);
        }
    }
}

/// Status of this server.
#[derive(Debug, Message)]
#[rtype(result = "ServerStatus")]
pub(crate) struct GetServerStatus;

impl Handler<GetServerStatus> for McpServer {
    type Result = MessageResult<GetServerStatus>;

    fn handle(&mut self, _: GetServerStatus, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.status())
    }
}

/// Terminate the current connection (and process group) and start afresh,
/// with the restart backoff reset. Replies once the old connection is gone
/// and the new one is being started.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), PoolError>")]
pub(crate) struct Restart;

impl Handler<Restart> for McpServer {
    type Result = ResponseActFuture<Self, Result<(), PoolError>>;

    fn handle(&mut self, _: Restart, ctx: &mut Context<Self>) -> Self::Result {
        if self.stopping {
            return Box::pin(fut::ready(Err(PoolError::ShuttingDown)));
        }
        tracing::info!(server = %self.spec.name, "restarting MCP server on request");
        self.cancel_pending(ctx);
        let old = self.conn.take();
        self.generation += 1;
        self.reset_backoff();
        self.set_state(ServerState::Starting);
        let grace = self.spec.options.shutdown_grace();
        Box::pin(
            async move {
                if let Some(conn) = old {
                    terminate(conn, grace).await;
                }
            }
            .into_actor(self)
            .map(|(), act, ctx| {
                if act.stopping {
                    return Err(PoolError::ShuttingDown);
                }
                act.restarts += 1;
                act.connect(ctx, ServerState::Starting);
                Ok(())
            }),
        )
    }
}

/// Terminate the connection and the process group (awaited), then stop the actor.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct StopServer;

impl Handler<StopServer> for McpServer {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: StopServer, ctx: &mut Context<Self>) -> Self::Result {
        self.stopping = true;
        self.cancel_pending(ctx);
        let old = self.conn.take();
        self.generation += 1;
        self.set_state(ServerState::Stopped);
        let cleanups = std::mem::take(&mut self.cleanups);
        let grace = self.spec.options.shutdown_grace();
        let name = self.spec.name.clone();
        Box::pin(
            async move {
                if let Some(conn) = old {
                    terminate(conn, grace).await;
                }
                for cleanup in cleanups {
                    let _ = cleanup.await;
                }
                tracing::info!(server = %name, "MCP server stopped");
            }
            .into_actor(self)
            .map(|(), _, ctx| ctx.stop()),
        )
    }
}
