//! A gateway that runs all day (issue 28): the server file reloaded while
//! baton runs — by its watcher, `SIGHUP` and `POST /api/v1/servers/reload` —
//! under load from MCP sessions of every protocol era that has sessions; a
//! broken file that changes nothing and says why; servers that cannot start
//! for a reason a retry will not fix (`misconfigured`); and an operator's
//! breaker reset that does not leave a call waiting out the old restart
//! delay. Real baton, real child processes (`examples/fault_server.rs`), real
//! MCP clients; every wait is a polled condition with a bound.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton::error::ServiceError;
use baton::pool::{CallOptions, PoolError, PoolHandle, PoolSettings, ReloadTrigger, ServerState};
use baton::Clock;
use common::{fault_server, TestServer};
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, ProtocolVersion,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{json, Value};

// ---- helpers -------------------------------------------------------------------------------

/// Replace the server file the way editors save: a new file renamed over the old one.
fn save(path: &Path, servers: &Value) {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(&json!({ "mcpServers": servers })).expect("json");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// A fault_server entry: `echo` answers `<label>: <text>`; each start is
/// recorded in `<dir>/<starts>.starts`.
fn fault(dir: &Path, label: &str, starts: &str, mode: &str) -> Value {
    json!({
        "command": fault_server(),
        "args": ["--label", label],
        "env": {
            "FAULT_STARTS": dir.join(format!("{starts}.starts")),
            "FAULT_MODE": mode,
        }
    })
}

/// The pids of every start recorded in `<dir>/<starts>.starts`, in order.
fn starts(dir: &Path, starts: &str) -> Vec<u32> {
    std::fs::read_to_string(dir.join(format!("{starts}.starts")))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Running (a zombie is not running).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 1..].trim_start().to_owned()))
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

/// Poll `cond` every 50 ms for up to `within`; panics naming `what`.
async fn until<F, Fut>(what: &str, within: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    assert!(
        common::eventually(within, &mut cond).await,
        "timed out waiting for {what}"
    );
}

async fn servers(s: &TestServer) -> Value {
    let (status, v) = s.get("/servers").await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn state_of(s: &TestServer, name: &str) -> Option<String> {
    servers(s).await["servers"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == name)
        .and_then(|v| v["state"].as_str().map(str::to_owned))
}

async fn wait_ready(s: &TestServer, names: &[&str]) {
    for n in names {
        until(&format!("{n} ready"), Duration::from_secs(60), || async {
            state_of(s, n).await.as_deref() == Some("ready")
        })
        .await;
    }
}

/// Gateway name → the server's own tool name, for one server.
async fn names_of(s: &TestServer, server: &str) -> BTreeMap<String, String> {
    let (status, v) = s.get(&format!("/servers/{server}/tools")).await;
    assert_eq!(status, 200, "{v}");
    v["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default().to_owned(),
                t["tool"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// An MCP client of one protocol era that counts `notifications/tools/list_changed`.
#[derive(Clone)]
struct Session {
    version: ProtocolVersion,
    changed: tokio::sync::mpsc::UnboundedSender<()>,
}

impl ClientHandler for Session {
    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        let _ = self.changed.send(());
    }

    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("baton-reload-test", "0"),
        );
        info.protocol_version = self.version.clone();
        info
    }
}

type Client = RunningService<RoleClient, Session>;

async fn session(
    s: &TestServer,
    version: ProtocolVersion,
) -> (Client, tokio::sync::mpsc::UnboundedReceiver<()>) {
    session_at(&format!("http://{}", s.addr), version).await
}

/// A [`Session`] on `{root}/mcp` (`root` as `http://127.0.0.1:<port>`).
async fn session_at(
    root: &str,
    version: ProtocolVersion,
) -> (Client, tokio::sync::mpsc::UnboundedReceiver<()>) {
    let (changed, rx) = tokio::sync::mpsc::unbounded_channel();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{root}/mcp")),
    );
    let client = Session { version, changed }
        .serve(transport)
        .await
        .expect("initialize");
    (client, rx)
}

/// `echo {text}` through the gateway name `tool`: the answer's text, or why not.
async fn echo(client: &Client, tool: &str, text: &str) -> Result<String, String> {
    let args = json!({ "text": text });
    let r = client
        .call_tool(
            CallToolRequestParams::new(tool.to_owned())
                .with_arguments(args.as_object().cloned().unwrap_or_default()),
        )
        .await
        .map_err(|e| format!("{tool}: {e}"))?;
    let out: String = r
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect();
    if r.is_error == Some(true) {
        return Err(format!("{tool}: tool error {out}"));
    }
    Ok(out)
}

/// One finished gateway call of the load: tool, answer (or why not), when it ended (Unix ms).
type Done = (String, Result<String, String>, u128);

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

// ---- must show 1: a reload under load -----------------------------------------------------

/// Eight MCP sessions (protocol eras 2025-03-26, 2025-06-18 and 2025-11-25)
/// call three servers without pause while the server file is edited: a
/// server is added, another's arguments change, a third (answering slowly,
/// so calls are in flight) is removed. No call that was sent fails; every
/// session is told the tool list changed and lists the new tools; the
/// removed server's process and the changed server's old process are gone;
/// the unchanged names reach the same tools.
#[actix_web::test]
async fn a_reload_under_load_adds_changes_and_removes_servers_and_no_call_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let file = d.join("mcp.json");
    save(
        &file,
        &json!({
            "keep": fault(d, "keep", "keep", "ok"),
            "change": fault(d, "v1", "change", "ok"),
            "gone": fault(d, "gone", "gone", "slow:800"),
        }),
    );
    let s = TestServer::start(|st| st.pool.mcp_servers = file.clone()).await;
    wait_ready(&s, &["keep", "change", "gone"]).await;
    assert_eq!(servers(&s).await["reload"]["watching"], true);
    let keep_names = names_of(&s, "keep").await;
    let change_names = names_of(&s, "change").await;
    assert_eq!(
        keep_names.get("keep__echo").map(String::as_str),
        Some("echo")
    );
    let gone_pid = starts(d, "gone")[0];
    let change_pid = starts(d, "change")[0];

    let eras = [
        ProtocolVersion::V_2025_03_26,
        ProtocolVersion::V_2025_06_18,
        ProtocolVersion::V_2025_11_25,
    ];
    let mut clients = Vec::new();
    let mut notices = Vec::new();
    for i in 0..8 {
        let (client, rx) = session(&s, eras[i % eras.len()].clone()).await;
        let tools = client.list_all_tools().await.expect("tools/list");
        assert!(tools.iter().any(|t| t.name == "gone__echo"), "{i}");
        clients.push(Arc::new(client));
        notices.push(rx);
    }

    // the load: every session calls each server in a loop of its own
    let stop = Arc::new(AtomicBool::new(false));
    let gone_open = Arc::new(AtomicBool::new(true));
    let done: Arc<Mutex<Vec<Done>>> = Arc::default();
    let mut load = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        for tool in ["keep__echo", "change__echo", "gone__echo"] {
            let (client, stop, gone_open, done) = (
                client.clone(),
                stop.clone(),
                gone_open.clone(),
                done.clone(),
            );
            load.push(tokio::spawn(async move {
                let mut n = 0u32;
                while !stop.load(Ordering::SeqCst) {
                    // no new call to the server about to be removed; those in flight go on
                    if tool == "gone__echo" && !gone_open.load(Ordering::SeqCst) {
                        break;
                    }
                    n += 1;
                    let r = echo(&client, tool, &format!("s{i}-{n}")).await;
                    done.lock()
                        .expect("lock")
                        .push((tool.to_owned(), r, now_ms()));
                }
            }));
        }
    }
    let calls = |tool: &str| {
        let done = done.lock().expect("lock");
        done.iter()
            .filter(|(t, r, _)| t == tool && r.is_ok())
            .count()
    };
    until("load on every server", Duration::from_secs(30), || async {
        ["keep__echo", "change__echo", "gone__echo"]
            .iter()
            .all(|t| calls(t) >= 8)
    })
    .await;
    for rx in &mut notices {
        while rx.try_recv().is_ok() {}
    }

    // the edit
    gone_open.store(false, Ordering::SeqCst);
    save(
        &file,
        &json!({
            "keep": fault(d, "keep", "keep", "ok"),
            "change": fault(d, "v2", "change", "ok"),
            "new": fault(d, "new", "new", "ok"),
        }),
    );
    until("the watcher's reload", Duration::from_secs(30), || async {
        servers(&s).await["reload"]["outcome"] == "applied"
    })
    .await;
    let reload = servers(&s).await["reload"].clone();
    assert_eq!(reload["trigger"], "file", "{reload}");
    assert_eq!(
        reload["changes"],
        json!({"added": ["new"], "removed": ["gone"], "changed": ["change"], "retried": [], "unchanged": ["keep"]}),
        "{reload}"
    );
    let applied_at = u128::from(reload["at"].as_u64().expect("at"));

    // every session is told, and lists the new server's tools without the removed one's
    for (i, (client, rx)) in clients.iter().zip(notices.iter_mut()).enumerate() {
        tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("session {i} ({}) got no tools/list_changed", eras[i % 3]))
            .expect("notification");
        until(
            &format!("session {i} lists new__echo"),
            Duration::from_secs(30),
            || async {
                let tools = client.list_all_tools().await.expect("tools/list");
                tools.iter().any(|t| t.name == "new__echo")
                    && !tools.iter().any(|t| t.name.starts_with("gone__"))
            },
        )
        .await;
    }
    assert_eq!(
        echo(&clients[0], "new__echo", "hi").await.as_deref(),
        Ok("new: hi")
    );
    // the changed server runs with its new arguments, under the same names
    until("change runs v2", Duration::from_secs(30), || async {
        echo(&clients[1], "change__echo", "x").await.as_deref() == Ok("v2: x")
    })
    .await;

    // the removed server's process, and the changed server's old one, are gone
    until("gone's process gone", Duration::from_secs(30), || async {
        !running(gone_pid)
    })
    .await;
    until(
        "change's old process gone",
        Duration::from_secs(30),
        || async { !running(change_pid) },
    )
    .await;
    assert_eq!(
        starts(d, "change").len(),
        2,
        "one restart of the changed server"
    );
    assert_eq!(
        starts(d, "keep").len(),
        1,
        "the unchanged server was not touched"
    );
    assert!(running(starts(d, "keep")[0]));
    let (status, v) = s.get("/servers/gone").await;
    assert_eq!(
        (status, v["error"]["code"].clone()),
        (404, json!("unknown_server"))
    );

    // a few more calls of the new era, then stop the load
    let before = calls("change__echo");
    until(
        "load goes on after the reload",
        Duration::from_secs(30),
        || async { calls("change__echo") >= before + 16 },
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.expect("load task");
    }

    let done = done.lock().expect("lock").clone();
    let failed: Vec<&Done> = done.iter().filter(|(_, r, _)| r.is_err()).collect();
    assert!(
        failed.is_empty(),
        "calls failed across the reload: {failed:?}"
    );
    for (tool, r, _) in &done {
        let text = r.as_deref().unwrap_or_default();
        let want: &[&str] = match tool.as_str() {
            "keep__echo" => &["keep: "],
            "change__echo" => &["v1: ", "v2: "],
            _ => &["gone: "],
        };
        assert!(
            want.iter().any(|w| text.starts_with(w)),
            "{tool} answered {text:?}"
        );
    }
    // calls to the removed server were in flight when it was removed, and finished
    let drained = done
        .iter()
        .filter(|(t, r, at)| t == "gone__echo" && r.is_ok() && *at >= applied_at)
        .count();
    assert!(drained > 0, "no call to gone was in flight at the reload");
    println!(
        "calls: {} ({} to gone finished after its removal)",
        done.len(),
        drained
    );

    // every unchanged name still reaches the same tool
    assert_eq!(names_of(&s, "keep").await, keep_names);
    assert_eq!(names_of(&s, "change").await, change_names);
    for client in clients {
        if let Ok(c) = Arc::try_unwrap(client) {
            let _ = c.cancel().await;
        }
    }
    s.stop().await;
    let new_pid = starts(d, "new")[0];
    assert!(!running(new_pid), "stopped with baton");
}

// ---- must show 2: a broken file changes nothing --------------------------------------------

/// Bad JSON, an unknown key, a server named twice, an invalid entry: each is
/// refused by `POST /api/v1/servers/reload` (422, `invalid_server_file`, the
/// reason) and by the watcher, and changes nothing — the running server keeps
/// its process; `GET /api/v1/servers` says why. A good file then applies,
/// leaving the unchanged server alone.
#[actix_web::test]
async fn a_broken_server_file_changes_nothing_and_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let file = d.join("mcp.json");
    let a = fault(d, "a", "a", "ok");
    save(&file, &json!({ "a": a }));
    let s = TestServer::start(|st| {
        st.pool.mcp_servers = file.clone();
        st.pool.reload_debounce_ms = 50;
    })
    .await;
    wait_ready(&s, &["a"]).await;
    let pid = starts(d, "a")[0];
    let entry = serde_json::to_string(&a).expect("json");
    let broken: [(&str, String, &str); 4] = [
        (
            "bad JSON",
            r#"{"mcpServers": {"a": "#.to_owned(),
            "not valid JSON",
        ),
        (
            "unknown key",
            json!({"mcpServers": {"a": a, "b": {"command": fault_server(), "colour": "red"}}})
                .to_string(),
            "MCP server 'b': unknown key 'colour'",
        ),
        (
            "duplicate name",
            format!(r#"{{"mcpServers": {{"a": {entry}, "a": {entry}}}}}"#),
            "the key 'a' appears twice in mcpServers",
        ),
        (
            "invalid entry",
            json!({"mcpServers": {"a": a, "c": {"command": 5}}}).to_string(),
            "MCP server 'c': 'command' must be a string",
        ),
    ];
    for (what, text, why) in broken {
        std::fs::write(&file, &text).expect("write");
        // the watcher sees the write and refuses it
        until(
            &format!("{what}: the watcher's refusal"),
            Duration::from_secs(10),
            || async {
                let r = servers(&s).await["reload"].clone();
                r["trigger"] == "file"
                    && r["outcome"] == "refused"
                    && r["errors"].to_string().contains(why)
            },
        )
        .await;
        // and so does the endpoint, saying why
        let (status, v) = s.post("/servers/reload", json!({})).await;
        assert_eq!(status, 422, "{what}: {v}");
        assert_eq!(v["error"]["code"], "invalid_server_file", "{what}: {v}");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(why), "{what}: {message}");
        assert!(message.contains("nothing changed"), "{what}: {message}");
        let now = servers(&s).await;
        assert_eq!(now["reload"]["trigger"], "api", "{what}");
        let names: Vec<&str> = now["servers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str())
            .collect();
        assert_eq!(names, ["a"], "{what}: nothing changed");
        assert_eq!(now["servers"][0]["state"], "ready", "{what}");
        assert_eq!(now["servers"][0]["pid"], pid, "{what}: a keeps its process");
    }
    save(&file, &json!({ "a": a, "b": fault(d, "b", "b", "ok") }));
    let (status, v) = s.post("/servers/reload", json!({})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["added"], json!(["b"]), "{v}");
    assert_eq!(v["unchanged"], json!(["a"]), "{v}");
    wait_ready(&s, &["b"]).await;
    assert_eq!(starts(d, "a"), [pid], "a was left alone");
    let status = servers(&s).await["reload"].clone();
    assert_eq!(status["outcome"], "applied", "{status}");
    assert_eq!(status["errors"], json!([]), "{status}");
    s.stop().await;
}

/// `SIGHUP` to `baton serve` reloads the server file (the watcher off).
#[actix_web::test]
async fn sighup_reloads_the_server_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let file = d.join("mcp.json");
    save(&file, &json!({ "a": fault(d, "a", "a", "ok") }));
    let data = d.join("data");
    let child = common::Child::spawn(
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().expect("utf-8"),
            "--mcp-servers",
            file.to_str().expect("utf-8"),
        ],
        &[("BATON_POOL__WATCH", "false")],
    );
    let http = reqwest::Client::new();
    let get = || async {
        let r = http
            .get(format!("{}/api/v1/servers", child.url))
            .send()
            .await
            .expect("GET /api/v1/servers");
        r.json::<Value>().await.expect("json")
    };
    assert_eq!(get().await["reload"]["watching"], false);
    save(
        &file,
        &json!({ "a": fault(d, "a", "a", "ok"), "b": fault(d, "b", "b", "ok") }),
    );
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.process.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).expect("SIGHUP");
    until("the SIGHUP reload", Duration::from_secs(30), || async {
        let v = get().await;
        v["reload"]["trigger"] == "signal"
            && v["reload"]["outcome"] == "applied"
            && v["servers"].as_array().is_some_and(|s| s.len() == 2)
    })
    .await;
    let mut child = child;
    assert!(child
        .terminate(Duration::from_secs(20))
        .is_some_and(|s| s.success()));
}

/// The server named `name` in a `GET /api/v1/servers` answer (`Null` when absent).
fn entry<'a>(servers: &'a Value, name: &str) -> &'a Value {
    servers["servers"]
        .as_array()
        .and_then(|all| all.iter().find(|v| v["name"] == name))
        .unwrap_or(&Value::Null)
}

/// The names in a `GET /api/v1/servers` answer, sorted.
fn names(servers: &Value) -> Vec<String> {
    let mut names: Vec<String> = servers["servers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The real `baton serve` binary, its watcher on, its `.mcp.json` edited
/// while an MCP session stays open: an edit that adds a server and one
/// whose command does not exist shows in `GET /api/v1/servers` (the new
/// server ready, the other `misconfigured` with the reason, not retried) and,
/// after `notifications/tools/list_changed`, in the session's `tools/list`;
/// an edit that breaks the file keeps every running server and its process
/// and says why; the next good edit applies and stops the removed server's
/// process.
#[actix_web::test]
async fn the_baton_binary_follows_edits_of_its_server_file_and_keeps_the_old_one_on_a_bad_edit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let file = d.join(".mcp.json");
    save(&file, &json!({ "a": fault(d, "a", "a", "ok") }));
    let data = d.join("data");
    let mut child = common::Child::spawn(
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().expect("utf-8"),
            "--mcp-servers",
            file.to_str().expect("utf-8"),
        ],
        &[("BATON_POOL__RELOAD_DEBOUNCE_MS", "50")],
    );
    let http = reqwest::Client::new();
    let get = || async {
        let r = http
            .get(format!("{}/api/v1/servers", child.url))
            .send()
            .await
            .expect("GET /api/v1/servers");
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.expect("json")
    };
    until("a ready", Duration::from_secs(60), || async {
        entry(&get().await, "a")["state"] == "ready"
    })
    .await;
    let v = get().await;
    assert_eq!(v["reload"]["watching"], true, "{v}");
    let a_pid = entry(&v, "a")["pid"].clone();
    assert!(a_pid.is_u64(), "{v}");
    let (client, mut changed) = session_at(&child.url, ProtocolVersion::V_2025_11_25).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(tools.iter().any(|t| t.name == "a__echo"));
    assert!(!tools.iter().any(|t| t.name.starts_with("b__")));
    while changed.try_recv().is_ok() {}

    // add b, and ghost, whose command does not exist
    let missing = d.join("missing-server");
    save(
        &file,
        &json!({
            "a": fault(d, "a", "a", "ok"),
            "b": fault(d, "b", "b", "ok"),
            "ghost": {"command": missing},
        }),
    );
    until(
        "b ready, ghost misconfigured",
        Duration::from_secs(60),
        || async {
            let v = get().await;
            v["reload"]["outcome"] == "applied"
                && entry(&v, "b")["state"] == "ready"
                && entry(&v, "ghost")["state"] == "misconfigured"
        },
    )
    .await;
    let v = get().await;
    assert_eq!(v["reload"]["trigger"], "file", "{v}");
    let ghost = entry(&v, "ghost");
    assert!(
        ghost["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("command not found")),
        "{ghost}"
    );
    assert_eq!(entry(&v, "a")["pid"], a_pid, "a was not touched");
    tokio::time::timeout(Duration::from_secs(30), changed.recv())
        .await
        .expect("notifications/tools/list_changed")
        .expect("notification");
    until(
        "the session lists b__echo",
        Duration::from_secs(30),
        || async {
            let tools = client.list_all_tools().await.expect("tools/list");
            tools.iter().any(|t| t.name == "b__echo")
        },
    )
    .await;
    assert_eq!(echo(&client, "b__echo", "hi").await.as_deref(), Ok("b: hi"));
    let b_pid = starts(d, "b")[0];

    // a broken edit: nothing changes, and the status says why
    std::fs::write(&file, r#"{"mcpServers": {"a": "#).expect("write");
    until("the watcher's refusal", Duration::from_secs(30), || async {
        let r = get().await["reload"].clone();
        r["outcome"] == "refused" && r["errors"].to_string().contains("not valid JSON")
    })
    .await;
    let v = get().await;
    assert_eq!(names(&v), ["a", "b", "ghost"], "{v}");
    assert_eq!(entry(&v, "a")["pid"], a_pid, "{v}");
    assert_eq!(entry(&v, "b")["pid"], b_pid, "{v}");
    assert_eq!(entry(&v, "b")["state"], "ready", "{v}");
    let ghost = entry(&v, "ghost");
    assert_eq!(ghost["state"], "misconfigured", "{ghost}");
    assert_eq!(
        ghost["restarts"], 0,
        "a misconfigured server is not retried: {ghost}"
    );
    assert_eq!(
        echo(&client, "a__echo", "still").await.as_deref(),
        Ok("a: still")
    );
    assert_eq!(
        echo(&client, "b__echo", "still").await.as_deref(),
        Ok("b: still")
    );

    // the next good edit applies: b and ghost go, b's process with them
    save(&file, &json!({ "a": fault(d, "a", "a", "ok") }));
    until("b and ghost removed", Duration::from_secs(30), || async {
        let v = get().await;
        v["reload"]["outcome"] == "applied" && names(&v) == ["a"]
    })
    .await;
    until("b's process gone", Duration::from_secs(30), || async {
        !running(b_pid)
    })
    .await;
    assert_eq!(entry(&get().await, "a")["pid"], a_pid);
    assert_eq!(starts(d, "a").len(), 1, "a was started once");
    let _ = client.cancel().await;
    assert!(child
        .terminate(Duration::from_secs(20))
        .is_some_and(|s| s.success()));
}

// ---- must show 3: misconfigured servers, breaker resets ------------------------------------

fn pool_settings() -> PoolSettings {
    PoolSettings {
        ping_interval_ms: 0, // no health-check timers on the manual clock
        restart_initial_ms: 1_000,
        restart_max_ms: 1_000,
        ..PoolSettings::default()
    }
}

async fn wait_state(pool: &PoolHandle, server: &str, state: ServerState) {
    until(
        &format!("{server} {state}"),
        Duration::from_secs(30),
        || async { pool.state(server) == Some(state) },
    )
    .await;
}

async fn status(pool: &PoolHandle, server: &str) -> baton::pool::ServerStatus {
    pool.server_status(server).await.expect("status")
}

/// A command that does not exist, a file that is not executable and a
/// malformed URL are `misconfigured` after one attempt, with the reason, and
/// are not tried again as the restart delays pass — a server whose child
/// exits at start, on the same clock, is. A call fails at once with
/// `server_misconfigured`. A reload (the file unchanged) tries them again:
/// the command that now exists starts.
#[actix_web::test]
async fn a_missing_command_is_misconfigured_after_one_attempt_until_a_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let later = d.join("later-server");
    let noexec = d.join("noexec.sh");
    std::fs::write(&noexec, "#!/bin/sh\n").expect("write");
    let file = d.join("mcp.json");
    save(
        &file,
        &json!({
            "ghost": {"command": later},
            "noexec": {"command": noexec},
            "badurl": {"type": "http", "url": "ftp://h.example/mcp"},
            "crashy": {"command": fault_server(), "env": {"FAULT_MODE": "exit-at-start"}},
        }),
    );
    let clock = Clock::manual(baton::model::now_ms());
    let pool =
        PoolHandle::start_with_clock(&pool_settings(), Some(&file), clock.clone()).expect("pool");
    for (server, why) in [
        ("ghost", "command not found"),
        ("noexec", "permission denied"),
        ("badurl", "scheme"),
    ] {
        wait_state(&pool, server, ServerState::Misconfigured).await;
        let st = status(&pool, server).await;
        let error = st.last_error.unwrap_or_default();
        assert!(error.contains(why), "{server}: {error}");
        assert_eq!(st.restarts, 0, "{server}");
    }
    // the restart delays pass: crashy is started again each time, the others never
    for round in 1..=3u64 {
        until(
            "crashy's restart timer",
            Duration::from_secs(30),
            || async { clock.next_timer().is_some() },
        )
        .await;
        let at = clock.next_timer().expect("timer");
        clock.advance_to(at);
        until(
            &format!("crashy restart {round}"),
            Duration::from_secs(30),
            || async { status(&pool, "crashy").await.restarts >= round },
        )
        .await;
    }
    for server in ["ghost", "noexec", "badurl"] {
        let st = status(&pool, server).await;
        assert_eq!(
            (st.state, st.restarts),
            (ServerState::Misconfigured, 0),
            "{server}"
        );
    }
    let e = pool
        .call_tool("ghost", "echo", None, Default::default())
        .await
        .expect_err("misconfigured");
    assert!(matches!(e, PoolError::Misconfigured { .. }), "{e:?}");
    assert_eq!(e.error_code(), "server_misconfigured");
    assert!(e.to_string().contains("reload"), "{e}");

    // the command appears; a reload of the same file tries the misconfigured servers again
    std::os::unix::fs::symlink(fault_server(), &later).expect("symlink");
    let report = pool.reload(ReloadTrigger::Api).await.expect("reload");
    assert_eq!(report.retried, ["badurl", "ghost", "noexec"], "{report:?}");
    assert_eq!(report.unchanged, ["crashy"], "{report:?}");
    wait_state(&pool, "ghost", ServerState::Ready).await;
    wait_state(&pool, "noexec", ServerState::Misconfigured).await;
    let echoed = pool
        .call(
            "ghost__echo",
            json!({"text": "here"}).as_object().cloned(),
            Default::default(),
        )
        .await
        .expect("call");
    assert_eq!(
        echoed.content[0].as_text().map(|t| t.text.as_str()),
        Some("here")
    );
    pool.shutdown().await;
}

/// A crash opens the breaker and leaves the server waiting out a long
/// restart delay (on a clock that never moves here). An operator's reset
/// closes the breaker and starts the server at once: the next call goes
/// through, not after the old delay.
#[actix_web::test]
async fn a_breaker_reset_lets_the_next_call_through_without_the_old_delay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let control = d.join("mode");
    let file = d.join("mcp.json");
    save(
        &file,
        &json!({ "flaky": {
            "command": fault_server(),
            "env": {"FAULT_CONTROL": control, "FAULT_STARTS": d.join("flaky.starts")},
        }}),
    );
    let settings = PoolSettings {
        failure_threshold: 1,
        restart_initial_ms: 60_000,
        restart_max_ms: 60_000,
        request_timeout_ms: 10_000,
        ..pool_settings()
    };
    let clock = Clock::manual(baton::model::now_ms());
    let pool = PoolHandle::start_with_clock(&settings, Some(&file), clock.clone()).expect("pool");
    wait_state(&pool, "flaky", ServerState::Ready).await;
    std::fs::write(&control, "crash").expect("write");
    // not retried: the delays between retries are timers of this clock, which stands still
    let once = CallOptions::default().idempotent(false);
    let crashed = pool
        .call(
            "flaky__echo",
            json!({"text": "x"}).as_object().cloned(),
            once,
        )
        .await;
    assert!(crashed.is_err(), "{crashed:?}");
    std::fs::write(&control, "ok").expect("write");
    wait_state(&pool, "flaky", ServerState::Restarting).await;
    until("a restart timer", Duration::from_secs(10), || async {
        clock.next_timer().is_some()
    })
    .await;
    let fast = pool
        .call(
            "flaky__echo",
            json!({"text": "x"}).as_object().cloned(),
            once,
        )
        .await;
    assert!(
        matches!(fast, Err(PoolError::BreakerOpen { .. })),
        "{fast:?}"
    );

    let clock_before = clock.now();
    pool.reset("flaky").await.expect("reset");
    let started = Instant::now();
    let r = pool
        .call(
            "flaky__echo",
            json!({"text": "back"}).as_object().cloned(),
            once,
        )
        .await
        .expect("the next call goes through");
    assert_eq!(
        r.content[0].as_text().map(|t| t.text.as_str()),
        Some("back")
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(clock.now(), clock_before, "the restart delay never passed");
    assert_eq!(starts(d, "flaky").len(), 2, "started again at once");
    pool.shutdown().await;
}
