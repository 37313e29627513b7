//! A claimed task's moves: under its lease (heartbeat, complete, fail,
//! release), by an admin (cancel, delete), reset of a failed task, and
//! expiry on demand ([`Board::sweep_expired`]). Each returns once its commit
//! is durable.

use super::Board;
use crate::actors::registry::{
    Cancel, Complete, DeleteTask, Fail, Heartbeat, Release, Reset, SweepLeases,
};
use crate::actors::slots::SweepSlots;
use crate::core::table::LeaseRef;
use crate::error::Error;
use crate::model::{Role, Task};

impl Board {
    /// Expire, now, every lease and idle explicit slot hold whose time has
    /// passed by the clock — what the sweep timers do every
    /// `leases.sweep_interval_ms` — and return once that is durable. (A lapsed
    /// lease or hold is refused from the instant it lapses either way; this
    /// frees its task and slot.)
    pub async fn sweep_expired(&self) -> Result<(), Error> {
        if let Some(t) = self.registry.send(SweepLeases).await?? {
            self.store.wait_durable(t).await?;
        }
        if let Some(t) = self.slots.send(SweepSlots).await?? {
            self.store.wait_durable(t).await?;
        }
        Ok(())
    }

    /// Extend a lease.
    pub async fn heartbeat(&self, id: &str, lease: LeaseRef) -> Result<Task, Error> {
        self.heartbeat_ttl(id, lease, None).await
    }

    /// Extend a lease with a TTL override (compat routes).
    pub async fn heartbeat_ttl(
        &self,
        id: &str,
        lease: LeaseRef,
        ttl_ms: Option<u64>,
    ) -> Result<Task, Error> {
        let id = self.id(id)?;
        self.writable()?;
        let r = self
            .registry
            .send(Heartbeat {
                id,
                lease,
                ttl_ms,
                actor: self.actor.clone(),
            })
            .await??;
        self.durable(r).await
    }

    /// Complete a running task.
    pub async fn complete(
        &self,
        id: &str,
        lease: LeaseRef,
        output: Option<serde_json::Value>,
    ) -> Result<Task, Error> {
        let id = self.id(id)?;
        self.writable()?;
        let r = self
            .registry
            .send(Complete {
                id,
                lease,
                output,
                actor: self.actor.clone(),
            })
            .await??;
        self.durable(r).await
    }

    /// Fail the current attempt (retried while attempts remain, if `retry`).
    pub async fn fail(
        &self,
        id: &str,
        lease: LeaseRef,
        error: String,
        retry: bool,
    ) -> Result<Task, Error> {
        let id = self.id(id)?;
        self.writable()?;
        let r = self
            .registry
            .send(Fail {
                id,
                lease,
                error,
                retry,
                actor: self.actor.clone(),
            })
            .await??;
        self.durable(r).await
    }

    /// Give a task back.
    pub async fn release(&self, id: &str, lease: LeaseRef) -> Result<Task, Error> {
        let id = self.id(id)?;
        self.writable()?;
        let r = self
            .registry
            .send(Release {
                id,
                lease,
                actor: self.actor.clone(),
            })
            .await??;
        self.durable(r).await
    }

    /// Cancel a task (and its pending dependents). Admins only.
    pub async fn cancel(&self, id: &str, reason: Option<String>) -> Result<Task, Error> {
        self.require(Role::Admin, "cancel tasks")?;
        let id = self.id(id)?;
        self.writable()?;
        let r = self
            .registry
            .send(Cancel {
                id,
                reason,
                actor: self.actor.clone(),
            })
            .await??;
        self.durable(r).await
    }

    /// Delete a terminal task now, with its audit log and context. Admins only.
    ///
    /// Errors: `task_not_found`, `invalid_status` (it has not finished),
    /// `has_dependents` (other tasks depend on it), `forbidden`.
    pub async fn delete_task(&self, id: &str) -> Result<(), Error> {
        self.require(Role::Admin, "delete tasks")?;
        let id = self.id(id)?;
        self.writable()?;
        let ticket = self
            .registry
            .send(DeleteTask {
                id,
                actor: self.actor.clone(),
            })
            .await??;
        self.store.wait_durable(ticket).await?;
        Ok(())
    }

    /// Reset a failed task and its failed dependents.
    pub async fn reset(&self, id: &str) -> Result<Vec<Task>, Error> {
        let id = self.id(id)?;
        self.writable()?;
        let r = self
            .registry
            .send(Reset {
                id,
                actor: self.actor.clone(),
            })
            .await??;
        self.durable(r).await
    }
}
