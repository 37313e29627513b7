//! `CircuitBreaker`: the health state machine of one downstream MCP server,
//! pure and synchronous (time is passed in, in milliseconds on whatever clock
//! the caller keeps).
//!
//! ```text
//!            failure_threshold consecutive failures
//!   closed ──────────────────────────────────────────▶ open
//!     ▲                                                 │ open_timeout elapsed
//!     │ success_threshold successful probes             ▼ (on the next acquire)
//!     └──────────────────────────────────────────── half_open ──any failure──▶ open
//! ```
//!
//! - **closed** admits every call; a success resets the consecutive-failure count.
//! - **open** admits nothing until `retry_at` (`opened_at + open_timeout`).
//! - **half-open** admits at most `half_open_max_calls` concurrent *probes*;
//!   `success_threshold` successful probes close it, one failure reopens it.
//!
//! Every call holds a [`Permit`] from [`CircuitBreaker::try_acquire`] and
//! reports its outcome with it. Outcomes of calls admitted before the last
//! state change are ignored: a slow success from before the breaker opened
//! cannot close it, and a slow failure from a closed period cannot reopen a
//! breaker that has since recovered.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::Millis;

/// Thresholds of one breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open a closed breaker (at least 1).
    pub failure_threshold: u32,
    /// Successful probes that close a half-open breaker (at least 1).
    pub success_threshold: u32,
    /// How long an open breaker rejects calls before it half-opens.
    pub open_timeout_ms: u64,
    /// Concurrent probes a half-open breaker admits (at least 1).
    pub half_open_max_calls: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            success_threshold: 2,
            open_timeout_ms: 30_000,
            half_open_max_calls: 1,
        }
    }
}

/// Where a breaker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls flow; consecutive failures are counted toward `failure_threshold`.
    Closed,
    /// Calls are rejected until `retry_at`.
    Open,
    /// A few probe calls decide whether to close or reopen.
    HalfOpen,
}

impl BreakerState {
    /// Lowercase name (`closed`, `open`, `half_open`).
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// Admission of one call; hand it back with the call's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    epoch: u64,
    probe: bool,
}

impl Permit {
    /// Whether the call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }
}

/// Why a call was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Open: nothing is admitted before `retry_at`.
    Open {
        /// When the breaker will half-open.
        retry_at: Millis,
    },
    /// Half-open and every probe slot is taken.
    ProbesBusy,
}

/// A copy of a breaker's state and counters, for lock-free readers and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BreakerView {
    /// State as of the last change (an open breaker past `retry_at` half-opens on its next call).
    pub state: BreakerState,
    /// Consecutive failures counted while closed.
    pub consecutive_failures: u32,
    /// Successful probes in the current half-open period.
    pub half_open_successes: u32,
    /// Probes in flight in the current half-open period.
    pub in_flight_probes: u32,
    /// When it opened (while open).
    pub opened_at: Option<Millis>,
    /// When an open breaker half-opens (while open).
    pub retry_at: Option<Millis>,
    /// Times it opened since the last reset.
    pub times_opened: u64,
    /// Successful calls since the last reset.
    pub successes: u64,
    /// Failed calls (and failed health checks) since the last reset.
    pub failures: u64,
    /// Calls rejected since the last reset.
    pub rejected: u64,
}

impl BreakerView {
    /// If a call at `now` must fail fast, the time the breaker will half-open.
    pub fn rejects_until(&self, now: Millis) -> Option<Millis> {
        match (self.state, self.retry_at) {
            (BreakerState::Open, Some(at)) if now < at => Some(at),
            _ => None,
        }
    }
}

/// One downstream server's circuit breaker: counts failures, opens at
/// `failure_threshold`, half-opens at `retry_at` for a few probes. Pure: every method
/// takes the time (`now`, ms) from its caller.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: BreakerState,
    /// Incremented on every state change and on reset; permits of an older epoch are stale.
    epoch: u64,
    consecutive_failures: u32,
    half_open_successes: u32,
    in_flight_probes: u32,
    opened_at: Option<Millis>,
    retry_at: Option<Millis>,
    times_opened: u64,
    successes: u64,
    failures: u64,
    rejected: u64,
}

impl CircuitBreaker {
    /// A closed breaker. Thresholds below 1 are treated as 1.
    pub fn new(config: BreakerConfig) -> Self {
        let config = BreakerConfig {
            failure_threshold: config.failure_threshold.max(1),
            success_threshold: config.success_threshold.max(1),
            half_open_max_calls: config.half_open_max_calls.max(1),
            ..config
        };
        Self {
            config,
            state: BreakerState::Closed,
            epoch: 0,
            consecutive_failures: 0,
            half_open_successes: 0,
            in_flight_probes: 0,
            opened_at: None,
            retry_at: None,
            times_opened: 0,
            successes: 0,
            failures: 0,
            rejected: 0,
        }
    }

    /// The thresholds and timeouts it was made with (after clamping to at least 1).
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// State as of the last change; see [`CircuitBreaker::state_at`].
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// State a call at `now` would find: an open breaker past `retry_at` reads half-open.
    pub fn state_at(&self, now: Millis) -> BreakerState {
        match self.state {
            BreakerState::Open if self.retry_at.is_some_and(|at| now >= at) => {
                BreakerState::HalfOpen
            }
            s => s,
        }
    }

    /// When an open breaker half-opens.
    pub fn retry_at(&self) -> Option<Millis> {
        self.retry_at
    }

    /// Consecutive failures counted while closed.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// Probes in flight in the current half-open period.
    pub fn in_flight_probes(&self) -> u32 {
        self.in_flight_probes
    }

    /// Admit a call at `now`, or say why not.
    pub fn try_acquire(&mut self, now: Millis) -> Result<Permit, Rejection> {
        if self.state == BreakerState::Open {
            match self.retry_at {
                Some(at) if now < at => {
                    self.rejected += 1;
                    return Err(Rejection::Open { retry_at: at });
                }
                _ => self.enter(BreakerState::HalfOpen, now),
            }
        }
        match self.state {
            BreakerState::Closed => Ok(Permit {
                epoch: self.epoch,
                probe: false,
            }),
            BreakerState::HalfOpen if self.in_flight_probes < self.config.half_open_max_calls => {
                self.in_flight_probes += 1;
                Ok(Permit {
                    epoch: self.epoch,
                    probe: true,
                })
            }
            _ => {
                self.rejected += 1;
                Err(Rejection::ProbesBusy)
            }
        }
    }

    /// The admitted call succeeded (the server answered).
    pub fn on_success(&mut self, permit: Permit, now: Millis) {
        if permit.epoch != self.epoch {
            return;
        }
        self.successes += 1;
        match self.state {
            BreakerState::Closed => self.consecutive_failures = 0,
            BreakerState::HalfOpen if permit.probe => {
                self.in_flight_probes = self.in_flight_probes.saturating_sub(1);
                self.half_open_successes += 1;
                if self.half_open_successes >= self.config.success_threshold {
                    self.enter(BreakerState::Closed, now);
                }
            }
            _ => {}
        }
    }

    /// The admitted call failed (transport failure or timeout).
    pub fn on_failure(&mut self, permit: Permit, now: Millis) {
        if permit.epoch != self.epoch {
            return;
        }
        if permit.probe && self.state == BreakerState::HalfOpen {
            self.in_flight_probes = self.in_flight_probes.saturating_sub(1);
        }
        self.record_failure(now);
    }

    /// The admitted call ended without an outcome (its caller went away):
    /// frees its probe slot, counts nothing.
    pub fn on_abandoned(&mut self, permit: Permit) {
        if permit.epoch == self.epoch && permit.probe && self.state == BreakerState::HalfOpen {
            self.in_flight_probes = self.in_flight_probes.saturating_sub(1);
        }
    }

    /// A failure outside any admitted call (a failed health check): counts
    /// toward opening while closed, reopens while half-open, nothing while open.
    pub fn record_failure(&mut self, now: Millis) {
        match self.state {
            BreakerState::Closed => {
                self.failures += 1;
                self.consecutive_failures += 1;
                if self.consecutive_failures >= self.config.failure_threshold {
                    self.enter(BreakerState::Open, now);
                }
            }
            BreakerState::HalfOpen => {
                self.failures += 1;
                self.enter(BreakerState::Open, now);
            }
            BreakerState::Open => {}
        }
    }

    /// Close the breaker and clear every count; outstanding permits become stale.
    pub fn reset(&mut self) {
        let epoch = self.epoch + 1;
        *self = Self::new(self.config);
        self.epoch = epoch;
    }

    /// A copy for readers.
    pub fn view(&self) -> BreakerView {
        BreakerView {
            state: self.state,
            consecutive_failures: self.consecutive_failures,
            half_open_successes: self.half_open_successes,
            in_flight_probes: self.in_flight_probes,
            opened_at: self.opened_at,
            retry_at: self.retry_at,
            times_opened: self.times_opened,
            successes: self.successes,
            failures: self.failures,
            rejected: self.rejected,
        }
    }

    fn enter(&mut self, state: BreakerState, now: Millis) {
        self.state = state;
        self.epoch += 1;
        self.half_open_successes = 0;
        self.in_flight_probes = 0;
        match state {
            BreakerState::Open => {
                self.times_opened += 1;
                self.opened_at = Some(now);
                self.retry_at = Some(now.saturating_add(self.config.open_timeout_ms));
            }
            BreakerState::HalfOpen | BreakerState::Closed => {
                self.opened_at = None;
                self.retry_at = None;
                self.consecutive_failures = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cfg(f: u32, s: u32, open: u64, probes: u32) -> BreakerConfig {
        BreakerConfig {
            failure_threshold: f,
            success_threshold: s,
            open_timeout_ms: open,
            half_open_max_calls: probes,
        }
    }

    #[test]
    fn opens_after_consecutive_failures_and_recovers_through_half_open() {
        let mut b = CircuitBreaker::new(cfg(3, 2, 1_000, 1));
        for t in 0..2 {
            let p = b.try_acquire(t).unwrap();
            b.on_failure(p, t);
        }
        let p = b.try_acquire(2).unwrap();
        b.on_success(p, 2); // resets the count
        for t in 3..6 {
            assert_eq!(b.state(), BreakerState::Closed);
            let p = b.try_acquire(t).unwrap();
            b.on_failure(p, t);
        }
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.retry_at(), Some(1_005));
        assert_eq!(
            b.try_acquire(1_004),
            Err(Rejection::Open { retry_at: 1_005 })
        );
        assert_eq!(b.state_at(1_005), BreakerState::HalfOpen);
        let probe = b.try_acquire(1_005).unwrap();
        assert!(probe.is_probe());
        assert_eq!(b.try_acquire(1_005), Err(Rejection::ProbesBusy));
        b.on_success(probe, 1_006);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.try_acquire(1_007).unwrap();
        b.on_success(probe, 1_008);
        assert_eq!(b.state(), BreakerState::Closed);
        let v = b.view();
        assert_eq!((v.times_opened, v.failures, v.rejected), (1, 5, 2));
    }

    #[test]
    fn a_failed_probe_reopens_and_stale_outcomes_are_ignored() {
        let mut b = CircuitBreaker::new(cfg(1, 1, 100, 2));
        let slow = b.try_acquire(0).unwrap();
        let p = b.try_acquire(0).unwrap();
        b.on_failure(p, 0);
        assert_eq!(b.state(), BreakerState::Open);
        b.on_success(slow, 1); // from before it opened: ignored
        assert_eq!(b.state(), BreakerState::Open);
        let a = b.try_acquire(100).unwrap();
        let c = b.try_acquire(100).unwrap();
        b.on_failure(a, 101);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.retry_at(), Some(201));
        b.on_success(c, 102); // probe of the previous half-open period
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn abandoned_probes_free_their_slot_and_reset_clears_everything() {
        let mut b = CircuitBreaker::new(cfg(1, 1, 10, 1));
        b.record_failure(0);
        assert_eq!(b.state(), BreakerState::Open);
        let p = b.try_acquire(10).unwrap();
        b.on_abandoned(p);
        assert_eq!(b.in_flight_probes(), 0);
        let p = b.try_acquire(11).unwrap();
        b.reset();
        assert_eq!(b.view(), CircuitBreaker::new(cfg(1, 1, 10, 1)).view());
        b.on_failure(p, 12); // stale after the reset
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn views_say_when_to_fail_fast() {
        let mut b = CircuitBreaker::new(cfg(1, 1, 50, 1));
        assert_eq!(b.view().rejects_until(0), None);
        b.record_failure(10);
        let v = b.view();
        assert_eq!(v.rejects_until(59), Some(60));
        assert_eq!(v.rejects_until(60), None);
    }

    #[derive(Debug, Clone, Copy)]
    enum Op {
        Acquire,
        Succeed(usize),
        Fail(usize),
        Abandon(usize),
        Advance(u64),
        HealthFailure,
        Reset,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::Acquire),
            2 => any::<usize>().prop_map(Op::Succeed),
            2 => any::<usize>().prop_map(Op::Fail),
            1 => any::<usize>().prop_map(Op::Abandon),
            2 => (0u64..80).prop_map(Op::Advance),
            1 => Just(Op::HealthFailure),
            1 => Just(Op::Reset),
        ]
    }

    proptest! {
        /// Against a model of periods (a period ends at each state change):
        /// an open breaker admits nothing before its timeout, half-open never
        /// has more than `half_open_max_calls` probes out, a closed breaker
        /// opens only after `failure_threshold` consecutive failures, and a
        /// half-open one closes only after `success_threshold` successful probes.
        #[test]
        fn breaker_invariants(
            f in 1u32..5, s in 1u32..4, open in 1u64..100, probes in 1u32..4,
            ops in prop::collection::vec(op(), 0..300),
        ) {
            let mut b = CircuitBreaker::new(cfg(f, s, open, probes));
            let mut now = 0u64;
            let mut period = 0u64;
            // outstanding permits: (permit, period it was admitted in)
            let mut out: Vec<(Permit, u64)> = Vec::new();
            let mut opened_at: Option<u64> = None;
            let mut consecutive = 0u32;
            let mut probe_successes = 0u32;

            for op in ops {
                let before = b.state();
                let mut failed_now = false;
                let mut probe_succeeded = false;
                match op {
                    Op::Acquire => {
                        let r = b.try_acquire(now);
                        if let Some(at) = opened_at {
                            if now < at + open {
                                prop_assert!(r.is_err(), "admitted while open at {now} (opened {at})");
                            }
                        }
                        if let Ok(p) = r {
                            if b.state() != before { period += 1; probe_successes = 0; }
                            out.push((p, period));
                        } else if b.state() != before {
                            period += 1;
                        }
                    }
                    Op::Succeed(i) | Op::Fail(i) | Op::Abandon(i) if !out.is_empty() => {
                        let (p, at) = out.remove(i % out.len());
                        let current = at == period;
                        match op {
                            Op::Succeed(_) => {
                                b.on_success(p, now);
                                if current && before == BreakerState::Closed { consecutive = 0; }
                                if current && p.is_probe() { probe_succeeded = true; }
                            }
                            Op::Fail(_) => {
                                b.on_failure(p, now);
                                failed_now = current;
                            }
                            _ => b.on_abandoned(p),
                        }
                    }
                    Op::Advance(d) => now += d,
                    Op::HealthFailure => {
                        b.record_failure(now);
                        failed_now = before != BreakerState::Open;
                    }
                    Op::Reset => {
                        b.reset();
                        period += 1;
                        opened_at = None;
                        consecutive = 0;
                        probe_successes = 0;
                        continue;
                    }
                    _ => {}
                }
                if failed_now && before == BreakerState::Closed { consecutive += 1; }
                if probe_succeeded && before == BreakerState::HalfOpen { probe_successes += 1; }
                let after = b.state();
                if after != before && !matches!(op, Op::Acquire) {
                    period += 1;
                }
                match (before, after) {
                    (BreakerState::Closed, BreakerState::Open) => {
                        prop_assert!(consecutive >= f, "opened after {consecutive} < {f} failures");
                    }
                    (BreakerState::HalfOpen, BreakerState::Closed) => {
                        prop_assert!(probe_successes >= s, "closed after {probe_successes} < {s} probes");
                    }
                    _ => {}
                }
                if after != before {
                    consecutive = 0;
                    if after == BreakerState::HalfOpen || before == BreakerState::HalfOpen {
                        probe_successes = 0;
                    }
                }
                opened_at = (after == BreakerState::Open).then(|| opened_at.filter(|_| before == BreakerState::Open).unwrap_or(now));
                if after == BreakerState::HalfOpen {
                    let live = out.iter().filter(|(p, at)| *at == period && p.is_probe()).count();
                    prop_assert!(live as u32 <= probes, "{live} probes out, max {probes}");
                    prop_assert!(b.in_flight_probes() <= probes);
                }
                prop_assert_eq!(after == BreakerState::Open, b.retry_at().is_some());
            }
        }
    }
}
