//! The board's side of who the worker is: a handle remembers the worker its
//! connection named ([`Board::for_worker`]) and resolves a call's worker
//! with [`resolve_worker`] (see [`crate::core::worker`], the one resolver).

use super::Board;
use crate::core::worker::resolve_worker;
use crate::error::Error;

impl Board {
    /// The same board for a connection that names `worker` (its
    /// `X-Baton-Worker` header; `None`: it names none).
    pub fn for_worker(&self, worker: Option<String>) -> Board {
        Board {
            worker,
            ..self.clone()
        }
    }

    /// The worker this connection named, if it named one.
    pub fn connection_worker(&self) -> Option<&str> {
        self.worker.as_deref()
    }

    /// The worker a call acts as, given the worker its arguments name (see
    /// [`resolve_worker`]).
    pub fn worker_for(&self, argument: Option<&str>) -> Result<String, Error> {
        Ok(resolve_worker(self.worker.as_deref(), argument)?)
    }

    /// The connection's worker, or the refusal saying how to name one.
    pub fn require_worker(&self) -> Result<String, Error> {
        self.worker_for(None)
    }
}
