//! Deleting finished tasks: the retention timer (every
//! `retention.interval_ms`) deletes terminal tasks older than
//! `retention.keep_terminal_secs` that nothing pending depends on (a tree
//! goes as a whole, its subtasks before their parent), and prunes old audit
//! events, in bounded batches; [`DeleteTask`] deletes one terminal task (a
//! parent with its subtasks) now. Each deletion leaves a `task_deleted`
//! audit event.

use actix::prelude::*;

use super::messages::DeleteTask;
use super::{ready, Reply, TaskRegistry};
use crate::actors::resolver::{Prune, RemoveTree};
use crate::core::table::TaskError;
use crate::error::Error;
use crate::model::{Event, EventKind, Millis, Principal, TaskId};
use crate::store::{Ticket, WriteBatch};

impl TaskRegistry {
    /// Forget `ids` (terminal tasks the resolver has already removed from
    /// the DAG) and add their deletion to `batch`, one `task_deleted` audit
    /// event each. Returns how many were forgotten.
    fn forget(
        &mut self,
        ids: &[TaskId],
        actor: &Principal,
        now: Millis,
        batch: &mut WriteBatch,
    ) -> usize {
        let mut n = 0;
        for id in ids {
            let Some(task) = self.table.remove_terminal(id) else {
                continue;
            };
            n += 1;
            batch.delete_task(id);
            batch.put_event(
                Event {
                    id: 0,
                    at: now,
                    kind: EventKind::TaskDeleted,
                    task_id: Some(id.clone()),
                    worker: None,
                    actor: actor.name.clone(),
                    slot: None,
                    lease_id: None,
                    from: Some(task.status),
                    to: None,
                    reason: None,
                },
                None,
            );
            self.metrics.task_event(EventKind::TaskDeleted);
        }
        if n > 0 {
            self.view.set_counts(self.table.counts());
        }
        n
    }

    /// One retention pass: delete up to `retention.batch` terminal tasks that
    /// ended more than `keep_terminal_secs` ago (those the resolver can drop
    /// without leaving a task that depends on a missing one) and prune old
    /// audit events, as one commit. Runs with the mailbox held.
    pub(super) fn retention_pass(&mut self, ctx: &mut Context<Self>) {
        if self.poisoned {
            return;
        }
        let r = &self.settings.retention;
        let now = self.clock.now();
        let candidates = if r.keep_terminal_secs == 0 {
            Vec::new()
        } else {
            let cutoff = now.saturating_sub(r.keep_terminal_secs.saturating_mul(1000));
            // every old finished task is a candidate, not only the oldest
            // `batch`: those are often pinned by a later task that depends on
            // them, and the resolver deletes up to `batch` from the sinks
            self.table.ended_before(cutoff, usize::MAX)
        };
        let events = (r.keep_events_secs > 0).then(|| {
            let cutoff = now.saturating_sub(r.keep_events_secs.saturating_mul(1000));
            (cutoff, r.batch)
        });
        if candidates.is_empty() && events.is_none() {
            return;
        }
        let resolver = self.resolver.clone();
        let limit = r.batch;
        let ask = async move {
            if candidates.is_empty() {
                Ok(Vec::new())
            } else {
                resolver
                    .send(Prune {
                        ids: candidates,
                        limit,
                    })
                    .await
            }
        };
        ctx.wait(ask.into_actor(self).map(move |removed, act, _| {
            let removed = match removed {
                Ok(r) => r,
                Err(e) => {
                    act.poison(format!("a dependency resolver call failed: {e}"));
                    return;
                }
            };
            let mut batch = WriteBatch::new();
            let deleted = act.forget(&removed, &Principal::local(), now, &mut batch);
            if let Some((before, max)) = events {
                batch.prune_events(before, max);
            }
            match act.write(batch) {
                Ok(_) if deleted > 0 => {
                    tracing::info!(deleted, "retention deleted finished tasks");
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "retention pass failed"),
            }
        }));
    }
}

impl TaskRegistry {
    /// Whether `id` may be deleted now: it and every subtask under it have
    /// finished, and so has its parent (a tree's outcome never loses a
    /// child while the tree is live).
    fn check_deletable(&self, id: &crate::model::TaskId) -> Result<(), Error> {
        self.refuse_if_poisoned()?;
        let t = self.task(id)?;
        if !t.status.is_terminal() {
            return Err(TaskError::WrongStatus {
                task: t.id,
                status: t.status,
                action: "delete it (only done, failed and cancelled tasks can be deleted)",
            }
            .into());
        }
        if let Some(p) = t.parent.as_ref().and_then(|p| self.table.get(p)) {
            if !p.status.is_terminal() {
                return Err(TaskError::WrongStatus {
                    task: t.id,
                    status: t.status,
                    action: "delete it while its parent has not finished (delete the parent when it has: its subtasks go with it)",
                }
                .into());
            }
        }
        let mut stack = self.table.children_of(id);
        while let Some(c) = stack.pop() {
            let child = self.task(&c)?;
            if !child.status.is_terminal() {
                return Err(TaskError::WrongStatus {
                    task: child.id,
                    status: child.status,
                    action: "delete its parent (every subtask must have finished)",
                }
                .into());
            }
            stack.extend(self.table.children_of(&c));
        }
        Ok(())
    }
}

impl Handler<DeleteTask> for TaskRegistry {
    type Result = Reply<Ticket>;
    fn handle(&mut self, msg: DeleteTask, _: &mut Context<Self>) -> Self::Result {
        if let Err(e) = self.check_deletable(&msg.id) {
            return AtomicResponse::new(Box::pin(ready(Err(e))));
        }
        let resolver = self.resolver.clone();
        let id = msg.id.clone();
        let ask = async move { resolver.send(RemoveTree { id }).await };
        AtomicResponse::new(Box::pin(ask.into_actor(self).map(move |r, act, _| {
            let removed = match r? {
                Ok(removed) => removed,
                Err((task, dependents)) => {
                    return Err(TaskError::HasDependents { task, dependents }.into())
                }
            };
            let now = act.clock.now();
            let mut batch = WriteBatch::new();
            act.forget(&removed, &msg.actor, now, &mut batch);
            act.write(batch)
        })))
    }
}
