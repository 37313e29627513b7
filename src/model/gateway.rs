//! [`GatewayName`]: a gateway name handed out to baton's MCP clients, and
//! what it stands for, as the store keeps it (so that a name keeps its
//! meaning across restarts: see [`crate::core::names`]).

use serde::{Deserialize, Serialize};

/// Which gateway catalog a name belongs to; a tool and a prompt may share a
/// name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayKind {
    /// A downstream tool (`tools/list`, `tools/call`).
    Tool,
    /// A downstream prompt (`prompts/list`, `prompts/get`).
    Prompt,
}

impl GatewayKind {
    /// The kind's snake_case name (`tool`, `prompt`), as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayKind::Tool => "tool",
            GatewayKind::Prompt => "prompt",
        }
    }
}

/// A gateway name handed out: `name` reaches `server`'s `target` (the
/// server's own name for the tool or prompt). Kept while the server is in
/// the server file, also while the tool is away.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayName {
    /// Tool or prompt.
    pub kind: GatewayKind,
    /// The gateway name (`[A-Za-z0-9_-]{1,64}`).
    pub name: String,
    /// The downstream server's name.
    pub server: String,
    /// The server's own name for the tool or prompt.
    pub target: String,
}
