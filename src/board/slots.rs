//! Worker slots: hold one explicitly (named or anonymous), release it, list
//! them all.

use super::{check_request_id, check_worker, Board};
use crate::actors::slots::{ClaimSlot, ListSlots, ReleaseSlot};
use crate::error::Error;
use crate::model::SlotInfo;

impl Board {
    /// Hold a slot explicitly.
    pub async fn claim_slot(&self, worker: &str) -> Result<u32, Error> {
        self.claim_slot_keyed(worker, None).await
    }

    /// Hold a slot explicitly; an empty `worker` is an anonymous hold that the
    /// first worker to claim a task in it adopts (agent-coordinate-mcp style).
    pub async fn claim_slot_as(&self, worker: &str) -> Result<u32, Error> {
        self.claim_slot_keyed_as(worker, None).await
    }

    /// [`Board::claim_slot`] with an idempotency key: while the hold it
    /// handed out lasts, the same `request_id` from the same worker (and
    /// token) answers the same slot again and takes no other, also after a
    /// restart. Errors: `invalid_argument` on `request_id` (1 to 128 bytes,
    /// no control characters), and those of [`Board::claim_slot`].
    pub async fn claim_slot_keyed(
        &self,
        worker: &str,
        request_id: Option<&str>,
    ) -> Result<u32, Error> {
        check_worker(worker)?;
        self.claim_slot_keyed_as(worker, request_id).await
    }

    /// [`Board::claim_slot_as`] with an idempotency key (see
    /// [`Board::claim_slot_keyed`]); for an anonymous hold the key alone
    /// (with the token) names the request.
    pub async fn claim_slot_keyed_as(
        &self,
        worker: &str,
        request_id: Option<&str>,
    ) -> Result<u32, Error> {
        if !worker.is_empty() {
            check_worker(worker)?;
        }
        self.writable()?;
        if let Some(id) = request_id {
            check_request_id(id)?;
        }
        let (slot, ticket) = self
            .slots
            .send(ClaimSlot {
                worker: worker.to_owned(),
                owner: self.actor.name.clone(),
                request_id: request_id.map(str::to_owned),
            })
            .await??;
        match ticket {
            Some(t) => self.store.wait_durable(t).await?,
            // a repeated answer: what it repeats may still be on its way to disk
            None => self.store.barrier().await?,
        }
        Ok(slot)
    }

    /// Release an explicit slot; `worker`, when given, must hold it.
    pub async fn release_slot(&self, slot: u32, worker: Option<&str>) -> Result<(), Error> {
        self.writable()?;
        let t = self
            .slots
            .send(ReleaseSlot {
                slot,
                worker: worker.map(str::to_owned),
            })
            .await??;
        self.store.wait_durable(t).await?;
        Ok(())
    }

    /// Every slot, then a read barrier: what is shown is durable (once the
    /// store has failed: the slots of the board rebuilt from it).
    pub async fn slots(&self) -> Result<Vec<SlotInfo>, Error> {
        let live = self.slots.send(ListSlots);
        self.memory_read(async { Ok(live.await?) }, |d| d.slots.infos())
            .await
    }
}
