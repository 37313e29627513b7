//! What MCP clients see on the wire at `/mcp` of a real server on
//! 127.0.0.1:0 (issue 13): socket options, JSON-RPC batches and parse
//! errors, session ends, tool schemas, result shapes per negotiated protocol
//! version, bounded results and error results.

mod common;

use std::sync::{Arc, Mutex};

use actix_web::App;
use baton::{Runtime, Settings};

/// Serve baton on 127.0.0.1:0 with `build` turning the App factory into an
/// `HttpServer`, recording each accepted socket's `TCP_NODELAY`; returns
/// what one MCP `initialize` saw.
async fn nodelay_seen_by(plain: bool) -> Vec<bool> {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = Runtime::start(Settings::for_tests(dir.path()))
        .await
        .expect("start");
    let mount = runtime.configure();
    let seen: Arc<Mutex<Vec<bool>>> = Arc::default();
    let record = seen.clone();
    let on_connect = move |conn: &dyn std::any::Any, _: &mut actix_web::dev::Extensions| {
        if let Some(sock) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            record
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(sock.nodelay().unwrap_or(false));
        }
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let factory = move || App::new().configure(mount.clone());
    let server = if plain {
        actix_web::HttpServer::new(factory)
    } else {
        baton::runtime::http_server(factory)
    }
    .on_connect(on_connect)
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(
            &serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "t", "version": "1"}}}),
        )
        .send()
        .await
        .expect("initialize");
    assert_eq!(res.status(), 200);
    handle.stop(true).await;
    runtime.shutdown().await.expect("shutdown");
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    seen
}

/// Issue 13.1: Node clients paid 40–45 ms per MCP call over a kept-alive
/// connection. `/mcp` answers as a stream (headers, then each event, as
/// separate writes); with Nagle's algorithm each later write waited for the
/// client's delayed ACK. `baton serve` builds its server with
/// `baton::runtime::http_server`, which sets `TCP_NODELAY` on every accepted
/// connection; a plain `HttpServer` keeps the OS default (off), which is why
/// embedders must set it too (README, rustdoc). The latency itself is
/// measured by `make bench` (BENCHMARKS.md), not asserted here.
#[actix_web::test]
async fn streamed_mcp_answers_are_not_held_back_by_nagle() {
    assert_eq!(nodelay_seen_by(false).await, vec![true]);
    // the control: without it, the OS default (Nagle on) is what clients got
    assert_eq!(nodelay_seen_by(true).await, vec![false]);
}

// ---- raw JSON-RPC over HTTP ----------------------------------------------------

use serde_json::{json, Value};

const ACCEPT: &str = "application/json, text/event-stream";

/// A raw streamable-HTTP client of one session (or none).
struct Raw {
    http: reqwest::Client,
    url: String,
    session: Option<String>,
    /// `MCP-Protocol-Version` to send (2025-03-26 clients send none).
    version: Option<&'static str>,
}

/// What came back: status, content type, and the JSON-RPC messages (from a
/// JSON body or the `data:` lines of an SSE body).
struct Answer {
    status: u16,
    content_type: String,
    messages: Vec<Value>,
}

impl Answer {
    fn one(&self) -> &Value {
        assert_eq!(self.messages.len(), 1, "{:?}", self.messages);
        &self.messages[0]
    }
}

impl Raw {
    async fn open(s: &common::TestServer, version: &'static str) -> Self {
        let mut raw = Raw {
            http: reqwest::Client::new(),
            url: format!("http://{}/mcp", s.addr),
            session: None,
            version: None,
        };
        let init = raw
            .post_json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": version, "capabilities": {},
                           "clientInfo": {"name": "raw", "version": "1"}}}))
            .await;
        assert_eq!(init.status, 200);
        assert_eq!(init.one()["result"]["protocolVersion"], version);
        raw.version = (version != "2025-03-26").then_some(version);
        let ack = raw
            .post_json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(ack.status, 202);
        raw
    }

    async fn post_json(&mut self, body: &Value) -> Answer {
        self.post("application/json", body.to_string()).await
    }

    async fn post(&mut self, content_type: &str, body: String) -> Answer {
        let mut req = self
            .http
            .post(&self.url)
            .header("accept", ACCEPT)
            .header("content-type", content_type)
            .body(body);
        if let Some(sid) = &self.session {
            req = req.header("mcp-session-id", sid);
        }
        if let Some(v) = self.version {
            req = req.header("mcp-protocol-version", v);
        }
        let res = req.send().await.expect("POST /mcp");
        if let Some(sid) = res.headers().get("mcp-session-id") {
            self.session = sid.to_str().ok().map(str::to_owned);
        }
        answer(res).await
    }

    async fn delete(&self, session: &str) -> u16 {
        self.http
            .delete(&self.url)
            .header("mcp-session-id", session)
            .send()
            .await
            .expect("DELETE /mcp")
            .status()
            .as_u16()
    }
}

async fn answer(res: reqwest::Response) -> Answer {
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = res.text().await.unwrap_or_default();
    let messages = if content_type.starts_with("text/event-stream") {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .collect()
    } else {
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(items)) => items,
            Ok(v) => vec![v],
            Err(_) => Vec::new(),
        }
    };
    Answer {
        status,
        content_type,
        messages,
    }
}

/// Issue 13.4: after `initialize {"protocolVersion":"2025-03-26"}` (which
/// baton agrees to), a JSON-RPC batch got 415. That revision requires
/// batches: they are answered as one JSON array, one answer per request.
#[actix_web::test]
async fn a_2025_03_26_batch_is_answered_with_an_array() {
    let s = common::TestServer::start(|_| {}).await;
    let mut raw = Raw::open(&s, "2025-03-26").await;
    let a = raw
        .post_json(&json!([{"jsonrpc": "2.0", "id": 201, "method": "ping"},
                           {"jsonrpc": "2.0", "id": 202, "method": "tools/list"}]))
        .await;
    assert_eq!(a.status, 200);
    assert!(
        a.content_type.starts_with("application/json"),
        "{}",
        a.content_type
    );
    assert_eq!(a.messages.len(), 2, "{:?}", a.messages);
    let by_id = |id: u64| {
        a.messages
            .iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("no answer to {id}: {:?}", a.messages))
    };
    assert_eq!(by_id(201)["result"], json!({}));
    assert!(by_id(202)["result"]["tools"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["name"] == "claim_next_task")));

    // requests mixed with a notification: one answer per request; a bad
    // element and initialize get their own errors, the rest still run
    let a = raw
        .post_json(&json!([
            {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 999}},
            {"jsonrpc": "2.0", "id": "add", "method": "tools/call",
             "params": {"name": "add_task", "arguments": {"id": "batched", "title": "b"}}},
            {"jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {}},
            {"jsonrpc": "2.0", "id": 8}
        ]))
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.messages.len(), 3, "{:?}", a.messages);
    let add = a.messages.iter().find(|m| m["id"] == "add").expect("add");
    assert_eq!(add["result"]["structuredContent"]["id"], "batched");
    for id in [7, 8] {
        let m = a.messages.iter().find(|m| m["id"] == id).expect("error");
        assert_eq!(m["error"]["code"], -32600, "{m}");
    }
    assert_eq!(s.get("/tasks/batched").await.0, 200);

    // only notifications: accepted, nothing to answer
    let a = raw
        .post_json(
            &json!([{"jsonrpc": "2.0", "method": "notifications/cancelled",
                            "params": {"requestId": 1}}]),
        )
        .await;
    assert_eq!(a.status, 202);

    // later revisions removed batches: refused with a JSON-RPC error, not 415
    let mut later = Raw::open(&s, "2025-11-25").await;
    let a = later
        .post_json(&json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]))
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.one()["error"]["code"], -32600);
    s.stop().await;
}

/// Issue 13.4: malformed JSON got 415 too. A body declared as
/// `application/json` that is not JSON gets 400 with a JSON-RPC parse error;
/// JSON that is not a JSON-RPC message 400 with -32600; only a wrong
/// Content-Type gets 415.
#[actix_web::test]
async fn malformed_json_gets_a_parse_error_not_415() {
    let s = common::TestServer::start(|_| {}).await;
    let mut fresh = Raw {
        http: reqwest::Client::new(),
        url: format!("http://{}/mcp", s.addr),
        session: None,
        version: None,
    };
    let mut live = Raw::open(&s, "2025-11-25").await;
    for raw in [&mut fresh, &mut live] {
        for body in [
            r#"{"jsonrpc": "2.0", "id": 1, "method": "#,
            "[1,",
            "nul",
            "",
        ] {
            let a = raw.post("application/json", body.to_owned()).await;
            assert_eq!(a.status, 400, "{body:?}");
            assert_eq!(a.one()["error"]["code"], -32700, "{body:?}");
            assert_eq!(a.one()["id"], Value::Null);
        }
        let a = raw
            .post(
                "application/json; charset=utf-8",
                r#"{"id": 3, "hello": 1}"#.into(),
            )
            .await;
        assert_eq!(a.status, 400);
        assert_eq!(a.one()["error"]["code"], -32600);
        assert_eq!(a.one()["id"], 3);
        let a = raw
            .post(
                "text/plain",
                r#"{"jsonrpc": "2.0", "id": 1, "method": "ping"}"#.into(),
            )
            .await;
        assert_eq!(a.status, 415, "a wrong Content-Type is what 415 is for");
    }
    s.stop().await;
}

/// The kind: any body declared as JSON that is not JSON (random strings,
/// and truncations of real messages) gets 400 and -32700, fresh or in a live
/// session — never 415, never a 5xx.
#[actix_web::test]
async fn any_body_that_is_not_json_gets_a_parse_error() {
    use proptest::strategy::{Strategy, ValueTree};
    let s = common::TestServer::start(|_| {}).await;
    let mut live = Raw::open(&s, "2025-11-25").await;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strings = "\\PC{0,40}";
    let real = r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_task","arguments":{"task_id":"x"}}}]"#;
    let mut bodies: Vec<String> = (1..real.len()).map(|n| real[..n].to_owned()).collect();
    for _ in 0..64 {
        let tree = strings.new_tree(&mut runner).expect("a string");
        bodies.push(tree.current());
    }
    let mut checked = 0;
    for body in bodies {
        if serde_json::from_str::<Value>(&body).is_ok() {
            continue;
        }
        let a = live.post("application/json", body.clone()).await;
        assert_eq!(a.status, 400, "{body:?}");
        assert_eq!(a.one()["error"]["code"], -32700, "{body:?}");
        checked += 1;
    }
    assert!(checked > 100, "only {checked} bodies checked");
    s.stop().await;
}

/// Issue 13.5: `DELETE /mcp` answered 202 (the Python SDK logged "Session
/// termination failed: 202" on every clean close), and 202 again for an
/// unknown or ended session. A live session ends with 204; an unknown or
/// ended one gets 404, and so does any later request in it.
#[actix_web::test]
async fn deleting_a_session_answers_204_and_an_unknown_one_404() {
    let s = common::TestServer::start(|_| {}).await;
    for version in ["2025-03-26", "2025-06-18", "2025-11-25"] {
        let mut raw = Raw::open(&s, version).await;
        let sid = raw.session.clone().expect("a session id");
        assert_eq!(
            raw.post_json(&json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}))
                .await
                .status,
            200
        );
        assert_eq!(raw.delete(&sid).await, 204, "{version}");
        assert_eq!(raw.delete(&sid).await, 404, "{version}: ended");
        let after = raw
            .post_json(&json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}))
            .await;
        assert_eq!(after.status, 404, "{version}");
        assert_eq!(raw.delete("no-such-session").await, 404);
    }
    s.stop().await;
}

// ---- tool definitions and results, validated as clients validate them --------

use std::path::{Path, PathBuf};
use std::time::Duration;

fn downstream_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/downstream")
}

/// A server with the real `server-everything` (npm, `make downstream`) behind
/// its gateway, over stdio, ready.
async fn with_everything(dir: &Path) -> common::TestServer {
    let entry =
        downstream_dir().join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(entry.exists(), "run `make downstream` first");
    let file = dir.join("mcp.json");
    std::fs::write(
        &file,
        json!({"mcpServers": {"everything": {"command": "node", "args": [entry, "stdio"]}}})
            .to_string(),
    )
    .expect("write");
    let s = common::TestServer::start(|st| st.pool.mcp_servers = file).await;
    let what = "server-everything becomes ready";
    common::wait_until(what, Duration::from_secs(60), || async {
        s.get("/servers/everything").await.1["state"] == "ready"
    })
    .await;
    s
}

/// Every `format` in a schema (values of `default`/`const`/`enum`/`examples` are data).
fn formats(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if matches!(k.as_str(), "default" | "const" | "enum" | "examples") {
                    continue;
                }
                if k == "format" {
                    if let Some(f) = v.as_str() {
                        out.push(format!("{at}: {f}"));
                    }
                } else {
                    formats(v, &format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| formats(v, &format!("{at}/{i}"), out)),
        _ => {}
    }
}

/// Issue 13.2 and 13.7: the TypeScript SDK printed `unknown format "uint32"
/// ignored in schema at path "#/properties/max_attempts"` (and `uint64` for
/// `lease_id`, `seq`, …) on every `tools/list`, and refusals carried
/// `structuredContent {"error": …}` that did not validate against the tool's
/// `outputSchema`. Every tool definition a client sees — baton's own and the
/// gateway's — uses only formats JSON Schema defines and compiles in ajv's
/// strict mode; every result of a small DAG worked end to end validates
/// against its tool's `outputSchema`; no error result carries
/// `structuredContent`.
#[actix_web::test]
async fn tool_definitions_and_results_pass_ajv_strict_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = with_everything(dir.path()).await;
    let client = common::mcp_client(&s, None).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(
        tools.iter().any(|t| t.name == "everything__echo"),
        "gateway tools listed"
    );
    let standard = [
        "date-time",
        "date",
        "time",
        "duration",
        "email",
        "hostname",
        "ipv4",
        "ipv6",
        "uri",
        "uri-reference",
        "uri-template",
        "uuid",
        "regex",
        "json-pointer",
        "byte",
        "password",
    ];
    let mut custom = Vec::new();
    for t in &tools {
        let mut found = Vec::new();
        formats(
            &Value::Object((*t.input_schema).clone()),
            &format!("{}#in", t.name),
            &mut found,
        );
        if let Some(o) = &t.output_schema {
            formats(
                &Value::Object((**o).clone()),
                &format!("{}#out", t.name),
                &mut found,
            );
        }
        custom.extend(
            found
                .into_iter()
                .filter(|f| !standard.contains(&f.rsplit(": ").next().unwrap_or_default())),
        );
    }
    assert!(custom.is_empty(), "custom formats: {custom:?}");

    // a small DAG, worked end to end, with refusals along the way
    let mut results: Vec<Value> = Vec::new();
    let mut run = |tool: &'static str, r: rmcp::model::CallToolResult| {
        results.push(json!({"tool": tool, "result": r}));
        r
    };
    use common::mcp_call as call;
    run(
        "add_task",
        call(
            &client,
            "add_task",
            json!({"id": "a", "title": "A", "max_attempts": 3}),
        )
        .await,
    );
    run(
        "add_tasks",
        call(
            &client,
            "add_tasks",
            json!({"tasks": [{"id": "b", "title": "B", "dependencies": ["a"]}]}),
        )
        .await,
    );
    run(
        "add_task",
        call(&client, "add_task", json!({"id": "bad id", "title": "x"})).await,
    );
    let claim = run(
        "claim_next_task",
        call(&client, "claim_next_task", json!({"worker": "w"})).await,
    );
    let lease = claim
        .structured_content
        .clone()
        .unwrap_or_else(|| panic!("a claim: {claim:?}"))["claim"]["lease"]["lease_id"]
        .clone();
    assert!(lease.is_u64(), "{claim:?}");
    run(
        "heartbeat",
        call(
            &client,
            "heartbeat",
            json!({"task_id": "a", "lease_id": lease}),
        )
        .await,
    );
    run(
        "context_set",
        call(
            &client,
            "context_set",
            json!({"task_id": "a", "lease_id": lease, "key": "k", "value": {"n": 1}}),
        )
        .await,
    );
    run(
        "context_get",
        call(&client, "context_get", json!({"task_id": "a", "key": "k"})).await,
    );
    run(
        "context_list",
        call(&client, "context_list", json!({"task_id": "a"})).await,
    );
    run("get_workers", call(&client, "get_workers", json!({})).await);
    run(
        "complete_task",
        call(
            &client,
            "complete_task",
            json!({"task_id": "a", "lease_id": lease, "output": {"ok": true}}),
        )
        .await,
    );
    run(
        "complete_task",
        call(
            &client,
            "complete_task",
            json!({"task_id": "a", "lease_id": lease}),
        )
        .await,
    );
    run(
        "get_task",
        call(&client, "get_task", json!({"task_id": "a"})).await,
    );
    run(
        "get_task",
        call(&client, "get_task", json!({"task_id": "nope"})).await,
    );
    run(
        "get_task_result",
        call(&client, "get_task_result", json!({"task_id": "a"})).await,
    );
    run(
        "list_tasks",
        call(&client, "list_tasks", json!({"limit": 1})).await,
    );
    run(
        "get_available_tasks",
        call(&client, "get_available_tasks", json!({})).await,
    );
    // b becomes ready once the resolver has seen a's completion
    common::wait_until("b is ready", Duration::from_secs(10), || async {
        let (_, b) = s.get("/tasks/b").await;
        common::holds(b["status"] == "ready", format!("{b:#}"))
    })
    .await;
    let claim = run(
        "claim_task",
        call(
            &client,
            "claim_task",
            json!({"task_id": "b", "worker": "w"}),
        )
        .await,
    );
    let lease = claim
        .structured_content
        .clone()
        .unwrap_or_else(|| panic!("a claim: {claim:?}"))["lease"]["lease_id"]
        .clone();
    run(
        "fail_task",
        call(
            &client,
            "fail_task",
            json!({"task_id": "b", "lease_id": lease, "error": "no", "retry": false}),
        )
        .await,
    );
    run(
        "reset_failed_task",
        call(&client, "reset_failed_task", json!({"task_id": "b"})).await,
    );
    run(
        "cancel_task",
        call(&client, "cancel_task", json!({"task_id": "b"})).await,
    );
    run(
        "claim_worker_slot",
        call(&client, "claim_worker_slot", json!({"worker": "x"})).await,
    );
    run(
        "list_servers",
        call(&client, "list_servers", json!({})).await,
    );
    run(
        "server_status",
        call(&client, "server_status", json!({"server": "everything"})).await,
    );
    run(
        "server_status",
        call(&client, "server_status", json!({"server": "nope"})).await,
    );
    run(
        "everything__echo",
        call(&client, "everything__echo", json!({"message": "hi"})).await,
    );
    run(
        "everything__get-sum",
        call(&client, "everything__get-sum", json!({"a": 2, "b": 3})).await,
    );
    run(
        "everything__echo",
        call(&client, "everything__echo", json!({})).await,
    );
    let errors = results
        .iter()
        .filter(|r| r["result"]["isError"] == true)
        .count();
    assert!(errors >= 5, "the refusals were made: {results:?}");
    client.cancel().await.ok();

    let file = dir.path().join("seen.json");
    std::fs::write(
        &file,
        json!({"tools": tools, "results": results}).to_string(),
    )
    .expect("write");
    let out = std::process::Command::new("node")
        .arg(downstream_dir().join("validate-tools.mjs"))
        .arg(&file)
        .output()
        .expect("node runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ajv strict mode: {report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("0 failures"), "{report}");
    s.stop().await;
}

/// Issue 13.6: with 300 ready tasks of 400-character descriptions,
/// `get_available_tasks {}` returned all 300 (~426 KB, ~53k tokens, over
/// Claude Code's 25,000-token cap) and took no `limit`/`cursor`. It pages
/// (default 50), every page stays under `[mcp] max_result_bytes`, and
/// following `next_cursor` returns every task exactly once — under the
/// default budget and under a small one, where pages end early.
#[actix_web::test]
async fn listings_page_and_every_result_stays_under_the_byte_budget() {
    for budget in [65_536usize, 8_192] {
        let s = common::TestServer::start(|st| st.mcp.max_result_bytes = budget).await;
        let tasks: Vec<Value> = (0..300)
            .map(|i| {
                json!({"id": format!("t{i:03}"), "title": format!("task {i}"),
                            "description": "d".repeat(400)})
            })
            .collect();
        let (code, v) = s.post("/tasks", json!({"tasks": tasks})).await;
        assert_eq!(code, 201, "{v}");
        let client = common::mcp_client(&s, None).await;
        for tool in ["get_available_tasks", "list_tasks"] {
            let mut seen = std::collections::BTreeSet::new();
            let mut cursor: Option<String> = None;
            let mut pages = 0;
            loop {
                let mut args = json!({});
                if let Some(c) = &cursor {
                    args["cursor"] = json!(c);
                }
                let r = common::mcp_call(&client, tool, args).await;
                assert_ne!(r.is_error, Some(true), "{r:?}");
                let bytes = serde_json::to_vec(&r).expect("json").len();
                assert!(bytes <= budget, "{tool}: {bytes} bytes over {budget}");
                let out = r.structured_content.expect("structured");
                let page = out["tasks"].as_array().expect("tasks");
                assert!(
                    !page.is_empty() && page.len() <= 50,
                    "{tool}: {} on a page",
                    page.len()
                );
                for t in page {
                    assert!(
                        seen.insert(t["id"].as_str().expect("id").to_owned()),
                        "{t} twice"
                    );
                }
                pages += 1;
                match out["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => break,
                }
                assert!(pages < 300, "{tool}: the cursor does not advance");
            }
            assert_eq!(seen.len(), 300, "{tool}: every task once ({budget})");
            assert!(pages >= 6, "{tool}: {pages} pages of at most 50");
        }
        // a bad limit is a tool error that says what to send
        let r = common::mcp_call(&client, "get_available_tasks", json!({"limit": 0})).await;
        assert_eq!(common::tool_error(&r)["error"]["field"], "limit");
        client.cancel().await.ok();
        s.stop().await;
    }
}

/// Issue 13.6, one value too large: a task whose payload alone is over the
/// budget comes back (from `add_task` and `get_task`) with that field
/// replaced by a note saying where to read it whole, within the budget; the
/// REST route still has it all.
#[actix_web::test]
async fn a_field_too_large_for_the_budget_is_replaced_by_a_note() {
    let budget = 8_192;
    let s = common::TestServer::start(|st| st.mcp.max_result_bytes = budget).await;
    let client = common::mcp_client(&s, None).await;
    let big = "p".repeat(20_000);
    for r in [
        common::mcp_call(
            &client,
            "add_task",
            json!({"id": "big", "title": "big", "payload": big}),
        )
        .await,
        common::mcp_call(&client, "get_task", json!({"task_id": "big"})).await,
    ] {
        assert_ne!(r.is_error, Some(true), "{r:?}");
        let bytes = serde_json::to_vec(&r).expect("json").len();
        assert!(bytes <= budget, "{bytes} bytes over {budget}");
        let out = r.structured_content.clone().expect("structured");
        // add_task answers the task, get_task {task, dependents}
        let payload = out.get("task").unwrap_or(&out)["payload"].clone();
        let note = payload.as_str().unwrap_or_default();
        assert!(
            note.starts_with("[payload not shown") && note.contains("/api/v1/tasks/big"),
            "{out}"
        );
    }
    assert_eq!(s.get("/tasks/big").await.1["payload"], json!(big));
    client.cancel().await.ok();
    s.stop().await;
}

/// Where a schema below the root carries `description` annotations
/// (property *names* such as a task's `description` field do not count).
fn prose(schema: &Value, at: &str, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            for (k, v) in map {
                match k.as_str() {
                    "description" => out.push(at.to_owned()),
                    "properties" | "$defs" | "definitions" => {
                        for (name, sub) in v.as_object().into_iter().flatten() {
                            prose(sub, &format!("{at}/{k}/{name}"), out);
                        }
                    }
                    "default" | "const" | "enum" | "examples" => {} // data, not schemas
                    _ => prose(v, &format!("{at}/{k}"), out),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                prose(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Issue 13.8: the `core` profile's 8 tools were 42 KB of `tools/list` JSON
/// (~10k tokens) and the full set 92 KB, because every tool repeated the
/// whole task schema with every description in its `outputSchema`. What a
/// client puts in the model's context is each tool's name, description and
/// input schema; the output schema is only for validating results. Both are
/// measured here per profile and held under budgets, so a new tool or a
/// schemars upgrade that bloats them fails this test (figures in
/// BENCHMARKS.md, "What a client's model reads").
#[actix_web::test]
async fn tool_definitions_stay_small_in_the_models_context() {
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    use rmcp::ServiceExt;
    let s = common::TestServer::start(|_| {}).await;
    // (profile, tools, model-context budget, tools/list budget), in bytes of compact JSON.
    // Issue 23.1 closed every baton tool's input schema (`"additionalProperties":false`,
    // 28 bytes a tool: +196 B core, +616 B full); measured after it: core 5,505 / 22,321 B,
    // full 13,329 / 48,348 B — still under these budgets, which stay where they were.
    // Issue 23.8 added the optional `request_id` argument to claim_next_task and
    // claim_worker_slot (an idempotency key for retries whose answer was lost) and a
    // clause to claim_task's description: +118 B core, +286 B full; measured after it:
    // core 5,623 / 22,439 B, full 13,615 / 48,634 B — still under, so the budgets stay.
    // Issue 25 added `paths`, `paths_mode` and `concurrency_key` to tasks (add_task's input and
    // every task in an output schema) and five reservation tools in the full profile only (a
    // claimed task's paths are reserved without a call, so agents need them only now and then):
    // measured after it, core 6,183 / 24,763 B, full 17,252 / 60,699 B. The core budgets move
    // by 1 KB / 3 KB, the full ones by 4 KB / 12 KB (five tools at ~800 B of model context each).
    // Issue 24 gave every public item a doc of more than two words, and argument docs are
    // schema descriptions (`task_id`: "Task id." became "The task you hold."): +100 B core,
    // +290 B full; measured after it: core 5,723 / 22,539 B, full 13,905 / 48,924 B — still
    // under, so the budgets stay.
    // Issue 28 made the definitions lean (src/mcp/lean.rs: no `$schema`, enums, no bounds in
    // results, no default hints, a task's lease and executor shallow in results): core 5,021 /
    // 14,427 B, full 11,962 / 32,251 B. tools/list budgets moved down to hold that: 16 KiB core,
    // and the issue's cap of 32 KiB full (a new tool has to fit, or make room).
    // Merged together (issue 28's lean steps now also cover issue 25's five reservation tools,
    // and its paths, paths_mode and concurrency_key on every task), measured: core 5,917 /
    // 16,828 B, full 16,309 / 43,671 B (the reservation tools 6,718 B of it, reserve_paths the
    // largest at 1,818 B). The budgets hold that with a little room: 6 / 17 KiB core, 17 /
    // 44 KiB full. The full profile is over issue 28's 32 KiB cap again: making room means a
    // smaller task in results or fewer tools in `full`, not a higher budget.
    // Issue 26 (on its own branch) added add_subtasks (full profile; it repeats add_tasks'
    // task spec with the field descriptions dropped, src/mcp/subtasks.rs `terse`), parent /
    // run_after / delay_secs on a task spec, retry_after_secs on fail_task and release_task,
    // and parent / run_after / subtasks / blocked_reason on every Task in the output schemas:
    // measured then, core 6,020 / 26,686 B, full 16,020 / 61,190 B.
    // Issues 25 and 26 merged (add_subtasks and the five reservation tools in the full
    // profile; parent / run_after / delay_secs and paths / paths_mode / concurrency_key on a
    // task spec, retry_after_secs on fail_task and release_task; parent / run_after /
    // subtasks / blocked_reason and paths / paths_mode / concurrency_key on every Task in the
    // output schemas): measured after the merge, core 6,798 / 29,228 B, full 20,617 /
    // 74,462 B. The core model-context budget holds; its tools/list budget rises to 30 KiB,
    // the full ones to 21 / 76 KiB (the sum of both issues' growth).
    // Issues 25, 26 and 28 merged (issue 28's lean steps over the reservation tools and
    // add_subtasks, every task carrying both issues' fields), measured: core 6,314 / 20,095 B,
    // full 18,880 / 53,531 B (29 tools). Budgets: 7 / 21 KiB core, 19 / 53.5 KiB full
    // (rounded up to the next KiB). The full tools/list is over issue 28's 32 KiB cap: its
    // growth is the task's new fields in every output schema and six new tools; getting back
    // under means a smaller task in results (a `$ref` to one Task definition) or fewer tools.
    // Issue 30 added send_message, read_messages and ack_message to `full` only (an agent
    // does not need them on every task; Claude Code gets unread messages through its hooks):
    // measured after merging it with issues 24 and 25: core 6,401 / 24,981 B (still under,
    // budgets stay), full 31 tools, 20,793 / 67,435 B (the three tools: ~+3.2 KB model
    // context, ~+6.4 KB tools/list), so full's budgets move to 21 KB / 68 KB.
    // Issues 25, 26, 28 and 30 merged (32 tools in full: the three message tools on top of the
    // 29 above), measured: core 6,320 / 20,101 B, full 21,633 / 59,150 B. Budgets: 7 / 21 KiB
    // core, 21.5 / 58.5 KiB full. The full profile's tools/list stays over issue 28's 32 KiB
    // cap (see above for what would bring it back).
    for (profile, count, model_budget, wire_budget) in [
        ("core", 8, 7 * 1024, 21 * 1024),
        ("full", 32, 21 * 1024 + 512, 58 * 1024 + 512),
    ] {
        let url = format!("http://{}/mcp?profile={profile}", s.addr);
        let client = ()
            .serve(rmcp::transport::StreamableHttpClientTransport::from_config(
                StreamableHttpClientTransportConfig::with_uri(url),
            ))
            .await
            .expect("initialize");
        let tools = client.list_all_tools().await.expect("tools/list");
        assert_eq!(tools.len(), count, "{profile}: {tools:?}");
        let wire = serde_json::to_vec(&tools).expect("json").len();
        let mut model = 0;
        for t in &tools {
            let description = t.description.as_deref().unwrap_or_default();
            assert!(
                (20..=300).contains(&description.len()),
                "{}: a description says what the tool does and what to do next, briefly: {description:?}",
                t.name
            );
            model += serde_json::to_vec(&json!({
                "name": t.name,
                "description": description,
                "input_schema": t.input_schema,
            }))
            .expect("json")
            .len();
            // below the root, output schemas carry no prose (the policy in src/mcp/schema.rs)
            if let Some(out) = &t.output_schema {
                let mut below = (**out).clone();
                below.remove("description"); // the root may describe the result
                let mut found = Vec::new();
                prose(&Value::Object(below), "#", &mut found);
                assert!(found.is_empty(), "{}: prose at {found:?}", t.name);
            }
        }
        println!(
            "{profile}: {count} tools, tools/list {wire} B, model context {model} B (~{} tokens)",
            model / 4
        );
        assert!(
            model <= model_budget,
            "{profile}: {model} B in the model's context, budget {model_budget}"
        );
        assert!(
            wire <= wire_budget,
            "{profile}: tools/list is {wire} B, budget {wire_budget}"
        );
        client.cancel().await.ok();
    }
    s.stop().await;
}
