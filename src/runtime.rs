//! `Runtime`: opens the store, rebuilds the board from it, starts the actors,
//! and mounts the HTTP surface into any actix-web `App`.
//!
//! ```no_run
//! use actix_web::{web, App};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = baton::Runtime::start(baton::Settings::default()).await?;
//! let mount = runtime.configure();
//! // TCP_NODELAY, [server] workers and the connection cap: see `Runtime::http_server`
//! runtime
//!     .http_server(move || {
//!         App::new()
//!             .configure(mount.clone())
//!             .route("/hello", web::get().to(|| async { "embedder's own route" }))
//!     })
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await?;
//! runtime.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! [`http_server`] is the same `HttpServer::new` with the socket options
//! baton needs already set; [`Runtime::http_server`] adds the worker count
//! and the cap on open connections derived from the process's descriptor
//! limit ([`ConnectionCap`]), which `baton serve` uses. The body deadline
//! (`[server] body_read_timeout_secs`: 408 for a body slower than that)
//! comes with [`Runtime::configure`] on every route it mounts.

use std::sync::Arc;

use actix::prelude::*;

use crate::actors::metrics::{Metrics, MetricsCollector};
use crate::actors::registry::TaskRegistry;
use crate::actors::resolver::DependencyResolver;
use crate::actors::slots::SlotAllocator;
use crate::actors::BoardView;
use crate::board::{Board, Rebuilt};
use crate::clock::Clock;
use crate::config::Settings;
use crate::core::slots::RecoveryIssue;
use crate::descriptors::{ConnectionCap, Role};
use crate::dispatcher::{Dispatcher, DispatcherConfig, StopDispatcher, WatchPasses};
use crate::error::Error;
use crate::model::TaskStatus;
use crate::store::{Store, WriteBatch};

/// A running baton: actors, store and the typed in-process API ([`Board`]).
#[derive(Clone)]
pub struct Runtime {
    board: Board,
    auth: Arc<crate::auth::Auth>,
    mcp: Option<crate::mcp::McpService>,
    dispatcher: Option<Addr<Dispatcher>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

/// `HttpServer::new(factory)` with the socket options baton's routes need —
/// the one place `baton serve` sets them; embedders building their own
/// `HttpServer` must set the same:
///
/// - **`tcp_nodelay(true)`** (`TCP_NODELAY` on every accepted connection).
///   `/mcp` answers a request as a stream (`text/event-stream`): the headers
///   and each event are separate small writes. With Nagle's algorithm on (the
///   OS default), every write after the first waits for the client's ACK of
///   the previous one, and clients delay that ACK (40 ms on Linux) — so each
///   MCP call over a kept-alive connection took 40–45 ms from Node clients
///   (the official TypeScript SDK, Claude Code) instead of about a
///   millisecond. Plain JSON responses (one write) are not affected, which is
///   why REST calls looked fast.
///
/// Everything else (workers, bind, shutdown timeout) is left to the caller;
/// the cap on open connections (without which slow clients can take every
/// file descriptor) comes with [`Runtime::http_server`] or
/// [`capped_http_server`].
pub fn http_server<F, I, S, B>(factory: F) -> actix_web::HttpServer<F, I, S, B>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: actix_web::dev::ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig>
        + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_web::dev::Response<B>> + 'static,
    <S::Service as actix_web::dev::Service<actix_http::Request>>::Future: 'static,
    S::Service: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    actix_web::HttpServer::new(factory).tcp_nodelay(true)
}

/// The pool's [`NameLedger`](crate::pool::NameLedger): gateway names kept in
/// the store's `g/` key space through its commit path (on PostgreSQL only
/// the leader runs a runtime, and a deposed leader's store refuses writes).
struct StoreNames(Store);

impl crate::pool::NameLedger for StoreNames {
    fn save(
        &self,
        change: crate::pool::NameChange,
    ) -> futures_util::future::BoxFuture<'static, Result<(), crate::pool::NamesNotSaved>> {
        let store = self.0.clone();
        Box::pin(async move {
            let not_saved = |e: crate::store::StoreError| crate::pool::NamesNotSaved(e.to_string());
            let mut batch = WriteBatch::new();
            for n in &change.remove {
                batch.remove_gateway_name(n.kind, &n.name);
            }
            for n in &change.put {
                batch.put_gateway_name(n);
            }
            let ticket = store.commit(batch).map_err(not_saved)?;
            store.wait_durable(ticket).await.map_err(not_saved)
        })
    }
}

/// [`http_server`]`(factory)` with `cap`'s workers and per-worker
/// connection cap (`HttpServer::max_connections` counts each worker's
/// connections apart); logs the cap, and warns when a configured one
/// exceeds what the descriptor limit leaves room for.
pub fn capped_http_server<F, I, S, B>(
    factory: F,
    cap: &ConnectionCap,
) -> actix_web::HttpServer<F, I, S, B>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: actix_web::dev::ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig>
        + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_web::dev::Response<B>> + 'static,
    <S::Service as actix_web::dev::Service<actix_http::Request>>::Future: 'static,
    S::Service: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    if cap.exceeds_limit() {
        tracing::warn!(
            max_connections = cap.total,
            nofile = cap.limit,
            reserve = cap.reserve,
            "[server] max_connections leaves fewer descriptors than the reserve: connections \
             beyond the limit fail with \"Too many open files\"; lower it or raise the limit"
        );
    }
    tracing::info!(
        max_connections = cap.total,
        per_worker = cap.per_worker,
        workers = cap.workers,
        nofile = cap.limit,
        reserve = cap.reserve,
        configured = cap.configured,
        "connection cap"
    );
    http_server(factory)
        .workers(cap.workers)
        .max_connections(cap.per_worker)
}

impl Runtime {
    /// Open the store in `settings.storage.data_dir`, rebuild every actor's
    /// state from it and start the actors on the current actix arbiter.
    /// Call once, inside an actix system, outside `HttpServer::new`.
    pub async fn start(settings: Settings) -> Result<Self, Error> {
        Self::start_with_clock(settings, Clock::system()).await
    }

    /// [`Runtime::start`] with the given clock: every lease, slot expiry and
    /// audit timestamp reads its time from `clock` (a [`Clock::manual`] lets
    /// tests step time past an expiry instead of sleeping).
    pub async fn start_with_clock(settings: Settings, clock: Clock) -> Result<Self, Error> {
        Self::start_inner(settings, clock, crate::store::LOCK_WAIT).await
    }

    /// [`Runtime::start`] for a follower taking a vacant leadership over
    /// (see [`crate::store::leader`]): on PostgreSQL one attempt, no waiting, so a
    /// follower that lost the election to another goes back to following
    /// at once (the error is [`crate::store::StoreError::Led`]).
    pub async fn start_takeover(settings: Settings) -> Result<Self, Error> {
        Self::start_inner(settings, Clock::system(), std::time::Duration::ZERO).await
    }

    async fn start_inner(
        settings: Settings,
        clock: Clock,
        wait: std::time::Duration,
    ) -> Result<Self, Error> {
        settings.validate()?;
        let settings = Arc::new(settings);
        // the server file first: an unusable one fails before anything is opened or started
        let servers = crate::pool::ServerSet::load(&settings.pool, None)?;
        let storage = settings.storage.clone();
        // on PostgreSQL this node takes the database's leadership (crate::store::leader)
        let advertise = if settings.server.advertise_url.is_empty() {
            format!("http://{}", settings.server.bind)
        } else {
            settings.server.advertise_url.clone()
        };
        let mut candidate =
            crate::store::leader::Candidate::node(&advertise, settings.ha.failover_timeout());
        candidate.wait = wait;
        let store = tokio::task::spawn_blocking(move || Store::open_as(&storage, &candidate))
            .await
            .map_err(|_| Error::Unavailable("the store opener"))??;

        // ---- rebuild: tasks, DAG, slots ---------------------------------
        let operations = store.load_operations()?;
        let requests = store.load_requests()?;
        let now = clock.now();
        let Rebuilt {
            table,
            graph,
            unblocked,
            unblocked_count,
            slots,
            slot_issues,
            in_held_slot,
            reservations,
            dropped_reservations: dropped,
        } = Rebuilt::from_store(&store, &settings, now)?;
        store.fix_task_count(table.len() as u64).await?;
        if unblocked_count > 0 {
            tracing::warn!(
                count = unblocked_count,
                "recovered blocked tasks whose dependencies are done"
            );
        }
        if !unblocked.changed.is_empty() {
            let mut batch = WriteBatch::new();
            for id in &unblocked.changed {
                if let Some(t) = table.get(id) {
                    batch.put_task(t);
                }
            }
            for ev in unblocked.events {
                batch.put_event(ev, None);
            }
            let ticket = store.commit(batch)?;
            store.wait_durable(ticket).await?;
        }
        for issue in slot_issues {
            match issue {
                RecoveryIssue::HoldOutOfRange { slot, worker } => {
                    tracing::warn!(slot, worker = %worker, "dropping explicit slot claim outside the configured slots")
                }
                RecoveryIssue::LeaseWithoutSlot { task, slot } => {
                    tracing::warn!(task = %task, slot, "running task's slot is outside the configured slots or taken; it keeps running")
                }
            }
        }
        let compat_ttl_ms = settings.leases.compat_ttl_secs.saturating_mul(1000);
        tracing::info!(
            tasks = table.len(),
            running = table.counts()[TaskStatus::Running.index()],
            slots = settings.slots.count,
            "board recovered"
        );

        // ---- actors ------------------------------------------------------
        let view = Arc::new(BoardView::new(settings.slots.count));
        let metrics = Arc::new(Metrics::default());
        let resolver = DependencyResolver::new(graph).start();
        let slot_addr = SlotAllocator::new(
            slots,
            store.clone(),
            compat_ttl_ms,
            std::time::Duration::from_millis(settings.leases.sweep_interval_ms),
            view.slots_busy_cell(),
            clock.clone(),
        )
        .with_adopt_within(settings.slots.adopt_within_secs.saturating_mul(1000))
        .with_requests(requests.clone())
        .start();
        let registry = TaskRegistry::new(
            table,
            store.clone(),
            resolver.clone(),
            slot_addr.clone(),
            view.clone(),
            metrics.clone(),
            settings.clone(),
            clock.clone(),
        )
        .with_operations(operations)
        .with_held_slots(in_held_slot)
        .with_requests(requests)
        .with_reservations(reservations);
        // path reservations: a lease-bound one lives only with its lease
        if !dropped.is_empty() {
            tracing::warn!(
                count = dropped.len(),
                "dropping stored reservations whose lease is not live"
            );
            let mut batch = WriteBatch::new();
            for id in &dropped {
                batch.remove_reservation(id);
            }
            let ticket = store.commit(batch)?;
            store.wait_durable(ticket).await?;
        }
        let registry = registry.start();
        let mailbox = crate::actors::mailbox::Mailbox::new(
            store.meta(crate::store::MESSAGE_CEILING_META)?,
            store.load_messages()?,
            store.load_receipts()?,
            store.clone(),
            registry.clone(),
            settings.clone(),
            clock.clone(),
        )
        .start();
        let collector = MetricsCollector::new(metrics.clone(), view.clone(), store.clone()).start();
        // downstream MCP servers: invalid entries are logged by name, the rest start;
        // the gateway names handed out before keep their meaning (invariant 8)
        let remembered = crate::pool::RememberedNames {
            names: store.load_gateway_names()?,
            ledger: Arc::new(StoreNames(store.clone())),
        };
        let pool =
            crate::pool::McpPool::start_remembering(servers, clock.clone(), Some(remembered));
        // reloads (the watcher, SIGHUP, POST /api/v1/servers/reload) read the same file
        pool.reload_from(&settings.pool, None);
        pool.watch();
        let board = Board::new(
            registry,
            resolver,
            slot_addr,
            collector,
            store,
            view,
            metrics,
            settings.clone(),
            clock,
        )
        .with_pool(pool.clone())
        .with_mailbox(mailbox);
        // executor tasks need a server to run on: no servers (and no file a
        // reload could bring some from), no dispatcher
        let reloadable = !settings.pool.mcp_servers.as_os_str().is_empty();
        let dispatcher = (reloadable || !pool.servers().is_empty()).then(|| {
            Dispatcher::new(
                board.clone(),
                pool,
                DispatcherConfig {
                    worker: "baton-dispatcher".to_owned(),
                    max_in_flight: usize::try_from(settings.slots.count).unwrap_or(usize::MAX),
                    heartbeat_every: std::time::Duration::from_millis(
                        settings.leases.ttl_secs.saturating_mul(1000) / 3,
                    )
                    .max(std::time::Duration::from_millis(100)),
                },
            )
            .start()
        });
        let auth = Arc::new(crate::auth::Auth::new(&settings, board.store().clone())?);
        if auth.required() && auth.tokens().is_empty() && !settings.auth.jwt.enabled() {
            tracing::warn!(
                "auth.required is true but no access token exists: every request will get 401; \
                 create one with `baton token create --name NAME --role admin --data-dir DIR`"
            );
        }
        let mcp = settings
            .mcp
            .enabled
            .then(|| crate::mcp::service(board.clone(), &settings.mcp));
        Ok(Self {
            board,
            auth,
            mcp,
            dispatcher,
        })
    }

    /// The cap on open HTTP connections for a server of this runtime:
    /// `[server] max_connections`, or derived from the soft `RLIMIT_NOFILE`
    /// with room kept for the store, the workers and each configured
    /// downstream server (see [`ConnectionCap`] for the formula).
    pub fn connection_cap(&self) -> ConnectionCap {
        let settings = self.board.settings();
        let servers = self.board.pool().map_or(0, |p| p.servers().len());
        ConnectionCap::for_process(&settings.server, &settings.storage, servers, Role::Serving)
    }

    /// [`http_server`]`(factory)` with this runtime's limits: `[server]
    /// workers` (0: one per core) and [`Runtime::connection_cap`]'s
    /// per-worker cap. What an embedder uses to get the same protection as
    /// `baton serve`; set the worker count through `[server] workers`, not
    /// on the returned server (the cap is divided among them).
    pub fn http_server<F, I, S, B>(&self, factory: F) -> actix_web::HttpServer<F, I, S, B>
    where
        F: Fn() -> I + Send + Clone + 'static,
        I: actix_service::IntoServiceFactory<S, actix_http::Request>,
        S: actix_web::dev::ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig>
            + 'static,
        S::Error: Into<actix_web::Error> + 'static,
        S::InitError: std::fmt::Debug,
        S::Response: Into<actix_web::dev::Response<B>> + 'static,
        <S::Service as actix_web::dev::Service<actix_http::Request>>::Future: 'static,
        S::Service: 'static,
        B: actix_web::body::MessageBody + 'static,
    {
        capped_http_server(factory, &self.connection_cap())
    }

    /// The typed in-process API.
    pub fn board(&self) -> &Board {
        &self.board
    }

    /// Settings in force.
    pub fn settings(&self) -> &Settings {
        self.board.settings()
    }

    /// Authentication state: tokens, JWT, rate limits, stream tickets.
    pub fn auth(&self) -> &Arc<crate::auth::Auth> {
        &self.auth
    }

    /// Mount baton's routes (`/mcp`, `/api/v1`, the agent-coordinate-mcp routes under
    /// `/api`, the dashboard, `/metrics`, `/healthz`, `/readyz`) into an `App` or scope:
    /// `App::new().configure(runtime.configure())`. Every one of them is behind baton's
    /// guard (`Host`/`Origin` allow-lists, JSON bodies, bearer tokens and roles: see
    /// [`crate::auth`]); routes the embedder registers beside them are left alone.
    /// A wrong method on one of baton's routes is 405 with `Allow`, and an
    /// unknown path under baton's own prefixes (`/api/v1`, `/mcp`, see
    /// [`crate::api::routes::OWNED_PREFIXES`]) is a JSON 404; any other
    /// unmatched path (`/api/users`, `/nope`) reaches the embedder's routes
    /// and default service.
    pub fn configure(&self) -> impl Fn(&mut actix_web::web::ServiceConfig) + Clone + 'static {
        use crate::api::deadline::BodyDeadline;
        use crate::auth::guard::{authorize_check, edge_check};
        use actix_web::middleware::from_fn;
        let board = self.board.clone();
        let mcp = self.mcp.clone();
        let auth = actix_web::web::Data::from(self.auth.clone());
        // a body slower than [server] body_read_timeout_secs: 408, on every route
        let deadline = BodyDeadline::secs(self.board.settings().server.body_read_timeout_secs);
        move |cfg| {
            if let Some(mcp) = &mcp {
                cfg.service(
                    mcp.resource()
                        .guard(crate::api::routes::mcp_guard())
                        .app_data(auth.clone())
                        .wrap(from_fn(|req, next| {
                            authorize_check(crate::auth::Access::Mcp, req, next)
                        }))
                        .wrap(from_fn(edge_check))
                        .wrap(deadline),
                );
            }
            // other methods on /mcp: 405 with Allow; paths below /mcp/: 404
            crate::api::routes::mcp_fallbacks(cfg, mcp.is_some(), deadline);
            crate::api::configure(cfg, board.clone(), auth.clone());
        }
    }

    /// Begin a shutdown at the edge: end every long-lived response — the SSE
    /// event streams of `/api/v1/events` and every MCP session on `/mcp`
    /// with its streams (a client that comes back later gets 404 for its old
    /// session and initializes again). Call it when the HTTP server starts
    /// its graceful stop (`baton serve` does, on `SIGTERM`/`SIGINT`): a
    /// graceful stop waits for open connections, and a session whose client
    /// left without `DELETE /mcp` (the TypeScript SDK's `close()` sends
    /// none) or a subscribed dashboard would otherwise hold it for the whole
    /// `shutdown_timeout_secs`. Requests already in flight still finish.
    /// Idempotent; [`Runtime::shutdown`] calls it too.
    pub fn close_streams(&self) {
        if !self.board.closing().is_cancelled() {
            tracing::info!("shutdown begun: ending SSE streams and MCP sessions");
            self.board.closing().cancel();
        }
    }

    /// The executor dispatcher's completed passes (see
    /// [`WatchPasses`]): a count a test awaits to know the dispatcher looked
    /// at the board again. `None` without a dispatcher (no downstream server)
    /// or once it has stopped.
    pub async fn dispatcher_passes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.dispatcher.as_ref()?.send(WatchPasses).await.ok()
    }

    /// Commit everything queued and close the store (a clean close: the next
    /// start needs no repair pass). Later reads and writes fail with
    /// `unavailable`. Idempotent.
    pub async fn shutdown(&self) -> Result<(), Error> {
        self.close_streams();
        // no new downstream calls, then every child process group is terminated
        if let Some(d) = &self.dispatcher {
            let _ = d.send(StopDispatcher).await;
        }
        if let Some(pool) = self.board.pool() {
            pool.clone().shutdown().await;
        }
        let store = self.board.store().clone();
        tokio::task::spawn_blocking(move || store.close())
            .await
            .map_err(|_| Error::Unavailable("the store closer"))??;
        tracing::info!("baton runtime shut down; store flushed");
        Ok(())
    }
}
