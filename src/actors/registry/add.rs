//! Adding tasks: [`AddTasks`] validates a batch, asks the resolver to check
//! and insert its edges (a cycle, a missing dependency or parent, a tree too
//! deep changes nothing), and writes every task with the status the graph
//! gives it. [`AddSubtasks`] adds a batch under one parent — also the task
//! its caller holds (a split: the lease ends as `split`). A parent outside
//! the batch that gains children becomes a container (blocked, never
//! claimed) in the same commit.

use std::collections::HashSet;

use actix::prelude::*;

use super::messages::{AddSubtasks, AddTasks};
use super::{done, Fut, Reply, TaskRegistry};
use crate::actors::resolver::{AddNodes, RemoveNodes};
use crate::core::graph::{NewNode, Readiness};
use crate::core::table::{Effects, LeaseRef, TaskError};
use crate::core::validate::{validate_batch, validate_list};
use crate::error::Error;
use crate::model::{Principal, Task, TaskId, TaskStatus};
use crate::store::Ticket;

type Added = (Vec<Task>, Vec<Task>, Ticket);

impl TaskRegistry {
    /// Add validated `tasks`. Parents outside the batch are checked first:
    /// a running one only under `split` (its id and the caller's lease on
    /// it). Answers the new tasks (in order), every outside parent as it is
    /// after the add, and the commit (which covers the slot a split frees).
    fn add_checked(
        &mut self,
        tasks: Vec<Task>,
        actor: Principal,
        split: Option<(TaskId, LeaseRef)>,
    ) -> Fut<Added> {
        let now = self.clock.now();
        let in_batch: HashSet<&TaskId> = tasks.iter().map(|t| &t.id).collect();
        let mut outside: Vec<TaskId> = Vec::new();
        for p in tasks.iter().filter_map(|t| t.parent.as_ref()) {
            if !in_batch.contains(p) && !outside.contains(p) {
                outside.push(p.clone());
            }
        }
        for p in &outside {
            let lease = split.as_ref().filter(|(s, _)| s == p).map(|(_, l)| l);
            if let Err(e) = self.table.check_split(p, lease, now, &actor) {
                return super::ready(Err(e.into()));
            }
        }
        let nodes: Vec<NewNode> = tasks
            .iter()
            .map(|t| NewNode {
                id: t.id.clone(),
                deps: t.dependencies.clone(),
                parent: t.parent.clone(),
            })
            .collect();
        let resolver = self.resolver.clone();
        let ids: Vec<TaskId> = nodes.iter().map(|n| n.id.clone()).collect();
        let fut = async move { resolver.send(AddNodes { nodes }).await };
        Box::pin(fut.into_actor(self).then(move |res, act, _| {
            let readiness = match res
                .map_err(Error::from)
                .and_then(|r| r.map_err(Error::from))
            {
                Ok(r) => r,
                Err(e) => return super::ready(Err(e)),
            };
            let now = act.clock.now();
            let mut tasks = tasks;
            for (t, r) in tasks.iter_mut().zip(readiness) {
                match r {
                    Readiness::Ready => t.status = TaskStatus::Ready,
                    Readiness::Blocked { .. } | Readiness::Children { .. } => {
                        t.status = TaskStatus::Blocked
                    }
                    Readiness::DependencyFailed(d) => {
                        t.status = TaskStatus::Failed;
                        t.error = Some(format!("dependency '{d}' failed"));
                    }
                }
            }
            let mut fx = Effects::by(actor);
            act.table.insert(tasks, now, &mut fx);
            for p in &outside {
                act.table.contain(p, now, &mut fx);
            }
            let undo = ids.clone();
            Box::pin(
                act.finish(fx, now, move |act, ticket| {
                    let get = |id: &TaskId| act.table.get(id).cloned();
                    let out = ids.iter().filter_map(get).collect();
                    let parents = outside.iter().filter_map(get).collect();
                    Ok((out, parents, ticket))
                })
                .map(move |r, act, _| {
                    if r.is_err() {
                        act.resolver.do_send(RemoveNodes { ids: undo });
                    }
                    r
                }),
            )
        }))
    }
}

impl Handler<AddTasks> for TaskRegistry {
    type Result = Reply<(Vec<Task>, Ticket)>;
    fn handle(&mut self, msg: AddTasks, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let tasks = match validate_batch(msg.specs, &self.settings.tasks, now) {
            Ok(t) => t,
            Err(e) => return done(Err(e.into())),
        };
        let fut = self.add_checked(tasks, msg.actor, None);
        AtomicResponse::new(Box::pin(
            fut.map(|r, _, _| r.map(|(t, _, ticket)| (t, ticket))),
        ))
    }
}

impl Handler<AddSubtasks> for TaskRegistry {
    type Result = Reply<(Task, Vec<Task>, Ticket)>;
    fn handle(&mut self, msg: AddSubtasks, _: &mut Context<Self>) -> Self::Result {
        let now = self.clock.now();
        let mut tasks = match validate_list(msg.specs, &self.settings.tasks, now, true) {
            Ok(t) => t,
            Err(e) => return done(Err(e.into())),
        };
        let ids: HashSet<TaskId> = tasks.iter().map(|t| t.id.clone()).collect();
        for (i, t) in tasks.iter_mut().enumerate() {
            match &t.parent {
                None => t.parent = Some(msg.parent.clone()),
                Some(p) if *p == msg.parent || ids.contains(p) => {}
                Some(p) => {
                    return done(Err(TaskError::Invalid {
                        field: format!("tasks[{i}].parent"),
                        message: format!(
                            "is '{p}'; a subtask added under '{}' names it (or another task of this batch) or leaves parent out",
                            msg.parent
                        ),
                    }
                    .into()))
                }
            }
        }
        let parent = msg.parent.clone();
        let split = msg.lease.map(|l| (msg.parent, l));
        let fut = self.add_checked(tasks, msg.actor, split);
        AtomicResponse::new(Box::pin(fut.map(move |r, act, _| {
            let (tasks, _, ticket) = r?;
            Ok((act.task(&parent)?, tasks, ticket))
        })))
    }
}
