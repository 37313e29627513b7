//! `baton backup` and `baton restore` with the real binary: a board with a
//! DAG, a finished lease, a running lease with a heartbeat and a context
//! value, an explicit slot hold and access tokens is backed up from a
//! running server (admin token, auth required), restored into an empty data
//! directory, and served again: the same tasks, events, leases, slots and
//! tokens, the running lease still completes with its fencing token, and a
//! new claim gets a higher one. A non-empty directory, a file cut short and
//! a caller without the admin role are refused, and no half-written file is
//! ever left under the name asked for. A file in the older format (version
//! 1) restores too.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::{baton_command, spawn_baton, Child};
use serde_json::{json, Value};

fn baton(args: &[&str]) -> Output {
    baton_command().args(args).output().expect("run baton")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: &Output, why: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should fail: {stderr}");
    assert!(stderr.contains(why), "{stderr} should say {why}");
}

fn token(dir: &Path, name: &str, role: &str) -> String {
    let out = baton(&[
        "token",
        "create",
        "--name",
        name,
        "--role",
        role,
        "--data-dir",
        dir.to_str().expect("utf-8 path"),
    ]);
    ok(&out)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn serve(dir: &Path) -> Child {
    spawn_baton(
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            dir.to_str().expect("utf-8 path"),
        ],
        &[
            ("BATON_AUTH__REQUIRED", "true"),
            ("BATON_MCP__ENABLED", "false"),
        ],
    )
}

struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/api/v1{path}", self.url);
        let mut req = match method {
            "GET" => self.http.get(url),
            "PUT" => self.http.put(url),
            _ => self.http.post(url),
        }
        .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        common::read(req.send().await.expect("request")).await
    }

    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (st, v) = self.call(method, path, body).await;
        assert!((200..300).contains(&st), "{method} {path}: {st} {v}");
        v
    }

    /// What a backup must carry, as the API shows it.
    async fn board(&self) -> Value {
        json!({
            "tasks": self.ok("GET", "/tasks?limit=100", None).await["items"],
            "events": self.ok("GET", "/tasks/c/events", None).await,
            "leases": self.ok("GET", "/leases", None).await["leases"],
            "slots": self.ok("GET", "/slots", None).await,
            "context": self.ok("GET", "/tasks/c/context", None).await,
            "tokens": self.ok("GET", "/tokens", None).await,
        })
    }
}

#[tokio::test]
async fn a_board_backed_up_online_restores_into_an_empty_directory_and_serves_on() {
    let work = tempfile::tempdir().expect("tempdir");
    let source = work.path().join("source");
    let admin = token(&source, "admin", "admin");
    let viewer = token(&source, "viewer", "viewer");
    let mut server = serve(&source);
    let api = Api {
        http: reqwest::Client::new(),
        url: server.url.clone(),
        token: admin.clone(),
    };
    api.ok(
        "POST",
        "/tasks",
        Some(json!({"tasks": [
            {"id": "a", "title": "a", "priority": 2},
            {"id": "b", "title": "b", "dependencies": ["a"]},
            {"id": "c", "title": "c", "priority": 1},
        ]})),
    )
    .await;
    let a = api
        .ok("POST", "/tasks/claim-next", Some(json!({"worker": "w1"})))
        .await;
    assert_eq!(a["task"]["id"], "a");
    let la = a["lease"]["lease_id"].as_u64().expect("lease");
    api.ok(
        "POST",
        "/tasks/a/complete",
        Some(json!({"lease_id": la, "output": {"ok": true}})),
    )
    .await;
    let c = api
        .ok("POST", "/tasks/claim-next", Some(json!({"worker": "w2"})))
        .await;
    let lc = c["lease"]["lease_id"].as_u64().expect("lease");
    api.ok("POST", "/tasks/c/heartbeat", Some(json!({"lease_id": lc})))
        .await;
    api.ok(
        "PUT",
        "/tasks/c/context/progress",
        Some(json!({"lease_id": lc, "value": {"step": 3}})),
    )
    .await;
    api.ok("POST", "/slots/claim", Some(json!({"worker": "idle-w"})))
        .await;
    let before = api.board().await;

    let file = work.path().join("board.jsonl");
    let file_arg = file.to_str().expect("utf-8 path");
    // a viewer may not take a backup, and nothing is left behind
    refused(
        &baton(&[
            "backup",
            "--url",
            &server.url,
            "--out",
            file_arg,
            "--token",
            &viewer,
        ]),
        "403",
    );
    assert!(!file.exists());
    let said = ok(&baton(&[
        "backup",
        "--url",
        &server.url,
        "--out",
        file_arg,
        "--token",
        &admin,
    ]));
    assert!(said.contains("written to"), "{said}");
    assert!(!work.path().join("board.jsonl.partial").exists());
    let text = std::fs::read_to_string(&file).expect("backup file");
    let first: Value =
        serde_json::from_str(text.lines().next().unwrap_or_default()).expect("header");
    assert_eq!(first["format"], "baton-backup");
    assert_eq!(first["version"], baton::store::backup::BACKUP_VERSION);
    assert!(text
        .lines()
        .last()
        .unwrap_or_default()
        .starts_with(r#"{"end":"#));
    server
        .terminate(Duration::from_secs(30))
        .expect("the source stops");

    // restore into a fresh directory, serve it, and see the same board
    let target = work.path().join("target");
    let said = ok(&baton(&[
        "restore",
        "--in",
        file_arg,
        "--data-dir",
        target.to_str().expect("utf-8 path"),
    ]));
    assert!(said.contains("restored 3 tasks"), "{said}");
    let restored = serve(&target);
    let api = Api {
        http: reqwest::Client::new(),
        url: restored.url.clone(),
        token: admin.clone(),
    };
    assert_eq!(api.board().await, before);
    // the running lease kept its fencing token and still completes
    api.ok("POST", "/tasks/c/complete", Some(json!({"lease_id": lc})))
        .await;
    let b = api
        .ok("POST", "/tasks/claim-next", Some(json!({"worker": "w3"})))
        .await;
    assert_eq!(b["task"]["id"], "b");
    assert!(
        b["lease"]["lease_id"].as_u64().expect("lease") > lc,
        "fencing tokens only grow across a restore"
    );
    drop(restored);

    // a directory that holds a board is refused; so is a file cut short
    refused(
        &baton(&[
            "restore",
            "--in",
            file_arg,
            "--data-dir",
            target.to_str().expect("utf-8 path"),
        ]),
        "already holds a board",
    );
    let cut = work.path().join("cut.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&cut, lines[..lines.len() - 1].join("\n")).expect("write");
    let empty = work.path().join("empty");
    refused(
        &baton(&[
            "restore",
            "--in",
            cut.to_str().expect("utf-8 path"),
            "--data-dir",
            empty.to_str().expect("utf-8 path"),
        ]),
        "incomplete",
    );
    // and nothing of it was kept: the same file restores there afterwards
    ok(&baton(&[
        "restore",
        "--in",
        file_arg,
        "--data-dir",
        empty.to_str().expect("utf-8 path"),
    ]));

    // a backup in the first format (version 1, before gateway names were
    // kept; this board has none) restores too
    let mut header = first.clone();
    header["version"] = json!(1);
    let v1 = work.path().join("v1.jsonl");
    let mut v1_lines = vec![header.to_string()];
    v1_lines.extend(lines[1..].iter().map(|l| (*l).to_owned()));
    std::fs::write(&v1, v1_lines.join("\n")).expect("write");
    let older = work.path().join("older");
    let said = ok(&baton(&[
        "restore",
        "--in",
        v1.to_str().expect("utf-8 path"),
        "--data-dir",
        older.to_str().expect("utf-8 path"),
    ]));
    assert!(said.contains("restored 3 tasks"), "{said}");
}
