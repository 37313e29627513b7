//! Who holds a path: what the `PreToolUse` hook asks before Claude Code
//! writes a file, behind one small trait ([`PathHolders`]) so the hook's
//! plumbing does not depend on how reservations are stored.
//!
//! [`BoardReservations`] is the implementation the endpoint uses unless the
//! app mounts another one as `web::Data<dyn PathHolders>` (a test does,
//! with a double). It answers from the board's path reservations
//! ([`Board::check_paths`]: a holder is a live reservation; one of another
//! worker denies the write) and, with `[hooks] auto_reserve`, reserves a
//! free path bound to the held task's lease ([`Board::reserve_paths`]).
//!
//! **Which path.** Reservations name files relative to the repository's
//! top level. Claude Code sends absolute `file_path`s and the session's
//! `cwd`; [`repository_relative`] makes the path relative to the nearest
//! directory at or above `cwd` holding `.git` (else to `cwd`). A file
//! outside the repository stays absolute, which reservations refuse: it
//! has no holder and is not reserved (fail-open).

use futures_util::future::BoxFuture;
use serde::Serialize;

use crate::board::{self, Board};
use crate::core::reservations::ReservationError;
use crate::error::Error;
use crate::model::{Millis, ReservationMode, Task};

/// A worker that holds a path (the asking worker's own holdings included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathHolder {
    /// The holding worker.
    pub worker: String,
    /// The task the holding belongs to, when it is bound to a lease.
    pub task_id: Option<String>,
    /// When the holding lapses (ms since the epoch), when known.
    pub expires_at: Option<Millis>,
}

/// Who holds a path, and reserving one (`[hooks] auto_reserve`).
///
/// Paths are repository-relative ([`repository_relative`]), or absolute
/// for a file outside the session's repository.
pub trait PathHolders: Send + Sync + 'static {
    /// Every holder of `path`, `worker`'s own holdings included (empty:
    /// nobody holds it); `worker` may write it when all are its own.
    fn holders<'a>(
        &'a self,
        board: &'a Board,
        path: &'a str,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<Vec<PathHolder>, Error>>;

    /// Reserve `path` for `worker`'s held `task` (nobody else holds it).
    fn reserve<'a>(
        &'a self,
        board: &'a Board,
        path: &'a str,
        worker: &'a str,
        task: &'a Task,
    ) -> BoxFuture<'a, Result<(), Error>>;
}

/// The board's own path reservations (issue 25): a holder is a live
/// reservation (lease-bound or TTL, exclusive or shared); reserving makes an exclusive reservation of the
/// one path bound to the held task's lease, so it ends with that lease.
#[derive(Debug, Clone, Copy, Default)]
pub struct BoardReservations;

impl PathHolders for BoardReservations {
    fn holders<'a>(
        &'a self,
        board: &'a Board,
        path: &'a str,
        _worker: &'a str,
    ) -> BoxFuture<'a, Result<Vec<PathHolder>, Error>> {
        Box::pin(async move {
            let checked = match board.check_paths(vec![path.to_owned()]).await {
                Ok(c) => c,
                // a path reservations refuse (absolute: outside the
                // repository; `..`; too long) has no holder: fail-open
                Err(Error::Reservation(ReservationError::Invalid { message, .. })) => {
                    tracing::debug!(%path, %message, "hook path not checked");
                    return Ok(Vec::new());
                }
                Err(e) => return Err(e),
            };
            Ok(checked
                .into_iter()
                .flat_map(|held: board::PathHolders| held.holders)
                .map(|r| PathHolder {
                    worker: r.worker,
                    task_id: r.task_id.map(|t| t.to_string()),
                    expires_at: Some(r.expires_at),
                })
                .collect())
        })
    }

    fn reserve<'a>(
        &'a self,
        board: &'a Board,
        path: &'a str,
        worker: &'a str,
        task: &'a Task,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let Some(lease_id) = task.lease.as_ref().map(|l| l.lease_id) else {
                return Ok(());
            };
            // a pattern is a glob: a path with glob metacharacters is not
            // reserved as itself (it would reserve more, or be refused)
            if path.contains(['*', '?', '[', ']', '{', '}']) {
                return Ok(());
            }
            match board
                .reserve_paths(
                    worker,
                    vec![path.to_owned()],
                    ReservationMode::Exclusive,
                    Some(lease_id),
                    None,
                )
                .await
            {
                Ok(r) => {
                    tracing::info!(%worker, %path, task = %task.id, reservation = %r.id, "path reserved on write");
                    Ok(())
                }
                // someone reserved it in between (the next PreToolUse names
                // them), the lease ended, or the path is one reservations
                // refuse: not the hook's error
                Err(Error::Reservation(e)) => {
                    tracing::debug!(%worker, %path, error = %e, "path not reserved on write");
                    Ok(())
                }
                Err(e) => Err(e),
            }
        })
    }
}

/// `path` relative to `cwd` when it lies under it (`/` separators), else as given.
pub fn relative_to(path: &str, cwd: Option<&str>) -> String {
    let Some(cwd) = cwd
        .map(|c| c.trim_end_matches('/'))
        .filter(|c| !c.is_empty())
    else {
        return path.to_owned();
    };
    match path.strip_prefix(cwd) {
        Some(rest) if rest.starts_with('/') => rest.trim_start_matches('/').to_owned(),
        _ => path.to_owned(),
    }
}

/// `path` with `.` and empty segments dropped and each `..` taking the
/// segment before it away (lexically: symlinks are not followed); an
/// absolute path stays absolute, a `..` above `/` stays at `/`.
pub fn lexical(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut segs: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." if segs.last().is_some_and(|s| *s != "..") => {
                segs.pop();
            }
            ".." if absolute => {}
            s => segs.push(s),
        }
    }
    let joined = segs.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// A hook's file path as path reservations name files (issue 25: relative
/// to the repository's top level, `/` separators), given the session's
/// `cwd` and the repository `root` that contains it.
///
/// A relative `file` is taken from `cwd` (Claude Code sends absolute
/// ones); `.` and `..` are resolved lexically. A file under `root` becomes
/// relative to it; without a root, relative to `cwd`; a file outside both
/// stays absolute (reservations refuse it: nobody holds it).
pub fn relative_to_root(file: &str, cwd: Option<&str>, root: Option<&str>) -> String {
    let file = match cwd {
        Some(c) if !file.starts_with('/') && c.starts_with('/') => lexical(&format!("{c}/{file}")),
        _ => lexical(file),
    };
    let base = root.or(cwd).map(lexical);
    relative_to(&file, base.as_deref())
}

/// The repository top level that holds `cwd`: the nearest directory at or
/// above it with a `.git` entry (a directory, or a worktree's file), read
/// on this server's file system. `None` when there is none, or `cwd` is
/// not an absolute path here (baton on another machine than the agent:
/// paths are then relative to `cwd`).
pub fn repository_root(cwd: &str) -> Option<String> {
    if !cwd.starts_with('/') {
        return None;
    }
    let mut dir = std::path::PathBuf::from(lexical(cwd));
    loop {
        if dir.join(".git").exists() {
            return dir.to_str().map(str::to_owned);
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// A hook's file path relative to the session's repository top level
/// ([`repository_root`] of `cwd`, else `cwd`): see [`relative_to_root`].
pub fn repository_relative(file: &str, cwd: Option<&str>) -> String {
    let root = cwd.and_then(repository_root);
    relative_to_root(file, cwd, root.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_path_is_relative_to_the_repository_root_not_the_session_directory() {
        let root = Some("/repo");
        assert_eq!(
            relative_to_root("/repo/src/a.rs", Some("/repo/src"), root),
            "src/a.rs"
        );
        assert_eq!(
            relative_to_root("a.rs", Some("/repo/src"), root),
            "src/a.rs"
        );
        assert_eq!(relative_to_root("../b.rs", Some("/repo/src"), root), "b.rs");
        assert_eq!(
            relative_to_root("/repo/src/./x/../a.rs", None, root),
            "src/a.rs"
        );
        assert_eq!(
            relative_to_root("/elsewhere/a.rs", Some("/repo"), root),
            "/elsewhere/a.rs"
        );
        assert_eq!(
            relative_to_root("/repo/../etc/passwd", Some("/repo"), root),
            "/etc/passwd"
        );
        // no repository: relative to the session directory
        assert_eq!(
            relative_to_root("/p/src/a.rs", Some("/p"), None),
            "src/a.rs"
        );
        assert_eq!(relative_to_root("src/a.rs", None, None), "src/a.rs");
        // a cwd that is no absolute path here (a recorded `<root>/project`)
        assert_eq!(
            relative_to_root("<root>/p/a.rs", Some("<root>/p"), None),
            "a.rs"
        );
    }

    #[test]
    fn the_repository_root_is_the_nearest_directory_with_a_git_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).expect("mkdir");
        std::fs::create_dir_all(repo.join("src/api")).expect("mkdir");
        let repo_s = repo.to_str().expect("utf-8").to_owned();
        let sub = format!("{repo_s}/src/api");
        assert_eq!(repository_root(&sub).as_deref(), Some(repo_s.as_str()));
        assert_eq!(
            repository_relative(&format!("{sub}/mod.rs"), Some(&sub)),
            "src/api/mod.rs"
        );
        assert_eq!(repository_root("relative/dir"), None);
    }

    #[test]
    fn a_path_under_the_session_directory_becomes_relative() {
        assert_eq!(relative_to("/p/src/a.rs", Some("/p")), "src/a.rs");
        assert_eq!(relative_to("/p/src/a.rs", Some("/p/")), "src/a.rs");
        assert_eq!(relative_to("/pq/a.rs", Some("/p")), "/pq/a.rs");
        assert_eq!(relative_to("/other/a.rs", Some("/p")), "/other/a.rs");
        assert_eq!(relative_to("a.rs", None), "a.rs");
    }
}
