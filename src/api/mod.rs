//! The HTTP surface: REST admin API under `/api/v1`, the
//! agent-coordinate-mcp compatible routes under `/api`, `/metrics`,
//! `/healthz`, `/readyz`, and the SSE event stream.
//!
//! | file | what |
//! |---|---|
//! | [`error`] | errors → statuses and JSON bodies, in one place |
//! | [`deadline`] | the body deadline: 408 when a body is slower than `[server] body_read_timeout_secs` |
//! | [`tasks`] | `/api/v1` handlers and their DTOs |
//! | [`subtasks`] | `/api/v1/tasks/{id}/subtasks`: subtasks under a task, a split of a held one |
//! | [`leases`] | `/api/v1/leases`: the lease history (claim → end, outcome) |
//! | [`reservations`] | `/api/v1/reservations`: path reservations, who holds a path |
//! | [`sse`] | `/api/v1/events` (Server-Sent Events with `Last-Event-ID` resume) |
//! | [`servers`] | `/api/v1/servers`: downstream MCP servers, restart, reset |
//! | [`compat`] | agent-coordinate-mcp's coordinator routes and JSON shapes |
//! | [`dashboard`] | the live web dashboard at `/` (embedded assets) |
//! | [`openapi`] | the OpenAPI 3 document at `/api/v1/openapi.json` |
//! | [`tokens`] | `/api/v1/tokens`: create, list, revoke access tokens |
//! | [`routes`] | every route in one table: method, path, the role it needs; 405 and 404 answers |
//! | [`params`] | query strings and path parameters, refused naming the parameter |
//! | [`hooks`] | `/api/v1/hooks/claude-code`: Claude Code's lifecycle hooks |

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use serde::de::DeserializeOwned;

use actix_web::HttpMessage;

use crate::auth::{Auth, Caller};
use crate::board::Board;
use crate::error::ErrorCode;

pub mod admin;
pub mod compat;
pub mod dashboard;
pub mod deadline;
pub mod error;
pub mod hooks;
pub mod leases;
pub mod messages;
pub mod openapi;
pub mod params;
pub mod reservations;
pub mod routes;
pub mod servers;
pub mod sse;
pub mod subtasks;
pub mod tasks;
pub mod tokens;

pub use error::ApiError;

/// The board acting as the request's caller (the [`Caller`] the guard put
/// in the request's extensions) for the worker its `X-Baton-Worker` header
/// names ([`Board::for_worker`]): what every handler works on. Extracting
/// it is the connection's activity: that worker's leases renew
/// ([`Board::note_activity`]). A header that is not a valid worker name is
/// refused (422 `invalid_field`).
pub struct Acting(pub Board);

impl std::ops::Deref for Acting {
    type Target = Board;
    fn deref(&self) -> &Board {
        &self.0
    }
}

impl actix_web::FromRequest for Acting {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let board = req.app_data::<web::Data<Board>>();
        let caller = req.extensions().get::<Caller>().cloned();
        let worker = crate::board::worker_from_header(
            req.headers()
                .get(crate::board::WORKER_HEADER)
                .map(|v| v.as_bytes()),
        );
        std::future::ready(match (board, caller) {
            (Some(b), Some(c)) => match worker {
                Ok(worker) => {
                    let board = b.acting_as(c.actor).for_worker(worker);
                    board.note_activity();
                    Ok(Acting(board))
                }
                Err(e) => Err(ApiError::Board(e.into())),
            },
            // a route registered outside the route table: refuse rather than act unauthenticated
            _ => Err(ApiError::Denied(error::Denial::new(
                ErrorCode::Internal,
                "this route is not guarded (not registered from the route table)",
            ))),
        })
    }
}

/// Read a JSON body (bounded by `api.max_body_bytes`). An empty body reads
/// as `T::default()` when `empty_ok`. Syntax errors are 400, type errors 422.
pub(crate) async fn json_body<T: DeserializeOwned + Default>(
    board: &Board,
    payload: web::Payload,
    empty_ok: bool,
) -> Result<T, ApiError> {
    let limit = board.settings().api.max_body_bytes;
    let bytes = match payload.to_bytes_limited(limit).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidJson,
                format!("cannot read body: {e}"),
            ))
        }
        Err(_) => return Err(ApiError::BodyTooLarge(limit)),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        if empty_ok {
            return Ok(T::default());
        }
        return Err(ApiError::bad_request(
            ErrorCode::InvalidJson,
            "a JSON body is required",
        ));
    }
    parse_json(&bytes)
}

/// Decode a JSON body through the one decoding path of every edge
/// ([`crate::core::json::from_slice`]): a repeated key is 422 naming it,
/// syntax errors 400, a body that does not fit `T` 422.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    use crate::core::json::JsonError;
    crate::core::json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e {
            JsonError::DuplicateKey(d) => ApiError::DuplicateKey(d),
            JsonError::Serde(e) if e.classify() == Category::Data => ApiError::Unprocessable {
                message: format!("invalid body: {e}"),
            },
            JsonError::Serde(e) => {
                ApiError::bad_request(ErrorCode::InvalidJson, format!("malformed JSON: {e}"))
            }
        }
    })
}

pub(crate) async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let board = req.app_data::<web::Data<Board>>().cloned();
    let start = Instant::now();
    let res = next.call(req).await?;
    if let Some(board) = board {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        board.metrics().http_request(
            res.request().method().as_str(),
            &route,
            res.status().as_u16(),
            start.elapsed(),
        );
    }
    Ok(res)
}

/// Mount every route (except `/mcp`, see [`crate::Runtime::configure`])
/// into `cfg`, each registered from [`routes`] behind the guard. Nothing is
/// registered for the App as a whole but baton's shared state (the board and
/// the auth state): no default service and no extractor configuration, so
/// the embedder's own routes, default and extractors are left as they are.
pub fn configure(cfg: &mut web::ServiceConfig, board: Board, auth: web::Data<Auth>) {
    let deadline = deadline::BodyDeadline::secs(board.settings().server.body_read_timeout_secs);
    cfg.app_data(web::Data::new(board))
        .app_data(auth)
        .configure(|c| routes::register(c, deadline));
}

/// Prometheus metrics (`baton_*`).
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String,
               description = "the Prometheus text exposition of every `baton_*` series")))]
pub(crate) async fn metrics(board: web::Data<Board>) -> Result<HttpResponse, ApiError> {
    let text = board.prometheus().await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "`{status: \"ok\"}`", body = Object)))]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Readiness: this node serves the board (not a follower, the store has
/// not failed) and has file descriptors to spare (fewer than
/// [`crate::descriptors::LOW_PERCENT`] of its soft `RLIMIT_NOFILE` open).
#[utoipa::path(get, path = "/readyz", tag = "system",
    responses((status = 200, description = "`{status: \"ready\"}`", body = Object),
              (status = 503, description = "`{status: \"unavailable\", reason}`: the store failed, the node was deposed, it is not ready, or file descriptors run low (80 % of the soft limit open; the reason names the counts)", body = Object)))]
pub(crate) async fn readyz(board: web::Data<Board>) -> HttpResponse {
    let reason = match (board.store().failure(), board.view().unhealthy_reason()) {
        _ if board.store().is_deposed() => Some(
            "this node no longer leads its database: another node took over, and this one \
             stops writing"
                .to_owned(),
        ),
        (Some(f), _) => Some(format!("the store failed: {f}")),
        (None, Some(r)) => Some(r.to_owned()),
        (None, None) => crate::descriptors::Descriptors::now()
            .filter(crate::descriptors::Descriptors::low)
            .map(|d| d.reason()),
    };
    match reason {
        None => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
        Some(reason) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "unavailable", "reason": reason})),
    }
}

/// OAuth 2.0 Protected Resource Metadata (RFC 9728) for `/mcp`: how MCP
/// clients learn to authenticate (a bearer token in the header; the
/// identity provider, when JWT is configured).
#[utoipa::path(get, path = "/.well-known/oauth-protected-resource", tag = "mcp",
    responses((status = 200, description = "`{resource, resource_name, bearer_methods_supported, authorization_servers?}` (RFC 9728)", body = Object)))]
pub(crate) async fn protected_resource(
    req: actix_web::HttpRequest,
    auth: web::Data<Auth>,
) -> HttpResponse {
    let scheme = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let path = req.path();
    let prefix = path
        .find("/.well-known/oauth-protected-resource")
        .map_or("", |i| &path[..i]);
    let mut doc = serde_json::json!({
        "resource": format!("{scheme}://{host}{prefix}/mcp"),
        "resource_name": "baton",
        "bearer_methods_supported": ["header"],
    });
    if let Some(issuer) = auth.authorization_server() {
        doc["authorization_servers"] = serde_json::json!([issuer]);
    }
    HttpResponse::Ok().json(doc)
}

/// [`protected_resource`] at the path RFC 9728 derives from the `/mcp`
/// resource's URL.
#[utoipa::path(get, path = "/.well-known/oauth-protected-resource/mcp", tag = "mcp",
    responses((status = 200, description = "the same metadata as `/.well-known/oauth-protected-resource`", body = Object)))]
pub(crate) async fn protected_resource_mcp(
    req: actix_web::HttpRequest,
    auth: web::Data<Auth>,
) -> HttpResponse {
    protected_resource(req, auth).await
}
