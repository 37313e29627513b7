//! How a call (or a prompt get) goes: breaker, readiness, concurrency,
//! admission, the call under its timeout, its outcome and its retries (the
//! steps are in the [module docs](super)). The call runs in the caller's
//! task, so a dropped caller cancels it downstream.
//!
//! Time: the breaker is judged by the runtime's [`Clock`](crate::clock::Clock)
//! and the delays between retries are its timers (policy); the per-attempt
//! timeout, the wait for a starting server within it and the measured
//! latency are tokio's time, because they bound and measure real I/O.

use std::future::Future;
use std::time::Duration;

use actix::Addr;
use backon::Retryable;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, JsonObject,
};
use rmcp::service::{RoleClient, ServiceError};
use rmcp::Peer;
use tokio::sync::watch;
use tokio::time::Instant;

use super::backoff::backoff;
use super::error::PoolError;
use super::server::{Admission, AdmitCall, CallFinished, CallOutcome, McpServer};
use super::shared::{LiveRoute, PoolShared};
use super::state::ServerState;
use crate::core::breaker::Permit;
use crate::error_code::ServiceError as _;

/// How one gateway call may deviate from its server's defaults: retry on transport
/// failure, per-attempt timeout (the default changes nothing).
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

/// `AdmitCall`, safe to cancel: the request runs in a task of its own, so if
/// our caller is dropped while the actor answers, a permit it granted (a
/// half-open probe slot, say) is handed back as an abandoned call instead of
/// leaking and holding the breaker half-open.
async fn admit(addr: &Addr<McpServer>) -> Result<Result<Admission, PoolError>, PoolError> {
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

/// Call `tool` (the server's own name) on `server`: the body of
/// [`PoolHandle::call_tool`](super::PoolHandle::call_tool).
pub(super) async fn call_tool(
    shared: &PoolShared,
    server: &str,
    tool: &str,
    arguments: Option<JsonObject>,
    opts: CallOptions,
) -> Result<CallToolResult, PoolError> {
    let idempotent = opts
        .idempotent
        .unwrap_or_else(|| shared.catalog().idempotent(server, tool));
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
                    CallToolResponse::InputRequired(_) => Err("an input request (input_required)"),
                    _ => Err("a task"),
                })
        }
    };
    request(
        shared,
        server,
        Op::CallTool(tool),
        idempotent,
        opts.timeout,
        send,
    )
    .await
}

/// Get `prompt` (the server's own name) from `server`: the body of
/// [`PoolHandle::get_prompt`](super::PoolHandle::get_prompt).
pub(super) async fn get_prompt(
    shared: &PoolShared,
    server: &str,
    prompt: &str,
    arguments: Option<JsonObject>,
) -> Result<GetPromptResult, PoolError> {
    let mut params = GetPromptRequestParams::new(prompt);
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
                    GetPromptResponse::InputRequired(_) => Err("an input request (input_required)"),
                    _ => Err("an unknown prompts/get answer"),
                })
        }
    };
    request(shared, server, Op::GetPrompt(prompt), true, None, send).await
}

/// One request to `server`, retried after transport failures if
/// `idempotent`; `timeout` per attempt (default: the server's
/// `request_timeout_ms`). `send` makes one attempt on an admitted peer.
async fn request<T, F, Fut>(
    shared: &PoolShared,
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
    let route = shared
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
    let attempt = || attempt(shared, server, &live, op, timeout, &send);
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
    // the delays between attempts are policy: timers of the runtime's clock
    let clock = shared.clock.clone();
    attempt
        .retry(delays)
        .sleep(move |delay| clock.sleep(delay))
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

/// One attempt of a request: steps 1–6 of the module docs.
async fn attempt<T, F, Fut>(
    shared: &PoolShared,
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
    let deadline = Instant::now() + timeout;
    let fail_fast = shared
        .breakers
        .get(server)
        .and_then(|v| v.rejects_until(shared.clock.now()));
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
    deadline: Instant,
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
