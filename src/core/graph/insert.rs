//! Adding to the DAG: check a batch of new nodes (duplicates, missing or
//! cancelled dependencies, cycles through the batch) without changing
//! anything, insert a checked batch with each node's readiness (a node whose
//! dependency failed fails with it, whatever the batch order), and undo an
//! insert whose commit failed.

use std::collections::{HashMap, HashSet, VecDeque};

use super::{DependencyGraph, GraphError, Node, NodeState, Readiness};
use crate::model::TaskId;

impl DependencyGraph {
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
}
