//! baton mounted inside another actix-web App, under a prefix and next to the
//! embedder's own routes; the typed in-process API and HTTP see one board.
//! And a whole node (`baton::serve::run`) run in-process and stopped by a future.

mod common;

use actix_web::{web, App, HttpResponse};
use baton::model::TaskSpec;
use baton::{Runtime, Settings};
use serde_json::{json, Value};

#[actix_web::test]
async fn baton_mounts_inside_another_app() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = Runtime::start(Settings::for_tests(dir.path()))
        .await
        .expect("start");
    let mount = runtime.configure();
    let (addr, handle) = common::serve(move || {
        App::new()
            .route(
                "/mine",
                web::get().to(|| async { HttpResponse::Ok().body("embedder") }),
            )
            .service(web::scope("/baton").configure(mount.clone()))
    });
    let http = reqwest::Client::new();

    // in-process write, HTTP read
    let board = runtime.board();
    board
        .add_task(TaskSpec {
            id: Some("inproc".into()),
            title: Some("from Rust".into()),
            ..TaskSpec::default()
        })
        .await
        .expect("add");
    let v: Value = http
        .get(format!("http://{addr}/baton/api/v1/tasks/inproc"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(v["title"], "from Rust");

    // HTTP write, in-process claim
    let res = http
        .post(format!("http://{addr}/baton/api/v1/tasks"))
        .json(&json!({"id": "http", "title": "from HTTP", "dependencies": ["inproc"]}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 201);
    let claim = board
        .claim_next("rust-worker", vec![], None)
        .await
        .expect("claim")
        .expect("a ready task");
    assert_eq!(claim.task.id.as_str(), "inproc");
    board
        .complete(
            "inproc",
            baton::core::table::LeaseRef::Id(claim.lease.lease_id),
            None,
        )
        .await
        .expect("complete");
    assert_eq!(
        board.get_task("http").await.expect("get").status,
        baton::model::TaskStatus::Ready
    );

    // the embedder's own route is untouched; baton's routes live under its prefix
    let mine = http
        .get(format!("http://{addr}/mine"))
        .send()
        .await
        .expect("mine")
        .text()
        .await
        .expect("text");
    assert_eq!(mine, "embedder");
    assert_eq!(
        http.get(format!("http://{addr}/baton/healthz"))
            .send()
            .await
            .expect("h")
            .status(),
        200
    );
    assert_eq!(
        http.get(format!("http://{addr}/api/v1/tasks"))
            .send()
            .await
            .expect("x")
            .status(),
        404
    );

    handle.stop(true).await;
    runtime.shutdown().await.expect("shutdown");
    // after shutdown writes are refused, not lost silently
    let err = board
        .add_task(TaskSpec {
            title: Some("late".into()),
            ..TaskSpec::default()
        })
        .await
        .expect_err("closed");
    assert!(
        matches!(err.code().as_str(), "storage_error" | "unavailable"),
        "{err}"
    );
}

/// A whole node in-process: `baton::serve::run` on a socket the test bound,
/// stopped by the future handed to it. It says where it listens, serves the
/// board, returns `Ok` after the stop, and what it acknowledged is on disk
/// for the next node on the same data directory.
#[actix_web::test]
async fn a_node_runs_in_process_and_stops_when_its_future_completes() {
    use baton::serve::{Node, Stop};
    let dir = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let start = |settings: Settings| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<Stop>();
        let (told_tx, told) = tokio::sync::oneshot::channel::<String>();
        let mut told_tx = Some(told_tx);
        let node = actix_web::rt::spawn(
            Node::new(settings, listener)
                .on_listening(move |l| {
                    if let Some(tx) = told_tx.take() {
                        let _ = tx.send(l.url());
                    }
                })
                .run(async move { stopped.await.unwrap_or(Stop::Forced) }),
        );
        (addr, stop, told, node)
    };

    let (addr, stop, told, node) = start(Settings::for_tests(dir.path()));
    assert_eq!(told.await.expect("told"), format!("http://{addr}"));
    let res = http
        .post(format!("http://{addr}/api/v1/tasks"))
        .json(&json!({"id": "kept", "title": "written through serve::run"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 201);
    stop.send(Stop::Graceful)
        .expect("the node waits for its stop");
    node.await
        .expect("the node's task")
        .expect("serve::run ends Ok");
    assert!(
        http.get(format!("http://{addr}/healthz"))
            .send()
            .await
            .is_err(),
        "the socket is closed once serve::run returned"
    );

    let (addr, stop, _told, node) = start(Settings::for_tests(dir.path()));
    let v: Value = http
        .get(format!("http://{addr}/api/v1/tasks/kept"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(v["title"], "written through serve::run", "{v}");
    stop.send(Stop::Forced)
        .expect("the node waits for its stop");
    node.await
        .expect("the node's task")
        .expect("serve::run ends Ok");
}
