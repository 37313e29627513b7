//! Must-show 4: start the real `baton` binary, run a bounded write load,
//! `kill -9` it mid-load, restart on the same data dir: every acknowledged
//! add/claim/complete is there, nothing acknowledged is lost, and no task is
//! claimed twice — on every embedded engine (redb, fjall, sled).

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A `baton serve` child process (killed when dropped) and its `/api/v1` base.
struct Server {
    child: common::Child,
    base: String,
}

fn spawn(dir: &std::path::Path) -> Server {
    spawn_with(dir, &[("BATON_SLOTS__COUNT", "100000")])
}

/// [`spawn`] on the embedded engine `engine` (`redb`, `fjall`, `sled`).
fn spawn_on(dir: &std::path::Path, engine: &str) -> Server {
    spawn_with(
        dir,
        &[
            ("BATON_SLOTS__COUNT", "100000"),
            ("BATON_STORAGE__BACKEND", engine),
        ],
    )
}

/// The embedded engines of this build.
fn embedded_engines() -> Vec<&'static str> {
    let mut engines = vec!["redb", "fjall"];
    if cfg!(feature = "sled") {
        engines.push("sled");
    }
    engines
}

fn spawn_with(dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
    let dir = dir.to_str().expect("utf-8 path");
    let mut envs = vec![("BATON_LEASES__TTL_SECS", "600")];
    envs.extend_from_slice(env);
    let child = common::spawn_baton(
        &["serve", "--bind", "127.0.0.1:0", "--data-dir", dir],
        &envs,
    );
    let base = format!("{}/api/v1", child.url);
    Server { child, base }
}

/// GET `url`; its JSON body (panics on no answer or a body that is not JSON).
async fn get_json(http: &reqwest::Client, url: String) -> Value {
    let res = http.get(url).send().await.expect("request");
    res.json::<Value>().await.expect("json")
}

#[derive(Default)]
struct Acked {
    added: HashSet<String>,
    /// task -> lease id of the acknowledged claim
    claimed: HashMap<String, u64>,
    completed: HashSet<String>,
}

#[actix_web::test]
async fn acknowledged_writes_survive_kill_9() {
    for engine in embedded_engines() {
        let started = Instant::now();
        kill_9_run(engine).await;
        eprintln!("kill -9 on {engine}: {} ms", started.elapsed().as_millis());
    }
}

/// One kill -9 run on `engine`.
async fn kill_9_run(engine: &'static str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = spawn_on(dir.path(), engine);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let acked = Arc::new(Mutex::new(Acked::default()));
    let base = server.base.clone();

    // bounded load: 8 writers each add tasks and work them; we kill mid-way
    let mut handles = Vec::new();
    for w in 0..8 {
        let (http, base, acked) = (http.clone(), base.clone(), acked.clone());
        handles.push(actix_web::rt::spawn(async move {
            for i in 0..2_000 {
                let id = format!("w{w}-t{i}");
                let Ok(res) = http
                    .post(format!("{base}/tasks"))
                    .json(&json!({"id": id, "title": "t"}))
                    .send()
                    .await
                else {
                    return;
                };
                if res.status() != 201 {
                    return;
                }
                acked.lock().expect("acked").added.insert(id.clone());
                if i % 2 == 1 {
                    continue; // leave every other task ready (or claimed) for after the restart
                }
                let Ok(res) = http
                    .post(format!("{base}/tasks/{id}/claim"))
                    .json(&json!({"worker": format!("w{w}")}))
                    .send()
                    .await
                else {
                    return;
                };
                if res.status() != 200 {
                    return;
                }
                let Ok(v) = res.json::<Value>().await else {
                    return;
                };
                let lease = v["lease"]["lease_id"].as_u64().expect("lease");
                acked
                    .lock()
                    .expect("acked")
                    .claimed
                    .insert(id.clone(), lease);
                if i % 4 == 2 {
                    continue; // claimed, never completed
                }
                let Ok(res) = http
                    .post(format!("{base}/tasks/{id}/complete"))
                    .json(&json!({"lease_id": lease}))
                    .send()
                    .await
                else {
                    return;
                };
                if res.status() != 200 {
                    return;
                }
                acked.lock().expect("acked").completed.insert(id);
            }
        }));
    }
    // let the load run, then kill -9 while requests are in flight
    // (after 600 adds, or 60 s: the kill comes mid-load either way)
    let _ = common::eventually(Duration::from_secs(60), || async {
        acked.lock().expect("acked").added.len() >= 600
    })
    .await;
    server.child.process.kill().expect("kill -9"); // SIGKILL on Unix
    server.child.process.wait().expect("reap");
    for h in handles {
        let _ = h.await;
    }
    let acked = Arc::try_unwrap(acked)
        .ok()
        .expect("sole owner")
        .into_inner()
        .expect("acked");
    assert!(
        acked.added.len() >= 600,
        "{engine}: load ran: {}",
        acked.added.len()
    );
    assert!(!acked.completed.is_empty() && acked.claimed.len() > acked.completed.len());

    // restart on the same directory
    let server2 = spawn_on(dir.path(), engine);
    let mut tasks: HashMap<String, Value> = HashMap::new();
    let mut cursor = String::new();
    loop {
        let url = format!(
            "{}/tasks?limit=1000{}",
            server2.base,
            if cursor.is_empty() {
                String::new()
            } else {
                format!("&cursor={cursor}")
            }
        );
        let v: Value = http
            .get(url)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        for t in v["tasks"].as_array().expect("tasks") {
            tasks.insert(t["id"].as_str().expect("id").to_owned(), t.clone());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    for id in &acked.added {
        assert!(
            tasks.contains_key(id),
            "{engine}: acknowledged add of {id} was lost"
        );
    }
    for id in &acked.completed {
        assert_eq!(
            tasks[id]["status"], "done",
            "{engine}: acknowledged completion of {id} was lost"
        );
    }
    for (id, lease) in &acked.claimed {
        if acked.completed.contains(id) {
            continue;
        }
        let t = &tasks[id];
        // a claimed task either stayed running under exactly that lease, or was
        // completed by a request whose reply the kill swallowed
        match t["status"].as_str() {
            Some("running") => {
                assert_eq!(t["lease"]["lease_id"].as_u64(), Some(*lease), "{id}: {t}")
            }
            Some("done") => {}
            other => panic!("{engine}: acknowledged claim of {id} lost: {other:?} {t}"),
        }
    }

    // no task is claimed twice: draining the board hands out only unclaimed tasks
    let mut handed_out = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let res = http
            .post(format!("{}/tasks/claim-next", server2.base))
            .json(&json!({"worker": "after"}))
            .send()
            .await
            .expect("claim");
        if res.status() == 204 {
            break;
        }
        let v: Value = res.json().await.expect("json");
        let id = v["task"]["id"].as_str().expect("id").to_owned();
        assert!(
            !acked.claimed.contains_key(&id),
            "{engine}: {id} was claimed before the crash and handed out again"
        );
        assert!(
            handed_out.insert(id.clone()),
            "{engine}: {id} handed out twice"
        );
        let lease = v["lease"]["lease_id"].as_u64().expect("lease");
        let res = http
            .post(format!("{}/tasks/{id}/complete", server2.base))
            .json(&json!({"lease_id": lease}))
            .send()
            .await
            .expect("complete");
        assert_eq!(res.status(), 200);
    }
}

/// An MCP task handle (tasks extension) is written to the registry's store
/// before the client sees it: after `kill -9` and a restart, `tasks/get`
/// still knows it, and it settles when the task completes.
#[actix_web::test]
async fn task_handles_survive_kill_9() {
    use rmcp::model::{
        CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig, GetTaskParams,
        Implementation, TaskPayload, TaskStatus,
    };
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::ServiceExt;

    async fn connect(base: &str) -> rmcp::service::RunningService<rmcp::RoleClient, ClientConfig> {
        let url = base.replace("/api/v1", "/mcp");
        let info = ClientConfig::new(
            ClientCapabilities::builder().enable_tasks().build(),
            Implementation::new("durability", "1.0.0"),
        );
        info.serve(StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(url),
        ))
        .await
        .expect("initialize")
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let mut server = spawn(dir.path());
    let res = http
        .post(format!("{}/tasks", server.base))
        .json(&json!({ "id": "awaited", "title": "awaited" }))
        .send()
        .await
        .expect("add");
    assert_eq!(res.status().as_u16(), 201);

    let client = connect(&server.base).await;
    let args = json!({ "task_id": "awaited", "timeout_secs": 600 });
    let params = CallToolRequestParams::new("wait_for_task")
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    let handle = match client.call_tool_once(params).await.expect("tools/call") {
        CallToolResponse::Task(created) => created.task.task_id,
        other => panic!("expected a task handle, got {other:?}"),
    };
    // acknowledged: kill at once, no graceful shutdown
    server.child.process.kill().expect("kill -9");
    let _ = server.child.process.wait();
    drop(client);

    let server = spawn(dir.path());
    let client = connect(&server.base).await;
    let polled = client
        .get_task(GetTaskParams::new(handle.clone()))
        .await
        .expect("the handle survived");
    assert_eq!(polled.task.status(), TaskStatus::Working);

    // work the task over REST; the handle settles with its output
    let claim: Value = http
        .post(format!("{}/tasks/claim-next", server.base))
        .json(&json!({ "worker": "w" }))
        .send()
        .await
        .expect("claim")
        .json()
        .await
        .expect("claim json");
    let lease = claim["lease"]["lease_id"].as_u64().expect("lease id");
    let res = http
        .post(format!("{}/tasks/awaited/complete", server.base))
        .json(&json!({ "lease_id": lease, "output": { "ok": true } }))
        .send()
        .await
        .expect("complete");
    assert_eq!(res.status(), 200);
    let settled = client
        .get_task(GetTaskParams::new(handle))
        .await
        .expect("tasks/get");
    let TaskPayload::Completed { result } = &settled.task.payload else {
        panic!("settled: {settled:?}");
    };
    assert_eq!(result["structuredContent"]["output"]["ok"], true);
    let _ = client.cancel().await;
}

/// Issue 11, failure 3: an anonymous slot adopted by `w1` through its
/// `claim-task`, then idle after `update-task done`, is still `w1`'s after
/// `kill -9` and a restart — with the same idle expiry — so `w1` can use and
/// release it and nobody else can take it.
#[actix_web::test]
async fn slot_adoption_and_idle_expiry_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let env = [("BATON_SLOTS__COUNT", "3")];
    let mut server = spawn_with(dir.path(), &env);
    let compat = |s: &Server| s.base.trim_end_matches("/v1").to_owned();
    let post = |url: String, body: Value| {
        let http = http.clone();
        async move {
            let res = http.post(url).json(&body).send().await.expect("request");
            res.json::<Value>().await.expect("json")
        }
    };
    let api = compat(&server);
    for id in ["t1", "t2"] {
        let v = post(
            format!("{api}/add-task"),
            json!({"id": id, "description": id}),
        )
        .await;
        assert_eq!(v["success"], true, "{v}");
    }
    let v = post(format!("{api}/claim-worker-slot"), json!({})).await;
    let n = v["slot"].as_u64().expect("slot");
    let v = post(
        format!("{api}/claim-task"),
        json!({"taskId": "t1", "workerId": "w1", "workerSlot": n}),
    )
    .await;
    assert_eq!(v["success"], true, "{v}");
    let v = post(
        format!("{api}/update-task"),
        json!({"taskId": "t1", "status": "done", "workerId": "w1"}),
    )
    .await;
    assert_eq!(v["success"], true, "{v}");
    let slot_of = |slots: &Value| {
        slots["slots"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|s| s["slot"].as_u64() == Some(n - 1))
                    .cloned()
            })
            .expect("slot")
    };
    let before = slot_of(&get_json(&http, format!("{}/slots", server.base)).await);
    assert_eq!(
        (before["worker"].as_str(), before["task_id"].as_str()),
        (Some("w1"), None),
        "{before}"
    );

    server.child.process.kill().expect("kill -9");
    server.child.process.wait().expect("reap");
    let server = spawn_with(dir.path(), &env);
    let api = compat(&server);
    let after = slot_of(&get_json(&http, format!("{}/slots", server.base)).await);
    assert_eq!(after, before, "the slot as it was acknowledged");
    let workers = get_json(&http, format!("{api}/workers")).await;
    let w = workers["workers"]
        .as_array()
        .and_then(|a| a.iter().find(|w| w["slot"].as_u64() == Some(n)).cloned())
        .expect("worker slot");
    assert_eq!(w["workerId"], "w1", "{workers}");
    // nobody else can take it over; its holder still uses it and gives it back
    let v = post(
        format!("{api}/claim-task"),
        json!({"taskId": "t2", "workerId": "w2", "workerSlot": n}),
    )
    .await;
    assert_eq!(
        (v["success"].as_bool(), v["code"].as_str()),
        (Some(false), Some("slot_not_held")),
        "{v}"
    );
    let v = post(
        format!("{api}/claim-task"),
        json!({"taskId": "t2", "workerId": "w1", "workerSlot": n}),
    )
    .await;
    assert_eq!(v["success"], true, "{v}");
    let v = post(
        format!("{api}/update-task"),
        json!({"taskId": "t2", "status": "done", "workerId": "w1"}),
    )
    .await;
    assert_eq!(v["success"], true, "{v}");
    let v = post(
        format!("{api}/release-worker-slot"),
        json!({"slot": n, "workerId": "w1"}),
    )
    .await;
    assert_eq!(v["success"], true, "{v}");
}

/// A running task's slot is not stored: a restart derives its holder from
/// the task's lease. So the slot's `since` has to be the lease's
/// `claimed_at` to the millisecond, or the board reads differently after a
/// restart than it did when acknowledged (seen as a one-millisecond
/// difference in a backup round trip). With two reads a message apart,
/// fifty claims often (not always) put a millisecond boundary between them;
/// the deterministic guard is the stepping-clock property in
/// tests/model.rs.
#[actix_web::test]
async fn a_running_tasks_slot_reads_the_same_after_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let env = [("BATON_SLOTS__COUNT", "64")];
    let mut server = spawn_with(dir.path(), &env);
    let tasks: Vec<Value> = (0..50)
        .map(|i| json!({"id": format!("t{i}"), "title": "t"}))
        .collect();
    let res = http
        .post(format!("{}/tasks", server.base))
        .json(&json!({ "tasks": tasks }))
        .send()
        .await
        .expect("add");
    assert!(res.status().is_success(), "{}", res.status());
    for i in 0..50 {
        let res = http
            .post(format!("{}/tasks/claim-next", server.base))
            .json(&json!({"worker": format!("w{i}")}))
            .send()
            .await
            .expect("claim");
        assert_eq!(res.status(), 200, "claim {i}");
    }
    let before = get_json(&http, format!("{}/slots", server.base)).await;
    assert_eq!(before["busy"], 50, "{before}");
    server.child.process.kill().expect("kill -9");
    server.child.process.wait().expect("reap");
    let server = spawn_with(dir.path(), &env);
    let after = get_json(&http, format!("{}/slots", server.base)).await;
    assert_eq!(after, before);
}

// ---- issue 23.8: a request whose answer was lost, sent again -----------------

/// POST `body` to `url`: (status, JSON body).
async fn post_json(http: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let res = http.post(url).json(&body).send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json::<Value>().await.unwrap_or(Value::Null))
}

/// `kill -9` `server` and start another on the same directory.
fn kill_9_and_restart(mut server: Server, dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
    server.child.process.kill().expect("kill -9");
    server.child.process.wait().expect("reap");
    drop(server);
    spawn_with(dir, env)
}

/// Issue 23.8, first input: an agent-coordinate-mcp `claim-task` whose
/// answer a `kill -9` swallowed left the task `working` under a 600 s
/// lease with its slot, and the agent's retry was refused ("not ready").
/// Now the same worker's retry, after the restart, answers the lease it
/// already holds (same `leaseId`, same `expiresAt`); the agent finishes the
/// task and every slot is free.
#[actix_web::test]
async fn a_compat_claim_task_whose_answer_was_lost_is_answered_again_after_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let env = [("BATON_SLOTS__COUNT", "2")];
    let server = spawn_with(dir.path(), &env);
    let api = |s: &Server| s.base.trim_end_matches("/v1").to_owned();
    let (_, v) = post_json(
        &http,
        format!("{}/add-task", api(&server)),
        json!({"id": "t1", "description": "one"}),
    )
    .await;
    assert_eq!(v["success"], true, "{v}");
    let claim = json!({"taskId": "t1", "workerId": "w1"});
    // the answer is lost: the client never reads it
    let (_, first) = post_json(&http, format!("{}/claim-task", api(&server)), claim.clone()).await;
    let server = kill_9_and_restart(server, dir.path(), &env);
    let (_, again) = post_json(&http, format!("{}/claim-task", api(&server)), claim).await;
    assert_eq!(again["success"], true, "the retry is answered: {again}");
    assert_eq!(
        (&again["leaseId"], &again["expiresAt"]),
        (&first["leaseId"], &first["expiresAt"]),
        "the lease it already holds, not a new one"
    );
    let (_, v) = post_json(
        &http,
        format!("{}/update-task", api(&server)),
        json!({"taskId": "t1", "status": "done", "workerId": "w1"}),
    )
    .await;
    assert_eq!(v["success"], true, "{v}");
    let workers = get_json(&http, format!("{}/workers", api(&server))).await;
    let active: Vec<&Value> = workers["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .filter(|w| w["active"] == true)
        .collect();
    assert!(active.is_empty(), "every slot free: {workers}");
}

/// Issue 23.8, second input: a `claim-worker-slot` whose answer was lost
/// left an anonymous hold nobody could find or release for 600 s. Now a
/// retry with the same `requestId` gets that slot back across a `kill -9`,
/// and a hold nobody adopts lapses after `slots.adopt_within_secs` (here
/// 2 s), also when baton was killed meanwhile — far sooner than
/// `leases.compat_ttl_secs` (600 s).
#[actix_web::test]
async fn an_anonymous_slot_hold_whose_answer_was_lost_lapses_without_waiting_600_s() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let env = [
        ("BATON_SLOTS__COUNT", "2"),
        ("BATON_SLOTS__ADOPT_WITHIN_SECS", "2"),
    ];
    let server = spawn_with(dir.path(), &env);
    let api = |s: &Server| s.base.trim_end_matches("/v1").to_owned();
    let keyed = json!({"requestId": "agent-7-slot-1"});
    let (status, first) = post_json(
        &http,
        format!("{}/claim-worker-slot", api(&server)),
        keyed.clone(),
    )
    .await;
    assert_eq!((status, &first["success"]), (200, &json!(true)), "{first}");
    // a second hold whose answer is lost, without a key: nobody knows it
    let (_, orphan) = post_json(
        &http,
        format!("{}/claim-worker-slot", api(&server)),
        json!({}),
    )
    .await;
    assert_eq!(orphan["success"], true, "{orphan}");
    let server = kill_9_and_restart(server, dir.path(), &env);
    let (_, again) = post_json(
        &http,
        format!("{}/claim-worker-slot", api(&server)),
        keyed.clone(),
    )
    .await;
    assert_eq!(again["slot"], first["slot"], "the same slot: {again}");
    let active = |workers: &Value| {
        workers["workers"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|w| w["active"] == true).count())
    };
    let url = format!("{}/workers", api(&server));
    common::wait_until(
        "unadopted holds lapse within adopt_within_secs",
        Duration::from_secs(20),
        || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let workers = get_json(&http, url).await;
                common::holds(active(&workers) == 0, workers)
            }
        },
    )
    .await;
    // the key is forgotten with its hold: it claims afresh
    let (_, fresh) = post_json(&http, format!("{}/claim-worker-slot", api(&server)), keyed).await;
    assert_eq!(fresh["success"], true, "{fresh}");
}

/// Issue 23.8 on `/api/v1`: `claim-next` and `slots/claim` sent again with
/// the same `request_id`, and `tasks/{id}/claim` sent again by the same
/// worker, after a `kill -9` swallowed their answers, answer the same
/// lease and slot; nothing else is claimed or held.
#[actix_web::test]
async fn rest_claims_whose_answers_were_lost_are_answered_again_after_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let env = [("BATON_SLOTS__COUNT", "4")];
    let server = spawn_with(dir.path(), &env);
    let (status, _) = post_json(
        &http,
        format!("{}/tasks", server.base),
        json!({"tasks": [{"id": "a", "title": "a"}, {"id": "b", "title": "b"}, {"id": "c", "title": "c"}]}),
    )
    .await;
    assert_eq!(status, 201);
    let next = json!({"worker": "w1", "request_id": "w1-claim-1"});
    let hold = json!({"worker": "w2", "request_id": "w2-slot-1"});
    let (s1, first_next) = post_json(
        &http,
        format!("{}/tasks/claim-next", server.base),
        next.clone(),
    )
    .await;
    let (s2, first_hold) =
        post_json(&http, format!("{}/slots/claim", server.base), hold.clone()).await;
    let (s3, first_claim) = post_json(
        &http,
        format!("{}/tasks/c/claim", server.base),
        json!({"worker": "w3"}),
    )
    .await;
    assert_eq!(
        (s1, s2, s3),
        (200, 200, 200),
        "{first_next} {first_hold} {first_claim}"
    );
    let server = kill_9_and_restart(server, dir.path(), &env);
    let (_, again_next) = post_json(&http, format!("{}/tasks/claim-next", server.base), next).await;
    let (_, again_hold) = post_json(&http, format!("{}/slots/claim", server.base), hold).await;
    let (_, again_claim) = post_json(
        &http,
        format!("{}/tasks/c/claim", server.base),
        json!({"worker": "w3"}),
    )
    .await;
    assert_eq!(again_next["lease"], first_next["lease"], "{again_next}");
    assert_eq!(again_next["task"]["id"], first_next["task"]["id"]);
    assert_eq!(again_hold["slot"], first_hold["slot"], "{again_hold}");
    assert_eq!(again_claim["lease"], first_claim["lease"], "{again_claim}");
    let slots = get_json(&http, format!("{}/slots", server.base)).await;
    assert_eq!(
        slots["busy"], 3,
        "two leases and one hold, no more: {slots}"
    );
    let tasks = get_json(&http, format!("{}/tasks?status=ready", server.base)).await;
    assert_eq!(
        tasks["tasks"].as_array().map(Vec::len),
        Some(1),
        "one task still ready: {tasks}"
    );
}
