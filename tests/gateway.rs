//! baton in front of real downstream MCP servers: the official
//! `@modelcontextprotocol/server-everything` (from npm, `tests/downstream`)
//! over stdio and over streamable HTTP, and the fault-injection server
//! (`examples/fault_server.rs`). Through baton's own `/mcp` (gateway tools
//! `<server>__<tool>`, tool errors for open breakers), the REST admin surface,
//! `/metrics`, and the dispatcher running DAGs of executor tasks unattended —
//! also across a `kill -9` of the downstream server. No mocks.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use baton::model::TaskStatus;
use common::{fault_server, TestServer};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};

type Client = RunningService<RoleClient, ()>;

fn downstream_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/downstream")
}

/// server-everything's entry point (installed by `npm ci` in tests/downstream; `make test` does).
fn everything() -> PathBuf {
    let p =
        downstream_dir().join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(
        p.exists(),
        "{} is missing: run `npm ci` in tests/downstream (make test does)",
        p.display()
    );
    p
}

/// server-everything over streamable HTTP on a loopback port (it says
/// where on stderr); killed on drop.
fn http_everything() -> common::Child {
    let mut cmd = Command::new("node");
    cmd.arg("--import")
        .arg(downstream_dir().join("loopback.mjs"))
        .arg(everything())
        .arg("streamableHttp")
        .env("PORT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let announces = common::Announces::Stderr("listening on ");
    common::Child::start(cmd, announces, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("server-everything (HTTP) did not start: {e}"))
}

fn write_servers(dir: &Path, servers: Value) -> PathBuf {
    let path = dir.join("mcp.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&servers).expect("json")).expect("write");
    path
}

async fn connect(s: &TestServer) -> Client {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("http://{}/mcp", s.addr)),
    );
    ().serve(transport).await.expect("initialize")
}

async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    client
        .call_tool(
            CallToolRequestParams::new(tool.to_owned())
                .with_arguments(args.as_object().cloned().unwrap_or_default()),
        )
        .await
        .expect("tools/call reaches baton")
}

fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One server's status from `/api/v1/servers`.
async fn server(s: &TestServer, name: &str) -> Value {
    let (status, v) = s.get(&format!("/servers/{name}")).await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn wait_ready(s: &TestServer, names: &[&str]) {
    let what = format!("servers {names:?} are ready");
    common::wait_until(&what, Duration::from_secs(60), || async {
        let mut all = true;
        for n in names {
            all &= server(s, n).await["state"] == "ready";
        }
        all
    })
    .await;
}

fn alive(pid: u64) -> bool {
    // a zombie is gone for our purposes: it runs nothing and holds no port
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

#[actix_web::test]
async fn server_everything_over_stdio_and_http_through_baton() {
    let web = http_everything();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_servers(
        dir.path(),
        json!({ "mcpServers": {
            "everything": { "command": "node", "args": [everything(), "stdio"] },
            "web": { "type": "streamable-http", "url": "${WEB_URL}" },
            "bad name!": { "command": "node" },
            "nothing": { "args": ["no command"] }
        }}),
    );
    std::env::set_var("WEB_URL", &web.url);
    let s = TestServer::start(|st| {
        st.pool.mcp_servers = file;
        st.pool.executable_tools = vec!["get-tiny-image".into()];
        st.tasks.max_payload_bytes = 512;
    })
    .await;
    wait_ready(&s, &["everything", "web"]).await;

    // invalid entries are reported by name; the others run
    let (_, list) = s.get("/servers").await;
    let states: HashMap<String, String> = list["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap_or("").to_owned(),
                v["state"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states.get("nothing").map(String::as_str),
        Some("invalid"),
        "{list}"
    );
    assert_eq!(
        states.get("bad name!").map(String::as_str),
        Some("invalid"),
        "{list}"
    );

    // a real MCP client sees and calls the downstream tools through baton's /mcp
    let client = connect(&s).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    let names: HashSet<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for t in [
        "everything__echo",
        "everything__get-sum",
        "web__echo",
        "add_task",
    ] {
        assert!(names.contains(t), "{t} missing from {names:?}");
    }
    for t in &tools {
        assert!(
            t.name.len() <= 64
                && t.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "{}",
            t.name
        );
    }
    let echo = tools
        .iter()
        .find(|t| t.name == "everything__echo")
        .expect("echo");
    assert!(
        echo.input_schema.get("properties").is_some(),
        "schemas are carried over"
    );

    let r = call(
        &client,
        "everything__echo",
        json!({ "message": "over stdio" }),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    assert_eq!(text(&r), "Echo: over stdio");
    let r = call(&client, "web__echo", json!({ "message": "over http" })).await;
    assert_eq!(text(&r), "Echo: over http");
    let r = call(&client, "everything__get-sum", json!({ "a": 2, "b": 3 })).await;
    assert!(text(&r).contains('5'), "{r:?}");
    // the downstream's own validation error is a result, passed through
    let r = call(&client, "everything__echo", json!({})).await;
    assert_eq!(r.is_error, Some(true));

    // prompts likewise: <server>__<prompt>, fetched from the downstream server
    let prompts = client.list_all_prompts().await.expect("prompts/list");
    let pnames: HashSet<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    for p in [
        "everything__simple-prompt",
        "everything__args-prompt",
        "web__simple-prompt",
        "work_next_task",
    ] {
        assert!(pnames.contains(p), "{p} missing from {pnames:?}");
    }
    let args = json!({ "city": "Paris" }).as_object().cloned();
    let got = client
        .get_prompt(
            rmcp::model::GetPromptRequestParams::new("everything__args-prompt")
                .with_arguments(args.unwrap_or_default()),
        )
        .await
        .expect("prompts/get");
    assert!(
        serde_json::to_string(&got.messages)
            .expect("json")
            .contains("Paris"),
        "{got:?}"
    );
    assert!(client
        .get_prompt(rmcp::model::GetPromptRequestParams::new("everything__nope"))
        .await
        .is_err());

    // admin surface: REST, MCP tools, metrics
    let st = server(&s, "everything").await;
    assert_eq!(st["transport"], "stdio");
    assert_eq!(st["breaker"]["state"], "closed");
    assert!(st["tools"].as_u64().unwrap_or(0) >= 10, "{st}");
    assert!(st["calls"].as_u64().unwrap_or(0) >= 3, "{st}");
    assert!(st["latency"]["p50_ms"].as_f64().is_some(), "{st}");
    let pid = st["pid"].as_u64().expect("child pid");
    assert!(alive(pid));
    let (code, tools_of) = s.get("/servers/web/tools").await;
    assert_eq!(code, 200);
    assert!(tools_of["tools"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["name"] == "web__echo")));
    let (code, err) = s.get("/servers/nope").await;
    assert_eq!(
        (code, err["error"]["code"].as_str()),
        (404, Some("unknown_server"))
    );
    let r = call(&client, "list_servers", json!({})).await;
    let listed = r.structured_content.expect("structured")["servers"].clone();
    assert!(listed.as_array().is_some_and(|a| a.len() == 4), "{listed}");
    let r = call(&client, "server_status", json!({ "server": "web" })).await;
    let out = r.structured_content.expect("structured");
    assert_eq!(out["server"]["transport"], "http");
    let metrics = s.metrics().await;
    assert!(
        metrics.contains("baton_downstream_up{server=\"everything\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("baton_downstream_calls_total{server=\"web\"}"),
        "{metrics}"
    );
    assert!(metrics.trim_end().ends_with("# EOF"));

    // an executor whose result the board cannot take (larger than max_payload_bytes) fails
    // the task for good with the reason, instead of leaving it to expire and run again
    let (code, _) = s
        .post(
            "/tasks",
            json!({ "id": "big", "title": "big", "max_attempts": 3,
                    "executor": { "server": "everything", "tool": "get-tiny-image" } }),
        )
        .await;
    assert_eq!(code, 201);
    common::wait_until("big fails", Duration::from_secs(20), || async {
        let (_, big) = s.get("/tasks/big").await;
        common::holds(big["status"] == "failed", big)
    })
    .await;
    let (_, big) = s.get("/tasks/big").await;
    assert_eq!(big["attempts"], 1, "{big}");
    assert!(
        big["error"]
            .as_str()
            .is_some_and(|e| e.contains("not accepted")),
        "{big}"
    );

    // restart over REST: a new child, the old one gone
    let (code, _) = s.post("/servers/everything/restart", json!({})).await;
    assert_eq!(code, 202);
    wait_ready(&s, &["everything"]).await;
    let new_pid = server(&s, "everything").await["pid"].as_u64().expect("pid");
    assert_ne!(new_pid, pid);
    assert!(!alive(pid), "the old child is gone");
    let r = call(&client, "everything__echo", json!({ "message": "again" })).await;
    assert_eq!(text(&r), "Echo: again");

    // shutdown leaves no child behind
    let _ = client.cancel().await;
    s.stop().await;
    assert!(!alive(new_pid), "no child outlives the pool");
}

#[actix_web::test]
async fn an_open_breaker_is_a_clear_tool_error_and_executor_tasks_wait() {
    let dir = tempfile::tempdir().expect("tempdir");
    let control = dir.path().join("mode");
    std::fs::write(&control, "crash").expect("write");
    let file = write_servers(
        dir.path(),
        json!({ "mcpServers": { "fault": {
            "command": fault_server(),
            "env": { "FAULT_CONTROL": control }
        }}}),
    );
    let s = TestServer::start(|st| {
        st.pool.mcp_servers = file;
        st.pool.executable_tools = vec!["echo".into()];
        st.pool.failure_threshold = 2;
        st.pool.open_timeout_ms = 60_000;
        st.pool.restart_initial_ms = 50;
        st.pool.restart_max_ms = 200;
        st.pool.retry_attempts = 1;
    })
    .await;
    wait_ready(&s, &["fault"]).await;
    let client = connect(&s).await;

    // two crashes open the breaker
    for _ in 0..2 {
        let r = call(&client, "fault__echo", json!({ "text": "x" })).await;
        assert_eq!(r.is_error, Some(true), "{r:?}");
        wait_ready(&s, &["fault"]).await;
    }
    assert_eq!(server(&s, "fault").await["breaker"]["state"], "open");
    let r = call(&client, "fault__echo", json!({ "text": "x" })).await;
    assert_eq!(r.is_error, Some(true));
    let err = common::tool_error(&r)["error"].clone();
    assert_eq!(err["code"], "breaker_open");
    assert_eq!(err["server"], "fault");
    assert!(err["retry_at"].as_str().is_some(), "{err}");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.contains("'fault'") && m.contains("resume")),
        "{err}"
    );

    // an executor task waits while the breaker is open: not claimed, no attempt burned
    let (code, task) = s
        .post(
            "/tasks",
            json!({ "id": "job", "title": "job", "max_attempts": 1,
                    "executor": { "server": "fault", "tool": "echo", "arguments": { "text": "done" } } }),
        )
        .await;
    assert_eq!(code, 201, "{task}");
    // two whole passes of the dispatcher after the add: the second began after
    // the first ended, so it saw the task (passes never overlap)
    let mut passes = s.runtime.dispatcher_passes().await.expect("a dispatcher");
    let seen = *passes.borrow_and_update();
    tokio::time::timeout(Duration::from_secs(20), passes.wait_for(|n| *n >= seen + 2))
        .await
        .expect("two dispatcher passes in time")
        .expect("the dispatcher runs");
    let (_, t) = s.get("/tasks/job").await;
    assert_eq!(t["status"], "ready", "{t}");
    assert_eq!(t["attempts"], 0, "{t}");
    // agents never get it, nor see it among the available tasks
    let (code, _) = s
        .post("/tasks/claim-next", json!({ "worker": "agent" }))
        .await;
    assert_eq!(code, 204);
    let r = call(&client, "get_available_tasks", json!({})).await;
    assert_eq!(
        r.structured_content.expect("structured")["tasks"],
        json!([])
    );

    // the CLI shows the same, as a table or JSON
    // (async: the server's actors run on this test's thread)
    let cli = |args: &'static [&'static str]| {
        let url = format!("http://{}", s.addr);
        async move {
            let out = tokio::process::Command::from(common::baton_command())
                .arg("servers")
                .args(["--url", &url])
                .args(args)
                .output()
                .await
                .expect("run baton servers");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        }
    };
    let (ok, table) = cli(&["list"]).await;
    assert!(
        ok && table.contains("fault") && table.contains("open"),
        "{table}"
    );
    let (ok, json_out) = cli(&["status", "fault", "--json"]).await;
    assert!(ok, "{json_out}");
    let v: Value = serde_json::from_str(&json_out).expect("json");
    assert_eq!(v["server"]["breaker"]["state"], "open");
    assert!(v["tools"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["name"] == "fault__echo")));
    let (ok, _) = cli(&["status", "ghost"]).await;
    assert!(!ok, "an unknown server is an error");

    // heal the server and close the breaker by hand: the dispatcher runs the task
    std::fs::write(&control, "ok").expect("write");
    let (code, st) = s.post("/servers/fault/reset", json!({})).await;
    assert_eq!(
        (code, st["breaker"]["state"].as_str()),
        (200, Some("closed"))
    );
    let what = "the task runs once the breaker closed";
    common::wait_until(what, Duration::from_secs(20), || async {
        s.get("/tasks/job").await.1["status"] == "done"
    })
    .await;
    let (_, t) = s.get("/tasks/job").await;
    assert_eq!(t["attempts"], 1);
    assert_eq!(t["lease"], Value::Null);
    assert!(t["output"].to_string().contains("done"), "{t}");

    // an executor naming no configured server is refused at add time
    let (code, err) = s
        .post(
            "/tasks",
            json!({ "title": "x", "executor": { "server": "ghost", "tool": "echo" } }),
        )
        .await;
    assert_eq!(code, 422, "{err}");
    assert_eq!(err["error"]["field"], "executor.server");

    let _ = client.cancel().await;
    s.stop().await;
}

/// Issue 11, failure 6: while an executor task's server is (re)starting,
/// the dispatcher does not claim it — it would hold a worker slot for up to
/// `request_timeout_ms` waiting — so agents still get the slot; once the
/// server is ready the task runs.
#[actix_web::test]
async fn executor_tasks_hold_no_slot_while_their_server_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let control = dir.path().join("mode");
    std::fs::write(&control, "exit-at-start").expect("write");
    let file = write_servers(
        dir.path(),
        json!({ "mcpServers": { "fault": {
            "command": fault_server(),
            "env": { "FAULT_CONTROL": control }
        }}}),
    );
    let s = TestServer::start(|st| {
        st.slots.count = 1;
        st.pool.mcp_servers = file;
        st.pool.restart_initial_ms = 60_000;
        st.pool.restart_max_ms = 60_000;
        st.pool.request_timeout_ms = 30_000;
        st.pool.executable_tools = vec!["echo".into()];
    })
    .await;
    let what = "the server's start failed and it waits to restart";
    common::wait_until(what, Duration::from_secs(20), || async {
        server(&s, "fault").await["state"] == "restarting"
    })
    .await;
    let (code, t) = s
        .post(
            "/tasks",
            json!({ "id": "job", "title": "job",
                    "executor": { "server": "fault", "tool": "echo", "arguments": { "text": "ran" } } }),
        )
        .await;
    assert_eq!(code, 201, "{t}");
    let (code, t) = s
        .post("/tasks", json!({ "id": "mine", "title": "mine" }))
        .await;
    assert_eq!(code, 201, "{t}");
    // the dispatcher wakes on every board event and every 500 ms: give it a few
    // chances — three whole passes after both tasks were added
    let mut passes = s.runtime.dispatcher_passes().await.expect("a dispatcher");
    let seen = *passes.borrow_and_update();
    loop {
        let (code, v) = s.get("/tasks/job").await;
        assert_eq!(code, 200);
        assert_eq!(
            (v["status"].as_str(), v["attempts"].as_u64()),
            (Some("ready"), Some(0)),
            "not claimed while its server restarts: {v}"
        );
        if *passes.borrow_and_update() >= seen + 3 {
            break;
        }
        tokio::time::timeout(Duration::from_secs(20), passes.changed())
            .await
            .expect("a dispatcher pass in time")
            .expect("the dispatcher runs");
    }
    // the one slot is free for an agent
    let (code, v) = s
        .post("/tasks/claim-next", json!({ "worker": "agent" }))
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["task"]["id"], "mine");
    let lease = v["lease"]["lease_id"].as_u64().expect("lease");
    let (code, _) = s
        .post("/tasks/mine/complete", json!({ "lease_id": lease }))
        .await;
    assert_eq!(code, 200);

    // heal and restart the server: the task runs
    std::fs::write(&control, "ok").expect("write");
    let (code, v) = s.post("/servers/fault/restart", json!({})).await;
    assert_eq!(code, 202, "{v}");
    let what = "the task runs once its server is ready";
    common::wait_until(what, Duration::from_secs(30), || async {
        s.get("/tasks/job").await.1["status"] == "done"
    })
    .await;
    let (_, t) = s.get("/tasks/job").await;
    assert_eq!(t["attempts"], 1, "{t}");
    s.stop().await;
}

#[actix_web::test]
async fn an_executor_dag_runs_unattended() {
    run_dag(false).await;
}

#[actix_web::test]
async fn an_executor_dag_runs_unattended_across_a_downstream_crash() {
    run_dag(true).await;
}

/// 100 tasks in a DAG, each an `echo` through server-everything, run by the
/// dispatcher alone; with `kill`, the downstream child is killed with SIGKILL
/// once 30 are done.
/// Logs to the test output, filtered by `RUST_LOG`.
fn init_log() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
}

async fn run_dag(kill: bool) {
    init_log();
    const N: usize = 100;
    const SLOTS: u32 = 4;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_servers(
        dir.path(),
        json!({ "mcpServers": { "everything": { "command": "node", "args": [everything(), "stdio"] } } }),
    );
    let s = TestServer::start(|st| {
        st.pool.mcp_servers = file;
        st.pool.executable_tools = vec!["echo".into()];
        st.pool.restart_initial_ms = 100;
        st.pool.restart_max_ms = 500;
        st.slots.count = SLOTS;
    })
    .await;
    wait_ready(&s, &["everything"]).await;

    // a tree with joins: task i depends on i/3 (i > 0), every tenth also on i - 1
    let tasks: Vec<Value> = (0..N)
        .map(|i| {
            let mut deps = Vec::new();
            if i > 0 {
                deps.push(format!("e{}", (i - 1) / 3));
            }
            if i % 10 == 0 && i > 0 && (i - 1) / 3 != i - 1 {
                deps.push(format!("e{}", i - 1));
            }
            json!({ "id": format!("e{i}"), "title": format!("echo {i}"), "dependencies": deps,
                    "executor": { "server": "everything", "tool": "echo",
                                  "arguments": { "message": format!("task {i}") } } })
        })
        .collect();
    let (code, body) = s.post("/tasks", json!({ "tasks": tasks })).await;
    assert_eq!(code, 201, "{body}");

    let done_count = || async {
        let (_, v) = s.get("/stats").await;
        v["tasks"]["done"].as_u64().unwrap_or(0)
    };
    let pid = server(&s, "everything").await["pid"].as_u64().expect("pid");
    if kill {
        // midway, kill the child the hard way
        common::wait_until("the DAG starts", Duration::from_secs(60), || async {
            done_count().await >= 30
        })
        .await;
        let killed = Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
    }

    common::wait_until("the DAG finishes", Duration::from_secs(120), || async {
        let (_, stats) = s.get("/stats").await;
        let done = stats["tasks"]["done"].as_u64().unwrap_or(0);
        common::holds(done >= N as u64, stats)
    })
    .await;
    let st = server(&s, "everything").await;
    if kill {
        assert!(st["restarts"].as_u64().unwrap_or(0) >= 1, "{st}");
        assert_ne!(st["pid"].as_u64(), Some(pid));
    } else {
        assert_eq!(
            st["pid"].as_u64(),
            Some(pid),
            "no restart without a crash: {st}"
        );
    }

    // the audit log: dependency order, exactly one completion each, never more than SLOTS running
    let events = s
        .runtime
        .board()
        .store()
        .events_after(0, 1_000_000)
        .expect("events");
    let mut completed_at: HashMap<String, u64> = HashMap::new();
    let mut claims: HashMap<String, Vec<u64>> = HashMap::new();
    let (mut running, mut peak) = (0i64, 0i64);
    for e in &events {
        let Some(id) = e.task_id.as_ref().map(|t| t.to_string()) else {
            continue;
        };
        if e.from == e.to {
            continue; // a heartbeat: running → running is no new claim
        }
        if e.to == Some(TaskStatus::Running) {
            running += 1;
            peak = peak.max(running);
            claims.entry(id.clone()).or_default().push(e.id);
            assert_eq!(e.worker.as_deref(), Some("baton-dispatcher"));
        }
        if e.from == Some(TaskStatus::Running) {
            running -= 1;
        }
        if e.to == Some(TaskStatus::Done) {
            assert!(
                completed_at.insert(id.clone(), e.id).is_none(),
                "{id} completed twice"
            );
        }
    }
    assert!(
        peak <= i64::from(SLOTS),
        "{peak} tasks ran at once with {SLOTS} slots"
    );
    assert_eq!(completed_at.len(), N);
    for t in &tasks {
        let id = t["id"].as_str().expect("id");
        let first_claim = claims[id][0];
        for d in t["dependencies"].as_array().expect("deps") {
            let d = d.as_str().expect("dep");
            assert!(
                completed_at[d] < first_claim,
                "{id} was claimed before {d} was done"
            );
        }
        let (_, v) = s.get(&format!("/tasks/{id}")).await;
        let out = v["output"].to_string();
        let n = id.trim_start_matches('e');
        assert!(out.contains(&format!("Echo: task {n}")), "{id}: {out}");
    }

    s.stop().await;
}

/// Records `notifications/tools/list_changed`.
#[derive(Clone)]
struct ListWatcher(tokio::sync::mpsc::UnboundedSender<()>);

impl rmcp::ClientHandler for ListWatcher {
    async fn on_tool_list_changed(&self, _: rmcp::service::NotificationContext<RoleClient>) {
        let _ = self.0.send(());
    }
}

#[actix_web::test]
async fn a_downstream_tool_list_change_reaches_baton_s_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_servers(
        dir.path(),
        json!({ "mcpServers": { "fault": { "command": fault_server() } } }),
    );
    let s = TestServer::start(|st| st.pool.mcp_servers = file).await;
    wait_ready(&s, &["fault"]).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("http://{}/mcp", s.addr)),
    );
    let client = ListWatcher(tx).serve(transport).await.expect("initialize");
    let before = client.list_all_tools().await.expect("tools/list");
    assert!(!before.iter().any(|t| t.name == "fault__extra"));

    // the downstream server grows a tool and says so; baton passes it on
    let args = json!({ "name": "extra" });
    let r = client
        .call_tool(
            CallToolRequestParams::new("fault__add_tool")
                .with_arguments(args.as_object().cloned().unwrap_or_default()),
        )
        .await
        .expect("call");
    assert_ne!(r.is_error, Some(true), "{r:?}");
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("tools/list_changed within 10 s")
        .expect("notification");
    let after = client.list_all_tools().await.expect("tools/list");
    assert!(
        after.iter().any(|t| t.name == "fault__extra"),
        "the new tool is listed"
    );
    let args = json!({ "text": "new" });
    let r = client
        .call_tool(
            CallToolRequestParams::new("fault__extra")
                .with_arguments(args.as_object().cloned().unwrap_or_default()),
        )
        .await
        .expect("call");
    assert_eq!(text(&r), "new");
    let _ = client.cancel().await;
    s.stop().await;
}

/// The dispatcher lets go of work that ended elsewhere, and of everything it
/// holds when baton shuts down.
#[actix_web::test]
async fn a_cancelled_executor_task_abandons_its_call_and_shutdown_gives_leases_back() {
    init_log();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_servers(
        dir.path(),
        json!({ "mcpServers": { "fault": { "command": fault_server() } } }),
    );
    let s = TestServer::start(|st| {
        st.pool.mcp_servers = file;
        st.pool.executable_tools = vec!["hang".into()];
        st.pool.max_concurrent_calls = 1;
        st.pool.request_timeout_ms = 600_000;
        st.leases.ttl_secs = 3; // heartbeats every second
    })
    .await;
    wait_ready(&s, &["fault"]).await;
    let client = connect(&s).await;
    let hang = |id: &str| json!({ "id": id, "title": id, "executor": { "server": "fault", "tool": "hang" } });
    let running = |id: &'static str| {
        let s = &s;
        move || async move { s.get(&format!("/tasks/{id}")).await.1["status"] == "running" }
    };

    // a hanging call holds the server's only call slot...
    assert_eq!(s.post("/tasks", hang("stuck")).await.0, 201);
    common::wait_until("stuck runs", Duration::from_secs(10), running("stuck")).await;
    let r = call(&client, "fault__echo", json!({ "text": "x" })).await;
    assert_eq!(common::tool_error(&r)["error"]["code"], "server_busy");
    // ...until the task is cancelled: the dispatcher drops the call (cancelled downstream)
    let (code, _) = s.post("/tasks/stuck/cancel", json!({})).await;
    assert_eq!(code, 200);
    let what = "the abandoned call gives its slot back";
    common::wait_until(what, Duration::from_secs(10), || async {
        call(&client, "fault__echo", json!({ "text": "free" }))
            .await
            .is_error
            != Some(true)
    })
    .await;

    // shutdown gives the lease of a call in flight back: ready again, no attempt spent
    assert_eq!(s.post("/tasks", hang("held")).await.0, 201);
    common::wait_until("held runs", Duration::from_secs(10), running("held")).await;
    let _ = client.cancel().await;
    let (store, _dir) = s.stop_and_reopen().await;
    let t = store
        .get_task(&baton::model::TaskId::from_trusted("held"))
        .expect("read")
        .expect("task");
    assert_eq!(t.status, TaskStatus::Ready, "{t:?}");
    assert_eq!(t.attempts, 0);
}

/// `name → tool` of one server's gateway tools, from `/api/v1/servers/{name}/tools`.
async fn gateway_names(s: &TestServer, server: &str) -> HashMap<String, String> {
    let (code, v) = s.get(&format!("/servers/{server}/tools")).await;
    assert_eq!(code, 200, "{v}");
    v["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| {
            (
                t["tool"].as_str().unwrap_or("").to_owned(),
                t["name"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// Call `a__add_tool {name: tool}` and wait until `a` lists it; its gateway name.
async fn add_tool(s: &TestServer, client: &Client, tool: &str) -> String {
    let r = call(client, "a__add_tool", json!({ "name": tool })).await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    assert!(
        common::eventually(Duration::from_secs(10), || async {
            gateway_names(s, "a").await.contains_key(tool)
        })
        .await,
        "{tool} never listed"
    );
    gateway_names(s, "a").await[tool].clone()
}

/// Issue 23, item 2, across board restarts: a gateway name once handed out
/// keeps its meaning for the life of the board. Server `a` adds a tool
/// whose name is too long (a hashed gateway name), then a tool whose plain
/// name equals that hash: the newcomer gets a suffixed name. baton restarts
/// (the downstream server starts afresh, without either tool) and the
/// newcomer comes back first: it still gets its suffixed name, and the
/// hashed name still reaches the long tool once it is back — the names are
/// kept in the store. A restart with `a` gone from the server file forgets
/// its names there.
#[actix_web::test]
async fn gateway_names_keep_their_meaning_across_board_restarts() {
    let long = "t".repeat(70);
    let taken = baton::core::names::candidate("a", &long);
    let mimic = taken["a__".len()..].to_owned();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let servers = |names: &[&str]| {
        let entries: serde_json::Map<String, Value> = names
            .iter()
            .map(|n| ((*n).to_owned(), json!({ "command": fault_server() })))
            .collect();
        write_servers(dir.path(), json!({ "mcpServers": entries }))
    };
    let settings = |file: PathBuf| {
        let mut st = baton::Settings::for_tests(&data);
        st.pool.mcp_servers = file;
        st
    };
    let s = TestServer::start_with(settings(servers(&["a"]))).await;
    wait_ready(&s, &["a"]).await;
    let client = connect(&s).await;
    assert_eq!(add_tool(&s, &client, &long).await, taken);
    let suffixed = add_tool(&s, &client, &mimic).await;
    assert_ne!(suffixed, taken, "the newcomer does not take the name");
    let _ = client.cancel().await;
    s.stop().await;

    let s = TestServer::start_with(settings(servers(&["a"]))).await;
    wait_ready(&s, &["a"]).await;
    let client = connect(&s).await;
    assert_eq!(add_tool(&s, &client, &mimic).await, suffixed);
    let listed = client.list_all_tools().await.expect("tools/list");
    assert!(
        listed.iter().all(|t| t.name != taken.as_str()),
        "{taken} is not offered while its tool is away"
    );
    assert_eq!(add_tool(&s, &client, &long).await, taken);
    let r = call(&client, &taken, json!({ "text": "still the long one" })).await;
    assert_eq!(text(&r), "still the long one");
    let _ = client.cancel().await;
    s.stop().await;

    // `a` leaves the server file: its names are forgotten, b's are kept
    let s = TestServer::start_with(settings(servers(&["b"]))).await;
    wait_ready(&s, &["b"]).await;
    assert!(
        common::eventually(Duration::from_secs(10), || async {
            !gateway_names(&s, "b").await.is_empty()
        })
        .await
    );
    let (store, _) = s.stop_and_reopen().await;
    let kept = store.load_gateway_names().expect("gateway names");
    assert!(kept.iter().all(|n| n.server == "b"), "{kept:?}");
    assert!(
        kept.iter()
            .any(|n| n.name == "b__echo" && n.target == "echo"),
        "{kept:?}"
    );
    store.close().expect("close");
}
