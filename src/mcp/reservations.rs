//! The reservation tools: `reserve_paths`, `renew_reservation`,
//! `release_paths`, `list_reservations`, `check_paths` — each one board
//! call. They are in the `full` profile only: a claimed task's declared
//! `paths` are reserved for its lease without any call, so an agent needs
//! these only for work outside a task's declaration.
//!
//! The worker is the connection's `X-Baton-Worker` header, else the
//! `worker` argument; both and different is `worker_mismatch`.

// rmcp's tool-error type is `CallToolResult` itself; returning it by value is the API.
#![allow(clippy::result_large_err)]

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{schemars, tool, tool_router, RoleServer};
use serde::{Deserialize, Serialize};

use super::errors::tool_error;
use super::BatonMcp;
use crate::board::{resolve_worker, PathHolders};
use crate::error::Error;
use crate::model::{Reservation, ReservationMode};

/// The `X-Baton-Worker` header of the request behind `context`, if sent.
pub(crate) fn worker_header(context: &RequestContext<RoleServer>) -> Option<String> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.headers.get("x-baton-worker"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Arguments of `reserve_paths`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReserveArgs {
    /// Repo-relative globset globs (not gitignore): `src/api/**`.
    pub patterns: Vec<String>,
    /// `exclusive` (default) or `shared`.
    #[serde(default)]
    pub mode: Option<ReservationMode>,
    /// Your live lease: ends with it.
    #[serde(default)]
    pub lease_id: Option<u64>,
    /// Without lease_id: lifetime in seconds.
    #[serde(default)]
    pub ttl_secs: Option<u64>,
    /// Your worker (else the X-Baton-Worker header).
    #[serde(default)]
    pub worker: Option<String>,
}

/// Arguments naming a reservation.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReservationRef {
    /// The reservation's id, as `reserve_paths` returned it.
    pub id: String,
    /// Your worker (else the X-Baton-Worker header).
    #[serde(default)]
    pub worker: Option<String>,
}

/// Arguments of `list_reservations`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListReservationsArgs {
    /// Only this worker's.
    #[serde(default)]
    pub worker: Option<String>,
    /// Only those of this task's lease.
    #[serde(default)]
    pub task_id: Option<String>,
}

/// Arguments of `check_paths`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckPathsArgs {
    /// Paths relative to the repository root (globs allowed), at most `[tasks] max_paths`.
    pub paths: Vec<String>,
}

/// One reservation.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct ReservationOut {
    /// The reservation as stored after the call.
    pub reservation: Reservation,
}

/// Live reservations.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct ReservationsOut {
    /// In id order.
    pub reservations: Vec<Reservation>,
    /// Present when not all fit in the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more: Option<String>,
}

/// Who holds each path.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct PathsOut {
    /// Per path, the live reservations matching it (empty: free).
    pub paths: Vec<PathHolders>,
    /// Present when not all fit in the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more: Option<String>,
}

impl BatonMcp {
    fn worker_of(
        &self,
        context: &RequestContext<RoleServer>,
        argument: Option<&str>,
    ) -> Result<String, CallToolResult> {
        resolve_worker(worker_header(context).as_deref(), argument).map_err(|e| tool_error(&e))
    }
}

fn one(r: Result<Reservation, Error>) -> Result<ReservationOut, Error> {
    r.map(|reservation| ReservationOut { reservation })
}

#[tool_router(router = reservation_router, vis = "pub(super)")]
impl BatonMcp {
    /// Reserve paths for your lease (lease_id) or ttl_secs. A claimed task's paths are reserved already.
    #[tool(annotations(
        title = "Reserve paths",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn reserve_paths(
        &self,
        Parameters(a): Parameters<ReserveArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ReservationOut>, CallToolResult> {
        let worker = self.worker_of(&context, a.worker.as_deref())?;
        let mode = a.mode.unwrap_or_default();
        let r = self
            .board
            .reserve_paths(&worker, a.patterns, mode, a.lease_id, a.ttl_secs)
            .await;
        self.done(one(r))
    }

    /// Renew your TTL reservation (lease-bound ones renew with heartbeats).
    #[tool(annotations(
        title = "Renew reservation",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn renew_reservation(
        &self,
        Parameters(a): Parameters<ReservationRef>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ReservationOut>, CallToolResult> {
        let worker = self.worker_of(&context, a.worker.as_deref())?;
        self.done(one(self.board.renew_reservation(&worker, &a.id).await))
    }

    /// Release your reservation.
    #[tool(annotations(
        title = "Release paths",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn release_paths(
        &self,
        Parameters(a): Parameters<ReservationRef>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<ReservationOut>, CallToolResult> {
        let worker = self.worker_of(&context, a.worker.as_deref())?;
        self.done(one(self.board.release_paths(&worker, &a.id).await))
    }

    /// The live reservations (of one worker or task, or all).
    #[tool(annotations(
        title = "List reservations",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn list_reservations(
        &self,
        Parameters(a): Parameters<ListReservationsArgs>,
    ) -> Result<Json<ReservationsOut>, CallToolResult> {
        let r = self
            .board
            .list_reservations(a.worker.as_deref(), a.task_id.as_deref())
            .await;
        self.done(r.map(|reservations| ReservationsOut {
            reservations,
            more: None,
        }))
    }

    /// Who holds each path now (no holders: free).
    #[tool(annotations(
        title = "Check paths",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn check_paths(
        &self,
        Parameters(a): Parameters<CheckPathsArgs>,
    ) -> Result<Json<PathsOut>, CallToolResult> {
        let r = self.board.check_paths(a.paths).await;
        self.done(r.map(|paths| PathsOut { paths, more: None }))
    }
}
