//! Issue 25, must-show 1: a model-based property test of path reservations,
//! conflict-aware claims and concurrency keys, with crashes and a clock that
//! steps.
//!
//! Random sequences of operations run against the real [`Board`] (actors,
//! redb with group commit): adding tasks that declare paths (exclusive or
//! shared) and a concurrency key, claim-next and claim of a named task by
//! three workers, reservations with a lease or a TTL, renewals, releases,
//! heartbeats, completions, failures, releases and cancels of running
//! tasks, the clock stepped past lease and reservation expiries, an
//! explicit sweep, and a crash (the store drops what is queued, the
//! arbiter stops, a new runtime starts on the same data dir).
//!
//! After every step the board is read and checked against an oracle that
//! shares nothing with baton's overlap decision: two patterns overlap when
//! some path of a small finite tree matches both, each matched by a
//! `globset` matcher this test builds itself. The invariants:
//!
//! 1. no two conflicting reservations are ever live (different holders, at
//!    least one exclusive, a common path);
//! 2. every live lease-bound reservation belongs to its task's current
//!    lease (a reservation of an ended lease is gone), and a running task
//!    with paths and a live lease has its paths reserved for that lease;
//! 3. no two tasks whose leases are live and whose paths conflict run at
//!    once, and no concurrency key has more running tasks than its limit;
//! 4. no answer is a server error.
//!
//! The same after every crash. At the end of each case every reservation
//! is released and the board is drained by claim-next and complete: every
//! task finishes (no task waits forever).
//!
//! `PROPTEST_CASES` sets the number of cases (default 16).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use baton::core::table::LeaseRef;
use baton::model::{Reservation, ReservationMode, Task, TaskSpec, TaskStatus};
use baton::{Board, Clock, Error, Settings, TaskFilter};
use globset::{GlobBuilder, GlobMatcher};
use proptest::prelude::*;

const T0: u64 = 1_750_000_000_000;
const TTL: u64 = 10_000;
const SLOTS: u32 = 4;
const IDS: u8 = 10;
const WORKERS: u8 = 3;

/// Patterns tasks and reservations draw from.
const PATTERNS: [&str; 10] = [
    "a/**", "a/b", "a/*.rs", "b/**", "*/c.rs", "**/c.rs", "c.rs", "b/{a,b}", "a/?", "**",
];

/// Segment names of the finite tree the oracle enumerates (depth 1..=3).
const NAMES: [&str; 4] = ["a", "b", "c.rs", "ab"];

fn tree() -> Vec<String> {
    let mut out: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    let mut level = out.clone();
    for _ in 1..3 {
        let next: Vec<String> = level
            .iter()
            .flat_map(|p| NAMES.iter().map(move |n| format!("{p}/{n}")))
            .collect();
        out.extend(next.iter().cloned());
        level = next;
    }
    out
}

/// The oracle: the tree paths each pattern matches, by globset built here.
struct Oracle {
    paths: Vec<String>,
    matchers: BTreeMap<String, GlobMatcher>,
}

impl Oracle {
    fn new() -> Self {
        Self {
            paths: tree(),
            matchers: BTreeMap::new(),
        }
    }

    fn matcher(&mut self, p: &str) -> &GlobMatcher {
        self.matchers.entry(p.to_owned()).or_insert_with(|| {
            GlobBuilder::new(p)
                .literal_separator(true)
                .backslash_escape(false)
                .build()
                .expect("pattern compiles")
                .compile_matcher()
        })
    }

    /// A tree path both pattern lists match, if any.
    fn common(&mut self, a: &[String], b: &[String]) -> Option<String> {
        let paths = self.paths.clone();
        paths.into_iter().find(|p| {
            a.iter().any(|x| self.matcher(x).is_match(p))
                && b.iter().any(|y| self.matcher(y).is_match(p))
        })
    }

    /// The conflict rule over the oracle's overlap.
    fn conflict(
        &mut self,
        a: (&str, ReservationMode, &[String]),
        b: (&str, ReservationMode, &[String]),
    ) -> Option<String> {
        if a.0 == b.0 || (a.1 == ReservationMode::Shared && b.1 == ReservationMode::Shared) {
            return None;
        }
        self.common(a.2, b.2)
    }
}

// ---- operations ------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    /// Add task `id` with these patterns (indexes), shared or not, with the key or not.
    Add(u8, Vec<u8>, bool, bool),
    ClaimNext(u8),
    Claim(u8, u8),
    /// Reserve patterns for a worker: bound to its first running lease, or with a TTL.
    Reserve(u8, Vec<u8>, bool, bool),
    Renew(u8, u8),
    Unreserve(u8, u8),
    Heartbeat(u8),
    Complete(u8),
    Fail(u8),
    Release(u8),
    Cancel(u8),
    Advance(u64),
    Sweep,
    Crash,
}

fn pats() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0..PATTERNS.len() as u8, 0..3)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..IDS, pats(), any::<bool>(), prop::bool::weighted(0.3)).prop_map(|(i, p, s, k)| Op::Add(i, p, s, k)),
        5 => (0..WORKERS).prop_map(Op::ClaimNext),
        2 => (0..IDS, 0..WORKERS).prop_map(|(i, w)| Op::Claim(i, w)),
        3 => (0..WORKERS, prop::collection::vec(0..PATTERNS.len() as u8, 1..3), any::<bool>(), any::<bool>())
            .prop_map(|(w, p, s, l)| Op::Reserve(w, p, s, l)),
        1 => (0..WORKERS, any::<u8>()).prop_map(|(w, r)| Op::Renew(w, r)),
        1 => (0..WORKERS, any::<u8>()).prop_map(|(w, r)| Op::Unreserve(w, r)),
        1 => any::<u8>().prop_map(Op::Heartbeat),
        3 => any::<u8>().prop_map(Op::Complete),
        1 => any::<u8>().prop_map(Op::Fail),
        1 => any::<u8>().prop_map(Op::Release),
        1 => any::<u8>().prop_map(Op::Cancel),
        2 => prop_oneof![Just(1_000u64), Just(TTL / 2), Just(TTL + 1)].prop_map(Op::Advance),
        1 => Just(Op::Sweep),
        1 => Just(Op::Crash),
    ]
}

fn tid(i: u8) -> String {
    format!("t{i:02}")
}

fn wid(i: u8) -> String {
    format!("w{i}")
}

fn patterns(idx: &[u8]) -> Vec<String> {
    idx.iter()
        .map(|&i| PATTERNS[i as usize].to_owned())
        .collect()
}

// ---- the real board --------------------------------------------------------

struct Life {
    board: Board,
    arbiter: actix_rt::Arbiter,
}

async fn boot(settings: &Settings, clock: &Clock) -> Life {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let arbiter = actix_rt::Arbiter::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (s, c) = (settings.clone(), clock.clone());
        let spawned = arbiter.spawn_fn(move || {
            actix_rt::spawn(async move {
                let r = baton::Runtime::start_with_clock(s, c).await;
                let _ = tx.send(r.map(|rt| rt.board().clone()));
            });
        });
        assert!(spawned, "arbiter alive");
        match rx.await.expect("arbiter answered") {
            Ok(board) => return Life { board, arbiter },
            Err(e) if e.to_string().contains("lock") && std::time::Instant::now() < deadline => {
                arbiter.stop();
                let _ = arbiter.join();
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Err(e) => panic!("runtime starts: {e}"),
        }
    }
}

fn crash(life: Life) {
    life.board.store().simulate_crash();
    life.arbiter.stop();
    let _ = life.arbiter.join();
    drop(life.board);
}

/// A refusal is fine; a server error never is.
fn no_server_error<T>(op: &Op, r: &Result<T, Error>) -> Result<(), TestCaseError> {
    if let Err(e) = r {
        let code = e.code().as_str();
        prop_assert!(
            !matches!(
                code,
                "internal" | "storage_error" | "storage_unavailable" | "unavailable"
            ),
            "{op:?}: {code}: {e}"
        );
    }
    Ok(())
}

async fn tasks(board: &Board) -> Vec<Task> {
    board
        .list_tasks(TaskFilter {
            limit: Some(1000),
            ..TaskFilter::default()
        })
        .await
        .expect("list")
        .tasks
}

/// The `n`-th running task (any worker), if any.
async fn running(board: &Board, n: u8) -> Option<Task> {
    let r: Vec<Task> = tasks(board)
        .await
        .into_iter()
        .filter(|t| t.status == TaskStatus::Running)
        .collect();
    (!r.is_empty()).then(|| r[n as usize % r.len()].clone())
}

async fn step(
    op: &Op,
    life: &mut Option<Life>,
    settings: &Settings,
    clock: &Clock,
) -> Result<(), TestCaseError> {
    let board = life.as_ref().expect("alive").board.clone();
    match op.clone() {
        Op::Add(i, p, shared, key) => {
            let spec = TaskSpec {
                id: Some(tid(i)),
                title: Some(tid(i)),
                paths: patterns(&p),
                paths_mode: shared.then_some(ReservationMode::Shared),
                concurrency_key: key.then(|| "k".to_owned()),
                ..TaskSpec::default()
            };
            no_server_error(op, &board.add_task(spec).await)?;
        }
        Op::ClaimNext(w) => no_server_error(op, &board.claim_next(&wid(w), vec![], None).await)?,
        Op::Claim(i, w) => no_server_error(op, &board.claim_task(&tid(i), &wid(w), None).await)?,
        Op::Reserve(w, p, shared, with_lease) => {
            let mode = if shared {
                ReservationMode::Shared
            } else {
                ReservationMode::Exclusive
            };
            let lease = if with_lease {
                tasks(&board)
                    .await
                    .into_iter()
                    .filter_map(|t| t.lease.map(|l| *l))
                    .find(|l| l.worker == wid(w))
                    .map(|l| l.lease_id)
            } else {
                None
            };
            let ttl = lease.is_none().then_some(TTL / 1000);
            let r = board
                .reserve_paths(&wid(w), patterns(&p), mode, lease, ttl)
                .await;
            no_server_error(op, &r)?;
        }
        Op::Renew(w, n) | Op::Unreserve(w, n) => {
            let mine = board
                .list_reservations(Some(&wid(w)), None)
                .await
                .expect("list");
            if let Some(r) = (!mine.is_empty()).then(|| mine[n as usize % mine.len()].clone()) {
                if matches!(op, Op::Renew(..)) {
                    no_server_error(op, &board.renew_reservation(&wid(w), &r.id).await)?;
                } else {
                    no_server_error(op, &board.release_paths(&wid(w), &r.id).await)?;
                }
            }
        }
        Op::Heartbeat(n) | Op::Complete(n) | Op::Fail(n) | Op::Release(n) | Op::Cancel(n) => {
            if let Some(t) = running(&board, n).await {
                let lease = LeaseRef::Id(t.lease.as_ref().map_or(0, |l| l.lease_id));
                let id = t.id.as_str();
                let r = match op {
                    Op::Heartbeat(_) => board.heartbeat(id, lease).await,
                    Op::Complete(_) => board.complete(id, lease, None).await,
                    Op::Fail(_) => board.fail(id, lease, "boom".into(), true).await,
                    Op::Release(_) => board.release(id, lease).await,
                    _ => board.cancel(id, None).await,
                };
                no_server_error(op, &r)?;
            }
        }
        Op::Advance(ms) => {
            clock.advance(ms);
        }
        Op::Sweep => no_server_error(op, &board.sweep_expired().await)?,
        Op::Crash => {
            if let Some(l) = life.take() {
                crash(l);
            }
            *life = Some(boot(settings, clock).await);
        }
    }
    check(&life.as_ref().expect("alive").board, clock, settings, op).await
}

/// The invariants, read from the board.
async fn check(
    board: &Board,
    clock: &Clock,
    settings: &Settings,
    op: &Op,
) -> Result<(), TestCaseError> {
    let now = clock.now();
    let mut oracle = Oracle::new();
    let live: Vec<Reservation> = board.list_reservations(None, None).await.expect("list");
    let all = tasks(board).await;
    // 1. no two conflicting reservations are live
    for (i, a) in live.iter().enumerate() {
        prop_assert!(a.expires_at > now, "after {op:?}: listed but lapsed: {a:?}");
        for b in &live[i + 1..] {
            let c = oracle.conflict(
                (&a.worker, a.mode, &a.patterns),
                (&b.worker, b.mode, &b.patterns),
            );
            prop_assert!(
                c.is_none(),
                "after {op:?}: {a:?} and {b:?} conflict on {c:?}"
            );
        }
    }
    // 2. lease-bound reservations belong to their task's current lease
    let by_id: BTreeMap<&str, &Task> = all.iter().map(|t| (t.id.as_str(), t)).collect();
    for r in live.iter().filter(|r| r.lease_id.is_some()) {
        let task = r.task_id.as_ref().and_then(|t| by_id.get(t.as_str()));
        let current = task.and_then(|t| t.lease.as_ref()).map(|l| l.lease_id);
        prop_assert_eq!(
            current,
            r.lease_id,
            "after {:?}: {:?} outlived its lease",
            op,
            r
        );
    }
    let run: Vec<&Task> = all
        .iter()
        .filter(|t| {
            t.status == TaskStatus::Running && t.lease.as_ref().is_some_and(|l| l.expires_at > now)
        })
        .collect();
    for t in &run {
        if t.paths.is_empty() {
            continue;
        }
        let lease = t.lease.as_ref().map(|l| l.lease_id);
        prop_assert!(
            live.iter()
                .any(|r| r.from_task && r.lease_id == lease && r.patterns == t.paths),
            "after {op:?}: running {} has no reservation of its paths",
            t.id
        );
    }
    // 3. no two conflicting tasks run; no key over its limit
    for (i, a) in run.iter().enumerate() {
        let wa = a.worker.clone().unwrap_or_default();
        for b in &run[i + 1..] {
            let wb = b.worker.clone().unwrap_or_default();
            let c = oracle.conflict((&wa, a.paths_mode, &a.paths), (&wb, b.paths_mode, &b.paths));
            prop_assert!(
                c.is_none(),
                "after {op:?}: {} and {} run at once over {c:?}",
                a.id,
                b.id
            );
        }
        // and a running task never conflicts with another holder's live reservation
        for r in &live {
            if r.lease_id.is_some() && r.lease_id == a.lease.as_ref().map(|l| l.lease_id) {
                continue;
            }
            let c = oracle.conflict(
                (&wa, a.paths_mode, &a.paths),
                (&r.worker, r.mode, &r.patterns),
            );
            // a reservation made after the claim by the same worker is its own; another
            // holder's reservation was refused or the claim skipped
            prop_assert!(
                c.is_none(),
                "after {op:?}: {} runs over {:?} ({c:?})",
                a.id,
                r
            );
        }
    }
    for (key, limit) in &settings.concurrency.limits {
        let n = all
            .iter()
            .filter(|t| {
                t.status == TaskStatus::Running && t.concurrency_key.as_deref() == Some(key)
            })
            .count();
        prop_assert!(
            n as u32 <= *limit,
            "after {op:?}: {n} running with key {key} (limit {limit})"
        );
    }
    Ok(())
}

/// Release every reservation, finish what runs, then claim-next and
/// complete until nothing is ready: every task ends.
async fn drain(board: &Board) -> Result<(), TestCaseError> {
    for _ in 0..200 {
        board.sweep_expired().await.expect("sweep");
        for r in board.list_reservations(None, None).await.expect("list") {
            if r.lease_id.is_none() {
                let _ = board.release_paths(&r.worker, &r.id).await;
            }
        }
        let all = tasks(board).await;
        for t in all.iter().filter(|t| t.status == TaskStatus::Running) {
            if let Some(l) = &t.lease {
                let _ = board
                    .complete(t.id.as_str(), LeaseRef::Id(l.lease_id), None)
                    .await;
            }
        }
        if !all
            .iter()
            .any(|t| matches!(t.status, TaskStatus::Ready | TaskStatus::Running))
        {
            return Ok(());
        }
        while let Ok(Some(c)) = board.claim_next("drainer", vec![], None).await {
            let _ = board
                .complete(c.task.id.as_str(), LeaseRef::Id(c.lease.lease_id), None)
                .await;
        }
    }
    let mut left = Vec::new();
    for t in tasks(board).await {
        if matches!(t.status, TaskStatus::Ready | TaskStatus::Running) {
            let why = board.why_waiting(t.id.as_str()).await;
            left.push(format!("{} {:?} {:?}", t.id, t.status, why));
        }
    }
    prop_assert!(false, "tasks never finished: {left:?}");
    Ok(())
}

fn data_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::tempdir_in(shm) {
            return d;
        }
    }
    tempfile::tempdir().expect("tempdir")
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    run_on(ops, |_| {})
}

/// Run `ops` on a board whose storage `storage` chooses (redb in a
/// temporary directory unless it says otherwise).
fn run_on(ops: &[Op], storage: impl FnOnce(&mut Settings)) -> Result<(), TestCaseError> {
    let dir = data_dir();
    let mut settings = Settings::for_tests(dir.path());
    storage(&mut settings);
    settings.slots.count = SLOTS;
    settings.leases.ttl_secs = TTL / 1000;
    settings.leases.sweep_interval_ms = 60_000;
    settings.tasks.default_max_attempts = 3;
    settings.storage.cache_mb = 4;
    settings.mcp.enabled = false;
    settings.concurrency.limits.insert("k".into(), 1);
    let clock = Clock::manual(T0);
    let sys = actix_rt::System::new();
    sys.block_on(async move {
        let mut life = Some(boot(&settings, &clock).await);
        let mut result = Ok(());
        for op in ops {
            result = step(op, &mut life, &settings, &clock).await;
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            let board = life.as_ref().expect("alive").board.clone();
            result = drain(&board).await;
        }
        if let Some(l) = life.take() {
            crash(l);
        }
        result
    })
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

/// Random operation sequences; a failure is shrunk and reported with the
/// shortest sequence found.
#[test]
fn reservations_and_claims_never_collide_across_crashes() {
    let config = ProptestConfig {
        cases: cases(),
        max_shrink_iters: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let result = proptest::test_runner::TestRunner::new(config)
        .run(&prop::collection::vec(op(), 1..70), |ops| run(&ops));
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Must-show 5: the same invariants, with crashes, on the PostgreSQL engine
/// (a real server this test starts; skipped with a notice when PostgreSQL
/// is not installed, unless `BATON_REQUIRE_POSTGRES` is set).
#[test]
fn the_same_invariants_hold_on_postgres() {
    let Some(pg) = common::postgres::Postgres::start_or_skip() else {
        return;
    };
    let config = ProptestConfig {
        cases: (cases() / 2).max(4),
        max_shrink_iters: 50,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let result = proptest::test_runner::TestRunner::new(config).run(
        &prop::collection::vec(op(), 1..50),
        |ops| {
            let url = pg.database();
            run_on(&ops, |st| {
                st.storage.backend = baton::config::StorageBackend::Postgres;
                st.storage.url = url;
                st.storage.pool_size = 2;
                st.ha.failover_timeout_secs = 1;
            })
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// A task skipped for its paths keeps its place: once the holder lets go,
/// it is claimed before a newer task over the same paths.
#[test]
fn a_skipped_task_is_first_in_line_when_the_conflict_ends() {
    use Op::*;
    let ops = [
        Reserve(0, vec![0], false, false), // w0 holds a/** (TTL)
        Add(1, vec![1], false, false),     // t01: a/b, waits
        Add(2, vec![], false, false),      // t02: no paths
        Add(3, vec![2], false, false),     // t03: a/*.rs, newer, over a/** too
        ClaimNext(1),                      // takes t02
        ClaimNext(1),                      // nothing: t01 and t03 wait
        Unreserve(0, 0),
    ];
    if let Err(e) = run(&ops) {
        panic!("{e}");
    }
    // and the order, checked directly
    let dir = data_dir();
    let mut settings = Settings::for_tests(dir.path());
    settings.mcp.enabled = false;
    let clock = Clock::manual(T0);
    actix_rt::System::new().block_on(async move {
        let life = boot(&settings, &clock).await;
        let b = &life.board;
        let held = b
            .reserve_paths(
                "w0",
                vec!["a/b".into()],
                ReservationMode::Exclusive,
                None,
                Some(60),
            )
            .await
            .expect("reserve");
        // old waits for w0's a/b; new does not touch a/b but overlaps old's paths
        for (id, paths) in [
            ("old", vec!["a/**"]),
            ("free", vec![]),
            ("new", vec!["a/*.rs"]),
        ] {
            b.add_task(TaskSpec {
                id: Some(id.into()),
                title: Some(id.into()),
                paths: paths.into_iter().map(String::from).collect(),
                ..TaskSpec::default()
            })
            .await
            .expect("add");
        }
        let why = b.why_waiting("old").await.expect("why").expect("it waits");
        assert!(why.contains("a/b") && why.contains("w0"), "{why}");
        let why = b.why_waiting("new").await.expect("why").expect("it waits");
        assert!(why.contains("behind") && why.contains("old"), "{why}");
        let c = b
            .claim_next("w1", vec![], None)
            .await
            .expect("claim")
            .expect("one");
        assert_eq!(c.task.id.as_str(), "free");
        assert!(
            b.claim_next("w1", vec![], None)
                .await
                .expect("claim")
                .is_none(),
            "new may not overtake old over the same paths"
        );
        let err = b.claim_task("old", "w1", None).await.expect_err("reserved");
        assert_eq!(err.code().as_str(), "paths_reserved", "{err}");
        assert!(err.to_string().contains("w0"), "{err}");
        b.release_paths("w0", &held.id).await.expect("release");
        let c = b
            .claim_next("w1", vec![], None)
            .await
            .expect("claim")
            .expect("one");
        assert_eq!(c.task.id.as_str(), "old", "the older task is first in line");
        crash(life);
    });
}
