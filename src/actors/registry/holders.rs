//! What the mailbox asks the registry: the tasks a worker holds now
//! ([`TasksHeldBy`]) and tasks' statuses and holders ([`TaskStates`]),
//! answered from the in-memory table (no store read, nothing written).

use actix::prelude::*;

use super::messages::{TaskState, TaskStates, TasksHeldBy};
use super::TaskRegistry;

impl Handler<TasksHeldBy> for TaskRegistry {
    type Result = MessageResult<TasksHeldBy>;
    fn handle(&mut self, msg: TasksHeldBy, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.table
                .running()
                .filter(|t| t.lease.as_ref().is_some_and(|l| l.worker == msg.worker))
                .map(|t| t.id.clone())
                .collect(),
        )
    }
}

impl Handler<TaskStates> for TaskRegistry {
    type Result = MessageResult<TaskStates>;
    fn handle(&mut self, msg: TaskStates, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            msg.ids
                .iter()
                .map(|id| {
                    self.table.get(id).map(|t| TaskState {
                        status: t.status,
                        holder: t.lease.as_ref().map(|l| l.worker.clone()),
                    })
                })
                .collect(),
        )
    }
}
