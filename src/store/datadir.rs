//! A data directory and the embedded engine it holds.
//!
//! **The directory records its engine** in `baton.engine` (one line: `redb`,
//! `sled` or `fjall`), written (and synced) when the directory's board is
//! created. A directory without the record is from before it: it holds redb
//! when `baton.redb` is there, else it is new. Whatever `[storage] backend`
//! says, a directory that holds a board opens with the engine it records, so
//! a board keeps working when the configured (or default) engine changes; a
//! configured engine that differs is logged, with the way to move a board
//! (`baton backup` from the running server, `baton restore` into a new
//! directory). `backend` chooses the engine of a new directory.
//!
//! **One store per directory**: the record file is locked (an exclusive
//! `flock`, through `std::fs::File::try_lock`) for as long as the store is
//! open, on every embedded engine; another process, or a store of this one
//! still shutting down, waits up to [`LOCK_WAIT`](super::LOCK_WAIT) and then
//! gets [`StoreError::Locked`].
//!
//! | engine | files in the data directory |
//! |---|---|
//! | redb | `baton.redb` |
//! | sled | `baton.sled/` (sled's `conf`, `db`, `blobs/`, `snap.*`) |
//! | fjall | `baton.fjall/` (journals, tables, manifest) |

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::engine::redb::{RedbEngine, DB_FILE};
use super::engine::{Engine, Snapshot, TxError};
use super::error::StoreError;
use crate::config::StorageBackend;

/// The record of the directory's engine.
pub const ENGINE_FILE: &str = "baton.engine";

/// The name an engine is recorded under.
fn name(engine: StorageBackend) -> &'static str {
    match engine {
        StorageBackend::Redb => "redb",
        StorageBackend::Sled => "sled",
        StorageBackend::Fjall => "fjall",
        StorageBackend::Postgres => "postgres",
    }
}

/// Which embedded engine the board in `dir` uses: its record, else redb
/// when `baton.redb` is there (a directory from before the record), else
/// `None` (no board yet). Reads nothing but the record; no lock is taken.
///
/// Errors: [`StoreError::Open`] when the record cannot be read or names
/// no embedded engine.
pub fn recorded_engine(dir: &Path) -> Result<Option<StorageBackend>, StoreError> {
    match std::fs::read_to_string(dir.join(ENGINE_FILE)) {
        Ok(text) if !text.trim().is_empty() => parse(dir, &text).map(Some),
        Ok(_) => Ok(legacy(dir)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(legacy(dir)),
        Err(e) => Err(open_error(dir, e)),
    }
}

/// A directory without a record: redb if it holds `baton.redb`.
fn legacy(dir: &Path) -> Option<StorageBackend> {
    dir.join(DB_FILE).is_file().then_some(StorageBackend::Redb)
}

fn parse(dir: &Path, text: &str) -> Result<StorageBackend, StoreError> {
    match text.trim() {
        "redb" => Ok(StorageBackend::Redb),
        "sled" => Ok(StorageBackend::Sled),
        "fjall" => Ok(StorageBackend::Fjall),
        other => Err(open_error(
            dir,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{ENGINE_FILE} names no embedded engine: {other:?}"),
            ),
        )),
    }
}

fn open_error(dir: &Path, e: std::io::Error) -> StoreError {
    StoreError::Open {
        path: dir.to_path_buf(),
        source: Box::new(e),
    }
}

/// An engine together with the lock on its directory's record, released
/// after the engine closed.
struct Locked {
    engine: Box<dyn Engine>,
    _lock: File,
}

impl Engine for Locked {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.engine.snapshot()
    }

    fn transact(
        &self,
        apply: &mut dyn FnMut(&mut dyn super::engine::KvWrite) -> Result<(), StoreError>,
        before_commit: &mut dyn FnMut() -> Result<(), StoreError>,
    ) -> Result<(), TxError> {
        self.engine.transact(apply, before_commit)
    }
}

/// Open the board in `dir` (created if missing) with the engine it
/// records, or with `wanted` when it holds none yet (recording it), with a
/// cache of `cache_bytes`; waits up to `lock_wait` for the directory's
/// lock. Returns the engine and which one it is.
///
/// Errors: [`StoreError::Locked`] when the lock stays held;
/// [`StoreError::Open`] when the directory, its record or the engine's
/// files cannot be opened, or the engine was left out of this build.
pub(super) fn open(
    dir: &Path,
    cache_bytes: u64,
    wanted: StorageBackend,
    lock_wait: Duration,
) -> Result<(Arc<dyn Engine>, StorageBackend), StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| open_error(dir, e))?;
    let mut record = lock(dir, lock_wait)?;
    let mut text = String::new();
    record
        .read_to_string(&mut text)
        .map_err(|e| open_error(dir, e))?;
    let engine = if text.trim().is_empty() {
        let engine = legacy(dir).unwrap_or(wanted);
        write_record(dir, &mut record, engine)?;
        engine
    } else {
        parse(dir, &text)?
    };
    if engine != wanted {
        tracing::warn!(
            dir = %dir.display(),
            holds = name(engine),
            configured = name(wanted),
            "the data directory holds a {} board and opens with that engine; [storage] backend \
             applies to new directories (move a board with `baton backup`, then `baton restore` \
             into an empty directory with the other backend)",
            name(engine)
        );
    }
    let opened: Box<dyn Engine> = match engine {
        StorageBackend::Redb => Box::new(RedbEngine::open(dir, cache_bytes, lock_wait)?),
        #[cfg(feature = "sled")]
        StorageBackend::Sled => Box::new(super::engine::sled::SledEngine::open(dir, cache_bytes)?),
        #[cfg(not(feature = "sled"))]
        StorageBackend::Sled => {
            return Err(open_error(
                dir,
                std::io::Error::other("this baton was built without the `sled` feature"),
            ))
        }
        StorageBackend::Fjall => {
            Box::new(super::engine::fjall::FjallEngine::open(dir, cache_bytes)?)
        }
        StorageBackend::Postgres => {
            return Err(open_error(
                dir,
                std::io::Error::other("postgres is not an embedded engine"),
            ))
        }
    };
    Ok((
        Arc::new(Locked {
            engine: opened,
            _lock: record,
        }),
        engine,
    ))
}

/// Open (creating) and lock `dir`'s record, waiting up to `wait`.
fn lock(dir: &Path, wait: Duration) -> Result<File, StoreError> {
    let path = dir.join(ENGINE_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| open_error(dir, e))?;
    let deadline = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: dir.to_path_buf(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(open_error(dir, e)),
        }
    }
}

/// Record `engine` in the (locked, empty) record file and sync it and the
/// directory, so a board is never found without its record after a crash.
fn write_record(dir: &Path, record: &mut File, engine: StorageBackend) -> Result<(), StoreError> {
    let write = |record: &mut File| -> std::io::Result<()> {
        record.set_len(0)?;
        record.rewind()?;
        record.write_all(format!("{}\n", name(engine)).as_bytes())?;
        record.sync_all()?;
        File::open(dir)?.sync_all()
    };
    write(record).map_err(|e| open_error(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new directory records the engine asked for; a directory with a
    /// board opens with its own engine whatever is asked; a directory of
    /// redb from before the record is redb.
    #[test]
    fn a_directory_opens_with_the_engine_it_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (db, engine) =
            open(dir.path(), 1 << 20, StorageBackend::Fjall, Duration::ZERO).expect("open");
        assert_eq!(engine, StorageBackend::Fjall);
        drop(db);
        assert_eq!(
            recorded_engine(dir.path()).expect("record"),
            Some(StorageBackend::Fjall)
        );
        let (db, engine) =
            open(dir.path(), 1 << 20, StorageBackend::Redb, Duration::ZERO).expect("reopen");
        assert_eq!(engine, StorageBackend::Fjall, "the record wins");
        // one store per directory
        let again = open(
            dir.path(),
            1 << 20,
            StorageBackend::Fjall,
            Duration::from_millis(50),
        );
        assert!(matches!(again, Err(StoreError::Locked { .. })));
        drop(db);

        let old = tempfile::tempdir().expect("tempdir");
        drop(RedbEngine::open(old.path(), 1 << 20, Duration::ZERO).expect("redb"));
        assert_eq!(
            recorded_engine(old.path()).expect("no record"),
            Some(StorageBackend::Redb)
        );
        let (_, engine) =
            open(old.path(), 1 << 20, StorageBackend::Fjall, Duration::ZERO).expect("open");
        assert_eq!(engine, StorageBackend::Redb, "baton.redb without a record");

        std::fs::write(old.path().join(ENGINE_FILE), "bolt\n").expect("write");
        assert!(recorded_engine(old.path()).is_err());
    }
}
