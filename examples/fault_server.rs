//! `fault_server`: a small MCP server that misbehaves on request, for tests of
//! baton's downstream-server supervision (restarts, timeouts, cancellation,
//! process-group cleanup). Integration tests find it at
//! `target/debug/examples/fault_server` (`cargo test` builds examples).
//!
//! ```sh
//! cargo build --example fault_server
//! FAULT_MODE=slow:200 target/debug/examples/fault_server          # stdio
//! target/debug/examples/fault_server --http 127.0.0.1:0           # streamable HTTP at /mcp
//! ```
//!
//! # Tools
//!
//! | tool | arguments | result |
//! |---|---|---|
//! | `echo` | `{text: string}` | text content equal to `text` |
//! | `fail` | `{message?: string}` | `isError: true`, text `message` (default `fault_server: fail`) |
//! | `sleep` | `{ms: integer}` | waits `ms`, then text `slept <ms>` |
//! | `crash` | `{}` | the process exits with code 3 at once, mid-call |
//! | `hang` | `{}` | never answers (until the call is cancelled) |
//! | `add_tool` | `{name: string}` | registers tool `name` (behaves like `echo`), sends `notifications/tools/list_changed`, text `added <name>` |
//!
//! # Prompts
//!
//! | prompt | arguments | result |
//! |---|---|---|
//! | `greet` | `{name: string}` (required) | one user message, text `Hello, <name>!` |
//!
//! The `prompts` capability is declared (with `listChanged`, though the list
//! never changes). An unknown prompt or a missing `name` is a JSON-RPC
//! `invalid_params` error. Fault modes do not apply to prompts.
//!
//! `sleep`, `hang` and the `slow`/`hang` modes end early when the client sends
//! `notifications/cancelled` (no response is sent then) or, over stdio, when
//! stdin reaches EOF: the server then exits with code 0 promptly, abandoning
//! calls in flight.
//!
//! # Fault modes (applied to every `tools/call`, whatever the tool)
//!
//! - `FAULT_MODE` (default `ok`): `ok`; `crash` (exit code 3 on any
//!   `tools/call`); `hang` (never answer `tools/call`); `slow:<ms>` (sleep
//!   `ms`, then answer normally); `error` (answer every call with
//!   `isError: true`, text `fault_server: injected error`); `exit-at-start`
//!   (exit code 2 before reading stdin: the handshake never happens). Other
//!   requests (`initialize`, `tools/list`, ...) are always answered.
//! - `FAULT_CONTROL=<path>`: the mode is re-read from this file (trimmed
//!   contents) on every `tools/call`, overriding `FAULT_MODE`; a missing or
//!   empty file means `ok`. At start, a control file saying `exit-at-start`
//!   exits with code 2 too. An unknown mode makes the call a tool error.
//!
//! # The call log
//!
//! `FAULT_CALLS=<path>`: every `tools/call` that reaches the server appends
//! one line `<tool> <arguments as JSON>\n` before anything else happens to
//! it (the server's own record of what it was asked to do).
//!
//! # Start-up side effects, in this order
//!
//! 1. `FAULT_GRANDCHILD=1`: spawn a grandchild `sleep 600` in the server's
//!    own process group (stdio nulled, so it holds none of the server's
//!    pipes; not spawned in `exit-at-start`).
//! 2. `FAULT_STARTS=<path>`: append one line `<pid> <unix_millis>
//!    <grandchild_pid_or_0>\n` (also in `exit-at-start`, so failed starts are
//!    counted).
//! 3. One line to stderr: `fault_server started pid=<pid> mode=<mode>`, where
//!    `<mode>` is the start-up mode as written (control file, else
//!    `FAULT_MODE`).
//! 4. `exit-at-start`: exit with code 2.
//!
//! With `--http <addr>` the same tools are served over streamable HTTP
//! (stateful sessions, loopback `Host` only) at `/mcp`, and once bound the
//! server prints `fault_server listening on http://<bound addr>/mcp` to
//! stdout. Tools added with `add_tool` are shared by all sessions; only the
//! calling session is notified. Logs (`tracing`, filter `FAULT_LOG`, default
//! `info,rmcp=warn`) go to stderr. Exit codes: 0 normal end, 1 start-up
//! failure, 2 `exit-at-start`, 3 crash, 64 bad command line.

// rmcp's tool-error type is `CallToolResult` itself; returning it by value is the API.
#![allow(clippy::result_large_err)]

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Write as _};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Command, ExitCode, Stdio};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult, ListToolsResult,
    PaginatedRequestParams, Prompt, PromptArgument, PromptMessage, Role, ServerCapabilities,
    ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::ServiceExt as _;
use rmcp::{schemars, tool, tool_router, ErrorData as McpError, RoleServer, ServerHandler};
use serde::Deserialize;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::watch;

/// Exit code of `crash` (the tool and the mode).
const EXIT_CRASH: i32 = 3;
/// Exit code of `exit-at-start`.
const EXIT_AT_START: u8 = 2;
/// Exit code of a bad command line.
const EXIT_USAGE: u8 = 64;

// ---- fault modes -------------------------------------------------------------

/// What every `tools/call` does before (or instead of) running the tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ok,
    Crash,
    Hang,
    Slow(u64),
    Error,
    ExitAtStart,
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "ok" => Ok(Self::Ok),
            "crash" => Ok(Self::Crash),
            "hang" => Ok(Self::Hang),
            "error" => Ok(Self::Error),
            "exit-at-start" => Ok(Self::ExitAtStart),
            other => match other.strip_prefix("slow:") {
                Some(ms) => ms
                    .trim()
                    .parse()
                    .map(Self::Slow)
                    .map_err(|e| format!("bad FAULT_MODE `{other}`: {e}")),
                None => Err(format!("unknown FAULT_MODE `{other}`")),
            },
        }
    }
}

/// Where the mode comes from: the control file (re-read on every call) or
/// `FAULT_MODE` (read once).
#[derive(Debug, Clone)]
enum ModeSource {
    Env(String),
    Control(PathBuf),
}

impl ModeSource {
    fn from_env() -> Self {
        match std::env::var_os("FAULT_CONTROL") {
            Some(p) if !p.is_empty() => Self::Control(PathBuf::from(p)),
            _ => Self::Env(std::env::var("FAULT_MODE").unwrap_or_else(|_| "ok".to_owned())),
        }
    }

    /// The mode as written (trimmed); a missing control file means `ok`.
    fn raw(&self) -> Result<String, String> {
        match self {
            Self::Env(m) if m.trim().is_empty() => Ok("ok".to_owned()),
            Self::Env(m) => Ok(m.trim().to_owned()),
            Self::Control(path) => match std::fs::read_to_string(path) {
                Ok(s) if s.trim().is_empty() => Ok("ok".to_owned()),
                Ok(s) => Ok(s.trim().to_owned()),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok("ok".to_owned()),
                Err(e) => Err(format!("cannot read FAULT_CONTROL {}: {e}", path.display())),
            },
        }
    }

    fn current(&self) -> Result<Mode, String> {
        self.raw()?.parse()
    }
}

// ---- the server --------------------------------------------------------------

/// Arguments of `echo` (and of tools added with `add_tool`).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct EchoArgs {
    /// Text to send back.
    text: String,
}

/// Arguments of `fail`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct FailArgs {
    /// The error text (default `fault_server: fail`).
    #[serde(default)]
    message: Option<String>,
}

/// Arguments of `sleep`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct SleepArgs {
    /// Milliseconds to wait before answering.
    ms: u64,
}

/// Arguments of `add_tool`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct AddToolArgs {
    /// Name of the new tool (it behaves like `echo`).
    name: String,
}

/// The fault-injection server. Clones (one per HTTP session) share the mode
/// source, the added tools and the stdin-EOF signal.
#[derive(Clone)]
struct FaultServer {
    tool_router: ToolRouter<FaultServer>,
    modes: Arc<ModeSource>,
    /// Tools registered with `add_tool`, shared by every session.
    extra: Arc<Mutex<BTreeSet<String>>>,
    /// Becomes true when stdin reaches EOF (never over HTTP).
    stdin_closed: watch::Receiver<bool>,
}

fn text_result(text: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(text)])
}

fn error_result(text: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// The fixed prompt `greet {name}`.
fn greet_prompt() -> Prompt {
    Prompt::new(
        "greet",
        Some("Greet someone by name."),
        Some(vec![PromptArgument::new("name")
            .with_description("Who to greet.")
            .with_required(true)]),
    )
}

impl FaultServer {
    fn new(modes: Arc<ModeSource>, stdin_closed: watch::Receiver<bool>) -> Self {
        Self {
            tool_router: Self::tool_router(),
            modes,
            extra: Arc::default(),
            stdin_closed,
        }
    }

    fn with_extra(mut self, extra: Arc<Mutex<BTreeSet<String>>>) -> Self {
        self.extra = extra;
        self
    }

    /// Resolves when the call is cancelled or stdin reaches EOF.
    async fn abandoned(&self, context: &RequestContext<RoleServer>) {
        let mut closed = self.stdin_closed.clone();
        tokio::select! {
            () = context.ct.cancelled() => {}
            // An error means the sender is gone, which also ends the server.
            _ = closed.wait_for(|c| *c) => {}
        }
    }

    /// The definition of an added tool: `echo`'s schema under a new name.
    fn extra_tool(&self, name: &str) -> Option<Tool> {
        let known = self
            .extra
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(name);
        if !known {
            return None;
        }
        let mut tool = self.tool_router.get("echo")?.clone();
        tool.name = name.to_owned().into();
        tool.title = None;
        tool.description = Some("Added with add_tool; echoes `text`.".into());
        Some(tool)
    }
}

#[tool_router]
impl FaultServer {
    /// Echo `text` back as text content.
    #[tool(annotations(read_only_hint = true, idempotent_hint = true))]
    async fn echo(&self, Parameters(a): Parameters<EchoArgs>) -> CallToolResult {
        text_result(a.text)
    }

    /// Answer with a tool error (`isError: true`) whose text is `message`.
    #[tool(annotations(read_only_hint = true, idempotent_hint = true))]
    async fn fail(&self, Parameters(a): Parameters<FailArgs>) -> CallToolResult {
        error_result(a.message.unwrap_or_else(|| "fault_server: fail".to_owned()))
    }

    /// Wait `ms` milliseconds, then answer `slept <ms>`.
    #[tool(annotations(read_only_hint = true, idempotent_hint = true))]
    async fn sleep(
        &self,
        Parameters(a): Parameters<SleepArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(a.ms)) => Ok(text_result(format!("slept {}", a.ms))),
            () = self.abandoned(&context) => Err(McpError::internal_error("sleep cancelled", None)),
        }
    }

    /// Exit the process with code 3 at once, without answering.
    #[tool(annotations(destructive_hint = true))]
    async fn crash(&self) -> CallToolResult {
        tracing::warn!(code = EXIT_CRASH, "crash tool called: exiting");
        std::process::exit(EXIT_CRASH)
    }

    /// Never answer (until the call is cancelled).
    #[tool(annotations(read_only_hint = true))]
    async fn hang(&self, context: RequestContext<RoleServer>) -> Result<CallToolResult, McpError> {
        self.abandoned(&context).await;
        Err(McpError::internal_error("hang cancelled", None))
    }

    /// Register a tool `name` that behaves like `echo`, and notify
    /// `notifications/tools/list_changed`.
    #[tool(annotations(destructive_hint = false, idempotent_hint = true))]
    async fn add_tool(
        &self,
        Parameters(a): Parameters<AddToolArgs>,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let name = a.name.trim().to_owned();
        if name.is_empty() {
            return error_result("add_tool: `name` must not be empty");
        }
        if self.tool_router.has_route(&name) {
            return error_result(format!("add_tool: `{name}` is a built-in tool"));
        }
        self.extra
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.clone());
        tracing::info!(tool = %name, "tool added");
        if let Err(e) = context.peer.notify_tool_list_changed().await {
            tracing::warn!(error = %e, "could not send tools/list_changed");
        }
        text_result(format!("added {name}"))
    }
}

impl ServerHandler for FaultServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_prompts()
                .enable_prompts_list_changed()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(Implementation::new(
            "fault_server",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions("Fault-injection MCP server for baton's tests.")
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let mut tools = self.tool_router.list_all();
        let extra: Vec<String> = self
            .extra
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect();
        tools.extend(extra.iter().filter_map(|n| self.extra_tool(n)));
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(vec![greet_prompt()]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        if request.name != "greet" {
            return Err(McpError::invalid_params(
                format!("unknown prompt `{}`", request.name),
                None,
            ));
        }
        let name = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("name"))
            .and_then(|v| v.as_str())
            .ok_or_else(|| McpError::invalid_params("greet: `name` (string) is required", None))?;
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(
            Role::User,
            format!("Hello, {name}!"),
        )])
        .into())
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tool_router
            .get(name)
            .cloned()
            .or_else(|| self.extra_tool(name))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if let Some(path) = std::env::var_os("FAULT_CALLS").filter(|p| !p.is_empty()) {
            let args = serde_json::Value::Object(request.arguments.clone().unwrap_or_default());
            let line = format!("{} {args}\n", request.name);
            let logged = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut f| f.write_all(line.as_bytes()));
            if let Err(e) = logged {
                tracing::error!(error = %e, "cannot append to FAULT_CALLS");
            }
        }
        let mode = match self.modes.current() {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, tool = %request.name, "bad fault mode");
                return Ok(error_result(format!("fault_server: {e}")).into());
            }
        };
        tracing::debug!(?mode, tool = %request.name, "tools/call");
        match mode {
            Mode::Ok | Mode::ExitAtStart => {}
            Mode::Crash => {
                tracing::warn!(code = EXIT_CRASH, tool = %request.name, "mode crash: exiting");
                std::process::exit(EXIT_CRASH);
            }
            Mode::Hang => {
                self.abandoned(&context).await;
                return Err(McpError::internal_error("hang cancelled", None));
            }
            Mode::Slow(ms) => {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(ms)) => {}
                    () = self.abandoned(&context) => {
                        return Err(McpError::internal_error("slow call cancelled", None));
                    }
                }
            }
            Mode::Error => return Ok(error_result("fault_server: injected error").into()),
        }
        if self.extra_tool(&request.name).is_some() {
            let args = serde_json::Value::Object(request.arguments.unwrap_or_default());
            return match serde_json::from_value::<EchoArgs>(args) {
                Ok(a) => Ok(text_result(a.text).into()),
                Err(e) => Err(McpError::invalid_params(
                    format!("{}: bad arguments: {e}", request.name),
                    None,
                )),
            };
        }
        let tcc = ToolCallContext::new(self, request, context);
        self.tool_router.call(tcc).await
    }
}

// ---- stdin EOF detection -----------------------------------------------------

/// Stdin that flips `closed` to true when it reaches EOF, so calls in flight
/// (`hang`, `sleep`, slow mode) end and the server exits promptly.
struct EofSignal<R> {
    inner: R,
    closed: watch::Sender<bool>,
}

impl<R: AsyncRead + Unpin> AsyncRead for EofSignal<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let had_room = buf.remaining() > 0;
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            if had_room && buf.filled().len() == before {
                tracing::info!("stdin closed");
                self.closed.send_replace(true);
            }
        }
        polled
    }
}

// ---- start-up ----------------------------------------------------------------

fn unix_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Spawn the `sleep 600` grandchild in this process's group.
fn spawn_grandchild() -> std::io::Result<u32> {
    let child = Command::new("sleep")
        .arg("600")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    // Not waited for: it must outlive us unless the whole group is killed.
    Ok(child.id())
}

fn record_start(path: &PathBuf, pid: u32, grandchild: u32) -> std::io::Result<()> {
    let line = format!("{pid} {} {grandchild}\n", unix_millis());
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(line.as_bytes())?;
    f.flush()
}

/// Performs the start-up side effects; `Err` is the process exit code.
fn start(modes: &ModeSource) -> Result<(), ExitCode> {
    let pid = std::process::id();
    let raw = modes.raw().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read the start-up mode; assuming ok");
        "ok".to_owned()
    });
    let parsed = raw.parse::<Mode>();
    if let Err(e) = &parsed {
        tracing::warn!(error = %e, "unknown start-up mode; tools/call will fail");
    }
    let exit_at_start = parsed == Ok(Mode::ExitAtStart);
    let want_grandchild = std::env::var_os("FAULT_GRANDCHILD").is_some_and(|v| v == "1");
    let grandchild = if want_grandchild && !exit_at_start {
        match spawn_grandchild() {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, "cannot spawn the grandchild `sleep 600`");
                return Err(ExitCode::FAILURE);
            }
        }
    } else {
        0
    };
    if let Some(path) = std::env::var_os("FAULT_STARTS").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if let Err(e) = record_start(&path, pid, grandchild) {
            tracing::error!(error = %e, path = %path.display(), "cannot append to FAULT_STARTS");
            return Err(ExitCode::FAILURE);
        }
    }
    eprintln!("fault_server started pid={pid} mode={raw}");
    tracing::debug!(pid, mode = %raw, grandchild, "started");
    if exit_at_start {
        tracing::warn!(code = EXIT_AT_START, "exit-at-start: exiting");
        return Err(ExitCode::from(EXIT_AT_START));
    }
    Ok(())
}

async fn serve_stdio(modes: Arc<ModeSource>) -> ExitCode {
    let (closed_tx, closed_rx) = watch::channel(false);
    let stdin = EofSignal {
        inner: tokio::io::stdin(),
        closed: closed_tx,
    };
    let server = FaultServer::new(modes, closed_rx);
    let running = match server.serve((stdin, tokio::io::stdout())).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "MCP handshake failed");
            return ExitCode::FAILURE;
        }
    };
    match running.waiting().await {
        Ok(reason) => {
            tracing::info!(?reason, "stdio session ended");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "stdio session failed");
            ExitCode::FAILURE
        }
    }
}

async fn serve_http(modes: Arc<ModeSource>, addr: &str) -> std::io::Result<()> {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp_actix_web::transport::StreamableHttpService;

    // Never flips: HTTP calls end only by cancellation. The sender must stay
    // alive, or `wait_for` would resolve at once.
    let (closed_tx, closed_rx) = watch::channel(false);
    let extra: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let service = StreamableHttpService::builder()
        .service_factory(Arc::new(move || {
            Ok(FaultServer::new(modes.clone(), closed_rx.clone()).with_extra(extra.clone()))
        }))
        .session_manager(Arc::new(LocalSessionManager::default()))
        .stateful_mode(true)
        .sse_keep_alive(Duration::from_secs(15))
        .build();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .service(actix_web::web::scope("/mcp").service(service.clone().scope()))
    })
    .workers(1)
    .bind(addr)?;
    for bound in server.addrs() {
        println!("fault_server listening on http://{bound}/mcp");
    }
    std::io::stdout().flush()?;
    tracing::info!(addrs = ?server.addrs(), "serving streamable HTTP at /mcp");
    let result = server.run().await;
    drop(closed_tx);
    result
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FAULT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rmcp=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();

    let args: Vec<String> = std::env::args().skip(1).collect();
    let http = match args.as_slice() {
        [] => None,
        [flag, addr] if flag == "--http" => Some(addr.clone()),
        _ => {
            eprintln!(
                "usage: fault_server [--http <addr>]   (see the module docs for FAULT_* env vars)"
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let modes = Arc::new(ModeSource::from_env());
    if let Err(code) = start(&modes) {
        return code;
    }

    match http {
        None => {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "cannot build the tokio runtime");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(serve_stdio(modes))
        }
        Some(addr) => match actix_web::rt::System::new().block_on(serve_http(modes, &addr)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, %addr, "HTTP server failed");
                ExitCode::FAILURE
            }
        },
    }
}
