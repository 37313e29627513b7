//! What a task's end does to its dependents: done makes them ready once
//! nothing else is unmet, failed or cancelled carries every pending
//! transitive dependent with it (cascade), and a reset brings a failed task
//! and its failed dependents back to pending.

use std::collections::{HashSet, VecDeque};

use super::{DependencyGraph, GraphError, NodeState, Readiness};
use crate::model::TaskId;

impl DependencyGraph {
    /// Mark a node done; returns the dependents that became ready.
    pub fn mark_done(&mut self, id: &TaskId) -> Vec<TaskId> {
        let Some(node) = self.nodes.get_mut(id) else {
            return Vec::new();
        };
        if node.state == NodeState::Done {
            return Vec::new();
        }
        node.state = NodeState::Done;
        let dependents = node.dependents.clone();
        let mut ready = Vec::new();
        for d in dependents {
            if let Some(dn) = self.nodes.get_mut(&d) {
                dn.unmet = dn.unmet.saturating_sub(1);
                if dn.unmet == 0 && dn.state == NodeState::Pending {
                    if let Readiness::Ready = self.readiness(&d) {
                        ready.push(d);
                    }
                }
            }
        }
        ready
    }

    /// Mark a node failed; every pending transitive dependent fails with it.
    /// Returns those dependents (not `id` itself), nearest first.
    pub fn mark_failed(&mut self, id: &TaskId) -> Vec<TaskId> {
        self.cascade(id, NodeState::Failed)
    }

    /// Mark a node cancelled; every pending transitive dependent is cancelled too.
    pub fn mark_cancelled(&mut self, id: &TaskId) -> Vec<TaskId> {
        self.cascade(id, NodeState::Cancelled)
    }

    fn cascade(&mut self, id: &TaskId, state: NodeState) -> Vec<TaskId> {
        let Some(node) = self.nodes.get_mut(id) else {
            return Vec::new();
        };
        node.state = state;
        let mut out = Vec::new();
        let mut queue: VecDeque<TaskId> = node.dependents.iter().cloned().collect();
        while let Some(d) = queue.pop_front() {
            if let Some(dn) = self.nodes.get_mut(&d) {
                if dn.state == NodeState::Pending {
                    dn.state = state;
                    queue.extend(dn.dependents.iter().cloned());
                    out.push(d);
                }
            }
        }
        out
    }

    /// Reset a failed node and its failed transitive dependents to pending.
    /// Dependents that still have another failed or cancelled dependency stay
    /// failed. Returns every node that was reset with its readiness, `id`
    /// first; a node that is not failed resets nothing.
    ///
    /// Refused, changing nothing, when `id` itself would fail again at once:
    /// one of its dependencies is failed ([`GraphError::DependencyFailed`])
    /// or cancelled ([`GraphError::DependencyCancelled`]).
    pub fn reset(&mut self, id: &TaskId) -> Result<Vec<(TaskId, Readiness)>, GraphError> {
        if self.state(id) != Some(NodeState::Failed) {
            return Ok(Vec::new());
        }
        for d in self.dependencies(id) {
            match self.state(&d) {
                Some(NodeState::Failed) => {
                    return Err(GraphError::DependencyFailed {
                        task: id.clone(),
                        dependency: d,
                    })
                }
                Some(NodeState::Cancelled) => {
                    return Err(GraphError::DependencyCancelled {
                        task: id.clone(),
                        dependency: d,
                    })
                }
                _ => {}
            }
        }
        // collect id + failed nodes reachable through failed nodes
        let mut order = vec![id.clone()];
        let mut seen: HashSet<TaskId> = HashSet::from([id.clone()]);
        let mut i = 0;
        while i < order.len() {
            let cur = order[i].clone();
            for d in self.dependents(&cur) {
                if self.state(&d) == Some(NodeState::Failed) && seen.insert(d.clone()) {
                    order.push(d);
                }
            }
            i += 1;
        }
        for n in &order {
            if let Some(node) = self.nodes.get_mut(n) {
                node.state = NodeState::Pending;
            }
        }
        // fixpoint: a reset node with a dependency still failed/cancelled fails again
        loop {
            let mut changed = false;
            for n in &order {
                if self.state(n) == Some(NodeState::Pending) {
                    if let Readiness::DependencyFailed(_) = self.readiness(n) {
                        if let Some(node) = self.nodes.get_mut(n) {
                            node.state = NodeState::Failed;
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                break;
            }
        }
        Ok(order
            .into_iter()
            .filter(|n| self.state(n) == Some(NodeState::Pending))
            .map(|n| {
                let r = self.readiness(&n);
                (n, r)
            })
            .collect())
    }
}
