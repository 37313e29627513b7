//! REST behaviour over a real server: typed 4xx that change nothing (must-show 2),
//! stale leases (must-show 3), context, cancel/reset cascades, the
//! agent-coordinate-mcp routes, SSE resume, OpenAPI, metrics.

mod common;

use std::time::Duration;

use common::{wait_until, TestServer};
use serde_json::{json, Value};

async fn ids(server: &TestServer) -> Vec<String> {
    server
        .all_tasks()
        .await
        .iter()
        .map(|t| t["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

#[actix_web::test]
async fn bad_input_gets_a_typed_4xx_and_changes_nothing() {
    let s = TestServer::start(|s| s.tasks.max_payload_bytes = 1024).await;
    let (st, _) = s
        .post("/tasks", json!({"id": "base", "title": "base"}))
        .await;
    assert_eq!(st, 201);
    let before = ids(&s).await;
    let (_, events_before) = s.get("/stats").await;

    // a batch that closes a cycle
    let (st, v) = s
        .post(
            "/tasks",
            json!({"tasks": [
            {"id": "a", "title": "a", "dependencies": ["base", "c"]},
            {"id": "b", "title": "b", "dependencies": ["a"]},
            {"id": "c", "title": "c", "dependencies": ["b"]}]}),
        )
        .await;
    assert_eq!((st, code(&v)), (422, "dependency_cycle"), "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("a -> c -> b -> a")
            || v["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("->"),
        "{v}"
    );

    // a missing dependency, named
    let (st, v) = s
        .post(
            "/tasks",
            json!({"id": "d", "title": "d", "dependencies": ["ghost"]}),
        )
        .await;
    assert_eq!((st, code(&v)), (422, "missing_dependency"));
    assert!(v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("ghost"));
    assert_eq!(v["error"]["field"], "dependencies");

    // invalid fields, each named
    let cases = [
        (
            json!({"id": "has space", "title": "x"}),
            422,
            "invalid_field",
            "id",
        ),
        (
            json!({"title": "x", "max_attempts": 0}),
            422,
            "invalid_field",
            "max_attempts",
        ),
        (json!({"title": ""}), 422, "invalid_field", "title"),
        (
            json!({"title": "x", "tags": [""]}),
            422,
            "invalid_field",
            "tags[0]",
        ),
        (
            json!({"title": "x", "payload": {"blob": "x".repeat(2000)}}),
            413,
            "too_large",
            "payload",
        ),
        (
            json!({"tasks": [{"title": "ok"}, {"title": "x", "dependencies": ["bad id"]}]}),
            422,
            "invalid_field",
            "tasks[1].dependencies[0]",
        ),
        (
            json!({"id": "base", "title": "dup"}),
            409,
            "task_exists",
            "id",
        ),
    ];
    for (body, status, c, field) in cases {
        let (st, v) = s.post("/tasks", body.clone()).await;
        assert_eq!((st, code(&v)), (status, c), "{body} -> {v}");
        assert_eq!(v["error"]["field"], field, "{body} -> {v}");
    }
    // wrong types and unknown fields: 422; malformed JSON: 400
    let (st, v) = s
        .post("/tasks", json!({"title": "x", "priority": "high"}))
        .await;
    assert_eq!((st, code(&v)), (422, "invalid_body"), "{v}");
    let (st, v) = s
        .post("/tasks", json!({"title": "x", "colour": "red"}))
        .await;
    assert_eq!((st, code(&v)), (422, "invalid_body"), "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("colour"));
    let (st, v) = s.post_raw("/tasks", "{\"title\": ").await;
    assert_eq!((st, code(&v)), (400, "invalid_json"), "{v}");
    let (st, v) = s.get("/tasks?status=sleeping").await;
    assert_eq!((st, code(&v)), (422, "invalid_field"), "{v}");
    let (st, v) = s.get("/tasks?limit=abc").await;
    assert_eq!((st, code(&v)), (400, "invalid_query"), "{v}");
    let (st, v) = s.get("/tasks/nope").await;
    assert_eq!((st, code(&v)), (404, "task_not_found"), "{v}");

    // nothing changed: same tasks, no new events
    assert_eq!(ids(&s).await, before);
    let (_, events_after) = s.get("/stats").await;
    assert_eq!(events_before["tasks"], events_after["tasks"]);
    let (_, ev) = s.get("/tasks/base/events").await;
    assert_eq!(
        ev["events"].as_array().map(Vec::len),
        Some(1),
        "only the add event: {ev}"
    );
    s.stop().await;
}

#[actix_web::test]
async fn stale_leases_cannot_complete_fail_or_write_context() {
    let s = TestServer::start(|s| {
        s.leases.ttl_secs = 1;
        s.leases.sweep_interval_ms = 20;
    })
    .await;
    s.post(
        "/tasks",
        json!({"id": "t", "title": "t", "max_attempts": 5}),
    )
    .await;
    let (st, c1) = s
        .post("/tasks/claim-next", json!({"worker": "slowpoke"}))
        .await;
    assert_eq!(st, 200);
    let l1 = c1["lease"]["lease_id"].as_u64().expect("lease");
    // a heartbeat extends the lease
    let (st, hb) = s.post("/tasks/t/heartbeat", json!({"lease_id": l1})).await;
    assert_eq!(st, 200, "{hb}");
    assert!(hb["lease"]["expires_at"].as_str() >= c1["lease"]["expires_at"].as_str());
    let (st, _) = s
        .put(
            "/tasks/t/context/progress",
            json!({"lease_id": l1, "value": 10}),
        )
        .await;
    assert_eq!(st, 200);

    // expired: the lease lapses, the task is ready again with attempts counted
    wait_until("t is ready again", Duration::from_secs(5), || async {
        s.get("/tasks/t").await.1["status"] == "ready"
    })
    .await;
    for (path, body) in [
        ("/tasks/t/complete", json!({"lease_id": l1})),
        ("/tasks/t/fail", json!({"lease_id": l1, "error": "x"})),
        ("/tasks/t/heartbeat", json!({"lease_id": l1})),
        ("/tasks/t/release", json!({"lease_id": l1})),
    ] {
        let (st, v) = s.post(path, body).await;
        assert_eq!((st, code(&v)), (409, "stale_lease"), "{path}: {v}");
    }
    let (st, v) = s
        .put(
            "/tasks/t/context/progress",
            json!({"lease_id": l1, "value": 99}),
        )
        .await;
    assert_eq!((st, code(&v)), (409, "stale_lease"), "{v}");

    // superseded by a re-claim: the old lease still cannot act
    let (_, c2) = s
        .post("/tasks/claim-next", json!({"worker": "fresh"}))
        .await;
    let l2 = c2["lease"]["lease_id"].as_u64().expect("lease");
    assert!(l2 > l1, "fencing tokens increase");
    assert_eq!(c2["task"]["attempts"], 2);
    let (st, v) = s
        .post(
            "/tasks/t/complete",
            json!({"lease_id": l1, "output": "old"}),
        )
        .await;
    assert_eq!((st, code(&v)), (409, "stale_lease"), "{v}");
    assert_eq!(
        v["error"]["message"],
        format!("stale lease {l1} for task 't' (current lease: {l2})")
    );
    let (st, _) = s
        .put(
            "/tasks/t/context/progress",
            json!({"lease_id": l1, "value": 99}),
        )
        .await;
    assert_eq!(st, 409);
    let (st, _) = s
        .put(
            "/tasks/t/context/progress",
            json!({"lease_id": l2, "value": 20}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, done) = s
        .post(
            "/tasks/t/complete",
            json!({"lease_id": l2, "output": "new"}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(done["output"], "new");
    let (_, ctx) = s.get("/tasks/t/context").await;
    assert_eq!(
        ctx["context"]["progress"], 20,
        "the stale writes never landed: {ctx}"
    );
    let (_, ev) = s.get("/tasks/t/events").await;
    let kinds: Vec<&str> = ev["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "task_added",
            "task_claimed",
            // a heartbeat renews the lease without an audit event
            "context_set",
            "task_expired",
            "task_claimed",
            "context_set",
            "task_completed"
        ]
    );
    s.stop().await;
}

#[actix_web::test]
async fn expiry_exhausts_attempts_and_failure_cascades_then_resets() {
    let s = TestServer::start(|s| {
        s.leases.ttl_secs = 1;
        s.leases.sweep_interval_ms = 20;
    })
    .await;
    s.post(
        "/tasks",
        json!({"tasks": [
        {"id": "a", "title": "a", "max_attempts": 1},
        {"id": "b", "title": "b", "dependencies": ["a"]},
        {"id": "c", "title": "c", "dependencies": ["b"]},
        {"id": "other", "title": "o"}]}),
    )
    .await;
    let (_, c) = s.post("/tasks/a/claim", json!({"worker": "w"})).await;
    assert_eq!(c["lease"]["task_id"], "a");
    wait_until("a fails", Duration::from_secs(5), || async {
        s.get("/tasks/a").await.1["status"] == "failed"
    })
    .await;
    let (_, a) = s.get("/tasks/a").await;
    assert_eq!(a["error"], "lease expired (attempt 1 of 1)");
    let (_, c) = s.get("/tasks/c").await;
    assert_eq!(
        (c["status"].as_str(), c["error"].as_str()),
        (Some("failed"), Some("dependency 'a' failed"))
    );
    let (_, other) = s.get("/tasks/other").await;
    assert_eq!(other["status"], "ready", "unrelated tasks are untouched");
    // reset brings back a and its failed dependents
    let (st, r) = s.post("/tasks/a/reset", json!({})).await;
    assert_eq!(st, 200, "{r}");
    let reset: Vec<&str> = r["reset"]
        .as_array()
        .expect("reset")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(reset, ["a", "b", "c"]);
    assert_eq!(s.get("/tasks/a").await.1["status"], "ready");
    assert_eq!(s.get("/tasks/c").await.1["status"], "blocked");
    // cancel cascades to pending dependents; a finished task cannot be cancelled twice
    let (st, _) = s
        .post("/tasks/a/cancel", json!({"reason": "not needed"}))
        .await;
    assert_eq!(st, 200);
    assert_eq!(s.get("/tasks/c").await.1["status"], "cancelled");
    let (st, v) = s.post("/tasks/a/cancel", json!({})).await;
    assert_eq!((st, code(&v)), (409, "invalid_status"));
    let (st, v) = s
        .post(
            "/tasks",
            json!({"id": "late", "title": "l", "dependencies": ["a"]}),
        )
        .await;
    assert_eq!((st, code(&v)), (409, "dependency_cancelled"), "{v}");
    s.stop().await;
}

#[actix_web::test]
async fn claim_next_respects_priority_tags_and_slots() {
    let s = TestServer::start(|s| s.slots.count = 2).await;
    s.post(
        "/tasks",
        json!({"tasks": [
        {"id": "low", "title": "l"},
        {"id": "high", "title": "h", "priority": 10},
        {"id": "gpu", "title": "g", "tags": ["gpu"], "priority": -1}]}),
    )
    .await;
    let (_, c) = s
        .post(
            "/tasks/claim-next",
            json!({"worker": "w1", "tags": ["gpu"]}),
        )
        .await;
    assert_eq!(c["task"]["id"], "gpu");
    let (_, c) = s.post("/tasks/claim-next", json!({"worker": "w2"})).await;
    assert_eq!(c["task"]["id"], "high");
    let (st, v) = s.post("/tasks/claim-next", json!({"worker": "w3"})).await;
    assert_eq!((st, code(&v)), (409, "no_free_slot"), "{v}");
    let (st, v) = s
        .post(
            "/tasks/claim-next",
            json!({"worker": "w3", "tags": ["none"]}),
        )
        .await;
    assert_eq!(st, 204, "{v}");
    let (_, slots) = s.get("/slots").await;
    assert_eq!(slots["busy"], 2);
    let (st, v) = s.post("/tasks/claim-next", json!({"worker": ""})).await;
    assert_eq!((st, code(&v)), (422, "invalid_field"));
    s.stop().await;
}

#[actix_web::test]
async fn agent_coordinate_mcp_routes_work_as_before_but_safely() {
    let s = TestServer::start(|_| {}).await;
    let api = format!("http://{}/api", s.addr);
    let post = |path: &'static str, body: Value| {
        let http = s.http.clone();
        let url = format!("{api}{path}");
        async move { common::read(http.post(url).json(&body).send().await.expect("req")).await }
    };
    let get = |path: &'static str| {
        let http = s.http.clone();
        let url = format!("{api}{path}");
        async move { common::read(http.get(url).send().await.expect("req")).await }
    };
    assert_eq!(
        post(
            "/add-task",
            json!({"id": "setup", "description": "Setup environment", "dependencies": []})
        )
        .await
        .1["success"],
        true
    );
    assert_eq!(
        post(
            "/add-task",
            json!({"id": "build", "description": "Build", "dependencies": ["setup"]})
        )
        .await
        .1["success"],
        true
    );
    let (_, v) = post(
        "/add-task",
        json!({"id": "loop", "description": "x", "dependencies": ["nope"]}),
    )
    .await;
    assert_eq!(
        (v["success"].as_bool(), v["code"].as_str()),
        (Some(false), Some("missing_dependency"))
    );
    let (_, v) = get("/available-tasks").await;
    let avail: Vec<&str> = v["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(avail, ["setup"]);
    let (_, slot) = post("/claim-worker-slot", json!({})).await;
    assert_eq!(slot["success"], true);
    let n = slot["slot"].as_u64().expect("slot");
    assert!(n >= 1);
    let (_, v) = post(
        "/claim-task",
        json!({"taskId": "setup", "workerId": "worker-1", "workerSlot": n}),
    )
    .await;
    assert_eq!(v["success"], true, "{v}");
    // another worker cannot finish it; nor release a slot it does not hold
    let (_, v) = post(
        "/update-task",
        json!({"taskId": "setup", "status": "done", "workerId": "intruder"}),
    )
    .await;
    assert_eq!(v["success"], false);
    let (_, v) = post(
        "/release-worker-slot",
        json!({"slot": n, "workerId": "intruder"}),
    )
    .await;
    assert_eq!(v["success"], false);
    let (_, v) = post(
        "/update-task",
        json!({"taskId": "setup", "status": "working", "workerId": "worker-1"}),
    )
    .await;
    assert_eq!(v["success"], true);
    let (_, v) = post("/update-task", json!({"taskId": "setup", "status": "done", "workerId": "worker-1", "output": "Environment ready"})).await;
    assert_eq!(v["success"], true, "{v}");
    let (_, v) = get("/workers").await;
    let w = &v["workers"][(n - 1) as usize];
    assert_eq!(
        (
            w["slot"].as_u64(),
            w["workerId"].as_str(),
            w["active"].as_bool()
        ),
        (Some(n), Some("worker-1"), Some(true))
    );
    let (_, v) = get("/all-tasks").await;
    let setup = v["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["id"] == "setup")
        .cloned()
        .expect("setup");
    assert_eq!(
        (setup["status"].as_str(), setup["output"].as_str()),
        (Some("done"), Some("Environment ready"))
    );
    assert_eq!(
        post(
            "/release-worker-slot",
            json!({"slot": n, "workerId": "worker-1"})
        )
        .await
        .1["success"],
        true
    );
    assert_eq!(
        post("/release-worker-slot", json!({"slot": n})).await.1["success"],
        false,
        "already free"
    );
    // failed tasks reset
    let (_, c) = post("/claim-task", json!({"taskId": "build", "workerId": "w2"})).await;
    assert_eq!(c["success"], true, "{c}");
    assert_eq!(
        post(
            "/update-task",
            json!({"taskId": "build", "status": "failed", "workerId": "w2", "error": "boom"})
        )
        .await
        .1["success"],
        true
    );
    assert_eq!(s.get("/tasks/build").await.1["status"], "failed");
    assert_eq!(
        post("/reset-failed-task", json!({"taskId": "build"}))
            .await
            .1["success"],
        true
    );
    assert_eq!(s.get("/tasks/build").await.1["status"], "ready");
    assert_eq!(get("/health").await.1["status"], "ok");
    s.stop().await;
}

#[actix_web::test]
async fn sse_stream_resumes_from_last_event_id_without_gaps() {
    let s = TestServer::start(|_| {}).await;
    s.post("/tasks", json!({"id": "one", "title": "1"})).await;
    let (_, page) = s.get("/tasks").await;
    let since = page["last_event_id"].as_u64().expect("last_event_id");
    s.post("/tasks", json!({"id": "two", "title": "2"})).await;
    s.post("/tasks", json!({"id": "three", "title": "3"})).await;
    let res = s
        .http
        .get(format!("{}/events", s.base))
        .header("Last-Event-ID", since.to_string())
        .send()
        .await
        .expect("sse");
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut res = res;
    let mut text = String::new();
    let read = async {
        while let Ok(Some(chunk)) = res.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains("\"id\":\"four\"") {
                break;
            }
            if text.contains("\"id\":\"three\"") && !text.contains("four") {
                // live: add one more while the stream is open
                s.post("/tasks", json!({"id": "four", "title": "4"})).await;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("stream delivered in time");
    let ids: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .filter_map(|n| n.parse().ok())
        .collect();
    assert_eq!(
        ids.first().copied(),
        Some(since + 1),
        "resumes right after Last-Event-ID: {text}"
    );
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "no gaps or repeats: {ids:?}"
    );
    assert!(text.contains("event: task_added"));
    assert!(
        !text.contains("\"id\":\"one\""),
        "events before the resume point are not replayed"
    );
    s.stop().await;
}

#[actix_web::test]
async fn openapi_metrics_health_and_stats_are_served() {
    let s = TestServer::start(|_| {}).await;
    let (st, doc) = s.get("/openapi.json").await;
    assert_eq!(st, 200);
    assert!(doc["openapi"]
        .as_str()
        .unwrap_or_default()
        .starts_with("3."));
    for p in [
        "/api/v1/tasks",
        "/api/v1/tasks/claim-next",
        "/api/v1/tasks/{id}/complete",
        "/api/v1/slots",
    ] {
        assert!(doc["paths"][p].is_object(), "missing {p}");
    }
    s.post("/tasks", json!({"title": "x"})).await;
    let metrics = s.metrics().await;
    assert!(
        metrics.contains("baton_task_events_total{event=\"task_added\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("baton_tasks{status=\"ready\"} 1"));
    assert!(metrics.contains("baton_http_requests_total"));
    let health = s
        .http
        .get(format!("http://{}/healthz", s.addr))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
    let ready = s
        .http
        .get(format!("http://{}/readyz", s.addr))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), 200);
    let (_, stats) = s.get("/stats").await;
    assert_eq!(stats["tasks"]["ready"], 1);
    assert_eq!(stats["slots"]["total"], 5);
    s.stop().await;
}

#[actix_web::test]
async fn an_execution_timeout_fails_the_attempt_even_with_heartbeats() {
    let s = TestServer::start(|s| s.leases.sweep_interval_ms = 20).await;
    s.post(
        "/tasks",
        json!({"id": "slow", "title": "slow", "timeout_secs": 1, "max_attempts": 2}),
    )
    .await;
    let (_, c) = s.post("/tasks/claim-next", json!({"worker": "w"})).await;
    let lease = c["lease"]["lease_id"].as_u64().expect("lease");
    // heartbeats keep the lease alive, but not past the task's own deadline
    let (st, _) = s
        .post("/tasks/slow/heartbeat", json!({"lease_id": lease}))
        .await;
    assert_eq!(st, 200);
    wait_until("slow is ready again", Duration::from_secs(5), || async {
        s.get("/tasks/slow").await.1["status"] == "ready"
    })
    .await;
    let (_, t) = s.get("/tasks/slow").await;
    assert_eq!(t["error"], "execution timeout after 1s");
    assert_eq!(t["attempts"], 1);
    let (st, v) = s
        .post("/tasks/slow/complete", json!({"lease_id": lease}))
        .await;
    assert_eq!((st, code(&v)), (409, "stale_lease"));
    let (_, slots) = s.get("/slots").await;
    assert_eq!(slots["busy"], 0, "the slot was freed: {slots}");
    s.stop().await;
}

/// How many tasks are ready.
async fn ready(s: &TestServer) -> usize {
    s.get("/tasks?status=ready").await.1["tasks"]
        .as_array()
        .map_or(0, Vec::len)
}

/// How many slots are held.
async fn busy(s: &TestServer) -> u64 {
    s.get("/slots").await.1["busy"].as_u64().unwrap_or(0)
}

/// Issue 23.8, on every edge: a request sent again because its answer was
/// lost gets the first answer. REST `claim-next` and `slots/claim` with the
/// same `request_id`, a second `tasks/{id}/claim` by the same worker, the
/// compat `claim-worker-slot` with the same `requestId` (or `request_id`)
/// and `claim-task` by the same worker, and the MCP `claim_next_task`,
/// `claim_worker_slot` (with `request_id`) and `claim_task` each answer the
/// same lease or slot and take nothing more. A malformed key is refused
/// naming `request_id`.
#[actix_web::test]
async fn a_request_sent_again_gets_the_first_answer_on_every_edge() {
    let s = TestServer::start(|st| st.slots.count = 12).await;
    let tasks: Vec<Value> = (0..6)
        .map(|i| json!({"id": format!("t{i}"), "title": "t"}))
        .collect();
    let (st, _) = s.post("/tasks", json!({ "tasks": tasks })).await;
    assert_eq!(st, 201);

    // REST
    let next = json!({"worker": "w1", "request_id": "w1-1"});
    let (_, a) = s.post("/tasks/claim-next", next.clone()).await;
    let (st, b) = s.post("/tasks/claim-next", next).await;
    assert_eq!((st, &b["lease"]), (200, &a["lease"]), "{b}");
    let (_, a) = s.post("/tasks/t5/claim", json!({"worker": "w2"})).await;
    let (st, b) = s.post("/tasks/t5/claim", json!({"worker": "w2"})).await;
    assert_eq!((st, &b["lease"]), (200, &a["lease"]), "{b}");
    let (st, v) = s.post("/tasks/t5/claim", json!({"worker": "w3"})).await;
    assert_eq!(
        (st, code(&v)),
        (409, "invalid_status"),
        "another worker: {v}"
    );
    let hold = json!({"worker": "w4", "request_id": "w4-slot"});
    let (_, a) = s.post("/slots/claim", hold.clone()).await;
    let (st, b) = s.post("/slots/claim", hold).await;
    assert_eq!((st, &b["slot"]), (200, &a["slot"]), "{b}");
    assert_eq!((ready(&s).await, busy(&s).await), (4, 3));
    let long = "k".repeat(129);
    for bad in ["", long.as_str(), "a\nb"] {
        for (path, body) in [
            (
                "/tasks/claim-next",
                json!({"worker": "w9", "request_id": bad}),
            ),
            ("/slots/claim", json!({"worker": "w9", "request_id": bad})),
        ] {
            let (st, v) = s.post(path, body).await;
            assert_eq!(
                (st, code(&v), v["error"]["field"].as_str()),
                (422, "invalid_field", Some("request_id")),
                "{path} {bad:?}: {v}"
            );
        }
    }

    // agent-coordinate-mcp
    let (_, a) = s
        .compat_post("/claim-worker-slot", json!({"requestId": "c-1"}))
        .await;
    let (_, b) = s
        .compat_post("/claim-worker-slot", json!({"request_id": "c-1"}))
        .await;
    assert_eq!(
        (&b["success"], &b["slot"]),
        (&json!(true), &a["slot"]),
        "{b}"
    );
    let claim = json!({"taskId": "t4", "workerId": "c1", "workerSlot": a["slot"]});
    let (_, first) = s.compat_post("/claim-task", claim.clone()).await;
    let (_, again) = s.compat_post("/claim-task", claim).await;
    assert_eq!(
        (&again["success"], &again["leaseId"], &again["expiresAt"]),
        (&json!(true), &first["leaseId"], &first["expiresAt"]),
        "{again}"
    );
    let (_, v) = s
        .compat_post("/claim-worker-slot", json!({"requestId": ""}))
        .await;
    assert_eq!(
        (&v["success"], &v["code"]),
        (&json!(false), &json!("invalid_field")),
        "{v}"
    );
    assert_eq!((ready(&s).await, busy(&s).await), (3, 4));

    // MCP
    let client = common::mcp_client(&s, None).await;
    let args = json!({"worker": "m1", "request_id": "m1-1"});
    let a = common::mcp_call(&client, "claim_next_task", args.clone()).await;
    let b = common::mcp_call(&client, "claim_next_task", args).await;
    let lease = |r: &rmcp::model::CallToolResult| {
        r.structured_content.as_ref().expect("a result")["claim"]["lease"].clone()
    };
    assert!(lease(&a).is_object(), "{a:?}");
    assert_eq!(lease(&b), lease(&a));
    let args = json!({"worker": "m2", "request_id": "m2-slot"});
    let a = common::mcp_call(&client, "claim_worker_slot", args.clone()).await;
    let b = common::mcp_call(&client, "claim_worker_slot", args).await;
    assert_eq!(b.structured_content, a.structured_content);
    let args = json!({"task_id": "t3", "worker": "m3"});
    let a = common::mcp_call(&client, "claim_task", args.clone()).await;
    let b = common::mcp_call(&client, "claim_task", args).await;
    let held = |r: &rmcp::model::CallToolResult| {
        r.structured_content.as_ref().expect("a result")["lease"].clone()
    };
    assert!(held(&a).is_object(), "{a:?}");
    assert_eq!(held(&b), held(&a));
    let r = common::mcp_call(
        &client,
        "claim_next_task",
        json!({"worker": "m1", "request_id": ""}),
    )
    .await;
    assert_eq!(common::tool_error(&r)["error"]["field"], "request_id");
    assert_eq!((ready(&s).await, busy(&s).await), (1, 7));
    client.cancel().await.ok();
    s.stop().await;
}
