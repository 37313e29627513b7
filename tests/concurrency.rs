//! Must-show 1: 64 concurrent HTTP workers looping claim-next → complete over
//! 2,000 tasks with fan-out dependencies, against a real server and sled dir.
//! Every task is completed exactly once, no task is handed out before its
//! dependencies are done, and never more than `slots` tasks run at once.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::{json, Value};

const SLOTS: u32 = 8;
const WORKERS: usize = 64;

/// 200 roots → 600 children (fan-out 3) → 1,200 grandchildren (fan-in 2).
fn board() -> Vec<Value> {
    let mut tasks = Vec::new();
    for r in 0..200 {
        tasks.push(json!({"id": format!("r{r}"), "title": "root"}));
    }
    for c in 0..600 {
        tasks.push(json!({"id": format!("c{c}"), "title": "child", "dependencies": [format!("r{}", c / 3)]}));
    }
    for g in 0..1200 {
        let a = (g / 2) % 600;
        let b = (a + 1 + g % 7) % 600;
        tasks.push(
            json!({"id": format!("g{g}"), "title": "grandchild", "priority": g % 3,
            "dependencies": [format!("c{a}"), format!("c{b}")]}),
        );
    }
    tasks
}

#[derive(Default)]
struct Log {
    /// (claim acknowledged, complete sent) per completed task: a sub-interval
    /// of the time the server considered it running.
    intervals: Vec<(Instant, Instant)>,
    completions: HashMap<String, usize>,
    slots_seen: Vec<u64>,
}

#[actix_web::test]
async fn sixty_four_workers_complete_every_task_exactly_once() {
    let server = TestServer::start(|s| {
        s.slots.count = SLOTS;
    })
    .await;
    let tasks = board();
    let total = tasks.len();
    for chunk in tasks.chunks(500) {
        let (st, v) = server.post("/tasks", json!({ "tasks": chunk })).await;
        assert_eq!(st, 201, "{v}");
    }

    let server = Arc::new(server);
    let log = Arc::new(Mutex::new(Log::default()));
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut handles = Vec::new();
    for w in 0..WORKERS {
        let server = server.clone();
        let log = log.clone();
        handles.push(actix_web::rt::spawn(async move {
            let worker = format!("w{w}");
            let mut idle_rounds = 0u32;
            while Instant::now() < deadline {
                let (st, v) = server
                    .post("/tasks/claim-next", json!({ "worker": worker }))
                    .await;
                match st {
                    200 => {
                        idle_rounds = 0;
                        let acked = Instant::now();
                        let id = v["task"]["id"].as_str().expect("id").to_owned();
                        let lease = v["lease"]["lease_id"].as_u64().expect("lease");
                        let slot = v["lease"]["slot"].as_u64().expect("slot");
                        // sleep: "work" on the task for a moment so runs overlap (the load)
                        actix_web::rt::time::sleep(Duration::from_millis(3)).await;
                        let sent = Instant::now();
                        let (st, body) = server
                            .post(
                                &format!("/tasks/{id}/complete"),
                                json!({ "lease_id": lease, "output": worker }),
                            )
                            .await;
                        assert_eq!(st, 200, "complete {id}: {body}");
                        let mut l = log.lock().expect("log");
                        l.intervals.push((acked, sent));
                        *l.completions.entry(id).or_default() += 1;
                        l.slots_seen.push(slot);
                    }
                    204 => {
                        let done = log.lock().expect("log").completions.len();
                        if done == total {
                            return;
                        }
                        idle_rounds += 1;
                        // sleep: an idle worker's backoff before asking again
                        actix_web::rt::time::sleep(Duration::from_millis(
                            2 * u64::from(idle_rounds.min(10)),
                        ))
                        .await;
                    }
                    409 if v["error"]["code"] == "no_free_slot" => {
                        // sleep: every slot is held, a worker's pause before asking again
                        actix_web::rt::time::sleep(Duration::from_millis(1)).await;
                    }
                    other => panic!("unexpected claim reply {other}: {v}"),
                }
            }
        }));
    }
    for h in handles {
        h.await.expect("worker task");
    }

    let log = Arc::try_unwrap(log)
        .ok()
        .expect("sole owner")
        .into_inner()
        .expect("log");
    // every task completed exactly once
    assert_eq!(
        log.completions.len(),
        total,
        "all tasks completed before the deadline"
    );
    assert!(
        log.completions.values().all(|&n| n == 1),
        "a task was completed twice"
    );
    assert!(
        log.slots_seen.iter().all(|&s| s < u64::from(SLOTS)),
        "slot out of range"
    );

    // never more than SLOTS running: the client-side sub-intervals cannot overlap more
    let mut edges: Vec<(Instant, i32)> = Vec::new();
    for (a, b) in &log.intervals {
        edges.push((*a, 1));
        edges.push((*b, -1));
    }
    edges.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.cmp(&y.1)));
    let (mut cur, mut max) = (0, 0);
    for (_, d) in edges {
        cur += d;
        max = max.max(cur);
    }
    assert!(
        max <= SLOTS as i32,
        "observed {max} tasks running at once with {SLOTS} slots"
    );
    assert!(max >= 2, "the test did not produce concurrency ({max})");

    // the server's own view agrees
    let all = server.all_tasks().await;
    assert_eq!(all.len(), total);
    assert!(all
        .iter()
        .all(|t| t["status"] == "done" && t["attempts"] == 1));

    // no dependency handed out early: in the audit log (the server's
    // linearization), each claim comes after every dependency's completion
    let board = server.runtime.board();
    let mut completed_at: HashMap<String, u64> = HashMap::new();
    let mut claimed_at: HashMap<String, u64> = HashMap::new();
    for t in &all {
        let id = t["id"].as_str().expect("id");
        for e in board.task_events(id).await.expect("events") {
            match serde_json::to_value(e.kind).expect("kind").as_str() {
                Some("task_completed") => {
                    completed_at.insert(id.to_owned(), e.id);
                }
                Some("task_claimed") => {
                    claimed_at.insert(id.to_owned(), e.id);
                }
                _ => {}
            }
        }
    }
    for t in &all {
        let id = t["id"].as_str().expect("id");
        for d in t["dependencies"].as_array().expect("deps") {
            let d = d.as_str().expect("dep");
            assert!(
                claimed_at[id] > completed_at[d],
                "{id} was claimed (event {}) before its dependency {d} completed (event {})",
                claimed_at[id],
                completed_at[d]
            );
        }
    }
    let (_, slots) = server.get("/slots").await;
    assert_eq!(slots["busy"], 0, "every slot is free at the end: {slots}");
    Arc::try_unwrap(server)
        .ok()
        .expect("sole owner")
        .stop()
        .await;
}
