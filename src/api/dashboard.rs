//! The live dashboard: three static files embedded in the binary, served at
//! the mount point (`./`, `./app.js`, `./style.css`). The page uses only
//! relative URLs, so it works under any embedding prefix (mount at
//! `/baton` and open `/baton/`).

use actix_web::{web, HttpResponse};

const INDEX: &str = include_str!("../../assets/dashboard/index.html");
const APP_JS: &str = include_str!("../../assets/dashboard/app.js");
const STYLE: &str = include_str!("../../assets/dashboard/style.css");

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/",
        web::get().to(|| async { asset("text/html; charset=utf-8", INDEX) }),
    )
    .route(
        "/app.js",
        web::get().to(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
    )
    .route(
        "/style.css",
        web::get().to(|| async { asset("text/css; charset=utf-8", STYLE) }),
    );
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "no-cache"))
        .body(body)
}
