//! Implicit renewal on a worker's activity, and what a worker holds.
//!
//! Every edge hands the board the worker its connection named
//! ([`Board::for_worker`]); a call through such a handle renews that
//! worker's leases ([`Board::note_activity`], or [`Board::renew_activity`]
//! where the caller waits for it), by the rule of
//! [`crate::core::table::ImplicitRenewal`]: only leases the caller's token
//! may act on, only past half their TTL, only within `[leases]
//! max_implicit_secs` of their last explicit sign of life.

use super::Board;
use crate::actors::registry::{ListHeld, MarkExplicit, RenewOnActivity};
use crate::error::Error;
use crate::model::{Lease, Role, Task, TaskId};

impl Board {
    fn activity(&self) -> Option<RenewOnActivity> {
        let worker = self.worker.as_ref()?;
        (self.settings.leases.renew_on_activity && self.actor.role >= Role::Agent).then(|| {
            RenewOnActivity {
                actor: self.actor.clone(),
                worker: worker.clone(),
            }
        })
    }

    /// This connection's worker was active: renew its leases in the
    /// background (nothing to wait for; a renewal that fails is logged by
    /// the registry and the lease lapses as it would have). A no-op for a
    /// connection that names no worker, a viewer, or with `[leases]
    /// renew_on_activity` off.
    pub fn note_activity(&self) {
        if let Some(msg) = self.activity() {
            self.registry.do_send(msg);
        }
    }

    /// [`Board::note_activity`], waited for: returns the leases it renewed
    /// once the renewal is durable (empty when none needed it).
    pub async fn renew_activity(&self) -> Result<Vec<Lease>, Error> {
        let Some(msg) = self.activity() else {
            return Ok(Vec::new());
        };
        let (renewed, ticket) = self.registry.send(msg).await??;
        match ticket {
            Some(t) => self.store.wait_durable(t).await?,
            // a renewal queued just before (a background one) is durable too
            None => self.store.barrier().await?,
        }
        Ok(renewed)
    }

    /// A context write was made under `lease_id`: an explicit sign of
    /// life, which restarts the lease's budget of implicit renewal.
    pub(super) fn mark_explicit(&self, id: TaskId, lease_id: u64) {
        self.registry.do_send(MarkExplicit { id, lease_id });
    }

    /// The running tasks `worker` holds, oldest claim first (from the
    /// registry's table, then a read barrier: nothing not yet durable).
    pub async fn held_tasks(&self, worker: &str) -> Result<Vec<Task>, Error> {
        let held = self
            .registry
            .send(ListHeld {
                worker: worker.to_owned(),
            })
            .await?;
        self.store.barrier().await?;
        Ok(held)
    }
}
