//! `[storage]` (which engine holds the board, and where) and `[retention]`
//! (how long finished work is kept in it).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[storage]`: which engine holds the board, where (a data directory or a PostgreSQL
/// URL), and its cache or pool size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// Which engine holds the board: `redb` (embedded, in `data_dir`; the
    /// default) or `postgres` (the database at `url`).
    pub backend: StorageBackend,
    /// Data directory (the redb store is `baton.redb` in it; created if missing).
    pub data_dir: PathBuf,
    /// The redb store's page cache, in MiB (bounds the engine's memory).
    pub cache_mb: u64,
    /// With `backend = "postgres"`: the database,
    /// `postgres://user:password@host:port/database` (also
    /// `BATON_STORAGE__URL`). baton creates and migrates its own table.
    pub url: String,
    /// With `backend = "postgres"`: connections in the readers' pool (at
    /// least 1; the committer has one connection of its own, and one more
    /// session keeps the leadership's lease, see [`crate::store::leader`]).
    pub pool_size: u32,
}

/// The engine `[storage] backend` names: `redb` (the default) or `postgres`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// redb in `data_dir`: one file, nothing else to run.
    #[default]
    Redb,
    /// PostgreSQL at `url`.
    Postgres,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Redb,
            data_dir: PathBuf::from("./data"),
            cache_mb: 128,
            url: String::new(),
            pool_size: 8,
        }
    }
}

/// `[retention]`: how long finished work is kept. A background pass in the
/// task registry deletes, every `interval_ms`, at most `batch` terminal
/// tasks (done, failed, cancelled) that ended more than `keep_terminal_secs`
/// ago — each with its audit events, context values and lease-history
/// entries — and only once no remaining task depends on them (a chain goes
/// from its last task backwards, so no task ever points at a missing
/// dependency). It also prunes up to `batch` audit events older than
/// `keep_events_secs` that belong to no live task (slot events, and events
/// of done or cancelled tasks kept longer; a failed task can be reset, so
/// its events stay). `0` keeps forever.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Seconds a terminal task is kept after it ended (default 7 days;
    /// `0`: forever).
    pub keep_terminal_secs: u64,
    /// Seconds an audit event that belongs to no live task is kept (default
    /// 7 days; `0`: until its task is deleted).
    pub keep_events_secs: u64,
    /// Milliseconds between retention passes (default one minute).
    pub interval_ms: u64,
    /// Most tasks deleted, and most events examined, per pass (default 1000):
    /// a pass is one bounded commit, never a stop-the-world sweep.
    pub batch: usize,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            keep_terminal_secs: 7 * 24 * 3600,
            keep_events_secs: 7 * 24 * 3600,
            interval_ms: 60_000,
            batch: 1000,
        }
    }
}
