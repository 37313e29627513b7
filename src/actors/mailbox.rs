//! `Mailbox`: owns the messages between workers, tasks and operators.
//!
//! State: a [`MailboxTable`] (every message and receipt, the unacknowledged
//! `ack_required` messages by addressee) rebuilt from the store's `n/` and
//! `y/` key spaces at start-up, the id ceiling (`m/message_ceiling`), and
//! when each worker was last answered a rate-limited hook digest (in
//! memory only: after a restart the first `PostToolUse` may deliver at once).
//! Every change — a message sent ([`SendMessage`]), messages marked read
//! ([`ReadInbox`], [`TakeDigest`]), an acknowledgement ([`AckMessage`]),
//! messages removed by retention — is one [`WriteBatch`] with its audit
//! event (`message_sent`, `message_acked`, which SSE and the MCP
//! notification forwarders carry), and the reply carries its [`Ticket`]:
//! the caller answers only once that is durable.
//!
//! Messages: [`SendMessage`], [`ReadInbox`], [`AckMessage`], [`TakeDigest`]
//! (writes); [`ListMessages`], [`GetMessage`], [`HasTaskMessages`] (reads,
//! from memory: the caller passes a read barrier before showing them). The
//! caller asks the [`TaskRegistry`] which tasks a worker holds and passes
//! them in (`held`); the retention timer (every `retention.interval_ms`)
//! asks it which tasks are still live before it removes messages older
//! than `retention.keep_events_secs` ([`MailboxTable::prune`]).
//!
//! On PostgreSQL only the leader runs actors, so only the leader writes
//! messages; a new leader rebuilds the mailbox from the database.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::actors::registry::{TaskRegistry, TaskStates};
use crate::clock::Clock;
use crate::config::Settings;
use crate::core::mailbox::{Draft, Limits, MailboxTable, Page, Query, Scope};
use crate::error::Error;
use crate::model::{
    Event, EventKind, Message, MessageView, Millis, Receipt, Recipient, TaskId, TaskStatus,
};
use crate::store::{Store, StoreError, Ticket, WriteBatch, MESSAGE_CEILING_META};

/// The mailbox actor.
pub struct Mailbox {
    table: MailboxTable,
    store: Store,
    registry: Addr<TaskRegistry>,
    settings: Arc<Settings>,
    clock: Clock,
    /// When each worker was last answered a rate-limited digest (ms).
    last_digest: HashMap<String, Millis>,
    /// Stored receipts of messages no longer stored, removed by the next write.
    stale: Vec<Receipt>,
    /// A write failed: memory may be ahead of the store, so every later
    /// change is refused.
    poisoned: bool,
}

impl Mailbox {
    /// A mailbox over `messages` and `receipts` as stored, whose ids continue
    /// above `ceiling` (`m/message_ceiling`).
    pub fn new(
        ceiling: u64,
        messages: Vec<Message>,
        receipts: Vec<Receipt>,
        store: Store,
        registry: Addr<TaskRegistry>,
        settings: Arc<Settings>,
        clock: Clock,
    ) -> Self {
        let mut table = MailboxTable::new(ceiling);
        for m in messages {
            table.restore(m);
        }
        let stale = receipts
            .into_iter()
            .filter_map(|r| table.restore_receipt(r))
            .collect();
        Self {
            table,
            store,
            registry,
            settings,
            clock,
            last_digest: HashMap::new(),
            stale,
            poisoned: false,
        }
    }

    fn limits(&self) -> Limits {
        let m = &self.settings.messages;
        Limits {
            max_body_bytes: m.max_body_bytes,
            max_subject_bytes: m.max_subject_bytes,
            max_unacked: m.max_unacked,
        }
    }

    /// Queue `batch` (with the removal of stale receipts); a refused commit
    /// poisons the mailbox.
    fn write(&mut self, mut batch: WriteBatch) -> Result<Ticket, Error> {
        if self.poisoned {
            return Err(match self.store.failure() {
                Some(f) => StoreError::FlushFailed(f.to_owned()).into(),
                None => {
                    Error::Unavailable("the mailbox (it stopped after an error; restart baton)")
                }
            });
        }
        for r in self.stale.drain(..) {
            batch.remove_receipt(r.message, &r.worker);
        }
        self.store.commit(batch).map_err(|e| {
            tracing::error!(error = %e, "the mailbox refuses further writes");
            self.poisoned = true;
            e.into()
        })
    }

    /// `receipts` as a batch, or nothing when there are none.
    fn write_receipts(&mut self, receipts: &[Receipt]) -> Result<Option<Ticket>, Error> {
        if receipts.is_empty() {
            return Ok(None);
        }
        let mut batch = WriteBatch::new();
        for r in receipts {
            batch.put_receipt(r);
        }
        self.write(batch).map(Some)
    }

    /// A refusal while poisoned, before anything in memory changes.
    fn check_open(&self) -> Result<(), Error> {
        if self.poisoned {
            return Err(Error::Unavailable(
                "the mailbox (it stopped after an error; restart baton)",
            ));
        }
        Ok(())
    }

    /// One retention pass: remove messages older than
    /// `retention.keep_events_secs` whose task (if any) is not live, at most
    /// `retention.batch`, with their receipts, as one commit.
    fn retention_pass(&mut self, ctx: &mut Context<Self>) {
        let r = &self.settings.retention;
        if self.poisoned || r.keep_events_secs == 0 {
            return;
        }
        let before = self
            .clock
            .now()
            .saturating_sub(r.keep_events_secs.saturating_mul(1000));
        let max = r.batch;
        let tasks = self.table.prune_candidates(before);
        let ask = self.registry.send(TaskStates { ids: tasks.clone() });
        ctx.wait(ask.into_actor(self).map(move |states, act, _| {
            let Ok(states) = states else {
                return; // the registry is gone (shutting down): try next time
            };
            let live: std::collections::HashSet<TaskId> = tasks
                .into_iter()
                .zip(states)
                .filter(|(_, s)| {
                    s.as_ref().is_some_and(|s| {
                        !matches!(s.status, TaskStatus::Done | TaskStatus::Cancelled)
                    })
                })
                .map(|(t, _)| t)
                .collect();
            let removed = act.table.prune(before, max, |t| live.contains(t));
            if removed.is_empty() {
                return;
            }
            let mut batch = WriteBatch::new();
            for (id, workers) in &removed {
                batch.remove_message(*id);
                for w in workers {
                    batch.remove_receipt(*id, w);
                }
            }
            match act.write(batch) {
                Ok(_) => tracing::info!(removed = removed.len(), "retention removed old messages"),
                Err(e) => tracing::error!(error = %e, "message retention failed"),
            }
        }));
    }
}

impl Actor for Mailbox {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(4096);
        let every = Duration::from_millis(self.settings.retention.interval_ms);
        ctx.run_interval(every, |act, ctx| act.retention_pass(ctx));
    }
}

/// The audit event of a message change.
fn message_event(
    kind: EventKind,
    m: &Message,
    worker: &str,
    actor: Option<String>,
    at: Millis,
) -> Event {
    Event {
        id: 0,
        at,
        kind,
        task_id: match &m.to {
            Recipient::Task(t) => Some(t.clone()),
            _ => None,
        },
        worker: Some(worker.to_owned()),
        actor,
        slot: None,
        lease_id: None,
        from: None,
        to: None,
        reason: Some(m.id.to_string()),
    }
}

/// Send a message: checked against `[messages]`, given the next id, written
/// with its `message_sent` event.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Message, Ticket), Error>")]
pub struct SendMessage {
    /// The message (the addressee's name or task already checked).
    pub draft: Draft,
}

impl Handler<SendMessage> for Mailbox {
    type Result = Result<(Message, Ticket), Error>;
    fn handle(&mut self, msg: SendMessage, _: &mut Context<Self>) -> Self::Result {
        self.check_open()?;
        let at = self.clock.now();
        let m = self.table.send(msg.draft, at, self.limits())?;
        let mut batch = WriteBatch::new();
        batch.put_message(&m);
        batch.put_meta(MESSAGE_CEILING_META, self.table.last_id());
        batch.put_event(
            message_event(EventKind::MessageSent, &m, &m.from, m.actor.clone(), at),
            None,
        );
        tracing::info!(id = m.id, from = %m.from, to = %m.to, "message sent");
        let ticket = self.write(batch)?;
        Ok((m, ticket))
    }
}

/// A worker reads its inbox: the page `query` selects, each shown message
/// marked read (the receipts are written before the answer).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Page, Option<Ticket>), Error>")]
pub struct ReadInbox {
    /// The reading worker (a valid worker name).
    pub worker: String,
    /// The tasks it holds now.
    pub held: Vec<TaskId>,
    /// Which messages: unread only, since, cursor, page size.
    pub query: Query,
}

impl Handler<ReadInbox> for Mailbox {
    type Result = Result<(Page, Option<Ticket>), Error>;
    fn handle(&mut self, msg: ReadInbox, _: &mut Context<Self>) -> Self::Result {
        self.check_open()?;
        let at = self.clock.now();
        let (page, written) = self.table.read(&msg.worker, &msg.held, &msg.query, at);
        let ticket = self.write_receipts(&written)?;
        Ok((page, ticket))
    }
}

/// An operator's view of messages (nothing is marked read).
#[derive(Debug, Message)]
#[rtype(result = "Page")]
pub struct ListMessages {
    /// Every message, an inbox, or a task's thread.
    pub scope: Scope,
    /// Which of them.
    pub query: Query,
}

impl Handler<ListMessages> for Mailbox {
    type Result = MessageResult<ListMessages>;
    fn handle(&mut self, msg: ListMessages, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.table.list(&msg.scope, &msg.query))
    }
}

/// A worker acknowledges a message in its inbox (or one it read before).
/// Acknowledging again changes nothing.
#[derive(Debug, Message)]
#[rtype(result = "Result<(MessageView, Option<Ticket>), Error>")]
pub struct AckMessage {
    /// The acknowledging worker (a valid worker name).
    pub worker: String,
    /// The tasks it holds now.
    pub held: Vec<TaskId>,
    /// The message id to acknowledge.
    pub id: u64,
    /// The token (or JWT subject) acting, for the audit event.
    pub actor: Option<String>,
}

impl Handler<AckMessage> for Mailbox {
    type Result = Result<(MessageView, Option<Ticket>), Error>;
    fn handle(&mut self, msg: AckMessage, _: &mut Context<Self>) -> Self::Result {
        self.check_open()?;
        let at = self.clock.now();
        let (m, receipt) = self.table.ack(&msg.worker, &msg.held, msg.id, at)?;
        let ticket = match receipt {
            None => None,
            Some(r) => {
                let mut batch = WriteBatch::new();
                batch.put_receipt(&r);
                batch.put_event(
                    message_event(EventKind::MessageAcked, &m, &msg.worker, msg.actor, at),
                    None,
                );
                Some(self.write(batch)?)
            }
        };
        Ok((self.table.view(&m, Some(&msg.worker)), ticket))
    }
}

/// What one hook answer delivers: the rendered unread messages, oldest
/// first, and how many unread ones wait for a later answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// One text per message, each within the byte budget left.
    pub entries: Vec<String>,
    /// Unread messages not delivered this time (over the budget).
    pub left: usize,
}

/// Take a worker's unread messages for a Claude Code hook answer (marked
/// read). `rate_limited` (a `PostToolUse`): nothing when the worker was
/// answered a digest less than `[messages] hook_every_secs` ago.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Option<Digest>, Option<Ticket>), Error>")]
pub struct TakeDigest {
    /// The worker whose unread messages are taken.
    pub worker: String,
    /// The tasks it holds now.
    pub held: Vec<TaskId>,
    /// Whether `[messages] hook_every_secs` applies.
    pub rate_limited: bool,
    /// Bytes the entries may take together.
    pub max_bytes: usize,
}

impl Handler<TakeDigest> for Mailbox {
    type Result = Result<(Option<Digest>, Option<Ticket>), Error>;
    fn handle(&mut self, msg: TakeDigest, _: &mut Context<Self>) -> Self::Result {
        self.check_open()?;
        let now = self.clock.now();
        let every = self.settings.messages.hook_every_secs.saturating_mul(1000);
        if msg.rate_limited
            && self
                .last_digest
                .get(&msg.worker)
                .is_some_and(|&last| now < last.saturating_add(every))
        {
            return Ok((None, None));
        }
        let (entries, left, written) = self.table.take_unread(
            &msg.worker,
            &msg.held,
            msg.max_bytes,
            now,
            crate::core::mailbox::digest_entry,
        );
        if entries.is_empty() {
            return Ok((None, None));
        }
        self.last_digest.insert(msg.worker.clone(), now);
        let ticket = self.write_receipts(&written)?;
        Ok((Some(Digest { entries, left }), ticket))
    }
}

/// One message as `reader` sees it (`None`: no such message).
#[derive(Debug, Message)]
#[rtype(result = "Option<MessageView>")]
pub struct GetMessage {
    /// The message id to look up.
    pub id: u64,
    /// The reading worker (`None`: an operator).
    pub reader: Option<String>,
}

impl Handler<GetMessage> for Mailbox {
    type Result = MessageResult<GetMessage>;
    fn handle(&mut self, msg: GetMessage, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.table
                .get(msg.id)
                .map(|m| self.table.view(m, msg.reader.as_deref())),
        )
    }
}

/// Whether any message is addressed to a task (a claim of it changes the
/// claimer's inbox).
#[derive(Debug, Message)]
#[rtype(result = "bool")]
pub struct HasTaskMessages {
    /// The task whose thread is asked about.
    pub task: TaskId,
}

impl Handler<HasTaskMessages> for Mailbox {
    type Result = bool;
    fn handle(&mut self, msg: HasTaskMessages, _: &mut Context<Self>) -> bool {
        self.table.has_task_messages(&msg.task)
    }
}
