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
//!
//! [`BoardView`] is the read side the owning actors publish to after each
//! commit, so readers never queue behind writers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use dashmap::DashMap;

use crate::model::TaskId;

pub mod context;
pub mod dispatcher;
pub mod metrics;
pub mod registry;
pub mod resolver;
pub mod slots;

/// Lock-free read views, each written by exactly one actor.
pub struct BoardView {
    counts: [AtomicUsize; 6],
    slots_busy: Arc<AtomicUsize>,
    /// Number of slots configured.
    pub slots_total: u32,
    /// Live task contexts (written by the registry).
    pub contexts: DashMap<TaskId, context::ContextHandle>,
    healthy: AtomicBool,
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
            healthy: AtomicBool::new(true),
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

    /// False once a write failed (the registry then refuses writes).
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    pub(crate) fn set_healthy(&self, ok: bool) {
        self.healthy.store(ok, Ordering::Relaxed);
    }
}
