//! Which role each MCP tool needs, and who is calling.
//!
//! The HTTP guard lets a viewer (or better) reach `/mcp` at all and puts the
//! authenticated [`Caller`] into each request's extensions; here every
//! `tools/list` shows a caller only the tools its role may use, and every
//! `tools/call` checks the tool's role before anything else. Calls then act
//! on the board as that caller (audit log, lease owners).

use rmcp::service::RequestContext;
use rmcp::RoleServer;

use crate::auth::{Caller, Credential};
use crate::model::{Principal, Role};

/// The least role that may call `tool` (`name` as listed by baton;
/// gateway tools `<server>__<tool>` need `agent`).
pub fn tool_role(tool: &str) -> Role {
    match tool {
        "get_task"
        | "list_tasks"
        | "get_available_tasks"
        | "get_task_result"
        | "get_workers"
        | "list_servers"
        | "server_status"
        | "context_get"
        | "context_list"
        | "list_reservations"
        | "check_paths" => Role::Viewer,
        "cancel_task" => Role::Admin,
        // every other board tool works tasks; gateway tools call downstream servers
        _ => Role::Agent,
    }
}

/// The caller of an MCP request: set by baton's guard; a service mounted
/// without it (in-process stdio) acts as the local admin.
pub fn caller_of(context: &RequestContext<RoleServer>) -> Caller {
    super::front::request_value::<Caller>(context)
        .cloned()
        .unwrap_or(Caller {
            actor: Principal::local(),
            credential: Credential::None,
        })
}
