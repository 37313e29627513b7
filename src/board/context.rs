//! A running task's private context: write one key under the task's lease
//! (through its context actor), read one key or all of them.

use super::Board;
use crate::actors::context::{check_key, PutContext};
use crate::core::table::TaskError;
use crate::error::Error;
use crate::model::TaskId;

impl Board {
    /// Write one context key of a running task under its lease.
    pub async fn context_put(
        &self,
        id: &str,
        lease_id: u64,
        key: &str,
        value: serde_json::Value,
    ) -> Result<(), Error> {
        let id = self.id(id)?;
        check_key(key)?;
        self.writable()?;
        let handle = self.view.contexts.get(&id).map(|h| h.value().clone());
        let Some(handle) = handle else {
            return Err(self.no_context(&id, lease_id).await);
        };
        let sent = handle
            .addr
            .send(PutContext {
                lease_id,
                key: key.to_owned(),
                value,
                actor: self.actor.clone(),
            })
            .await;
        match sent {
            Ok(r) => {
                let ticket = r?;
                self.store.wait_durable(ticket).await?;
                Ok(())
            }
            // the context stopped between lookup and send: its lease ended
            Err(_) => Err(self.no_context(&id, lease_id).await),
        }
    }

    async fn no_context(&self, id: &TaskId, lease_id: u64) -> Error {
        match self.get_task(id.as_str()).await {
            Ok(t) => TaskError::StaleLease {
                task: id.clone(),
                presented: lease_id,
                current: t.lease.map(|l| l.lease_id),
            }
            .into(),
            Err(e) => e,
        }
    }

    /// One context value.
    pub async fn context_get(
        &self,
        id: &str,
        key: &str,
    ) -> Result<Option<serde_json::Value>, Error> {
        let task = self.get_task(id).await?;
        let key = key.to_owned();
        self.read("a context read", move |s| s.context_get(&task.id, &key))
            .await
    }

    /// All context values of a task.
    pub async fn context_list(
        &self,
        id: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        let task = self.get_task(id).await?;
        self.read("a context read", move |s| s.context_list(&task.id))
            .await
    }
}
