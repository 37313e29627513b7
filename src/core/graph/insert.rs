//! Adding to the DAG: check a batch of new nodes (duplicates, missing or
//! cancelled dependencies, missing or finished parents, depth, cycles
//! through dependencies and parent links together) without changing
//! anything, insert a checked batch with each node's readiness (a node whose
//! dependency failed fails with it, whatever the batch order), and undo an
//! insert whose commit failed.

use std::collections::{HashMap, HashSet, VecDeque};

use super::{DependencyGraph, GraphError, Node, NodeState, Readiness};
use crate::model::TaskId;

/// A node to add: its id, its own dependencies and its parent, if any (an
/// existing pending node or another node of the batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNode {
    /// The new task's id.
    pub id: TaskId,
    /// Its own dependencies (a child also inherits its ancestors').
    pub deps: Vec<TaskId>,
    /// Its parent's id (absent for a top-level task).
    pub parent: Option<TaskId>,
}

impl NewNode {
    /// A node without a parent.
    pub fn flat(id: TaskId, deps: Vec<TaskId>) -> Self {
        Self {
            id,
            deps,
            parent: None,
        }
    }
}

fn flat(batch: &[(TaskId, Vec<TaskId>)]) -> Vec<NewNode> {
    batch
        .iter()
        .map(|(id, deps)| NewNode::flat(id.clone(), deps.clone()))
        .collect()
}

/// What a checked batch will look like: each node's edges (own and
/// inherited dependencies), and the new children of every parent.
struct Plan<'a> {
    in_batch: HashMap<&'a TaskId, usize>,
    effective: Vec<Vec<TaskId>>,
    new_children: HashMap<&'a TaskId, Vec<&'a TaskId>>,
}

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    Active,
    Finished,
}

impl DependencyGraph {
    /// Check a batch of new nodes `(id, dependencies)` without changing anything.
    pub fn check(&self, batch: &[(TaskId, Vec<TaskId>)]) -> Result<(), GraphError> {
        self.check_nodes(&flat(batch))
    }

    /// Check a batch of new nodes, with parents, without changing anything.
    pub fn check_nodes(&self, batch: &[NewNode]) -> Result<(), GraphError> {
        self.plan(batch).map(|_| ())
    }

    fn plan<'a>(&self, batch: &'a [NewNode]) -> Result<Plan<'a>, GraphError> {
        let mut in_batch: HashMap<&TaskId, usize> = HashMap::with_capacity(batch.len());
        for (i, n) in batch.iter().enumerate() {
            if self.nodes.contains_key(&n.id) || in_batch.insert(&n.id, i).is_some() {
                return Err(GraphError::Duplicate(n.id.clone()));
            }
        }
        for n in batch {
            for d in &n.deps {
                if *d == n.id {
                    return Err(GraphError::Cycle {
                        path: vec![n.id.clone(), n.id.clone()],
                    });
                }
                match self.nodes.get(d) {
                    Some(dn) if dn.state == NodeState::Cancelled => {
                        return Err(GraphError::DependencyCancelled {
                            task: n.id.clone(),
                            dependency: d.clone(),
                        })
                    }
                    Some(_) => {}
                    None if in_batch.contains_key(d) => {}
                    None => {
                        return Err(GraphError::MissingDependency {
                            task: n.id.clone(),
                            dependency: d.clone(),
                        })
                    }
                }
            }
        }
        let depths = self.check_parents(batch, &in_batch)?;
        // effective edges, parents before children
        let mut by_depth: Vec<usize> = (0..batch.len()).collect();
        by_depth.sort_by_key(|&i| depths[i]);
        let mut effective: Vec<Vec<TaskId>> = batch.iter().map(|n| n.deps.clone()).collect();
        let mut new_children: HashMap<&TaskId, Vec<&TaskId>> = HashMap::new();
        for &i in &by_depth {
            let Some(p) = &batch[i].parent else { continue };
            new_children.entry(p).or_default().push(&batch[i].id);
            let inherited = match in_batch.get(p) {
                Some(&j) => effective[j].clone(),
                None => self
                    .nodes
                    .get(p)
                    .map(|n| n.deps.clone())
                    .unwrap_or_default(),
            };
            for d in inherited {
                if !effective[i].contains(&d) {
                    effective[i].push(d);
                }
            }
        }
        let plan = Plan {
            in_batch,
            effective,
            new_children,
        };
        self.check_cycles(batch, &plan)?;
        self.check_doomed_children(batch, &plan)?;
        Ok(plan)
    }

    /// Every parent exists and is pending (or is in the batch), no chain of
    /// parents loops, and no node is deeper than `max_depth`. Returns each
    /// node's depth.
    fn check_parents(
        &self,
        batch: &[NewNode],
        in_batch: &HashMap<&TaskId, usize>,
    ) -> Result<Vec<u32>, GraphError> {
        for n in batch {
            let Some(p) = &n.parent else { continue };
            if *p == n.id {
                return Err(GraphError::ParentCycle {
                    path: vec![n.id.clone(), n.id.clone()],
                });
            }
            match self.nodes.get(p) {
                Some(pn) if pn.state != NodeState::Pending => {
                    return Err(GraphError::ParentFinished {
                        task: n.id.clone(),
                        parent: p.clone(),
                        state: pn.state,
                    })
                }
                Some(_) => {}
                None if in_batch.contains_key(p) => {}
                None => {
                    return Err(GraphError::MissingParent {
                        task: n.id.clone(),
                        parent: p.clone(),
                    })
                }
            }
        }
        let max = self.rules.max_depth;
        let mut depths = Vec::with_capacity(batch.len());
        for (i, n) in batch.iter().enumerate() {
            let mut depth = 1u32;
            let mut chain = vec![i];
            let mut cur = n.parent.as_ref();
            while let Some(p) = cur {
                match in_batch.get(p) {
                    Some(&j) => {
                        if let Some(at) = chain.iter().position(|&k| k == j) {
                            let mut path: Vec<TaskId> =
                                chain[at..].iter().map(|&k| batch[k].id.clone()).collect();
                            path.push(batch[j].id.clone());
                            return Err(GraphError::ParentCycle { path });
                        }
                        chain.push(j);
                        depth += 1;
                        cur = batch[j].parent.as_ref();
                    }
                    None => {
                        depth += self.depth(p);
                        cur = None;
                    }
                }
                if depth > max {
                    return Err(GraphError::TooDeep {
                        task: n.id.clone(),
                        depth,
                        max,
                    });
                }
            }
            depths.push(depth);
        }
        Ok(depths)
    }

    /// The edges out of `x` once the batch is in: what it waits for — its
    /// dependencies (own and inherited) and its children — each flagged
    /// `true` when it comes from a tree (a child, or an inherited dependency).
    fn successors(&self, x: &TaskId, batch: &[NewNode], plan: &Plan<'_>) -> Vec<(TaskId, bool)> {
        let mut out: Vec<(TaskId, bool)> = Vec::new();
        match plan.in_batch.get(x) {
            Some(&i) => {
                for d in &plan.effective[i] {
                    out.push((d.clone(), !batch[i].deps.contains(d)));
                }
            }
            None => {
                if let Some(n) = self.nodes.get(x) {
                    out.extend(n.deps.iter().map(|d| (d.clone(), false)));
                }
                out.extend(self.children(x).iter().map(|c| (c.clone(), true)));
            }
        }
        if let Some(kids) = plan.new_children.get(x) {
            out.extend(kids.iter().map(|c| ((*c).clone(), true)));
        }
        out
    }

    /// No cycle through the batch: over dependency edges (own and
    /// inherited) and parent links together. While no existing node gains
    /// a child, existing nodes cannot reach new ones and the search stays
    /// inside the batch; otherwise it follows existing edges too.
    fn check_cycles(&self, batch: &[NewNode], plan: &Plan<'_>) -> Result<(), GraphError> {
        let grows_existing = plan
            .new_children
            .keys()
            .any(|p| !plan.in_batch.contains_key(*p));
        let mut mark: HashMap<TaskId, Mark> = HashMap::with_capacity(batch.len());
        for n in batch {
            if mark.contains_key(&n.id) {
                continue;
            }
            // iterative DFS: (node, its successors, next index, edge into it was a tree edge)
            type Frame = (TaskId, Vec<(TaskId, bool)>, usize, bool);
            let mut stack: Vec<Frame> =
                vec![(n.id.clone(), self.successors(&n.id, batch, plan), 0, false)];
            mark.insert(n.id.clone(), Mark::Active);
            loop {
                let step = match stack.last_mut() {
                    None => break,
                    Some((_, succ, next, _)) => {
                        let s = succ.get(*next).cloned();
                        *next += 1;
                        s
                    }
                };
                let Some((d, tree)) = step else {
                    if let Some((done, ..)) = stack.pop() {
                        mark.insert(done, Mark::Finished);
                    }
                    continue;
                };
                if !grows_existing && !plan.in_batch.contains_key(&d) {
                    continue;
                }
                match mark.get(&d) {
                    Some(Mark::Active) => {
                        let at = stack.iter().position(|f| f.0 == d).unwrap_or(0);
                        let through_tree = tree || stack[at + 1..].iter().any(|f| f.3);
                        let mut path: Vec<TaskId> =
                            stack[at..].iter().map(|f| f.0.clone()).collect();
                        path.push(d);
                        return Err(if through_tree {
                            GraphError::ParentCycle { path }
                        } else {
                            GraphError::Cycle { path }
                        });
                    }
                    Some(Mark::Finished) => {}
                    None => {
                        mark.insert(d.clone(), Mark::Active);
                        let s = self.successors(&d, batch, plan);
                        stack.push((d, s, 0, tree));
                    }
                }
            }
        }
        Ok(())
    }

    /// A new subtask whose dependency (own or inherited, existing or in the
    /// batch) has already failed would fail at once, and fail its parent
    /// with it: refused instead.
    fn check_doomed_children(&self, batch: &[NewNode], plan: &Plan<'_>) -> Result<(), GraphError> {
        if plan.new_children.is_empty() {
            return Ok(());
        }
        let mut doomed: HashMap<usize, TaskId> = HashMap::new();
        for i in Self::batch_order(&plan.in_batch, &plan.effective) {
            let cause = plan.effective[i]
                .iter()
                .find_map(|d| match plan.in_batch.get(d) {
                    Some(j) => doomed.get(j).cloned(),
                    None => (self.state(d) == Some(NodeState::Failed)).then(|| d.clone()),
                });
            if let Some(cause) = cause {
                if batch[i].parent.is_some() {
                    return Err(GraphError::SubtaskWouldFail {
                        task: batch[i].id.clone(),
                        dependency: cause,
                    });
                }
                doomed.insert(i, cause);
            }
        }
        Ok(())
    }

    /// Validate and insert a batch; returns each new node's readiness, in batch order.
    pub fn insert(
        &mut self,
        batch: &[(TaskId, Vec<TaskId>)],
    ) -> Result<Vec<Readiness>, GraphError> {
        self.insert_nodes(&flat(batch))
    }

    /// Validate and insert a batch of nodes with parents; returns each new
    /// node's readiness, in batch order (a new parent's is
    /// [`Readiness::Children`]). An existing parent that gains children
    /// becomes a container (the caller changes its task accordingly).
    pub fn insert_nodes(&mut self, batch: &[NewNode]) -> Result<Vec<Readiness>, GraphError> {
        let plan = self.plan(batch)?;
        let Plan {
            in_batch,
            effective,
            ..
        } = plan;
        for (n, deps) in batch.iter().zip(&effective) {
            self.nodes.insert(
                n.id.clone(),
                Node {
                    deps: deps.clone(),
                    dependents: Vec::new(),
                    unmet: 0,
                    state: NodeState::Pending,
                },
            );
        }
        for (n, deps) in batch.iter().zip(&effective) {
            let mut unmet = 0;
            for d in deps {
                if let Some(dn) = self.nodes.get_mut(d) {
                    dn.dependents.push(n.id.clone());
                    if dn.state != NodeState::Done {
                        unmet += 1;
                    }
                }
            }
            if let Some(node) = self.nodes.get_mut(&n.id) {
                node.unmet = unmet;
            }
        }
        for n in batch {
            if let Some(p) = &n.parent {
                self.trees.entry(n.id.clone()).or_default().parent = Some(p.clone());
                let t = self.trees.entry(p.clone()).or_default();
                t.children.push(n.id.clone());
                t.open += 1;
            }
        }
        // A node depending on a failed node fails with it (cascade on
        // insert), decided in dependency order so that the outcome does not
        // depend on the order of the batch. (Only nodes without a parent or
        // children can: the plan refused a subtask that would.)
        let mut readiness: HashMap<&TaskId, Readiness> = HashMap::with_capacity(batch.len());
        for i in Self::batch_order(&in_batch, &effective) {
            let id = &batch[i].id;
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
            .map(|n| readiness.remove(&n.id).unwrap_or(Readiness::Ready))
            .collect())
    }

    /// Indexes of a checked (acyclic) batch, every node after its in-batch
    /// dependencies (Kahn's algorithm; ties keep batch order).
    fn batch_order(index: &HashMap<&TaskId, usize>, deps: &[Vec<TaskId>]) -> Vec<usize> {
        let mut pending = vec![0usize; deps.len()];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); deps.len()];
        for (i, ds) in deps.iter().enumerate() {
            for d in ds {
                if let Some(&j) = index.get(d) {
                    pending[i] += 1;
                    dependents[j].push(i);
                }
            }
        }
        let mut queue: VecDeque<usize> = (0..deps.len()).filter(|&i| pending[i] == 0).collect();
        let mut order = Vec::with_capacity(deps.len());
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

    /// Remove nodes inserted by a batch whose commit failed (undo of
    /// [`DependencyGraph::insert_nodes`]), with their parent links.
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
            self.unlink(id, true);
        }
    }

    /// Drop `id`'s place in its tree: out of its parent's children (one
    /// fewer open child when `was_pending`), and its own entry.
    pub(super) fn unlink(&mut self, id: &TaskId, was_pending: bool) {
        let Some(t) = self.trees.remove(id) else {
            return;
        };
        if let Some(p) = t.parent {
            if let Some(pt) = self.trees.get_mut(&p) {
                pt.children.retain(|c| c != id);
                if was_pending {
                    pt.open = pt.open.saturating_sub(1);
                }
                if pt.parent.is_none() && pt.children.is_empty() {
                    self.trees.remove(&p);
                }
            }
        }
        for c in t.children {
            if let Some(ct) = self.trees.get_mut(&c) {
                ct.parent = None;
                if ct.children.is_empty() {
                    self.trees.remove(&c);
                }
            }
        }
    }
}
