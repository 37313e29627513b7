//! Adding tasks: [`AddTasks`] validates a batch, asks the resolver to check
//! and insert its edges (a cycle or a missing dependency changes nothing),
//! and writes every task with the status the graph gives it.

use actix::prelude::*;

use super::commit::Resolutions;
use super::messages::AddTasks;
use super::{done, Reply, TaskRegistry};
use crate::actors::resolver::{AddNodes, RemoveNodes};
use crate::core::graph::Readiness;
use crate::core::table::Effects;
use crate::core::validate::validate_batch;
use crate::error::Error;
use crate::model::{Task, TaskId, TaskStatus};
use crate::store::Ticket;

impl Handler<AddTasks> for TaskRegistry {
    type Result = Reply<(Vec<Task>, Ticket)>;
    fn handle(&mut self, msg: AddTasks, _: &mut Context<Self>) -> Self::Result {
        let tasks = match validate_batch(msg.specs, &self.settings.tasks) {
            Ok(t) => t,
            Err(e) => return done(Err(e.into())),
        };
        let actor = msg.actor;
        let nodes: Vec<(TaskId, Vec<TaskId>)> = tasks
            .iter()
            .map(|t| (t.id.clone(), t.dependencies.clone()))
            .collect();
        let resolver = self.resolver.clone();
        let ids: Vec<TaskId> = nodes.iter().map(|(id, _)| id.clone()).collect();
        let fut = async move { resolver.send(AddNodes { nodes }).await };
        AtomicResponse::new(Box::pin(fut.into_actor(self).map(move |res, act, ctx| {
            let readiness = res.map_err(Error::from)??;
            let now = act.clock.now();
            let mut tasks = tasks;
            for (t, r) in tasks.iter_mut().zip(readiness) {
                match r {
                    Readiness::Ready => t.status = TaskStatus::Ready,
                    Readiness::Blocked { .. } => t.status = TaskStatus::Blocked,
                    Readiness::DependencyFailed(d) => {
                        t.status = TaskStatus::Failed;
                        t.error = Some(format!("dependency '{d}' failed"));
                    }
                }
            }
            let mut fx = Effects::by(actor);
            act.table.insert(tasks, now, &mut fx);
            match act.commit(fx, Resolutions::default(), now, ctx) {
                Ok((ticket, _)) => {
                    let out = ids
                        .iter()
                        .filter_map(|id| act.table.get(id).cloned())
                        .collect();
                    Ok((out, ticket))
                }
                Err(e) => {
                    act.resolver.do_send(RemoveNodes { ids });
                    Err(e)
                }
            }
        })))
    }
}
