//! The MCP edge through rmcp's own client, against `/mcp` of baton mounted
//! inside an embedding actix-web App next to the embedder's routes.

mod common;

use actix_web::{web, App, HttpResponse};
use baton::{Runtime, Settings};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};

type Client = RunningService<RoleClient, ()>;

async fn call(client: &Client, tool: &'static str, args: Value) -> CallToolResult {
    let args = args.as_object().cloned().unwrap_or_default();
    client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args))
        .await
        .expect("the call reaches the server")
}

fn structured(r: &CallToolResult) -> Value {
    assert_ne!(
        r.is_error,
        Some(true),
        "unexpected tool error: {:?}",
        r.content
    );
    r.structured_content.clone().expect("structured content")
}

#[actix_web::test]
async fn an_mcp_client_works_the_board_inside_an_embedding_app() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = Runtime::start(Settings::for_tests(dir.path()))
        .await
        .expect("start");
    let mount = runtime.configure();
    let (addr, handle) = common::serve(move || {
        App::new()
            .route(
                "/embedder",
                web::get().to(|| async { HttpResponse::Ok().body("mine") }),
            )
            .configure(mount.clone())
    });

    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp")),
    );
    let client: Client = ().serve(transport).await.expect("initialize");
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("baton")
    );

    // tool definitions: valid names, output schemas, annotations
    let tools = client.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for expected in [
        "add_task",
        "add_tasks",
        "get_task",
        "list_tasks",
        "get_available_tasks",
        "claim_next_task",
        "claim_task",
        "heartbeat",
        "complete_task",
        "fail_task",
        "release_task",
        "cancel_task",
        "reset_failed_task",
        "get_task_result",
        "wait_for_task",
        "claim_worker_slot",
        "release_worker_slot",
        "get_workers",
        "context_get",
        "context_set",
        "context_list",
    ] {
        assert!(
            names.contains(&expected),
            "missing tool {expected}: {names:?}"
        );
    }
    // every change on /mcp is fenced by a lease_id: no tool updates by worker name
    assert!(!names.contains(&"update_task"), "{names:?}");
    for t in &tools {
        assert!(
            t.name.len() <= 64
                && t.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{}",
            t.name
        );
        assert!(
            t.description.as_ref().is_some_and(|d| !d.is_empty()),
            "{} has no description",
            t.name
        );
        assert!(t.output_schema.is_some(), "{} has no outputSchema", t.name);
        assert!(
            t.annotations
                .as_ref()
                .and_then(|a| a.read_only_hint)
                .is_some(),
            "{} lacks annotations",
            t.name
        );
    }

    // work a small board through MCP only
    let r = call(
        &client,
        "add_tasks",
        json!({"tasks": [
        {"id": "design", "title": "Design"},
        {"id": "build", "title": "Build", "dependencies": ["design"]}]}),
    )
    .await;
    assert_eq!(structured(&r)["tasks"][1]["status"], "blocked");
    let r = call(&client, "claim_next_task", json!({"worker": "agent-1"})).await;
    let claim = structured(&r);
    assert_eq!(claim["claimed"], true);
    assert_eq!(claim["claim"]["task"]["id"], "design");
    let lease = claim["claim"]["lease"]["lease_id"]
        .as_u64()
        .expect("lease id");
    let r = call(
        &client,
        "context_set",
        json!({"task_id": "design", "lease_id": lease, "key": "notes", "value": "draft"}),
    )
    .await;
    structured(&r);

    // a waiter on `build` returns when another client (REST) finishes it
    let waiter = {
        let peer = client.peer().clone();
        actix_web::rt::spawn(async move {
            peer.call_tool(
                CallToolRequestParams::new("wait_for_task").with_arguments(
                    json!({"task_id": "build", "timeout_secs": 30})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                ),
            )
            .await
        })
    };
    let r = call(
        &client,
        "complete_task",
        json!({"task_id": "design", "lease_id": lease, "output": {"doc": "ok"}}),
    )
    .await;
    assert_eq!(structured(&r)["status"], "done");
    let http = reqwest::Client::new();
    let base = format!("http://{addr}/api/v1");
    let c: Value = http
        .post(format!("{base}/tasks/claim-next"))
        .json(&json!({"worker": "rest"}))
        .send()
        .await
        .expect("claim")
        .json()
        .await
        .expect("json");
    assert_eq!(c["task"]["id"], "build");
    let res = http
        .post(format!("{base}/tasks/build/complete"))
        .json(&json!({"lease_id": c["lease"]["lease_id"], "output": "built"}))
        .send()
        .await
        .expect("complete");
    assert_eq!(res.status(), 200);
    let waited = waiter.await.expect("join").expect("wait_for_task");
    let w = structured(&waited);
    assert_eq!(
        (
            w["status"].as_str(),
            w["finished"].as_bool(),
            w["output"].as_str()
        ),
        (Some("done"), Some(true), Some("built"))
    );

    // refused calls are tool errors that say what to fix
    let r = call(
        &client,
        "complete_task",
        json!({"task_id": "design", "lease_id": lease}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    let err = common::tool_error(&r);
    assert_eq!(err["error"]["code"], "stale_lease");
    let r = call(&client, "add_task", json!({"id": "bad id", "title": "x"})).await;
    assert_eq!(r.is_error, Some(true));
    assert_eq!(common::tool_error(&r)["error"]["field"], "id");
    let r = call(&client, "list_tasks", json!({"status": "sleeping"})).await;
    assert_eq!(r.is_error, Some(true));

    // the embedder's own route is untouched
    assert_eq!(
        http.get(format!("http://{addr}/embedder"))
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("text"),
        "mine"
    );
    client.cancel().await.expect("close session");
    handle.stop(true).await;
    runtime.shutdown().await.expect("shutdown");
}

/// A client that records the notifications it receives.
#[derive(Clone)]
struct Recorder {
    tx: tokio::sync::mpsc::UnboundedSender<String>,
}

impl rmcp::ClientHandler for Recorder {
    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _: rmcp::service::NotificationContext<RoleClient>,
    ) {
        let _ = self.tx.send(format!("updated {}", params.uri));
    }

    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _: rmcp::service::NotificationContext<RoleClient>,
    ) {
        let _ = self
            .tx
            .send(format!("progress {}", params.message.unwrap_or_default()));
    }
}

#[actix_web::test]
#[allow(deprecated)] // resources/subscribe is the legacy (session) mechanism rmcp still serves
async fn resources_prompts_and_notifications() {
    let s = common::TestServer::start(|_| {}).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("http://{}/mcp", s.addr)),
    );
    let client = Recorder { tx }.serve(transport).await.expect("initialize");

    // resources
    let resources = client.list_all_resources().await.expect("resources/list");
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            "data://tasks/schema",
            "data://tasks/statuses",
            "data://system/stats"
        ]
    );
    let templates = client
        .list_all_resource_templates()
        .await
        .expect("templates");
    assert!(templates.iter().any(|t| t.uri_template == "task://{id}"));
    let schema = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "data://tasks/schema",
        ))
        .await
        .expect("read schema");
    let text = match &schema.contents[0] {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("unexpected {other:?}"),
    };
    assert!(text.contains("dependencies"), "{text}");

    // a subscriber to task://watched hears when another agent (REST) completes it
    s.post("/tasks", json!({"id": "watched", "title": "watched"}))
        .await;
    client
        .subscribe(rmcp::model::SubscribeRequestParams::new("task://watched"))
        .await
        .expect("subscribe");
    let (_, c) = s
        .post("/tasks/claim-next", json!({"worker": "other"}))
        .await;
    s.post(
        "/tasks/watched/complete",
        json!({"lease_id": c["lease"]["lease_id"]}),
    )
    .await;
    let got = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut seen = Vec::new();
        while let Some(n) = rx.recv().await {
            seen.push(n);
            if seen.len() >= 2 {
                return seen; // claimed, then completed
            }
        }
        seen
    })
    .await
    .expect("notifications arrive");
    assert!(got.iter().all(|n| n == "updated task://watched"), "{got:?}");
    let read = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "task://watched",
        ))
        .await
        .expect("read task");
    let text = match &read.contents[0] {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("unexpected {other:?}"),
    };
    assert!(text.contains("\"done\""), "{text}");

    // wait_for_task sends progress while the task moves, and returns when it finishes
    s.post("/tasks", json!({"id": "slow", "title": "slow"}))
        .await;
    let peer = client.peer().clone();
    let waiter = actix_web::rt::spawn(async move {
        let mut params = CallToolRequestParams::new("wait_for_task").with_arguments(
            json!({"task_id": "slow", "timeout_secs": 20})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        params.meta = Some(rmcp::model::RequestMetaObject::with_progress_token(
            rmcp::model::ProgressToken(rmcp::model::NumberOrString::String("w1".into())),
        ));
        peer.call_tool(params).await
    });
    // the waiter's first progress says the wait has begun
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("progress starts");
    assert_eq!(first.as_deref(), Some("progress slow is ready"));
    let (_, c) = s
        .post("/tasks/claim-next", json!({"worker": "other"}))
        .await;
    s.post(
        "/tasks/slow/complete",
        json!({"lease_id": c["lease"]["lease_id"], "output": 42}),
    )
    .await;
    let r = waiter.await.expect("join").expect("wait_for_task");
    assert_eq!(r.structured_content.expect("result")["output"], 42);
    let mut progress = Vec::new();
    while let Ok(n) = rx.try_recv() {
        progress.push(n);
    }
    assert!(
        progress.iter().any(|n| n == "progress slow is running"),
        "{progress:?}"
    );
    assert!(
        progress.iter().any(|n| n == "progress slow is done"),
        "{progress:?}"
    );

    // prompts
    let prompts = client.list_all_prompts().await.expect("prompts/list");
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["work_next_task", "task_summary", "system_health"]);
    let p = client
        .get_prompt(
            rmcp::model::GetPromptRequestParams::new("work_next_task").with_arguments(
                json!({"worker": "agent-7"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await
        .expect("get_prompt");
    let msg = serde_json::to_string(&p.messages).expect("json");
    assert!(
        msg.contains("agent-7") && msg.contains("claim_next_task"),
        "{msg}"
    );
    assert!(client
        .get_prompt(rmcp::model::GetPromptRequestParams::new("work_next_task"))
        .await
        .is_err());

    client.cancel().await.expect("close");
    s.stop().await;
}

#[actix_web::test]
async fn profiles_and_dns_rebinding_protection() {
    let s = common::TestServer::start(|_| {}).await;
    // ?profile=core shows the eight tools an agent needs, and only those can be called
    let transport =
        StreamableHttpClientTransport::from_config(StreamableHttpClientTransportConfig::with_uri(
            format!("http://{}/mcp?profile=core", s.addr),
        ));
    let core: Client = ().serve(transport).await.expect("initialize");
    let tools = core.list_all_tools().await.expect("tools/list");
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    let mut expected = baton::config::ToolProfile::CORE_TOOLS.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    let refused = core
        .call_tool(
            CallToolRequestParams::new("cancel_task").with_arguments(
                json!({"task_id": "x"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await;
    assert!(refused.is_err(), "a tool outside the profile is refused");
    core.cancel().await.expect("close");

    // a foreign Host or Origin gets 403; loopback ones are served
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let post = |host: Option<&'static str>, origin: Option<String>| {
        let mut req = s
            .http
            .post(format!("http://{}/mcp", s.addr))
            .header("accept", "application/json, text/event-stream")
            .json(&init);
        if let Some(h) = host {
            req = req.header("host", h);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    assert_eq!(
        post(Some("evil.example"), None)
            .await
            .expect("send")
            .status(),
        403
    );
    assert_eq!(
        post(None, Some("http://evil.example".into()))
            .await
            .expect("send")
            .status(),
        403
    );
    let ok = post(None, Some(format!("http://127.0.0.1:{}", s.addr.port())))
        .await
        .expect("send");
    assert_eq!(ok.status(), 200);
    s.stop().await;
}

/// A client that declares the MCP tasks extension (SEP-2663).
fn tasks_client_info() -> rmcp::model::ClientConfig {
    rmcp::model::ClientConfig::new(
        rmcp::model::ClientCapabilities::builder()
            .enable_tasks()
            .build(),
        rmcp::model::Implementation::new("tasks-test", "1.0.0"),
    )
}

async fn connect_tasks_client(
    addr: std::net::SocketAddr,
) -> RunningService<RoleClient, rmcp::model::ClientConfig> {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp")),
    );
    tasks_client_info()
        .serve(transport)
        .await
        .expect("initialize")
}

async fn open_wait(
    client: &RunningService<RoleClient, rmcp::model::ClientConfig>,
    task_id: &str,
    timeout_secs: u64,
) -> rmcp::model::Task {
    let args = json!({ "task_id": task_id, "timeout_secs": timeout_secs });
    let params = CallToolRequestParams::new("wait_for_task")
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    match client.call_tool_once(params).await.expect("tools/call") {
        rmcp::model::CallToolResponse::Task(created) => created.task,
        other => panic!("a tasks client gets a task handle, got {other:?}"),
    }
}

async fn poll(
    client: &RunningService<RoleClient, rmcp::model::ClientConfig>,
    handle: &str,
) -> rmcp::model::DetailedTask {
    client
        .get_task(rmcp::model::GetTaskParams::new(handle))
        .await
        .expect("tasks/get")
        .task
}

#[actix_web::test]
async fn task_handles_are_durable_waits_in_the_registry() {
    use rmcp::model::{TaskPayload, TaskStatus as McpStatus};
    let s = common::TestServer::start(|_| {}).await;
    let board = s.runtime.board().clone();
    let client = connect_tasks_client(s.addr).await;
    let caps = client.peer_info().map(|i| i.capabilities.supports_tasks());
    assert_eq!(caps, Some(true), "baton declares the tasks extension");

    for id in ["watched", "cancelled-wait", "slow"] {
        board
            .add_task(serde_json::from_value(json!({ "id": id, "title": id })).expect("spec"))
            .await
            .expect("add");
    }

    // wait_for_task answers at once with a working handle
    let handle = open_wait(&client, "watched", 600).await;
    assert_eq!(handle.status, McpStatus::Working);
    assert!(handle.task_id.starts_with("op-"), "{}", handle.task_id);
    assert!(handle.poll_interval_ms.is_some() && handle.ttl_ms.is_some());
    let polled = poll(&client, &handle.task_id).await;
    assert_eq!(polled.status(), McpStatus::Working);

    // another agent works the task to completion; the handle settles with the result
    let claim = board
        .claim_next("agent", vec![], None)
        .await
        .expect("claim")
        .expect("ready task");
    board
        .complete(
            "watched",
            baton::core::table::LeaseRef::Id(claim.lease.lease_id),
            Some(json!({ "answer": 42 })),
        )
        .await
        .expect("complete");
    let done = poll(&client, &handle.task_id).await;
    let TaskPayload::Completed { result } = &done.payload else {
        panic!("settled handle: {done:?}");
    };
    let out = &result["structuredContent"];
    assert_eq!(out["status"], "done");
    assert_eq!(out["finished"], true);
    assert_eq!(out["output"]["answer"], 42);

    // cancel: the handle says cancelled; the board task itself is untouched
    let other = open_wait(&client, "cancelled-wait", 600).await;
    client
        .cancel_task(rmcp::model::CancelTaskParams::new(other.task_id.clone()))
        .await
        .expect("tasks/cancel");
    assert_eq!(
        poll(&client, &other.task_id).await.status(),
        McpStatus::Cancelled
    );
    assert_eq!(
        board.get_task("cancelled-wait").await.expect("task").status,
        baton::model::TaskStatus::Ready
    );

    // a wait whose timeout passes settles as completed with finished: false
    let slow = open_wait(&client, "slow", 1).await;
    let within = std::time::Duration::from_secs(10);
    let timed_out = common::wait_until("the 1 s wait to settle", within, || async {
        Some(poll(&client, &slow.task_id).await).filter(|t| t.status() != McpStatus::Working)
    })
    .await;
    let TaskPayload::Completed { result } = &timed_out.payload else {
        panic!("timed-out handle: {timed_out:?}");
    };
    assert_eq!(result["structuredContent"]["finished"], false);

    // unknown handles are invalid params (-32602); unknown board tasks are tool errors
    let err = client
        .get_task(rmcp::model::GetTaskParams::new("op-nope"))
        .await
        .expect_err("unknown handle");
    assert!(format!("{err:?}").contains("-32602"), "{err:?}");
    let args = json!({ "task_id": "no-such-task" });
    let params = CallToolRequestParams::new("wait_for_task")
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    match client.call_tool_once(params).await.expect("tools/call") {
        rmcp::model::CallToolResponse::Complete(r) => assert_eq!(r.is_error, Some(true)),
        other => panic!("expected a tool error, got {other:?}"),
    }

    // (that the handles survive kill -9 of the server: tests/durability.rs)

    // a client without the extension still gets the blocking call
    let plain: Client = ()
        .serve(StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(format!("http://{}/mcp", s.addr)),
        ))
        .await
        .expect("initialize");
    let r = call(&plain, "wait_for_task", json!({ "task_id": "watched" })).await;
    assert_eq!(structured(&r)["finished"], true);
    let _ = plain.cancel().await;
    let _ = client.cancel().await;
    drop(board);
    s.stop().await;
}
