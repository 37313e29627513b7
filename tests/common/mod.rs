//! Shared test harness: a real baton server on 127.0.0.1:0 over a real data
//! directory, and a small REST client; child processes (`spawn_baton`,
//! [`child`]), polled waits (`wait_until`, [`wait`]) and a PostgreSQL
//! server ([`postgres`]).
#![allow(dead_code, unreachable_pub, missing_docs, unused_imports)]

pub mod child;
pub mod postgres;
pub mod wait;

pub use child::{baton_command, spawn_baton, unread_at, Announces, Child};
pub use wait::{block_until, eventually, holds, wait_until, wait_until_sync};

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::App;
use baton::{Runtime, Settings};
use serde_json::{json, Value};

pub struct TestServer {
    pub runtime: Runtime,
    pub addr: SocketAddr,
    pub base: String,
    pub http: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Start with a fresh temporary data dir; `tweak` adjusts settings.
    pub async fn start(tweak: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut settings = Settings::for_tests(dir.path());
        tweak(&mut settings);
        let mut s = Self::start_with(settings).await;
        s._dir = Some(dir);
        s
    }

    pub async fn start_with(settings: Settings) -> Self {
        Self::start_with_clock(settings, baton::Clock::system()).await
    }

    /// Start with a fresh temporary data dir and the given clock.
    pub async fn start_clocked(clock: baton::Clock, tweak: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut settings = Settings::for_tests(dir.path());
        tweak(&mut settings);
        let mut s = Self::start_with_clock(settings, clock).await;
        s._dir = Some(dir);
        s
    }

    pub async fn start_with_clock(settings: Settings, clock: baton::Clock) -> Self {
        let runtime = Runtime::start_with_clock(settings, clock)
            .await
            .expect("runtime starts");
        let mount = runtime.configure();
        let (addr, handle) = serve(move || App::new().configure(mount.clone()));
        // An idle pooled connection is dropped well before the server's
        // keep-alive (actix-web's 5 s) closes it: reusing one the server is
        // closing at that moment fails the request with `IncompleteMessage`
        // (seen in tests/leaks.rs after a long MCP phase under CI load).
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .pool_idle_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Self {
            runtime,
            addr,
            base: format!("http://{addr}/api/v1"),
            http,
            handle,
            _dir: None,
        }
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.runtime.shutdown().await.expect("shutdown");
    }

    /// Stop, then open the data directory's store again, as a restart
    /// would (a shut-down runtime's store is closed); the temporary
    /// directory lives as long as the returned guard.
    pub async fn stop_and_reopen(self) -> (baton::store::Store, Option<tempfile::TempDir>) {
        let data = self.runtime.board().settings().storage.data_dir.clone();
        self.handle.stop(true).await;
        self.runtime.shutdown().await.expect("shutdown");
        let store = baton::store::Store::open(&data, 1 << 20).expect("reopen the store");
        (store, self._dir)
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}{}", self.base, path))
            .json(&body)
            .send()
            .await
            .expect("request");
        read(res).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .put(format!("{}{}", self.base, path))
            .json(&body)
            .send()
            .await
            .expect("request");
        read(res).await
    }

    pub async fn post_raw(&self, path: &str, body: &'static str) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        read(res).await
    }

    /// POST to an agent-coordinate-mcp route (`/api/<path>`).
    pub async fn compat_post(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .post(format!("http://{}/api{}", self.addr, path))
            .json(&body)
            .send()
            .await
            .expect("request");
        read(res).await
    }

    /// GET an agent-coordinate-mcp route (`/api/<path>`).
    pub async fn compat_get(&self, path: &str) -> (u16, Value) {
        let res = self
            .http
            .get(format!("http://{}/api{}", self.addr, path))
            .send()
            .await
            .expect("request");
        read(res).await
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("http://{}/metrics", self.addr))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let res = self
            .http
            .get(format!("{}{}", self.base, path))
            .send()
            .await
            .expect("request");
        read(res).await
    }

    /// All tasks, following cursors.
    pub async fn all_tasks(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/tasks?limit=1000&cursor={c}"),
                None => "/tasks?limit=1000".to_owned(),
            };
            let (st, v) = self.get(&path).await;
            assert_eq!(st, 200, "{v}");
            out.extend(v["tasks"].as_array().cloned().unwrap_or_default());
            match v["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
    }
}

/// Serve an App built by `factory` on 127.0.0.1:0 (2 workers, no signal
/// handling, quick shutdown) in the background, with the socket options of
/// `baton serve` ([`baton::runtime::http_server`]).
pub fn serve<F, I, S, B>(factory: F) -> (SocketAddr, actix_web::dev::ServerHandle)
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: actix_web::dev::ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig>
        + 'static,
    S::Error: Into<actix_web::Error>,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_web::dev::Response<B>>,
    B: actix_web::body::MessageBody + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = baton::runtime::http_server(factory)
        .workers(2)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)
        .expect("listen")
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (addr, handle)
}

pub async fn read(res: reqwest::Response) -> (u16, Value) {
    let st = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(json!({ "raw": text }))
    };
    (st, v)
}

/// `target/<profile>/examples/fault_server` (examples/fault_server.rs),
/// built on demand when missing (`make test` builds it first).
pub fn fault_server() -> std::path::PathBuf {
    static EXE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    EXE.get_or_init(|| {
        let exe = std::path::Path::new(env!("CARGO_BIN_EXE_baton"))
            .parent()
            .expect("target dir")
            .join("examples")
            .join("fault_server");
        if !exe.exists() {
            let mut args = vec!["build", "--example", "fault_server"];
            if !cfg!(debug_assertions) {
                args.push("--release");
            }
            let status = std::process::Command::new(env!("CARGO"))
                .args(&args)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("run cargo build --example fault_server");
            assert!(
                status.success(),
                "cargo build --example fault_server failed"
            );
        }
        exe
    })
    .clone()
}

/// An rmcp client on the server's `/mcp`, with a bearer token when given.
pub async fn mcp_client(
    s: &TestServer,
    token: Option<&str>,
) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    use rmcp::ServiceExt;
    let mut config =
        StreamableHttpClientTransportConfig::with_uri(format!("http://{}/mcp", s.addr));
    if let Some(t) = token {
        config = config.auth_header(t);
    }
    ().serve(rmcp::transport::StreamableHttpClientTransport::from_config(
        config,
    ))
    .await
    .expect("MCP initialize")
}

/// Call a tool (the call must reach the server; refusals come back as tool errors).
pub async fn mcp_call(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    tool: &'static str,
    args: Value,
) -> rmcp::model::CallToolResult {
    client
        .call_tool(
            rmcp::model::CallToolRequestParams::new(tool)
                .with_arguments(args.as_object().cloned().unwrap_or_default()),
        )
        .await
        .expect("the call reaches the server")
}

/// The `{"error": {code, message, field?, …}}` of a tool error result: it
/// must be `isError: true`, carry no `structuredContent` (issue 13.7: a
/// tool's `outputSchema` describes its results, so an error there would not
/// validate) and hold that JSON as its one text block.
#[allow(dead_code)]
pub fn tool_error(r: &rmcp::model::CallToolResult) -> Value {
    assert_eq!(r.is_error, Some(true), "not a tool error: {r:?}");
    assert!(
        r.structured_content.is_none(),
        "an error result carries no structuredContent: {r:?}"
    );
    let text = r
        .content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.clone()))
        .unwrap_or_else(|| panic!("a text block: {r:?}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON error text ({e}): {text}"))
}

/// A raw streamable-HTTP MCP session on `{root}/mcp` (no SDK): `initialize`
/// with `protocol`, then `notifications/initialized`; the session id to send
/// as `Mcp-Session-Id` (with `MCP-Protocol-Version: protocol`) on later
/// requests. Panics when baton answers anything else than 200 and 202.
pub async fn mcp_session(http: &reqwest::Client, root: &str, protocol: &str) -> String {
    let url = format!("{root}/mcp");
    let res = http
        .post(&url)
        .header("Accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": protocol, "capabilities": {},
                       "clientInfo": {"name": "baton-raw-client", "version": "0"}}
        }))
        .send()
        .await
        .expect("initialize");
    assert_eq!(res.status(), 200, "initialize");
    let id = res
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .expect("Mcp-Session-Id")
        .to_owned();
    let _ = res.bytes().await;
    let res = http
        .post(&url)
        .header("Accept", "application/json, text/event-stream")
        .header("Mcp-Session-Id", &id)
        .header("MCP-Protocol-Version", protocol)
        .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .send()
        .await
        .expect("notifications/initialized");
    assert_eq!(res.status(), 202, "notifications/initialized");
    id
}

impl TestServer {
    /// Stop a server whose store has failed (its shutdown then reports that
    /// failure, which such a test expects) and hand back the guard of its
    /// temporary data directory, so another server can start on the same
    /// directory as a restart would.
    pub async fn stop_failed(self) -> Option<tempfile::TempDir> {
        self.handle.stop(true).await;
        let closed = self.runtime.shutdown().await;
        assert!(
            closed.is_err(),
            "the store had failed, so its close says so"
        );
        self._dir
    }
}
