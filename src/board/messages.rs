//! Messages between workers, tasks and operators: send, read (a worker's
//! own inbox, marking what it was shown read), acknowledge, an operator's
//! view of any inbox or task thread, and the digest of unread messages a
//! Claude Code hook answer delivers ([`Board::unread_digest`]).
//!
//! The writes go to the mailbox actor ([`crate::actors::mailbox`]) and are
//! answered once durable; which tasks a worker holds (whose messages are in
//! its inbox) comes from the task registry's table. Reads of the mailbox's
//! memory pass a read barrier before they are shown.

use serde::{Deserialize, Serialize};

use super::rebuild::Rebuilt;
use super::{check_worker, Board};
use crate::actors::mailbox::{
    AckMessage, GetMessage, HasTaskMessages, ListMessages, Mailbox, ReadInbox, SendMessage,
    TakeDigest,
};
use crate::actors::registry::{TaskStates, TasksHeldBy};
use crate::core::mailbox::{Draft, MailboxTable, MessageError, Page, Query, Scope};
use crate::core::table::TaskError;
use crate::error::Error;
use crate::model::{rfc3339, Message, MessageTo, MessageView, Recipient, Role, TaskId};
use crate::store::{Store, StoreError, Ticket, MESSAGE_CEILING_META};

/// The header that names a connection's worker (lowercase, as `http`
/// matches it): the one [`crate::core::worker::WORKER_HEADER`].
pub const MESSAGE_WORKER_HEADER: &str = crate::core::worker::WORKER_HEADER;

/// The worker a message call acts as: the `X-Baton-Worker` header's, else
/// the argument's (`None`: neither names one; an empty value counts as
/// absent). Errors: `worker_mismatch` when both name different workers,
/// `invalid_field` on `worker` when the name is not a valid worker name.
///
/// The one resolver ([`crate::core::worker::resolve_worker`]) decides:
/// disagreeing names are `worker_mismatch`. Every message edge (REST, MCP,
/// CLI) resolves its worker here and nowhere else.
pub fn calling_worker(
    header: Option<&str>,
    argument: Option<&str>,
) -> Result<Option<String>, Error> {
    match crate::core::worker::resolve_worker(header, argument) {
        Ok(worker) => Ok(Some(worker)),
        Err(crate::core::worker::WorkerError::Missing) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What reading an inbox needs when no worker is named.
const NAME_A_WORKER: &str = "name your worker: send the X-Baton-Worker header (Claude Code: set \
     BATON_WORKER and \"X-Baton-Worker\": \"${BATON_WORKER}\" in .mcp.json) or pass `worker`";

/// A message to send.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// Who it is for: exactly one of {"worker": name}, {"task": id} (whoever holds it now or
    /// claims it later) or {"all": true}.
    pub to: MessageTo,
    /// One line: what it is about.
    pub subject: String,
    /// The message text (at most `[messages] max_body_bytes` bytes).
    #[serde(default)]
    pub body: String,
    /// Id of a message this one answers (it joins that thread).
    #[serde(default)]
    pub thread: Option<u64>,
    /// Ask the addressee to acknowledge it (ack_message).
    #[serde(default)]
    pub ack_required: bool,
    /// Your worker name, the sender (the X-Baton-Worker header wins); none: an operator.
    #[serde(default)]
    pub worker: Option<String>,
}

/// Which messages of the caller's inbox to read.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// Only messages not read yet.
    #[serde(default)]
    pub unread_only: bool,
    /// Only messages sent at or after this time (RFC 3339).
    #[serde(default)]
    pub since: Option<String>,
    /// Page size (default 50).
    #[serde(default)]
    pub limit: Option<usize>,
    /// next_cursor of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Your worker name (the X-Baton-Worker header wins).
    #[serde(default)]
    pub worker: Option<String>,
}

/// Which messages an operator lists: every message, one worker's inbox
/// (`inbox`), or one task's thread (`task`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    /// A worker's inbox: messages to it, to the tasks it holds now, to all.
    pub inbox: Option<String>,
    /// The messages to one task.
    pub task: Option<String>,
    /// Only messages not read by `inbox`'s worker.
    pub unread_only: bool,
    /// Only messages sent at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Page size (default 50).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of messages, oldest first.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema, schemars::JsonSchema,
)]
pub struct MessagePage {
    /// The messages on this page, oldest first.
    pub messages: Vec<MessageView>,
    /// Pass as cursor for the next page; null on the last.
    pub next_cursor: Option<String>,
}

impl From<Page> for MessagePage {
    fn from(p: Page) -> Self {
        MessagePage {
            messages: p.messages,
            next_cursor: p.next.map(|n| n.to_string()),
        }
    }
}

/// Which Claude Code hook asks for a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookTrigger {
    /// `UserPromptSubmit`: always answered.
    PromptSubmit,
    /// `PostToolUse`: at most once per `[messages] hook_every_secs` per worker.
    ToolUse,
}

/// Items per page when a read gives no `limit`.
const PAGE_SIZE: usize = 50;

impl Board {
    fn mailbox(&self) -> Result<&actix::Addr<Mailbox>, Error> {
        self.mailbox
            .as_ref()
            .ok_or(Error::Unavailable("the mailbox"))
    }

    /// The running tasks `worker` holds now.
    async fn held_by(&self, worker: &str) -> Result<Vec<TaskId>, Error> {
        Ok(self
            .registry
            .send(TasksHeldBy {
                worker: worker.to_owned(),
            })
            .await?)
    }

    /// Wait for `ticket` when a write was made, else pass a read barrier.
    async fn settle(&self, ticket: Option<Ticket>) -> Result<(), Error> {
        match ticket {
            Some(t) => self.store.wait_durable(t).await?,
            None => self.store.barrier().await?,
        }
        Ok(())
    }

    fn query(
        &self,
        unread_only: bool,
        since: Option<&str>,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<Query, Error> {
        let max = self.settings.api.max_page_size;
        let limit = limit.unwrap_or(PAGE_SIZE.min(max));
        if limit == 0 || limit > max {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {max}"),
            ));
        }
        let since = match since.filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(rfc3339::parse(s).ok_or_else(|| {
                Error::invalid("since", "must be an RFC 3339 time (2026-01-02T03:04:05Z)")
            })?),
        };
        let after = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(c.parse::<u64>().map_err(|_| {
                Error::invalid("cursor", "must be the next_cursor of a previous page")
            })?),
        };
        Ok(Query {
            unread_only,
            since,
            after,
            limit,
        })
    }

    /// Send a message as the calling worker (`header`: its `X-Baton-Worker`;
    /// `m.worker` the fallback) or, naming none, as an operator (the
    /// token's name, `operator` without auth). Durable before it returns.
    ///
    /// Errors: `forbidden` below `agent`; `invalid_field` for an addressee
    /// that is not exactly one of worker, task or all, a bad worker name,
    /// an empty subject or an unknown `thread`; `task_not_found` for a task
    /// that does not exist; `too_large` (413) for a subject or body over its
    /// `[messages]` limit; `too_many_unacked` (429) when the addressee has
    /// `[messages] max_unacked` unacknowledged `ack_required` messages.
    /// Nothing is stored when refused.
    pub async fn send_message(
        &self,
        header: Option<&str>,
        m: NewMessage,
    ) -> Result<Message, Error> {
        self.require(Role::Agent, "send a message")?;
        let worker = calling_worker(header, m.worker.as_deref())?;
        let to = Recipient::try_from(m.to).map_err(|e| Error::invalid("to", e))?;
        match &to {
            Recipient::Worker(w) => check_worker(w).map_err(|_| {
                Error::invalid(
                    "to.worker",
                    "must be 1 to 256 bytes (UTF-8) without control characters",
                )
            })?,
            Recipient::Task(t) => {
                let id = self.id(t.as_str())?;
                let states = self
                    .registry
                    .send(TaskStates {
                        ids: vec![id.clone()],
                    })
                    .await?;
                if states.first().is_none_or(Option::is_none) {
                    return Err(TaskError::NotFound(id).into());
                }
            }
            Recipient::All => {}
        }
        let from = worker
            .or_else(|| self.actor.name.clone())
            .unwrap_or_else(|| "operator".to_owned());
        let draft = Draft {
            from,
            actor: self.actor.name.clone(),
            to,
            subject: m.subject,
            body: m.body,
            thread: m.thread,
            ack_required: m.ack_required,
        };
        let (message, ticket) = self.mailbox()?.send(SendMessage { draft }).await??;
        self.store.wait_durable(ticket).await?;
        Ok(message)
    }

    /// Read the calling worker's inbox: messages to it, to the tasks it
    /// holds now, and to all, oldest first; what it is shown is marked read
    /// (durably, before this returns) and `read_at` shows what it had read
    /// before. Errors: `forbidden` below `agent`; `invalid_field` without a
    /// worker, or for a bad `since`, `limit` or `cursor`.
    pub async fn read_messages(
        &self,
        header: Option<&str>,
        r: ReadRequest,
    ) -> Result<MessagePage, Error> {
        self.require(Role::Agent, "read an inbox")?;
        let worker = calling_worker(header, r.worker.as_deref())?
            .ok_or_else(|| Error::invalid("worker", NAME_A_WORKER))?;
        let query = self.query(
            r.unread_only,
            r.since.as_deref(),
            r.limit,
            r.cursor.as_deref(),
        )?;
        let held = self.held_by(&worker).await?;
        let (page, ticket) = self
            .mailbox()?
            .send(ReadInbox {
                worker,
                held,
                query,
            })
            .await??;
        self.settle(ticket).await?;
        Ok(page.into())
    }

    /// The calling worker acknowledges message `id` (in its inbox, or read
    /// by it before); acknowledging again changes nothing. Errors:
    /// `forbidden` below `agent`; `invalid_field` without a worker;
    /// `message_not_found` for an unknown id or a message not in its inbox.
    pub async fn ack_message(
        &self,
        header: Option<&str>,
        argument: Option<&str>,
        id: u64,
    ) -> Result<MessageView, Error> {
        self.require(Role::Agent, "acknowledge a message")?;
        let worker = calling_worker(header, argument)?
            .ok_or_else(|| Error::invalid("worker", NAME_A_WORKER))?;
        let held = self.held_by(&worker).await?;
        let (view, ticket) = self
            .mailbox()?
            .send(AckMessage {
                worker,
                held,
                id,
                actor: self.actor.name.clone(),
            })
            .await??;
        self.settle(ticket).await?;
        Ok(view)
    }

    /// An operator's view (`viewer` and above): every message, one worker's
    /// inbox (`f.inbox`, with that worker's `read_at`) or one task's thread
    /// (`f.task`); nothing is marked read. Errors: `invalid_field` for both
    /// `inbox` and `task`, a bad worker name, `since`, `limit` or `cursor`;
    /// `unread_only` without `inbox`.
    pub async fn list_messages(&self, f: MessageFilter) -> Result<MessagePage, Error> {
        self.require(Role::Viewer, "read messages")?;
        let query = self.query(
            f.unread_only,
            f.since.as_deref(),
            f.limit,
            f.cursor.as_deref(),
        )?;
        let inbox = f.inbox.filter(|w| !w.is_empty());
        let task = f.task.filter(|t| !t.is_empty());
        let scope = match (inbox, task) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid("task", "give inbox or task, not both"))
            }
            (Some(worker), None) => {
                check_worker(&worker).map_err(|_| {
                    Error::invalid(
                        "inbox",
                        "must be a worker name (1 to 256 bytes, no control characters)",
                    )
                })?;
                Scope::Inbox {
                    worker,
                    held: Vec::new(),
                }
            }
            (None, Some(t)) => Scope::Task(self.id(&t)?),
            (None, None) => Scope::Everything,
        };
        if query.unread_only && !matches!(scope, Scope::Inbox { .. }) {
            return Err(Error::invalid(
                "unread_only",
                "applies to an inbox: give inbox=<worker>",
            ));
        }
        let mailbox = self.mailbox()?;
        let live_scope = scope.clone();
        let live_query = query.clone();
        let live = async move {
            let scope = match live_scope {
                Scope::Inbox { worker, .. } => {
                    let held = self.held_by(&worker).await?;
                    Scope::Inbox { worker, held }
                }
                other => other,
            };
            Ok(mailbox
                .send(ListMessages {
                    scope,
                    query: live_query,
                })
                .await?)
        };
        let page = self
            .mailbox_read(live, |table, rebuilt| {
                let scope = match scope {
                    Scope::Inbox { worker, .. } => {
                        let held = held_in(rebuilt, &worker);
                        Scope::Inbox { worker, held }
                    }
                    other => other,
                };
                table.list(&scope, &query)
            })
            .await?;
        Ok(page.into())
    }

    /// One message, as an operator sees it (`viewer` and above). Errors:
    /// `message_not_found`.
    pub async fn message(&self, id: u64) -> Result<MessageView, Error> {
        self.require(Role::Viewer, "read messages")?;
        let mailbox = self.mailbox()?;
        let live = async move { Ok(mailbox.send(GetMessage { id, reader: None }).await?) };
        let view = self
            .mailbox_read(live, |table, _| table.get(id).map(|m| table.view(m, None)))
            .await?;
        Ok(view.ok_or(MessageError::NotFound(id))?)
    }

    /// A read of the mailbox's memory: `live` while the store works, then
    /// the read barrier (what it saw is durable). Once the store has failed
    /// the mailbox may hold messages and receipts that never became durable,
    /// so `durable` answers instead from the messages and receipts read back
    /// from the store and the board rebuilt from it (what a restart would
    /// show; see [`Board::memory_read`]). Errors: the live read's, a failed
    /// barrier while the store works, or a failed read of the store.
    async fn mailbox_read<T>(
        &self,
        live: impl std::future::Future<Output = Result<T, Error>>,
        durable: impl FnOnce(&MailboxTable, &Rebuilt) -> T,
    ) -> Result<T, Error> {
        if !self.store.is_failed() {
            let value = live.await;
            let passed = self.store.barrier().await;
            if !self.store.is_failed() {
                passed?;
                return value;
            }
        }
        let rebuilt = self.rebuilt().await?;
        let store = self.store.clone();
        let table = tokio::task::spawn_blocking(move || stored_mailbox(&store))
            .await
            .map_err(|_| Error::Unavailable("the mailbox rebuild"))??;
        Ok(durable(&table, &rebuilt))
    }

    /// Whether any message is addressed to `task` (the notification
    /// forwarders tell a task's new holder its inbox changed). `false`
    /// without a mailbox.
    pub async fn task_has_messages(&self, task: &TaskId) -> bool {
        match self.mailbox() {
            Ok(m) => m
                .send(HasTaskMessages { task: task.clone() })
                .await
                .unwrap_or(false),
            Err(_) => false,
        }
    }

    /// The text a Claude Code hook answer puts into `worker`'s model
    /// (`hookSpecificOutput.additionalContext`): its unread messages, oldest
    /// first, at most `[messages] hook_max_bytes` bytes, marked read
    /// (durably) once taken; `None` when there is nothing unread, or (a
    /// `PostToolUse`, [`HookTrigger::ToolUse`]) when `worker` was answered a
    /// digest less than `[messages] hook_every_secs` ago. The hooks endpoint
    /// calls it for `UserPromptSubmit` and `PostToolUse`.
    ///
    /// Errors: `invalid_field` for a bad worker name; `unavailable` when
    /// the store failed.
    pub async fn unread_digest(
        &self,
        worker: &str,
        trigger: HookTrigger,
    ) -> Result<Option<String>, Error> {
        check_worker(worker)?;
        let max = self.settings.messages.hook_max_bytes;
        let head = |n: usize| {
            format!(
                "baton: {n} new message{} for worker `{worker}` on the task board (oldest first). \
                 Acknowledge those that ask for it with ack_message {{\"id\": <id>}}; answer with \
                 send_message and \"thread\": <id>; read_messages shows them whole.\n",
                if n == 1 { "" } else { "s" }
            )
        };
        let budget = max.saturating_sub(head(100).len() + 120);
        let held = self.held_by(worker).await?;
        let (digest, ticket) = self
            .mailbox()?
            .send(TakeDigest {
                worker: worker.to_owned(),
                held,
                rate_limited: trigger == HookTrigger::ToolUse,
                max_bytes: budget,
            })
            .await??;
        self.settle(ticket).await?;
        Ok(digest.map(|d| {
            let mut text = head(d.entries.len());
            for e in &d.entries {
                text.push_str(e);
            }
            if d.left > 0 {
                text.push_str(&format!(
                    "({} more unread: read_messages {{\"unread_only\": true}})\n",
                    d.left
                ));
            }
            crate::core::text::clip(text, max)
        }))
    }
}

/// The running tasks `worker` holds in the board rebuilt from the store.
fn held_in(rebuilt: &Rebuilt, worker: &str) -> Vec<TaskId> {
    rebuilt
        .table
        .running()
        .filter(|t| t.lease.as_ref().is_some_and(|l| l.worker == worker))
        .map(|t| t.id.clone())
        .collect()
}

/// Every stored message and receipt as a [`MailboxTable`] (blocking: reads
/// them all). Errors: a failed read or a record that does not decode.
fn stored_mailbox(store: &Store) -> Result<MailboxTable, StoreError> {
    let mut table = MailboxTable::new(store.meta(MESSAGE_CEILING_META)?);
    for m in store.load_messages()? {
        table.restore(m);
    }
    for r in store.load_receipts()? {
        table.restore_receipt(r);
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_the_worker_and_a_disagreeing_argument_is_refused() {
        assert_eq!(
            calling_worker(Some("a"), None).unwrap().as_deref(),
            Some("a")
        );
        assert_eq!(
            calling_worker(None, Some("b")).unwrap().as_deref(),
            Some("b")
        );
        assert_eq!(
            calling_worker(Some("a"), Some("a")).unwrap().as_deref(),
            Some("a")
        );
        assert_eq!(calling_worker(Some(" "), Some("")).unwrap(), None);
        let e = calling_worker(Some("a"), Some("b")).unwrap_err();
        assert_eq!(e.field().as_deref(), Some("worker"));
        assert!(
            e.to_string().contains("'a'") && e.to_string().contains("'b'"),
            "{e}"
        );
        assert!(calling_worker(None, Some("bad\nname")).is_err());
    }
}
