//! The actors. Each file holds one actor, the messages it receives, and its
//! docs (state owned, messages handled, whom it talks to). Each is a thin
//! shell over a pure core in [`crate::core`].
//!
//! | actor | owns |
//! |---|---|
//! | [`registry::TaskRegistry`] | task records, lifecycle, leases (the only writer of task state), and the path reservations tied to them |
//! | [`resolver::DependencyResolver`] | the DAG: edges both ways, unmet counts |
//! | [`slots::SlotAllocator`] | the N worker slots |
//! | [`context::TaskContext`] | one per claimed task: its context and deadline |
//! | [`metrics::MetricsCollector`] | per-second series, Prometheus rendering |
//! | [`mailbox::Mailbox`] | messages between workers, tasks and operators, and who read and acknowledged them |
//!
//! The executor [`Dispatcher`](crate::dispatcher::Dispatcher) is an actor
//! too, but a client of the board: it lives above it, in `src/dispatcher.rs`.
//!
//! [`BoardView`] is the read side the owning actors publish to after each
//! commit, so readers never queue behind writers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use dashmap::DashMap;

use crate::model::TaskId;

pub mod context;
mod live;
pub mod mailbox;
pub mod metrics;
pub mod registry;
pub mod resolver;
pub mod slots;

pub(crate) use live::Live;

/// Lock-free read views, each written by exactly one actor.
pub struct BoardView {
    counts: [AtomicUsize; 6],
    slots_busy: Arc<AtomicUsize>,
    /// Number of slots configured.
    pub slots_total: u32,
    /// Live task contexts (written by the registry).
    pub contexts: DashMap<TaskId, context::ContextHandle>,
    /// Context actors alive now (each counts itself until it is dropped):
    /// equals `contexts.len()` once stopped contexts have wound down.
    live_contexts: Arc<AtomicUsize>,
    /// MCP notification forwarders running now (one per session and kind,
    /// ended with the session).
    live_forwarders: Arc<AtomicUsize>,
    /// Why the board stopped taking writes (set once, never cleared).
    unhealthy: std::sync::OnceLock<String>,
    /// Once the store has failed: the counts and slots held of the board
    /// rebuilt from it (what a restart shows), which [`BoardView::counts`]
    /// and [`BoardView::slots_busy`] report from then on instead of the
    /// actors' (set once by the board, never cleared).
    durable: std::sync::OnceLock<([usize; 6], usize)>,
    /// Event streams (`GET /api/v1/events`) open now.
    live_streams: Arc<AtomicUsize>,
    /// When the runtime started.
    pub started: Instant,
}

impl BoardView {
    pub(crate) fn new(slots_total: u32) -> Self {
        Self {
            counts: Default::default(),
            slots_busy: Arc::new(AtomicUsize::new(0)),
            slots_total,
            contexts: DashMap::new(),
            live_contexts: Arc::new(AtomicUsize::new(0)),
            live_forwarders: Arc::new(AtomicUsize::new(0)),
            unhealthy: std::sync::OnceLock::new(),
            durable: std::sync::OnceLock::new(),
            live_streams: Arc::new(AtomicUsize::new(0)),
            started: Instant::now(),
        }
    }

    /// Tasks per status, indexed like [`crate::model::TaskStatus::ALL`]:
    /// the registry's, or once the store has failed and a read noticed,
    /// those of the board rebuilt from the store.
    pub fn counts(&self) -> [usize; 6] {
        if let Some((counts, _)) = self.durable.get() {
            return *counts;
        }
        std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed))
    }

    /// From now on report `counts` and `slots_busy` (those of the board
    /// rebuilt from a failed store) instead of the actors' (first call wins).
    pub(crate) fn set_durable(&self, counts: [usize; 6], slots_busy: usize) {
        let _ = self.durable.set((counts, slots_busy));
    }

    /// Event streams open now (a gauge: `baton_sse_streams`).
    pub fn live_streams(&self) -> usize {
        self.live_streams.load(Ordering::Relaxed)
    }

    /// Count one open event stream for as long as the returned guard lives.
    pub(crate) fn stream_opened(&self) -> Live {
        Live::new(&self.live_streams)
    }

    pub(crate) fn set_counts(&self, counts: [usize; 6]) {
        for (a, c) in self.counts.iter().zip(counts) {
            a.store(c, Ordering::Relaxed);
        }
    }

    /// How many of the `slots_total` worker slots are held right now (task-bound or
    /// explicit holds), as the slot allocator last published, or the rebuilt board's once
    /// the store failed (see [`BoardView::counts`]).
    pub fn slots_busy(&self) -> usize {
        if let Some((_, busy)) = self.durable.get() {
            return *busy;
        }
        self.slots_busy.load(Ordering::Relaxed)
    }

    pub(crate) fn slots_busy_cell(&self) -> Arc<AtomicUsize> {
        self.slots_busy.clone()
    }

    /// Context actors alive now (a gauge: `baton_context_actors`).
    pub fn live_contexts(&self) -> usize {
        self.live_contexts.load(Ordering::Relaxed)
    }

    pub(crate) fn live_contexts_cell(&self) -> Arc<AtomicUsize> {
        self.live_contexts.clone()
    }

    /// MCP notification forwarders running now (a gauge: `baton_mcp_forwarders`).
    pub fn live_forwarders(&self) -> usize {
        self.live_forwarders.load(Ordering::Relaxed)
    }

    pub(crate) fn live_forwarders_cell(&self) -> Arc<AtomicUsize> {
        self.live_forwarders.clone()
    }

    /// False once an actor that owns board state stopped taking writes (a
    /// commit was refused, or a resolver call failed so the registry could
    /// no longer keep the graph consistent).
    pub fn healthy(&self) -> bool {
        self.unhealthy.get().is_none()
    }

    /// Why [`BoardView::healthy`] is false (the first reason given).
    pub fn unhealthy_reason(&self) -> Option<&str> {
        self.unhealthy.get().map(String::as_str)
    }

    pub(crate) fn set_unhealthy(&self, reason: String) {
        let _ = self.unhealthy.set(reason);
    }
}
