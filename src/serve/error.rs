//! [`ServeError`]: why a node could not start, or stopped with a failure.
//!
//! Each message is the one `baton serve` prints after `Error:` (the binary
//! returns it through `anyhow`, which adds the `Caused by:` chain from
//! [`std::error::Error::source`]).

use std::net::SocketAddr;
use std::path::PathBuf;

use super::tls::TlsError;

/// Why [`super::run`] refused to start a node, or why a node ended with a
/// failure. A stop requested through the stop future is not an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The socket is beyond loopback, `[auth] required` is off and
    /// [`super::Node::insecure_no_auth`] was not given: anyone who can reach
    /// the address could change the board. `data_dir` is
    /// `[storage] data_dir`, named in the advice.
    #[error(
        "refusing to listen on {addr} without authentication: anyone who can reach it could \
         change the board and run downstream tools.\n\
         Create an admin token first:\n  \
         baton token create --name admin --role admin --data-dir {}\n\
         then start with auth required ([auth] required = true, or BATON_AUTH__REQUIRED=true).\n\
         To listen without authentication anyway (behind a firewall or an authenticating proxy), \
         pass --insecure-no-auth.",
        data_dir.display()
    )]
    Unauthenticated {
        /// The address the node would listen on.
        addr: SocketAddr,
        /// `[storage] data_dir`, for the `baton token create` advice.
        data_dir: PathBuf,
    },
    /// On PostgreSQL a node bound to every interface (`0.0.0.0`, `::`) with
    /// no `[server] advertise_url` would be named after that address, the
    /// same for every node: they would pass for one another.
    #[error(
        "with [storage] backend = \"postgres\" and --bind {addr}, set [server] advertise_url \
         (BATON_SERVER__ADVERTISE_URL) to the URL other nodes reach this one at, \
         e.g. http://10.0.0.5:{port}"
    )]
    NoAdvertiseUrl {
        /// The address as configured (`[server] bind`, `--bind`).
        addr: SocketAddr,
        /// The port actually bound.
        port: u16,
    },
    /// `[server] tls_cert` / `tls_key` could not be loaded.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The bound socket could not be used: its address read, a copy made
    /// for the next HTTP server, or an HTTP server started on it.
    #[error("{what}")]
    Socket {
        /// What was done with the socket.
        what: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The runtime did not start (the store could not be opened, the
    /// settings or the server file are invalid, ...).
    #[error("cannot start baton on {}", data_dir.display())]
    Start {
        /// `[storage] data_dir`.
        data_dir: PathBuf,
        /// What failed.
        #[source]
        source: Box<crate::error::Error>,
    },
    /// The follower's parts could not be built (its HTTP client).
    #[error(transparent)]
    Follower(Box<crate::error::Error>),
    /// `[storage] url` does not parse as a PostgreSQL URL.
    #[error(transparent)]
    Leadership(#[from] crate::store::leader::HaError),
    /// An HTTP server ended with an I/O error (`what` names which).
    #[error("{what}")]
    Http {
        /// `the HTTP server` or `the follower's HTTP server`.
        what: &'static str,
        /// The error it ended with.
        #[source]
        source: std::io::Error,
    },
    /// The task that ran an HTTP server panicked or was cancelled.
    #[error("{what}")]
    HttpTask {
        /// `the HTTP server task` or `the follower's HTTP server task`.
        what: &'static str,
        /// The join error.
        #[source]
        source: tokio::task::JoinError,
    },
    /// The follower's HTTP server stopped although no stop was asked for.
    #[error("the follower's HTTP server stopped")]
    FollowerStopped,
    /// The runtime's last flush failed after a stop (a storage failure
    /// earlier refused writes; nothing unacknowledged was claimed written).
    #[error("baton shut down after a storage failure")]
    Shutdown(#[source] Box<crate::error::Error>),
    /// The runtime's shutdown (dispatcher, child processes, the store's
    /// last flush) took longer than `[server] shutdown_timeout_secs`.
    #[error("baton's shutdown did not finish within {0} s (server.shutdown_timeout_secs)")]
    ShutdownTimeout(u64),
}
