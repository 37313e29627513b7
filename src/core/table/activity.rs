//! Implicit renewal: any call by a worker that holds leases renews them,
//! so an agent that forgets to heartbeat keeps its task while it works.
//!
//! The rule ([`TaskTable::renew_on_activity`]): a running task's lease is
//! extended to `now + ttl` when
//!
//! - its worker is the active worker and the caller may act on it (its own
//!   token, or an admin: [`crate::model::Principal::may_act_on`]),
//! - it has not lapsed,
//! - less than half its TTL is left (a renewal is a write: not one per call),
//! - and its last **explicit** sign of life — the claim, a heartbeat, a
//!   context write — is less than `max_implicit_ms` ago. A hung agent that
//!   only polls cannot hold work forever: after that long without an
//!   explicit sign, activity no longer renews and the lease lapses as usual.
//!
//! The TTL is the lease's own kind's: `[leases] ttl_secs`, or
//! `compat_ttl_secs` for an agent-coordinate-mcp lease.

use super::{Effects, TaskTable};
use crate::model::{Lease, Millis, Task, TaskId};

/// The bounds of implicit renewal (from `[leases]`), all in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImplicitRenewal {
    /// TTL of a lease made by an `/api/v1` or `/mcp` claim.
    pub ttl_ms: u64,
    /// TTL of an agent-coordinate-mcp (compat) lease.
    pub compat_ttl_ms: u64,
    /// How long after a lease's last explicit sign of life activity still renews it.
    pub max_implicit_ms: u64,
}

impl ImplicitRenewal {
    fn ttl_of(&self, lease: &Lease) -> u64 {
        if lease.compat {
            self.compat_ttl_ms
        } else {
            self.ttl_ms
        }
    }
}

impl TaskTable {
    /// Renew, by the rule of the module doc, every lease of `worker` that
    /// [`Effects::actor`] may act on. Returns the leases renewed (also in
    /// `fx.leases_renewed`); empty when none needed it or none was allowed.
    pub fn renew_on_activity(
        &mut self,
        worker: &str,
        now: Millis,
        bounds: ImplicitRenewal,
        fx: &mut Effects,
    ) -> Vec<Lease> {
        // the expiry index holds exactly the running tasks' leases
        let due: Vec<(TaskId, u64)> = self
            .expiries
            .iter()
            .filter_map(|(_, id)| {
                let l = self.get(id)?.lease.as_deref()?;
                let ttl = bounds.ttl_of(l);
                let wanted = l.worker == worker
                    && fx.actor.may_act_on(l.owner.as_deref())
                    && l.expires_at > now
                    && l.expires_at.saturating_sub(now) < ttl / 2
                    && now.saturating_sub(self.last_explicit(l)) < bounds.max_implicit_ms;
                wanted.then(|| (id.clone(), ttl))
            })
            .collect();
        due.into_iter()
            .filter_map(|(id, ttl)| self.extend(&id, now, ttl, fx))
            .collect()
    }

    /// Record an explicit sign of life of `id`'s lease `lease_id` at `now`
    /// (a heartbeat, a context write): the budget of implicit renewal
    /// starts again. Ignored unless `lease_id` is the task's current lease.
    pub fn mark_explicit(&mut self, id: &TaskId, lease_id: u64, now: Millis) {
        let current = self
            .get(id)
            .and_then(|t| t.lease.as_deref())
            .is_some_and(|l| l.lease_id == lease_id);
        if current {
            self.explicit.insert(id.clone(), (lease_id, now));
        }
    }

    /// The running tasks whose lease `worker` holds, oldest claim first
    /// (read from the expiry index: no scan of every task).
    pub fn held_by(&self, worker: &str) -> Vec<Task> {
        let mut held: Vec<Task> = self
            .expiries
            .iter()
            .filter_map(|(_, id)| self.get(id))
            .filter(|t| t.lease.as_deref().is_some_and(|l| l.worker == worker))
            .cloned()
            .collect();
        held.sort_by_key(|t| t.lease.as_deref().map_or(0, |l| l.claimed_at));
        held
    }

    /// When `lease` last showed an explicit sign of life: its last heartbeat
    /// or context write, else its claim.
    pub fn last_explicit(&self, lease: &Lease) -> Millis {
        match self.explicit.get(&lease.task_id) {
            Some((id, at)) if *id == lease.lease_id => (*at).max(lease.claimed_at),
            _ => lease.claimed_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::table::{Claimant, LeaseRef};
    use crate::model::{Principal, Role, TaskStatus};

    const TTL: u64 = 10_000;
    const BOUNDS: ImplicitRenewal = ImplicitRenewal {
        ttl_ms: TTL,
        compat_ttl_ms: 40_000,
        max_implicit_ms: 60_000,
    };

    fn table_with(ids: &[&str]) -> TaskTable {
        let mut t = TaskTable::new(1);
        let tasks = ids
            .iter()
            .map(|id| {
                let mut task = Task::for_test(id);
                task.status = TaskStatus::Ready;
                task
            })
            .collect();
        t.insert(tasks, 0, &mut Effects::default());
        t
    }

    fn claim(t: &mut TaskTable, id: &str, worker: &str, owner: Principal, now: Millis) -> Lease {
        let who = Claimant {
            worker,
            slot: 0,
            ttl_ms: TTL,
            compat: false,
        };
        t.claim(&TaskId::from_trusted(id), who, now, &mut Effects::by(owner))
            .unwrap()
    }

    fn renew(t: &mut TaskTable, worker: &str, actor: Principal, now: Millis) -> Vec<String> {
        t.renew_on_activity(worker, now, BOUNDS, &mut Effects::by(actor))
            .into_iter()
            .map(|l| l.task_id.to_string())
            .collect()
    }

    #[test]
    fn activity_renews_only_past_half_the_ttl_and_only_the_workers_own_leases() {
        let mut t = table_with(&["a", "b"]);
        claim(&mut t, "a", "w1", Principal::local(), 0);
        claim(&mut t, "b", "w2", Principal::local(), 0);
        // 4 s in: 6 s of 10 left, more than half: no write
        assert!(renew(&mut t, "w1", Principal::local(), 4_000).is_empty());
        // 6 s in: 4 s left: renewed to 16 s; w2's lease untouched
        assert_eq!(renew(&mut t, "w1", Principal::local(), 6_000), ["a"]);
        let a = t.get(&TaskId::from_trusted("a")).unwrap();
        assert_eq!(a.lease.as_ref().unwrap().expires_at, 16_000);
        let b = t.get(&TaskId::from_trusted("b")).unwrap();
        assert_eq!(b.lease.as_ref().unwrap().expires_at, TTL);
        // a lapsed lease is not revived
        assert!(renew(&mut t, "w2", Principal::local(), TTL).is_empty());
    }

    #[test]
    fn another_token_cannot_renew_a_lease_it_does_not_own() {
        let mut t = table_with(&["a"]);
        claim(&mut t, "a", "w1", Principal::named("alice", Role::Agent), 0);
        let bob = Principal::named("bob", Role::Agent);
        assert!(renew(&mut t, "w1", bob, 6_000).is_empty());
        let alice = Principal::named("alice", Role::Agent);
        assert_eq!(renew(&mut t, "w1", alice, 6_000), ["a"]);
    }

    #[test]
    fn activity_stops_renewing_after_max_implicit_without_an_explicit_sign() {
        let mut t = table_with(&["a"]);
        claim(&mut t, "a", "w1", Principal::local(), 0);
        let mut now = 0;
        // renewed every 6 s by activity alone until 60 s after the claim
        while now + 6_000 < BOUNDS.max_implicit_ms {
            now += 6_000;
            assert_eq!(renew(&mut t, "w1", Principal::local(), now), ["a"], "{now}");
        }
        now += 6_000;
        assert!(renew(&mut t, "w1", Principal::local(), now).is_empty());
        // an explicit heartbeat opens the budget again
        let id = TaskId::from_trusted("a");
        let lease_id = t.get(&id).unwrap().lease.as_ref().unwrap().lease_id;
        t.heartbeat(
            &id,
            &LeaseRef::Id(lease_id),
            now,
            TTL,
            &mut Effects::default(),
        )
        .unwrap();
        assert_eq!(renew(&mut t, "w1", Principal::local(), now + 6_000), ["a"]);
    }

    #[test]
    fn a_context_write_counts_as_explicit_for_the_current_lease_only() {
        let mut t = table_with(&["a"]);
        let l = claim(&mut t, "a", "w1", Principal::local(), 0);
        let id = TaskId::from_trusted("a");
        t.mark_explicit(&id, l.lease_id + 7, 50_000);
        assert_eq!(t.last_explicit(&l), 0, "a stale lease id is ignored");
        t.mark_explicit(&id, l.lease_id, 50_000);
        assert_eq!(t.last_explicit(&l), 50_000);
    }
}
