//! Reads: a task, its dependents, pages of tasks, the ready queue, every
//! task, the lease history, a task's audit log, stats and Prometheus text.
//! Store reads run on the blocking pool and then pass the read barrier, so
//! nothing shown is not yet durable. Once the store has failed, store reads
//! show what it committed before ([`Store::read_barrier`]) and reads of
//! actor memory are served from the board rebuilt from the store
//! ([`Board::memory_read`]): every read answers with what a restart would
//! show.

use std::future::Future;
use std::sync::Arc;

use super::pages::{LeaseFilter, LeasePage, Stats, TaskFilter, TaskPage, LEASE_SCAN_BUDGET};
use super::{check_worker, Board, Rebuilt};
use crate::actors::metrics::{GetSeries, RenderPrometheus};
use crate::actors::registry::ListReady;
use crate::actors::resolver::GetDependents;
use crate::core::table::TaskError;
use crate::error::Error;
use crate::model::{Event, Task, TaskId, TaskStatus};
use crate::store::{LeaseQuery, Store};

impl Board {
    /// Run a synchronous store read on the blocking pool, never on an
    /// actix-web worker or an arbiter (a store read can wait for the disk,
    /// and an audit log or a context can be large), then pass the read
    /// barrier: what the read saw is durable before it is shown.
    pub(super) async fn read<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> Result<T, Error> {
        let store = self.store.clone();
        let value = tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|_| Error::Unavailable(what))??;
        self.store.read_barrier().await?;
        Ok(value)
    }

    /// A read of the memory the actors keep beside the store: `live` while
    /// the store works, then the read barrier (what it saw is durable). Once
    /// the store has failed, that memory may hold changes that never became
    /// durable, so `durable` answers instead from the board rebuilt from
    /// the store. A read that raced the failure is answered from the rebuild
    /// too: the store is checked again after the barrier.
    pub(super) async fn memory_read<T>(
        &self,
        live: impl Future<Output = Result<T, Error>>,
        durable: impl FnOnce(&Rebuilt) -> T,
    ) -> Result<T, Error> {
        if !self.store.is_failed() {
            let value = live.await;
            let passed = self.store.barrier().await;
            if !self.store.is_failed() {
                passed?;
                return value;
            }
        }
        Ok(durable(&*self.rebuilt().await?))
    }

    /// The board rebuilt from the failed store (see `rebuild.rs`), built by
    /// the first caller; its counts then replace the actors' in the
    /// [`BoardView`](crate::actors::BoardView) (for `/metrics`).
    pub(super) async fn rebuilt(&self) -> Result<Arc<Rebuilt>, Error> {
        let built = self
            .durable
            .get_or_try_init(|| async {
                let (store, settings, now) =
                    (self.store.clone(), self.settings.clone(), self.clock.now());
                let rebuilt = tokio::task::spawn_blocking(move || {
                    Rebuilt::from_store(&store, &settings, now)
                })
                .await
                .map_err(|_| Error::Unavailable("the board rebuild"))??;
                tracing::warn!(
                    tasks = rebuilt.table.len(),
                    "the store failed: reads show the board as stored (what a restart shows)"
                );
                Ok::<_, Error>(Arc::new(rebuilt))
            })
            .await?
            .clone();
        self.view
            .set_durable(built.table.counts(), built.slots.busy());
        Ok(built)
    }

    /// The task with id `id`, read from durable state.
    ///
    /// Errors: an invalid id ([`Error::Task`] `Invalid`), `TaskError::NotFound`, or
    /// `Unavailable` while shutting down.
    pub async fn get_task(&self, id: &str) -> Result<Task, Error> {
        let id = self.id(id)?;
        let key = id.clone();
        let task = self.read("a task read", move |s| s.get_task(&key)).await?;
        task.ok_or_else(|| TaskError::NotFound(id).into())
    }

    /// One task and its direct dependents.
    pub async fn task_detail(&self, id: &str) -> Result<(Task, Vec<TaskId>), Error> {
        let task = self.get_task(id).await?;
        let live = self.resolver.send(GetDependents {
            id: task.id.clone(),
        });
        let dependents = self
            .memory_read(async { Ok(live.await?) }, |d| d.graph.dependents(&task.id))
            .await?;
        Ok((task, dependents))
    }

    /// A page of tasks in id order.
    pub async fn list_tasks(&self, f: TaskFilter) -> Result<TaskPage, Error> {
        let api = &self.settings.api;
        let limit = f.limit.unwrap_or(api.default_page_size);
        if limit == 0 || limit > api.max_page_size {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {}", api.max_page_size),
            ));
        }
        let last_event_id = self.store.last_event_id()?;
        let store = self.store.clone();
        let page = tokio::task::spawn_blocking(move || {
            let mut tasks = Vec::with_capacity(limit.min(1024));
            let mut next_cursor = None;
            for t in store.tasks_after(f.cursor.as_deref()) {
                let t = t?;
                if f.status.is_some_and(|s| t.status != s)
                    || f.tag.as_ref().is_some_and(|tag| !t.tags.contains(tag))
                    || f.worker
                        .as_ref()
                        .is_some_and(|w| t.lease.as_ref().is_none_or(|l| l.worker != *w))
                {
                    continue;
                }
                if tasks.len() == limit {
                    next_cursor = tasks.last().map(|t: &Task| t.id.to_string());
                    break;
                }
                tasks.push(t);
            }
            Ok::<_, Error>(TaskPage {
                tasks,
                next_cursor,
                last_event_id,
            })
        })
        .await
        .map_err(|_| Error::Unavailable("the task lister"))??;
        self.store.read_barrier().await?;
        Ok(page)
    }

    /// Every ready task an agent may claim (not executor tasks — they are
    /// the dispatcher's), best first (priority, then age). Read from the
    /// registry's in-memory ready queue, then a read barrier: what is shown
    /// is durable.
    pub async fn available_tasks(&self) -> Result<Vec<Task>, Error> {
        let live = self.registry.send(ListReady);
        self.memory_read(async { Ok(live.await?) }, |d| {
            d.table
                .ready_where(|t| t.executor.is_none())
                .cloned()
                .collect()
        })
        .await
    }

    /// Every task, in id order.
    pub async fn all_tasks(&self) -> Result<Vec<Task>, Error> {
        let store = self.store.clone();
        let tasks = tokio::task::spawn_blocking(move || {
            store.tasks_after(None).collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|_| Error::Unavailable("the task lister"))??;
        self.store.read_barrier().await?;
        Ok(tasks)
    }

    /// The lease history (who held which task when, and how each lease
    /// ended), built from the audit log. Errors: `limit` outside
    /// `1..=api.max_page_size`, a `cursor` that is not one this returned,
    /// `since` after `until`, or a blank `worker` (all `invalid_field`).
    pub async fn lease_history(&self, f: LeaseFilter) -> Result<LeasePage, Error> {
        let api = &self.settings.api;
        let limit = f.limit.unwrap_or(api.default_page_size);
        if limit == 0 || limit > api.max_page_size {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {}", api.max_page_size),
            ));
        }
        let after = match f.cursor.as_deref() {
            None => None,
            Some(c) => Some(c.parse::<u64>().map_err(|_| {
                Error::invalid("cursor", "must be the next_cursor of a previous page")
            })?),
        };
        if let (Some(s), Some(u)) = (f.since, f.until) {
            if s > u {
                return Err(Error::invalid("since", "must not be after until"));
            }
        }
        if let Some(w) = &f.worker {
            check_worker(w)?;
        }
        let q = LeaseQuery {
            since: f.since,
            until: f.until,
            worker: f.worker,
            after,
            limit,
            max_scan: LEASE_SCAN_BUDGET,
        };
        let page = self
            .read("the lease history", move |s| s.lease_history(&q))
            .await?;
        Ok(LeasePage {
            leases: page.leases,
            next_cursor: page.next_cursor.map(|c| c.to_string()),
        })
    }

    /// A task's audit log.
    pub async fn task_events(&self, id: &str) -> Result<Vec<Event>, Error> {
        let task = self.get_task(id).await?;
        self.read("an audit log read", move |s| s.task_events(&task.id))
            .await
    }

    /// Counts and series. The counts are durable: the registry's once the
    /// read barrier passed, the rebuilt board's once the store has failed.
    pub async fn stats(&self) -> Result<Stats, Error> {
        let view = &self.view;
        let (counts, busy) = self
            .memory_read(async { Ok((view.counts(), view.slots_busy())) }, |d| {
                (d.table.counts(), d.slots.busy())
            })
            .await?;
        let mut tasks = serde_json::Map::new();
        for s in TaskStatus::ALL {
            tasks.insert(s.as_str().into(), counts[s.index()].into());
        }
        tasks.insert("total".into(), counts.iter().sum::<usize>().into());
        let series = self.collector.send(GetSeries).await?;
        Ok(Stats {
            tasks,
            slots: serde_json::json!({"total": self.view.slots_total, "busy": busy}),
            series,
            uptime_secs: self.view.started.elapsed().as_secs(),
            store: serde_json::json!({"commits": self.store.commit_count(), "flushes": self.store.flush_count()}),
        })
    }

    /// Every metric in Prometheus' text exposition format (OpenMetrics, ending in `#
    /// EOF`), the downstream pool's series included: the body of `GET /metrics`.
    /// Once the store has failed, the task and slot gauges are the rebuilt board's (see
    /// `Board::memory_read`).
    pub async fn prometheus(&self) -> Result<String, Error> {
        if self.store.is_failed() {
            self.rebuilt().await?;
        }
        let mut text = self.collector.send(RenderPrometheus).await?;
        if let Some(pool) = &self.pool {
            let body = crate::pool::metrics::render(&pool.status().await);
            match text.rfind("# EOF") {
                Some(at) => text.insert_str(at, &body),
                None => text.push_str(&body),
            }
        }
        Ok(text)
    }
}
