//! `Clock`: where the runtime reads the time.
//!
//! Every time-dependent decision of the board — a lease's `expires_at`, whether
//! it has lapsed, an explicit slot's idle expiry, the audit log's `at` — takes
//! its `now` from the runtime's one [`Clock`], and the pure cores
//! ([`TaskTable`](crate::core::table::TaskTable),
//! [`SlotTable`](crate::core::slots::SlotTable)) get it passed in. In
//! production that is the system clock ([`Clock::system`], the default). A
//! test builds the runtime with a [`Clock::manual`] and moves time forward
//! with [`Clock::advance`], so "the lease lapsed 1 ms ago" is a step it
//! controls, not a sleep it hopes is long enough.
//!
//! The clock lives in the [`Runtime`](crate::Runtime), not in
//! [`Settings`](crate::Settings): settings are configuration that must equal
//! `config/default.toml`, a clock is a dependency handed in by the embedder
//! (`Runtime::start_with_clock`).
//!
//! Timers (the lease and slot sweeps, execution deadlines) still *fire* on
//! tokio's time; they read the clock when they fire. With a manual clock a
//! sweep therefore only finds what the clock says has lapsed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::model::{now_ms, Millis};

/// The runtime's source of time. Cheap to clone; clones share the time.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicU64>>,
    /// How far each read moves a manual clock (0: it stands still).
    step_ms: u64,
}

impl Clock {
    /// Wall-clock time (milliseconds since the Unix epoch).
    pub fn system() -> Self {
        Self {
            manual: None,
            step_ms: 0,
        }
    }

    /// A clock that stands still at `start` (ms since the Unix epoch) until
    /// [`Clock::advance`] moves it.
    pub fn manual(start: Millis) -> Self {
        Self {
            manual: Some(Arc::new(AtomicU64::new(start))),
            step_ms: 0,
        }
    }

    /// A manual clock that also moves `step_ms` forward on every read
    /// (the first read returns `start`). Two reads never agree, so a test
    /// run on it finds every place where one event takes its time from two
    /// reads that a restart could then tell apart — something the real
    /// clock shows only when a millisecond boundary falls in between.
    pub fn stepping(start: Millis, step_ms: u64) -> Self {
        Self {
            manual: Some(Arc::new(AtomicU64::new(start))),
            step_ms,
        }
    }

    /// The current time in milliseconds since the Unix epoch.
    pub fn now(&self) -> Millis {
        match &self.manual {
            Some(t) if self.step_ms > 0 => t.fetch_add(self.step_ms, Ordering::SeqCst),
            Some(t) => t.load(Ordering::SeqCst),
            None => now_ms(),
        }
    }

    /// Move a manual clock forward by `by_ms` and return the new time;
    /// `None` for the system clock (which cannot be moved).
    pub fn advance(&self, by_ms: u64) -> Option<Millis> {
        self.manual
            .as_ref()
            .map(|t| t.fetch_add(by_ms, Ordering::SeqCst).saturating_add(by_ms))
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced_and_clones_share_it() {
        let c = Clock::manual(1_000);
        let d = c.clone();
        assert_eq!(c.now(), 1_000);
        assert_eq!(d.advance(250), Some(1_250));
        assert_eq!(c.now(), 1_250);
        assert!(Clock::system().advance(1).is_none());
        assert!(Clock::system().now() > 1_600_000_000_000);
    }

    #[test]
    fn a_stepping_clock_moves_on_every_read() {
        let c = Clock::stepping(1_000, 2);
        assert_eq!((c.now(), c.now(), c.clone().now()), (1_000, 1_002, 1_004));
        assert_eq!(c.advance(10), Some(1_016));
        assert_eq!(c.now(), 1_016);
    }
}
