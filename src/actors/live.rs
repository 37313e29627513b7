//! `Live`: one count of a thing that must not leak. A task context actor
//! and an MCP notification forwarder each hold one for as long as they
//! exist; the counts are the gauges `BoardView` shows. A leaf that imports
//! nothing of baton's, so a context (`context.rs`) reaches it without
//! reaching up into `actors/mod.rs`, which itself names the context's handle.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Counts one live thing (a context actor, an MCP forwarder) for as long as
/// it exists: +1 when made, -1 when dropped, so a leak shows as a gauge
/// that never comes back down.
pub(crate) struct Live(Arc<AtomicUsize>);

impl Live {
    pub(crate) fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
