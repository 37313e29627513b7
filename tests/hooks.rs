//! Issue 29 over a real server: one worker name everywhere (the
//! `X-Baton-Worker` header on REST and MCP, `worker_mismatch`), implicit
//! renewal on activity (half the TTL, the `max_implicit_secs` budget, the
//! token's ownership), and the Claude Code hooks endpoint answering the
//! bodies the pinned CLI was recorded sending
//! (`tests/clients/fixtures/hooks/*.json`); who holds a path is asked of
//! the board's path reservations (issue 25), and once of a double mounted
//! in their place (`api::hooks::paths::PathHolders`).
//! The real `claude -p` runs against baton are in
//! `tests/clients/agents-hooks.test.mjs`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App};
use baton::api::hooks::paths::{PathHolder, PathHolders};
use baton::model::{Role, Task};
use baton::{Board, Clock, Error, Runtime, Settings};
use common::{mcp_call, read, tool_error, wait_until, TestServer};
use futures_util::future::BoxFuture;
use serde_json::{json, Value};

const T0: u64 = 1_750_000_000_000;
const HOOKS: &str = "/hooks/claude-code";

/// The first recorded body of `event` (the `main` run), as the CLI sent it.
fn recorded(event: &str) -> Value {
    let path = format!(
        "{}/tests/clients/fixtures/hooks/{event}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let calls: Vec<Value> =
        serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("fixture is JSON");
    calls
        .into_iter()
        .find(|c| c["run"] == "main")
        .map(|c| c["body"].clone())
        .expect("a main-run call")
}

/// The recorded `PostToolUse` (or `PreToolUse`) body of `tool`.
fn recorded_tool(event: &str, tool: &str) -> Value {
    let path = format!(
        "{}/tests/clients/fixtures/hooks/{event}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let calls: Vec<Value> =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("JSON");
    calls
        .into_iter()
        .map(|c| c["body"].clone())
        .find(|b| b["tool_name"] == tool)
        .expect("a recorded call of the tool")
}

/// POST `body` to `path` under `/api/v1` as `worker` (header) with `token`.
async fn post_as(
    s: &TestServer,
    path: &str,
    worker: Option<&str>,
    token: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let mut req = s.http.post(format!("{}{path}", s.base)).json(body);
    if let Some(w) = worker {
        req = req.header("X-Baton-Worker", w);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    read(req.send().await.expect("request")).await
}

async fn hook(s: &TestServer, worker: Option<&str>, body: &Value) -> Value {
    let (st, v) = post_as(s, HOOKS, worker, None, body).await;
    assert_eq!(st, 200, "{v}");
    v
}

async fn add(s: &TestServer, id: &str) {
    let (st, v) = s
        .post(
            "/tasks",
            json!({"id": id, "title": format!("the {id} task")}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
}

async fn task(s: &TestServer, id: &str) -> Value {
    let (st, v) = s.get(&format!("/tasks/{id}")).await;
    assert_eq!(st, 200, "{v}");
    v
}

fn expiry(t: &Value) -> String {
    t["lease"]["expires_at"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn context_of(v: &Value) -> &Value {
    &v["hookSpecificOutput"]["additionalContext"]
}

#[actix_rt::test]
async fn a_connection_names_its_worker_once_on_rest_and_mcp_and_a_disagreeing_argument_is_refused()
{
    let s = TestServer::start(|_| {}).await;
    for id in ["a", "b", "c"] {
        add(&s, id).await;
    }
    // REST: the header alone names the claimer
    let (st, v) = post_as(&s, "/tasks/claim-next", Some("alice"), None, &json!({})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["lease"]["worker"], "alice");
    // the same name in both is fine; a different one is refused, naming both
    let (st, v) = post_as(
        &s,
        "/tasks/b/claim",
        Some("alice"),
        None,
        &json!({"worker": "bob"}),
    )
    .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("worker_mismatch")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("'bob'"),
        "{v}"
    );
    // neither: refused with how to set BATON_WORKER
    let (st, v) = post_as(&s, "/tasks/claim-next", None, None, &json!({})).await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (422, Some("worker")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("BATON_WORKER"),
        "{v}"
    );
    // a header that cannot be a worker name is refused, naming the header
    let (st, v) = post_as(
        &s,
        "/tasks/claim-next",
        Some(&"x".repeat(300)),
        None,
        &json!({}),
    )
    .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (422, Some("X-Baton-Worker")),
        "{v}"
    );

    // MCP: the header of the connection names the claimer of every call
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    use rmcp::ServiceExt;
    let mut config =
        StreamableHttpClientTransportConfig::with_uri(format!("http://{}/mcp", s.addr));
    config.custom_headers.insert(
        http::HeaderName::from_static("x-baton-worker"),
        http::HeaderValue::from_static("carol"),
    );
    let client = ()
        .serve(rmcp::transport::StreamableHttpClientTransport::from_config(
            config,
        ))
        .await
        .expect("MCP initialize");
    let r = mcp_call(&client, "claim_next_task", json!({})).await;
    let out = r.structured_content.clone().expect("a claim");
    assert_eq!(out["claim"]["lease"]["worker"], "carol", "{out}");
    let r = mcp_call(
        &client,
        "claim_task",
        json!({"task_id": "c", "worker": "dave"}),
    )
    .await;
    assert_eq!(tool_error(&r)["error"]["code"], "worker_mismatch");
    client.cancel().await.ok();
    s.stop().await;
}

#[actix_rt::test]
async fn activity_renews_a_workers_lease_past_half_its_ttl_within_the_implicit_budget() {
    let clock = Clock::manual(T0);
    let s = TestServer::start_clocked(clock.clone(), |st| {
        st.leases.ttl_secs = 10;
        st.leases.max_implicit_secs = 20;
        st.leases.sweep_interval_ms = 60_000;
    })
    .await;
    add(&s, "a").await;
    let (_, claim) = post_as(&s, "/tasks/claim-next", Some("w1"), None, &json!({})).await;
    let lease_id = claim["lease"]["lease_id"].as_u64().expect("lease");
    let first = expiry(&task(&s, "a").await);

    // 4 s in, more than half the TTL is left: a call renews nothing
    clock.advance(4_000);
    post_as(&s, "/tasks/claim-next", Some("w1"), None, &json!({})).await;
    s.runtime.board().sweep_expired().await.expect("barrier");
    assert_eq!(
        expiry(&task(&s, "a").await),
        first,
        "renewed while more than half was left"
    );

    // 6 s in: any call of w1 — here a read — renews it (in the background)
    clock.advance(2_000);
    let (st, _) = s
        .http
        .get(format!("{}/stats", s.base))
        .header("X-Baton-Worker", "w1")
        .send()
        .await
        .map(|r| (r.status(), ()))
        .expect("get");
    assert_eq!(st, 200);
    let renewed = wait_until(
        "the lease renewed by a read of w1",
        Duration::from_secs(10),
        || async {
            let e = expiry(&task(&s, "a").await);
            if e != first {
                Ok(e)
            } else {
                Err(e)
            }
        },
    )
    .await;
    // another worker's activity does not renew w1's lease
    clock.advance(6_000);
    post_as(&s, "/tasks/claim-next", Some("w2"), None, &json!({})).await;
    s.runtime.board().sweep_expired().await.expect("barrier");
    assert_eq!(expiry(&task(&s, "a").await), renewed);

    // the budget: 20 s after the claim without an explicit sign, activity stops renewing
    clock.advance(3_000); // 15 s after the claim, 1 s left
    let hb = hook(&s, Some("w1"), &recorded_tool("PostToolUse", "Bash")).await;
    assert_eq!(hb, json!({}));
    let at_15 = expiry(&task(&s, "a").await);
    assert_ne!(
        at_15, renewed,
        "a PostToolUse hook renews (and waits for it)"
    );
    clock.advance(6_000); // 21 s after the claim
    hook(&s, Some("w1"), &recorded_tool("PostToolUse", "Bash")).await;
    assert_eq!(
        expiry(&task(&s, "a").await),
        at_15,
        "renewed past the implicit budget"
    );
    // an explicit heartbeat opens it again
    let (st, v) = s
        .post("/tasks/a/heartbeat", json!({"lease_id": lease_id}))
        .await;
    assert_eq!(st, 200, "{v}");
    let beat = expiry(&v);
    clock.advance(6_000);
    hook(&s, Some("w1"), &recorded_tool("PostToolUse", "Bash")).await;
    assert_ne!(
        expiry(&task(&s, "a").await),
        beat,
        "not renewed after a heartbeat"
    );
    s.stop().await;
}

#[actix_rt::test]
async fn the_hooks_answer_the_recorded_events_in_claude_codes_format() {
    let s = TestServer::start(|st| st.hooks.progress_interval_ms = 0).await;
    add(&s, "api").await;
    // without a worker: how to set BATON_WORKER, and nothing else
    let v = hook(&s, None, &recorded("SessionStart")).await;
    assert_eq!(v["hookSpecificOutput"]["hookEventName"], "SessionStart");
    assert!(
        context_of(&v).as_str().unwrap().contains("BATON_WORKER"),
        "{v}"
    );
    assert_eq!(hook(&s, None, &recorded("Stop")).await, json!({}));
    // with one, holding nothing: how to claim
    let v = hook(&s, Some("w1"), &recorded("UserPromptSubmit")).await;
    assert_eq!(v["hookSpecificOutput"]["hookEventName"], "UserPromptSubmit");
    assert!(
        context_of(&v).as_str().unwrap().contains("claim_next_task"),
        "{v}"
    );
    assert_eq!(hook(&s, Some("w1"), &recorded("Stop")).await, json!({}));

    let (_, claim) = post_as(&s, "/tasks/claim-next", Some("w1"), None, &json!({})).await;
    let lease_id = claim["lease"]["lease_id"].as_u64().expect("lease");
    let v = hook(&s, Some("w1"), &recorded("SessionStart")).await;
    let text = context_of(&v).as_str().unwrap();
    assert!(
        text.contains("`api`") && text.contains("the api task"),
        "{v}"
    );
    assert!(text.contains(&format!("lease_id {lease_id}")), "{v}");

    // PostToolUse of a Write (the whole file in its body) and of a Bash: progress lines
    let mut write = recorded_tool("PostToolUse", "Write");
    write["tool_input"]["content"] = json!("x".repeat(2 << 20));
    write["tool_response"]["content"] = json!("x".repeat(2 << 20));
    assert_eq!(hook(&s, Some("w1"), &write).await, json!({}));
    assert_eq!(
        hook(&s, Some("w1"), &recorded_tool("PostToolUse", "Bash")).await,
        json!({})
    );
    // baton's own tools are in the audit log already: no line for them
    hook(
        &s,
        Some("w1"),
        &recorded_tool("PostToolUse", "mcp__baton__claim_next_task"),
    )
    .await;
    let (_, ctx) = s.get("/tasks/api/context/progress").await;
    let lines: Vec<&str> = ctx["value"]
        .as_array()
        .expect("progress lines")
        .iter()
        .map(|l| l["line"].as_str().unwrap())
        .collect();
    assert_eq!(
        lines,
        ["Write draft.txt", "Bash: echo working on t1"],
        "{ctx}"
    );
    let (_, evs) = s.get("/tasks/api/events").await;
    let progress: Vec<&Value> = evs["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "task_progress")
        .collect();
    assert_eq!(progress.len(), 2, "{evs}");
    assert_eq!(progress[0]["reason"], "Write draft.txt");
    assert_eq!(progress[0]["worker"], "w1");

    // Stop: blocked once, naming the task; the second stop goes through
    let v = hook(&s, Some("w1"), &recorded("Stop")).await;
    assert_eq!(v["decision"], "block", "{v}");
    assert!(v["reason"].as_str().unwrap().contains("task `api`"), "{v}");
    let mut again = recorded("Stop");
    again["stop_hook_active"] = json!(true);
    assert_eq!(hook(&s, Some("w1"), &again).await, json!({}));

    // StopFailure ends a turn, not the work: the lease stays
    let failing = recorded_failing("StopFailure");
    assert_eq!(hook(&s, Some("w1"), &failing).await, json!({}));
    assert_eq!(task(&s, "api").await["status"], "running");
    // SessionEnd releases it at once
    assert_eq!(
        hook(&s, Some("w1"), &recorded("SessionEnd")).await,
        json!({})
    );
    let t = task(&s, "api").await;
    assert_eq!(
        (t["status"].as_str(), t["attempts"].as_u64()),
        (Some("ready"), Some(0)),
        "{t}"
    );
    s.stop().await;
}

fn recorded_failing(event: &str) -> Value {
    let path = format!(
        "{}/tests/clients/fixtures/hooks/{event}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let calls: Vec<Value> =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("JSON");
    calls[0]["body"].clone()
}

#[actix_rt::test]
async fn progress_lines_are_rate_limited_and_bounded() {
    let clock = Clock::manual(T0);
    let s = TestServer::start_clocked(clock.clone(), |st| {
        st.hooks.progress_interval_ms = 5_000;
        st.hooks.progress_lines = 3;
        st.leases.ttl_secs = 3600;
    })
    .await;
    add(&s, "a").await;
    post_as(&s, "/tasks/claim-next", Some("w"), None, &json!({})).await;
    let bash = |cmd: &str| {
        let mut b = recorded_tool("PostToolUse", "Bash");
        b["tool_input"]["command"] = json!(cmd);
        b
    };
    for i in 0..10 {
        hook(&s, Some("w"), &bash(&format!("step {i}"))).await;
        clock.advance(1_000);
    }
    // one line per 5 s: steps 0, 5 (which says 4 were left out)
    let (_, ctx) = s.get("/tasks/a/context/progress").await;
    let lines: Vec<&str> = ctx["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_str().unwrap())
        .collect();
    assert_eq!(
        lines,
        ["Bash: step 0", "Bash: step 5 (+4 more since the last line)"]
    );
    for i in 10..30 {
        hook(&s, Some("w"), &bash(&format!("step {i}"))).await;
        clock.advance(5_000);
    }
    let (_, ctx) = s.get("/tasks/a/context/progress").await;
    let lines: Vec<&str> = ctx["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_str().unwrap())
        .collect();
    assert_eq!(
        lines,
        ["Bash: step 27", "Bash: step 28", "Bash: step 29"],
        "the oldest go"
    );
    s.stop().await;
}

/// A stand-in for path reservations: `held` maps a path to its holder; every
/// `reserve` call is noted.
#[derive(Default)]
struct Double {
    held: Mutex<Vec<(String, String)>>,
    reserved: Mutex<Vec<(String, String, String)>>,
}

impl PathHolders for Double {
    fn holders<'a>(
        &'a self,
        _: &'a Board,
        path: &'a str,
        _worker: &'a str,
    ) -> BoxFuture<'a, Result<Vec<PathHolder>, Error>> {
        let held = self.held.lock().expect("lock").clone();
        Box::pin(async move {
            Ok(held
                .into_iter()
                .filter(|(p, _)| p == path)
                .map(|(_, w)| PathHolder {
                    worker: w,
                    task_id: Some("api".into()),
                    expires_at: None,
                })
                .collect())
        })
    }

    fn reserve<'a>(
        &'a self,
        _: &'a Board,
        path: &'a str,
        worker: &'a str,
        task: &'a Task,
    ) -> BoxFuture<'a, Result<(), Error>> {
        self.reserved
            .lock()
            .expect("lock")
            .push((path.into(), worker.into(), task.id.to_string()));
        Box::pin(async { Ok(()) })
    }
}

#[actix_rt::test]
async fn pre_tool_use_denies_a_write_to_a_path_another_worker_holds_naming_the_holder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = Settings::for_tests(dir.path());
    settings.hooks.auto_reserve = true;
    let runtime = Runtime::start(settings).await.expect("runtime");
    let double = Arc::new(Double::default());
    double
        .held
        .lock()
        .unwrap()
        .push(("notes.txt".into(), "agent-1".into()));
    let holders: Arc<dyn PathHolders> = double.clone();
    let holders = web::Data::from(holders);
    let mount = runtime.configure();
    let (addr, handle) = common::serve(move || {
        App::new()
            .configure(mount.clone())
            .app_data(holders.clone())
    });
    let base = format!("http://{addr}/api/v1");
    let http = reqwest::Client::new();
    let pre = |tool: &str, file: &str| {
        let mut b = recorded_tool("PreToolUse", tool);
        let root = b["cwd"].as_str().unwrap().to_owned();
        b["tool_input"]["file_path"] = json!(format!("{root}/{file}"));
        b
    };
    let send = |worker: &'static str, body: Value| {
        let (http, url) = (http.clone(), format!("{base}{HOOKS}"));
        async move {
            let res = http
                .post(url)
                .header("X-Baton-Worker", worker)
                .json(&body)
                .send()
                .await
                .expect("hook");
            read(res).await
        }
    };
    // agent-2's Write and Edit of agent-1's file: denied, the reason names the holder
    for tool in ["Write", "Edit"] {
        let (st, v) = send("agent-2", pre(tool, "notes.txt")).await;
        assert_eq!(st, 200, "{v}");
        let out = &v["hookSpecificOutput"];
        assert_eq!(
            (
                out["hookEventName"].as_str(),
                out["permissionDecision"].as_str()
            ),
            (Some("PreToolUse"), Some("deny")),
            "{v}"
        );
        let reason = out["permissionDecisionReason"].as_str().unwrap();
        assert!(
            reason.contains("notes.txt")
                && reason.contains("`agent-1`")
                && reason.contains("`api`"),
            "{reason}"
        );
    }
    // the holder itself, another file, and a tool that writes nothing: allowed
    assert_eq!(
        send("agent-1", pre("Write", "notes.txt")).await.1,
        json!({})
    );
    assert_eq!(
        send("agent-2", pre("Write", "other.txt")).await.1,
        json!({})
    );
    assert_eq!(
        send("agent-2", recorded_tool("PreToolUse", "Bash")).await.1,
        json!({})
    );
    assert!(
        double.reserved.lock().unwrap().is_empty(),
        "nothing held: nothing to reserve for"
    );
    // auto_reserve: a free path written by a worker holding one task is reserved for it
    let (st, _) = read(
        http.post(format!("{base}/tasks"))
            .json(&json!({"id": "t", "title": "t"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 201);
    let (st, _) = read(
        http.post(format!("{base}/tasks/claim-next"))
            .header("X-Baton-Worker", "agent-2")
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        send("agent-2", pre("Edit", "src/lib.rs")).await.1,
        json!({})
    );
    assert_eq!(
        *double.reserved.lock().unwrap(),
        [(
            "src/lib.rs".to_owned(),
            "agent-2".to_owned(),
            "t".to_owned()
        )]
    );
    handle.stop(true).await;
    runtime.shutdown().await.expect("shutdown");
}

/// A PreToolUse `Edit`/`Write` body of `file` from a session in `cwd`.
fn pre_write(tool: &str, cwd: &str, file: &str) -> Value {
    let mut b = recorded_tool("PreToolUse", tool);
    b["cwd"] = json!(cwd);
    b["tool_input"]["file_path"] = json!(file);
    b
}

/// The live reservations of `worker` (REST).
async fn reservations_of(s: &TestServer, worker: &str) -> Vec<Value> {
    let (st, v) = s.get(&format!("/reservations?worker={worker}")).await;
    assert_eq!(st, 200, "{v}");
    v["reservations"].as_array().cloned().unwrap_or_default()
}

fn deny_reason(v: &Value) -> Option<&str> {
    let out = &v["hookSpecificOutput"];
    (out["permissionDecision"] == "deny")
        .then(|| out["permissionDecisionReason"].as_str())
        .flatten()
}

#[actix_rt::test]
async fn a_write_to_a_file_another_worker_holds_is_denied_naming_it_and_a_free_file_is_reserved_for_the_writers_lease(
) {
    // the board's own reservations (no double), auto_reserve on by default
    let s = TestServer::start(|_| {}).await;
    // the agents' repository; their sessions run in its src/ directory
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).expect("mkdir .git");
    std::fs::create_dir_all(repo.join("src/api")).expect("mkdir src/api");
    let root = repo.to_str().expect("utf-8 path").to_owned();
    let cwd = format!("{root}/src");
    add(&s, "api").await;
    add(&s, "docs").await;
    let (st, a) = post_as(&s, "/tasks/api/claim", Some("alice"), None, &json!({})).await;
    assert_eq!(st, 200, "{a}");
    let (st, b) = post_as(&s, "/tasks/docs/claim", Some("bob"), None, &json!({})).await;
    assert_eq!(st, 200, "{b}");
    let alice_lease = a["lease"]["lease_id"].as_u64().expect("lease id");
    let bob_lease = b["lease"]["lease_id"].as_u64().expect("lease id");

    // alice edits a file nobody holds: allowed, and reserved for her task's
    // lease under its repository-relative path
    let mine = format!("{root}/src/api/mod.rs");
    let v = hook(&s, Some("alice"), &pre_write("Edit", &cwd, &mine)).await;
    assert_eq!(v, json!({}));
    let held = reservations_of(&s, "alice").await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["patterns"], json!(["src/api/mod.rs"]));
    assert_eq!(held[0]["task_id"], "api");
    assert_eq!(held[0]["lease_id"], alice_lease);
    assert_eq!(held[0]["mode"], "exclusive");
    // her next write of it is hers: allowed, no second reservation
    let v = hook(&s, Some("alice"), &pre_write("Write", &cwd, &mine)).await;
    assert_eq!(v, json!({}));
    assert_eq!(reservations_of(&s, "alice").await.len(), 1);

    // bob's Edit and Write of it — absolute, or relative to his cwd — are
    // denied, the reason naming the file, alice and her task
    for (tool, file) in [
        ("Edit", mine.as_str()),
        ("Write", "api/mod.rs"),
        ("Edit", "./api/../api/mod.rs"),
    ] {
        let v = hook(&s, Some("bob"), &pre_write(tool, &cwd, file)).await;
        let reason = deny_reason(&v).unwrap_or_else(|| panic!("{tool} {file} not denied: {v}"));
        assert!(
            reason.contains("src/api/mod.rs")
                && reason.contains("`alice`")
                && reason.contains("`api`"),
            "{reason}"
        );
    }
    // a path reserved over REST (a TTL glob) is held too
    let (st, v) = post_as(
        &s,
        "/reservations",
        Some("carol"),
        None,
        &json!({"patterns": ["docs/**"], "ttl_secs": 300}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let v = hook(
        &s,
        Some("bob"),
        &pre_write("Write", &cwd, &format!("{root}/docs/guide.md")),
    )
    .await;
    let reason = deny_reason(&v).unwrap_or_else(|| panic!("not denied: {v}"));
    assert!(
        reason.contains("docs/guide.md") && reason.contains("`carol`"),
        "{reason}"
    );

    // bob's write of a free file is reserved for his own lease; a file
    // outside the repository is neither checked nor reserved (fail-open)
    let v = hook(&s, Some("bob"), &pre_write("Write", &cwd, "README.md")).await;
    assert_eq!(v, json!({}));
    let outside = dir.path().join("elsewhere.txt");
    let v = hook(
        &s,
        Some("bob"),
        &pre_write("Write", &cwd, outside.to_str().unwrap()),
    )
    .await;
    assert_eq!(v, json!({}));
    let held = reservations_of(&s, "bob").await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["patterns"], json!(["src/README.md"]));
    assert_eq!(held[0]["lease_id"], bob_lease);

    // alice completes: her reservation ends with her lease, and bob's
    // write of the file is allowed and reserved for him
    let (st, v) = post_as(
        &s,
        "/tasks/api/complete",
        Some("alice"),
        None,
        &json!({"lease_id": alice_lease}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert!(reservations_of(&s, "alice").await.is_empty());
    let v = hook(&s, Some("bob"), &pre_write("Edit", &cwd, &mine)).await;
    assert_eq!(v, json!({}));
    let patterns: Vec<Value> = reservations_of(&s, "bob")
        .await
        .iter()
        .map(|r| r["patterns"][0].clone())
        .collect();
    assert!(patterns.contains(&json!("src/api/mod.rs")), "{patterns:?}");
}

#[actix_rt::test]
async fn without_auto_reserve_a_free_file_is_written_unreserved_and_a_held_one_still_denied() {
    let s = TestServer::start(|st| st.hooks.auto_reserve = false).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join(".git")).expect("mkdir .git");
    let root = dir.path().to_str().expect("utf-8 path").to_owned();
    add(&s, "api").await;
    let (st, a) = post_as(&s, "/tasks/api/claim", Some("alice"), None, &json!({})).await;
    assert_eq!(st, 200, "{a}");
    let v = hook(&s, Some("alice"), &pre_write("Edit", &root, "src/a.rs")).await;
    assert_eq!(v, json!({}));
    assert!(reservations_of(&s, "alice").await.is_empty());
    let (st, v) = post_as(
        &s,
        "/reservations",
        Some("alice"),
        None,
        &json!({"patterns": ["src/a.rs"], "lease_id": a["lease"]["lease_id"]}),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let v = hook(
        &s,
        Some("bob"),
        &pre_write("Edit", &root, &format!("{root}/src/a.rs")),
    )
    .await;
    assert!(
        deny_reason(&v).is_some_and(|r| r.contains("`alice`")),
        "{v}"
    );
}

#[actix_rt::test]
async fn a_hook_body_over_the_limit_is_refused_and_claude_code_goes_on() {
    let s = TestServer::start(|st| st.hooks.max_body_bytes = 65_536).await;
    let mut big = recorded_tool("PostToolUse", "Write");
    big["tool_response"]["content"] = json!("x".repeat(100_000));
    let (st, v) = post_as(&s, HOOKS, Some("w"), None, &big).await;
    // not 2xx: a non-blocking hook error for Claude Code (fail-open)
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (413, Some("body_too_large")),
        "{v}"
    );
    let (st, _) = post_as(
        &s,
        HOOKS,
        Some("w"),
        None,
        &recorded_tool("PostToolUse", "Bash"),
    )
    .await;
    assert_eq!(st, 200);
    s.stop().await;
}

#[actix_rt::test]
async fn a_hook_with_another_agents_token_cannot_renew_block_or_release_its_lease() {
    let clock = Clock::manual(T0);
    let s = TestServer::start_clocked(clock.clone(), |st| {
        st.auth.required = true;
        st.leases.ttl_secs = 10;
        st.hooks.progress_interval_ms = 1;
    })
    .await;
    let tokens = s.runtime.auth().tokens();
    let alice = tokens
        .create("alice", Role::Agent, None)
        .await
        .unwrap()
        .secret;
    let bob = tokens
        .create("bob", Role::Agent, None)
        .await
        .unwrap()
        .secret;
    let (st, _) = post_as(
        &s,
        "/tasks",
        None,
        Some(&alice),
        &json!({"id": "a", "title": "a"}),
    )
    .await;
    assert_eq!(st, 201);
    let (st, _) = post_as(
        &s,
        "/tasks/claim-next",
        Some("w1"),
        Some(&alice),
        &json!({}),
    )
    .await;
    assert_eq!(st, 200);
    let get = |token: String| {
        let (http, url) = (s.http.clone(), format!("{}/tasks/a", s.base));
        async move {
            read(http.get(url).bearer_auth(token).send().await.unwrap())
                .await
                .1
        }
    };
    let first = expiry(&get(alice.clone()).await);
    clock.advance(6_000);
    // bob, claiming to be w1: no renewal, no progress line, no block, no release
    let (st, v) = post_as(
        &s,
        HOOKS,
        Some("w1"),
        Some(&bob),
        &recorded_tool("PostToolUse", "Bash"),
    )
    .await;
    assert_eq!((st, v), (200, json!({})));
    let (_, v) = post_as(&s, HOOKS, Some("w1"), Some(&bob), &recorded("Stop")).await;
    assert_eq!(v, json!({}), "bob is not stopped for alice's lease");
    let (_, v) = post_as(&s, HOOKS, Some("w1"), Some(&bob), &recorded("SessionEnd")).await;
    assert_eq!(v, json!({}));
    let t = get(alice.clone()).await;
    assert_eq!(
        (t["status"].as_str(), expiry(&t)),
        (Some("running"), first.clone()),
        "{t}"
    );
    let (st, _) = read(
        s.http
            .get(format!("{}/tasks/a/context/progress", s.base))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 404, "no progress line by bob");
    // a hook without a token: 401, which Claude Code treats as a non-blocking error
    let (st, _) = post_as(&s, HOOKS, Some("w1"), None, &recorded("SessionEnd")).await;
    assert_eq!(st, 401);
    // alice's own hooks: renewed, then released
    let (_, v) = post_as(
        &s,
        HOOKS,
        Some("w1"),
        Some(&alice),
        &recorded_tool("PostToolUse", "Bash"),
    )
    .await;
    assert_eq!(v, json!({}));
    assert_ne!(expiry(&get(alice.clone()).await), first);
    post_as(&s, HOOKS, Some("w1"), Some(&alice), &recorded("SessionEnd")).await;
    assert_eq!(get(alice).await["status"], "ready");
    s.stop().await;
}

/// POST raw `body` bytes to the hooks endpoint as `worker`.
async fn hook_raw(s: &TestServer, worker: Option<&[u8]>, body: Vec<u8>) -> (u16, Value) {
    let mut req = s
        .http
        .post(format!("{}{HOOKS}", s.base))
        .header("content-type", "application/json")
        .body(body);
    if let Some(w) = worker {
        let value = reqwest::header::HeaderValue::from_bytes(w).expect("a header value");
        req = req.header("X-Baton-Worker", value);
    }
    read(req.send().await.expect("request")).await
}

#[actix_rt::test]
async fn bad_hook_bodies_and_worker_names_get_a_4xx_json_error_never_a_500() {
    let s = TestServer::start(|_| {}).await;
    add(&s, "a").await;
    post_as(&s, "/tasks/claim-next", Some("w"), None, &json!({})).await;
    let before = expiry(&task(&s, "a").await);

    let deep = format!(
        r#"{{"hook_event_name":"PostToolUse","tool_response":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let bodies: Vec<(&str, Vec<u8>, u16)> =
        vec![
        ("empty", b"".to_vec(), 400),
        ("not JSON", b"PostToolUse".to_vec(), 400),
        ("truncated", br#"{"hook_event_name": "Stop""#.to_vec(), 400),
        ("not UTF-8", b"{\"hook_event_name\": \"\xff\xfe\"}".to_vec(), 400),
        ("nested past the recursion limit", deep.into_bytes(), 400),
        ("an array", b"[]".to_vec(), 422),
        ("a number", b"42".to_vec(), 422),
        ("null", b"null".to_vec(), 422),
        ("event name a number", br#"{"hook_event_name": 5}"#.to_vec(), 422),
        (
            "tool_input a string",
            br#"{"hook_event_name":"PreToolUse","tool_name":"Write","tool_input":"x"}"#.to_vec(),
            422,
        ),
        (
            "file_path a number",
            br#"{"hook_event_name":"PreToolUse","tool_name":"Write","tool_input":{"file_path":3}}"#
                .to_vec(),
            422,
        ),
        (
            "stop_hook_active a string",
            br#"{"hook_event_name":"Stop","stop_hook_active":"yes"}"#.to_vec(),
            422,
        ),
        (
            "a repeated key",
            br#"{"hook_event_name":"Stop","hook_event_name":"SessionEnd"}"#.to_vec(),
            422,
        ),
    ];
    for (what, body, want) in bodies {
        let (st, v) = hook_raw(&s, Some(b"w"), body).await;
        assert_eq!(st, want, "{what}: {v}");
        assert!(
            v["error"]["code"].as_str().is_some_and(|c| !c.is_empty())
                && v["error"]["message"].is_string(),
            "{what}: not a JSON error: {v}"
        );
    }

    // a worker name the resolver refuses, on a well-formed event
    let end = recorded("SessionEnd");
    let long = "w".repeat(1000);
    for bad in [long.as_bytes(), b"tab\tname", b"\xff\xfe"] {
        let (st, v) = hook_raw(&s, Some(bad), serde_json::to_vec(&end).expect("JSON")).await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (422, Some("invalid_field")),
            "worker {bad:?}: {v}"
        );
    }
    // an empty one (an unset $BATON_WORKER, expanded by Claude Code) names nobody: nothing done
    let (st, v) = hook_raw(&s, Some(b""), serde_json::to_vec(&end).expect("JSON")).await;
    assert_eq!((st, v), (200, json!({})));
    // the wrong method is a JSON 405
    let res = s
        .http
        .get(format!("{}{HOOKS}", s.base))
        .send()
        .await
        .expect("request");
    let (st, v) = read(res).await;
    assert_eq!((st, v["error"]["code"].is_string()), (405, true), "{v}");

    // none of it acted: the lease is as claimed and still held (no SessionEnd got through),
    // and the endpoint still answers a good event
    let t = task(&s, "a").await;
    assert_eq!(
        (t["status"].as_str(), expiry(&t)),
        (Some("running"), before)
    );
    let v = hook(&s, Some("w"), &end).await;
    assert_eq!(v, json!({}));
    assert_eq!(
        task(&s, "a").await["status"],
        "ready",
        "SessionEnd released it"
    );
    s.stop().await;
}

/// `baton hooks ARGS` (the real binary); panics with its output when it fails.
fn baton_hooks(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("hooks")
        .args(args)
        .env_remove("BATON_URL")
        .output()
        .expect("run baton");
    assert!(
        out.status.success(),
        "baton hooks {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json_file(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("JSON")
}

#[test]
fn hooks_install_twice_merges_once_beside_the_users_own_and_uninstall_restores_each_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path();
    let settings_path = project.join(".claude/settings.json");
    let mcp_path = project.join(".mcp.json");
    std::fs::create_dir(project.join(".claude")).expect("mkdir");
    let mine = json!({"type": "command", "command": "./lint.sh"});
    let settings = json!({
        "model": "opus",
        "permissions": {"allow": ["Bash"]},
        "hooks": {
            "PostToolUse": [{"matcher": "Edit", "hooks": [mine]}],
            "Notification": [{"hooks": [{"type": "command", "command": "notify-send hi"}]}]
        },
        "enabledMcpjsonServers": ["other"]
    });
    let mcp = json!({"mcpServers": {"other": {"type": "http", "url": "http://example.test/mcp"}}});
    std::fs::write(&settings_path, settings.to_string()).expect("write");
    std::fs::write(&mcp_path, mcp.to_string()).expect("write");
    let dir_arg = project.to_str().expect("utf-8");
    let url = "http://127.0.0.1:9999";

    baton_hooks(&["install", "--dir", dir_arg, "--url", url]);
    let once = (json_file(&settings_path), json_file(&mcp_path));
    baton_hooks(&["install", "--dir", dir_arg, "--url", url]);
    let twice = (json_file(&settings_path), json_file(&mcp_path));
    assert_eq!(once, twice, "a second install changes nothing");

    let (s, m) = twice;
    // the user's own hooks and keys are intact, baton's added beside them, once
    assert_eq!(s["model"], "opus");
    assert_eq!(s["permissions"], json!({"allow": ["Bash"]}));
    assert_eq!(
        s["hooks"]["Notification"],
        settings["hooks"]["Notification"]
    );
    let post = s["hooks"]["PostToolUse"].as_array().expect("a list");
    assert_eq!(post.len(), 2, "{post:?}");
    assert_eq!(post[0], json!({"matcher": "Edit", "hooks": [mine]}));
    assert_eq!(
        post[1]["hooks"][0]["url"],
        format!("{url}/api/v1/hooks/claude-code")
    );
    for event in [
        "SessionStart",
        "PreToolUse",
        "PostToolUseFailure",
        "UserPromptSubmit",
        "Stop",
        "SessionEnd",
    ] {
        assert_eq!(
            s["hooks"][event].as_array().map(Vec::len),
            Some(1),
            "{event}"
        );
    }
    assert_eq!(s["enabledMcpjsonServers"], json!(["other", "baton"]));
    assert_eq!(m["mcpServers"]["other"], mcp["mcpServers"]["other"]);
    assert_eq!(m["mcpServers"]["baton"]["url"], format!("{url}/mcp"));

    baton_hooks(&["uninstall", "--dir", dir_arg]);
    assert_eq!(json_file(&settings_path), settings);
    assert_eq!(json_file(&mcp_path), mcp);
    assert!(
        !project.join(".claude/baton-hooks.json").exists(),
        "the record is gone"
    );

    // on an empty project: uninstall removes what install created
    let empty = tempfile::tempdir().expect("tempdir");
    let empty_arg = empty.path().to_str().expect("utf-8");
    baton_hooks(&["install", "--dir", empty_arg, "--url", url]);
    assert!(empty.path().join(".claude/settings.json").exists());
    baton_hooks(&["uninstall", "--dir", empty_arg]);
    let left: Vec<_> = std::fs::read_dir(empty.path())
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Issue 30 through the hooks: a message to a worker reaches its model in
/// the `additionalContext` of a `PostToolUse` (between tool calls, at most
/// once per `[messages] hook_every_secs`) or of its next prompt (always,
/// after the task briefing), once: it is marked read, so it is not repeated;
/// another worker's hooks never carry it.
#[actix_rt::test]
async fn unread_messages_reach_the_model_through_its_hooks_once() {
    let s = TestServer::start(|_| {}).await;
    let send = |subject: &str, body: &str| json!({"to": {"worker": "bob"}, "subject": subject, "body": body, "worker": "alice"});
    let text = |v: &Value| context_of(v).as_str().unwrap_or_default().to_owned();
    let (st, v) = s
        .post("/messages", send("schema", "the users table moved to v2"))
        .await;
    assert_eq!(st, 201, "{v}");
    // between tool calls: the first PostToolUse brings it, with its sender
    let tool = recorded_tool("PostToolUse", "Edit");
    let after = hook(&s, Some("bob"), &tool).await;
    assert!(
        text(&after).contains("the users table moved to v2") && text(&after).contains("alice"),
        "{after}"
    );
    // a second one within the interval stays quiet, though a new message waits
    let (st, _) = s
        .post("/messages", send("later", "ping after the edit"))
        .await;
    assert_eq!(st, 201);
    let quiet = hook(&s, Some("bob"), &tool).await;
    assert_eq!(quiet, json!({}), "rate limited within hook_every_secs");
    // another worker's prompt never carries bob's message
    let prompt = recorded("UserPromptSubmit");
    let carol = hook(&s, Some("carol"), &prompt).await;
    assert!(!text(&carol).contains("ping after the edit"), "{carol}");
    // the next prompt is always answered: the new message, not the one already read
    let next = hook(&s, Some("bob"), &prompt).await;
    assert!(
        text(&next).contains("ping after the edit") && !text(&next).contains("moved to v2"),
        "{next}"
    );
    // read: the prompt after that has the briefing only
    let again = hook(&s, Some("bob"), &prompt).await;
    assert!(!text(&again).contains("ping after the edit"), "{again}");
    assert!(
        !text(&again).is_empty(),
        "the briefing is still there: {again}"
    );
}
