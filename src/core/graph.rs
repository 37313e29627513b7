//! `DependencyGraph`: the task DAG, pure and synchronous.
//!
//! It knows, for every task, its dependencies and dependents, how many of its
//! dependencies are not yet `done` (`unmet`), and whether the node has
//! finished, failed or been cancelled. From that it answers the only question
//! the registry asks: *which tasks are ready now?* It rejects batches that
//! name missing dependencies or would close a cycle, leaving itself unchanged.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::error::code::{ErrorCode, ServiceError};
use crate::model::TaskId;

/// Why a batch of new nodes was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// A dependency names a task that neither exists nor is in the batch.
    #[error("task '{task}' depends on '{dependency}', which does not exist")]
    MissingDependency {
        /// The dependent task.
        task: TaskId,
        /// The unknown id.
        dependency: TaskId,
    },
    /// The batch would close a cycle (the path is listed, first == last).
    #[error("dependency cycle: {}", path.iter().map(TaskId::as_str).collect::<Vec<_>>().join(" -> "))]
    Cycle {
        /// The cycle.
        path: Vec<TaskId>,
    },
    /// The id is already taken (by an existing task or earlier in the batch).
    #[error("task '{0}' already exists")]
    Duplicate(TaskId),
    /// A dependency is cancelled, so the task could never run.
    #[error("task '{task}' depends on '{dependency}', which is cancelled")]
    DependencyCancelled {
        /// The dependent task.
        task: TaskId,
        /// The cancelled dependency.
        dependency: TaskId,
    },
    /// A reset would change nothing: a dependency of the task is still failed.
    #[error("task '{task}' cannot be reset while its dependency '{dependency}' is failed; reset '{dependency}' (its failed dependents are reset with it)")]
    DependencyFailed {
        /// The task asked to reset.
        task: TaskId,
        /// The dependency that is still failed.
        dependency: TaskId,
    },
}

impl ServiceError for GraphError {
    fn error_code(&self) -> ErrorCode {
        match self {
            GraphError::MissingDependency { .. } => ErrorCode::MissingDependency,
            GraphError::Cycle { .. } => ErrorCode::DependencyCycle,
            GraphError::Duplicate(_) => ErrorCode::TaskExists,
            GraphError::DependencyCancelled { .. } => ErrorCode::DependencyCancelled,
            GraphError::DependencyFailed { .. } => ErrorCode::DependencyFailed,
        }
    }
}

/// Where a node stands, as far as its dependents care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Not finished (blocked, ready or running).
    Pending,
    /// Finished successfully.
    Done,
    /// Failed (itself or by cascade).
    Failed,
    /// Cancelled.
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

    /// Check a batch of new nodes `(id, dependencies)` without changing anything.
    pub fn check(&self, batch: &[(TaskId, Vec<TaskId>)]) -> Result<(), GraphError> {
        let mut in_batch: HashMap<&TaskId, usize> = HashMap::with_capacity(batch.len());
        for (i, (id, _)) in batch.iter().enumerate() {
            if self.nodes.contains_key(id) || in_batch.insert(id, i).is_some() {
                return Err(GraphError::Duplicate(id.clone()));
            }
        }
        for (id, deps) in batch {
            for d in deps {
                if d == id {
                    return Err(GraphError::Cycle {
                        path: vec![id.clone(), id.clone()],
                    });
                }
                match self.nodes.get(d) {
                    Some(n) if n.state == NodeState::Cancelled => {
                        return Err(GraphError::DependencyCancelled {
                            task: id.clone(),
                            dependency: d.clone(),
                        })
                    }
                    Some(_) => {}
                    None if in_batch.contains_key(d) => {}
                    None => {
                        return Err(GraphError::MissingDependency {
                            task: id.clone(),
                            dependency: d.clone(),
                        })
                    }
                }
            }
        }
        // Existing nodes cannot depend on new ones, so a cycle can only run
        // through the batch: DFS over in-batch edges.
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Finished,
        }
        let mut mark = vec![Mark::New; batch.len()];
        for start in 0..batch.len() {
            if mark[start] != Mark::New {
                continue;
            }
            // iterative DFS with an explicit path
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            mark[start] = Mark::Active;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                let deps = &batch[node].1;
                if *next < deps.len() {
                    let d = &deps[*next];
                    *next += 1;
                    if let Some(&j) = in_batch.get(d) {
                        match mark[j] {
                            Mark::Active => {
                                let pos = stack.iter().position(|(n, _)| *n == j).unwrap_or(0);
                                let mut path: Vec<TaskId> = stack[pos..]
                                    .iter()
                                    .map(|(n, _)| batch[*n].0.clone())
                                    .collect();
                                path.push(batch[j].0.clone());
                                return Err(GraphError::Cycle { path });
                            }
                            Mark::New => {
                                mark[j] = Mark::Active;
                                stack.push((j, 0));
                            }
                            Mark::Finished => {}
                        }
                    }
                } else {
                    mark[node] = Mark::Finished;
                    stack.pop();
                }
            }
        }
        Ok(())
    }

    /// Validate and insert a batch; returns each new node's readiness, in batch order.
    pub fn insert(
        &mut self,
        batch: &[(TaskId, Vec<TaskId>)],
    ) -> Result<Vec<Readiness>, GraphError> {
        self.check(batch)?;
        for (id, deps) in batch {
            self.nodes.insert(
                id.clone(),
                Node {
                    deps: deps.clone(),
                    dependents: Vec::new(),
                    unmet: 0,
                    state: NodeState::Pending,
                },
            );
        }
        for (id, deps) in batch {
            let mut unmet = 0;
            for d in deps {
                if let Some(dn) = self.nodes.get_mut(d) {
                    dn.dependents.push(id.clone());
                    if dn.state != NodeState::Done {
                        unmet += 1;
                    }
                }
            }
            if let Some(n) = self.nodes.get_mut(id) {
                n.unmet = unmet;
            }
        }
        // A node depending on a failed node fails with it (cascade on
        // insert), decided in dependency order so that the outcome does not
        // depend on the order of the batch.
        let mut readiness: HashMap<&TaskId, Readiness> = HashMap::with_capacity(batch.len());
        for i in Self::batch_order(batch) {
            let id = &batch[i].0;
            let r = self.readiness(id);
            if let Readiness::DependencyFailed(_) = r {
                if let Some(n) = self.nodes.get_mut(id) {
                    n.state = NodeState::Failed;
                }
            }
            readiness.insert(id, r);
        }
        Ok(batch
            .iter()
            .map(|(id, _)| readiness.remove(id).unwrap_or(Readiness::Ready))
            .collect())
    }

    /// Indexes of a checked (acyclic) batch, every node after its in-batch
    /// dependencies (Kahn's algorithm; ties keep batch order).
    fn batch_order(batch: &[(TaskId, Vec<TaskId>)]) -> Vec<usize> {
        let index: HashMap<&TaskId, usize> = batch
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (id, i))
            .collect();
        let mut pending = vec![0usize; batch.len()];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); batch.len()];
        for (i, (_, deps)) in batch.iter().enumerate() {
            for d in deps {
                if let Some(&j) = index.get(d) {
                    pending[i] += 1;
                    dependents[j].push(i);
                }
            }
        }
        let mut queue: VecDeque<usize> = (0..batch.len()).filter(|&i| pending[i] == 0).collect();
        let mut order = Vec::with_capacity(batch.len());
        while let Some(i) = queue.pop_front() {
            order.push(i);
            for &k in &dependents[i] {
                pending[k] -= 1;
                if pending[k] == 0 {
                    queue.push_back(k);
                }
            }
        }
        order
    }

    /// Remove nodes inserted by a batch whose commit failed (undo of [`DependencyGraph::insert`]).
    pub fn remove_batch(&mut self, ids: &[TaskId]) {
        let set: HashSet<&TaskId> = ids.iter().collect();
        for id in ids {
            if let Some(n) = self.nodes.remove(id) {
                for d in n.deps {
                    if let Some(dn) = self.nodes.get_mut(&d) {
                        dn.dependents.retain(|x| !set.contains(x));
                    }
                }
            }
        }
    }

    /// Remove up to `limit` of `candidates` so that no remaining node
    /// depends on a removed one, and return them (sinks first). A candidate
    /// goes only once every task that depends on it has gone, so a chain is
    /// removed from its last task backwards and a task is never left
    /// pointing at a missing dependency; with no limit this removes every
    /// candidate whose dependents are all candidates too. Linear in the
    /// candidates and their edges. Unknown ids are ignored. The caller passes
    /// only terminal tasks.
    pub fn prune(&mut self, candidates: &[TaskId], limit: usize) -> Vec<TaskId> {
        let wanted: HashSet<&TaskId> = candidates
            .iter()
            .filter(|id| self.nodes.contains_key(*id))
            .collect();
        let mut queue: Vec<TaskId> = wanted
            .iter()
            .filter(|id| {
                self.nodes
                    .get(**id)
                    .is_some_and(|n| n.dependents.is_empty())
            })
            .map(|id| (*id).clone())
            .collect();
        let mut removed = Vec::new();
        while removed.len() < limit {
            let Some(id) = queue.pop() else { break };
            let Some(node) = self.nodes.remove(&id) else {
                continue;
            };
            for d in node.deps {
                if let Some(dn) = self.nodes.get_mut(&d) {
                    dn.dependents.retain(|x| *x != id);
                    if dn.dependents.is_empty() && wanted.contains(&d) {
                        queue.push(d);
                    }
                }
            }
            removed.push(id);
        }
        removed
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(s: &str) -> TaskId {
        TaskId::from_trusted(s)
    }

    fn node(s: &str, deps: &[&str]) -> (TaskId, Vec<TaskId>) {
        (id(s), deps.iter().map(|d| id(d)).collect())
    }

    #[test]
    fn prune_removes_a_chain_from_its_end_and_keeps_what_a_live_task_needs() {
        let mut g = DependencyGraph::new();
        g.insert(&[
            node("a", &[]),
            node("b", &["a"]),
            node("c", &["b"]),
            node("x", &["a"]),
        ])
        .unwrap();
        let mut removed = g.prune(&[id("a"), id("b"), id("c"), id("nope")], usize::MAX);
        removed.sort();
        assert_eq!(removed, vec![id("b"), id("c")]);
        assert!(g.dependents(&id("a")) == vec![id("x")]);
        assert_eq!(g.prune(&[id("x"), id("a")], usize::MAX).len(), 2);
        assert!(g.is_empty());
    }

    proptest! {
        /// Whatever the DAG and the candidates, pruning never leaves a node
        /// pointing at a missing dependency, removes only candidates, and
        /// keeps a candidate only when something that stays depends on it.
        #[test]
        fn prune_never_leaves_a_dangling_dependency(
            deps in proptest::collection::vec(any::<u32>(), 1..40),
            chosen in any::<u64>(),
        ) {
            let ids: Vec<TaskId> = (0..deps.len()).map(|i| id(&format!("t{i}"))).collect();
            let mut g = DependencyGraph::new();
            for (i, mask) in deps.iter().enumerate() {
                // up to the 32 previous tasks, picked by the mask's bits
                let ds: Vec<TaskId> = (0..i.min(32))
                    .filter(|b| mask & (1 << b) != 0)
                    .map(|b| ids[i - 1 - b].clone())
                    .collect();
                g.insert(&[(ids[i].clone(), ds)]).unwrap();
            }
            let candidates: Vec<TaskId> = ids
                .iter()
                .enumerate()
                .filter(|(i, _)| chosen & (1 << (i % 64)) != 0)
                .map(|(_, t)| t.clone())
                .collect();
            let removed: HashSet<TaskId> = g.prune(&candidates, usize::MAX).into_iter().collect();
            prop_assert!(removed.iter().all(|r| candidates.contains(r)));
            for t in &ids {
                let present = g.state(t).is_some();
                prop_assert_eq!(present, !removed.contains(t));
                if present {
                    for d in g.dependencies(t) {
                        prop_assert!(g.state(&d).is_some(), "{} points at removed {}", t, d);
                    }
                }
            }
            for c in candidates.iter().filter(|c| !removed.contains(*c)) {
                prop_assert!(!g.dependents(c).is_empty(), "{} kept with no dependent", c);
            }
        }
    }

    /// Review: a chain longer than a pass's batch, whose oldest tasks are
    /// the candidates, must still shrink every pass (from its end).
    #[test]
    fn prune_with_a_limit_takes_a_long_chain_from_its_end_in_bounded_steps() {
        let mut g = DependencyGraph::new();
        let ids: Vec<TaskId> = (0..2000).map(|i| id(&format!("c{i}"))).collect();
        g.insert(&[(ids[0].clone(), vec![])]).unwrap();
        for i in 1..ids.len() {
            g.insert(&[(ids[i].clone(), vec![ids[i - 1].clone()])])
                .unwrap();
        }
        let mut passes = 0;
        while !g.is_empty() {
            let removed = g.prune(&ids, 500);
            assert_eq!(removed.len(), 500.min(g.len() + removed.len()));
            passes += 1;
            for t in &ids {
                if g.state(t).is_some() {
                    for d in g.dependencies(t) {
                        assert!(g.state(&d).is_some(), "{t} points at removed {d}");
                    }
                }
            }
        }
        assert_eq!(passes, 4);
    }

    #[test]
    fn cycle_in_batch_is_rejected_and_graph_unchanged() {
        let mut g = DependencyGraph::new();
        g.insert(&[node("a", &[])]).unwrap();
        let err = g
            .insert(&[node("b", &["a", "d"]), node("c", &["b"]), node("d", &["c"])])
            .unwrap_err();
        match err {
            GraphError::Cycle { path } => {
                assert_eq!(path.first(), path.last());
                assert!(path.len() >= 4, "{path:?}");
            }
            other => panic!("expected a cycle, got {other:?}"),
        }
        assert_eq!(g.len(), 1);
        assert!(g.dependents(&id("a")).is_empty());
    }

    #[test]
    fn self_dependency_and_missing_dependency_are_named() {
        let mut g = DependencyGraph::new();
        assert!(matches!(
            g.insert(&[node("a", &["a"])]),
            Err(GraphError::Cycle { .. })
        ));
        let e = g.insert(&[node("a", &["zzz"])]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "task 'a' depends on 'zzz', which does not exist"
        );
        assert!(g.is_empty());
    }

    #[test]
    fn failure_cascades_and_reset_restores() {
        let mut g = DependencyGraph::new();
        g.insert(&[
            node("a", &[]),
            node("b", &["a"]),
            node("c", &["b"]),
            node("x", &[]),
        ])
        .unwrap();
        assert_eq!(g.mark_failed(&id("a")), vec![id("b"), id("c")]);
        assert_eq!(g.state(&id("c")), Some(NodeState::Failed));
        // a new task on a failed dependency fails at once
        let r = g.insert(&[node("d", &["a"])]).unwrap();
        assert_eq!(r, vec![Readiness::DependencyFailed(id("a"))]);
        let reset = g.reset(&id("a")).unwrap();
        let ids: Vec<_> = reset.iter().map(|(i, _)| i.as_str().to_owned()).collect();
        assert_eq!(ids, vec!["a", "b", "d", "c"]);
        assert_eq!(reset[0].1, Readiness::Ready);
        assert_eq!(g.mark_done(&id("a")), vec![id("b"), id("d")]);
    }

    #[test]
    fn reset_keeps_nodes_with_another_failed_dependency_failed() {
        let mut g = DependencyGraph::new();
        g.insert(&[node("a", &[]), node("z", &[]), node("b", &["a", "z"])])
            .unwrap();
        g.mark_failed(&id("a"));
        g.mark_failed(&id("z"));
        let reset = g.reset(&id("a")).unwrap();
        assert_eq!(reset, vec![(id("a"), Readiness::Ready)]);
        assert_eq!(g.state(&id("b")), Some(NodeState::Failed));
    }

    #[test]
    fn reset_refuses_a_task_whose_dependency_is_still_failed() {
        let mut g = DependencyGraph::new();
        g.insert(&[node("f", &[]), node("n", &["f"])]).unwrap();
        assert_eq!(g.mark_failed(&id("f")), vec![id("n")]);
        assert_eq!(
            g.reset(&id("n")),
            Err(GraphError::DependencyFailed {
                task: id("n"),
                dependency: id("f")
            })
        );
        assert_eq!(g.state(&id("n")), Some(NodeState::Failed), "unchanged");
        assert_eq!(g.reset(&id("f")).unwrap().len(), 2);
    }

    #[test]
    fn batch_cascade_does_not_depend_on_batch_order() {
        for order in [["b", "n"], ["n", "b"]] {
            let mut g = DependencyGraph::new();
            g.insert(&[node("f", &[])]).unwrap();
            g.mark_failed(&id("f"));
            let batch: Vec<_> = order
                .iter()
                .map(|n| {
                    if *n == "b" {
                        node("b", &["n"])
                    } else {
                        node("n", &["f"])
                    }
                })
                .collect();
            let r = g.insert(&batch).unwrap();
            for ((n, _), r) in batch.iter().zip(r) {
                let cause = if n.as_str() == "b" { "n" } else { "f" };
                assert_eq!(r, Readiness::DependencyFailed(id(cause)), "{order:?}");
            }
        }
    }

    proptest! {
        /// Random DAGs (edges only from later to earlier nodes) worked by a
        /// random schedule: the ready set never contains a node with an
        /// unfinished dependency, and every pending node whose dependencies
        /// are all done is in it.
        #[test]
        fn ready_set_respects_every_edge(
            n in 1usize..40,
            edges in prop::collection::vec((0usize..40, 0usize..40), 0..120),
            ops in prop::collection::vec((0u8..4, 0usize..40), 0..200),
        ) {
            let ids: Vec<TaskId> = (0..n).map(|i| id(&format!("n{i}"))).collect();
            let mut batch: Vec<(TaskId, Vec<TaskId>)> = ids.iter().map(|i| (i.clone(), vec![])).collect();
            for (a, b) in edges {
                let (a, b) = (a % n, b % n);
                if a > b && !batch[a].1.contains(&ids[b]) {
                    batch[a].1.push(ids[b].clone());
                }
            }
            let mut g = DependencyGraph::new();
            g.insert(&batch).unwrap();
            let deps: HashMap<TaskId, Vec<TaskId>> = batch.iter().cloned().collect();
            for (op, k) in ops {
                let target = &ids[k % n];
                let ready = g.ready_set();
                match op {
                    0 | 1 => if ready.contains(target) { g.mark_done(target); },
                    2 => if ready.contains(target) { g.mark_failed(target); },
                    _ => { let _ = g.reset(target); },
                }
                let ready: HashSet<TaskId> = g.ready_set().into_iter().collect();
                for (node, ds) in &deps {
                    let all_done = ds.iter().all(|d| g.state(d) == Some(NodeState::Done));
                    if ready.contains(node) {
                        prop_assert!(all_done, "{node} ready with unfinished deps");
                    }
                    if g.state(node) == Some(NodeState::Pending) && all_done {
                        prop_assert!(ready.contains(node), "{node} pending, deps done, not ready");
                    }
                    if g.state(node) == Some(NodeState::Done) {
                        prop_assert!(all_done, "{node} done before its deps");
                    }
                }
            }
        }

        /// Any batch containing a back edge is rejected and changes nothing.
        #[test]
        fn cycles_are_always_rejected(n in 2usize..20, extra in prop::collection::vec((0usize..20, 0usize..20), 0..30)) {
            // a chain 0 <- 1 <- ... <- n-1 plus the back edge n-1 -> 0 closes a cycle
            let ids: Vec<TaskId> = (0..n).map(|i| id(&format!("c{i}"))).collect();
            let mut batch: Vec<(TaskId, Vec<TaskId>)> = ids.iter().map(|i| (i.clone(), vec![])).collect();
            for i in 1..n { batch[i].1.push(ids[i - 1].clone()); }
            batch[0].1.push(ids[n - 1].clone());
            for (a, b) in extra { let (a, b) = (a % n, b % n); if a != b { batch[a].1.push(ids[b].clone()); } }
            let mut g = DependencyGraph::new();
            g.insert(&[node("keep", &[])]).unwrap();
            let is_cycle = matches!(g.insert(&batch), Err(GraphError::Cycle { .. }));
            prop_assert!(is_cycle);
            prop_assert_eq!(g.len(), 1);
        }
    }
}
