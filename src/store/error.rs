//! [`StoreError`], the one error type of the storage layer, and
//! [`LOCK_WAIT`], the bound its [`StoreError::Locked`] names. The ground
//! floor of `store/`: every other room of the store returns it, and it
//! imports none of them.

use std::path::PathBuf;
use std::time::Duration;

/// How long [`Store::open`](super::Store::open) waits for the data directory's lock. A store
/// of this process that is still shutting down (an embedder restarting its
/// runtime, a test) releases it once its last handle is dropped, which may
/// take a moment; another live process still gets a clear
/// [`StoreError::Locked`] after this bound.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage engine (redb) reported an I/O or corruption error.
    #[error("storage error: {0}")]
    Engine(#[from] redb::Error),
    /// Copying a data directory of an older baton (sled) into the current
    /// store failed. Nothing was lost: the sled files are untouched, and the
    /// copy starts over on the next start.
    #[error("cannot migrate the sled data in {path}: {reason}")]
    Migration {
        /// Directory.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A stored value could not be decoded (or, writing a backup, encoded
    /// again: see `Store::export`).
    #[error("corrupt value under {key}: {reason}")]
    Corrupt {
        /// Key (lossy UTF-8).
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// A write to the disk failed earlier (or the committer died, or a
    /// commit hung longer than [`COMMIT_TIMEOUT`](super::COMMIT_TIMEOUT)); the store refuses every
    /// write until baton is restarted. The text says what failed.
    #[error("the store failed and refuses writes until restart ({0})")]
    FlushFailed(String),
    /// The store failed while this write was being made durable: its batch
    /// was being committed, and the commit that failed may have reached the
    /// disk before failing (a failed flush says nothing about what did reach
    /// the disk). After a restart it may or may not be there: read it back
    /// before retrying. The text says what failed.
    #[error("the store failed while this write was being made durable ({0}); it may or may not be on disk after a restart: read it back before retrying")]
    OutcomeUnknown(String),
    /// The store was closed (runtime shut down).
    #[error("the store is closed")]
    Closed,
    /// The PostgreSQL engine failed: the server cannot be reached, a
    /// statement or the schema migration failed. The text says which.
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// Another node took the leadership of the PostgreSQL database over
    /// (see [`leader`](super::leader)): this node's writes are refused from now on.
    #[error("this node no longer leads its database: another node took over (this node's epoch was {epoch}); its writes are refused")]
    Deposed {
        /// The epoch this node led.
        epoch: i64,
    },
    /// Another node leads the PostgreSQL database (its lease is live).
    #[error("another baton leads this database ({holder}); stop it first, or run this node as its follower")]
    Led {
        /// The leader's name (its advertised URL, or the offline command).
        holder: String,
    },
    /// The operating system refused a thread the store needs (start-up's
    /// record decoder).
    #[error("cannot start a storage thread: {0}")]
    Thread(std::io::Error),
    /// Another process (or a store of this process that is still shutting
    /// down) holds the data directory's lock for longer than [`LOCK_WAIT`].
    #[error("data directory {path} is in use by another process (its lock was not released within {} s)", LOCK_WAIT.as_secs())]
    Locked {
        /// Directory.
        path: PathBuf,
    },
    /// The data directory could not be opened.
    #[error("cannot open data directory {path}: {source}")]
    Open {
        /// Directory.
        path: PathBuf,
        /// Cause.
        source: redb::Error,
    },
}

impl crate::error_code::ServiceError for StoreError {
    /// `unavailable` once closed; `storage_unavailable` when a write could
    /// not be made durable or the store cannot be reached (the disk, the
    /// database, the leadership); `storage_error` for corrupt values and
    /// engine bugs.
    fn error_code(&self) -> crate::error_code::ErrorCode {
        use crate::error_code::ErrorCode;
        match self {
            StoreError::Closed => ErrorCode::Unavailable,
            StoreError::FlushFailed(_)
            | StoreError::OutcomeUnknown(_)
            | StoreError::Open { .. }
            | StoreError::Thread(_)
            | StoreError::Postgres(_)
            | StoreError::Deposed { .. }
            | StoreError::Led { .. }
            | StoreError::Locked { .. }
            | StoreError::Engine(redb::Error::Io(_))
            | StoreError::Migration { .. } => ErrorCode::StorageUnavailable,
            _ => ErrorCode::StorageError,
        }
    }
}
