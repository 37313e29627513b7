//! The MCP edge (streamable HTTP at `/mcp` via `rmcp` + `rmcp-actix-web`,
//! and `baton mcp-stdio`) — the next milestone.
//!
//! The plan, so the pieces already built fit it: every tool is a thin
//! wrapper over one [`crate::Board`] method (one actor message), errors map
//! from [`crate::Error::code`] in one place, and resource-updated
//! notifications come from the same durable event stream the REST SSE
//! endpoint uses ([`crate::store::Store::subscribe`]).
