//! The rmcp client side of one connection: the [`GatewayClient`] handler
//! (tells its actor when the server's tool or prompt list changed) and
//! [`connect`] (spawn or dial, `initialize`, first `tools/list`, first
//! `prompts/list` when the server offers prompts).

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use actix::Recipient;
use nix::sys::signal::Signal;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, Prompt, Tool};
use rmcp::service::{NotificationContext, RoleClient, RunningService, ServiceError};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ServiceExt};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use super::events::{PromptListChanged, ToolListChanged};
use super::process::ProcessGroup;
use super::spec::{check_url, ServerSpec, Transport};

/// Longest stderr line forwarded to the log; the rest of the line is dropped.
const MAX_STDERR_LINE: usize = 8 * 1024;

/// The client handler of one connection: tells its server's actor (through
/// these recipients) when the server's tool or prompt list changed.
#[derive(Clone)]
pub(crate) struct GatewayClient {
    tools: Recipient<ToolListChanged>,
    prompts: Recipient<PromptListChanged>,
    generation: u64,
}

impl GatewayClient {
    /// The handler of connection `generation`, reporting to `tools` and `prompts`.
    pub(crate) fn new(
        tools: Recipient<ToolListChanged>,
        prompts: Recipient<PromptListChanged>,
        generation: u64,
    ) -> Self {
        Self {
            tools,
            prompts,
            generation,
        }
    }
}

impl ClientHandler for GatewayClient {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.tools.do_send(ToolListChanged {
            generation: self.generation,
        });
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.prompts.do_send(PromptListChanged {
            generation: self.generation,
        });
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("baton", env!("CARGO_PKG_VERSION")),
        )
    }
}

/// Why a connection attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StartError {
    /// A retry will not fix it: the command is not found or not executable,
    /// the working directory does not exist, the URL or a header is
    /// malformed. The server is `misconfigured` until a reload.
    Misconfigured(String),
    /// Anything else (the child exited, no `initialize` answer in time, a
    /// refused connection …): retried after the restart delay.
    Failed(String),
}

impl From<String> for StartError {
    fn from(reason: String) -> Self {
        StartError::Failed(reason)
    }
}

/// A spawn failure a retry cannot fix, as a reason; `None` for others.
fn unfixable_spawn(
    command: &str,
    cwd: Option<&std::path::Path>,
    e: &std::io::Error,
) -> Option<String> {
    use std::io::ErrorKind;
    if let Some(dir) = cwd.filter(|d| !d.is_dir()) {
        return Some(format!(
            "working directory {} does not exist",
            dir.display()
        ));
    }
    match e.kind() {
        ErrorKind::NotFound => Some(format!("command not found: {command:?} ({e})")),
        ErrorKind::PermissionDenied => Some(format!("permission denied running {command:?} ({e})")),
        // ENOEXEC: not an executable the kernel can run
        _ if e.raw_os_error() == Some(8) => Some(format!("{command:?} is not an executable ({e})")),
        _ => None,
    }
}

/// A live, initialised connection.
pub(crate) struct Connected {
    pub(crate) service: RunningService<RoleClient, GatewayClient>,
    pub(crate) group: Option<ProcessGroup>,
    pub(crate) pid: Option<u32>,
    pub(crate) tools: Vec<Tool>,
    /// Whether the server declared the `prompts` capability in `initialize`.
    pub(crate) has_prompts: bool,
    /// Its prompts (empty without the `prompts` capability).
    pub(crate) prompts: Vec<Prompt>,
}

/// Start a connection: spawn the child (own process group, stderr to the
/// log) or dial the URL, `initialize`, list the tools and (if the server
/// declared the `prompts` capability) the prompts; all within the
/// server's `startup_timeout`. `pending` receives the child's group id as
/// soon as it exists, so a caller that abandons this future can still kill
/// the group. On failure nothing is left running; a failure a retry cannot
/// fix is [`StartError::Misconfigured`].
pub(crate) async fn connect(
    spec: &ServerSpec,
    handler: GatewayClient,
    pending: Arc<AtomicI32>,
) -> Result<Connected, StartError> {
    let deadline = tokio::time::Instant::now() + spec.options.startup_timeout();
    let (service, group, pid) = match &spec.transport {
        Transport::Stdio {
            command,
            args,
            env,
            cwd,
        } => {
            let mut cmd = tokio::process::Command::new(command);
            cmd.args(args).envs(env).process_group(0);
            if let Some(cwd) = cwd {
                cmd.current_dir(cwd);
            }
            let (transport, stderr) = TokioChildProcess::builder(cmd)
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| match unfixable_spawn(command, cwd.as_deref(), &e) {
                    Some(reason) => StartError::Misconfigured(reason),
                    None => StartError::Failed(format!("cannot start {command:?}: {e}")),
                })?;
            let pid = transport.id();
            let group = pid.and_then(ProcessGroup::of_leader);
            if let Some(g) = group {
                pending.store(g.id(), Ordering::SeqCst);
            }
            if let Some(stderr) = stderr {
                actix_rt::spawn(forward_stderr(spec.name.clone(), pid, stderr));
            }
            tracing::info!(server = %spec.name, pid, command = %command, "MCP server process started");
            let served = tokio::time::timeout_at(deadline, handler.serve(transport)).await;
            match served {
                Ok(Ok(service)) => (service, group, pid),
                Ok(Err(e)) => {
                    kill(group);
                    return Err(format!("initialize failed: {e}").into());
                }
                Err(_) => {
                    kill(group);
                    return Err(format!(
                        "no initialize response within {} ms",
                        spec.options.startup_timeout_ms
                    )
                    .into());
                }
            }
        }
        Transport::Http { url, headers } => {
            check_url(url).map_err(|e| StartError::Misconfigured(e.to_string()))?;
            let headers = headers
                .iter()
                .map(|(k, v)| {
                    Ok((
                        reqwest::header::HeaderName::from_bytes(k.as_bytes())
                            .map_err(|e| format!("header {k:?}: {e}"))?,
                        reqwest::header::HeaderValue::from_str(v)
                            .map_err(|e| format!("header {k:?}: {e}"))?,
                    ))
                })
                .collect::<Result<HashMap<_, _>, String>>()
                .map_err(StartError::Misconfigured)?;
            // as many POSTs in flight as the pool lets calls through: no hidden queue
            let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                .custom_headers(headers)
                .max_concurrent_requests(spec.options.max_concurrent_calls as usize);
            let transport = StreamableHttpClientTransport::from_config(config);
            match tokio::time::timeout_at(deadline, handler.serve(transport)).await {
                Ok(Ok(service)) => (service, None, None),
                Ok(Err(e)) => return Err(format!("initialize failed: {e}").into()),
                Err(_) => {
                    return Err(format!(
                        "no initialize response within {} ms",
                        spec.options.startup_timeout_ms
                    )
                    .into())
                }
            }
        }
    };
    let tools = match tokio::time::timeout_at(deadline, service.peer().list_all_tools()).await {
        Ok(Ok(tools)) => tools,
        // a server without tools support answers with a JSON-RPC error
        Ok(Err(ServiceError::McpError(e))) => {
            tracing::info!(server = %spec.name, error = %e, "tools/list refused; the server has no tools");
            Vec::new()
        }
        Ok(Err(e)) => {
            close(service, group).await;
            return Err(format!("tools/list failed: {e}").into());
        }
        Err(_) => {
            close(service, group).await;
            return Err(format!(
                "no tools/list response within {} ms",
                spec.options.startup_timeout_ms
            )
            .into());
        }
    };
    let has_prompts = service
        .peer_info()
        .is_some_and(|info| info.capabilities.prompts.is_some());
    let prompts = if has_prompts {
        match tokio::time::timeout_at(deadline, service.peer().list_all_prompts()).await {
            Ok(Ok(prompts)) => prompts,
            // declared but refused: serve without prompts rather than not at all
            Ok(Err(ServiceError::McpError(e))) => {
                tracing::warn!(server = %spec.name, error = %e, "prompts/list refused; serving no prompts");
                Vec::new()
            }
            Ok(Err(e)) => {
                close(service, group).await;
                return Err(format!("prompts/list failed: {e}").into());
            }
            Err(_) => {
                close(service, group).await;
                return Err(format!(
                    "no prompts/list response within {} ms",
                    spec.options.startup_timeout_ms
                )
                .into());
            }
        }
    } else {
        Vec::new()
    };
    Ok(Connected {
        service,
        group,
        pid,
        tools,
        has_prompts,
        prompts,
    })
}

fn kill(group: Option<ProcessGroup>) {
    if let Some(g) = group {
        g.signal(Signal::SIGKILL);
    }
}

/// Close a connection that never became ready: kill first, so rmcp's own
/// shutdown (close stdin, wait, signal) finds the child already gone.
async fn close(service: RunningService<RoleClient, GatewayClient>, group: Option<ProcessGroup>) {
    kill(group);
    let _ = service.cancel().await;
}

/// The child's stderr, line by line, into the log with the server's name.
async fn forward_stderr(server: String, pid: Option<u32>, stderr: impl AsyncRead + Unpin) {
    let mut reader = BufReader::new(stderr);
    let mut line: Vec<u8> = Vec::new();
    let mut truncated = false;
    let emit = |line: &[u8], truncated: bool| {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        tracing::info!(target: "baton::pool::stderr", server = %server, pid, truncated, "{text}");
    };
    loop {
        let (used, newline) = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(buf) => {
                let newline = buf.iter().position(|b| *b == b'\n');
                let chunk = &buf[..newline.unwrap_or(buf.len())];
                let room = MAX_STDERR_LINE.saturating_sub(line.len());
                line.extend_from_slice(&chunk[..chunk.len().min(room)]);
                truncated |= chunk.len() > room;
                (
                    chunk.len() + usize::from(newline.is_some()),
                    newline.is_some(),
                )
            }
        };
        reader.consume(used);
        if newline {
            emit(&line, truncated);
            line.clear();
            truncated = false;
        }
    }
    if !line.is_empty() {
        emit(&line, truncated);
    }
}
