//! Who holds a path: what the `PreToolUse` hook asks before Claude Code
//! writes a file, behind one small trait ([`PathHolders`]) so the hook's
//! plumbing does not depend on how reservations are stored.
//!
//! **Integration point (path reservations).** [`BoardReservations`] is the
//! implementation the endpoint uses unless the app mounts another one as
//! `web::Data<dyn PathHolders>` (tests do, with a double). It answers from
//! the board's path reservations; until those exist on this branch it
//! answers "nobody holds it" and reserves nothing — see the two
//! `INTEGRATION POINT` comments below for the calls that replace that
//! (`Board::check_paths` and `Board::reserve_paths` of the reservations
//! work: a holder is a live reservation whose worker is not the asking
//! worker; `[hooks] auto_reserve` reserves the path bound to the held
//! task's lease).

use futures_util::future::BoxFuture;
use serde::Serialize;

use crate::board::Board;
use crate::error::Error;
use crate::model::{Millis, Task};

/// Someone other than the asking worker who holds a path.
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
/// Paths are as the hook gives them, made relative to the session's `cwd`
/// when they lie under it (`src/api.rs`), else absolute.
pub trait PathHolders: Send + Sync + 'static {
    /// The holders of `path` other than `worker` (empty: `worker` may write it).
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

/// The board's own path reservations (see the module doc).
#[derive(Debug, Clone, Copy, Default)]
pub struct BoardReservations;

impl PathHolders for BoardReservations {
    fn holders<'a>(
        &'a self,
        _board: &'a Board,
        _path: &'a str,
        _worker: &'a str,
    ) -> BoxFuture<'a, Result<Vec<PathHolder>, Error>> {
        // INTEGRATION POINT (reservations, issue 25; as on main):
        // `board.check_paths(vec![path.to_owned()]).await?` gives one
        // `crate::board::PathHolders { path, holders: Vec<Reservation> }`
        // (a struct that shares this trait's name: import it qualified);
        // answer every `r` of its `holders` with `r.worker != worker` as
        // `PathHolder { worker: r.worker, task_id: r.task_id.map(|t|
        // t.to_string()), expires_at: Some(r.expires_at) }`. A path
        // reservations refuse (absolute, outside the session's directory)
        // has no holder here: answer empty, not an error (fail-open).
        Box::pin(async { Ok(Vec::new()) })
    }

    fn reserve<'a>(
        &'a self,
        _board: &'a Board,
        _path: &'a str,
        _worker: &'a str,
        _task: &'a Task,
    ) -> BoxFuture<'a, Result<(), Error>> {
        // INTEGRATION POINT (reservations, issue 25; as on main):
        // `board.reserve_paths(worker, vec![path.to_owned()],
        // ReservationMode::Exclusive, task.lease.as_ref().map(|l|
        // l.lease_id), None)`; a `reservation_conflict` (someone reserved
        // it in between) is not an error here: the next PreToolUse sees
        // the holder.
        Box::pin(async { Ok(()) })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_under_the_session_directory_becomes_relative() {
        assert_eq!(relative_to("/p/src/a.rs", Some("/p")), "src/a.rs");
        assert_eq!(relative_to("/p/src/a.rs", Some("/p/")), "src/a.rs");
        assert_eq!(relative_to("/pq/a.rs", Some("/p")), "/pq/a.rs");
        assert_eq!(relative_to("/other/a.rs", Some("/p")), "/other/a.rs");
        assert_eq!(relative_to("a.rs", None), "a.rs");
    }
}
