//! Every HTTP route baton serves, in one table: method, path, and the
//! [`Access`] it needs. Routes are registered *from* these rows, each
//! wrapped in the guard (the edge check, then authorization with its row's
//! access), so a route cannot exist without a role; the OpenAPI document and
//! the role matrix test read the same rows. Each route is its own resource
//! (no scope at the mount point), so an embedder's routes next to baton's
//! are never wrapped or swallowed.
//!
//! | surface | mounted under | rows |
//! |---|---|---|
//! | REST admin API | `/api/v1` | [`V1`] |
//! | agent-coordinate-mcp routes | `/api` | [`COMPAT`] |
//! | root: dashboard, metrics, probes, RFC 9728 metadata | the mount point | [`ROOT`] |
//! | MCP streamable HTTP | `/mcp` | [`MCP`] (tools are checked one by one inside) |

use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::web;

use super::{admin, compat, dashboard, leases, openapi, servers, sse, tasks, tokens};
use crate::auth::guard::{authorize_check, edge_check};
use crate::auth::Access;
use crate::model::Role;

/// One route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    /// HTTP method (`GET`, `POST`, `PUT`, `DELETE`).
    pub method: &'static str,
    /// Path pattern below its surface's mount (`/tasks/{id}/complete`).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

const VIEWER: Access = Access::Role(Role::Viewer);
const AGENT: Access = Access::Role(Role::Agent);
const ADMIN: Access = Access::Role(Role::Admin);
const PUBLIC: Access = Access::Public;

macro_rules! route_table {
    ($(#[$doc:meta])* $table:ident, $register:ident: $( $method:ident $path:literal => $handler:path, $access:expr; )*) => {
        $(#[$doc])*
        pub const $table: &[RouteSpec] = &[
            $( RouteSpec { method: stringify!($method), path: $path, access: $access }, )*
        ];

        pub(crate) fn $register(cfg: &mut web::ServiceConfig) {
            $(
                cfg.route(
                    $path,
                    web::route()
                        .method(Method::$method)
                        .to($handler)
                        .wrap(from_fn(|req, next| authorize_check($access, req, next)))
                        .wrap(from_fn(edge_check)),
                );
            )*
        }
    };
}

route_table! {
    /// `/api/v1`.
    V1, register_v1:
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
    GET "/tasks/{id}/events" => tasks::task_events, VIEWER;
    GET "/tasks/{id}/context" => tasks::context_list, VIEWER;
    GET "/tasks/{id}/context/{key}" => tasks::context_get, VIEWER;
    PUT "/tasks/{id}/context/{key}" => tasks::context_put, AGENT;
    GET "/slots" => tasks::list_slots, VIEWER;
    POST "/slots/claim" => tasks::claim_slot, AGENT;
    POST "/slots/{slot}/release" => tasks::release_slot, AGENT;
    GET "/stats" => tasks::stats, VIEWER;
    GET "/leases" => leases::list_leases, VIEWER;
    GET "/servers" => servers::list_servers, VIEWER;
    GET "/servers/{name}" => servers::get_server, VIEWER;
    GET "/servers/{name}/tools" => servers::server_tools, VIEWER;
    POST "/servers/{name}/restart" => servers::restart_server, ADMIN;
    POST "/servers/{name}/reset" => servers::reset_server, ADMIN;
    POST "/tokens" => tokens::create_token, ADMIN;
    GET "/tokens" => tokens::list_tokens, ADMIN;
    DELETE "/tokens/{name}" => tokens::revoke_token, ADMIN;
    GET "/admin/backup" => admin::backup, ADMIN;
    GET "/events" => sse::events, Access::Stream;
    POST "/events/ticket" => sse::ticket, VIEWER;
    GET "/openapi.json" => openapi::document, VIEWER;
}

route_table! {
    /// `/api`: the agent-coordinate-mcp coordinator routes.
    COMPAT, register_compat:
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
    ROOT, register_root:
    GET "/" => dashboard::index, PUBLIC;
    GET "/app.js" => dashboard::module, PUBLIC;
    GET "/api.js" => dashboard::module, PUBLIC;
    GET "/board.js" => dashboard::module, PUBLIC;
    GET "/detail.js" => dashboard::module, PUBLIC;
    GET "/form.js" => dashboard::module, PUBLIC;
    GET "/graph.js" => dashboard::module, PUBLIC;
    GET "/nav.js" => dashboard::module, PUBLIC;
    GET "/progress.js" => dashboard::module, PUBLIC;
    GET "/servers.js" => dashboard::module, PUBLIC;
    GET "/slots.js" => dashboard::module, PUBLIC;
    GET "/sse.js" => dashboard::module, PUBLIC;
    GET "/state.js" => dashboard::module, PUBLIC;
    GET "/stats.js" => dashboard::module, PUBLIC;
    GET "/timeline.js" => dashboard::module, PUBLIC;
    GET "/util.js" => dashboard::module, PUBLIC;
    GET "/style.css" => dashboard::style_css, PUBLIC;
    GET "/graph-worker.js" => dashboard::graph_worker, PUBLIC;
    GET "/vendor/dagre.min.js" => dashboard::dagre, PUBLIC;
    GET "/vendor/dagre.LICENSE.txt" => dashboard::dagre_license, PUBLIC;
    GET "/metrics" => super::metrics, VIEWER;
    GET "/healthz" => super::healthz, PUBLIC;
    GET "/readyz" => super::readyz, PUBLIC;
    GET "/.well-known/oauth-protected-resource" => super::protected_resource, PUBLIC;
    GET "/.well-known/oauth-protected-resource/mcp" => super::protected_resource, PUBLIC;
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

/// Every row of every surface, with the prefix it is mounted under.
pub fn all() -> impl Iterator<Item = (&'static str, &'static RouteSpec)> {
    V1.iter()
        .map(|r| ("/api/v1", r))
        .chain(COMPAT.iter().map(|r| ("/api", r)))
        .chain(ROOT.iter().map(|r| ("", r)))
        .chain(MCP.iter().map(|r| ("", r)))
}
