//! `baton reservations …`: path reservations on a running server over REST
//! (`/api/v1/reservations`), printed as tables (or JSON with `--json`).
//! The worker is `--worker`, else `BATON_WORKER`, sent as `X-Baton-Worker`.

use anyhow::{Context as _, Result};
use clap::Subcommand;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::{json, Value};

use super::{reply, s, Remote};

/// `baton reservations <command>`.
#[derive(Subcommand)]
pub(crate) enum ReservationsCommand {
    /// The live reservations.
    List {
        /// Only this worker's.
        #[arg(long)]
        worker: Option<String>,
        /// Only those of this task's lease.
        #[arg(long)]
        task: Option<String>,
    },
    /// Reserve path patterns (globset globs over repository-relative paths).
    Reserve {
        /// Patterns (`src/api/**`, `Cargo.toml`).
        #[arg(required = true)]
        patterns: Vec<String>,
        /// The holder.
        #[arg(long, env = "BATON_WORKER")]
        worker: String,
        /// Shared instead of exclusive.
        #[arg(long)]
        shared: bool,
        /// Bind to this live lease of the worker.
        #[arg(long, conflicts_with = "ttl")]
        lease: Option<u64>,
        /// Lifetime in seconds (without --lease).
        #[arg(long, required_unless_present = "lease")]
        ttl: Option<u64>,
    },
    /// Renew a TTL reservation.
    Renew {
        /// Reservation id.
        id: String,
        /// The holder.
        #[arg(long, env = "BATON_WORKER")]
        worker: String,
    },
    /// Release a reservation.
    Release {
        /// Reservation id.
        id: String,
        /// The holder.
        #[arg(long, env = "BATON_WORKER")]
        worker: String,
    },
    /// Who holds these paths.
    Check {
        /// Repository-relative paths.
        #[arg(required = true)]
        paths: Vec<String>,
    },
}

/// Send `cmd` to the server `remote` names and print the answer.
pub(crate) async fn run(remote: Remote, cmd: ReservationsCommand) -> Result<()> {
    let http = remote.credentials.client()?;
    let base = format!("{}/api/v1/reservations", remote.url.trim_end_matches('/'));
    let req = match &cmd {
        ReservationsCommand::List { worker, task } => {
            let mut q = form_urlencoded::Serializer::new(String::new());
            if let Some(w) = worker {
                q.append_pair("worker", w);
            }
            if let Some(t) = task {
                q.append_pair("task", t);
            }
            http.get(format!("{base}?{}", q.finish()))
        }
        ReservationsCommand::Reserve {
            patterns,
            worker,
            shared,
            lease,
            ttl,
        } => http
            .post(&base)
            .header("x-baton-worker", worker)
            .json(&json!({
                "patterns": patterns,
                "mode": if *shared { "shared" } else { "exclusive" },
                "lease_id": lease,
                "ttl_secs": ttl,
            })),
        ReservationsCommand::Renew { id, worker } => http
            .post(format!("{base}/{id}/renew"))
            .header("x-baton-worker", worker)
            .json(&json!({})),
        ReservationsCommand::Release { id, worker } => http
            .delete(format!("{base}/{id}"))
            .header("x-baton-worker", worker),
        ReservationsCommand::Check { paths } => http
            .post(format!("{base}/check"))
            .json(&json!({ "paths": paths })),
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
        ReservationsCommand::List { .. } => print_reservations(v["reservations"].as_array()),
        ReservationsCommand::Check { .. } => {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED);
            t.set_header(["path", "held by"]);
            for p in v["paths"].as_array().into_iter().flatten() {
                let holders: Vec<String> = p["holders"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(holder)
                    .collect();
                let held = if holders.is_empty() {
                    "free".to_owned()
                } else {
                    holders.join("; ")
                };
                t.add_row([s(&p["path"]), held]);
            }
            println!("{t}");
        }
        _ => print_reservations(Some(&vec![v])),
    }
    Ok(())
}

/// `worker 'alice' (exclusive, task 'api', until …)`.
pub(crate) fn holder(r: &Value) -> String {
    let mut out = format!("worker '{}' ({}", s(&r["worker"]), s(&r["mode"]));
    if !r["task_id"].is_null() {
        out.push_str(&format!(", task '{}'", s(&r["task_id"])));
    }
    out.push_str(&format!(
        ", reservation {}, until {})",
        s(&r["id"]),
        s(&r["expires_at"])
    ));
    out
}

fn print_reservations(list: Option<&Vec<Value>>) {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "id",
        "worker",
        "mode",
        "patterns",
        "task",
        "lease",
        "expires_at",
    ]);
    for r in list.into_iter().flatten() {
        let pats: Vec<String> = r["patterns"]
            .as_array()
            .into_iter()
            .flatten()
            .map(s)
            .collect();
        t.add_row([
            s(&r["id"]),
            s(&r["worker"]),
            s(&r["mode"]),
            pats.join(", "),
            s(&r["task_id"]),
            s(&r["lease_id"]),
            s(&r["expires_at"]),
        ]);
    }
    println!("{t}");
}
