//! The read-side views the pool's actors write and every
//! [`PoolHandle`](super::PoolHandle) reads without a mailbox hop: the route
//! table (server → actor, concurrency semaphore, state channel, options),
//! the breaker views, the gateway catalogs and their change announcements,
//! and what reloads need (the server file, the last outcome, the watcher).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use actix::Addr;
use dashmap::DashMap;
use tokio::sync::{broadcast, watch, Semaphore};

use super::catalog::{Catalog, PromptCatalog, PromptsChanged, ToolsChanged};
use super::error::ServerIssue;
use super::server::McpServer;
use super::settings::{PoolSettings, ServerOptions};
use super::spec::TransportKind;
use super::state::ServerState;
use super::status::ReloadStatus;
use super::watch::FileWatcher;
use crate::clock::Clock;
use crate::core::breaker::BreakerView;

/// Read side of one configured server (written once by the pool).
#[derive(Clone)]
pub(super) struct Route {
    /// Its transport.
    pub(super) kind: TransportKind,
    /// Its options, as configured.
    pub(super) options: Arc<ServerOptions>,
    /// `None` for a disabled server.
    pub(super) live: Option<LiveRoute>,
}

/// How to reach a running server.
#[derive(Clone)]
pub(super) struct LiveRoute {
    /// Its actor.
    pub(super) addr: Addr<McpServer>,
    /// `max_concurrent_calls` permits; a call holds one while it runs.
    pub(super) semaphore: Arc<Semaphore>,
    /// The semaphore's size (`max_concurrent_calls`).
    pub(super) limit: u32,
    /// Its state, as its actor publishes it.
    pub(super) state: watch::Receiver<ServerState>,
}

/// Views shared by the actors (writers) and every
/// [`PoolHandle`](super::PoolHandle) (readers).
pub(super) struct PoolShared {
    /// Every configured server by name (written by the pool at start and on
    /// each applied reload).
    pub(super) routes: DashMap<String, Route>,
    /// Each server actor writes only its own entry.
    pub(super) breakers: Arc<DashMap<String, BreakerView>>,
    catalog: RwLock<Arc<Catalog>>,
    /// Tool-list change announcements.
    pub(super) changes: broadcast::Sender<ToolsChanged>,
    prompt_catalog: RwLock<Arc<PromptCatalog>>,
    /// Prompt-list change announcements.
    pub(super) prompt_changes: broadcast::Sender<PromptsChanged>,
    /// Entries of the server file that were not started (replaced by each
    /// applied reload).
    issues: RwLock<Vec<ServerIssue>>,
    /// The runtime's clock: breakers are judged by its `now`, and the
    /// servers' and the retries' policy waits are its timers.
    pub(super) clock: Clock,
    /// Where reloads read the server file from, and the last reload.
    pub(super) reload: ReloadState,
}

/// What reloads need and leave behind: the `[pool]` settings and the path
/// they read (set when the pool is told its file), the outcome of the last
/// one, the lock that runs them one at a time, and the file watcher.
#[derive(Default)]
pub(super) struct ReloadState {
    /// `[pool]` settings and the server file (`None`: reloads are refused).
    pub(super) source: RwLock<Option<(PoolSettings, PathBuf)>>,
    /// The last reload's outcome.
    pub(super) status: RwLock<ReloadStatus>,
    /// Held by the reload in progress.
    pub(super) running: tokio::sync::Mutex<()>,
    /// The watcher of the server file, while one runs.
    pub(super) watcher: Mutex<Option<FileWatcher>>,
}

impl PoolShared {
    /// Empty views for a pool with these invalid entries, on `clock`.
    pub(super) fn new(issues: Vec<ServerIssue>, clock: Clock) -> Self {
        Self {
            routes: DashMap::new(),
            breakers: Arc::new(DashMap::new()),
            catalog: RwLock::new(Arc::new(Catalog::default())),
            changes: broadcast::channel(64).0,
            prompt_catalog: RwLock::new(Arc::new(PromptCatalog::default())),
            prompt_changes: broadcast::channel(64).0,
            issues: RwLock::new(issues),
            clock,
            reload: ReloadState::default(),
        }
    }

    /// The entries of the server file that were not started.
    pub(super) fn issues(&self) -> Vec<ServerIssue> {
        self.issues
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replace the invalid entries (the pool, on an applied reload).
    pub(super) fn set_issues(&self, issues: Vec<ServerIssue>) {
        *self.issues.write().unwrap_or_else(PoisonError::into_inner) = issues;
    }

    /// The current tool catalog.
    pub(super) fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replace the tool catalog (the pool, after a tool-list change).
    pub(super) fn set_catalog(&self, catalog: Catalog) {
        *self.catalog.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(catalog);
    }

    /// The current prompt catalog.
    pub(super) fn prompt_catalog(&self) -> Arc<PromptCatalog> {
        self.prompt_catalog
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replace the prompt catalog (the pool, after a prompt-list change).
    pub(super) fn set_prompt_catalog(&self, catalog: PromptCatalog) {
        *self
            .prompt_catalog
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(catalog);
    }
}
