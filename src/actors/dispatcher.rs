//! `Dispatcher`: runs the tasks that carry an [`Executor`] by calling that
//! downstream tool through the MCP server pool, within the worker slots.
//!
//! State: the tasks it holds (task → lease id). It claims with
//! [`Board::claim_next_executor`] (the registry's [`ClaimNextExecutor`]), which
//! takes a slot like any claim and skips tasks whose server's breaker rejects
//! calls right now — read from the pool's breaker view, no mailbox hop — so
//! while a breaker is open its tasks wait, unclaimed, instead of burning
//! attempts. Agents' `claim_next` never hands out an executor task.
//!
//! Outcome of one call:
//!
//! | call | task |
//! |---|---|
//! | result | `complete`, output = `structuredContent` (else the content blocks) |
//! | result with `isError: true` | `fail` with its text (retried while attempts remain) |
//! | not sent (breaker open or probing, server busy or restarting, shutting down) | `release`: the attempt does not count |
//! | sent and failed (transport, timeout, JSON-RPC error), or unknown/disabled/failed server | `fail` (retried while attempts remain) |
//!
//! It wakes on every durable board event (coalesced), on a timer (to pick up
//! tasks whose breaker closed again), and when one of its calls ends; it
//! heartbeats the leases it holds so long calls keep them.
//!
//! [`ClaimNextExecutor`]: crate::actors::registry::ClaimNextExecutor

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use rmcp::model::CallToolResult;

use crate::board::{Board, Claim};
use crate::core::table::LeaseRef;
use crate::model::{now_ms, Executor, TaskId};
use crate::pool::{CallOptions, PoolError, PoolHandle};

/// How often waiting tasks are looked at again without a board event.
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// After a call to a server was not sent (busy, half-open probes in flight,
/// restarting), its tasks are left alone this long: no claim/release churn.
const COOL_DOWN: Duration = Duration::from_millis(250);

/// Settings of the dispatcher.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Worker name on its leases and in the audit log.
    pub worker: String,
    /// Calls in flight at most (each also holds a worker slot).
    pub max_in_flight: usize,
    /// Heartbeat interval for the leases it holds.
    pub heartbeat_every: Duration,
}

/// The dispatcher actor.
pub struct Dispatcher {
    board: Board,
    pool: PoolHandle,
    config: DispatcherConfig,
    /// Tasks being run: task → lease id.
    running: HashMap<TaskId, u64>,
    /// A pump is claiming right now.
    pumping: bool,
    /// Another pump was asked for meanwhile.
    again: bool,
    /// Set by the event forwarder; cleared when a pump starts (coalescing).
    wake: Arc<AtomicBool>,
    /// Servers whose last call was not sent, until when to leave them alone.
    cooling: HashMap<String, std::time::Instant>,
}

impl Dispatcher {
    /// A dispatcher over `board`, calling through `pool`.
    pub fn new(board: Board, pool: PoolHandle, config: DispatcherConfig) -> Self {
        Self {
            board,
            pool,
            config,
            running: HashMap::new(),
            pumping: false,
            again: false,
            wake: Arc::new(AtomicBool::new(false)),
            cooling: HashMap::new(),
        }
    }

    /// Servers not to call now: an open breaker, or a call just not sent.
    fn blocked(&mut self) -> Vec<String> {
        let now = now_ms();
        let instant = std::time::Instant::now();
        self.cooling.retain(|_, until| *until > instant);
        self.pool
            .servers()
            .into_iter()
            .filter(|s| {
                self.cooling.contains_key(s)
                    || self
                        .pool
                        .breaker(s)
                        .is_some_and(|b| b.rejects_until(now).is_some())
            })
            .collect()
    }

    fn pump(&mut self, ctx: &mut Context<Self>) {
        self.wake.store(false, Ordering::SeqCst);
        if self.pumping {
            self.again = true;
            return;
        }
        if self.running.len() >= self.config.max_in_flight {
            return;
        }
        self.pumping = true;
        let board = self.board.clone();
        let worker = self.config.worker.clone();
        let blocked = self.blocked();
        let fut = async move { board.claim_next_executor(&worker, blocked).await };
        ctx.spawn(fut.into_actor(self).map(|res, act, ctx| {
            act.pumping = false;
            match res {
                Ok(Some(claim)) => {
                    act.start(claim, ctx);
                    act.pump(ctx); // claim the next one
                }
                Ok(None) => {}
                Err(e) if e.code() == "no_free_slot" => {}
                Err(e) => tracing::warn!(error = %e, "dispatcher claim failed"),
            }
            if std::mem::take(&mut act.again) {
                act.pump(ctx);
            }
        }));
    }

    fn start(&mut self, claim: Claim, ctx: &mut Context<Self>) {
        let id = claim.task.id.clone();
        let lease = claim.lease.lease_id;
        let Some(exec) = claim.task.executor.clone() else {
            // cannot happen (the registry only hands out executor tasks); give it back
            let board = self.board.clone();
            ctx.spawn(
                async move {
                    let _ = board.release(id.as_str(), LeaseRef::Id(lease)).await;
                }
                .into_actor(self),
            );
            return;
        };
        self.running.insert(id.clone(), lease);
        let timeout = claim.task.timeout_secs.map(Duration::from_secs);
        tracing::info!(task = %id, server = %exec.server, tool = %exec.tool, lease, "dispatching");
        let (board, pool) = (self.board.clone(), self.pool.clone());
        let fut = async move { run(&board, &pool, &id, lease, exec, timeout).await };
        ctx.spawn(fut.into_actor(self).map(move |(task, cool), act, ctx| {
            act.running.remove(&task);
            if let Some(server) = cool {
                act.cooling
                    .insert(server, std::time::Instant::now() + COOL_DOWN);
            }
            act.pump(ctx);
        }));
    }

    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        for (id, lease) in &self.running {
            let (board, id, lease) = (self.board.clone(), id.clone(), *lease);
            ctx.spawn(
                async move {
                    if let Err(e) = board.heartbeat(id.as_str(), LeaseRef::Id(lease)).await {
                        tracing::warn!(task = %id, error = %e, "dispatcher heartbeat refused");
                    }
                }
                .into_actor(self),
            );
        }
    }
}

/// Call the executor and settle the task; returns the task id, and the
/// server when the call was not sent (to leave it alone for a moment).
async fn run(
    board: &Board,
    pool: &PoolHandle,
    id: &TaskId,
    lease: u64,
    exec: Executor,
    timeout: Option<Duration>,
) -> (TaskId, Option<String>) {
    let server = exec.server.clone();
    let mut opts = CallOptions::default();
    if let Some(t) = timeout {
        opts = opts.timeout(t);
    }
    let outcome = pool
        .call_tool(&exec.server, &exec.tool, exec.arguments, opts)
        .await;
    let lease = LeaseRef::Id(lease);
    let mut cool = None;
    let settled = match outcome {
        Ok(r) if r.is_error != Some(true) => board
            .complete(id.as_str(), lease, Some(output_of(&r)))
            .await
            .map(drop),
        Ok(r) => board
            .fail(id.as_str(), lease, error_text(&r), true)
            .await
            .map(drop),
        Err(e) if not_sent(&e) => {
            tracing::info!(task = %id, error = %e, "call not sent; the task waits");
            cool = Some(server);
            board.release(id.as_str(), lease).await.map(drop)
        }
        Err(e) => board
            .fail(id.as_str(), lease, e.to_string(), true)
            .await
            .map(drop),
    };
    if let Err(e) = settled {
        // a stale lease (expired meanwhile) or a cancelled task: nothing to settle
        tracing::warn!(task = %id, error = %e, "dispatcher could not settle the task");
    }
    (id.clone(), cool)
}

/// Errors raised before the call reached the server: the task waits.
fn not_sent(e: &PoolError) -> bool {
    matches!(
        e,
        PoolError::BreakerOpen { .. }
            | PoolError::BreakerProbing { .. }
            | PoolError::Busy { .. }
            | PoolError::NotReady { .. }
            | PoolError::ShuttingDown
    )
}

/// A result's output: its structured content, else its content blocks.
fn output_of(r: &CallToolResult) -> serde_json::Value {
    match &r.structured_content {
        Some(v) => v.clone(),
        None => serde_json::json!({
            "content": serde_json::to_value(&r.content).unwrap_or_default()
        }),
    }
}

/// A tool error's text.
fn error_text(r: &CallToolResult) -> String {
    let text: Vec<String> = r
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect();
    if text.is_empty() {
        "the tool returned an error without text".to_owned()
    } else {
        text.join("\n")
    }
}

impl Actor for Dispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // wake on durable board events, coalesced: at most one Pump queued
        let mut rx = self.board.store().subscribe();
        let wake = self.wake.clone();
        let addr = ctx.address();
        ctx.spawn(
            async move {
                loop {
                    match rx.recv().await {
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            if !wake.swap(true, Ordering::SeqCst) && addr.try_send(Pump).is_err() {
                                wake.store(false, Ordering::SeqCst);
                            }
                        }
                        Err(_) => return,
                    }
                }
            }
            .into_actor(self),
        );
        ctx.run_interval(RETRY_EVERY, |act, ctx| act.pump(ctx));
        ctx.run_interval(self.config.heartbeat_every, |act, ctx| act.heartbeat(ctx));
        self.pump(ctx);
    }
}

/// Look for work now.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Pump;

impl Handler<Pump> for Dispatcher {
    type Result = ();
    fn handle(&mut self, _: Pump, ctx: &mut Context<Self>) {
        self.pump(ctx);
    }
}

/// How many calls the dispatcher has in flight.
#[derive(Debug, Message)]
#[rtype(result = "usize")]
pub struct GetInFlight;

impl Handler<GetInFlight> for Dispatcher {
    type Result = usize;
    fn handle(&mut self, _: GetInFlight, _: &mut Context<Self>) -> usize {
        self.running.len()
    }
}

/// Stop claiming and stop the actor (calls in flight are abandoned; their
/// leases expire and the tasks return to ready).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct StopDispatcher;

impl Handler<StopDispatcher> for Dispatcher {
    type Result = ();
    fn handle(&mut self, _: StopDispatcher, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
