//! `SIGTERM` on the real `baton serve` while long-lived responses are open.
//!
//! A graceful HTTP stop waits for open connections. baton's long-lived
//! responses — the `/api/v1/events` SSE stream, an MCP session's standalone
//! stream (`GET /mcp`) — never end on their own, and the official
//! TypeScript SDK's `client.close()` sends no `DELETE /mcp`, so its session
//! lived on: every stop of a server that had served a TypeScript agent took
//! the whole `shutdown_timeout_secs` (10 s by default). A stop now ends those
//! streams and sessions first (`Runtime::close_streams`), so the process
//! exits as soon as the requests in flight are done.

mod common;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

const PROTOCOL: &str = "2025-11-25";

/// The session's standalone SSE stream (`GET /mcp`), once its headers are in.
async fn session_stream(http: &reqwest::Client, url: &str, id: &str) -> reqwest::Response {
    let res = http
        .get(format!("{url}/mcp"))
        .header("Accept", "text/event-stream")
        .header("Mcp-Session-Id", id)
        .header("MCP-Protocol-Version", PROTOCOL)
        .send()
        .await
        .expect("GET /mcp");
    assert_eq!(res.status(), 200);
    res
}

/// Read `res` until it ends; `false` if it is still open after `bound`.
async fn ends_within(mut res: reqwest::Response, bound: Duration) -> bool {
    tokio::time::timeout(bound, async {
        while let Ok(Some(_)) = res.chunk().await {}
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn sigterm_ends_open_streams_and_sessions_instead_of_waiting_out_the_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let timeout_secs = 30;
    let mut baton = common::spawn_baton(
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().expect("utf-8 path"),
        ],
        &[(
            "BATON_SERVER__SHUTDOWN_TIMEOUT_SECS",
            &timeout_secs.to_string(),
        )],
    );
    let url = baton.url.clone();
    // separate clients: a dropped stream must not take the others' connections with it
    let (left, live, events) = (
        reqwest::Client::new(),
        reqwest::Client::new(),
        reqwest::Client::new(),
    );

    // 1. a client that left without DELETE /mcp (what the TypeScript SDK's close() does):
    //    its session and stream were opened, then its connections were dropped
    let gone = common::mcp_session(&left, &url, PROTOCOL).await;
    drop(session_stream(&left, &url, &gone).await);
    drop(left);
    // 2. a connected MCP client, its stream open
    let id = common::mcp_session(&live, &url, PROTOCOL).await;
    let mcp_stream = session_stream(&live, &url, &id).await;
    // 3. a dashboard on the event stream
    let mut sse = events
        .get(format!("{url}/api/v1/events"))
        .send()
        .await
        .expect("GET /api/v1/events");
    assert_eq!(sse.status(), 200);
    let hello = sse.chunk().await.expect("first chunk").expect("hello");
    assert!(String::from_utf8_lossy(&hello).contains("baton event stream"));
    // the board still works with all of that open
    let (status, _) = common::read(
        live.post(format!("{url}/api/v1/tasks"))
            .json(&json!({"id": "t", "title": "t"}))
            .send()
            .await
            .expect("add"),
    )
    .await;
    assert_eq!(status, 201);

    let asked = Instant::now();
    let bound = Duration::from_secs(timeout_secs / 3);
    let streams = tokio::spawn(async move {
        (
            ends_within(mcp_stream, bound).await,
            ends_within(sse, bound).await,
        )
    });
    let exited = tokio::task::spawn_blocking(move || {
        let status = baton.terminate(bound);
        (status, baton)
    })
    .await
    .expect("join");
    let took = asked.elapsed();
    let (status, _baton) = exited;
    let status = status.unwrap_or_else(|| {
        panic!("baton did not exit within {bound:?} of SIGTERM (shutdown timeout {timeout_secs} s): open streams held the graceful stop")
    });
    assert!(status.success(), "exit status {status:?}");
    let (mcp_ended, sse_ended) = streams.await.expect("join");
    assert!(
        mcp_ended,
        "the MCP session stream was not ended by the stop"
    );
    assert!(sse_ended, "the event stream was not ended by the stop");
    eprintln!("SIGTERM → exit in {took:?} with two open streams and an abandoned session");

    // the acknowledged write is on disk
    let baton = common::spawn_baton(
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().expect("utf-8 path"),
        ],
        &[],
    );
    let task: Value = reqwest::get(format!("{}/api/v1/tasks/t", baton.url))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(task["status"], "ready", "{task}");
}
