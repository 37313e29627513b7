//! The PostgreSQL engine: the board's ordered key space as one table,
//! `baton_board (k bytea PRIMARY KEY, v bytea NOT NULL)`, so every rule of
//! the store above the [`Engine`] seam (key layout, group commit, failure
//! handling, deletion, indexes, backups) is the one the embedded engine
//! follows.
//!
//! - **Snapshots** are `REPEATABLE READ READ ONLY` transactions on a pooled
//!   connection ([deadpool-postgres](https://docs.rs/deadpool-postgres) over
//!   [tokio-postgres](https://docs.rs/tokio-postgres)): every read of one snapshot
//!   sees the same committed state, and nothing later. Ranges are read in
//!   pages of [`PAGE`] rows (keyset paging on the primary key), so a scan of
//!   a 1,000,000-task board holds one page at a time.
//! - **A commit group** is one transaction on the committer's connection:
//!   `BEGIN` and the leader's fence (see [`leader`]), the group's writes
//!   as one `unnest` upsert and one delete (sent before any read inside the
//!   transaction, so reads see them), `COMMIT`, nothing committed unless
//!   the fence found this node's epoch. Statements are prepared once per
//!   connection, and what can go together goes in one pipeline: `BEGIN`,
//!   the fence and the group's first read (the task count) are one round
//!   trip, and so are the writes and the count after them. With
//!   PostgreSQL's default `synchronous_commit = on`, `COMMIT` returns once
//!   the WAL is flushed, so an acknowledged write survives a crash of the
//!   database too. A failure before `COMMIT` rolls the group back
//!   ([`TxError::Apply`]); a failure of `COMMIT` itself (the connection
//!   dropped) leaves its outcome unknown ([`TxError::Commit`]), which the
//!   store reports as such.
//! - **Threads.** The store's API is synchronous (its callers are the
//!   committer thread and blocking reads), and some reads happen on async
//!   workers. The engine therefore owns a small tokio runtime of its own;
//!   each query runs there and the calling thread waits on a plain channel,
//!   which is safe from any thread, inside another runtime or not.
//! - **The schema** is created and migrated by baton at open, with
//!   [refinery](https://docs.rs/refinery) and the versioned SQL files in
//!   `migrations/`.

use std::cell::RefCell;
use std::future::Future;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use super::leader::{self, Candidate};
use super::{Engine, Entries, Entry, KvRead, KvWrite, Snapshot, TxError};
use crate::store::error::StoreError;

/// Rows per page of a range read.
const PAGE: i64 = 512;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// A board stored in PostgreSQL (see the module docs).
pub(crate) struct PostgresEngine {
    /// Readers' connections (snapshots).
    pool: Pool,
    /// The committer's own connection (a pool of one), so readers holding
    /// every pooled connection (a long backup, scans) never make a commit
    /// wait for one. Its session has `statement_timeout`,
    /// `lock_timeout` and `idle_in_transaction_session_timeout` set (see
    /// [`leader`]): a leader paused inside a write transaction must not
    /// hold up a takeover.
    writer: Pool,
    /// The leadership this engine writes under (see [`leader`]).
    epoch: i64,
    /// Set once another node has taken over (a renewal or a write's fence
    /// found another epoch): from then on every write is refused.
    deposed: Arc<AtomicBool>,
    /// Stops the lease keeper, which then gives the lease up (unless
    /// deposed) and answers on the channel it was handed.
    keeper: Option<tokio::sync::oneshot::Sender<std::sync::mpsc::SyncSender<()>>>,
    rt: Option<tokio::runtime::Runtime>,
}

/// The session-level advisory lock held while migrating the schema, so
/// nodes starting together on a new database migrate it once.
const MIGRATE_KEY: i64 = 0x6261_746f_6e5f_6d67; // "baton_mg"

impl Drop for PostgresEngine {
    fn drop(&mut self) {
        // the lease keeper gives the lease up first (bounded: a dead
        // database must not hold a shutdown), then the runtime goes; the
        // last handle may go on an async worker, where a blocking shutdown
        // would panic
        if let Some(keeper) = self.keeper.take() {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            if keeper.send(tx).is_ok() {
                let _ = rx.recv_timeout(std::time::Duration::from_secs(2));
            }
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

fn pg(e: impl std::fmt::Display) -> StoreError {
    StoreError::Postgres(e.to_string())
}

/// Run `fut` on `rt` and wait for it on this thread.
fn run<T: Send + 'static>(
    rt: &tokio::runtime::Handle,
    fut: impl Future<Output = T> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv()
        .map_err(|_| StoreError::Postgres("the database runtime stopped".into()))
}

/// `config` with `-c name=value` session settings appended to its options.
fn with_session_settings(
    mut config: tokio_postgres::Config,
    settings: &[(&str, std::time::Duration)],
) -> tokio_postgres::Config {
    let mut options = config.get_options().unwrap_or_default().to_owned();
    for (name, d) in settings {
        if !options.is_empty() {
            options.push(' ');
        }
        options.push_str(&format!("-c {name}={}", d.as_millis().max(1)));
    }
    config.options(&options);
    config
}

impl PostgresEngine {
    /// Connect to `url` (`postgres://user:pass@host:port/db`) with a pool of
    /// `pool_size` connections for readers, one connection of its own for
    /// the committer and one session keeping the lease, run the pending
    /// migrations and take the leadership for `candidate` (see
    /// [`leader`]), waiting up to `candidate.wait` while another node's
    /// lease is live.
    ///
    /// Errors: [`StoreError::Postgres`] when the URL is malformed, the
    /// server cannot be reached within 10 s, or a migration fails;
    /// [`StoreError::Led`] when another node leads the database.
    pub(crate) fn open(
        url: &str,
        pool_size: u32,
        candidate: &Candidate,
    ) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Postgres(format!("invalid storage URL: {e}")))?;
        let timeout = std::time::Duration::from_secs(10);
        config
            .connect_timeout(timeout)
            .keepalives(true)
            .keepalives_idle(std::time::Duration::from_secs(30));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("baton-postgres")
            .enable_all()
            .build()
            .map_err(StoreError::Thread)?;
        match Self::connect(&rt, config, pool_size, timeout, candidate) {
            Ok((pool, writer, epoch, deposed, keeper)) => Ok(Self {
                pool,
                writer,
                epoch,
                deposed,
                keeper: Some(keeper),
                rt: Some(rt),
            }),
            Err(e) => {
                // dropping a runtime blocks, which panics on an async worker
                rt.shutdown_background();
                Err(e)
            }
        }
    }

    /// The pools, the epoch taken, the deposed flag and the lease keeper's
    /// stop channel; the schema migrated.
    #[allow(clippy::type_complexity)]
    fn connect(
        rt: &tokio::runtime::Runtime,
        config: tokio_postgres::Config,
        pool_size: u32,
        timeout: std::time::Duration,
        candidate: &Candidate,
    ) -> Result<
        (
            Pool,
            Pool,
            i64,
            Arc<AtomicBool>,
            tokio::sync::oneshot::Sender<std::sync::mpsc::SyncSender<()>>,
        ),
        StoreError,
    > {
        let pool_of = |config: &tokio_postgres::Config, size: usize| {
            let manager = Manager::from_config(
                config.clone(),
                NoTls,
                ManagerConfig {
                    recycling_method: RecyclingMethod::Fast,
                },
            );
            Pool::builder(manager)
                .max_size(size)
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .wait_timeout(Some(timeout))
                .create_timeout(Some(timeout))
                .build()
                .map_err(pg)
        };
        let lease = candidate.lease;
        // a write paused inside its transaction is ended by PostgreSQL
        // before a takeover could wait long for it (see leader)
        // (an offline command — a restore reading a slow pipe between
        // flushes — has no one to hand over to, so no timeouts there)
        let fenced_config = if candidate.advertise_url.is_empty() {
            config.clone()
        } else {
            with_session_settings(
                config.clone(),
                &[
                    ("statement_timeout", lease),
                    ("lock_timeout", lease / 2),
                    ("idle_in_transaction_session_timeout", lease / 2),
                ],
            )
        };
        let pool = pool_of(&config, pool_size.max(1) as usize)?;
        let writer = pool_of(&fenced_config, 1)?;
        let deposed = Arc::new(AtomicBool::new(false));
        let p = pool.clone();
        let candidate = candidate.clone();
        let keeper_config = fenced_config.clone();
        let (client, epoch) = run(rt.handle(), async move {
            let (client, connection) = keeper_config.connect(NoTls).await.map_err(pg)?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "the PostgreSQL session keeping baton's lease ended");
                }
            });
            // nodes starting together on a new database migrate it once
            // (on a readers' connection: no statement or lock timeouts)
            let mut conn = p.get().await.map_err(pg)?;
            conn.execute("SELECT pg_advisory_lock($1)", &[&MIGRATE_KEY])
                .await
                .map_err(pg)?;
            let migrated = embedded::migrations::runner()
                .run_async(&mut **conn)
                .await
                .map_err(|e| StoreError::Postgres(format!("schema migration failed: {e}")));
            conn.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_KEY])
                .await
                .map_err(pg)?;
            drop(conn);
            migrated?;
            // a node of this process that is still shutting down lets go
            // within moments; a live leader holds on
            let deadline = tokio::time::Instant::now() + candidate.wait;
            loop {
                if let Some(epoch) = leader::acquire(&client, &candidate).await.map_err(pg)? {
                    tracing::info!(epoch, holder = %candidate.holder, "leading the database");
                    return Ok::<_, StoreError>((client, epoch));
                }
                if tokio::time::Instant::now() >= deadline {
                    let now = leader::observe(&client).await.map_err(pg)?;
                    return Err(StoreError::Led {
                        holder: now.map(|l| l.holder).unwrap_or_default(),
                    });
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })??;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        rt.spawn(keep_lease(
            fenced_config,
            client,
            epoch,
            lease,
            deposed.clone(),
            stopped,
        ));
        Ok((pool, writer, epoch, deposed, stop))
    }

    /// The flag set once another node took the leadership over.
    pub(crate) fn deposed_flag(&self) -> Arc<AtomicBool> {
        self.deposed.clone()
    }

    fn handle(&self) -> Result<&tokio::runtime::Handle, StoreError> {
        self.rt
            .as_ref()
            .map(|rt| rt.handle())
            .ok_or(StoreError::Closed)
    }

    fn conn_from(&self, pool: &Pool) -> Result<Object, StoreError> {
        let pool = pool.clone();
        run(self.handle()?, async move { pool.get().await.map_err(pg) })?
    }
}

/// No longer the leader: mark the engine deposed (its writes are refused),
/// then wait for the stop and answer it (there is no lease to give up).
async fn step_aside(
    deposed: &AtomicBool,
    stop: tokio::sync::oneshot::Receiver<std::sync::mpsc::SyncSender<()>>,
) {
    deposed.store(true, Ordering::SeqCst);
    if let Ok(done) = stop.await {
        let _ = done.send(());
    }
}

/// Renew the lease of `epoch` every quarter of `lease` until deposed (a
/// renewal matched no row: another node took over, `deposed` is set) or
/// told to stop (then the lease is given up, unless deposed, and the
/// sender handed over is answered). A broken session is made again: a
/// database restart does not depose a leader nobody replaced.
async fn keep_lease(
    config: tokio_postgres::Config,
    client: tokio_postgres::Client,
    epoch: i64,
    lease: std::time::Duration,
    deposed: Arc<AtomicBool>,
    mut stop: tokio::sync::oneshot::Receiver<std::sync::mpsc::SyncSender<()>>,
) {
    let mut client = Some(client);
    let every = lease / 4;
    let mut renewed = tokio::time::Instant::now();
    loop {
        if renewed.elapsed() >= lease {
            // nobody may have taken over, but this node cannot know: past
            // its lease it must not count itself the leader
            tracing::error!(
                epoch,
                "the leader's lease lapsed unrenewed: this node stops leading"
            );
            return step_aside(&deposed, stop).await;
        }
        tokio::select! {
            done = &mut stop => {
                if !deposed.load(Ordering::SeqCst) {
                    if let Some(c) = client.as_ref().filter(|c| !c.is_closed()) {
                        let released = tokio::time::timeout(
                            std::time::Duration::from_secs(1),
                            leader::release(c, epoch),
                        )
                        .await;
                        if let Ok(Ok(())) = released {
                            tracing::info!(epoch, "gave the leadership up");
                        }
                    }
                }
                if let Ok(done) = done {
                    let _ = done.send(());
                }
                return;
            }
            _ = tokio::time::sleep(every) => {}
        }
        if client.as_ref().is_none_or(|c| c.is_closed()) {
            match config.connect(NoTls).await {
                Ok((c, connection)) => {
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                    client = Some(c);
                }
                Err(e) => {
                    tracing::warn!(error = %e, epoch, "cannot reach PostgreSQL to renew the leader's lease");
                    continue;
                }
            }
        }
        let Some(c) = client.as_ref() else { continue };
        // the lease runs from the renewal's UPDATE, which is after this
        let sent = tokio::time::Instant::now();
        let renewal = tokio::time::timeout(every, leader::renew(c, epoch, lease)).await;
        let Ok(renewal) = renewal else {
            tracing::warn!(epoch, "renewing the leader's lease timed out; reconnecting");
            client = None;
            continue;
        };
        match renewal {
            Ok(true) => renewed = sent,
            Ok(false) => {
                tracing::error!(
                    epoch,
                    "another node took the leadership over: this one stops writing"
                );
                return step_aside(&deposed, stop).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, epoch, "renewing the leader's lease failed; retrying");
            }
        }
    }
}

impl Engine for PostgresEngine {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut read = PgConn {
            conn: RefCell::new(Some(self.conn_from(&self.pool)?)),
            rt: self.handle()?.clone(),
            open_tx: false,
            unbegun: std::cell::Cell::new(false),
            fence: std::cell::Cell::new(None),
            pending: RefCell::default(),
        };
        read.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        read.open_tx = true;
        Ok(Box::new(read))
    }

    fn transact(
        &self,
        apply: &mut dyn FnMut(&mut dyn KvWrite) -> Result<(), StoreError>,
        before_commit: &mut dyn FnMut() -> Result<(), StoreError>,
    ) -> Result<(), TxError> {
        if self.deposed.load(Ordering::SeqCst) {
            return Err(TxError::Apply(StoreError::Deposed { epoch: self.epoch }));
        }
        let mut tx = PgConn {
            conn: RefCell::new(Some(self.conn_from(&self.writer).map_err(TxError::Apply)?)),
            rt: self.handle().map_err(TxError::Apply)?.clone(),
            open_tx: true,
            // BEGIN and the fence go with the first statement (pipelined)
            unbegun: std::cell::Cell::new(true),
            fence: std::cell::Cell::new(None),
            pending: RefCell::default(),
        };
        // on an error `tx` is dropped, which rolls it back
        apply(&mut tx).map_err(TxError::Apply)?;
        // nothing commits before the fence said this node still leads:
        // whatever the transaction sent is rolled back otherwise
        tx.begin().map_err(TxError::Apply)?;
        match tx.fence.get().flatten() {
            Some((epoch, true)) if epoch == self.epoch => {}
            Some((epoch, false)) if epoch == self.epoch => {
                return Err(TxError::Apply(StoreError::Postgres(format!(
                    "this node's lease on the leadership (epoch {epoch}) lapsed: it was not \
                     renewed in time, so this node may not write until it leads again"
                ))));
            }
            _ => {
                self.deposed.store(true, Ordering::SeqCst);
                tracing::error!(
                    epoch = self.epoch,
                    "a write found another leader's epoch: this node stops writing"
                );
                return Err(TxError::Apply(StoreError::Deposed { epoch: self.epoch }));
            }
        }
        tx.flush().map_err(TxError::Apply)?;
        before_commit().map_err(TxError::Apply)?;
        tx.open_tx = false;
        tx.exec("COMMIT").map_err(TxError::Commit)
    }
}

/// A pooled connection inside a transaction (a snapshot's read-only one or
/// a commit group's); rolled back if dropped while the transaction is open.
struct PgConn {
    conn: RefCell<Option<Object>>,
    rt: tokio::runtime::Handle,
    open_tx: bool,
    /// A write transaction whose `BEGIN` and fence are not sent yet: they
    /// go with its first statement, in the same round trip.
    unbegun: std::cell::Cell<bool>,
    /// What the fence found (once sent): the epoch and whether its lease
    /// was live; `None` inside when the row is missing.
    fence: std::cell::Cell<Option<Option<(i64, bool)>>>,
    /// Writes of the transaction not sent yet (the last write of each key
    /// wins; `None` removes). They go as one upsert and one delete before
    /// the next read and before `COMMIT`, instead of a round trip each.
    pending: RefCell<std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
}

impl PgConn {
    /// Run `f` with the connection on the engine's runtime.
    fn with<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Object) -> Fut,
        Fut: Future<Output = (Object, Result<T, StoreError>)> + Send + 'static,
    {
        let conn = self.conn.borrow_mut().take().ok_or(StoreError::Closed)?;
        let (conn, result) = run(&self.rt, f(conn))?;
        *self.conn.borrow_mut() = Some(conn);
        result
    }

    /// Take the pending writes (see [`PgConn::pending`]), split into the
    /// upserted keys, their values and the removed keys.
    fn take_pending(&self) -> Writes {
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        let mut w = Writes::default();
        for (k, v) in pending {
            match v {
                Some(v) => {
                    w.keys.push(k);
                    w.values.push(v);
                }
                None => w.gone.push(k),
            }
        }
        w
    }

    /// Send the pending writes (see [`PgConn::pending`]).
    fn flush(&self) -> Result<(), StoreError> {
        self.begin()?;
        let w = self.take_pending();
        if w.is_empty() {
            return Ok(());
        }
        self.with(|c| async move {
            let r = w.send(&c).await.map_err(pg);
            (c, r)
        })
    }

    /// Send a write transaction's `BEGIN` and the leader's fence
    /// ([`leader::FENCE`]) if not sent yet, pipelined, and keep what the
    /// fence found (the transaction then holds the leadership row `FOR KEY
    /// SHARE` until it ends).
    fn begin(&self) -> Result<(), StoreError> {
        if !self.unbegun.get() {
            return Ok(());
        }
        let fence = self.with(move |c| async move {
            let r = async {
                let st = c.prepare_cached(leader::FENCE).await?;
                let begin = c.batch_execute("BEGIN");
                let fence = c.query_opt(&st, &[]);
                // biased: BEGIN is sent first
                let ((), row) = tokio::try_join!(biased; begin, fence)?;
                Ok::<_, tokio_postgres::Error>(row.map(|r| (r.get(0), r.get(1))))
            }
            .await
            .map_err(pg);
            (c, r)
        })?;
        self.unbegun.set(false);
        self.fence.set(Some(fence));
        Ok(())
    }

    fn exec(&self, sql: &'static str) -> Result<(), StoreError> {
        self.with(|c| async move {
            let r = c.batch_execute(sql).await.map_err(pg);
            (c, r)
        })
    }

    fn page(&self, from: Vec<u8>, to: Vec<u8>, inclusive: bool) -> Result<Vec<Entry>, StoreError> {
        self.begin()?;
        let sql = if inclusive {
            "SELECT k, v FROM baton_board WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3"
        } else {
            "SELECT k, v FROM baton_board WHERE k > $1 AND k < $2 ORDER BY k LIMIT $3"
        };
        self.with(|c| async move {
            let r = async {
                let st = c.prepare_cached(sql).await?;
                c.query(&st, &[&from, &to, &PAGE]).await
            }
            .await
            .map(|rows| rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
            .map_err(pg);
            (c, r)
        })
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        if self.open_tx && !self.unbegun.get() {
            // back to the pool outside any transaction (a failed rollback
            // leaves a broken connection, which the pool discards)
            let _ = self.exec("ROLLBACK");
        }
    }
}

impl KvRead for PgConn {
    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.flush()?;
        let k = k.to_vec();
        self.with(|c| async move {
            let r = async {
                let st = c
                    .prepare_cached("SELECT v FROM baton_board WHERE k = $1")
                    .await?;
                c.query_opt(&st, &[&k]).await
            }
            .await
            .map(|row| row.map(|r| r.get(0)))
            .map_err(pg);
            (c, r)
        })
    }

    fn range(&self, start: &[u8], end: &[u8]) -> Result<Entries<'_>, StoreError> {
        self.flush()?;
        let end = end.to_vec();
        let mut next = start.to_vec();
        let mut first = true;
        let mut done = false;
        let mut buf = std::collections::VecDeque::new();
        Ok(Box::new(std::iter::from_fn(move || {
            if buf.is_empty() && !done {
                let inclusive = first;
                first = false;
                match self.page(next.clone(), end.clone(), inclusive) {
                    Ok(rows) => {
                        done = rows.len() < PAGE as usize;
                        if let Some((k, _)) = rows.last() {
                            next.clone_from(k);
                        }
                        buf.extend(rows);
                    }
                    Err(e) => {
                        done = true;
                        return Some(Err(e));
                    }
                }
            }
            buf.pop_front().map(Ok)
        })))
    }

    fn last(&self, start: &[u8], end: &[u8]) -> Result<Option<Entry>, StoreError> {
        self.flush()?;
        let (start, end) = (start.to_vec(), end.to_vec());
        self.with(|c| async move {
            let r = async {
                let st = c
                    .prepare_cached(
                        "SELECT k, v FROM baton_board WHERE k >= $1 AND k < $2 \
                         ORDER BY k DESC LIMIT 1",
                    )
                    .await?;
                c.query_opt(&st, &[&start, &end]).await
            }
            .await
            .map(|row| row.map(|r| (r.get(0), r.get(1))))
            .map_err(pg);
            (c, r)
        })
    }
}

/// A transaction's pending writes, ready to send.
#[derive(Default)]
struct Writes {
    keys: Vec<Vec<u8>>,
    values: Vec<Vec<u8>>,
    gone: Vec<Vec<u8>>,
}

impl Writes {
    fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.gone.is_empty()
    }

    /// One upsert and one delete (each only when needed), pipelined, then
    /// `then` in the same pipeline. The statements are prepared first
    /// (cached per connection: no round trip after the first use), so the
    /// three go out in this order.
    async fn send_then<T>(
        &self,
        c: &Object,
        then: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, tokio_postgres::Error> {
        let upsert = if self.keys.is_empty() {
            None
        } else {
            Some(
                c.prepare_cached(
                    "INSERT INTO baton_board (k, v) \
                     SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                     ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                )
                .await?,
            )
        };
        let delete = if self.gone.is_empty() {
            None
        } else {
            Some(
                c.prepare_cached("DELETE FROM baton_board WHERE k = ANY($1)")
                    .await?,
            )
        };
        let up = async {
            match &upsert {
                Some(st) => c.execute(st, &[&self.keys, &self.values]).await.map(|_| ()),
                None => Ok(()),
            }
        };
        let del = async {
            match &delete {
                Some(st) => c.execute(st, &[&self.gone]).await.map(|_| ()),
                None => Ok(()),
            }
        };
        // `then` is lazy: nothing of it is sent before it is polled here
        let ((), (), out) = tokio::try_join!(biased; up, del, then)?;
        Ok(out)
    }

    /// [`Writes::send_then`] with nothing after.
    async fn send(&self, c: &Object) -> Result<(), tokio_postgres::Error> {
        self.send_then(c, async { Ok(()) }).await
    }
}

/// Pending writes sent early, inside the same transaction, past this many
/// keys (a restore writes a whole board in one transaction; one statement
/// must stay well under PostgreSQL's 1 GiB message limit).
const FLUSH_KEYS: usize = 10_000;

impl KvWrite for PgConn {
    fn insert(&mut self, k: &[u8], v: &[u8]) -> Result<(), StoreError> {
        self.pending.get_mut().insert(k.to_vec(), Some(v.to_vec()));
        if self.pending.get_mut().len() >= FLUSH_KEYS {
            self.flush()?;
        }
        Ok(())
    }

    fn remove(&mut self, k: &[u8]) -> Result<(), StoreError> {
        self.pending.get_mut().insert(k.to_vec(), None);
        if self.pending.get_mut().len() >= FLUSH_KEYS {
            self.flush()?;
        }
        Ok(())
    }

    fn count_present(&self, keys: &[Vec<u8>]) -> Result<u64, StoreError> {
        // BEGIN and the fence (a commit group's first statement is this
        // count), the pending writes and the count: one round trip
        let unbegun = self.unbegun.get();
        let w = self.take_pending();
        let keys = keys.to_vec();
        let (fence, count) = self.with(|c| async move {
            let r = async {
                let fence_st = c.prepare_cached(leader::FENCE).await?;
                let st = c
                    .prepare_cached("SELECT count(*) FROM baton_board WHERE k = ANY($1)")
                    .await?;
                let begin = async {
                    if !unbegun {
                        return Ok(None);
                    }
                    c.batch_execute("BEGIN").await?;
                    Ok(Some(()))
                };
                let fence = async {
                    if !unbegun {
                        return Ok(None);
                    }
                    c.query_opt(&fence_st, &[]).await.map(Some)
                };
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&keys];
                let rest = w.send_then(&c, c.query_one(&st, &params));
                // biased: sent in this order
                let (_, fence, row) = tokio::try_join!(biased; begin, fence, rest)?;
                Ok::<_, tokio_postgres::Error>((fence, row))
            }
            .await
            .map_err(pg);
            (c, r)
        })?;
        if let Some(f) = fence {
            self.unbegun.set(false);
            self.fence.set(Some(f.map(|r| (r.get(0), r.get(1)))));
        }
        Ok(count.get::<_, i64>(0).max(0) as u64)
    }
}
