//! The registry's protocol: every message [`TaskRegistry`](super::TaskRegistry) handles, with its
//! typed result, and [`Claimed`], the result of a claim. Edges send them
//! (through [`crate::board::Board`]); the dispatcher sends
//! [`ClaimNextExecutor`]. Each handler lives in the file of its concern
//! (`add.rs`, `claim.rs`, `transitions.rs`, `expiry.rs`, `retention.rs`,
//! `operations.rs`); [`DeadlineExceeded`](crate::actors::context::DeadlineExceeded)
//! is defined by the task context that sends it.
//!
//! Every message that changes the board answers with the commit's
//! [`Ticket`]: the caller waits for it to be durable before it answers.

use actix::prelude::*;

use crate::core::table::LeaseRef;
use crate::error::Error;
use crate::model::{Lease, Operation, Principal, Task, TaskId, TaskSpec};
use crate::store::Ticket;

// ---- tasks ---------------------------------------------------------------

/// Validate and add tasks (one, or an atomic batch with dependencies inside it).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Vec<Task>, Ticket), Error>")]
pub struct AddTasks {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// Specs, in order.
    pub specs: Vec<TaskSpec>,
}

/// Add subtasks under `parent` as one atomic batch: each spec's `parent`
/// is `parent` (or another task of the batch, for a deeper tree). A parent
/// that is running may be split only by its holder, under its `lease`: the
/// lease then ends as `split` and the parent waits for its children.
/// Answers the parent as it is after the add, and the new tasks.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Task, Vec<Task>, Ticket), Error>")]
pub struct AddSubtasks {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// The task the subtasks go under (unfinished; it becomes their parent).
    pub parent: TaskId,
    /// The subtasks, in order.
    pub specs: Vec<TaskSpec>,
    /// The caller's lease on `parent` (a split of the task it holds).
    pub lease: Option<LeaseRef>,
}

/// Claim the best ready task (highest priority, then oldest) carrying all
/// `tags`, together with a slot, in one step. `Ok(None)`: nothing is ready.
///
/// With a `request_id`, a claim is remembered while its lease lasts (the
/// record is written in the claim's commit and removed in the lease end's):
/// the same request again (same actor name, worker and `request_id`)
/// answers the task with the lease it already holds, and claims nothing
/// else. A lease that lapsed is not answered again.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Claimed>, Error>")]
pub struct ClaimNext {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// The claiming worker's name (free text; the `X-Baton-Worker` header or the tool
    /// argument), recorded in the lease.
    pub worker: String,
    /// Tags the task must all carry (empty: any task); compared exactly,
    /// case-sensitive.
    pub tags: Vec<String>,
    /// Explicit slot the worker holds (otherwise a free one is taken).
    pub slot: Option<u32>,
    /// The client's idempotency key, already checked.
    pub request_id: Option<String>,
}

/// Claim the best ready task that carries an executor whose server is not in
/// `blocked` (the dispatcher's claim: a task whose server's breaker is open
/// waits, unclaimed). `Ok(None)`: nothing is ready for it.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Claimed>, Error>")]
pub struct ClaimNextExecutor {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// Claiming worker (the dispatcher's name).
    pub worker: String,
    /// Servers not to call now.
    pub blocked: Vec<String>,
    /// Tasks the dispatcher still runs (an expired lease made them ready again).
    pub exclude: Vec<TaskId>,
}

/// Claim a specific ready task. The same worker (and actor name) claiming
/// a task it already holds under a live lease of the same kind (`compat`)
/// and, when `slot` is given, in that slot, gets that lease again — a retry
/// whose first answer was lost — and nothing changes.
#[derive(Debug, Message)]
#[rtype(result = "Result<Claimed, Error>")]
pub struct ClaimTask {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// The task to claim; it must be `ready` (or already held by this worker, see
    /// above).
    pub id: TaskId,
    /// The claiming worker's name, recorded in the lease.
    pub worker: String,
    /// Explicit slot the worker holds (otherwise a free one is taken).
    pub slot: Option<u32>,
    /// Lease TTL override in milliseconds (compat routes).
    pub ttl_ms: Option<u64>,
    /// An agent-coordinate-mcp `claim-task`: the lease accepts updates by
    /// worker name ([`Lease::compat`]).
    pub compat: bool,
}

/// A successful claim.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The task, now running.
    pub task: Task,
    /// The lease the claim made (or, on a repeated request, the one it already held):
    /// its `lease_id` fences every later update.
    pub lease: Lease,
    /// Commit to wait on; `None` when the claim repeats an earlier answer
    /// (nothing was written, but what it repeats may still be on its way
    /// to disk: wait for a read barrier).
    pub ticket: Option<Ticket>,
}

/// Every ready task an agent may claim (no executor tasks), best first,
/// read from the in-memory ready queue.
#[derive(Debug, Message)]
#[rtype(result = "Vec<Task>")]
pub struct ListReady;

/// Extend a lease.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Task, Ticket), Error>")]
pub struct Heartbeat {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// The running task whose lease to extend.
    pub id: TaskId,
    /// The lease the caller holds (its id, or the worker's name for a compat lease); a
    /// stale one is refused.
    pub lease: LeaseRef,
    /// TTL override in milliseconds (compat routes).
    pub ttl_ms: Option<u64>,
}

/// Complete a running task under its lease.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Task, Ticket), Error>")]
pub struct Complete {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// The running task to complete.
    pub id: TaskId,
    /// The lease the caller holds (its id, or the worker's name for a compat lease); a
    /// stale one is refused.
    pub lease: LeaseRef,
    /// The task's result as JSON, stored as its `output` (bounded by
    /// `tasks.max_payload_bytes` serialized); `None` stores none.
    pub output: Option<serde_json::Value>,
}

/// Fail the current attempt (retried while attempts remain, unless `retry` is false).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Task, Ticket), Error>")]
pub struct Fail {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// The running task whose attempt failed.
    pub id: TaskId,
    /// The lease the caller holds (its id, or the worker's name for a compat lease); a
    /// stale one is refused.
    pub lease: LeaseRef,
    /// What went wrong.
    pub error: String,
    /// Whether another attempt may be made.
    pub retry: bool,
    /// Not before this many seconds from now (a retried task waits
    /// `blocked` until then; at most `[tasks] max_delay_secs`).
    pub retry_after_secs: Option<u64>,
}

/// Give a task back (ready again; the attempt does not count).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Task, Ticket), Error>")]
pub struct Release {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// The running task to give back.
    pub id: TaskId,
    /// The lease the caller holds (its id, or the worker's name for a compat lease); a
    /// stale one is refused.
    pub lease: LeaseRef,
    /// Not handed out again before this many seconds from now (it waits
    /// `blocked`; at most `[tasks] max_delay_secs`).
    pub retry_after_secs: Option<u64>,
}

/// Cancel a task that has not finished (its pending dependents, and a
/// parent's unfinished subtasks, are cancelled too).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Task, Ticket), Error>")]
pub struct Cancel {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// The task to cancel; a task already done, failed or cancelled is refused.
    pub id: TaskId,
    /// Why, as the caller says it: recorded on the `task_cancelled` event and on
    /// dependents cancelled with it.
    pub reason: Option<String>,
}

/// Reset a failed task and the failed tasks that fell with it (its failed
/// dependents, a parent's failed subtasks, a subtask's failed parent).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Vec<Task>, Ticket), Error>")]
pub struct Reset {
    /// Who asks (stamped on the audit events; checked against lease owners).
    pub actor: Principal,
    /// The failed task.
    pub id: TaskId,
}

/// Expire every lease that lapsed by the clock's now, and make ready every
/// delayed task whose `run_after` has come — what the sweep timer does every
/// `leases.sweep_interval_ms` — and answer with the commit to wait on
/// (`None`: nothing was due).
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Ticket>, Error>")]
pub struct SweepLeases;

/// Delete one terminal task now, with its audit log and context.
///
/// Errors: [`TaskError::NotFound`](crate::core::table::TaskError::NotFound);
/// [`TaskError::WrongStatus`](crate::core::table::TaskError::WrongStatus) when it is not
/// done, failed or cancelled;
/// [`TaskError::HasDependents`](crate::core::table::TaskError::HasDependents) while other tasks
/// depend on it (or on one of its subtasks). A parent is deleted with its
/// subtasks (every one finished); a subtask only once its parent finished.
#[derive(Debug, Message)]
#[rtype(result = "Result<Ticket, Error>")]
pub struct DeleteTask {
    /// The terminal task to delete.
    pub id: TaskId,
    /// Who asked (stamped on the `task_deleted` event).
    pub actor: Principal,
}

// ---- MCP task handles (SEP-2663) ------------------------------------------

/// Record a new MCP task handle (and drop expired ones).
#[derive(Debug, Message)]
#[rtype(result = "Result<Ticket, Error>")]
pub struct OpenOperation {
    /// The record, `Working`.
    pub op: Operation,
}

/// One MCP task handle.
#[derive(Debug, Message)]
#[rtype(result = "Result<Operation, Error>")]
pub struct GetOperation {
    /// The handle's id (`op-<uuid>`, as [`OpenOperation`] recorded it).
    pub id: String,
}

/// Settle a working handle (the task finished or the wait timed out).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Operation, Option<Ticket>), Error>")]
pub struct SettleOperation {
    /// The handle's id (`op-<uuid>`, as [`OpenOperation`] recorded it).
    pub id: String,
    /// The task as it was seen.
    pub task: Task,
    /// Whether it had finished.
    pub finished: bool,
}

/// Cancel a working handle (a settled one stays settled).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Operation, Option<Ticket>), Error>")]
pub struct CancelOperation {
    /// The handle's id (`op-<uuid>`, as [`OpenOperation`] recorded it).
    pub id: String,
}

// ---- activity ------------------------------------------------------------

/// A call of a connection that names `worker` arrived: renew that worker's
/// leases `actor` may act on, where less than half their TTL is left and
/// their last explicit sign of life is recent enough (see
/// [`crate::core::table::ImplicitRenewal`]). Answers the leases renewed
/// and, when there were any, the commit's ticket. Does nothing when
/// `[leases] renew_on_activity` is off.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Vec<Lease>, Option<Ticket>), Error>")]
pub struct RenewOnActivity {
    /// Who asks (only leases it may act on are renewed).
    pub actor: Principal,
    /// The worker the connection named.
    pub worker: String,
}

/// An explicit sign of life of `id`'s lease `lease_id` other than a
/// heartbeat (a context write made under it): the budget of implicit
/// renewal starts again. Ignored for a lease that is not current.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct MarkExplicit {
    /// The task whose lease was written under.
    pub id: TaskId,
    /// The lease the write was made under.
    pub lease_id: u64,
}

/// The running tasks whose lease `worker` holds, oldest claim first (from
/// the registry's own table: no scan of the store).
#[derive(Debug, Message)]
#[rtype(result = "Vec<Task>")]
pub struct ListHeld {
    /// The worker whose held leases are listed.
    pub worker: String,
}

// ---- questions of the mailbox ----------------------------------------------

/// The ids of the running tasks whose lease `worker` holds now (from the
/// registry's own table: no scan of the store). The mailbox's inbox of a
/// worker holds the messages to these tasks.
#[derive(Debug, Message)]
#[rtype(result = "Vec<TaskId>")]
pub struct TasksHeldBy {
    /// The worker whose running tasks are asked for.
    pub worker: String,
}

/// Each task's status and, while it runs, its holder: `None` for a task
/// that does not exist (never added, or deleted). In `ids` order.
#[derive(Debug, Message)]
#[rtype(result = "Vec<Option<TaskState>>")]
pub struct TaskStates {
    /// The tasks asked about, answered in this order.
    pub ids: Vec<TaskId>,
}

/// A task's status and holder, as [`TaskStates`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    /// Its status now.
    pub status: crate::model::TaskStatus,
    /// The worker holding its lease, while it runs.
    pub holder: Option<String>,
}
