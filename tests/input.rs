//! Issue 23, items 1, 4 and 11: what a client sends is read as it was meant
//! or refused naming what is wrong — never silently dropped, never read two
//! ways, never refused over a field the client did not send.
//!
//! - **Unknown arguments** (23.1): every baton tool's `inputSchema` says
//!   `additionalProperties: false` and a call with an argument it does not
//!   declare is a tool error naming it and the nearest valid name
//!   (generated from `tools/list`); gateway tools keep their downstream
//!   server's schema; the agent-coordinate-mcp routes refuse fields they do
//!   not have but keep what its shim sends.
//! - **Repeated JSON keys** (23.4): refused on every REST route that reads a
//!   body, the agent-coordinate-mcp routes, and every MCP method over HTTP
//!   and stdio (generated over the route table and the protocol's methods).
//! - **Byte limits** (23.11): a title derived from a long CJK description
//!   is cut to the byte limit on a character boundary on every edge; a tag
//!   over the limit is refused in bytes. The Unicode properties are unit
//!   tests of `core::text`, `core::validate` and `mcp::budget`.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{mcp_call, mcp_client, tool_error, TestServer};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

type Client = rmcp::service::RunningService<rmcp::RoleClient, ()>;

fn structured(r: &CallToolResult) -> Value {
    assert_ne!(r.is_error, Some(true), "unexpected tool error: {r:?}");
    r.structured_content.clone().expect("structured content")
}

async fn call(client: &Client, tool: &str, args: Map<String, Value>) -> CallToolResult {
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
        .await
        .expect("the call reaches the server")
}

/// `(field, message)` of a tool error.
fn refusal(r: &CallToolResult) -> (String, String) {
    let e = tool_error(r);
    (
        e["error"]["field"].as_str().unwrap_or_default().to_owned(),
        e["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

// ---- 23.1: unknown arguments -------------------------------------------------

/// Issue 23.1: `complete_task {task_id, lease_id, result: {answer: 42}}` (an
/// agent that guessed the field name) completed the task with `output:
/// null`; the answer was gone and the task could not be redone.
#[actix_web::test]
async fn complete_task_with_result_instead_of_output_is_refused_and_the_answer_is_not_lost() {
    let s = TestServer::start(|_| {}).await;
    s.post("/tasks", json!({"id": "q", "title": "question"}))
        .await;
    let client = mcp_client(&s, None).await;
    let claim = structured(&mcp_call(&client, "claim_next_task", json!({"worker": "w"})).await);
    let lease = claim["claim"]["lease"]["lease_id"].clone();
    let r = mcp_call(
        &client,
        "complete_task",
        json!({"task_id": "q", "lease_id": lease, "result": {"answer": 42}}),
    )
    .await;
    let (field, message) = refusal(&r);
    assert_eq!(field, "result");
    assert!(
        message.contains("unknown argument `result`") && message.contains("did you mean `output`?"),
        "{message}"
    );
    assert_eq!(s.get("/tasks/q").await.1["status"], "running");
    // with the right name the answer is kept
    let done = mcp_call(
        &client,
        "complete_task",
        json!({"task_id": "q", "lease_id": lease, "output": {"answer": 42}}),
    )
    .await;
    assert_eq!(structured(&done)["output"], json!({"answer": 42}));
    client.cancel().await.ok();
    s.stop().await;
}

/// Issue 23.1: `claim_next_task {worker, tag: "web"}` claimed an untagged
/// task (the filter was dropped); `list_tasks {state: "failed"}` listed
/// everything.
#[actix_web::test]
async fn a_misspelt_filter_is_refused_instead_of_ignored() {
    let s = TestServer::start(|_| {}).await;
    s.post("/tasks", json!({"id": "plain", "title": "untagged"}))
        .await;
    let client = mcp_client(&s, None).await;
    let r = mcp_call(
        &client,
        "claim_next_task",
        json!({"worker": "w", "tag": "web"}),
    )
    .await;
    let (field, message) = refusal(&r);
    assert_eq!(field, "tag");
    assert!(message.contains("did you mean `tags`?"), "{message}");
    assert_eq!(s.get("/tasks/plain").await.1["status"], "ready");
    let r = mcp_call(&client, "list_tasks", json!({"state": "failed"})).await;
    let (field, message) = refusal(&r);
    assert_eq!(field, "state");
    assert!(message.contains("did you mean `status`?"), "{message}");
    // a misspelt field of a task inside add_tasks is named with its path
    let r = mcp_call(
        &client,
        "add_tasks",
        json!({"tasks": [{"id": "a", "title": "a"}, {"id": "b", "titel": "b"}]}),
    )
    .await;
    let (field, message) = refusal(&r);
    assert_eq!(field, "tasks[1].titel");
    assert!(message.contains("did you mean `title`?"), "{message}");
    assert_eq!(
        s.get("/tasks/a").await.0,
        404,
        "nothing of the batch was added"
    );
    client.cancel().await.ok();
    s.stop().await;
}

/// A value for a required argument of JSON Schema `prop` (its type, or a
/// string).
fn placeholder(prop: &Value) -> Value {
    match prop["type"].as_str() {
        Some("integer") | Some("number") => json!(1),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        Some("object") => json!({}),
        _ => json!("x"),
    }
}

/// Issue 23.1, the kind, generated from `tools/list` of the full profile:
/// every baton tool says `additionalProperties: false`, refuses an argument
/// it does not declare (sent with its required arguments) as a tool error
/// naming it, and for a near miss of each of its arguments names that
/// argument as the one meant.
#[actix_web::test]
async fn every_tool_refuses_an_unknown_argument_naming_the_nearest_valid_one() {
    let s = TestServer::start(|_| {}).await;
    let client = mcp_client(&s, None).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(tools.len() >= 23, "the full profile: {}", tools.len());
    for tool in &tools {
        let name = tool.name.to_string();
        let schema = Value::Object((*tool.input_schema).clone());
        assert_eq!(schema["additionalProperties"], false, "{name}: {schema}");
        let props = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut args = Map::new();
        for req in schema["required"].as_array().into_iter().flatten() {
            let req = req.as_str().expect("required names");
            args.insert(req.to_owned(), placeholder(&props[req]));
        }
        let mut bad = args.clone();
        bad.insert("zz_not_an_argument".into(), json!(1));
        let (field, message) = refusal(&call(&client, &name, bad).await);
        assert_eq!(field, "zz_not_an_argument", "{name}: {message}");
        assert!(
            message.contains(&format!("unknown argument `zz_not_an_argument` of {name}")),
            "{name}: {message}"
        );
        for p in props.keys() {
            // one character no argument name has: the nearest name is `p`
            let near = format!("{p}§");
            let mut bad = args.clone();
            bad.insert(near.clone(), json!(1));
            let (field, message) = refusal(&call(&client, &name, bad).await);
            assert_eq!(field, near, "{name}: {message}");
            assert!(
                message.contains(&format!("did you mean `{p}`?")),
                "{name}: {message}"
            );
        }
    }
    client.cancel().await.ok();
    s.stop().await;
}

/// Gateway tools keep their downstream server's schema: baton adds no
/// `additionalProperties` and passes arguments on as they are (the
/// downstream server decides what it accepts).
#[actix_web::test]
async fn gateway_tools_keep_their_downstream_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("mcp.json");
    let servers = json!({"mcpServers": {"fault": {"command": common::fault_server()}}});
    std::fs::write(&file, servers.to_string()).expect("write");
    let s = TestServer::start(|st| st.pool.mcp_servers = file).await;
    let what = "the downstream server becomes ready";
    common::wait_until(what, Duration::from_secs(60), || async {
        s.get("/servers/fault").await.1["state"] == "ready"
    })
    .await;
    let client = mcp_client(&s, None).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    let echo = tools
        .iter()
        .find(|t| t.name == "fault__echo")
        .expect("fault__echo");
    assert!(
        !echo.input_schema.contains_key("additionalProperties"),
        "{:?}",
        echo.input_schema
    );
    let r = mcp_call(&client, "fault__echo", json!({"text": "hi", "extra": 1})).await;
    assert_ne!(r.is_error, Some(true), "passed on as it is: {r:?}");
    client.cancel().await.ok();
    s.stop().await;
}

/// Issue 23.1 on the agent-coordinate-mcp routes: `add-task` dropped unknown
/// fields. Its shim sends `{id, description, status: "available",
/// dependencies, output?}` (`httpClient.ts` `addTask`, `index.ts`
/// `add_task`): that is accepted, `output` (its "expected output
/// description") kept in the payload; any other field is refused naming it,
/// on `add-task` and `update-task` alike.
#[actix_web::test]
async fn compat_routes_refuse_unknown_fields_but_take_what_the_shim_sends() {
    let s = TestServer::start(|_| {}).await;
    let (st, v) = s
        .compat_post(
            "/add-task",
            json!({"id": "s1", "description": "Setup", "status": "available",
                   "dependencies": [], "output": "a working checkout"}),
        )
        .await;
    assert_eq!((st, v["success"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(
        s.get("/tasks/s1").await.1["payload"],
        json!({"expected_output": "a working checkout"})
    );
    for (body, field) in [
        (
            json!({"id": "s2", "description": "d", "priority": 5}),
            "priority",
        ),
        (json!({"id": "s2", "description": "d", "desc": "x"}), "desc"),
    ] {
        let (st, v) = s.compat_post("/add-task", body).await;
        assert_eq!((st, v["success"].as_bool()), (400, Some(false)), "{v}");
        let error = v["error"].as_str().unwrap_or_default();
        assert!(error.contains(&format!("`{field}`")), "{error}");
    }
    let (_, v) = s
        .compat_post(
            "/add-task",
            json!({"id": "s2", "description": "d", "status": "done"}),
        )
        .await;
    assert_eq!(v["success"], false, "{v}");
    assert_eq!(s.get("/tasks/s2").await.0, 404);
    // an answer under a guessed name is not lost on update-task either
    let (_, slot) = s.compat_post("/claim-worker-slot", json!({})).await;
    let (_, v) = s
        .compat_post(
            "/claim-task",
            json!({"taskId": "s1", "workerId": "w", "workerSlot": slot["slot"]}),
        )
        .await;
    assert_eq!(v["success"], true, "{v}");
    let (st, v) = s
        .compat_post(
            "/update-task",
            json!({"taskId": "s1", "status": "done", "workerId": "w", "result": "42"}),
        )
        .await;
    assert_eq!((st, v["success"].as_bool()), (400, Some(false)), "{v}");
    assert_eq!(s.get("/tasks/s1").await.1["status"], "running");
    s.stop().await;
}

// ---- 23.4: repeated JSON keys ------------------------------------------------

/// Issue 23.4: `POST /api/v1/tasks {"tasks": [t1], "tasks": [t2]}` answered
/// 201 with t2 only (t1 dropped without a word), and `{id: a1, …, id: b1}`
/// was stored as `b1`.
#[actix_web::test]
async fn a_body_repeating_a_key_is_refused_not_read_as_its_last_value() {
    let s = TestServer::start(|_| {}).await;
    for (body, field) in [
        (
            r#"{"tasks": [{"id": "t1", "title": "one"}], "tasks": [{"id": "t2", "title": "two"}]}"#,
            "tasks",
        ),
        (r#"{"id": "a1", "title": "x", "id": "b1"}"#, "id"),
        (
            r#"{"tasks": [{"id": "n1", "title": "x", "payload": {"k": 1, "k": 2}}]}"#,
            "tasks[0].payload.k",
        ),
    ] {
        let (st, v) = s.post_raw("/tasks", body).await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (422, Some("invalid_body")),
            "{v}"
        );
        assert_eq!(v["error"]["field"], field, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("duplicate key")),
            "{v}"
        );
    }
    for id in ["t1", "t2", "a1", "b1", "n1"] {
        assert_eq!(
            s.get(&format!("/tasks/{id}")).await.0,
            404,
            "{id} was not added"
        );
    }
    s.stop().await;
}

/// Routes of the route table that read no body at all.
const NO_BODY: [(&str, &str); 4] = [
    ("POST", "/api/v1/tasks/{id}/reset"),
    ("POST", "/api/v1/servers/{name}/restart"),
    ("POST", "/api/v1/servers/{name}/reset"),
    ("POST", "/api/v1/events/ticket"),
];

/// Issue 23.4, the kind, generated over the route table: every REST and
/// agent-coordinate-mcp route that reads a body refuses one whose object
/// repeats a key, at the top level and nested, naming it — 422 in the
/// documented shape on `/api/v1`, 400 `{success: false, error}` on `/api`.
#[actix_web::test]
async fn every_route_that_reads_a_body_refuses_a_repeated_key() {
    let s = TestServer::start(|_| {}).await;
    let mut checked = 0;
    for (prefix, route) in baton::api::routes::all() {
        let with_body = matches!(route.method, "POST" | "PUT");
        let full = format!("{prefix}{}", route.path);
        if !with_body || !prefix.starts_with("/api") || NO_BODY.contains(&(route.method, &full)) {
            continue;
        }
        let path = full
            .replace("{id}", "x")
            .replace("{key}", "k")
            .replace("{slot}", "0")
            .replace("{name}", "n");
        for (body, field) in [
            (r#"{"zz": 1, "zz": 2}"#, "zz"),
            (r#"{"o": [{"yy": 1, "yy": 2}]}"#, "o[0].yy"),
        ] {
            let method = reqwest::Method::from_bytes(route.method.as_bytes()).expect("method");
            let res = s
                .http
                .request(method, format!("http://{}{path}", s.addr))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("request");
            let (st, v) = common::read(res).await;
            if prefix == "/api/v1" {
                assert_eq!(st, 422, "{} {path}: {v}", route.method);
                assert_eq!(v["error"]["code"], "invalid_body", "{path}: {v}");
                assert_eq!(v["error"]["field"], field, "{path}: {v}");
            } else {
                assert_eq!(
                    (st, v["success"].as_bool()),
                    (400, Some(false)),
                    "{path}: {v}"
                );
                let error = v["error"].as_str().unwrap_or_default();
                assert!(error.contains("duplicate key"), "{path}: {v}");
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 2 * 18,
        "only {checked} requests: the route table changed?"
    );
    s.stop().await;
}

/// The JSON-RPC messages of an answer (a JSON body or SSE `data:` lines).
async fn messages(res: reqwest::Response) -> (u16, Vec<Value>) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    let mut out: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect();
    if out.is_empty() {
        match serde_json::from_str(&text) {
            Ok(Value::Array(items)) => out = items,
            Ok(v) => out.push(v),
            Err(_) => {}
        }
    }
    (status, out)
}

/// Every method a client may send (rmcp 3.9's `ClientRequest` and
/// `ClientNotification`), and one nobody defines.
const METHODS: [&str; 27] = [
    "initialize",
    "ping",
    "server/discover",
    "completion/complete",
    "logging/setLevel",
    "prompts/get",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/directory/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "subscriptions/listen",
    "tools/call",
    "tools/list",
    "tasks/get",
    "tasks/update",
    "tasks/cancel",
    "skills/list",
    "skills/get",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
    "notifications/tasks",
    "no/such-method",
];

/// Issue 23.4 over MCP: `add_task` with `id` twice stored the last one
/// (rmcp reads a message into a `Value`, last key wins). The kind, generated
/// over every method: a message whose params repeat a key is refused with
/// -32602 naming the key and carrying the message's id; a repeated key in
/// the envelope is a parse error (-32700); the session stays usable.
#[actix_web::test]
async fn every_mcp_method_refuses_a_repeated_key() {
    let s = TestServer::start(|_| {}).await;
    let root = format!("http://{}", s.addr);
    let version = "2025-11-25";
    let sid = common::mcp_session(&s.http, &root, version).await;
    let post = |body: String| {
        let req = s
            .http
            .post(format!("{root}/mcp"))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-session-id", &sid)
            .header("mcp-protocol-version", version)
            .body(body);
        async move { messages(req.send().await.expect("POST /mcp")).await }
    };
    for (i, method) in METHODS.iter().enumerate() {
        let body = format!(
            r#"{{"jsonrpc": "2.0", "id": {i}, "method": "{method}", "params": {{"name": "a", "arguments": {{"zz": 1, "zz": 2}}}}}}"#
        );
        let (st, m) = post(body).await;
        assert_eq!((st, m.len()), (400, 1), "{method}: {m:?}");
        assert_eq!(m[0]["error"]["code"], -32602, "{method}: {m:?}");
        assert_eq!(m[0]["id"], i, "{method}: {m:?}");
        let message = m[0]["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("duplicate key `zz` in `params.arguments`"),
            "{method}: {message}"
        );
    }
    let add = r#"{"jsonrpc": "2.0", "id": 90, "method": "tools/call", "params": {"name": "add_task", "arguments": {"id": "a1", "title": "x", "id": "b1"}}}"#;
    let (st, m) = post(add.to_owned()).await;
    assert_eq!(
        (st, m[0]["error"]["code"].as_i64()),
        (400, Some(-32602)),
        "{m:?}"
    );
    for (body, id) in [
        (
            r#"{"jsonrpc": "2.0", "id": 91, "method": "ping", "method": "tools/list"}"#,
            json!(91),
        ),
        (
            r#"{"jsonrpc": "2.0", "id": 92, "id": 93, "method": "ping"}"#,
            Value::Null,
        ),
    ] {
        let (st, m) = post(body.to_owned()).await;
        assert_eq!(
            (st, m[0]["error"]["code"].as_i64()),
            (400, Some(-32700)),
            "{m:?}"
        );
        assert_eq!(m[0]["id"], id, "{m:?}");
    }
    for id in ["a1", "b1"] {
        assert_eq!(s.get(&format!("/tasks/{id}")).await.0, 404, "{id}");
    }
    let (st, m) = post(r#"{"jsonrpc": "2.0", "id": 99, "method": "ping"}"#.to_owned()).await;
    assert_eq!(
        (st, m[0]["id"].as_i64()),
        (200, Some(99)),
        "the session goes on: {m:?}"
    );
    s.stop().await;
}

/// `baton mcp-stdio` with `args`, its stdin and stdout piped.
struct StdioPeer {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl StdioPeer {
    async fn start(args: &[&str]) -> Self {
        let mut child = tokio::process::Command::from(common::baton_command())
            .arg("mcp-stdio")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn baton mcp-stdio");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut io = Self {
            child,
            stdin,
            stdout,
        };
        let init = io
            .ask(
                json!({"jsonrpc": "2.0", "id": "init", "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "raw", "version": "0"}}})
                .to_string(),
            )
            .await;
        assert!(init["result"].is_object(), "{init}");
        io.send(r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#)
            .await;
        io
    }

    async fn send(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).await.expect("write");
        self.stdin.write_all(b"\n").await.expect("write");
        self.stdin.flush().await.expect("flush");
    }

    /// Send `line`, then read up to the next answer (a message with an `id`
    /// or an error; server notifications are skipped).
    async fn ask(&mut self, line: String) -> Value {
        self.send(&line).await;
        loop {
            let next = tokio::time::timeout(Duration::from_secs(30), self.stdout.next_line())
                .await
                .expect("an answer within 30 s")
                .expect("read stdout")
                .expect("stdout open");
            let v: Value = serde_json::from_str(&next).expect("one JSON message per line");
            if v.get("error").is_some() || v.get("id").is_some_and(|id| !id.is_null()) {
                return v;
            }
        }
    }

    async fn end(mut self) {
        drop(self.stdin);
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
    }
}

/// Issue 23.4 over stdio, both modes (`--url` bridges to `/mcp`,
/// `--data-dir` serves in-process): a line repeating a key is answered with
/// the same refusal as over HTTP, for every request method, and goes no
/// further; the session goes on.
#[actix_web::test]
async fn the_stdio_server_and_bridge_refuse_a_repeated_key() {
    let s = TestServer::start(|_| {}).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("http://{}/mcp", s.addr);
    let data = dir.path().to_str().expect("utf-8").to_owned();
    for args in [
        vec!["--url", url.as_str()],
        vec!["--data-dir", data.as_str()],
    ] {
        let mut io = StdioPeer::start(&args).await;
        for (i, method) in METHODS.iter().enumerate() {
            if method.starts_with("notifications/") {
                continue;
            }
            let v = io
                .ask(format!(
                    r#"{{"jsonrpc": "2.0", "id": {i}, "method": "{method}", "params": {{"zz": 1, "zz": 2}}}}"#
                ))
                .await;
            assert_eq!(v["error"]["code"], -32602, "{args:?} {method}: {v}");
            assert_eq!(v["id"], i, "{args:?} {method}: {v}");
        }
        let v = io
            .ask(r#"{"jsonrpc": "2.0", "id": 50, "method": "tools/call", "params": {"name": "add_task", "arguments": {"id": "s1", "title": "x", "id": "s2"}}}"#.to_owned())
            .await;
        assert_eq!(v["error"]["code"], -32602, "{args:?}: {v}");
        let v = io
            .ask(r#"{"jsonrpc": "2.0", "id": 51, "method": "tools/call", "params": {"name": "get_task", "arguments": {"task_id": "s2"}}}"#.to_owned())
            .await;
        assert_eq!(v["result"]["isError"], true, "not added: {args:?}: {v}");
        io.end().await;
    }
    s.stop().await;
}

// ---- 23.11: byte limits ------------------------------------------------------

/// Issue 23.11: `{"description": "任务" × 300}` without a title (600
/// characters, 1,800 bytes) was refused with 413 on `title`, a field never
/// sent — on REST, on the compat `add-task` (whose clients send only a
/// description) and on MCP `add_task`. The derived title is cut to
/// `max_title_len` bytes on a character boundary.
#[actix_web::test]
async fn a_long_cjk_description_without_a_title_is_added_on_every_edge() {
    let s = TestServer::start(|_| {}).await;
    let description = "任务".repeat(300);
    let title_ok = |t: &Value| {
        let t = t.as_str().unwrap_or_default();
        !t.is_empty() && t.len() <= 512 && description.starts_with(t)
    };
    let (st, v) = s
        .post("/tasks", json!({"id": "rest", "description": description}))
        .await;
    assert_eq!(st, 201, "{v}");
    assert!(title_ok(&v["title"]), "{v}");
    let (_, v) = s
        .compat_post(
            "/add-task",
            json!({"id": "compat", "description": description}),
        )
        .await;
    assert_eq!(v["success"], true, "{v}");
    assert!(title_ok(&v["task"]["title"]), "{v}");
    let client = mcp_client(&s, None).await;
    let r = mcp_call(
        &client,
        "add_task",
        json!({"id": "mcp", "description": description}),
    )
    .await;
    assert!(title_ok(&structured(&r)["title"]), "{r:?}");
    client.cancel().await.ok();
    s.stop().await;
}

/// Issue 23.11: a tag of 17 emoji (68 bytes) was refused as "must be 1 to
/// 64 printable characters" though it has 17: limits are in bytes and say so.
#[actix_web::test]
async fn a_tag_over_the_byte_limit_is_refused_in_bytes() {
    let s = TestServer::start(|_| {}).await;
    let (st, v) = s
        .post("/tasks", json!({"title": "t", "tags": ["🚀".repeat(17)]}))
        .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (422, Some("tags[0]")),
        "{v}"
    );
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("64 bytes") && message.contains("68 bytes"),
        "{message}"
    );
    let (st, v) = s
        .post("/tasks", json!({"title": "t", "tags": ["🚀".repeat(16)]}))
        .await;
    assert_eq!(st, 201, "64 bytes fit: {v}");
    s.stop().await;
}
