//! Mount baton inside your own actix-web service, next to your own routes,
//! and use the typed in-process API on the same handle.
//!
//! ```sh
//! cargo run --example embed            # then: curl localhost:8090/baton/api/v1/tasks
//! ```

use actix_web::{web, App, HttpResponse};
use baton::model::TaskSpec;
use baton::{Runtime, Settings};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let mut settings = Settings::default();
    settings.storage.data_dir = std::env::temp_dir().join("baton-embed-example");
    // Start once, outside HttpServer::new (which runs per worker thread).
    let runtime = Runtime::start(settings).await?;

    // The typed API: no HTTP involved.
    let board = runtime.board().clone();
    if board.get_task("hello").await.is_err() {
        board
            .add_task(TaskSpec {
                id: Some("hello".into()),
                title: Some("Say hello".into()),
                ..TaskSpec::default()
            })
            .await?;
    }

    let mount = runtime.configure();
    // HttpServer::new with what baton serve sets: TCP_NODELAY (streamed /mcp answers need it),
    // [server] workers and the cap on open connections derived from RLIMIT_NOFILE
    runtime
        .http_server(move || {
            App::new()
                .route(
                    "/",
                    web::get().to(|| async { HttpResponse::Ok().body("the embedder's own page") }),
                )
                .service(web::scope("/baton").configure(mount.clone()))
        })
        .bind(("127.0.0.1", 8090))?
        .run()
        .await?;
    runtime.shutdown().await?;
    Ok(())
}
