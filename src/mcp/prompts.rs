//! Prompts: `work_next_task` (claim → work → heartbeat → complete),
//! `task_summary`, `system_health`, plus every downstream server's prompts
//! through the gateway ([`super::gateway`]).

use rmcp::model::{
    GetPromptRequestParams, GetPromptResponse, GetPromptResult, Prompt, PromptArgument,
    PromptMessage, Role,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};

use super::errors::not_found;
use super::BatonMcp;

impl BatonMcp {
    /// `prompts/list`: baton's prompts and the gateway's. Starts the
    /// session's list-changed forwarder.
    pub(super) fn visible_prompts(&self, context: &RequestContext<RoleServer>) -> Vec<Prompt> {
        #[allow(unused_mut)]
        let mut prompts = vec![
            Prompt::new(
                "work_next_task",
                Some("Guides an agent through claim → work → heartbeat → complete on this board"),
                Some(vec![
                    PromptArgument::new("worker")
                        .with_description("Your worker name")
                        .with_required(true),
                    PromptArgument::new("tags")
                        .with_description("Comma-separated tags you can handle")
                        .with_required(false),
                ]),
            ),
            Prompt::new(
                "task_summary",
                Some("Summarizes one task: status, dependencies, output or error, audit trail"),
                Some(vec![PromptArgument::new("task_id")
                    .with_description("Task id")
                    .with_required(true)]),
            ),
            Prompt::new::<_, &str>(
                "system_health",
                Some("Summarizes the board: counts per status, busy slots, recent throughput"),
                None,
            ),
        ];
        #[cfg(feature = "conformance-fixtures")]
        prompts.extend(super::fixtures::prompts());
        if let Some(pool) = self.board.pool() {
            prompts.extend(pool.prompts().into_iter().map(|p| p.definition));
            self.start_list_forwarding(context.peer.clone());
        }
        prompts
    }

    /// `prompts/get`: a gateway prompt from its server, or one of baton's,
    /// filled in from the board.
    pub(super) async fn prompt(
        &self,
        request: GetPromptRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        if self.is_gateway_prompt(&request.name) {
            return self.get_gateway_prompt(request, context).await;
        }
        let args = &request.arguments;
        #[cfg(feature = "conformance-fixtures")]
        if let Some(r) = super::fixtures::prompt(&request.name, args) {
            return Ok(r.into());
        }
        let text = match request.name.as_str() {
            "work_next_task" => {
                let worker = prompt_arg(args, "worker").ok_or_else(|| {
                    McpError::invalid_params("argument 'worker' is required", None)
                })?;
                let tags = prompt_arg(args, "tags").unwrap_or_default();
                format!(
                    "You are worker '{worker}' on the baton task board.\n\
                     1. Call claim_next_task with worker=\"{worker}\"{tags_hint}. If claimed is false, nothing is ready: wait and retry later.\n\
                     2. Read the task's title, description and payload. Keep the lease_id from the claim.\n\
                     3. While working, call heartbeat with the task_id and lease_id well before lease.expires_at, and record progress with context_set.\n\
                     4. When finished, call complete_task with the output; if you cannot finish, call fail_task with the error (it is retried while attempts remain) or release_task to hand it back.\n\
                     5. A stale_lease error means your lease lapsed and the task may have been given to someone else: stop working on it.\n\
                     Then repeat from step 1.",
                    tags_hint = if tags.is_empty() { String::new() } else { format!(" and tags=[{tags}]") }
                )
            }
            "task_summary" => {
                let id = prompt_arg(args, "task_id").ok_or_else(|| {
                    McpError::invalid_params("argument 'task_id' is required", None)
                })?;
                let (task, dependents) = self
                    .board
                    .task_detail(&id)
                    .await
                    .map_err(|e| not_found(&e))?;
                let events = self
                    .board
                    .task_events(&id)
                    .await
                    .map_err(|e| not_found(&e))?;
                format!(
                    "Summarize this task for a teammate in a few sentences: what it is, where it stands, \
                     what it produced or why it failed, and what it blocks.\n\nTask: {}\nDependents: {:?}\nAudit log: {}",
                    serde_json::to_string_pretty(&task).unwrap_or_default(),
                    dependents.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
                    serde_json::to_string(&events).unwrap_or_default()
                )
            }
            "system_health" => {
                let stats = self
                    .board
                    .stats()
                    .await
                    .map_err(|e| McpError::internal_error(e.to_string(), None))?;
                format!(
                    "Assess the health of this task board: is work flowing, are slots saturated, are tasks \
                     failing or stuck? Suggest one action if needed.\n\nStats: {}",
                    serde_json::to_string_pretty(&stats).unwrap_or_default()
                )
            }
            other => {
                return Err(McpError::invalid_params(
                    format!("no prompt named '{other}'"),
                    None,
                ))
            }
        };
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).into())
    }
}

/// A prompt argument given as a string.
fn prompt_arg(
    args: &Option<serde_json::Map<String, serde_json::Value>>,
    name: &str,
) -> Option<String> {
    args.as_ref()?
        .get(name)
        .and_then(|v| v.as_str().map(str::to_owned))
}
