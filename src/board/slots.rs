//! Worker slots: hold one explicitly (named or anonymous), release it, list
//! them all.

use super::{check_worker, Board};
use crate::actors::slots::{ClaimSlot, ListSlots, ReleaseSlot};
use crate::error::Error;
use crate::model::SlotInfo;

impl Board {
    /// Hold a slot explicitly.
    pub async fn claim_slot(&self, worker: &str) -> Result<u32, Error> {
        check_worker(worker)?;
        self.claim_slot_as(worker).await
    }

    /// Hold a slot explicitly; an empty `worker` is an anonymous hold that the
    /// first worker to claim a task in it adopts (agent-coordinate-mcp style).
    pub async fn claim_slot_as(&self, worker: &str) -> Result<u32, Error> {
        if !worker.is_empty() {
            check_worker(worker)?;
        }
        self.writable()?;
        let r = self
            .slots
            .send(ClaimSlot {
                worker: worker.to_owned(),
            })
            .await??;
        self.durable(r).await
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
