//! The HTTP surface: REST admin API under `/api/v1`, the
//! agent-coordinate-mcp compatible routes under `/api`, `/metrics`,
//! `/healthz`, `/readyz`, and the SSE event stream.
//!
//! | file | what |
//! |---|---|
//! | [`error`] | errors → statuses and JSON bodies, in one place |
//! | [`tasks`] | `/api/v1` handlers and their DTOs |
//! | [`sse`] | `/api/v1/events` (Server-Sent Events with `Last-Event-ID` resume) |
//! | [`servers`] | `/api/v1/servers`: downstream MCP servers, restart, reset |
//! | [`compat`] | agent-coordinate-mcp's coordinator routes and JSON shapes |
//! | [`dashboard`] | the live web dashboard at `/` (embedded assets) |
//! | [`openapi`] | the OpenAPI 3 document at `/api/v1/openapi.json` |

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpResponse};
use serde::de::DeserializeOwned;

use crate::board::Board;

pub mod compat;
pub mod dashboard;
pub mod error;
pub mod openapi;
pub mod servers;
pub mod sse;
pub mod tasks;

pub use error::ApiError;

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
                "invalid_json",
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
            "invalid_json",
            "a JSON body is required",
        ));
    }
    parse_json(&bytes)
}

pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::Unprocessable {
                message: format!("invalid body: {e}"),
            },
            _ => ApiError::bad_request("invalid_json", format!("malformed JSON: {e}")),
        }
    })
}

async fn record_metrics(
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

/// Mount every route into `cfg` (see [`crate::Runtime::configure`]).
pub fn configure(cfg: &mut web::ServiceConfig, board: Board) {
    let query_cfg = web::QueryConfig::default()
        .error_handler(|e, _| ApiError::bad_request("invalid_query", e.to_string()).into());
    let path_cfg = web::PathConfig::default()
        .error_handler(|e, _| ApiError::bad_request("invalid_path", e.to_string()).into());
    cfg.app_data(web::Data::new(board))
        .app_data(query_cfg)
        .app_data(path_cfg)
        .service(
            web::scope("/api/v1")
                .wrap(from_fn(record_metrics))
                .configure(tasks::routes)
                .configure(servers::routes)
                .route("/events", web::get().to(sse::events))
                .route("/openapi.json", web::get().to(openapi::document)),
        )
        .service(
            web::scope("/api")
                .wrap(from_fn(record_metrics))
                .configure(compat::routes),
        )
        .configure(dashboard::routes)
        .route("/metrics", web::get().to(metrics))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

async fn metrics(board: web::Data<Board>) -> Result<HttpResponse, ApiError> {
    let text = board.prometheus().await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn readyz(board: web::Data<Board>) -> HttpResponse {
    let ok = board.view().healthy() && !board.store().is_failed();
    if ok {
        HttpResponse::Ok().json(serde_json::json!({"status": "ready"}))
    } else {
        HttpResponse::ServiceUnavailable().json(
            serde_json::json!({"status": "unavailable", "reason": "a write to the store failed"}),
        )
    }
}
