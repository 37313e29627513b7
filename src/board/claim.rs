//! Claims: the best ready task (by tags, for agents; by executor server, for
//! the dispatcher) or a named one, each with a slot, under a fenced lease;
//! the agent-coordinate-mcp `claim-task` with its by-name lease. A returned
//! [`Claim`] is durable.
//!
//! Retrying a claim whose answer was lost is safe: a claim of a named task
//! that the same worker (and token) already holds answers that lease again,
//! and [`Board::claim_next_keyed`] answers a claim made with the same
//! `request_id` again while its lease lasts.

use super::{check_request_id, check_worker, Board, Claim};
use crate::actors::registry::{ClaimNext, ClaimNextExecutor, ClaimTask, Claimed};
use crate::error::Error;
use crate::model::TaskId;

impl Board {
    async fn claimed(&self, c: Claimed) -> Result<Claim, Error> {
        match c.ticket {
            Some(t) => self.store.wait_durable(t).await?,
            // a repeated answer: what it repeats may still be on its way to disk
            None => self.store.barrier().await?,
        }
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
        self.claim_next_keyed(worker, tags, slot, None).await
    }

    /// [`Board::claim_next`] with an idempotency key: while the lease it
    /// handed out lasts (until it ends or lapses), the same `request_id`
    /// from the same worker and token answers that task and lease again —
    /// also after a restart — and claims nothing else; `tags` and `slot` of
    /// the repeat are not looked at. Nothing-ready answers are not
    /// remembered. Errors: `invalid_argument` on `request_id` (1 to 128
    /// bytes, no control characters), and those of [`Board::claim_next`].
    pub async fn claim_next_keyed(
        &self,
        worker: &str,
        tags: Vec<String>,
        slot: Option<u32>,
        request_id: Option<&str>,
    ) -> Result<Option<Claim>, Error> {
        check_worker(worker)?;
        self.writable()?;
        if let Some(id) = request_id {
            check_request_id(id)?;
        }
        let r = self
            .registry
            .send(ClaimNext {
                worker: worker.to_owned(),
                tags,
                slot,
                actor: self.actor.clone(),
                request_id: request_id.map(str::to_owned),
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

    /// Claim a specific ready task. Claiming a task this worker (and
    /// token) already holds under a live lease — in `slot`, when given —
    /// answers that lease again: a retry whose first answer was lost.
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
    /// lease ids. A retry by the same worker answers its compat lease again.
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
