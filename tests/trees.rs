//! Plans as trees and tasks that wait for their time (issue 26), over a real
//! server (REST on 127.0.0.1:0, MCP through rmcp's streamable-HTTP client):
//! an agent splits the task it holds and three workers finish the pieces
//! (must-show 2), a parent is never claimed and rolls up its children
//! (done, failed, cancelled, reset), a dependency on a parent waits for all
//! of it, a task failed or released with `retry_after_secs` is not handed
//! out early, a delayed task keeps its time across a restart, trees and
//! delays survive a restart, `baton backup`/`restore` and a `kill -9` of the
//! real binary, and bad trees and times are refused with a 422 naming the
//! field, nothing written.

mod common;

use std::time::{Duration, Instant};

use baton::Clock;
use common::{mcp_call, mcp_client, tool_error, wait_until, TestServer};
use serde_json::{json, Value};

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

fn field(v: &Value) -> &str {
    v["error"]["field"].as_str().unwrap_or_default()
}

async fn task(s: &TestServer, id: &str) -> Value {
    let (st, v) = s.get(&format!("/tasks/{id}")).await;
    assert_eq!(st, 200, "get {id}: {v}");
    v
}

async fn claim(s: &TestServer, id: &str, worker: &str) -> u64 {
    let (st, v) = s
        .post(&format!("/tasks/{id}/claim"), json!({ "worker": worker }))
        .await;
    assert_eq!(st, 200, "claim {id}: {v}");
    v["lease"]["lease_id"].as_u64().expect("lease_id")
}

async fn complete(s: &TestServer, id: &str, lease_id: u64) {
    let (st, v) = s
        .post(
            &format!("/tasks/{id}/complete"),
            json!({ "lease_id": lease_id, "output": {"by": id} }),
        )
        .await;
    assert_eq!(st, 200, "complete {id}: {v}");
}

/// `claim-next` by `worker`: the task id it got, or `None` on 204.
async fn claim_next(s: &TestServer, worker: &str) -> Option<(String, u64)> {
    let res = s
        .http
        .post(format!("{}/tasks/claim-next", s.base))
        .json(&json!({ "worker": worker }))
        .send()
        .await
        .expect("request");
    let (st, v) = common::read(res).await;
    match st {
        204 => None,
        200 => Some((
            v["task"]["id"].as_str().expect("id").to_owned(),
            v["lease"]["lease_id"].as_u64().expect("lease_id"),
        )),
        _ => panic!("claim-next: {st} {v}"),
    }
}

async fn add(s: &TestServer, tasks: Value) -> Value {
    let (st, v) = s.post("/tasks", json!({ "tasks": tasks })).await;
    assert_eq!(st, 201, "add: {v}");
    v
}

/// Must-show 2, first half: an agent (over MCP) claims a task and splits it
/// into three subtasks with its lease; its lease ends as `split`, the parent
/// waits ("waits for 3 of 3 children") and is never handed out; the agent
/// and two more workers (over REST) take one subtask each, and when the
/// last is done the parent is done, its output listing the children's ids
/// and outcomes (not their outputs).
#[actix_web::test]
async fn an_agent_splits_its_task_into_three_and_the_parent_is_done_when_three_workers_finish_them()
{
    let s = TestServer::start(|s| s.slots.count = 8).await;
    add(&s, json!([{ "id": "epic", "title": "ship the feature" }])).await;
    let agent = mcp_client(&s, None).await;
    let claimed = mcp_call(&agent, "claim_next_task", json!({ "worker": "agent" })).await;
    let claimed = claimed.structured_content.expect("a claim");
    assert_eq!(claimed["claim"]["task"]["id"], "epic", "{claimed}");
    let lease_id = claimed["claim"]["lease"]["lease_id"]
        .as_u64()
        .expect("lease_id");

    let split = mcp_call(
        &agent,
        "add_subtasks",
        json!({
            "parent": "epic",
            "lease_id": lease_id,
            "tasks": [
                { "id": "epic.api", "title": "the API" },
                { "id": "epic.ui", "title": "the UI" },
                { "id": "epic.docs", "title": "the docs" },
            ],
        }),
    )
    .await;
    assert_ne!(split.is_error, Some(true), "{split:?}");
    let split = split
        .structured_content
        .expect("the parent and its subtasks");
    assert_eq!(split["parent"]["status"], "blocked", "{split}");
    assert_eq!(
        split["parent"]["blocked_reason"], "waits for 3 of 3 children",
        "{split}"
    );
    let ids: Vec<&str> = split["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["epic.api", "epic.ui", "epic.docs"]);
    for t in split["tasks"].as_array().expect("tasks") {
        assert_eq!(t["parent"], "epic", "{t}");
        assert_eq!(t["status"], "ready", "{t}");
    }

    // the split lease is over: it is refused and recorded as `split`
    let (st, v) = s
        .post(
            "/tasks/epic/complete",
            json!({ "lease_id": lease_id, "output": "mine" }),
        )
        .await;
    assert_eq!(st, 409, "the split lease is over: {v}");
    let (st, leases) = s.get("/leases?worker=agent").await;
    assert_eq!(st, 200, "{leases}");
    let outcomes: Vec<&str> = leases["leases"]
        .as_array()
        .expect("leases")
        .iter()
        .map(|l| l["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(outcomes, ["split"], "{leases}");

    // a parent is never claimed, by id or as the next task
    let (st, v) = s.post("/tasks/epic/claim", json!({ "worker": "w9" })).await;
    assert_eq!(st, 409, "a parent is not claimable: {v}");

    // the agent may claim one of the pieces of its own task
    let mine = mcp_call(
        &agent,
        "claim_task",
        json!({ "task_id": "epic.api", "worker": "agent" }),
    )
    .await;
    assert_ne!(mine.is_error, Some(true), "{mine:?}");
    let mine = mine.structured_content.expect("a claim");
    let mine_lease = mine["lease"]["lease_id"].as_u64().expect("lease_id");

    let mut held = vec![("epic.api".to_owned(), mine_lease)];
    for worker in ["w1", "w2"] {
        let got = claim_next(&s, worker).await.expect("a subtask is ready");
        assert_ne!(got.0, "epic", "the parent is never handed out");
        held.push(got);
    }
    assert_eq!(claim_next(&s, "w3").await, None, "only the parent is left");

    for (i, (id, lease)) in held.iter().enumerate() {
        complete(&s, id, *lease).await;
        let parent = task(&s, "epic").await;
        if i < 2 {
            assert_eq!(parent["status"], "blocked", "{parent}");
            assert_eq!(
                parent["blocked_reason"],
                format!("waits for {} of 3 children", 2 - i),
                "{parent}"
            );
        }
    }
    let parent = wait_until("the parent is done", Duration::from_secs(10), || async {
        let t = task(&s, "epic").await;
        (t["status"] == "done").then_some(t)
    })
    .await;
    assert_eq!(parent["subtasks"]["total"], 3, "{parent}");
    assert_eq!(parent["subtasks"]["done"], 3, "{parent}");
    let listed: Vec<(String, String)> = parent["output"]["subtasks"]
        .as_array()
        .expect("the output lists the children")
        .iter()
        .map(|c| {
            assert!(c.get("output").is_none(), "ids and outcomes only: {c}");
            (
                c["id"].as_str().unwrap_or_default().to_owned(),
                c["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("epic.api".to_owned(), "done".to_owned()),
            ("epic.ui".to_owned(), "done".to_owned()),
            ("epic.docs".to_owned(), "done".to_owned()),
        ]
    );
    agent.cancel().await.ok();
    s.stop().await;
}

/// Must-show 2, second half: a task failed with `retry_after_secs = 2` is
/// `blocked` ("not before …") and no claim hands it out for 2 s; then it
/// is claimed again.
#[actix_web::test]
async fn a_task_failed_with_retry_after_two_seconds_is_not_claimable_for_two_seconds_then_is() {
    let s = TestServer::start(|s| s.leases.sweep_interval_ms = 20).await;
    add(&s, json!([{ "id": "deploy", "title": "deploy" }])).await;
    let lease = claim(&s, "deploy", "w1").await;
    let failed_at = Instant::now();
    let (st, v) = s
        .post(
            "/tasks/deploy/fail",
            json!({ "lease_id": lease, "error": "registry down", "retry_after_secs": 2 }),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "blocked", "{v}");
    assert!(v["run_after"].is_string(), "{v}");
    assert!(
        v["blocked_reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("not before ")),
        "{v}"
    );
    // neither claim path hands it out before its time
    assert_eq!(claim_next(&s, "w2").await, None);
    let (st, v) = s
        .post("/tasks/deploy/claim", json!({ "worker": "w2" }))
        .await;
    assert_eq!(st, 409, "not claimable before its time: {v}");

    let (id, _) = wait_until(
        "the retry is claimable",
        Duration::from_secs(15),
        || async { claim_next(&s, "w2").await },
    )
    .await;
    let waited = failed_at.elapsed();
    assert_eq!(id, "deploy");
    assert!(
        waited >= Duration::from_millis(1900),
        "handed out after {waited:?}, before its 2 s"
    );
    let t = task(&s, "deploy").await;
    assert_eq!(t["status"], "running", "{t}");
    assert_eq!(t["attempts"], 2, "the failed attempt counts: {t}");
    s.stop().await;
}

/// `release_task` and `fail_task` over MCP take `retry_after_secs` too;
/// a released task is put off without counting an attempt; a delay over
/// `[tasks] max_delay_secs` is a tool error naming `retry_after_secs`; the
/// `data://tasks/statuses` resource states the tree and delay rules.
#[actix_web::test]
async fn release_and_fail_over_mcp_put_the_task_off_by_retry_after_secs() {
    let s = TestServer::start(|s| s.tasks.max_delay_secs = 3600).await;
    add(&s, json!([{ "id": "a", "title": "a" }])).await;
    let agent = mcp_client(&s, None).await;
    let lease = claim(&s, "a", "agent").await;

    let over = mcp_call(
        &agent,
        "release_task",
        json!({ "task_id": "a", "lease_id": lease, "retry_after_secs": 3601 }),
    )
    .await;
    let e = tool_error(&over);
    assert_eq!(e["error"]["field"], "retry_after_secs", "{e}");
    assert_eq!(task(&s, "a").await["status"], "running", "nothing changed");

    let released = mcp_call(
        &agent,
        "release_task",
        json!({ "task_id": "a", "lease_id": lease, "retry_after_secs": 600 }),
    )
    .await;
    let t = released.structured_content.expect("the task");
    assert_eq!(t["status"], "blocked", "{t}");
    assert_eq!(t["attempts"], 0, "a release counts no attempt: {t}");
    assert!(
        t["blocked_reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("not before ")),
        "{t}"
    );
    assert_eq!(claim_next(&s, "w2").await, None, "put off for 10 minutes");

    add(&s, json!([{ "id": "b", "title": "b" }])).await;
    let lease = claim(&s, "b", "agent").await;
    let failed = mcp_call(
        &agent,
        "fail_task",
        json!({ "task_id": "b", "lease_id": lease, "error": "later", "retry_after_secs": 600 }),
    )
    .await;
    let t = failed.structured_content.expect("the task");
    assert_eq!(t["status"], "blocked", "{t}");
    assert_eq!(claim_next(&s, "w2").await, None, "both put off");

    // the statuses resource says how trees and time bend the statuses
    let statuses = agent
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "data://tasks/statuses",
        ))
        .await
        .expect("read statuses");
    let text = match &statuses.contents[0] {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("unexpected {other:?}"),
    };
    let statuses: Value = serde_json::from_str(&text).expect("JSON");
    for rule in ["subtasks", "split", "delays"] {
        assert!(statuses["rules"][rule].is_string(), "{rule}: {statuses}");
    }
    agent.cancel().await.ok();
    s.stop().await;
}

/// A delayed task keeps its time across a restart: on a manual clock, a task
/// added with `delay_secs` (and one with `run_after`) is still blocked after
/// the restart with the same `run_after`, and the sweep makes it ready once
/// the clock reaches it — not before.
#[actix_web::test]
async fn a_delayed_task_keeps_its_time_across_a_restart_and_wakes_when_it_comes() {
    const T0: u64 = 1_900_000_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = baton::Settings::for_tests(dir.path());
    let clock = Clock::manual(T0);
    let s = TestServer::start_with_clock(settings.clone(), clock.clone()).await;
    add(
        &s,
        json!([
            { "id": "nightly", "title": "nightly check", "delay_secs": 60 },
            { "id": "at", "title": "at a time", "run_after": "2030-03-18T00:00:00Z" },
            { "id": "now", "title": "right away" },
        ]),
    )
    .await;
    let before = task(&s, "nightly").await;
    assert_eq!(before["status"], "blocked", "{before}");
    assert!(before["run_after"].is_string(), "{before}");
    assert_eq!(task(&s, "now").await["status"], "ready");
    s.stop().await;

    clock.advance(30_000);
    let s = TestServer::start_with_clock(settings, clock.clone()).await;
    let after = task(&s, "nightly").await;
    assert_eq!(after["status"], "blocked", "{after}");
    assert_eq!(after["run_after"], before["run_after"], "the time survived");
    assert_eq!(after["blocked_reason"], before["blocked_reason"], "{after}");
    s.runtime.board().sweep_expired().await.expect("sweep");
    assert_eq!(task(&s, "nightly").await["status"], "blocked", "not yet");

    clock.advance(30_000);
    s.runtime.board().sweep_expired().await.expect("sweep");
    let woke = task(&s, "nightly").await;
    assert_eq!(woke["status"], "ready", "{woke}");
    assert!(woke.get("blocked_reason").is_none(), "{woke}");
    assert_eq!(task(&s, "at").await["status"], "blocked", "2030 is later");
    s.stop().await;
}

/// A parent added with `parent` links (one batch) is a container: never
/// claimed; a dependency on it waits for all of it; a child failed for good
/// fails it while the siblings keep running; `reset` of the parent brings
/// back its failed child; `cancel` of the parent cancels its unfinished
/// children; the compat API lists leaves only.
#[actix_web::test]
async fn a_parent_rolls_up_failure_reset_and_cancel_and_a_dependency_on_it_waits_for_all_of_it() {
    let s = TestServer::start(|s| s.slots.count = 8).await;
    add(
        &s,
        json!([
            { "id": "p", "title": "plan" },
            { "id": "p.1", "title": "one", "parent": "p", "max_attempts": 1 },
            { "id": "p.2", "title": "two", "parent": "p" },
            { "id": "after", "title": "after the plan", "dependencies": ["p"] },
        ]),
    )
    .await;
    let p = task(&s, "p").await;
    assert_eq!(p["status"], "blocked", "{p}");
    assert_eq!(p["blocked_reason"], "waits for 2 of 2 children", "{p}");
    assert_eq!(task(&s, "after").await["status"], "blocked");
    let (st, v) = s.post("/tasks/p/claim", json!({ "worker": "w" })).await;
    assert_eq!(st, 409, "{v}");

    // the compat API sees leaves only
    let (st, v) = s.compat_get("/all-tasks").await;
    assert_eq!(st, 200, "{v}");
    let mut compat: Vec<&str> = v["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["id"].as_str().unwrap_or_default())
        .collect();
    compat.sort_unstable();
    assert_eq!(compat, ["after", "p.1", "p.2"], "{v}");

    // one child fails for good: the parent fails, its sibling keeps running
    let l1 = claim(&s, "p.1", "w1").await;
    let l2 = claim(&s, "p.2", "w2").await;
    let (st, v) = s
        .post(
            "/tasks/p.1/fail",
            json!({ "lease_id": l1, "error": "broke", "retry": false }),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let p = task(&s, "p").await;
    assert_eq!(p["status"], "failed", "{p}");
    assert_eq!(task(&s, "p.2").await["status"], "running");
    complete(&s, "p.2", l2).await;
    assert_eq!(task(&s, "after").await["status"], "failed", "fell with p");

    // reset of the failed parent resets its failed child (and the dependent)
    let (st, v) = s.post("/tasks/p/reset", json!({})).await;
    assert_eq!(st, 200, "{v}");
    let mut reset: Vec<&str> = v["reset"]
        .as_array()
        .expect("reset")
        .iter()
        .map(|t| t["id"].as_str().unwrap_or_default())
        .collect();
    reset.sort_unstable();
    assert_eq!(reset, ["after", "p", "p.1"], "{v}");
    assert_eq!(task(&s, "p.1").await["status"], "ready");
    assert_eq!(task(&s, "p.2").await["status"], "done", "done stays done");
    let p = task(&s, "p").await;
    assert_eq!(p["status"], "blocked", "{p}");
    assert_eq!(p["blocked_reason"], "waits for 1 of 2 children", "{p}");

    // the dependency on the parent waits for all of it
    let l1 = claim(&s, "p.1", "w1").await;
    assert_eq!(task(&s, "after").await["status"], "blocked");
    complete(&s, "p.1", l1).await;
    assert_eq!(task(&s, "p").await["status"], "done");
    assert_eq!(task(&s, "after").await["status"], "ready");

    // cancel of a parent cascades to its unfinished children only
    add(
        &s,
        json!([
            { "id": "q", "title": "q" },
            { "id": "q.1", "title": "q one", "parent": "q" },
            { "id": "q.2", "title": "q two", "parent": "q" },
        ]),
    )
    .await;
    let lq = claim(&s, "q.1", "w1").await;
    complete(&s, "q.1", lq).await;
    let (st, v) = s
        .post("/tasks/q/cancel", json!({ "reason": "dropped" }))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(task(&s, "q").await["status"], "cancelled");
    assert_eq!(task(&s, "q.1").await["status"], "done");
    assert_eq!(task(&s, "q.2").await["status"], "cancelled");
    s.stop().await;
}

/// `POST /tasks/{id}/subtasks` over REST: a deeper tree in one batch (a
/// subtask's `parent` names another of the batch) and dependencies inside
/// it; a running task is split only with its lease.
#[actix_web::test]
async fn rest_add_subtasks_builds_a_tree_in_one_batch_and_a_running_task_needs_its_lease() {
    let s = TestServer::start(|_| {}).await;
    add(&s, json!([{ "id": "r", "title": "root" }])).await;
    let (st, v) = s
        .post(
            "/tasks/r/subtasks",
            json!({ "tasks": [
                { "id": "r.a", "title": "a" },
                { "id": "r.a.x", "title": "x", "parent": "r.a" },
                { "id": "r.b", "title": "b", "dependencies": ["r.a"] },
            ]}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["parent"]["id"], "r");
    assert_eq!(v["parent"]["blocked_reason"], "waits for 2 of 2 children");
    assert_eq!(task(&s, "r.a").await["parent"], "r");
    assert_eq!(task(&s, "r.a.x").await["parent"], "r.a");
    assert_eq!(task(&s, "r.a").await["status"], "blocked", "a parent too");
    assert_eq!(task(&s, "r.a.x").await["status"], "ready");
    assert_eq!(task(&s, "r.b").await["status"], "blocked", "waits for r.a");

    add(&s, json!([{ "id": "held", "title": "held" }])).await;
    let lease = claim(&s, "held", "w1").await;
    let (st, v) = s
        .post(
            "/tasks/held/subtasks",
            json!({ "tasks": [{ "id": "held.1", "title": "one" }] }),
        )
        .await;
    assert_eq!(st, 409, "a running task is split only by its holder: {v}");
    assert_eq!(code(&v), "invalid_status", "{v}");
    assert_eq!(s.get("/tasks/held.1").await.0, 404, "nothing written");
    let (st, v) = s
        .post(
            "/tasks/held/subtasks",
            json!({ "lease_id": lease, "tasks": [{ "id": "held.1", "title": "one" }] }),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["parent"]["status"], "blocked", "{v}");
    s.stop().await;
}

/// Bad trees and times: a missing or finished parent, a tree deeper than
/// `[subtasks] max_depth`, a cycle through parents (and through a parent
/// and a dependency), an unparsable or too distant `run_after`, a
/// `delay_secs` or `retry_after_secs` over `[tasks] max_delay_secs` — each a
/// 422 naming the field, and nothing written.
#[actix_web::test]
async fn bad_parents_depths_cycles_and_times_are_refused_with_422_naming_the_field_and_nothing_written(
) {
    let s = TestServer::start(|s| {
        s.subtasks.max_depth = 2;
        s.tasks.max_delay_secs = 3600;
    })
    .await;
    add(
        &s,
        json!([
            { "id": "top", "title": "top" },
            { "id": "mid", "title": "mid", "parent": "top" },
            { "id": "fin", "title": "finished" },
        ]),
    )
    .await;
    let lease = claim(&s, "fin", "w").await;
    complete(&s, "fin", lease).await;
    let count = s.all_tasks().await.len();

    let cases = [
        (
            json!({ "id": "n", "title": "n", "parent": "nope" }),
            "parent",
        ),
        (
            json!({ "id": "n", "title": "n", "parent": "fin" }),
            "parent",
        ),
        (
            json!({ "id": "n", "title": "n", "parent": "mid" }),
            "parent",
        ),
        (json!({ "id": "n", "title": "n", "parent": "n" }), "parent"),
        (
            json!({ "id": "n", "title": "n", "run_after": "tomorrow" }),
            "run_after",
        ),
        (
            json!({ "id": "n", "title": "n", "run_after": "2999-01-01T00:00:00Z" }),
            "run_after",
        ),
        (
            json!({ "id": "n", "title": "n", "delay_secs": 3601 }),
            "delay_secs",
        ),
    ];
    for (spec, want) in cases {
        let (st, v) = s.post("/tasks", spec.clone()).await;
        assert_eq!(st, 422, "{spec}: {v}");
        assert_eq!(field(&v), want, "{spec}: {v}");
    }
    // cycles through parents, and through a parent and a dependency
    for batch in [
        json!([
            { "id": "c1", "title": "c1", "parent": "c2" },
            { "id": "c2", "title": "c2", "parent": "c1" },
        ]),
        json!([
            { "id": "d1", "title": "d1", "dependencies": ["d2"] },
            { "id": "d2", "title": "d2", "parent": "d1" },
        ]),
    ] {
        let (st, v) = s.post("/tasks", json!({ "tasks": batch })).await;
        assert_eq!(st, 422, "{batch}: {v}");
        assert!(
            field(&v).ends_with("parent") || field(&v).ends_with("dependencies"),
            "{batch}: {v}"
        );
    }
    // add_subtasks under a finished task, and too deep through it
    let (st, v) = s
        .post(
            "/tasks/fin/subtasks",
            json!({ "tasks": [{ "id": "n", "title": "n" }] }),
        )
        .await;
    assert_eq!((st, field(&v)), (422, "parent"), "{v}");
    let (st, v) = s
        .post(
            "/tasks/mid/subtasks",
            json!({ "tasks": [{ "id": "n", "title": "n" }] }),
        )
        .await;
    assert_eq!((st, field(&v)), (422, "parent"), "{v}");
    let (st, v) = s
        .post(
            "/tasks/nope/subtasks",
            json!({ "tasks": [{ "id": "n", "title": "n" }] }),
        )
        .await;
    assert_eq!(st, 422, "a parent that does not exist: {v}");
    let (st, v) = s
        .post(
            "/tasks/top/subtasks",
            json!({ "tasks": [{ "id": "n", "title": "n", "delay_secs": 7200 }] }),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    assert!(field(&v).ends_with("delay_secs"), "{v}");
    // retry_after_secs over the bound on fail: refused, the lease kept
    add(&s, json!([{ "id": "f", "title": "f" }])).await;
    let lease = claim(&s, "f", "w").await;
    let (st, v) = s
        .post(
            "/tasks/f/fail",
            json!({ "lease_id": lease, "error": "e", "retry_after_secs": 3601 }),
        )
        .await;
    assert_eq!((st, field(&v)), (422, "retry_after_secs"), "{v}");
    assert_eq!(task(&s, "f").await["status"], "running", "nothing written");

    assert_eq!(s.all_tasks().await.len(), count + 1, "only f was added");
    assert_eq!(s.get("/tasks/n").await.0, 404);
    assert_eq!(
        task(&s, "mid").await["subtasks"],
        Value::Null,
        "still a leaf"
    );
    s.stop().await;
}

/// `[subtasks] cancel_siblings_on_failure = true`: a subtask that fails for
/// good fails its parent and cancels its unfinished siblings (a running one
/// loses its lease); a finished sibling stays as it ended.
#[actix_web::test]
async fn with_cancel_siblings_on_failure_a_failed_subtask_cancels_its_unfinished_siblings() {
    let s = TestServer::start(|s| {
        s.slots.count = 8;
        s.subtasks.cancel_siblings_on_failure = true;
    })
    .await;
    add(
        &s,
        json!([
            { "id": "p", "title": "plan" },
            { "id": "p.bad", "title": "bad", "parent": "p", "max_attempts": 1 },
            { "id": "p.run", "title": "running", "parent": "p" },
            { "id": "p.wait", "title": "waiting", "parent": "p" },
            { "id": "p.done", "title": "done", "parent": "p" },
        ]),
    )
    .await;
    let done = claim(&s, "p.done", "w0").await;
    complete(&s, "p.done", done).await;
    let running = claim(&s, "p.run", "w1").await;
    let bad = claim(&s, "p.bad", "w2").await;
    let (st, v) = s
        .post(
            "/tasks/p.bad/fail",
            json!({ "lease_id": bad, "error": "broke", "retry": false }),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(task(&s, "p").await["status"], "failed");
    assert_eq!(task(&s, "p.run").await["status"], "cancelled");
    assert_eq!(task(&s, "p.wait").await["status"], "cancelled");
    assert_eq!(task(&s, "p.done").await["status"], "done");
    let (st, v) = s
        .post(
            "/tasks/p.run/complete",
            json!({ "lease_id": running, "output": "late" }),
        )
        .await;
    assert_eq!(st, 409, "the cancelled sibling's lease is over: {v}");
    s.stop().await;
}

/// A tree and a delayed task survive `baton backup` and `baton restore`
/// (the real binary): parent links, counts, reasons and `run_after` are the
/// same on the restored board, and the delayed task is still not claimable.
#[actix_web::test]
async fn trees_and_delays_survive_a_backup_and_restore() {
    let work = tempfile::tempdir().expect("tempdir");
    let s = TestServer::start(|_| {}).await;
    add(
        &s,
        json!([
            { "id": "p", "title": "plan" },
            { "id": "p.1", "title": "one", "parent": "p" },
            { "id": "p.2", "title": "two", "parent": "p", "delay_secs": 3600 },
        ]),
    )
    .await;
    let lease = claim(&s, "p.1", "w").await;
    complete(&s, "p.1", lease).await;
    let before: Vec<Value> = [
        task(&s, "p").await,
        task(&s, "p.1").await,
        task(&s, "p.2").await,
    ]
    .into();
    assert_eq!(before[0]["blocked_reason"], "waits for 1 of 2 children");

    let file = work.path().join("board.jsonl");
    let target = work.path().join("restored");
    let (url, file_arg, target_arg) = (
        format!("http://{}", s.addr),
        file.to_str().expect("utf-8").to_owned(),
        target.to_str().expect("utf-8").to_owned(),
    );
    let backup = {
        let (url, file_arg) = (url.clone(), file_arg.clone());
        tokio::task::spawn_blocking(move || {
            common::baton_command()
                .args(["backup", "--url", &url, "--out", &file_arg])
                .output()
                .expect("run baton backup")
        })
        .await
        .expect("join")
    };
    assert!(backup.status.success(), "{backup:?}");
    s.stop().await;
    let restore = tokio::task::spawn_blocking(move || {
        common::baton_command()
            .args(["restore", "--in", &file_arg, "--data-dir", &target_arg])
            .output()
            .expect("run baton restore")
    })
    .await
    .expect("join");
    assert!(restore.status.success(), "{restore:?}");

    let s = TestServer::start_with(baton::Settings::for_tests(&target)).await;
    for want in &before {
        let id = want["id"].as_str().expect("id");
        let got = task(&s, id).await;
        for key in [
            "status",
            "parent",
            "run_after",
            "subtasks",
            "blocked_reason",
        ] {
            assert_eq!(got[key], want[key], "{id}.{key} after the restore: {got}");
        }
    }
    assert_eq!(claim_next(&s, "w").await, None, "p.2 waits for its time");
    s.stop().await;
}

/// A board of trees mid-way — a split task, a parent failed by a subtask, a
/// deeper tree, a dependency on a parent, a delayed subtask — reads the
/// same after a stop and a start on the same data directory (every task,
/// all fields), and keeps working: the rest of the split plan finishes and
/// rolls up.
#[actix_web::test]
async fn a_board_of_trees_reads_the_same_after_a_restart_and_keeps_rolling_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = baton::Settings::for_tests(dir.path());
    settings.slots.count = 8;
    let s = TestServer::start_with(settings.clone()).await;
    add(
        &s,
        json!([
            { "id": "held", "title": "held" },
            { "id": "f", "title": "will fail" },
            { "id": "f.1", "title": "f one", "parent": "f", "max_attempts": 1 },
            { "id": "f.2", "title": "f two", "parent": "f" },
            { "id": "deep", "title": "deep" },
            { "id": "deep.a", "title": "a", "parent": "deep" },
            { "id": "deep.a.x", "title": "x", "parent": "deep.a", "delay_secs": 3600 },
            { "id": "after", "title": "after", "dependencies": ["deep"] },
        ]),
    )
    .await;
    let lease = claim(&s, "held", "agent").await;
    let (st, v) = s
        .post(
            "/tasks/held/subtasks",
            json!({ "lease_id": lease, "tasks": [
                { "id": "held.1", "title": "one" },
                { "id": "held.2", "title": "two" },
            ]}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let l = claim(&s, "held.1", "agent").await;
    complete(&s, "held.1", l).await;
    let l = claim(&s, "f.1", "w").await;
    let (st, v) = s
        .post(
            "/tasks/f.1/fail",
            json!({ "lease_id": l, "error": "no", "retry": false }),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(task(&s, "f").await["status"], "failed");
    let before = s.all_tasks().await;
    s.stop().await;

    let s = TestServer::start_with(settings).await;
    let after = s.all_tasks().await;
    assert_eq!(after, before, "the same board after the restart");
    let l = claim(&s, "held.2", "w").await;
    complete(&s, "held.2", l).await;
    let held = task(&s, "held").await;
    assert_eq!(held["status"], "done", "{held}");
    assert_eq!(held["output"]["total"], 2, "{held}");
    assert_eq!(task(&s, "after").await["status"], "blocked");
    s.stop().await;
}

/// The real binary, killed with SIGKILL right after acknowledged tree
/// writes (a split under a lease, a subtask done, a delayed subtask), reads
/// the same board after it starts again on the same data directory.
#[actix_web::test]
async fn a_split_and_a_delayed_subtask_read_the_same_after_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8 path").to_owned();
    let spawn = || {
        common::spawn_baton(
            &["serve", "--bind", "127.0.0.1:0", "--data-dir", &data],
            &[("BATON_LEASES__TTL_SECS", "600")],
        )
    };
    let http = reqwest::Client::new();
    let call = |base: String, path: &str, body: Option<Value>| {
        let req = match body {
            Some(b) => http.post(format!("{base}{path}")).json(&b),
            None => http.get(format!("{base}{path}")),
        };
        async move { common::read(req.send().await.expect("request")).await }
    };
    let child = spawn();
    let base = format!("{}/api/v1", child.url);
    let (st, v) = call(
        base.clone(),
        "/tasks",
        Some(json!({ "tasks": [{ "id": "big", "title": "big" }] })),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = call(
        base.clone(),
        "/tasks/big/claim",
        Some(json!({ "worker": "agent" })),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let lease = v["lease"]["lease_id"].as_u64().expect("lease_id");
    let (st, v) = call(
        base.clone(),
        "/tasks/big/subtasks",
        Some(json!({ "lease_id": lease, "tasks": [
            { "id": "big.1", "title": "one" },
            { "id": "big.2", "title": "two", "delay_secs": 3600 },
        ]})),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = call(
        base.clone(),
        "/tasks/big.1/claim",
        Some(json!({ "worker": "agent" })),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let lease = v["lease"]["lease_id"].as_u64().expect("lease_id");
    let (st, v) = call(
        base.clone(),
        "/tasks/big.1/complete",
        Some(json!({ "lease_id": lease })),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (st, before) = call(base.clone(), "/tasks?limit=1000", None).await;
    assert_eq!(st, 200, "{before}");
    assert_eq!(
        before["tasks"].as_array().map(Vec::len),
        Some(3),
        "{before}"
    );
    drop(child); // SIGKILL

    let child = spawn();
    let base = format!("{}/api/v1", child.url);
    let (st, after) = call(base.clone(), "/tasks?limit=1000", None).await;
    assert_eq!(st, 200, "{after}");
    assert_eq!(
        after["tasks"], before["tasks"],
        "the same board after kill -9"
    );
    let (st, v) = call(base, "/tasks/big", None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["blocked_reason"], "waits for 1 of 2 children", "{v}");
}
