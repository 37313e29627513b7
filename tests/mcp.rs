//! The MCP edge through rmcp's own client, against `/mcp` of baton mounted
//! inside an embedding actix-web App next to the embedder's routes.

mod common;

use actix_web::{web, App, HttpResponse, HttpServer};
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
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = HttpServer::new(move || {
        App::new()
            .route(
                "/embedder",
                web::get().to(|| async { HttpResponse::Ok().body("mine") }),
            )
            .configure(mount.clone())
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

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
        "update_task",
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
    let err = r.structured_content.clone().expect("error content");
    assert_eq!(err["error"]["code"], "stale_lease");
    let r = call(&client, "add_task", json!({"id": "bad id", "title": "x"})).await;
    assert_eq!(r.is_error, Some(true));
    assert_eq!(r.structured_content.expect("error")["error"]["field"], "id");
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
