//! `Board`: the typed in-process API. Every edge (REST, the
//! agent-coordinate-mcp routes, the CLI's server, MCP later) goes through it.
//!
//! Each write sends one message to the owning actor and then waits until the
//! commit it caused is durable, so a returned `Ok` is an acknowledged write.
//! Reads go to the store and then pass a read barrier before they return
//! (nothing not yet durable is shown), or to the lock-free [`BoardView`].
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | [`Board`]: the handle, who it acts for, role checks, id and worker checks |
//! | `add.rs` | adding tasks (executor checks) |
//! | `claim.rs` | claims |
//! | `transitions.rs` | heartbeat, complete, fail, release, cancel, delete, reset, sweep |
//! | `context.rs` | a task's context keys |
//! | `slots.rs` | explicit worker slots |
//! | `waits.rs` | durable waits (MCP task handles) |
//! | `worker.rs` | the connection's worker (`X-Baton-Worker`) and a call's, through [`resolve_worker`] |
//! | `activity.rs` | implicit lease renewal on a worker's activity, the worker's held tasks |
//! | `messages.rs` | messages between workers, tasks and operators; hook digests |
//! | `reads.rs` | every read, stats, Prometheus text |
//! | `pages.rs` | the filters and pages of the list reads, [`Stats`] |
//! | `reservations.rs` | path reservations, who holds a path, why a task waits, the gateway's fence |
//! | `rebuild.rs` | the board as a start-up rebuilds it from the store (also what reads show once the store failed) |
//!
//! **Once the store has failed** every write is refused (503), and every
//! read keeps answering from the last durable state, what a restart would
//! show: store reads see only what was committed before the failure, and
//! reads of actor memory (counts, ready queue, slots, dependents), which may
//! hold changes that never became durable, are served from one rebuild of
//! the board from the store instead (see `rebuild.rs`).

use std::sync::Arc;

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use crate::actors::metrics::{Metrics, MetricsCollector};
use crate::actors::registry::TaskRegistry;
use crate::actors::resolver::DependencyResolver;
use crate::actors::slots::SlotAllocator;
use crate::actors::BoardView;
use crate::clock::Clock;
use crate::config::Settings;
use crate::core::table::TaskError;
use crate::error::Error;
use crate::model::{Lease, Principal, Role, Task, TaskId};
use crate::pool::PoolHandle;
use crate::store::{Store, Ticket};

mod activity;
mod add;
mod claim;
mod context;
mod messages;
mod pages;
mod reads;
mod rebuild;
mod reservations;
mod slots;
mod transitions;
mod waits;
mod worker;

pub use crate::core::worker::{
    resolve_worker, worker_from_header, WorkerError, HOW_TO_NAME_A_WORKER, WORKER_HEADER,
};
pub use messages::{
    calling_worker, HookTrigger, MessageFilter, MessagePage, NewMessage, ReadRequest,
    MESSAGE_WORKER_HEADER,
};
pub use pages::{LeaseFilter, LeasePage, Stats, TaskFilter, TaskPage, LEASE_SCAN_BUDGET};
pub(crate) use rebuild::Rebuilt;
pub use reservations::PathHolders;

/// A task and its lease, as returned by a claim.
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema, schemars::JsonSchema,
)]
pub struct Claim {
    /// The task, now running.
    pub task: Task,
    /// The lease: present its `lease_id` on every later update.
    pub lease: Lease,
}

/// The handle. Cheap to clone. Every operation is made on behalf of
/// [`Board::actor`] ([`Principal::local`] unless [`Board::acting_as`] chose
/// another): recorded in the audit log, checked against lease owners and,
/// for executor tasks, against the admin role.
#[derive(Clone)]
pub struct Board {
    actor: Principal,
    /// The worker the connection named (`X-Baton-Worker`), if any: see
    /// [`Board::for_worker`] and [`Board::worker_for`].
    worker: Option<String>,
    registry: Addr<TaskRegistry>,
    resolver: Addr<DependencyResolver>,
    slots: Addr<SlotAllocator>,
    collector: Addr<MetricsCollector>,
    store: Store,
    view: Arc<BoardView>,
    metrics: Arc<Metrics>,
    settings: Arc<Settings>,
    /// Downstream MCP servers (executor tasks, the gateway, `/api/v1/servers`).
    pool: Option<PoolHandle>,
    /// Messages between workers, tasks and operators (absent in a board
    /// built without one: message calls are then `unavailable`).
    mailbox: Option<Addr<crate::actors::mailbox::Mailbox>>,
    clock: Clock,
    /// Cancelled when a shutdown begins ([`crate::Runtime::close_streams`]):
    /// every long-lived response (the SSE event stream, MCP sessions and
    /// their streams) ends, so a graceful HTTP stop is not held open by
    /// them until its timeout.
    closing: tokio_util::sync::CancellationToken,
    /// Once the store has failed: the board rebuilt from it, what reads of
    /// actor memory show from then on (built by the first such read).
    durable: Arc<tokio::sync::OnceCell<Arc<Rebuilt>>>,
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board").finish_non_exhaustive()
    }
}

/// Parse an id from a path or argument; an id that cannot exist is "not found".
pub fn task_id(s: &str, max_len: usize) -> Result<TaskId, Error> {
    TaskId::parse(s, max_len).map_err(|_| TaskError::NotFound(TaskId::from_trusted(s)).into())
}

impl Board {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        registry: Addr<TaskRegistry>,
        resolver: Addr<DependencyResolver>,
        slots: Addr<SlotAllocator>,
        collector: Addr<MetricsCollector>,
        store: Store,
        view: Arc<BoardView>,
        metrics: Arc<Metrics>,
        settings: Arc<Settings>,
        clock: Clock,
    ) -> Self {
        Self {
            actor: Principal::local(),
            worker: None,
            clock,
            registry,
            resolver,
            slots,
            collector,
            store,
            view,
            metrics,
            settings,
            pool: None,
            mailbox: None,
            closing: tokio_util::sync::CancellationToken::new(),
            durable: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// Cancelled once a shutdown has begun (see
    /// [`crate::Runtime::close_streams`]); long-lived streams end on it.
    pub fn closing(&self) -> &tokio_util::sync::CancellationToken {
        &self.closing
    }

    /// The same board, acting for `actor` (the edges call this with the
    /// caller that authenticated the request).
    pub fn acting_as(&self, actor: Principal) -> Board {
        Board {
            actor,
            ..self.clone()
        }
    }

    /// Who this handle acts for.
    pub fn actor(&self) -> &Principal {
        &self.actor
    }

    /// Builder: the downstream MCP server pool.
    pub(crate) fn with_pool(mut self, pool: PoolHandle) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Builder: the mailbox actor.
    pub(crate) fn with_mailbox(mut self, mailbox: Addr<crate::actors::mailbox::Mailbox>) -> Self {
        self.mailbox = Some(mailbox);
        self
    }

    /// The downstream MCP server pool (absent in a board built without one).
    pub fn pool(&self) -> Option<&PoolHandle> {
        self.pool.as_ref()
    }

    /// Settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The clock every lease and slot expiry is measured by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The store (for the SSE stream and shutdown).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Shared metric handles.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The lock-free read views (status counts, slots held) the owning actors publish
    /// after each commit: read without a mailbox hop.
    pub fn view(&self) -> &Arc<BoardView> {
        &self.view
    }

    fn id(&self, s: &str) -> Result<TaskId, Error> {
        task_id(s, self.settings.tasks.max_id_len)
    }

    /// Refuse unless [`Board::actor`] has at least `role`.
    pub fn require(&self, role: Role, action: &'static str) -> Result<(), Error> {
        if self.actor.role >= role {
            Ok(())
        } else {
            Err(Error::Forbidden {
                required: role,
                action,
            })
        }
    }

    /// Refuse a write at once once the store has failed (503
    /// `storage_unavailable`, with the store's failure): it could not become
    /// durable, and the actors' memory it would be checked against may hold
    /// changes that never did (a lease that looks ended, a task that looks
    /// claimed), so any other answer could be wrong.
    fn writable(&self) -> Result<(), Error> {
        match self.store.failure() {
            Some(f) => Err(crate::store::StoreError::FlushFailed(f.to_owned()).into()),
            None => Ok(()),
        }
    }

    async fn durable<T>(&self, r: (T, Ticket)) -> Result<T, Error> {
        self.store.wait_durable(r.1).await?;
        Ok(r.0)
    }
}

/// Check a client's idempotency key (`request_id`): 1 to 128 bytes without
/// control characters; refused as `invalid_argument` on `request_id`.
pub fn check_request_id(id: &str) -> Result<(), Error> {
    crate::model::check_request_id(id).map_err(|m| Error::invalid("request_id", m))
}

/// Check a worker name.
pub fn check_worker(worker: &str) -> Result<(), Error> {
    if !crate::core::worker::is_valid_name(worker) {
        return Err(Error::invalid("worker", crate::core::worker::NAME_RULE));
    }
    Ok(())
}
