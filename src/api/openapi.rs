//! The OpenAPI 3.1 document at `/api/v1/openapi.json`, generated from the
//! route table ([`routes`]): its paths are exactly the table's rows — the
//! REST API, the event stream, the agent-coordinate-mcp routes, the
//! dashboard, metrics and probes, `/mcp` — each operation taken from its
//! handler's `#[utoipa::path]` annotation (a row whose handler has none does
//! not compile) and marked with the row's role. `tests/routes.rs` checks
//! that every row is there with a description on every response;
//! `tests/python/test_openapi.py` validates the served document with
//! `openapi-spec-validator`.

use actix_web::HttpResponse;
use serde_json::{json, Map, Value};
use utoipa::OpenApi;

use super::routes;
use crate::auth::Access;

/// The document's head: title, description and tags (the paths come from
/// the route table, see [`with_roles`]).
#[derive(OpenApi)]
#[openapi(
    info(title = "baton", description = "A durable, shared task board for AI agents: tasks with dependencies, subtasks that roll up and tasks that wait for their time, atomic claims under fenced leases, worker slots."),
    tags((name = "tasks"), (name = "leases"), (name = "context"), (name = "slots"), (name = "system"),
         (name = "events", description = "Server-Sent Events of every durable change"),
         (name = "servers", description = "downstream MCP servers (the pool)"),
         (name = "tokens", description = "access tokens (admin)"),
         (name = "messages", description = "messages between workers, tasks and operators"),
         (name = "admin", description = "backup (admin)"),
         (name = "hooks", description = "Claude Code's lifecycle hooks (`baton hooks install`)"),
         (name = "compat", description = "agent-coordinate-mcp's coordinator routes, in its JSON shapes"),
         (name = "dashboard", description = "the live web dashboard's static files"),
         (name = "mcp", description = "the MCP endpoint (streamable HTTP)"))
)]
pub struct ApiDoc;

/// The document as JSON: one operation per route-table row (and nothing
/// else), its `operationId` the handler's name (`compat_` before those of
/// the agent-coordinate-mcp routes), each with its role (`x-baton-role`: `viewer`, `agent`, `admin` or
/// `public`) and, for a role, the bearer security requirement and its 401
/// and 403 answers.
pub fn with_roles() -> Value {
    let mut api = ApiDoc::openapi();
    api.merge(routes::V1Api::openapi());
    api.merge(routes::CompatApi::openapi());
    api.merge(routes::RootApi::openapi());
    api.merge(routes::McpApi::openapi());
    let mut doc = serde_json::to_value(api).unwrap_or_default();
    let annotated = doc["paths"].take();
    let mut paths = Map::new();
    for (prefix, spec) in routes::all() {
        let full = format!("{prefix}{}", spec.path);
        let method = spec.method.to_ascii_lowercase();
        let Some(mut op) = annotated.get(&full).and_then(|p| p.get(&method)).cloned() else {
            // the handler's annotation names another path or method
            tracing::error!(method = spec.method, path = %full, "route without an OpenAPI operation");
            continue;
        };
        mark_access(&mut op, spec.access);
        if prefix == "/api" {
            // agent-coordinate-mcp's names (`claim_task`) are also /api/v1's
            if let Some(id) = op.get_mut("operationId") {
                *id = format!("compat_{}", id.as_str().unwrap_or_default()).into();
            }
        }
        if let Some(item) = paths
            .entry(full)
            .or_insert_with(|| json!({}))
            .as_object_mut()
        {
            item.insert(method, op);
        }
    }
    doc["paths"] = Value::Object(paths);
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

/// The row's role on its operation, and what a caller without it gets.
fn mark_access(op: &mut Value, access: Access) {
    let Some(o) = op.as_object_mut() else {
        return;
    };
    let Some(role) = access.role() else {
        o.insert("x-baton-role".into(), "public".into());
        return;
    };
    o.insert("x-baton-role".into(), role.as_str().into());
    o.insert("security".into(), json!([{ "bearer": [] }]));
    let error =
        json!({ "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } });
    if let Some(responses) = o.get_mut("responses").and_then(Value::as_object_mut) {
        responses.entry("401").or_insert_with(|| {
            json!({
                "description": "no bearer token, or one that is unknown, revoked or expired (when auth is on)",
                "content": error,
            })
        });
        responses.entry("403").or_insert_with(|| {
            json!({
                "description": format!("the caller's role is below {}, or the request's Origin or Host is not allowed", role.as_str()),
                "content": error,
            })
        });
    }
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system",
    responses((status = 200, description = "the OpenAPI 3.1 document of every route (this one)", body = Object)))]
pub(crate) async fn document() -> HttpResponse {
    HttpResponse::Ok().json(with_roles())
}

// ---- /mcp: documented here, served by rmcp (`crate::mcp`) -------------------------

/// Send one JSON-RPC message (a request, notification or response) to the
/// MCP server; `initialize` starts a session whose id comes back in
/// `Mcp-Session-Id`, to be sent on every later request.
#[utoipa::path(post, path = "/mcp", tag = "mcp",
    params(("Mcp-Session-Id" = Option<String>, Header, description = "the session, from the initialize answer"),
           ("X-Baton-Worker" = Option<String>, Header, description = "the worker this connection acts as")),
    request_body(content = Object, description = "one JSON-RPC 2.0 message (a batch array only under protocol 2025-03-26)"),
    responses((status = 200, description = "the JSON-RPC answer, as application/json or as a text/event-stream carrying it", body = Object),
              (status = 202, description = "a notification or a response was accepted"),
              (status = 400, description = "not a JSON-RPC message, or a request without a session"),
              (status = 404, description = "the session is unknown or ended: initialize again")))]
#[allow(dead_code)] // documentation only
async fn mcp_post() {}

/// Open the session's stream of server-to-client messages
/// (`text/event-stream`).
#[utoipa::path(get, path = "/mcp", tag = "mcp",
    params(("Mcp-Session-Id" = String, Header, description = "the session, from the initialize answer")),
    responses((status = 200, description = "an event stream of server-to-client JSON-RPC messages", content_type = "text/event-stream", body = String),
              (status = 400, description = "no session id"),
              (status = 404, description = "the session is unknown or ended: initialize again")))]
#[allow(dead_code)] // documentation only
async fn mcp_get() {}

/// End a session.
#[utoipa::path(delete, path = "/mcp", tag = "mcp",
    params(("Mcp-Session-Id" = String, Header, description = "the session to end")),
    responses((status = 204, description = "the session ended"),
              (status = 404, description = "no such session")))]
#[allow(dead_code)] // documentation only
async fn mcp_delete() {}
