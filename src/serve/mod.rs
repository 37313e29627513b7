//! A baton node as a library function: [`run`]`(settings, listener, stop)`
//! is what `baton serve` does after parsing its arguments, so an embedder
//! (or a test) runs a whole node — the embedded engines' single server, or a
//! PostgreSQL node that follows and leads in turn — on a socket it bound
//! itself, and stops it with a future it owns.
//!
//! | file | job |
//! |---|---|
//! | `mod.rs` | [`run`], [`Node`]: check the settings against the socket, then run |
//! | `node.rs` | lead (serve a [`crate::Runtime`]) or follow, and switch between them |
//! | [`proxy`] | the follower's HTTP surface: `/healthz`, `/readyz`, everything else to the leader |
//! | [`tls`] | the rustls configuration from `[server] tls_cert` / `tls_key` |
//! | `error.rs` | [`ServeError`] |
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // inside an actix system (`#[actix_web::main]`)
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let settings = baton::Settings::for_tests(std::path::Path::new("./data"));
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let node = baton::serve::run(settings, listener, async move {
//!     let _ = stopped.await;
//!     baton::serve::Stop::Graceful
//! });
//! # drop(stop);
//! node.await?;
//! # Ok(()) }
//! ```
//!
//! What the node does with the settings before it serves (the same as
//! `baton serve` always did):
//!
//! - it refuses a socket beyond loopback while `[auth] required` is off,
//!   unless [`Node::insecure_no_auth`] says so;
//! - with the default `[server] allowed_hosts`, the loopback names are
//!   accepted only with the port actually bound;
//! - its listen backlog is raised to [`BACKLOG`] (1,024), where connections
//!   beyond the connection cap wait;
//! - `[server] advertise_url` defaults to `http(s)://<bound address>`, and
//!   its host is added to `allowed_hosts` (followers' proxied requests name
//!   it); on PostgreSQL a socket bound to every interface needs it set.
//!
//! Process-wide state stays with the caller: tracing's subscriber, signal
//! handlers and the allocator. Everything a node owns (its runtime, metrics
//! registry, store, follower) is its own, so several nodes run in one
//! process; each needs its own actix system (a thread running
//! `actix_web::rt::System::new().block_on(..)`), as `tests/ha.rs` does.

mod error;
mod node;
pub mod proxy;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;

pub use error::ServeError;
pub use tls::TlsError;

use crate::config::{ServerSettings, Settings, StorageBackend};

/// How a node stops, the output of the stop future handed to [`run`].
/// Either way the runtime's last flush still runs, bounded by
/// `[server] shutdown_timeout_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Requests in flight finish (within `[server] shutdown_timeout_secs`);
    /// SSE streams and MCP sessions are ended first. `baton serve` stops
    /// so on `SIGTERM`.
    Graceful,
    /// Open connections are dropped at once. `baton serve` stops so on
    /// `SIGINT` and `SIGQUIT`.
    Forced,
}

/// An address a node listens on, told to [`Node::on_listening`] once, when
/// its first HTTP server starts (before that, connections wait in the
/// socket's backlog).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listening {
    /// The bound address (the real port when bound to port 0).
    pub addr: SocketAddr,
    /// Whether it speaks HTTPS (`[server] tls_cert` and `tls_key` are set).
    pub tls: bool,
}

impl Listening {
    /// `https` with TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// The base URL clients use: `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme(), self.addr)
    }
}

/// A node to run: settings, a bound socket, and the options `baton serve`
/// takes from its command line. [`run`] is `Node::new(..).run(stop)`.
pub struct Node {
    settings: Settings,
    listener: std::net::TcpListener,
    insecure_no_auth: bool,
    on_listening: Option<node::Announce>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("listener", &self.listener)
            .field("insecure_no_auth", &self.insecure_no_auth)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A node with `settings` (loaded and layered, e.g. by
    /// [`Settings::load`]) on `listener`, already bound (bind to port 0 and
    /// read the port from the listener; a `tokio::net::TcpListener` converts
    /// with `into_std()`). `[server] bind` is set to the listener's address.
    pub fn new(settings: Settings, listener: std::net::TcpListener) -> Self {
        Self {
            settings,
            listener,
            insecure_no_auth: false,
            on_listening: None,
        }
    }

    /// Serve beyond loopback without authentication (`baton serve
    /// --insecure-no-auth`; only behind a firewall or an authenticating
    /// proxy): otherwise such a node is refused with
    /// [`ServeError::Unauthenticated`].
    pub fn insecure_no_auth(mut self, allow: bool) -> Self {
        self.insecure_no_auth = allow;
        self
    }

    /// Call `f` with each address once the first HTTP server listens
    /// (`baton serve` prints `baton listening on <url>` to stdout then).
    pub fn on_listening(mut self, f: impl FnMut(&Listening) + 'static) -> Self {
        self.on_listening = Some(Box::new(f));
        self
    }

    /// Check the settings against the socket (see the module docs), then
    /// serve until `stop` completes, which stops the node as its [`Stop`]
    /// says. Call inside an actix system (`#[actix_web::main]`); the stop
    /// future runs on it as a local task.
    ///
    /// Errors: [`ServeError`] — a refused configuration before anything is
    /// opened ([`ServeError::Unauthenticated`],
    /// [`ServeError::NoAdvertiseUrl`], [`ServeError::Tls`]), a runtime that
    /// does not start ([`ServeError::Start`]), or a failure while serving or
    /// shutting down. `Ok` after a stop, or after the HTTP server ended by
    /// itself.
    pub async fn run<F>(self, stop: F) -> Result<(), ServeError>
    where
        F: Future<Output = Stop> + 'static,
    {
        let Node {
            mut settings,
            listener,
            insecure_no_auth,
            on_listening,
        } = self;
        let local = listener.local_addr().map_err(|source| ServeError::Socket {
            what: "cannot read the bound socket's address",
            source,
        })?;
        // messages name the address as configured (`--bind 0.0.0.0:0`) when
        // the listener is bound to it
        let bind = settings.server.bind;
        let addr = if bind.ip() == local.ip() && (bind.port() == 0 || bind.port() == local.port()) {
            bind
        } else {
            local
        };
        settings.server.bind = local;
        check_exposure(&settings, addr, insecure_no_auth)?;
        raise_backlog(&listener);
        if !addr.ip().is_loopback() && !settings.auth.required {
            tracing::warn!(%addr, "listening beyond loopback WITHOUT authentication (--insecure-no-auth)");
        }
        let tls = if settings.server.tls() {
            Some(tls::server_config(
                &settings.server.tls_cert,
                &settings.server.tls_key,
            )?)
        } else {
            None
        };
        pin_loopback_to_port(&mut settings, local.port());
        if !addr.ip().is_loopback()
            && settings
                .server
                .allowed_hosts
                .iter()
                .all(|h| is_loopback_entry(h))
        {
            tracing::warn!(
                %addr,
                "[server] allowed_hosts accepts only loopback names: clients reaching this server by \
                 another name or address get 403; add the names they use (or \"*\")"
            );
        }
        let scheme = if tls.is_some() { "https" } else { "http" };
        if settings.storage.backend == StorageBackend::Postgres
            && settings.server.advertise_url.is_empty()
            && local.ip().is_unspecified()
        {
            // every node would be named http://0.0.0.0:<port>, pass for the
            // others and take the leadership from them in turn
            return Err(ServeError::NoAdvertiseUrl {
                addr,
                port: local.port(),
            });
        }
        if settings.server.advertise_url.is_empty() {
            settings.server.advertise_url = format!("{scheme}://{local}");
        }
        accept_advertised_host(&mut settings);
        // the stop, for whichever server runs when it comes
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(None);
        let stopping = actix_web::rt::spawn(async move {
            let how = stop.await;
            let _ = stop_tx.send(Some(how));
        });
        let result = node::Running {
            settings,
            listener,
            tls,
            stop: stop_rx,
            announce: on_listening,
        }
        .run()
        .await;
        stopping.abort();
        result
    }
}

/// Run a node with `settings` on `listener` until `stop` completes:
/// `Node::new(settings, listener).run(stop)` (see [`Node::run`] for the
/// errors). A node beyond loopback needs `[auth] required`.
pub async fn run<F>(
    settings: Settings,
    listener: std::net::TcpListener,
    stop: F,
) -> Result<(), ServeError>
where
    F: Future<Output = Stop> + 'static,
{
    Node::new(settings, listener).run(stop).await
}

/// Refuse to serve at `addr` beyond loopback while `[auth] required` is off,
/// unless `insecure_no_auth`. [`Node::run`] checks it; `baton serve` also
/// checks before it binds, so the refusal comes before a bind error.
///
/// Errors: [`ServeError::Unauthenticated`].
pub fn check_exposure(
    settings: &Settings,
    addr: SocketAddr,
    insecure_no_auth: bool,
) -> Result<(), ServeError> {
    if !addr.ip().is_loopback() && !settings.auth.required && !insecure_no_auth {
        return Err(ServeError::Unauthenticated {
            addr,
            data_dir: settings.storage.data_dir.clone(),
        });
    }
    Ok(())
}

/// The listen backlog [`Node::run`] gives its socket: actix-web's own
/// default for the sockets it binds (Rust's `TcpListener::bind` asks for
/// 128). Connections beyond the connection cap
/// ([`crate::descriptors::ConnectionCap`]) wait there; once it is full, new
/// ones are dropped and their clients retry after a second or more. Linux
/// caps it at `net.core.somaxconn`.
pub const BACKLOG: i32 = 1024;

/// Listen again with [`BACKLOG`] (on Linux, `listen` on a listening socket
/// sets its backlog); a failure is logged and the socket serves as it was.
fn raise_backlog(listener: &std::net::TcpListener) {
    if let Err(e) = socket2::SockRef::from(listener).listen(BACKLOG) {
        tracing::warn!(error = %e, backlog = BACKLOG, "cannot raise the listen backlog");
    }
}

/// Accept the host of `[server] advertise_url` (followers' proxied
/// requests name it) unless `allowed_hosts` already does.
fn accept_advertised_host(settings: &mut Settings) {
    let url = &settings.server.advertise_url;
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    if let Some(a) = crate::auth::edge::parse_authority(authority) {
        if !crate::auth::edge::host_allowed(&a, &settings.server.allowed_hosts) {
            settings.server.allowed_hosts.push(authority.to_owned());
        }
    }
}

/// Whether an `allowed_hosts` entry names only a loopback host.
fn is_loopback_entry(host: &str) -> bool {
    crate::auth::edge::parse_authority(host).is_some_and(|a| {
        a.host == "localhost"
            || a.host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

/// With the default allow-list, accept the loopback names only with the port
/// actually bound (a page or a rebinding attack aimed at another local port
/// cannot reach baton). Lists the operator configured are left as they are.
fn pin_loopback_to_port(settings: &mut Settings, port: u16) {
    let defaults = ServerSettings::default();
    if settings.server.allowed_hosts == defaults.allowed_hosts {
        settings.server.allowed_hosts = vec![
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_allow_list_is_pinned_to_the_bound_port() {
        let mut s = Settings::default();
        pin_loopback_to_port(&mut s, 4321);
        assert_eq!(
            s.server.allowed_hosts,
            ["localhost:4321", "127.0.0.1:4321", "[::1]:4321"]
        );
        let mut s = Settings::default();
        s.server.allowed_hosts = vec!["example.com".into()];
        pin_loopback_to_port(&mut s, 4321);
        assert_eq!(s.server.allowed_hosts, ["example.com"]);
    }

    #[test]
    fn the_advertised_host_is_accepted_once() {
        let mut s = Settings::default();
        s.server.allowed_hosts = vec!["localhost:1".into()];
        s.server.advertise_url = "http://10.0.0.5:8080/base".into();
        accept_advertised_host(&mut s);
        accept_advertised_host(&mut s);
        assert_eq!(s.server.allowed_hosts, ["localhost:1", "10.0.0.5:8080"]);
    }

    #[test]
    fn only_loopback_entries_count_as_loopback() {
        assert!(is_loopback_entry("localhost:8080"));
        assert!(is_loopback_entry("[::1]:8080"));
        assert!(is_loopback_entry("127.0.0.1"));
        assert!(!is_loopback_entry("10.0.0.5:8080"));
        assert!(!is_loopback_entry("*"));
    }

    #[test]
    fn beyond_loopback_without_auth_is_refused_unless_insecure() {
        let s = Settings::default();
        let open: SocketAddr = "0.0.0.0:8080".parse().expect("addr");
        let local: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        assert!(matches!(
            check_exposure(&s, open, false),
            Err(ServeError::Unauthenticated { .. })
        ));
        assert!(check_exposure(&s, open, true).is_ok());
        assert!(check_exposure(&s, local, false).is_ok());
        let mut s = Settings::default();
        s.auth.required = true;
        assert!(check_exposure(&s, open, false).is_ok());
    }
}
