//! Pruning the DAG for retention: remove finished tasks so that no remaining
//! task depends on a removed one (a chain goes from its end backwards, in
//! bounded steps), and a tree goes from its leaves up, only as a whole; and
//! removing one finished task, or one finished tree, for a deletion.

use std::collections::HashSet;

use super::DependencyGraph;
use crate::model::TaskId;

impl DependencyGraph {
    /// Remove up to `limit` of `candidates` so that no remaining node
    /// depends on a removed one, and return them (sinks first). A candidate
    /// goes only once every task that depends on it has gone, so a chain is
    /// removed from its last task backwards and a task is never left
    /// pointing at a missing dependency; with no limit this removes every
    /// candidate whose dependents are all candidates too. In a tree, a
    /// parent goes only after its children, and a child only when its parent
    /// is a candidate too (a tree's outcome never loses a child while the
    /// tree stays). Linear in the candidates and their edges. Unknown ids
    /// are ignored. The caller passes only terminal tasks.
    pub fn prune(&mut self, candidates: &[TaskId], limit: usize) -> Vec<TaskId> {
        let wanted: HashSet<TaskId> = candidates
            .iter()
            .filter(|id| self.nodes.contains_key(*id))
            .cloned()
            .collect();
        let mut queue: Vec<TaskId> = wanted
            .iter()
            .filter(|id| self.removable(id, &wanted))
            .cloned()
            .collect();
        let mut removed = Vec::new();
        while removed.len() < limit {
            let Some(id) = queue.pop() else { break };
            if !self.removable(&id, &wanted) {
                continue;
            }
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
            let parent = self.parent(&id).cloned();
            self.unlink(&id, false);
            if let Some(p) = parent {
                if wanted.contains(&p) && self.children(&p).is_empty() {
                    queue.push(p);
                }
            }
            removed.push(id);
        }
        removed
    }

    /// Whether `id` may go now: nothing depends on it, it has no children
    /// left, and its parent (if any) is going too.
    fn removable(&self, id: &TaskId, wanted: &HashSet<TaskId>) -> bool {
        self.nodes.get(id).is_some_and(|n| n.dependents.is_empty())
            && self.children(id).is_empty()
            && self.parent(id).is_none_or(|p| wanted.contains(p))
    }

    /// Remove `id` and every descendant (a deletion), all or nothing: when a
    /// task outside that tree depends on one of them, nothing changes and
    /// `Err((task, dependents))` names the first such task. Returns what was
    /// removed, children before their parents. The caller checks that each
    /// has finished.
    pub fn remove_tree(&mut self, id: &TaskId) -> Result<Vec<TaskId>, (TaskId, Vec<TaskId>)> {
        if !self.nodes.contains_key(id) {
            return Ok(Vec::new());
        }
        let tree = self.subtree(id);
        let inside: HashSet<&TaskId> = tree.iter().collect();
        for t in &tree {
            let outside: Vec<TaskId> = self
                .dependents(t)
                .into_iter()
                .filter(|d| !inside.contains(d))
                .collect();
            if !outside.is_empty() {
                return Err((t.clone(), outside));
            }
        }
        let mut removed = Vec::with_capacity(tree.len());
        for t in tree.iter().rev() {
            let Some(node) = self.nodes.remove(t) else {
                continue;
            };
            for d in node.deps {
                if let Some(dn) = self.nodes.get_mut(&d) {
                    dn.dependents.retain(|x| x != t);
                }
            }
            self.unlink(t, false);
            removed.push(t.clone());
        }
        Ok(removed)
    }
}
