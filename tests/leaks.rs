//! Leak soak: MCP sessions that subscribe to a task and go away, and tasks
//! with a `timeout_secs` that are claimed and completed. Afterwards the
//! count of live task-context actors and of MCP notification forwarders
//! (both gauges on `/metrics`, read here from the runtime's view) is back at
//! the baseline — nothing lives on after its lease or its session.
//!
//! `make test` runs a short version (`LEAK_SESSIONS`, `LEAK_TASKS`:
//! 150 sessions, 1,500 tasks); `make soak` runs 10,000 sessions and 100,000
//! tasks against a release build and prints the process RSS before and after
//! (recorded, not asserted: the allocator keeps pages).

mod common;

use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use serde_json::json;

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident set size of this process, in KiB (Linux; 0 elsewhere).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[actix_web::test]
#[allow(deprecated)] // resources/subscribe is the (session) mechanism whose forwarder is measured
async fn sessions_and_leases_leave_nothing_running_behind() {
    let sessions = count("LEAK_SESSIONS", 150);
    let tasks = count("LEAK_TASKS", 1_500);
    let s = common::TestServer::start(|st| st.slots.count = 64).await;
    let view = s.runtime.board().view().clone();
    assert_eq!(view.live_forwarders(), 0);
    assert_eq!(view.live_contexts(), 0);
    let rss_before = rss_kib();
    let started = Instant::now();

    // ---- sessions that subscribe, then end (DELETE /mcp) -----------------
    s.post("/tasks", json!({"id": "watched", "title": "watched"}))
        .await;
    let mut peak_forwarders = 0;
    for round in 0..sessions.div_ceil(50) {
        let n = 50.min(sessions - round * 50);
        let mut clients = Vec::with_capacity(n);
        for _ in 0..n {
            let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(format!(
                "http://{}/mcp",
                s.addr
            ));
            let client = ().serve(transport).await.expect("initialize");
            client
                .subscribe(rmcp::model::SubscribeRequestParams::new("task://watched"))
                .await
                .expect("subscribe");
            clients.push(client);
        }
        peak_forwarders = peak_forwarders.max(view.live_forwarders());
        for c in clients {
            c.cancel().await.expect("the session ends");
        }
    }
    assert!(
        peak_forwarders >= 50.min(sessions),
        "the forwarders being counted is part of the test (peak {peak_forwarders})"
    );
    common::wait_until_sync("MCP forwarders to settle", Duration::from_secs(30), || {
        let live = view.live_forwarders();
        common::holds(live == 0, format!("{live} live"))
    })
    .await;

    // ---- tasks with a deadline, claimed and completed --------------------
    let mut added = 0;
    while added < tasks {
        let batch: Vec<_> = (added..tasks.min(added + 500))
            .map(|i| json!({"id": format!("t{i}"), "title": "t", "timeout_secs": 86_400}))
            .collect();
        added += batch.len();
        let (st, body) = s.post("/tasks", json!({ "tasks": batch })).await;
        assert_eq!(st, 201, "{body}");
    }
    let workers = 16;
    // bounded by everything there is to claim (the tasks and the sessions'
    // `watched` task); each worker stops at the first 204. (`tasks /
    // workers` left the last task unclaimed when it divided evenly.)
    let per = tasks + 1;
    let mut handles = Vec::new();
    for w in 0..workers {
        let http = s.http.clone();
        let base = s.base.clone();
        handles.push(tokio::spawn(async move {
            let mut done = 0;
            for _ in 0..per {
                let res = http
                    .post(format!("{base}/tasks/claim-next"))
                    .json(&json!({"worker": format!("w{w}")}))
                    .send()
                    .await
                    .expect("claim");
                if res.status().as_u16() == 204 {
                    break; // nothing left to claim
                }
                let claim: serde_json::Value = res.json().await.expect("claim body");
                let task = claim["task"]["id"].as_str().expect("a claimed task");
                let res = http
                    .post(format!("{base}/tasks/{task}/complete"))
                    .json(&json!({"lease_id": claim["lease"]["lease_id"]}))
                    .send()
                    .await
                    .expect("complete");
                assert_eq!(res.status().as_u16(), 200);
                done += 1;
            }
            done
        }));
    }
    let mut completed = 0;
    for h in handles {
        completed += h.await.expect("worker");
    }
    // the sessions' `watched` task is claimable too
    assert_eq!(completed, tasks + 1);
    common::wait_until_sync("task contexts to settle", Duration::from_secs(30), || {
        let live = view.live_contexts();
        common::holds(live == 0, format!("{live} live"))
    })
    .await;
    assert!(view.contexts.is_empty());

    // the gauges say the same on /metrics
    let metrics = s.metrics().await;
    assert!(metrics.contains("baton_context_actors 0"), "{metrics}");
    assert!(metrics.contains("baton_mcp_forwarders 0"), "{metrics}");
    eprintln!(
        "leak soak: {sessions} sessions, {tasks} tasks in {:.1} s; RSS {} MiB before, {} MiB after",
        started.elapsed().as_secs_f64(),
        rss_before / 1024,
        rss_kib() / 1024
    );
    s.stop().await;
}

/// `baton_sse_streams` on `/metrics`, read as a number.
async fn sse_gauge(s: &common::TestServer) -> Option<u64> {
    s.metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix("baton_sse_streams "))
        .and_then(|v| v.trim().parse().ok())
}

#[actix_web::test]
async fn the_sse_gauge_counts_streams_while_open_and_not_after() {
    // a keep-alive every second: a stream whose client left notices at once
    let s = common::TestServer::start(|st| st.api.sse_keepalive_secs = 1).await;
    assert_eq!(sse_gauge(&s).await, Some(0), "no stream yet");
    let mut streams = Vec::new();
    for _ in 0..3 {
        let res = s
            .http
            .get(format!("{}/events", s.base))
            .send()
            .await
            .expect("open the event stream");
        assert_eq!(res.status(), 200);
        streams.push(res);
    }
    let bound = Duration::from_secs(10);
    let deadline = Instant::now() + bound;
    for want in [3, 1, 0] {
        while streams.len() > want {
            drop(streams.pop());
        }
        loop {
            let now = sse_gauge(&s).await;
            if now == Some(want as u64) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "baton_sse_streams is {now:?}, not {want}, {bound:?} after the change"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    s.stop().await;
}
