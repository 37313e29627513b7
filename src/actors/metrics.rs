//! `MetricsCollector` and the shared [`Metrics`] handles.
//!
//! Recording is lock-free on the hot path: request handlers and the registry
//! bump shared atomics ([`Metrics`]) instead of sending a message per request.
//! The collector actor owns what needs a single owner: once a second it samples
//! those counters into ring buffers (claims/s, completions/s, adds/s, request
//! p50/p99) for sparklines, and it renders the Prometheus text exposition
//! (`/metrics`, series prefixed `baton_`) and the JSON series of
//! `/api/v1/stats`. Messages: [`RenderPrometheus`], [`GetSeries`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::actors::BoardView;
use crate::model::{EventKind, TaskStatus};
use crate::store::Store;

/// Samples kept per series (one per second).
pub const SERIES_LEN: usize = 120;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

/// A fixed log-scale latency histogram of atomics, cheap to record and to
/// diff, for per-second quantiles.
#[derive(Debug)]
pub struct LatencyBuckets {
    buckets: Vec<AtomicU64>,
}

const SUB: u32 = 4;

impl Default for LatencyBuckets {
    fn default() -> Self {
        Self {
            buckets: (0..(64 * SUB as usize))
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }
}

impl LatencyBuckets {
    fn index(us: u64) -> usize {
        let us = us.max(1);
        let log = 63 - us.leading_zeros();
        let sub = if log >= 2 { (us >> (log - 2)) & 3 } else { 0 };
        (log * SUB) as usize + sub as usize
    }

    fn upper_us(idx: usize) -> f64 {
        let log = (idx as u32) / SUB;
        let sub = (idx as u32) % SUB;
        let base = 2f64.powi(log as i32);
        base + base * f64::from(sub + 1) / f64::from(SUB)
    }

    /// Record one duration.
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if let Some(b) = self.buckets.get(Self::index(us)) {
            b.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn snapshot(&self) -> Vec<u64> {
        self.buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }

    /// Quantile `q` (0..1) in milliseconds of the counts `now - before`.
    fn quantile_ms(now: &[u64], before: &[u64], q: f64) -> f64 {
        let diff: Vec<u64> = now
            .iter()
            .zip(before)
            .map(|(a, b)| a.saturating_sub(*b))
            .collect();
        let total: u64 = diff.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let target = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in diff.iter().enumerate() {
            seen += c;
            if seen >= target {
                return Self::upper_us(i) / 1000.0;
            }
        }
        0.0
    }
}

/// Shared metric handles; record from anywhere without a mailbox hop.
pub struct Metrics {
    registry: Mutex<Registry>,
    http_requests: Family<HttpLabels, Counter>,
    http_latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    task_events: Family<EventLabels, Counter>,
    run_time: Histogram,
    tasks: Family<StatusLabels, Gauge>,
    slots_total: Gauge,
    slots_busy: Gauge,
    store_commits: Gauge,
    store_flushes: Gauge,
    context_actors: Gauge,
    mcp_forwarders: Gauge,
    open_fds: Gauge,
    max_fds: Gauge,
    sse_streams: Gauge,
    claimed: AtomicU64,
    completed: AtomicU64,
    added: AtomicU64,
    latency: LatencyBuckets,
    skipped_paths: Counter,
    skipped_concurrency: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn request_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("baton");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_latency =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                request_histogram as fn() -> Histogram,
            );
        let task_events = Family::<EventLabels, Counter>::default();
        let run_time = Histogram::new(exponential_buckets(0.001, 4.0, 12));
        let tasks = Family::<StatusLabels, Gauge>::default();
        let slots_total = Gauge::default();
        let slots_busy = Gauge::default();
        let store_commits = Gauge::default();
        let store_flushes = Gauge::default();
        let context_actors = Gauge::default();
        let mcp_forwarders = Gauge::default();
        let open_fds = Gauge::default();
        let max_fds = Gauge::default();
        registry.register(
            "open_fds",
            "File descriptors this process has open (/readyz answers 503 from 80 % of max_fds)",
            open_fds.clone(),
        );
        registry.register(
            "max_fds",
            "The soft RLIMIT_NOFILE (0: unlimited); the connection cap is derived from it",
            max_fds.clone(),
        );
        let sse_streams = Gauge::default();
        registry.register(
            "sse_streams",
            "Event streams (GET /api/v1/events) open now",
            sse_streams.clone(),
        );
        registry.register(
            "mcp_forwarders",
            "MCP notification forwarders running (per session and kind; end with the session)",
            mcp_forwarders.clone(),
        );
        registry.register(
            "context_actors",
            "Task context actors alive (one per running lease; back to the running count once ended leases wind down)",
            context_actors.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            http_latency.clone(),
        );
        registry.register(
            "task_events",
            "Task and slot lifecycle events by kind",
            task_events.clone(),
        );
        registry.register(
            "task_run_duration_seconds",
            "Time from claim to the end of the lease (complete, fail, release, expiry)",
            run_time.clone(),
        );
        registry.register("tasks", "Tasks by status", tasks.clone());
        registry.register(
            "slots_total",
            "Worker slots configured",
            slots_total.clone(),
        );
        registry.register("slots_busy", "Worker slots held", slots_busy.clone());
        registry.register(
            "store_commits",
            "Commits made to the store",
            store_commits.clone(),
        );
        registry.register(
            "store_flushes",
            "Group-commit flushes (fsyncs) performed",
            store_flushes.clone(),
        );
        let skipped_paths = Counter::default();
        let skipped_concurrency = Counter::default();
        registry.register(
            "claim_skips_paths",
            "Ready tasks a claim passed over because their paths conflicted with a live reservation (or an older waiting task's paths)",
            skipped_paths.clone(),
        );
        registry.register(
            "claim_skips_concurrency",
            "Ready tasks a claim passed over because their concurrency key was at its limit",
            skipped_concurrency.clone(),
        );
        Self {
            skipped_paths,
            skipped_concurrency,
            registry: Mutex::new(registry),
            http_requests,
            http_latency,
            task_events,
            run_time,
            tasks,
            slots_total,
            slots_busy,
            store_commits,
            store_flushes,
            context_actors,
            mcp_forwarders,
            open_fds,
            max_fds,
            sse_streams,
            claimed: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            added: AtomicU64::new(0),
            latency: LatencyBuckets::default(),
        }
    }
}

impl Metrics {
    /// Record one HTTP request (`route` is the matched pattern).
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.http_requests
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.http_latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
        self.latency.record(elapsed);
    }

    /// A claim passed over `paths` ready tasks for conflicting paths and
    /// `keys` for a concurrency key at its limit.
    pub fn claim_skipped(&self, paths: u64, keys: u64) {
        if paths > 0 {
            self.skipped_paths.inc_by(paths);
        }
        if keys > 0 {
            self.skipped_concurrency.inc_by(keys);
        }
    }

    /// Ready tasks claims passed over so far: (for paths, for concurrency keys).
    pub fn claim_skips(&self) -> (u64, u64) {
        (self.skipped_paths.get(), self.skipped_concurrency.get())
    }

    /// Record a lifecycle event.
    pub fn task_event(&self, kind: EventKind) {
        match kind {
            EventKind::TaskAdded => self.added.fetch_add(1, Ordering::Relaxed),
            EventKind::TaskClaimed => self.claimed.fetch_add(1, Ordering::Relaxed),
            EventKind::TaskCompleted => self.completed.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
        self.task_events
            .get_or_create(&EventLabels {
                event: kind.as_str(),
            })
            .inc();
    }

    /// Record how long a lease lasted.
    pub fn observe_run_time(&self, ms: u64) {
        self.run_time.observe(ms as f64 / 1000.0);
    }
}

/// Per-second series for sparklines.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Series {
    /// Seconds per sample.
    pub interval_secs: u64,
    /// Claims per second, oldest first.
    pub claimed_per_sec: VecDeque<u64>,
    /// Completions per second.
    pub completed_per_sec: VecDeque<u64>,
    /// Tasks added per second.
    pub added_per_sec: VecDeque<u64>,
    /// Median request latency in each second (ms).
    pub request_p50_ms: VecDeque<f64>,
    /// 99th percentile request latency in each second (ms).
    pub request_p99_ms: VecDeque<f64>,
}

/// The collector actor.
pub struct MetricsCollector {
    metrics: Arc<Metrics>,
    view: Arc<BoardView>,
    store: Store,
    series: Series,
    last: (u64, u64, u64),
    last_latency: Vec<u64>,
}

impl MetricsCollector {
    /// A collector over shared handles.
    pub fn new(metrics: Arc<Metrics>, view: Arc<BoardView>, store: Store) -> Self {
        let last_latency = metrics.latency.snapshot();
        Self {
            metrics,
            view,
            store,
            series: Series {
                interval_secs: 1,
                ..Series::default()
            },
            last: (0, 0, 0),
            last_latency,
        }
    }

    fn sample(&mut self) {
        let m = &self.metrics;
        let now = (
            m.claimed.load(Ordering::Relaxed),
            m.completed.load(Ordering::Relaxed),
            m.added.load(Ordering::Relaxed),
        );
        let lat = m.latency.snapshot();
        let s = &mut self.series;
        push(&mut s.claimed_per_sec, now.0.saturating_sub(self.last.0));
        push(&mut s.completed_per_sec, now.1.saturating_sub(self.last.1));
        push(&mut s.added_per_sec, now.2.saturating_sub(self.last.2));
        push(
            &mut s.request_p50_ms,
            LatencyBuckets::quantile_ms(&lat, &self.last_latency, 0.5),
        );
        push(
            &mut s.request_p99_ms,
            LatencyBuckets::quantile_ms(&lat, &self.last_latency, 0.99),
        );
        self.last = now;
        self.last_latency = lat;
    }
}

fn push<T>(q: &mut VecDeque<T>, v: T) {
    if q.len() == SERIES_LEN {
        q.pop_front();
    }
    q.push_back(v);
}

impl Actor for MetricsCollector {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(Duration::from_secs(1), |act, _| act.sample());
    }
}

/// Render the Prometheus text exposition.
#[derive(Debug, Message)]
#[rtype(result = "String")]
pub struct RenderPrometheus;

impl Handler<RenderPrometheus> for MetricsCollector {
    type Result = String;
    fn handle(&mut self, _: RenderPrometheus, _: &mut Context<Self>) -> String {
        let m = &self.metrics;
        let counts = self.view.counts();
        for s in TaskStatus::ALL {
            m.tasks
                .get_or_create(&StatusLabels { status: s.as_str() })
                .set(i64::try_from(counts[s.index()]).unwrap_or(i64::MAX));
        }
        m.slots_total.set(i64::from(self.view.slots_total));
        m.slots_busy
            .set(i64::try_from(self.view.slots_busy()).unwrap_or(i64::MAX));
        m.store_commits
            .set(i64::try_from(self.store.commit_count()).unwrap_or(i64::MAX));
        m.store_flushes
            .set(i64::try_from(self.store.flush_count()).unwrap_or(i64::MAX));
        m.context_actors
            .set(i64::try_from(self.view.live_contexts()).unwrap_or(i64::MAX));
        m.mcp_forwarders
            .set(i64::try_from(self.view.live_forwarders()).unwrap_or(i64::MAX));
        let gauge = |n: Option<u64>| n.map_or(0, |n| i64::try_from(n).unwrap_or(i64::MAX));
        m.open_fds.set(gauge(crate::descriptors::open_count()));
        m.max_fds.set(gauge(crate::descriptors::soft_limit()));
        m.sse_streams
            .set(i64::try_from(self.view.live_streams()).unwrap_or(i64::MAX));
        let mut out = String::new();
        let registry = m.registry.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}

/// The per-second series.
#[derive(Debug, Message)]
#[rtype(result = "Series")]
pub struct GetSeries;

impl Handler<GetSeries> for MetricsCollector {
    type Result = MessageResult<GetSeries>;
    fn handle(&mut self, _: GetSeries, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.series.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_quantiles_land_in_the_right_bucket() {
        let b = LatencyBuckets::default();
        let before = b.snapshot();
        for _ in 0..98 {
            b.record(Duration::from_micros(100));
        }
        b.record(Duration::from_millis(10));
        b.record(Duration::from_millis(10));
        let now = b.snapshot();
        let p50 = LatencyBuckets::quantile_ms(&now, &before, 0.5);
        let p99 = LatencyBuckets::quantile_ms(&now, &before, 0.99);
        assert!((0.1..0.13).contains(&p50), "{p50}");
        assert!((10.0..12.6).contains(&p99), "{p99}");
    }
}
