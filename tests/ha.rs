//! Issue 14: several `baton serve` nodes on one PostgreSQL database (a real
//! server started by the test). One leads; a follower answers `/healthz`
//! and `/readyz` itself and proxies everything else — REST and MCP
//! sessions — to the leader; a paused leader is fenced and steps down.
//! The `kill -9` failover loop is in tests/soak.rs.
//!
//! Nodes run in this process through `baton::serve::run` (each on a thread
//! of its own with its own actix system, as separate processes would), and
//! stop through its stop future; only a node the test pauses with
//! `SIGSTOP` is a real `baton serve` child process.

mod common;

use std::time::{Duration, Instant};

use baton::serve::Stop;
use common::postgres::Postgres;
use common::{spawn_baton, Child};
use serde_json::{json, Value};

/// The failover timeout the tests run with (`[ha] failover_timeout_secs`).
const FAILOVER_SECS: u64 = 2;

/// A `baton serve` child process on `url` with
/// `[ha] failover_timeout_secs = failover_secs` (for a node the test pauses).
fn spawned_node(url: &str, failover_secs: u64) -> Child {
    spawn_baton(
        &["serve", "--bind", "127.0.0.1:0"],
        &[
            ("BATON_STORAGE__BACKEND", "postgres"),
            ("BATON_STORAGE__URL", url),
            (
                "BATON_HA__FAILOVER_TIMEOUT_SECS",
                &failover_secs.to_string(),
            ),
            ("BATON_LEASES__TTL_SECS", "60"),
        ],
    )
}

/// A node run in this process by `baton::serve::run` on 127.0.0.1:0, on a
/// thread with its own actix system; stopped (forced) when dropped.
struct Node {
    /// `http://127.0.0.1:<port>`.
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<Stop>>,
    /// What `serve::run` returned, sent when its thread ends.
    ended: std::sync::mpsc::Receiver<Result<(), String>>,
}

/// How an in-process node ended (`Ok` when `serve::run` did).
#[derive(Debug)]
struct Exit(Result<(), String>);

impl Exit {
    fn success(&self) -> bool {
        self.0.is_ok()
    }
}

impl Node {
    /// The same settings as [`spawned_node`]'s environment, over the defaults.
    fn start(url: &str, failover_secs: u64) -> Self {
        let mut settings = baton::Settings::default();
        settings.storage.backend = baton::config::StorageBackend::Postgres;
        settings.storage.url = url.to_owned();
        settings.ha.failover_timeout_secs = failover_secs;
        settings.leases.ttl_secs = 60;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let (done, ended) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let r = actix_web::rt::System::new().block_on(baton::serve::run(
                settings,
                listener,
                // dropped without a word: a forced stop
                async move { stopped.await.unwrap_or(Stop::Forced) },
            ));
            let _ = done.send(r.map_err(|e| format!("{e:?}")));
        });
        Self {
            url,
            stop: Some(stop),
            ended,
        }
    }

    /// Stop it as `how` and wait up to `bound` for `serve::run` to return;
    /// `None` if it did not return in time.
    fn stop(&mut self, how: Stop, bound: Duration) -> Option<Exit> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(how);
        }
        self.ended.recv_timeout(bound).ok().map(Exit)
    }

    /// A graceful stop (what `SIGTERM` asks of `baton serve`).
    fn terminate(&mut self, bound: Duration) -> Option<Exit> {
        self.stop(Stop::Graceful, bound)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.stop.is_some() {
            let _ = self.stop(Stop::Forced, Duration::from_secs(15));
        }
    }
}

/// Log what in-process nodes log (`RUST_LOG`, by default warnings) to the
/// test's output; once per process.
fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, Value) {
    match http.get(url).send().await {
        Ok(res) => common::read(res).await,
        Err(_) => (0, Value::Null),
    }
}

async fn post(http: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    match http.post(url).json(&body).send().await {
        Ok(res) => common::read(res).await,
        Err(_) => (0, Value::Null),
    }
}

/// Poll until `node`'s `/readyz` answers `status` (bounded; fails naming `what`).
async fn wait_ready(what: &str, http: &reqwest::Client, node: &str, status: u16, within: Duration) {
    common::wait_until(what, within, || async {
        get(http, &format!("{node}/readyz")).await.0 == status
    })
    .await;
}

/// Node A on `db`, once it leads (its `/readyz` answers 200), then node B,
/// which follows; both with `[ha] failover_timeout_secs = failover_secs`,
/// both in this process.
async fn leader_and_follower(http: &reqwest::Client, db: &str, failover_secs: u64) -> (Node, Node) {
    logs();
    let a = Node::start(db, failover_secs);
    wait_ready("A leads", http, &a.url, 200, Duration::from_secs(30)).await;
    (a, Node::start(db, failover_secs))
}

/// [`leader_and_follower`] with A a `baton serve` child process, for the
/// tests that pause it with `SIGSTOP`.
async fn spawned_leader_and_follower(
    http: &reqwest::Client,
    db: &str,
    failover_secs: u64,
) -> (Child, Node) {
    logs();
    let a = spawned_node(db, failover_secs);
    wait_ready("A leads", http, &a.url, 200, Duration::from_secs(30)).await;
    (a, Node::start(db, failover_secs))
}

/// Poll until `node` has stepped down to follower (`/readyz` 503, role
/// `follower`), bounded by 10 s; fails naming `what`.
async fn stepped_down(what: &str, http: &reqwest::Client, node: &str) {
    common::wait_until(what, Duration::from_secs(10), || async {
        let (st, r) = get(http, &format!("{node}/readyz")).await;
        st == 503 && r["role"] == "follower"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_proxies_rest_and_mcp_to_the_leader() {
    let Some(pg) = Postgres::start_or_skip() else {
        return;
    };
    let db = pg.database();
    let http = http();
    let (a, b) = leader_and_follower(&http, &db, FAILOVER_SECS).await;
    // B answers its own health and readiness: alive, not the leader
    let (st, health) = get(&http, &format!("{}/healthz", b.url)).await;
    assert_eq!(
        (st, health["role"].as_str()),
        (200, Some("follower")),
        "{health}"
    );
    common::wait_until("B follows A", Duration::from_secs(10), || async {
        let (st, r) = get(&http, &format!("{}/readyz", b.url)).await;
        st == 503 && r["leader"] == a.url.as_str()
    })
    .await;
    let (st, r) = get(&http, &format!("{}/readyz", a.url)).await;
    assert_eq!(st, 200, "{r}");

    // REST through B lands on A's board
    let (st, v) = post(
        &http,
        &format!("{}/api/v1/tasks", b.url),
        json!({"id": "via-b", "title": "added through the follower"}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = get(&http, &format!("{}/api/v1/tasks/via-b", a.url)).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("ready")), "{v}");
    let (st, claim) = post(
        &http,
        &format!("{}/api/v1/tasks/claim-next", b.url),
        json!({"worker": "w1"}),
    )
    .await;
    assert_eq!(st, 200, "{claim}");
    let lease = claim["lease"]["lease_id"].as_u64().expect("lease");
    let (st, v) = post(
        &http,
        &format!("{}/api/v1/tasks/via-b/complete", b.url),
        json!({"lease_id": lease, "output": "ok"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    // the leader's own errors come back as they are
    let (st, v) = post(
        &http,
        &format!("{}/api/v1/tasks/via-b/complete", b.url),
        json!({"lease_id": lease, "output": "again"}),
    )
    .await;
    assert_eq!(st, 409, "{v}");
    // the follower is an edge too: a foreign Host is refused there
    let res = http
        .get(format!("{}/api/v1/tasks", b.url))
        .header("Host", "evil.example")
        .send()
        .await
        .expect("answer");
    let (st, v) = common::read(res).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("forbidden_host")),
        "{v}"
    );

    // a request another node already forwarded is never forwarded again
    let res = http
        .get(format!("{}/api/v1/tasks", b.url))
        .header("X-Baton-Proxied", "1")
        .send()
        .await
        .expect("answer");
    assert_eq!(
        res.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    let (st, v) = common::read(res).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (503, Some("no_leader")),
        "{v}"
    );

    // an MCP session through B: initialize, list, call — all on A
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    use rmcp::ServiceExt;
    let client = ()
        .serve(rmcp::transport::StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", b.url)),
        ))
        .await
        .expect("MCP initialize through the follower");
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(tools.iter().any(|t| t.name == "add_task"), "{tools:?}");
    let r = common::mcp_call(
        &client,
        "add_task",
        json!({"id": "mcp-via-b", "title": "added over MCP through the follower"}),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    let _ = client.cancel().await;
    let (st, v) = get(&http, &format!("{}/api/v1/tasks/mcp-via-b", a.url)).await;
    assert_eq!(st, 200, "{v}");
}

/// Must-show 3: `SIGSTOP` the leader, let the follower take over, send the
/// paused leader writes, `SIGCONT` it: none of them reaches the database
/// (each is refused, never acknowledged), and it steps down (`/readyz`
/// 503, then it proxies to the new leader).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_leader_is_fenced_and_steps_down() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let Some(pg) = Postgres::start_or_skip() else {
        return;
    };
    let db = pg.database();
    let http = http();
    let (a, b) = spawned_leader_and_follower(&http, &db, FAILOVER_SECS).await;
    let tasks: Vec<Value> = (0..10)
        .map(|i| json!({"id": format!("t{i}"), "title": format!("t{i}")}))
        .collect();
    let (st, v) = post(
        &http,
        &format!("{}/api/v1/tasks", a.url),
        json!({ "tasks": tasks }),
    )
    .await;
    assert_eq!(st, 201, "{v}");

    let a_pid = Pid::from_raw(a.process.id() as i32);
    kill(a_pid, Signal::SIGSTOP).expect("SIGSTOP");
    let paused = Instant::now();
    let bound = Duration::from_secs(4 * FAILOVER_SECS);
    wait_ready("B takes over", &http, &b.url, 200, bound).await;
    let failover = paused.elapsed();
    eprintln!("failover after SIGSTOP of the leader: {failover:?}");
    assert!(
        failover < Duration::from_secs(FAILOVER_SECS) + Duration::from_secs(2),
        "failover took {failover:?}"
    );
    // the new leader works
    let (st, v) = post(
        &http,
        &format!("{}/api/v1/tasks/claim-next", b.url),
        json!({"worker": "on-b"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let claimed_on_b = v["task"]["id"].as_str().expect("id").to_owned();

    // writes queued at the paused old leader (the kernel accepts the
    // connections; A reads them once it runs again)
    let queued: Vec<_> = (0..5)
        .map(|i| {
            let http = http.clone();
            let url = format!("{}/api/v1/tasks", a.url);
            tokio::spawn(async move {
                post(
                    &http,
                    &url,
                    json!({"id": format!("late{i}"), "title": "late"}),
                )
                .await
            })
        })
        .collect();
    let claims: Vec<_> = (0..3)
        .map(|i| {
            let http = http.clone();
            let url = format!("{}/api/v1/tasks/claim-next", a.url);
            tokio::spawn(
                async move { post(&http, &url, json!({"worker": format!("old{i}")})).await },
            )
        })
        .collect();
    let what = "the 8 requests wait unread at A";
    common::wait_until_sync(what, Duration::from_secs(10), || {
        common::unread_at(&a.url) >= 8
    })
    .await;
    kill(a_pid, Signal::SIGCONT).expect("SIGCONT");
    // What A processes itself is refused: its writes meet the fence (or its
    // server stops under them). Requests still unread in the socket's
    // backlog when A has stepped down are proxied to B like any follower's
    // — acknowledged by B, and then on B's board. Either way: nothing
    // acknowledged is missing, and nothing refused is there.
    let mut acked_claims = Vec::new();
    for (i, h) in queued.into_iter().enumerate() {
        let (st, v) = h.await.expect("request");
        let (on_b, _) = get(&http, &format!("{}/api/v1/tasks/late{i}", b.url)).await;
        match st {
            201 => assert_eq!(on_b, 200, "acknowledged late{i} is missing: {v}"),
            502 => {} // the leader it was proxied to failed mid-request: either way
            _ => assert_eq!(
                on_b, 404,
                "late{i} was refused ({st} {v}) yet reached the database"
            ),
        }
    }
    for h in claims {
        let (st, v) = h.await.expect("request");
        if st == 200 {
            acked_claims.push(v["task"]["id"].as_str().expect("id").to_owned());
        }
    }
    stepped_down("A steps down", &http, &a.url).await;
    let (st, list) = get(&http, &format!("{}/api/v1/tasks?status=running", b.url)).await;
    assert_eq!(st, 200, "{list}");
    let running: Vec<&str> = list["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    let mut expected: Vec<&str> = acked_claims.iter().map(String::as_str).collect();
    expected.push(claimed_on_b.as_str());
    expected.sort();
    let mut running = running;
    running.sort();
    assert_eq!(running, expected, "only acknowledged claims hold");
    // and A, now a follower, serves B's board through its proxy
    let (st, v) = get(&http, &format!("{}/api/v1/tasks/{claimed_on_b}", a.url)).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("running")), "{v}");
}

/// A leader paused while its commit group's transaction is open holds the
/// leadership row's fence lock (`FOR KEY SHARE`), which the takeover's
/// `FOR UPDATE` waits for. Its session's `idle_in_transaction_session_timeout`
/// (half the lease) ends that transaction, so the follower still takes over
/// in time; the paused leader's open group never commits, and every write
/// it acknowledged before the pause is on the new leader's board.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_paused_inside_a_transaction_does_not_block_the_takeover() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let Some(pg) = Postgres::start_or_skip() else {
        return;
    };
    let db = pg.database();
    let http = http();
    let (a, b) = spawned_leader_and_follower(&http, &db, FAILOVER_SECS).await;
    let (sql, conn) = tokio_postgres::connect(&db, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);

    // a write load on A, so that its committer is inside a transaction most
    // of the time: 16 writers, each bounded in count
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let load: Vec<_> = (0..16)
        .map(|w| {
            let (http, url) = (http.clone(), format!("{}/api/v1/tasks", a.url));
            let (stop, acked) = (stop.clone(), acked.clone());
            tokio::spawn(async move {
                for n in 0..2_000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let id = format!("w{w}-{n}");
                    let (st, _) = post(&http, &url, json!({"id": id, "title": "load"})).await;
                    if st == 201 {
                        acked.lock().expect("log").push(id);
                    }
                }
            })
        })
        .collect();
    common::wait_until("the load runs", Duration::from_secs(10), || async {
        acked.lock().expect("log").len() >= 100
    })
    .await;

    // pause A until it is caught with a transaction open
    let a_pid = Pid::from_raw(a.process.id() as i32);
    // a write transaction that holds the fence (its `FOR KEY SHARE` takes
    // a RowShareLock on the table) — not one of A's read snapshots
    let in_transaction = "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND state = 'idle in transaction' \
         AND pid IN (SELECT pid FROM pg_locks \
                     WHERE relation = 'baton_leader'::regclass AND mode = 'RowShareLock')";
    let mut caught = None;
    for attempt in 0..50u64 {
        kill(a_pid, Signal::SIGSTOP).expect("SIGSTOP");
        let paused = Instant::now();
        let open: i64 = sql
            .query_one(in_transaction, &[])
            .await
            .expect("pg_stat_activity")
            .get(0);
        if open > 0 {
            caught = Some(paused);
            break;
        }
        kill(a_pid, Signal::SIGCONT).expect("SIGCONT");
        // sleep: a varying gap before the next try to catch A mid-transaction
        tokio::time::sleep(Duration::from_millis(3 + attempt % 7)).await;
    }
    let Some(paused) = caught else {
        panic!("A was never caught inside a transaction in 50 pauses");
    };
    let bound = Duration::from_secs(4 * FAILOVER_SECS);
    wait_ready("B takes over", &http, &b.url, 200, bound).await;
    let failover = paused.elapsed();
    stop.store(true, Ordering::SeqCst);
    kill(a_pid, Signal::SIGCONT).expect("SIGCONT");
    eprintln!("failover after pausing the leader inside a transaction: {failover:?}");
    assert!(
        failover < Duration::from_secs(FAILOVER_SECS) + Duration::from_secs(2),
        "failover took {failover:?}"
    );
    for h in load {
        h.await.expect("writer");
    }
    stepped_down("A steps down", &http, &a.url).await;
    let acked = acked.lock().expect("log").clone();
    for id in &acked {
        let (st, v) = get(&http, &format!("{}/api/v1/tasks/{id}", b.url)).await;
        assert_eq!(
            st, 200,
            "acknowledged {id} is missing on the new leader: {v}"
        );
    }
}

/// A graceful stop (`SIGTERM`) gives the lease up: the follower takes over
/// at its next look, not after the lease (here 10 s) expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_hands_the_leadership_over_at_once() {
    let Some(pg) = Postgres::start_or_skip() else {
        return;
    };
    let db = pg.database();
    let http = http();
    let (mut a, b) = leader_and_follower(&http, &db, 20).await;
    let stopped = Instant::now();
    let status = a.terminate(Duration::from_secs(10)).expect("A exits");
    assert!(status.success(), "{status:?}");
    let what = "B takes over well before A's 10 s lease would have expired";
    wait_ready(what, &http, &b.url, 200, Duration::from_secs(8)).await;
    let took = stopped.elapsed();
    assert!(took < Duration::from_secs(8), "{took:?}");
}

/// Nodes bound to every interface must say where the others reach them:
/// named after `0.0.0.0`, they would all pass for one another.
#[test]
fn a_node_bound_to_every_interface_needs_an_advertise_url() {
    let out = common::baton_command()
        .args(["serve", "--bind", "0.0.0.0:0"])
        .env("BATON_AUTH__REQUIRED", "true")
        .env("BATON_STORAGE__BACKEND", "postgres")
        .env("BATON_STORAGE__URL", "postgres://nobody@127.0.0.1:1/none")
        .env("RUST_LOG", "off")
        .output()
        .expect("run baton");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("set [server] advertise_url"), "{err}");
}
