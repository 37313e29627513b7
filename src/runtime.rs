//! `Runtime`: opens the store, rebuilds the board from it, starts the actors,
//! and mounts the HTTP surface into any actix-web `App`.
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = baton::Runtime::start(baton::Settings::default()).await?;
//! let mount = runtime.configure();
//! HttpServer::new(move || {
//!     App::new()
//!         .configure(mount.clone())
//!         .route("/hello", web::get().to(|| async { "embedder's own route" }))
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await?;
//! runtime.shutdown().await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use actix::prelude::*;

use crate::actors::dispatcher::{Dispatcher, DispatcherConfig, StopDispatcher};
use crate::actors::metrics::{Metrics, MetricsCollector};
use crate::actors::registry::TaskRegistry;
use crate::actors::resolver::DependencyResolver;
use crate::actors::slots::SlotAllocator;
use crate::actors::BoardView;
use crate::board::Board;
use crate::config::Settings;
use crate::core::graph::{DependencyGraph, NodeState, Readiness};
use crate::core::slots::{Holder, SlotTable};
use crate::core::table::{Effects, TaskTable};
use crate::error::Error;
use crate::model::{now_ms, TaskId, TaskStatus};
use crate::store::{Store, WriteBatch};

/// A running baton: actors, store and the typed in-process API ([`Board`]).
#[derive(Clone)]
pub struct Runtime {
    board: Board,
    mcp: Option<crate::mcp::McpService>,
    dispatcher: Option<Addr<Dispatcher>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

fn node_state(s: TaskStatus) -> NodeState {
    match s {
        TaskStatus::Done => NodeState::Done,
        TaskStatus::Failed => NodeState::Failed,
        TaskStatus::Cancelled => NodeState::Cancelled,
        _ => NodeState::Pending,
    }
}

impl Runtime {
    /// Open the store in `settings.storage.data_dir`, rebuild every actor's
    /// state from it and start the actors on the current actix arbiter.
    /// Call once, inside an actix system, outside `HttpServer::new`.
    pub async fn start(settings: Settings) -> Result<Self, Error> {
        settings.validate()?;
        let settings = Arc::new(settings);
        // the server file first: an unusable one fails before anything is opened or started
        let servers = crate::pool::ServerSet::load(&settings.pool, None)?;
        let dir = settings.storage.data_dir.clone();
        let cache = settings.storage.cache_mb.saturating_mul(1024 * 1024);
        let store = tokio::task::spawn_blocking(move || Store::open(&dir, cache))
            .await
            .map_err(|_| Error::Unavailable("the store opener"))??;

        // ---- rebuild: tasks, DAG, slots ---------------------------------
        let tasks = store.load_tasks()?;
        let operations = store.load_operations()?;
        let mut table = TaskTable::new(store.meta("lease_ceiling")?);
        let mut graph = DependencyGraph::new();
        for t in tasks {
            graph.restore(t.id.clone(), t.dependencies.clone(), node_state(t.status));
            table.restore(t);
        }
        graph.recount();
        let now = now_ms();
        let unblocked: Vec<TaskId> = table
            .iter()
            .filter(|t| {
                t.status == TaskStatus::Blocked && graph.readiness(&t.id) == Readiness::Ready
            })
            .map(|t| t.id.clone())
            .collect();
        if !unblocked.is_empty() {
            tracing::warn!(
                count = unblocked.len(),
                "recovered blocked tasks whose dependencies are done"
            );
            let mut fx = Effects::default();
            table.make_ready(&unblocked, now, &mut fx);
            let mut batch = WriteBatch::new();
            for id in &fx.changed {
                if let Some(t) = table.get(id) {
                    batch.put_task(t);
                }
            }
            for ev in fx.events {
                batch.put_event(ev, None);
            }
            let ticket = store.commit(batch)?;
            store.wait_durable(ticket).await?;
        }

        let compat_ttl_ms = settings.leases.compat_ttl_secs.saturating_mul(1000);
        let mut slots = SlotTable::new(settings.slots.count);
        for rec in store.load_slots()? {
            let ok = slots.restore(
                rec.slot,
                Holder {
                    worker: rec.worker.clone(),
                    task: None,
                    explicit: true,
                    since: rec.since,
                    expires_at: Some(rec.expires_at),
                },
            );
            if !ok {
                tracing::warn!(slot = rec.slot, worker = %rec.worker, "dropping explicit slot claim outside the configured slots");
            }
        }
        for t in table.running() {
            let Some(l) = &t.lease else { continue };
            let explicit = slots
                .holder(l.slot)
                .is_some_and(|h| h.explicit && (h.worker == l.worker || h.worker.is_empty()));
            let ok = if explicit {
                slots.bind(l.slot, &l.worker, t.id.clone()).is_ok()
            } else {
                slots.restore(
                    l.slot,
                    Holder {
                        worker: l.worker.clone(),
                        task: Some(t.id.clone()),
                        explicit: false,
                        since: l.claimed_at,
                        expires_at: None,
                    },
                )
            };
            if !ok {
                tracing::warn!(task = %t.id, slot = l.slot, "running task's slot is outside the configured slots or taken; it keeps running");
            }
        }
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
        let slot_addr =
            SlotAllocator::new(slots, store.clone(), compat_ttl_ms, view.slots_busy_cell()).start();
        let registry = TaskRegistry::new(
            table,
            store.clone(),
            resolver.clone(),
            slot_addr.clone(),
            view.clone(),
            metrics.clone(),
            settings.clone(),
        )
        .with_operations(operations)
        .start();
        let collector = MetricsCollector::new(metrics.clone(), view.clone(), store.clone()).start();
        // downstream MCP servers: invalid entries are logged by name, the rest start
        let pool = crate::pool::McpPool::start(servers);
        let board = Board::new(
            registry,
            resolver,
            slot_addr,
            collector,
            store,
            view,
            metrics,
            settings.clone(),
        )
        .with_pool(pool.clone());
        // executor tasks need a server to run on: no servers, no dispatcher
        let dispatcher = (!pool.servers().is_empty()).then(|| {
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
        let mcp = settings
            .mcp
            .enabled
            .then(|| crate::mcp::service(board.clone(), &settings.mcp));
        Ok(Self {
            board,
            mcp,
            dispatcher,
        })
    }

    /// The typed in-process API.
    pub fn board(&self) -> &Board {
        &self.board
    }

    /// Settings in force.
    pub fn settings(&self) -> &Settings {
        self.board.settings()
    }

    /// Mount baton's routes (`/mcp`, `/api/v1`, the agent-coordinate-mcp routes under
    /// `/api`, `/metrics`, `/healthz`, `/readyz`) into an `App` or scope:
    /// `App::new().configure(runtime.configure())`.
    pub fn configure(&self) -> impl Fn(&mut actix_web::web::ServiceConfig) + Clone + 'static {
        let board = self.board.clone();
        let mcp = self.mcp.clone();
        move |cfg| {
            if let Some(mcp) = &mcp {
                cfg.service(actix_web::web::scope("/mcp").service(mcp.clone().scope()));
            }
            crate::api::configure(cfg, board.clone());
        }
    }

    /// Flush everything to disk and close the store. Later writes fail with
    /// `unavailable`. Idempotent.
    pub async fn shutdown(&self) -> Result<(), Error> {
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
