//! The board as a start-up rebuilds it from the store: task table, DAG and
//! slot table, read from one store's records. [`Rebuilt::from_store`] is the
//! one place that knows how; two callers use it:
//!
//! - [`crate::Runtime`] at start-up, which then writes what the rebuild
//!   found to fix ([`Rebuilt::unblocked`], the task count) and hands the
//!   parts to the actors;
//! - the [`Board`](super::Board) once the store has failed: the actors'
//!   memory then holds changes that never became durable (a write whose
//!   flush failed, or one refused after it that the actor had already
//!   applied), so every read of actor memory (counts, the ready queue,
//!   slots, dependents) is served from a rebuild instead: exactly what a
//!   restart would show. The store refuses every write from then on, so one
//!   rebuild stays right until the process ends.

use std::collections::HashSet;

use crate::config::Settings;
use crate::core::graph::{DependencyGraph, NodeState, Readiness};
use crate::core::reservations::ReservationTable;
use crate::core::slots::{Holder, RecoveryIssue, RunningLease, SlotTable};
use crate::core::table::{Effects, TaskTable};
use crate::model::{Millis, TaskId, TaskStatus};
use crate::store::{Store, StoreError};

/// The board rebuilt from the store's records (see the module docs).
pub(crate) struct Rebuilt {
    /// Every task, blocked tasks whose dependencies are all done made ready.
    pub(crate) table: TaskTable,
    /// The dependency graph, unmet counts recounted.
    pub(crate) graph: DependencyGraph,
    /// What making those blocked tasks ready changed and recorded (a
    /// start-up writes it; the failed store's rebuild cannot and need not:
    /// the next start-up finds the same tasks again).
    pub(crate) unblocked: Effects,
    /// How many blocked tasks were made ready.
    pub(crate) unblocked_count: usize,
    /// The slots: stored explicit holds and the running tasks' leases.
    pub(crate) slots: SlotTable,
    /// What the slot rebuild had to drop or could not place (start-up logs it).
    pub(crate) slot_issues: Vec<RecoveryIssue>,
    /// Running tasks that run inside an explicit hold of their worker.
    pub(crate) in_held_slot: HashSet<TaskId>,
    /// The live path reservations: a lease-bound one only with its task's
    /// current live lease (whose expiry it takes).
    pub(crate) reservations: ReservationTable,
    /// Stored reservations dropped by that rule (a start-up removes them).
    pub(crate) dropped_reservations: Vec<String>,
}

fn node_state(s: TaskStatus) -> NodeState {
    match s {
        TaskStatus::Done => NodeState::Done,
        TaskStatus::Failed => NodeState::Failed,
        TaskStatus::Cancelled => NodeState::Cancelled,
        _ => NodeState::Pending,
    }
}

impl Rebuilt {
    /// Rebuild from every task record and slot hold of `store`, with
    /// `settings.slots.count` slots, as of `now` (ms; a stored hold whose
    /// task no longer runs lapses `leases.compat_ttl_secs` after it).
    /// Blocking: reads every record; call it off the async workers (the
    /// start-up does, before any request is served).
    ///
    /// Errors: a failed read or a record that does not decode.
    pub(crate) fn from_store(
        store: &Store,
        settings: &Settings,
        now: Millis,
    ) -> Result<Self, StoreError> {
        let mut table = TaskTable::new(store.meta("lease_ceiling")?);
        let mut graph = DependencyGraph::new();
        let expected = usize::try_from(store.task_count()?).unwrap_or(0);
        table.reserve(expected);
        graph.reserve(expected);
        store.for_each_task(|t| {
            graph.restore(t.id.clone(), t.dependencies.clone(), node_state(t.status));
            table.restore(t);
        })?;
        graph.recount();
        let unblocked_ids: Vec<TaskId> = table
            .iter()
            .filter(|t| {
                t.status == TaskStatus::Blocked && graph.readiness(&t.id) == Readiness::Ready
            })
            .map(|t| t.id.clone())
            .collect();
        let mut unblocked = Effects::default();
        if !unblocked_ids.is_empty() {
            table.make_ready(&unblocked_ids, now, &mut unblocked);
        }

        let compat_ttl_ms = settings.leases.compat_ttl_secs.saturating_mul(1000);
        let holds: Vec<(u32, Holder)> = store
            .load_slots()?
            .into_iter()
            .map(|rec| {
                (
                    rec.slot,
                    Holder {
                        worker: rec.worker,
                        task: rec.task,
                        explicit: true,
                        since: rec.since,
                        expires_at: rec.expires_at,
                    },
                )
            })
            .collect();
        let running: Vec<RunningLease> = table
            .running()
            .filter_map(|t| t.lease.as_ref())
            .map(|l| RunningLease {
                task: l.task_id.clone(),
                worker: l.worker.clone(),
                slot: l.slot,
                claimed_at: l.claimed_at,
            })
            .collect();
        let (slots, slot_issues) =
            SlotTable::recover(settings.slots.count, holds, &running, now, compat_ttl_ms);
        let in_held_slot = running
            .iter()
            .filter(|l| {
                slots
                    .holder(l.slot)
                    .is_some_and(|h| h.explicit && h.task.as_ref() == Some(&l.task))
            })
            .map(|l| l.task.clone())
            .collect();
        let (reservations, dropped_reservations) =
            ReservationTable::restore_all(store.load_reservations()?, |task, lease_id| {
                table
                    .get(task)
                    .and_then(|t| t.lease.as_deref())
                    .filter(|l| l.lease_id == lease_id)
                    .map(|l| l.expires_at)
            });
        Ok(Self {
            table,
            graph,
            unblocked,
            unblocked_count: unblocked_ids.len(),
            slots,
            slot_issues,
            in_held_slot,
            reservations,
            dropped_reservations,
        })
    }
}
