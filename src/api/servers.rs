//! `/api/v1/servers`: the downstream MCP servers of the pool — state,
//! breaker state and counts, last error, tool count, call latency
//! percentiles — and the `restart` / `reset` admin actions.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::error::ApiError;
use crate::api::tasks::ErrorBody;
use crate::api::Acting;
use crate::board::Board;
use crate::pool::{PoolHandle, ServerStatus};

/// Every configured server.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerList {
    /// In name order; invalid entries of the server file included (state `invalid`).
    pub servers: Vec<ServerStatus>,
}

/// One downstream tool as the gateway offers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GatewayToolInfo {
    /// Name on baton's `/mcp` (`<server>__<tool>`).
    pub name: String,
    /// The server's own name for it.
    pub tool: String,
    /// The downstream server's description of the tool, as its `tools/list` gave it
    /// (`None` when it gave none).
    pub description: Option<String>,
    /// Transport failures are retried (the tool is marked idempotent).
    pub idempotent: bool,
}

/// The tools of one server.
#[derive(Debug, Serialize, ToSchema)]
pub struct GatewayToolList {
    /// In name order.
    pub tools: Vec<GatewayToolInfo>,
}

fn pool(board: &Board) -> Result<&PoolHandle, ApiError> {
    board
        .pool()
        .ok_or_else(|| ApiError::from(crate::error::Error::Unavailable("the MCP server pool")))
}

async fn status_of(pool: &PoolHandle, name: &str) -> Result<ServerStatus, ApiError> {
    Ok(pool
        .server_status(name)
        .await
        .map_err(crate::error::Error::from)?)
}

#[utoipa::path(get, path = "/api/v1/servers", tag = "servers",
    responses((status = 200, body = ServerList, description = "every configured server with its state")))]
pub(crate) async fn list_servers(board: Acting) -> Result<HttpResponse, ApiError> {
    let servers = pool(&board)?.status().await;
    Ok(HttpResponse::Ok().json(ServerList { servers }))
}

#[utoipa::path(get, path = "/api/v1/servers/{name}", tag = "servers",
    params(("name" = String, Path)),
    responses((status = 200, body = ServerStatus, description = "the server's state, breaker and counts"),
              (status = 404, body = ErrorBody, description = "no server of that name (`unknown_server`)")))]
pub(crate) async fn get_server(
    board: Acting,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let status = status_of(pool(&board)?, &name).await?;
    Ok(HttpResponse::Ok().json(status))
}

#[utoipa::path(get, path = "/api/v1/servers/{name}/tools", tag = "servers",
    params(("name" = String, Path)),
    responses((status = 200, body = GatewayToolList, description = "the server's tools under their gateway names"),
              (status = 404, body = ErrorBody, description = "no server of that name (`unknown_server`)")))]
pub(crate) async fn server_tools(
    board: Acting,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pool = pool(&board)?;
    status_of(pool, &name).await?;
    let tools = pool
        .server_tools(&name)
        .into_iter()
        .map(|t| GatewayToolInfo {
            description: t.definition.description.as_ref().map(|d| d.to_string()),
            name: t.name,
            tool: t.tool,
            idempotent: t.idempotent,
        })
        .collect();
    Ok(HttpResponse::Ok().json(GatewayToolList { tools }))
}

#[utoipa::path(post, path = "/api/v1/servers/{name}/restart", tag = "servers",
    params(("name" = String, Path)),
    responses((status = 202, body = ServerStatus, description = "the old process group is gone; the new start has begun"),
              (status = 404, body = ErrorBody, description = "no server of that name (`unknown_server`)")))]
pub(crate) async fn restart_server(
    board: Acting,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pool = pool(&board)?;
    pool.restart(&name)
        .await
        .map_err(crate::error::Error::from)?;
    Ok(HttpResponse::Accepted().json(status_of(pool, &name).await?))
}

#[utoipa::path(post, path = "/api/v1/servers/{name}/reset", tag = "servers",
    params(("name" = String, Path)),
    responses((status = 200, body = ServerStatus, description = "breaker closed, counts cleared"),
              (status = 404, body = ErrorBody, description = "no server of that name (`unknown_server`)")))]
pub(crate) async fn reset_server(
    board: Acting,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pool = pool(&board)?;
    pool.reset(&name).await.map_err(crate::error::Error::from)?;
    Ok(HttpResponse::Ok().json(status_of(pool, &name).await?))
}
