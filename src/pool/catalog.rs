//! The gateway catalogs: the downstream tools and prompts as baton offers
//! them (`<server>__<name>`), the tables the pool rebuilds after every list
//! change, and the announcements of those changes.

use std::collections::BTreeMap;

use rmcp::model::{Prompt, Tool};
use serde::Serialize;

use crate::core::names::NameTable;

/// A downstream tool as the gateway offers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatewayTool {
    /// Gateway name, `<server>__<tool>` (see [`crate::core::names`]).
    pub name: String,
    /// The downstream server's configured name (its key in `mcpServers`).
    pub server: String,
    /// The server's own name for the tool.
    pub tool: String,
    /// `annotations.idempotentHint == true`: transport failures are retried.
    pub idempotent: bool,
    /// The server's definition, renamed to the gateway name.
    pub definition: Tool,
}

/// Sent on [`PoolHandle::subscribe_changes`](super::PoolHandle::subscribe_changes) whenever the gateway tool list
/// changed because `server`'s list changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolsChanged {
    /// Server whose tools changed.
    pub server: String,
}

/// A downstream prompt as the gateway offers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatewayPrompt {
    /// Gateway name, `<server>__<prompt>` (same rules as tools, see
    /// [`crate::core::names`], in a table of its own).
    pub name: String,
    /// The downstream server's configured name (its key in `mcpServers`).
    pub server: String,
    /// The server's own name for the prompt.
    pub prompt: String,
    /// The server's definition, renamed to the gateway name.
    pub definition: Prompt,
}

/// Sent on [`PoolHandle::subscribe_prompt_changes`](super::PoolHandle::subscribe_prompt_changes) whenever the gateway
/// prompt list changed because `server`'s list changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptsChanged {
    /// Server whose prompts changed.
    pub server: String,
}

/// The gateway tool list (written by the pool after every change).
#[derive(Debug, Default)]
pub(super) struct Catalog {
    pub(super) table: NameTable,
    pub(super) tools: BTreeMap<String, GatewayTool>,
}

impl Catalog {
    /// Whether `server`'s `tool` is in the catalog and marked idempotent.
    pub(super) fn idempotent(&self, server: &str, tool: &str) -> bool {
        self.table
            .name_of(server, tool)
            .and_then(|n| self.tools.get(n))
            .is_some_and(|t| t.idempotent)
    }
}

/// The gateway prompt list (written by the pool after every change); its
/// names are independent of the tools'.
#[derive(Debug, Default)]
pub(super) struct PromptCatalog {
    pub(super) table: NameTable,
    pub(super) prompts: BTreeMap<String, GatewayPrompt>,
}
