//! `TaskRegistry`: the only writer of task state.
//!
//! State: a [`TaskTable`] (records, ready queue, lease expiries), the live
//! [`TaskContext`] of every running task, the live path reservations (the
//! `r/` key space; `reservations.rs`), and the `t/` key space of the store.
//! Every claim path checks paths and concurrency keys in one place
//! (`paths.rs`).
//! Messages: [`AddTasks`], [`AddSubtasks`], [`ClaimNext`], [`ClaimTask`], [`Heartbeat`],
//! [`Complete`], [`Fail`], [`Release`], [`Cancel`], [`Reset`], [`ListReady`],
//! [`SweepLeases`], [`RenewOnActivity`], [`MarkExplicit`], [`ListHeld`] from the edges;
//! [`DeadlineExceeded`] from task contexts; a timer of its own sweeps lapsed leases and
//! wakes delayed tasks whose `run_after` has come (every `leases.sweep_interval_ms`),
//! another runs retention (every `retention.interval_ms`: old terminal tasks
//! and old audit events are deleted in bounded batches; [`DeleteTask`]
//! deletes one terminal task now).
//!
//! Time comes from the runtime's [`Clock`]. A lease is refused by every
//! lease-fenced message from the instant its `expires_at` passes (the check
//! is in [`TaskTable::check_lease`]); the sweep only frees what lapsed.
//! It also keeps the MCP task handles ([`Operation`]s, the `o/` key space):
//! [`OpenOperation`], [`SettleOperation`], [`CancelOperation`], [`GetOperation`],
//! and the remembered answers of [`ClaimNext`] requests sent with a
//! `request_id` ([`RequestRecord`]s of the `q/` key space, each written in
//! its claim's commit and removed in the commit that ends that lease).
//!
//! Talks to: the [`DependencyResolver`] (validates new edges, tells which
//! dependents became ready or must cascade) and the [`SlotAllocator`] (a claim
//! takes a slot and a task in one step). While it waits for their answers its
//! mailbox is held ([`AtomicResponse`]), so each operation is atomic with
//! respect to every other; the whole effect (records, audit events, lease
//! counter) is then written as one [`WriteBatch`]. Replies carry the commit's
//! [`Ticket`]; the caller answers its client only once that is durable. When
//! a lease in an explicitly held slot ends, the slot allocator's rewrite of
//! that hold is awaited too, so the reply's ticket covers it.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | the actor: its state, start-up, writes and poisoning, task contexts |
//! | `messages.rs` | every message it handles, with its result |
//! | `commit.rs` | one change → resolver answers, one batch, slots, contexts, views |
//! | `add.rs` | [`AddTasks`], [`AddSubtasks`] (trees: a split of a held task) |
//! | `claim.rs` | [`ClaimNext`], [`ClaimNextExecutor`], [`ClaimTask`], [`ListReady`] |
//! | `transitions.rs` | [`Heartbeat`], [`Complete`], [`Fail`], [`Release`], [`Cancel`], [`Reset`] |
//! | `expiry.rs` | the sweep (lapsed leases, delayed tasks due), [`SweepLeases`], [`DeadlineExceeded`] |
//! | `retention.rs` | the retention timer, [`DeleteTask`] |
//! | `operations.rs` | the MCP task handles |
//! | `activity.rs` | [`RenewOnActivity`], [`MarkExplicit`]: implicit renewal; [`ListHeld`] |
//! | `holders.rs` | [`TasksHeldBy`], [`TaskStates`]: what the mailbox asks |
//! | `paths.rs` | the one claim check: paths and concurrency keys, no starvation |
//! | `reservations.rs` | path reservations: messages, lease ties, the gateway's fence |

use std::collections::{HashMap, HashSet};

use crate::core::reservations::ReservationTable;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::actors::context::{ContextEnv, TaskContext};
use crate::actors::metrics::Metrics;
use crate::actors::resolver::DependencyResolver;
use crate::actors::slots::SlotAllocator;
use crate::actors::BoardView;
use crate::clock::Clock;
use crate::config::Settings;
use crate::core::requests::RequestTable;
use crate::core::table::{TaskError, TaskTable};
use crate::error::Error;
use crate::model::{
    Lease, Operation, RequestAnswer, RequestKey, RequestKind, RequestRecord, Task, TaskId,
};
use crate::store::{Store, StoreError, Ticket, WriteBatch};

mod activity;
mod add;
mod claim;
mod commit;
mod expiry;
mod holders;
mod messages;
mod operations;
mod paths;
mod reservations;
mod retention;
#[cfg(test)]
mod tests;
mod transitions;
#[cfg(test)]
mod tree_tests;

pub use crate::actors::context::DeadlineExceeded;
pub use messages::{
    AddSubtasks, AddTasks, Cancel, CancelOperation, ClaimNext, ClaimNextExecutor, ClaimTask,
    Claimed, Complete, DeleteTask, Fail, GetOperation, Heartbeat, ListHeld, ListReady,
    MarkExplicit, OpenOperation, Release, RenewOnActivity, Reset, SettleOperation, SweepLeases,
    TaskState, TaskStates, TasksHeldBy,
};
pub use reservations::{
    CheckFence, CheckPaths, ListReservations, ReleasePaths, RenewReservation, ReservePaths,
    WhyWaiting, MAX_RESERVATION_TTL_SECS,
};

type Reply<T> = AtomicResponse<TaskRegistry, Result<T, Error>>;
type Fut<T> = ResponseActFuture<TaskRegistry, Result<T, Error>>;

fn ready<T: 'static>(r: Result<T, Error>) -> Fut<T> {
    Box::pin(actix::fut::ready(r))
}

fn done<T: 'static>(r: Result<T, Error>) -> Reply<T> {
    AtomicResponse::new(ready(r))
}

/// The registry actor.
pub struct TaskRegistry {
    table: TaskTable,
    store: Store,
    resolver: Addr<DependencyResolver>,
    slots: Addr<SlotAllocator>,
    view: Arc<BoardView>,
    metrics: Arc<Metrics>,
    settings: Arc<Settings>,
    clock: Clock,
    poisoned: bool,
    /// What every task context is started with.
    context_env: ContextEnv,
    /// Lease ids below this are reserved on disk (`m/lease_ceiling`); a claim
    /// that reaches it reserves the next block in its own commit, so lease
    /// ids stay monotonic across restarts without a write per claim.
    lease_ceiling: u64,
    /// MCP task handles by id (every record of the `o/` key space).
    operations: HashMap<String, Operation>,
    /// Running tasks that run in an explicitly held slot: when their lease
    /// ends the slot allocator rewrites that hold's record, and the reply
    /// waits for that write too.
    in_held_slot: HashSet<TaskId>,
    /// First answers of claim-next requests sent with a `request_id`, while
    /// their lease lasts.
    requests: RequestTable,
    /// Changes of remembered requests for the next commit to write:
    /// a record to put, or (`None`) a key to remove.
    request_writes: Vec<(RequestKey, Option<RequestRecord>)>,
    /// The live path reservations (the `r/` key space; see `reservations.rs`).
    reservations: ReservationTable,
    /// Reservations claims made, written by the next commit.
    pending_reservations: Vec<crate::model::Reservation>,
    /// Compiled `paths` of tasks.
    path_cache: paths::PathCache,
    /// Running tasks per concurrency key.
    running_keys: HashMap<String, u32>,
    /// The last lease of each worker that lapsed (task, when), until its
    /// next claim: the gateway's fence says `stale_lease` for it.
    lapsed_leases: HashMap<String, (TaskId, crate::model::Millis)>,
}

impl TaskRegistry {
    /// A registry over a table rebuilt from storage.
    // the actor's collaborators, each passed once at startup by `Runtime::start`
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        table: TaskTable,
        store: Store,
        resolver: Addr<DependencyResolver>,
        slots: Addr<SlotAllocator>,
        view: Arc<BoardView>,
        metrics: Arc<Metrics>,
        settings: Arc<Settings>,
        clock: Clock,
    ) -> Self {
        let context_env = ContextEnv {
            store: store.clone(),
            max_value_bytes: settings.tasks.max_context_value_bytes,
            clock: clock.clone(),
            live: view.live_contexts_cell(),
        };
        Self {
            context_env,
            clock,
            store,
            resolver,
            slots,
            view,
            metrics,
            lease_ceiling: table.next_lease_id(),
            table,
            settings,
            poisoned: false,
            operations: HashMap::new(),
            in_held_slot: HashSet::new(),
            requests: RequestTable::new(),
            request_writes: Vec::new(),
            reservations: ReservationTable::new(),
            pending_reservations: Vec::new(),
            path_cache: paths::PathCache::default(),
            running_keys: HashMap::new(),
            lapsed_leases: HashMap::new(),
        }
    }

    /// Builder: the remembered claim-next requests loaded from the store.
    /// A record whose lease is not the current lease of its task any more
    /// is dropped, and removed from the store by the next commit.
    pub fn with_requests(mut self, records: Vec<RequestRecord>) -> Self {
        for rec in records {
            if rec.key.kind != RequestKind::ClaimNext {
                continue;
            }
            if self.lease_of(&rec.answer).is_some() {
                self.requests.remember(rec);
            } else {
                self.request_writes.push((rec.key, None));
            }
        }
        self
    }

    /// The current lease `answer` names, if its task still holds it.
    fn lease_of(&self, answer: &RequestAnswer) -> Option<&Lease> {
        match answer {
            RequestAnswer::Lease { task_id, lease_id } => self
                .table
                .get(task_id)
                .and_then(|t| t.lease.as_deref())
                .filter(|l| l.lease_id == *lease_id),
            RequestAnswer::Slot { .. } => None,
        }
    }

    /// Remember `rec` (a claim just made) for the next commit to write.
    fn remember_request(&mut self, rec: RequestRecord) {
        for old in self.requests.remember(rec.clone()) {
            self.request_writes.push((old.key, None));
        }
        self.request_writes.push((rec.key.clone(), Some(rec)));
    }

    /// Builder: the running tasks that run in an explicitly held slot (from recovery).
    pub fn with_held_slots(mut self, tasks: HashSet<TaskId>) -> Self {
        self.in_held_slot = tasks;
        self
    }

    /// Builder: the MCP task handles loaded from the store.
    pub fn with_operations(mut self, ops: Vec<Operation>) -> Self {
        self.operations = ops.into_iter().map(|o| (o.id.clone(), o)).collect();
        self
    }

    /// Queue `batch`; a failed write poisons the registry (nothing after it
    /// could be made durable in order).
    fn write(&mut self, batch: WriteBatch) -> Result<Ticket, Error> {
        self.refuse_if_poisoned()?;
        self.store.commit(batch).map_err(|e| {
            self.poison(format!("a commit was refused: {e}"));
            e.into()
        })
    }

    /// Stop taking writes for good: nothing after a lost write or a lost
    /// resolver answer could be kept consistent. `/readyz` then says why.
    fn poison(&mut self, reason: String) {
        tracing::error!(%reason, "the registry refuses further writes");
        self.poisoned = true;
        self.view
            .set_unhealthy(format!("the task registry stopped: {reason}"));
    }

    /// The error every write gets once the registry is poisoned: the
    /// store's own failure when that is the cause (503 `storage_unavailable`).
    fn refuse_if_poisoned(&self) -> Result<(), Error> {
        if !self.poisoned {
            return Ok(());
        }
        Err(match self.store.failure() {
            Some(f) => StoreError::FlushFailed(f.to_owned()).into(),
            None => {
                Error::Unavailable("the task registry (it stopped after an error; restart baton)")
            }
        })
    }

    fn ttl_ms(&self) -> u64 {
        self.settings.leases.ttl_secs.saturating_mul(1000)
    }

    fn task(&self, id: &TaskId) -> Result<Task, Error> {
        self.table
            .get(id)
            .cloned()
            .ok_or_else(|| TaskError::NotFound(id.clone()).into())
    }

    fn spawn_context(&mut self, lease: &Lease, ctx: &mut Context<Self>) {
        let deadline = self
            .table
            .get(&lease.task_id)
            .and_then(|t| t.timeout_secs)
            .map(|secs| {
                let end = lease.claimed_at.saturating_add(secs.saturating_mul(1000));
                let d = Duration::from_millis(end.saturating_sub(self.clock.now()));
                (d, ctx.address().recipient())
            });
        let handle = TaskContext::spawn(
            lease.task_id.clone(),
            (lease.lease_id, lease.expires_at),
            lease.owner.clone(),
            deadline,
            &self.context_env,
        );
        if let Some(old) = self.view.contexts.insert(lease.task_id.clone(), handle) {
            old.revoke();
        }
    }
}

impl Actor for TaskRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(4096);
        let running: Vec<Lease> = self
            .table
            .running()
            .filter_map(|t| t.lease.as_deref().cloned())
            .collect();
        for lease in &running {
            self.spawn_context(lease, ctx);
            self.count_key(&lease.task_id, true);
        }
        self.view.set_counts(self.table.counts());
        let every = Duration::from_millis(self.settings.leases.sweep_interval_ms);
        ctx.run_interval(every, |act, ctx| act.sweep(ctx));
        let every = Duration::from_millis(self.settings.retention.interval_ms);
        ctx.run_interval(every, |act, ctx| act.retention_pass(ctx));
    }
}
