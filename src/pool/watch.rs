//! The server file's watcher: reload when the file changes.
//!
//! It watches the file's *directory* (not the file): editors and config
//! tools save by writing a new file and renaming it over the old one, which
//! would end a watch on the old file's inode. Events for other names in the
//! directory are ignored. A change starts a quiet period
//! (`reload_debounce_ms`); every further change restarts it, and once it
//! passes the file is reloaded once — an editor's truncate-then-write, or a
//! tool's several writes, make one reload. A file caught half written
//! fails to parse and changes nothing; the write that completes it brings
//! another reload.
//!
//! The debounce waits on tokio's time: it spaces real file-system events,
//! it is not a policy wait of the pool.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A running watch; dropping it ends it.
pub(super) struct FileWatcher {
    _watcher: RecommendedWatcher,
    task: JoinHandle<()>,
}

impl Drop for FileWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Watch `file` and run `on_change` after each burst of changes, once the
/// file has been quiet for `debounce` (see the module docs). Runs on the
/// current actix arbiter (`on_change`'s future need not be `Send`).
///
/// Errors: the watch could not be set up (the directory does not exist,
/// the system's watch limit is reached): [`notify::Error`].
pub(super) fn watch_file<F, Fut>(
    file: &Path,
    debounce: Duration,
    mut on_change: F,
) -> Result<FileWatcher, notify::Error>
where
    F: FnMut() -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let name = file.file_name().map(ToOwned::to_owned);
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    // notify calls this on its own thread
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        let ours = event
            .paths
            .iter()
            .any(|p| p.file_name().map(ToOwned::to_owned) == name);
        if ours {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    let task = actix_rt::spawn(async move {
        while rx.recv().await.is_some() {
            loop {
                match tokio::time::timeout(debounce, rx.recv()).await {
                    Ok(Some(())) => continue, // still changing
                    Ok(None) => return,
                    Err(_) => break, // quiet for `debounce`
                }
            }
            on_change().await;
        }
    });
    Ok(FileWatcher {
        _watcher: watcher,
        task,
    })
}
