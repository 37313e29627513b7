//! `BatonMcp`: the MCP server — its per-session state and the
//! [`ServerHandler`] that routes each MCP request to the module that answers
//! it. There is no business logic here, nor in those modules: every tool is a
//! thin wrapper over one [`Board`] method (one actor message).
//!
//! | request | answered in |
//! |---|---|
//! | `tools/list`, `tools/call` | `tools.rs` (`visible_tools`, `dispatch_tool`) |
//! | downstream tools and prompts | `gateway.rs` |
//! | `tasks/get`, `tasks/update`, `tasks/cancel` | `handles.rs` |
//! | `resources/*` | `resources.rs` |
//! | `subscriptions/listen` (2026-07-28) | `listen.rs` |
//! | `send_message`, `read_messages`, `ack_message` | `messages.rs` |
//! | `prompts/*` | `prompts.rs` |
//! | notifications to the client | `notify.rs` |
//!
//! Results carry `structuredContent` (with a text copy) and an
//! `outputSchema` ([`super::dto`]); bad arguments and refused operations come
//! back as tool errors (`isError: true`) whose text says what to fix
//! (`errors.rs`).

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, GetPromptRequestParams,
    GetPromptResponse, GetTaskParams, GetTaskResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
    SubscribeRequestParams, SubscriptionFilter, Tool, UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};

use crate::board::Board;
use crate::config::ToolProfile;

/// The MCP server over a board.
#[derive(Clone)]
pub struct BatonMcp {
    pub(super) board: Board,
    pub(super) tool_router: ToolRouter<BatonMcp>,
    /// Resource URIs this session subscribed to.
    pub(super) subscriptions: Arc<Mutex<HashSet<String>>>,
    /// Whether this session's notification forwarder runs.
    pub(super) forwarding: Arc<AtomicBool>,
    /// Whether this session's tool-list-changed forwarder runs.
    pub(super) list_forwarding: Arc<AtomicBool>,
    /// Tools shown unless the request picks a profile (`?profile=`).
    pub(super) profile: ToolProfile,
    /// Dropped with the session's last handler clone: its receivers (the
    /// session's forwarders) then see `changed()` fail and end.
    pub(super) session: Arc<tokio::sync::watch::Sender<()>>,
}

impl std::fmt::Debug for BatonMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatonMcp").finish_non_exhaustive()
    }
}

impl BatonMcp {
    /// A server over `board`.
    pub fn new(board: Board) -> Self {
        Self {
            board,
            tool_router: Self::router(),
            subscriptions: Arc::default(),
            forwarding: Arc::default(),
            list_forwarding: Arc::default(),
            profile: ToolProfile::Full,
            session: Arc::new(tokio::sync::watch::channel(()).0),
        }
    }

    /// The tool router with the schema policy ([`super::schema`]) and the
    /// lean steps ([`super::lean`]) applied to every tool's definition (computed once per process; each session gets a
    /// copy of the definitions, which share their schemas).
    fn router() -> ToolRouter<BatonMcp> {
        static DEFINITIONS: OnceLock<Vec<Tool>> = OnceLock::new();
        let all = || {
            Self::tool_router()
                + Self::subtask_router()
                + Self::reservation_router()
                + Self::message_tools()
        };
        let mut router = all();
        let definitions = DEFINITIONS.get_or_init(|| {
            let mut tools = all().list_all();
            for tool in &mut tools {
                super::schema::apply(tool);
                super::schema::close_arguments(tool);
                super::lean::lean(tool);
                super::subtasks::terse(tool);
            }
            tools
        });
        for tool in definitions {
            if let Some(route) = router.map.get_mut(tool.name.as_ref()) {
                route.attr = tool.clone();
            }
        }
        router
    }

    /// The same server acting on the board as `principal`, for the worker
    /// the connection names (`X-Baton-Worker`), for one tool call.
    pub fn acting_as(&self, principal: crate::model::Principal, worker: Option<String>) -> Self {
        Self {
            board: self.board.acting_as(principal).for_worker(worker),
            ..self.clone()
        }
    }

    /// Builder: the default tool profile.
    pub fn with_profile(mut self, profile: ToolProfile) -> Self {
        self.profile = profile;
        self
    }

    /// The tool profile of the connection `context` belongs to.
    pub(super) fn profile_of(&self, context: &RequestContext<RoleServer>) -> ToolProfile {
        // set per request by the HTTP front (`?profile=`, see `mcp::front`)
        super::front::request_value::<ToolProfile>(context)
            .copied()
            .unwrap_or(self.profile)
    }
}

impl ServerHandler for BatonMcp {
    #[allow(deprecated)] // the logging capability, for 2025-era clients (SEP-2577)
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_logging()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_prompts()
                .enable_prompts_list_changed()
                .enable_tasks()
                .build(),
        )
        .with_server_info(Implementation::new("baton", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "baton is a shared task board. To work: claim_next_task with your worker name, \
                 heartbeat the lease while working, write notes with context_set, then \
                 complete_task (or fail_task). Always pass the lease_id from your claim.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(
            self.visible_tools(&context),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        self.dispatch_tool(request, context).await
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tool_router.get(name).cloned()
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        Ok(GetTaskResult::new(
            self.poll_handle(&request.task_id).await?,
        ))
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.answer_handle(&request.task_id).await
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.cancel_handle(&request.task_id).await
    }

    // Logging is deprecated (SEP-2577) but 2025-06-18/2025-11-25 clients still call it.
    #[allow(deprecated)]
    async fn set_level(
        &self,
        request: rmcp::model::SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        // baton sends no log notifications yet; the level is accepted and recorded in the log.
        tracing::debug!(level = ?request.level, "client set its MCP log level");
        Ok(())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(self.resources()))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(
            self.resource_templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        self.read(&request.uri).await
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.subscribe_to(&request.uri, context.peer.clone()).await
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(self.listen_filter(requested))
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        self.run_listen(context).await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.unsubscribe_from(&request.uri);
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(
            self.visible_prompts(&context),
        ))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        self.prompt(request, &context).await
    }
}
