//! `DependencyResolver`: owns the task DAG.
//!
//! State: a [`DependencyGraph`] (edges both ways, unmet-dependency counts,
//! node states). Messages: [`AddNodes`] (validate + insert a batch: missing
//! dependencies, cycles), [`MarkDone`] (returns newly ready dependents),
//! [`MarkFailed`] / [`MarkCancelled`] (return the cascade), [`ResetNode`]
//! (returns what was reset and its readiness) and [`GetDependents`].
//! Talks to: nobody; the [`TaskRegistry`](super::registry::TaskRegistry)
//! asks it and waits for the answer before committing, so a completion and
//! the readiness it causes land in one atomic write.

use actix::prelude::*;

use crate::core::graph::{DependencyGraph, GraphError, Readiness};
use crate::model::TaskId;

/// The resolver actor.
#[derive(Debug)]
pub struct DependencyResolver {
    graph: DependencyGraph,
}

impl DependencyResolver {
    /// Start from a graph rebuilt from storage.
    pub fn new(graph: DependencyGraph) -> Self {
        Self { graph }
    }
}

impl Actor for DependencyResolver {
    type Context = Context<Self>;
}

/// Validate and insert new nodes `(id, dependencies)`; readiness in batch order.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<Readiness>, GraphError>")]
pub struct AddNodes {
    /// The new tasks as `(id, dependencies)`, in the order they were added; a
    /// dependency may name a task earlier in the batch or already in the graph.
    pub nodes: Vec<(TaskId, Vec<TaskId>)>,
}

impl Handler<AddNodes> for DependencyResolver {
    type Result = Result<Vec<Readiness>, GraphError>;
    fn handle(&mut self, msg: AddNodes, _: &mut Context<Self>) -> Self::Result {
        self.graph.insert(&msg.nodes)
    }
}

/// Undo an [`AddNodes`] whose commit failed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RemoveNodes {
    /// Ids of the batch.
    pub ids: Vec<TaskId>,
}

impl Handler<RemoveNodes> for DependencyResolver {
    type Result = ();
    fn handle(&mut self, msg: RemoveNodes, _: &mut Context<Self>) {
        self.graph.remove_batch(&msg.ids);
    }
}

/// Retention: remove from the DAG the largest subset of `ids` (terminal
/// tasks) that no remaining task depends on; returns what was removed (see
/// [`DependencyGraph::prune`](crate::core::graph::DependencyGraph::prune)).
#[derive(Debug, Message)]
#[rtype(result = "Vec<TaskId>")]
pub struct Prune {
    /// Terminal tasks the registry would delete.
    pub ids: Vec<TaskId>,
    /// Most tasks removed.
    pub limit: usize,
}

impl Handler<Prune> for DependencyResolver {
    type Result = Vec<TaskId>;
    fn handle(&mut self, msg: Prune, _: &mut Context<Self>) -> Self::Result {
        self.graph.prune(&msg.ids, msg.limit)
    }
}

/// A task finished; returns dependents that became ready.
#[derive(Debug, Message)]
#[rtype(result = "Vec<TaskId>")]
pub struct MarkDone {
    /// The finished task.
    pub id: TaskId,
}

impl Handler<MarkDone> for DependencyResolver {
    type Result = MessageResult<MarkDone>;
    fn handle(&mut self, msg: MarkDone, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.graph.mark_done(&msg.id))
    }
}

/// A task failed for good; returns the transitive dependents failing with it.
#[derive(Debug, Message)]
#[rtype(result = "Vec<TaskId>")]
pub struct MarkFailed {
    /// The failed task.
    pub id: TaskId,
}

impl Handler<MarkFailed> for DependencyResolver {
    type Result = MessageResult<MarkFailed>;
    fn handle(&mut self, msg: MarkFailed, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.graph.mark_failed(&msg.id))
    }
}

/// A task was cancelled; returns the transitive dependents cancelled with it.
#[derive(Debug, Message)]
#[rtype(result = "Vec<TaskId>")]
pub struct MarkCancelled {
    /// The cancelled task.
    pub id: TaskId,
}

impl Handler<MarkCancelled> for DependencyResolver {
    type Result = MessageResult<MarkCancelled>;
    fn handle(&mut self, msg: MarkCancelled, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.graph.mark_cancelled(&msg.id))
    }
}

/// Reset a failed task and its failed dependents; returns each with its
/// readiness, or why the reset cannot happen (a dependency still failed).
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<(TaskId, Readiness)>, GraphError>")]
pub struct ResetNode {
    /// The failed task.
    pub id: TaskId,
}

impl Handler<ResetNode> for DependencyResolver {
    type Result = Result<Vec<(TaskId, Readiness)>, GraphError>;
    fn handle(&mut self, msg: ResetNode, _: &mut Context<Self>) -> Self::Result {
        self.graph.reset(&msg.id)
    }
}

/// Direct dependents of a task.
#[derive(Debug, Message)]
#[rtype(result = "Vec<TaskId>")]
pub struct GetDependents {
    /// The task whose direct dependents to list (unknown: none).
    pub id: TaskId,
}

impl Handler<GetDependents> for DependencyResolver {
    type Result = MessageResult<GetDependents>;
    fn handle(&mut self, msg: GetDependents, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.graph.dependents(&msg.id))
    }
}
