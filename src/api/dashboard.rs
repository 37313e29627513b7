//! The live dashboard: static files embedded in the binary, served at the
//! mount point (`./`, the page's ES modules `./app.js`, `./board.js`, … (see
//! `MODULES`), `./style.css`, the graph view's layout worker
//! `./graph-worker.js` and the vendored layout library under `./vendor/`).
//! The page uses only relative URLs, so it works under any embedding prefix
//! (mount at `/baton` and open `/baton/`).
//!
//! The modules are plain files, no build step: `index.html` loads `app.js`
//! with `<script type="module">` and the browser fetches what it imports.
//! Each module needs a row in [`super::routes::ROOT`] and an entry in
//! `MODULES`; a unit test below holds the three lists (imports, table,
//! routes) together. No Content-Security-Policy is sent; the modules are
//! same-origin files, so a future `script-src 'self'` admits them.
//!
//! `assets/dashboard/vendor/` is written by `scripts/vendor-dashboard.sh`
//! from npm at the versions pinned in `assets/dashboard/vendor/package-lock.json`
//! and committed, so building needs no npm and nothing is fetched at run time.

use actix_web::{web, HttpResponse};

use crate::board::Board;

const INDEX: &str = include_str!("../../assets/dashboard/index.html");

/// Declares [`MODULES`] (each file under `assets/dashboard/`, embedded) and
/// one documented handler per module, so every module has its own row in
/// [`super::routes::ROOT`] and its own operation in the OpenAPI document.
macro_rules! modules {
    ($($file:literal => $handler:ident),* $(,)?) => {
        /// The dashboard's ES modules as (file name, source): each is served
        /// at `./<file name>` with a JavaScript content type, which browsers
        /// require of a module script. `app.js` is the entry. (The handlers
        /// below serve them; this table lets the tests hold imports, routes
        /// and preloads together.)
        #[cfg(test)]
        pub(crate) const MODULES: &[(&str, &str)] = &[
            $(($file, include_str!(concat!("../../assets/dashboard/", $file))),)*
        ];

        $(
            #[doc = concat!("`GET /", $file, "`: one of the dashboard's ES modules.")]
            #[utoipa::path(get, path = concat!("/", $file), tag = "dashboard",
                responses((status = 200, content_type = "text/javascript", body = String,
                    description = "one of the dashboard's ES modules")))]
            pub(crate) async fn $handler() -> HttpResponse {
                asset(JS, include_str!(concat!("../../assets/dashboard/", $file)))
            }
        )*
    };
}

modules!(
    "app.js" => app_js,
    "api.js" => api_js,
    "board.js" => board_js,
    "detail.js" => detail_js,
    "form.js" => form_js,
    "graph.js" => graph_js,
    "nav.js" => nav_js,
    "progress.js" => progress_js,
    "reservations.js" => reservations_js,
    "servers.js" => servers_js,
    "slots.js" => slots_js,
    "sse.js" => sse_js,
    "state.js" => state_js,
    "stats.js" => stats_js,
    "timeline.js" => timeline_js,
    "util.js" => util_js,
);

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

    use crate::api::routes::ROOT;
    use crate::auth::Access;

    #[test]
    fn index_carries_the_graph_limit_and_only_relative_urls() {
        assert!(INDEX.contains(GRAPH_MAX_NODES));
        let sources = [INDEX, GRAPH_WORKER]
            .into_iter()
            .chain(MODULES.iter().map(|(_, body)| *body));
        for text in sources {
            for needle in [
                "src=\"/",
                "href=\"/",
                "fetch('/",
                "Worker('/",
                "EventSource('/",
                "from '/",
                "import('/",
            ] {
                assert!(!text.contains(needle), "absolute URL {needle}");
            }
        }
        assert!(DAGRE_LICENSE.contains("MIT"));
    }

    /// The files `import … from './x.js'` names in `source`.
    fn imports(source: &str) -> Vec<&str> {
        source
            .lines()
            .filter(|line| line.starts_with("import "))
            .filter_map(|line| line.split("from './").nth(1))
            .filter_map(|rest| rest.split('\'').next())
            .collect()
    }

    /// A module the browser cannot fetch breaks the whole page, so every
    /// import resolves to an embedded module, every embedded module is
    /// imported (or is the entry), has a public GET row at the mount point,
    /// and is preloaded by the page (the entry is loaded by its script tag).
    #[test]
    fn every_module_is_imported_embedded_routed_and_preloaded() {
        let names: Vec<&str> = MODULES.iter().map(|(file, _)| *file).collect();
        assert!(
            INDEX.contains("<script type=\"module\" src=\"app.js\"></script>"),
            "index.html loads the entry as a module"
        );
        let mut imported = vec!["app.js"];
        for (file, body) in MODULES {
            for target in imports(body) {
                assert!(
                    names.contains(&target),
                    "{file} imports {target}, which is not in MODULES"
                );
                imported.push(target);
            }
        }
        for file in &names {
            assert!(
                imported.contains(file),
                "{file} is embedded but never imported"
            );
            let path = format!("/{file}");
            assert!(
                ROOT.iter()
                    .any(|r| r.method == "GET" && r.path == path && r.access == Access::Public),
                "no public GET {path} row in routes::ROOT"
            );
            assert!(
                *file == "app.js"
                    || INDEX.contains(&format!("<link rel=\"modulepreload\" href=\"{file}\">")),
                "index.html does not preload {file}"
            );
        }
    }

    #[actix_web::test]
    async fn a_module_is_served_as_javascript() {
        use actix_web::body::MessageBody;
        let res = board_js().await;
        assert_eq!(res.status(), 200);
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        assert_eq!(ct, Some(JS));
        let body = res.into_body().try_into_bytes().unwrap_or_default();
        assert!(
            body.starts_with(b"// The board"),
            "{:?}",
            &body[..body.len().min(40)]
        );
    }
}
