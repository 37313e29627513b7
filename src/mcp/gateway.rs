//! The gateway: downstream MCP servers' tools (`<server>__<tool>`) and
//! prompts, forwarded through the pool ([`crate::pool`]). A request the
//! client cancels drops the downstream call, which cancels it there.
//!
//! Every result baton forwards is shaped here for the session it goes to
//! ([`shape_tool_result`], [`shape_prompt`]): a downstream server speaking an
//! older protocol sends no `resultType`, which clients that negotiated
//! 2026-07-28 require (the Python SDK's default mode failed every gateway
//! call with "`resultType` Field required"). The shaped result carries
//! `resultType: "complete"`; rmcp takes it off again for sessions on older
//! versions, exactly as it does for baton's own results.
//!
//! **Fencing at use.** A tool a server's `lease_required` names is called
//! only for a worker (`X-Baton-Worker`) that holds a live lease — and, where
//! `path_arguments` names its path argument, a live reservation covering the
//! path; otherwise the call is refused (`lease_required`, `stale_lease` for
//! a lapsed lease, `paths_not_reserved`) before the downstream server sees
//! anything.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, ResultType,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};

use super::errors::{cancelled, gateway_error, prompt_error, tool_error};
use super::reservations::worker_header;
use super::BatonMcp;
use crate::board::resolve_worker;
use crate::error::Error;
use crate::pool::CallOptions;

impl BatonMcp {
    /// Whether `name` is a downstream tool the pool can route.
    pub(super) fn is_gateway_tool(&self, name: &str) -> bool {
        self.board
            .pool()
            .is_some_and(|pool| pool.resolve(name).is_some())
    }

    /// Call a downstream tool; a call that produced no result is a tool error
    /// naming the server.
    pub(super) async fn call_gateway_tool(
        &self,
        request: CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let Some(pool) = self.board.pool() else {
            return Err(McpError::invalid_params(
                format!("no tool named '{}'", request.name),
                None,
            ));
        };
        if let Err(e) = self.fence(&request, context).await {
            return Ok(tool_error(&e).into());
        }
        let call = pool.call(&request.name, request.arguments, CallOptions::default());
        let r = tokio::select! {
            r = call => r,
            () = context.ct.cancelled() => return Err(cancelled()),
        };
        Ok(r.map(shape_tool_result)
            .unwrap_or_else(|e| gateway_error(&e))
            .into())
    }

    /// Fencing at use: a call to one of a server's `lease_required` tools
    /// needs a worker (`X-Baton-Worker`) holding a live lease and, where
    /// `path_arguments` names the tool's path argument, a live reservation
    /// covering that path. Checked before the downstream server sees
    /// anything.
    async fn fence(
        &self,
        request: &CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), Error> {
        let Some(pool) = self.board.pool() else {
            return Ok(());
        };
        let Some((server, tool)) = pool.resolve(&request.name) else {
            return Ok(());
        };
        let (required, path_arguments) = pool.fence(&server);
        if !required.iter().any(|p| tool_matches(p, &tool)) {
            return Ok(());
        }
        let worker = resolve_worker(worker_header(context).as_deref(), None)?;
        let path = match path_arguments.get(&tool) {
            None => None,
            Some(arg) => {
                let value = request
                    .arguments
                    .as_ref()
                    .and_then(|a| a.get(arg))
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| {
                        Error::invalid(
                            arg.clone(),
                            format!("{} needs its path argument '{arg}' (a string) to check the caller's reservation", request.name),
                        )
                    })?;
                Some((arg.clone(), value.to_owned()))
            }
        };
        self.board.check_fence(&worker, &request.name, path).await
    }

    /// Whether `name` is a downstream prompt the pool can route.
    pub(super) fn is_gateway_prompt(&self, name: &str) -> bool {
        self.board
            .pool()
            .is_some_and(|pool| pool.resolve_prompt(name).is_some())
    }

    /// Fetch a downstream prompt: the downstream's own JSON-RPC error as it
    /// is, anything else as an error naming the server.
    pub(super) async fn get_gateway_prompt(
        &self,
        request: GetPromptRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let Some(pool) = self.board.pool() else {
            return Err(McpError::invalid_params(
                format!("no prompt named '{}'", request.name),
                None,
            ));
        };
        let get = pool.get_prompt(&request.name, request.arguments);
        let r = tokio::select! {
            r = get => r,
            () = context.ct.cancelled() => return Err(cancelled()),
        };
        r.map(|p| shape_prompt(p).into())
            .map_err(|e| prompt_error(&e))
    }
}

/// Whether a `lease_required` entry names `tool`: equal, `prefix_*` by
/// prefix, `*` every tool.
fn tool_matches(pattern: &str, tool: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => tool.starts_with(prefix),
        None => pattern == tool,
    }
}

/// A downstream tool result as baton's own results are shaped: a
/// `resultType` (see the module doc), and an error result without
/// `structuredContent` (its JSON moves to the text content when there is no
/// text) — a tool's `outputSchema` describes its results, not its errors.
pub(super) fn shape_tool_result(mut r: CallToolResult) -> CallToolResult {
    r.result_type.get_or_insert(ResultType::COMPLETE);
    if r.is_error == Some(true) {
        if let Some(v) = r.structured_content.take() {
            if r.content.is_empty() {
                r.content.push(ContentBlock::text(v.to_string()));
            }
        }
    }
    r
}

/// A downstream prompt as baton's own are shaped (a `resultType`).
pub(super) fn shape_prompt(mut p: GetPromptResult) -> GetPromptResult {
    p.result_type.get_or_insert(ResultType::COMPLETE);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_required_entries_match_names_prefixes_and_everything() {
        assert!(tool_matches("write_file", "write_file"));
        assert!(!tool_matches("write_file", "write_files"));
        assert!(tool_matches("delete_*", "delete_dir"));
        assert!(!tool_matches("delete_*", "read_file"));
        assert!(tool_matches("*", "anything"));
    }

    #[test]
    fn forwarded_results_get_a_result_type_and_errors_lose_structured_content() {
        let mut legacy = CallToolResult::structured_error(serde_json::json!({"why": "x"}));
        legacy.result_type = None;
        legacy.content.clear();
        let shaped = shape_tool_result(legacy);
        assert_eq!(shaped.result_type, Some(ResultType::COMPLETE));
        assert!(shaped.structured_content.is_none());
        assert_eq!(shaped.content.len(), 1, "the error's JSON is kept as text");
        let mut ok = CallToolResult::structured(serde_json::json!({"v": 1}));
        ok.result_type = None;
        let shaped = shape_tool_result(ok);
        assert_eq!(shaped.structured_content, Some(serde_json::json!({"v": 1})));
        let mut p = GetPromptResult::new(vec![]);
        p.result_type = None;
        assert_eq!(shape_prompt(p).result_type, Some(ResultType::COMPLETE));
    }
}
