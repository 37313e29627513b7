//! `baton messages …`: messages between workers, tasks and operators on a
//! running server over REST (`/api/v1/messages`), printed as tables (or
//! JSON with `--json`). `send`, `read` and `ack` act as the worker given by
//! `--worker` (else `BATON_WORKER`), sent as `X-Baton-Worker`; `send`
//! without a worker sends as the token's operator. `list` is the
//! operator's view (nothing is marked read).

use anyhow::{bail, Context as _, Result};
use clap::Subcommand;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::{json, Value};

use super::{reply, s, Remote};

/// `baton messages <command>`.
#[derive(Subcommand)]
pub(crate) enum MessagesCommand {
    /// Send a message to a worker, to whoever holds a task, or to all.
    Send {
        /// One line saying what it is about.
        subject: String,
        /// The text (at most `[messages] max_body_bytes` bytes).
        #[arg(long, default_value = "")]
        body: String,
        /// Addressee: this worker.
        #[arg(long = "to-worker", group = "to")]
        to_worker: Option<String>,
        /// Addressee: whoever holds this task now or claims it later.
        #[arg(long = "to-task", group = "to")]
        to_task: Option<String>,
        /// Addressee: every worker.
        #[arg(long = "to-all", group = "to")]
        to_all: bool,
        /// Answer in the thread of this message id.
        #[arg(long)]
        thread: Option<u64>,
        /// Ask the addressee to acknowledge it.
        #[arg(long)]
        ack_required: bool,
        /// The sending worker (absent: the token's operator).
        #[arg(long, env = "BATON_WORKER")]
        worker: Option<String>,
    },
    /// The operator's view: every message, one worker's inbox or one task's thread.
    List {
        /// Only this worker's inbox.
        #[arg(long, conflicts_with = "task")]
        inbox: Option<String>,
        /// Only this task's thread.
        #[arg(long)]
        task: Option<String>,
        /// With --inbox: only what that worker has not read.
        #[arg(long, requires = "inbox")]
        unread_only: bool,
        /// Page size (1 to `api.max_page_size`).
        #[arg(long)]
        limit: Option<usize>,
        /// `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Read the worker's own inbox; what is shown is marked read.
    Read {
        /// The reading worker.
        #[arg(long, env = "BATON_WORKER")]
        worker: String,
        /// Only messages not read before.
        #[arg(long)]
        unread_only: bool,
        /// Page size (1 to `api.max_page_size`).
        #[arg(long)]
        limit: Option<usize>,
        /// `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Acknowledge a message in the worker's inbox.
    Ack {
        /// Message id.
        id: u64,
        /// The acknowledging worker.
        #[arg(long, env = "BATON_WORKER")]
        worker: String,
    },
}

/// Send `cmd` to the server `remote` names and print the answer.
pub(crate) async fn run(remote: Remote, cmd: MessagesCommand) -> Result<()> {
    let http = remote.credentials.client()?;
    let base = format!("{}/api/v1/messages", remote.url.trim_end_matches('/'));
    let req = match &cmd {
        MessagesCommand::Send {
            subject,
            body,
            to_worker,
            to_task,
            to_all,
            thread,
            ack_required,
            worker,
        } => {
            let to = match (to_worker, to_task, to_all) {
                (Some(w), _, _) => json!({ "worker": w }),
                (_, Some(t), _) => json!({ "task": t }),
                (_, _, true) => json!({ "all": true }),
                _ => bail!("name the addressee: --to-worker, --to-task or --to-all"),
            };
            let mut req = http.post(&base).json(&json!({
                "to": to,
                "subject": subject,
                "body": body,
                "thread": thread,
                "ack_required": ack_required,
            }));
            if let Some(w) = worker.as_deref().filter(|w| !w.is_empty()) {
                req = req.header("x-baton-worker", w);
            }
            req
        }
        MessagesCommand::List {
            inbox,
            task,
            unread_only,
            limit,
            cursor,
        } => {
            let mut q = form_urlencoded::Serializer::new(String::new());
            if let Some(w) = inbox {
                q.append_pair("inbox", w);
            }
            if let Some(t) = task {
                q.append_pair("task", t);
            }
            if *unread_only {
                q.append_pair("unread_only", "true");
            }
            if let Some(l) = limit {
                q.append_pair("limit", &l.to_string());
            }
            if let Some(c) = cursor {
                q.append_pair("cursor", c);
            }
            http.get(format!("{base}?{}", q.finish()))
        }
        MessagesCommand::Read {
            worker,
            unread_only,
            limit,
            cursor,
        } => http
            .post(format!("{base}/read"))
            .header("x-baton-worker", worker)
            .json(&json!({ "unread_only": unread_only, "limit": limit, "cursor": cursor })),
        MessagesCommand::Ack { id, worker } => http
            .post(format!("{base}/{id}/ack"))
            .header("x-baton-worker", worker)
            .json(&json!({})),
    };
    let res = req
        .send()
        .await
        .with_context(|| format!("cannot reach baton at {}", remote.url))?;
    let v = reply(res, remote.json).await?;
    if remote.json {
        println!("{v}");
        return Ok(());
    }
    match cmd {
        MessagesCommand::List { .. } | MessagesCommand::Read { .. } => {
            print_messages(v["messages"].as_array());
            if let Some(next) = v["next_cursor"].as_str() {
                println!("more: --cursor {next}");
            }
        }
        MessagesCommand::Send { .. } | MessagesCommand::Ack { .. } => {
            print_messages(Some(&vec![v]))
        }
    }
    Ok(())
}

/// `worker 'w'`, `task 't'` or `all`, from a message's `to`.
fn addressee(to: &Value) -> String {
    if let Some(w) = to["worker"].as_str() {
        format!("worker '{w}'")
    } else if let Some(t) = to["task"].as_str() {
        format!("task '{t}'")
    } else {
        "all".to_owned()
    }
}

fn print_messages(list: Option<&Vec<Value>>) {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(["id", "at", "from", "to", "subject", "body", "thread", "ack"]);
    for m in list.into_iter().flatten() {
        let ack = match (m["ack_required"].as_bool(), m["acknowledged"].as_bool()) {
            (Some(true), Some(true)) => "acknowledged",
            (Some(true), _) => "asked",
            _ => "",
        };
        t.add_row([
            s(&m["id"]),
            s(&m["at"]),
            s(&m["from"]),
            addressee(&m["to"]),
            s(&m["subject"]),
            s(&m["body"]),
            s(&m["thread"]),
            ack.to_owned(),
        ]);
    }
    println!("{t}");
}
