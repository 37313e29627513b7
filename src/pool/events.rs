//! The events the pool's parts send up to each other, defined below all of
//! them so every import points one way: a connection's client handler
//! (`client.rs`) tells its [`McpServer`](super::McpServer) that the server's
//! tool or prompt list changed, and a server tells the
//! [`McpPool`](super::McpPool) its new lists. Each is sent with `do_send`;
//! the receiving actor's file handles it.

use std::sync::Arc;

use actix::Message;
use rmcp::model::{Prompt, Tool};

/// The server sent `notifications/tools/list_changed` (from the connection's client handler).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct ToolListChanged {
    /// Connection it came from.
    pub(crate) generation: u64,
}

/// The server sent `notifications/prompts/list_changed` (from the connection's client handler).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct PromptListChanged {
    /// Connection it came from.
    pub(crate) generation: u64,
}

/// A server's tool list changed (also sent for each server actor's first
/// list, even an empty one).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct ToolsRefreshed {
    /// Server.
    pub(crate) server: String,
    /// Which actor of that server sent it (a reload that changes a server
    /// starts a new one; the pool ignores the old one's lists).
    pub(crate) epoch: u64,
    /// Its tools, with their own names.
    pub(crate) tools: Arc<Vec<Tool>>,
}

/// A server's prompt list changed (also sent for each server actor's first
/// list, even an empty one).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct PromptsRefreshed {
    /// Server.
    pub(crate) server: String,
    /// Which actor of that server sent it (see [`ToolsRefreshed::epoch`]).
    pub(crate) epoch: u64,
    /// Its prompts, with their own names.
    pub(crate) prompts: Arc<Vec<Prompt>>,
}
