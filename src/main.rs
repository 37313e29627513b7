//! The `baton` binary: `baton serve` runs the server; `baton task …` talks to
//! a running server over REST. Only argument parsing and wiring live here.

use std::net::SocketAddr;
use std::path::PathBuf;

use actix_web::App;
use anyhow::{bail, Context as _, Result};
use baton::config::LogFormat;
use baton::{Runtime, Settings};
use clap::{Parser, Subcommand};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::{json, Value};

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
        credentials: Credentials,
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
        remote: Remote,
        #[command(subcommand)]
        command: TaskCommand,
    },
    /// Downstream MCP servers of a running server.
    Servers {
        #[command(flatten)]
        remote: Remote,
        #[command(subcommand)]
        command: ServersCommand,
    },
    /// Access tokens: in a data directory (server stopped; how the first admin
    /// token is made) or on a running server (`--url`, with an admin token).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
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
        credentials: Credentials,
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

/// How the CLI authenticates to a running server.
#[derive(clap::Args, Clone)]
struct Credentials {
    /// Bearer token (an access token's secret, or a JWT).
    #[arg(long, env = "BATON_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// PEM file of a CA certificate to trust for https:// (besides the system's).
    #[arg(long, env = "BATON_CA_CERT", global = true)]
    ca_cert: Option<PathBuf>,
}

impl Credentials {
    /// An HTTP client that sends the token and trusts the CA.
    fn client(&self) -> Result<reqwest::Client> {
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

#[derive(Subcommand)]
enum TokenCommand {
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
struct TokenTarget {
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

/// Where the running server is and how to print its answers.
#[derive(clap::Args)]
struct Remote {
    /// Server URL.
    #[arg(
        long,
        env = "BATON_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// Print raw JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    credentials: Credentials,
}

#[derive(Subcommand)]
enum ServersCommand {
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

#[derive(Subcommand)]
enum TaskCommand {
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
    },
}

fn init_tracing(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log.filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
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
        Command::Task { remote, command } => {
            let http = remote.credentials.client()?;
            task(&http, &remote.url, remote.json, command).await
        }
        Command::Servers { remote, command } => {
            let http = remote.credentials.client()?;
            servers(&http, &remote.url, remote.json, command).await
        }
        Command::McpStdio {
            url,
            credentials,
            data_dir,
            config,
        } => mcp_stdio(url, &credentials, data_dir, config).await,
        Command::Token { command } => token(command).await,
        Command::Backup {
            url,
            out,
            credentials,
        } => backup(&url, &out, &credentials).await,
        Command::Restore {
            input,
            data_dir,
            storage_url,
            config,
        } => restore(&input, data_dir, storage_url, config.as_deref()),
    }
}

/// `baton backup`: stream `GET /api/v1/admin/backup` into `<out>.partial`,
/// check it end to end, then rename it to `out`.
async fn backup(url: &str, out: &std::path::Path, credentials: &Credentials) -> Result<()> {
    use std::io::Write;
    let http = credentials.client()?;
    let endpoint = format!("{}/api/v1/admin/backup", url.trim_end_matches('/'));
    let mut res = http
        .get(&endpoint)
        .send()
        .await
        .with_context(|| format!("cannot reach baton at {url}"))?;
    if !res.status().is_success() {
        reply(res, false).await?;
        anyhow::bail!("the server refused the backup");
    }
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?,
    );
    let mut bytes = 0u64;
    while let Some(chunk) = res
        .chunk()
        .await
        .context("the backup stream broke off (nothing was written under --out)")?
    {
        bytes += chunk.len() as u64;
        file.write_all(&chunk)
            .with_context(|| format!("cannot write {}", partial.display()))?;
    }
    let file = file
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot write {}", partial.display()))?;
    file.sync_all()
        .with_context(|| format!("cannot write {}", partial.display()))?;
    let mut records = 0u64;
    let reader = std::io::BufReader::new(std::fs::File::open(&partial)?);
    let header = baton::store::backup::read_backup(reader, |_| {
        records += 1;
        Ok(())
    })
    .with_context(|| format!("the backup in {} is not complete", partial.display()))?;
    std::fs::rename(&partial, out)
        .with_context(|| format!("cannot rename {} to {}", partial.display(), out.display()))?;
    println!(
        "backup of {} records ({bytes} bytes, taken {}) written to {}",
        records,
        header.created_at,
        out.display()
    );
    Ok(())
}

/// `baton restore`: load a backup file into an empty data directory.
fn restore(
    input: &std::path::Path,
    data_dir: Option<PathBuf>,
    storage_url: Option<String>,
    config: Option<&std::path::Path>,
) -> Result<()> {
    let mut settings = Settings::load(config)?;
    let target = match (data_dir, storage_url) {
        (_, Some(url)) => {
            settings.storage.backend = baton::config::StorageBackend::Postgres;
            settings.storage.url = url;
            "the PostgreSQL database".to_owned()
        }
        (Some(dir), None) => {
            settings.storage.backend = baton::config::StorageBackend::Redb;
            let shown = dir.display().to_string();
            settings.storage.data_dir = dir;
            shown
        }
        (None, None) => anyhow::bail!("give --data-dir or --storage-url"),
    };
    let file =
        std::fs::File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
    let summary =
        baton::store::Store::restore_with(&settings.storage, std::io::BufReader::new(file))
            .with_context(|| format!("cannot restore {} into {target}", input.display()))?;
    println!(
        "restored {} tasks, {} events and {} other records into {target}",
        summary.tasks, summary.events, summary.other
    );
    Ok(())
}

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
    if !addr.ip().is_loopback() && !settings.auth.required {
        if !insecure_no_auth {
            bail!(
                "refusing to listen on {addr} without authentication: anyone who can reach it could \
                 change the board and run downstream tools.\n\
                 Create an admin token first:\n  \
                 baton token create --name admin --role admin --data-dir {}\n\
                 then start with auth required ([auth] required = true, or BATON_AUTH__REQUIRED=true).\n\
                 To listen without authentication anyway (behind a firewall or an authenticating proxy), \
                 pass --insecure-no-auth.",
                settings.storage.data_dir.display()
            );
        }
        tracing::warn!(%addr, "listening beyond loopback WITHOUT authentication (--insecure-no-auth)");
    }
    // Bind first: a taken port fails before any state is opened.
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let tls = if settings.server.tls() {
        Some(tls_config(
            &settings.server.tls_cert,
            &settings.server.tls_key,
        )?)
    } else {
        None
    };
    pin_loopback_to_port(&mut settings, listener.local_addr()?.port());
    if !addr.ip().is_loopback()
        && settings
            .server
            .allowed_hosts
            .iter()
            .all(|h| is_loopback_entry(h))
    {
        tracing::warn!(
            %addr,
            "[server] allowed_hosts accepts only loopback names: clients reaching this server by \
             another name or address get 403; add the names they use (or \"*\")"
        );
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let local = listener.local_addr()?;
    if settings.storage.backend == baton::config::StorageBackend::Postgres
        && settings.server.advertise_url.is_empty()
        && local.ip().is_unspecified()
    {
        // every node would be named http://0.0.0.0:<port>, pass for the
        // others and take the leadership from them in turn
        bail!(
            "with [storage] backend = \"postgres\" and --bind {addr}, set [server] advertise_url \
             (BATON_SERVER__ADVERTISE_URL) to the URL other nodes reach this one at, \
             e.g. http://10.0.0.5:{}",
            local.port()
        );
    }
    if settings.server.advertise_url.is_empty() {
        settings.server.advertise_url = format!("{scheme}://{local}");
    }
    accept_advertised_host(&mut settings);
    // the stop signals, for whichever server runs when they come
    let (stop_tx, stop) = tokio::sync::watch::channel(None);
    let signals = StopSignals::register()?;
    actix_web::rt::spawn(async move {
        let graceful = signals.next().await;
        let _ = stop_tx.send(Some(graceful));
    });
    let mut node = Node {
        settings,
        listener,
        tls,
        stop,
        announced: false,
    };
    if node.settings.storage.backend != baton::config::StorageBackend::Postgres {
        let runtime = Runtime::start(node.settings.clone())
            .await
            .with_context(|| {
                format!(
                    "cannot start baton on {}",
                    node.settings.storage.data_dir.display()
                )
            })?;
        node.lead(runtime, false).await?;
        return Ok(());
    }
    // several nodes on one database: follow until elected, lead until
    // stopped or deposed, then follow again
    let follower = baton::ha::proxy::Follower::new(&node.settings)?;
    let mut observer = baton::ha::Observer::new(&node.settings.storage.url)?;
    loop {
        let Some(runtime) = node.follow(&follower, &mut observer).await? else {
            return Ok(());
        };
        match node.lead(runtime, true).await? {
            Ended::Stopped => return Ok(()),
            Ended::SteppedDown => {
                tracing::warn!("stepped down: following the new leader");
            }
        }
    }
}

/// Accept the host of `[server] advertise_url` (followers' proxied
/// requests name it) unless `allowed_hosts` already does.
fn accept_advertised_host(settings: &mut Settings) {
    let url = &settings.server.advertise_url;
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    if let Some(a) = baton::auth::edge::parse_authority(authority) {
        if !baton::auth::edge::host_allowed(&a, &settings.server.allowed_hosts) {
            settings.server.allowed_hosts.push(authority.to_owned());
        }
    }
}

/// How a leader's time ended.
enum Ended {
    /// A stop signal: the process exits.
    Stopped,
    /// Another node took the database over (or the store failed): follow.
    SteppedDown,
}

/// One `baton serve` process: its settings, its bound socket (kept open
/// across the follower's and the leader's servers, so connections wait in
/// its backlog while one hands over to the other) and the stop signal.
struct Node {
    settings: Settings,
    listener: std::net::TcpListener,
    tls: Option<rustls::ServerConfig>,
    stop: tokio::sync::watch::Receiver<Option<bool>>,
    announced: bool,
}

impl Node {
    /// Start an HTTP server for `factory` on (a copy of) the socket.
    fn server<F, I, S, B>(
        &mut self,
        factory: F,
        workers: usize,
        shutdown_secs: u64,
    ) -> Result<actix_web::dev::Server>
    where
        F: Fn() -> I + Send + Clone + 'static,
        I: actix_service::IntoServiceFactory<S, actix_http::Request>,
        S: actix_web::dev::ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig>
            + 'static,
        S::Error: Into<actix_web::Error> + 'static,
        S::InitError: std::fmt::Debug,
        S::Response: Into<actix_web::dev::Response<B>> + 'static,
        <S::Service as actix_web::dev::Service<actix_http::Request>>::Future: 'static,
        S::Service: 'static,
        B: actix_web::body::MessageBody + 'static,
    {
        // socket options (TCP_NODELAY) are set in this one place
        let mut server = baton::runtime::http_server(factory)
            .shutdown_timeout(shutdown_secs)
            // signals are handled by `serve`: the streams end first, then the server stops
            .disable_signals();
        if workers > 0 {
            server = server.workers(workers);
        }
        let listener = self
            .listener
            .try_clone()
            .context("cannot share the bound socket")?;
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let server = match &self.tls {
            Some(cfg) => server.listen_rustls_0_23(listener, cfg.clone()),
            None => server.listen(listener),
        }
        .context("cannot serve on the bound socket")?;
        if !self.announced {
            self.announced = true;
            for a in server.addrs() {
                tracing::info!(addr = %a, scheme, auth_required = self.settings.auth.required, data_dir = %self.settings.storage.data_dir.display(), slots = self.settings.slots.count, "baton listening");
                // A stable line on stdout for scripts and tests that bind port 0.
                println!("baton listening on {scheme}://{a}");
            }
        }
        Ok(server.run())
    }

    /// Serve `runtime` until a stop signal (then shut it down) or, with
    /// `ha`, until this node is deposed or its store fails (then step down:
    /// the server stops, the runtime closes without writing).
    async fn lead(&mut self, runtime: Runtime, ha: bool) -> Result<Ended> {
        let mount = runtime.configure();
        let settings = self.settings.clone();
        let server = self.server(
            move || App::new().configure(mount.clone()),
            settings.server.workers,
            settings.server.shutdown_timeout_secs,
        )?;
        let handle = server.handle();
        let mut running = actix_web::rt::spawn(server);
        let mut check = tokio::time::interval(std::time::Duration::from_millis(100));
        let ended = loop {
            tokio::select! {
                r = &mut running => {
                    r.context("the HTTP server task")?.context("the HTTP server")?;
                    break Ended::Stopped;
                }
                _ = self.stop.changed() => {
                    let graceful = self.stop.borrow().unwrap_or(true);
                    // SSE streams and MCP sessions would hold a graceful stop open
                    // until its timeout: end them first; requests in flight still finish
                    runtime.close_streams();
                    handle.stop(graceful).await;
                    let _ = running.await;
                    break Ended::Stopped;
                }
                _ = check.tick(), if ha => {
                    let store = runtime.board().store();
                    if store.is_deposed() || store.is_failed() {
                        tracing::error!(
                            deposed = store.is_deposed(),
                            failure = store.failure().unwrap_or(""),
                            "this node stops leading"
                        );
                        runtime.close_streams();
                        handle.stop(false).await;
                        let _ = running.await;
                        break Ended::SteppedDown;
                    }
                }
            }
        };
        // The runtime's own shutdown (dispatcher, child processes, the store's
        // last flush) gets the same bound as the HTTP server's: a failed or
        // hung disk must not keep the process alive.
        let bound = std::time::Duration::from_secs(settings.server.shutdown_timeout_secs.max(1));
        let done = tokio::time::timeout(bound, runtime.shutdown()).await;
        match (ended, done) {
            (Ended::SteppedDown, Ok(Err(e))) => {
                // expected: a deposed store refuses its last flush
                tracing::warn!(error = %e, "the deposed runtime closed without its last flush");
                Ok(Ended::SteppedDown)
            }
            (Ended::SteppedDown, _) => Ok(Ended::SteppedDown),
            (Ended::Stopped, Ok(done)) => {
                done.context("baton shut down after a storage failure")?;
                Ok(Ended::Stopped)
            }
            (Ended::Stopped, Err(_)) => anyhow::bail!(
                "baton's shutdown did not finish within {} s (server.shutdown_timeout_secs)",
                bound.as_secs()
            ),
        }
    }

    /// Follow: answer `/healthz` and `/readyz` here and proxy everything
    /// else to the leader, looking at the leadership every
    /// [`baton::ha::poll_interval`]; when it is vacant (or this node's
    /// own, from before a restart), start the runtime, which takes it over.
    /// `None` after a stop signal.
    async fn follow(
        &mut self,
        follower: &std::sync::Arc<baton::ha::proxy::Follower>,
        observer: &mut baton::ha::Observer,
    ) -> Result<Option<Runtime>> {
        let mount = follower.configure();
        let server = self.server(move || App::new().configure(mount.clone()), 0, 1)?;
        let handle = server.handle();
        let mut running = actix_web::rt::spawn(server);
        let me = self.settings.server.advertise_url.clone();
        let failover = self.settings.ha.failover_timeout();
        let every = baton::ha::poll_interval(failover);
        let mut look = tokio::time::interval(every);
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut warned = false;
        loop {
            tokio::select! {
                r = &mut running => {
                    r.context("the follower's HTTP server task")?
                        .context("the follower's HTTP server")?;
                    anyhow::bail!("the follower's HTTP server stopped");
                }
                _ = self.stop.changed() => {
                    let graceful = self.stop.borrow().unwrap_or(true);
                    handle.stop(graceful).await;
                    let _ = running.await;
                    return Ok(None);
                }
                _ = look.tick() => {
                    let vacant = match observer.current_within(every.max(std::time::Duration::from_secs(1))).await {
                        Ok(Some(l)) if !l.vacant && l.holder != me => {
                            follower.set_leader(Some(l.advertise_url));
                            warned = false;
                            false
                        }
                        Ok(_) => true,
                        Err(e) => {
                            if !warned {
                                tracing::warn!(error = %e, "cannot read the leadership from PostgreSQL");
                                warned = true;
                            }
                            false
                        }
                    };
                    if !vacant {
                        continue;
                    }
                    follower.set_leader(None);
                    match Runtime::start_takeover(self.settings.clone()).await {
                        Ok(runtime) => {
                            tracing::info!(advertise_url = %me, "elected: this node leads");
                            handle.stop(true).await;
                            let _ = running.await;
                            return Ok(Some(runtime));
                        }
                        Err(e) => tracing::info!(error = %e, "could not take the leadership over"),
                    }
                }
            }
        }
    }
}

/// The signals that stop `baton serve`, with actix-web's meanings: `SIGTERM`
/// a graceful stop (in-flight requests finish within
/// `server.shutdown_timeout_secs`), `SIGINT` and `SIGQUIT` a forced one.
/// Either way the store's last flush still runs.
struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn register() -> Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
            quit: signal(SignalKind::quit()).context("cannot handle SIGQUIT")?,
        })
    }

    /// Wait for the first stop signal; whether the stop is graceful.
    async fn next(mut self) -> bool {
        tokio::select! {
            _ = self.term.recv() => {
                tracing::info!("SIGTERM received; starting graceful shutdown");
                true
            }
            _ = self.int.recv() => {
                tracing::info!("SIGINT received; starting forced shutdown");
                false
            }
            _ = self.quit.recv() => {
                tracing::info!("SIGQUIT received; starting forced shutdown");
                false
            }
        }
    }
}

fn is_loopback_entry(host: &str) -> bool {
    baton::auth::edge::parse_authority(host).is_some_and(|a| {
        a.host == "localhost"
            || a.host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

/// rustls server configuration from PEM files (aws-lc-rs provider, TLS 1.2 and 1.3).
fn tls_config(cert: &std::path::Path, key: &std::path::Path) -> Result<rustls::ServerConfig> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read the TLS certificate {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
    if chain.is_empty() {
        bail!("{} contains no certificate", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read a PEM private key from {}", key.display()))?;
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the TLS certificate and key do not match")
}

/// With the default allow-list, accept the loopback names only with the port
/// actually bound (a page or a rebinding attack aimed at another local port
/// cannot reach baton). Lists the operator configured are left as they are.
fn pin_loopback_to_port(settings: &mut Settings, port: u16) {
    let defaults = baton::config::ServerSettings::default();
    if settings.server.allowed_hosts == defaults.allowed_hosts {
        settings.server.allowed_hosts = vec![
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ];
    }
}

async fn mcp_stdio(
    url: Option<String>,
    credentials: &Credentials,
    data_dir: Option<PathBuf>,
    config: Option<PathBuf>,
) -> Result<()> {
    let mut settings = Settings::load(config.as_deref())?;
    init_tracing(&settings);
    if let Some(url) = url {
        baton::mcp::stdio::bridge(&url, credentials.client()?).await?;
        return Ok(());
    }
    if let Some(d) = data_dir {
        settings.storage.data_dir = d;
    }
    let runtime = Runtime::start(settings.clone())
        .await
        .with_context(|| format!("cannot open {}", settings.storage.data_dir.display()))?;
    baton::mcp::stdio::serve_in_process(&runtime).await?;
    runtime.shutdown().await?;
    Ok(())
}

async fn token(cmd: TokenCommand) -> Result<()> {
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
            settings.storage.backend = baton::config::StorageBackend::Redb;
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

async fn task(http: &reqwest::Client, url: &str, as_json: bool, cmd: TaskCommand) -> Result<()> {
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
        } => {
            let payload: Option<Value> = match payload {
                Some(p) => Some(serde_json::from_str(p).context("--payload must be JSON")?),
                None => None,
            };
            let body = json!({"title": title, "id": id, "description": description, "dependencies": deps,
                "tags": tags, "priority": priority, "payload": payload});
            (reqwest::Method::POST, "/tasks".to_owned(), Some(body))
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
        } => (
            reqwest::Method::POST,
            format!("/tasks/{id}/fail"),
            Some(json!({"lease_id": lease, "error": error, "retry": !no_retry})),
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

async fn servers(
    http: &reqwest::Client,
    url: &str,
    as_json: bool,
    cmd: ServersCommand,
) -> Result<()> {
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

/// A reply's JSON body; an error status becomes an error carrying baton's
/// `{error: {code, message}}` (also printed as is with `--json`).
async fn reply(res: reqwest::Response, as_json: bool) -> Result<Value> {
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

fn s(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
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
