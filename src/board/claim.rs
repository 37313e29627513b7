//! Claims: the best ready task (by tags, for agents; by executor server, for
//! the dispatcher) or a named one, each with a slot, under a fenced lease;
//! the agent-coordinate-mcp `claim-task` with its by-name lease. A returned
//! [`Claim`] is durable.

use super::{check_worker, Board, Claim};
use crate::actors::registry::{ClaimNext, ClaimNextExecutor, ClaimTask, Claimed};
use crate::error::Error;
use crate::model::TaskId;

impl Board {
    async fn claimed(&self, c: Claimed) -> Result<Claim, Error> {
        self.store.wait_durable(c.ticket).await?;
        Ok(Claim {
            task: c.task,
            lease: c.lease,
        })
    }

    /// Claim the best ready task carrying all `tags`, with a slot. `None`: nothing is ready.
    pub async fn claim_next(
        &self,
        worker: &str,
        tags: Vec<String>,
        slot: Option<u32>,
    ) -> Result<Option<Claim>, Error> {
        check_worker(worker)?;
        self.writable()?;
        let r = self
            .registry
            .send(ClaimNext {
                worker: worker.to_owned(),
                tags,
                slot,
                actor: self.actor.clone(),
            })
            .await??;
        match r {
            Some(c) => Ok(Some(self.claimed(c).await?)),
            None => {
                self.store.barrier().await?;
                Ok(None)
            }
        }
    }

    /// The dispatcher's claim: the best ready task with an executor whose
    /// server is not `blocked` (and not in `exclude`), with a slot.
    /// `Ok(None)`: none is ready.
    pub async fn claim_next_executor(
        &self,
        worker: &str,
        blocked: Vec<String>,
        exclude: Vec<TaskId>,
    ) -> Result<Option<Claim>, Error> {
        self.writable()?;
        let r = self
            .registry
            .send(ClaimNextExecutor {
                worker: worker.to_owned(),
                blocked,
                exclude,
                actor: self.actor.clone(),
            })
            .await??;
        match r {
            Some(c) => Ok(Some(self.claimed(c).await?)),
            None => Ok(None),
        }
    }

    /// Claim a specific ready task.
    pub async fn claim_task(
        &self,
        id: &str,
        worker: &str,
        slot: Option<u32>,
    ) -> Result<Claim, Error> {
        self.claim_task_as(id, worker, slot, None, false).await
    }

    /// The agent-coordinate-mcp `claim-task`: the lease lasts
    /// `leases.compat_ttl_secs` and, unlike every other lease, accepts
    /// updates by `worker`'s name ([`LeaseRef::Worker`]) as that API has no
    /// lease ids.
    ///
    /// [`LeaseRef::Worker`]: crate::core::table::LeaseRef::Worker
    pub async fn compat_claim_task(
        &self,
        id: &str,
        worker: &str,
        slot: Option<u32>,
    ) -> Result<Claim, Error> {
        let ttl = self.settings.leases.compat_ttl_secs.saturating_mul(1000);
        self.claim_task_as(id, worker, slot, Some(ttl), true).await
    }

    async fn claim_task_as(
        &self,
        id: &str,
        worker: &str,
        slot: Option<u32>,
        ttl_ms: Option<u64>,
        compat: bool,
    ) -> Result<Claim, Error> {
        check_worker(worker)?;
        let id = self.id(id)?;
        self.writable()?;
        let c = self
            .registry
            .send(ClaimTask {
                id,
                worker: worker.to_owned(),
                slot,
                ttl_ms,
                actor: self.actor.clone(),
                compat,
            })
            .await??;
        self.claimed(c).await
    }
}
