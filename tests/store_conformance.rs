//! One store suite, three engines: every test here that applies runs
//! against memory (a board in this process), the embedded engine (redb in a
//! temporary directory) and PostgreSQL (a real server this test starts:
//! `tests/common/postgres.rs`). The store's promises are the same on all
//! of them: an acknowledged write is there after a reopen, concurrent
//! writers share commits and get unique event ids, deleted tasks take
//! everything under them and their event ids are never handed out again,
//! gateway names handed out are kept until forgotten, a
//! backup of one engine restores into another, and a storage failure is
//! never acknowledged: once the engine fails, every waiter and every later
//! write gets an error.
//!
//! What memory does not run, because it needs what a board in memory does
//! not have:
//!
//! - `a_database_that_crashes_fails_the_store_and_acknowledges_nothing_more`:
//!   a crash of the database under the store (memory has no server to
//!   crash; its store's own failure handling is in the store's unit tests);
//! - `the_board_runs_on_postgres_across_a_restart`: the whole runtime
//!   restarted on storage named by `Settings` (a memory board is handed
//!   over in code, not named in configuration);
//! - `a_second_node_on_the_same_database_is_refused` and
//!   `a_deposed_node_writes_nothing_more`: a second node on the same
//!   database, and its leadership;
//! - `the_first_admin_token_is_minted_into_postgres`: a second process
//!   (`baton token create`) writing into the same storage.
//!
//! Memory is never durable: its "reopen" is a second store on the same
//! board in the same process (a restart without a crash), which is what
//! the reopen tests check of it.
//!
//! Without PostgreSQL installed the PostgreSQL half is skipped with a
//! notice, unless `BATON_REQUIRE_POSTGRES` is set (`.ci/run` sets it).

mod common;

use std::time::{Duration, Instant};

use baton::config::{StorageBackend, StorageSettings};
use baton::model::{
    Event, EventKind, GatewayKind, GatewayName, RequestAnswer, RequestKey, RequestKind,
    RequestRecord, Reservation, ReservationMode, Task, TaskId, TaskStatus,
};
use baton::store::backup::{BackupError, RestoreSummary};
use baton::store::{MemoryBoard, Store, StoreError, WriteBatch};
use common::postgres::Postgres;

/// Where a store lives; opened again after a close, as a restart would.
struct Target {
    place: Place,
    _dir: Option<tempfile::TempDir>,
}

/// A store named by settings (redb, PostgreSQL) or a board in memory.
enum Place {
    Configured(StorageSettings),
    Memory(MemoryBoard),
}

impl Target {
    fn open(&self) -> Store {
        match &self.place {
            Place::Configured(settings) => Store::open_with(settings),
            Place::Memory(board) => Store::open_memory(board),
        }
        .expect("open the store")
    }

    /// Restore the backup `lines` into this target.
    fn restore(&self, lines: &[String]) -> Result<RestoreSummary, BackupError> {
        let input = std::io::Cursor::new(lines.join("\n"));
        match &self.place {
            Place::Configured(settings) => Store::restore_with(settings, input),
            Place::Memory(board) => Store::restore_memory(board, input),
        }
    }

    /// The settings of a redb or PostgreSQL target.
    fn settings(&self) -> &StorageSettings {
        match &self.place {
            Place::Configured(settings) => settings,
            Place::Memory(_) => panic!("a board in memory has no storage settings"),
        }
    }
}

fn memory() -> Target {
    Target {
        place: Place::Memory(MemoryBoard::new()),
        _dir: None,
    }
}

fn redb() -> Target {
    let dir = tempfile::tempdir().expect("tempdir");
    Target {
        place: Place::Configured(StorageSettings {
            backend: StorageBackend::Redb,
            data_dir: dir.path().to_path_buf(),
            cache_mb: 16,
            ..StorageSettings::default()
        }),
        _dir: Some(dir),
    }
}

fn postgres(pg: &Postgres) -> Target {
    Target {
        place: Place::Configured(StorageSettings {
            backend: StorageBackend::Postgres,
            url: pg.database(),
            pool_size: 4,
            ..StorageSettings::default()
        }),
        _dir: None,
    }
}

/// Run `check` on memory, on redb, then on PostgreSQL when it is installed,
/// printing how long each engine took (`--nocapture` shows it).
async fn on_every_engine<F, Fut>(check: F)
where
    F: Fn(Target, &'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    // the harness names each test's thread after the test
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let timed = |engine: &'static str, started: Instant| {
        eprintln!("{test} on {engine}: {} ms", started.elapsed().as_millis());
    };
    let started = Instant::now();
    check(memory(), "memory").await;
    timed("memory", started);
    let started = Instant::now();
    check(redb(), "redb").await;
    timed("redb", started);
    if let Some(pg) = Postgres::start_or_skip() {
        let started = Instant::now();
        check(postgres(&pg), "postgres").await;
        timed("postgres", started);
    }
}

fn task(id: &str) -> Task {
    serde_json::from_value(serde_json::json!({
        "id": id, "title": id, "max_attempts": 3, "status": "ready",
        "created_at": "2026-12-02T00:00:00Z", "updated_at": "2026-12-02T00:00:00Z",
    }))
    .expect("a task")
}

fn added(id: &str) -> Event {
    Event {
        id: 0,
        at: 1,
        kind: EventKind::TaskAdded,
        task_id: Some(TaskId::from_trusted(id)),
        worker: None,
        actor: None,
        slot: None,
        lease_id: None,
        from: None,
        to: Some(TaskStatus::Ready),
        reason: None,
    }
}

fn add(id: &str) -> WriteBatch {
    let mut b = WriteBatch::new();
    b.put_task(&task(id));
    b.put_event(added(id), None);
    b
}

fn gateway(kind: GatewayKind, name: &str, server: &str, target: &str) -> GatewayName {
    GatewayName {
        kind,
        name: name.into(),
        server: server.into(),
        target: target.into(),
    }
}

fn reservation(id: &str) -> Reservation {
    Reservation {
        id: id.into(),
        worker: "alice".into(),
        patterns: vec!["src/api/**".into(), "Cargo.toml".into()],
        mode: ReservationMode::Exclusive,
        task_id: Some(TaskId::from_trusted("a")),
        lease_id: Some(7),
        ttl_ms: None,
        expires_at: 1_700_000_000_000,
        created_at: 1_699_999_000_000,
        owner: None,
        from_task: true,
    }
}

async fn write(store: &Store, batch: WriteBatch) {
    let ticket = store.commit(batch).expect("queued");
    store.wait_durable(ticket).await.expect("durable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_are_there_after_a_reopen() {
    on_every_engine(|target, engine| async move {
        let store = target.open();
        let mut b = add("a");
        b.put_context(
            &TaskId::from_trusted("a"),
            "k",
            &serde_json::json!({"v": 1}),
        );
        b.put_meta("lease_ceiling", 1024);
        b.put_reservation(&reservation("res-1"));
        b.put_reservation(&reservation("res-2"));
        write(&store, b).await;
        write(&store, add("b")).await;
        // a reservation removed in a later commit stays removed
        let mut b = WriteBatch::new();
        b.remove_reservation("res-2");
        write(&store, b).await;
        store.close().expect("close");
        drop(store);

        let store = target.open();
        let ids: Vec<_> = store
            .load_tasks()
            .expect("tasks")
            .into_iter()
            .map(|t| t.id.to_string())
            .collect();
        assert_eq!(ids, ["a", "b"], "{engine}");
        assert_eq!(store.task_count().expect("count"), 2, "{engine}");
        assert_eq!(store.meta("lease_ceiling").expect("meta"), 1024, "{engine}");
        assert_eq!(
            store.load_reservations().expect("reservations"),
            vec![reservation("res-1")],
            "{engine}"
        );
        let a = TaskId::from_trusted("a");
        assert_eq!(
            store.context_list(&a).expect("context")["k"]["v"],
            1,
            "{engine}"
        );
        assert_eq!(store.task_events(&a).expect("events").len(), 1, "{engine}");
        assert_eq!(store.last_event_id().expect("last"), 2, "{engine}");
        // ids continue after a reopen
        write(&store, add("c")).await;
        let c = store
            .task_events(&TaskId::from_trusted("c"))
            .expect("events");
        assert_eq!(c[0].id, 3, "{engine}");
        store.close().expect("close");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_commits_and_get_unique_event_ids() {
    on_every_engine(|target, engine| async move {
        let store = target.open();
        let mut writers = Vec::new();
        for w in 0..16 {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                for i in 0..25 {
                    let ticket = store
                        .commit(add(&format!("w{w:02}-{i:02}")))
                        .expect("queued");
                    store.wait_durable(ticket).await.expect("durable");
                }
            }));
        }
        for w in writers {
            w.await.expect("writer");
        }
        let events = store.events_after(0, 1000).expect("events");
        let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
        assert_eq!(
            ids,
            (1..=400).collect::<Vec<_>>(),
            "{engine}: gap-free, unique"
        );
        assert_eq!(store.load_tasks().expect("tasks").len(), 400, "{engine}");
        let flushes = store.flush_count();
        assert!(flushes < 400, "{engine}: {flushes} commits for 400 writes");
        store.close().expect("close");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_task_takes_everything_under_it_and_its_ids_stay_used() {
    on_every_engine(|target, engine| async move {
        let store = target.open();
        write(&store, add("keep")).await;
        let before = store.key_count();
        let mut b = add("gone");
        b.put_context(&TaskId::from_trusted("gone"), "k", &serde_json::json!(1));
        write(&store, b).await;
        let newest = store.last_event_id().expect("last");
        let mut b = WriteBatch::new();
        b.delete_task(&TaskId::from_trusted("gone"));
        write(&store, b).await;
        // the pruned-through counter is the one key a deletion adds
        assert_eq!(store.key_count(), before + 1, "{engine}: keys left behind");
        assert_eq!(store.task_count().expect("count"), 1, "{engine}");
        store.close().expect("close");
        drop(store);
        let store = target.open();
        assert_eq!(store.events_pruned_through(), newest, "{engine}");
        write(&store, add("next")).await;
        let next = store
            .task_events(&TaskId::from_trusted("next"))
            .expect("events");
        assert_eq!(
            next[0].id,
            newest + 1,
            "{engine}: an id is never handed out twice"
        );
        store.close().expect("close");
    })
    .await;
}

/// A remembered request (issue 23.8) of worker `w` with `request_id` `id`,
/// answered with lease 7 of task `a`.
fn request(id: &str) -> RequestRecord {
    RequestRecord {
        key: RequestKey {
            kind: RequestKind::ClaimNext,
            owner: None,
            worker: "w".into(),
            request_id: id.into(),
        },
        at: 1,
        answer: RequestAnswer::Lease {
            task_id: TaskId::from_trusted("a"),
            lease_id: 7,
        },
    }
}

/// Issue 23.8: a remembered request goes through the same commit path as
/// the claim it answers on every engine: written in one batch with other
/// records, there after a reopen, gone after its removal (a key with any
/// bytes in its worker and id stays one record).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remembered_requests_are_written_reopened_and_removed_on_every_engine() {
    on_every_engine(|target, engine| async move {
        let store = target.open();
        let odd = RequestRecord {
            key: RequestKey {
                worker: "w/\"0\"".into(),
                request_id: "r/[1]".into(),
                ..request("x").key
            },
            ..request("x")
        };
        let mut b = add("a");
        b.put_request(&request("r1"));
        b.put_request(&odd);
        write(&store, b).await;
        store.close().expect("close");
        drop(store);

        let store = target.open();
        let mut got = store.load_requests().expect("requests");
        got.sort_by(|a, b| a.key.request_id.cmp(&b.key.request_id));
        assert_eq!(got, vec![odd.clone(), request("r1")], "{engine}");
        let mut b = WriteBatch::new();
        b.remove_request(&odd.key);
        write(&store, b).await;
        store.close().expect("close");
        drop(store);

        let store = target.open();
        assert_eq!(
            store.load_requests().expect("requests"),
            vec![request("r1")],
            "{engine}"
        );
        store.close().expect("close");
    })
    .await;
}

/// Gateway names (issue 23, item 2): kept through a reopen, one per name
/// and catalog (a second put of a name replaces it; a tool and a prompt may
/// share one), and gone once forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_names_are_kept_until_forgotten() {
    on_every_engine(|target, engine| async move {
        let store = target.open();
        let mut b = WriteBatch::new();
        b.put_gateway_name(&gateway(GatewayKind::Tool, "x__y__echo", "x__y", "echo"));
        b.put_gateway_name(&gateway(GatewayKind::Prompt, "x__y__echo", "x__y", "echo"));
        b.put_gateway_name(&gateway(GatewayKind::Tool, "gone__t", "gone", "t"));
        write(&store, b).await;
        let mut b = WriteBatch::new();
        b.put_gateway_name(&gateway(GatewayKind::Tool, "x__y__echo", "x__y", "echo"));
        b.remove_gateway_name(GatewayKind::Tool, "gone__t");
        write(&store, b).await;
        store.close().expect("close");
        drop(store);
        let store = target.open();
        assert_eq!(
            store.load_gateway_names().expect("names"),
            vec![
                gateway(GatewayKind::Prompt, "x__y__echo", "x__y", "echo"),
                gateway(GatewayKind::Tool, "x__y__echo", "x__y", "echo"),
            ],
            "{engine}"
        );
        store.close().expect("close");
    })
    .await;
}

/// A backup of redb restores into each other engine (memory, PostgreSQL)
/// as the same board, and a backup of that engine back into redb.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_moves_a_board_between_engines() {
    let export = |store: &Store| {
        let mut lines = Vec::new();
        store
            .export(|l| {
                lines.push(l);
                true
            })
            .expect("export");
        lines
    };
    let source = redb();
    let store = source.open();
    for id in ["a", "b", "c"] {
        write(&store, add(id)).await;
    }
    let mut b = WriteBatch::new();
    b.put_reservation(&reservation("res-1"));
    write(&store, b).await;
    let mut b = WriteBatch::new();
    b.delete_task(&TaskId::from_trusted("b"));
    b.put_gateway_name(&gateway(GatewayKind::Tool, "fs__read", "fs", "read"));
    b.put_request(&request("r1"));
    write(&store, b).await;
    let lines = export(&store);
    assert!(
        lines.iter().any(|l| l.starts_with(r#"{"request":"#)),
        "remembered requests are backed up"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(r#"{"reservation":"#)),
        "a reservation is in the backup"
    );
    store.close().expect("close");

    let pg = Postgres::start_or_skip();
    let mut others = vec![(memory(), "memory")];
    if let Some(pg) = &pg {
        others.push((postgres(pg), "postgres"));
    }
    for (target, engine) in others {
        // redb → the other engine
        let summary = target
            .restore(&lines)
            .unwrap_or_else(|e| panic!("restore into {engine}: {e}"));
        assert_eq!(summary.tasks, 2, "{engine}");
        let there = target.open();
        assert_eq!(
            export(&there)[1..],
            lines[1..],
            "{engine}: the same records"
        );
        assert_eq!(there.events_pruned_through(), 2, "{engine}");
        assert_eq!(
            there.load_gateway_names().expect("names"),
            vec![gateway(GatewayKind::Tool, "fs__read", "fs", "read")],
            "{engine}"
        );
        // the other engine → redb
        let back_lines = export(&there);
        there.close().expect("close");
        drop(there);
        let back = redb();
        back.restore(&back_lines).expect("restore into redb");
        let store = back.open();
        assert_eq!(export(&store)[1..], lines[1..], "{engine} → redb");
        store.close().expect("close");
        // and a store that holds a board refuses a second restore
        let err = target.restore(&lines).expect_err("not empty");
        assert!(
            err.to_string().contains("already holds a board"),
            "{engine}: {err}"
        );
    }
}

/// The database crashes under load from concurrent writers: every write
/// acknowledged before is there once it is back, no waiter hangs, every
/// write after the crash gets an error (never an acknowledgement), and the
/// store refuses later writes until it is reopened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_crashes_fails_the_store_and_acknowledges_nothing_more() {
    let Some(pg) = Postgres::start_or_skip() else {
        return;
    };
    let target = postgres(&pg);
    let store = target.open();
    write(&store, add("before")).await;
    let mut writers = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..400 {
                let id = format!("w{w}-{i:03}");
                let Ok(ticket) = store.commit(add(&id)) else {
                    break;
                };
                match tokio::time::timeout(Duration::from_secs(60), store.wait_durable(ticket))
                    .await
                {
                    Ok(Ok(())) => acked.push(id),
                    Ok(Err(e)) => {
                        assert!(
                            matches!(
                                e,
                                StoreError::FlushFailed(_)
                                    | StoreError::OutcomeUnknown(_)
                                    | StoreError::Postgres(_)
                            ),
                            "{e:?}"
                        );
                        break;
                    }
                    Err(_) => panic!("a waiter hung"),
                }
            }
            acked
        }));
    }
    // crash once some writes went through
    common::eventually(Duration::from_secs(30), || {
        let store = store.clone();
        async move { store.flush_count() >= 20 }
    })
    .await;
    pg.crash();
    let mut acked = vec!["before".to_owned()];
    for w in writers {
        acked.extend(w.await.expect("writer"));
    }
    let refused = store.commit(add("later")).expect_err("refused once failed");
    assert!(matches!(refused, StoreError::FlushFailed(_)), "{refused:?}");
    let _ = store.close();
    drop(store);

    pg.up();
    let store = target.open();
    let ids: std::collections::HashSet<String> = store
        .load_tasks()
        .expect("tasks")
        .into_iter()
        .map(|t| t.id.to_string())
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !ids.contains(*id)).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(acked.len() > 20, "the load ran: {}", acked.len());
    store.close().expect("close");
}

/// The whole runtime on PostgreSQL: a DAG worked over REST, then a restart
/// on the same database finds the board as it was, with fencing tokens
/// continuing above every token handed out before.
#[actix_web::test]
async fn the_board_runs_on_postgres_across_a_restart() {
    let Some(pg) = Postgres::start_or_skip() else {
        return;
    };
    let url = pg.database();
    let on_pg = |s: &mut baton::Settings| {
        s.storage.backend = StorageBackend::Postgres;
        s.storage.url = url.clone();
        s.storage.pool_size = 4;
    };
    let s = common::TestServer::start(on_pg).await;
    let (st, v) = s
        .post(
            "/tasks",
            serde_json::json!({"tasks": [
                {"id": "a", "title": "a"},
                {"id": "b", "title": "b", "dependencies": ["a"]},
            ]}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let (st, c) = s
        .post("/tasks/claim-next", serde_json::json!({"worker": "w"}))
        .await;
    assert_eq!(st, 200, "{c}");
    let lease = c["lease"]["lease_id"].as_u64().expect("lease");
    let (st, v) = s
        .post(
            "/tasks/a/complete",
            serde_json::json!({"lease_id": lease, "output": {"ok": 1}}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    s.stop().await;

    let s = common::TestServer::start(on_pg).await;
    let (st, a) = s.get("/tasks/a").await;
    assert_eq!((st, a["status"].as_str()), (200, Some("done")), "{a}");
    assert_eq!(a["output"]["ok"], 1);
    let (st, c) = s
        .post("/tasks/claim-next", serde_json::json!({"worker": "w"}))
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["task"]["id"], "b", "b became ready when a was done");
    assert!(c["lease"]["lease_id"].as_u64().expect("lease") > lease);
    s.stop().await;
}

/// One leader per database: a second store on a database another one
/// leads refuses to open (after waiting as long as a restarting node
/// would), and opens once the first is closed (it gives its lease up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_on_the_same_database_is_refused() {
    let Some(pg) = Postgres::start_or_skip() else {
        return;
    };
    let target = postgres(&pg);
    let first = target.open();
    let settings = target.settings().clone();
    let second = tokio::task::spawn_blocking(move || Store::open_with(&settings))
        .await
        .expect("opener");
    let err = second.expect_err("refused");
    assert!(matches!(err, StoreError::Led { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("another baton leads this database"),
        "{err}"
    );
    first.close().expect("close");
    drop(first);
    let again = target.open();
    again.close().expect("close");
}

/// Another node takes the leadership over (here by hand: the row's epoch
/// moves on, as a follower's takeover makes it): the deposed store's next
/// write is refused by the fence inside its transaction and never
/// acknowledged, it says it is deposed, and nothing it was asked to write
/// reaches the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_node_writes_nothing_more() {
    let Some(pg) = Postgres::start_or_skip() else {
        return;
    };
    let target = postgres(&pg);
    let store = target.open();
    write(&store, add("before")).await;
    assert!(!store.is_deposed());
    let url = target.settings().url.clone();
    pg.psql_on(
        &url,
        "UPDATE baton_leader SET epoch = epoch + 1, holder = 'another node', \
         expires_at = now() + interval '1 hour'",
    );
    let outcome = match store.commit(add("after")) {
        Ok(ticket) => store.wait_durable(ticket).await,
        Err(e) => Err(e),
    };
    let err = outcome.expect_err("a deposed node's write is refused");
    assert!(err.to_string().contains("no longer leads"), "{err}");
    assert!(store.is_deposed());
    let later = store
        .commit(add("later"))
        .expect_err("refused from then on");
    assert!(matches!(later, StoreError::FlushFailed(_)), "{later:?}");
    let _ = store.close();
    drop(store);
    // the database has "before" and nothing later
    pg.psql_on(&url, "UPDATE baton_leader SET expires_at = '-infinity'");
    let reopened = target.open();
    let ids: Vec<String> = reopened
        .load_tasks()
        .expect("tasks")
        .into_iter()
        .map(|t| t.id.to_string())
        .collect();
    assert_eq!(ids, vec!["before".to_owned()]);
    reopened.close().expect("close");
}

/// The first admin token of a PostgreSQL board: `baton token create
/// --storage-url` with the server stopped, then the server (auth required)
/// accepts it.
#[actix_web::test]
async fn the_first_admin_token_is_minted_into_postgres() {
    let Some(pg) = Postgres::start_or_skip() else {
        return;
    };
    let url = pg.database();
    let out = common::baton_command()
        .args([
            "token",
            "create",
            "--name",
            "alice",
            "--role",
            "admin",
            "--storage-url",
            &url,
        ])
        .output()
        .expect("run baton token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let secret = stdout.lines().last().unwrap_or_default().trim().to_owned();
    assert!(secret.starts_with("baton_"), "{stdout}");
    let s = common::TestServer::start(|s| {
        s.storage.backend = StorageBackend::Postgres;
        s.storage.url = url.clone();
        s.auth.required = true;
    })
    .await;
    let list = |token: Option<String>| {
        let mut req = s.http.get(format!("{}/tokens", s.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    assert_eq!(list(None).await.expect("request").status(), 401);
    let res = list(Some(secret)).await.expect("request");
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["tokens"][0]["name"], "alice", "{body}");
    s.stop().await;
}
