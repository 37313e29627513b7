//! Every HTTP route baton serves, in one table: method, path, and the
//! [`Access`] it needs. Routes are registered *from* these rows, each
//! wrapped in the guard (the edge check, then authorization with its row's
//! access), so a route cannot exist without a role; and each table lists its
//! handlers' `#[utoipa::path]` annotations, so a route cannot exist without
//! its OpenAPI operation ([`super::openapi`] builds the document from these
//! rows). The role matrix test and the route tests (`tests/routes.rs`) read
//! the same rows.
//!
//! | surface | mounted under | rows |
//! |---|---|---|
//! | REST admin API | `/api/v1` | [`V1`] |
//! | agent-coordinate-mcp routes | `/api` | [`COMPAT`] |
//! | root: dashboard, metrics, probes, RFC 9728 metadata | the mount point | [`ROOT`] |
//! | MCP streamable HTTP | `/mcp` | [`MCP`] (tools are checked one by one inside) |
//!
//! Every refusal has a body. The rows of one path form one actix resource
//! whose other methods get 405 with `Allow` listing the path's methods
//! (agent-coordinate-mcp's `{success: false, error}` shape on its routes);
//! an unknown path under a prefix baton owns ([`OWNED_PREFIXES`]: `/api/v1`
//! and `/mcp`) is a JSON 404. Nothing else is caught: the agent-coordinate-mcp
//! and root routes are single resources, so an embedder's `/api/users` or its
//! own default service beside baton's routes keeps working.

use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError, Route};

use super::deadline::BodyDeadline;
use super::{
    admin, compat, dashboard, hooks, leases, messages, openapi, reservations, servers, sse,
    subtasks, tasks, tokens, ApiError,
};
use crate::auth::guard::{authorize_check, edge_check};
use crate::auth::Access;
use crate::error::ErrorCode;
use crate::model::Role;

/// One row of the route table: method, path and role, from which both the actix mount
/// and the OpenAPI document are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    /// HTTP method (`GET`, `POST`, `PUT`, `DELETE`).
    pub method: &'static str,
    /// Path pattern below its surface's mount (`/tasks/{id}/complete`).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

/// The path prefixes baton owns (below its mount point): an unknown path
/// under one of them is baton's JSON 404 (`not_found`). Everything else that
/// no route matches, `/api/<anything>` included, is left to the embedder's
/// own routes and default service.
pub const OWNED_PREFIXES: [&str; 2] = ["/api/v1", "/mcp"];

const VIEWER: Access = Access::Role(Role::Viewer);
const AGENT: Access = Access::Role(Role::Agent);
const ADMIN: Access = Access::Role(Role::Admin);
const PUBLIC: Access = Access::Public;

/// The shape of a route's refusals: baton's `{"error": {code, message,
/// field?}}`, or agent-coordinate-mcp's `{"success": false, "error", "code"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `/api/v1`, the root routes, `/mcp`.
    Baton,
    /// The agent-coordinate-mcp routes under `/api`.
    Compat,
}

impl Shape {
    /// `e` in this shape.
    pub(crate) fn respond(self, e: &ApiError) -> HttpResponse {
        match self {
            Shape::Baton => e.error_response(),
            Shape::Compat => e.compat_response(),
        }
    }
}

/// A row of a table with its actix route: the handler behind the guard (the
/// edge check, then authorization with the row's access).
struct Row {
    path: &'static str,
    method: Method,
    route: Route,
}

/// Each table expands to the `RouteSpec` rows, a function building its
/// routes, and an OpenAPI struct listing its handlers' `#[utoipa::path]`
/// annotations (a handler without one does not compile; `openapi.rs` then
/// keys the document by these rows).
macro_rules! route_table {
    ($(#[$doc:meta])* $table:ident, $rows:ident, $api:ident:
     $( $method:ident $path:literal => $module:ident :: $handler:ident, $access:expr; )*) => {
        $(#[$doc])*
        pub const $table: &[RouteSpec] = &[
            $( RouteSpec { method: stringify!($method), path: $path, access: $access }, )*
        ];

        fn $rows() -> Vec<Row> {
            vec![
                $(
                    Row {
                        path: $path,
                        method: Method::$method,
                        route: web::route()
                            .method(Method::$method)
                            .to($module::$handler)
                            .wrap(from_fn(|req, next| authorize_check($access, req, next)))
                            .wrap(from_fn(edge_check)),
                    },
                )*
            ]
        }

        /// The OpenAPI operations of this table's handlers.
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($module::$handler),*))]
        pub(crate) struct $api;
    };
}

route_table! {
    /// `/api/v1`.
    V1, v1_rows, V1Api:
    POST "/tasks" => tasks::add_tasks, AGENT;
    GET "/tasks" => tasks::list_tasks, VIEWER;
    POST "/tasks/claim-next" => tasks::claim_next, AGENT;
    GET "/tasks/{id}" => tasks::get_task, VIEWER;
    DELETE "/tasks/{id}" => tasks::delete_task, ADMIN;
    POST "/tasks/{id}/claim" => tasks::claim_task, AGENT;
    POST "/tasks/{id}/heartbeat" => tasks::heartbeat, AGENT;
    POST "/tasks/{id}/complete" => tasks::complete, AGENT;
    POST "/tasks/{id}/fail" => tasks::fail, AGENT;
    POST "/tasks/{id}/release" => tasks::release, AGENT;
    POST "/tasks/{id}/cancel" => tasks::cancel, ADMIN;
    POST "/tasks/{id}/reset" => tasks::reset, AGENT;
    POST "/tasks/{id}/subtasks" => subtasks::add_subtasks, AGENT;
    GET "/tasks/{id}/events" => tasks::task_events, VIEWER;
    GET "/tasks/{id}/context" => tasks::context_list, VIEWER;
    GET "/tasks/{id}/context/{key}" => tasks::context_get, VIEWER;
    PUT "/tasks/{id}/context/{key}" => tasks::context_put, AGENT;
    GET "/slots" => tasks::list_slots, VIEWER;
    POST "/slots/claim" => tasks::claim_slot, AGENT;
    POST "/slots/{slot}/release" => tasks::release_slot, AGENT;
    GET "/stats" => tasks::stats, VIEWER;
    GET "/leases" => leases::list_leases, VIEWER;
    POST "/reservations" => reservations::reserve_paths, AGENT;
    GET "/reservations" => reservations::list_reservations, VIEWER;
    POST "/reservations/check" => reservations::check_paths, VIEWER;
    POST "/reservations/{id}/renew" => reservations::renew_reservation, AGENT;
    DELETE "/reservations/{id}" => reservations::release_reservation, AGENT;
    GET "/servers" => servers::list_servers, VIEWER;
    POST "/servers/reload" => servers::reload_servers, ADMIN;
    GET "/servers/{name}" => servers::get_server, VIEWER;
    GET "/servers/{name}/tools" => servers::server_tools, VIEWER;
    POST "/servers/{name}/restart" => servers::restart_server, ADMIN;
    POST "/servers/{name}/reset" => servers::reset_server, ADMIN;
    POST "/tokens" => tokens::create_token, ADMIN;
    GET "/tokens" => tokens::list_tokens, ADMIN;
    DELETE "/tokens/{name}" => tokens::revoke_token, ADMIN;
    GET "/admin/backup" => admin::backup, ADMIN;
    POST "/messages" => messages::send_message, AGENT;
    GET "/messages" => messages::list_messages, VIEWER;
    POST "/messages/read" => messages::read_messages, AGENT;
    GET "/messages/{id}" => messages::get_message, VIEWER;
    POST "/messages/{id}/ack" => messages::ack_message, AGENT;
    GET "/events" => sse::events, Access::Stream;
    POST "/events/ticket" => sse::ticket, VIEWER;
    GET "/openapi.json" => openapi::document, VIEWER;
    POST "/hooks/claude-code" => hooks::claude_code, AGENT;
}

route_table! {
    /// `/api`: the agent-coordinate-mcp coordinator routes.
    COMPAT, compat_rows, CompatApi:
    POST "/claim-worker-slot" => compat::claim_worker_slot, AGENT;
    POST "/release-worker-slot" => compat::release_worker_slot, AGENT;
    GET "/available-tasks" => compat::available_tasks, VIEWER;
    POST "/claim-task" => compat::claim_task, AGENT;
    POST "/update-task" => compat::update_task, AGENT;
    POST "/add-task" => compat::add_task, AGENT;
    GET "/all-tasks" => compat::all_tasks, VIEWER;
    GET "/workers" => compat::workers, VIEWER;
    POST "/reset-failed-task" => compat::reset_failed_task, AGENT;
    GET "/health" => compat::health, PUBLIC;
}

route_table! {
    /// The mount point itself: the dashboard's static shell, metrics,
    /// probes and the protected-resource metadata (RFC 9728).
    ROOT, root_rows, RootApi:
    GET "/" => dashboard::index, PUBLIC;
    GET "/app.js" => dashboard::app_js, PUBLIC;
    GET "/api.js" => dashboard::api_js, PUBLIC;
    GET "/board.js" => dashboard::board_js, PUBLIC;
    GET "/detail.js" => dashboard::detail_js, PUBLIC;
    GET "/form.js" => dashboard::form_js, PUBLIC;
    GET "/graph.js" => dashboard::graph_js, PUBLIC;
    GET "/nav.js" => dashboard::nav_js, PUBLIC;
    GET "/progress.js" => dashboard::progress_js, PUBLIC;
    GET "/reservations.js" => dashboard::reservations_js, PUBLIC;
    GET "/servers.js" => dashboard::servers_js, PUBLIC;
    GET "/slots.js" => dashboard::slots_js, PUBLIC;
    GET "/sse.js" => dashboard::sse_js, PUBLIC;
    GET "/state.js" => dashboard::state_js, PUBLIC;
    GET "/stats.js" => dashboard::stats_js, PUBLIC;
    GET "/timeline.js" => dashboard::timeline_js, PUBLIC;
    GET "/util.js" => dashboard::util_js, PUBLIC;
    GET "/style.css" => dashboard::style_css, PUBLIC;
    GET "/graph-worker.js" => dashboard::graph_worker, PUBLIC;
    GET "/vendor/dagre.min.js" => dashboard::dagre, PUBLIC;
    GET "/vendor/dagre.LICENSE.txt" => dashboard::dagre_license, PUBLIC;
    GET "/metrics" => super::metrics, VIEWER;
    GET "/healthz" => super::healthz, PUBLIC;
    GET "/readyz" => super::readyz, PUBLIC;
    GET "/.well-known/oauth-protected-resource" => super::protected_resource, PUBLIC;
    GET "/.well-known/oauth-protected-resource/mcp" => super::protected_resource_mcp, PUBLIC;
}

/// `/mcp` (streamable HTTP; registered by [`crate::Runtime::configure`]).
pub const MCP: &[RouteSpec] = &[
    RouteSpec {
        method: "POST",
        path: "/mcp",
        access: Access::Mcp,
    },
    RouteSpec {
        method: "GET",
        path: "/mcp",
        access: Access::Mcp,
    },
    RouteSpec {
        method: "DELETE",
        path: "/mcp",
        access: Access::Mcp,
    },
];

/// The OpenAPI operations of `/mcp` (documentation only: rmcp serves them).
#[derive(utoipa::OpenApi)]
#[openapi(paths(openapi::mcp_post, openapi::mcp_get, openapi::mcp_delete))]
pub(crate) struct McpApi;

/// Every row of every surface, with the prefix it is mounted under.
pub fn all() -> impl Iterator<Item = (&'static str, &'static RouteSpec)> {
    V1.iter()
        .map(|r| ("/api/v1", r))
        .chain(COMPAT.iter().map(|r| ("/api", r)))
        .chain(ROOT.iter().map(|r| ("", r)))
        .chain(MCP.iter().map(|r| ("", r)))
}

/// Register every table but [`MCP`] (see [`mcp_fallbacks`]): one actix
/// resource per path, its rows' routes behind the guard, and for any other
/// method a 405 with `Allow` listing that path's methods; every resource
/// (and the `/api/v1` scope) behind the body `deadline`
/// ([`super::deadline`]). `/api/v1` is a
/// scope whose unknown paths are baton's JSON 404; the agent-coordinate-mcp
/// and root routes are single resources, so `/api/<anything else>` stays the
/// embedder's.
pub(crate) fn register(cfg: &mut web::ServiceConfig, deadline: BodyDeadline) {
    cfg.service(
        web::scope("/api/v1")
            .wrap(deadline)
            .wrap(from_fn(super::record_metrics))
            .configure(|c| mount(c, "", v1_rows(), Shape::Baton, false, None))
            .default_service(not_found()),
    );
    mount(
        cfg,
        "/api",
        compat_rows(),
        Shape::Compat,
        true,
        Some(deadline.in_shape(Shape::Compat)),
    );
    mount(cfg, "", root_rows(), Shape::Baton, false, Some(deadline));
}

/// One resource per distinct path of `rows` (under `prefix`), in table
/// order, each behind the body deadline when one is given (a scope's rows
/// are behind the scope's).
fn mount(
    cfg: &mut web::ServiceConfig,
    prefix: &str,
    rows: Vec<Row>,
    shape: Shape,
    metered: bool,
    deadline: Option<BodyDeadline>,
) {
    let mut groups: Vec<(&'static str, Vec<Method>, Vec<Route>)> = Vec::new();
    for row in rows {
        match groups.iter_mut().find(|g| g.0 == row.path) {
            Some(g) => {
                g.1.push(row.method);
                g.2.push(row.route);
            }
            None => groups.push((row.path, vec![row.method], vec![row.route])),
        }
    }
    for (path, methods, routes) in groups {
        let mut resource = web::resource(format!("{prefix}{path}"))
            .app_data(web::PathConfig::default().error_handler(super::params::path_error))
            .default_service(method_not_allowed(methods, shape));
        for route in routes {
            resource = resource.route(route);
        }
        match (deadline, metered) {
            (Some(d), true) => cfg.service(resource.wrap(d).wrap(from_fn(super::record_metrics))),
            (Some(d), false) => cfg.service(resource.wrap(d)),
            (None, true) => cfg.service(resource.wrap(from_fn(super::record_metrics))),
            (None, false) => cfg.service(resource),
        };
    }
}

/// 405 with `Allow: <allowed>` in `shape` (behind the edge check).
fn method_not_allowed(allowed: Vec<Method>, shape: Shape) -> Route {
    web::to(move |req: HttpRequest| {
        let e = ApiError::MethodNotAllowed {
            method: req.method().clone(),
            path: req.path().to_owned(),
            allowed: allowed.clone(),
        };
        async move { shape.respond(&e) }
    })
    .wrap(from_fn(edge_check))
}

/// Baton's JSON 404 for a path under one of [`OWNED_PREFIXES`] that no
/// route matches (behind the edge check).
fn not_found() -> Route {
    web::to(|req: HttpRequest| async move {
        ApiError::NotFound {
            code: ErrorCode::NotFound,
            message: format!(
                "no route {} {} (GET /api/v1/openapi.json lists every route)",
                req.method(),
                req.path()
            ),
        }
        .error_response()
    })
    .wrap(from_fn(edge_check))
}

/// The methods [`MCP`] lists, for the `/mcp` resource's guard and `Allow`.
fn mcp_methods() -> Vec<Method> {
    MCP.iter()
        .filter_map(|r| Method::from_bytes(r.method.as_bytes()).ok())
        .collect()
}

/// Matches a request whose method is one of [`MCP`]'s: rmcp's `/mcp`
/// resource answers every method itself, so it is guarded with this and
/// any other method falls through to [`mcp_fallbacks`]' 405.
pub(crate) fn mcp_guard() -> impl actix_web::guard::Guard {
    let methods = mcp_methods();
    actix_web::guard::fn_guard(move |ctx| methods.contains(&ctx.head().method))
}

/// Register after the `/mcp` resource: a method `/mcp` does not serve is
/// 405 with `Allow`, any path below `/mcp/` is baton's JSON 404; with MCP
/// off (`enabled = false`), `/mcp` itself is 404 too. Both behind the body
/// `deadline` (an unread body closes the connection after the answer).
pub(crate) fn mcp_fallbacks(cfg: &mut web::ServiceConfig, enabled: bool, deadline: BodyDeadline) {
    let own = if enabled {
        method_not_allowed(mcp_methods(), Shape::Baton)
    } else {
        not_found()
    };
    cfg.service(
        web::resource(["/mcp", "/mcp/"])
            .default_service(own)
            .wrap(deadline),
    )
    .service(
        web::resource("/mcp/{tail:.*}")
            .default_service(not_found())
            .wrap(deadline),
    );
}
