//! The MCP edge: streamable HTTP at `/mcp` (rmcp, behind the HTTP [`front`]), mounted
//! by the same [`crate::Runtime::configure`] embedders use.
//!
//! Every tool is a thin wrapper over one [`crate::Board`] method (one actor
//! message); errors map from [`crate::Error::code`] in one place
//! (`errors`). [`stdio`] serves stdio-only clients, bridged to
//! a running server or in-process. Clients of the MCP tasks extension
//! (SEP-2663) get durable task handles from `wait_for_task`
//! ([`crate::model::Operation`], kept by the task registry). The
//! `conformance-fixtures` cargo feature adds the conformance suite's test
//! tools, resources and prompts (a test-only build).

//!
//! Where things are: [`front`] (the HTTP front: batches, parse errors, session
//! ends), [`server`] (the session state and the request router),
//! `tools` (`tools/list` and `tools/call`, baton's tools), `subtasks` (the
//! `add_subtasks` tool, its own router), [`dto`] (their
//! argument and result types), `gateway` (downstream tools and prompts),
//! `handles` (MCP task handles), `reservations` (the path reservation tools), `resources`,
//! `prompts`, `notify` (notification forwarders), `listen` (`subscriptions/listen` streams),
//! `messages` (the message tools), `errors` (baton errors as MCP errors), `schema`
//! (the one JSON Schema policy for every tool definition), `lean` (what
//! baton's own definitions leave out, and what that saves), `arguments`
//! (unknown arguments refused, with the nearest valid name).

pub mod access;
mod arguments;
mod budget;
pub mod dto;
mod errors;
#[cfg(feature = "conformance-fixtures")]
mod fixtures;
pub mod front;
mod gateway;
mod handles;
mod lean;
mod listen;
mod messages;
mod notify;
mod prompts;
mod reservations;
mod resources;
mod schema;
pub mod server;
pub mod stdio;
mod subtasks;
mod tools;

pub use front::McpService;
pub use server::BatonMcp;

use crate::board::Board;
use crate::config::McpSettings;

/// Build the `/mcp` service for `board` (see [`McpService::new`]).
pub fn service(board: Board, settings: &McpSettings) -> McpService {
    McpService::new(board, settings)
}
