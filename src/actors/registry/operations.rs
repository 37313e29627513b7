//! The MCP task handles (SEP-2663, the `o/` key space): [`OpenOperation`]
//! records one (dropping expired ones), [`GetOperation`] reads one,
//! [`SettleOperation`] and [`CancelOperation`] move a working one to its end.
//! Each change is written before the reply.

use actix::prelude::*;

use super::messages::{CancelOperation, GetOperation, OpenOperation, SettleOperation};
use super::TaskRegistry;
use crate::error::Error;
use crate::model::{Operation, OperationState};
use crate::store::{Ticket, WriteBatch};

impl Handler<OpenOperation> for TaskRegistry {
    type Result = Result<Ticket, Error>;
    fn handle(&mut self, msg: OpenOperation, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let mut batch = WriteBatch::new();
        let expired: Vec<String> = self
            .operations
            .values()
            .filter(|o| o.expired(now))
            .map(|o| o.id.clone())
            .collect();
        for id in &expired {
            batch.remove_operation(id);
        }
        batch.put_operation(&msg.op);
        let ticket = self.write(batch)?;
        for id in expired {
            self.operations.remove(&id);
        }
        self.operations.insert(msg.op.id.clone(), msg.op);
        Ok(ticket)
    }
}

impl TaskRegistry {
    fn operation(&self, id: &str) -> Result<&Operation, Error> {
        self.operations
            .get(id)
            .filter(|o| !o.expired(self.clock.now()))
            .ok_or_else(|| Error::OperationNotFound(id.to_owned()))
    }

    /// Move a working handle to `state`; a settled or cancelled one is left as it is.
    fn transition(
        &mut self,
        id: &str,
        state: OperationState,
    ) -> Result<(Operation, Option<Ticket>), Error> {
        let mut op = self.operation(id)?.clone();
        if op.is_terminal() {
            return Ok((op, None));
        }
        op.state = state;
        op.updated_at = self.clock.now();
        let mut batch = WriteBatch::new();
        batch.put_operation(&op);
        let ticket = self.write(batch)?;
        self.operations.insert(op.id.clone(), op.clone());
        Ok((op, Some(ticket)))
    }
}

impl Handler<GetOperation> for TaskRegistry {
    type Result = Result<Operation, Error>;
    fn handle(&mut self, msg: GetOperation, _: &mut Context<Self>) -> Self::Result {
        self.operation(&msg.id).cloned()
    }
}

impl Handler<SettleOperation> for TaskRegistry {
    type Result = Result<(Operation, Option<Ticket>), Error>;
    fn handle(&mut self, msg: SettleOperation, _: &mut Context<Self>) -> Self::Result {
        let state = OperationState::Completed {
            task: Box::new(msg.task),
            finished: msg.finished,
        };
        self.transition(&msg.id, state)
    }
}

impl Handler<CancelOperation> for TaskRegistry {
    type Result = Result<(Operation, Option<Ticket>), Error>;
    fn handle(&mut self, msg: CancelOperation, _: &mut Context<Self>) -> Self::Result {
        self.transition(&msg.id, OperationState::Cancelled)
    }
}
