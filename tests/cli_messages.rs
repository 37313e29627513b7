//! `baton messages send|list|read|ack` against a real `baton serve` (issue
//! 30): a worker sends to a task, the task's holder reads its inbox (marked
//! read: a second unread-only read is empty) and acknowledges; the
//! operator's view shows the task's thread acknowledged; a send without an
//! addressee or an ack of a message outside the inbox fails with baton's code.

mod common;

use std::process::{Command, Output};

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

/// Run `baton <args> --url <url>` (no token, no worker from the environment).
fn baton(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .args(["--url", url])
        .env_remove("BATON_TOKEN")
        .env_remove("BATON_WORKER")
        .output()
        .expect("run baton")
}

/// Run `baton <args> --json`; it must succeed and print JSON.
fn json(url: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = baton(url, &all);
    assert!(
        out.status.success(),
        "baton {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "baton {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn a_message_to_a_task_reaches_its_holder_who_reads_and_acknowledges_it() {
    let (srv, _dir) = server();
    let url = &srv.url;
    json(
        url,
        &["task", "add", "parser", "--id", "parser", "--tag", "p"],
    );
    let c = json(
        url,
        &["task", "claim-next", "--worker", "bob", "--tag", "p"],
    );
    assert_eq!(c["task"]["id"], "parser", "{c}");

    let sent = json(
        url,
        &[
            "messages",
            "send",
            "the bug is in the parser",
            "--body",
            "not the lexer",
            "--to-task",
            "parser",
            "--ack-required",
            "--worker",
            "alice",
        ],
    );
    assert_eq!(sent["from"], "alice", "{sent}");
    assert_eq!(sent["to"]["task"], "parser", "{sent}");
    assert_eq!(sent["ack_required"], true, "{sent}");
    let id = sent["id"].as_u64().expect("message id").to_string();

    // the holder's inbox, as a table: the subject and the sender show
    let out = baton(url, &["messages", "read", "--worker", "bob"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("the bug is in the parser") && table.contains("alice"),
        "{table}"
    );
    // what was shown is read: nothing unread is left
    let unread = json(
        url,
        &["messages", "read", "--worker", "bob", "--unread-only"],
    );
    assert_eq!(unread["messages"], Value::Array(vec![]), "{unread}");

    let acked = json(url, &["messages", "ack", &id, "--worker", "bob"]);
    assert_eq!(acked["acknowledged"], true, "{acked}");
    assert_eq!(acked["acks"][0]["worker"], "bob", "{acked}");

    // the operator's view of the task's thread shows it acknowledged
    let thread = json(url, &["messages", "list", "--task", "parser"]);
    assert_eq!(thread["messages"][0]["id"].to_string(), id, "{thread}");
    assert_eq!(thread["messages"][0]["acknowledged"], true, "{thread}");
    let everything = json(url, &["messages", "list"]);
    assert_eq!(everything["messages"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_send_without_an_addressee_and_an_ack_outside_the_inbox_fail() {
    let (srv, _dir) = server();
    let url = &srv.url;
    let out = baton(url, &["messages", "send", "hello", "--worker", "alice"]);
    assert!(
        !out.status.success(),
        "a send without an addressee succeeded"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--to-worker"), "{err}");

    let sent = json(
        url,
        &[
            "messages",
            "send",
            "hi",
            "--to-worker",
            "carol",
            "--worker",
            "alice",
        ],
    );
    let id = sent["id"].as_u64().expect("message id").to_string();
    // dave's inbox does not hold a message to carol
    let out = baton(url, &["messages", "ack", &id, "--worker", "dave"]);
    assert!(!out.status.success(), "dave acknowledged carol's message");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("message_not_found"), "{err}");
    // carol can
    let acked = json(url, &["messages", "ack", &id, "--worker", "carol"]);
    assert_eq!(acked["acks"][0]["worker"], "carol", "{acked}");
}
