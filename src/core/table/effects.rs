//! [`Effects`]: what one mutation of the table did — records to persist,
//! audit events to append, leases that began, ended or were renewed, tasks
//! that finished, failed or were cancelled — for the registry to write as one
//! batch and then act on (free slots, stop contexts, ask the resolver).

use crate::model::{Event, EventKind, Lease, Millis, Principal, Task, TaskId, TaskStatus};

/// What a mutation did, to persist and publish: the effects of one request
/// made by [`Effects::actor`] (stamped on every audit event it causes, and
/// checked against a lease's owner).
#[derive(Debug, Default)]
pub struct Effects {
    /// Who made the request ([`Principal::local`] for baton's own changes).
    pub actor: Principal,
    /// Records to persist (may repeat; the registry dedupes).
    pub changed: Vec<TaskId>,
    /// Audit events (ids assigned by the store on commit).
    pub events: Vec<Event>,
    /// Leases the mutation created (claims), to persist and bind to their slots.
    pub leases_started: Vec<Lease>,
    /// Leases that ended (slot to free, context to stop).
    pub leases_ended: Vec<Lease>,
    /// Leases extended by a heartbeat (their new `expires_at`).
    pub leases_renewed: Vec<Lease>,
    /// Tasks that failed for good (dependents must cascade).
    pub failed: Vec<TaskId>,
    /// Tasks that were cancelled (dependents must cascade).
    pub cancelled: Vec<TaskId>,
    /// Tasks that finished (dependents may become ready).
    pub done: Vec<TaskId>,
}

impl Effects {
    /// Effects of a request made by `actor`.
    pub fn by(actor: Principal) -> Self {
        Self {
            actor,
            ..Self::default()
        }
    }

    /// Record that `task` changed (to persist it) and append its audit
    /// event of `kind`, stamped with [`Effects::actor`]; the caller fills in
    /// what else the event names (worker, slot, lease, reason).
    pub(super) fn event(
        &mut self,
        kind: EventKind,
        task: &Task,
        from: Option<TaskStatus>,
        now: Millis,
    ) -> &mut Event {
        self.changed.push(task.id.clone());
        self.events.push(Event {
            id: 0,
            at: now,
            kind,
            task_id: Some(task.id.clone()),
            worker: None,
            actor: self.actor.name.clone(),
            slot: None,
            lease_id: None,
            from,
            to: Some(task.status),
            reason: None,
        });
        let last = self.events.len() - 1;
        &mut self.events[last]
    }
}
