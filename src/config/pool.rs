//! `[pool]` settings: where the server file is, the default options of every
//! downstream server, and per-server overrides in `[pool.servers.<name>]`.
//!
//! ```toml
//! [pool]
//! mcp_servers = "./.mcp.json"
//! request_timeout_ms = 30000
//!
//! [pool.servers.github]
//! request_timeout_ms = 120000
//! failure_threshold = 3
//! ```
//!
//! Every key of `[pool]` except `mcp_servers` and `servers` may be
//! overridden per server. Unknown keys are rejected (figment names them);
//! the defaults are checked by [`PoolSettings::validate`], and each server's
//! resolved options by [`ServerOptions::validate`] when the pool starts, so a
//! bad override disables only that server.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What happens when a server's connection ends (child exit, crash, closed session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Start it again, with exponential backoff and jitter.
    Always,
    /// Leave it `failed` until restarted by hand.
    Never,
}

macro_rules! server_options {
    ($( $(#[doc = $doc:literal])+ $field:ident : $ty:ty = $default:expr, )+) => {
        /// `[pool]`: the server file, defaults for every server, per-server overrides.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct PoolSettings {
            /// Downstream servers in the `.mcp.json` format; empty for none.
            /// `baton serve --mcp-servers FILE` takes precedence.
            pub mcp_servers: PathBuf,
            $( $(#[doc = $doc])+ pub $field: $ty, )+
            /// Per-server overrides of the keys above, by server name.
            pub servers: BTreeMap<String, ServerOverrides>,
        }

        impl Default for PoolSettings {
            fn default() -> Self {
                Self {
                    mcp_servers: PathBuf::new(),
                    $( $field: $default, )+
                    servers: BTreeMap::new(),
                }
            }
        }

        /// The options of one server: `[pool]` with its overrides applied.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct ServerOptions {
            $( $(#[doc = $doc])+ pub $field: $ty, )+
        }

        impl Default for ServerOptions {
            fn default() -> Self {
                Self { $( $field: $default, )+ }
            }
        }

        /// `[pool.servers.<name>]`: any key of `[pool]` for one server.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct ServerOverrides {
            $(
                $(#[doc = $doc])+
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )+
        }

        impl ServerOverrides {
            /// `base` with every key given here replaced.
            pub fn apply(&self, base: &ServerOptions) -> ServerOptions {
                ServerOptions {
                    $( $field: self.$field.clone().unwrap_or_else(|| base.$field.clone()), )+
                }
            }
        }

        impl PoolSettings {
            /// The defaults of `[pool]`.
            pub fn defaults(&self) -> ServerOptions {
                ServerOptions { $( $field: self.$field.clone(), )+ }
            }
        }
    };
}

server_options! {
    /// Start the server (a disabled server is listed in status but never started).
    enabled: bool = true,
    /// Time a tool call may take (also the limit for waiting until a restarting server is ready).
    request_timeout_ms: u64 = 30_000,
    /// Time to start a server: spawn or connect, `initialize`, first `tools/list`.
    startup_timeout_ms: u64 = 30_000,
    /// Calls in flight to one server; a call beyond it fails at once with `server_busy`.
    max_concurrent_calls: u32 = 16,
    /// Health check (`ping`) interval; a failed ping counts as a breaker failure. 0 = none.
    ping_interval_ms: u64 = 30_000,
    /// Consecutive failures (transport errors, timeouts, failed pings) that open the breaker.
    failure_threshold: u32 = 5,
    /// Successful probe calls that close a half-open breaker.
    success_threshold: u32 = 2,
    /// How long an open breaker fails calls fast before it half-opens.
    open_timeout_ms: u64 = 30_000,
    /// Probe calls a half-open breaker lets through at once.
    half_open_max_calls: u32 = 1,
    /// `always`: restart a server whose connection ended, with backoff; `never`: mark it failed.
    restart: RestartPolicy = RestartPolicy::Always,
    /// First restart delay; each further restart doubles it (plus up to 100% jitter).
    restart_initial_ms: u64 = 500,
    /// Longest restart delay.
    restart_max_ms: u64 = 30_000,
    /// A server that stayed up this long starts again from `restart_initial_ms`.
    restart_reset_after_ms: u64 = 60_000,
    /// Consecutive restarts before giving up (`failed`); 0 = never give up.
    max_restarts: u32 = 0,
    /// Attempts of an idempotent call that fails in transport (1 = no retries).
    retry_attempts: u32 = 3,
    /// First retry delay; doubles per retry, with jitter.
    retry_initial_ms: u64 = 100,
    /// Longest retry delay.
    retry_max_ms: u64 = 2_000,
    /// On shutdown or restart: time between SIGTERM to the child's process group and SIGKILL.
    shutdown_grace_ms: u64 = 3_000,
    /// Recent calls over which latency percentiles are computed.
    latency_window: u32 = 512,
    /// Tools of this server that tasks may execute (`executor: {server, tool}`); empty = none.
    /// Only admins create executor tasks, and only for these tools.
    executable_tools: Vec<String> = Vec::new(),
    /// Tools of this server (their own names; `prefix_*` matches a prefix, `*` all) that
    /// change the world: the gateway refuses a call unless the calling worker holds a live lease.
    lease_required: Vec<String> = Vec::new(),
    /// For `lease_required` tools: the argument that holds a path (`{ write_file = "path" }`);
    /// the caller must also hold a live reservation covering that path.
    path_arguments: BTreeMap<String, String> = BTreeMap::new(),
}

impl ServerOptions {
    /// Check ranges; `Err((key, message))` names the offending key.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        fn check(ok: bool, key: &'static str, message: &str) -> Result<(), (&'static str, String)> {
            if ok {
                Ok(())
            } else {
                Err((key, message.to_owned()))
            }
        }
        const DAY_MS: u64 = 24 * 3600 * 1000;
        check(
            (1..=DAY_MS).contains(&self.request_timeout_ms),
            "request_timeout_ms",
            "must be between 1 and 86400000",
        )?;
        check(
            (1..=DAY_MS).contains(&self.startup_timeout_ms),
            "startup_timeout_ms",
            "must be between 1 and 86400000",
        )?;
        check(
            (1..=100_000).contains(&self.max_concurrent_calls),
            "max_concurrent_calls",
            "must be between 1 and 100000",
        )?;
        check(
            self.ping_interval_ms == 0 || (10..=DAY_MS).contains(&self.ping_interval_ms),
            "ping_interval_ms",
            "must be 0 (off) or between 10 and 86400000",
        )?;
        check(
            self.failure_threshold >= 1,
            "failure_threshold",
            "must be at least 1",
        )?;
        check(
            self.success_threshold >= 1,
            "success_threshold",
            "must be at least 1",
        )?;
        check(
            (1..=DAY_MS).contains(&self.open_timeout_ms),
            "open_timeout_ms",
            "must be between 1 and 86400000",
        )?;
        check(
            self.half_open_max_calls >= 1,
            "half_open_max_calls",
            "must be at least 1",
        )?;
        check(
            self.restart_initial_ms >= 1,
            "restart_initial_ms",
            "must be at least 1",
        )?;
        check(
            self.restart_max_ms >= self.restart_initial_ms && self.restart_max_ms <= DAY_MS,
            "restart_max_ms",
            "must be between restart_initial_ms and 86400000",
        )?;
        check(
            (1..=100).contains(&self.retry_attempts),
            "retry_attempts",
            "must be between 1 and 100",
        )?;
        check(
            self.retry_initial_ms >= 1,
            "retry_initial_ms",
            "must be at least 1",
        )?;
        check(
            self.retry_max_ms >= self.retry_initial_ms && self.retry_max_ms <= DAY_MS,
            "retry_max_ms",
            "must be between retry_initial_ms and 86400000",
        )?;
        check(
            self.shutdown_grace_ms <= 600_000,
            "shutdown_grace_ms",
            "must be at most 600000",
        )?;
        check(
            (1..=100_000).contains(&self.latency_window),
            "latency_window",
            "must be between 1 and 100000",
        )?;
        if self.lease_required.iter().any(|p| p.is_empty()) {
            return Err((
                "lease_required",
                "an entry is empty; name a tool, a prefix ending in *, or *".into(),
            ));
        }
        if let Some((tool, arg)) = self.path_arguments.iter().find(|(tool, arg)| {
            arg.is_empty()
                || !self
                    .lease_required
                    .iter()
                    .any(|p| match p.strip_suffix('*') {
                        Some(prefix) => tool.starts_with(prefix),
                        None => p == *tool,
                    })
        }) {
            return Err((
                "path_arguments",
                format!(
                    "{tool} = \"{arg}\": the argument must be named, and the tool listed in lease_required (a path is checked only for fenced tools)"
                ),
            ));
        }
        Ok(())
    }

    /// `request_timeout_ms` as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// `startup_timeout_ms` as a duration.
    pub fn startup_timeout(&self) -> Duration {
        Duration::from_millis(self.startup_timeout_ms)
    }

    /// `shutdown_grace_ms` as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

impl PoolSettings {
    /// The options of server `name`: the defaults with its overrides, if any.
    pub fn options_for(&self, name: &str) -> ServerOptions {
        let base = self.defaults();
        match self.servers.get(name) {
            Some(o) => o.apply(&base),
            None => base,
        }
    }

    /// Check the defaults (per-server overrides are checked per server when the pool starts).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        self.defaults().validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_name() {
        let mut s = PoolSettings::default();
        s.servers.insert(
            "gh".into(),
            ServerOverrides {
                request_timeout_ms: Some(5),
                restart: Some(RestartPolicy::Never),
                ..Default::default()
            },
        );
        let gh = s.options_for("gh");
        assert_eq!(gh.request_timeout_ms, 5);
        assert_eq!(gh.restart, RestartPolicy::Never);
        assert_eq!(gh.failure_threshold, s.failure_threshold);
        assert_eq!(s.options_for("other"), s.defaults());
        assert_eq!(s.defaults(), ServerOptions::default());
        assert!(s.validate().is_ok());
    }

    #[test]
    fn a_path_argument_needs_its_tool_fenced() {
        let mut o = ServerOptions {
            path_arguments: BTreeMap::from([("write_file".into(), "path".into())]),
            ..ServerOptions::default()
        };
        assert_eq!(o.validate().map_err(|e| e.0), Err("path_arguments"));
        o.lease_required = vec!["write_*".into()];
        assert!(o.validate().is_ok());
        o.lease_required = vec![String::new()];
        assert_eq!(o.validate().map_err(|e| e.0), Err("lease_required"));
    }

    #[test]
    fn toml_defaults_and_overrides_are_strict_and_checked() {
        use crate::config::Settings;
        let s = Settings::from_toml(
            "[pool]\nmcp_servers = \"servers.json\"\nrequest_timeout_ms = 5000\n\
             [pool.servers.gh]\nfailure_threshold = 2\nrestart = \"never\"\n",
        )
        .unwrap();
        assert_eq!(s.pool.mcp_servers, PathBuf::from("servers.json"));
        let gh = s.pool.options_for("gh");
        assert_eq!(
            (gh.request_timeout_ms, gh.failure_threshold, gh.restart),
            (5000, 2, RestartPolicy::Never)
        );
        assert_eq!(s.pool.options_for("other").failure_threshold, 5);
        let e = Settings::from_toml("[pool.servers.gh]\nfailure_treshold = 2\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("failure_treshold"), "{e}");
        let e = Settings::from_toml("[pool]\nrestart = \"sometimes\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sometimes"), "{e}");
        let e = Settings::from_toml("[pool]\nfailure_threshold = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pool.failure_threshold"), "{e}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure type
    fn environment_overrides_pool_keys() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BATON_POOL__REQUEST_TIMEOUT_MS", "1234");
            jail.set_env("BATON_POOL__SERVERS__GH__ENABLED", "false");
            let s = crate::config::Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.pool.request_timeout_ms, 1234);
            assert!(!s.pool.options_for("gh").enabled);
            Ok(())
        });
    }

    #[test]
    fn ranges_name_the_key() {
        let o = ServerOptions {
            restart_max_ms: 1,
            ..Default::default()
        };
        assert_eq!(o.validate().unwrap_err().0, "restart_max_ms");
        let o = ServerOptions {
            failure_threshold: 0,
            ..Default::default()
        };
        assert_eq!(o.validate().unwrap_err().0, "failure_threshold");
    }
}
