//! The actors. Each file holds one actor, the messages it receives, and its
//! docs (state owned, messages handled, whom it talks to). Each is a thin
//! shell over a pure core in [`crate::core`].
//!
//! | actor | owns |
//! |---|---|
//! | [`registry::TaskRegistry`] | task records, lifecycle, leases (the only writer of task state) |
//! | [`resolver::DependencyResolver`] | the DAG: edges both ways, unmet counts |
//! | [`slots::SlotAllocator`] | the N worker slots |
//! | [`context::TaskContext`] | one per claimed task: its context and deadline |
//! | [`metrics::MetricsCollector`] | per-second series, Prometheus rendering |
//! | [`dispatcher::Dispatcher`] | runs tasks with an executor through the MCP server pool |
//! | [`mailbox::Mailbox`] | messages between workers, tasks and operators, and who read and acknowledged them |
//!
//! [`BoardView`] is the read side the owning actors publish to after each
//! commit, so readers never queue behind writers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use dashmap::DashMap;

use crate::model::TaskId;

pub mod context;
pub mod dispatcher;
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
            started: Instant::now(),
        }
    }

    /// Tasks per status, indexed like [`crate::model::TaskStatus::ALL`].
    pub fn counts(&self) -> [usize; 6] {
        std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed))
    }

    pub(crate) fn set_counts(&self, counts: [usize; 6]) {
        for (a, c) in self.counts.iter().zip(counts) {
            a.store(c, Ordering::Relaxed);
        }
    }

    /// Slots held.
    pub fn slots_busy(&self) -> usize {
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
