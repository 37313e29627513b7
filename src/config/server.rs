//! `[server]` (where and how baton listens), `[ha]` (several nodes on one
//! PostgreSQL database) and `[log]`: the process around the board.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[server]`: the listening address, worker threads, TLS, the `Host`/`Origin`
/// allow-lists and graceful shutdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Seconds to wait for in-flight requests on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Seconds a client has to send a whole request body, from the moment
    /// its head arrived (1–3600). Past it the request is answered 408
    /// `body_timeout` and its connection closed, on every route that reads
    /// a body (`crate::api::deadline`).
    pub body_read_timeout_secs: u64,
    /// Open HTTP connections allowed across all workers; 0 (the default)
    /// derives it from the soft `RLIMIT_NOFILE` (see
    /// [`crate::descriptors::ConnectionCap`]). Beyond it, new connections
    /// wait in the listen backlog.
    pub max_connections: usize,
    /// `Host` header values accepted on every route (DNS-rebinding protection): `host`
    /// matches any port, `host:port` only that port, `"*"` any host. `baton serve` narrows
    /// the loopback defaults to the port it bound.
    pub allowed_hosts: Vec<String>,
    /// `Origin` values accepted besides the server's own origin (a page served by baton
    /// itself): `scheme://host[:port]`, or `"*"` for any. Requests without an `Origin`
    /// (non-browser clients) are unaffected; `Origin: null` is always refused.
    pub allowed_origins: Vec<String>,
    /// PEM certificate chain to serve HTTPS with (together with `tls_key`); empty = plain HTTP.
    pub tls_cert: PathBuf,
    /// PEM private key of `tls_cert`.
    pub tls_key: PathBuf,
    /// With several nodes on one PostgreSQL database: the URL other nodes
    /// reach this one at (`http://10.0.0.5:8080`), where followers proxy
    /// requests while this node leads. Empty (the default): the scheme and
    /// address `baton serve` bound (`http://127.0.0.1:<port>`: enough for
    /// nodes on one machine). Its host is accepted as a `Host` besides
    /// `allowed_hosts`, since proxied requests name it.
    pub advertise_url: String,
}

impl ServerSettings {
    /// The loopback host names every default accepts.
    pub const LOOPBACK_HOSTS: [&'static str; 3] = ["localhost", "127.0.0.1", "::1"];

    /// Whether TLS is configured.
    pub fn tls(&self) -> bool {
        !self.tls_cert.as_os_str().is_empty()
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 0,
            shutdown_timeout_secs: 10,
            body_read_timeout_secs: 30,
            max_connections: 0,
            allowed_hosts: Self::LOOPBACK_HOSTS.map(String::from).to_vec(),
            allowed_origins: Vec::new(),
            tls_cert: PathBuf::new(),
            tls_key: PathBuf::new(),
            advertise_url: String::new(),
        }
    }
}

/// `[ha]`: several `baton serve` nodes on one PostgreSQL database
/// (`[storage] backend = "postgres"`); one leads, the others proxy to it
/// and take over when it dies (see [`crate::store::leader`]). Ignored with redb.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HaSettings {
    /// Seconds within which a follower serves after the leader died
    /// (1–3600; default 10). The leader's lease is half of it, renewed
    /// every quarter of the lease; followers look every tenth of it.
    pub failover_timeout_secs: u64,
}

impl Default for HaSettings {
    fn default() -> Self {
        Self {
            failover_timeout_secs: 10,
        }
    }
}

impl HaSettings {
    /// `failover_timeout_secs` as a duration.
    pub fn failover_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.failover_timeout_secs)
    }
}

/// `[log]`: how the node logs (format and `tracing` filter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: LogFormat,
    /// `tracing` env-filter directive (overridden by `RUST_LOG`).
    pub filter: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, one per event (the default).
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}
