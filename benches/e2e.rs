//! End-to-end REST benchmark (`make bench`): a real baton server (actors,
//! sled with group commit, actix-web) on 127.0.0.1:0 in its own thread, and a
//! load generator on its own runtime.
//!
//! Measures, on a fresh data dir per run:
//! - claim→complete cycles/s and p50/p99 cycle latency with 1, 8 and 64
//!   concurrent workers over 10,000 tasks (`slots = 64`);
//! - add-task throughput: single adds from 64 clients, and batches of 100;
//! - reading the ready tasks of a 10,000-task board (100 ready): the
//!   agent-coordinate-mcp `GET /api/available-tasks`, served from the
//!   registry's in-memory ready queue, next to a scan of every stored task
//!   (`GET /api/v1/tasks?status=ready`), which is what it used to do.
//!
//! `BENCH_ENGINE=redb|fjall|sled|postgres` picks the engine of every server
//! (default redb). With `BENCH_PG=postgres://user@host:port/postgres` (a
//! superuser's URL) each PostgreSQL server gets a fresh database of that
//! cluster (and `BENCH_ENGINE` defaults to postgres).
//!
//! `BENCH_PG=auto` (`make bench-pg`, part of `make bench`) starts a
//! PostgreSQL cluster of its own (Debian's `postgresql`, as the tests do,
//! `fsync` and `synchronous_commit` on) and measures, in the same run,
//! baton's claim→complete cycles on every engine (`BENCH_ENGINES`, default
//! `redb,fjall,sled,postgres`) at 1, 8 and 64 workers next to the way
//! PostgreSQL-backed queues claim: a plain `SELECT … FOR UPDATE SKIP
//! LOCKED` claim transaction and a completing `UPDATE` per cycle, driven by
//! `pgbench` with as many clients, on the same PostgreSQL server. The
//! engines and the loop alternate, `BENCH_ROUNDS` rounds (default 3); each
//! round also measures the floor of a cycle on this machine: a 4 KiB
//! append + `fdatasync` in the data directory's file system, and a loopback
//! HTTP round trip to an actix-web handler that does nothing (the same
//! client, the same 2 server workers). The summary gives ranges over the
//! rounds and each engine's ratio to the loop of its own round.
//!
//! Every acknowledged write here is durable (flushed) before its reply.
//! Loops are bounded by count and by a 120 s deadline per run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::App;
use baton::model::Role;
use baton::{Runtime, Settings};
use serde_json::{json, Value};

#[path = "../tests/common/postgres.rs"]
#[allow(dead_code, unreachable_pub)]
mod postgres;

/// The superuser URL of the PostgreSQL server the benchmarks use, if any:
/// `BENCH_PG`, or the cluster `BENCH_PG=auto` started.
static PG_ADMIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// mimalloc: under load glibc malloc (cross-thread frees between actors and
/// the committer) cost about a fifth of all CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TASKS: usize = 10_000;
const DEADLINE: Duration = Duration::from_secs(120);

/// Where a bench server keeps its board.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Engine {
    Redb,
    Fjall,
    Sled,
    Postgres,
}

impl Engine {
    fn parse(name: &str) -> Engine {
        match name.trim() {
            "redb" => Engine::Redb,
            "fjall" => Engine::Fjall,
            "sled" => Engine::Sled,
            "postgres" => Engine::Postgres,
            other => panic!("unknown engine {other:?} (redb, fjall, sled, postgres)"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Engine::Redb => "redb",
            Engine::Fjall => "fjall",
            Engine::Sled => "sled",
            Engine::Postgres => "postgres",
        }
    }

    fn backend(self) -> baton::config::StorageBackend {
        use baton::config::StorageBackend as B;
        match self {
            Engine::Redb => B::Redb,
            Engine::Fjall => B::Fjall,
            Engine::Sled => B::Sled,
            Engine::Postgres => B::Postgres,
        }
    }

    /// `BENCH_ENGINE`, else postgres when `BENCH_PG` names a server, else redb.
    fn from_env() -> Engine {
        match std::env::var("BENCH_ENGINE") {
            Ok(e) => Engine::parse(&e),
            Err(_) if PG_ADMIN.get().is_some() => Engine::Postgres,
            Err(_) => Engine::Redb,
        }
    }
}

struct Server {
    addr: std::net::SocketAddr,
    base: String,
    stop: actix_web::dev::ServerHandle,
    /// Bearer secret of an agent token when auth is required.
    token: Option<String>,
    thread: std::thread::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// A new database on the server `admin` points at (a superuser's URL): its URL.
async fn fresh_database(admin: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let (client, conn) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
        .await
        .expect("connect to BENCH_PG");
    actix_rt::spawn(async move {
        let _ = conn.await;
    });
    let name = format!(
        "bench_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the bench database");
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    format!("{base}/{name}")
}

fn start_server(slots: u32) -> Server {
    start_server_with(slots, false, Engine::from_env())
}

/// A server with `slots` worker slots on `engine`; with `auth`, `[auth]
/// required = true` and an agent token (`Server::token`) every request must
/// present.
fn start_server_with(slots: u32, auth: bool, engine: Engine) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = Settings::for_tests(dir.path());
    settings.auth.required = auth;
    settings.slots.count = slots;
    settings.leases.ttl_secs = 600;
    settings.tasks.max_batch = 10_000;
    settings.storage.backend = engine.backend();
    let pg = (engine == Engine::Postgres).then(|| {
        PG_ADMIN
            .get()
            .cloned()
            .expect("the postgres engine needs BENCH_PG")
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let sys = actix_rt::System::new();
        sys.block_on(async move {
            if let Some(admin) = pg {
                settings.storage.url = fresh_database(&admin).await;
            }
            let runtime = Runtime::start(settings).await.expect("runtime");
            let token = if auth {
                let t = runtime
                    .auth()
                    .tokens()
                    .create("bench", Role::Agent, None)
                    .await
                    .expect("token");
                Some(t.secret)
            } else {
                None
            };
            let mount = runtime.configure();
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = listener.local_addr().expect("addr");
            let server = baton::runtime::http_server(move || App::new().configure(mount.clone()))
                .workers(2)
                .disable_signals()
                .shutdown_timeout(1)
                .listen(listener)
                .expect("listen")
                .run();
            tx.send((addr, server.handle(), token)).expect("send addr");
            server.await.expect("server");
            runtime.shutdown().await.expect("shutdown");
        });
    });
    let (addr, stop, token) = rx.recv().expect("server started");
    Server {
        addr,
        token,
        base: format!("http://{addr}/api/v1"),
        stop,
        thread,
        _dir: dir,
    }
}

/// What a claim reply is read for.
#[derive(serde::Deserialize)]
struct ClaimReply {
    task: IdOnly,
    lease: LeaseOnly,
}

#[derive(serde::Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(serde::Deserialize)]
struct LeaseOnly {
    lease_id: u64,
}

/// A minimal HTTP/1.1 keep-alive connection: one request at a time, like a
/// worker loop. Far cheaper than a general client, so the server gets the CPU.
struct Conn {
    stream: tokio::io::BufReader<tokio::net::TcpStream>,
    host: String,
    /// `Authorization: Bearer …\r\n`, or empty.
    auth: String,
}

impl Conn {
    async fn open(addr: std::net::SocketAddr, token: Option<&str>) -> Self {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            stream: tokio::io::BufReader::new(stream),
            host: addr.to_string(),
            auth: token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n")),
        }
    }

    async fn post(&mut self, path: &str, body: &str) -> (u16, Vec<u8>) {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\n{}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            self.auth,
            body.len()
        );
        self.stream
            .get_mut()
            .write_all(req.as_bytes())
            .await
            .expect("write");
        let mut line = String::new();
        self.stream.read_line(&mut line).await.expect("status line");
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let mut len = 0usize;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.expect("header");
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().expect("content-length");
                }
            }
        }
        let mut body = vec![0; len];
        self.stream.read_exact(&mut body).await.expect("body");
        (status, body)
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .build()
        .expect("client")
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn add_all(http: &reqwest::Client, base: &str, n: usize, token: Option<&str>) {
    for start in (0..n).step_by(1000) {
        let tasks: Vec<Value> = (start..(start + 1000).min(n))
            .map(|i| json!({"id": format!("t{i}"), "title": "bench"}))
            .collect();
        let mut req = http.post(format!("{base}/tasks"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req
            .json(&json!({ "tasks": tasks }))
            .send()
            .await
            .expect("add");
        assert_eq!(res.status(), 201);
    }
}

async fn cycles(workers: usize, auth: bool) -> (f64, f64, f64) {
    cycles_on(workers, auth, Engine::from_env(), TASKS).await
}

/// claim→complete of `tasks` tasks by `workers` workers on a fresh server
/// on `engine`: cycles/s, p50 and p99 cycle (ms).
async fn cycles_on(workers: usize, auth: bool, engine: Engine, tasks: usize) -> (f64, f64, f64) {
    let server = start_server_with(64, auth, engine);
    let http = client();
    add_all(&http, &server.base, tasks, server.token.as_deref()).await;
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut handles = Vec::new();
    for w in 0..workers {
        let (http, base, done) = (http.clone(), server.base.clone(), done.clone());
        let (addr, token) = (server.addr, server.token.clone());
        handles.push(tokio::spawn(async move {
            let _ = (&http, &base);
            let mut conn = Conn::open(addr, token.as_deref()).await;
            let mut lat = Vec::new();
            let claim_body = format!("{{\"worker\":\"w{w}\"}}");
            while start.elapsed() < DEADLINE {
                let t0 = Instant::now();
                let (status, body) = conn.post("/api/v1/tasks/claim-next", &claim_body).await;
                if status == 204 {
                    break;
                }
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                let c: ClaimReply = serde_json::from_slice(&body).expect("claim json");
                let path = format!("/api/v1/tasks/{}/complete", c.task.id);
                let (status, body) = conn
                    .post(&path, &format!("{{\"lease_id\":{}}}", c.lease.lease_id))
                    .await;
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                lat.push(t0.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await.expect("worker"));
    }
    let elapsed = start.elapsed();
    assert_eq!(
        done.load(Ordering::Relaxed),
        tasks,
        "all tasks cycled before the deadline"
    );
    lat.sort();
    let r = (
        tasks as f64 / elapsed.as_secs_f64(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
    );
    // group commit at work: how many commits each flush covered
    if let Ok(res) = http.get(format!("{}/stats", server.base)).send().await {
        if let Ok(v) = res.json::<Value>().await {
            eprintln!(
                "  [{} {workers} workers] {} commits in {} flushes",
                engine.name(),
                v["store"]["commits"],
                v["store"]["flushes"]
            );
        }
    }
    server.stop.stop(true).await;
    let _ = server.thread.join();
    r
}

async fn adds(clients: usize, batch: usize) -> (f64, f64, f64) {
    let server = start_server(64);
    let http = client();
    let per_client = TASKS / clients;
    let start = Instant::now();
    let mut handles = Vec::new();
    for c in 0..clients {
        let (http, base) = (http.clone(), server.base.clone());
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = 0;
            while i < per_client && start.elapsed() < DEADLINE {
                let n = batch.min(per_client - i);
                let tasks: Vec<Value> = (i..i + n)
                    .map(|k| json!({"id": format!("c{c}-{k}"), "title": "bench"}))
                    .collect();
                let body = if batch == 1 {
                    tasks[0].clone()
                } else {
                    json!({ "tasks": tasks })
                };
                let t0 = Instant::now();
                let res = http
                    .post(format!("{base}/tasks"))
                    .json(&body)
                    .send()
                    .await
                    .expect("add");
                assert_eq!(res.status(), 201);
                let _ = res.bytes().await;
                lat.push(t0.elapsed());
                i += n;
            }
            (i, lat)
        }));
    }
    let mut lat = Vec::new();
    let mut total = 0;
    for h in handles {
        let (n, l) = h.await.expect("client");
        total += n;
        lat.extend(l);
    }
    let elapsed = start.elapsed();
    lat.sort();
    let r = (
        total as f64 / elapsed.as_secs_f64(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
    );
    server.stop.stop(true).await;
    let _ = server.thread.join();
    r
}

/// p50/p99 (ms) and body size of `GET path`, `n` times, one client.
async fn reads(http: &reqwest::Client, url: &str, n: usize) -> (f64, f64, usize) {
    let mut lat = Vec::with_capacity(n);
    let mut size = 0;
    for _ in 0..n {
        let t0 = Instant::now();
        let res = http.get(url).send().await.expect("get");
        assert_eq!(res.status(), 200);
        size = res.bytes().await.expect("body").len();
        lat.push(t0.elapsed());
    }
    lat.sort();
    (pct(&lat, 0.5), pct(&lat, 0.99), size)
}

/// The ready tasks of a 10,000-task board with 100 ready: from the ready
/// queue (compat `available-tasks`) and by scanning the store (`/api/v1/tasks?status=ready`).
async fn ready_reads() -> Vec<(&'static str, f64, f64, usize)> {
    let server = start_server(64);
    let http = client();
    let roots: Vec<Value> = (0..100)
        .map(|i| json!({"id": format!("r{i}"), "title": "ready"}))
        .collect();
    let res = http
        .post(format!("{}/tasks", server.base))
        .json(&json!({ "tasks": roots }))
        .send()
        .await
        .expect("add");
    assert_eq!(res.status(), 201);
    for start in (0..TASKS - 100).step_by(1000) {
        let tasks: Vec<Value> = (start..(start + 1000).min(TASKS - 100))
            .map(|i| json!({"id": format!("b{i}"), "title": "blocked", "dependencies": [format!("r{}", i % 100)]}))
            .collect();
        let res = http
            .post(format!("{}/tasks", server.base))
            .json(&json!({ "tasks": tasks }))
            .send()
            .await
            .expect("add");
        assert_eq!(res.status(), 201);
    }
    let root = format!("http://{}", server.addr);
    let mut out = Vec::new();
    for (name, path) in [
        (
            "compat available-tasks (ready queue)",
            "/api/available-tasks",
        ),
        (
            "v1 tasks?status=ready (store scan)",
            "/api/v1/tasks?status=ready&limit=1000",
        ),
    ] {
        let url = format!("{root}{path}");
        let _ = reads(&http, &url, 5).await; // warm-up
        let (p50, p99, size) = reads(&http, &url, 200).await;
        out.push((name, p50, p99, size));
    }
    server.stop.stop(true).await;
    let _ = server.thread.join();
    out
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // BENCH_WORKERS=64 runs only that cycle benchmark (for profiling).
    let only: Option<usize> = std::env::var("BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok());
    let cluster = match std::env::var("BENCH_PG").ok().as_deref() {
        Some("auto") => {
            let pg = postgres::Postgres::start_or_skip().expect("PostgreSQL is installed");
            let _ = PG_ADMIN.set(pg.admin_url());
            Some(pg)
        }
        Some(url) => {
            let _ = PG_ADMIN.set(url.to_owned());
            None
        }
        None => None,
    };
    if let Some(pg) = &cluster {
        rt.block_on(postgres_side_by_side(pg));
        return;
    }
    rt.block_on(async {
        if let Some(w) = only {
            let auth = std::env::var_os("BENCH_AUTH").is_some();
            let (rate, p50, p99) = cycles(w, auth).await;
            println!(
                "| {w} | {} | {rate:.0} | {p50:.2} | {p99:.2} |",
                if auth { "bearer" } else { "off" }
            );
            return;
        }
        println!("## claim→complete over REST ({TASKS} tasks, slots = 64, durable acks)\n");
        println!("| workers | auth | cycles/s | p50 cycle (ms) | p99 cycle (ms) |");
        println!("|---:|---|---:|---:|---:|");
        // auth off (the default) and required (an agent's bearer token on every
        // request: lookup, role check and lease-owner check), side by side
        for (w, auth) in [
            (1, false),
            (1, true),
            (8, false),
            (8, true),
            (64, false),
            (64, true),
        ] {
            let (rate, p50, p99) = cycles(w, auth).await;
            let mode = if auth { "bearer" } else { "off" };
            println!("| {w} | {mode} | {rate:.0} | {p50:.2} | {p99:.2} |");
        }
        println!("\n## add-task throughput ({TASKS} tasks)\n");
        println!("| mode | tasks/s | p50 request (ms) | p99 request (ms) |");
        println!("|---|---:|---:|---:|");
        let (rate, p50, p99) = adds(64, 1).await;
        println!("| single adds, 64 clients | {rate:.0} | {p50:.2} | {p99:.2} |");
        let (rate, p50, p99) = adds(8, 100).await;
        println!("| batches of 100, 8 clients | {rate:.0} | {p50:.2} | {p99:.2} |");
        println!("\n## ready tasks of a {TASKS}-task board (100 ready), 200 sequential reads\n");
        println!("| read | p50 (ms) | p99 (ms) | body (bytes) |");
        println!("|---|---:|---:|---:|");
        for (name, p50, p99, size) in ready_reads().await {
            println!("| {name} | {p50:.2} | {p99:.2} | {size} |");
        }
    });
}

/// The `pgbench` script of one plain queue cycle: claim the oldest pending
/// job with `FOR UPDATE SKIP LOCKED` in one transaction, complete it in a
/// second (two commits per cycle, as baton's claim and complete are two
/// durable writes).
const SKIP_LOCKED_CYCLE: &str = "\
BEGIN;
SELECT id FROM jobs WHERE status = 0 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED \\gset
UPDATE jobs SET status = 1, worker = :client_id, claimed_at = now() WHERE id = :id;
COMMIT;
UPDATE jobs SET status = 2, done_at = now() WHERE id = :id;
";

/// `pgbench` running [`SKIP_LOCKED_CYCLE`] with `clients` clients for
/// `secs` seconds on a fresh database of `pg`: cycles per second.
fn skip_locked(pg: &postgres::Postgres, clients: usize, secs: u64) -> f64 {
    let url = pg.database();
    pg.psql_on(
        &url,
        "CREATE TABLE jobs (id bigint PRIMARY KEY, status int NOT NULL, worker int, \
         claimed_at timestamptz, done_at timestamptz); \
         INSERT INTO jobs (id, status) SELECT g, 0 FROM generate_series(1, 300000) g; \
         CREATE INDEX jobs_pending ON jobs (id) WHERE status = 0;",
    );
    pg.psql_on(&url, "VACUUM ANALYZE jobs");
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("cycle.sql");
    std::fs::write(&script, SKIP_LOCKED_CYCLE).expect("script");
    let out = std::process::Command::new(pg.tool("pgbench"))
        .args([
            "-n",
            "-c",
            &clients.to_string(),
            "-j",
            &clients.min(2).to_string(),
        ])
        .args(["-T", &secs.to_string(), "-f"])
        .arg(&script)
        .arg(&url)
        .output()
        .expect("pgbench");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pgbench failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find_map(|l| {
            l.strip_prefix("tps = ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or_else(|| panic!("no tps in pgbench's output: {text}"))
}

/// Tasks per claim→complete run at `workers` workers in the engine
/// comparison: fewer at 1 worker, where a run takes longest.
fn tasks_for(workers: usize) -> usize {
    std::env::var("BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if workers == 1 { 3_000 } else { TASKS })
}

/// p50 (ms) of a 4 KiB append followed by `fdatasync`, in a fresh file in
/// the file system the bench servers' data directories live in (the
/// temporary directory): what one durable commit cannot go below.
fn fdatasync_p50() -> f64 {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut f = std::fs::File::create(dir.path().join("probe")).expect("probe file");
    let block = vec![7u8; 4096];
    let mut lat = Vec::with_capacity(500);
    for _ in 0..500 {
        let t0 = Instant::now();
        f.write_all(&block).expect("write");
        f.sync_data().expect("fdatasync");
        lat.push(t0.elapsed());
    }
    lat.sort();
    pct(&lat, 0.5)
}

/// p50 (ms) of one loopback HTTP/1.1 round trip (the cycles' client,
/// keep-alive) to an actix-web handler that only answers `{}`, on 2
/// workers as the bench servers: what a request costs without baton.
async fn http_round_trip_p50() -> f64 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let sys = actix_rt::System::new();
        sys.block_on(async move {
            let server = actix_web::HttpServer::new(|| {
                App::new().route(
                    "/echo",
                    actix_web::web::post().to(|_body: actix_web::web::Bytes| async {
                        actix_web::HttpResponse::Ok()
                            .content_type("application/json")
                            .body("{}")
                    }),
                )
            })
            .workers(2)
            .disable_signals()
            .shutdown_timeout(1)
            .listen(listener)
            .expect("listen")
            .run();
            tx.send(server.handle()).expect("send handle");
            let _ = server.await;
        });
    });
    let handle = rx.recv().expect("echo server");
    let mut conn = Conn::open(addr, None).await;
    let mut lat = Vec::with_capacity(2000);
    for i in 0..2200 {
        let t0 = Instant::now();
        let (status, _) = conn.post("/echo", "{\"worker\":\"w0\"}").await;
        assert_eq!(status, 200);
        if i >= 200 {
            lat.push(t0.elapsed());
        }
    }
    handle.stop(true).await;
    let _ = thread.join();
    lat.sort();
    pct(&lat, 0.5)
}

/// `lo – hi` of `xs` with `digits` decimals.
fn range(xs: &[f64], digits: usize) -> String {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if xs.len() == 1 || (hi - lo).abs() < f64::EPSILON {
        format!("{lo:.digits$}")
    } else {
        format!("{lo:.digits$} – {hi:.digits$}")
    }
}

/// Every engine (`BENCH_ENGINES`) next to a plain `SKIP LOCKED` loop on
/// `pg`, alternating, `BENCH_ROUNDS` rounds, with the floor of a cycle
/// measured in each round.
async fn postgres_side_by_side(pg: &postgres::Postgres) {
    let engines: Vec<Engine> = std::env::var("BENCH_ENGINES")
        .unwrap_or_else(|_| "redb,fjall,sled,postgres".into())
        .split(',')
        .map(Engine::parse)
        .collect();
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let workers: Vec<usize> = std::env::var("BENCH_WORKER_COUNTS")
        .unwrap_or_else(|_| "1,8,64".into())
        .split(',')
        .map(|w| w.trim().parse().expect("a worker count"))
        .collect();
    // (workers, engine) -> per round: (cycles/s, p50, p99, ratio to the loop)
    type Runs = Vec<(f64, f64, f64, f64)>;
    let mut results: std::collections::BTreeMap<(usize, usize), Runs> = Default::default();
    let mut loops: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
    let mut syncs = Vec::new();
    let mut trips = Vec::new();
    println!(
        "## claim→complete, every engine beside a plain SKIP LOCKED loop (pgbench), alternating\n"
    );
    println!("| round | workers | engine | cycles/s | p50 / p99 cycle (ms) | SKIP LOCKED cycles/s | ÷ loop |");
    println!("|---:|---:|---|---:|---:|---:|---:|");
    for round in 1..=rounds {
        let sync = tokio::task::block_in_place(fdatasync_p50);
        let trip = http_round_trip_p50().await;
        eprintln!("round {round}: fdatasync p50 {sync:.3} ms, loopback HTTP p50 {trip:.3} ms");
        syncs.push(sync);
        trips.push(trip);
        for &w in &workers {
            let plain = tokio::task::block_in_place(|| skip_locked(pg, w, 5));
            loops.entry(w).or_default().push(plain);
            for (e, &engine) in engines.iter().enumerate() {
                let (rate, p50, p99) = cycles_on(w, false, engine, tasks_for(w)).await;
                println!(
                    "| {round} | {w} | {} | {rate:.0} | {p50:.2} / {p99:.2} | {plain:.0} | {:.2} |",
                    engine.name(),
                    rate / plain
                );
                results
                    .entry((w, e))
                    .or_default()
                    .push((rate, p50, p99, rate / plain));
            }
        }
    }
    println!("\n## summary over {rounds} rounds (ranges)\n");
    println!("| workers | engine | cycles/s | p50 cycle (ms) | p99 cycle (ms) | ÷ SKIP LOCKED (same round) |");
    println!("|---:|---|---:|---:|---:|---:|");
    for &w in &workers {
        let plain = &loops[&w];
        println!("| {w} | SKIP LOCKED loop | {} | | | 1 |", range(plain, 0));
        for (e, engine) in engines.iter().enumerate() {
            let r = &results[&(w, e)];
            let col = |f: fn(&(f64, f64, f64, f64)) -> f64| r.iter().map(f).collect::<Vec<_>>();
            println!(
                "| {w} | {} | {} | {} | {} | {} |",
                engine.name(),
                range(&col(|x| x.0), 0),
                range(&col(|x| x.1), 2),
                range(&col(|x| x.2), 2),
                range(&col(|x| x.3), 2)
            );
        }
    }
    let floors: Vec<f64> = syncs
        .iter()
        .zip(&trips)
        .map(|(s, t)| 2.0 * s + 2.0 * t)
        .collect();
    println!(
        "\nfloor of a cycle: fdatasync (4 KiB append) p50 {} ms, loopback HTTP round trip p50 {} ms; \
         two of each: {} ms",
        range(&syncs, 3),
        range(&trips, 3),
        range(&floors, 3)
    );
}
