//! The `baton` binary: `baton serve` runs a node ([`baton::serve::run`]);
//! the other subcommands (`task`, `servers`, `reservations`, `messages`,
//! `guard`, `token`, `backup`, `restore`, `mcp-stdio`, `hooks`) live in
//! [`cli`]. Only argument parsing, tracing, signal handlers (stop: `SIGTERM`,
//! `SIGINT`, `SIGQUIT`; reload the server file: `SIGHUP`) and wiring live here.

mod cli;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use baton::config::LogFormat;
use baton::Settings;
use clap::{Parser, Subcommand};

/// mimalloc: under load glibc malloc (cross-thread frees between actors and
/// the committer) cost about a fifth of all CPU. The `system-allocator`
/// feature leaves it out, for heap profilers that hook malloc.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "baton",
    version,
    about = "A durable, shared task board for AI agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (REST under /api/v1, /metrics, /healthz).
    Serve {
        /// TOML config file (see config/default.toml).
        #[arg(long, env = "BATON_CONFIG")]
        config: Option<PathBuf>,
        /// Listen address (default 127.0.0.1:8080); overrides the config.
        #[arg(long)]
        bind: Option<SocketAddr>,
        /// Data directory (default ./data); overrides the config.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Downstream MCP servers in the .mcp.json format; overrides `[pool] mcp_servers`.
        #[arg(long)]
        mcp_servers: Option<PathBuf>,
        /// Listen beyond loopback without requiring authentication (only behind a firewall
        /// or an authenticating proxy you trust).
        #[arg(long)]
        insecure_no_auth: bool,
    },
    /// MCP over stdin/stdout for stdio-only clients.
    McpStdio {
        /// Bridge to a running baton's MCP endpoint (e.g. http://127.0.0.1:8080/mcp).
        #[arg(
            long,
            conflicts_with = "data_dir",
            required_unless_present = "data_dir"
        )]
        url: Option<String>,
        #[command(flatten)]
        credentials: cli::Credentials,
        /// No server running: serve an in-process runtime over this data directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// TOML config file (in-process mode).
        #[arg(long, env = "BATON_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Work with tasks on a running server.
    Task {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(subcommand)]
        command: cli::task::TaskCommand,
    },
    /// Path reservations on a running server.
    Reservations {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(subcommand)]
        command: cli::reservations::ReservationsCommand,
    },
    /// Messages between workers, tasks and operators on a running server.
    Messages {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(subcommand)]
        command: cli::messages::MessagesCommand,
    },
    /// The git guard: refuse commits of paths another worker reserved.
    Guard {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(subcommand)]
        command: cli::guard::GuardCommand,
    },
    /// Downstream MCP servers of a running server.
    Servers {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(subcommand)]
        command: cli::servers::ServersCommand,
    },
    /// Claude Code's hooks and MCP entry: install into a project's (or your
    /// user's) settings, uninstall exactly what was installed, or forward one
    /// hook event from stdin (`run`).
    Hooks {
        #[command(subcommand)]
        command: cli::hooks::HooksCommand,
    },
    /// Access tokens: in a data directory (server stopped; how the first admin
    /// token is made) or on a running server (`--url`, with an admin token).
    Token {
        #[command(subcommand)]
        command: cli::token::TokenCommand,
    },
    /// Save a consistent snapshot of a running server's board (JSON Lines,
    /// needs an admin --token). The file appears under --out only once it is
    /// complete and checked.
    Backup {
        /// Server URL.
        #[arg(long, env = "BATON_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// File to write (replaced if it exists).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        credentials: cli::Credentials,
    },
    /// Load a backup into an empty data directory (the server must not be
    /// running on it). Refuses a directory that already holds a board, and a
    /// backup that is cut short or not a baton backup.
    Restore {
        /// Backup file (from `baton backup`).
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        /// Data directory to restore into (created if missing).
        #[arg(
            long,
            required_unless_present = "storage_url",
            conflicts_with = "storage_url"
        )]
        data_dir: Option<PathBuf>,
        /// PostgreSQL database to restore into instead
        /// (`postgres://user:password@host:port/database`); its schema is created.
        #[arg(long, env = "BATON_STORAGE__URL")]
        storage_url: Option<String>,
        /// TOML config file (its storage settings).
        #[arg(long, env = "BATON_CONFIG")]
        config: Option<PathBuf>,
    },
}

/// The process-wide tracing subscriber: `RUST_LOG` when set, else
/// `[log] filter`; text or JSON (`[log] format`) on stderr.
fn init_tracing(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log.filter));
    // colour only for a person at a terminal: a file, a pipe or a journal
    // gets plain text, never escape codes
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match settings.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

#[actix_web::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            bind,
            data_dir,
            mcp_servers,
            insecure_no_auth,
        } => serve(config, bind, data_dir, mcp_servers, insecure_no_auth).await,
        Command::Task { remote, command } => cli::task::run(remote, command).await,
        Command::Servers { remote, command } => cli::servers::run(remote, command).await,
        Command::Reservations { remote, command } => cli::reservations::run(remote, command).await,
        Command::Messages { remote, command } => cli::messages::run(remote, command).await,
        Command::Guard { remote, command } => {
            let code = cli::guard::run(remote, command).await?;
            std::process::exit(code)
        }
        Command::McpStdio {
            url,
            credentials,
            data_dir,
            config,
        } => {
            let settings = Settings::load(config.as_deref())?;
            init_tracing(&settings);
            cli::mcp_stdio::run(settings, url, &credentials, data_dir).await
        }
        Command::Token { command } => cli::token::run(command).await,
        Command::Hooks { command } => cli::hooks::run(command).await,
        Command::Backup {
            url,
            out,
            credentials,
        } => cli::backup::backup(&url, &out, &credentials).await,
        Command::Restore {
            input,
            data_dir,
            storage_url,
            config,
        } => cli::backup::restore(&input, data_dir, storage_url, config.as_deref()),
    }
}

/// `baton serve`: the settings with the command line's overrides, the
/// socket bound, the stop signals installed, then [`baton::serve::Node::run`]
/// until a signal; `baton listening on <url>` on stdout once it listens.
async fn serve(
    config: Option<PathBuf>,
    bind: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    mcp_servers: Option<PathBuf>,
    insecure_no_auth: bool,
) -> Result<()> {
    let mut settings = Settings::load(config.as_deref())?;
    if let Some(b) = bind {
        settings.server.bind = b;
    }
    if let Some(f) = mcp_servers {
        settings.pool.mcp_servers = f;
    }
    if let Some(d) = data_dir {
        settings.storage.data_dir = d;
    }
    init_tracing(&settings);
    let addr = settings.server.bind;
    baton::serve::check_exposure(&settings, addr, insecure_no_auth)?;
    // Bind first: a taken port fails before any state is opened.
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let signals = cli::signals::StopSignals::register()?;
    let reloads = cli::signals::reload_on_sighup()?;
    baton::serve::Node::new(settings, listener)
        .insecure_no_auth(insecure_no_auth)
        .reload_on(reloads)
        // A stable line on stdout for scripts and tests that bind port 0.
        .on_listening(|l| println!("baton listening on {}", l.url()))
        .run(signals.next())
        .await?;
    Ok(())
}
