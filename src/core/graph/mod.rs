//! `DependencyGraph`: the task DAG, pure and synchronous.
//!
//! It knows, for every task, its dependencies and dependents, how many of its
//! dependencies are not yet `done` (`unmet`), and whether the node has
//! finished, failed or been cancelled. From that it answers the only question
//! the registry asks: *which tasks are ready now?* It rejects batches that
//! name missing dependencies or would close a cycle, leaving itself unchanged.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | [`DependencyGraph`], its nodes and their states; load and recount, readiness and reads |
//! | `insert.rs` | check a batch (cycles, missing ids), insert it, undo it |
//! | `outcome.rs` | done, failed, cancelled (cascade) and reset |
//! | `prune.rs` | removal of finished tasks for retention |
//! | `error.rs` | [`GraphError`] |

use std::collections::HashMap;

use crate::model::TaskId;

mod error;
mod insert;
mod outcome;
mod prune;
#[cfg(test)]
mod tests;

pub use error::GraphError;

/// Where a node stands, as far as its dependents care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Not finished (blocked, ready or running).
    Pending,
    /// Finished successfully: counts as met for its dependents.
    Done,
    /// Failed (itself or by cascade).
    Failed,
    /// Cancelled: its pending dependents are cancelled with it.
    Cancelled,
}

/// Readiness of a pending node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Every dependency is done.
    Ready,
    /// Waiting for `unmet` dependencies.
    Blocked {
        /// Dependencies not yet done.
        unmet: usize,
    },
    /// A dependency failed; the node fails with it.
    DependencyFailed(TaskId),
}

#[derive(Debug, Clone)]
struct Node {
    deps: Vec<TaskId>,
    dependents: Vec<TaskId>,
    unmet: usize,
    state: NodeState,
}

/// The DAG of tasks.
#[derive(Debug, Default, Clone)]
pub struct DependencyGraph {
    nodes: HashMap<TaskId, Node>,
}

impl DependencyGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// State of a node.
    pub fn state(&self, id: &TaskId) -> Option<NodeState> {
        self.nodes.get(id).map(|n| n.state)
    }

    /// Direct dependents of a node.
    pub fn dependents(&self, id: &TaskId) -> Vec<TaskId> {
        self.nodes
            .get(id)
            .map(|n| n.dependents.clone())
            .unwrap_or_default()
    }

    /// Make room for `additional` more nodes (start-up, before
    /// [`DependencyGraph::restore`]).
    pub fn reserve(&mut self, additional: usize) {
        self.nodes.reserve(additional);
    }

    /// Load a node as it was persisted, without validation (recovery). Call
    /// [`DependencyGraph::recount`] once every node is loaded.
    pub fn restore(&mut self, id: TaskId, deps: Vec<TaskId>, state: NodeState) {
        self.nodes.insert(
            id,
            Node {
                deps,
                dependents: Vec::new(),
                unmet: 0,
                state,
            },
        );
    }

    /// Rebuild dependents and unmet counts after [`DependencyGraph::restore`].
    /// Dependencies on unknown ids (impossible unless the store was edited) are dropped.
    pub fn recount(&mut self) {
        // only tasks with dependencies need a second look (cloning every id
        // of a 1,000,000-task board was a tenth of start-up)
        let ids: Vec<TaskId> = self
            .nodes
            .iter()
            .filter(|(_, n)| !n.deps.is_empty())
            .map(|(id, _)| id.clone())
            .collect();
        for n in self.nodes.values_mut() {
            n.dependents.clear();
            n.unmet = 0;
        }
        for id in &ids {
            let deps = self
                .nodes
                .get(id)
                .map(|n| n.deps.clone())
                .unwrap_or_default();
            let mut unmet = 0;
            let mut kept = Vec::with_capacity(deps.len());
            for d in deps {
                if let Some(dn) = self.nodes.get_mut(&d) {
                    dn.dependents.push(id.clone());
                    if dn.state != NodeState::Done {
                        unmet += 1;
                    }
                    kept.push(d);
                }
            }
            if let Some(n) = self.nodes.get_mut(id) {
                n.deps = kept;
                n.unmet = unmet;
            }
        }
    }

    /// Readiness of a pending node from its dependencies' states.
    pub fn readiness(&self, id: &TaskId) -> Readiness {
        let Some(node) = self.nodes.get(id) else {
            return Readiness::Ready;
        };
        for d in &node.deps {
            if let Some(dn) = self.nodes.get(d) {
                if matches!(dn.state, NodeState::Failed | NodeState::Cancelled) {
                    return Readiness::DependencyFailed(d.clone());
                }
            }
        }
        if node.unmet == 0 {
            Readiness::Ready
        } else {
            Readiness::Blocked { unmet: node.unmet }
        }
    }

    /// Every pending node whose dependencies are all done (for checks and tests).
    pub fn ready_set(&self) -> Vec<TaskId> {
        self.nodes
            .iter()
            .filter(|(id, n)| {
                n.state == NodeState::Pending && self.readiness(id) == Readiness::Ready
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Dependencies of a node.
    pub fn dependencies(&self, id: &TaskId) -> Vec<TaskId> {
        self.nodes
            .get(id)
            .map(|n| n.deps.clone())
            .unwrap_or_default()
    }
}
