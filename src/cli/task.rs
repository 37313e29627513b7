//! `baton task …`: tasks on a running server over REST, printed as tables
//! (or JSON with `--json`). Every command is one REST call (`show` two),
//! made with the `--url`, `--token` and `--ca-cert` of [`Remote`]; ids and
//! context keys are percent-encoded into the path.

use anyhow::{anyhow, Context as _, Result};
use clap::Subcommand;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use reqwest::Method;
use serde_json::{json, Value};

use super::{reply, s, Remote};

/// `baton task <command>`.
#[derive(Subcommand)]
pub(crate) enum TaskCommand {
    /// Add a task.
    Add {
        /// Title.
        title: String,
        /// Id (generated when omitted).
        #[arg(long)]
        id: Option<String>,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Dependency ids (repeat or comma-separate).
        #[arg(long = "dep", value_delimiter = ',')]
        deps: Vec<String>,
        /// Tags (repeat or comma-separate).
        #[arg(long = "tag", value_delimiter = ',')]
        tags: Vec<String>,
        /// Priority (higher first).
        #[arg(long)]
        priority: Option<i32>,
        /// JSON payload.
        #[arg(long)]
        payload: Option<String>,
    },
    /// List tasks, a page at a time.
    List {
        /// Filter by status.
        #[arg(long)]
        status: Option<String>,
        /// Filter by tag.
        #[arg(long)]
        tag: Option<String>,
        /// Filter by worker.
        #[arg(long)]
        worker: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Start after this cursor (the `next_cursor` a previous page gave).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show one task with its audit log.
    Show {
        /// Task id.
        id: String,
    },
    /// Claim the next ready task.
    ClaimNext {
        /// Worker name.
        #[arg(long)]
        worker: String,
        /// Only tasks with these tags.
        #[arg(long = "tag", value_delimiter = ',')]
        tags: Vec<String>,
    },
    /// Extend a task's lease by the server's lease TTL.
    Heartbeat {
        /// Task id.
        id: String,
        /// Lease id from the claim.
        #[arg(long)]
        lease: u64,
    },
    /// Complete a task under its lease.
    Complete {
        /// Task id.
        id: String,
        /// Lease id from the claim.
        #[arg(long)]
        lease: u64,
        /// Output (JSON, or a plain string).
        #[arg(long)]
        output: Option<String>,
    },
    /// Fail a task's attempt under its lease.
    Fail {
        /// Task id.
        id: String,
        /// Lease id from the claim.
        #[arg(long)]
        lease: u64,
        /// Error message.
        #[arg(long)]
        error: String,
        /// Fail for good instead of retrying.
        #[arg(long)]
        no_retry: bool,
    },
    /// Give a claimed task back: ready again, the attempt not counted.
    Release {
        /// Task id.
        id: String,
        /// Lease id from the claim.
        #[arg(long)]
        lease: u64,
    },
    /// Reset a failed task (and its failed dependents) to run again.
    Reset {
        /// Task id.
        id: String,
    },
    /// Cancel a task that has not finished, and its pending dependents (admin).
    Cancel {
        /// Task id.
        id: String,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Delete a finished task with its audit log and context (admin).
    Delete {
        /// Task id.
        id: String,
    },
    /// A task's context: key/values its worker records.
    #[command(subcommand)]
    Context(ContextCommand),
}

/// `baton task context <command>`.
#[derive(Subcommand)]
pub(crate) enum ContextCommand {
    /// Every context key of a task with its value.
    List {
        /// Task id.
        id: String,
    },
    /// One context value.
    Get {
        /// Task id.
        id: String,
        /// Key.
        key: String,
    },
    /// Write one context key of a running task under its lease.
    Set {
        /// Task id.
        id: String,
        /// Key.
        key: String,
        /// Value (JSON, or a plain string).
        value: String,
        /// Lease id from the claim.
        #[arg(long)]
        lease: u64,
    },
}

/// One REST call: method, path segments below `/api/v1`, query, body.
struct Call {
    method: Method,
    path: Vec<String>,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
}

impl Call {
    fn new(method: Method, path: &[&str]) -> Self {
        Self {
            method,
            path: path.iter().map(|p| (*p).to_owned()).collect(),
            query: Vec::new(),
            body: None,
        }
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// The URL below `base` (`…/api/v1`), each path segment percent-encoded.
    fn url(&self, base: &str) -> Result<reqwest::Url> {
        let mut url = reqwest::Url::parse(base).with_context(|| format!("bad --url {base}"))?;
        url.path_segments_mut()
            .map_err(|()| anyhow!("--url {base} cannot have a path"))?
            .pop_if_empty()
            .extend(&self.path);
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        Ok(url)
    }
}

/// A JSON argument, or the plain string when it is not JSON.
fn json_or_string(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned()))
}

/// The REST call `cmd` makes.
fn call(cmd: &TaskCommand) -> Result<Call> {
    use Method as M;
    let lease = |lease: &u64| json!({ "lease_id": lease });
    Ok(match cmd {
        TaskCommand::Add {
            title,
            id,
            description,
            deps,
            tags,
            priority,
            payload,
        } => {
            let payload: Option<Value> = match payload {
                Some(p) => Some(serde_json::from_str(p).context("--payload must be JSON")?),
                None => None,
            };
            Call::new(M::POST, &["tasks"]).body(json!({"title": title, "id": id,
                "description": description, "dependencies": deps, "tags": tags,
                "priority": priority, "payload": payload}))
        }
        TaskCommand::List {
            status,
            tag,
            worker,
            limit,
            cursor,
        } => {
            let mut c = Call::new(M::GET, &["tasks"]);
            c.query.push(("limit", limit.to_string()));
            for (k, v) in [
                ("status", status),
                ("tag", tag),
                ("worker", worker),
                ("cursor", cursor),
            ] {
                if let Some(v) = v {
                    c.query.push((k, v.clone()));
                }
            }
            c
        }
        TaskCommand::Show { id } => Call::new(M::GET, &["tasks", id]),
        TaskCommand::ClaimNext { worker, tags } => Call::new(M::POST, &["tasks", "claim-next"])
            .body(json!({"worker": worker, "tags": tags})),
        TaskCommand::Heartbeat { id, lease: l } => {
            Call::new(M::POST, &["tasks", id, "heartbeat"]).body(lease(l))
        }
        TaskCommand::Complete {
            id,
            lease: l,
            output,
        } => Call::new(M::POST, &["tasks", id, "complete"])
            .body(json!({"lease_id": l, "output": output.as_deref().map(json_or_string)})),
        TaskCommand::Fail {
            id,
            lease: l,
            error,
            no_retry,
        } => Call::new(M::POST, &["tasks", id, "fail"])
            .body(json!({"lease_id": l, "error": error, "retry": !no_retry})),
        TaskCommand::Release { id, lease: l } => {
            Call::new(M::POST, &["tasks", id, "release"]).body(lease(l))
        }
        TaskCommand::Reset { id } => Call::new(M::POST, &["tasks", id, "reset"]),
        TaskCommand::Cancel { id, reason } => {
            Call::new(M::POST, &["tasks", id, "cancel"]).body(json!({ "reason": reason }))
        }
        TaskCommand::Delete { id } => Call::new(M::DELETE, &["tasks", id]),
        TaskCommand::Context(ContextCommand::List { id }) => {
            Call::new(M::GET, &["tasks", id, "context"])
        }
        TaskCommand::Context(ContextCommand::Get { id, key }) => {
            Call::new(M::GET, &["tasks", id, "context", key])
        }
        TaskCommand::Context(ContextCommand::Set {
            id,
            key,
            value,
            lease: l,
        }) => Call::new(M::PUT, &["tasks", id, "context", key])
            .body(json!({"lease_id": l, "value": json_or_string(value)})),
    })
}

/// Send `cmd` to the server `remote` names and print its answer (a table,
/// or JSON with `--json`). Errors: the server cannot be reached, or it
/// refused (its `{code}: {message}`).
pub(crate) async fn run(remote: Remote, cmd: TaskCommand) -> Result<()> {
    let http = &remote.credentials.client()?;
    let (url, as_json) = (remote.url.as_str(), remote.json);
    let base = format!("{}/api/v1", url.trim_end_matches('/'));
    let c = call(&cmd)?;
    let mut req = http.request(c.method.clone(), c.url(&base)?);
    if let Some(b) = &c.body {
        req = req.json(b);
    }
    let res = req
        .send()
        .await
        .with_context(|| format!("cannot reach baton at {url}"))?;
    if res.status() == reqwest::StatusCode::NO_CONTENT {
        return print_no_content(&cmd, as_json);
    }
    let v = reply(res, as_json).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    match cmd {
        TaskCommand::List { .. } => {
            print_tasks(v["tasks"].as_array().map(Vec::as_slice).unwrap_or_default());
            if let Some(c) = v["next_cursor"].as_str() {
                println!("(more: add --cursor {c} for the next page)");
            }
        }
        TaskCommand::Show { id } => {
            print_tasks(std::slice::from_ref(&v));
            let events = Call::new(Method::GET, &["tasks", &id, "events"]);
            let events = reply(http.get(events.url(&base)?).send().await?, false).await?;
            print_events(&events);
        }
        TaskCommand::ClaimNext { .. } => {
            print_tasks(std::slice::from_ref(&v["task"]));
            println!(
                "lease {} (slot {}, expires {})",
                v["lease"]["lease_id"],
                v["lease"]["slot"],
                s(&v["lease"]["expires_at"])
            );
        }
        TaskCommand::Heartbeat { .. } => {
            print_tasks(std::slice::from_ref(&v));
            println!(
                "lease {} expires {}",
                v["lease"]["lease_id"],
                s(&v["lease"]["expires_at"])
            );
        }
        TaskCommand::Reset { .. } => {
            print_tasks(v["reset"].as_array().map(Vec::as_slice).unwrap_or_default());
        }
        TaskCommand::Context(ContextCommand::List { .. }) => {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED)
                .set_header(["key", "value"]);
            if let Some(ctx) = v["context"].as_object() {
                for (k, val) in ctx {
                    t.add_row([k.clone(), val.to_string()]);
                }
            }
            println!("{t}");
        }
        TaskCommand::Context(ContextCommand::Get { .. } | ContextCommand::Set { .. }) => {
            println!("{} = {}", s(&v["key"]), v["value"]);
        }
        _ => print_tasks(std::slice::from_ref(&v)),
    }
    Ok(())
}

/// A reply without a body: nothing was ready to claim, or a task was deleted.
fn print_no_content(cmd: &TaskCommand, as_json: bool) -> Result<()> {
    match (cmd, as_json) {
        (TaskCommand::Delete { id }, true) => println!("{}", json!({ "deleted": id })),
        (TaskCommand::Delete { id }, false) => println!("deleted {id}"),
        (_, true) => println!("null"),
        (_, false) => println!("nothing is ready"),
    }
    Ok(())
}

fn print_events(events: &Value) {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header([
        "event",
        "at",
        "kind",
        "worker",
        "from→to",
        "reason",
    ]);
    for e in events["events"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        t.add_row([
            e["id"].to_string(),
            s(&e["at"]),
            s(&e["kind"]),
            s(&e["worker"]),
            format!("{}→{}", s(&e["from"]), s(&e["to"])),
            s(&e["reason"]),
        ]);
    }
    println!("{t}");
}

fn print_tasks(tasks: &[Value]) {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header([
        "id", "status", "prio", "title", "deps", "worker", "attempts", "updated",
    ]);
    for task in tasks {
        let deps = task["dependencies"]
            .as_array()
            .map(|d| d.iter().map(s).collect::<Vec<_>>().join(","))
            .unwrap_or_default();
        t.add_row([
            s(&task["id"]),
            s(&task["status"]),
            s(&task["priority"]),
            s(&task["title"]),
            deps,
            s(&task["lease"]["worker"]),
            format!("{}/{}", s(&task["attempts"]), s(&task["max_attempts"])),
            s(&task["updated_at"]),
        ]);
    }
    println!("{t}");
}
