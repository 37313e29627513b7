//! `DependencyGraph`: the task DAG and its trees, pure and synchronous.
//!
//! It knows, for every task, its dependencies and dependents, how many of its
//! dependencies are not yet `done` (`unmet`), and whether the node has
//! finished, failed or been cancelled. From that it answers the only question
//! the registry asks: *which tasks are ready now?* It rejects batches that
//! name missing dependencies or would close a cycle, leaving itself unchanged.
//!
//! **Trees.** A node may have a parent. A parent with children is a
//! *container*: it is never ready itself; it waits for its children and
//! rolls up their end (done when its last unfinished child ends and some
//! child is done; cancelled when every child was cancelled; failed as soon
//! as one child fails for good). A child waits for its parent's dependencies
//! too: its edges (`deps`) are its own dependencies and every ancestor's
//! (*inherited*), so "a dependency on a parent means on all of it" and "a
//! parent's dependencies hold back its subtree" are both ordinary edges.
//! One cycle check covers dependency edges, inherited ones and parent links
//! (a parent waits for its children) together; depth is bounded by
//! [`TreeRules::max_depth`].
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | [`DependencyGraph`], its nodes, trees and their states; load and recount, readiness and reads |
//! | `insert.rs` | check a batch (cycles, missing ids, parents, depth), insert it, undo it |
//! | `outcome.rs` | done, failed, cancelled (cascades and roll-ups: [`Fallout`]) and reset |
//! | `prune.rs` | removal of finished tasks for retention and deletion |
//! | `error.rs` | [`GraphError`] |

use std::collections::HashMap;

use crate::model::TaskId;

mod error;
mod insert;
mod outcome;
mod prune;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tree_tests;

pub use error::GraphError;
pub use insert::NewNode;
pub use outcome::{Cause, Ended, Fallout};

/// Where a node stands, as far as its dependents care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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
    /// A container: it waits for `open` unfinished children (it is never
    /// ready itself).
    Children {
        /// Children not finished yet.
        open: usize,
    },
}

/// The rules of trees (`[subtasks]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeRules {
    /// Most levels of a tree (a top-level node is level 1).
    pub max_depth: u32,
    /// A child that fails for good cancels its unfinished siblings.
    pub cancel_siblings: bool,
}

impl Default for TreeRules {
    fn default() -> Self {
        Self {
            max_depth: 8,
            cancel_siblings: false,
        }
    }
}

/// A node's place in a tree; kept only for nodes that have a parent or
/// children (a flat board pays nothing for trees).
#[derive(Debug, Clone, Default)]
struct Tree {
    parent: Option<TaskId>,
    children: Vec<TaskId>,
    /// Children still pending.
    open: usize,
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
    trees: HashMap<TaskId, Tree>,
    rules: TreeRules,
}

impl DependencyGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder: the rules of trees (default: depth 8, siblings keep running).
    pub fn with_rules(mut self, rules: TreeRules) -> Self {
        self.rules = rules;
        self
    }

    /// The parent of a node, if it has one.
    pub fn parent(&self, id: &TaskId) -> Option<&TaskId> {
        self.trees.get(id).and_then(|t| t.parent.as_ref())
    }

    /// The children of a node (empty for a leaf), in the order they were added.
    pub fn children(&self, id: &TaskId) -> &[TaskId] {
        self.trees.get(id).map_or(&[], |t| &t.children)
    }

    /// Whether a node has children (a container is never ready itself).
    pub fn is_container(&self, id: &TaskId) -> bool {
        !self.children(id).is_empty()
    }

    /// A node and every descendant, parents before their children.
    pub fn subtree(&self, id: &TaskId) -> Vec<TaskId> {
        let mut out = vec![id.clone()];
        let mut i = 0;
        while i < out.len() {
            let kids = self.children(&out[i]).to_vec();
            out.extend(kids);
            i += 1;
        }
        out
    }

    /// How many levels a node is down its tree (a top-level node is 1).
    fn depth(&self, id: &TaskId) -> u32 {
        let mut depth = 1;
        let mut cur = self.parent(id);
        while let Some(p) = cur {
            depth += 1;
            if depth > 1024 {
                break; // impossible unless the store was edited: no endless walk
            }
            cur = self.parent(p);
        }
        depth
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

    /// Load a node's parent link as it was persisted (recovery, after
    /// [`DependencyGraph::restore`] of the node; before
    /// [`DependencyGraph::recount`]).
    pub fn restore_parent(&mut self, id: TaskId, parent: TaskId) {
        self.trees.entry(id).or_default().parent = Some(parent);
    }

    /// Rebuild children and their open counts from the parent links, and
    /// give every child its ancestors' dependencies (inherited edges).
    /// Links to unknown parents are dropped.
    fn recount_trees(&mut self) {
        for t in self.trees.values_mut() {
            t.children.clear();
            t.open = 0;
        }
        let links: Vec<(TaskId, TaskId)> = self
            .trees
            .iter()
            .filter_map(|(id, t)| t.parent.clone().map(|p| (id.clone(), p)))
            .collect();
        for (id, p) in &links {
            if !self.nodes.contains_key(p) {
                if let Some(t) = self.trees.get_mut(id) {
                    t.parent = None;
                }
                continue;
            }
            let pending = self.state(id) == Some(NodeState::Pending);
            let t = self.trees.entry(p.clone()).or_default();
            t.children.push(id.clone());
            if pending {
                t.open += 1;
            }
        }
        for (id, _) in &links {
            let mut inherited: Vec<TaskId> = Vec::new();
            let mut cur = self.parent(id).cloned();
            let mut steps = 0;
            while let Some(p) = cur {
                steps += 1;
                if steps > 1024 {
                    break;
                }
                if let Some(n) = self.nodes.get(&p) {
                    inherited.extend(n.deps.iter().cloned());
                }
                cur = self.parent(&p).cloned();
            }
            if let Some(n) = self.nodes.get_mut(id) {
                for d in inherited {
                    if !n.deps.contains(&d) {
                        n.deps.push(d);
                    }
                }
            }
        }
        self.trees
            .retain(|_, t| t.parent.is_some() || !t.children.is_empty());
    }

    /// Rebuild dependents and unmet counts after [`DependencyGraph::restore`]
    /// (and the trees after [`DependencyGraph::restore_parent`]).
    /// Dependencies on unknown ids (impossible unless the store was edited) are dropped.
    pub fn recount(&mut self) {
        if !self.trees.is_empty() {
            self.recount_trees();
        }
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
        if let Some(t) = self.trees.get(id).filter(|t| !t.children.is_empty()) {
            return Readiness::Children { open: t.open };
        }
        if node.unmet == 0 {
            Readiness::Ready
        } else {
            Readiness::Blocked { unmet: node.unmet }
        }
    }

    /// Every pending leaf whose dependencies are all done (for checks and tests).
    pub fn ready_set(&self) -> Vec<TaskId> {
        self.nodes
            .iter()
            .filter(|(id, n)| {
                n.state == NodeState::Pending && self.readiness(id) == Readiness::Ready
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Dependencies of a node: its own and (for a child) its ancestors'.
    pub fn dependencies(&self, id: &TaskId) -> Vec<TaskId> {
        self.nodes
            .get(id)
            .map(|n| n.deps.clone())
            .unwrap_or_default()
    }
}
