//! The guard in front of every route, over a real server: the route-by-role
//! matrix generated from the route table the guard itself uses (so a new
//! route cannot skip it), the edge checks on every route, lease ownership
//! between tokens, revocation, malformed credentials, executor safety, the
//! rate limit, stream tickets, and MCP with bearer tokens (rmcp's client).

mod common;

use std::time::Duration;

use baton::api::routes::{self, RouteSpec};
use baton::auth::Access;
use baton::model::Role;
use common::{fault_server, read, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

/// Bearer secrets of one token per role, plus a second agent.
struct Team {
    viewer: String,
    agent: String,
    agent2: String,
    admin: String,
}

impl Team {
    fn of(&self, role: Option<Role>) -> Option<&str> {
        match role {
            None => None,
            Some(Role::Viewer) => Some(&self.viewer),
            Some(Role::Agent) => Some(&self.agent),
            Some(Role::Admin) => Some(&self.admin),
        }
    }
}

fn servers_file(dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join("servers.json");
    std::fs::write(
        &file,
        json!({ "mcpServers": { "fault": { "command": fault_server() } } }).to_string(),
    )
    .expect("write servers file");
    file
}

/// A server with auth required, one downstream server (`fault`, whose `echo`
/// executor tasks may run) and a token per role.
async fn team_server(
    tweak: impl FnOnce(&mut baton::Settings),
) -> (TestServer, Team, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = servers_file(dir.path());
    let s = TestServer::start(|st| {
        st.auth.required = true;
        st.slots.count = 256;
        st.pool.mcp_servers = file;
        st.pool
            .servers
            .entry("fault".into())
            .or_default()
            .executable_tools = Some(vec!["echo".into()]);
        tweak(st);
    })
    .await;
    let tokens = s.runtime.auth().tokens();
    let secret = |name: &'static str, role| {
        let tokens = tokens.clone();
        async move {
            tokens
                .create(name, role, None)
                .await
                .expect("create token")
                .secret
        }
    };
    let team = Team {
        viewer: secret("vera", Role::Viewer).await,
        agent: secret("ada", Role::Agent).await,
        agent2: secret("bob", Role::Agent).await,
        admin: secret("root", Role::Admin).await,
    };
    (s, team, dir)
}

/// One request with an optional bearer token and JSON body.
async fn call(
    s: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let mut r = s
        .http
        .request(method, format!("http://{}{}", s.addr, path))
        .header("accept", "application/json, text/event-stream");
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let res = r.send().await.expect("request");
    if res
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
    {
        return (res.status().as_u16(), Value::Null); // a stream: the status is the answer
    }
    read(res).await
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Add a task (as admin) and return its id.
async fn add(s: &TestServer, team: &Team, extra: Value) -> String {
    let id = unique("t");
    let mut body = json!({ "id": id, "title": id });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (st, v) = call(s, "POST", "/api/v1/tasks", Some(&team.admin), Some(body)).await;
    assert_eq!(st, 201, "{v}");
    id
}

/// Add a task and claim it as `token`; returns (id, lease id).
async fn add_claimed(s: &TestServer, team: &Team, token: &str) -> (String, u64) {
    let id = add(s, team, json!({})).await;
    let (st, v) = call(
        s,
        "POST",
        &format!("/api/v1/tasks/{id}/claim"),
        Some(token),
        Some(json!({ "worker": "w" })),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    (id, v["lease"]["lease_id"].as_u64().expect("lease id"))
}

/// How to call a route with success expected: (path, body, expected status).
/// `token` is the caller (setup made on its behalf where ownership matters).
async fn prepare(
    s: &TestServer,
    team: &Team,
    prefix: &str,
    spec: &RouteSpec,
    token: &str,
) -> (String, Option<Value>, u16) {
    let p = |rest: String| format!("{prefix}{rest}");
    match (spec.method, spec.path) {
        ("POST", "/tasks") => (p("/tasks".into()), Some(json!({"title": unique("x")})), 201),
        ("GET", "/tasks") => (p("/tasks".into()), None, 200),
        ("POST", "/tasks/claim-next") => {
            let tag = unique("tag");
            add(s, team, json!({ "tags": [tag] })).await;
            (
                p("/tasks/claim-next".into()),
                Some(json!({ "worker": "w", "tags": [tag] })),
                200,
            )
        }
        ("GET", "/tasks/{id}")
        | ("GET", "/tasks/{id}/events")
        | ("GET", "/tasks/{id}/context") => {
            let id = add(s, team, json!({})).await;
            let rest = spec.path.replace("{id}", &id);
            (p(rest), None, 200)
        }
        ("POST", "/tasks/{id}/claim") => {
            let id = add(s, team, json!({})).await;
            (p(format!("/tasks/{id}/claim")), Some(json!({"worker": "w"})), 200)
        }
        ("POST", "/tasks/{id}/heartbeat")
        | ("POST", "/tasks/{id}/complete")
        | ("POST", "/tasks/{id}/fail")
        | ("POST", "/tasks/{id}/release") => {
            let (id, lease) = add_claimed(s, team, token).await;
            let rest = spec.path.replace("{id}", &id);
            let mut body = json!({ "lease_id": lease });
            if spec.path.ends_with("/fail") {
                body["error"] = "e".into();
            }
            (p(rest), Some(body), 200)
        }
        ("POST", "/tasks/{id}/subtasks") => {
            // the caller splits the task it holds
            let (id, lease) = add_claimed(s, team, token).await;
            let body = json!({ "lease_id": lease, "tasks": [{ "id": unique("sub"), "title": "s" }] });
            (p(format!("/tasks/{id}/subtasks")), Some(body), 201)
        }
        ("POST", "/tasks/{id}/cancel") => {
            let id = add(s, team, json!({})).await;
            (p(format!("/tasks/{id}/cancel")), None, 200)
        }
        ("DELETE", "/tasks/{id}") => {
            // only a finished task can be deleted: cancel one first
            let id = add(s, team, json!({})).await;
            let path = format!("/api/v1/tasks/{id}/cancel");
            let (st, v) = call(s, "POST", &path, Some(&team.admin), None).await;
            assert_eq!(st, 200, "{v}");
            (p(format!("/tasks/{id}")), None, 204)
        }
        ("POST", "/tasks/{id}/reset") => {
            let id = add(s, team, json!({ "max_attempts": 1 })).await;
            let (st, v) = call(
                s,
                "POST",
                &format!("/api/v1/tasks/{id}/claim"),
                Some(&team.admin),
                Some(json!({ "worker": "w" })),
            )
            .await;
            assert_eq!(st, 200, "{v}");
            let lease = v["lease"]["lease_id"].clone();
            let (st, v) = call(
                s,
                "POST",
                &format!("/api/v1/tasks/{id}/fail"),
                Some(&team.admin),
                Some(json!({ "lease_id": lease, "error": "x", "retry": false })),
            )
            .await;
            assert_eq!(st, 200, "{v}");
            (p(format!("/tasks/{id}/reset")), None, 200)
        }
        ("POST", "/messages") => (
            p("/messages".into()),
            Some(json!({"to": {"worker": "w"}, "subject": "s", "worker": "w"})),
            201,
        ),
        ("GET", "/messages") => (p("/messages?inbox=w".into()), None, 200),
        ("POST", "/messages/read") => (p("/messages/read".into()), Some(json!({"worker": "w"})), 200),
        ("GET", "/messages/{id}") | ("POST", "/messages/{id}/ack") => {
            let (st, v) = call(
                s,
                "POST",
                "/api/v1/messages",
                Some(&team.admin),
                Some(json!({"to": {"worker": "w"}, "subject": "s"})),
            )
            .await;
            assert_eq!(st, 201, "{v}");
            let rest = spec.path.replace("{id}", &v["id"].to_string());
            let body = (spec.method == "POST").then(|| json!({"worker": "w"}));
            (p(rest), body, 200)
        }
        ("GET", "/tasks/{id}/context/{key}") => {
            let (id, lease) = add_claimed(s, team, &team.admin).await;
            let (st, v) = call(
                s,
                "PUT",
                &format!("/api/v1/tasks/{id}/context/k"),
                Some(&team.admin),
                Some(json!({ "lease_id": lease, "value": 1 })),
            )
            .await;
            assert_eq!(st, 200, "{v}");
            (p(format!("/tasks/{id}/context/k")), None, 200)
        }
        ("PUT", "/tasks/{id}/context/{key}") => {
            let (id, lease) = add_claimed(s, team, token).await;
            (
                p(format!("/tasks/{id}/context/k")),
                Some(json!({ "lease_id": lease, "value": {"a": 1} })),
                200,
            )
        }
        ("GET", "/slots") | ("GET", "/stats") | ("GET", "/leases") | ("GET", "/servers") | ("GET", "/tokens")
        | ("GET", "/openapi.json") | ("GET", "/events") | ("GET", "/admin/backup") => (p(spec.path.into()), None, 200),
        ("POST", "/slots/claim") => (p("/slots/claim".into()), Some(json!({"worker": "w"})), 200),
        ("GET", "/reservations") => (p(spec.path.into()), None, 200),
        ("POST", "/reservations") => (
            p(spec.path.into()),
            Some(json!({"worker": "rw", "patterns": [unique("r")], "ttl_secs": 60})),
            201,
        ),
        ("POST", "/reservations/check") => (p(spec.path.into()), Some(json!({"paths": ["x"]})), 200),
        ("POST", "/reservations/{id}/renew") | ("DELETE", "/reservations/{id}") => {
            // made by the caller's own token: only it (or an admin) may change it
            let (st, v) = call(
                s,
                "POST",
                "/api/v1/reservations",
                Some(token),
                Some(json!({"worker": "rw", "patterns": [unique("r")], "ttl_secs": 60})),
            )
            .await;
            assert_eq!(st, 201, "{v}");
            let id = v["id"].as_str().expect("id");
            if spec.method == "DELETE" {
                (p(format!("/reservations/{id}?worker=rw")), None, 200)
            } else {
                (p(format!("/reservations/{id}/renew")), Some(json!({"worker": "rw"})), 200)
            }
        }
        ("POST", "/slots/{slot}/release") => {
            let (st, v) = call(
                s,
                "POST",
                "/api/v1/slots/claim",
                Some(token),
                Some(json!({ "worker": "w" })),
            )
            .await;
            assert_eq!(st, 200, "{v}");
            let slot = v["slot"].as_u64().expect("slot");
            (p(format!("/slots/{slot}/release")), Some(json!({"worker": "w"})), 200)
        }
        ("GET", "/servers/{name}") | ("GET", "/servers/{name}/tools") => {
            (p(spec.path.replace("{name}", "fault")), None, 200)
        }
        ("POST", "/servers/{name}/restart") => (p("/servers/fault/restart".into()), None, 202),
        ("POST", "/servers/{name}/reset") => (p("/servers/fault/reset".into()), None, 200),
        // the server file is unchanged: a reload applies nothing and says so
        ("POST", "/servers/reload") => (p("/servers/reload".into()), None, 200),
        ("POST", "/tokens") => (
            p("/tokens".into()),
            Some(json!({ "name": unique("tok"), "role": "viewer" })),
            201,
        ),
        ("DELETE", "/tokens/{name}") => {
            let name = unique("doomed");
            s.runtime
                .auth()
                .tokens()
                .create(&name, Role::Viewer, None)
                .await
                .expect("create");
            (p(format!("/tokens/{name}")), None, 200)
        }
        ("POST", "/events/ticket") => (p("/events/ticket".into()), None, 200),
        // a Claude Code hook event naming no worker: answered `{}` (role agent)
        ("POST", "/hooks/claude-code") => (
            p(spec.path.into()),
            Some(json!({"hook_event_name": "PostToolUse", "session_id": "s", "tool_name": "Bash"})),
            200,
        ),
        // agent-coordinate-mcp routes (their refusals are 200 {success: false}: checked below)
        ("POST", "/claim-worker-slot") => (p(spec.path.into()), Some(json!({})), 200),
        ("POST", "/release-worker-slot") => {
            let (st, v) = call(s, "POST", "/api/claim-worker-slot", Some(token), Some(json!({}))).await;
            assert_eq!((st, &v["success"]), (200, &json!(true)), "{v}");
            (p(spec.path.into()), Some(json!({ "slot": v["slot"] })), 200)
        }
        ("GET", "/available-tasks") | ("GET", "/all-tasks") | ("GET", "/workers")
        | ("GET", "/health") => (p(spec.path.into()), None, 200),
        ("POST", "/claim-task") => {
            let id = add(s, team, json!({})).await;
            (
                p(spec.path.into()),
                Some(json!({ "taskId": id, "workerId": unique("cw") })),
                200,
            )
        }
        ("POST", "/update-task") => {
            let id = add(s, team, json!({})).await;
            let worker = unique("cw");
            let (st, v) = call(
                s,
                "POST",
                "/api/claim-task",
                Some(token),
                Some(json!({ "taskId": id, "workerId": worker })),
            )
            .await;
            assert_eq!((st, &v["success"]), (200, &json!(true)), "{v}");
            (
                p(spec.path.into()),
                Some(json!({ "taskId": id, "workerId": worker, "status": "done" })),
                200,
            )
        }
        ("POST", "/add-task") => (p(spec.path.into()), Some(json!({"title": unique("c")})), 200),
        ("POST", "/reset-failed-task") => {
            let id = add(s, team, json!({ "max_attempts": 1 })).await;
            let worker = unique("cw");
            for body in [
                json!({ "taskId": id, "workerId": worker }),
                json!({ "taskId": id, "workerId": worker, "status": "failed" }),
            ] {
                let path = if body.get("status").is_some() {
                    "/api/update-task"
                } else {
                    "/api/claim-task"
                };
                let (st, v) = call(s, "POST", path, Some(&team.admin), Some(body)).await;
                assert_eq!((st, &v["success"]), (200, &json!(true)), "{v}");
            }
            (p(spec.path.into()), Some(json!({ "taskId": id })), 200)
        }
        // the mount point
        ("GET", path) if prefix.is_empty() && !path.starts_with("/mcp") => {
            (path.to_owned(), None, 200)
        }
        // MCP: initialize succeeds; GET and DELETE without a session are the transport's 4xx
        ("POST", "/mcp") => (
            "/mcp".into(),
            Some(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "matrix", "version": "1"}}})),
            200,
        ),
        ("GET", "/mcp") | ("DELETE", "/mcp") => ("/mcp".into(), None, 0),
        (m, path) => panic!(
            "no matrix case for {m} {prefix}{path}: add one to tests/auth.rs::prepare (every route in the table is checked)"
        ),
    }
}

/// Every route × {no token, viewer, agent, admin}: 401 without a token, 403
/// for a role below the route's, success (the route's own 2xx) otherwise.
#[actix_web::test]
async fn every_route_by_every_role_gets_401_403_or_success() {
    let (s, team, _dir) = team_server(|_| {}).await;
    let mut checked = 0;
    for (prefix, spec) in routes::all() {
        let required = spec.access.role();
        for caller in [
            None,
            Some(Role::Viewer),
            Some(Role::Agent),
            Some(Role::Admin),
        ] {
            let token = team.of(caller);
            // setup acts for the caller where ownership matters, when it may act at all
            let setup_token = match (token, caller, required) {
                (Some(t), Some(c), Some(r)) if c >= r => t,
                _ => &team.admin,
            };
            let (path, body, ok_status) = prepare(&s, &team, prefix, spec, setup_token).await;
            let (st, v) = call(&s, spec.method, &path, token, body).await;
            let what = format!("{} {path} as {caller:?}", spec.method);
            match (required, caller) {
                (None, _) => assert_eq!(st, ok_status, "{what}: {v}"),
                (Some(_), None) => {
                    assert_eq!(st, 401, "{what}: {v}");
                    assert_eq!(v["error"]["code"], "unauthorized", "{what}");
                }
                (Some(r), Some(c)) if c < r => {
                    assert_eq!(st, 403, "{what}: {v}");
                    assert_eq!(v["error"]["code"], "forbidden", "{what}");
                    let msg = v["error"]["message"].as_str().unwrap_or_default();
                    assert!(msg.contains(r.as_str()), "{what}: names the role: {msg}");
                }
                (Some(_), Some(_)) if ok_status == 0 => {
                    assert!(
                        (400..500).contains(&st) && st != 401 && st != 403,
                        "{what}: {st} {v}"
                    );
                }
                (Some(_), Some(_)) => {
                    assert_eq!(st, ok_status, "{what}: {v}");
                    if prefix == "/api" && v.get("success").is_some() {
                        assert_eq!(v["success"], json!(true), "{what}: {v}");
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 4 * 50, "only {checked} cases: the table shrank?");
    s.stop().await;
}

/// The edge check stands in front of every route, public ones included and
/// whatever the token: a foreign Origin (also `null`) or Host is 403, a body
/// that is not JSON is 415 — before anything runs.
#[actix_web::test]
async fn every_route_refuses_foreign_origins_hosts_and_non_json_bodies() {
    let (s, team, _dir) = team_server(|_| {}).await;
    let before = s.runtime.board().stats().await.expect("stats").tasks["total"].clone();
    for (prefix, spec) in routes::all() {
        let path = format!(
            "{prefix}{}",
            spec.path
                .replace("{id}", "x")
                .replace("{key}", "k")
                .replace("{slot}", "0")
                .replace("{name}", "fault")
        );
        let method = Method::from_bytes(spec.method.as_bytes()).expect("method");
        let url = format!("http://{}{}", s.addr, path);
        for (header, value, code) in [
            ("origin", "http://evil.test", "forbidden_origin"),
            ("origin", "null", "forbidden_origin"),
            ("origin", "http://127.0.0.1:1", "forbidden_origin"),
            ("host", "evil.test", "forbidden_host"),
        ] {
            let res = s
                .http
                .request(method.clone(), &url)
                .bearer_auth(&team.admin)
                .header(header, value)
                .send()
                .await
                .expect("request");
            let (st, v) = read(res).await;
            assert_eq!(
                (st, v["error"]["code"].as_str()),
                (403, Some(code)),
                "{path} {header}: {value}"
            );
        }
        if matches!(spec.method, "POST" | "PUT") {
            for ct in [
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
            ] {
                let res = s
                    .http
                    .request(method.clone(), &url)
                    .bearer_auth(&team.admin)
                    .header("content-type", ct)
                    .body(r#"{"title":"sneaky","id":"sneaky"}"#)
                    .send()
                    .await
                    .expect("request");
                let (st, v) = read(res).await;
                assert_eq!(
                    (st, v["error"]["code"].as_str()),
                    (415, Some("unsupported_media_type")),
                    "{path} {ct}"
                );
            }
        }
    }
    // the board's own origin (the dashboard) passes
    let (st, v) = read(
        s.http
            .post(format!("http://{}/api/v1/tasks", s.addr))
            .bearer_auth(&team.agent)
            .header("origin", format!("http://{}", s.addr))
            .json(&json!({ "title": "from the dashboard" }))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let after = s.runtime.board().stats().await.expect("stats").tasks["total"].clone();
    assert_eq!(
        after.as_u64(),
        before.as_u64().map(|n| n + 1),
        "only the same-origin add changed the board"
    );
    s.stop().await;
}

#[actix_web::test]
async fn one_agent_token_cannot_act_on_another_agents_lease() {
    let (s, team, _dir) = team_server(|_| {}).await;
    let (id, lease) = add_claimed(&s, &team, &team.agent).await;
    let v1 = format!("/api/v1/tasks/{id}");
    for (method, path, body) in [
        (
            "POST",
            format!("{v1}/heartbeat"),
            json!({ "lease_id": lease }),
        ),
        (
            "POST",
            format!("{v1}/complete"),
            json!({ "lease_id": lease, "output": "stolen" }),
        ),
        (
            "POST",
            format!("{v1}/fail"),
            json!({ "lease_id": lease, "error": "x" }),
        ),
        (
            "POST",
            format!("{v1}/release"),
            json!({ "lease_id": lease }),
        ),
        (
            "PUT",
            format!("{v1}/context/k"),
            json!({ "lease_id": lease, "value": 1 }),
        ),
    ] {
        let (st, v) = call(&s, method, &path, Some(&team.agent2), Some(body)).await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (403, Some("not_lease_owner")),
            "{path}: {v}"
        );
    }
    // the name-based update of the compat routes: a task claimed there by one
    // token, updated under the same worker name by another token
    let compat_id = add(&s, &team, json!({})).await;
    let (st, v) = call(
        &s,
        "POST",
        "/api/claim-task",
        Some(&team.agent),
        Some(json!({ "taskId": compat_id, "workerId": "w" })),
    )
    .await;
    assert_eq!((st, &v["success"]), (200, &json!(true)), "{v}");
    let (st, v) = call(
        &s,
        "POST",
        "/api/update-task",
        Some(&team.agent2),
        Some(json!({ "taskId": compat_id, "workerId": "w", "status": "done" })),
    )
    .await;
    assert_eq!(
        (st, v["success"].clone(), v["code"].as_str()),
        (200, json!(false), Some("not_lease_owner")),
        "{v}"
    );
    // over MCP, with its own session
    let client = common::mcp_client(&s, Some(&team.agent2)).await;
    let r = common::mcp_call(
        &client,
        "complete_task",
        json!({ "task_id": id, "lease_id": lease }),
    )
    .await;
    assert_eq!(r.is_error, Some(true), "{r:?}");
    assert!(format!("{r:?}").contains("not_lease_owner"), "{r:?}");
    client.cancel().await.ok();

    let (_, t) = call(&s, "GET", &v1, Some(&team.viewer), None).await;
    assert_eq!(t["status"], "running", "nothing changed: {t}");
    // the owner can; the audit log names the token and the worker
    let (st, v) = call(
        &s,
        "POST",
        &format!("{v1}/complete"),
        Some(&team.agent),
        Some(json!({"lease_id": lease})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (_, ev) = call(&s, "GET", &format!("{v1}/events"), Some(&team.viewer), None).await;
    let kinds: Vec<(String, String, String)> = ev["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_owned(),
                e["actor"].as_str().unwrap_or_default().to_owned(),
                e["worker"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("task_added".into(), "root".into(), String::new()),
            ("task_claimed".into(), "ada".into(), "w".into()),
            ("task_completed".into(), "ada".into(), "w".into()),
        ],
        "{ev}"
    );
    // an admin may act on any lease
    let (id2, lease2) = add_claimed(&s, &team, &team.agent).await;
    let (st, v) = call(
        &s,
        "POST",
        &format!("/api/v1/tasks/{id2}/release"),
        Some(&team.admin),
        Some(json!({"lease_id": lease2})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    s.stop().await;
}

#[actix_web::test]
async fn a_revoked_token_is_refused_on_its_next_request() {
    let (s, team, _dir) = team_server(|_| {}).await;
    let (st, _) = call(&s, "GET", "/api/v1/tasks", Some(&team.agent2), None).await;
    assert_eq!(st, 200);
    let (st, v) = call(&s, "DELETE", "/api/v1/tokens/bob", Some(&team.admin), None).await;
    assert_eq!(st, 200, "{v}");
    assert!(
        v.get("sha256").is_none() && v.get("secret").is_none(),
        "{v}"
    );
    let (st, v) = call(&s, "GET", "/api/v1/tasks", Some(&team.agent2), None).await;
    assert_eq!(st, 401, "{v}");
    // tokens are listed without secrets or hashes
    let (_, list) = call(&s, "GET", "/api/v1/tokens", Some(&team.admin), None).await;
    let names: Vec<&str> = list["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["ada", "root", "vera"], "{list}");
    assert!(!list.to_string().contains("baton_"), "{list}");
    // creating: 201 with the secret once; a duplicate is 409; a bad name 422
    let (st, v) = call(
        &s,
        "POST",
        "/api/v1/tokens",
        Some(&team.admin),
        Some(json!({"name": "eve", "role": "agent"})),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let secret = v["secret"].as_str().expect("secret").to_owned();
    assert_eq!(
        call(&s, "GET", "/api/v1/slots", Some(&secret), None)
            .await
            .0,
        200
    );
    let (st, v) = call(
        &s,
        "POST",
        "/api/v1/tokens",
        Some(&team.admin),
        Some(json!({"name": "eve", "role": "agent"})),
    )
    .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("token_exists")),
        "{v}"
    );
    let (st, v) = call(
        &s,
        "POST",
        "/api/v1/tokens",
        Some(&team.admin),
        Some(json!({"name": "e ve", "role": "agent"})),
    )
    .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (422, Some("name")),
        "{v}"
    );
    let (st, v) = call(
        &s,
        "POST",
        "/api/v1/tokens",
        Some(&team.admin),
        Some(json!({"name": "zed", "role": "root"})),
    )
    .await;
    assert_eq!(st, 422, "{v}");
    s.stop().await;
}

/// Malformed Authorization headers, oversize tokens, non-UTF-8 bytes: 401,
/// never a 500, and nothing changes.
#[actix_web::test]
async fn malformed_credentials_are_401_and_change_nothing() {
    let (s, team, _dir) = team_server(|_| {}).await;
    let long = format!("Bearer baton_{}", "a".repeat(20_000));
    let cases: Vec<Vec<u8>> = vec![
        b"Basic dXNlcjpwYXNz".to_vec(),
        b"Bearer".to_vec(),
        b"Bearer ".to_vec(),
        b"Bearer a b".to_vec(),
        b"bearer baton_0000".to_vec(),
        b"Bearer \xff\xfe".to_vec(),
        b"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".to_vec(),
        b"Bearer eyJ.eyJ.sig".to_vec(),
        long.into_bytes(),
        format!("Bearer {}x", team.admin).into_bytes(),
    ];
    for raw in cases {
        let value = reqwest::header::HeaderValue::from_bytes(&raw).expect("header bytes");
        let res = s
            .http
            .post(format!("{}/tasks", s.base))
            .header("authorization", value)
            .json(&json!({ "id": "never", "title": "never" }))
            .send()
            .await
            .expect("request");
        assert!(res.headers().contains_key("www-authenticate"), "{raw:?}");
        let (st, v) = read(res).await;
        assert_eq!(st, 401, "{:?}: {v}", String::from_utf8_lossy(&raw));
    }
    let (st, _) = call(&s, "GET", "/api/v1/tasks/never", Some(&team.viewer), None).await;
    assert_eq!(st, 404, "nothing was added");
    s.stop().await;
}

/// Only admins create executor tasks, and only for allow-listed tools.
#[actix_web::test]
async fn executor_tasks_need_an_admin_and_an_allow_listed_tool() {
    let (s, team, _dir) = team_server(|_| {}).await;
    let exec = |tool: &str| json!({ "title": "e", "executor": { "server": "fault", "tool": tool, "arguments": {"text": "hi"} } });
    let (st, v) = call(
        &s,
        "POST",
        "/api/v1/tasks",
        Some(&team.agent),
        Some(exec("echo")),
    )
    .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("admin"),
        "{v}"
    );
    // in a batch too
    let (st, _) = call(
        &s,
        "POST",
        "/api/v1/tasks",
        Some(&team.agent),
        Some(json!({"tasks": [{"title": "a"}, exec("echo")]})),
    )
    .await;
    assert_eq!(st, 403);
    let (st, v) = call(
        &s,
        "POST",
        "/api/v1/tasks",
        Some(&team.admin),
        Some(exec("fail")),
    )
    .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (422, Some("executor.tool")),
        "{v}"
    );
    let (st, v) = call(
        &s,
        "POST",
        "/api/v1/tasks",
        Some(&team.admin),
        Some(exec("echo")),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    // over MCP, an agent's add_task with an executor is refused the same way
    let client = common::mcp_client(&s, Some(&team.agent)).await;
    let r = common::mcp_call(&client, "add_task", exec("echo")).await;
    assert_eq!(r.is_error, Some(true), "{r:?}");
    assert!(format!("{r:?}").contains("forbidden"), "{r:?}");
    client.cancel().await.ok();
    s.stop().await;
}

/// `/mcp` with auth: 401 with `WWW-Authenticate` pointing at the RFC 9728
/// metadata without a token; with one, rmcp's client works and `tools/list`
/// shows each role only what it may call.
#[actix_web::test]
async fn mcp_needs_a_bearer_token_and_lists_tools_by_role() {
    let (s, team, _dir) = team_server(|_| {}).await;
    let res = s
        .http
        .post(format!("http://{}/mcp", s.addr))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 401);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let meta_url = format!("http://{}/.well-known/oauth-protected-resource", s.addr);
    assert!(
        challenge.starts_with("Bearer ")
            && challenge.contains(&format!("resource_metadata=\"{meta_url}\"")),
        "{challenge}"
    );
    let meta: Value = s
        .http
        .get(&meta_url)
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    assert_eq!(meta["resource"], format!("http://{}/mcp", s.addr), "{meta}");
    assert_eq!(meta["bearer_methods_supported"], json!(["header"]));

    let mut seen = Vec::new();
    for token in [&team.viewer, &team.agent, &team.admin] {
        let client = common::mcp_client(&s, Some(token)).await;
        let tools: Vec<String> = client
            .list_all_tools()
            .await
            .expect("tools/list")
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        seen.push(tools);
        client.cancel().await.ok();
    }
    let has = |i: usize, t: &str| seen[i].iter().any(|n| n == t);
    assert!(
        has(0, "get_task")
            && !has(0, "claim_next_task")
            && !has(0, "cancel_task")
            && !has(0, "fault__echo"),
        "viewer: {:?}",
        seen[0]
    );
    assert!(
        has(1, "claim_next_task") && has(1, "fault__echo") && !has(1, "cancel_task"),
        "agent: {:?}",
        seen[1]
    );
    assert!(
        has(2, "cancel_task") && has(2, "claim_next_task"),
        "admin: {:?}",
        seen[2]
    );
    assert!(seen[0].len() < seen[1].len() && seen[1].len() < seen[2].len());
    // a viewer calling an agent tool gets a tool error, and nothing changes
    let client = common::mcp_client(&s, Some(&team.viewer)).await;
    let r = common::mcp_call(
        &client,
        "add_task",
        json!({ "id": "by-viewer", "title": "x" }),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    client.cancel().await.ok();
    assert_eq!(
        call(
            &s,
            "GET",
            "/api/v1/tasks/by-viewer",
            Some(&team.viewer),
            None
        )
        .await
        .0,
        404
    );
    s.stop().await;
}

#[actix_web::test]
async fn the_rate_limit_is_per_token_with_retry_after() {
    let (s, team, _dir) = team_server(|st| {
        st.auth.rate_limit_per_sec = 1;
        st.auth.rate_limit_burst = 3;
    })
    .await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..6 {
        let res = s
            .http
            .get(format!("{}/slots", s.base))
            .bearer_auth(&team.agent)
            .send()
            .await
            .expect("request");
        if res.status() == 429 {
            retry_after = res
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
        }
        statuses.push(res.status().as_u16());
    }
    assert_eq!(&statuses[..3], [200, 200, 200], "{statuses:?}");
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    assert!(
        retry_after.is_some_and(|s| (1..=2).contains(&s)),
        "{retry_after:?}"
    );
    // another token has its own budget
    for _ in 0..3 {
        assert_eq!(
            call(&s, "GET", "/api/v1/slots", Some(&team.viewer), None)
                .await
                .0,
            200
        );
    }
    s.stop().await;
}

/// `EventSource` cannot send headers: a single-use ticket opens the stream,
/// and the stream ends when the token is revoked.
#[actix_web::test]
async fn stream_tickets_are_single_use_and_streams_end_on_revocation() {
    let (s, team, _dir) = team_server(|st| st.api.sse_keepalive_secs = 1).await;
    let (st, v) = call(
        &s,
        "POST",
        "/api/v1/events/ticket",
        Some(&team.agent2),
        None,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let ticket = v["ticket"].as_str().expect("ticket").to_owned();
    assert_eq!(v["expires_in_secs"], 60);
    let url = format!("{}/events?ticket={ticket}", s.base);
    let mut res = s.http.get(&url).send().await.expect("stream");
    assert_eq!(res.status(), 200);
    let first = res.chunk().await.expect("chunk");
    assert!(first.is_some());
    // used: refused the second time; unknown ones too
    assert_eq!(s.http.get(&url).send().await.expect("again").status(), 401);
    assert_eq!(
        s.http
            .get(format!("{}/events?ticket=st_nope", s.base))
            .send()
            .await
            .expect("nope")
            .status(),
        401
    );
    // revoking the token ends its open stream
    s.runtime
        .auth()
        .tokens()
        .revoke("bob")
        .await
        .expect("revoke");
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = res.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream of a revoked token ends");
    s.stop().await;
}

/// Without `auth.required`, a request without a token acts as admin (the
/// laptop default), but a token that is sent is still verified and its role
/// applies.
#[actix_web::test]
async fn without_required_auth_sent_tokens_still_count() {
    let s = TestServer::start(|_| {}).await;
    let viewer = s
        .runtime
        .auth()
        .tokens()
        .create("v", Role::Viewer, None)
        .await
        .expect("token")
        .secret;
    let (st, v) = s.post("/tasks", json!({ "id": "a", "title": "a" })).await;
    assert_eq!(st, 201, "{v}");
    let (st, _) = call(&s, "POST", "/api/v1/tasks/a/cancel", Some(&viewer), None).await;
    assert_eq!(st, 403);
    let (st, _) = call(
        &s,
        "POST",
        "/api/v1/tasks/a/cancel",
        Some("baton_unknown"),
        None,
    )
    .await;
    assert_eq!(st, 401);
    let (st, _) = call(&s, "POST", "/api/v1/tasks/a/cancel", None, None).await;
    assert_eq!(st, 200);
    let _ = Access::Public;
    s.stop().await;
}

/// The OpenAPI document marks each operation with the role from the same
/// route table the guard uses.
#[test]
fn the_openapi_document_marks_each_route_with_its_role() {
    let doc = baton::api::openapi::with_roles();
    let mut marked = 0;
    for (prefix, spec) in routes::all() {
        let path = format!("{prefix}{}", spec.path);
        let op = &doc["paths"][&path][spec.method.to_ascii_lowercase()];
        let role = spec.access.role().map_or("public", |r| r.as_str());
        assert_eq!(op["x-baton-role"], role, "{} {path}", spec.method);
        if spec.access.role().is_some() {
            assert_eq!(
                op["security"][0]["bearer"],
                json!([]),
                "{} {path}",
                spec.method
            );
        }
        marked += 1;
    }
    assert!(marked >= 57, "{marked} operations marked");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}
