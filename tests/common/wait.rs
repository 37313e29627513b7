//! Waiting for a condition in a test: poll it every [`POLL_EVERY`] until
//! it holds or a bound passes, then fail with a message that names what was
//! awaited (ractor's `periodic_check` is the model). No test sleeps a fixed
//! time and then asserts; it waits through one of these.
//!
//! A check returns a [`Settled`]: `bool` (holds or not), `Option<T>` (the
//! value once there) or `Result<T, E>` (the value once there; the last
//! `Err` is shown in the failure message, so a check can say what it saw).
//!
//! - [`wait_until`]: an async check, in an async test (most tests);
//! - [`wait_until_sync`]: a plain check, in an async test (yields between polls);
//! - [`block_until`]: a plain check, blocking the thread (`#[test]` functions
//!   and `spawn_blocking`);
//! - [`eventually`]: `wait_until` that returns `false` instead of failing,
//!   for a test that must act (resume a paused process, read a clock)
//!   between the wait and its assertion.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long the helpers wait between two looks at a condition.
pub const POLL_EVERY: Duration = Duration::from_millis(20);

/// What a check returns: whether the condition holds, and what to hand back
/// (or show in the failure message) when it does not.
pub trait Settled {
    /// What the wait returns once the condition holds.
    type Value;
    /// `Ok(value)` once the condition holds; `Err(Some(seen))` or
    /// `Err(None)` while it does not.
    fn settled(self) -> Result<Self::Value, Option<String>>;
}

impl Settled for bool {
    type Value = ();
    fn settled(self) -> Result<(), Option<String>> {
        if self {
            Ok(())
        } else {
            Err(None)
        }
    }
}

impl<T> Settled for Option<T> {
    type Value = T;
    fn settled(self) -> Result<T, Option<String>> {
        self.ok_or(None)
    }
}

impl<T, E: std::fmt::Display> Settled for Result<T, E> {
    type Value = T;
    fn settled(self) -> Result<T, Option<String>> {
        self.map_err(|e| Some(e.to_string()))
    }
}

/// A check that says what it saw: `Ok(())` when `condition` is true, else
/// `Err(seen)` (shown in the failure message of the wait if it is the last).
///
/// `wait_until_sync("2 tasks", t, || { let n = count(); holds(n == 2, format!("{n} tasks")) })`
pub fn holds<D: std::fmt::Display>(condition: bool, seen: D) -> Result<(), D> {
    if condition {
        Ok(())
    } else {
        Err(seen)
    }
}

/// The failure message of a wait for `what` that did not settle in `within`.
fn timed_out(what: &str, within: Duration, last: Option<String>) -> String {
    match last {
        Some(seen) => format!("timed out after {within:?} waiting for: {what}; last seen: {seen}"),
        None => format!("timed out after {within:?} waiting for: {what}"),
    }
}

/// Poll the async `check` until it settles (its value) or `within` has
/// passed (the last thing it said). It is looked at once more after the
/// bound, so a bound never fails a condition that holds.
async fn poll<F, Fut, S>(within: Duration, mut check: F) -> Result<S::Value, Option<String>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
    S: Settled,
{
    let deadline = Instant::now() + within;
    loop {
        let last = match check().await.settled() {
            Ok(value) => return Ok(value),
            Err(last) => last,
        };
        if Instant::now() >= deadline {
            return Err(last);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Wait until the async `check` holds, at most `within`; its value
/// (`()` for a `bool`). Panics with "timed out after … waiting for:
/// `what`" (and the last `Err` the check returned) when it does not.
///
/// `common::wait_until("B follows A", Duration::from_secs(10), || async { .. }).await`
pub async fn wait_until<F, Fut, S>(what: &str, within: Duration, check: F) -> S::Value
where
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
    S: Settled,
{
    match poll(within, check).await {
        Ok(value) => value,
        Err(last) => panic!("{}", timed_out(what, within, last)),
    }
}

/// [`wait_until`] for a plain (not async) check, in an async test: the
/// runtime runs other tasks between two looks.
pub async fn wait_until_sync<S: Settled>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> S,
) -> S::Value {
    wait_until(what, within, || std::future::ready(check())).await
}

/// [`wait_until`] for a plain check on a thread that may block (a
/// `#[test]` function, `spawn_blocking`): sleeps the thread between looks.
pub fn block_until<S: Settled>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> S,
) -> S::Value {
    let deadline = Instant::now() + within;
    loop {
        let last = match check().settled() {
            Ok(value) => return value,
            Err(last) => last,
        };
        if Instant::now() >= deadline {
            panic!("{}", timed_out(what, within, last));
        }
        std::thread::sleep(POLL_EVERY);
    }
}

/// Whether the async `check` holds within `timeout` (polled like
/// [`wait_until`]). For a test that must do something between the wait and
/// its assertion; every other test uses [`wait_until`], whose failure names
/// what it waited for.
pub async fn eventually<F, Fut>(timeout: Duration, f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    poll(timeout, f).await.is_ok()
}
