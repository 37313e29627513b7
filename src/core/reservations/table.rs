//! [`ReservationTable`]: the live reservations with their compiled
//! patterns, and the conflict rule ([`conflict_between`]). Pure: time is
//! passed in; the task registry owns one and writes it through the store.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::pattern::PatternSet;
use crate::model::{Millis, Reservation, ReservationMode, TaskId};

/// A reservation as the table holds it: the record and its compiled patterns.
#[derive(Debug, Clone)]
pub struct Held {
    /// The durable reservation record this entry indexes.
    pub res: Reservation,
    /// Its patterns, compiled.
    pub set: Arc<PatternSet>,
}

/// Who holds what, as one side of a conflict test: the holder's worker
/// name, its mode and its patterns.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// The holder (a worker name): a holder never conflicts with itself.
    pub worker: &'a str,
    /// Exclusive or shared.
    pub mode: ReservationMode,
    /// The compiled patterns of the reservation's paths.
    pub set: &'a PatternSet,
}

/// The conflict rule: two holdings conflict when they belong to different
/// holders, at least one of them is exclusive, and their patterns overlap
/// (conservatively, see [`super::pattern`]). Returns the overlapping pair
/// (`a`'s pattern, `b`'s pattern).
pub fn conflict_between<'a>(a: Side<'a>, b: Side<'a>) -> Option<(&'a str, &'a str)> {
    if a.worker == b.worker {
        return None;
    }
    if a.mode == ReservationMode::Shared && b.mode == ReservationMode::Shared {
        return None;
    }
    a.set.overlap(b.set)
}

/// A holding in the way of a request: which reservation, whose, until when,
/// and the patterns that overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The reservation in the way.
    pub reservation: String,
    /// The worker that holds the conflicting reservation.
    pub worker: String,
    /// The task it belongs to (a lease-bound reservation).
    pub task: Option<TaskId>,
    /// The conflicting reservation's mode (shared or exclusive).
    pub mode: ReservationMode,
    /// All of its patterns.
    pub patterns: Vec<String>,
    /// When it lapses unless renewed (ms since the Unix epoch).
    pub expires_at: Millis,
    /// The requested pattern that overlaps.
    pub wanted: String,
    /// The held pattern it overlaps.
    pub held: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "'{}' overlaps '{}' held ({}) by worker '{}'",
            self.wanted,
            self.held,
            self.mode.as_str(),
            self.worker
        )?;
        if let Some(t) = &self.task {
            write!(f, " for task '{t}'")?;
        }
        write!(
            f,
            " (reservation {}: {}) until {}",
            self.reservation,
            self.patterns.join(", "),
            crate::model::rfc3339::format(self.expires_at)
        )
    }
}

impl Conflict {
    /// As an error body's `holder`: `{reservation, worker, task, mode,
    /// patterns, expires_at (RFC 3339), wanted, held}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "reservation": self.reservation,
            "worker": self.worker,
            "task": self.task,
            "mode": self.mode,
            "patterns": self.patterns,
            "expires_at": crate::model::rfc3339::format(self.expires_at),
            "wanted": self.wanted,
            "held": self.held,
        })
    }

    /// The conflict with `held`, whose pattern `theirs` overlaps `mine`.
    pub fn with(held: &Reservation, mine: &str, theirs: &str) -> Self {
        Self {
            reservation: held.id.clone(),
            worker: held.worker.clone(),
            task: held.task_id.clone(),
            mode: held.mode,
            patterns: held.patterns.clone(),
            expires_at: held.expires_at,
            wanted: mine.to_owned(),
            held: theirs.to_owned(),
        }
    }
}

/// The live reservations, by id.
#[derive(Debug, Default, Clone)]
pub struct ReservationTable {
    held: BTreeMap<String, Held>,
}

impl ReservationTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add (or replace) a reservation whose patterns are already compiled.
    pub fn insert(&mut self, res: Reservation, set: Arc<PatternSet>) {
        self.held.insert(res.id.clone(), Held { res, set });
    }

    /// Rebuild a table from the stored records `stored` (the `r/` key space)
    /// as a start-up, or a read of a failed store, sees them. A lease-bound
    /// reservation lives only with its lease: `live_lease(task, lease_id)`
    /// answers that lease's expiry (ms) when it is the task's current live
    /// lease, and the reservation takes it; otherwise it is dropped. A record
    /// whose patterns no longer compile is dropped too (logged).
    ///
    /// Returns the table and the ids of the dropped records (a start-up
    /// removes them from the store; a failed store's read cannot and need not).
    pub fn restore_all(
        stored: Vec<Reservation>,
        live_lease: impl Fn(&crate::model::TaskId, u64) -> Option<Millis>,
    ) -> (Self, Vec<String>) {
        let mut table = Self::new();
        let mut dropped = Vec::new();
        for mut r in stored {
            if let Some(lid) = r.lease_id {
                match r.task_id.as_ref().and_then(|t| live_lease(t, lid)) {
                    Some(expires_at) => r.expires_at = expires_at,
                    None => {
                        dropped.push(r.id.clone());
                        continue;
                    }
                }
            }
            if let Err(reason) = table.restore(r.clone()) {
                tracing::warn!(reservation = %r.id, %reason, "dropping a stored reservation whose patterns no longer compile");
                dropped.push(r.id);
            }
        }
        (table, dropped)
    }

    /// Add a stored reservation (recovery), compiling its patterns.
    /// `Err` with the message when a stored pattern no longer compiles.
    pub fn restore(&mut self, res: Reservation) -> Result<(), String> {
        let set = PatternSet::compile(&res.patterns).map_err(|(_, m)| m)?;
        self.insert(res, Arc::new(set));
        Ok(())
    }

    /// The reservation with this id, live or expired, if the table holds it.
    pub fn get(&self, id: &str) -> Option<&Reservation> {
        self.held.get(id).map(|h| &h.res)
    }

    /// Remove the reservation with this id, returning it if it was held.
    pub fn remove(&mut self, id: &str) -> Option<Reservation> {
        self.held.remove(id).map(|h| h.res)
    }

    /// Number of reservations held (live or lapsed but not yet swept).
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Every reservation, lapsed or not, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Held> {
        self.held.values()
    }

    /// Ids of the reservations bound to lease `lease_id`.
    pub fn of_lease(&self, lease_id: u64) -> Vec<String> {
        self.held
            .values()
            .filter(|h| h.res.lease_id == Some(lease_id))
            .map(|h| h.res.id.clone())
            .collect()
    }

    /// A heartbeat moved lease `lease_id`'s expiry: its reservations follow.
    pub fn renew_lease(&mut self, lease_id: u64, expires_at: Millis) {
        for h in self.held.values_mut() {
            if h.res.lease_id == Some(lease_id) {
                h.res.expires_at = expires_at;
            }
        }
    }

    /// A renewal moved reservation `id`'s expiry.
    pub fn set_expiry(&mut self, id: &str, expires_at: Millis) {
        if let Some(h) = self.held.get_mut(id) {
            h.res.expires_at = expires_at;
        }
    }

    /// Ids of the TTL reservations that lapsed by `now` (lease-bound ones end
    /// with their lease, and are not live once it lapsed).
    pub fn lapsed(&self, now: Millis) -> Vec<String> {
        self.held
            .values()
            .filter(|h| h.res.lease_id.is_none() && !h.res.live_at(now))
            .map(|h| h.res.id.clone())
            .collect()
    }

    /// The reservations live at `now`.
    pub fn live(&self, now: Millis) -> impl Iterator<Item = &Held> {
        self.held.values().filter(move |h| h.res.live_at(now))
    }

    /// The first live reservation `wanted` conflicts with (see
    /// [`conflict_between`]), if any.
    pub fn conflict(&self, wanted: Side<'_>, now: Millis) -> Option<Conflict> {
        self.live(now).find_map(|h| {
            let theirs = Side {
                worker: &h.res.worker,
                mode: h.res.mode,
                set: &h.set,
            };
            conflict_between(wanted, theirs).map(|(m, t)| Conflict::with(&h.res, m, t))
        })
    }

    /// The live reservations whose patterns match the normalized `path`,
    /// with the patterns that match it.
    pub fn holders<'a>(
        &'a self,
        path: &'a str,
        now: Millis,
    ) -> Vec<(&'a Reservation, Vec<&'a str>)> {
        self.live(now)
            .filter_map(|h| {
                let m = h.set.matching(path);
                (!m.is_empty()).then_some((&h.res, m))
            })
            .collect()
    }

    /// Whether `worker` holds a live reservation matching `path`.
    pub fn covers(&self, worker: &str, path: &str, now: Millis) -> bool {
        self.live(now)
            .any(|h| h.res.worker == worker && h.set.matches(path))
    }
}
