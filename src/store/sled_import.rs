//! The one-time import of an older baton's data directory.
//!
//! **Data directories of older versions** (sled 0.34 at the top of the data
//! directory, before redb became the default) are copied once by
//! [`Store::open`](super::Store::open) into the board of the engine the
//! directory now holds (redb unless another was chosen); the sled files are
//! left as they were (see [`migrate_from_sled`]). The `sled` engine of
//! today keeps its files in `baton.sled/` instead, which this never reads.
//! A build without the `sled` feature refuses such a directory.

use std::path::Path;

use super::engine::Engine;
#[cfg(feature = "sled")]
use super::engine::TxError;
use super::error::StoreError;
use super::keys::read_meta;
#[cfg(feature = "sled")]
use super::keys::{key, META};

/// Whether `dir` holds the files of a sled store (baton before redb).
fn has_sled_files(dir: &Path) -> bool {
    dir.join("conf").is_file() && dir.join("db").is_file()
}

/// `m/` flag: the sled data of this directory was copied completely.
pub(super) const SLED_MIGRATED_META: &str = "migrated_from_sled";

/// Keys copied per write transaction while migrating.
#[cfg(feature = "sled")]
const MIGRATION_CHUNK: usize = 50_000;

/// Copy the sled store a baton before redb left in `dir` into `db`, once:
/// every key of sled's `board` tree as is (the key layout and value format
/// did not change), in transactions of [`MIGRATION_CHUNK`] keys, the last
/// one also setting `m/migrated_from_sled`. A copy interrupted by a crash
/// starts over on the next start (copying is idempotent: sled is only
/// read). The sled files stay where they are, unused; the log says they can
/// be deleted. A no-op without sled files or once the flag is set.
pub(super) fn migrate_from_sled(dir: &Path, db: &dyn Engine) -> Result<(), StoreError> {
    if !has_sled_files(dir) || read_meta(&*db.snapshot()?, SLED_MIGRATED_META)? == 1 {
        return Ok(());
    }
    let failed = |reason: String| StoreError::Migration {
        path: dir.to_path_buf(),
        reason,
    };
    copy(dir, db, failed)
}

#[cfg(not(feature = "sled"))]
fn copy(
    _dir: &Path,
    _db: &dyn Engine,
    failed: impl Fn(String) -> StoreError,
) -> Result<(), StoreError> {
    Err(failed(
        "it holds an older baton's sled files, and this baton was built without the `sled` feature that reads them".into(),
    ))
}

#[cfg(feature = "sled")]
fn copy(
    dir: &Path,
    db: &dyn Engine,
    failed: impl Fn(String) -> StoreError,
) -> Result<(), StoreError> {
    tracing::info!(dir = %dir.display(), "copying the sled store of an older baton into this directory's board");
    let sled_db = sled::Config::new()
        .path(dir)
        .open()
        .map_err(|e| failed(e.to_string()))?;
    let tree = sled_db
        .open_tree("board")
        .map_err(|e| failed(e.to_string()))?;
    let mut entries = tree.iter();
    let mut copied = 0usize;
    loop {
        let mut n = 0;
        db.transact(
            &mut |t| {
                for kv in entries.by_ref() {
                    let (k, v) = kv.map_err(|e| failed(e.to_string()))?;
                    t.insert(k.as_ref(), v.as_ref())?;
                    n += 1;
                    if n == MIGRATION_CHUNK {
                        break;
                    }
                }
                if n < MIGRATION_CHUNK {
                    let flag = key(META, SLED_MIGRATED_META.as_bytes());
                    t.insert(flag.as_slice(), 1u64.to_be_bytes().as_slice())?;
                }
                Ok(())
            },
            &mut || Ok(()),
        )
        .map_err(TxError::into_store)?;
        copied += n;
        if n < MIGRATION_CHUNK {
            break;
        }
    }
    tracing::info!(
        keys = copied,
        dir = %dir.display(),
        "copied the sled store; sled's files at the top of the directory (conf, db, blobs/, snap.*) are no longer used and can be deleted"
    );
    Ok(())
}
