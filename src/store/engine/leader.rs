//! Several `baton serve` nodes on one PostgreSQL database: leader election
//! and fencing, used by the PostgreSQL engine (`store/engine/postgres.rs`) and by
//! the runtime that opens it (the follower's proxy is `crate::serve::proxy`).
//! Public as `baton::store::leader`.
//!
//! # Election: a leadership row with an epoch, renewed on a lease
//!
//! The table `baton_leader` (migration `V2__leader.sql`) has one row:
//! `epoch`, `holder`, `advertise_url`, `expires_at` (database time).
//!
//! - **Taking over** (`acquire`) is one `UPDATE` that succeeds only when the
//!   row's lease has expired (or the holder is this node itself, restarted):
//!   it adds one to `epoch` and names the new holder. The database decides
//!   between racing candidates; its clock alone judges expiry, so the nodes'
//!   clocks do not matter.
//! - **The leader renews** its lease every quarter of it (`renew`: an
//!   `UPDATE … WHERE epoch = mine`); when that matches no row another node
//!   has taken over, and this one steps down.
//! - **Every write transaction is fenced** (`FENCE`): its first statement
//!   reads the row `FOR KEY SHARE` and requires this node's epoch and an
//!   unexpired lease; otherwise the transaction is rolled back and the write
//!   fails (`storage_unavailable`, never acknowledged). The lock is held
//!   until the transaction ends, and a takeover first locks the row `FOR
//!   UPDATE`, which conflicts with it: the takeover waits for a write that
//!   passed the check, and every later write sees the new epoch. A deposed
//!   leader that has not noticed yet (paused, partitioned, slow) cannot
//!   write. (`KEY SHARE` and not `SHARE`, so the leader's own renewals, a
//!   plain `UPDATE`, never wait for its writes.)
//! - **A leader that cannot renew** for a whole lease (the database is
//!   unreachable) stops counting itself the leader, as if deposed: it stops
//!   serving and follows until it can be elected again.
//!
//! Why not a session-level advisory lock? A paused leader's TCP connection
//! stays open, so its session — and the lock — would outlive it and nobody
//! could take over; and a lock held by a session says nothing to the
//! statements of the leader's *other* connections. A row with an epoch is
//! checked by those statements themselves. A leader paused *inside* a write
//! transaction holds the row's share lock; its session has
//! `idle_in_transaction_session_timeout` and `statement_timeout` set (half
//! the lease, and the lease), so PostgreSQL ends that transaction and the
//! takeover proceeds.
//!
//! # Timing (`[ha] failover_timeout_secs`, default 10)
//!
//! The lease lasts half the failover timeout and is renewed every quarter
//! of the lease; followers look at the row every tenth of the failover
//! timeout. A leader killed right after a renewal is replaced after at most
//! lease + one look + loading the board: about 6 s of the 10 by default.

use std::time::Duration;

use crate::store::error::LOCK_WAIT;

/// SQLSTATE `undefined_table`: the schema is not migrated yet (no node has
/// ever led this database).
const UNDEFINED_TABLE: &str = "42P01";

/// The first statement of every write transaction of a leader: the epoch
/// now and whether its lease is live, the row locked `FOR KEY SHARE` until
/// the transaction ends (a takeover's `FOR UPDATE` waits for it). The
/// transaction may write only when the epoch is its node's and the lease
/// is live.
pub(crate) const FENCE: &str = "SELECT epoch, expires_at > now() FROM baton_leader \
     WHERE id = 1 FOR KEY SHARE";

/// A node asking to lead a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Who asks: unique per node (`baton serve` uses its advertised URL,
    /// offline commands `baton <command> pid <pid> on <host>`). A holder
    /// that finds its own name in the row takes over at once (a restarted
    /// node need not wait for its old lease).
    pub holder: String,
    /// Where followers send requests while this node leads
    /// (`[server] advertise_url`); empty for offline commands.
    pub advertise_url: String,
    /// How long the lease lasts without a renewal.
    pub lease: Duration,
    /// How long opening the store waits while another node's lease is live
    /// (zero: one attempt).
    pub wait: Duration,
}

impl Candidate {
    /// A `baton serve` node at `advertise_url`, with `failover_timeout`
    /// (`[ha] failover_timeout_secs`).
    pub fn node(advertise_url: &str, failover_timeout: Duration) -> Self {
        Self {
            holder: advertise_url.to_owned(),
            advertise_url: advertise_url.to_owned(),
            lease: lease_of(failover_timeout),
            wait: Duration::ZERO,
        }
    }

    /// An offline command (`baton restore`, `baton token create`) that
    /// writes while no node serves: a lease of 5 s renewed while it runs,
    /// waiting up to [`LOCK_WAIT`] for a node that is
    /// shutting down.
    pub fn offline(command: &str) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        // unique per call: two stores of one process must not pass for one
        static OPENED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = OPENED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            holder: format!("baton {command} pid {}#{n} on {host}", std::process::id()),
            advertise_url: String::new(),
            lease: Duration::from_secs(5),
            wait: LOCK_WAIT,
        }
    }
}

/// The lease of a node whose failover must take at most `failover_timeout`:
/// half of it, at least 500 ms.
pub fn lease_of(failover_timeout: Duration) -> Duration {
    (failover_timeout / 2).max(Duration::from_millis(500))
}

/// How often followers look at the leadership row: a tenth of the failover
/// timeout, at least 100 ms.
pub fn poll_interval(failover_timeout: Duration) -> Duration {
    (failover_timeout / 10).max(Duration::from_millis(100))
}

/// The leadership row as a follower sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leadership {
    /// Elections so far (0: nobody has led yet).
    pub epoch: i64,
    /// The holder's name (see [`Candidate::holder`]).
    pub holder: String,
    /// Where to send requests while it leads.
    pub advertise_url: String,
    /// Whether its lease has expired by the database's clock (anyone may
    /// take over).
    pub vacant: bool,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Take the leadership for `c` if its lease is free (expired, or held by
/// `c.holder` itself): the new epoch, or `None` while another node's lease
/// is live.
pub(crate) async fn acquire(
    client: &tokio_postgres::Client,
    c: &Candidate,
) -> Result<Option<i64>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            // FOR UPDATE first: it waits for every write transaction that
            // passed the fence (FOR KEY SHARE) to end
            "WITH row AS (SELECT id FROM baton_leader WHERE id = 1 FOR UPDATE) \
             UPDATE baton_leader SET epoch = epoch + 1, holder = $1, advertise_url = $2, \
                 expires_at = clock_timestamp() + $3::bigint * interval '1 millisecond' \
             FROM row WHERE baton_leader.id = row.id \
                 AND (expires_at <= clock_timestamp() OR holder = $1) \
             RETURNING epoch",
            &[&c.holder, &c.advertise_url, &millis(c.lease)],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Extend the lease of `epoch` by `lease` from now; `false` when another
/// node has taken over since (this one is deposed).
pub(crate) async fn renew(
    client: &tokio_postgres::Client,
    epoch: i64,
    lease: Duration,
) -> Result<bool, tokio_postgres::Error> {
    let n = client
        .execute(
            "UPDATE baton_leader \
             SET expires_at = clock_timestamp() + $2::bigint * interval '1 millisecond' \
             WHERE id = 1 AND epoch = $1",
            &[&epoch, &millis(lease)],
        )
        .await?;
    Ok(n == 1)
}

/// Give the lease of `epoch` up (a clean shutdown): followers take over at
/// their next look instead of waiting for it to expire.
pub(crate) async fn release(
    client: &tokio_postgres::Client,
    epoch: i64,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE baton_leader SET expires_at = '-infinity' WHERE id = 1 AND epoch = $1",
            &[&epoch],
        )
        .await
        .map(|_| ())
}

/// The current leadership of the database `client` is connected to.
/// `Ok(None)` when the schema does not exist yet (nobody has led it).
pub(crate) async fn observe(
    client: &tokio_postgres::Client,
) -> Result<Option<Leadership>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT epoch, holder, advertise_url, expires_at <= clock_timestamp() \
             FROM baton_leader WHERE id = 1",
            &[],
        )
        .await;
    match row {
        Ok(row) => Ok(row.map(|r| Leadership {
            epoch: r.get(0),
            holder: r.get(1),
            advertise_url: r.get(2),
            vacant: r.get(3),
        })),
        Err(e) if e.code().is_some_and(|c| c.code() == UNDEFINED_TABLE) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Errors of [`Observer`].
#[derive(Debug, thiserror::Error)]
pub enum HaError {
    /// The storage URL does not parse.
    #[error("invalid storage URL: {0}")]
    Url(String),
    /// The database could not be reached or a statement failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The database did not answer in time.
    #[error("PostgreSQL did not answer within {0:?}")]
    Timeout(Duration),
}

/// A follower's view of the leadership row: one connection of its own
/// (reconnected when it breaks), read every [`poll_interval`].
pub struct Observer {
    config: tokio_postgres::Config,
    client: Option<tokio_postgres::Client>,
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer")
            .field("connected", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

impl Observer {
    /// An observer of the database at `url` (connects on first use).
    ///
    /// Errors: [`HaError::Url`] when `url` does not parse.
    pub fn new(url: &str) -> Result<Self, HaError> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| HaError::Url(format!("{e}")))?;
        config
            .connect_timeout(Duration::from_secs(5))
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30));
        Ok(Self {
            config,
            client: None,
        })
    }

    /// The leadership now: `None` when nobody has ever led the database.
    /// Bounded by `within` (the connection is dropped and made again at
    /// the next call when it is exceeded: a partitioned connection must not
    /// hang a follower).
    ///
    /// Errors: [`HaError::Postgres`] when the database cannot be reached;
    /// [`HaError::Timeout`] past `within`.
    pub async fn current_within(
        &mut self,
        within: Duration,
    ) -> Result<Option<Leadership>, HaError> {
        match tokio::time::timeout(within, self.current()).await {
            Ok(r) => r,
            Err(_) => {
                self.client = None;
                Err(HaError::Timeout(within))
            }
        }
    }

    /// The leadership now: `None` when nobody has ever led the database.
    ///
    /// Errors: [`HaError::Postgres`] when the database cannot be reached
    /// (the connection is made again at the next call).
    pub async fn current(&mut self) -> Result<Option<Leadership>, HaError> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            let (client, connection) = self.config.connect(tokio_postgres::NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "the leadership observer's connection ended");
                }
            });
            self.client = Some(client);
        }
        let Some(client) = self.client.as_ref() else {
            return Ok(None);
        };
        match observe(client).await {
            Ok(l) => Ok(l),
            Err(e) => {
                self.client = None;
                Err(e.into())
            }
        }
    }
}
