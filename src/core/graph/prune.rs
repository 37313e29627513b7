//! Pruning the DAG for retention: remove finished tasks so that no remaining
//! task depends on a removed one (a chain goes from its end backwards, in
//! bounded steps).

use std::collections::HashSet;

use super::DependencyGraph;
use crate::model::TaskId;

impl DependencyGraph {
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
}
