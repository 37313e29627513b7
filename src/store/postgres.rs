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
//! - **A commit group** is one transaction on a pooled connection:
//!   `BEGIN`, the group's writes as one `unnest` upsert and one delete
//!   (sent before any read inside the transaction, so reads see them),
//!   `COMMIT`. With
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

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use super::engine::{Engine, Entries, KvRead, KvWrite, Snapshot, TxError};
use super::{Entry, StoreError};

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
    /// wait for one.
    writer: Pool,
    /// Set when the session holding the advisory lock ended: from then on
    /// another node may hold the lock, so this one must not write.
    lock_lost: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The session holding the database's advisory lock (see [`LOCK_KEY`]);
    /// closing it (drop) releases the lock.
    _lock: tokio_postgres::Client,
    rt: Option<tokio::runtime::Runtime>,
}

/// The advisory lock a serving baton holds on its database, so a second
/// `baton serve` on the same database refuses to start instead of writing
/// beside the first (each node's actors own the board in memory). Several
/// nodes with automatic failover need a leader election with an epoch
/// checked by every write; until that exists, one node per database.
const LOCK_KEY: i64 = 0x6261_746f_6e5f_6c6b; // "baton_lk"

impl Drop for PostgresEngine {
    fn drop(&mut self) {
        // the last handle may go on an async worker, where a blocking
        // shutdown would panic; the pool's connections close with it
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

impl PostgresEngine {
    /// Connect to `url` (`postgres://user:pass@host:port/db`) with a pool of
    /// `pool_size` connections for readers, one connection of its own for
    /// the committer and one session holding the advisory lock, and run the
    /// pending migrations.
    ///
    /// Errors: [`StoreError::Postgres`] when the URL is malformed, the
    /// server cannot be reached within 10 s, or a migration fails.
    pub(crate) fn open(url: &str, pool_size: u32) -> Result<Self, StoreError> {
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
        match Self::connect(&rt, config, pool_size, timeout) {
            Ok((pool, writer, lock, lock_lost)) => Ok(Self {
                pool,
                writer,
                lock_lost,
                _lock: lock,
                rt: Some(rt),
            }),
            Err(e) => {
                // dropping a runtime blocks, which panics on an async worker
                rt.shutdown_background();
                Err(e)
            }
        }
    }

    /// The pools, the lock session (after taking the lock) and its watch
    /// flag; the schema migrated.
    #[allow(clippy::type_complexity)]
    fn connect(
        rt: &tokio::runtime::Runtime,
        config: tokio_postgres::Config,
        pool_size: u32,
        timeout: std::time::Duration,
    ) -> Result<
        (
            Pool,
            Pool,
            tokio_postgres::Client,
            std::sync::Arc<std::sync::atomic::AtomicBool>,
        ),
        StoreError,
    > {
        let pool_of = |size: usize| {
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
        let pool = pool_of(pool_size.max(1) as usize)?;
        let writer = pool_of(1)?;
        let lock_lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let lost = lock_lost.clone();
        let p = writer.clone();
        let lock = run(rt.handle(), async move {
            let (lock, connection) = config.connect(NoTls).await.map_err(pg)?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::error!(error = %e, "the PostgreSQL session holding baton's lock ended");
                }
                // whether it failed or closed: the lock is gone
                lost.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            // a store of this process that is still shutting down lets go
            // within moments; another node holds on
            let deadline = tokio::time::Instant::now() + super::LOCK_WAIT;
            let held = loop {
                let held: bool = lock
                    .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
                    .await
                    .map_err(pg)?
                    .get(0);
                if held || tokio::time::Instant::now() >= deadline {
                    break held;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            };
            if !held {
                return Err(StoreError::Postgres(
                    "another baton serves this database (it holds baton's advisory lock); \
                     one node per database until leader election exists"
                        .into(),
                ));
            }
            let mut conn = p.get().await.map_err(pg)?;
            embedded::migrations::runner()
                .run_async(&mut **conn)
                .await
                .map_err(|e| StoreError::Postgres(format!("schema migration failed: {e}")))?;
            Ok::<_, StoreError>(lock)
        })??;
        Ok((pool, writer, lock, lock_lost))
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

impl Engine for PostgresEngine {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut read = PgConn {
            conn: RefCell::new(Some(self.conn_from(&self.pool)?)),
            rt: self.handle()?.clone(),
            open_tx: false,
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
        let mut tx = PgConn {
            conn: RefCell::new(Some(self.conn_from(&self.writer).map_err(TxError::Apply)?)),
            rt: self.handle().map_err(TxError::Apply)?.clone(),
            open_tx: false,
            pending: RefCell::default(),
        };
        tx.exec("BEGIN").map_err(TxError::Apply)?;
        if self.lock_lost.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(TxError::Apply(StoreError::Postgres(
                "the session holding baton's advisory lock on the database ended; \
                 another node may serve it now, so this one stops writing"
                    .into(),
            )));
        }
        tx.open_tx = true;
        // on an error `tx` is dropped, which rolls it back
        apply(&mut tx).map_err(TxError::Apply)?;
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

    /// Send the pending writes (see [`PgConn::pending`]).
    fn flush(&self) -> Result<(), StoreError> {
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        if pending.is_empty() {
            return Ok(());
        }
        let (mut keys, mut values, mut gone) = (Vec::new(), Vec::new(), Vec::new());
        for (k, v) in pending {
            match v {
                Some(v) => {
                    keys.push(k);
                    values.push(v);
                }
                None => gone.push(k),
            }
        }
        self.with(|c| async move {
            let r = async {
                if !keys.is_empty() {
                    c.execute(
                        "INSERT INTO baton_board (k, v) \
                         SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                         ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                        &[&keys, &values],
                    )
                    .await?;
                }
                if !gone.is_empty() {
                    c.execute("DELETE FROM baton_board WHERE k = ANY($1)", &[&gone])
                        .await?;
                }
                Ok::<_, tokio_postgres::Error>(())
            }
            .await
            .map_err(pg);
            (c, r)
        })
    }

    fn exec(&self, sql: &'static str) -> Result<(), StoreError> {
        self.with(|c| async move {
            let r = c.batch_execute(sql).await.map_err(pg);
            (c, r)
        })
    }

    fn page(&self, from: Vec<u8>, to: Vec<u8>, inclusive: bool) -> Result<Vec<Entry>, StoreError> {
        let sql = if inclusive {
            "SELECT k, v FROM baton_board WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3"
        } else {
            "SELECT k, v FROM baton_board WHERE k > $1 AND k < $2 ORDER BY k LIMIT $3"
        };
        self.with(|c| async move {
            let r = c
                .query(sql, &[&from, &to, &PAGE])
                .await
                .map(|rows| rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
                .map_err(pg);
            (c, r)
        })
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        if self.open_tx {
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
            let r = c
                .query_opt("SELECT v FROM baton_board WHERE k = $1", &[&k])
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
            let r = c
                .query_opt(
                    "SELECT k, v FROM baton_board WHERE k >= $1 AND k < $2 ORDER BY k DESC LIMIT 1",
                    &[&start, &end],
                )
                .await
                .map(|row| row.map(|r| (r.get(0), r.get(1))))
                .map_err(pg);
            (c, r)
        })
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
        self.flush()?;
        let keys = keys.to_vec();
        self.with(|c| async move {
            let r = c
                .query_one(
                    "SELECT count(*) FROM baton_board WHERE k = ANY($1)",
                    &[&keys],
                )
                .await
                .map(|row| row.get::<_, i64>(0).max(0) as u64)
                .map_err(pg);
            (c, r)
        })
    }
}
