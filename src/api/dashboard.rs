//! The live dashboard: static files embedded in the binary, served at the
//! mount point (`./`, `./app.js`, `./style.css`, the graph view's layout
//! worker `./graph-worker.js` and the vendored layout library under
//! `./vendor/`). The page uses only relative URLs, so it works under any
//! embedding prefix (mount at `/baton` and open `/baton/`).
//!
//! `assets/dashboard/vendor/` is written by `scripts/vendor-dashboard.sh`
//! from npm at the versions pinned in `assets/dashboard/vendor/package-lock.json`
//! and committed, so building needs no npm and nothing is fetched at run time.

use actix_web::{web, HttpResponse};

use crate::board::Board;

const INDEX: &str = include_str!("../../assets/dashboard/index.html");
const APP_JS: &str = include_str!("../../assets/dashboard/app.js");
const STYLE: &str = include_str!("../../assets/dashboard/style.css");
const GRAPH_WORKER: &str = include_str!("../../assets/dashboard/graph-worker.js");
const DAGRE: &str = include_str!("../../assets/dashboard/vendor/dagre.min.js");
const DAGRE_LICENSE: &str = include_str!("../../assets/dashboard/vendor/dagre.LICENSE.txt");

/// Placeholder in `index.html` replaced by `[dashboard] graph_max_nodes`.
const GRAPH_MAX_NODES: &str = "{{graph_max_nodes}}";

const JS: &str = "text/javascript; charset=utf-8";

/// `GET /`: the page, with `[dashboard] graph_max_nodes` filled in.
#[utoipa::path(get, path = "/", tag = "dashboard",
    responses((status = 200, content_type = "text/html", body = String, description = "the dashboard's page")))]
pub(crate) async fn index(board: web::Data<Board>) -> HttpResponse {
    let limit = board.settings().dashboard.graph_max_nodes.to_string();
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(INDEX.replace(GRAPH_MAX_NODES, &limit))
}

/// `GET /app.js`: the dashboard's script.
#[utoipa::path(get, path = "/app.js", tag = "dashboard",
    responses((status = 200, content_type = "text/javascript", body = String, description = "the dashboard's script")))]
pub(crate) async fn app_js() -> HttpResponse {
    asset(JS, APP_JS)
}

/// `GET /style.css`: the dashboard's style sheet.
#[utoipa::path(get, path = "/style.css", tag = "dashboard",
    responses((status = 200, content_type = "text/css", body = String, description = "the dashboard's style sheet")))]
pub(crate) async fn style_css() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE)
}

/// `GET /graph-worker.js`: the graph view's layout worker.
#[utoipa::path(get, path = "/graph-worker.js", tag = "dashboard",
    responses((status = 200, content_type = "text/javascript", body = String, description = "the graph view's layout worker")))]
pub(crate) async fn graph_worker() -> HttpResponse {
    asset(JS, GRAPH_WORKER)
}

/// `GET /vendor/dagre.min.js`: the vendored graph layout library (dagre).
#[utoipa::path(get, path = "/vendor/dagre.min.js", tag = "dashboard",
    responses((status = 200, content_type = "text/javascript", body = String, description = "the vendored graph layout library (dagre)")))]
pub(crate) async fn dagre() -> HttpResponse {
    asset(JS, DAGRE)
}

/// `GET /vendor/dagre.LICENSE.txt`: dagre's license.
#[utoipa::path(get, path = "/vendor/dagre.LICENSE.txt", tag = "dashboard",
    responses((status = 200, content_type = "text/plain", body = String, description = "dagre's license")))]
pub(crate) async fn dagre_license() -> HttpResponse {
    asset("text/plain; charset=utf-8", DAGRE_LICENSE)
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "no-cache"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_carries_the_graph_limit_and_only_relative_urls() {
        assert!(INDEX.contains(GRAPH_MAX_NODES));
        for html in [INDEX, APP_JS, GRAPH_WORKER] {
            for needle in [
                "src=\"/",
                "href=\"/",
                "fetch('/",
                "Worker('/",
                "EventSource('/",
            ] {
                assert!(!html.contains(needle), "absolute URL {needle}");
            }
        }
        assert!(DAGRE_LICENSE.contains("MIT"));
    }
}
