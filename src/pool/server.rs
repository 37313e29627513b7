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

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use dashmap::DashMap;
use nix::sys::signal::Signal;
use rmcp::model::{ClientRequest, PingRequest, Prompt, Tool};
use rmcp::service::{
    PeerRequestOptions, QuitReason, RoleClient, RunningServiceCancellationToken, ServiceError,
};
use rmcp::Peer;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::client::{self, GatewayClient};
use super::error::PoolError;
use super::process::ProcessGroup;
use super::spec::{ServerSpec, TransportKind};
use super::supervisor::{PromptsRefreshed, ToolsRefreshed};
use super::{backoff, ServerState, ServerStatus};
use crate::config::pool::{RestartPolicy, ServerOptions};
use crate::core::breaker::{
    BreakerConfig, BreakerState, BreakerView, CircuitBreaker, Permit, Rejection,
};
use crate::core::latency::LatencyWindow;
use crate::model::{now_ms, Millis};

/// Extra time, past the grace period, for rmcp's connection task to finish.
const CLOSE_SLACK: Duration = Duration::from_secs(5);

/// One live connection.
struct Connection {
    generation: u64,
    peer: Peer<RoleClient>,
    cancel: Option<RunningServiceCancellationToken>,
    waiter: Option<JoinHandle<()>>,
    group: Option<ProcessGroup>,
    pid: Option<u32>,
    /// The server declared the `prompts` capability.
    has_prompts: bool,
    up_since: Instant,
    up_since_ms: Millis,
    /// Set once [`terminate`] has seen the group gone.
    terminated: bool,
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

/// A list refresh (`tools/list`, `prompts/list`): at most one in flight, and
/// a notification that arrives meanwhile asks for one more afterwards.
#[derive(Debug, Default)]
struct Refresh {
    running: bool,
    again: bool,
}

impl Refresh {
    /// Whether to start a refresh now; if one is running, another is queued.
    fn begin(&mut self) -> bool {
        if self.running {
            self.again = true;
            false
        } else {
            self.running = true;
            true
        }
    }

    /// The running refresh ended; whether another one was asked for meanwhile.
    fn end(&mut self) -> bool {
        self.running = false;
        std::mem::take(&mut self.again)
    }
}

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
}

impl McpServer {
    /// A server that starts connecting when the actor starts. `pool` and
    /// `prompts_pool` receive its tool and prompt lists when they change;
    /// `state_tx` publishes its state; `breakers` is the pool-wide read-side
    /// map, in which this actor writes only its own entry.
    pub(crate) fn new(
        spec: ServerSpec,
        pool: Recipient<ToolsRefreshed>,
        prompts_pool: Recipient<PromptsRefreshed>,
        state_tx: watch::Sender<ServerState>,
        breakers: Arc<DashMap<String, BreakerView>>,
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
        self.last_error_at = Some(now_ms());
    }

    /// Publish the breaker view; log transitions.
    fn breaker_changed(&mut self, before: BreakerState) {
        let view = self.breaker.view();
        let after = view.state;
        if after != before {
            match after {
                BreakerState::Open => tracing::warn!(
                    server = %self.spec.name,
                    retry_at = view.retry_at,
                    failures = view.failures,
                    last_error = self.last_error.as_deref().unwrap_or(""),
                    "circuit breaker opened"
                ),
                BreakerState::HalfOpen => {
                    tracing::info!(server = %self.spec.name, "circuit breaker half-open")
                }
                BreakerState::Closed => {
                    tracing::info!(server = %self.spec.name, "circuit breaker closed")
                }
            }
        }
        self.breakers.insert(self.spec.name.clone(), view);
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
        let handler = GatewayClient::new(ctx.address(), generation);
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
        result: Result<client::Connected, String>,
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
                    up_since: Instant::now(),
                    up_since_ms: now_ms(),
                    terminated: false,
                });
                self.set_tools(tools);
                self.set_prompts(prompts);
                self.set_state(ServerState::Ready);
            }
            Err(e) => {
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
        self.restart_timer = Some(ctx.run_later(delay, |act, ctx| {
            act.restart_timer = None;
            act.connect(ctx, ServerState::Restarting);
        }));
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

    fn set_tools(&mut self, tools: Vec<Tool>) {
        if *self.tools == tools {
            return;
        }
        self.tools = Arc::new(tools);
        self.pool.do_send(ToolsRefreshed {
            server: self.spec.name.clone(),
            tools: self.tools.clone(),
        });
    }

    fn set_prompts(&mut self, prompts: Vec<Prompt>) {
        if *self.prompts == prompts {
            return;
        }
        self.prompts = Arc::new(prompts);
        self.prompts_pool.do_send(PromptsRefreshed {
            server: self.spec.name.clone(),
            prompts: self.prompts.clone(),
        });
    }

    fn refresh_tools(&mut self, ctx: &mut Context<Self>) {
        let Some(conn) = &self.conn else { return };
        if !self.tools_refresh.begin() {
            return;
        }
        let peer = conn.peer.clone();
        let generation = conn.generation;
        let timeout = self.spec.options.request_timeout();
        let fut = async move { tokio::time::timeout(timeout, peer.list_all_tools()).await }
            .into_actor(self)
            .map(move |result, act, ctx| {
                let again = act.tools_refresh.end();
                if act.conn.as_ref().map(|c| c.generation) != Some(generation) {
                    return;
                }
                match result {
                    Ok(Ok(tools)) => {
                        tracing::info!(server = %act.spec.name, tools = tools.len(), "tool list refreshed");
                        act.set_tools(tools);
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(server = %act.spec.name, error = %e, "tools/list failed");
                        act.record_error(format!("tools/list failed: {e}"));
                    }
                    Err(_) => {
                        tracing::warn!(server = %act.spec.name, "tools/list timed out");
                        act.record_error("tools/list timed out".into());
                    }
                }
                if again {
                    act.refresh_tools(ctx);
                }
            });
        ctx.spawn(fut);
    }

    /// Re-list the prompts (after `notifications/prompts/list_changed`);
    /// nothing for a connection without the `prompts` capability.
    fn refresh_prompts(&mut self, ctx: &mut Context<Self>) {
        let Some(conn) = &self.conn else { return };
        if !conn.has_prompts {
            tracing::debug!(server = %self.spec.name, "prompts/list_changed from a server without prompts; ignored");
            return;
        }
        if !self.prompts_refresh.begin() {
            return;
        }
        let peer = conn.peer.clone();
        let generation = conn.generation;
        let timeout = self.spec.options.request_timeout();
        let fut = async move { tokio::time::timeout(timeout, peer.list_all_prompts()).await }
            .into_actor(self)
            .map(move |result, act, ctx| {
                let again = act.prompts_refresh.end();
                if act.conn.as_ref().map(|c| c.generation) != Some(generation) {
                    return;
                }
                match result {
                    Ok(Ok(prompts)) => {
                        tracing::info!(server = %act.spec.name, prompts = prompts.len(), "prompt list refreshed");
                        act.set_prompts(prompts);
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(server = %act.spec.name, error = %e, "prompts/list failed");
                        act.record_error(format!("prompts/list failed: {e}"));
                    }
                    Err(_) => {
                        tracing::warn!(server = %act.spec.name, "prompts/list timed out");
                        act.record_error("prompts/list timed out".into());
                    }
                }
                if again {
                    act.refresh_prompts(ctx);
                }
            });
        ctx.spawn(fut);
    }

    fn ping(&mut self, ctx: &mut Context<Self>) {
        if self.state != ServerState::Ready || self.ping_in_flight {
            return;
        }
        let Some(conn) = &self.conn else { return };
        if self.breaker.state_at(now_ms()) == BreakerState::Open {
            return;
        }
        self.ping_in_flight = true;
        let peer = conn.peer.clone();
        let generation = conn.generation;
        let timeout = self.spec.options.request_timeout();
        let fut = async move {
            let request = ClientRequest::PingRequest(PingRequest::default());
            peer.send_request_with_option(request, PeerRequestOptions::with_timeout(timeout))
                .await?
                .await_response()
                .await
        }
        .into_actor(self)
        .map(move |result, act, _| {
            act.ping_in_flight = false;
            match result {
                // the server answered, even if with an error: it is alive
                Ok(_) | Err(ServiceError::McpError(_)) => {}
                Err(e) if act.conn.as_ref().map(|c| c.generation) == Some(generation) => {
                    tracing::warn!(server = %act.spec.name, error = %e, "health check failed");
                    act.record_error(format!("health check failed: {e}"));
                    let before = act.breaker.state();
                    act.breaker.record_failure(now_ms());
                    act.breaker_changed(before);
                }
                Err(_) => {}
            }
        });
        ctx.spawn(fut);
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

/// Close a connection and terminate its process group: SIGTERM to the group
/// and close the client (stdin), up to `grace` for the group to exit, then
/// SIGKILL; then wait for rmcp's connection task (which reaps the child).
async fn terminate(mut conn: Connection, grace: Duration) {
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

impl Actor for McpServer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let before = self.breaker.state();
        self.breaker_changed(before);
        self.connect(ctx, ServerState::Starting);
        let every = self.spec.options.ping_interval_ms;
        if every > 0 {
            ctx.run_interval(Duration::from_millis(every), |act, ctx| act.ping(ctx));
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

/// What a caller needs to make one admitted call.
#[derive(Debug)]
pub(crate) struct Admission {
    pub(crate) peer: Peer<RoleClient>,
    pub(crate) permit: Permit,
}

/// Ask to make one call: checks the state and the breaker (which may
/// half-open here) and hands out the connection's peer.
#[derive(Debug, Message)]
#[rtype(result = "Result<Admission, PoolError>")]
pub(crate) struct AdmitCall;

impl Handler<AdmitCall> for McpServer {
    type Result = Result<Admission, PoolError>;

    fn handle(&mut self, _: AdmitCall, _: &mut Context<Self>) -> Self::Result {
        let server = self.name().to_owned();
        let peer = match (self.state, &self.conn) {
            // a connection whose rmcp task has ended is about to be reported closed:
            // treat it as restarting rather than hand out a dead peer
            (ServerState::Ready, Some(conn)) if !conn.peer.is_transport_closed() => {
                conn.peer.clone()
            }
            (ServerState::Ready, Some(_)) => {
                return Err(PoolError::NotReady {
                    server,
                    state: ServerState::Restarting,
                    waited_ms: 0,
                })
            }
            (ServerState::Failed, _) => {
                return Err(PoolError::Failed {
                    server,
                    reason: self.last_error.clone().unwrap_or_default(),
                })
            }
            (ServerState::Stopped, _) => return Err(PoolError::ShuttingDown),
            (state, _) => {
                return Err(PoolError::NotReady {
                    server,
                    state,
                    waited_ms: 0,
                })
            }
        };
        let before = self.breaker.state();
        let admitted = self.breaker.try_acquire(now_ms());
        self.breaker_changed(before);
        match admitted {
            Ok(permit) => Ok(Admission { peer, permit }),
            Err(Rejection::Open { retry_at }) => Err(PoolError::BreakerOpen { server, retry_at }),
            Err(Rejection::ProbesBusy) => Err(PoolError::BreakerProbing { server }),
        }
    }
}

/// How an admitted call ended, for the breaker.
#[derive(Debug, Clone)]
pub(crate) enum CallOutcome {
    /// The server answered (a result, `isError` included, or a JSON-RPC error).
    Answered,
    /// Transport failure or timeout.
    Failed(String),
    /// The caller went away before the end.
    Abandoned,
}

/// An admitted call ended.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct CallFinished {
    pub(crate) permit: Permit,
    pub(crate) outcome: CallOutcome,
    pub(crate) latency: Duration,
}

impl Handler<CallFinished> for McpServer {
    type Result = ();

    fn handle(&mut self, msg: CallFinished, _: &mut Context<Self>) {
        let now = now_ms();
        let before = self.breaker.state();
        let micros = u64::try_from(msg.latency.as_micros()).unwrap_or(u64::MAX);
        match msg.outcome {
            CallOutcome::Answered => {
                self.calls += 1;
                self.latency.record(micros);
                self.breaker.on_success(msg.permit, now);
            }
            CallOutcome::Failed(error) => {
                self.calls += 1;
                self.failed_calls += 1;
                self.latency.record(micros);
                self.record_error(error);
                self.breaker.on_failure(msg.permit, now);
            }
            CallOutcome::Abandoned => self.breaker.on_abandoned(msg.permit),
        }
        self.breaker_changed(before);
    }
}

/// The server sent `notifications/tools/list_changed` (from the connection's client handler).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct ToolListChanged {
    /// Connection it came from.
    pub(crate) generation: u64,
}

impl Handler<ToolListChanged> for McpServer {
    type Result = ();

    fn handle(&mut self, msg: ToolListChanged, ctx: &mut Context<Self>) {
        if self.conn.as_ref().map(|c| c.generation) == Some(msg.generation) {
            self.refresh_tools(ctx);
        }
    }
}

/// The server sent `notifications/prompts/list_changed` (from the connection's client handler).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct PromptListChanged {
    /// Connection it came from.
    pub(crate) generation: u64,
}

impl Handler<PromptListChanged> for McpServer {
    type Result = ();

    fn handle(&mut self, msg: PromptListChanged, ctx: &mut Context<Self>) {
        if self.conn.as_ref().map(|c| c.generation) == Some(msg.generation) {
            self.refresh_prompts(ctx);
        }
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
        let uptime = conn.up_since.elapsed();
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
        if !self.stopping {
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

/// Close the breaker and clear its counts.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct ResetBreaker;

impl Handler<ResetBreaker> for McpServer {
    type Result = ();

    fn handle(&mut self, _: ResetBreaker, _: &mut Context<Self>) {
        let before = self.breaker.state();
        self.breaker.reset();
        self.breaker_changed(before);
        tracing::info!(server = %self.spec.name, "circuit breaker reset");
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
