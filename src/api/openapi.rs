//! The OpenAPI 3 document, generated from the handlers' annotations.

use actix_web::HttpResponse;
use utoipa::OpenApi;

use super::{admin, leases, routes, servers, tasks, tokens};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "baton", description = "A durable, shared task board for AI agents: tasks with dependencies, atomic claims under fenced leases, worker slots."),
    paths(
        tasks::add_tasks, tasks::list_tasks, tasks::get_task, tasks::claim_next, tasks::claim_task,
        tasks::heartbeat, tasks::complete, tasks::fail, tasks::release, tasks::cancel, tasks::reset,
        tasks::delete_task,
        tasks::task_events, tasks::context_list, tasks::context_get, tasks::context_put,
        tasks::list_slots, tasks::claim_slot, tasks::release_slot, tasks::stats,
        leases::list_leases,
        servers::list_servers, servers::get_server, servers::server_tools,
        servers::restart_server, servers::reset_server,
        tokens::create_token, tokens::list_tokens, tokens::revoke_token,
        admin::backup,
    ),
    tags((name = "tasks"), (name = "leases"), (name = "context"), (name = "slots"), (name = "system"),
         (name = "servers", description = "downstream MCP servers (the pool)"),
         (name = "tokens", description = "access tokens (admin)"),
         (name = "admin", description = "backup (admin)"))
)]
pub struct ApiDoc;

/// The document, with each operation's role from the route table
/// (`x-baton-role`: `viewer`, `agent`, `admin` or `public`) and the bearer
/// security scheme.
pub fn with_roles() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    for spec in routes::V1 {
        let path = format!("/api/v1{}", spec.path);
        let method = spec.method.to_ascii_lowercase();
        if let Some(op) = doc
            .pointer_mut(&format!(
                "/paths/{}/{method}",
                path.replace('~', "~0").replace('/', "~1")
            ))
            .and_then(serde_json::Value::as_object_mut)
        {
            let role = spec.access.role().map_or("public", |r| r.as_str());
            op.insert("x-baton-role".into(), role.into());
            if spec.access.role().is_some() {
                op.insert("security".into(), serde_json::json!([{ "bearer": [] }]));
            }
        }
    }
    if let Some(root) = doc.as_object_mut() {
        let components = root
            .entry("components")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(c) = components.as_object_mut() {
            c.insert(
                "securitySchemes".into(),
                serde_json::json!({ "bearer": {
                    "type": "http", "scheme": "bearer",
                    "description": "an access token's secret (baton token create) or a JWT from the configured identity provider"
                }}),
            );
        }
    }
    doc
}

pub(crate) async fn document() -> HttpResponse {
    HttpResponse::Ok().json(with_roles())
}
