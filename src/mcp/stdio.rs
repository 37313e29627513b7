//! `baton mcp-stdio`: MCP over stdin/stdout for clients that only speak stdio.
//!
//! - [`bridge`] (`--url`): forwards every JSON-RPC message from stdin to a
//!   running baton's `/mcp` (streamable HTTP, one session) and writes every
//!   message the server sends — replies, progress, resource updates — to
//!   stdout, so stdio agents share the same board as HTTP agents.
//! - [`serve_in_process`] (`--data-dir`): no server running; start a runtime
//!   in this process and serve it over stdio.
//!
//! stdout carries only protocol messages (one JSON object per line); logs go
//! to stderr. In both modes a line in which any JSON object repeats a key
//! is answered with a JSON-RPC error naming the key and goes no further
//! (`front::duplicate_key_refusal`, the check `/mcp` makes): rmcp
//! would read it with the last of the two keys winning.

use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use rmcp::ServiceExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{Mutex, OnceCell};

use super::front::duplicate_key_refusal;
use crate::board::Board;
use crate::mcp::BatonMcp;

/// Why the bridge stopped.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// Reading stdin or writing stdout failed.
    #[error("stdio: {0}")]
    Io(#[from] std::io::Error),
    /// The server could not be reached or answered with an error status.
    #[error("baton at {url}: {message}")]
    Http {
        /// Endpoint.
        url: String,
        /// What happened.
        message: String,
    },
}

type Out = Arc<Mutex<tokio::io::Stdout>>;

/// The newest protocol version with HTTP sessions; newer ones are stateless.
const SESSION_PROTOCOL: &str = "2025-11-25";

async fn emit(out: &Out, line: &str) -> std::io::Result<()> {
    let mut o = out.lock().await;
    o.write_all(line.trim().as_bytes()).await?;
    o.write_all(b"\n").await?;
    o.flush().await
}

/// Write every `data:` payload of an SSE body to stdout as it arrives.
async fn pump_sse(mut res: reqwest::Response, out: &Out) -> Result<(), BridgeError> {
    let mut buf = String::new();
    let mut data = String::new();
    loop {
        let chunk = match res.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "event stream from baton ended");
                break;
            }
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(pos) = buf.find('\n') {
            let line: String = buf.drain(..=pos).collect();
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !data.trim().is_empty() {
                    emit(out, &data).await?;
                }
                data.clear();
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.trim_start());
            }
        }
    }
    if !data.trim().is_empty() {
        emit(out, &data).await?;
    }
    Ok(())
}

/// Bridge stdin/stdout to the streamable HTTP endpoint at `url`, with
/// `http` (which carries the bearer token and the CA to trust, if any).
pub async fn bridge(url: &str, http: reqwest::Client) -> Result<(), BridgeError> {
    let out: Out = Arc::new(Mutex::new(tokio::io::stdout()));
    let session: Arc<OnceCell<(String, Option<String>)>> = Arc::new(OnceCell::new());
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let err = |message: String| BridgeError::Http {
        url: url.to_owned(),
        message,
    };
    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(refusal) = duplicate_key_refusal(line.as_bytes()) {
            emit(&out, &refusal.to_string()).await?;
            continue;
        }
        let mut msg: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                let reply = serde_json::json!({"jsonrpc": "2.0", "id": null,
                    "error": {"code": -32700, "message": format!("parse error: {e}")}});
                emit(&out, &reply.to_string()).await?;
                continue;
            }
        };
        let is_initialize = msg["method"] == "initialize";
        let mut line = line;
        if is_initialize {
            // One bridge is one session: offer the newest session-based protocol, so the
            // server keeps per-session state (subscriptions, progress) for this client.
            let v = msg["params"]["protocolVersion"]
                .as_str()
                .unwrap_or_default();
            if v > SESSION_PROTOCOL {
                msg["params"]["protocolVersion"] = SESSION_PROTOCOL.into();
                line = msg.to_string();
            }
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some((sid, version)) = session.get() {
            if let Ok(v) = HeaderValue::from_str(sid) {
                headers.insert("mcp-session-id", v);
            }
            if let Some(v) = version
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                headers.insert("mcp-protocol-version", v);
            }
        }
        let res = http
            .post(url)
            .headers(headers)
            .body(line.clone())
            .send()
            .await
            .map_err(|e| err(e.to_string()))?;
        let status = res.status();
        if is_initialize {
            let sid = res
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let requested = msg["params"]["protocolVersion"].as_str().map(str::to_owned);
            if let Some(sid) = sid {
                let _ = session.set((sid, requested));
            }
        }
        if status.as_u16() == 202 {
            continue; // a notification or response was accepted
        }
        if !status.is_success() {
            let body = res.text().await.unwrap_or_default();
            // a JSON-RPC error in the body (a refused message) goes to the client as it is
            let rpc_error = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .filter(|v| v.get("error").is_some() && v.get("jsonrpc").is_some());
            if let Some(e) = rpc_error {
                if msg.get("id").is_some() {
                    emit(&out, &e.to_string()).await?;
                }
                continue;
            }
            if let Some(id) = msg.get("id") {
                let reply = serde_json::json!({"jsonrpc": "2.0", "id": id,
                    "error": {"code": -32603, "message": format!("baton answered HTTP {status}: {body}")}});
                emit(&out, &reply.to_string()).await?;
            }
            continue;
        }
        let is_sse = res
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_sse {
            // Replies may take long (wait_for_task): pump them concurrently,
            // so further requests from stdin are not held up.
            let out = out.clone();
            tokio::spawn(async move {
                if let Err(e) = pump_sse(res, &out).await {
                    tracing::warn!(error = %e, "cannot forward a reply");
                }
            });
        } else {
            let body = res.text().await.map_err(|e| err(e.to_string()))?;
            if !body.trim().is_empty() {
                emit(&out, &body).await?;
            }
        }
        if is_initialize {
            if let Some((sid, _)) = session.get() {
                // the standalone stream: server-initiated messages (resource updates, list changes)
                let (http, url, sid, out) =
                    (http.clone(), url.to_owned(), sid.clone(), out.clone());
                tokio::spawn(async move {
                    let res = http
                        .get(&url)
                        .header(ACCEPT, "text/event-stream")
                        .header("mcp-session-id", sid)
                        .send()
                        .await;
                    if let Ok(res) = res {
                        if res.status().is_success() {
                            let _ = pump_sse(res, &out).await;
                        }
                    }
                });
            }
        }
    }
    // stdin closed: end the session politely
    if let Some((sid, _)) = session.get() {
        let _ = http
            .delete(url)
            .header("mcp-session-id", sid.as_str())
            .send()
            .await;
    }
    Ok(())
}

/// Serve `board` (an in-process runtime's, [`Board`]) over stdin/stdout
/// until stdin closes; errors are stdin/stdout failures.
///
/// rmcp reads and writes through in-memory pipes: stdin's lines reach it
/// only past the repeated-key check, and its lines reach stdout whole,
/// through the same lock as the check's refusals (so the two never
/// interleave within a line).
pub async fn serve_in_process(board: &Board) -> Result<(), std::io::Error> {
    let out: Out = Arc::new(Mutex::new(tokio::io::stdout()));
    let (to_rmcp, rmcp_reads) = tokio::io::duplex(PIPE_BYTES);
    let (rmcp_writes, from_rmcp) = tokio::io::duplex(PIPE_BYTES);
    let input = tokio::spawn(checked_lines(tokio::io::stdin(), to_rmcp, out.clone()));
    let output = tokio::spawn(whole_lines(from_rmcp, out));
    let server = BatonMcp::new(board.clone());
    let running = server
        .serve((rmcp_reads, rmcp_writes))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let _ = running.waiting().await;
    input.abort();
    // rmcp's writer is dropped with the service: the output pump ends once it
    // has written everything rmcp wrote (bounded, should a writer linger)
    match tokio::time::timeout(std::time::Duration::from_secs(5), output).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(std::io::Error::other(e.to_string())),
        Err(_) => Ok(()),
    }
}

/// Buffer of each in-memory pipe between stdio and rmcp, in bytes.
const PIPE_BYTES: usize = 64 * 1024;

/// Pass every line of `input` on to `rmcp`, except one in which a JSON object
/// repeats a key: that one is answered on `out` instead. Ends (closing
/// `rmcp`'s input, which ends the service) when `input` ends or fails.
async fn checked_lines(
    input: impl tokio::io::AsyncRead + Unpin,
    mut rmcp: tokio::io::DuplexStream,
    out: Out,
) -> std::io::Result<()> {
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        if let Some(refusal) = duplicate_key_refusal(line.trim_ascii()) {
            emit(&out, &refusal.to_string()).await?;
            continue;
        }
        rmcp.write_all(&line).await?;
        if !line.ends_with(b"\n") {
            rmcp.write_all(b"\n").await?;
        }
    }
}

/// Copy what rmcp writes to `out` a whole line at a time.
async fn whole_lines(from: tokio::io::DuplexStream, out: Out) -> std::io::Result<()> {
    let mut from = BufReader::new(from);
    let mut line = Vec::new();
    loop {
        line.clear();
        if from.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let mut o = out.lock().await;
        o.write_all(&line).await?;
        o.flush().await?;
    }
}
