//! Durable waits (the MCP task handles of the tasks extension): open one on
//! a task, poll it (settling it once the task finished or the deadline
//! passed), cancel it.

use super::Board;
use crate::actors::registry::{CancelOperation, GetOperation, OpenOperation, SettleOperation};
use crate::error::Error;
use crate::model::{Operation, OperationState};

impl Board {
    /// Record a durable wait on task `id` that gives up after `timeout`: the
    /// handle an MCP client of the tasks extension polls. Durable before it returns.
    pub async fn open_wait(
        &self,
        tool: &str,
        id: &str,
        timeout: std::time::Duration,
    ) -> Result<Operation, Error> {
        let task = self.get_task(id).await?;
        let now = self.clock.now();
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let op = Operation {
            id: format!("op-{}", uuid::Uuid::now_v7().simple()),
            tool: tool.to_owned(),
            task_id: task.id,
            deadline: now.saturating_add(timeout_ms),
            created_at: now,
            updated_at: now,
            ttl_ms: self
                .settings
                .mcp
                .task_handle_ttl_secs
                .saturating_mul(1000)
                .max(timeout_ms),
            state: OperationState::Working,
        };
        self.writable()?;
        let ticket = self
            .registry
            .send(OpenOperation { op: op.clone() })
            .await??;
        self.store.wait_durable(ticket).await?;
        Ok(op)
    }

    /// A wait's current state. A working wait whose task has finished, or
    /// whose deadline has passed, is settled (durably) on the way.
    pub async fn poll_wait(&self, handle: &str) -> Result<Operation, Error> {
        let op = self
            .registry
            .send(GetOperation {
                id: handle.to_owned(),
            })
            .await??;
        if op.is_terminal() {
            return Ok(op);
        }
        let task = self.get_task(op.task_id.as_str()).await?;
        let finished = task.status.is_terminal();
        if !finished && self.clock.now() < op.deadline {
            return Ok(op);
        }
        let settle = SettleOperation {
            id: op.id,
            task,
            finished,
        };
        let (op, ticket) = self.registry.send(settle).await??;
        if let Some(t) = ticket {
            self.store.wait_durable(t).await?;
        }
        Ok(op)
    }

    /// Cancel a working wait (a settled one is left as it is).
    pub async fn cancel_wait(&self, handle: &str) -> Result<Operation, Error> {
        self.writable()?;
        let (op, ticket) = self
            .registry
            .send(CancelOperation {
                id: handle.to_owned(),
            })
            .await??;
        if let Some(t) = ticket {
            self.store.wait_durable(t).await?;
        }
        Ok(op)
    }
}
