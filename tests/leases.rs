//! `GET /api/v1/leases` over a real server: every lease with how it ended
//! (done, failed, expired, released, cancelled, still running), the filters,
//! cursor paging, and bad query strings answered with a JSON 4xx, never a 500.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{wait_until, TestServer};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

async fn claim(s: &TestServer, task: &str, worker: &str) -> u64 {
    let (st, v) = s
        .post(&format!("/tasks/{task}/claim"), json!({ "worker": worker }))
        .await;
    assert_eq!(st, 200, "claim {task}: {v}");
    v["lease"]["lease_id"].as_u64().expect("lease_id")
}

/// Every page of `/leases?<query>`, following `next_cursor`.
async fn all_leases(s: &TestServer, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut path = format!("/leases?{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (st, v) = s.get(&path).await;
        assert_eq!(st, 200, "{path}: {v}");
        out.extend(v["leases"].as_array().cloned().unwrap_or_default());
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
    panic!("paging did not end");
}

fn summary(leases: &[Value]) -> Vec<(String, String, String)> {
    leases
        .iter()
        .map(|l| {
            (
                l["task_id"].as_str().unwrap_or_default().to_owned(),
                l["worker"].as_str().unwrap_or_default().to_owned(),
                l["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn every_lease_is_listed_with_how_it_ended_and_running_ones_have_no_end() {
    let s = TestServer::start(|s| {
        s.slots.count = 8;
        s.leases.sweep_interval_ms = 20;
    })
    .await;
    let (st, v) = s
        .post(
            "/tasks",
            json!({"tasks": [
                {"id": "done-1", "title": "d"},
                {"id": "flaky", "title": "f", "max_attempts": 3},
                {"id": "slow", "title": "s", "timeout_secs": 1},
                {"id": "handed-back", "title": "h"},
                {"id": "dropped", "title": "x"},
                {"id": "long", "title": "l"}]}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let t0 = chrono::Utc::now();

    let l1 = claim(&s, "done-1", "worker-a").await;
    assert_eq!(
        s.post("/tasks/done-1/complete", json!({"lease_id": l1}))
            .await
            .0,
        200
    );
    let l2 = claim(&s, "flaky", "worker-b").await;
    let (st, _) = s
        .post(
            "/tasks/flaky/fail",
            json!({"lease_id": l2, "error": "boom"}),
        )
        .await;
    assert_eq!(st, 200);
    let l3 = claim(&s, "flaky", "worker-b").await;
    assert_eq!(
        s.post("/tasks/flaky/complete", json!({"lease_id": l3}))
            .await
            .0,
        200
    );
    claim(&s, "slow", "worker-c").await; // its 1 s execution timeout expires it
    let l5 = claim(&s, "handed-back", "worker-a").await;
    assert_eq!(
        s.post("/tasks/handed-back/release", json!({"lease_id": l5}))
            .await
            .0,
        200
    );
    claim(&s, "dropped", "worker-a").await;
    assert_eq!(s.post("/tasks/dropped/cancel", json!({})).await.0, 200);
    let long = claim(&s, "long", "worker-c").await;
    let what = "the execution timeout expires the lease";
    wait_until(what, Duration::from_secs(10), || async {
        s.get("/tasks/slow").await.1["status"] == "ready"
    })
    .await;

    let leases = all_leases(&s, "").await;
    let own = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        summary(&leases),
        vec![
            own("done-1", "worker-a", "done"),
            own("flaky", "worker-b", "failed"),
            own("flaky", "worker-b", "done"),
            own("slow", "worker-c", "expired"),
            own("handed-back", "worker-a", "released"),
            own("dropped", "worker-a", "cancelled"),
            own("long", "worker-c", "running"),
        ]
    );
    let ids: Vec<u64> = leases
        .iter()
        .filter_map(|l| l["lease_id"].as_u64())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "lease order: {ids:?}");
    for l in &leases {
        let claimed = chrono::DateTime::parse_from_rfc3339(l["claimed_at"].as_str().unwrap())
            .expect("claimed_at is RFC 3339");
        assert!(claimed >= t0 - chrono::Duration::seconds(1), "{l}");
        match l["ended_at"].as_str() {
            Some(e) => {
                let ended = chrono::DateTime::parse_from_rfc3339(e).expect("ended_at");
                assert!(ended >= claimed, "{l}");
                assert_ne!(l["outcome"], "running");
            }
            None => {
                assert!(l["ended_at"].is_null(), "{l}");
                assert_eq!(l["outcome"], "running");
                assert_eq!(l["lease_id"].as_u64(), Some(long));
            }
        }
    }
    assert_eq!(leases[1]["reason"], "boom");
    assert!(leases[3]["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("timeout"));

    // filters: a worker; a window after everything but the running lease ended
    let a = all_leases(&s, "worker=worker-a").await;
    assert_eq!(a.len(), 3);
    assert!(a.iter().all(|l| l["worker"] == "worker-a"));
    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    let since = later.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let now_on = all_leases(&s, &format!("since={}", since.replace('+', "%2B"))).await;
    assert_eq!(summary(&now_on), vec![own("long", "worker-c", "running")]);
    let before =
        (t0 - chrono::Duration::seconds(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert!(all_leases(&s, &format!("until={before}")).await.is_empty());

    // completing the running lease closes it
    assert_eq!(
        s.post("/tasks/long/complete", json!({"lease_id": long}))
            .await
            .0,
        200
    );
    let last = all_leases(&s, "worker=worker-c").await;
    assert_eq!(last[1]["outcome"], "done");
    assert!(last[1]["ended_at"].is_string());
    s.stop().await;
}

#[actix_web::test]
async fn pages_follow_the_cursor_without_gaps_or_repeats() {
    let s = TestServer::start(|s| s.slots.count = 2).await;
    let tasks: Vec<Value> = (0..23)
        .map(|i| json!({"id": format!("p{i:02}"), "title": "p"}))
        .collect();
    assert_eq!(s.post("/tasks", json!({ "tasks": tasks })).await.0, 201);
    for i in 0..23 {
        let worker = ["w1", "w2", "w3"][i % 3];
        let lease = claim(&s, &format!("p{i:02}"), worker).await;
        let (st, _) = s
            .post(
                &format!("/tasks/p{i:02}/complete"),
                json!({ "lease_id": lease }),
            )
            .await;
        assert_eq!(st, 200);
    }
    let whole = all_leases(&s, "limit=1000").await;
    assert_eq!(whole.len(), 23);
    for limit in [1, 4, 7, 23, 24] {
        let paged = all_leases(&s, &format!("limit={limit}")).await;
        assert_eq!(paged, whole, "limit={limit}");
    }
    let (st, first) = s.get("/leases?limit=5").await;
    assert_eq!(st, 200);
    assert_eq!(first["leases"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        first["next_cursor"].as_str(),
        whole[4]["lease_id"]
            .as_u64()
            .map(|id| id.to_string())
            .as_deref()
    );
    let w2 = all_leases(&s, "worker=w2&limit=2").await;
    let want: Vec<&Value> = whole.iter().filter(|l| l["worker"] == "w2").collect();
    assert_eq!(w2.iter().collect::<Vec<_>>(), want);
    let unique: BTreeSet<u64> = whole
        .iter()
        .filter_map(|l| l["lease_id"].as_u64())
        .collect();
    assert_eq!(unique.len(), 23);
    s.stop().await;
}

#[actix_web::test]
async fn bad_lease_queries_get_a_json_4xx_never_a_500() {
    let s = TestServer::start(|_| {}).await;
    assert_eq!(
        s.post("/tasks", json!({"id": "x", "title": "x"})).await.0,
        201
    );
    claim(&s, "x", "w").await;
    let cases: &[(&str, u16, &str)] = &[
        ("since=yesterday", 422, "invalid_field"),
        ("since=2025-13-01T00:00:00Z", 422, "invalid_field"),
        ("until=12", 422, "invalid_field"),
        (
            "since=2025-02-01T00:00:00Z&until=2025-01-01T00:00:00Z",
            422,
            "invalid_field",
        ),
        ("limit=0", 422, "invalid_field"),
        ("limit=100000", 422, "invalid_field"),
        ("limit=-1", 400, "invalid_query"),
        ("limit=ten", 400, "invalid_query"),
        ("cursor=abc", 422, "invalid_field"),
        ("cursor=-5", 422, "invalid_field"),
        ("worker=%01", 422, "invalid_field"),
        ("colour=red", 400, "invalid_query"),
        ("since=1&since=2", 400, "invalid_query"),
    ];
    for (query, status, want) in cases {
        let (st, v) = s.get(&format!("/leases?{query}")).await;
        assert_eq!((st, code(&v)), (*status, *want), "{query}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{v}"
        );
    }
    let (_, v) = s.get("/leases?since=yesterday").await;
    assert_eq!(v["error"]["field"], "since");

    // arbitrary query strings: always a JSON answer, 200 or a 4xx
    let key = proptest::sample::select(vec![
        "since", "until", "worker", "cursor", "limit", "after", "", "s%69nce",
    ]);
    let value = proptest::string::string_regex("[-+:.TZ0-9a-z%&=_ ]{0,30}").expect("regex");
    let strategy = proptest::collection::vec((key, value), 0..4);
    let mut runner = TestRunner::deterministic();
    for _ in 0..200 {
        let pairs = strategy.new_tree(&mut runner).expect("generate").current();
        let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let query = query.join("&").replace(' ', "%20");
        let (st, v) = s.get(&format!("/leases?{query}")).await;
        match st {
            200 => assert!(v["leases"].is_array(), "{query}: {v}"),
            400 | 422 => assert!(v["error"]["code"].is_string(), "{query}: {v}"),
            other => panic!("{query}: {other} {v}"),
        }
    }
    s.stop().await;
}

#[actix_web::test]
async fn the_lease_route_is_in_the_openapi_document() {
    let s = TestServer::start(|_| {}).await;
    let (st, doc) = s.get("/openapi.json").await;
    assert_eq!(st, 200);
    let op = &doc["paths"]["/api/v1/leases"]["get"];
    assert!(op.is_object(), "{}", doc["paths"]);
    let params: Vec<&str> = op["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(params, ["since", "until", "worker", "cursor", "limit"]);
    assert!(doc["components"]["schemas"]["LeaseRecord"].is_object());
    assert!(doc["components"]["schemas"]["LeaseOutcome"].is_object());
    s.stop().await;
}
