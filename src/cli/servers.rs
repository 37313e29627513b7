//! `baton servers …`: the downstream MCP servers of a running server.

use anyhow::{Context as _, Result};
use clap::Subcommand;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::{json, Value};

use super::{reply, s, Remote};

/// `baton servers <command>`.
#[derive(Subcommand)]
pub(crate) enum ServersCommand {
    /// Every server: state, breaker, tools, calls, latency.
    List,
    /// One server in detail, with its tools.
    Status {
        /// Server name.
        name: String,
    },
    /// Restart a server (its whole process group is terminated first).
    Restart {
        /// Server name.
        name: String,
    },
    /// Close a server's circuit breaker and clear its counts.
    Reset {
        /// Server name.
        name: String,
    },
}

/// Send `cmd` to the server `remote` names and print its answer (a table,
/// or JSON with `--json`). Errors: the server cannot be reached, or it
/// refused (its `{code}: {message}`).
pub(crate) async fn run(remote: Remote, cmd: ServersCommand) -> Result<()> {
    let http = &remote.credentials.client()?;
    let (url, as_json) = (remote.url.as_str(), remote.json);
    let base = format!("{}/api/v1/servers", url.trim_end_matches('/'));
    let req = match &cmd {
        ServersCommand::List => http.get(base.clone()),
        ServersCommand::Status { name } => http.get(format!("{base}/{name}")),
        ServersCommand::Restart { name } => http.post(format!("{base}/{name}/restart")),
        ServersCommand::Reset { name } => http.post(format!("{base}/{name}/reset")),
    };
    let res = req
        .send()
        .await
        .with_context(|| format!("cannot reach baton at {url}"))?;
    let v = reply(res, as_json).await?;
    let mut tools = None;
    if let ServersCommand::Status { name } = &cmd {
        let res = http
            .get(format!("{base}/{name}/tools"))
            .send()
            .await
            .with_context(|| format!("cannot reach baton at {url}"))?;
        tools = Some(
            res.json::<Value>()
                .await
                .context("baton sent a non-JSON reply")?,
        );
    }
    if as_json {
        let out = match tools {
            Some(t) => json!({ "server": v, "tools": t["tools"] }),
            None => v,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    match cmd {
        ServersCommand::List => {
            print_servers(
                v["servers"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            );
        }
        ServersCommand::Restart { name } => println!("{name}: restarting"),
        ServersCommand::Reset { name } => println!("{name}: breaker closed, counts cleared"),
        ServersCommand::Status { .. } => {
            print_servers(std::slice::from_ref(&v));
            if let Some(err) = v["last_error"].as_str() {
                println!("last error: {err}");
            }
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED).set_header([
                "gateway name",
                "tool",
                "idempotent",
                "description",
            ]);
            let list = tools.unwrap_or_default();
            for tool in list["tools"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                t.add_row([
                    s(&tool["name"]),
                    s(&tool["tool"]),
                    s(&tool["idempotent"]),
                    s(&tool["description"]),
                ]);
            }
            println!("{t}");
        }
    }
    Ok(())
}

fn print_servers(servers: &[Value]) {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header([
        "name",
        "transport",
        "state",
        "breaker",
        "tools",
        "restarts",
        "calls",
        "failed",
        "p50 ms",
        "p99 ms",
    ]);
    for sv in servers {
        t.add_row([
            s(&sv["name"]),
            s(&sv["transport"]),
            s(&sv["state"]),
            s(&sv["breaker"]["state"]),
            s(&sv["tools"]),
            s(&sv["restarts"]),
            s(&sv["calls"]),
            s(&sv["failed_calls"]),
            s(&sv["latency"]["p50_ms"]),
            s(&sv["latency"]["p99_ms"]),
        ]);
    }
    println!("{t}");
}
