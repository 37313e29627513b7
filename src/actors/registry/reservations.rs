//! Path reservations as the registry keeps them (the `r/` key space): its
//! messages ([`ReservePaths`], [`RenewReservation`], [`ReleasePaths`],
//! [`ListReservations`], [`CheckPaths`], [`WhyWaiting`], [`CheckFence`])
//! and how reservations follow leases.
//!
//! **Owner.** The live reservations are a
//! [`ReservationTable`](crate::core::reservations::ReservationTable) field of the
//! registry, not an actor of their own: a claim must check them and reserve
//! the claimed task's paths in one step, and a lease's end must end its
//! reservations in the same commit. Both are the registry's own steps, so
//! the table is the registry's state (single writer) and every change to it
//! goes through the registry's commit path.
//!
//! **Tied to leases.** A reservation made with a `lease_id` (or by a claim,
//! from the task's declared `paths`) carries the lease's fencing token:
//! its expiry follows every heartbeat (in memory; after a restart it is
//! read from the lease), and the commit that ends the lease (complete,
//! fail, release, expiry, cancel, deadline) removes its `r/` records in the
//! same write batch as the task record. So after a crash no reservation
//! outlives its lease; start-up also drops any whose lease is not the
//! task's current live one. A TTL reservation lapses at its `expires_at`
//! (it is not live from that instant) and the lease sweep removes it.

use std::collections::HashSet;
use std::sync::Arc;

use actix::prelude::*;

use super::TaskRegistry;
use crate::core::reservations::{check_paths, check_patterns, ReservationError, Side};
use crate::error::Error;
use crate::model::{Lease, Millis, Principal, Reservation, ReservationMode, TaskId};
use crate::store::{Ticket, WriteBatch};

/// Longest TTL of a reservation without a lease, in seconds (7 days).
pub const MAX_RESERVATION_TTL_SECS: u64 = 7 * 24 * 3600;

/// Reserve path patterns for `worker`.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Reservation, Ticket), Error>")]
pub struct ReservePaths {
    /// Who asks (its token owns the reservation).
    pub actor: Principal,
    /// The worker that will hold the reservation (its lease's worker when tied to a task).
    pub worker: String,
    /// Patterns as sent (normalized here; field `patterns`).
    pub patterns: Vec<String>,
    /// Exclusive or shared.
    pub mode: ReservationMode,
    /// Bind it to this live lease of `worker`.
    pub lease_id: Option<u64>,
    /// Without a lease: its lifetime in seconds (required then).
    pub ttl_secs: Option<u64>,
}

/// Renew a TTL reservation by its TTL (a lease-bound one renews with its lease).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Reservation, Option<Ticket>), Error>")]
pub struct RenewReservation {
    /// Who asks: the authenticated principal, checked against the reservation's owner.
    pub actor: Principal,
    /// The worker that holds the reservation; another worker's call is refused.
    pub worker: String,
    /// The reservation's id, as `reserve_paths` returned it.
    pub id: String,
}

/// Release a reservation.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Reservation, Ticket), Error>")]
pub struct ReleasePaths {
    /// Who asks: the authenticated principal, checked against the reservation's owner.
    pub actor: Principal,
    /// The worker that holds the reservation; another worker's call is refused.
    pub worker: String,
    /// The reservation's id, as `reserve_paths` returned it.
    pub id: String,
}

/// The live reservations (of one worker, or all), in id order.
#[derive(Debug, Message)]
#[rtype(result = "Vec<Reservation>")]
pub struct ListReservations {
    /// Only this holder's.
    pub worker: Option<String>,
    /// Only those of this task's lease.
    pub task: Option<TaskId>,
}

/// Who holds each path now.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<(String, Vec<Reservation>)>, Error>")]
pub struct CheckPaths {
    /// Paths as sent (normalized here; field `paths`).
    pub paths: Vec<String>,
}

/// Why a ready task waits, in words (`None`: it does not, or is not ready).
#[derive(Debug, Message)]
#[rtype(result = "Option<String>")]
pub struct WhyWaiting {
    /// The task whose declared paths are checked.
    pub id: TaskId,
}

/// The gateway's fence: may `worker` call a `lease_required` tool now
/// (and, with `path`, write there)?
#[derive(Debug, Message)]
#[rtype(result = "Result<(), Error>")]
pub struct CheckFence {
    /// The worker asking; its own reservations never conflict with it.
    pub worker: String,
    /// The gateway tool's name (for the message).
    pub tool: String,
    /// The path argument: its name and its value.
    pub path: Option<(String, String)>,
}

impl TaskRegistry {
    /// Start with the reservations `table` rebuilt from the store (see
    /// [`ReservationTable::restore_all`](crate::core::reservations::ReservationTable::restore_all)).
    pub fn with_reservations(mut self, table: crate::core::reservations::ReservationTable) -> Self {
        self.reservations = table;
        self
    }

    /// The live lease `lease_id` of `worker`, as `actor` may use it.
    fn live_lease(
        &self,
        lease_id: u64,
        worker: &str,
        actor: &Principal,
        now: Millis,
    ) -> Result<Lease, Error> {
        let lease = self
            .table
            .leases()
            .find(|l| l.lease_id == lease_id && l.worker == worker && l.expires_at > now)
            .cloned()
            .ok_or_else(|| ReservationError::NoLiveLease {
                lease_id,
                worker: worker.to_owned(),
            })?;
        if !actor.may_act_on(lease.owner.as_deref()) {
            return Err(ReservationError::NotOwner {
                id: format!("lease {lease_id}"),
                owner: lease.owner.clone(),
            }
            .into());
        }
        Ok(lease)
    }

    /// Reserve `task`'s declared paths for its new `lease` (a claim): into
    /// the table now, into the claim's own commit through `pending`.
    pub(super) fn reserve_for_lease(&mut self, lease: &Lease, now: Millis) {
        let Some(task) = self.table.get(&lease.task_id) else {
            return;
        };
        let Some(set) = self.path_cache.of(task) else {
            return;
        };
        let res = Reservation {
            id: new_id(),
            worker: lease.worker.clone(),
            patterns: task.paths.clone(),
            mode: task.paths_mode,
            task_id: Some(lease.task_id.clone()),
            lease_id: Some(lease.lease_id),
            ttl_ms: None,
            expires_at: lease.expires_at,
            created_at: now,
            owner: lease.owner.clone(),
            from_task: true,
        };
        self.pending_reservations.push(res.clone());
        self.reservations.insert(res, set);
    }

    /// Into `batch`: the reservations claims made since the last commit,
    /// the removal of every reservation of the leases that `ended`, and
    /// the follow-up of renewed leases (memory only: a restart reads the
    /// expiry from the lease).
    pub(super) fn reservations_into(
        &mut self,
        batch: &mut WriteBatch,
        ended: &[Lease],
        renewed: &[Lease],
    ) {
        let ended_ids: HashSet<u64> = ended.iter().map(|l| l.lease_id).collect();
        for r in std::mem::take(&mut self.pending_reservations) {
            // a lease claimed and ended within one commit leaves nothing behind
            if !r.lease_id.is_some_and(|l| ended_ids.contains(&l)) {
                batch.put_reservation(&r);
            }
        }
        for l in ended {
            for id in self.reservations.of_lease(l.lease_id) {
                self.reservations.remove(&id);
                batch.remove_reservation(&id);
            }
        }
        for l in renewed {
            self.reservations.renew_lease(l.lease_id, l.expires_at);
        }
    }

    /// Remove the TTL reservations that lapsed by `now` (the sweep).
    pub(super) fn sweep_reservations(&mut self, now: Millis) {
        let lapsed = self.reservations.lapsed(now);
        if lapsed.is_empty() || self.poisoned {
            return;
        }
        let mut batch = WriteBatch::new();
        for id in &lapsed {
            batch.remove_reservation(id);
        }
        if self.write(batch).is_ok() {
            for id in &lapsed {
                tracing::info!(reservation = %id, "reservation lapsed");
                self.reservations.remove(id);
            }
        }
    }

    /// The live reservation `id`, held by `worker`, changeable by `actor`.
    fn reservation_held_by(
        &self,
        id: &str,
        worker: &str,
        actor: &Principal,
    ) -> Result<Reservation, Error> {
        let now = self.clock.now();
        let r = self
            .reservations
            .get(id)
            .filter(|r| r.live_at(now))
            .ok_or_else(|| ReservationError::NotFound(id.to_owned()))?;
        if r.worker != worker {
            return Err(ReservationError::NotHolder {
                id: id.to_owned(),
                holder: r.worker.clone(),
                worker: worker.to_owned(),
            }
            .into());
        }
        if !actor.may_act_on(r.owner.as_deref()) {
            return Err(ReservationError::NotOwner {
                id: id.to_owned(),
                owner: r.owner.clone(),
            }
            .into());
        }
        Ok(r.clone())
    }
}

fn new_id() -> String {
    format!("res-{}", uuid::Uuid::now_v7())
}

impl Handler<ReservePaths> for TaskRegistry {
    type Result = Result<(Reservation, Ticket), Error>;
    fn handle(&mut self, msg: ReservePaths, _: &mut Context<Self>) -> Self::Result {
        self.refuse_if_poisoned()?;
        let now = self.clock.now();
        let (patterns, set) =
            check_patterns("patterns", &msg.patterns, self.settings.tasks.max_paths)?;
        let (task_id, lease_id, ttl_ms, expires_at, owner) = match (msg.lease_id, msg.ttl_secs) {
            (Some(_), Some(_)) => return Err(ReservationError::invalid(
                "ttl_secs",
                "give lease_id (the reservation lives as long as the lease) or ttl_secs, not both",
            )
            .into()),
            (Some(lid), None) => {
                let l = self.live_lease(lid, &msg.worker, &msg.actor, now)?;
                (Some(l.task_id), Some(lid), None, l.expires_at, l.owner)
            }
            (None, Some(secs)) if (1..=MAX_RESERVATION_TTL_SECS).contains(&secs) => {
                let ttl = secs.saturating_mul(1000);
                (
                    None,
                    None,
                    Some(ttl),
                    now.saturating_add(ttl),
                    msg.actor.name.clone(),
                )
            }
            (None, Some(_)) => {
                return Err(ReservationError::invalid(
                    "ttl_secs",
                    format!("must be between 1 and {MAX_RESERVATION_TTL_SECS}"),
                )
                .into())
            }
            (None, None) => return Err(ReservationError::invalid(
                "ttl_secs",
                "a reservation without lease_id needs ttl_secs (renew it with renew_reservation)",
            )
            .into()),
        };
        let side = Side {
            worker: &msg.worker,
            mode: msg.mode,
            set: &set,
        };
        if let Some(c) = self.reservations.conflict(side, now) {
            return Err(ReservationError::Conflict(Box::new(c)).into());
        }
        let res = Reservation {
            id: new_id(),
            worker: msg.worker,
            patterns,
            mode: msg.mode,
            task_id,
            lease_id,
            ttl_ms,
            expires_at,
            created_at: now,
            owner,
            from_task: false,
        };
        let mut batch = WriteBatch::new();
        batch.put_reservation(&res);
        let ticket = self.write(batch)?;
        tracing::info!(reservation = %res.id, worker = %res.worker, patterns = ?res.patterns, "paths reserved");
        self.reservations.insert(res.clone(), Arc::new(set));
        Ok((res, ticket))
    }
}

impl Handler<RenewReservation> for TaskRegistry {
    type Result = Result<(Reservation, Option<Ticket>), Error>;
    fn handle(&mut self, msg: RenewReservation, _: &mut Context<Self>) -> Self::Result {
        let mut r = self.reservation_held_by(&msg.id, &msg.worker, &msg.actor)?;
        let Some(ttl) = r.ttl_ms else {
            // lease-bound: it renews with its lease's heartbeats
            return Ok((r, None));
        };
        r.expires_at = self.clock.now().saturating_add(ttl);
        let mut batch = WriteBatch::new();
        batch.put_reservation(&r);
        let ticket = self.write(batch)?;
        self.reservations.set_expiry(&r.id, r.expires_at);
        Ok((r, Some(ticket)))
    }
}

impl Handler<ReleasePaths> for TaskRegistry {
    type Result = Result<(Reservation, Ticket), Error>;
    fn handle(&mut self, msg: ReleasePaths, _: &mut Context<Self>) -> Self::Result {
        let r = self.reservation_held_by(&msg.id, &msg.worker, &msg.actor)?;
        if let (true, Some(task)) = (r.from_task, &r.task_id) {
            return Err(ReservationError::HeldForTask {
                id: r.id.clone(),
                task: task.clone(),
            }
            .into());
        }
        let mut batch = WriteBatch::new();
        batch.remove_reservation(&r.id);
        let ticket = self.write(batch)?;
        self.reservations.remove(&r.id);
        tracing::info!(reservation = %r.id, worker = %r.worker, "paths released");
        Ok((r, ticket))
    }
}

impl Handler<ListReservations> for TaskRegistry {
    type Result = MessageResult<ListReservations>;
    fn handle(&mut self, msg: ListReservations, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        MessageResult(
            self.reservations
                .live(now)
                .map(|h| &h.res)
                .filter(|r| msg.worker.as_ref().is_none_or(|w| &r.worker == w))
                .filter(|r| msg.task.is_none() || r.task_id == msg.task)
                .cloned()
                .collect(),
        )
    }
}

impl Handler<CheckPaths> for TaskRegistry {
    type Result = Result<Vec<(String, Vec<Reservation>)>, Error>;
    fn handle(&mut self, msg: CheckPaths, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let paths = check_paths("paths", &msg.paths, self.settings.api.max_page_size)?;
        Ok(paths
            .into_iter()
            .map(|p| {
                let holders = self
                    .reservations
                    .holders(&p, now)
                    .into_iter()
                    .map(|(r, _)| r.clone())
                    .collect();
                (p, holders)
            })
            .collect())
    }
}

impl Handler<WhyWaiting> for TaskRegistry {
    type Result = MessageResult<WhyWaiting>;
    fn handle(&mut self, msg: WhyWaiting, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        MessageResult(self.why_waiting(&msg.id, now))
    }
}

impl Handler<CheckFence> for TaskRegistry {
    type Result = Result<(), Error>;
    fn handle(&mut self, msg: CheckFence, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let live = self
            .table
            .leases()
            .any(|l| l.worker == msg.worker && l.expires_at > now);
        if !live {
            if let Some((task, at)) = self.lapsed_leases.get(&msg.worker) {
                return Err(ReservationError::LeaseLapsed {
                    tool: msg.tool,
                    worker: msg.worker,
                    task: task.clone(),
                    expired_at: *at,
                }
                .into());
            }
            let lapsed = self.table.leases().find(|l| l.worker == msg.worker);
            return Err(match lapsed {
                Some(l) => ReservationError::LeaseLapsed {
                    tool: msg.tool,
                    worker: msg.worker,
                    task: l.task_id.clone(),
                    expired_at: l.expires_at,
                },
                None => ReservationError::LeaseRequired {
                    tool: msg.tool,
                    worker: msg.worker,
                },
            }
            .into());
        }
        if let Some((argument, raw)) = msg.path {
            let path = crate::core::reservations::normalize_path(&raw)
                .map_err(|m| ReservationError::invalid(argument.clone(), m))?;
            if !self.reservations.covers(&msg.worker, &path, now) {
                return Err(ReservationError::NotReserved {
                    tool: msg.tool,
                    argument,
                    path,
                    worker: msg.worker,
                }
                .into());
            }
        }
        Ok(())
    }
}
