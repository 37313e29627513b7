//! `Settings`: built-in defaults < TOML file < `BATON_*` environment variables.
//!
//! Every key is documented in `config/default.toml`. Unknown keys are
//! rejected with a message naming them; values are checked by
//! [`Settings::validate`]. Environment variables use `__` between levels:
//! `BATON_SERVER__BIND=0.0.0.0:9000`, `BATON_SLOTS__COUNT=64`.
//!
//! The ground floor: this module imports nothing of baton's but the error
//! codes (`crate::error_code`), so every other module may read settings.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Settings`], [`ConfigError`], loading and layering |
//! | [`server`] | `[server]`, `[ha]`, `[log]`: where and how baton listens |
//! | [`storage`] | `[storage]`, `[retention]`: where the board lives, how long finished work stays |
//! | [`board`] | `[slots]`, `[leases]`, `[tasks]`, `[subtasks]`, `[concurrency]`, `[messages]`: the board's own rules and bounds |
//! | [`edges`] | `[api]`, `[mcp]`, `[dashboard]`, `[hooks]`: the surfaces clients use |
//! | [`auth`] | `[auth]`, `[auth.jwt]`: tokens, JWTs, rate limits |
//! | [`pool`] | `[pool]`, `[pool.servers.<name>]`: downstream MCP servers |
//! | [`env`](mod@env) | `BATON_<SECTION>__<KEY>` variables: every key of every section, typed by its default |
//! | [`origin`] | parsing `Host` values and origins (allow-list entries) |
//! | [`validate`](Settings::validate) | range and consistency checks, each naming its key |

pub mod auth;
pub mod board;
pub mod edges;
pub mod env;
pub mod origin;
pub mod pool;
pub mod server;
pub mod storage;
mod validate;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

pub use self::auth::{AuthSettings, JwtSettings};
pub use self::board::{
    ConcurrencySettings, LeaseSettings, MessageSettings, SlotSettings, SubtaskSettings,
    TaskSettings,
};
pub use self::edges::{ApiSettings, DashboardSettings, HookSettings, McpSettings, ToolProfile};
pub use self::pool::{PoolSettings, RestartPolicy, ServerOptions, ServerOverrides};
pub use self::server::{HaSettings, LogFormat, LogSettings, ServerSettings};
pub use self::storage::{RetentionSettings, StorageBackend, StorageSettings};
use crate::error_code::{ErrorCode, ServiceError};

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
    /// A `BATON_*` variable that cannot be read as a setting (an empty
    /// level, or a setting spelt with one underscore after its section).
    #[error("invalid configuration: {0}")]
    Env(#[from] env::EnvError),
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

/// Every setting of a node, one field per TOML section: built-in defaults, then the
/// TOML file, then `BATON_<SECTION>__<KEY>` variables ([`Settings::load`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `[server]`: where and how the node listens (address, TLS, Host/Origin
    /// allow-lists, shutdown).
    pub server: ServerSettings,
    /// `[storage]`: which engine holds the board (redb or PostgreSQL), and where.
    pub storage: StorageSettings,
    /// `[slots]`: how many tasks run at once.
    pub slots: SlotSettings,
    /// `[leases]`: lease time-to-live and the sweep that frees lapsed ones.
    pub leases: LeaseSettings,
    /// Task validation bounds and defaults.
    pub tasks: TaskSettings,
    /// `[subtasks]`: how deep a tree may grow, what a failed subtask does.
    pub subtasks: SubtaskSettings,
    /// `[api]`: REST page sizes, body bound, SSE pacing.
    pub api: ApiSettings,
    /// `[log]`: log format (`text` or `json`) and filter.
    pub log: LogSettings,
    /// The MCP endpoint.
    pub mcp: McpSettings,
    /// Downstream MCP servers (the pool).
    pub pool: PoolSettings,
    /// Authentication, roles and abuse limits.
    pub auth: AuthSettings,
    /// The web dashboard.
    pub dashboard: DashboardSettings,
    /// `[retention]`: how long terminal tasks and their events are kept, and how the
    /// pruning passes run.
    pub retention: RetentionSettings,
    /// `[ha]`: several nodes on one PostgreSQL database.
    pub ha: HaSettings,
    /// `[hooks]`: Claude Code's lifecycle hooks.
    pub hooks: HookSettings,
    /// `[concurrency]`: running tasks per concurrency key.
    pub concurrency: ConcurrencySettings,
    /// `[messages]`: messages between workers, tasks and operators.
    pub messages: MessageSettings,
}

impl Settings {
    /// Defaults, then `file` (if given; it must exist), then every
    /// `BATON_<SECTION>__<KEY>` variable of the process's environment (see
    /// [`env`](mod@env)); validated.
    ///
    /// Errors: [`ConfigError::Missing`] for a missing file,
    /// [`ConfigError::Load`] for a parse error, an unknown key or a value of
    /// the wrong type (naming the key, and the variable when one set it),
    /// [`ConfigError::Env`] for a variable misspelt as a setting,
    /// [`ConfigError::Invalid`] / [`ConfigError::Pool`] for a value out of range.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(ConfigError::Missing(f.to_path_buf()));
            }
            fig = fig.merge(Toml::file_exact(f));
        }
        let vars = std::env::vars_os().map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        });
        let shape = figment::value::Value::serialize(Settings::default())
            .map_err(|e| ConfigError::Load(Box::new(e)))?
            .into_dict()
            .unwrap_or_default(); // a struct serializes to a table
        for var in env::settings_in(vars, &shape)? {
            fig = fig.merge(var);
        }
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
}
