//! MCP vs REST benchmark (`make bench`, or `cargo bench --bench mcp`): the
//! same claim→complete work over `/mcp` tool calls and over the REST API, in
//! the same process, against the same kind of server, one after the other.
//!
//! - **Server**: a real baton (actors, sled with group commit, actix-web with
//!   2 workers, `TCP_NODELAY` from [`baton::runtime::http_server`]) on
//!   127.0.0.1:0 in its own thread; a fresh data dir and board per run;
//!   `slots = 64`.
//! - **MCP client**: a lean streamable-HTTP client (reqwest + serde_json, no
//!   SDK): one session per worker (`initialize` with protocol 2025-11-25,
//!   `Mcp-Session-Id` on every call, as Claude Code and the TypeScript SDK
//!   do), `tools/call claim_next_task` then `tools/call complete_task`, the
//!   answer read from the SSE stream rmcp sends.
//! - **REST client**: the same reqwest client, `POST
//!   /api/v1/tasks/claim-next` then `POST /api/v1/tasks/{id}/complete`.
//!
//! A *call* is one tool call or one REST request; a cycle is two calls, both
//! durable writes. Reported per mode and concurrency (1, 8, 64 workers): calls/s
//! over all workers and p50/p99 per call. `BENCH_TASKS` (default 4,000) tasks
//! per run; every loop is bounded by that count and a 120 s deadline.
//!
//! The TypeScript SDK's figures come from `tests/clients/bench-mcp.mjs`
//! (`make bench` runs it after this), which also measures Node `fetch`
//! against REST in its own run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::App;
use baton::{Runtime, Settings};
use serde_json::{json, Value};

#[path = "../tests/common/mod.rs"]
mod common;

/// mimalloc, as the binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DEADLINE: Duration = Duration::from_secs(120);
const PROTOCOL: &str = "2025-11-25";

struct Server {
    root: String,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut settings = Settings::for_tests(dir.path());
        settings.slots.count = 64;
        settings.leases.ttl_secs = 600;
        settings.tasks.max_batch = 10_000;
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let sys = actix_rt::System::new();
            sys.block_on(async move {
                let runtime = Runtime::start(settings).await.expect("runtime");
                let mount = runtime.configure();
                let (addr, server) = common::serve(move || App::new().configure(mount.clone()));
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                tx.send((addr, stop)).expect("send addr");
                let _ = stopped.await;
                server.stop(true).await;
                runtime.shutdown().await.expect("shutdown");
            });
        });
        let (addr, stop) = rx.recv().expect("baton started");
        Self {
            root: format!("http://{addr}"),
            stop,
            thread,
            _dir: dir,
        }
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .build()
        .expect("client")
}

/// One MCP session over streamable HTTP, one call at a time.
struct Session {
    http: reqwest::Client,
    url: String,
    id: String,
    next: u64,
}

impl Session {
    async fn open(http: &reqwest::Client, root: &str) -> Self {
        Self {
            http: http.clone(),
            url: format!("{root}/mcp"),
            id: common::mcp_session(http, root, PROTOCOL).await,
            next: 1,
        }
    }

    fn post(&self, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(&self.url)
            .header("Accept", "application/json, text/event-stream")
            .header("Mcp-Session-Id", &self.id)
            .header("MCP-Protocol-Version", PROTOCOL)
            .json(body)
    }

    /// `tools/call`; the tool's `structuredContent`.
    async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let body = json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}
        });
        let res = self.post(&body).send().await.expect("tools/call");
        assert_eq!(res.status(), 200, "tools/call {tool}");
        let text = res.text().await.expect("body");
        // an SSE stream (`data: {...}` lines, a priming event first) or one JSON body
        let answer = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .chain(std::iter::once(text.as_str()))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("no answer to {tool} in {text}"));
        let result = &answer["result"];
        assert_ne!(result["isError"], true, "{tool}: {result}");
        result["structuredContent"].clone()
    }
}

async fn add_all(http: &reqwest::Client, root: &str, n: usize) {
    for start in (0..n).step_by(1000) {
        let tasks: Vec<Value> = (start..(start + 1000).min(n))
            .map(|i| json!({"id": format!("t{i}"), "title": "bench"}))
            .collect();
        let res = http
            .post(format!("{root}/api/v1/tasks"))
            .json(&json!({ "tasks": tasks }))
            .send()
            .await
            .expect("add");
        assert_eq!(res.status(), 201);
    }
}

#[derive(Clone, Copy)]
enum Mode {
    Mcp,
    Rest,
}

struct Run {
    calls_per_sec: f64,
    p50: f64,
    p99: f64,
}

/// One worker: claim→complete until nothing is ready (or the deadline);
/// per-call latencies.
async fn worker(mode: Mode, http: reqwest::Client, root: String, w: usize) -> Vec<Duration> {
    let mut lat = Vec::new();
    let start = Instant::now();
    let worker = format!("w{w}");
    match mode {
        Mode::Mcp => {
            let mut s = Session::open(&http, &root).await;
            while start.elapsed() < DEADLINE {
                let t = Instant::now();
                let c = s.call("claim_next_task", json!({ "worker": worker })).await;
                lat.push(t.elapsed());
                if c["claimed"] != true {
                    break;
                }
                let (id, lease) = (&c["claim"]["task"]["id"], &c["claim"]["lease"]["lease_id"]);
                let t = Instant::now();
                s.call("complete_task", json!({"task_id": id, "lease_id": lease}))
                    .await;
                lat.push(t.elapsed());
            }
        }
        Mode::Rest => {
            let claim_url = format!("{root}/api/v1/tasks/claim-next");
            while start.elapsed() < DEADLINE {
                let t = Instant::now();
                let res = http
                    .post(&claim_url)
                    .json(&json!({ "worker": worker }))
                    .send()
                    .await
                    .expect("claim");
                let status = res.status();
                let body = res.bytes().await.expect("claim body");
                lat.push(t.elapsed());
                if status == 204 {
                    break;
                }
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                let c: Value = serde_json::from_slice(&body).expect("claim json");
                let t = Instant::now();
                let res = http
                    .post(format!(
                        "{root}/api/v1/tasks/{}/complete",
                        c["task"]["id"].as_str().expect("id")
                    ))
                    .json(&json!({"lease_id": c["lease"]["lease_id"]}))
                    .send()
                    .await
                    .expect("complete");
                assert_eq!(res.status(), 200);
                let _ = res.bytes().await;
                lat.push(t.elapsed());
            }
        }
    }
    lat
}

async fn run(mode: Mode, workers: usize, tasks: usize) -> Run {
    let server = Server::start();
    let http = http();
    add_all(&http, &server.root, tasks).await;
    let start = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for w in 0..workers {
        let (http, root, done) = (http.clone(), server.root.clone(), done.clone());
        handles.push(tokio::spawn(async move {
            let lat = worker(mode, http, root, w).await;
            done.fetch_add(1, Ordering::Relaxed);
            lat
        }));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await.expect("worker"));
    }
    let secs = start.elapsed().as_secs_f64();
    // every task cycled: one claim and one complete each, plus one empty claim per worker
    assert_eq!(lat.len(), 2 * tasks + workers, "all tasks cycled in time");
    server.stop();
    lat.sort();
    let pct = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3;
    Run {
        calls_per_sec: lat.len() as f64 / secs,
        p50: pct(0.5),
        p99: pct(0.99),
    }
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let tasks: usize = std::env::var("BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!("## claim→complete: MCP tool calls vs REST requests ({tasks} tasks per run, slots = 64, durable acks, reqwest)\n");
        println!("| workers | path | calls/s | p50 call (ms) | p99 call (ms) |");
        println!("|---:|---|---:|---:|---:|");
        for w in [1, 8, 64] {
            for (mode, name) in [(Mode::Rest, "REST"), (Mode::Mcp, "MCP (lean Rust client)")] {
                let r = run(mode, w, tasks).await;
                println!(
                    "| {w} | {name} | {:.0} | {:.2} | {:.2} |",
                    r.calls_per_sec, r.p50, r.p99
                );
            }
        }
    });
}
