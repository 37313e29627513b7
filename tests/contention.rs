//! Issue 25, must-show 2: over the real server, 8 workers claim-next their
//! way through 300 tasks whose declared paths overlap at random, some with
//! a concurrency key, each holding its task a few milliseconds before it
//! completes it. The run must contend: claims pass over conflicting tasks
//! (`baton_claim_skips_paths_total`), and a key sits at its limit. Then,
//! from the audit log (the lease history, claim to end of every lease):
//! no two tasks whose paths conflict ever ran at the same time, no key ever
//! had more running tasks than its limit, and every task finished.
//!
//! Conflicts are judged by an oracle that shares nothing with baton's
//! overlap decision: every path of the small tree the patterns are drawn
//! over, matched by globset matchers built here.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use baton::board::LeaseFilter;
use baton::model::{LeaseOutcome, LeaseRecord, ReservationMode};
use common::TestServer;
use globset::GlobBuilder;
use serde_json::{json, Value};

const WORKERS: usize = 8;
const TASKS: usize = 300;
const DIRS: [&str; 5] = ["api", "cli", "core", "store", "web"];
const FILES: [&str; 3] = ["a.rs", "b.rs", "mod.rs"];

/// A small deterministic generator (xorshift), so a failure is repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn tree() -> Vec<String> {
    let mut out = vec!["Cargo.toml".to_owned(), "README.md".to_owned()];
    for d in DIRS {
        for f in FILES {
            out.push(format!("src/{d}/{f}"));
        }
    }
    out
}

fn pattern(rng: &mut Rng) -> String {
    let d = DIRS[rng.below(DIRS.len())];
    let f = FILES[rng.below(FILES.len())];
    match rng.below(10) {
        0..=3 => format!("src/{d}/{f}"),
        4..=6 => format!("src/{d}/**"),
        7 => "Cargo.toml".to_owned(),
        8 => format!("src/*/{f}"),
        _ => format!("**/{f}"),
    }
}

/// The tree paths each task's patterns match (the oracle).
fn footprint(patterns: &[String], tree: &[String]) -> Vec<String> {
    let matchers: Vec<_> = patterns
        .iter()
        .map(|p| {
            GlobBuilder::new(p)
                .literal_separator(true)
                .build()
                .expect("glob")
                .compile_matcher()
        })
        .collect();
    tree.iter()
        .filter(|p| matchers.iter().any(|m| m.is_match(p.as_str())))
        .cloned()
        .collect()
}

struct Spec {
    paths: Vec<String>,
    mode: ReservationMode,
    key: Option<&'static str>,
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[actix_web::test]
async fn eight_workers_through_300_overlapping_tasks_never_collide() {
    let limits = [("db", 1u32), ("ui", 2u32)];
    let s = TestServer::start(|st| {
        st.slots.count = WORKERS as u32;
        for (k, n) in limits {
            st.concurrency.limits.insert(k.into(), n);
        }
    })
    .await;
    let tree = tree();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut specs: BTreeMap<String, Spec> = BTreeMap::new();
    let mut batch = Vec::new();
    for i in 0..TASKS {
        let id = format!("t{i:03}");
        let n = rng.below(3);
        let paths: Vec<String> = (0..n).map(|_| pattern(&mut rng)).collect();
        let mode = if rng.below(4) == 0 {
            ReservationMode::Shared
        } else {
            ReservationMode::Exclusive
        };
        let key = match rng.below(10) {
            0 | 1 => Some("db"),
            2 | 3 => Some("ui"),
            _ => None,
        };
        batch.push(json!({
            "id": id, "title": id, "paths": paths, "paths_mode": mode.as_str(),
            "concurrency_key": key, "priority": rng.below(3),
        }));
        specs.insert(id, Spec { paths, mode, key });
    }
    let (code, v) = s.post("/tasks", json!({ "tasks": batch })).await;
    assert_eq!(code, 201, "{v}");

    // 8 workers over HTTP: claim-next, hold a moment, complete
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (http, base) = (s.http.clone(), s.base.clone());
        workers.push(tokio::spawn(async move {
            let worker = format!("w{w}");
            let mut rng = Rng(0x1234_5678 + w as u64 * 7919);
            let mut done = 0usize;
            let mut idle = 0usize;
            loop {
                let res = http
                    .post(format!("{base}/tasks/claim-next"))
                    .json(&json!({ "worker": worker }))
                    .send()
                    .await
                    .expect("claim-next");
                if res.status() == 204 {
                    let (_, stats) = common::read(
                        http.get(format!("{base}/stats"))
                            .send()
                            .await
                            .expect("stats"),
                    )
                    .await;
                    let left = stats["tasks"]["ready"].as_u64().unwrap_or(0)
                        + stats["tasks"]["running"].as_u64().unwrap_or(0)
                        + stats["tasks"]["blocked"].as_u64().unwrap_or(0);
                    if left == 0 {
                        return done;
                    }
                    idle += 1;
                    assert!(idle < 20_000, "{worker} waited forever");
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
                let (code, c): (u16, Value) = common::read(res).await;
                assert_eq!(code, 200, "{c}");
                tokio::time::sleep(Duration::from_millis(2 + rng.below(8) as u64)).await;
                let id = c["task"]["id"].as_str().expect("id").to_owned();
                let (code, v) = common::read(
                    http.post(format!("{base}/tasks/{id}/complete"))
                        .json(&json!({ "lease_id": c["lease"]["lease_id"] }))
                        .send()
                        .await
                        .expect("complete"),
                )
                .await;
                assert_eq!(code, 200, "{v}");
                done += 1;
            }
        }));
    }
    let mut per_worker = Vec::new();
    for w in workers {
        per_worker.push(
            tokio::time::timeout(Duration::from_secs(600), w)
                .await
                .expect("in time")
                .expect("worker"),
        );
    }
    assert_eq!(per_worker.iter().sum::<usize>(), TASKS, "{per_worker:?}");

    // the audit log: every lease, claim to end
    let board = s.runtime.board();
    let mut leases: Vec<LeaseRecord> = Vec::new();
    let mut cursor = None;
    loop {
        let page = board
            .lease_history(LeaseFilter {
                cursor: cursor.clone(),
                limit: Some(1000),
                ..LeaseFilter::default()
            })
            .await
            .expect("lease history");
        leases.extend(page.leases);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(leases.len(), TASKS, "one lease per task, none expired");
    assert!(leases.iter().all(|l| l.outcome == LeaseOutcome::Done));
    let prints: BTreeMap<&str, Vec<String>> = specs
        .iter()
        .map(|(id, s)| (id.as_str(), footprint(&s.paths, &tree)))
        .collect();
    let mut checked = 0u64;
    for (i, a) in leases.iter().enumerate() {
        let (a0, a1) = (a.claimed_at, a.ended_at.expect("ended"));
        let sa = &specs[a.task_id.as_str()];
        for b in &leases[i + 1..] {
            let (b0, b1) = (b.claimed_at, b.ended_at.expect("ended"));
            if !(a0 < b1 && b0 < a1) {
                continue; // never ran at the same time
            }
            checked += 1;
            let sb = &specs[b.task_id.as_str()];
            let both_shared =
                sa.mode == ReservationMode::Shared && sb.mode == ReservationMode::Shared;
            let common = prints[a.task_id.as_str()]
                .iter()
                .find(|p| prints[b.task_id.as_str()].contains(p));
            assert!(
                both_shared || common.is_none(),
                "{} ({:?}) and {} ({:?}) ran at once over {common:?}",
                a.task_id,
                sa.paths,
                b.task_id,
                sb.paths
            );
        }
    }
    // running tasks per key, at every claim
    let mut at_limit = BTreeMap::new();
    for (key, limit) in limits {
        let mut max = 0;
        for a in &leases {
            let running = leases
                .iter()
                .filter(|b| specs[b.task_id.as_str()].key == Some(key))
                .filter(|b| {
                    b.claimed_at <= a.claimed_at && a.claimed_at < b.ended_at.unwrap_or(u64::MAX)
                })
                .count();
            max = max.max(running);
        }
        assert!(
            max as u32 <= limit,
            "{key}: {max} ran at once, limit {limit}"
        );
        at_limit.insert(key, max);
    }
    let text = s.metrics().await;
    let skips_paths = metric(&text, "baton_claim_skips_paths_total");
    let skips_keys = metric(&text, "baton_claim_skips_concurrency_total");
    eprintln!(
        "contention: {TASKS} tasks by {WORKERS} workers ({per_worker:?}); {checked} pairs of leases ran at once \
         and none conflicted; claims passed over {skips_paths} tasks for their paths and {skips_keys} for a \
         concurrency key; most running at once per key: {at_limit:?}"
    );
    assert!(skips_paths > 0, "the run contended for paths");
    assert!(skips_keys > 0, "a concurrency key held tasks back");
    assert_eq!(at_limit["db"], 1, "the db key sat at its limit");
    let (_, stats) = s.get("/stats").await;
    assert_eq!(stats["tasks"]["done"], TASKS as u64, "{stats}");
    s.stop().await;
}
