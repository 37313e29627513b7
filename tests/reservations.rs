//! Issue 25 over real servers: reservations over REST and MCP (conflicts
//! naming the holder, bad input naming the field, the worker header), a
//! claim that reserves its task's paths, gateway fencing seen from the
//! downstream server's own call log (must-show 3), and the git guard in a
//! real temporary git repository (must-show 4).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use baton::config::ServerOverrides;
use baton::Clock;
use common::{fault_server, TestServer};
use rmcp::model::CallToolRequestParams;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::ServiceExt;
use serde_json::{json, Value};

async fn post_as(s: &TestServer, worker: Option<&str>, path: &str, body: Value) -> (u16, Value) {
    let mut req = s.http.post(format!("{}{path}", s.base)).json(&body);
    if let Some(w) = worker {
        req = req.header("X-Baton-Worker", w);
    }
    common::read(req.send().await.expect("request")).await
}

#[actix_web::test]
async fn reservations_conflict_by_the_rule_and_name_the_holder() {
    let s = TestServer::start(|_| {}).await;
    // exclusive by alice
    let (code, a) = post_as(
        &s,
        Some("alice"),
        "/reservations",
        json!({"patterns": ["./src/api/"], "ttl_secs": 60}),
    )
    .await;
    assert_eq!(code, 201, "{a}");
    assert_eq!(a["patterns"], json!(["src/api/**"]), "normalized");
    // bob overlaps: 409 naming alice
    let (code, e) = post_as(
        &s,
        Some("bob"),
        "/reservations",
        json!({"patterns": ["src/**/*.rs"], "mode": "shared", "ttl_secs": 60}),
    )
    .await;
    assert_eq!(code, 409, "{e}");
    assert_eq!(e["error"]["code"], "reservation_conflict");
    assert_eq!(e["error"]["holder"]["worker"], "alice", "{e}");
    assert_eq!(e["error"]["holder"]["reservation"], a["id"]);
    assert!(e["error"]["holder"]["expires_at"].is_string(), "{e}");
    // a holder never conflicts with itself; shared + shared is fine
    let (code, _) = post_as(
        &s,
        Some("alice"),
        "/reservations",
        json!({"patterns": ["src/api/mod.rs"], "ttl_secs": 60}),
    )
    .await;
    assert_eq!(code, 201);
    for w in ["bob", "carol"] {
        let (code, v) = post_as(
            &s,
            Some(w),
            "/reservations",
            json!({"patterns": ["docs/**"], "mode": "shared", "ttl_secs": 60}),
        )
        .await;
        assert_eq!(code, 201, "{v}");
    }
    // header and argument disagree
    let (code, e) = post_as(
        &s,
        Some("alice"),
        "/reservations",
        json!({"worker": "bob", "patterns": ["x"], "ttl_secs": 1}),
    )
    .await;
    assert_eq!(
        (code, e["error"]["code"].as_str()),
        (400, Some("worker_mismatch")),
        "{e}"
    );
    // no worker at all: says how to name one
    let (code, e) = post_as(
        &s,
        None,
        "/reservations",
        json!({"patterns": ["x"], "ttl_secs": 1}),
    )
    .await;
    assert_eq!(code, 422, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("BATON_WORKER"),
        "{e}"
    );
    // who holds what
    let (code, v) = post_as(
        &s,
        None,
        "/reservations/check",
        json!({"paths": ["src/api/a.rs", "README.md", "docs/x"]}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["paths"][0]["holders"][0]["worker"], "alice");
    assert_eq!(v["paths"][1]["holders"], json!([]));
    assert_eq!(v["paths"][2]["holders"].as_array().map(Vec::len), Some(2));
    // release, and bob may have it
    let id = a["id"].as_str().expect("id");
    let r = s
        .http
        .delete(format!("{}/reservations/{id}", s.base))
        .header("X-Baton-Worker", "bob")
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 409, "only the holder releases");
    let r = s
        .http
        .delete(format!("{}/reservations/{id}?worker=alice", s.base))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 200);
    let (code, _) = s.get("/reservations?worker=alice").await;
    assert_eq!(code, 200);
    s.stop().await;
}

#[actix_web::test]
async fn bad_patterns_are_refused_naming_the_field_never_a_500() {
    let s = TestServer::start(|_| {}).await;
    let many: Vec<String> = (0..10_000).map(|i| format!("f{i}")).collect();
    for (body, field) in [
        (json!({"patterns": [""], "ttl_secs": 5}), "patterns[0]"),
        (
            json!({"patterns": ["ok", "/etc/passwd"], "ttl_secs": 5}),
            "patterns[1]",
        ),
        (
            json!({"patterns": ["a/../../b"], "ttl_secs": 5}),
            "patterns[0]",
        ),
        (
            json!({"patterns": ["src/[a"], "ttl_secs": 5}),
            "patterns[0]",
        ),
        (json!({"patterns": many, "ttl_secs": 5}), "patterns"),
        (json!({"patterns": [], "ttl_secs": 5}), "patterns"),
        (json!({"patterns": ["a"]}), "ttl_secs"),
        (json!({"patterns": ["a"], "ttl_secs": 0}), "ttl_secs"),
        (
            json!({"patterns": ["a"], "lease_id": 5, "ttl_secs": 5}),
            "ttl_secs",
        ),
    ] {
        let (code, e) = post_as(&s, Some("w"), "/reservations", body.clone()).await;
        assert_eq!(code, 422, "{body}: {e}");
        assert_eq!(e["error"]["field"], field, "{body}: {e}");
    }
    let (code, e) = post_as(
        &s,
        Some("w"),
        "/reservations",
        json!({"patterns": ["a"], "lease_id": 5}),
    )
    .await;
    assert_eq!(
        (code, e["error"]["code"].as_str()),
        (409, Some("stale_lease")),
        "{e}"
    );
    // a task's paths are checked when it is added
    let (code, e) = s
        .post("/tasks", json!({"title": "t", "paths": ["ok", "../up"]}))
        .await;
    assert_eq!(
        (code, e["error"]["field"].as_str()),
        (422, Some("paths[1]")),
        "{e}"
    );
    let (code, e) = post_as(&s, None, "/reservations/check", json!({"paths": ["/abs"]})).await;
    assert_eq!(
        (code, e["error"]["field"].as_str()),
        (422, Some("paths[0]")),
        "{e}"
    );
    s.stop().await;
}

#[actix_web::test]
async fn a_claim_reserves_its_tasks_paths_until_its_lease_ends_and_get_task_says_why_one_waits() {
    let s = TestServer::start(|st| {
        st.concurrency.limits.insert("db".into(), 1);
    })
    .await;
    for (id, paths, key) in [
        ("api", json!(["src/api/**"]), Value::Null),
        ("api-2", json!(["src/api/routes.rs"]), Value::Null),
        ("mig-1", json!([]), json!("db")),
        ("mig-2", json!([]), json!("db")),
    ] {
        let (code, v) = s
            .post(
                "/tasks",
                json!({"id": id, "title": id, "paths": paths, "concurrency_key": key}),
            )
            .await;
        assert_eq!(code, 201, "{v}");
    }
    let (code, c) = s.post("/tasks/api/claim", json!({"worker": "alice"})).await;
    assert_eq!(code, 200, "{c}");
    let (_, mine) = s.get("/reservations?task=api").await;
    assert_eq!(
        mine["reservations"][0]["lease_id"], c["lease"]["lease_id"],
        "{mine}"
    );
    assert_eq!(mine["reservations"][0]["worker"], "alice");
    // bob cannot claim api-2 by id, and claim-next passes over it
    let (code, e) = s.post("/tasks/api-2/claim", json!({"worker": "bob"})).await;
    assert_eq!(
        (code, e["error"]["code"].as_str()),
        (409, Some("paths_reserved")),
        "{e}"
    );
    assert_eq!(e["error"]["holder"]["task"], "api", "{e}");
    let (_, t) = s.get("/tasks/api-2").await;
    let why = t["waits"].as_str().unwrap_or_default();
    assert!(
        why.contains("src/api/**") && why.contains("`api`") && why.contains("alice"),
        "{t}"
    );
    let (code, n) = s.post("/tasks/claim-next", json!({"worker": "bob"})).await;
    assert_eq!(code, 200, "{n}");
    assert_eq!(n["task"]["id"], "mig-1");
    // mig-2 waits for the key
    let (code, _) = s.post("/tasks/claim-next", json!({"worker": "bob"})).await;
    assert_eq!(code, 204);
    let (_, t) = s.get("/tasks/mig-2").await;
    assert!(
        t["waits"].as_str().unwrap_or_default().contains("`db`"),
        "{t}"
    );
    let (code, e) = s
        .post("/tasks/mig-2/claim", json!({"worker": "carol"}))
        .await;
    assert_eq!(
        (code, e["error"]["code"].as_str()),
        (409, Some("concurrency_limit")),
        "{e}"
    );
    // the lease ends: its reservation goes with it, api-2 is claimable
    let (code, _) = s
        .post(
            "/tasks/api/complete",
            json!({"lease_id": c["lease"]["lease_id"]}),
        )
        .await;
    assert_eq!(code, 200);
    let (_, left) = s.get("/reservations?task=api").await;
    assert_eq!(left["reservations"], json!([]));
    let (code, n) = s.post("/tasks/claim-next", json!({"worker": "bob"})).await;
    assert_eq!(
        (code, n["task"]["id"].as_str()),
        (200, Some("api-2")),
        "{n}"
    );
    // a running task's own reservation is not released by hand
    let (_, r) = s.get("/reservations?task=api-2").await;
    let id = r["reservations"][0]["id"].as_str().expect("id").to_owned();
    let res = s
        .http
        .delete(format!("{}/reservations/{id}?worker=bob", s.base))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 409);
    s.stop().await;
}

// ---- gateway fencing (must-show 3) ---------------------------------------------

async fn mcp_as(
    s: &TestServer,
    worker: &str,
) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    let mut config =
        StreamableHttpClientTransportConfig::with_uri(format!("http://{}/mcp", s.addr));
    config.custom_headers.insert(
        http::HeaderName::from_static("x-baton-worker"),
        http::HeaderValue::from_str(worker).expect("header"),
    );
    ().serve(rmcp::transport::StreamableHttpClientTransport::from_config(
        config,
    ))
    .await
    .expect("initialize")
}

async fn echo(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    text: &str,
) -> rmcp::model::CallToolResult {
    client
        .call_tool(
            CallToolRequestParams::new("fault__echo").with_arguments(
                json!({"text": text})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await
        .expect("the call reaches baton")
}

fn calls(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[actix_web::test]
async fn a_lease_required_tool_is_refused_without_a_live_lease_before_the_downstream_sees_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("calls.log");
    let file = dir.path().join("mcp.json");
    std::fs::write(
        &file,
        json!({"mcpServers": {"fault": {"command": fault_server(), "env": {"FAULT_CALLS": log}}}})
            .to_string(),
    )
    .expect("write");
    let clock = Clock::manual(baton::model::now_ms());
    let s = TestServer::start_clocked(clock.clone(), |st| {
        st.pool.mcp_servers = file;
        st.leases.ttl_secs = 30;
        st.pool.servers.insert(
            "fault".into(),
            ServerOverrides {
                lease_required: Some(vec!["echo".into()]),
                path_arguments: Some(BTreeMap::from([("echo".into(), "text".into())])),
                ..ServerOverrides::default()
            },
        );
    })
    .await;
    assert!(
        common::eventually(Duration::from_secs(30), || async {
            s.get("/servers/fault").await.1["state"] == "ready"
        })
        .await,
        "the downstream server starts"
    );
    let client = mcp_as(&s, "w1").await;
    // 1. no lease
    let r = echo(&client, "src/a.rs").await;
    assert_eq!(
        common::tool_error(&r)["error"]["code"],
        "lease_required",
        "{r:?}"
    );
    // 2. a lease that lapsed
    let (code, _) = s
        .post(
            "/tasks",
            json!({"id": "t", "title": "t", "paths": ["src/**"]}),
        )
        .await;
    assert_eq!(code, 201);
    let (code, c) = s.post("/tasks/t/claim", json!({"worker": "w1"})).await;
    assert_eq!(code, 200, "{c}");
    clock.advance(31_000);
    let r = echo(&client, "src/a.rs").await;
    let err = common::tool_error(&r)["error"].clone();
    assert_eq!(err["code"], "stale_lease", "{err}");
    // 3. a live lease, and the path reserved: executed
    s.runtime.board().sweep_expired().await.expect("sweep");
    let (code, c) = s.post("/tasks/claim-next", json!({"worker": "w1"})).await;
    assert_eq!((code, c["task"]["id"].as_str()), (200, Some("t")), "{c}");
    let r = echo(&client, "docs/x.md").await;
    assert_eq!(
        common::tool_error(&r)["error"]["code"],
        "paths_not_reserved",
        "{r:?}"
    );
    let r = echo(&client, "src/a.rs").await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    // the downstream server saw only the last call
    assert!(
        common::eventually(Duration::from_secs(5), || async { !calls(&log).is_empty() }).await,
        "the call was logged"
    );
    assert_eq!(calls(&log), vec![r#"echo {"text":"src/a.rs"}"#.to_owned()]);
    client.cancel().await.ok();
    s.stop().await;
}

// ---- the git guard (must-show 4) --------------------------------------------------

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("BATON_BIN", env!("CARGO_BIN_EXE_baton"))
        .output()
        .expect("git runs")
}

/// `git commit` of `file` by `worker`, off the test's thread (the server
/// under test runs on it and must answer the hook meanwhile).
async fn commit(dir: &Path, worker: &str, url: &str, file: &str) -> std::process::Output {
    let (dir, worker, url, file) = (
        dir.to_owned(),
        worker.to_owned(),
        url.to_owned(),
        file.to_owned(),
    );
    tokio::task::spawn_blocking(move || commit_now(&dir, &worker, &url, &file))
        .await
        .expect("commit thread")
}

fn commit_now(dir: &Path, worker: &str, url: &str, file: &str) -> std::process::Output {
    std::fs::write(dir.join(file), format!("{worker} was here\n")).expect("write");
    assert!(git(dir, &["add", file]).status.success());
    Command::new("git")
        .args(["commit", "-q", "-m", file])
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("BATON_BIN", env!("CARGO_BIN_EXE_baton"))
        .env("BATON_WORKER", worker)
        .env("BATON_URL", url)
        .env_remove("BATON_TOKEN")
        .output()
        .expect("git commit runs")
}

#[actix_web::test]
async fn the_git_guard_refuses_a_commit_of_another_workers_reserved_file() {
    let s = TestServer::start(|_| {}).await;
    let url = format!("http://{}", s.addr);
    let repo = tempfile::tempdir().expect("tempdir");
    let dir = repo.path();
    assert!(git(dir, &["init", "-q"]).status.success());
    std::fs::create_dir_all(dir.join("src")).expect("mkdir");
    // an existing hook is kept and chained
    let hooks = dir.join(".git/hooks");
    std::fs::create_dir_all(&hooks).expect("hooks");
    let marker = dir.join("chained-ran");
    std::fs::write(
        hooks.join("pre-commit"),
        format!("#!/bin/sh\ntouch '{}'\n", marker.display()),
    )
    .expect("hook");
    set_exec(&hooks.join("pre-commit"));
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["guard", "install"])
        .current_dir(dir)
        .output()
        .expect("install");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(hooks.join("pre-commit.baton-chained").exists());

    let (code, v) = post_as(
        &s,
        Some("alice"),
        "/reservations",
        json!({"patterns": ["src/api.rs"], "ttl_secs": 600}),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    // bob touches alice's file: refused, naming alice
    let out = commit(dir, "bob", &url, "src/api.rs").await;
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("src/api.rs") && said.contains("alice"),
        "{said}"
    );
    assert!(marker.exists(), "the chained hook ran first");
    assert!(git(dir, &["reset", "-q"]).status.success());
    // bob touches a free file: it passes
    let out = commit(dir, "bob", &url, "src/free.rs").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // alice may commit her own file
    let out = commit(dir, "alice", &url, "src/api.rs").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // baton unreachable: fails open with a warning (fails closed when asked)
    s.stop().await;
    let out = commit(dir, "bob", &url, "src/api.rs").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning"));
    std::fs::write(dir.join("src/api.rs"), "again\n").expect("write");
    assert!(git(dir, &["add", "src/api.rs"]).status.success());
    let out = Command::new("git")
        .args(["commit", "-q", "-m", "closed"])
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("BATON_BIN", env!("CARGO_BIN_EXE_baton"))
        .env("BATON_WORKER", "bob")
        .env("BATON_URL", &url)
        .env("BATON_GUARD_FAIL_CLOSED", "1")
        .output()
        .expect("commit");
    assert!(!out.status.success(), "fail closed");
}

/// `baton guard install` writes where git looks: `core.hooksPath` when set,
/// and the shared hooks of a linked worktree.
#[test]
fn the_guard_installs_where_git_looks_for_hooks() {
    let repo = tempfile::tempdir().expect("tempdir");
    let dir = repo.path();
    assert!(git(dir, &["init", "-q"]).status.success());
    std::fs::write(dir.join("a"), "a").expect("write");
    assert!(git(dir, &["add", "a"]).status.success());
    assert!(git(dir, &["commit", "-q", "--no-verify", "-m", "a"])
        .status
        .success());
    let wt = dir.join("wt");
    assert!(git(
        dir,
        &[
            "worktree",
            "add",
            "-q",
            wt.to_str().expect("utf-8"),
            "-b",
            "other"
        ]
    )
    .status
    .success());
    let install = |cwd: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["guard", "install"])
            .current_dir(cwd)
            .output()
            .expect("install");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    install(&wt);
    assert!(
        dir.join(".git/hooks/pre-commit").exists(),
        "a worktree shares the repository's hooks"
    );
    assert!(git(dir, &["config", "core.hooksPath", "my-hooks"])
        .status
        .success());
    install(dir);
    let hook =
        std::fs::read_to_string(dir.join("my-hooks/pre-commit")).expect("hook in core.hooksPath");
    assert!(hook.contains("baton guard"));
    // installing again changes nothing and chains nothing
    install(dir);
    assert!(!dir.join("my-hooks/pre-commit.baton-chained").exists());
}

#[cfg(unix)]
fn set_exec(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

// ---- the MCP tools -------------------------------------------------------------------

async fn tool(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    name: &'static str,
    args: Value,
) -> rmcp::model::CallToolResult {
    client
        .call_tool(
            CallToolRequestParams::new(name)
                .with_arguments(args.as_object().cloned().unwrap_or_default()),
        )
        .await
        .expect("the call reaches baton")
}

#[actix_web::test]
async fn the_reservation_tools_over_mcp_take_the_worker_from_the_header() {
    let s = TestServer::start(|_| {}).await;
    let w1 = mcp_as(&s, "w1").await;
    let w2 = mcp_as(&s, "w2").await;
    let r = tool(
        &w1,
        "reserve_paths",
        json!({"patterns": ["a/**"], "ttl_secs": 60}),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    let held = r.structured_content.clone().expect("structured");
    assert_eq!(held["reservation"]["worker"], "w1");
    let r = tool(
        &w2,
        "reserve_paths",
        json!({"patterns": ["a/b.rs"], "ttl_secs": 60}),
    )
    .await;
    let err = common::tool_error(&r)["error"].clone();
    assert_eq!(err["code"], "reservation_conflict", "{err}");
    assert_eq!(err["holder"]["worker"], "w1", "{err}");
    let r = tool(
        &w1,
        "reserve_paths",
        json!({"patterns": ["b"], "ttl_secs": 60, "worker": "w2"}),
    )
    .await;
    assert_eq!(common::tool_error(&r)["error"]["code"], "worker_mismatch");
    let r = tool(&w2, "check_paths", json!({"paths": ["a/x", "c"]})).await;
    let v = r.structured_content.clone().expect("structured");
    assert_eq!(v["paths"][0]["holders"][0]["worker"], "w1", "{v}");
    assert_eq!(v["paths"][1]["holders"], json!([]));
    let r = tool(&w2, "list_reservations", json!({})).await;
    let v = r.structured_content.clone().expect("structured");
    assert_eq!(v["reservations"].as_array().map(Vec::len), Some(1), "{v}");
    // a task over the held paths waits, and get_task says why
    let (code, _) = s
        .post("/tasks", json!({"id": "t", "title": "t", "paths": ["a/c"]}))
        .await;
    assert_eq!(code, 201);
    let r = tool(&w2, "get_task", json!({"task_id": "t"})).await;
    let v = r.structured_content.clone().expect("structured");
    assert!(
        v["waits"].as_str().unwrap_or_default().contains("w1"),
        "{v}"
    );
    let id = held["reservation"]["id"].as_str().expect("id");
    let r = tool(&w2, "release_paths", json!({"id": id})).await;
    assert_eq!(
        common::tool_error(&r)["error"]["code"],
        "not_reservation_holder"
    );
    let r = tool(&w1, "renew_reservation", json!({"id": id})).await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    let r = tool(&w1, "release_paths", json!({"id": id})).await;
    assert_ne!(r.is_error, Some(true), "{r:?}");
    let r = tool(&w2, "claim_next_task", json!({"worker": "w2"})).await;
    let v = r.structured_content.clone().expect("structured");
    assert_eq!(v["claim"]["task"]["id"], "t", "{v}");
    w1.cancel().await.ok();
    w2.cancel().await.ok();
    s.stop().await;
}

// ---- the CLI ---------------------------------------------------------------------------

/// Run the real binary off the test's thread (the server runs on it).
async fn baton(args: &[&str], worker: &str) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let worker = worker.to_owned();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(&args)
            .env("BATON_WORKER", worker)
            .env_remove("BATON_TOKEN")
            .output()
            .expect("baton runs")
    })
    .await
    .expect("thread")
}

#[actix_web::test]
async fn baton_reservations_reserve_list_check_and_release() {
    let s = TestServer::start(|_| {}).await;
    let url = format!("http://{}", s.addr);
    let out = baton(
        &[
            "reservations",
            "--url",
            &url,
            "--json",
            "reserve",
            "src/api/**",
            "--ttl",
            "60",
        ],
        "alice",
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(r["worker"], "alice");
    let id = r["id"].as_str().expect("id").to_owned();
    let out = baton(
        &[
            "reservations",
            "--url",
            &url,
            "reserve",
            "src/**",
            "--ttl",
            "60",
        ],
        "bob",
    )
    .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reservation_conflict"));
    let out = baton(
        &[
            "reservations",
            "--url",
            &url,
            "check",
            "src/api/x.rs",
            "README.md",
        ],
        "bob",
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && text.contains("alice") && text.contains("free"),
        "{text}"
    );
    let out = baton(&["reservations", "--url", &url, "list"], "bob").await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("src/api/**"));
    let out = baton(&["reservations", "--url", &url, "release", &id], "alice").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, v) = s.get("/reservations").await;
    assert_eq!(v["reservations"], json!([]));
    s.stop().await;
}
