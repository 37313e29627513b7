//! The OpenAPI 3 document, generated from the handlers' annotations.

use actix_web::HttpResponse;
use utoipa::OpenApi;

use super::{servers, tasks};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "baton", description = "A durable, shared task board for AI agents: tasks with dependencies, atomic claims under fenced leases, worker slots."),
    paths(
        tasks::add_tasks, tasks::list_tasks, tasks::get_task, tasks::claim_next, tasks::claim_task,
        tasks::heartbeat, tasks::complete, tasks::fail, tasks::release, tasks::cancel, tasks::reset,
        tasks::task_events, tasks::context_list, tasks::context_get, tasks::context_put,
        tasks::list_slots, tasks::claim_slot, tasks::release_slot, tasks::stats,
        servers::list_servers, servers::get_server, servers::server_tools,
        servers::restart_server, servers::reset_server,
    ),
    tags((name = "tasks"), (name = "leases"), (name = "context"), (name = "slots"), (name = "system"),
         (name = "servers", description = "downstream MCP servers (the pool)"))
)]
pub struct ApiDoc;

pub(crate) async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
