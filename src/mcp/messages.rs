//! Message tools — `send_message`, `read_messages`, `ack_message` — each a
//! thin wrapper over one [`crate::board::Board`] message method, in a tool
//! router of their own (merged with baton's other tools in
//! [`super::server`]). They are in the `full` profile only: an agent does
//! not need them on every task, and Claude Code agents get their unread
//! messages through the hooks endpoint without a tool call.
//!
//! The calling worker is the connection's `X-Baton-Worker` header, else the
//! `worker` argument ([`crate::board::calling_worker`]).

// rmcp's tool-error type is `CallToolResult` itself; returning it by value is the API.
#![allow(clippy::result_large_err)]

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{tool, tool_router, RoleServer};
use serde::{Deserialize, Serialize};

use super::budget::{cost, Fit, OVERHEAD};
use super::BatonMcp;
use crate::board::{MessagePage, NewMessage, ReadRequest, MESSAGE_WORKER_HEADER};
use crate::model::{Message, MessageView};

/// Arguments of `ack_message`.
#[derive(Debug, Deserialize, rmcp::schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AckArgs {
    /// The message id.
    pub id: u64,
    /// Your worker name (the X-Baton-Worker header wins).
    #[serde(default)]
    pub worker: Option<String>,
}

/// A message as sent.
#[derive(Debug, Serialize, rmcp::schemars::JsonSchema)]
pub(super) struct SentOut {
    /// The message as stored.
    pub message: Message,
}

/// A message after an acknowledgement.
#[derive(Debug, Serialize, rmcp::schemars::JsonSchema)]
pub(super) struct AckOut {
    /// The message, with every acknowledgement.
    pub message: MessageView,
}

impl Fit for MessagePage {
    /// End the page early (`next_cursor` after the last message kept) while
    /// it is over the budget; one message alone keeps its body cut.
    fn fit(&mut self, max: usize) {
        let budget = max.saturating_sub(OVERHEAD);
        let mut used = 0;
        let mut keep = self.messages.len();
        for (i, m) in self.messages.iter().enumerate() {
            used += cost(m);
            if used > budget {
                keep = i;
                break;
            }
        }
        if keep < self.messages.len() {
            let keep = keep.max(1);
            self.messages.truncate(keep);
            self.next_cursor = self.messages.last().map(|m| m.message.id.to_string());
            if let Some(only) = self.messages.first_mut().filter(|_| keep == 1) {
                let room = budget / 2;
                only.message.body =
                    crate::core::text::clip(std::mem::take(&mut only.message.body), room);
            }
        }
    }
}

impl Fit for SentOut {
    fn fit(&mut self, _: usize) {} // bounded by [messages] max_body_bytes
}

impl Fit for AckOut {
    fn fit(&mut self, _: usize) {}
}

/// The connection's `X-Baton-Worker` header, when it sent one (MCP over
/// HTTP; the stdio transport has no headers).
fn header_worker(context: &RequestContext<RoleServer>) -> Option<String> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.headers.get(MESSAGE_WORKER_HEADER))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[tool_router(router = message_tools, vis = "pub(super)")]
impl BatonMcp {
    /// Send a message to a worker ({"worker": name}), to whoever holds a task now or claims it
    /// later ({"task": id}) or to all ({"all": true}). Set thread to answer a message.
    #[tool(annotations(
        title = "Send message",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn send_message(
        &self,
        Parameters(a): Parameters<NewMessage>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<SentOut>, CallToolResult> {
        let header = header_worker(&context);
        self.done(
            self.board
                .send_message(header.as_deref(), a)
                .await
                .map(|message| SentOut { message }),
        )
    }

    /// Read your inbox: messages to you, to the tasks you hold and to all, oldest first; they are
    /// marked read. Acknowledge those with ack_required (ack_message).
    #[tool(annotations(
        title = "Read messages",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn read_messages(
        &self,
        Parameters(a): Parameters<ReadRequest>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<MessagePage>, CallToolResult> {
        let header = header_worker(&context);
        self.done(self.board.read_messages(header.as_deref(), a).await)
    }

    /// Acknowledge a message in your inbox (one that asks for it: ack_required). Acknowledging
    /// twice changes nothing.
    #[tool(annotations(
        title = "Acknowledge message",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn ack_message(
        &self,
        Parameters(a): Parameters<AckArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<AckOut>, CallToolResult> {
        let header = header_worker(&context);
        self.done(
            self.board
                .ack_message(header.as_deref(), a.worker.as_deref(), a.id)
                .await
                .map(|message| AckOut { message }),
        )
    }
}
