//! A server's health: the breaker that every call is admitted by and
//! reports to ([`AdmitCall`], [`CallFinished`]), the health checks (a
//! `ping` every `ping_interval_ms`, on the runtime's clock) that count as
//! calls for it, and [`ResetBreaker`]. Every breaker change is published to
//! the pool-wide view that callers read without a mailbox hop.

use std::time::Duration;

use actix::prelude::*;
use rmcp::model::{ClientRequest, PingRequest};
use rmcp::service::{PeerRequestOptions, RoleClient, ServiceError};
use rmcp::Peer;

use super::McpServer;
use crate::core::breaker::{BreakerState, Permit, Rejection};
use crate::pool::error::PoolError;
use crate::pool::state::ServerState;

impl McpServer {
    /// Publish the breaker view; log transitions.
    pub(super) fn breaker_changed(&mut self, before: BreakerState) {
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
        if !self.retired {
            self.breakers.insert(self.spec.name.clone(), view);
        }
    }

    /// A health check every `every` of the clock's time, from now on (the
    /// next one is armed when this one fires, as `run_interval` would).
    pub(super) fn schedule_ping(&mut self, ctx: &mut Context<Self>, every: Duration) {
        let tick = self
            .clock
            .sleep(every)
            .into_actor(self)
            .map(move |(), act, ctx| {
                act.ping(ctx);
                act.schedule_ping(ctx, every);
            });
        ctx.spawn(tick);
    }

    /// One health check: `ping` a ready server whose breaker is not open
    /// (one at a time); a failure other than an error answer counts as a
    /// breaker failure.
    fn ping(&mut self, ctx: &mut Context<Self>) {
        if self.state != ServerState::Ready || self.ping_in_flight {
            return;
        }
        let Some(conn) = &self.conn else { return };
        if self.breaker.state_at(self.clock.now()) == BreakerState::Open {
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
                    let now = act.clock.now();
                    act.breaker.record_failure(now);
                    act.breaker_changed(before);
                }
                Err(_) => {}
            }
        });
        ctx.spawn(fut);
    }
}

/// What a caller needs to make one admitted call.
#[derive(Debug)]
pub(crate) struct Admission {
    /// The connection's peer, to send the call on.
    pub(crate) peer: Peer<RoleClient>,
    /// Hand it back with the outcome ([`CallFinished`]).
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
            (ServerState::Misconfigured, _) => {
                let reason = self.last_error.clone().unwrap_or_default();
                return Err(PoolError::Misconfigured {
                    server,
                    reason: reason
                        .strip_prefix("misconfigured: ")
                        .unwrap_or(&reason)
                        .to_owned(),
                });
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
        let admitted = self.breaker.try_acquire(self.clock.now());
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
    /// The permit [`AdmitCall`] gave.
    pub(crate) permit: Permit,
    /// How it ended.
    pub(crate) outcome: CallOutcome,
    /// How long it took (tokio's time: a measured latency).
    pub(crate) latency: Duration,
}

impl Handler<CallFinished> for McpServer {
    type Result = ();

    fn handle(&mut self, msg: CallFinished, _: &mut Context<Self>) {
        let now = self.clock.now();
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

/// An operator's reset: close the breaker, clear its counts and start the
/// restart backoff over — a server waiting out a restart delay is started
/// now, so the next call does not wait for the old delay.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct ResetBreaker;

impl Handler<ResetBreaker> for McpServer {
    type Result = ();

    fn handle(&mut self, _: ResetBreaker, ctx: &mut Context<Self>) {
        let before = self.breaker.state();
        self.breaker.reset();
        self.breaker_changed(before);
        self.reset_backoff();
        let waiting = self.restart_timer.take();
        if let Some(timer) = waiting {
            ctx.cancel_future(timer);
            self.connect(ctx, ServerState::Restarting);
        }
        tracing::info!(
            server = %self.spec.name,
            restarted_now = waiting.is_some(),
            "circuit breaker and restart backoff reset"
        );
    }
}

/// A reload replaced or removed this server: it finishes the calls it was
/// given and stops writing the pool-wide breaker view (a successor of the
/// same name may own it now). The pool sends [`super::StopServer`] once
/// those calls are done.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Retire;

impl Handler<Retire> for McpServer {
    type Result = ();

    fn handle(&mut self, _: Retire, _: &mut Context<Self>) {
        self.retired = true;
        tracing::info!(server = %self.spec.name, epoch = self.epoch, "MCP server retired by a reload; finishing its calls in flight");
    }
}
