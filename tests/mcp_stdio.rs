//! `baton mcp-stdio` as a real child process driven over stdin/stdout by
//! rmcp's client: bridged to a running server (`--url`), and in-process
//! (`--data-dir`).

mod common;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::transport::TokioChildProcess;
use rmcp::ServiceExt;
use serde_json::{json, Value};

fn child(args: &[&str]) -> TokioChildProcess {
    let mut cmd = tokio::process::Command::from(common::baton_command());
    cmd.arg("mcp-stdio").args(args);
    TokioChildProcess::new(cmd).expect("spawn baton mcp-stdio")
}

async fn call(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    tool: &'static str,
    args: Value,
) -> Value {
    let r: CallToolResult = client
        .call_tool(
            CallToolRequestParams::new(tool)
                .with_arguments(args.as_object().cloned().unwrap_or_default()),
        )
        .await
        .expect("call");
    assert_ne!(r.is_error, Some(true), "{tool}: {:?}", r.content);
    r.structured_content.expect("structured")
}

#[actix_web::test]
async fn the_stdio_bridge_works_the_shared_board() {
    let s = common::TestServer::start(|_| {}).await;
    let client =
        ().serve(child(&["--url", &format!("http://{}/mcp", s.addr)]))
            .await
            .expect("initialize via bridge");
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(
        tools.iter().any(|t| t.name == "claim_next_task"),
        "{} tools",
        tools.len()
    );

    // a task added over REST is claimed and completed through the bridge
    s.post("/tasks", json!({"id": "shared", "title": "shared"}))
        .await;
    let claim = call(&client, "claim_next_task", json!({"worker": "stdio-agent"})).await;
    assert_eq!(claim["claim"]["task"]["id"], "shared");
    let lease = claim["claim"]["lease"]["lease_id"].clone();
    let done = call(
        &client,
        "complete_task",
        json!({"task_id": "shared", "lease_id": lease, "output": "via stdio"}),
    )
    .await;
    assert_eq!(done["status"], "done");
    let (_, t) = s.get("/tasks/shared").await;
    assert_eq!(
        (t["status"].as_str(), t["output"].as_str()),
        (Some("done"), Some("via stdio"))
    );
    let (_, ev) = s.get("/tasks/shared/events").await;
    assert!(ev["events"]
        .as_array()
        .expect("events")
        .iter()
        .any(|e| e["worker"] == "stdio-agent"));

    client.cancel().await.expect("close"); // closes the child's stdin; it exits
    s.stop().await;
}

#[tokio::test]
async fn the_in_process_stdio_server_persists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf-8 path");
    let client = ().serve(child(&["--data-dir", d])).await.expect("initialize");
    call(&client, "add_task", json!({"id": "kept", "title": "kept"})).await;
    client.cancel().await.expect("close");
    // the child has exited and flushed; a new one on the same directory sees
    // the task (it starts once the first one's lock on the store is released)
    let what = "a second child starts on the directory";
    let c = common::wait_until(what, std::time::Duration::from_secs(10), || async {
        ().serve(child(&["--data-dir", d])).await.ok()
    })
    .await;
    let seen = call(&c, "get_task", json!({"task_id": "kept"})).await;
    c.cancel().await.expect("close");
    assert_eq!(seen["task"]["status"], "ready");
}
