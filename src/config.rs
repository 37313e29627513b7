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
}

/// `[mcp]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpSettings {
    /// Serve MCP (streamable HTTP) at `/mcp`.
    pub enabled: bool,
    /// Host header values accepted at `/mcp` (DNS-rebinding protection); `host` matches any
    /// port, `host:port` only that port. Never empty (an empty list would accept any host).
    pub allowed_hosts: Vec<String>,
    /// `Origin` header values accepted at `/mcp` (browsers send one); requests without an
    /// Origin are unaffected.
    pub allowed_origins: Vec<String>,
    /// Tools a connection sees unless it asks otherwise with `/mcp?profile=core|full`.
    pub profile: ToolProfile,
    /// How long a task handle (MCP tasks extension) is kept after its creation, in seconds.
    pub task_handle_ttl_secs: u64,
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
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            allowed_origins: vec![
                "http://localhost".into(),
                "http://127.0.0.1".into(),
                "http://[::1]".into(),
            ],
            profile: ToolProfile::Full,
            task_handle_ttl_secs: 3600,
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
}

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// sled data directory.
    pub data_dir: PathBuf,
    /// sled page cache, in MiB.
    pub cache_mb: u64,
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
    /// How often lapsed leases are looked for, in milliseconds.
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
        }
    }
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            cache_mb: 128,
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
    "server", "storage", "slots", "leases", "tasks", "api", "log", "pool",
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
        let s: Settings = fig.extract().map_err(|e| ConfigError::Load(Box::new(e)))?;
        s.validate()?;
        Ok(s)
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
            self.storage.cache_mb >= 1,
            "storage.cache_mb",
            "must be at least 1",
        )?;
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
