//! The event stream under many subscribers (`cargo bench --bench sse`,
//! part of `make bench`): a real baton server (actors, redb with group
//! commit, actix-web with 2 workers) on 127.0.0.1:0 in its own thread, and a
//! load generator on its own 2-thread tokio runtime in the same process.
//!
//! For 0 and for `BENCH_SSE_SUBSCRIBERS` (default 1,000) open
//! `GET /api/v1/events` streams, one client adds `ADDS` tasks one after
//! another (each a durable write, answered once flushed) and the bench
//! reports the add latency (mean, p50, p99) and how long until every
//! subscriber had received every event. Each subscriber is a raw keep-alive
//! TCP connection that reads and counts frames, so the client side costs
//! little next to the server.
//!
//! Every run uses a fresh data directory; every wait is bounded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::App;
use baton::{Runtime, Settings};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tasks added per run, one after another.
const ADDS: usize = 300;
/// Bound on every wait of a run.
const DEADLINE: Duration = Duration::from_secs(120);

struct Server {
    addr: std::net::SocketAddr,
    stop: actix_web::dev::ServerHandle,
    thread: std::thread::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn start_server() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = Settings::for_tests(dir.path());
    settings.mcp.enabled = false;
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let sys = actix_rt::System::new();
        sys.block_on(async move {
            let runtime = Runtime::start(settings).await.expect("runtime");
            let mount = runtime.configure();
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = listener.local_addr().expect("addr");
            let server = baton::runtime::http_server(move || App::new().configure(mount.clone()))
                .workers(2)
                .max_connections(100_000)
                .disable_signals()
                .shutdown_timeout(1)
                .listen(listener)
                .expect("listen")
                .run();
            tx.send((addr, server.handle())).expect("send addr");
            server.await.expect("server");
            runtime.shutdown().await.expect("shutdown");
        });
    });
    let (addr, stop) = rx.recv().expect("server started");
    Server {
        addr,
        stop,
        thread,
        _dir: dir,
    }
}

/// Open one event stream and count the task frames it receives into
/// `frames`; `opened` counts streams whose first bytes (the stream's hello)
/// arrived.
async fn subscribe(
    addr: std::net::SocketAddr,
    frames: Arc<AtomicUsize>,
    opened: Arc<AtomicUsize>,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req =
        format!("GET /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("request");
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry: Vec<u8> = Vec::new();
    let needle = b"\nevent: task_added";
    let mut first = true;
    loop {
        let n = tokio::select! {
            n = stream.read(&mut buf) => n.unwrap_or(0),
            () = stop.cancelled() => return,
        };
        if n == 0 {
            return;
        }
        if first {
            first = false;
            opened.fetch_add(1, Ordering::Relaxed);
        }
        carry.extend_from_slice(&buf[..n]);
        let found = carry.windows(needle.len()).filter(|w| w == needle).count();
        if found > 0 {
            frames.fetch_add(found, Ordering::Relaxed);
        }
        // keep a tail that may hold the start of a needle cut by this read
        let keep = carry.len().min(needle.len() - 1);
        carry.drain(..carry.len() - keep);
    }
}

/// One keep-alive connection adding tasks one after another.
struct Adder {
    stream: tokio::io::BufReader<tokio::net::TcpStream>,
    host: String,
}

impl Adder {
    async fn open(addr: std::net::SocketAddr) -> Self {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            stream: tokio::io::BufReader::new(stream),
            host: addr.to_string(),
        }
    }

    /// Add one task; its status.
    async fn add(&mut self, i: usize) -> u16 {
        let body = format!(
            r#"{{"title": "task {i}", "payload": {{"n": {i}, "text": "an event every subscriber receives"}}}}"#
        );
        let req = format!(
            "POST /api/v1/tasks HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
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
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().expect("content-length");
            }
        }
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body).await.expect("body");
        status
    }
}

/// Poll `f` every 10 ms until it holds or [`DEADLINE`] passes.
async fn until(what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One run with `subscribers` open streams.
async fn run(subscribers: usize) {
    let server = start_server();
    let frames = Arc::new(AtomicUsize::new(0));
    let opened = Arc::new(AtomicUsize::new(0));
    let stop = tokio_util::sync::CancellationToken::new();
    let mut readers = Vec::with_capacity(subscribers);
    for _ in 0..subscribers {
        readers.push(tokio::spawn(subscribe(
            server.addr,
            frames.clone(),
            opened.clone(),
            stop.clone(),
        )));
    }
    until("every stream to open", || {
        opened.load(Ordering::Relaxed) == subscribers
    })
    .await;
    let mut adder = Adder::open(server.addr).await;
    for i in 0..20 {
        assert_eq!(adder.add(i).await, 201, "warm-up add");
    }
    until("the warm-up events to arrive", || {
        frames.load(Ordering::Relaxed) == 20 * subscribers
    })
    .await;
    frames.store(0, Ordering::Relaxed);
    let mut latencies = Vec::with_capacity(ADDS);
    let started = Instant::now();
    for i in 0..ADDS {
        let t = Instant::now();
        assert_eq!(adder.add(20 + i).await, 201, "add");
        latencies.push(t.elapsed());
    }
    let adds_done = started.elapsed();
    until("every event at every subscriber", || {
        frames.load(Ordering::Relaxed) == ADDS * subscribers
    })
    .await;
    let delivered = started.elapsed();
    latencies.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = latencies.iter().map(|d| ms(*d)).sum::<f64>() / latencies.len() as f64;
    println!(
        "sse  subscribers={subscribers:>5}  adds={ADDS}  add mean={mean:.2} ms  p50={:.2} ms  p99={:.2} ms  adds took {:.2} s  every event delivered after {:.2} s",
        ms(latencies[latencies.len() / 2]),
        ms(latencies[latencies.len() * 99 / 100]),
        adds_done.as_secs_f64(),
        delivered.as_secs_f64(),
    );
    stop.cancel();
    for r in readers {
        let _ = r.await;
    }
    server.stop.stop(true).await;
    let _ = server.thread.join();
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it once too
    let subscribers: usize = std::env::var("BENCH_SSE_SUBSCRIBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("load runtime");
    rt.block_on(async {
        run(0).await;
        run(subscribers).await;
    });
}
