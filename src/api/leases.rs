//! `GET /api/v1/leases`: the lease history — who held which task, when, and
//! how each lease ended — read from the audit log (the dashboard's timeline).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiError;
use crate::board::{Board, LeaseFilter, LeasePage};
use crate::error::Error;
use crate::model::{rfc3339, Millis};

/// Query of `GET /leases`. A lease is listed when it overlaps `[since, until)`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LeaseListQuery {
    /// RFC 3339 time: leave out leases that ended before it.
    since: Option<String>,
    /// RFC 3339 time: leave out leases claimed at or after it.
    until: Option<String>,
    /// Only leases held by this worker.
    worker: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size (1..=`api.max_page_size`, default `api.default_page_size`).
    limit: Option<usize>,
}

fn time(field: &'static str, v: Option<String>) -> Result<Option<Millis>, Error> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => rfc3339::parse(s).map(Some).ok_or_else(|| {
            Error::invalid(
                field,
                format!("'{s}' is not an RFC 3339 time such as 2025-01-31T12:00:00Z"),
            )
        }),
    }
}

/// Leases in claim order, oldest first, with filters and cursor paging. A
/// running lease has `ended_at: null` and `outcome: "running"`.
#[utoipa::path(get, path = "/api/v1/leases", tag = "leases", params(LeaseListQuery),
    responses((status = 200, body = LeasePage, description = "a page of leases in claim order"),
              (status = 400, body = super::tasks::ErrorBody, description = "malformed query string"),
              (status = 422, body = super::tasks::ErrorBody, description = "invalid since, until, worker, cursor or limit")))]
pub(crate) async fn list_leases(
    board: web::Data<Board>,
    q: super::params::Query<LeaseListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let page = board
        .lease_history(LeaseFilter {
            since: time("since", q.since)?,
            until: time("until", q.until)?,
            worker: q.worker.filter(|w| !w.is_empty()),
            cursor: q.cursor.filter(|c| !c.is_empty()),
            limit: q.limit,
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}
