//! `Dispatcher`: runs the tasks that carry an [`Executor`] by calling that
//! downstream tool through the MCP server pool, within the worker slots.
//! An actor, but a client of the [`Board`] like the edges (`api/`, `mcp/`),
//! so it stands above `board/` rather than in `actors/` beneath it.
//!
//! State: the tasks it holds (task → lease id). It claims with
//! [`Board::claim_next_executor`] (the registry's [`ClaimNextExecutor`]), which
//! takes a slot like any claim and skips tasks whose server cannot take a
//! call right now — starting, restarting or failed, or its breaker rejects
//! calls — read from the pool's state and breaker views, no mailbox hop — so
//! meanwhile its tasks wait, unclaimed, holding no worker slot and burning no
//! attempt. Agents' `claim_next` never hands out an executor task.
//!
//! Outcome of one call:
//!
//! | call | task |
//! |---|---|
//! | result | `complete`, output = `structuredContent` (else the content blocks) |
//! | result with `isError: true` | `fail` with its text (retried while attempts remain) |
//! | not sent (breaker open or probing, server busy or restarting, shutting down) | `release`: the attempt does not count |
//! | sent and failed (transport, timeout, JSON-RPC error), or unknown/disabled server | `fail` (retried while attempts remain) |
//!
//! A result the board refuses (too large, say) fails the task for good with
//! the reason, rather than leaving it to expire and run again.
//!
//! It wakes on every durable board event (coalesced), on a timer (to pick up
//! tasks whose breaker closed again), and when one of its calls ends; it
//! heartbeats the leases it holds so long calls keep them, and abandons a
//! call (cancelling it downstream) once its task ended elsewhere (cancelled,
//! expired, past its `timeout_secs`). A call never outlives the task's
//! execution deadline. It never runs a task twice at once (tasks it holds are
//! excluded from its claims), sends at most one call at a time to a server
//! whose breaker is half-open, and on shutdown gives back the leases it holds
//! (on start, any left by a crash), so a restart of baton costs no attempt.
//!
//! Time: it reads the runtime's [`Clock`] (the board's): breakers are judged,
//! cool-downs kept and a call's execution deadline computed by its `now`, and
//! its look-again interval and lease heartbeats are the clock's timers
//! ([`Clock::sleep`]). With a manual clock it therefore looks again only on
//! board events, when its calls end, and when the clock is advanced.
//!
//! Each completed *pass* — a claim it asked the board for and got an answer
//! to — counts on a `watch` channel ([`WatchPasses`]): a test that must show
//! the dispatcher left a task alone waits for two passes after adding it
//! instead of sleeping.
//!
//! [`ClaimNextExecutor`]: crate::actors::registry::ClaimNextExecutor

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use rmcp::model::CallToolResult;
use tokio::sync::watch;

use crate::board::{Board, Claim, TaskFilter};
use crate::clock::Clock;
use crate::core::table::LeaseRef;
use crate::error::ErrorCode;
use crate::model::{Executor, Millis, TaskId, TaskStatus};
use crate::pool::{BreakerState, CallOptions, PoolError, PoolHandle, ServerState};

/// How often waiting tasks are looked at again without a board event.
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// After a call to a server was not sent (busy, half-open probes in flight,
/// restarting), its tasks are left alone this long (ms): no claim/release churn.
const COOL_DOWN_MS: Millis = 250;

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

/// One call in flight.
struct Running {
    lease: u64,
    server: String,
    handle: SpawnHandle,
}

/// The dispatcher actor.
pub struct Dispatcher {
    board: Board,
    pool: PoolHandle,
    config: DispatcherConfig,
    /// Tasks being run.
    running: HashMap<TaskId, Running>,
    /// A pump is claiming right now.
    pumping: bool,
    /// Another pump was asked for meanwhile.
    again: bool,
    /// Set by the event forwarder; cleared when a pump starts (coalescing).
    wake: Arc<AtomicBool>,
    /// Servers whose last call was not sent, until when (clock ms) to leave them alone.
    cooling: HashMap<String, Millis>,
    /// Shutting down: claim nothing more.
    stopping: bool,
    /// The board's clock.
    clock: Clock,
    /// Passes completed so far (see the module docs).
    passes: watch::Sender<u64>,
}

impl Dispatcher {
    /// A dispatcher over `board`, calling through `pool`, on the board's clock.
    pub fn new(board: Board, pool: PoolHandle, config: DispatcherConfig) -> Self {
        Self {
            clock: board.clock().clone(),
            passes: watch::channel(0).0,
            board,
            pool,
            config,
            running: HashMap::new(),
            pumping: false,
            again: false,
            wake: Arc::new(AtomicBool::new(false)),
            cooling: HashMap::new(),
            stopping: false,
        }
    }

    /// Servers not to call now: one that is starting, restarting or failed
    /// (a call would only wait, holding a slot, or fail), an open breaker, a
    /// half-open one we already probe, or a call just not sent. Their tasks
    /// wait unclaimed, so they hold no slot and burn no attempt.
    fn blocked(&mut self) -> Vec<String> {
        let now = self.clock.now();
        self.cooling.retain(|_, until| *until > now);
        self.pool
            .servers()
            .into_iter()
            .filter(|s| {
                let probing = || self.running.values().any(|r| r.server == *s);
                let not_serving = matches!(
                    self.pool.state(s),
                    Some(ServerState::Starting | ServerState::Restarting | ServerState::Failed)
                );
                not_serving
                    || self.cooling.contains_key(s)
                    || self.pool.breaker(s).is_some_and(|b| {
                        b.rejects_until(now).is_some()
                            || (b.state == BreakerState::HalfOpen && probing())
                    })
            })
            .collect()
    }

    fn pump(&mut self, ctx: &mut Context<Self>) {
        self.wake.store(false, Ordering::SeqCst);
        if self.stopping {
            return;
        }
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
        let exclude: Vec<TaskId> = self.running.keys().cloned().collect();
        let fut = async move { board.claim_next_executor(&worker, blocked, exclude).await };
        ctx.spawn(fut.into_actor(self).map(|res, act, ctx| {
            act.pumping = false;
            act.passes.send_modify(|n| *n += 1);
            match res {
                Ok(Some(claim)) => {
                    act.start(claim, ctx);
                    act.pump(ctx); // claim the next one
                }
                Ok(None) => {}
                Err(e) if e.code() == ErrorCode::NoFreeSlot => {}
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
        let exec = claim.task.executor.clone().filter(|_| !self.stopping);
        let Some(exec) = exec else {
            // shutting down (or, impossibly, not an executor task): give it back
            let board = self.board.clone();
            ctx.spawn(
                async move {
                    let _ = board.release(id.as_str(), LeaseRef::Id(lease)).await;
                }
                .into_actor(self),
            );
            return;
        };
        // the call must end by the task's execution deadline
        let timeout = claim.task.timeout_secs.map(|secs| {
            let end = claim
                .lease
                .claimed_at
                .saturating_add(secs.saturating_mul(1000));
            Duration::from_millis(end.saturating_sub(self.clock.now()).max(1))
        });
        tracing::info!(task = %id, server = %exec.server, tool = %exec.tool, lease, "dispatching");
        let server = exec.server.clone();
        let (board, pool, task) = (self.board.clone(), self.pool.clone(), id.clone());
        let fut = async move { run(&board, &pool, &task, lease, *exec, timeout).await };
        let handle = ctx.spawn(fut.into_actor(self).map(move |(task, cool), act, ctx| {
            act.finished(&task, lease);
            if let Some(server) = cool {
                let until = act.clock.now().saturating_add(COOL_DOWN_MS);
                act.cooling.insert(server, until);
            }
            act.pump(ctx);
        }));
        self.running.insert(
            id,
            Running {
                lease,
                server,
                handle,
            },
        );
    }

    /// Forget a call, if `lease` is still the one we hold for `task`.
    fn finished(&mut self, task: &TaskId, lease: u64) -> Option<Running> {
        if self.running.get(task).is_some_and(|r| r.lease == lease) {
            self.running.remove(task)
        } else {
            None
        }
    }

    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        for (id, r) in &self.running {
            let (board, task, lease) = (self.board.clone(), id.clone(), r.lease);
            let hb = task.clone();
            let fut = async move { board.heartbeat(hb.as_str(), LeaseRef::Id(lease)).await };
            ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
                let Err(e) = res else { return };
                if !task_ended(e.code()) {
                    tracing::warn!(task = %task, error = %e, "dispatcher heartbeat failed");
                    return;
                }
                // cancelled, expired or past its deadline: drop the call (rmcp cancels it downstream)
                if let Some(r) = act.finished(&task, lease) {
                    tracing::info!(task = %task, lease, reason = %e, "task ended elsewhere; call abandoned");
                    ctx.cancel_future(r.handle);
                    act.pump(ctx);
                }
            }));
        }
    }

    /// Run `tick` every `every` of the clock's time, from now on (the next
    /// one is armed when this one fires, as `run_interval` would).
    fn every(
        &mut self,
        ctx: &mut Context<Self>,
        every: Duration,
        tick: fn(&mut Self, &mut Context<Self>),
    ) {
        let timer = self
            .clock
            .sleep(every)
            .into_actor(self)
            .map(move |(), act, ctx| {
                tick(act, ctx);
                act.every(ctx, every, tick);
            });
        ctx.spawn(timer);
    }

    /// Give back every lease held by our worker name (left by a crash).
    fn release_orphans(&mut self, ctx: &mut Context<Self>) {
        let board = self.board.clone();
        let worker = self.config.worker.clone();
        let fut = async move {
            let mut cursor = None;
            let mut released = 0usize;
            loop {
                let page = board
                    .list_tasks(TaskFilter {
                        status: Some(TaskStatus::Running),
                        worker: Some(worker.clone()),
                        cursor,
                        ..TaskFilter::default()
                    })
                    .await?;
                for t in &page.tasks {
                    if let Some(l) = &t.lease {
                        board
                            .release(t.id.as_str(), LeaseRef::Id(l.lease_id))
                            .await?;
                        released += 1;
                    }
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => return Ok::<_, crate::error::Error>(released),
                }
            }
        };
        ctx.wait(fut.into_actor(self).map(|res, _, _| match res {
            Ok(0) => {}
            Ok(n) => tracing::info!(tasks = n, "released executor tasks held before a restart"),
            Err(e) => {
                tracing::warn!(error = %e, "could not release executor tasks held before a restart")
            }
        }));
    }
}

/// Errors that mean the task is no longer ours to settle.
fn task_ended(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::StaleLease
            | ErrorCode::NotLeaseHolder
            | ErrorCode::NotLeaseOwner
            | ErrorCode::TaskNotFound
            | ErrorCode::InvalidStatus
    )
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
    let lease_ref = || LeaseRef::Id(lease);
    let mut cool = None;
    let settled = match outcome {
        Ok(r) if r.is_error != Some(true) => board
            .complete(id.as_str(), lease_ref(), Some(output_of(&r)))
            .await
            .map(drop),
        Ok(r) => board
            .fail(id.as_str(), lease_ref(), error_text(&r), true)
            .await
            .map(drop),
        Err(e) if not_sent(&e) => {
            tracing::info!(task = %id, error = %e, "call not sent; the task waits");
            cool = Some(server);
            board.release(id.as_str(), lease_ref()).await.map(drop)
        }
        Err(e) => board
            .fail(id.as_str(), lease_ref(), e.to_string(), true)
            .await
            .map(drop),
    };
    match settled {
        Ok(()) => {}
        // expired meanwhile, cancelled, or the board is shutting down: nothing to settle
        Err(e) if task_ended(e.code()) || e.code() == ErrorCode::Unavailable => {
            tracing::warn!(task = %id, error = %e, "dispatcher could not settle the task");
        }
        // the board refused the result (too large, say): fail for good, with the reason
        Err(e) => {
            tracing::warn!(task = %id, error = %e, "result not accepted; failing the task");
            let reason = format!("the executor's result was not accepted: {e}");
            if let Err(e) = board.fail(id.as_str(), lease_ref(), reason, false).await {
                tracing::warn!(task = %id, error = %e, "dispatcher could not fail the task");
            }
        }
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
        self.every(ctx, RETRY_EVERY, Self::pump);
        self.every(ctx, self.config.heartbeat_every, Self::heartbeat);
        self.release_orphans(ctx); // ctx.wait: before any claim
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

/// The dispatcher's completed passes (a count that only grows): await a
/// change, or `wait_for(|n| *n >= seen + 2)`, to know it has looked at the
/// board again. The channel closes when the dispatcher stops.
#[derive(Debug, Message)]
#[rtype(result = "watch::Receiver<u64>")]
pub struct WatchPasses;

impl Handler<WatchPasses> for Dispatcher {
    type Result = MessageResult<WatchPasses>;
    fn handle(&mut self, _: WatchPasses, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.passes.subscribe())
    }
}

/// Stop: abandon the calls in flight (cancelled downstream), give their
/// leases back (the tasks are ready again, no attempt spent), stop the actor.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct StopDispatcher;

impl Handler<StopDispatcher> for Dispatcher {
    type Result = AtomicResponse<Self, ()>;
    fn handle(&mut self, _: StopDispatcher, ctx: &mut Context<Self>) -> Self::Result {
        self.stopping = true;
        let held: Vec<(TaskId, u64)> = self
            .running
            .drain()
            .map(|(id, r)| {
                ctx.cancel_future(r.handle);
                (id, r.lease)
            })
            .collect();
        tracing::info!(
            held = held.len(),
            "dispatcher stopping; giving its leases back"
        );
        let board = self.board.clone();
        let fut = async move {
            for (id, lease) in held {
                if let Err(e) = board.release(id.as_str(), LeaseRef::Id(lease)).await {
                    tracing::warn!(task = %id, error = %e, "could not release on shutdown");
                }
            }
        };
        AtomicResponse::new(Box::pin(fut.into_actor(self).map(|(), _, ctx| ctx.stop())))
    }
}
