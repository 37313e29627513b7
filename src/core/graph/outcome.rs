//! What a task's end does to others ([`Fallout`]): done makes dependents
//! ready once nothing else is unmet, failed or cancelled carries every
//! pending transitive dependent with it (cascade); in a tree, a child's end
//! reaches its parent (a failed child fails it; the last unfinished child
//! rolls it up), a cancelled parent takes its unfinished children, and with
//! `cancel_siblings` a failed child cancels its siblings. A reset brings a
//! failed task back to pending with the failed tasks that fell with it: its
//! failed dependents, its failed children and its failed ancestors.

use std::collections::{HashSet, VecDeque};

use super::{DependencyGraph, GraphError, NodeState, Readiness};
use crate::model::TaskId;

/// Why a node ended because of another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// A dependency (own or inherited) failed or was cancelled: the task
    /// where that cascade started.
    Dependency(TaskId),
    /// A child failed for good: its parent fails.
    Child(TaskId),
    /// Its parent was cancelled.
    Parent(TaskId),
    /// A sibling failed for good (`cancel_siblings`).
    Sibling(TaskId),
    /// Its last unfinished child ended: the parent is done when some child
    /// is done, cancelled when every child was cancelled.
    Children,
}

impl Cause {
    /// The reason a task record and its audit event carry for ending in
    /// `state` because of this.
    pub fn reason(&self, state: NodeState) -> Option<String> {
        match (self, state) {
            (Cause::Dependency(d), NodeState::Cancelled) => {
                Some(format!("dependency '{d}' was cancelled"))
            }
            (Cause::Dependency(d), _) => Some(format!("dependency '{d}' failed")),
            (Cause::Child(c), _) => Some(format!("subtask '{c}' failed")),
            (Cause::Parent(p), _) => Some(format!("parent '{p}' was cancelled")),
            (Cause::Sibling(s), _) => Some(format!("subtask '{s}' of the same parent failed")),
            (Cause::Children, NodeState::Cancelled) => Some("every subtask was cancelled".into()),
            (Cause::Children, _) => None,
        }
    }
}

/// A node that ended because of another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// The node that ended.
    pub id: TaskId,
    /// Its end: done (a roll-up), failed or cancelled.
    pub state: NodeState,
    /// Why it ended (which node's end caused it).
    pub cause: Cause,
}

/// Everything one node's end did to the others, in the order it happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fallout {
    /// Pending leaves whose every dependency (own and inherited) is now done.
    pub ready: Vec<TaskId>,
    /// Nodes that ended with it (not the node itself), nearest first.
    pub ended: Vec<Ended>,
}

impl DependencyGraph {
    /// Mark a node done; returns the dependents that became ready (the
    /// leaves only; see [`DependencyGraph::finish`] for roll-ups).
    pub fn mark_done(&mut self, id: &TaskId) -> Vec<TaskId> {
        self.finish(id, NodeState::Done).ready
    }

    /// Mark a node failed; every pending transitive dependent fails with it.
    /// Returns what ended with it (not `id` itself), nearest first.
    pub fn mark_failed(&mut self, id: &TaskId) -> Vec<TaskId> {
        let f = self.finish(id, NodeState::Failed);
        f.ended.into_iter().map(|e| e.id).collect()
    }

    /// Mark a node cancelled; every pending transitive dependent (and
    /// unfinished descendant) is cancelled too.
    pub fn mark_cancelled(&mut self, id: &TaskId) -> Vec<TaskId> {
        let f = self.finish(id, NodeState::Cancelled);
        f.ended.into_iter().map(|e| e.id).collect()
    }

    /// `id` ended in `state` (done, failed or cancelled): everything that
    /// follows, applied to the graph and returned in order. Marking a done
    /// node done again changes nothing.
    pub fn finish(&mut self, id: &TaskId, state: NodeState) -> Fallout {
        let mut out = Fallout::default();
        let Some(node) = self.nodes.get_mut(id) else {
            return out;
        };
        if state == NodeState::Done && node.state == NodeState::Done {
            return out;
        }
        let was_pending = node.state == NodeState::Pending;
        node.state = state;
        let mut work: VecDeque<Ended> = VecDeque::new();
        self.spread(id, state, id, was_pending, &mut work, &mut out);
        while let Some(e) = work.pop_front() {
            let Some(node) = self.nodes.get_mut(&e.id) else {
                continue;
            };
            if node.state != NodeState::Pending {
                continue;
            }
            node.state = e.state;
            let (id, state) = (e.id.clone(), e.state);
            // a dependency cascade names where it started
            let origin = match &e.cause {
                Cause::Dependency(o) => o.clone(),
                _ => id.clone(),
            };
            out.ended.push(e);
            self.spread(&id, state, &origin, true, &mut work, &mut out);
        }
        out
    }

    /// The consequences of `id` ending in `state`: for its dependents (a
    /// cascade from `origin`), its children (a cancelled parent) and its
    /// parent (roll-up), queued on `work`.
    fn spread(
        &mut self,
        id: &TaskId,
        state: NodeState,
        origin: &TaskId,
        was_pending: bool,
        work: &mut VecDeque<Ended>,
        out: &mut Fallout,
    ) {
        let dependents = self
            .nodes
            .get(id)
            .map(|n| n.dependents.clone())
            .unwrap_or_default();
        match state {
            NodeState::Done => {
                for d in dependents {
                    if let Some(dn) = self.nodes.get_mut(&d) {
                        dn.unmet = dn.unmet.saturating_sub(1);
                        if dn.unmet == 0
                            && dn.state == NodeState::Pending
                            && self.readiness(&d) == Readiness::Ready
                        {
                            out.ready.push(d);
                        }
                    }
                }
            }
            NodeState::Failed | NodeState::Cancelled => {
                for d in dependents {
                    if self.state(&d) == Some(NodeState::Pending) {
                        work.push_back(Ended {
                            id: d,
                            state,
                            cause: Cause::Dependency(origin.clone()),
                        });
                    }
                }
                if state == NodeState::Cancelled {
                    for c in self.children(id).to_vec() {
                        if self.state(&c) == Some(NodeState::Pending) {
                            work.push_back(Ended {
                                id: c,
                                state,
                                cause: Cause::Parent(id.clone()),
                            });
                        }
                    }
                }
            }
            NodeState::Pending => {}
        }
        if was_pending {
            self.tell_parent(id, state, work);
        }
    }

    /// A child that was pending ended in `state`: one fewer open child; a
    /// failure fails the parent (and, with `cancel_siblings`, cancels its
    /// other unfinished children); the last open child rolls it up.
    fn tell_parent(&mut self, id: &TaskId, state: NodeState, work: &mut VecDeque<Ended>) {
        let Some(p) = self.parent(id).cloned() else {
            return;
        };
        let open = match self.trees.get_mut(&p) {
            Some(t) => {
                t.open = t.open.saturating_sub(1);
                t.open
            }
            None => return,
        };
        if self.state(&p) != Some(NodeState::Pending) {
            return;
        }
        if state == NodeState::Failed {
            work.push_back(Ended {
                id: p.clone(),
                state: NodeState::Failed,
                cause: Cause::Child(id.clone()),
            });
            if self.rules.cancel_siblings {
                for s in self.children(&p).to_vec() {
                    if s != *id && self.state(&s) == Some(NodeState::Pending) {
                        work.push_back(Ended {
                            id: s,
                            state: NodeState::Cancelled,
                            cause: Cause::Sibling(id.clone()),
                        });
                    }
                }
            }
            return;
        }
        if open > 0 {
            return;
        }
        let states: Vec<Option<NodeState>> =
            self.children(&p).iter().map(|c| self.state(c)).collect();
        if states.contains(&Some(NodeState::Failed)) {
            return; // its failure is already on its way
        }
        let to = if states.contains(&Some(NodeState::Done)) {
            NodeState::Done
        } else {
            NodeState::Cancelled
        };
        work.push_back(Ended {
            id: p,
            state: to,
            cause: Cause::Children,
        });
    }

    /// Reset a failed node, and the failed nodes that fell with it, to
    /// pending: its failed transitive dependents, its failed children
    /// (recursively) and its failed ancestors (a failed child fails its
    /// parent, so resetting either brings back the failed part of the
    /// tree). Dependents that still have another failed or cancelled
    /// dependency stay failed, and so does a parent with a child that
    /// stays failed. Returns every node that was reset with its readiness,
    /// `id` first; a node that is not failed resets nothing.
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
        // collect id + failed nodes reachable through failed nodes, along
        // dependents, children and parents
        let mut order = vec![id.clone()];
        let mut seen: HashSet<TaskId> = HashSet::from([id.clone()]);
        let mut i = 0;
        while i < order.len() {
            let cur = order[i].clone();
            let mut next = self.dependents(&cur);
            next.extend(self.children(&cur).iter().cloned());
            next.extend(self.parent(&cur).cloned());
            for d in next {
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
        // fixpoint: a reset node with a dependency still failed/cancelled
        // fails again, and so does a parent with a child still failed
        loop {
            let mut changed = false;
            for n in &order {
                if self.state(n) != Some(NodeState::Pending) {
                    continue;
                }
                let fails = matches!(self.readiness(n), Readiness::DependencyFailed(_))
                    || self
                        .children(n)
                        .iter()
                        .any(|c| self.state(c) == Some(NodeState::Failed));
                if fails {
                    if let Some(node) = self.nodes.get_mut(n) {
                        node.state = NodeState::Failed;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        // open children of every parent the reset touched
        let mut parents: HashSet<TaskId> = HashSet::new();
        for n in &order {
            if self.is_container(n) {
                parents.insert(n.clone());
            }
            if let Some(p) = self.parent(n) {
                parents.insert(p.clone());
            }
        }
        for p in parents {
            let open = self
                .children(&p)
                .iter()
                .filter(|c| self.state(c) == Some(NodeState::Pending))
                .count();
            if let Some(t) = self.trees.get_mut(&p) {
                t.open = open;
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
