//! [`Settings::validate`]: the range and consistency checks run after every
//! load, each refusal naming its dotted key.

use super::origin::parse_origin;
use super::{ConfigError, Settings, StorageBackend};

impl Settings {
    /// Check every range and consistency rule (non-zero sizes and intervals, a TLS
    /// certificate with its key, a URL for `postgres`, parseable origins, complete JWT
    /// settings).
    ///
    /// Errors: [`ConfigError::Invalid`] naming the first offending dotted key
    /// (`leases.ttl_secs`).
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
            (1..=86_400).contains(&self.slots.adopt_within_secs),
            "slots.adopt_within_secs",
            "must be between 1 and 86400",
        )?;
        check(
            (1..=100_000).contains(&self.tasks.max_paths),
            "tasks.max_paths",
            "must be between 1 and 100000",
        )?;
        if let Some((key, _)) = self.concurrency.limits.iter().find(|(_, n)| **n == 0) {
            return Err(ConfigError::Invalid {
                key: "concurrency.limits",
                message: format!(
                    "the limit of '{key}' is 0, so its tasks could never run; give at least 1, or remove the key (unlimited)"
                ),
            });
        }
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
            (1..=1_048_576).contains(&self.messages.max_body_bytes),
            "messages.max_body_bytes",
            "must be between 1 and 1048576",
        )?;
        check(
            (1..=4096).contains(&self.messages.max_subject_bytes),
            "messages.max_subject_bytes",
            "must be between 1 and 4096",
        )?;
        check(
            (1..=100_000).contains(&self.messages.max_unacked),
            "messages.max_unacked",
            "must be between 1 and 100000",
        )?;
        check(
            self.messages.hook_every_secs <= 86_400,
            "messages.hook_every_secs",
            "must be at most 86400 (0: every PostToolUse)",
        )?;
        check(
            (1024..=100_000).contains(&self.messages.hook_max_bytes),
            "messages.hook_max_bytes",
            "must be between 1024 and 100000",
        )?;
        check(
            (1..=3600).contains(&self.ha.failover_timeout_secs),
            "ha.failover_timeout_secs",
            "must be between 1 and 3600",
        )?;
        check(
            (1..=3600).contains(&self.server.body_read_timeout_secs),
            "server.body_read_timeout_secs",
            "must be between 1 and 3600",
        )?;
        check(
            self.server.max_connections <= 10_000_000,
            "server.max_connections",
            "must be at most 10000000 (0 derives it from RLIMIT_NOFILE)",
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
            self.leases.max_implicit_secs >= 1,
            "leases.max_implicit_secs",
            "must be at least 1",
        )?;
        check(
            self.hooks.max_body_bytes >= 64 * 1024,
            "hooks.max_body_bytes",
            "must be at least 65536",
        )?;
        check(
            (1..=1000).contains(&self.hooks.progress_lines),
            "hooks.progress_lines",
            "must be between 1 and 1000",
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
            (1..=10 * 365 * 24 * 3600).contains(&self.tasks.max_delay_secs),
            "tasks.max_delay_secs",
            "must be between 1 and 315360000 (ten years)",
        )?;
        check(
            (1..=64).contains(&self.subtasks.max_depth),
            "subtasks.max_depth",
            "must be between 1 and 64",
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
                o == "*" || parse_origin(o).is_some(),
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
