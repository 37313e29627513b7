//! The edges clients talk to: `[api]` (REST), `[mcp]` (the MCP endpoint
//! and its tool profiles) and `[dashboard]`.

use serde::{Deserialize, Serialize};

/// `[api]`: the REST edge's page sizes, body bound and SSE pacing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// Page size when `limit` is not given.
    pub default_page_size: usize,
    /// Largest `limit` a listing accepts (a larger one is refused).
    pub max_page_size: usize,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Events replayed per SSE catch-up read.
    pub sse_replay_batch: usize,
    /// Seconds between SSE keep-alive comments.
    pub sse_keepalive_secs: u64,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            default_page_size: 100,
            max_page_size: 1_000,
            max_body_bytes: 16 * 1024 * 1024,
            sse_replay_batch: 500,
            sse_keepalive_secs: 15,
        }
    }
}

/// `[mcp]`: the MCP endpoint at `/mcp`, its default tool profile, task handles and
/// result budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpSettings {
    /// Serve MCP (streamable HTTP) at `/mcp`.
    pub enabled: bool,
    /// Deprecated alias of `[server] allowed_hosts` (which now guards every route).
    /// Accepted with a warning when `[server] allowed_hosts` is left at its default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_hosts: Option<Vec<String>>,
    /// Deprecated alias of `[server] allowed_origins`, as above.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    /// Tools a connection sees unless it asks otherwise with `/mcp?profile=core|full`.
    pub profile: ToolProfile,
    /// How long a task handle (MCP tasks extension) is kept after its creation, in seconds.
    pub task_handle_ttl_secs: u64,
    /// Largest MCP tool result, in bytes of its JSON (the `structuredContent`
    /// and its text copy together). Listing tools end a page early to stay
    /// under it (`next_cursor` continues); a value too large for it is
    /// replaced by a note saying where to read it whole (REST or a resource).
    pub max_result_bytes: usize,
}

/// Which MCP tools a connection sees. Agents pay for tool definitions in
/// their context window: `core` is what an agent needs to work a board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolProfile {
    /// add_task, get_task, list_tasks, claim_next_task, heartbeat, complete_task, fail_task, context_set.
    Core,
    /// Every tool baton has (the default).
    Full,
}

impl ToolProfile {
    /// The tools of the core profile.
    pub const CORE_TOOLS: [&'static str; 8] = [
        "add_task",
        "get_task",
        "list_tasks",
        "claim_next_task",
        "heartbeat",
        "complete_task",
        "fail_task",
        "context_set",
    ];

    /// Whether a tool belongs to this profile.
    pub fn allows(self, tool: &str) -> bool {
        match self {
            ToolProfile::Full => true,
            ToolProfile::Core => Self::CORE_TOOLS.contains(&tool),
        }
    }

    /// The `profile=` parameter of a query string, if valid.
    pub fn from_query(query: &str) -> Option<Self> {
        query.split('&').find_map(|kv| match kv.split_once('=') {
            Some(("profile", "core")) => Some(ToolProfile::Core),
            Some(("profile", "full")) => Some(ToolProfile::Full),
            _ => None,
        })
    }

    /// The profile's lowercase name as config and `?profile=` spell it: `core` or
    /// `full`.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolProfile::Core => "core",
            ToolProfile::Full => "full",
        }
    }
}

impl Default for McpSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed_hosts: None,
            allowed_origins: None,
            profile: ToolProfile::Full,
            task_handle_ttl_secs: 3600,
            max_result_bytes: 65536,
        }
    }
}

/// `[dashboard]`: the web dashboard's view limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardSettings {
    /// Most tasks the graph view lays out at once. A larger board shows the
    /// selected task's ancestors and descendants, or the ready/running
    /// frontier, with a message instead.
    pub graph_max_nodes: usize,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        Self {
            graph_max_nodes: 500,
        }
    }
}
