//! Path reservations on the board: reserve, renew, release, list, check
//! who holds a path, why a ready task waits, and the gateway's fence. Each
//! is one message to the task registry (which owns the reservations: see
//! `actors::registry::reservations`); writes return once durable.
//!
//! Who the worker is ([`resolve_worker`]): the `X-Baton-Worker` header of
//! the connection, else the call's `worker` argument; both given and
//! different is `worker_mismatch`; neither is refused with a message saying
//! how to set `BATON_WORKER`.

use serde::{Deserialize, Serialize};

use super::{check_worker, Board};
use crate::actors::registry::{
    CheckFence, CheckPaths, ListReservations, ReleasePaths, RenewReservation, ReservePaths,
    WhyWaiting,
};
use crate::core::reservations::{check_paths, ReservationError};
use crate::error::Error;
use crate::model::{Reservation, ReservationMode};

/// Who holds one path now.
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema, schemars::JsonSchema,
)]
pub struct PathHolders {
    /// The path, normalized (repository-relative, `/` separators).
    pub path: String,
    /// The live reservations whose patterns match it (empty: it is free).
    pub holders: Vec<Reservation>,
}

/// The worker a call acts as: the `X-Baton-Worker` header's value, else the
/// `worker` argument's.
///
/// Errors: `worker_mismatch` when both are given and differ;
/// `invalid_field` (field `worker`) when neither is, or the name is not a
/// valid worker name.
pub fn resolve_worker(header: Option<&str>, argument: Option<&str>) -> Result<String, Error> {
    let header = header.map(str::trim).filter(|h| !h.is_empty());
    let argument = argument.filter(|a| !a.is_empty());
    let worker = match (header, argument) {
        (Some(h), Some(a)) if h != a => {
            return Err(ReservationError::WorkerMismatch {
                header: h.to_owned(),
                argument: a.to_owned(),
            }
            .into())
        }
        (Some(h), _) => h,
        (None, Some(a)) => a,
        (None, None) => return Err(Error::invalid(
            "worker",
            "name the worker: send the X-Baton-Worker header (Claude Code: set BATON_WORKER and \
                 send \"X-Baton-Worker\": \"${BATON_WORKER}\" in .mcp.json) or the worker argument",
        )),
    };
    check_worker(worker)?;
    Ok(worker.to_owned())
}

impl Board {
    /// Reserve `patterns` for `worker`, bound to its live lease `lease_id`
    /// or for `ttl_secs`. Errors: `invalid_field` naming the field (a bad
    /// pattern, both or neither of `lease_id`/`ttl_secs`), `stale_lease`
    /// (no such live lease of the worker), `reservation_conflict` naming
    /// the holder.
    pub async fn reserve_paths(
        &self,
        worker: &str,
        patterns: Vec<String>,
        mode: ReservationMode,
        lease_id: Option<u64>,
        ttl_secs: Option<u64>,
    ) -> Result<Reservation, Error> {
        check_worker(worker)?;
        let r = self
            .registry
            .send(ReservePaths {
                actor: self.actor.clone(),
                worker: worker.to_owned(),
                patterns,
                mode,
                lease_id,
                ttl_secs,
            })
            .await??;
        self.durable(r).await
    }

    /// Renew `worker`'s TTL reservation `id` by its TTL (a lease-bound one
    /// renews with its lease and comes back as it is).
    pub async fn renew_reservation(&self, worker: &str, id: &str) -> Result<Reservation, Error> {
        let (r, ticket) = self
            .registry
            .send(RenewReservation {
                actor: self.actor.clone(),
                worker: worker.to_owned(),
                id: id.to_owned(),
            })
            .await??;
        match ticket {
            Some(t) => self.store.wait_durable(t).await?,
            None => self.store.barrier().await?,
        }
        Ok(r)
    }

    /// Release `worker`'s reservation `id`.
    pub async fn release_paths(&self, worker: &str, id: &str) -> Result<Reservation, Error> {
        let r = self
            .registry
            .send(ReleasePaths {
                actor: self.actor.clone(),
                worker: worker.to_owned(),
                id: id.to_owned(),
            })
            .await??;
        self.durable(r).await
    }

    /// The live reservations, of one worker or task's lease, or all.
    pub async fn list_reservations(
        &self,
        worker: Option<&str>,
        task: Option<&str>,
    ) -> Result<Vec<Reservation>, Error> {
        let task = task.map(|t| self.id(t)).transpose()?;
        let now = self.clock.now();
        let live = self.registry.send(ListReservations {
            worker: worker.map(str::to_owned),
            task: task.clone(),
        });
        self.memory_read(async { Ok(live.await?) }, |rebuilt| {
            rebuilt
                .reservations
                .live(now)
                .map(|h| &h.res)
                .filter(|r| worker.is_none_or(|w| r.worker == w))
                .filter(|r| task.is_none() || r.task_id == task)
                .cloned()
                .collect()
        })
        .await
    }

    /// Who holds each of `paths` now.
    pub async fn check_paths(&self, paths: Vec<String>) -> Result<Vec<PathHolders>, Error> {
        let now = self.clock.now();
        let checked = check_paths("paths", &paths, self.settings.api.max_page_size)?;
        let live = self.registry.send(CheckPaths { paths });
        let held = self
            .memory_read(async { live.await? }, |rebuilt| {
                checked
                    .into_iter()
                    .map(|p| {
                        let holders = rebuilt
                            .reservations
                            .holders(&p, now)
                            .into_iter()
                            .map(|(r, _)| r.clone())
                            .collect();
                        (p, holders)
                    })
                    .collect()
            })
            .await?;
        Ok(held
            .into_iter()
            .map(|(path, holders)| PathHolders { path, holders })
            .collect())
    }

    /// Why the ready task `id` waits, in words (`None`: it is not ready, or
    /// the next claim that may take it would).
    pub async fn why_waiting(&self, id: &str) -> Result<Option<String>, Error> {
        let id = self.id(id)?;
        Ok(self.registry.send(WhyWaiting { id }).await?)
    }

    /// The gateway's fence for a `lease_required` tool: `worker` must hold
    /// a live lease, and with `path` (argument name, value) a live
    /// reservation covering it. Errors: `lease_required`, `stale_lease`
    /// (its lease lapsed), `paths_not_reserved`.
    pub async fn check_fence(
        &self,
        worker: &str,
        tool: &str,
        path: Option<(String, String)>,
    ) -> Result<(), Error> {
        self.registry
            .send(CheckFence {
                worker: worker.to_owned(),
                tool: tool.to_owned(),
                path,
            })
            .await?
    }
}
