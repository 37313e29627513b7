//! Slow bodies cannot exhaust the server (issue 23, item 3).
//!
//! A client that sends a full request head announcing a large body and
//! then a trickle of bytes held its connection — and a file descriptor —
//! for ever; under a descriptor limit of 1,024, 1,050 of them made every
//! legitimate request time out and `accept` fail with "Too many open
//! files". These tests start the real `baton` binary under a low
//! `RLIMIT_NOFILE` (`prlimit --nofile=256:256`, util-linux) and hold slow
//! bodies against it over raw sockets:
//!
//! - 200 slow bodies are each answered 408 `body_timeout` once
//!   `[server] body_read_timeout_secs` passes, and closed, while 20
//!   ordinary requests are answered at once;
//! - 300 slow bodies — more than the limit has descriptors for — wait for
//!   the connection cap instead of making `accept` fail, and ordinary
//!   requests get through once the deadline frees places;
//! - `/readyz` answers 503 naming descriptors while most of them are open,
//!   and 200 again once they are closed; `/metrics` shows the counts.
//!
//! In-process, over every route of the route table: a slow body gets 408
//! in its route's error shape wherever a body is read, and a response given
//! before the body ended closes the connection instead of draining the
//! rest (actix-web drains an unread chunked body at the client's pace).

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Ten bytes of body, sent every [`TRICKLE_EVERY`].
const TRICKLE: &[u8] = b"          ";
const TRICKLE_EVERY: Duration = Duration::from_millis(500);

/// How a request body is framed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    /// `Content-Length: 100000`.
    Length,
    /// `Transfer-Encoding: chunked`, ten bytes a chunk.
    Chunked,
}

/// What a slow client saw.
#[derive(Debug)]
struct Seen {
    /// The response's status, if one came.
    status: Option<u16>,
    /// The response's body as JSON (`Null` when none or not JSON).
    body: Value,
    /// From the head sent to the first response byte.
    answered_after: Option<Duration>,
    /// From the head sent to the server closing the connection.
    closed_after: Option<Duration>,
}

/// Send `method path` with a head announcing a body (100 kB, or chunked),
/// then ten bytes every [`TRICKLE_EVERY`] until the server answers and
/// closes, or `bound` passes.
async fn slow_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    framing: Framing,
    bound: Duration,
    connected: Arc<AtomicUsize>,
) -> Seen {
    let framing_header = match framing {
        Framing::Length => "Content-Length: 100000",
        Framing::Chunked => "Transfer-Encoding: chunked",
    };
    let piece = match framing {
        Framing::Length => TRICKLE.to_vec(),
        Framing::Chunked => [b"a\r\n".as_slice(), TRICKLE, b"\r\n"].concat(),
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         {framing_header}\r\n\r\n"
    );
    let start = Instant::now();
    let mut seen = Seen {
        status: None,
        body: Value::Null,
        answered_after: None,
        closed_after: None,
    };
    let Ok(stream) = TcpStream::connect(addr).await else {
        return seen;
    };
    let (mut rd, mut wr) = stream.into_split();
    let _ = wr.write_all(head.as_bytes()).await;
    let _ = wr.write_all(&piece).await;
    connected.fetch_add(1, Ordering::SeqCst);
    let mut tick = tokio::time::interval(TRICKLE_EVERY);
    tick.tick().await;
    let give_up = tokio::time::sleep(bound);
    tokio::pin!(give_up);
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        tokio::select! {
            r = rd.read(&mut chunk) => match r {
                Ok(n) if n > 0 => {
                    seen.answered_after.get_or_insert(start.elapsed());
                    response.extend_from_slice(&chunk[..n]);
                }
                _ => {
                    seen.closed_after = Some(start.elapsed());
                    break;
                }
            },
            _ = tick.tick() => {
                // the server may have closed its side: the read tells
                let _ = wr.write_all(&piece).await;
            }
            _ = &mut give_up => break,
        }
    }
    let text = String::from_utf8_lossy(&response);
    seen.status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok());
    if let Some((_, body)) = text.split_once("\r\n\r\n") {
        seen.body = serde_json::from_str(body).unwrap_or(Value::Null);
    }
    seen
}

/// A `baton serve` child under `prlimit --nofile=<nofile>:<nofile>`, its
/// stderr collected; killed (by its own pid) when dropped.
struct Limited {
    process: std::process::Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Limited {
    fn start(nofile: u64, envs: &[(&str, &str)]) -> Self {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        raise_own_limit();
        assert!(
            Command::new("prlimit")
                .arg("--version")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            "this test needs `prlimit` (util-linux) to start baton under a low descriptor limit"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let limit = format!("--nofile={nofile}:{nofile}");
        let data_dir = dir.path().to_str().expect("utf-8 temp path").to_owned();
        let mut cmd = Command::new("prlimit");
        cmd.args([limit.as_str(), "--", env!("CARGO_BIN_EXE_baton"), "serve"])
            .args(["--bind", "127.0.0.1:0", "--data-dir", data_dir.as_str()])
            .env("RUST_LOG", "warn")
            .env("BATON_SERVER__WORKERS", "2")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut process = cmd.spawn().expect("spawn prlimit baton");
        let stdout = process.stdout.take().expect("stdout");
        let stderr = process.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("baton: {line}");
                let mut l = sink.lock().unwrap_or_else(|p| p.into_inner());
                l.push_str(&line);
                l.push('\n');
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("baton listening on http://") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = process.kill();
            let _ = process.wait();
            panic!("baton did not report its address");
        };
        Self {
            process,
            addr: addr.parse().expect("listening address"),
            log,
            _dir: dir,
        }
    }

    /// Descriptors the server has open now (`prlimit` execs baton: same pid).
    fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.process.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Raise this test process's own soft descriptor limit to its hard one:
/// the tests here hold hundreds of client sockets at once (a CI runner's
/// soft limit is often 1,024). The baton children get theirs from `prlimit`.
fn raise_own_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}

/// `n` slow bodies on `POST /api/v1/tasks`, running in the background,
/// and how many of them have sent their head (connected: accepted, or
/// waiting in the listen backlog).
fn hold_slow_bodies(
    addr: SocketAddr,
    n: usize,
    bound: Duration,
) -> (Vec<tokio::task::JoinHandle<Seen>>, Arc<AtomicUsize>) {
    let connected = Arc::new(AtomicUsize::new(0));
    let handles = (0..n)
        .map(|i| {
            let framing = if i % 2 == 0 {
                Framing::Length
            } else {
                Framing::Chunked
            };
            let c = connected.clone();
            tokio::spawn(slow_body(addr, "POST", "/api/v1/tasks", framing, bound, c))
        })
        .collect();
    (handles, connected)
}

/// Assert every slow body got 408 `body_timeout` no earlier than the
/// deadline and no later than `latest`, and that the server closed it.
async fn assert_all_timed_out(
    slow: Vec<tokio::task::JoinHandle<Seen>>,
    deadline: Duration,
    latest: Duration,
) {
    let n = slow.len();
    for (i, h) in slow.into_iter().enumerate() {
        let seen = h.await.expect("slow client task");
        assert_eq!(
            seen.status,
            Some(408),
            "slow body {i} of {n} was not answered 408 within {latest:?}: {seen:?}"
        );
        assert_eq!(seen.body["error"]["code"], "body_timeout", "{seen:?}");
        let answered = seen.answered_after.expect("answered");
        assert!(
            answered >= deadline && answered <= latest,
            "slow body {i} answered after {answered:?}, deadline {deadline:?}: {seen:?}"
        );
        assert!(
            seen.closed_after.is_some(),
            "the server kept slow body {i}'s connection open after its 408: {seen:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_slow_bodies_get_408_at_the_deadline_while_normal_requests_succeed() {
    let deadline = Duration::from_secs(3);
    let baton = Limited::start(256, &[("BATON_SERVER__BODY_READ_TIMEOUT_SECS", "3")]);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let baseline = baton.open_fds();
    let started = Instant::now();
    let (slow, _) = hold_slow_bodies(baton.addr, 200, deadline + Duration::from_secs(15));
    // the server holds all 200 (one descriptor each)
    assert!(
        common::eventually(Duration::from_secs(10), || async {
            baton.open_fds() >= baseline + 200
        })
        .await,
        "the server did not accept 200 slow bodies: {} open, {baseline} before",
        baton.open_fds()
    );
    // 20 ordinary requests, reads and writes, each answered at once
    for i in 0..20 {
        let sent = Instant::now();
        let res = match i % 4 {
            0 => {
                http.post(baton.url("/api/v1/tasks"))
                    .json(&json!({"id": format!("t{i}"), "title": "served beside slow bodies"}))
                    .send()
                    .await
            }
            1 => http.get(baton.url("/api/v1/stats")).send().await,
            2 => http.get(baton.url("/api/available-tasks")).send().await,
            _ => http.get(baton.url("/healthz")).send().await,
        }
        .unwrap_or_else(|e| panic!("request {i} beside 200 slow bodies failed: {e}"));
        assert!(res.status().is_success(), "request {i}: {}", res.status());
        assert!(
            sent.elapsed() < Duration::from_secs(2),
            "request {i} took {:?} beside 200 slow bodies",
            sent.elapsed()
        );
    }
    let normal_done = started.elapsed();
    assert_all_timed_out(slow, deadline, deadline + Duration::from_secs(10)).await;
    let log = baton.log();
    assert!(
        !log.contains("Too many open files"),
        "the server ran out of descriptors:\n{log}"
    );
    eprintln!(
        "20 requests done {normal_done:?} after the slow bodies started; all 200 answered 408"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_beyond_the_descriptor_limit_wait_for_the_connection_cap_instead_of_failing_accept(
) {
    let deadline = Duration::from_secs(3);
    let baton = Limited::start(256, &[("BATON_SERVER__BODY_READ_TIMEOUT_SECS", "3")]);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    // 300 slow bodies: more than 256 descriptors can hold
    let (slow, connected) =
        hold_slow_bodies(baton.addr, 300, 3 * deadline + Duration::from_secs(20));
    assert!(
        common::eventually(Duration::from_secs(10), || async {
            connected.load(Ordering::SeqCst) == 300 && baton.open_fds() >= 200
        })
        .await,
        "300 slow bodies did not connect ({} did) or the server did not take them up to its \
         cap ({} descriptors open)",
        connected.load(Ordering::SeqCst),
        baton.open_fds()
    );
    // an ordinary request waits for a place, which the deadline frees
    let sent = Instant::now();
    let res = http
        .get(baton.url("/api/v1/stats"))
        .send()
        .await
        .expect("a request behind 300 slow bodies is answered");
    assert_eq!(res.status(), 200);
    let waited = sent.elapsed();
    assert!(
        waited < 2 * deadline + Duration::from_secs(5),
        "a request behind 300 slow bodies waited {waited:?}"
    );
    // the slow bodies queued behind the cap are accepted, and timed out, in turn
    assert_all_timed_out(slow, deadline, 3 * deadline + Duration::from_secs(15)).await;
    assert!(
        common::eventually(Duration::from_secs(5), || async { baton.open_fds() < 64 }).await,
        "{} descriptors still open after every slow body was answered and closed",
        baton.open_fds()
    );
    let log = baton.log();
    assert!(
        !log.contains("Too many open files"),
        "accept failed for want of descriptors:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_turns_503_naming_descriptors_when_they_run_low_and_recovers() {
    // a long deadline: the slow bodies hold their descriptors
    let baton = Limited::start(256, &[("BATON_SERVER__BODY_READ_TIMEOUT_SECS", "120")]);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let res = http.get(baton.url("/readyz")).send().await.expect("readyz");
    assert_eq!(res.status(), 200, "ready before");
    // 80 % of 256 is 205: 195 connections and the server's own descriptors pass it,
    // below the derived cap (216), so /readyz itself still gets a connection
    let (slow, _) = hold_slow_bodies(baton.addr, 195, Duration::from_secs(60));
    let mut last = Value::Null;
    let until = Instant::now() + Duration::from_secs(15);
    let mut low = false;
    while !low && Instant::now() < until {
        if let Ok(res) = http.get(baton.url("/readyz")).send().await {
            low = res.status() == 503;
            last = res.json().await.unwrap_or(Value::Null);
        }
        if !low {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(
        low,
        "/readyz stayed ready with 195 slow bodies open: {last}"
    );
    let reason = last["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("descriptors") && reason.contains("of 256 open"),
        "the reason names descriptors: {last}"
    );
    let metrics = http
        .get(baton.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("baton_max_fds 256"),
        "the soft limit is a gauge:\n{metrics}"
    );
    let open: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("baton_open_fds "))
        .and_then(|v| v.trim().parse().ok())
        .expect("baton_open_fds gauge");
    assert!(open >= 205, "baton_open_fds {open} while /readyz says low");
    // the clients leave: ready again
    for h in &slow {
        h.abort();
    }
    let ready = common::eventually(Duration::from_secs(15), || async {
        http.get(baton.url("/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(
        ready,
        "/readyz did not recover after the connections closed"
    );
}

/// Every route of the route table with a slow body, in-process: each is
/// answered within the deadline and its connection closed; where the body
/// is read (every `POST` and `PUT`: REST, agent-coordinate-mcp, `/mcp`),
/// the answer is 408 `body_timeout` in the route's shape.
#[actix_web::test]
async fn every_route_answers_a_slow_body_in_time_and_closes_the_connection() {
    raise_own_limit();
    let s = common::TestServer::start(|c| c.server.body_read_timeout_secs = 1).await;
    let deadline = Duration::from_secs(1);
    let mut cases = Vec::new();
    for (prefix, row) in baton::api::routes::all() {
        // streams answer for as long as they are open, body or not
        if row.method == "GET" && (row.path == "/events" || row.path == "/mcp") {
            continue;
        }
        let path = format!("{prefix}{}", row.path)
            .replace("{id}", "t1")
            .replace("{key}", "k")
            .replace("{slot}", "0")
            .replace("{name}", "nobody");
        for framing in [Framing::Length, Framing::Chunked] {
            let (method, path2) = (row.method, path.clone());
            let addr = s.addr;
            cases.push((
                row.method,
                path.clone(),
                prefix,
                framing,
                actix_web::rt::spawn(async move {
                    let connected = Arc::new(AtomicUsize::new(0));
                    slow_body(
                        addr,
                        method,
                        &path2,
                        framing,
                        Duration::from_secs(15),
                        connected,
                    )
                    .await
                }),
            ));
        }
    }
    assert!(cases.len() > 100, "the route table has its rows");
    let mut timed_out = Vec::new();
    for (method, path, prefix, framing, h) in cases {
        let seen = h.await.expect("slow client task");
        let what = format!("{method} {path} ({framing:?})");
        let answered = seen
            .answered_after
            .unwrap_or_else(|| panic!("{what}: no answer to a slow body: {seen:?}"));
        assert!(
            answered < deadline + Duration::from_secs(5),
            "{what}: answered after {answered:?}"
        );
        assert!(
            seen.closed_after.is_some(),
            "{what}: the connection stayed open (the unread body was drained): {seen:?}"
        );
        // a route that waits for the body answers the deadline's 408; any other
        // answer came without reading it (a 404 for the unknown task, a 405)
        if seen.status == Some(408) {
            assert!(answered >= deadline, "{what}: 408 before the deadline");
            if prefix == "/api" {
                // agent-coordinate-mcp's shape
                assert_eq!(seen.body["success"], false, "{what}: {seen:?}");
                assert_eq!(seen.body["code"], "body_timeout", "{what}: {seen:?}");
            } else {
                assert_eq!(
                    seen.body["error"]["code"], "body_timeout",
                    "{what}: {seen:?}"
                );
            }
            timed_out.push(format!("{method} {path}"));
        }
    }
    // the routes that read a body first: REST, agent-coordinate-mcp, /mcp
    for route in [
        "POST /api/v1/tasks",
        "POST /api/v1/tasks/claim-next",
        "PUT /api/v1/tasks/t1/context/k",
        "POST /api/add-task",
        "POST /api/claim-task",
        "POST /api/update-task",
        "POST /mcp",
    ] {
        assert_eq!(
            timed_out.iter().filter(|r| *r == route).count(),
            2,
            "{route} did not answer 408 to both slow bodies; 408s: {timed_out:?}"
        );
    }
    eprintln!("408 body_timeout: {timed_out:?}");
    s.stop().await;
}

/// With auth required, a slow body without a token is refused before any
/// of it is read: 401 at once, and the connection closed (not drained).
#[actix_web::test]
async fn an_unauthenticated_slow_body_gets_401_at_once_and_its_connection_closed() {
    raise_own_limit();
    let s = common::TestServer::start(|c| {
        c.auth.required = true;
        c.server.body_read_timeout_secs = 30;
    })
    .await;
    for framing in [Framing::Length, Framing::Chunked] {
        let connected = Arc::new(AtomicUsize::new(0));
        let seen = slow_body(
            s.addr,
            "POST",
            "/api/v1/tasks",
            framing,
            Duration::from_secs(10),
            connected,
        )
        .await;
        assert_eq!(seen.status, Some(401), "{framing:?}: {seen:?}");
        let closed = seen.closed_after.expect("the connection is closed");
        assert!(
            closed < Duration::from_secs(5),
            "{framing:?}: closed only after {closed:?}, long before the 30 s deadline"
        );
    }
    s.stop().await;
}

/// An embedder's server built with `runtime.http_server(..)` has the cap:
/// with `[server] max_connections = 2` on one worker, a third connection
/// waits until one of two slow bodies is answered (408) and closed.
#[actix_web::test]
async fn runtime_http_server_gives_an_embedder_the_connection_cap() {
    use actix_web::App;
    raise_own_limit();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = baton::Settings::for_tests(dir.path());
    settings.server.workers = 1;
    settings.server.max_connections = 2;
    settings.server.body_read_timeout_secs = 1;
    let runtime = baton::Runtime::start(settings).await.expect("runtime");
    let cap = runtime.connection_cap();
    assert_eq!((cap.total, cap.per_worker, cap.workers), (2, 2, 1));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mount = runtime.configure();
    let server = runtime
        .http_server(move || App::new().configure(mount.clone()))
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)
        .expect("listen")
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let connected = Arc::new(AtomicUsize::new(0));
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let c = connected.clone();
            actix_web::rt::spawn(slow_body(
                addr,
                "POST",
                "/api/v1/tasks",
                Framing::Length,
                Duration::from_secs(15),
                c,
            ))
        })
        .collect();
    assert!(
        common::eventually(Duration::from_secs(5), || async {
            connected.load(Ordering::SeqCst) == 2
        })
        .await
    );
    let started = Instant::now();
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .expect("answered once a place is free");
    assert_eq!(res.status(), 200);
    let waited = started.elapsed();
    let mut first_closed = Duration::MAX;
    for h in slow {
        let seen = h.await.expect("slow client");
        assert_eq!(seen.status, Some(408), "{seen:?}");
        first_closed = first_closed.min(seen.closed_after.expect("closed"));
    }
    // the request could only be accepted once a slow body's connection closed
    assert!(
        waited >= Duration::from_millis(500),
        "the third connection was served after {waited:?}, beside two held ones (cap 2)"
    );
    eprintln!("third connection waited {waited:?}; first slow body closed after {first_closed:?}");
    handle.stop(true).await;
    runtime.shutdown().await.expect("shutdown");
}
