//! A server's tool and prompt lists: kept by its actor, re-listed (one
//! refresh at a time per list) when the server says they changed, and sent
//! to the pool when they did.

use std::sync::Arc;

use actix::prelude::*;
use rmcp::model::{Prompt, Tool};

use super::McpServer;
use crate::pool::events::{PromptListChanged, PromptsRefreshed, ToolListChanged, ToolsRefreshed};

/// A list refresh (`tools/list`, `prompts/list`): at most one in flight, and
/// a notification that arrives meanwhile asks for one more afterwards.
#[derive(Debug, Default)]
pub(super) struct Refresh {
    running: bool,
    again: bool,
}

impl Refresh {
    /// Whether to start a refresh now; if one is running, another is queued.
    fn begin(&mut self) -> bool {
        if self.running {
            self.again = true;
            false
        } else {
            self.running = true;
            true
        }
    }

    /// The running refresh ended; whether another one was asked for meanwhile.
    fn end(&mut self) -> bool {
        self.running = false;
        std::mem::take(&mut self.again)
    }
}

impl McpServer {
    /// Keep `tools` as the server's tool list; tell the pool if it changed
    /// (or is this actor's first: a server that replaced another on a
    /// reload reports even an empty list, so the old one's goes).
    pub(super) fn set_tools(&mut self, tools: Vec<Tool>) {
        if *self.tools == tools && self.tools_reported {
            return;
        }
        self.tools_reported = true;
        self.tools = Arc::new(tools);
        self.pool.do_send(ToolsRefreshed {
            server: self.spec.name.clone(),
            epoch: self.epoch,
            tools: self.tools.clone(),
        });
    }

    /// Keep `prompts` as the server's prompt list; tell the pool if it
    /// changed (or is this actor's first, as for tools).
    pub(super) fn set_prompts(&mut self, prompts: Vec<Prompt>) {
        if *self.prompts == prompts && self.prompts_reported {
            return;
        }
        self.prompts_reported = true;
        self.prompts = Arc::new(prompts);
        self.prompts_pool.do_send(PromptsRefreshed {
            server: self.spec.name.clone(),
            epoch: self.epoch,
            prompts: self.prompts.clone(),
        });
    }

    /// Re-list the tools (after `notifications/tools/list_changed`).
    fn refresh_tools(&mut self, ctx: &mut Context<Self>) {
        let Some(conn) = &self.conn else { return };
        if !self.tools_refresh.begin() {
            return;
        }
        let peer = conn.peer.clone();
        let generation = conn.generation;
        let timeout = self.spec.options.request_timeout();
        let fut = async move { tokio::time::timeout(timeout, peer.list_all_tools()).await }
            .into_actor(self)
            .map(move |result, act, ctx| {
                let again = act.tools_refresh.end();
                if act.conn.as_ref().map(|c| c.generation) != Some(generation) {
                    return;
                }
                match result {
                    Ok(Ok(tools)) => {
                        tracing::info!(server = %act.spec.name, tools = tools.len(), "tool list refreshed");
                        act.set_tools(tools);
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(server = %act.spec.name, error = %e, "tools/list failed");
                        act.record_error(format!("tools/list failed: {e}"));
                    }
                    Err(_) => {
                        tracing::warn!(server = %act.spec.name, "tools/list timed out");
                        act.record_error("tools/list timed out".into());
                    }
                }
                if again {
                    act.refresh_tools(ctx);
                }
            });
        ctx.spawn(fut);
    }

    /// Re-list the prompts (after `notifications/prompts/list_changed`);
    /// nothing for a connection without the `prompts` capability.
    fn refresh_prompts(&mut self, ctx: &mut Context<Self>) {
        let Some(conn) = &self.conn else { return };
        if !conn.has_prompts {
            tracing::debug!(server = %self.spec.name, "prompts/list_changed from a server without prompts; ignored");
            return;
        }
        if !self.prompts_refresh.begin() {
            return;
        }
        let peer = conn.peer.clone();
        let generation = conn.generation;
        let timeout = self.spec.options.request_timeout();
        let fut = async move { tokio::time::timeout(timeout, peer.list_all_prompts()).await }
            .into_actor(self)
            .map(move |result, act, ctx| {
                let again = act.prompts_refresh.end();
                if act.conn.as_ref().map(|c| c.generation) != Some(generation) {
                    return;
                }
                match result {
                    Ok(Ok(prompts)) => {
                        tracing::info!(server = %act.spec.name, prompts = prompts.len(), "prompt list refreshed");
                        act.set_prompts(prompts);
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(server = %act.spec.name, error = %e, "prompts/list failed");
                        act.record_error(format!("prompts/list failed: {e}"));
                    }
                    Err(_) => {
                        tracing::warn!(server = %act.spec.name, "prompts/list timed out");
                        act.record_error("prompts/list timed out".into());
                    }
                }
                if again {
                    act.refresh_prompts(ctx);
                }
            });
        ctx.spawn(fut);
    }
}

impl Handler<ToolListChanged> for McpServer {
    type Result = ();

    fn handle(&mut self, msg: ToolListChanged, ctx: &mut Context<Self>) {
        if self.conn.as_ref().map(|c| c.generation) == Some(msg.generation) {
            self.refresh_tools(ctx);
        }
    }
}

impl Handler<PromptListChanged> for McpServer {
    type Result = ();

    fn handle(&mut self, msg: PromptListChanged, ctx: &mut Context<Self>) {
        if self.conn.as_ref().map(|c| c.generation) == Some(msg.generation) {
            self.refresh_prompts(ctx);
        }
    }
}
