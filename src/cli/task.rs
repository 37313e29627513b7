//! `baton task …`: tasks on a running server over REST, printed as tables
//! (or JSON with `--json`).

use anyhow::{Context as _, Result};
use clap::Subcommand;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
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
        /// Make it a subtask of this task (which then waits for it).
        #[arg(long)]
        parent: Option<String>,
        /// Not before this time (RFC 3339, e.g. 2030-01-01T02:00:00Z).
        #[arg(long, conflicts_with = "delay_secs")]
        run_after: Option<String>,
        /// Not before this many seconds from now.
        #[arg(long)]
        delay_secs: Option<u64>,
    },
    /// Split a task into subtasks (one atomic batch): the task waits for
    /// them and is done when they are. To split a task you hold, pass its
    /// lease: the lease ends and you may claim a subtask.
    Subtasks {
        /// The parent task's id.
        id: String,
        /// One title per subtask (ids are generated).
        #[arg(required = true)]
        titles: Vec<String>,
        /// Your lease id, when you hold the task.
        #[arg(long)]
        lease: Option<u64>,
    },
    /// List tasks.
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
        /// Retry not before this many seconds from now.
        #[arg(long)]
        retry_after_secs: Option<u64>,
    },
}

/// Send `cmd` to the server `remote` names and print its answer (a table,
/// or JSON with `--json`). Errors: the server cannot be reached, or it
/// refused (its `{code}: {message}`).
pub(crate) async fn run(remote: Remote, cmd: TaskCommand) -> Result<()> {
    let http = &remote.credentials.client()?;
    let (url, as_json) = (remote.url.as_str(), remote.json);
    let base = format!("{}/api/v1", url.trim_end_matches('/'));
    let (method, path, body) = match &cmd {
        TaskCommand::Add {
            title,
            id,
            description,
            deps,
            tags,
            priority,
            payload,
            parent,
            run_after,
            delay_secs,
        } => {
            let payload: Option<Value> = match payload {
                Some(p) => Some(serde_json::from_str(p).context("--payload must be JSON")?),
                None => None,
            };
            let body = json!({"title": title, "id": id, "description": description, "dependencies": deps,
                "tags": tags, "priority": priority, "payload": payload, "parent": parent,
                "run_after": run_after, "delay_secs": delay_secs});
            (reqwest::Method::POST, "/tasks".to_owned(), Some(body))
        }
        TaskCommand::Subtasks { id, titles, lease } => {
            let tasks: Vec<Value> = titles.iter().map(|t| json!({ "title": t })).collect();
            (
                reqwest::Method::POST,
                format!("/tasks/{id}/subtasks"),
                Some(json!({ "tasks": tasks, "lease_id": lease })),
            )
        }
        TaskCommand::List {
            status,
            tag,
            worker,
            limit,
        } => {
            let mut q = vec![format!("limit={limit}")];
            for (k, v) in [("status", status), ("tag", tag), ("worker", worker)] {
                if let Some(v) = v {
                    q.push(format!("{k}={v}"));
                }
            }
            (
                reqwest::Method::GET,
                format!("/tasks?{}", q.join("&")),
                None,
            )
        }
        TaskCommand::Show { id } => (reqwest::Method::GET, format!("/tasks/{id}"), None),
        TaskCommand::ClaimNext { worker, tags } => (
            reqwest::Method::POST,
            "/tasks/claim-next".to_owned(),
            Some(json!({"worker": worker, "tags": tags})),
        ),
        TaskCommand::Complete { id, lease, output } => {
            let output = output
                .as_ref()
                .map(|o| serde_json::from_str(o).unwrap_or_else(|_| Value::String(o.clone())));
            (
                reqwest::Method::POST,
                format!("/tasks/{id}/complete"),
                Some(json!({"lease_id": lease, "output": output})),
            )
        }
        TaskCommand::Fail {
            id,
            lease,
            error,
            no_retry,
            retry_after_secs,
        } => (
            reqwest::Method::POST,
            format!("/tasks/{id}/fail"),
            Some(
                json!({"lease_id": lease, "error": error, "retry": !no_retry, "retry_after_secs": retry_after_secs}),
            ),
        ),
    };
    let mut req = http.request(method, format!("{base}{path}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req
        .send()
        .await
        .with_context(|| format!("cannot reach baton at {url}"))?;
    let status = res.status();
    if status == reqwest::StatusCode::NO_CONTENT {
        if as_json {
            println!("null");
        } else {
            println!("nothing is ready");
        }
        return Ok(());
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
                println!("(more: next cursor {c})");
            }
        }
        TaskCommand::Show { id } => {
            print_tasks(std::slice::from_ref(&v));
            let events: Value = http
                .get(format!("{base}/tasks/{id}/events"))
                .send()
                .await?
                .json()
                .await?;
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
        TaskCommand::Subtasks { .. } => {
            print_tasks(std::slice::from_ref(&v["parent"]));
            print_tasks(v["tasks"].as_array().map(Vec::as_slice).unwrap_or_default());
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
        _ => print_tasks(std::slice::from_ref(&v)),
    }
    Ok(())
}

fn print_tasks(tasks: &[Value]) {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header([
        "id", "parent", "status", "prio", "title", "deps", "worker", "attempts", "updated",
    ]);
    for task in tasks {
        let deps = task["dependencies"]
            .as_array()
            .map(|d| d.iter().map(s).collect::<Vec<_>>().join(","))
            .unwrap_or_default();
        // a parent waiting for its subtasks, a task waiting for its time: say so
        let status = match task["blocked_reason"].as_str() {
            Some(why) => format!("{} ({why})", s(&task["status"])),
            None => s(&task["status"]),
        };
        t.add_row([
            s(&task["id"]),
            s(&task["parent"]),
            status,
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
