//! The HTTP front of `/mcp`: actix-web in front of rmcp's streamable HTTP
//! service ([`rmcp::transport::streamable_http_server::StreamableHttpService`],
//! which owns sessions, protocol negotiation, SSE and the DNS-rebinding
//! checks). rmcp parses exactly one JSON-RPC message per POST and answers
//! anything else with 415; this front does what it does not:
//!
//! - **Batches** (protocol 2025-03-26, which requires them; clients of later
//!   versions send `MCP-Protocol-Version`, and a batch from them is refused
//!   with `-32600`): each message goes to rmcp on its own, concurrently, and
//!   the answers come back as one JSON array (`application/json`, which that
//!   revision allows); a batch of only notifications and responses gets 202.
//!   `initialize` may not be batched (`-32600` for that element).
//! - **Parse errors**: a POST declaring `application/json` whose body is not
//!   JSON gets 400 with a JSON-RPC parse error (`-32700`), JSON that is not a
//!   JSON-RPC message 400 with `-32600` — never 415, which only a wrong
//!   `Content-Type` gets.
//! - **Session ends**: `DELETE` of a live session answers 204, of an unknown
//!   or already ended one 404 (rmcp answers 202 to both).
//! - **Repeated keys**: rmcp reads a message into a `serde_json::Value`, where
//!   the last of two equal keys wins before any tool sees it; a body in which
//!   any object repeats a key is refused first, with 400 and the JSON-RPC
//!   error of `duplicate_key_refusal` (the stdio server and bridge use the
//!   same check).
//!
//! It also strips `Authorization` before rmcp (tokens are never passed on)
//! and carries per-request values to the handlers: the tool profile of
//! `?profile=` and the [`Caller`] baton's guard authenticated
//! (`request_value` reads them back). The guard itself (`edge_check`,
//! `authorize_check(Access::Mcp, ..)`) wraps this resource in
//! [`crate::Runtime::configure`].

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http_body_util::{BodyDataStream, BodyExt, Full};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{
    SessionManager, StreamableHttpServerConfig, StreamableHttpService,
};
use rmcp::RoleServer;
use serde_json::{json, Value};

use super::BatonMcp;
use crate::auth::Caller;
use crate::board::Board;
use crate::config::{McpSettings, ToolProfile};

/// Largest POST body, in bytes (rmcp's own default limit; 413 beyond).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The one protocol version whose clients may send JSON-RPC batches.
const BATCH_VERSION: &str = "2025-03-26";

type Rmcp = StreamableHttpService<BatonMcp, LocalSessionManager>;

/// The `/mcp` service, built once per runtime (it owns the session store,
/// which every actix worker must share); mount it with [`McpService::resource`].
#[derive(Clone)]
pub struct McpService {
    rmcp: Rmcp,
    sessions: Arc<LocalSessionManager>,
}

impl std::fmt::Debug for McpService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpService").finish_non_exhaustive()
    }
}

impl McpService {
    /// Build the service for `board` from `[mcp]` settings (the default tool
    /// profile). `Host`/`Origin` checks and authentication are baton's guard's,
    /// in front of this service (see [`crate::auth`]). A `?profile=core|full`
    /// query on `/mcp` picks the profile per connection; the [`Caller`] the
    /// guard authenticated reaches the handlers in the request's extensions.
    pub fn new(board: Board, settings: &McpSettings) -> Self {
        let profile = settings.profile;
        let sessions = Arc::new(LocalSessionManager::default());
        // Host/Origin checks are the guard's, in front of /mcp (`crate::auth`):
        // rmcp's own lists are left empty (accept all)
        let mut config = StreamableHttpServerConfig::default()
            .disable_allowed_hosts()
            .disable_allowed_origins();
        config.legacy_session_mode = true;
        config.sse_keep_alive = Some(Duration::from_secs(15));
        config.max_request_body_bytes = MAX_BODY_BYTES;
        // a shutdown ends every session and its streams (`Runtime::close_streams`)
        config.cancellation_token = board.closing().child_token();
        let rmcp = StreamableHttpService::new(
            move || Ok(BatonMcp::new(board.clone()).with_profile(profile)),
            sessions.clone(),
            config,
        );
        Self { rmcp, sessions }
    }

    /// The actix resource answering `/mcp` (and `/mcp/`), every method.
    pub fn resource(&self) -> actix_web::Resource {
        web::resource(["/mcp", "/mcp/"])
            .app_data(web::Data::new(self.clone()))
            .default_service(web::to(handle))
    }

    /// Whether `id` names a live session.
    async fn is_live(&self, id: &str) -> bool {
        self.sessions.has_session(&id.into()).await.unwrap_or(false)
    }

    /// One message (or anything that is not a batch) through rmcp.
    async fn forward(&self, req: &HttpRequest, body: Bytes) -> http::Response<RmcpBody> {
        self.rmcp.handle(bridge(req, body)).await
    }

    /// A JSON-RPC batch (see the module doc).
    async fn batch(&self, req: &HttpRequest, items: Vec<Value>) -> HttpResponse {
        if let Some(v) = protocol_version(req) {
            if v != BATCH_VERSION {
                return rpc_error(
                    StatusCode::BAD_REQUEST,
                    Value::Null,
                    -32600,
                    format!("JSON-RPC batches are part of protocol version {BATCH_VERSION} only; this request says {v}: send one message per POST"),
                );
            }
        }
        if items.is_empty() {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                Value::Null,
                -32600,
                "an empty batch is not a valid request",
            );
        }
        if let Some(id) = session_id(req) {
            if !self.is_live(id).await {
                return session_not_found();
            }
        }
        let answers = futures_util::future::join_all(
            items.into_iter().map(|item| self.batch_item(req, item)),
        )
        .await;
        let answers: Vec<Value> = answers.into_iter().flatten().collect();
        if answers.is_empty() {
            return HttpResponse::Accepted().finish();
        }
        HttpResponse::Ok().json(Value::Array(answers))
    }

    /// One element of a batch: its answer, if it is a request.
    async fn batch_item(&self, req: &HttpRequest, item: Value) -> Option<Value> {
        let id = item.get("id").cloned();
        let is_request = item.get("method").is_some() && id.is_some();
        if item.get("method").and_then(Value::as_str) == Some("initialize") {
            return Some(error_object(
                id.unwrap_or(Value::Null),
                -32600,
                "initialize must not be part of a batch",
            ));
        }
        if let Err(e) = serde_json::from_value::<ClientJsonRpcMessage>(item.clone()) {
            return Some(error_object(
                id.unwrap_or(Value::Null),
                -32600,
                format!("invalid JSON-RPC message: {e}"),
            ));
        }
        let body = Bytes::from(serde_json::to_vec(&item).ok()?);
        let res = self.forward(req, body).await;
        let status = res.status();
        let is_sse = res
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let body = res.into_body().collect().await.ok()?.to_bytes();
        let id = id?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body).into_owned();
            return is_request.then(|| error_object(id, -32600, text));
        }
        if !is_request {
            return None;
        }
        let answer = |m: &Value| m.get("id") == Some(&id) && m.get("method").is_none();
        if is_sse {
            sse_messages(&body).into_iter().find(answer)
        } else {
            serde_json::from_slice::<Value>(&body).ok().filter(answer)
        }
    }
}

type RmcpBody = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

/// Every request to `/mcp`.
async fn handle(
    req: HttpRequest,
    mut payload: web::Payload,
    svc: web::Data<McpService>,
) -> HttpResponse {
    let method = req.method().clone();
    if method == actix_web::http::Method::DELETE {
        if let Some(id) = session_id(&req) {
            if !svc.is_live(id).await {
                return session_not_found();
            }
        }
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            return HttpResponse::BadRequest().body("Bad Request: the body could not be read");
        };
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return HttpResponse::PayloadTooLarge().body(format!(
                "Payload Too Large: request body exceeds {MAX_BODY_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let json = method == actix_web::http::Method::POST && declares_json(&req);
    if json {
        if let Some(refusal) = duplicate_key_refusal(&body) {
            return HttpResponse::BadRequest().json(refusal);
        }
    }
    if json && body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return match serde_json::from_slice::<Vec<Value>>(&body) {
            Ok(items) => svc.batch(&req, items).await,
            Err(e) => parse_error(&e),
        };
    }
    let res = svc.forward(&req, body.clone()).await;
    // rmcp answers a body it cannot read as one message with 415; for a body
    // declared as JSON that is a parse error or an invalid request
    if json && res.status() == http::StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return match serde_json::from_slice::<Value>(&body) {
            Err(e) => parse_error(&e),
            Ok(v) => {
                let detail = serde_json::from_value::<ClientJsonRpcMessage>(v.clone())
                    .err()
                    .map_or_else(|| "not a JSON-RPC message".to_owned(), |e| e.to_string());
                rpc_error(
                    StatusCode::BAD_REQUEST,
                    v.get("id").cloned().unwrap_or(Value::Null),
                    -32600,
                    format!("invalid JSON-RPC message: {detail}"),
                )
            }
        };
    }
    let mut out = to_actix(res);
    if method == actix_web::http::Method::DELETE && out.status() == StatusCode::ACCEPTED {
        *out.status_mut() = StatusCode::NO_CONTENT;
    }
    out
}

/// The JSON-RPC error answering a message (or batch) in which an object
/// repeats a key, or `None` when none does (text that is not JSON is left to
/// the usual parse error). Inside `params` it is invalid params (-32602),
/// elsewhere a parse error (-32700); the message names the key and where it
/// is, and `id` is the message's own unless `id` is the repeated key.
pub(crate) fn duplicate_key_refusal(text: &[u8]) -> Option<Value> {
    use crate::core::json::{check_unique_keys, JsonError};
    let Err(JsonError::DuplicateKey(d)) = check_unique_keys(text) else {
        return None;
    };
    let in_params = d.at == "params" || d.at.starts_with("params.");
    let id = if d.at.is_empty() && d.key == "id" {
        Value::Null
    } else {
        // last key wins here, which is right for every key but the repeated one
        serde_json::from_slice::<Value>(text)
            .ok()
            .and_then(|v| v.get("id").cloned())
            .unwrap_or(Value::Null)
    };
    let (code, kind) = if in_params {
        (-32602, "invalid params")
    } else {
        (-32700, "parse error")
    };
    Some(error_object(id, code, format!("{kind}: {d}")))
}

/// A value the front put into this request for the handlers (the tool
/// profile of `?profile=`), read back from the handler's context.
pub(crate) fn request_value<T: Clone + Send + Sync + 'static>(
    context: &RequestContext<RoleServer>,
) -> Option<&T> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<T>())
}

/// The actix request as the `http` 1.x request rmcp takes, with `body`.
fn bridge(req: &HttpRequest, body: Bytes) -> http::Request<Full<Bytes>> {
    let mut builder = http::Request::builder()
        .method(
            http::Method::from_bytes(req.method().as_str().as_bytes())
                .unwrap_or(http::Method::POST),
        )
        .uri(req.uri().to_string())
        .version(match req.version() {
            actix_web::http::Version::HTTP_10 => http::Version::HTTP_10,
            actix_web::http::Version::HTTP_2 => http::Version::HTTP_2,
            _ => http::Version::HTTP_11,
        });
    if let Some(headers) = builder.headers_mut() {
        for (name, value) in req.headers() {
            // tokens are checked in front of /mcp and never passed on
            if name == header::AUTHORIZATION {
                continue;
            }
            if let (Ok(n), Ok(v)) = (
                http::header::HeaderName::from_bytes(name.as_str().as_bytes()),
                http::header::HeaderValue::from_bytes(value.as_bytes()),
            ) {
                headers.append(n, v);
            }
        }
    }
    if let Some(ext) = builder.extensions_mut() {
        if let Some(profile) = ToolProfile::from_query(req.query_string()) {
            ext.insert(profile);
        }
        // who is calling, as authenticated by the guard in front of /mcp
        if let Some(caller) = actix_web::HttpMessage::extensions(req).get::<Caller>() {
            ext.insert(caller.clone());
        }
    }
    builder
        .body(Full::new(body.clone()))
        .unwrap_or_else(|_| http::Request::new(Full::new(body)))
}

/// rmcp's answer as an actix response (streamed: SSE answers stay open).
fn to_actix(res: http::Response<RmcpBody>) -> HttpResponse {
    let (parts, body) = res.into_parts();
    let status =
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(name.as_str().as_bytes()),
            header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append_header((n, v));
        }
    }
    out.streaming(BodyDataStream::new(body))
}

/// Whether the request declares a JSON body (the media type rmcp accepts).
fn declares_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
}

fn session_id(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
}

fn protocol_version(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
}

fn session_not_found() -> HttpResponse {
    rpc_error(
        StatusCode::NOT_FOUND,
        Value::Null,
        -32001,
        "session not found: it ended or never existed; initialize a new one",
    )
}

fn parse_error(e: &serde_json::Error) -> HttpResponse {
    rpc_error(
        StatusCode::BAD_REQUEST,
        Value::Null,
        -32700,
        format!("parse error: {e}"),
    )
}

fn error_object(id: Value, code: i32, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

fn rpc_error(status: StatusCode, id: Value, code: i32, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(error_object(id, code, message))
}

/// The JSON messages of an SSE body (`data:` lines; empty priming events
/// and comments skipped).
fn sse_messages(body: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(body);
    let mut out = Vec::new();
    for event in text.split("\n\n") {
        let data: Vec<&str> = event
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        let data = data.join("\n");
        if data.trim().is_empty() {
            continue;
        }
        if let Ok(v) = serde_json::from_str::<Value>(&data) {
            out.push(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_messages_skip_priming_events_and_comments() {
        let body = b"id: 0/0\nretry: 3000\ndata: \n\n: keep-alive\n\nid: 0/1\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}\n\n";
        assert_eq!(
            sse_messages(body),
            vec![json!({"jsonrpc": "2.0", "id": 7, "result": {}})]
        );
    }
}
