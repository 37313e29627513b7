//! [`MailboxTable`]: the pure core of the mailbox actor — every message,
//! every worker's receipt of it, which `ack_required` messages still wait
//! for an acknowledgement, and the rules of sending, reading, acknowledging
//! and pruning. No I/O and no clock: times are passed in, and every change
//! returns what must be written (messages, receipts, removals).
//!
//! **Inboxes.** A worker's inbox holds the messages to it, to the tasks it
//! holds now (`held`, which the caller asks the task registry for), and to
//! all. A message to a task is thus in its holder's inbox while the lease
//! lasts and in the next claimer's inbox after it, unread for each.
//!
//! **Reading** marks what was shown as read for that worker (a [`Receipt`]
//! with `read_at`); an operator's view reads without marking.
//! **Acknowledging** needs the message in the worker's inbox, or read by it
//! before (a task's old holder may still acknowledge what it read). An
//! `ack_required` message is acknowledged once any worker whose inbox it
//! is in acknowledged it; until then it counts against its addressee's
//! `max_unacked`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error_code::{ErrorCode, ServiceError};
use crate::model::{Ack, Message, MessageView, Millis, Receipt, Recipient, TaskId};

/// Why a message operation was refused. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// A field is malformed (an empty subject, a control character, a bad
    /// addressee).
    #[error("{field}: {message}")]
    Invalid {
        /// The request field.
        field: String,
        /// What is wrong, and what it must be.
        message: String,
    },
    /// A text is longer than its `[messages]` limit.
    #[error("{field} is {bytes} bytes, over [messages] {key} ({limit} bytes)")]
    TooLarge {
        /// The request field (`body`, `subject`).
        field: String,
        /// Its size in bytes (UTF-8).
        bytes: usize,
        /// The limit's key in `[messages]`.
        key: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The addressee already has `limit` unacknowledged `ack_required`
    /// messages.
    #[error(
        "{recipient} has {count} unacknowledged messages that ask for an acknowledgement \
         ([messages] max_unacked is {limit}); wait until they are acknowledged, or send \
         without ack_required"
    )]
    TooManyUnacked {
        /// The addressee, as text (`worker 'w'`, `task 't'`, `all`).
        recipient: String,
        /// Its unacknowledged `ack_required` messages.
        count: usize,
        /// `[messages] max_unacked`.
        limit: usize,
    },
    /// No message with this id (never sent, or removed by retention).
    #[error("no message {0} (never sent, or removed by retention)")]
    NotFound(u64),
    /// The message exists but is not in this worker's inbox, and the worker
    /// never read it.
    #[error("message {id} is not in worker '{worker}''s inbox")]
    NotInInbox {
        /// The message.
        id: u64,
        /// The worker.
        worker: String,
    },
}

impl MessageError {
    /// The request field the refusal is about.
    pub fn field(&self) -> Option<String> {
        match self {
            MessageError::Invalid { field, .. } | MessageError::TooLarge { field, .. } => {
                Some(field.clone())
            }
            MessageError::TooManyUnacked { .. } => Some("ack_required".into()),
            MessageError::NotFound(_) | MessageError::NotInInbox { .. } => Some("id".into()),
        }
    }

    fn invalid(field: &str, message: impl Into<String>) -> Self {
        MessageError::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl ServiceError for MessageError {
    /// `invalid_field` (422), `too_large` (413), `too_many_unacked` (429),
    /// `message_not_found` (404).
    fn error_code(&self) -> ErrorCode {
        match self {
            MessageError::Invalid { .. } => ErrorCode::InvalidField,
            MessageError::TooLarge { .. } => ErrorCode::TooLarge,
            MessageError::TooManyUnacked { .. } => ErrorCode::TooManyUnacked,
            MessageError::NotFound(_) | MessageError::NotInInbox { .. } => {
                ErrorCode::MessageNotFound
            }
        }
    }
}

/// The limits a new message is checked against (`[messages]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes in a body (`[messages] max_body_bytes`).
    pub max_body_bytes: usize,
    /// Most bytes in a subject (`[messages] max_subject_bytes`).
    pub max_subject_bytes: usize,
    /// Most unacknowledged `ack_required` messages per addressee (`[messages] max_unacked`).
    pub max_unacked: usize,
}

/// A message to be sent: everything but its id and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The sender (a worker, or an operator's token name).
    pub from: String,
    /// The token (or JWT subject) that sends it.
    pub actor: Option<String>,
    /// The addressee (names and ids already checked by the caller).
    pub to: Recipient,
    /// The subject: 1 to `max_subject_bytes` bytes, no control characters.
    pub subject: String,
    /// The body: at most `max_body_bytes` bytes.
    pub body: String,
    /// A message of the thread this one continues.
    pub thread: Option<u64>,
    /// Whether the sender asks for an acknowledgement.
    pub ack_required: bool,
}

/// Which messages a read returns, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Only messages the reader has not read (in a worker's inbox).
    pub unread_only: bool,
    /// Only messages sent at or after this time (ms).
    pub since: Option<Millis>,
    /// Only messages with a higher id (a page's cursor).
    pub after: Option<u64>,
    /// Most messages returned.
    pub limit: usize,
}

/// A page of messages, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// The messages on this page, oldest first.
    pub messages: Vec<MessageView>,
    /// The id to pass as `after` for the next page, when more follow.
    pub next: Option<u64>,
}

/// Which messages an operator's view lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every message, whoever it is to.
    Everything,
    /// A worker's inbox (the tasks it holds given).
    Inbox {
        /// The worker.
        worker: String,
        /// The tasks it holds now.
        held: Vec<TaskId>,
    },
    /// The messages to one task (its thread).
    Task(TaskId),
}

/// Every message and receipt, with the unacknowledged `ack_required`
/// messages by addressee. See the module docs for the rules.
#[derive(Debug, Default)]
pub struct MailboxTable {
    messages: BTreeMap<u64, Message>,
    /// By message, by worker.
    receipts: HashMap<u64, BTreeMap<String, Receipt>>,
    /// `ack_required` messages nobody acknowledged yet, by addressee.
    unacked: HashMap<Recipient, BTreeSet<u64>>,
    /// The highest id ever handed out (also of removed messages).
    last_id: u64,
}

impl MailboxTable {
    /// An empty table whose next id is `ceiling + 1`.
    pub fn new(ceiling: u64) -> Self {
        Self {
            last_id: ceiling,
            ..Self::default()
        }
    }

    /// Put back a stored message (start-up).
    pub fn restore(&mut self, m: Message) {
        self.last_id = self.last_id.max(m.id);
        if m.ack_required {
            self.unacked.entry(m.to.clone()).or_default().insert(m.id);
        }
        self.messages.insert(m.id, m);
    }

    /// Put back a stored receipt (start-up, after the messages). A receipt
    /// of a message no longer stored is returned: delete it.
    pub fn restore_receipt(&mut self, r: Receipt) -> Option<Receipt> {
        let Some(m) = self.messages.get(&r.message) else {
            return Some(r);
        };
        if r.acked_at.is_some() {
            if let Some(set) = self.unacked.get_mut(&m.to) {
                set.remove(&m.id);
            }
        }
        self.receipts
            .entry(r.message)
            .or_default()
            .insert(r.worker.clone(), r);
        None
    }

    /// The highest id handed out so far (store it as the ceiling).
    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    /// How many messages are kept.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether no message is kept.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The message with id `id`, if it was sent and not pruned.
    pub fn get(&self, id: u64) -> Option<&Message> {
        self.messages.get(&id)
    }

    /// Whether any message is addressed to `task`.
    pub fn has_task_messages(&self, task: &TaskId) -> bool {
        self.messages
            .values()
            .any(|m| matches!(&m.to, Recipient::Task(t) if t == task))
    }

    /// Unacknowledged `ack_required` messages to `to`.
    pub fn unacked(&self, to: &Recipient) -> usize {
        self.unacked.get(to).map_or(0, BTreeSet::len)
    }

    /// Check `d` against `limits` and send it at `at`: the new message,
    /// to be written. Errors: an empty or oversize subject, an oversize
    /// body, an unknown `thread`, or too many unacknowledged messages to
    /// the addressee (with `ack_required`).
    pub fn send(&mut self, d: Draft, at: Millis, limits: Limits) -> Result<Message, MessageError> {
        if d.subject.trim().is_empty() {
            return Err(MessageError::invalid(
                "subject",
                "must not be empty: say in one line what the message is about",
            ));
        }
        if d.subject.chars().any(char::is_control) {
            return Err(MessageError::invalid(
                "subject",
                "must be one line without control characters",
            ));
        }
        for (field, text, key, limit) in [
            (
                "subject",
                &d.subject,
                "max_subject_bytes",
                limits.max_subject_bytes,
            ),
            ("body", &d.body, "max_body_bytes", limits.max_body_bytes),
        ] {
            if text.len() > limit {
                return Err(MessageError::TooLarge {
                    field: field.into(),
                    bytes: text.len(),
                    key,
                    limit,
                });
            }
        }
        let thread = match d.thread {
            None => None,
            Some(t) => Some(self.messages.get(&t).map(|m| m.thread).ok_or_else(|| {
                MessageError::invalid(
                    "thread",
                    format!("no message {t} (never sent, or removed by retention)"),
                )
            })?),
        };
        if d.ack_required {
            let count = self.unacked(&d.to);
            if count >= limits.max_unacked {
                return Err(MessageError::TooManyUnacked {
                    recipient: d.to.to_string(),
                    count,
                    limit: limits.max_unacked,
                });
            }
        }
        self.last_id += 1;
        let id = self.last_id;
        let m = Message {
            id,
            at,
            from: d.from,
            actor: d.actor,
            to: d.to,
            subject: d.subject,
            body: d.body,
            thread: thread.unwrap_or(id),
            ack_required: d.ack_required,
        };
        self.restore(m.clone());
        Ok(m)
    }

    /// Whether `m` is in `worker`'s inbox while it holds `held`.
    pub fn in_inbox(m: &Message, worker: &str, held: &[TaskId]) -> bool {
        match &m.to {
            Recipient::Worker(w) => w == worker,
            Recipient::Task(t) => held.contains(t),
            Recipient::All => true,
        }
    }

    fn receipt(&self, id: u64, worker: &str) -> Option<&Receipt> {
        self.receipts.get(&id).and_then(|r| r.get(worker))
    }

    /// `m` as `reader` sees it (no reader: an operator's view).
    pub fn view(&self, m: &Message, reader: Option<&str>) -> MessageView {
        let receipts = self.receipts.get(&m.id);
        let mut acks: Vec<Ack> = receipts
            .into_iter()
            .flat_map(|r| r.values())
            .filter_map(|r| {
                r.acked_at.map(|at| Ack {
                    worker: r.worker.clone(),
                    at,
                })
            })
            .collect();
        acks.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.worker.cmp(&b.worker)));
        MessageView {
            message: m.clone(),
            read_at: reader
                .and_then(|w| self.receipt(m.id, w))
                .and_then(|r| r.read_at),
            acknowledged: m.ack_required && !acks.is_empty(),
            acks,
        }
    }

    /// The messages of `scope` that `q` selects, oldest first, as `reader`
    /// sees them.
    fn select(&self, scope: &Scope, q: &Query) -> (Vec<&Message>, Option<u64>) {
        let reader = match scope {
            Scope::Inbox { worker, .. } => Some(worker.as_str()),
            _ => None,
        };
        let start = q.after.map_or(0, |a| a.saturating_add(1));
        let mut out = Vec::new();
        let mut next = None;
        for m in self.messages.range(start..).map(|(_, m)| m) {
            let wanted = match scope {
                Scope::Everything => true,
                Scope::Inbox { worker, held } => Self::in_inbox(m, worker, held),
                Scope::Task(t) => matches!(&m.to, Recipient::Task(x) if x == t),
            };
            if !wanted
                || q.since.is_some_and(|s| m.at < s)
                || (q.unread_only
                    && reader.is_some_and(|w| {
                        self.receipt(m.id, w).is_some_and(|r| r.read_at.is_some())
                    }))
            {
                continue;
            }
            if out.len() == q.limit {
                next = out.last().map(|m: &&Message| m.id);
                break;
            }
            out.push(m);
        }
        (out, next)
    }

    /// An operator's view: the messages of `scope` that `q` selects, marking
    /// nothing read.
    pub fn list(&self, scope: &Scope, q: &Query) -> Page {
        let reader = match scope {
            Scope::Inbox { worker, .. } => Some(worker.as_str()),
            _ => None,
        };
        let (found, next) = self.select(scope, q);
        Page {
            messages: found.into_iter().map(|m| self.view(m, reader)).collect(),
            next,
        }
    }

    /// `worker` reads its inbox (holding `held`) at `at`: the page `q`
    /// selects, each shown message marked read. Returns the page (as the
    /// worker saw it before this read marked it) and the receipts to write.
    pub fn read(
        &mut self,
        worker: &str,
        held: &[TaskId],
        q: &Query,
        at: Millis,
    ) -> (Page, Vec<Receipt>) {
        let scope = Scope::Inbox {
            worker: worker.to_owned(),
            held: held.to_vec(),
        };
        let page = self.list(&scope, q);
        let ids: Vec<u64> = page.messages.iter().map(|v| v.message.id).collect();
        let written = self.mark_read(worker, &ids, at);
        (page, written)
    }

    /// Mark `ids` read by `worker` at `at` (those it had not read yet):
    /// the receipts to write.
    fn mark_read(&mut self, worker: &str, ids: &[u64], at: Millis) -> Vec<Receipt> {
        let mut written = Vec::new();
        for &id in ids {
            let r = self
                .receipts
                .entry(id)
                .or_default()
                .entry(worker.to_owned())
                .or_insert_with(|| Receipt {
                    message: id,
                    worker: worker.to_owned(),
                    read_at: None,
                    acked_at: None,
                });
            if r.read_at.is_none() {
                r.read_at = Some(at);
                written.push(r.clone());
            }
        }
        written
    }

    /// The oldest unread messages of `worker`'s inbox whose renderings
    /// (`render(message, room)`, at most `room` bytes) fit `max_bytes`
    /// together — at least the first, cut to fit — marked read at `at`: the rendered texts, how many unread
    /// messages are left after them, and the receipts to write.
    pub fn take_unread(
        &mut self,
        worker: &str,
        held: &[TaskId],
        max_bytes: usize,
        at: Millis,
        render: impl Fn(&Message, usize) -> String,
    ) -> (Vec<String>, usize, Vec<Receipt>) {
        let scope = Scope::Inbox {
            worker: worker.to_owned(),
            held: held.to_vec(),
        };
        let q = Query {
            unread_only: true,
            limit: usize::MAX,
            ..Query::default()
        };
        let (unread, _) = self.select(&scope, &q);
        let mut texts = Vec::new();
        let mut used = 0;
        let mut ids = Vec::new();
        for m in &unread {
            let room = max_bytes.saturating_sub(used);
            let whole = render(m, usize::MAX);
            let text = if whole.len() <= room {
                whole
            } else if texts.is_empty() {
                render(m, room) // the first one always goes, cut to fit
            } else {
                break; // waits for the next answer
            };
            used += text.len();
            texts.push(text);
            ids.push(m.id);
        }
        let left = unread.len() - ids.len();
        let written = self.mark_read(worker, &ids, at);
        (texts, left, written)
    }

    /// `worker` (holding `held`) acknowledges message `id` at `at`: the
    /// message and the receipt to write (`None` when it had acknowledged it
    /// already: acknowledging is idempotent).
    pub fn ack(
        &mut self,
        worker: &str,
        held: &[TaskId],
        id: u64,
        at: Millis,
    ) -> Result<(Message, Option<Receipt>), MessageError> {
        let m = self
            .messages
            .get(&id)
            .cloned()
            .ok_or(MessageError::NotFound(id))?;
        let read_before = self
            .receipt(id, worker)
            .is_some_and(|r| r.read_at.is_some());
        if !Self::in_inbox(&m, worker, held) && !read_before {
            return Err(MessageError::NotInInbox {
                id,
                worker: worker.to_owned(),
            });
        }
        let r = self
            .receipts
            .entry(id)
            .or_default()
            .entry(worker.to_owned())
            .or_insert_with(|| Receipt {
                message: id,
                worker: worker.to_owned(),
                read_at: None,
                acked_at: None,
            });
        if r.acked_at.is_some() {
            return Ok((m, None));
        }
        r.acked_at = Some(at);
        r.read_at = r.read_at.or(Some(at));
        let written = r.clone();
        if let Some(set) = self.unacked.get_mut(&m.to) {
            set.remove(&id);
            if set.is_empty() {
                self.unacked.remove(&m.to);
            }
        }
        Ok((m, Some(written)))
    }

    /// The tasks addressed by messages sent before `before` (retention asks
    /// the registry which of them are still live before
    /// [`MailboxTable::prune`]).
    pub fn prune_candidates(&self, before: Millis) -> Vec<TaskId> {
        let mut tasks: Vec<TaskId> = self
            .messages
            .values()
            .take_while(|m| m.at < before)
            .filter_map(|m| match &m.to {
                Recipient::Task(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        tasks.sort();
        tasks.dedup();
        tasks
    }

    /// Remove up to `max` messages sent before `before`, oldest first,
    /// except those to a task `live` says is still live (a task's thread
    /// stays while the task may run again: like its audit events, until it
    /// is done or cancelled, or deleted). Returns each removed message's id and the
    /// workers whose receipts go with it.
    pub fn prune(
        &mut self,
        before: Millis,
        max: usize,
        live: impl Fn(&TaskId) -> bool,
    ) -> Vec<(u64, Vec<String>)> {
        let doomed: Vec<u64> = self
            .messages
            .values()
            .take_while(|m| m.at < before)
            .filter(|m| !matches!(&m.to, Recipient::Task(t) if live(t)))
            .take(max)
            .map(|m| m.id)
            .collect();
        let mut out = Vec::with_capacity(doomed.len());
        for id in doomed {
            let Some(m) = self.messages.remove(&id) else {
                continue;
            };
            if let Some(set) = self.unacked.get_mut(&m.to) {
                set.remove(&id);
                if set.is_empty() {
                    self.unacked.remove(&m.to);
                }
            }
            let workers = self
                .receipts
                .remove(&id)
                .map(|r| r.into_keys().collect())
                .unwrap_or_default();
            out.push((id, workers));
        }
        out
    }
}

/// One message as a hook answer shows it to a model, within `room` bytes:
/// a header line (id, sender, addressee, whether it asks for an
/// acknowledgement, subject) and the body, cut (with `…`) to fit.
pub fn digest_entry(m: &Message, room: usize) -> String {
    let ack = if m.ack_required {
        " [acknowledge it: ack_message]"
    } else {
        ""
    };
    let thread = if m.thread == m.id {
        String::new()
    } else {
        format!(" (thread {})", m.thread)
    };
    let head = format!(
        "- message {} from {} to {}{thread}{ack}: {}\n",
        m.id, m.from, m.to, m.subject
    );
    let body: String = m.body.lines().map(|l| format!("  {l}\n")).collect();
    crate::core::text::clip(head + &body, room)
}

#[cfg(test)]
mod tests;
