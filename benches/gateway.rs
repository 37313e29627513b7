//! Gateway overhead benchmark (`make bench`, or `cargo bench --bench gateway`):
//! the same `echo` tool called
//!
//! - **direct**: an rmcp streamable-HTTP client → the fault server
//!   (`examples/fault_server.rs --http`, a child process on 127.0.0.1:0);
//! - **through baton**: an rmcp client → baton's `/mcp` (a real server on
//!   127.0.0.1:0) → the pool's `McpServer` actor and its rmcp client → the
//!   same fault server, as `fault__echo`.
//!
//! Both sides speak streamable HTTP, so the difference is what baton adds:
//! one more HTTP hop plus its breaker check, admission and accounting.
//! Measured with 1 and 8 concurrent clients; calls/s and p50/p99 latency.
//! Every loop is bounded by count and by a deadline.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::App;
use baton::{Runtime, Settings};
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};

#[path = "../tests/common/mod.rs"]
mod common;

use common::fault_server;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CALLS: usize = 4_000;
const DEADLINE: Duration = Duration::from_secs(60);

type Client = RunningService<RoleClient, ()>;

struct Downstream {
    child: Child,
    url: String,
}

impl Drop for Downstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_downstream() -> Downstream {
    let mut child = Command::new(fault_server())
        .args(["--http", "127.0.0.1:0"])
        .env("FAULT_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn fault_server");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("fault_server listening on ") {
                    break url.to_owned();
                }
            }
            _ => panic!("fault_server did not start"),
        }
    };
    Downstream { child, url }
}

struct Baton {
    url: String,
    /// Dropping it (or sending) ends the server thread.
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn start_baton(downstream: &str) -> Baton {
    let dir = tempfile::tempdir().expect("tempdir");
    let servers = dir.path().join("mcp.json");
    let file =
        serde_json::json!({ "mcpServers": { "fault": { "type": "http", "url": downstream } } });
    std::fs::write(&servers, file.to_string()).expect("write");
    let mut settings = Settings::for_tests(dir.path());
    settings.pool.mcp_servers = servers;
    settings.pool.max_concurrent_calls = 64;
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let sys = actix_rt::System::new();
        sys.block_on(async move {
            let runtime = Runtime::start(settings).await.expect("runtime");
            let mount = runtime.configure();
            let (addr, server) = common::serve(move || App::new().configure(mount.clone()));
            // wait until the downstream is ready
            let start = Instant::now();
            while runtime
                .board()
                .pool()
                .is_some_and(|p| p.tool("fault__echo").is_none())
            {
                assert!(start.elapsed() < DEADLINE, "downstream not ready");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            tx.send((addr, stop)).expect("send addr");
            let _ = stopped.await;
            server.stop(true).await;
            runtime.shutdown().await.expect("shutdown");
        });
    });
    let (addr, stop) = rx.recv().expect("baton started");
    Baton {
        url: format!("http://{addr}/mcp"),
        stop,
        thread,
        _dir: dir,
    }
}

async fn connect(url: &str) -> Client {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()),
    );
    ().serve(transport).await.expect("initialize")
}

struct Run {
    calls: usize,
    secs: f64,
    p50: Duration,
    p99: Duration,
}

/// `clients` concurrent clients calling `tool` until `CALLS` calls in all (or the deadline).
async fn run(url: &str, tool: &'static str, clients: usize) -> Run {
    let mut conns = Vec::new();
    for _ in 0..clients {
        conns.push(Arc::new(connect(url).await));
    }
    // warm up
    for c in &conns {
        for _ in 0..20 {
            call(c, tool).await;
        }
    }
    let start = Instant::now();
    let per = CALLS / clients;
    let mut handles = Vec::new();
    for c in &conns {
        let c = c.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for _ in 0..per {
                if start.elapsed() > DEADLINE {
                    break;
                }
                let t = Instant::now();
                call(&c, tool).await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await.expect("client"));
    }
    let secs = start.elapsed().as_secs_f64();
    for c in conns {
        if let Ok(c) = Arc::try_unwrap(c) {
            let _ = c.cancel().await;
        }
    }
    lat.sort();
    let pick = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    Run {
        calls: lat.len(),
        secs,
        p50: pick(0.50),
        p99: pick(0.99),
    }
}

async fn call(c: &Client, tool: &'static str) {
    let args = serde_json::json!({ "text": "ping" });
    let r = c
        .call_tool(
            CallToolRequestParams::new(tool)
                .with_arguments(args.as_object().cloned().unwrap_or_default()),
        )
        .await
        .expect("call");
    assert_ne!(r.is_error, Some(true), "{r:?}");
}

fn main() {
    let downstream = start_downstream();
    let baton = start_baton(&downstream.url);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("gateway overhead: echo over streamable HTTP, {CALLS} calls per run");
    println!(
        "{:<16} {:>7} {:>10} {:>9} {:>9}",
        "path", "clients", "calls/s", "p50 ms", "p99 ms"
    );
    for clients in [1, 8] {
        for (label, url, tool) in [
            ("direct", downstream.url.as_str(), "echo"),
            ("through baton", baton.url.as_str(), "fault__echo"),
        ] {
            let r = rt.block_on(run(url, tool, clients));
            println!(
                "{label:<16} {clients:>7} {:>10.0} {:>9.2} {:>9.2}",
                r.calls as f64 / r.secs,
                r.p50.as_secs_f64() * 1e3,
                r.p99.as_secs_f64() * 1e3
            );
        }
    }
    let _ = baton.stop.send(());
    let _ = baton.thread.join();
    drop(downstream);
}
