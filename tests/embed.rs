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

/// baton mounted at the root of an App whose own routes sit beside it (before
/// and after the mount, under `/api/...` too) and whose own default service
/// answers what nobody routes: the embedder's routes, its default and its
/// own extractors' errors are untouched; only baton's prefixes (`/api/v1`,
/// `/mcp`) answer unknown paths with baton's JSON 404.
#[actix_web::test]
async fn an_embedders_routes_beside_batons_keep_working() {
    #[derive(serde::Deserialize)]
    struct Search {
        n: u32,
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = Runtime::start(Settings::for_tests(dir.path()))
        .await
        .expect("start");
    let mount = runtime.configure();
    let (addr, handle) = common::serve(move || {
        App::new()
            .route(
                "/before",
                web::get().to(|| async { HttpResponse::Ok().body("before") }),
            )
            .configure(mount.clone())
            .route(
                "/api/users",
                web::get().to(|| async { HttpResponse::Ok().body("users") }),
            )
            .route(
                "/api/search",
                web::get().to(|q: web::Query<Search>| async move {
                    HttpResponse::Ok().body(q.n.to_string())
                }),
            )
            .route(
                "/mcp-notes",
                web::get().to(|| async { HttpResponse::Ok().body("notes") }),
            )
            .default_service(web::to(|| async {
                HttpResponse::ImATeapot().body("the embedder's default")
            }))
    });
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let http = http.clone();
        let url = format!("http://{addr}{path}");
        async move {
            let res = http.get(url).send().await.expect("get");
            let status = res.status().as_u16();
            (status, res.text().await.expect("text"))
        }
    };

    assert_eq!(get("/before").await, (200, "before".to_owned()));
    assert_eq!(get("/api/users").await, (200, "users".to_owned()));
    assert_eq!(get("/mcp-notes").await, (200, "notes".to_owned()));
    assert_eq!(get("/api/search?n=7").await, (200, "7".to_owned()));
    // the embedder's own Query extractor keeps actix's error, not baton's JSON
    let (st, text) = get("/api/search?n=abc").await;
    assert_eq!(st, 400);
    assert!(!text.contains("invalid_query"), "{text}");
    // paths nobody routes reach the embedder's default, under /api too
    for path in ["/nope", "/api/nope", "/api/v2/things"] {
        assert_eq!(
            get(path).await,
            (418, "the embedder's default".to_owned()),
            "{path}"
        );
    }
    // baton's own prefixes answer with baton's JSON
    for path in ["/api/v1/nope", "/mcp/nope"] {
        let (st, text) = get(path).await;
        assert_eq!(st, 404, "{path}");
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["error"]["code"], "not_found", "{path}: {v}");
    }
    assert_eq!(get("/api/v1/tasks").await.0, 200);
    assert_eq!(get("/api/health").await.0, 200);
    assert_eq!(get("/healthz").await.0, 200);

    handle.stop(true).await;
    runtime.shutdown().await.expect("shutdown");
}
