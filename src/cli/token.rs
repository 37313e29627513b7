//! `baton token …`: access tokens in a stopped server's store (how the
//! first admin token is made) or on a running server (`--url`, with an
//! admin token).

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use baton::Settings;
use clap::Subcommand;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::{json, Value};

use super::{reply, s, Credentials};

/// `baton token <command>`.
#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token; prints its secret once, on the last line of stdout.
    Create {
        /// Unique name (letters, digits, . _ -): the actor in the audit log.
        #[arg(long)]
        name: String,
        /// viewer, agent or admin.
        #[arg(long, value_parser = ["viewer", "agent", "admin"])]
        role: String,
        #[command(flatten)]
        target: TokenTarget,
    },
    /// List tokens (names, roles, creation; never secrets).
    List {
        #[command(flatten)]
        target: TokenTarget,
    },
    /// Revoke a token: refused from its next request on.
    Revoke {
        /// Token name.
        name: String,
        #[command(flatten)]
        target: TokenTarget,
    },
}

/// Where tokens live: a data directory (no server running on it) or a running server.
#[derive(clap::Args)]
pub(crate) struct TokenTarget {
    /// Data directory of a stopped server (takes precedence over --url / BATON_URL).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// PostgreSQL database of a stopped server (`postgres://…`; how the first
    /// admin token is made for `[storage] backend = "postgres"`).
    #[arg(long, conflicts_with = "data_dir")]
    storage_url: Option<String>,
    /// TOML config file (with --data-dir or --storage-url: the storage settings).
    #[arg(long, env = "BATON_CONFIG")]
    config: Option<PathBuf>,
    /// A running server (needs an admin --token).
    #[arg(long, env = "BATON_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    #[command(flatten)]
    credentials: Credentials,
    /// Print raw JSON.
    #[arg(long)]
    json: bool,
}

/// Run `cmd` on a stopped server's store (`--data-dir`, `--storage-url`)
/// or on the running server at `--url`, and print the result.
pub(crate) async fn run(cmd: TokenCommand) -> Result<()> {
    let (TokenCommand::Create { target, .. }
    | TokenCommand::List { target }
    | TokenCommand::Revoke { target, .. }) = &cmd;
    if target.data_dir.is_some() || target.storage_url.is_some() {
        return token_offline(&cmd, target).await;
    }
    let http = target.credentials.client()?;
    let base = format!("{}/api/v1/tokens", target.url.trim_end_matches('/'));
    let req = match &cmd {
        TokenCommand::Create { name, role, .. } => {
            http.post(&base).json(&json!({"name": name, "role": role}))
        }
        TokenCommand::List { .. } => http.get(&base),
        TokenCommand::Revoke { name, .. } => http.delete(format!("{base}/{name}")),
    };
    let res = req
        .send()
        .await
        .with_context(|| format!("cannot reach baton at {}", target.url))?;
    let v = reply(res, target.json).await?;
    print_token_result(&cmd, &v, target.json)
}

/// Token operations on a data directory (the server must not be running on it).
async fn token_offline(cmd: &TokenCommand, target: &TokenTarget) -> Result<()> {
    let mut settings = Settings::load(target.config.as_deref())?;
    let place = match (&target.storage_url, &target.data_dir) {
        (Some(url), _) => {
            settings.storage.backend = baton::config::StorageBackend::Postgres;
            settings.storage.url = url.clone();
            "the PostgreSQL database".to_owned()
        }
        (None, Some(dir)) => {
            // the configured embedded engine for a new directory (one that
            // holds a board keeps its own); redb when postgres is configured
            if !settings.storage.backend.is_embedded() {
                settings.storage.backend = baton::config::StorageBackend::Redb;
            }
            settings.storage.data_dir = dir.clone();
            dir.display().to_string()
        }
        (None, None) => anyhow::bail!("give --data-dir or --storage-url"),
    };
    let store = baton::store::Store::open_with(&settings.storage).with_context(|| {
        format!(
            "cannot open {place} (if a baton server is running on it, use --url with an admin --token instead)"
        )
    })?;
    let tokens = baton::auth::Tokens::load(store.clone())?;
    let result: Result<Value> = async {
        Ok(match cmd {
            TokenCommand::Create { name, role, .. } => {
                let role = baton::model::Role::parse(role)
                    .context("role must be viewer, agent or admin")?;
                serde_json::to_value(tokens.create(name, role, None).await?)?
            }
            TokenCommand::List { .. } => json!({ "tokens": tokens.list() }),
            TokenCommand::Revoke { name, .. } => serde_json::to_value(tokens.revoke(name).await?)?,
        })
    }
    .await;
    store.close()?;
    let (TokenCommand::Create { target, .. }
    | TokenCommand::List { target }
    | TokenCommand::Revoke { target, .. }) = cmd;
    print_token_result(cmd, &result?, target.json)
}

fn print_token_result(cmd: &TokenCommand, v: &Value, as_json: bool) -> Result<()> {
    if as_json {
        println!("{}", serde_json::to_string_pretty(v)?);
        return Ok(());
    }
    match cmd {
        TokenCommand::Create { .. } => {
            eprintln!(
                "created token '{}' (role {}); its secret is shown only now, keep it safe:",
                s(&v["name"]),
                s(&v["role"])
            );
            // the secret alone, on the last line of stdout
            println!("{}", s(&v["secret"]));
        }
        TokenCommand::List { .. } => {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED).set_header([
                "name",
                "role",
                "created",
                "created by",
            ]);
            for tok in v["tokens"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                t.add_row([
                    s(&tok["name"]),
                    s(&tok["role"]),
                    s(&tok["created_at"]),
                    s(&tok["created_by"]),
                ]);
            }
            println!("{t}");
        }
        TokenCommand::Revoke { name, .. } => println!("revoked token '{name}'"),
    }
    Ok(())
}
