//! The MCP edge: streamable HTTP at `/mcp` (rmcp + rmcp-actix-web), mounted
//! by the same [`crate::Runtime::configure`] embedders use.
//!
//! Every tool is a thin wrapper over one [`crate::Board`] method (one actor
//! message); errors map from [`crate::Error::code`] in one place
//! ([`server::tool_error`]). [`stdio`] serves stdio-only clients, bridged to
//! a running server or in-process. Clients of the MCP tasks extension
//! (SEP-2663) get durable task handles from `wait_for_task`
//! ([`crate::model::Operation`], kept by the task registry). The
//! `conformance-fixtures` cargo feature adds the conformance suite's test
//! tools, resources and prompts (a test-only build).

#[cfg(feature = "conformance-fixtures")]
mod fixtures;
pub mod server;
pub mod stdio;

use std::sync::Arc;
use std::time::Duration;

use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp_actix_web::transport::StreamableHttpService;

pub use server::BatonMcp;

use crate::board::Board;
use crate::config::{McpSettings, ToolProfile};

/// The `/mcp` service, built once per runtime (it owns the session store,
/// which every actix worker must share).
pub type McpService = StreamableHttpService<BatonMcp, LocalSessionManager>;

/// Build the service for `board` from `[mcp]` settings: accepted Host and
/// Origin headers (DNS-rebinding protection) and the default tool profile.
/// A `?profile=core|full` query on `/mcp` picks the profile per connection.
pub fn service(board: Board, settings: &McpSettings) -> McpService {
    let profile = settings.profile;
    StreamableHttpService::builder()
        .service_factory(Arc::new(move || {
            Ok(BatonMcp::new(board.clone()).with_profile(profile))
        }))
        .session_manager(Arc::new(LocalSessionManager::default()))
        .stateful_mode(true)
        .sse_keep_alive(Duration::from_secs(15))
        .allowed_hosts(settings.allowed_hosts.clone())
        .allowed_origins(settings.allowed_origins.clone())
        .on_request_fn(|req, ext| {
            if let Some(p) = ToolProfile::from_query(req.query_string()) {
                ext.insert(p);
            }
        })
        .build()
}
