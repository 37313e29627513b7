//! Issue 11, must-show 2: a `kill -9` loop of the real binary.
//!
//! Each run starts `baton serve` on a fresh data dir and lets 20 concurrent
//! workers work a fan-out DAG (one root, 30 children, 6 grandchildren each:
//! 211 tasks, added while the workers run, over REST v1 batches and the
//! agent-coordinate-mcp `add-task`):
//!
//! - 10 REST v1 workers: 3 hold an explicit slot (`/api/v1/slots/claim`) and
//!   claim into it, 7 claim with a task-bound slot; all complete under their
//!   `lease_id`;
//! - 10 agent-coordinate-mcp workers: an anonymous `claim-worker-slot`, then
//!   `available-tasks` → `claim-task` into that slot → `update-task done`
//!   by name; every 7 tasks they release the slot and claim another.
//!
//! At a random point of each run the server is killed with SIGKILL and
//! restarted on the same data dir (on a new port); the workers carry on.
//! Each worker appends every acknowledged write to an independent client
//! log (requests whose answer the kill swallowed are retried or resolved,
//! never counted as acknowledged). When the DAG is done, the log is checked
//! against the server's final board and audit log:
//!
//! - 0 lost adds (every acknowledged add exists),
//! - 0 lost claims (every acknowledged claim's lease is in the audit log),
//! - 0 lost completions (done, with that worker's output, under that lease),
//! - 0 double claims (a second acknowledged claim of a task only after the
//!   first lease lapsed; at most one acknowledged completion),
//! - 0 dependency-order violations (no claim before every dependency completed),
//! - 0 slots granted twice (no two holds of one slot — explicit or
//!   task-bound — certainly held at the same time by the client's clock:
//!   from the grant's answer to the release's request).
//!
//! A second loop (issue 23.8) runs the agent-coordinate-mcp workflow alone:
//! 7 agents on 5 slots that retry every request whose answer was lost
//! (`claim-worker-slot` with a `requestId`, `claim-task` again by the same
//! worker), three `kill -9`s per run; besides the checks above, every run
//! must end with every slot free, and within the run bound — an orphaned
//! compat lease or anonymous hold would hold its slot for 600 s.
//!
//! `SOAK_RUNS` runs on each embedded engine (redb, fjall, sled; default 1
//! each, in `make test`; `make soak` runs 10 each). Every
//! run is bounded: 120 s, then it fails. `SOAK_BATON=<path>` runs another
//! build of the binary (a release build, or an older commit's).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;

use common::postgres;

const MIDS: usize = 30;
const LEAVES: usize = 6;
const TASKS: usize = 1 + MIDS + MIDS * LEAVES;
const REST_WORKERS: usize = 10;
const REST_EXPLICIT: usize = 3;
const COMPAT_WORKERS: usize = 10;
const SLOTS: u32 = 16;
const TTL_MS: u64 = 5_000;
const COMPAT_TTL_MS: u64 = 600_000;
const RUN_LIMIT: Duration = Duration::from_secs(120);
/// `[ha] failover_timeout_secs` of the two-node runs.
const FAILOVER_SECS: u64 = 3;

// ---- the server ------------------------------------------------------------

/// The binary under test: `SOAK_BATON`, else this build's `baton`.
fn binary() -> std::ffi::OsString {
    std::env::var_os("SOAK_BATON").unwrap_or_else(|| env!("CARGO_BIN_EXE_baton").into())
}

/// Where a node keeps the board.
#[derive(Clone, Copy)]
enum Board<'a> {
    /// An embedded engine (`redb`, `fjall`, `sled`) in this directory.
    Embedded(&'a std::path::Path, &'static str),
    /// The PostgreSQL database at this URL (several nodes may share it).
    Postgres(&'a str),
}

/// A `baton serve` process, killed when dropped (a failed assertion must
/// not leave it running).
type Node = common::Child;

fn spawn(board: Board<'_>) -> (Node, String) {
    spawn_with_slots(board, SLOTS)
}

fn spawn_with_slots(board: Board<'_>, slots: u32) -> (Node, String) {
    let mut cmd = Command::new(binary());
    cmd.args(["serve", "--bind", "127.0.0.1:0"]);
    match board {
        Board::Embedded(dir, engine) => {
            cmd.arg("--data-dir")
                .arg(dir)
                .env("BATON_STORAGE__BACKEND", engine);
        }
        Board::Postgres(url) => {
            cmd.env("BATON_STORAGE__BACKEND", "postgres")
                .env("BATON_STORAGE__URL", url)
                .env("BATON_HA__FAILOVER_TIMEOUT_SECS", FAILOVER_SECS.to_string());
        }
    }
    cmd.env("BATON_SLOTS__COUNT", slots.to_string())
        .env("BATON_LEASES__TTL_SECS", (TTL_MS / 1000).to_string())
        .env(
            "BATON_LEASES__COMPAT_TTL_SECS",
            (COMPAT_TTL_MS / 1000).to_string(),
        )
        .env("BATON_MCP__ENABLED", "false")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    let announces = common::Announces::Stdout(common::child::BATON_LISTENING);
    let node = common::Child::start(cmd, announces, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("baton did not report its address: {e}"));
    let url = node.url.clone();
    (node, url)
}

// ---- the client log ----------------------------------------------------------

/// One acknowledged claim.
#[derive(Debug, Clone)]
struct Claim {
    task: String,
    lease: u64,
    worker: String,
    /// Server time of the claim and of its lease's end (ms).
    claimed_at: u64,
    expires_at: u64,
}

/// A hold of a slot the client is certain of: from the grant's answer to
/// the release's (or completion's) request, by the client's clock.
#[derive(Debug, Clone)]
struct Hold {
    slot: u32,
    holder: String,
    from: Instant,
    to: Option<Instant>,
}

#[derive(Debug, Default)]
struct Log {
    added: HashSet<String>,
    claims: Vec<Claim>,
    /// task -> (worker, lease) of acknowledged completions
    completions: Vec<(String, String, Option<u64>)>,
    holds: Vec<Hold>,
    /// requests whose answer was lost (the kill), by kind
    ambiguous: BTreeMap<&'static str, usize>,
    /// holds a worker was told it has, found gone while it still held them
    lost_holds: Vec<String>,
}

struct Shared {
    base: RwLock<String>,
    http: reqwest::Client,
    log: Mutex<Log>,
    stop: AtomicBool,
    /// the DAG: id -> dependencies
    deps: HashMap<String, Vec<String>>,
}

enum Sent {
    /// An answer.
    Answer(u16, Value),
    /// No answer and maybe applied (the kill).
    Lost,
}

impl Shared {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ambiguous(&self, kind: &'static str) {
        *self.log().ambiguous.entry(kind).or_default() += 1;
    }

    /// One request; `None` body is a GET. A refused connection was not sent:
    /// it is retried (the server is restarting) until answered or lost.
    async fn send(&self, path: &str, body: Option<Value>) -> Sent {
        loop {
            let base = self.base.read().unwrap_or_else(|p| p.into_inner()).clone();
            let url = format!("{base}{path}");
            let req = match &body {
                Some(b) => self.http.post(url).json(b),
                None => self.http.get(url),
            };
            match req.send().await {
                Ok(res) => {
                    let status = res.status().as_u16();
                    match res.text().await {
                        Ok(text) => {
                            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                            match v["error"]["code"].as_str() {
                                // a follower with no leader to send it to: not sent
                                Some("no_leader") => {
                                    // sleep: a client's pause before retrying
                                    tokio::time::sleep(Duration::from_millis(20)).await;
                                    continue;
                                }
                                // the leader died under a proxied request: maybe applied
                                Some("leader_unreachable") => return Sent::Lost,
                                _ => return Sent::Answer(status, v),
                            }
                        }
                        Err(_) => return Sent::Lost,
                    }
                }
                Err(e) if e.is_connect() => {
                    // sleep: the server is restarting, a client's pause before retrying
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(_) => return Sent::Lost,
            }
        }
    }
}

// ---- the load ---------------------------------------------------------------

fn dag() -> Vec<(String, Vec<String>)> {
    let mut out = vec![("root".to_owned(), vec![])];
    for m in 0..MIDS {
        out.push((format!("m{m}"), vec!["root".to_owned()]));
    }
    for m in 0..MIDS {
        for l in 0..LEAVES {
            out.push((format!("m{m}-l{l}"), vec![format!("m{m}")]));
        }
    }
    out
}

/// Add the DAG: REST batches for the root and mids and half the leaves, the
/// compat `add-task` for the rest. Lost answers are retried (an existing id
/// means the lost add was applied).
async fn loader(sh: Arc<Shared>) {
    let all = dag();
    let (rest, compat): (Vec<_>, Vec<_>) = all
        .into_iter()
        .enumerate()
        .partition(|(i, (id, _))| *i <= MIDS || id.ends_with(['0', '2', '4']));
    for chunk in rest.chunks(20) {
        let tasks: Vec<Value> = chunk
            .iter()
            .map(|(_, (id, deps))| json!({"id": id, "title": id, "dependencies": deps, "max_attempts": 50}))
            .collect();
        loop {
            match sh
                .send("/api/v1/tasks", Some(json!({ "tasks": tasks })))
                .await
            {
                Sent::Answer(201, _) => {
                    let mut log = sh.log();
                    for (_, (id, _)) in chunk {
                        log.added.insert(id.clone());
                    }
                    break;
                }
                Sent::Answer(409, v) if v["error"]["code"] == "task_exists" => break,
                Sent::Answer(st, v) => panic!("add batch: {st} {v}"),
                Sent::Lost => sh.ambiguous("add"),
            }
        }
    }
    for (_, (id, deps)) in compat {
        loop {
            let body = json!({"id": id, "description": id, "dependencies": deps});
            match sh.send("/api/add-task", Some(body)).await {
                Sent::Answer(200, v) if v["success"] == true => {
                    sh.log().added.insert(id.clone());
                    break;
                }
                Sent::Answer(200, v) if v["code"] == "task_exists" => break,
                Sent::Answer(st, v) => panic!("compat add: {st} {v}"),
                Sent::Lost => sh.ambiguous("add"),
            }
        }
    }
}

fn output_of(worker: &str, lease: u64) -> String {
    format!("{worker}#{lease}")
}

/// A REST v1 worker; `explicit`: it holds a slot and claims into it.
async fn rest_worker(sh: Arc<Shared>, me: String, explicit: bool) {
    let mut slot: Option<(u32, usize)> = None; // (slot, index of its hold)
    while !sh.stop.load(Ordering::SeqCst) {
        if explicit && slot.is_none() {
            match sh
                .send("/api/v1/slots/claim", Some(json!({ "worker": me })))
                .await
            {
                Sent::Answer(200, v) => {
                    let s = v["slot"].as_u64().expect("slot") as u32;
                    let mut log = sh.log();
                    log.holds.push(Hold {
                        slot: s,
                        holder: me.clone(),
                        from: Instant::now(),
                        to: None,
                    });
                    slot = Some((s, log.holds.len() - 1));
                }
                Sent::Answer(409, _) => {
                    // sleep: every slot held, a worker's pause before asking again
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                Sent::Answer(st, v) => panic!("slot claim: {st} {v}"),
                Sent::Lost => {
                    sh.ambiguous("slot claim");
                    // a named hold can be found again
                    if let Sent::Answer(200, v) = sh.send("/api/v1/slots", None).await {
                        let mine = v["slots"].as_array().and_then(|a| {
                            a.iter()
                                .find(|s| s["worker"] == me.as_str() && s["explicit"] == true)
                                .and_then(|s| s["slot"].as_u64())
                        });
                        if let Some(s) = mine {
                            let mut log = sh.log();
                            log.holds.push(Hold {
                                slot: s as u32,
                                holder: me.clone(),
                                from: Instant::now(),
                                to: None,
                            });
                            slot = Some((s as u32, log.holds.len() - 1));
                        }
                    }
                    continue;
                }
            }
        }
        let mut body = json!({ "worker": me });
        if let Some((s, _)) = slot {
            body["slot"] = json!(s);
        }
        let claim = match sh.send("/api/v1/tasks/claim-next", Some(body)).await {
            Sent::Answer(200, v) => v,
            Sent::Answer(409, v) if v["error"]["code"] == "slot_not_held" => {
                sh.log()
                    .lost_holds
                    .push(format!("{me}: slot {slot:?} gone: {v}"));
                slot = None;
                continue;
            }
            Sent::Answer(204, _) | Sent::Answer(409, _) => {
                // sleep: nothing to claim yet, a worker's pause before asking again
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
            Sent::Answer(st, v) => panic!("claim-next: {st} {v}"),
            Sent::Lost => {
                sh.ambiguous("claim");
                continue; // an unknown lease lapses after the TTL
            }
        };
        let acked = Instant::now();
        let task = claim["task"]["id"].as_str().expect("id").to_owned();
        let l = &claim["lease"];
        let lease = l["lease_id"].as_u64().expect("lease_id");
        let task_slot = l["slot"].as_u64().expect("slot") as u32;
        let ms =
            |k: &str| baton::model::rfc3339::parse(l[k].as_str().expect("time")).expect("rfc3339");
        let bound_hold = {
            let mut log = sh.log();
            log.claims.push(Claim {
                task: task.clone(),
                lease,
                worker: me.clone(),
                claimed_at: ms("claimed_at"),
                expires_at: ms("expires_at"),
            });
            if slot.is_none() {
                log.holds.push(Hold {
                    slot: task_slot,
                    holder: format!("{me}:{task}"),
                    from: acked,
                    to: None,
                });
                Some(log.holds.len() - 1)
            } else {
                None
            }
        };
        let sent = Instant::now();
        if let Some(h) = bound_hold {
            sh.log().holds[h].to = Some(sent);
        }
        let out = output_of(&me, lease);
        let body = json!({ "lease_id": lease, "output": out });
        loop {
            match sh
                .send(
                    &format!("/api/v1/tasks/{task}/complete"),
                    Some(body.clone()),
                )
                .await
            {
                Sent::Answer(200, _) => {
                    sh.log()
                        .completions
                        .push((task.clone(), me.clone(), Some(lease)));
                    break;
                }
                // the lease lapsed while baton restarted, or a lost answer's
                // completion was applied: either way not acknowledged to us
                Sent::Answer(409, _) => break,
                Sent::Answer(st, v) => panic!("complete: {st} {v}"),
                Sent::Lost => sh.ambiguous("complete"),
            }
        }
    }
    if let Some((s, h)) = slot {
        sh.log().holds[h].to = Some(Instant::now());
        let _ = sh
            .send(
                &format!("/api/v1/slots/{s}/release"),
                Some(json!({ "worker": me })),
            )
            .await;
    }
}

/// An agent-coordinate-mcp worker.
async fn compat_worker(sh: Arc<Shared>, me: String, seed: u64) {
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut slot: Option<(u32, usize)> = None; // (1-based slot, hold index)
    let mut done_in_slot = 0;
    while !sh.stop.load(Ordering::SeqCst) {
        let Some((n, hold)) = slot else {
            match sh.send("/api/claim-worker-slot", Some(json!({}))).await {
                Sent::Answer(200, v) if v["success"] == true => {
                    let n = v["slot"].as_u64().expect("slot") as u32;
                    let mut log = sh.log();
                    log.holds.push(Hold {
                        slot: n - 1,
                        holder: me.clone(),
                        from: Instant::now(),
                        to: None,
                    });
                    slot = Some((n, log.holds.len() - 1));
                    done_in_slot = 0;
                }
                // sleep: no slot free yet, a worker's pause before asking again
                Sent::Answer(200, _) => tokio::time::sleep(Duration::from_millis(20)).await,
                Sent::Answer(st, v) => panic!("claim-worker-slot: {st} {v}"),
                // an anonymous hold nobody knows about: it lapses when idle
                Sent::Lost => sh.ambiguous("slot claim"),
            }
            continue;
        };
        if done_in_slot >= 7 {
            sh.log().holds[hold].to = Some(Instant::now());
            let mut lost = false;
            loop {
                match sh
                    .send(
                        "/api/release-worker-slot",
                        Some(json!({"slot": n, "workerId": me})),
                    )
                    .await
                {
                    Sent::Answer(200, v) => {
                        // not held any more is right only after a lost answer
                        if v["success"] != true && !lost {
                            sh.log()
                                .lost_holds
                                .push(format!("{me}: slot {n} gone at release: {v}"));
                        }
                        break;
                    }
                    Sent::Answer(st, v) => panic!("release-worker-slot: {st} {v}"),
                    Sent::Lost => {
                        lost = true;
                        sh.ambiguous("slot release");
                    }
                }
            }
            slot = None;
            continue;
        }
        if sh.stop.load(Ordering::SeqCst) {
            break;
        }
        let avail = match sh.send("/api/available-tasks", None).await {
            Sent::Answer(200, v) => v["tasks"].as_array().cloned().unwrap_or_default(),
            _ => continue,
        };
        if avail.is_empty() {
            // sleep: nothing available yet, a worker's pause before asking again
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let pick = &avail[(next() as usize) % avail.len().min(5)];
        let task = pick["id"].as_str().expect("id").to_owned();
        let body = json!({"taskId": task, "workerId": me, "workerSlot": n});
        let lease = match sh.send("/api/claim-task", Some(body)).await {
            Sent::Answer(200, v) if v["success"] == true => {
                let lease = v["leaseId"].as_u64().expect("leaseId");
                let exp = baton::model::rfc3339::parse(v["expiresAt"].as_str().expect("expiresAt"))
                    .expect("rfc3339");
                sh.log().claims.push(Claim {
                    task: task.clone(),
                    lease,
                    worker: me.clone(),
                    claimed_at: exp - COMPAT_TTL_MS,
                    expires_at: exp,
                });
                Some(lease)
            }
            Sent::Answer(200, v) => {
                if v["code"] == "slot_not_held" {
                    sh.log()
                        .lost_holds
                        .push(format!("{me}: slot {n} gone at claim-task: {v}"));
                    slot = None;
                }
                continue;
            }
            Sent::Answer(st, v) => panic!("claim-task: {st} {v}"),
            // maybe ours now: finish it by name below (refused if not)
            Sent::Lost => {
                sh.ambiguous("claim");
                None
            }
        };
        let out = format!("{me}#{}", lease.map_or("?".to_owned(), |l| l.to_string()));
        let body = json!({"taskId": task, "status": "done", "workerId": me, "output": out});
        loop {
            match sh.send("/api/update-task", Some(body.clone())).await {
                Sent::Answer(200, v) if v["success"] == true => {
                    sh.log().completions.push((task.clone(), me.clone(), lease));
                    done_in_slot += 1;
                    break;
                }
                Sent::Answer(200, _) => break, // not ours (a lost claim that did not happen)
                Sent::Answer(st, v) => panic!("update-task: {st} {v}"),
                Sent::Lost => sh.ambiguous("complete"),
            }
        }
    }
    if let Some((n, hold)) = slot {
        sh.log().holds[hold].to = Some(Instant::now());
        let _ = sh
            .send(
                "/api/release-worker-slot",
                Some(json!({"slot": n, "workerId": me})),
            )
            .await;
    }
}

// ---- the checks -------------------------------------------------------------

#[derive(Debug, Default)]
struct Verdict {
    lost_adds: Vec<String>,
    lost_claims: Vec<String>,
    lost_completions: Vec<String>,
    double_claims: Vec<String>,
    order_violations: Vec<String>,
    slots_granted_twice: Vec<String>,
    /// Slots still held once every agent gave its slot back (checked in the
    /// compat-only runs; `None`: not checked).
    left_held: Option<Vec<String>>,
}

impl Verdict {
    fn total(&self) -> usize {
        self.left_held.as_ref().map_or(0, Vec::len)
            + self.lost_adds.len()
            + self.lost_claims.len()
            + self.lost_completions.len()
            + self.double_claims.len()
            + self.order_violations.len()
            + self.slots_granted_twice.len()
    }
}

async fn check(sh: &Shared, log: &Log) -> Verdict {
    let mut v = Verdict::default();
    let mut board: HashMap<String, Value> = HashMap::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/api/v1/tasks?limit=1000{cursor}");
        let Sent::Answer(200, page) = sh.send(&path, None).await else {
            panic!("list");
        };
        for t in page["tasks"].as_array().expect("tasks") {
            board.insert(t["id"].as_str().expect("id").to_owned(), t.clone());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let mut events: HashMap<String, Vec<Value>> = HashMap::new();
    for id in board.keys() {
        let Sent::Answer(200, e) = sh.send(&format!("/api/v1/tasks/{id}/events"), None).await
        else {
            panic!("events");
        };
        events.insert(
            id.clone(),
            e["events"].as_array().cloned().unwrap_or_default(),
        );
    }
    let at = |e: &Value| baton::model::rfc3339::parse(e["at"].as_str().unwrap_or("")).unwrap_or(0);
    let with = |id: &str, kind: &str| -> Vec<Value> {
        events
            .get(id)
            .map(|es| es.iter().filter(|e| e["kind"] == kind).cloned().collect())
            .unwrap_or_default()
    };

    for id in &log.added {
        if !board.contains_key(id) {
            v.lost_adds.push(id.clone());
        }
    }
    for c in &log.claims {
        let found = with(&c.task, "task_claimed")
            .iter()
            .any(|e| e["lease_id"].as_u64() == Some(c.lease));
        if !found {
            v.lost_claims.push(format!("{} lease {}", c.task, c.lease));
        }
    }
    let mut completed: HashMap<&str, usize> = HashMap::new();
    for (task, worker, lease) in &log.completions {
        *completed.entry(task).or_default() += 1;
        let Some(t) = board.get(task) else {
            v.lost_completions
                .push(format!("{task} by {worker}: no such task"));
            continue;
        };
        let out_ok = match lease {
            Some(l) => t["output"] == output_of(worker, *l).as_str(),
            None => t["output"]
                .as_str()
                .is_some_and(|o| o.starts_with(&format!("{worker}#"))),
        };
        let event_ok = lease.is_none_or(|l| {
            with(task, "task_completed")
                .iter()
                .any(|e| e["lease_id"].as_u64() == Some(l))
        });
        if t["status"] != "done" || !out_ok || !event_ok {
            v.lost_completions.push(format!("{task} by {worker}: {t}"));
        }
    }
    for (task, n) in completed {
        if n > 1 {
            v.double_claims.push(format!("{task} completed {n} times"));
        }
    }
    let mut by_task: HashMap<&str, Vec<&Claim>> = HashMap::new();
    for c in &log.claims {
        by_task.entry(&c.task).or_default().push(c);
    }
    for (task, mut cs) in by_task {
        cs.sort_by_key(|c| c.claimed_at);
        for w in cs.windows(2) {
            if w[1].claimed_at < w[0].expires_at {
                v.double_claims.push(format!(
                    "{task}: lease {} ({}) and lease {} ({}) overlap",
                    w[0].lease, w[0].worker, w[1].lease, w[1].worker
                ));
            }
        }
    }
    // server side: every claim (acknowledged or not) after its dependencies completed
    for (id, deps) in &sh.deps {
        for claim in with(id, "task_claimed") {
            for d in deps {
                let done = with(d, "task_completed").iter().map(at).min();
                if done.is_none_or(|d_at| at(&claim) < d_at) {
                    v.order_violations
                        .push(format!("{id} claimed before {d} completed"));
                }
            }
        }
        if board.get(id).is_some_and(|t| t["status"] == "done")
            && !deps
                .iter()
                .all(|d| board.get(d).is_some_and(|t| t["status"] == "done"))
        {
            v.order_violations
                .push(format!("{id} done before a dependency"));
        }
    }
    // client side: holds of one slot certainly held at once
    let end = Instant::now();
    let mut by_slot: HashMap<u32, Vec<&Hold>> = HashMap::new();
    for h in &log.holds {
        by_slot.entry(h.slot).or_default().push(h);
    }
    for (slot, hs) in by_slot {
        for (i, a) in hs.iter().enumerate() {
            for b in &hs[i + 1..] {
                let (a_to, b_to) = (a.to.unwrap_or(end), b.to.unwrap_or(end));
                if a.from < b_to && b.from < a_to {
                    v.slots_granted_twice
                        .push(format!("slot {slot}: {} and {}", a.holder, b.holder));
                }
            }
        }
    }
    // a hold taken away from its holder is the other half of a double grant
    v.slots_granted_twice.extend(log.lost_holds.iter().cloned());
    v
}

// ---- one run -------------------------------------------------------------------

struct RunReport {
    killed_after: Duration,
    /// Two nodes: from the kill to the follower's `/readyz` 200.
    failover: Option<Duration>,
    took: Duration,
    adds: usize,
    claims: usize,
    completions: usize,
    holds: usize,
    ambiguous: BTreeMap<&'static str, usize>,
    verdict: Verdict,
}

/// How the run's server dies and comes back.
enum Topology<'a> {
    /// One node on an embedded engine: `kill -9`, then a restart on the same directory.
    Single(&'a std::path::Path, &'static str),
    /// A leader and a follower on one PostgreSQL database: `kill -9` of the
    /// leader; the follower takes over. `via_follower`: the clients talk
    /// to the follower from the start (every request proxied until it
    /// leads), else to the leader until it dies.
    Pair { url: &'a str, via_follower: bool },
}

async fn one_run(run: u64, topology: Topology<'_>) -> RunReport {
    let mut nodes: Vec<(Node, String)> = Vec::new();
    let base = match &topology {
        Topology::Single(dir, engine) => {
            nodes.push(spawn(Board::Embedded(dir, engine)));
            nodes[0].1.clone()
        }
        Topology::Pair { url, via_follower } => {
            nodes.push(spawn(Board::Postgres(url)));
            let a = nodes[0].1.clone();
            ready("the first node leads", &a, Duration::from_secs(30)).await;
            nodes.push(spawn(Board::Postgres(url)));
            let b = nodes[1].1.clone();
            if *via_follower {
                b
            } else {
                a
            }
        }
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let deps: HashMap<String, Vec<String>> = dag().into_iter().collect();
    let sh = Arc::new(Shared {
        base: RwLock::new(base),
        http,
        log: Mutex::new(Log::default()),
        stop: AtomicBool::new(false),
        deps,
    });
    let started = Instant::now();
    let mut handles = vec![tokio::spawn(loader(sh.clone()))];
    for i in 0..REST_WORKERS {
        let explicit = i < REST_EXPLICIT;
        handles.push(tokio::spawn(rest_worker(
            sh.clone(),
            format!("r{i}"),
            explicit,
        )));
    }
    for i in 0..COMPAT_WORKERS {
        let seed = (run * 1_000 + i as u64) | 1;
        handles.push(tokio::spawn(compat_worker(
            sh.clone(),
            format!("c{i}"),
            seed,
        )));
    }
    // one kill -9 at a random point of the run
    let kill_at = Duration::from_millis(200 + (run * 7_919 + 104_729) % 2_300);
    // sleep: the random kill point is the thing under test (the workers run meanwhile)
    tokio::time::sleep(kill_at).await;
    let (mut victim, _) = nodes.remove(0);
    victim.process.kill().expect("kill -9"); // SIGKILL
    victim.process.wait().expect("reap");
    let killed_after = started.elapsed();
    let mut failover = None;
    match &topology {
        Topology::Single(dir, engine) => {
            nodes.push(spawn(Board::Embedded(dir, engine)));
            *sh.base.write().unwrap_or_else(|p| p.into_inner()) = nodes[0].1.clone();
        }
        Topology::Pair { url, .. } => {
            // the follower serves within the failover timeout
            let b_url = nodes[0].1.clone();
            let bound = Duration::from_secs(FAILOVER_SECS) + Duration::from_secs(5);
            let t0 = Instant::now();
            let what = format!("run {run}: the follower takes over");
            ready(&what, &b_url, bound).await;
            failover = Some(t0.elapsed());
            *sh.base.write().unwrap_or_else(|p| p.into_inner()) = b_url;
            // the killed node comes back, as a follower
            nodes.push(spawn(Board::Postgres(url)));
        }
    }

    // until every task is done (within RUN_LIMIT of the start)
    let what = format!("run {run} finishes in {RUN_LIMIT:?}");
    common::wait_until(
        &what,
        RUN_LIMIT.saturating_sub(started.elapsed()),
        || async {
            let stats = sh.send("/api/v1/stats", None).await.answer();
            let done = stats.as_ref().and_then(|s| s["tasks"]["done"].as_u64());
            common::holds(done == Some(TASKS as u64), format!("{stats:?}"))
        },
    )
    .await;
    sh.stop.store(true, Ordering::SeqCst);
    for h in handles {
        h.await.expect("worker");
    }
    let took = started.elapsed();
    let log = std::mem::take(&mut *sh.log());
    let verdict = check(&sh, &log).await;
    drop(nodes);
    RunReport {
        killed_after,
        failover,
        took,
        adds: log.added.len(),
        claims: log.claims.len(),
        completions: log.completions.len(),
        holds: log.holds.len(),
        ambiguous: log.ambiguous,
        verdict,
    }
}

/// Poll `node`'s `/readyz` until 200 (bounded by `within`; fails naming `what`).
async fn ready(what: &str, node: &str, within: Duration) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    common::wait_until(what, within, || async {
        let res = http.get(format!("{node}/readyz")).send().await;
        res.is_ok_and(|r| r.status() == 200)
    })
    .await;
}

impl Sent {
    fn answer(self) -> Option<Value> {
        match self {
            Sent::Answer(_, v) => Some(v),
            Sent::Lost => None,
        }
    }
}

fn print_header() {
    println!(
        "| run | killed after | failover | took | acked adds | acked claims | acked completions | slot holds | lost answers | lost adds | lost claims | lost completions | double claims | order violations | slots granted twice | held at the end |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
}

/// Print one run's row; whether it broke a promise.
fn report(run: u64, r: &RunReport) -> bool {
    let v = &r.verdict;
    println!(
        "| {run} | {:.2} s | {} | {:.1} s | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        r.killed_after.as_secs_f64(),
        r.failover
            .map_or("–".to_owned(), |f| format!("{:.2} s", f.as_secs_f64())),
        r.took.as_secs_f64(),
        r.adds,
        r.claims,
        r.completions,
        r.holds,
        r.ambiguous.values().sum::<usize>(),
        v.lost_adds.len(),
        v.lost_claims.len(),
        v.lost_completions.len(),
        v.double_claims.len(),
        v.order_violations.len(),
        v.slots_granted_twice.len(),
        v.left_held
            .as_ref()
            .map_or("–".to_owned(), |h| h.len().to_string()),
    );
    assert!(r.completions > 0 && r.claims > 0, "the load ran");
    if v.total() > 0 {
        eprintln!("run {run}: {v:#?}");
        return true;
    }
    false
}

/// The two loops run one at a time (under `--test-threads=2` they would
/// share the machine's cores, and the failover bound would measure that).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn runs(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loop_keeps_every_acknowledged_write_and_never_grants_twice() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let runs = runs("SOAK_RUNS", 1);
    let mut failed = 0;
    let mut engines = vec!["redb", "fjall"];
    if cfg!(feature = "sled") {
        engines.push("sled");
    }
    for engine in &engines {
        println!("\n{engine}:\n");
        print_header();
        for run in 1..=runs {
            let dir = tempfile::tempdir().expect("tempdir");
            let r = one_run(run, Topology::Single(dir.path(), engine)).await;
            failed += usize::from(report(run, &r));
        }
    }
    assert_eq!(
        failed,
        0,
        "{failed} of {} runs broke a promise",
        runs * engines.len() as u64
    );
}

/// Issue 14, must-show 2: two nodes on one PostgreSQL database, the same
/// load and checks; the leader is killed at a random point and the
/// follower serves within `[ha] failover_timeout_secs`. Odd runs talk to
/// the follower from the start (every request proxied until it leads),
/// even runs to the leader until it dies. `HA_RUNS` runs (default 2, in
/// `make test`; `make soak` runs 10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_leader_fails_over_and_keeps_every_acknowledged_write() {
    let Some(pg) = postgres::Postgres::start_or_skip() else {
        return;
    };
    let _alone = ONE_AT_A_TIME.lock().await;
    let runs = runs("HA_RUNS", 2);
    let mut failed = 0;
    let mut slowest = Duration::ZERO;
    print_header();
    for run in 1..=runs {
        let url = pg.database();
        let r = one_run(
            run,
            Topology::Pair {
                url: &url,
                via_follower: run % 2 == 1,
            },
        )
        .await;
        slowest = slowest.max(r.failover.unwrap_or_default());
        failed += usize::from(report(run, &r));
    }
    assert_eq!(failed, 0, "{failed} of {runs} runs broke a promise");
    assert!(
        slowest <= Duration::from_secs(FAILOVER_SECS),
        "the slowest failover took {slowest:?}, beyond failover_timeout_secs = {FAILOVER_SECS}"
    );
}

// ---- issue 23.8: the agent-coordinate-mcp workflow alone, every lost answer retried ----

/// Slots of the compat-only runs: fewer than agents, as in the report
/// (capacity 2 of 5 after one run).
const COMPAT_SLOTS: u32 = 5;
/// Agents of the compat-only runs.
const COMPAT_AGENTS: usize = 7;
/// `kill -9`s per compat-only run.
const COMPAT_KILLS: u64 = 3;
/// `[slots] adopt_within_secs` (its default): an anonymous hold nobody
/// adopts lapses after this.
const ADOPT_WITHIN: Duration = Duration::from_secs(30);

/// Send one request until it is answered: a lost answer (the kill) is
/// retried with the same body, as a careful client does. Returns the
/// answer and whether an earlier try's answer was lost (then that try may
/// have been applied).
async fn until_answered(
    sh: &Shared,
    path: &str,
    body: Option<Value>,
    kind: &'static str,
) -> (u16, Value, bool) {
    let mut lost = false;
    loop {
        match sh.send(path, body.clone()).await {
            Sent::Answer(st, v) => return (st, v, lost),
            Sent::Lost => {
                lost = true;
                sh.ambiguous(kind);
            }
        }
    }
}

/// Add the DAG through the compat `add-task` only.
async fn compat_loader(sh: Arc<Shared>) {
    for (id, deps) in dag() {
        let body = json!({"id": id, "description": id, "dependencies": deps});
        match until_answered(&sh, "/api/add-task", Some(body), "add").await {
            (200, v, _) if v["success"] == true => {
                sh.log().added.insert(id);
            }
            // a lost add that was applied
            (200, v, true) if v["code"] == "task_exists" => {}
            (st, v, _) => panic!("compat add of {id}: {st} {v}"),
        }
    }
}

/// A slot an agent holds.
#[derive(Clone, Copy)]
struct Held {
    /// 1-based, as these routes number slots.
    n: u32,
    /// Index of its [`Hold`] in the log.
    hold: usize,
    /// When the claim was first sent: an anonymous hold lapses no earlier
    /// than `adopt_within_secs` after it.
    requested: Instant,
    /// A `claim-task` ran in it: an anonymous hold is the agent's by name now.
    adopted: bool,
}

/// An agent that uses only the agent-coordinate-mcp routes and retries every
/// request whose answer was lost: `claim-worker-slot` with a `requestId`
/// (anonymous like the agent-coordinate-mcp shim, or `named` with its
/// `workerId`), then `available-tasks` → `claim-task` into its slot →
/// `update-task done` (with the claim's `leaseId`); every 7 tasks it gives
/// the slot back and claims another.
async fn retrying_compat_agent(sh: Arc<Shared>, me: String, named: bool, seed: u64) {
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut slot: Option<Held> = None;
    let mut done_in_slot = 0;
    let mut requests = 0u64;
    let release = |held: Held| {
        let (sh, me) = (sh.clone(), me.clone());
        async move {
            sh.log().holds[held.hold].to = Some(Instant::now());
            // a hold of the agent's name, or not yet adopted: released by
            // number, as the agent-coordinate-mcp shim does (an anonymous
            // release is never lost here: no kill follows the last
            // restart, and before it agents release only adopted holds)
            let body = if named || held.adopted {
                json!({"slot": held.n, "workerId": me})
            } else {
                json!({"slot": held.n})
            };
            match until_answered(&sh, "/api/release-worker-slot", Some(body), "slot release").await
            {
                (200, v, _) if v["success"] == true => {}
                // the lost try released it
                (200, v, true) if v["code"] == "slot_not_held" => {}
                (st, v, _) => sh
                    .log()
                    .lost_holds
                    .push(format!("{me}: slot {} gone at release: {st} {v}", held.n)),
            }
        }
    };
    while !sh.stop.load(Ordering::SeqCst) {
        let Some(held) = slot else {
            requests += 1;
            let mut body = json!({ "requestId": format!("{me}-slot-{requests}") });
            if named {
                body["workerId"] = json!(me);
            }
            let requested = Instant::now();
            match until_answered(&sh, "/api/claim-worker-slot", Some(body), "slot claim").await {
                (200, v, _) if v["success"] == true => {
                    let n = v["slot"].as_u64().expect("slot") as u32;
                    let mut log = sh.log();
                    log.holds.push(Hold {
                        slot: n - 1,
                        holder: me.clone(),
                        from: Instant::now(),
                        to: None,
                    });
                    slot = Some(Held {
                        n,
                        hold: log.holds.len() - 1,
                        requested,
                        adopted: false,
                    });
                    done_in_slot = 0;
                }
                (200, v, _) if v["code"] == "no_free_slot" => {
                    // an agent's backoff while every slot is held (the load, not a wait to assert on)
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                (st, v, _) => panic!("claim-worker-slot: {st} {v}"),
            }
            continue;
        };
        if done_in_slot >= 7 {
            release(held).await;
            slot = None;
            continue;
        }
        let avail = match until_answered(&sh, "/api/available-tasks", None, "read").await {
            (200, v, _) => v["tasks"].as_array().cloned().unwrap_or_default(),
            (st, v, _) => panic!("available-tasks: {st} {v}"),
        };
        if avail.is_empty() {
            // an agent's backoff while nothing is available (the load)
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let task = avail[(next() as usize) % avail.len().min(5)]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let body = json!({"taskId": task, "workerId": me, "workerSlot": held.n});
        let lease = match until_answered(&sh, "/api/claim-task", Some(body), "claim").await {
            (200, v, _) if v["success"] == true => {
                let lease = v["leaseId"].as_u64().expect("leaseId");
                let exp = baton::model::rfc3339::parse(v["expiresAt"].as_str().expect("expiresAt"))
                    .expect("rfc3339");
                sh.log().claims.push(Claim {
                    task: task.clone(),
                    lease,
                    worker: me.clone(),
                    claimed_at: exp - COMPAT_TTL_MS,
                    expires_at: exp,
                });
                slot = Some(Held {
                    adopted: true,
                    ..held
                });
                lease
            }
            (200, v, _) if v["code"] == "slot_not_held" => {
                let lapse = held.requested + ADOPT_WITHIN;
                if !named && !held.adopted && Instant::now() >= lapse {
                    // an anonymous hold nobody adopted in time lapses, as promised
                    sh.log().holds[held.hold].to = Some(lapse);
                } else {
                    sh.log()
                        .lost_holds
                        .push(format!("{me}: slot {} gone at claim-task: {v}", held.n));
                }
                slot = None;
                continue;
            }
            // another agent took it first
            (200, v, _) if v["code"] == "invalid_status" => continue,
            (st, v, _) => panic!("claim-task: {st} {v}"),
        };
        let out = output_of(&me, lease);
        let body = json!({"taskId": task, "status": "done", "workerId": me, "leaseId": lease, "output": out});
        match until_answered(&sh, "/api/update-task", Some(body), "complete").await {
            (200, v, _) if v["success"] == true => {
                sh.log()
                    .completions
                    .push((task.clone(), me.clone(), Some(lease)));
            }
            // the lost try completed it (the final check finds it done with our output)
            (200, _, true) => {}
            (st, v, _) => panic!("update-task of {task} under lease {lease}: {st} {v}"),
        }
        done_in_slot += 1;
    }
    if let Some(held) = slot {
        release(held).await;
    }
}

/// One compat-only run: the loader and the agents against one node on
/// redb, `COMPAT_KILLS` `kill -9`s at random points, each followed by a
/// restart on the same directory. Ends with every task done and every
/// slot free, within [`RUN_LIMIT`] — far below the 600 s an orphaned
/// compat lease or anonymous hold would take to lapse.
async fn compat_run(run: u64, dir: &std::path::Path) -> RunReport {
    let mut node = spawn_with_slots(Board::Embedded(dir, "redb"), COMPAT_SLOTS);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let sh = Arc::new(Shared {
        base: RwLock::new(node.1.clone()),
        http,
        log: Mutex::new(Log::default()),
        stop: AtomicBool::new(false),
        deps: dag().into_iter().collect(),
    });
    let started = Instant::now();
    let mut handles = vec![tokio::spawn(compat_loader(sh.clone()))];
    for i in 0..COMPAT_AGENTS {
        let seed = (run * 7_777 + i as u64) | 1;
        handles.push(tokio::spawn(retrying_compat_agent(
            sh.clone(),
            format!("a{i}"),
            i % 2 == 1,
            seed,
        )));
    }
    let mut killed_after = Duration::ZERO;
    for k in 0..COMPAT_KILLS {
        let wait = Duration::from_millis(300 + (run * 7_919 + k * 104_729) % 1_500);
        // the kill point, varied per run and kill: what the test is about
        tokio::time::sleep(wait).await;
        let (mut victim, _) = node;
        victim.process.kill().expect("kill -9"); // SIGKILL
        victim.process.wait().expect("reap");
        killed_after = started.elapsed();
        node = spawn_with_slots(Board::Embedded(dir, "redb"), COMPAT_SLOTS);
        *sh.base.write().unwrap_or_else(|p| p.into_inner()) = node.1.clone();
    }
    loop {
        assert!(
            started.elapsed() < RUN_LIMIT,
            "compat run {run} did not finish in {RUN_LIMIT:?} (an orphaned lease or hold waits out 600 s): {:?} {:?}",
            sh.send("/api/v1/stats", None).await.answer(),
            sh.send("/api/workers", None).await.answer(),
        );
        if let Sent::Answer(200, s) = sh.send("/api/v1/stats", None).await {
            if s["tasks"]["done"].as_u64() == Some(TASKS as u64) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sh.stop.store(true, Ordering::SeqCst);
    for h in handles {
        h.await.expect("agent");
    }
    let took = started.elapsed();
    let log = std::mem::take(&mut *sh.log());
    let mut verdict = check(&sh, &log).await;
    // every slot free at once: the agents gave theirs back, and nothing
    // orphaned is left to lapse
    let Sent::Answer(200, workers) = sh.send("/api/workers", None).await else {
        panic!("workers");
    };
    verdict.left_held = Some(
        workers["workers"]
            .as_array()
            .expect("workers")
            .iter()
            .filter(|w| w["active"] == true)
            .map(Value::to_string)
            .collect(),
    );
    drop(node);
    RunReport {
        killed_after,
        failover: None,
        took,
        adds: log.added.len(),
        claims: log.claims.len(),
        completions: log.completions.len(),
        holds: log.holds.len(),
        ambiguous: log.ambiguous,
        verdict,
    }
}

/// Issue 23.8, must-show: agents that use only the agent-coordinate-mcp
/// routes and retry every request whose answer was lost, with `kill -9`s in
/// between: every run ends with every task done and every slot free,
/// without waiting out the 600 s compat lease (the run is bounded by
/// [`RUN_LIMIT`]), and with the same promises as the mixed loop (nothing
/// acknowledged lost, nothing granted twice). `SOAK_RUNS` runs (default 1,
/// in `make test`; `make soak` runs 10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loop_of_compat_agents_that_retry_ends_with_every_task_done_and_every_slot_free() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let runs = runs("SOAK_RUNS", 1);
    let mut failed = 0;
    print_header();
    for run in 1..=runs {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = compat_run(run, dir.path()).await;
        println!(
            "run {run}: answers lost and retried, by request: {:?}",
            r.ambiguous
        );
        failed += usize::from(report(run, &r));
    }
    assert_eq!(failed, 0, "{failed} of {runs} runs broke a promise");
}
