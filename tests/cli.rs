//! The `baton` binary's command line against a real `baton serve` (issue
//! 23, item 10): every `baton task` command a worker or an operator needs
//! (`heartbeat`, `release`, `reset`, `cancel`, `delete`, `context
//! list/get/set`), the list's "more" hint naming a flag that exists, and
//! logs without colour escape codes when stderr is not a terminal.

mod common;

use std::io::Read as _;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::Child;
use serde_json::Value;

/// A `baton serve` on a fresh data directory (no MCP, no auth on loopback).
fn server() -> (Child, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8 temp path").to_owned();
    let child = Child::spawn(
        &["serve", "--bind", "127.0.0.1:0", "--data-dir", &data],
        &[("BATON_MCP__ENABLED", "false")],
    );
    (child, dir)
}

/// Run `baton task <args> --url <url>`.
fn task(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("task")
        .args(args)
        .args(["--url", url])
        .env_remove("BATON_TOKEN")
        .output()
        .expect("run baton task")
}

/// Run `baton task <args> --json` and return its JSON (it must succeed).
fn task_json(url: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = task(url, &all);
    assert!(
        out.status.success(),
        "baton task {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "baton task {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Add task `id` and claim it as `worker`; its lease id.
fn add_and_claim(url: &str, id: &str, worker: &str) -> String {
    task_json(url, &["add", id, "--id", id, "--tag", id]);
    let c = task_json(url, &["claim-next", "--worker", worker, "--tag", id]);
    assert_eq!(c["task"]["id"], id, "{c}");
    c["lease"]["lease_id"]
        .as_u64()
        .expect("lease id")
        .to_string()
}

#[test]
fn heartbeat_extends_the_lease_and_release_gives_the_task_back() {
    let (srv, _dir) = server();
    let url = &srv.url;
    let lease = add_and_claim(url, "hb", "w1");
    let before = task_json(url, &["show", "hb"]);
    let t = task_json(url, &["heartbeat", "hb", "--lease", &lease]);
    assert_eq!(t["status"], "running", "{t}");
    assert_eq!(t["lease"]["lease_id"].to_string(), lease);
    assert!(
        t["lease"]["expires_at"].as_str() >= before["lease"]["expires_at"].as_str(),
        "{t} vs {before}"
    );
    // the table form says when the lease now expires
    let out = task(url, &["heartbeat", "hb", "--lease", &lease]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("lease {lease} expires")));

    let t = task_json(url, &["release", "hb", "--lease", &lease]);
    assert_eq!(t["status"], "ready", "{t}");
    assert!(t["lease"].is_null(), "{t}");
    // a released lease is refused, with baton's code on stderr
    let out = task(url, &["heartbeat", "hb", "--lease", &lease]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stale_lease"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn reset_runs_a_failed_task_again() {
    let (srv, _dir) = server();
    let url = &srv.url;
    let lease = add_and_claim(url, "flaky", "w1");
    let t = task_json(
        url,
        &[
            "fail",
            "flaky",
            "--lease",
            &lease,
            "--error",
            "boom",
            "--no-retry",
        ],
    );
    assert_eq!(t["status"], "failed", "{t}");
    let r = task_json(url, &["reset", "flaky"]);
    let reset = r["reset"].as_array().expect("reset tasks");
    assert_eq!(reset.len(), 1, "{r}");
    assert_eq!(reset[0]["id"], "flaky");
    assert_eq!(reset[0]["status"], "ready");
    // resetting a task that has not failed is refused
    let out = task(url, &["reset", "flaky"]);
    assert!(!out.status.success());
}

#[test]
fn cancel_then_delete_removes_a_task() {
    let (srv, _dir) = server();
    let url = &srv.url;
    task_json(url, &["add", "parent", "--id", "parent"]);
    task_json(url, &["add", "child", "--id", "child", "--dep", "parent"]);
    let t = task_json(url, &["cancel", "parent", "--reason", "not needed"]);
    assert_eq!(t["status"], "cancelled", "{t}");
    assert_eq!(
        task_json(url, &["show", "child"])["status"],
        "cancelled",
        "the pending dependent is cancelled with it"
    );
    // the dependent goes first, then the task itself
    let d = task_json(url, &["delete", "child"]);
    assert_eq!(d, serde_json::json!({"deleted": "child"}));
    let out = task(url, &["delete", "parent"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "deleted parent"
    );
    let out = task(url, &["show", "parent"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("task_not_found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn context_set_get_and_list_under_the_lease() {
    let (srv, _dir) = server();
    let url = &srv.url;
    let lease = add_and_claim(url, "ctx", "w1");
    let set = task_json(
        url,
        &[
            "context",
            "set",
            "ctx",
            "plan",
            r#"{"step": 2}"#,
            "--lease",
            &lease,
        ],
    );
    assert_eq!(set["value"]["step"], 2, "{set}");
    // a value that is not JSON is kept as a string; a key with a space and
    // a slash travels percent-encoded
    task_json(
        url,
        &[
            "context",
            "set",
            "ctx",
            "a note/1",
            "half done",
            "--lease",
            &lease,
        ],
    );
    let got = task_json(url, &["context", "get", "ctx", "plan"]);
    assert_eq!(
        got,
        serde_json::json!({"key": "plan", "value": {"step": 2}})
    );
    let got = task_json(url, &["context", "get", "ctx", "a note/1"]);
    assert_eq!(got["value"], "half done", "{got}");
    let all = task_json(url, &["context", "list", "ctx"]);
    assert_eq!(
        all,
        serde_json::json!({"context": {"a note/1": "half done", "plan": {"step": 2}}})
    );
    let out = task(url, &["context", "list", "ctx"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("plan") && table.contains(r#"{"step":2}"#),
        "{table}"
    );
    // a wrong lease is refused
    let out = task(
        url,
        &["context", "set", "ctx", "plan", "1", "--lease", "999999"],
    );
    assert!(!out.status.success());
    let out = task(url, &["context", "get", "ctx", "nope"]);
    assert!(!out.status.success());
}

#[test]
fn the_list_hint_names_the_cursor_flag_and_the_flag_gives_the_next_page() {
    let (srv, _dir) = server();
    let url = &srv.url;
    for id in ["p1", "p2", "p3"] {
        task_json(url, &["add", id, "--id", id]);
    }
    let out = task(url, &["list", "--limit", "2"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let hint = text
        .lines()
        .find(|l| l.contains("--cursor"))
        .unwrap_or_else(|| panic!("no --cursor hint: {text}"));
    let cursor = hint
        .split_whitespace()
        .skip_while(|w| *w != "--cursor")
        .nth(1)
        .expect("a cursor after --cursor");
    let next = task_json(url, &["list", "--limit", "2", "--cursor", cursor]);
    let ids: Vec<&str> = next["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, ["p3"], "{next}");
    assert!(next["next_cursor"].is_null());
}

#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .env("BATON_MCP__ENABLED", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn baton serve");
    // stdout says when it listens; stderr is read to its end once it exits
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    while !seen.contains("baton listening on") {
        let n = stdout.read(&mut buf).expect("read stdout");
        assert!(n > 0, "baton exited before listening: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let exited = (0..500).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(exited, "baton did not exit on SIGTERM");
    let logs = logs.join().expect("stderr reader");
    assert!(logs.contains("INFO"), "info logs were written: {logs}");
    assert!(
        !logs.contains("\x1b["),
        "colour escape codes in logs written to a pipe: {logs:?}"
    );
}
