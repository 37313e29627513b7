//! `Settings`: built-in defaults < TOML file < `BATON_*` environment variables.
//!
//! Every key is documented in `config/default.toml`. Unknown keys are
//! rejected with a message naming them; values are checked by
//! [`Settings::validate`]. Environment variables use `__` between levels:
//! `BATON_SERVER__BIND=0.0.0.0:9000`, `BATON_SLOTS__COUNT=64`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::error::code::{ErrorCode, ServiceError};

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Parse error, unknown key or wrong type (figment names the key and source).
    #[error("invalid configuration: {0}")]
    Load(Box<figment::Error>),
    /// A value is out of range.
    #[error("invalid configuration: {key}: {message}")]
    Invalid {
        /// Dotted key.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A `[pool]` value is out of range.
    #[error("invalid configuration: pool.{key}: {message}")]
    Pool {
        /// Key inside `[pool]`.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The config file does not exist.
    #[error("configuration file {0} does not exist")]
    Missing(PathBuf),
}

impl ServiceError for ConfigError {
    /// Always `invalid_config`.
    fn error_code(&self) -> ErrorCode {
        ErrorCode::InvalidConfig
    }
}

/// All settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// HTTP server.
    pub server: ServerSettings,
    /// Persistence.
    pub storage: StorageSettings,
    /// Worker slots.
    pub slots: SlotSettings,
    /// Leases.
    pub leases: LeaseSettings,
    /// Task validation bounds and defaults.
    pub tasks: TaskSettings,
    /// REST API.
    pub api: ApiSettings,
    /// Logging.
    pub log: LogSettings,
    /// The MCP endpoint.
    pub mcp: McpSettings,
    /// Downstream MCP servers (the pool).
    pub pool: crate::pool::PoolSettings,
    /// Authentication, roles and abuse limits.
    pub auth: AuthSettings,
    /// The web dashboard.
    pub dashboard: DashboardSettings,
    /// `[retention]`
    pub retention: RetentionSettings,
    /// `[ha]`: several nodes on one PostgreSQL database.
    pub ha: HaSettings,
}

/// `[ha]`: several `baton serve` nodes on one PostgreSQL database
/// (`[storage] backend = "postgres"`); one leads, the others proxy to it
/// and take over when it dies (see [`crate::ha`]). Ignored with redb.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HaSettings {
    /// Seconds within which a follower serves after the leader died
    /// (1–3600; default 10). The leader's lease is half of it, renewed
    /// every quarter of the lease; followers look every tenth of it.
    pub failover_timeout_secs: u64,
}

impl Default for HaSettings {
    fn default() -> Self {
        Self {
            failover_timeout_secs: 10,
        }
    }
}

impl HaSettings {
    /// `failover_timeout_secs` as a duration.
    pub fn failover_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.failover_timeout_secs)
    }
}

/// `[auth]`: bearer tokens (stored hashes, created with `baton token create`),
/// optional JWT from an identity provider, and a per-token rate limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Every request except the open ones (`/healthz`, `/readyz`, the
    /// protected-resource metadata, the dashboard's static files) needs a
    /// valid bearer token. While `false`, a request without a token acts as
    /// admin (a token that is sent is still verified and its role applies);
    /// `baton serve` then refuses to listen beyond loopback unless
    /// `--insecure-no-auth` is given.
    pub required: bool,
    /// Requests per second allowed to one token (or JWT subject); 0 = no limit.
    /// Beyond it: 429 with `Retry-After`.
    pub rate_limit_per_sec: u32,
    /// Requests a token may make in a burst; 0 = twice `rate_limit_per_sec`.
    pub rate_limit_burst: u32,
    /// Lifetime of a single-use event-stream ticket (`POST /api/v1/events/ticket`), in seconds.
    pub stream_ticket_ttl_secs: u64,
    /// JWT bearer tokens from a team's identity provider (off unless `jwks_url` is set).
    pub jwt: JwtSettings,
}

/// `[auth.jwt]`: validate JWTs signed by keys from a JWKS endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtSettings {
    /// JWKS URL of the identity provider; empty = JWT authentication off.
    pub jwks_url: String,
    /// Required `iss` claim.
    pub issuer: String,
    /// Required `aud` claim (one of the token's audiences).
    pub audience: String,
    /// Claim holding the baton role (`viewer`, `agent` or `admin`; a string, or an
    /// array whose highest baton role counts). A token without it is refused (403).
    pub role_claim: String,
    /// How long fetched keys are used before the JWKS is fetched again, in seconds
    /// (an unknown key id also triggers a fetch, at most once per 10 s).
    pub jwks_refresh_secs: u64,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            required: false,
            rate_limit_per_sec: 0,
            rate_limit_burst: 0,
            stream_ticket_ttl_secs: 60,
            jwt: JwtSettings::default(),
        }
    }
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            jwks_url: String::new(),
            issuer: String::new(),
            audience: String::new(),
            role_claim: "baton_role".into(),
            jwks_refresh_secs: 300,
            leeway_secs: 30,
        }
    }
}

impl JwtSettings {
    /// Whether JWT authentication is configured.
    pub fn enabled(&self) -> bool {
        !self.jwks_url.is_empty()
    }
}

/// `[retention]`: how long finished work is kept. A background pass in the
/// task registry deletes, every `interval_ms`, at most `batch` terminal
/// tasks (done, failed, cancelled) that ended more than `keep_terminal_secs`
/// ago — each with its audit events, context values and lease-history
/// entries — and only once no remaining task depends on them (a chain goes
/// from its last task backwards, so no task ever points at a missing
/// dependency). It also prunes up to `batch` audit events older than
/// `keep_events_secs` that belong to no live task (slot events, and events
/// of done or cancelled tasks kept longer; a failed task can be reset, so
/// its events stay). `0` keeps forever.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Seconds a terminal task is kept after it ended (default 7 days;
    /// `0`: forever).
    pub keep_terminal_secs: u64,
    /// Seconds an audit event that belongs to no live task is kept (default
    /// 7 days; `0`: until its task is deleted).
    pub keep_events_secs: u64,
    /// Milliseconds between retention passes (default one minute).
    pub interval_ms: u64,
    /// Most tasks deleted, and most events examined, per pass (default 1000):
    /// a pass is one bounded commit, never a stop-the-world sweep.
    pub batch: usize,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            keep_terminal_secs: 7 * 24 * 3600,
            keep_events_secs: 7 * 24 * 3600,
            interval_ms: 60_000,
            batch: 1000,
        }
    }
}

/// `[dashboard]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardSettings {
    /// Most tasks the graph view lays out at once. A larger board shows the
    /// selected task's ancestors and descendants, or the ready/running
    /// frontier, with a message instead.
    pub graph_max_nodes: usize,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        Self {
            graph_max_nodes: 500,
        }
    }
}

/// `[mcp]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpSettings {
    /// Serve MCP (streamable HTTP) at `/mcp`.
    pub enabled: bool,
    /// Deprecated alias of `[server] allowed_hosts` (which now guards every route).
    /// Accepted with a warning when `[server] allowed_hosts` is left at its default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_hosts: Option<Vec<String>>,
    /// Deprecated alias of `[server] allowed_origins`, as above.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    /// Tools a connection sees unless it asks otherwise with `/mcp?profile=core|full`.
    pub profile: ToolProfile,
    /// How long a task handle (MCP tasks extension) is kept after its creation, in seconds.
    pub task_handle_ttl_secs: u64,
    /// Largest MCP tool result, in bytes of its JSON (the `structuredContent`
    /// and its text copy together). Listing tools end a page early to stay
    /// under it (`next_cursor` continues); a value too large for it is
    /// replaced by a note saying where to read it whole (REST or a resource).
    pub max_result_bytes: usize,
}

/// Which MCP tools a connection sees. Agents pay for tool definitions in
/// their context window: `core` is what an agent needs to work a board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolProfile {
    /// add_task, get_task, list_tasks, claim_next_task, heartbeat, complete_task, fail_task, context_set.
    Core,
    /// Every tool.
    Full,
}

impl ToolProfile {
    /// The tools of the core profile.
    pub const CORE_TOOLS: [&'static str; 8] = [
        "add_task",
        "get_task",
        "list_tasks",
        "claim_next_task",
        "heartbeat",
        "complete_task",
        "fail_task",
        "context_set",
    ];

    /// Whether a tool belongs to this profile.
    pub fn allows(self, tool: &str) -> bool {
        match self {
            ToolProfile::Full => true,
            ToolProfile::Core => Self::CORE_TOOLS.contains(&tool),
        }
    }

    /// The `profile=` parameter of a query string, if valid.
    pub fn from_query(query: &str) -> Option<Self> {
        query.split('&').find_map(|kv| match kv.split_once('=') {
            Some(("profile", "core")) => Some(ToolProfile::Core),
            Some(("profile", "full")) => Some(ToolProfile::Full),
            _ => None,
        })
    }

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolProfile::Core => "core",
            ToolProfile::Full => "full",
        }
    }
}

impl Default for McpSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed_hosts: None,
            allowed_origins: None,
            profile: ToolProfile::Full,
            task_handle_ttl_secs: 3600,
            max_result_bytes: 65536,
        }
    }
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Seconds to wait for in-flight requests on shutdown.
    pub shutdown_timeout_secs: u64,
    /// `Host` header values accepted on every route (DNS-rebinding protection): `host`
    /// matches any port, `host:port` only that port, `"*"` any host. `baton serve` narrows
    /// the loopback defaults to the port it bound.
    pub allowed_hosts: Vec<String>,
    /// `Origin` values accepted besides the server's own origin (a page served by baton
    /// itself): `scheme://host[:port]`, or `"*"` for any. Requests without an `Origin`
    /// (non-browser clients) are unaffected; `Origin: null` is always refused.
    pub allowed_origins: Vec<String>,
    /// PEM certificate chain to serve HTTPS with (together with `tls_key`); empty = plain HTTP.
    pub tls_cert: PathBuf,
    /// PEM private key of `tls_cert`.
    pub tls_key: PathBuf,
    /// With several nodes on one PostgreSQL database: the URL other nodes
    /// reach this one at (`http://10.0.0.5:8080`), where followers proxy
    /// requests while this node leads. Empty (the default): the scheme and
    /// address `baton serve` bound (`http://127.0.0.1:<port>`: enough for
    /// nodes on one machine). Its host is accepted as a `Host` besides
    /// `allowed_hosts`, since proxied requests name it.
    pub advertise_url: String,
}

impl ServerSettings {
    /// The loopback host names every default accepts.
    pub const LOOPBACK_HOSTS: [&'static str; 3] = ["localhost", "127.0.0.1", "::1"];

    /// Whether TLS is configured.
    pub fn tls(&self) -> bool {
        !self.tls_cert.as_os_str().is_empty()
    }
}

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// Which engine holds the board: `redb` (embedded, in `data_dir`; the
    /// default) or `postgres` (the database at `url`).
    pub backend: StorageBackend,
    /// Data directory (the redb store is `baton.redb` in it; created if missing).
    pub data_dir: PathBuf,
    /// The redb store's page cache, in MiB (bounds the engine's memory).
    pub cache_mb: u64,
    /// With `backend = "postgres"`: the database,
    /// `postgres://user:password@host:port/database` (also
    /// `BATON_STORAGE__URL`). baton creates and migrates its own table.
    pub url: String,
    /// With `backend = "postgres"`: connections in the readers' pool (at
    /// least 1; the committer has one connection of its own, and one more
    /// session keeps the leadership's lease, see [`crate::ha`]).
    pub pool_size: u32,
}

/// `[storage] backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// redb in `data_dir`: one file, nothing else to run.
    #[default]
    Redb,
    /// PostgreSQL at `url`.
    Postgres,
}

/// `[slots]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlotSettings {
    /// Number of worker slots: at most this many tasks run at once.
    pub count: u32,
}

/// `[leases]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeaseSettings {
    /// Lease time-to-live; a heartbeat extends the lease by this much.
    pub ttl_secs: u64,
    /// How often lapsed leases and idle explicit slot holds are freed, in
    /// milliseconds. A lapsed lease is refused from the instant its
    /// `expires_at` passes whenever the sweep runs; the sweep frees its task and slot.
    pub sweep_interval_ms: u64,
    /// Lease TTL for the agent-coordinate-mcp compatible routes (no heartbeats there),
    /// also the idle lifetime of an explicitly claimed slot.
    pub compat_ttl_secs: u64,
}

/// `[tasks]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskSettings {
    /// Longest task id.
    pub max_id_len: usize,
    /// Longest title.
    pub max_title_len: usize,
    /// Longest description.
    pub max_description_len: usize,
    /// Largest JSON payload (serialized bytes); also bounds `output`.
    pub max_payload_bytes: usize,
    /// Most tags per task.
    pub max_tags: usize,
    /// Longest tag.
    pub max_tag_len: usize,
    /// Most dependencies per task.
    pub max_dependencies: usize,
    /// Most tasks in one batch.
    pub max_batch: usize,
    /// Default `max_attempts`.
    pub default_max_attempts: u32,
    /// Upper bound for `max_attempts`.
    pub max_attempts_limit: u32,
    /// Largest `timeout_secs`.
    pub max_timeout_secs: u64,
    /// Largest context value (serialized bytes).
    pub max_context_value_bytes: usize,
    /// Longest error message kept.
    pub max_error_len: usize,
}

/// `[api]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// Page size when `limit` is not given.
    pub default_page_size: usize,
    /// Largest `limit`.
    pub max_page_size: usize,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Events replayed per SSE catch-up read.
    pub sse_replay_batch: usize,
    /// Seconds between SSE keep-alive comments.
    pub sse_keepalive_secs: u64,
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: LogFormat,
    /// `tracing` env-filter directive (overridden by `RUST_LOG`).
    pub filter: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 0,
            shutdown_timeout_secs: 10,
            allowed_hosts: Self::LOOPBACK_HOSTS.map(String::from).to_vec(),
            allowed_origins: Vec::new(),
            tls_cert: PathBuf::new(),
            tls_key: PathBuf::new(),
            advertise_url: String::new(),
        }
    }
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Redb,
            data_dir: PathBuf::from("./data"),
            cache_mb: 128,
            url: String::new(),
            pool_size: 8,
        }
    }
}

impl Default for SlotSettings {
    fn default() -> Self {
        Self { count: 5 }
    }
}

impl Default for LeaseSettings {
    fn default() -> Self {
        Self {
            ttl_secs: 30,
            sweep_interval_ms: 100,
            compat_ttl_secs: 600,
        }
    }
}

impl Default for TaskSettings {
    fn default() -> Self {
        Self {
            max_id_len: 128,
            max_title_len: 512,
            max_description_len: 65_536,
            max_payload_bytes: 65_536,
            max_tags: 32,
            max_tag_len: 64,
            max_dependencies: 256,
            max_batch: 10_000,
            default_max_attempts: 3,
            max_attempts_limit: 100,
            max_timeout_secs: 7 * 24 * 3600,
            max_context_value_bytes: 65_536,
            max_error_len: 8_192,
        }
    }
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            default_page_size: 100,
            max_page_size: 1_000,
            max_body_bytes: 16 * 1024 * 1024,
            sse_replay_batch: 500,
            sse_keepalive_secs: 15,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

/// Sections a `BATON_*` variable must start with to be read as a setting.
/// Other `BATON_*` variables (the CLI's `BATON_URL`, a script's `BATON_BIN`)
/// are not settings and are left alone; an unknown key inside a known
/// section (`BATON_SLOTS__COUTN`) is still rejected by name.
const SECTIONS: &[&str] = &[
    "server",
    "ha",
    "storage",
    "slots",
    "leases",
    "tasks",
    "api",
    "log",
    "mcp",
    "pool",
    "auth",
    "dashboard",
];

impl Settings {
    /// Defaults, then `file` (if given; it must exist), then `BATON_*` env vars; validated.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(ConfigError::Missing(f.to_path_buf()));
            }
            fig = fig.merge(Toml::file_exact(f));
        }
        fig = fig.merge(
            Env::prefixed("BATON_")
                .filter(|k| {
                    let k = k.as_str().to_ascii_lowercase();
                    SECTIONS.iter().any(|s| k.starts_with(&format!("{s}__")))
                })
                .split("__"),
        );
        Self::extract(fig)
    }

    /// Parse a TOML string over the defaults (no environment), validated.
    pub fn from_toml(toml: &str) -> Result<Self, ConfigError> {
        Self::extract(
            Figment::from(Serialized::defaults(Settings::default())).merge(Toml::string(toml)),
        )
    }

    fn extract(fig: Figment) -> Result<Self, ConfigError> {
        let mut s: Settings = fig.extract().map_err(|e| ConfigError::Load(Box::new(e)))?;
        s.migrate_mcp_allow_lists()?;
        s.validate()?;
        Ok(s)
    }

    /// `[mcp] allowed_hosts` / `allowed_origins` (guarding `/mcp` only) moved to
    /// `[server]`, where they guard every route. An old key is taken over, with a
    /// warning, when the `[server]` one is at its default; both set differently is an error.
    pub fn migrate_mcp_allow_lists(&mut self) -> Result<(), ConfigError> {
        let defaults = ServerSettings::default();
        if let Some(hosts) = self.mcp.allowed_hosts.take() {
            if self.server.allowed_hosts == defaults.allowed_hosts {
                tracing::warn!(
                    "[mcp] allowed_hosts is deprecated: it is now [server] allowed_hosts and guards every route"
                );
                self.server.allowed_hosts = hosts;
            } else if self.server.allowed_hosts != hosts {
                return Err(ConfigError::Invalid {
                    key: "mcp.allowed_hosts",
                    message: "deprecated alias of server.allowed_hosts, and both are set to different lists; keep only [server] allowed_hosts".into(),
                });
            }
        }
        if let Some(origins) = self.mcp.allowed_origins.take() {
            if self.server.allowed_origins == defaults.allowed_origins {
                tracing::warn!(
                    "[mcp] allowed_origins is deprecated: it is now [server] allowed_origins and guards every route"
                );
                self.server.allowed_origins = origins;
            } else if self.server.allowed_origins != origins {
                return Err(ConfigError::Invalid {
                    key: "mcp.allowed_origins",
                    message: "deprecated alias of server.allowed_origins, and both are set to different lists; keep only [server] allowed_origins".into(),
                });
            }
        }
        Ok(())
    }

    /// Settings for tests: defaults with `data_dir` set and port 0.
    pub fn for_tests(data_dir: impl Into<PathBuf>) -> Self {
        let mut s = Settings::default();
        s.storage.data_dir = data_dir.into();
        s.server.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        s
    }

    /// Builder: number of slots.
    pub fn with_slots(mut self, count: u32) -> Self {
        self.slots.count = count;
        self
    }

    /// Builder: lease TTL in seconds.
    pub fn with_lease_ttl_secs(mut self, secs: u64) -> Self {
        self.leases.ttl_secs = secs;
        self
    }

    /// Check ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn check(ok: bool, key: &'static str, message: &str) -> Result<(), ConfigError> {
            if ok {
                Ok(())
            } else {
                Err(ConfigError::Invalid {
                    key,
                    message: message.to_owned(),
                })
            }
        }
        check(
            (1..=100_000).contains(&self.slots.count),
            "slots.count",
            "must be between 1 and 100000",
        )?;
        check(
            self.leases.ttl_secs >= 1,
            "leases.ttl_secs",
            "must be at least 1",
        )?;
        check(
            (10..=60_000).contains(&self.leases.sweep_interval_ms),
            "leases.sweep_interval_ms",
            "must be between 10 and 60000",
        )?;
        check(
            (10..=86_400_000).contains(&self.retention.interval_ms),
            "retention.interval_ms",
            "must be between 10 and 86400000",
        )?;
        check(
            (1..=100_000).contains(&self.retention.batch),
            "retention.batch",
            "must be between 1 and 100000",
        )?;
        check(
            (1..=3600).contains(&self.ha.failover_timeout_secs),
            "ha.failover_timeout_secs",
            "must be between 1 and 3600",
        )?;
        check(
            self.server.advertise_url.is_empty()
                || self.server.advertise_url.starts_with("http://")
                || self.server.advertise_url.starts_with("https://"),
            "server.advertise_url",
            "must be an http:// or https:// URL",
        )?;
        check(
            self.leases.compat_ttl_secs >= 1,
            "leases.compat_ttl_secs",
            "must be at least 1",
        )?;
        check(
            (1..=1024).contains(&self.tasks.max_id_len),
            "tasks.max_id_len",
            "must be between 1 and 1024",
        )?;
        check(
            self.tasks.max_batch >= 1,
            "tasks.max_batch",
            "must be at least 1",
        )?;
        check(
            self.tasks.default_max_attempts >= 1
                && self.tasks.default_max_attempts <= self.tasks.max_attempts_limit,
            "tasks.default_max_attempts",
            "must be between 1 and tasks.max_attempts_limit",
        )?;
        check(
            self.api.default_page_size >= 1 && self.api.default_page_size <= self.api.max_page_size,
            "api.default_page_size",
            "must be between 1 and api.max_page_size",
        )?;
        check(
            self.mcp.max_result_bytes >= 4096,
            "mcp.max_result_bytes",
            "must be at least 4096",
        )?;
        check(
            self.api.max_body_bytes >= 1024,
            "api.max_body_bytes",
            "must be at least 1024",
        )?;
        check(
            self.api.sse_replay_batch >= 1,
            "api.sse_replay_batch",
            "must be at least 1",
        )?;
        check(
            self.api.sse_keepalive_secs >= 1,
            "api.sse_keepalive_secs",
            "must be at least 1",
        )?;
        check(
            (1..=20_000).contains(&self.dashboard.graph_max_nodes),
            "dashboard.graph_max_nodes",
            "must be between 1 and 20000",
        )?;
        check(
            self.storage.cache_mb >= 1,
            "storage.cache_mb",
            "must be at least 1",
        )?;
        check(
            self.storage.backend != StorageBackend::Postgres
                || self.storage.url.starts_with("postgres://")
                || self.storage.url.starts_with("postgresql://"),
            "storage.url",
            "with backend = \"postgres\", set url = \"postgres://user:password@host:port/database\" (or BATON_STORAGE__URL)",
        )?;
        check(
            self.storage.pool_size >= 1,
            "storage.pool_size",
            "must be at least 1",
        )?;
        check(
            !self.server.allowed_hosts.is_empty(),
            "server.allowed_hosts",
            "must not be empty (use [\"*\"] to accept any Host)",
        )?;
        for o in &self.server.allowed_origins {
            check(
                o == "*" || crate::auth::edge::parse_origin(o).is_some(),
                "server.allowed_origins",
                "entries must be scheme://host[:port] or \"*\" (\"null\" is never accepted)",
            )?;
        }
        check(
            self.server.tls_cert.as_os_str().is_empty()
                == self.server.tls_key.as_os_str().is_empty(),
            "server.tls_cert",
            "tls_cert and tls_key must be set together",
        )?;
        check(
            self.auth.stream_ticket_ttl_secs >= 1,
            "auth.stream_ticket_ttl_secs",
            "must be at least 1",
        )?;
        let jwt = &self.auth.jwt;
        if jwt.enabled() {
            check(
                jwt.jwks_url.starts_with("https://") || jwt.jwks_url.starts_with("http://"),
                "auth.jwt.jwks_url",
                "must be an http(s) URL",
            )?;
            check(
                !jwt.issuer.is_empty(),
                "auth.jwt.issuer",
                "is required when auth.jwt.jwks_url is set",
            )?;
            check(
                !jwt.audience.is_empty(),
                "auth.jwt.audience",
                "is required when auth.jwt.jwks_url is set",
            )?;
            check(
                !jwt.role_claim.is_empty(),
                "auth.jwt.role_claim",
                "must not be empty",
            )?;
            check(
                jwt.jwks_refresh_secs >= 10,
                "auth.jwt.jwks_refresh_secs",
                "must be at least 10",
            )?;
        }
        self.pool
            .validate()
            .map_err(|(key, message)| ConfigError::Pool { key, message })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_named() {
        let e = Settings::from_toml("[slots]\ncount = 3\ncoutn = 4\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("coutn"), "{e}");
        let e = Settings::from_toml("[nope]\nx = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure type
    fn env_overrides_and_foreign_baton_vars() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BATON_SLOTS__COUNT", "64");
            jail.set_env("BATON_BIN", "/usr/bin/baton");
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.slots.count, 64);
            jail.set_env("BATON_SLOTS__COUTN", "1");
            let e = Settings::load(None).unwrap_err().to_string();
            assert!(e.contains("coutn"), "{e}");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure type
    fn every_auth_and_edge_key_works_as_an_environment_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BATON_AUTH__REQUIRED", "true");
            jail.set_env("BATON_AUTH__RATE_LIMIT_PER_SEC", "5");
            jail.set_env("BATON_AUTH__RATE_LIMIT_BURST", "7");
            jail.set_env("BATON_AUTH__STREAM_TICKET_TTL_SECS", "30");
            jail.set_env("BATON_AUTH__JWT__JWKS_URL", "https://idp.test/jwks");
            jail.set_env("BATON_AUTH__JWT__ISSUER", "https://idp.test");
            jail.set_env("BATON_AUTH__JWT__AUDIENCE", "baton");
            jail.set_env("BATON_AUTH__JWT__ROLE_CLAIM", "roles");
            jail.set_env("BATON_AUTH__JWT__JWKS_REFRESH_SECS", "60");
            jail.set_env("BATON_AUTH__JWT__LEEWAY_SECS", "2");
            jail.set_env(
                "BATON_SERVER__ALLOWED_HOSTS",
                "[\"baton.example.com\", \"10.0.0.5:8443\"]",
            );
            jail.set_env(
                "BATON_SERVER__ALLOWED_ORIGINS",
                "[\"https://app.example.com\"]",
            );
            jail.set_env("BATON_SERVER__TLS_CERT", "/etc/baton/cert.pem");
            jail.set_env("BATON_SERVER__TLS_KEY", "/etc/baton/key.pem");
            jail.set_env("BATON_POOL__EXECUTABLE_TOOLS", "[\"echo\"]");
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert!(s.auth.required);
            assert_eq!((s.auth.rate_limit_per_sec, s.auth.rate_limit_burst), (5, 7));
            assert_eq!(s.auth.stream_ticket_ttl_secs, 30);
            assert_eq!(s.auth.jwt.jwks_url, "https://idp.test/jwks");
            assert_eq!(s.auth.jwt.issuer, "https://idp.test");
            assert_eq!(s.auth.jwt.audience, "baton");
            assert_eq!(s.auth.jwt.role_claim, "roles");
            assert_eq!(
                (s.auth.jwt.jwks_refresh_secs, s.auth.jwt.leeway_secs),
                (60, 2)
            );
            assert_eq!(
                s.server.allowed_hosts,
                ["baton.example.com", "10.0.0.5:8443"]
            );
            assert_eq!(s.server.allowed_origins, ["https://app.example.com"]);
            assert!(s.server.tls());
            assert_eq!(s.server.tls_key, PathBuf::from("/etc/baton/key.pem"));
            assert_eq!(s.pool.executable_tools, ["echo"]);
            Ok(())
        });
    }

    #[test]
    fn the_old_mcp_allow_lists_are_migrated_or_refused() {
        let s = Settings::from_toml(
            "[mcp]\nallowed_hosts = [\"a.test\"]\nallowed_origins = [\"https://b.test\"]\n",
        )
        .unwrap();
        assert_eq!(s.server.allowed_hosts, ["a.test"]);
        assert_eq!(s.server.allowed_origins, ["https://b.test"]);
        assert_eq!(s.mcp.allowed_hosts, None);
        let e = Settings::from_toml(
            "[server]\nallowed_hosts = [\"x.test\"]\n[mcp]\nallowed_hosts = [\"a.test\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("mcp.allowed_hosts"), "{e}");
        let e = Settings::from_toml("[server]\nallowed_origins = [\"null\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("allowed_origins"), "{e}");
        let e = Settings::from_toml("[server]\ntls_cert = \"c.pem\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("tls"), "{e}");
    }

    #[test]
    fn ranges_are_checked() {
        let e = Settings::from_toml("[slots]\ncount = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("slots.count"), "{e}");
    }

    #[test]
    fn shipped_default_toml_matches_builtin_defaults() {
        let shipped = include_str!("../config/default.toml");
        assert_eq!(Settings::from_toml(shipped).unwrap(), Settings::default());
    }
}
