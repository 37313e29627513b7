//! `DependencyResolver`: owns the task DAG.
//!
//! State: a [`DependencyGraph`] (edges both ways, unmet-dependency counts,
//! node states, parent links). Messages: [`AddNodes`] (validate + insert a
//! batch: missing dependencies or parents, depth, cycles), [`Finish`] (what
//! a task's end did: ready dependents, cascades, roll-ups of parents),
//! [`MarkDone`] (returns newly ready dependents), [`MarkFailed`] /
//! [`MarkCancelled`] (return the cascade), [`ResetNode`] (returns what was
//! reset and its readiness), [`Prune`] and [`RemoveTree`] (retention and
//! deletion) and [`GetDependents`].
//! Talks to: nobody; the [`TaskRegistry`](super::registry::TaskRegistry)
//! asks it and waits for the answer before committing, so a completion and
//! the readiness it causes land in one atomic write.

use actix::prelude::*;

use crate::core::graph::{DependencyGraph, Fallout, GraphError, NewNode, NodeState, Readiness};
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

/// Validate and insert new nodes (id, own dependencies, parent); readiness
/// in batch order (a parent's is [`Readiness::Children`]).
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<Readiness>, GraphError>")]
pub struct AddNodes {
    /// The new tasks (id, dependencies, parent), in the order they were
    /// added; a dependency or parent may name a task earlier in the batch or
    /// already in the graph.
    pub nodes: Vec<NewNode>,
}

impl Handler<AddNodes> for DependencyResolver {
    type Result = Result<Vec<Readiness>, GraphError>;
    fn handle(&mut self, msg: AddNodes, _: &mut Context<Self>) -> Self::Result {
        self.graph.insert_nodes(&msg.nodes)
    }
}

/// A task ended (`state`: done, failed for good, cancelled): returns
/// everything that follows (see [`DependencyGraph::finish`]).
#[derive(Debug, Message)]
#[rtype(result = "Fallout")]
pub struct Finish {
    /// The task that ended.
    pub id: TaskId,
    /// How it ended.
    pub state: NodeState,
}

impl Handler<Finish> for DependencyResolver {
    type Result = MessageResult<Finish>;
    fn handle(&mut self, msg: Finish, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.graph.finish(&msg.id, msg.state))
    }
}

/// A deletion: remove a finished task and its subtasks from the DAG, all
/// or nothing; `Err((task, dependents))` when a task outside that tree
/// depends on one of them (see [`DependencyGraph::remove_tree`]).
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<TaskId>, (TaskId, Vec<TaskId>)>")]
pub struct RemoveTree {
    /// The finished task whose tree goes.
    pub id: TaskId,
}

impl Handler<RemoveTree> for DependencyResolver {
    type Result = Result<Vec<TaskId>, (TaskId, Vec<TaskId>)>;
    fn handle(&mut self, msg: RemoveTree, _: &mut Context<Self>) -> Self::Result {
        self.graph.remove_tree(&msg.id)
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
