//! Smoke test of `examples/fault_server.rs`, the fault-injection MCP server
//! other tests drive: echo, tool errors, `add_tool`, crashes, the control
//! file, `exit-at-start` and the `FAULT_STARTS` record, through rmcp's own
//! child-process client.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::ServiceExt;
use serde_json::{json, Value};

/// `target/<profile>/examples/fault_server`, next to the baton binary.
fn fault_server() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_baton"));
    let exe = bin
        .parent()
        .expect("target dir")
        .join("examples")
        .join("fault_server");
    assert!(
        exe.exists(),
        "{} is missing: run `cargo build --example fault_server` (plain `cargo test` builds it)",
        exe.display()
    );
    exe
}

fn child(env: &[(&str, &Path)], mode: &str) -> TokioChildProcess {
    let mut cmd = tokio::process::Command::new(fault_server());
    cmd.env("FAULT_MODE", mode).env("FAULT_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    TokioChildProcess::new(cmd).expect("spawn fault_server")
}

async fn call(
    client: &RunningService<RoleClient, ()>,
    tool: &'static str,
    args: Value,
) -> Result<CallToolResult, rmcp::ServiceError> {
    let args = args.as_object().cloned().unwrap_or_default();
    let call = client.call_tool(CallToolRequestParams::new(tool).with_arguments(args));
    tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("call timed out")
}

fn text(r: &CallToolResult) -> &str {
    r.content[0].as_text().expect("text content").text.as_str()
}

#[tokio::test]
async fn echo_fail_add_tool_control_and_crash() {
    let dir = tempfile::tempdir().unwrap();
    let starts = dir.path().join("starts");
    let control = dir.path().join("control");
    let env = [
        ("FAULT_STARTS", starts.as_path()),
        ("FAULT_CONTROL", &control),
    ];
    // The (missing) control file overrides FAULT_MODE=crash: mode ok.
    let client = ().serve(child(&env, "crash")).await.expect("initialize");

    let r = call(&client, "echo", json!({"text": "hi"})).await.unwrap();
    assert_eq!((text(&r), r.is_error), ("hi", Some(false)));

    let r = call(&client, "fail", json!({"message": "boom"}))
        .await
        .unwrap();
    assert_eq!((text(&r), r.is_error), ("boom", Some(true)));

    let r = call(&client, "add_tool", json!({"name": "extra"}))
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(false), "{r:?}");
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "extra"), "{tools:?}");
    let r = call(&client, "extra", json!({"text": "x"})).await.unwrap();
    assert_eq!(text(&r), "x");

    std::fs::write(&control, "error\n").unwrap();
    let r = call(&client, "echo", json!({"text": "hi"})).await.unwrap();
    assert_eq!(r.is_error, Some(true), "{r:?}");
    std::fs::write(&control, "").unwrap();

    // crash: the process exits mid-call, so the call fails at the transport.
    let crashed = call(&client, "crash", json!({})).await;
    assert!(crashed.is_err(), "{crashed:?}");

    let lines = std::fs::read_to_string(&starts).unwrap();
    let fields: Vec<u64> = lines
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    assert_eq!(fields.len(), 3, "{lines:?}");
    assert_eq!(fields[2], 0, "no grandchild asked for");
}

#[tokio::test]
async fn exit_at_start_fails_the_handshake_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let starts = dir.path().join("starts");
    let env = [("FAULT_STARTS", starts.as_path())];
    for _ in 0..2 {
        let r = ().serve(child(&env, "exit-at-start")).await;
        assert!(r.is_err(), "handshake must fail");
    }
    let lines = std::fs::read_to_string(&starts).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines:?}");
}
