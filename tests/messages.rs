//! Issue 30: messages between workers, tasks and operators, over a real
//! server — REST (`/api/v1/messages`), the MCP tools and the `inbox://`
//! resource — and durable across a `kill -9` of the real `baton` binary.

mod common;

use serde_json::{json, Value};

/// POST `body` to `{base}{path}` as `worker` (the `X-Baton-Worker` header):
/// (status, JSON body).
async fn post_as(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    worker: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = http.post(format!("{base}{path}")).json(&body);
    if let Some(w) = worker {
        req = req.header("X-Baton-Worker", w);
    }
    common::read(req.send().await.expect("request")).await
}

/// The ids of a page's messages, in order.
fn ids(page: &Value) -> Vec<u64> {
    page["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("a page: {page}"))
        .iter()
        .map(|m| m["id"].as_u64().expect("id"))
        .collect()
}

/// A message to a worker reaches that worker only; one to a task reaches
/// its holder; one to all reaches everyone. Reading marks read (a second
/// unread-only read is empty), an acknowledgement shows on the operator's
/// view, and the task's thread lists the messages to it.
#[actix_web::test]
async fn messages_reach_worker_task_holder_and_everyone_and_are_acknowledged() {
    let s = common::TestServer::start(|_| {}).await;
    let (st, _) = s.post("/tasks", json!({"id": "t1", "title": "one"})).await;
    assert_eq!(st, 201);
    let (st, _) = s.post("/tasks/t1/claim", json!({"worker": "holder"})).await;
    assert_eq!(st, 200);

    let send = |to: Value, subject: &str, ack: bool| json!({"to": to, "subject": subject, "body": "text", "ack_required": ack});
    let (st, direct) = post_as(
        &s.http,
        &s.base,
        "/messages",
        Some("sender"),
        send(json!({"worker": "w1"}), "for w1", true),
    )
    .await;
    assert_eq!(st, 201, "{direct}");
    assert_eq!(direct["from"], "sender");
    assert_eq!(direct["to"], json!({"worker": "w1"}));
    let (st, to_task) = post_as(
        &s.http,
        &s.base,
        "/messages",
        Some("sender"),
        send(json!({"task": "t1"}), "for t1", false),
    )
    .await;
    assert_eq!(st, 201, "{to_task}");
    let (st, to_all) = post_as(
        &s.http,
        &s.base,
        "/messages",
        None,
        send(json!({"all": true}), "for all", false),
    )
    .await;
    assert_eq!(st, 201, "{to_all}");
    assert_eq!(
        to_all["from"], "operator",
        "no worker named: the operator sends"
    );
    let (direct, to_task, to_all) = (
        direct["id"].as_u64().unwrap(),
        to_task["id"].as_u64().unwrap(),
        to_all["id"].as_u64().unwrap(),
    );

    let (st, w1) = post_as(&s.http, &s.base, "/messages/read", Some("w1"), json!({})).await;
    assert_eq!(st, 200, "{w1}");
    assert_eq!(ids(&w1), vec![direct, to_all]);
    let (st, holder) = post_as(
        &s.http,
        &s.base,
        "/messages/read",
        Some("holder"),
        json!({}),
    )
    .await;
    assert_eq!(st, 200, "{holder}");
    assert_eq!(ids(&holder), vec![to_task, to_all]);
    // what was shown is read: nothing unread is left
    let (_, again) = post_as(
        &s.http,
        &s.base,
        "/messages/read",
        Some("w1"),
        json!({"unread_only": true}),
    )
    .await;
    assert_eq!(ids(&again), Vec::<u64>::new(), "{again}");
    // the operator's view of w1's inbox shows w1's read_at, and marks nothing
    let (st, view) = s.get("/messages?inbox=w1").await;
    assert_eq!(st, 200, "{view}");
    assert_eq!(ids(&view), vec![direct, to_all]);
    assert!(view["messages"][0]["read_at"].is_string(), "{view}");

    // the addressee acknowledges; someone else cannot (not in its inbox)
    let (st, acked) = post_as(
        &s.http,
        &s.base,
        &format!("/messages/{direct}/ack"),
        Some("w1"),
        json!({}),
    )
    .await;
    assert_eq!(st, 200, "{acked}");
    assert_eq!(acked["acknowledged"], true);
    assert_eq!(acked["acks"][0]["worker"], "w1");
    let (st, e) = post_as(
        &s.http,
        &s.base,
        &format!("/messages/{direct}/ack"),
        Some("holder"),
        json!({}),
    )
    .await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (404, Some("message_not_found")),
        "{e}"
    );
    let (st, one) = s.get(&format!("/messages/{direct}")).await;
    assert_eq!(st, 200);
    assert_eq!(one["acknowledged"], true, "{one}");

    // the task's thread
    let (st, thread) = s.get("/messages?task=t1").await;
    assert_eq!(st, 200, "{thread}");
    assert_eq!(ids(&thread), vec![to_task]);
    // a reply joins the thread of the message it answers
    let (st, reply) = post_as(
        &s.http,
        &s.base,
        "/messages",
        Some("holder"),
        json!({"to": {"worker": "sender"}, "subject": "re", "thread": to_task}),
    )
    .await;
    assert_eq!(st, 201, "{reply}");
    assert_eq!(reply["thread"].as_u64(), Some(to_task));
    s.stop().await;
}

/// Bad input is refused with a clear error and nothing is stored: an empty
/// addressee (422 `to`), an unknown task (404), a body over
/// `[messages] max_body_bytes` (413 naming it), one `ack_required` message
/// over `[messages] max_unacked` (429 with the count), a read without a
/// worker, a header and argument that disagree, an unknown message.
#[actix_web::test]
async fn bad_messages_are_refused_with_their_code_and_nothing_is_stored() {
    let s = common::TestServer::start(|st| {
        st.messages.max_body_bytes = 64;
        st.messages.max_unacked = 2;
    })
    .await;
    let code = |v: &Value| v["error"]["code"].as_str().unwrap_or_default().to_owned();
    let (st, e) = s.post("/messages", json!({"to": {}, "subject": "x"})).await;
    assert_eq!((st, code(&e).as_str()), (422, "invalid_field"), "{e}");
    assert_eq!(e["error"]["field"], "to");
    let (st, e) = s
        .post("/messages", json!({"to": {"task": "nope"}, "subject": "x"}))
        .await;
    assert_eq!((st, code(&e).as_str()), (404, "task_not_found"), "{e}");
    let (st, e) = s
        .post(
            "/messages",
            json!({"to": {"worker": "w"}, "subject": "x", "body": "y".repeat(65)}),
        )
        .await;
    assert_eq!((st, code(&e).as_str()), (413, "too_large"), "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_body_bytes"),
        "{e}"
    );
    for _ in 0..2 {
        let (st, v) = s
            .post(
                "/messages",
                json!({"to": {"worker": "w"}, "subject": "x", "ack_required": true}),
            )
            .await;
        assert_eq!(st, 201, "{v}");
    }
    let (st, e) = s
        .post(
            "/messages",
            json!({"to": {"worker": "w"}, "subject": "x", "ack_required": true}),
        )
        .await;
    assert_eq!((st, code(&e).as_str()), (429, "too_many_unacked"), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains('2'), "{e}");
    let (st, e) = s.post("/messages/read", json!({})).await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (422, Some("worker")),
        "{e}"
    );
    let (st, e) = post_as(
        &s.http,
        &s.base,
        "/messages/read",
        Some("a"),
        json!({"worker": "b"}),
    )
    .await;
    // one resolver for every edge (issue 29): disagreeing names are worker_mismatch
    assert_eq!(
        (
            st,
            e["error"]["code"].as_str(),
            e["error"]["field"].as_str()
        ),
        (400, Some("worker_mismatch"), Some("worker")),
        "{e}"
    );
    let (st, e) = s.get("/messages/999").await;
    assert_eq!((st, code(&e).as_str()), (404, "message_not_found"), "{e}");
    // only the two accepted messages are stored
    let (_, all) = s.get("/messages").await;
    assert_eq!(ids(&all).len(), 2, "{all}");
    s.stop().await;
}

/// The MCP tools act as the worker their `worker` argument names: send,
/// read (marking read) and acknowledge; and `inbox://{worker}` lists that
/// worker's unread messages.
#[actix_web::test]
async fn the_message_tools_and_the_inbox_resource_work_over_mcp() {
    let s = common::TestServer::start(|_| {}).await;
    let client = common::mcp_client(&s, None).await;
    let sent = common::mcp_call(
        &client,
        "send_message",
        json!({
            "to": {"worker": "w2"}, "subject": "hello", "body": "b", "ack_required": true,
            "worker": "w1"
        }),
    )
    .await;
    let sent = sent
        .structured_content
        .clone()
        .unwrap_or_else(|| panic!("{sent:?}"));
    assert_eq!(sent["message"]["from"], "w1", "{sent}");
    let id = sent["message"]["id"].as_u64().expect("id");

    let inbox = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new("inbox://w2"))
        .await
        .expect("resources/read inbox");
    let text = match &inbox.contents[0] {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("text contents: {other:?}"),
    };
    let inbox: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(ids(&inbox["unread"]), vec![id], "{inbox}");

    let read = common::mcp_call(&client, "read_messages", json!({"worker": "w2"})).await;
    let read = read
        .structured_content
        .clone()
        .unwrap_or_else(|| panic!("{read:?}"));
    assert_eq!(ids(&read), vec![id]);
    let acked = common::mcp_call(&client, "ack_message", json!({"id": id, "worker": "w2"})).await;
    let acked = acked
        .structured_content
        .clone()
        .unwrap_or_else(|| panic!("{acked:?}"));
    assert_eq!(acked["message"]["acknowledged"], true, "{acked}");
    // read now: the inbox resource has nothing unread
    let inbox = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new("inbox://w2"))
        .await
        .expect("resources/read inbox");
    let rmcp::model::ResourceContents::TextResourceContents { text, .. } = &inbox.contents[0]
    else {
        panic!("text contents");
    };
    let inbox: Value = serde_json::from_str(text).expect("json");
    assert_eq!(ids(&inbox["unread"]), Vec::<u64>::new(), "{inbox}");
    // without a worker, reading is refused with how to name one
    let e = common::mcp_call(&client, "read_messages", json!({})).await;
    let e = common::tool_error(&e);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("X-Baton-Worker"),
        "{e}"
    );
    client.cancel().await.ok();
    s.stop().await;
}

/// Messages, read marks and acknowledgements are durable: after `kill -9`
/// of the real binary and a restart on the same data dir, the inbox is the
/// same, a message read before is still read, an acknowledged one still
/// acknowledged, and new messages get new ids.
#[actix_web::test]
async fn messages_reads_and_acks_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_str().expect("utf-8 path");
    let args = ["serve", "--bind", "127.0.0.1:0", "--data-dir", path];
    let http = reqwest::Client::new();
    let mut child = common::spawn_baton(&args, &[]);
    let base = format!("{}/api/v1", child.url);
    let mut sent = Vec::new();
    for (to, ack) in [
        (json!({"worker": "w"}), true),
        (json!({"all": true}), false),
        (json!({"worker": "w"}), false),
    ] {
        let (st, m) = post_as(
            &http,
            &base,
            "/messages",
            Some("s"),
            json!({"to": to, "subject": "x", "body": "y", "ack_required": ack}),
        )
        .await;
        assert_eq!(st, 201, "{m}");
        sent.push(m["id"].as_u64().expect("id"));
    }
    // w reads the first page of one, and acknowledges it
    let (_, page) = post_as(
        &http,
        &base,
        "/messages/read",
        Some("w"),
        json!({"limit": 1}),
    )
    .await;
    assert_eq!(ids(&page), vec![sent[0]]);
    let (st, _) = post_as(
        &http,
        &base,
        &format!("/messages/{}/ack", sent[0]),
        Some("w"),
        json!({}),
    )
    .await;
    assert_eq!(st, 200);

    child.process.kill().expect("kill -9");
    child.process.wait().expect("reap");
    drop(child);
    let child = common::spawn_baton(&args, &[]);
    let base = format!("{}/api/v1", child.url);

    let res = http
        .get(format!("{base}/messages?inbox=w"))
        .send()
        .await
        .expect("request");
    let (st, inbox) = common::read(res).await;
    assert_eq!(st, 200, "{inbox}");
    assert_eq!(ids(&inbox), sent, "every message is back, in order");
    assert!(
        inbox["messages"][0]["read_at"].is_string(),
        "still read: {inbox}"
    );
    assert_eq!(
        inbox["messages"][0]["acknowledged"], true,
        "still acknowledged: {inbox}"
    );
    assert!(
        inbox["messages"][1]["read_at"].is_null(),
        "not read before: {inbox}"
    );
    let (_, unread) = post_as(
        &http,
        &base,
        "/messages/read",
        Some("w"),
        json!({"unread_only": true}),
    )
    .await;
    assert_eq!(ids(&unread), sent[1..].to_vec());
    let (st, next) = post_as(
        &http,
        &base,
        "/messages",
        None,
        json!({"to": {"all": true}, "subject": "after"}),
    )
    .await;
    assert_eq!(st, 201, "{next}");
    assert!(
        next["id"].as_u64().expect("id") > sent[2],
        "ids are not reused: {next}"
    );
    drop(child);
}

/// Messages and receipts are in backups: a board backed up online and
/// restored into an empty directory shows the same inbox (read marks and
/// acknowledgements included), and ids go on after the restored ones.
#[actix_web::test]
async fn messages_and_receipts_survive_a_backup_round_trip() {
    let s = common::TestServer::start(|_| {}).await;
    let mut sent = Vec::new();
    for ack in [true, false] {
        let (st, m) = s
            .post(
                "/messages",
                json!({"to": {"worker": "w"}, "subject": "x", "ack_required": ack}),
            )
            .await;
        assert_eq!(st, 201, "{m}");
        sent.push(m["id"].as_u64().expect("id"));
    }
    let (_, page) = post_as(
        &s.http,
        &s.base,
        "/messages/read",
        Some("w"),
        json!({"limit": 1}),
    )
    .await;
    assert_eq!(ids(&page), vec![sent[0]]);
    let (st, _) = post_as(
        &s.http,
        &s.base,
        &format!("/messages/{}/ack", sent[0]),
        Some("w"),
        json!({}),
    )
    .await;
    assert_eq!(st, 200);
    let (_, before) = s.get("/messages?inbox=w").await;
    let res = s
        .http
        .get(format!("{}/admin/backup", s.base))
        .send()
        .await
        .expect("backup");
    assert_eq!(res.status(), 200);
    let text = res.text().await.expect("backup text");
    assert!(
        text.lines().any(|l| l.starts_with(r#"{"message":"#)),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with(r#"{"receipt":"#)),
        "{text}"
    );
    s.stop().await;

    let work = tempfile::tempdir().expect("tempdir");
    let file = work.path().join("board.jsonl");
    std::fs::write(&file, &text).expect("write backup");
    let target = work.path().join("target");
    let out = common::baton_command()
        .args([
            "restore",
            "--in",
            file.to_str().expect("utf-8"),
            "--data-dir",
            target.to_str().expect("utf-8"),
        ])
        .output()
        .expect("baton restore");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = target.to_str().expect("utf-8");
    let child = common::spawn_baton(
        &["serve", "--bind", "127.0.0.1:0", "--data-dir", target],
        &[],
    );
    let base = format!("{}/api/v1", child.url);
    let http = reqwest::Client::new();
    let (st, after) = common::read(
        http.get(format!("{base}/messages?inbox=w"))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        after, before,
        "the same inbox, read marks and acks included"
    );
    let (st, next) = post_as(
        &http,
        &base,
        "/messages",
        None,
        json!({"to": {"all": true}, "subject": "after"}),
    )
    .await;
    assert_eq!(st, 201, "{next}");
    assert!(
        next["id"].as_u64().expect("id") > sent[1],
        "ids go on after the restored ones: {next}"
    );
    drop(child);
}

/// A client that records the resource URIs it is told changed.
#[derive(Clone)]
struct Updates {
    tx: tokio::sync::mpsc::UnboundedSender<String>,
}

impl rmcp::ClientHandler for Updates {
    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _: rmcp::service::NotificationContext<rmcp::RoleClient>,
    ) {
        let _ = self.tx.send(params.uri);
    }
}

/// An older session (`resources/subscribe`) subscribed to `inbox://w` is
/// told when a message to the task `w` holds arrives: a message to a task
/// reaches its holder's inbox, and so its subscribers.
#[actix_web::test]
#[allow(deprecated)] // resources/subscribe is the session-era mechanism under test
async fn an_inbox_subscriber_hears_of_a_message_to_the_task_its_worker_holds() {
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    use rmcp::ServiceExt;
    let s = common::TestServer::start(|_| {}).await;
    let (st, _) = s
        .post("/tasks", json!({"id": "held", "title": "held"}))
        .await;
    assert_eq!(st, 201);
    let (st, _) = s.post("/tasks/held/claim", json!({"worker": "w"})).await;
    assert_eq!(st, 200);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("http://{}/mcp", s.addr)),
    );
    let client = Updates { tx }.serve(transport).await.expect("initialize");
    client
        .subscribe(rmcp::model::SubscribeRequestParams::new("inbox://w"))
        .await
        .expect("subscribe to an inbox");
    let (st, m) = post_as(
        &s.http,
        &s.base,
        "/messages",
        Some("a"),
        json!({"to": {"task": "held"}, "subject": "the bug is in the parser"}),
    )
    .await;
    assert_eq!(st, 201, "{m}");
    let uri = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("a notification arrives")
        .expect("the client is running");
    assert_eq!(uri, "inbox://w");
    client.cancel().await.ok();
    s.stop().await;
}

/// Retention prunes messages like audit events: older than
/// `[retention] keep_events_secs` they are removed (with their receipts),
/// except those to a task that is still live; newer ones stay, and ids are
/// not reused after the newest were pruned.
#[actix_web::test]
async fn retention_prunes_old_messages_but_keeps_those_to_a_live_task() {
    const HOUR: u64 = 3_600_000;
    let clock = baton::Clock::manual(1_800_000_000_000);
    let s = common::TestServer::start_clocked(clock.clone(), |st| {
        st.retention.keep_events_secs = 3600;
        st.retention.interval_ms = 20;
        st.leases.ttl_secs = 24 * 3600;
    })
    .await;
    let (st, _) = s
        .post("/tasks", json!({"id": "live", "title": "live"}))
        .await;
    assert_eq!(st, 201);
    let (st, _) = s.post("/tasks/live/claim", json!({"worker": "w"})).await;
    assert_eq!(st, 200);
    let mut sent = Vec::new();
    for to in [
        json!({"worker": "w"}),
        json!({"task": "live"}),
        json!({"all": true}),
    ] {
        let (st, m) = s
            .post("/messages", json!({"to": to, "subject": "old"}))
            .await;
        assert_eq!(st, 201, "{m}");
        sent.push(m["id"].as_u64().expect("id"));
    }
    let (_, page) = post_as(&s.http, &s.base, "/messages/read", Some("w"), json!({})).await;
    assert_eq!(ids(&page).len(), 3, "{page}");
    clock.advance(2 * HOUR);
    common::wait_until(
        "the old messages not to a live task are pruned",
        std::time::Duration::from_secs(10),
        || async {
            let (_, all) = s.get("/messages").await;
            ids(&all) == vec![sent[1]]
        },
    )
    .await;
    let (st, e) = s.get(&format!("/messages/{}", sent[0])).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (404, Some("message_not_found")),
        "{e}"
    );
    let (st, m) = s
        .post("/messages", json!({"to": {"all": true}, "subject": "new"}))
        .await;
    assert_eq!(st, 201, "{m}");
    assert!(
        m["id"].as_u64().expect("id") > sent[2],
        "ids are not reused: {m}"
    );
    let (_, all) = s.get("/messages").await;
    assert_eq!(ids(&all).len(), 2, "the new message stays: {all}");
    s.stop().await;
}

/// On PostgreSQL, messages and receipts survive a failover: a message sent
/// and read on leader A (a `baton serve` child) is in the inbox on node B
/// after A is killed with `kill -9` and B takes over, still read; B's new
/// messages get new ids. Skipped without PostgreSQL binaries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_survive_a_failover_on_postgres() {
    use std::time::Duration;
    let Some(pg) = common::postgres::Postgres::start_or_skip() else {
        return;
    };
    let db = pg.database();
    let node = || {
        common::spawn_baton(
            &["serve", "--bind", "127.0.0.1:0"],
            &[
                ("BATON_STORAGE__BACKEND", "postgres"),
                ("BATON_STORAGE__URL", &db),
                ("BATON_HA__FAILOVER_TIMEOUT_SECS", "2"),
            ],
        )
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let ready = |url: String| {
        let http = http.clone();
        async move {
            common::wait_until("the node leads", Duration::from_secs(30), || async {
                match http.get(format!("{url}/readyz")).send().await {
                    Ok(r) => r.status() == 200,
                    Err(_) => false,
                }
            })
            .await;
        }
    };
    let mut a = node();
    ready(a.url.clone()).await;
    let b = node();
    let base_a = format!("{}/api/v1", a.url);
    let (st, m) = post_as(
        &http,
        &base_a,
        "/messages",
        Some("s"),
        json!({"to": {"worker": "w"}, "subject": "before the failover", "ack_required": true}),
    )
    .await;
    assert_eq!(st, 201, "{m}");
    let id = m["id"].as_u64().expect("id");
    let (_, page) = post_as(&http, &base_a, "/messages/read", Some("w"), json!({})).await;
    assert_eq!(ids(&page), vec![id]);

    a.process.kill().expect("kill -9 A");
    a.process.wait().expect("reap A");
    ready(b.url.clone()).await;
    let base_b = format!("{}/api/v1", b.url);
    let (st, inbox) = common::read(
        http.get(format!("{base_b}/messages?inbox=w"))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(st, 200, "{inbox}");
    assert_eq!(ids(&inbox), vec![id], "{inbox}");
    assert!(
        inbox["messages"][0]["read_at"].is_string(),
        "still read: {inbox}"
    );
    let (st, acked) = post_as(
        &http,
        &base_b,
        &format!("/messages/{id}/ack"),
        Some("w"),
        json!({}),
    )
    .await;
    assert_eq!(
        (st, acked["acknowledged"].as_bool()),
        (200, Some(true)),
        "{acked}"
    );
    let (st, next) = post_as(
        &http,
        &base_b,
        "/messages",
        None,
        json!({"to": {"all": true}, "subject": "after"}),
    )
    .await;
    assert_eq!(st, 201, "{next}");
    assert!(next["id"].as_u64().expect("id") > id, "ids go on: {next}");
}

/// Once the store failed, the message reads answer what a restart would
/// show: a durable message is listed and found, one whose send failed
/// (applied to the mailbox's memory, never durable) is neither, and the
/// reads answer 200 rather than the writes' 503.
#[actix_web::test]
async fn once_the_store_failed_message_reads_show_the_stored_messages_only() {
    let s = common::TestServer::start(|_| {}).await;
    let msg = |subject: &str| json!({"to": {"worker": "w1"}, "subject": subject, "body": "b"});
    let (st, kept) = post_as(&s.http, &s.base, "/messages", Some("a"), msg("kept")).await;
    assert_eq!(st, 201, "{kept}");
    let kept_id = kept["id"].as_u64().expect("id");

    s.runtime.board().store().fail_next_flush();
    let (st, lost) = post_as(&s.http, &s.base, "/messages", Some("a"), msg("lost")).await;
    assert_eq!(
        (st, lost["error"]["code"].as_str()),
        (503, Some("storage_unavailable")),
        "{lost}"
    );

    for path in ["/messages", "/messages?inbox=w1"] {
        let (st, page) = s.get(path).await;
        assert_eq!(st, 200, "GET {path}: {page}");
        assert_eq!(ids(&page), vec![kept_id], "GET {path}: {page}");
    }
    let (st, one) = s.get(&format!("/messages/{kept_id}")).await;
    assert_eq!((st, one["subject"].as_str()), (200, Some("kept")), "{one}");
    let (st, none) = s.get(&format!("/messages/{}", kept_id + 1)).await;
    assert_eq!(
        (st, none["error"]["code"].as_str()),
        (404, Some("message_not_found")),
        "{none}"
    );
    // the shutdown reports the failed store; the data directory goes with it
    drop(s.stop_failed().await);
}
