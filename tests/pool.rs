//! The downstream MCP server pool against real child processes
//! (`examples/fault_server.rs`): calls through the gateway, the circuit
//! breaker (opens on crashes, fails fast, half-opens, closes), timeouts that
//! cancel downstream, restarts with growing delays, `isError` results that
//! do not trip the breaker, process-group cleanup on crash and shutdown,
//! invalid entries reported by name while the rest run, restart/reset,
//! prompts through the gateway, and streamable HTTP. No mocks; every wait is
//! bounded. Breaker, restart-delay and health-check timing run on a manual
//! [`Clock`] that the tests step (each delay is read off the armed timer and
//! fired by advancing the clock to it) instead of sleeping through it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use baton::error::ServiceError;
use baton::pool::{
    BreakerState, CallOptions, McpPool, PoolError, PoolHandle, PoolSettings, ServerSet,
    ServerState, TransportKind,
};
use baton::Clock;
use rmcp::model::CallToolResult;
use serde_json::{json, Value};

mod common;

use common::{fault_server, wait_until, wait_until_sync};

// ---- helpers -------------------------------------------------------------------------------

/// Lines the pool forwarded from its children's stderr: (server, line).
type Lines = Arc<Mutex<Vec<(String, String)>>>;

fn stderr_lines() -> Lines {
    static LINES: OnceLock<Lines> = OnceLock::new();
    LINES
        .get_or_init(|| {
            use tracing_subscriber::layer::SubscriberExt;
            use tracing_subscriber::util::SubscriberInitExt;
            let lines = Arc::new(Mutex::new(Vec::new()));
            let _ = tracing_subscriber::registry()
                .with(Capture(lines.clone()))
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_test_writer()
                        .with_filter(tracing_subscriber::EnvFilter::from_default_env()),
                )
                .try_init();
            lines
        })
        .clone()
}

use tracing_subscriber::Layer as _;

struct Capture(Lines);

#[derive(Default)]
struct Fields {
    server: String,
    message: String,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "server" => self.server = format!("{value:?}"),
            "message" => self.message = format!("{value:?}"),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "baton::pool::stderr" {
            let mut f = Fields::default();
            event.record(&mut f);
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((f.server, f.message));
        }
    }
}

/// Small timeouts so every test stays within a few seconds.
fn settings() -> PoolSettings {
    PoolSettings {
        request_timeout_ms: 3_000,
        startup_timeout_ms: 5_000,
        ping_interval_ms: 0,
        failure_threshold: 3,
        success_threshold: 2,
        open_timeout_ms: 600,
        half_open_max_calls: 1,
        restart_initial_ms: 50,
        restart_max_ms: 2_000,
        retry_attempts: 1,
        shutdown_grace_ms: 500,
        ..PoolSettings::default()
    }
}

/// One fault_server: its temp dir, control file and start record.
struct Fault {
    _dir: tempfile::TempDir,
    control: PathBuf,
    starts: PathBuf,
}

impl Fault {
    fn new(mode: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let control = dir.path().join("control");
        std::fs::write(&control, mode).expect("control file");
        Fault {
            starts: dir.path().join("starts"),
            control,
            _dir: dir,
        }
    }

    /// The `.mcp.json` entry, with extra environment.
    fn entry(&self, extra: &[(&str, &str)]) -> Value {
        let mut env = json!({
            "FAULT_CONTROL": self.control,
            "FAULT_STARTS": self.starts,
            "FAULT_LOG": "warn",
        });
        for (k, v) in extra {
            env[*k] = json!(v);
        }
        json!({"command": fault_server(), "args": [], "env": env})
    }

    fn set_mode(&self, mode: &str) {
        std::fs::write(&self.control, mode).expect("control file");
    }

    /// `(pid, unix_millis, grandchild_pid)` per start.
    fn starts(&self) -> Vec<(u32, u64, u32)> {
        std::fs::read_to_string(&self.starts)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let f: Vec<u64> = l
                    .split_whitespace()
                    .map(|x| x.parse().expect("number"))
                    .collect();
                (f[0] as u32, f[1], f[2] as u32)
            })
            .collect()
    }
}

fn start(servers: Value, settings: &PoolSettings) -> (PoolHandle, ServerSet) {
    start_clocked(servers, settings, &Clock::system())
}

/// [`start`] on `clock`.
fn start_clocked(
    servers: Value,
    settings: &PoolSettings,
    clock: &Clock,
) -> (PoolHandle, ServerSet) {
    stderr_lines();
    let text = json!({ "mcpServers": servers }).to_string();
    let set = ServerSet::from_json(Path::new("test.json"), &text, settings, |k| {
        std::env::var(k).ok()
    })
    .expect("server file");
    (McpPool::start_with_clock(set.clone(), clock.clone()), set)
}

/// A manual clock at the wall clock's time.
fn manual_clock() -> Clock {
    Clock::manual(baton::model::now_ms())
}

/// Wait until a timer is armed on `clock` (polled), then fire the earliest
/// by advancing the clock to its deadline; returns how far ahead of the
/// clock's time it was (the delay it was armed with, the clock standing
/// still in between).
async fn fire_next_timer(clock: &Clock, what: &str) -> u64 {
    wait_until_sync(what, Duration::from_secs(10), || {
        clock.next_timer().is_some()
    })
    .await;
    let at = clock.next_timer().expect("an armed timer");
    let delay = at.saturating_sub(clock.now());
    clock.advance_to(at);
    delay
}

async fn wait_state(pool: &PoolHandle, server: &str, state: ServerState) {
    let what = format!("{server} to become {state}");
    wait_until(&what, Duration::from_secs(10), || async {
        let status = pool.status().await;
        let now = status.iter().find(|s| s.name == server).map(|s| s.state);
        common::holds(now == Some(state), format!("{status:?}"))
    })
    .await;
}

fn args(v: Value) -> Option<serde_json::Map<String, Value>> {
    v.as_object().cloned()
}

fn text(r: &CallToolResult) -> &str {
    r.content[0].as_text().map_or("", |t| t.text.as_str())
}

/// Running (a zombie is not running).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 1..].trim_start().to_owned()))
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

/// `echo {text}` on `server`.
async fn echo(
    pool: &PoolHandle,
    server: &str,
    text: &str,
    opts: CallOptions,
) -> Result<CallToolResult, PoolError> {
    pool.call_tool(server, "echo", args(json!({ "text": text })), opts)
        .await
}

fn not_idempotent() -> CallOptions {
    CallOptions::default().idempotent(false)
}

// ---- tests ---------------------------------------------------------------------------------

#[actix_rt::test]
async fn echo_through_the_gateway_and_tool_list_changes() {
    let f = Fault::new("ok");
    let (pool, _) = start(json!({ "echo": f.entry(&[]) }), &settings());
    let mut changes = pool.subscribe_changes();
    wait_state(&pool, "echo", ServerState::Ready).await;
    wait_until_sync("tools", Duration::from_secs(5), || pool.tools().len() >= 6).await;
    while changes.try_recv().is_ok() {} // the first listing was a change too

    let echo = pool.tool("echo__echo").expect("echo__echo");
    assert_eq!((echo.server.as_str(), echo.tool.as_str()), ("echo", "echo"));
    assert!(echo.idempotent, "echo has idempotentHint");
    assert_eq!(echo.definition.name, "echo__echo");
    assert!(!pool.tool("echo__crash").expect("crash").idempotent);
    assert_eq!(
        pool.resolve("echo__echo"),
        Some(("echo".into(), "echo".into()))
    );

    let r = pool
        .call(
            "echo__echo",
            args(json!({"text": "hi"})),
            CallOptions::default(),
        )
        .await
        .expect("echo");
    assert_eq!((text(&r), r.is_error), ("hi", Some(false)));
    let r = pool
        .call_tool(
            "echo",
            "fail",
            args(json!({"message": "boom"})),
            CallOptions::default(),
        )
        .await
        .expect("a tool error is a result");
    assert_eq!((text(&r), r.is_error), ("boom", Some(true)));

    // add_tool sends tools/list_changed: the pool re-lists and announces it
    pool.call_tool(
        "echo",
        "add_tool",
        args(json!({"name": "extra"})),
        CallOptions::default(),
    )
    .await
    .expect("add_tool");
    let changed = tokio::time::timeout(Duration::from_secs(5), changes.recv())
        .await
        .expect("a change is announced")
        .expect("change");
    assert_eq!(changed.server, "echo");
    let r = pool
        .call(
            "echo__extra",
            args(json!({"text": "x"})),
            CallOptions::default(),
        )
        .await
        .expect("the new tool is callable");
    assert_eq!(text(&r), "x");

    assert!(matches!(
        pool.call("nope__echo", None, CallOptions::default()).await,
        Err(PoolError::UnknownTool { .. })
    ));
    assert!(matches!(
        pool.call_tool("nope", "echo", None, CallOptions::default())
            .await,
        Err(PoolError::UnknownServer { .. })
    ));

    let status = pool.status().await;
    let s = &status[0];
    assert_eq!(
        (s.name.as_str(), s.state, s.transport, s.tools),
        ("echo", ServerState::Ready, Some(TransportKind::Stdio), 7)
    );
    assert_eq!(s.breaker.state, BreakerState::Closed);
    assert!(s.calls >= 3 && s.latency.is_some(), "{s:?}");
    assert!(s.pid.is_some());
    let lines = stderr_lines();
    wait_until_sync(
        "the child's stderr in the log",
        Duration::from_secs(5),
        || {
            lines
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|(server, line)| {
                    server == "echo" && line.contains("fault_server started pid=")
                })
        },
    )
    .await;
    pool.shutdown().await;
}

#[actix_rt::test]
async fn prompts_through_the_gateway() {
    let f = Fault::new("ok");
    let (pool, _) = start(json!({ "echo": f.entry(&[]) }), &settings());
    let mut changes = pool.subscribe_prompt_changes();
    wait_state(&pool, "echo", ServerState::Ready).await;
    wait_until_sync("prompts", Duration::from_secs(5), || {
        !pool.prompts().is_empty()
    })
    .await;
    let changed = tokio::time::timeout(Duration::from_secs(5), changes.recv())
        .await
        .expect("the first listing is announced")
        .expect("change");
    assert_eq!(changed.server, "echo");

    let prompts = pool.prompts();
    assert_eq!(prompts.len(), 1, "{prompts:?}");
    let greet = &prompts[0];
    assert_eq!(
        (
            greet.name.as_str(),
            greet.server.as_str(),
            greet.prompt.as_str()
        ),
        ("echo__greet", "echo", "greet")
    );
    assert_eq!(greet.definition.name, "echo__greet");
    assert_eq!(pool.prompt("echo__greet").as_ref(), Some(greet));
    assert_eq!(
        pool.resolve_prompt("echo__greet"),
        Some(("echo".into(), "greet".into()))
    );
    // tools and prompts are named apart
    assert_eq!(pool.resolve_prompt("echo__echo"), None);
    assert_eq!(pool.resolve("echo__greet"), None);

    let r = pool
        .get_prompt("echo__greet", args(json!({"name": "Ada"})))
        .await
        .expect("greet");
    assert_eq!(r.messages.len(), 1, "{r:?}");
    assert_eq!(r.messages[0].role, rmcp::model::Role::User);
    assert_eq!(
        r.messages[0].content.as_text().map(|t| t.text.as_str()),
        Some("Hello, Ada!")
    );
    // the server's own refusal is a downstream error, and not a breaker failure
    assert!(matches!(
        pool.get_prompt("echo__greet", None).await,
        Err(PoolError::Downstream { .. })
    ));
    let unknown = pool.get_prompt("echo__nope", None).await;
    assert!(
        matches!(&unknown, Err(PoolError::UnknownPrompt { name }) if name == "echo__nope"),
        "{unknown:?}"
    );
    assert_eq!(
        unknown.err().map(|e| e.error_code().as_str()),
        Some("unknown_prompt")
    );

    let status = pool.status().await;
    assert_eq!((status[0].prompts, status[0].tools), (1, 6), "{status:?}");
    assert_eq!(status[0].breaker.state, BreakerState::Closed);
    assert!(status[0].calls >= 2, "{status:?}");
    pool.shutdown().await;
}

#[actix_rt::test]
async fn breaker_opens_on_crashes_fails_fast_half_opens_and_closes() {
    let f = Fault::new("crash");
    let clock = manual_clock();
    let (pool, _) = start_clocked(json!({ "flaky": f.entry(&[]) }), &settings(), &clock);

    // failure_threshold = 3 calls, each crashing a fresh child mid-call
    for i in 0..3 {
        if i > 0 {
            fire_next_timer(&clock, "the restart delay").await;
        }
        wait_until_sync("the next child", Duration::from_secs(5), || {
            f.starts().len() == i + 1
        })
        .await;
        wait_state(&pool, "flaky", ServerState::Ready).await;
        let r = echo(&pool, "flaky", "x", not_idempotent()).await;
        assert!(
            matches!(r, Err(PoolError::Transport { .. })),
            "call {i}: {r:?}"
        );
    }
    wait_until_sync("the breaker to open", Duration::from_secs(2), || {
        pool.breaker("flaky").map(|b| b.state) == Some(BreakerState::Open)
    })
    .await;
    let view = pool.breaker("flaky").expect("view");
    let retry_at = view.retry_at.expect("retry_at");
    assert_eq!(view.times_opened, 1);

    // while open: fail fast, and nothing reaches the (crash-mode) child
    // (the restart delay, at most 400 ms, ends before the 600 ms open timeout)
    fire_next_timer(&clock, "the restart delay").await;
    assert!(clock.now() < retry_at);
    wait_until_sync("the restart", Duration::from_secs(5), || {
        f.starts().len() == 4
    })
    .await;
    wait_state(&pool, "flaky", ServerState::Ready).await;
    let starts = f.starts().len();
    let calls = pool.server_status("flaky").await.expect("status").calls;
    for _ in 0..5 {
        let t = Instant::now();
        let r = echo(&pool, "flaky", "x", not_idempotent()).await;
        match r {
            Err(e @ PoolError::BreakerOpen { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("'flaky'") && msg.contains("resume after"),
                    "{msg}"
                );
            }
            other => panic!("expected BreakerOpen, got {other:?}"),
        }
        assert!(
            t.elapsed() < Duration::from_millis(50),
            "fail fast: {:?}",
            t.elapsed()
        );
    }
    // a status round trip through the server's mailbox: it has handled
    // everything sent to it before, and counted no call
    let status = pool.server_status("flaky").await.expect("status");
    assert_eq!(
        (status.calls, status.state),
        (calls, ServerState::Ready),
        "{status:?}"
    );
    assert_eq!(
        f.starts().len(),
        starts,
        "a rejected call reached the child"
    );

    // after open_timeout: half-open; one probe at a time
    f.set_mode("slow:300");
    clock.advance_to(retry_at - 1);
    let early = echo(&pool, "flaky", "x", not_idempotent()).await;
    assert!(
        matches!(early, Err(PoolError::BreakerOpen { .. })),
        "1 ms before retry_at: {early:?}"
    );
    clock.advance_to(retry_at);
    let (probe, second) = tokio::join!(echo(&pool, "flaky", "probe", not_idempotent()), async {
        wait_until_sync("the probe in flight", Duration::from_secs(2), || {
            pool.breaker("flaky").map(|b| b.in_flight_probes) == Some(1)
        })
        .await;
        echo(&pool, "flaky", "2", not_idempotent()).await
    });
    assert_eq!(text(&probe.expect("probe")), "probe");
    assert!(
        matches!(second, Err(PoolError::BreakerProbing { .. })),
        "{second:?}"
    );
    wait_until_sync("one successful probe", Duration::from_secs(2), || {
        pool.breaker("flaky")
            .map(|b| (b.state, b.half_open_successes))
            == Some((BreakerState::HalfOpen, 1))
    })
    .await;

    // success_threshold = 2: the second successful probe closes it
    f.set_mode("ok");
    echo(&pool, "flaky", "x", not_idempotent())
        .await
        .expect("second probe");
    wait_until_sync("the breaker to close", Duration::from_secs(2), || {
        pool.breaker("flaky").map(|b| b.state) == Some(BreakerState::Closed)
    })
    .await;
    pool.shutdown().await;
}

#[actix_rt::test]
async fn hung_and_dropped_calls_are_cancelled_downstream_and_the_next_call_works() {
    let f = Fault::new("ok");
    let s = PoolSettings {
        request_timeout_ms: 400,
        ..settings()
    };
    // rmcp's server logs every notifications/cancelled it receives at info
    let (pool, _) = start(
        json!({ "hang": f.entry(&[("FAULT_LOG", "info,rmcp=info")]) }),
        &s,
    );
    wait_state(&pool, "hang", ServerState::Ready).await;
    let cancelled = || {
        stderr_lines()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(server, line)| {
                server == "hang"
                    && line.contains("cancelled id=")
                    && line.contains("abandoned by the caller")
            })
            .count()
    };

    let t = Instant::now();
    let r = pool
        .call_tool("hang", "hang", None, CallOptions::default())
        .await;
    let took = t.elapsed();
    assert!(
        matches!(r, Err(PoolError::Timeout { after_ms: 400, .. })),
        "{r:?}"
    );
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(1_500),
        "{took:?}"
    );
    wait_until_sync(
        "the server to see the cancellation",
        Duration::from_secs(5),
        || cancelled() >= 1,
    )
    .await;
    let r = echo(&pool, "hang", "after", CallOptions::default())
        .await
        .expect("the next call works");
    assert_eq!(text(&r), "after");

    // a caller that gives up (drops the future) cancels downstream too, and is not a failure
    let failures = pool.breaker("hang").expect("view").failures;
    assert_eq!(failures, 1, "the timeout counted");
    let dropped = tokio::time::timeout(
        Duration::from_millis(100),
        pool.call_tool("hang", "hang", None, CallOptions::default()),
    )
    .await;
    assert!(dropped.is_err(), "still hanging when dropped");
    wait_until_sync("the second cancellation", Duration::from_secs(5), || {
        cancelled() >= 2
    })
    .await;
    // the dropped call's end was sent to the server before this round trip
    // through its mailbox, so its breaker view is up to date after it
    pool.status().await;
    let view = pool.breaker("hang").expect("view");
    assert_eq!((view.failures, view.in_flight_probes), (1, 0), "{view:?}");
    pool.shutdown().await;
}

#[actix_rt::test]
async fn a_crashing_child_is_restarted_with_growing_delays() {
    let f = Fault::new("exit-at-start");
    let s = PoolSettings {
        restart_initial_ms: 100,
        restart_max_ms: 5_000,
        ..settings()
    };
    let clock = manual_clock();
    let (pool, _) = start_clocked(json!({ "crashy": f.entry(&[]) }), &s, &clock);
    // each restart delay is a timer of the clock: read it off the armed timer
    // (the clock stands still between a failed start and its restart) and fire it
    let mut gaps: Vec<u64> = Vec::new();
    for i in 0..4 {
        wait_until_sync("the next start", Duration::from_secs(10), || {
            f.starts().len() == i + 1
        })
        .await;
        gaps.push(fire_next_timer(&clock, "the restart delay").await);
    }
    wait_until_sync("five starts", Duration::from_secs(10), || {
        f.starts().len() >= 5
    })
    .await;
    // delays 100·2^i plus up to 100% jitter (on the clock: no time to spawn and fail)
    for (i, gap) in gaps.iter().take(4).enumerate() {
        let low = 100u64 << i;
        assert!(
            *gap >= low && *gap < 2 * low + 400,
            "restart {i}: gap {gap} ms not in [{low}, {}): {gaps:?}",
            2 * low + 400
        );
    }
    assert!(gaps[3] > gaps[0] * 2, "delays grow: {gaps:?}");
    let status = pool.status().await;
    assert!(status[0].restarts >= 4, "{status:?}");
    assert!(
        status[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("start failed")),
        "{status:?}"
    );

    // it recovers once the fault is gone
    f.set_mode("ok");
    fire_next_timer(&clock, "the restart delay").await;
    wait_state(&pool, "crashy", ServerState::Ready).await;
    let r = echo(&pool, "crashy", "up", CallOptions::default())
        .await
        .expect("echo after recovery");
    assert_eq!(text(&r), "up");
    pool.shutdown().await;
}

#[actix_rt::test]
async fn failed_health_checks_open_the_breaker() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let f = Fault::new("ok");
    let s = PoolSettings {
        ping_interval_ms: 100,
        request_timeout_ms: 200,
        failure_threshold: 2,
        open_timeout_ms: 60_000,
        ..settings()
    };
    let clock = manual_clock();
    let (pool, _) = start_clocked(json!({ "pinged": f.entry(&[]) }), &s, &clock);
    wait_state(&pool, "pinged", ServerState::Ready).await;
    let pid = Pid::from_raw(f.starts()[0].0 as i32);
    // a stopped process answers nothing: every ping times out (after 200 ms of real time)
    kill(pid, Signal::SIGSTOP).expect("SIGSTOP our child");
    // (a bool, not a panic: the child is resumed before the assertion)
    let opened = common::eventually(Duration::from_secs(5), || async {
        // the health-check interval is a timer of the clock: fire the next check
        fire_next_timer(&clock, "the next health check").await;
        pool.breaker("pinged").map(|b| b.state) == Some(BreakerState::Open)
    })
    .await;
    kill(pid, Signal::SIGCONT).expect("SIGCONT our child");
    assert!(opened, "failed pings did not open the breaker");
    let status = pool.status().await;
    assert_eq!(status[0].calls, 0, "no call was made");
    assert!(status[0].breaker.failures >= 2, "{status:?}");
    assert!(
        status[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("health check failed")),
        "{status:?}"
    );
    pool.shutdown().await;
}

#[actix_rt::test]
async fn is_error_results_do_not_trip_the_breaker() {
    let f = Fault::new("error");
    let s = PoolSettings {
        failure_threshold: 2,
        ..settings()
    };
    let (pool, _) = start(json!({ "errs": f.entry(&[]) }), &s);
    wait_state(&pool, "errs", ServerState::Ready).await;
    for _ in 0..6 {
        let r = echo(&pool, "errs", "x", CallOptions::default())
            .await
            .expect("a tool error is a result");
        assert_eq!(r.is_error, Some(true));
    }
    wait_until_sync("six answered calls", Duration::from_secs(2), || {
        pool.breaker("errs").map(|b| b.successes) == Some(6)
    })
    .await;
    let view = pool.breaker("errs").expect("view");
    assert_eq!((view.state, view.failures), (BreakerState::Closed, 0));
    pool.shutdown().await;
}

#[actix_rt::test]
async fn idempotent_calls_are_retried_after_transport_failures_and_others_are_not() {
    let f = Fault::new("crash");
    let s = PoolSettings {
        retry_attempts: 3,
        retry_initial_ms: 20,
        failure_threshold: 10,
        ..settings()
    };
    let (pool, _) = start(json!({ "retry": f.entry(&[]) }), &s);
    wait_state(&pool, "retry", ServerState::Ready).await;
    // echo is idempotent (its idempotentHint): three attempts, three crashed children
    let r = echo(&pool, "retry", "x", CallOptions::default()).await;
    assert!(matches!(r, Err(PoolError::Transport { .. })), "{r:?}");
    wait_until_sync("three restarts", Duration::from_secs(5), || {
        f.starts().len() == 4
    })
    .await;
    wait_state(&pool, "retry", ServerState::Ready).await;
    // the caller says it is not: one attempt
    let r = echo(&pool, "retry", "x", not_idempotent()).await;
    assert!(matches!(r, Err(PoolError::Transport { .. })), "{r:?}");
    wait_until_sync("one more restart", Duration::from_secs(5), || {
        f.starts().len() == 5
    })
    .await;
    wait_state(&pool, "retry", ServerState::Ready).await;
    // a round trip through the server's mailbox: nothing more was sent to it
    pool.status().await;
    assert_eq!(f.starts().len(), 5, "not retried");
    wait_until_sync("four failures counted", Duration::from_secs(2), || {
        pool.breaker("retry").map(|b| b.failures) == Some(4)
    })
    .await;
    pool.shutdown().await;
}

#[actix_rt::test]
async fn a_call_over_max_concurrent_calls_is_refused_busy() {
    let f = Fault::new("slow:300");
    let s = PoolSettings {
        max_concurrent_calls: 1,
        ..settings()
    };
    let (pool, _) = start(json!({ "busy": f.entry(&[]) }), &s);
    wait_state(&pool, "busy", ServerState::Ready).await;
    let (first, second) = tokio::join!(echo(&pool, "busy", "1", CallOptions::default()), async {
        wait_until_sync(
            "the first call to hold the slot",
            Duration::from_secs(2),
            || pool.calls_in_flight("busy") == Some(1),
        )
        .await;
        echo(&pool, "busy", "2", CallOptions::default()).await
    });
    assert_eq!(text(&first.expect("first")), "1");
    assert!(
        matches!(second, Err(PoolError::Busy { limit: 1, .. })),
        "{second:?}"
    );
    let r = echo(&pool, "busy", "3", CallOptions::default())
        .await
        .expect("a slot is free again");
    assert_eq!(text(&r), "3");
    pool.shutdown().await;
}

#[actix_rt::test]
async fn crash_and_shutdown_leave_no_process_of_the_groups_behind() {
    let a = Fault::new("ok");
    let b = Fault::new("ok");
    let gc = [("FAULT_GRANDCHILD", "1")];
    let (pool, _) = start(
        json!({ "ga": a.entry(&gc), "gb": b.entry(&gc) }),
        &settings(),
    );
    wait_state(&pool, "ga", ServerState::Ready).await;
    wait_state(&pool, "gb", ServerState::Ready).await;
    let (pid, _, grandchild) = a.starts()[0];
    assert!(grandchild > 0 && running(pid) && running(grandchild));

    // a crash: the child exits, its grandchild is terminated with the group, a new child starts
    let r = pool
        .call_tool("ga", "crash", None, CallOptions::default())
        .await;
    assert!(matches!(r, Err(PoolError::Transport { .. })), "{r:?}");
    wait_until_sync("the old group to be gone", Duration::from_secs(5), || {
        !running(pid) && !running(grandchild)
    })
    .await;
    wait_until_sync("a new child", Duration::from_secs(5), || {
        a.starts().len() == 2
    })
    .await;
    wait_state(&pool, "ga", ServerState::Ready).await;

    let pids: Vec<u32> = [a.starts(), b.starts()]
        .iter()
        .map(|s| *s.last().expect("a start"))
        .flat_map(|(p, _, g)| [p, g])
        .collect();
    assert!(pids.iter().all(|p| running(*p)), "{pids:?}");
    let t = Instant::now();
    pool.shutdown().await;
    let alive: Vec<u32> = pids.iter().copied().filter(|p| running(*p)).collect();
    assert!(alive.is_empty(), "still running after shutdown: {alive:?}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[actix_rt::test]
async fn invalid_entries_are_reported_by_name_and_the_rest_run() {
    let f = Fault::new("ok");
    let (pool, set) = start(
        json!({
            "good": f.entry(&[]),
            "bad name!": {"command": "true"},
            "unset": {"command": "x", "env": {"T": "${BATON_POOL_TEST_SURELY_UNSET}"}},
            "off": {"command": "x", "disabled": true},
        }),
        &settings(),
    );
    let issues: Vec<String> = set.issues.iter().map(|i| i.to_string()).collect();
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert!(issues
        .iter()
        .any(|i| i.contains("'bad name!'") && i.contains("invalid server name")));
    assert!(issues
        .iter()
        .any(|i| i.contains("'unset'") && i.contains("BATON_POOL_TEST_SURELY_UNSET")));
    assert_eq!(pool.issues().len(), 2);

    wait_state(&pool, "good", ServerState::Ready).await;
    let r = pool
        .call(
            "good__echo",
            args(json!({"text": "ok"})),
            CallOptions::default(),
        )
        .await
        .expect("the valid server runs");
    assert_eq!(text(&r), "ok");
    let status = pool.status().await;
    let state = |n: &str| status.iter().find(|s| s.name == n).map(|s| s.state);
    assert_eq!(state("bad name!"), Some(ServerState::Invalid));
    assert_eq!(state("unset"), Some(ServerState::Invalid));
    assert_eq!(state("off"), Some(ServerState::Disabled));
    assert_eq!(state("good"), Some(ServerState::Ready));
    assert!(matches!(
        pool.call_tool("off", "echo", None, CallOptions::default())
            .await,
        Err(PoolError::Disabled { .. })
    ));
    assert!(matches!(
        pool.restart("off").await,
        Err(PoolError::Disabled { .. })
    ));
    pool.shutdown().await;
}

#[actix_rt::test]
async fn restart_replaces_the_process_and_reset_closes_the_breaker() {
    let f = Fault::new("hang");
    let s = PoolSettings {
        request_timeout_ms: 300,
        failure_threshold: 1,
        open_timeout_ms: 60_000,
        ..settings()
    };
    let (pool, _) = start(json!({ "rr": f.entry(&[("FAULT_GRANDCHILD", "1")]) }), &s);
    wait_state(&pool, "rr", ServerState::Ready).await;
    let r = pool.call_tool("rr", "echo", None, not_idempotent()).await;
    assert!(matches!(r, Err(PoolError::Timeout { .. })), "{r:?}");
    wait_until_sync("the breaker to open", Duration::from_secs(2), || {
        pool.breaker("rr").map(|b| b.state) == Some(BreakerState::Open)
    })
    .await;
    f.set_mode("ok");
    assert!(matches!(
        pool.call_tool("rr", "echo", None, not_idempotent()).await,
        Err(PoolError::BreakerOpen { .. })
    ));
    pool.reset("rr").await.expect("reset");
    let view = pool.breaker("rr").expect("view");
    assert_eq!(
        (view.state, view.failures, view.rejected),
        (BreakerState::Closed, 0, 0)
    );
    let r = echo(&pool, "rr", "back", CallOptions::default())
        .await
        .expect("closed again");
    assert_eq!(text(&r), "back");

    let (old, _, old_gc) = f.starts()[0];
    pool.restart("rr").await.expect("restart");
    assert!(
        !running(old) && !running(old_gc),
        "the old group is gone when restart returns"
    );
    wait_state(&pool, "rr", ServerState::Ready).await;
    let (new, _, _) = *f.starts().last().expect("start");
    assert_ne!(new, old);
    let status = pool.status().await;
    assert_eq!((status[0].pid, status[0].restarts), (Some(new), 1));
    pool.shutdown().await;
}

#[actix_rt::test]
async fn streamable_http_servers_work_through_the_pool() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(fault_server())
        .args(["--http", "127.0.0.1:0"])
        .env("FAULT_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn fault_server --http");
    let mut out = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), out.next_line())
        .await
        .expect("listening line in time")
        .expect("read")
        .expect("a line");
    let url = line.rsplit(' ').next().expect("url").to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");

    let (pool, _) = start(
        json!({ "web": {"type": "http", "url": url, "headers": {"X-Test": "1"}} }),
        &settings(),
    );
    wait_state(&pool, "web", ServerState::Ready).await;
    let r = pool
        .call(
            "web__echo",
            args(json!({"text": "over http"})),
            CallOptions::default(),
        )
        .await
        .expect("echo over http");
    assert_eq!(text(&r), "over http");
    assert_eq!(pool.transport("web"), Some(TransportKind::Http));
    pool.shutdown().await;
    let _ = child.kill().await;
}

// ---- gateway names never change meaning (issue 23, item 2) --------------------------------

/// Every gateway name seen so far and the (server, tool) it stood for.
#[derive(Default)]
struct Seen(std::collections::BTreeMap<String, (String, String)>);

impl Seen {
    /// Note every name in the catalog; a name that stood for another pair
    /// before fails the test.
    fn look(&mut self, pool: &PoolHandle, when: &str) {
        for t in pool.tools() {
            let pair = (t.server.clone(), t.tool.clone());
            if let Some(before) = self.0.insert(t.name.clone(), pair.clone()) {
                assert_eq!(
                    before, pair,
                    "{when}: gateway name {} changed meaning",
                    t.name
                );
            }
        }
    }
}

/// Issue 23, item 2, as reported: servers `x` and `x__y` configured,
/// `x__y__echo` reached `x__y`'s `echo`; server `x` adding a tool `y__echo`
/// at run time took the name (a call to `x__y__echo` reached server `x`),
/// and restarting `x` gave it back. Now `x__y` is refused at load with a
/// rename, so `x__y__echo` only ever means `x`'s `y__echo`, and a call by
/// that name reaches the server the catalog says.
#[actix_rt::test]
async fn server_x_adding_tool_y_echo_never_takes_the_gateway_name_of_server_x_y_s_echo() {
    let (fx, fxy) = (Fault::new("ok"), Fault::new("ok"));
    let (pool, _) = start(
        json!({ "x": fx.entry(&[]), "x__y": fxy.entry(&[]) }),
        &settings(),
    );
    wait_state(&pool, "x", ServerState::Ready).await;
    let mut seen = Seen::default();
    // x__y, if it runs at all, has listed its tools
    wait_until_sync("x__y settled", Duration::from_secs(10), || {
        !(pool.state("x__y") == Some(ServerState::Starting)
            || (pool.state("x__y") == Some(ServerState::Ready)
                && pool.server_tools("x__y").is_empty()))
    })
    .await;
    wait_until_sync("x's tools", Duration::from_secs(5), || {
        !pool.server_tools("x").is_empty()
    })
    .await;
    seen.look(&pool, "at start");

    pool.call_tool(
        "x",
        "add_tool",
        args(json!({"name": "y__echo"})),
        CallOptions::default(),
    )
    .await
    .expect("add_tool");
    wait_until_sync("x's y__echo", Duration::from_secs(5), || {
        pool.tools()
            .iter()
            .any(|t| t.server == "x" && t.tool == "y__echo")
    })
    .await;
    seen.look(&pool, "after x added y__echo");
    // a call by the name reaches the server the name stood for: x answers
    // every call with an injected error now, x__y echoes
    fx.set_mode("error");
    let r = pool
        .call(
            "x__y__echo",
            args(json!({"text": "hi"})),
            CallOptions::default(),
        )
        .await
        .expect("x__y__echo");
    let reached = if r.is_error == Some(true) {
        "x"
    } else {
        "x__y"
    };
    assert_eq!(
        seen.0.get("x__y__echo").map(|(s, _)| s.as_str()),
        Some(reached),
        "x__y__echo reached {reached}: {r:?}"
    );
    fx.set_mode("ok");

    pool.restart("x").await.expect("restart x");
    wait_state(&pool, "x", ServerState::Ready).await;
    wait_until_sync("x without y__echo", Duration::from_secs(5), || {
        let x = pool.server_tools("x");
        !x.is_empty() && x.iter().all(|t| t.tool != "y__echo")
    })
    .await;
    seen.look(&pool, "after x restarted");

    let issues = pool.issues();
    let refused = issues
        .iter()
        .find(|i| i.name == "x__y")
        .unwrap_or_else(|| panic!("x__y is refused at load: {issues:?}"));
    let message = refused.to_string();
    assert!(message.contains("rename the server to 'x-y'"), "{message}");
    assert_eq!(pool.state("x__y"), None, "not started");
    pool.shutdown().await;
}

/// Where a test keeps the names a pool hands out: what the store does for
/// the runtime (removals first, then the new names, one per catalog and name).
#[derive(Default)]
struct Kept(Mutex<Vec<baton::model::GatewayName>>);

impl baton::pool::NameLedger for Kept {
    fn save(
        &self,
        change: baton::pool::NameChange,
    ) -> futures_util::future::BoxFuture<'static, Result<(), baton::pool::NamesNotSaved>> {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        kept.retain(|n| {
            !change
                .remove
                .iter()
                .chain(&change.put)
                .any(|r| r.kind == n.kind && r.name == n.name)
        });
        kept.extend(change.put);
        Box::pin(async { Ok(()) })
    }
}

impl Kept {
    fn remembered(self: &Arc<Self>) -> baton::pool::RememberedNames {
        baton::pool::RememberedNames {
            names: self.0.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            ledger: self.clone(),
        }
    }
}

/// The collision left once server names are unambiguous: a tool name too
/// long to fit gets a hashed name, and a tool named so that its plain name
/// equals that hash wants the same name. Whichever came first keeps it —
/// across a restart of the server (which drops both tools) and a restart
/// of the pool on the names it kept — and the newcomer gets a suffixed
/// name; a server that leaves the server file frees its names.
#[actix_rt::test]
async fn a_newcomer_whose_gateway_name_is_taken_gets_a_suffix_across_restarts() {
    let long = "t".repeat(70);
    let taken = baton::core::names::candidate("a", &long);
    let mimic = taken["a__".len()..].to_owned();
    assert_eq!(baton::core::names::candidate("a", &mimic), taken);
    let add = |pool: PoolHandle, name: String| async move {
        pool.call_tool(
            "a",
            "add_tool",
            args(json!({ "name": name })),
            CallOptions::default(),
        )
        .await
        .expect("add_tool");
        wait_until_sync("the new tool", Duration::from_secs(5), || {
            pool.tools()
                .iter()
                .any(|t| t.server == "a" && t.tool == name)
        })
        .await;
    };
    let name_of = |pool: &PoolHandle, tool: &str| {
        pool.tools()
            .into_iter()
            .find(|t| t.server == "a" && t.tool == tool)
            .map(|t| t.name)
    };
    let kept = Arc::new(Kept::default());
    let f = Fault::new("ok");
    let servers = json!({ "a": f.entry(&[]) });
    let text = json!({ "mcpServers": servers }).to_string();
    let set = ServerSet::from_json(Path::new("test.json"), &text, &settings(), |k| {
        std::env::var(k).ok()
    })
    .expect("server file");
    let pool = McpPool::start_remembering(set.clone(), Clock::system(), Some(kept.remembered()));
    wait_state(&pool, "a", ServerState::Ready).await;

    add(pool.clone(), long.clone()).await;
    assert_eq!(name_of(&pool, &long), Some(taken.clone()));
    add(pool.clone(), mimic.clone()).await;
    let suffixed = name_of(&pool, &mimic).expect("named");
    assert_ne!(suffixed, taken, "the newcomer does not take the name");
    assert_eq!(pool.resolve(&taken), Some(("a".into(), long.clone())));

    // a restart drops both tools; the newcomer comes back alone, still suffixed
    pool.restart("a").await.expect("restart");
    wait_state(&pool, "a", ServerState::Ready).await;
    wait_until_sync("a without added tools", Duration::from_secs(5), || {
        name_of(&pool, &long).is_none() && !pool.server_tools("a").is_empty()
    })
    .await;
    add(pool.clone(), mimic.clone()).await;
    assert_eq!(name_of(&pool, &mimic), Some(suffixed.clone()));
    assert_eq!(pool.resolve(&taken), None, "not offered while away");
    pool.shutdown().await;

    // a new pool on the names kept: the same
    let pool = McpPool::start_remembering(set, Clock::system(), Some(kept.remembered()));
    wait_state(&pool, "a", ServerState::Ready).await;
    add(pool.clone(), mimic.clone()).await;
    assert_eq!(name_of(&pool, &mimic), Some(suffixed.clone()));
    add(pool.clone(), long.clone()).await;
    assert_eq!(name_of(&pool, &long), Some(taken.clone()));
    pool.shutdown().await;

    // a server file without `a`: its names are forgotten at start
    let other = ServerSet::from_json(
        Path::new("test.json"),
        r#"{"mcpServers": {}}"#,
        &settings(),
        |_| None,
    )
    .expect("server file");
    let pool = McpPool::start_remembering(other, Clock::system(), Some(kept.remembered()));
    wait_until_sync("a's names forgotten", Duration::from_secs(5), || {
        kept.0.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
    })
    .await;
    pool.shutdown().await;
}
