//! File descriptors: how many this process has open, its soft
//! `RLIMIT_NOFILE`, the cap on open HTTP connections derived from that
//! limit, and when descriptors run low (`/readyz`, `/metrics`).
//!
//! Every accepted connection is a descriptor. Without a cap, a client that
//! opens connections and keeps them busy (a slow body, see
//! `[server] body_read_timeout_secs`) exhausts the limit: `accept` then
//! fails with `EMFILE` ("Too many open files"), the server stops accepting
//! for half a second at a time, and every legitimate request times out —
//! and the store, the downstream servers' pipes and the log files have no
//! descriptor left either. With the cap ([`ConnectionCap`]), the server
//! stops accepting while it holds the cap's worth of connections: new
//! connections wait in the listen backlog until one closes, and the
//! descriptors of [`ConnectionCap::reserve`] stay free for everything else.
//!
//! Reads `/proc/self/fd` (Linux; `/dev/fd` elsewhere) and `getrlimit`;
//! nothing here changes the limit, which is the caller's (a service
//! manager's `LimitNOFILE=`, `ulimit -n`, `prlimit`).

use crate::config::{ServerSettings, StorageBackend, StorageSettings};

/// `/readyz` answers 503 once at least this percentage of the soft limit
/// is open ([`Descriptors::low`]): below the connection cap, so the probe
/// itself still gets a connection, and early enough for a load balancer to
/// send traffic elsewhere before new connections have to wait.
pub const LOW_PERCENT: u64 = 80;

/// Connections per worker when the limit is unlimited or unreadable
/// (actix-web's own default).
const UNCAPPED_PER_WORKER: usize = 25_000;

/// Open descriptors against the soft limit, read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptors {
    /// Descriptors this process has open.
    pub open: u64,
    /// The soft `RLIMIT_NOFILE`.
    pub limit: u64,
}

impl Descriptors {
    /// The process's descriptors now; `None` when they cannot be counted
    /// (no `/proc/self/fd` or `/dev/fd`) or the limit is unlimited.
    pub fn now() -> Option<Self> {
        let limit = soft_limit()?;
        let open = open_count()?;
        Some(Self { open, limit })
    }

    /// Whether at least [`LOW_PERCENT`] of the limit is open.
    pub fn low(&self) -> bool {
        self.open.saturating_mul(100) >= self.limit.saturating_mul(LOW_PERCENT)
    }

    /// The `/readyz` reason when [`Descriptors::low`]: the counts and what
    /// to do.
    pub fn reason(&self) -> String {
        format!(
            "file descriptors run low: {} of {} open (the soft RLIMIT_NOFILE; not ready from \
             {LOW_PERCENT} %); new connections may soon wait for a free one — raise the limit \
             (LimitNOFILE=, ulimit -n) or send traffic elsewhere",
            self.open, self.limit
        )
    }
}

/// The soft `RLIMIT_NOFILE`; `None` when unlimited or unreadable.
pub fn soft_limit() -> Option<u64> {
    use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, _)) if soft != RLIM_INFINITY => Some(soft),
        _ => None,
    }
}

/// Descriptors this process has open (entries of `/proc/self/fd`, or
/// `/dev/fd`, less the one the listing itself opens); `None` when neither
/// can be read.
pub fn open_count() -> Option<u64> {
    ["/proc/self/fd", "/dev/fd"].iter().find_map(|dir| {
        let entries = std::fs::read_dir(dir).ok()?;
        let n = entries.filter(Result::is_ok).count() as u64;
        Some(n.saturating_sub(1))
    })
}

/// How many HTTP connections a server keeps open at once, derived from
/// the soft `RLIMIT_NOFILE` unless `[server] max_connections` sets it.
///
/// The formula (all counts are descriptors):
///
/// ```text
/// reserve    = max(32 + 4 × workers + 8 × downstream servers (+ pool_size + 2 on PostgreSQL),
///                  limit / 8)
/// connections = limit − reserve          (halved on a follower, which opens one to the
///                                         leader for each request it proxies)
/// per worker  = connections / workers    (actix-web counts each worker's connections apart)
/// ```
///
/// The reserve covers what is not a client connection: standard streams,
/// the store's file (or its PostgreSQL connections), each worker's event
/// loop (4: measured), a downstream stdio server's pipes or an HTTP
/// server's pooled sockets (8 each), log files, backups and outgoing
/// requests; at large limits an eighth of the limit. Beyond the cap,
/// connections wait in the listen backlog (they are not refused) until one
/// closes; `[server] body_read_timeout_secs`, actix-web's 5 s limits on a
/// request head and on an idle keep-alive connection bound how long any
/// one holds its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionCap {
    /// The soft `RLIMIT_NOFILE` it was derived from (`None`: unlimited or
    /// unreadable, and the cap is actix-web's default of 25,000 per worker).
    pub limit: Option<u64>,
    /// Descriptors kept for everything but client connections.
    pub reserve: u64,
    /// Open connections allowed across all workers.
    pub total: usize,
    /// HTTP worker threads the total is divided among.
    pub workers: usize,
    /// `HttpServer::max_connections`: open connections allowed per worker
    /// (at least 1).
    pub per_worker: usize,
    /// Whether `[server] max_connections` set it (else derived).
    pub configured: bool,
}

/// Which server a [`ConnectionCap`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A node that serves the board itself (or an embedder's server).
    Serving,
    /// A follower: each proxied request holds a second descriptor, its
    /// connection to the leader.
    Proxy,
}

impl ConnectionCap {
    /// The cap for this process now: its soft limit, `server.workers` (0:
    /// one per core, as actix-web counts them) and `servers` downstream MCP
    /// servers.
    pub fn for_process(
        server: &ServerSettings,
        storage: &StorageSettings,
        servers: usize,
        role: Role,
    ) -> Self {
        Self::derive(server, storage, servers, role, soft_limit())
    }

    /// The cap for a soft limit of `limit` descriptors (`None`: unlimited);
    /// see the type's docs for the formula.
    pub fn derive(
        server: &ServerSettings,
        storage: &StorageSettings,
        servers: usize,
        role: Role,
        limit: Option<u64>,
    ) -> Self {
        let workers = effective_workers(server.workers);
        let w = workers as u64;
        let database = match storage.backend {
            StorageBackend::Postgres => u64::from(storage.pool_size) + 2,
            StorageBackend::Redb => 0,
        };
        let needed = 32 + 4 * w + 8 * servers as u64 + database;
        let reserve = limit.map_or(needed, |l| needed.max(l / 8));
        let derived = match limit {
            Some(l) => {
                let mut total = l.saturating_sub(reserve);
                if role == Role::Proxy {
                    total /= 2;
                }
                usize::try_from(total).unwrap_or(usize::MAX)
            }
            None => UNCAPPED_PER_WORKER.saturating_mul(workers),
        };
        let configured = server.max_connections > 0;
        let total = if configured {
            server.max_connections
        } else {
            derived
        };
        Self {
            limit,
            reserve,
            total,
            workers,
            per_worker: (total / workers).max(1),
            configured,
        }
    }

    /// Whether `[server] max_connections` allows more connections than the
    /// limit leaves room for (they would fail with `EMFILE`).
    pub fn exceeds_limit(&self) -> bool {
        self.configured
            && self
                .limit
                .is_some_and(|l| self.total as u64 > l.saturating_sub(self.reserve))
    }
}

/// `[server] workers` as actix-web resolves it: 0 is one per available
/// core (`std::thread::available_parallelism`).
pub fn effective_workers(configured: usize) -> usize {
    if configured > 0 {
        configured
    } else {
        std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(workers: usize, servers: usize, role: Role, limit: Option<u64>) -> ConnectionCap {
        let server = ServerSettings {
            workers,
            ..ServerSettings::default()
        };
        ConnectionCap::derive(&server, &StorageSettings::default(), servers, role, limit)
    }

    #[test]
    fn the_cap_leaves_the_reserve_and_divides_among_workers() {
        // 256: the formula's reserve (32 + 4 × 2) beats an eighth (32)
        let c = cap(2, 0, Role::Serving, Some(256));
        assert_eq!((c.reserve, c.total, c.per_worker), (40, 216, 108));
        // 1024: an eighth (128)
        let c = cap(4, 0, Role::Serving, Some(1024));
        assert_eq!((c.reserve, c.total, c.per_worker), (128, 896, 224));
        // downstream servers and PostgreSQL connections are reserved
        let c = cap(2, 3, Role::Serving, Some(256));
        assert_eq!(c.reserve, 64);
        let storage = StorageSettings {
            backend: StorageBackend::Postgres,
            ..StorageSettings::default()
        };
        let server = ServerSettings {
            workers: 2,
            ..ServerSettings::default()
        };
        let c = ConnectionCap::derive(&server, &storage, 0, Role::Serving, Some(256));
        assert_eq!(c.reserve, 40 + 8 + 2);
        // a follower holds two descriptors per proxied request
        let c = cap(2, 0, Role::Proxy, Some(256));
        assert_eq!(c.total, 108);
    }

    #[test]
    fn a_configured_cap_wins_and_never_leaves_a_worker_at_zero() {
        let server = ServerSettings {
            workers: 4,
            max_connections: 2,
            ..ServerSettings::default()
        };
        let c = ConnectionCap::derive(
            &server,
            &StorageSettings::default(),
            0,
            Role::Serving,
            Some(256),
        );
        assert!(c.configured);
        assert_eq!((c.total, c.per_worker), (2, 1));
        assert!(!c.exceeds_limit());
        let server = ServerSettings {
            workers: 4,
            max_connections: 10_000,
            ..ServerSettings::default()
        };
        let c = ConnectionCap::derive(
            &server,
            &StorageSettings::default(),
            0,
            Role::Serving,
            Some(256),
        );
        assert!(c.exceeds_limit());
    }

    #[test]
    fn an_unlimited_process_gets_actix_webs_default() {
        let c = cap(2, 0, Role::Serving, None);
        assert_eq!(c.per_worker, UNCAPPED_PER_WORKER);
    }

    #[test]
    fn descriptors_are_low_from_the_threshold() {
        let d = |open| Descriptors { open, limit: 1000 };
        assert!(!d(799).low());
        assert!(d(800).low());
        assert!(d(800).reason().contains("800 of 1000"));
    }

    #[test]
    fn this_process_counts_its_descriptors_below_its_limit() {
        let d = Descriptors::now().expect("a Linux test process has /proc/self/fd and a limit");
        // standard streams at least; never more than the limit allows
        assert!(d.open >= 3 && d.open <= d.limit, "{d:?}");
    }
}
