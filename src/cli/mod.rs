//! The `baton` binary's subcommands other than `serve`: clients of a
//! running server over REST (`task`, `servers`, `token --url`, `backup`),
//! offline tools on a stopped server's store (`token --data-dir`,
//! `restore`) and the `mcp-stdio` glue. Part of the binary, not the
//! library: errors are `anyhow`, answers are printed.
//!
//! | file | subcommand |
//! |---|---|
//! | `task.rs` | `baton task add/list/show/claim-next/heartbeat/complete/fail/release/reset/cancel/delete`, `baton task context list/get/set` |
//! | `servers.rs` | `baton servers list/status/restart/reset` |
//! | `token.rs` | `baton token create/list/revoke` (online or offline) |
//! | `backup.rs` | `baton backup`, `baton restore` |
//! | `mcp_stdio.rs` | `baton mcp-stdio` (bridge or in-process) |
//! | `hooks.rs` | `baton hooks install/uninstall/run` (Claude Code's hooks and MCP entry) |
//! | `hooks_merge.rs` | the JSON edits of `hooks install` and their undoing |
//! | `reservations.rs` | `baton reservations list/reserve/renew/release/check` |
//! | `guard.rs` | `baton guard pre-commit/install`: the git guard |
//! | `signals.rs` | `baton serve`'s stop signals and `SIGHUP` (reload the server file) |
//! | `messages.rs` | `baton messages send/list/read/ack` |

pub(crate) mod backup;
pub(crate) mod guard;
pub(crate) mod hooks;
mod hooks_merge;
pub(crate) mod mcp_stdio;
pub(crate) mod messages;
pub(crate) mod reservations;
pub(crate) mod servers;
pub(crate) mod signals;
pub(crate) mod task;
pub(crate) mod token;

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use serde_json::Value;

/// How the CLI authenticates to a running server.
#[derive(clap::Args, Clone)]
pub(crate) struct Credentials {
    /// Bearer token (an access token's secret, or a JWT).
    #[arg(long, env = "BATON_TOKEN", global = true, hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// PEM file of a CA certificate to trust for https:// (besides the system's).
    #[arg(long, env = "BATON_CA_CERT", global = true)]
    pub(crate) ca_cert: Option<PathBuf>,
}

impl Credentials {
    /// An HTTP client that sends the token and trusts the CA.
    pub(crate) fn client(&self) -> Result<reqwest::Client> {
        let mut b = reqwest::Client::builder();
        // an empty BATON_TOKEN means no token, not an empty bearer
        if let Some(t) = self.token.as_deref().filter(|t| !t.trim().is_empty()) {
            let mut headers = reqwest::header::HeaderMap::new();
            let mut v = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", t.trim()))
                .context("--token contains characters a header cannot carry")?;
            v.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, v);
            b = b.default_headers(headers);
        }
        if let Some(ca) = &self.ca_cert {
            let pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("{} is not a PEM certificate", ca.display()))?
            {
                b = b.add_root_certificate(cert);
            }
        }
        b.build().context("cannot build the HTTP client")
    }
}

/// Where the running server is and how to print its answers.
#[derive(clap::Args)]
pub(crate) struct Remote {
    /// Server URL.
    #[arg(
        long,
        env = "BATON_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub(crate) url: String,
    /// Print raw JSON instead of tables.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) credentials: Credentials,
}

/// A reply's JSON body; an error status becomes an error carrying baton's
/// `{error: {code, message}}` (also printed as is with `--json`).
pub(crate) async fn reply(res: reqwest::Response, as_json: bool) -> Result<Value> {
    let status = res.status();
    let v: Value = res.json().await.context("baton sent a non-JSON reply")?;
    if !status.is_success() {
        let msg = v["error"]["message"].as_str().unwrap_or("request failed");
        let code = v["error"]["code"].as_str().unwrap_or("error");
        if as_json {
            println!("{v}");
        }
        bail!("{code}: {msg} (HTTP {status})");
    }
    Ok(v)
}

/// A JSON value as a table cell: strings without quotes, null empty.
pub(crate) fn s(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
