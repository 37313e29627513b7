//! `Clock`: where the runtime reads the time, and waits for it.
//!
//! Every time-dependent decision of the board — a lease's `expires_at`, whether
//! it has lapsed, an explicit slot's idle expiry, the audit log's `at`, a
//! downstream server's breaker and restart delays, the dispatcher's cool-downs —
//! takes its `now` from the runtime's one [`Clock`], and the pure cores
//! ([`TaskTable`](crate::core::table::TaskTable),
//! [`SlotTable`](crate::core::slots::SlotTable),
//! [`CircuitBreaker`](crate::core::breaker::CircuitBreaker)) get it passed in.
//! In production that is the system clock ([`Clock::system`], the default). A
//! test builds the runtime with a [`Clock::manual`] and moves time forward
//! with [`Clock::advance`], so "the lease lapsed 1 ms ago" is a step it
//! controls, not a sleep it hopes is long enough.
//!
//! The clock lives in the [`Runtime`](crate::Runtime), not in
//! [`Settings`](crate::Settings): settings are configuration that must equal
//! `config/default.toml`, a clock is a dependency handed in by the embedder
//! (`Runtime::start_with_clock`).
//!
//! ## Timers
//!
//! [`Clock::sleep`] and [`Clock::sleep_until`] return a [`Sleep`]: a future
//! that resolves once the clock reads at least its deadline (Unix ms).
//!
//! - On the **system clock** it is a tokio timer: `sleep(d)` waits exactly `d`
//!   of tokio's monotonic time (as `tokio::time::sleep(d)` would), and
//!   `sleep_until(at)` waits until the wall clock reads `at`, arming the timer
//!   again if the wall clock was set back meanwhile.
//! - On a **manual clock** nothing fires by itself: the sleep resolves when
//!   [`Clock::advance`] or [`Clock::advance_to`] moves the clock to or past its
//!   deadline, and wakes it then. [`Clock::timers`] lists the deadlines of the
//!   sleeps still waiting, so a test can see that a timer was armed, check
//!   when it is due (a restart delay, say) and fire exactly that one with
//!   `clock.advance_to(deadline)`. The reads of a [`Clock::stepping`] clock move
//!   its time but wake no sleep; only `advance`/`advance_to` do.
//!
//! A dropped sleep is forgotten (it leaves [`Clock::timers`]), so cancelling
//! an actor's timer (`ctx.cancel_future`) cancels its wait.
//!
//! What waits on the clock: *policy* waits — a downstream server's restart
//! backoff and health-check interval, the delays between retries of an
//! idempotent call, the executor dispatcher's look-again interval, cool-down
//! and lease heartbeats (a breaker's open timeout needs no timer: the breaker
//! compares its `retry_at` with the clock's `now` on the next call). What stays
//! on tokio's time: timeouts that bound real I/O (a request to a downstream
//! server, a child's start-up, a process group's grace period) and measured
//! latencies — a manual clock would otherwise hang a call on a real child
//! until a test advanced it. The lease and slot sweeps and task execution
//! deadlines also fire on tokio's time and read the clock when they fire, so
//! with a manual clock a sweep only finds what the clock says has lapsed.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::model::{now_ms, Millis};

/// The runtime's source of time. Cheap to clone; clones share the time and
/// the timers.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<Manual>>,
    /// How far each read moves a manual clock (0: it stands still).
    step_ms: u64,
}

/// The shared state of a manual clock: its time and its waiting sleeps.
#[derive(Debug, Default)]
struct Manual {
    now: AtomicU64,
    timers: Mutex<Timers>,
}

/// Sleeps waiting on a manual clock, by (deadline, id), with their wakers.
#[derive(Debug, Default)]
struct Timers {
    next_id: u64,
    waiting: BTreeMap<(Millis, u64), Waker>,
}

impl Manual {
    fn new(start: Millis) -> Arc<Self> {
        Arc::new(Self {
            now: AtomicU64::new(start),
            timers: Mutex::default(),
        })
    }

    fn timers(&self) -> std::sync::MutexGuard<'_, Timers> {
        self.timers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wake every sleep whose deadline is at or before the current time.
    fn wake_due(&self) {
        let due: Vec<Waker> = {
            let mut timers = self.timers();
            let now = self.now.load(Ordering::SeqCst);
            let later = timers.waiting.split_off(&(now.saturating_add(1), 0));
            std::mem::replace(&mut timers.waiting, later)
                .into_values()
                .collect()
        };
        due.into_iter().for_each(Waker::wake);
    }
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
            manual: Some(Manual::new(start)),
            step_ms: 0,
        }
    }

    /// A manual clock that also moves `step_ms` forward on every read
    /// (the first read returns `start`). Two reads never agree, so a test
    /// run on it finds every place where one event takes its time from two
    /// reads that a restart could then tell apart — something the real
    /// clock shows only when a millisecond boundary falls in between.
    /// Reads wake no [`Sleep`]; [`Clock::advance`] does.
    pub fn stepping(start: Millis, step_ms: u64) -> Self {
        Self {
            manual: Some(Manual::new(start)),
            step_ms,
        }
    }

    /// The current time in milliseconds since the Unix epoch.
    pub fn now(&self) -> Millis {
        match &self.manual {
            Some(m) if self.step_ms > 0 => m.now.fetch_add(self.step_ms, Ordering::SeqCst),
            Some(m) => m.now.load(Ordering::SeqCst),
            None => now_ms(),
        }
    }

    /// Move a manual clock forward by `by_ms`, wake the sleeps that are due
    /// by then and return the new time; `None` for the system clock (which
    /// cannot be moved).
    pub fn advance(&self, by_ms: u64) -> Option<Millis> {
        let m = self.manual.as_ref()?;
        let now = m
            .now
            .fetch_add(by_ms, Ordering::SeqCst)
            .saturating_add(by_ms);
        m.wake_due();
        Some(now)
    }

    /// Move a manual clock forward to `at` (ms since the Unix epoch; a time
    /// already passed leaves it where it is), wake the sleeps that are due by
    /// then and return the new time; `None` for the system clock.
    pub fn advance_to(&self, at: Millis) -> Option<Millis> {
        let m = self.manual.as_ref()?;
        let now = m.now.fetch_max(at, Ordering::SeqCst).max(at);
        m.wake_due();
        Some(now)
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// A future that resolves once this clock reads at least `at` (ms since
    /// the Unix epoch); at once if it already does. See the module docs for
    /// how each kind of clock fires it.
    pub fn sleep_until(&self, at: Millis) -> Sleep {
        Sleep {
            at,
            kind: match &self.manual {
                Some(m) => SleepKind::Manual {
                    clock: m.clone(),
                    key: None,
                },
                None => SleepKind::Wall { timer: None },
            },
        }
    }

    /// A future that resolves once `d` has passed on this clock: exactly `d`
    /// of tokio's time on the system clock, a deadline of `now + d` (in whole
    /// milliseconds) on a manual one.
    pub fn sleep(&self, d: Duration) -> Sleep {
        match &self.manual {
            None => Sleep {
                at: 0,
                kind: SleepKind::Monotonic {
                    deadline: tokio::time::Instant::now() + d,
                    timer: None,
                },
            },
            Some(_) => {
                let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
                self.sleep_until(self.now().saturating_add(ms))
            }
        }
    }

    /// Deadlines (ms since the Unix epoch) of the sleeps waiting on a manual
    /// clock, earliest first; empty for the system clock. A sleep leaves the
    /// list when it is woken or dropped.
    pub fn timers(&self) -> Vec<Millis> {
        match &self.manual {
            Some(m) => m.timers().waiting.keys().map(|(at, _)| *at).collect(),
            None => Vec::new(),
        }
    }

    /// The earliest of [`Clock::timers`].
    pub fn next_timer(&self) -> Option<Millis> {
        let m = self.manual.as_ref()?;
        let first = m.timers().waiting.keys().next().map(|(at, _)| *at);
        first
    }
}

/// A wait on a [`Clock`], from [`Clock::sleep`] or [`Clock::sleep_until`].
/// `Send`, `'static`; dropping it cancels the wait.
#[derive(Debug)]
#[must_use = "a sleep does nothing unless awaited"]
pub struct Sleep {
    /// Deadline in Unix ms (unused by a monotonic sleep).
    at: Millis,
    kind: SleepKind,
}

#[derive(Debug)]
enum SleepKind {
    /// `sleep(d)` on the system clock: tokio's time (created on first poll,
    /// so building a sleep needs no runtime).
    Monotonic {
        deadline: tokio::time::Instant,
        timer: Option<Pin<Box<tokio::time::Sleep>>>,
    },
    /// `sleep_until(at)` on the system clock.
    Wall {
        timer: Option<Pin<Box<tokio::time::Sleep>>>,
    },
    /// Any sleep on a manual clock; `key` once registered.
    Manual {
        clock: Arc<Manual>,
        key: Option<(Millis, u64)>,
    },
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let at = this.at;
        match &mut this.kind {
            SleepKind::Monotonic { deadline, timer } => timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(*deadline)))
                .as_mut()
                .poll(cx),
            SleepKind::Wall { timer } => loop {
                let now = now_ms();
                if now >= at {
                    return Poll::Ready(());
                }
                let left = Duration::from_millis(at - now);
                match timer {
                    Some(t) if t.is_elapsed() => {
                        // the wall clock is behind tokio's: wait for the rest
                        t.as_mut().reset(tokio::time::Instant::now() + left);
                    }
                    Some(_) => {}
                    None => *timer = Some(Box::pin(tokio::time::sleep(left))),
                }
                if let Some(t) = timer {
                    if t.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            },
            SleepKind::Manual { clock, key } => {
                if clock.now.load(Ordering::SeqCst) >= at {
                    forget(clock, key);
                    return Poll::Ready(());
                }
                let mut timers = clock.timers();
                let k = *key.get_or_insert_with(|| {
                    timers.next_id += 1;
                    (at, timers.next_id)
                });
                timers.waiting.insert(k, cx.waker().clone());
                // an advance between the load above and the lock: it may have
                // woken the due sleeps before this one was registered
                if clock.now.load(Ordering::SeqCst) >= at {
                    timers.waiting.remove(&k);
                    *key = None;
                    return Poll::Ready(());
                }
                Poll::Pending
            }
        }
    }
}

/// Take a manual sleep out of its clock's timers.
fn forget(clock: &Manual, key: &mut Option<(Millis, u64)>) {
    if let Some(k) = key.take() {
        clock.timers().waiting.remove(&k);
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let SleepKind::Manual { clock, key } = &mut self.kind {
            forget(clock, key);
        }
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
        assert_eq!(c.advance_to(2_000), Some(2_000));
        assert_eq!(c.advance_to(1_500), Some(2_000), "never backwards");
        assert!(Clock::system().advance(1).is_none());
        assert!(Clock::system().advance_to(1).is_none());
        assert!(Clock::system().now() > 1_600_000_000_000);
    }

    #[test]
    fn a_stepping_clock_moves_on_every_read() {
        let c = Clock::stepping(1_000, 2);
        assert_eq!((c.now(), c.now(), c.clone().now()), (1_000, 1_002, 1_004));
        assert_eq!(c.advance(10), Some(1_016));
        assert_eq!(c.now(), 1_016);
    }

    /// Poll `fut` once with a waker that counts its wakes.
    fn poll_once(fut: &mut Sleep, wakes: &Arc<AtomicU64>) -> Poll<()> {
        struct Count(Arc<AtomicU64>);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let waker = Waker::from(Arc::new(Count(wakes.clone())));
        Pin::new(fut).poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn a_manual_sleep_fires_when_the_clock_reaches_its_deadline_and_not_before() {
        let c = Clock::manual(1_000);
        let wakes = Arc::new(AtomicU64::new(0));
        let mut s = c.sleep(Duration::from_millis(500));
        assert_eq!(c.timers(), Vec::<Millis>::new(), "armed on first poll");
        assert!(poll_once(&mut s, &wakes).is_pending());
        assert_eq!((c.timers(), c.next_timer()), (vec![1_500], Some(1_500)));

        c.advance(499);
        assert_eq!(wakes.load(Ordering::SeqCst), 0, "1 ms early: not woken");
        assert!(poll_once(&mut s, &wakes).is_pending());
        assert_eq!(c.timers(), vec![1_500], "polled again, still one timer");

        c.advance(1);
        assert_eq!(wakes.load(Ordering::SeqCst), 1, "woken at its deadline");
        assert!(c.timers().is_empty());
        assert!(poll_once(&mut s, &wakes).is_ready());
        // a deadline already passed resolves at once, and registers nothing
        let mut past = c.sleep_until(1_200);
        assert!(poll_once(&mut past, &wakes).is_ready());
        assert!(c.timers().is_empty());
    }

    #[test]
    fn advance_wakes_only_the_due_sleeps_and_a_dropped_sleep_is_forgotten() {
        let c = Clock::manual(0);
        let (w1, w2, w3) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
        );
        let mut a = c.sleep_until(100);
        let mut b = c.sleep_until(300);
        let mut same = c.sleep_until(100);
        for (s, w) in [(&mut a, &w1), (&mut b, &w2), (&mut same, &w3)] {
            assert!(poll_once(s, w).is_pending());
        }
        assert_eq!(c.timers(), vec![100, 100, 300]);
        c.clone().advance_to(250); // a clone moves the same clock
        assert_eq!(
            [&w1, &w2, &w3].map(|w| w.load(Ordering::SeqCst)),
            [1, 0, 1],
            "both sleeps due at 100 woke, the one at 300 did not"
        );
        assert_eq!(c.timers(), vec![300]);
        drop(b);
        assert!(c.timers().is_empty(), "a dropped sleep leaves the timers");
        assert!(poll_once(&mut a, &w1).is_ready() && poll_once(&mut same, &w3).is_ready());
    }

    #[test]
    fn stepping_reads_wake_no_sleep() {
        let c = Clock::stepping(0, 10);
        let w = Arc::new(AtomicU64::new(0));
        let mut s = c.sleep_until(50);
        assert!(poll_once(&mut s, &w).is_pending());
        for _ in 0..10 {
            c.now();
        }
        assert_eq!(
            w.load(Ordering::SeqCst),
            0,
            "reads moved time but woke nothing"
        );
        c.advance(0);
        assert_eq!(w.load(Ordering::SeqCst), 1, "advance wakes what is due");
        assert!(poll_once(&mut s, &w).is_ready());
    }

    #[tokio::test]
    async fn sleeps_on_the_system_clock_wait_on_tokio_time() {
        let c = Clock::system();
        assert!(c.timers().is_empty() && c.next_timer().is_none());
        let t = tokio::time::Instant::now();
        c.sleep(Duration::from_millis(30)).await;
        assert!(
            t.elapsed() >= Duration::from_millis(30),
            "{:?}",
            t.elapsed()
        );
        let at = c.now() + 30;
        c.sleep_until(at).await;
        assert!(c.now() >= at);
        c.sleep_until(0).await; // in the past: at once
    }

    #[tokio::test]
    async fn a_task_sleeping_on_a_manual_clock_wakes_when_another_advances_it() {
        let c = Clock::manual(10_000);
        let sleeper = tokio::spawn({
            let c = c.clone();
            async move {
                c.sleep(Duration::from_secs(60)).await;
                c.now()
            }
        });
        let armed = async {
            while c.next_timer().is_none() {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), armed)
            .await
            .expect("the sleep is armed");
        assert_eq!(c.next_timer(), Some(70_000));
        assert!(!sleeper.is_finished());
        c.advance_to(70_000);
        let woke_at = tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .expect("woken by the advance")
            .expect("task");
        assert_eq!(woke_at, 70_000);
    }
}
