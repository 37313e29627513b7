//! Issue 11's failures, one regression test each, over a real server on
//! 127.0.0.1:0 and a real sled dir. Time is a manual [`Clock`] the test steps
//! past an expiry, and the sweep timers are set to a minute, so "the sweep
//! has not run yet" is a fact, not a race. (Failure 3, slots across
//! `kill -9`, is in tests/durability.rs; failure 6, the dispatcher, in
//! tests/gateway.rs.)

mod common;

use baton::Clock;
use common::TestServer;
use serde_json::{json, Value};

const T0: u64 = 1_750_000_000_000;

async fn clocked(ttl_secs: u64) -> (TestServer, Clock) {
    let clock = Clock::manual(T0);
    let s = TestServer::start_clocked(clock.clone(), |st| {
        st.leases.ttl_secs = ttl_secs;
        st.leases.compat_ttl_secs = ttl_secs;
        st.leases.sweep_interval_ms = 60_000;
    })
    .await;
    (s, clock)
}

async fn add(s: &TestServer, body: Value) {
    let (st, v) = s.post("/tasks", body).await;
    assert_eq!(st, 201, "{v}");
}

async fn claim(s: &TestServer, id: &str, worker: &str) -> u64 {
    let (st, v) = s
        .post(&format!("/tasks/{id}/claim"), json!({ "worker": worker }))
        .await;
    assert_eq!(st, 200, "{v}");
    v["lease"]["lease_id"].as_u64().expect("lease_id")
}

async fn status(s: &TestServer, id: &str) -> Value {
    let (st, v) = s.get(&format!("/tasks/{id}")).await;
    assert_eq!(st, 200, "{v}");
    v
}

async fn event_kinds(s: &TestServer, id: &str) -> Vec<String> {
    let (st, v) = s.get(&format!("/tasks/{id}/events")).await;
    assert_eq!(st, 200, "{v}");
    v.as_array()
        .or_else(|| v["events"].as_array())
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .collect()
}

/// Failure 1: `expires_at` passed 0.7 s ago and the sweep has not run: the
/// heartbeat, the completion and every other lease-fenced change are refused
/// with `stale_lease`, nothing changes, and the sweep then expires the lease.
#[actix_web::test]
async fn a_lapsed_lease_is_refused_at_once_whatever_the_sweep_did() {
    let (s, clock) = clocked(1).await;
    add(&s, json!({"id": "t", "title": "t"})).await;
    let lease = claim(&s, "t", "w").await;

    // one millisecond before expiry the lease still works (and is extended)
    clock.advance(999);
    let (st, v) = s
        .post("/tasks/t/heartbeat", json!({ "lease_id": lease }))
        .await;
    assert_eq!(st, 200, "{v}");
    // at expires_at it is gone; 0.7 s later nothing it asks for happens
    clock.advance(1_000 + 700);
    for (path, body) in [
        ("/tasks/t/heartbeat", json!({ "lease_id": lease })),
        (
            "/tasks/t/complete",
            json!({ "lease_id": lease, "output": "late" }),
        ),
        (
            "/tasks/t/fail",
            json!({ "lease_id": lease, "error": "late" }),
        ),
        ("/tasks/t/release", json!({ "lease_id": lease })),
    ] {
        let (st, v) = s.post(path, body).await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (409, Some("stale_lease")),
            "{path}: {v}"
        );
    }
    let (st, v) = s
        .put(
            "/tasks/t/context/notes",
            json!({ "lease_id": lease, "value": 1 }),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("stale_lease")),
        "{v}"
    );
    let t = status(&s, "t").await;
    assert_eq!(
        (t["status"].as_str(), t["output"].as_str()),
        (Some("running"), None),
        "refusals change nothing: {t}"
    );
    assert!(!event_kinds(&s, "t")
        .await
        .contains(&"task_completed".to_owned()));

    // the sweep frees it, with the expiry in the audit log
    s.runtime.board().sweep_expired().await.expect("sweep");
    let t = status(&s, "t").await;
    assert_eq!(t["status"], "ready", "{t}");
    assert!(event_kinds(&s, "t")
        .await
        .contains(&"task_expired".to_owned()));
    s.stop().await;
}

/// Failure 1 on the agent-coordinate-mcp routes: a lapsed compat lease takes
/// neither `working` nor `done`.
#[actix_web::test]
async fn a_lapsed_compat_lease_takes_no_update() {
    let (s, clock) = clocked(2).await;
    let (_, v) = s
        .compat_post("/add-task", json!({"id": "c", "description": "c"}))
        .await;
    assert_eq!(v["success"], true, "{v}");
    let (_, v) = s
        .compat_post("/claim-task", json!({"taskId": "c", "workerId": "w"}))
        .await;
    assert_eq!(v["success"], true, "{v}");
    clock.advance(2_000);
    for st in ["working", "done", "failed"] {
        let (_, v) = s
            .compat_post(
                "/update-task",
                json!({"taskId": "c", "status": st, "workerId": "w"}),
            )
            .await;
        assert_eq!(
            (v["success"].as_bool(), v["code"].as_str()),
            (Some(false), Some("stale_lease")),
            "{st}: {v}"
        );
    }
    assert_eq!(status(&s, "c").await["status"], "running");
    s.stop().await;
}

/// Failure 1 with the real clock and the settings (TTL 1 s, sweep
/// every 2 s): 0.7 s after `expires_at` the heartbeat is refused.
#[actix_web::test]
async fn a_lapsed_lease_is_refused_with_the_system_clock_too() {
    let s = TestServer::start(|st| {
        st.leases.ttl_secs = 1;
        st.leases.sweep_interval_ms = 2_000;
    })
    .await;
    add(&s, json!({"id": "t", "title": "t"})).await;
    let (st, v) = s.post("/tasks/t/claim", json!({"worker": "w"})).await;
    assert_eq!(st, 200, "{v}");
    let lease = v["lease"]["lease_id"].as_u64().expect("lease");
    let expires =
        baton::model::rfc3339::parse(v["lease"]["expires_at"].as_str().expect("expires_at"))
            .expect("rfc3339");
    // sleep: the wall clock passing expires_at (before a sweep) is what is tested
    while baton::model::now_ms() < expires + 700 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (st, v) = s
        .post("/tasks/t/heartbeat", json!({ "lease_id": lease }))
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("stale_lease")),
        "{v}"
    );
    let (st, v) = s
        .post(
            "/tasks/t/complete",
            json!({ "lease_id": lease, "output": "late" }),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("stale_lease")),
        "{v}"
    );
    assert_ne!(status(&s, "t").await["status"], "done");
    s.stop().await;
}

/// Failure 2: two agents both called `claude`. The first one's compat lease
/// lapses, the second claims the task over `/api/v1`; the first wakes up and
/// sends `update-task done` by name: refused, the second's lease untouched.
#[actix_web::test]
async fn a_worker_name_acts_only_on_the_lease_its_own_claim_created() {
    let (s, clock) = clocked(5).await;
    add(&s, json!({"id": "t", "title": "t"})).await;
    let (_, v) = s
        .compat_post("/claim-task", json!({"taskId": "t", "workerId": "claude"}))
        .await;
    assert_eq!(v["success"], true, "{v}");
    let first = v["leaseId"].as_u64().expect("leaseId");
    clock.advance(5_000);
    s.runtime.board().sweep_expired().await.expect("sweep");
    let second = claim(&s, "t", "claude").await;
    assert!(second > first);

    let (_, v) = s
        .compat_post(
            "/update-task",
            json!({"taskId": "t", "status": "done", "workerId": "claude", "output": "stale"}),
        )
        .await;
    assert_eq!(
        (v["success"].as_bool(), v["code"].as_str()),
        (Some(false), Some("not_lease_holder")),
        "{v}"
    );
    // with the old claim's leaseId it is refused as stale
    let (_, v) = s
        .compat_post(
            "/update-task",
            json!({"taskId": "t", "status": "done", "workerId": "claude", "leaseId": first}),
        )
        .await;
    assert_eq!(v["code"], "stale_lease", "{v}");
    // nor does the old lease id work on /api/v1
    let (st, v) = s
        .post("/tasks/t/complete", json!({ "lease_id": first }))
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("stale_lease"))
    );
    let t = status(&s, "t").await;
    assert_eq!(
        (t["status"].as_str(), t["lease"]["lease_id"].as_u64()),
        (Some("running"), Some(second)),
        "{t}"
    );
    let (st, _) = s
        .post(
            "/tasks/t/complete",
            json!({ "lease_id": second, "output": "ok" }),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(status(&s, "t").await["output"], "ok");
    s.stop().await;
}

async fn failed_task(s: &TestServer, id: &str) {
    add(s, json!({"id": id, "title": id, "max_attempts": 1})).await;
    let lease = claim(s, id, "w").await;
    let (st, v) = s
        .post(
            &format!("/tasks/{id}/fail"),
            json!({ "lease_id": lease, "error": "boom", "retry": false }),
        )
        .await;
    assert_eq!((st, v["status"].as_str()), (200, Some("failed")), "{v}");
}

/// Failure 4: with `F` failed, a batch whose dependent comes before its
/// dependency fails both — in either order, each naming its own cause.
#[actix_web::test]
async fn a_batch_fails_every_dependent_of_a_failed_task_whatever_its_order() {
    let (s, _clock) = clocked(30).await;
    failed_task(&s, "F").await;
    for (b, n, batch) in [
        (
            "b",
            "n",
            json!({"tasks": [
                {"id": "b", "title": "b", "dependencies": ["n"]},
                {"id": "n", "title": "n", "dependencies": ["F"]},
            ]}),
        ),
        (
            "b2",
            "n2",
            json!({"tasks": [
                {"id": "n2", "title": "n2", "dependencies": ["F"]},
                {"id": "b2", "title": "b2", "dependencies": ["n2"]},
            ]}),
        ),
    ] {
        let (st, v) = s.post("/tasks", batch).await;
        assert_eq!(st, 201, "{v}");
        let tb = status(&s, b).await;
        let tn = status(&s, n).await;
        assert_eq!(
            (tn["status"].as_str(), tn["error"].as_str()),
            (Some("failed"), Some("dependency 'F' failed")),
            "{tn}"
        );
        let want = format!("dependency '{n}' failed");
        assert_eq!(
            (tb["status"].as_str(), tb["error"].as_str()),
            (Some("failed"), Some(want.as_str())),
            "{tb}"
        );
    }
    s.stop().await;
}

/// Failure 5: resetting `n` while its cause `F` is still failed is refused
/// with 409 naming `F` (REST and compat); resetting `F` resets both.
#[actix_web::test]
async fn a_reset_that_cannot_happen_is_refused_naming_the_failed_dependency() {
    let (s, _clock) = clocked(30).await;
    failed_task(&s, "F").await;
    add(&s, json!({"id": "n", "title": "n", "dependencies": ["F"]})).await;
    assert_eq!(status(&s, "n").await["status"], "failed");
    let (st, v) = s.post("/tasks/n/reset", json!({})).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("dependency_failed")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("'F'")),
        "{v}"
    );
    let (_, v) = s
        .compat_post("/reset-failed-task", json!({"taskId": "n"}))
        .await;
    assert_eq!(
        (v["success"].as_bool(), v["code"].as_str()),
        (Some(false), Some("dependency_failed")),
        "{v}"
    );
    assert_eq!(status(&s, "n").await["status"], "failed", "unchanged");
    let (st, v) = s.post("/tasks/F/reset", json!({})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(status(&s, "n").await["status"], "blocked");
    s.stop().await;
}

/// Failure 7: the agent-coordinate-mcp task shape — `worker`, `startedAt`,
/// `completedAt` with that project's meanings, status `working` while held.
#[actix_web::test]
async fn compat_tasks_say_who_did_what_and_when() {
    let (s, clock) = clocked(600).await;
    for id in ["a", "b"] {
        let (_, v) = s
            .compat_post("/add-task", json!({"id": id, "description": id}))
            .await;
        assert_eq!(v["success"], true, "{v}");
    }
    let (_, v) = s.compat_post("/claim-worker-slot", json!({})).await;
    let slot = v["slot"].as_u64().expect("slot");
    let (_, v) = s
        .compat_post(
            "/claim-task",
            json!({"taskId": "a", "workerId": "w1", "workerSlot": slot}),
        )
        .await;
    assert_eq!(v["success"], true, "{v}");
    let started = baton::model::rfc3339::format(T0);
    let task = |all: &Value, id: &str| {
        all["tasks"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["id"] == id).cloned())
            .expect("task")
    };
    let (_, all) = s.compat_get("/all-tasks").await;
    let a = task(&all, "a");
    assert_eq!(a["status"], "working", "{a}");
    assert_eq!(a["worker"], "w1");
    assert_eq!(a["startedAt"], started.as_str());
    assert!(a["completedAt"].is_null(), "{a}");
    assert_eq!(a["workerSlot"].as_u64(), Some(slot));

    clock.advance(5_000);
    let (_, v) = s
        .compat_post(
            "/update-task",
            json!({"taskId": "a", "status": "done", "workerId": "w1", "output": "ok"}),
        )
        .await;
    assert_eq!(v["success"], true, "{v}");
    let (_, all) = s.compat_get("/all-tasks").await;
    let a = task(&all, "a");
    assert_eq!(
        (
            a["status"].as_str(),
            a["worker"].as_str(),
            a["startedAt"].as_str(),
            a["completedAt"].as_str(),
            a["output"].as_str()
        ),
        (
            Some("done"),
            Some("w1"),
            Some(started.as_str()),
            Some(baton::model::rfc3339::format(T0 + 5_000).as_str()),
            Some("ok")
        ),
        "{a}"
    );
    // an untouched task: nobody, never started
    let b = task(&all, "b");
    assert!(b["worker"].is_null() && b["startedAt"].is_null() && b["completedAt"].is_null());
    let (_, avail) = s.compat_get("/available-tasks").await;
    let ids: Vec<&str> = avail["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, ["b"]);
    s.stop().await;
}
