//! `/api/v1/reservations`: path reservations over REST — reserve, list,
//! check who holds paths, renew, release. The worker is the
//! `X-Baton-Worker` header, else the body's (or query's) `worker`; both and
//! different is 400 `worker_mismatch`. Patterns are `globset` globs over
//! repository-relative paths (not gitignore rules).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::tasks::ErrorBody;
use super::{json_body, Acting, ApiError};
use crate::board::{resolve_worker, PathHolders};
use crate::model::{Reservation, ReservationMode};

/// The header naming the worker a connection acts as.
pub const WORKER_HEADER: &str = "x-baton-worker";

/// The `X-Baton-Worker` header's value, if sent.
pub fn worker_header(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(WORKER_HEADER)
        .and_then(|v| v.to_str().ok())
}

/// Body of `POST /reservations`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveRequest {
    /// The holder (else the `X-Baton-Worker` header).
    #[serde(default)]
    pub worker: Option<String>,
    /// Repository-relative `globset` globs (`src/api/**`, `Cargo.toml`).
    #[serde(default)]
    pub patterns: Vec<String>,
    /// `exclusive` (default) or `shared`.
    #[serde(default)]
    pub mode: Option<ReservationMode>,
    /// Bind it to this live lease of the worker (it then ends with the lease).
    #[serde(default)]
    pub lease_id: Option<u64>,
    /// Without `lease_id`: its lifetime in seconds (renew with `/renew`).
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

/// Body of `renew` (and, optionally, of `DELETE`).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerRequest {
    /// The holder (else the `X-Baton-Worker` header).
    #[serde(default)]
    pub worker: Option<String>,
}

/// Body of `POST /reservations/check`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// Paths relative to the repository root (globs allowed), at most `[tasks] max_paths`.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// Query of `GET /reservations` (and the holder for `DELETE`).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReservationQuery {
    /// Only this worker's (`GET`); the holder (`DELETE`, else the header).
    worker: Option<String>,
    /// Only those of this task's lease (`GET`).
    task: Option<String>,
}

/// The live reservations.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReservationList {
    /// In id order.
    pub reservations: Vec<Reservation>,
}

/// Who holds each path.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckResult {
    /// One entry per path asked, in order.
    pub paths: Vec<PathHolders>,
}

/// Reserve path patterns for a worker: bound to its live lease (`lease_id`)
/// or for `ttl_secs`.
#[utoipa::path(post, path = "/api/v1/reservations", tag = "reservations", request_body = ReserveRequest,
    params(("X-Baton-Worker" = Option<String>, Header, description = "the worker this connection acts as")),
    responses((status = 201, body = Reservation, description = "the reservation, durable"),
              (status = 400, body = ErrorBody, description = "malformed JSON, or the header and `worker` disagree (`worker_mismatch`)"),
              (status = 409, body = ErrorBody, description = "another holder holds an overlapping reservation (`reservation_conflict`, with `holder`), or `lease_id` is not a live lease of the worker (`stale_lease`)"),
              (status = 422, body = ErrorBody, description = "a bad pattern (empty, absolute, `..`, invalid glob, too many), or `lease_id`/`ttl_secs` both or neither, naming the field")))]
pub(crate) async fn reserve_paths(
    board: Acting,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ReserveRequest = json_body(&board, payload, false).await?;
    let worker = resolve_worker(worker_header(&req), body.worker.as_deref())?;
    let r = board
        .reserve_paths(
            &worker,
            body.patterns,
            body.mode.unwrap_or_default(),
            body.lease_id,
            body.ttl_secs,
        )
        .await?;
    Ok(HttpResponse::Created().json(r))
}

/// The live reservations, of one worker or task, or all.
#[utoipa::path(get, path = "/api/v1/reservations", tag = "reservations", params(ReservationQuery),
    responses((status = 200, body = ReservationList, description = "the live reservations in id order"),
              (status = 400, body = ErrorBody, description = "malformed query string")))]
pub(crate) async fn list_reservations(
    board: Acting,
    q: super::params::Query<ReservationQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let reservations = board
        .list_reservations(
            q.worker.as_deref().filter(|w| !w.is_empty()),
            q.task.as_deref().filter(|t| !t.is_empty()),
        )
        .await?;
    Ok(HttpResponse::Ok().json(ReservationList { reservations }))
}

/// Who holds each path now (the git guard asks this for staged files).
#[utoipa::path(post, path = "/api/v1/reservations/check", tag = "reservations", request_body = CheckRequest,
    responses((status = 200, body = CheckResult, description = "per path, the live reservations that match it"),
              (status = 422, body = ErrorBody, description = "a bad path (empty, absolute, `..`) or too many, naming the field")))]
pub(crate) async fn check_paths(
    board: Acting,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: CheckRequest = json_body(&board, payload, false).await?;
    let paths = board.check_paths(body.paths).await?;
    Ok(HttpResponse::Ok().json(CheckResult { paths }))
}

/// Renew a TTL reservation by its TTL (a lease-bound one renews with its lease).
#[utoipa::path(post, path = "/api/v1/reservations/{id}/renew", tag = "reservations",
    params(("id" = String, Path), ("X-Baton-Worker" = Option<String>, Header, description = "the worker this connection acts as")),
    request_body = WorkerRequest,
    responses((status = 200, body = Reservation, description = "the reservation, its expiry moved"),
              (status = 404, body = ErrorBody, description = "no live reservation with that id (`reservation_not_found`)"),
              (status = 409, body = ErrorBody, description = "held by another worker (`not_reservation_holder`)")))]
pub(crate) async fn renew_reservation(
    board: Acting,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: WorkerRequest = json_body(&board, payload, true).await?;
    let worker = resolve_worker(worker_header(&req), body.worker.as_deref())?;
    Ok(HttpResponse::Ok().json(board.renew_reservation(&worker, &id).await?))
}

/// Release a reservation (a task's own, from its declared paths, ends with its lease).
#[utoipa::path(delete, path = "/api/v1/reservations/{id}", tag = "reservations",
    params(("id" = String, Path), ReservationQuery,
           ("X-Baton-Worker" = Option<String>, Header, description = "the worker this connection acts as")),
    responses((status = 200, body = Reservation, description = "the reservation released"),
              (status = 404, body = ErrorBody, description = "no live reservation with that id (`reservation_not_found`)"),
              (status = 409, body = ErrorBody, description = "held by another worker, or a running task's own")))]
pub(crate) async fn release_reservation(
    board: Acting,
    req: HttpRequest,
    id: web::Path<String>,
    q: super::params::Query<ReservationQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let worker = resolve_worker(worker_header(&req), q.worker.as_deref())?;
    Ok(HttpResponse::Ok().json(board.release_paths(&worker, &id).await?))
}
