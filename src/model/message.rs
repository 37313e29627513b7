//! Messages between workers, tasks and operators: a [`Message`] (who sent
//! it, to whom, subject, body, thread), its addressee ([`Recipient`], on the
//! wire [`MessageTo`]), and each worker's [`Receipt`] of it (read,
//! acknowledged). What a reader is shown is a [`MessageView`]: the message
//! with the reader's receipt and every acknowledgement.
//!
//! A message to a **worker** is in that worker's inbox (also before the
//! worker ever appeared); one to a **task** is in the inbox of whoever holds
//! the task now, and of whoever claims it later; one to **all** is in every
//! inbox. Messages are not private: operators (`viewer` and above) read
//! every inbox, and with auth off so does anyone.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::id::TaskId;
use super::rfc3339;
use super::time::Millis;

/// Who a message is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "MessageTo", try_from = "MessageTo")]
pub enum Recipient {
    /// One worker, by name.
    Worker(String),
    /// Whoever holds this task now, and whoever claims it later.
    Task(TaskId),
    /// Every worker (a broadcast).
    All,
}

/// A message's addressee on the wire: exactly one of `{"worker": "w"}`,
/// `{"task": "id"}` or `{"all": true}`.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct MessageTo {
    /// A worker's name: the message is in its inbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// A task id: the message is in the inbox of the task's holder, now and later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// `true`: the message is in every inbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
}

/// What is wrong with a [`MessageTo`]: it names no addressee or more than one.
pub const TO_RULE: &str =
    "must name exactly one addressee: {\"worker\": name}, {\"task\": id} or {\"all\": true}";

impl TryFrom<MessageTo> for Recipient {
    type Error = String;

    /// The addressee `to` names. Names and ids are taken as written (the
    /// board checks them against its limits); an empty one counts as absent.
    fn try_from(to: MessageTo) -> Result<Self, String> {
        let worker = to.worker.filter(|w| !w.is_empty());
        let task = to.task.filter(|t| !t.is_empty());
        let all = to.all == Some(true);
        match (worker, task, all) {
            (Some(w), None, false) => Ok(Recipient::Worker(w)),
            (None, Some(t), false) => Ok(Recipient::Task(TaskId::from_trusted(&t))),
            (None, None, true) => Ok(Recipient::All),
            _ => Err(TO_RULE.to_owned()),
        }
    }
}

impl From<Recipient> for MessageTo {
    fn from(r: Recipient) -> Self {
        match r {
            Recipient::Worker(w) => MessageTo {
                worker: Some(w),
                ..MessageTo::default()
            },
            Recipient::Task(t) => MessageTo {
                task: Some(t.to_string()),
                ..MessageTo::default()
            },
            Recipient::All => MessageTo {
                all: Some(true),
                ..MessageTo::default()
            },
        }
    }
}

impl std::fmt::Display for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recipient::Worker(w) => write!(f, "worker '{w}'"),
            Recipient::Task(t) => write!(f, "task '{t}'"),
            Recipient::All => f.write_str("all"),
        }
    }
}

/// One message, as stored (the `n/` key space) and sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, schemars::JsonSchema)]
pub struct Message {
    /// Increasing id, never reused (also after retention removed a message).
    pub id: u64,
    /// When it was sent.
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    #[schemars(with = "String")]
    pub at: Millis,
    /// The sender: the calling worker, or (an operator without a worker
    /// name) the access token's name, `operator` without auth.
    pub from: String,
    /// The access token (or JWT subject) that sent it; absent without auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Whom it is addressed to.
    #[schema(value_type = MessageTo)]
    #[schemars(with = "MessageTo")]
    pub to: Recipient,
    /// One line saying what it is about.
    pub subject: String,
    /// The text (at most `[messages] max_body_bytes` bytes).
    pub body: String,
    /// The id of the thread's first message (its own id when it starts one).
    pub thread: u64,
    /// Whether the sender asks for an acknowledgement (`ack_message`).
    #[serde(default)]
    pub ack_required: bool,
}

/// A worker's receipt of a message (the `y/` key space): when it read it
/// (delivered by `read_messages` or a hook) and when it acknowledged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The id of the message read.
    pub message: u64,
    /// The worker who read it.
    pub worker: String,
    /// When the worker was first shown it (ms since the Unix epoch).
    #[serde(default)]
    pub read_at: Option<Millis>,
    /// When the worker acknowledged it (ms since the Unix epoch).
    #[serde(default)]
    pub acked_at: Option<Millis>,
}

/// One acknowledgement of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, schemars::JsonSchema)]
pub struct Ack {
    /// Who acknowledged it.
    pub worker: String,
    /// When it was acknowledged.
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    #[schemars(with = "String")]
    pub at: Millis,
}

/// A message as a reader sees it: the message, the reader's own receipt
/// (in a worker's inbox) and every acknowledgement so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, schemars::JsonSchema)]
pub struct MessageView {
    /// The message as stored.
    #[serde(flatten)]
    pub message: Message,
    /// When the reading worker was first shown it (absent: unread, or not
    /// read as a worker).
    #[serde(
        default,
        with = "rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    #[schemars(with = "Option<String>")]
    pub read_at: Option<Millis>,
    /// Whether it is acknowledged: `ack_required` and some worker whose
    /// inbox it is in acknowledged it.
    pub acknowledged: bool,
    /// Every acknowledgement, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acks: Vec<Ack>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_addressee_is_exactly_one_of_worker_task_or_all() {
        let parse = |v: serde_json::Value| serde_json::from_value::<Recipient>(v);
        assert_eq!(
            parse(serde_json::json!({"worker": "w"})).unwrap(),
            Recipient::Worker("w".into())
        );
        assert_eq!(
            parse(serde_json::json!({"task": "t1"})).unwrap(),
            Recipient::Task(TaskId::from_trusted("t1"))
        );
        assert_eq!(
            parse(serde_json::json!({"all": true})).unwrap(),
            Recipient::All
        );
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"worker": ""}),
            serde_json::json!({"all": false}),
            serde_json::json!({"worker": "w", "task": "t"}),
            serde_json::json!({"worker": "w", "all": true}),
            serde_json::json!({"who": "w"}),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
        for r in [
            Recipient::Worker("w".into()),
            Recipient::Task(TaskId::from_trusted("t")),
            Recipient::All,
        ] {
            let v = serde_json::to_value(&r).unwrap();
            assert_eq!(parse(v).unwrap(), r);
        }
    }
}
