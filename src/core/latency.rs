//! `LatencyWindow`: call latencies over a bounded window of the most recent
//! calls, with nearest-rank percentiles. Pure; durations in microseconds.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Percentiles of a window, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Percentiles {
    /// Median (50th percentile, nearest rank), in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile (nearest rank), in milliseconds.
    pub p95_ms: f64,
    /// 99th percentile (nearest rank), in milliseconds.
    pub p99_ms: f64,
    /// Calls in the window.
    pub samples: usize,
}

/// The last `capacity` latencies.
#[derive(Debug, Clone)]
pub struct LatencyWindow {
    samples: VecDeque<u64>,
    capacity: usize,
}

impl LatencyWindow {
    /// An empty window keeping at most `capacity` samples (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            samples: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// Add a latency, dropping the oldest when full.
    pub fn record(&mut self, micros: u64) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(micros);
    }

    /// How many samples the window holds (at most its capacity).
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the window holds no sample yet (then [`Self::percentiles`] is `None`).
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Nearest-rank percentiles, `None` when empty.
    pub fn percentiles(&self) -> Option<Percentiles> {
        if self.samples.is_empty() {
            return None;
        }
        let mut sorted: Vec<u64> = self.samples.iter().copied().collect();
        sorted.sort_unstable();
        let n = sorted.len();
        let at = |p: usize| {
            let rank = (p * n).div_ceil(100).max(1);
            sorted[rank.min(n) - 1] as f64 / 1000.0
        };
        Some(Percentiles {
            p50_ms: at(50),
            p95_ms: at(95),
            p99_ms: at(99),
            samples: n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nearest_rank_over_the_recent_window() {
        let mut w = LatencyWindow::new(100);
        assert!(w.percentiles().is_none());
        for i in 1..=100 {
            w.record(i * 1000);
        }
        let p = w.percentiles().unwrap();
        assert_eq!(
            (p.p50_ms, p.p95_ms, p.p99_ms, p.samples),
            (50.0, 95.0, 99.0, 100)
        );
        for _ in 0..100 {
            w.record(1000);
        }
        assert_eq!(
            w.percentiles().unwrap().p99_ms,
            1.0,
            "old samples left the window"
        );
    }

    proptest! {
        #[test]
        fn percentiles_are_ordered_and_bounded(
            cap in 1usize..50,
            xs in prop::collection::vec(0u64..10_000_000, 1..200),
        ) {
            let mut w = LatencyWindow::new(cap);
            for x in &xs {
                w.record(*x);
            }
            prop_assert!(w.len() <= cap);
            let p = w.percentiles().unwrap();
            let recent = &xs[xs.len().saturating_sub(cap)..];
            let max = *recent.iter().max().unwrap() as f64 / 1000.0;
            let min = *recent.iter().min().unwrap() as f64 / 1000.0;
            prop_assert!(min <= p.p50_ms && p.p50_ms <= p.p95_ms && p.p95_ms <= p.p99_ms && p.p99_ms <= max);
        }
    }
}
