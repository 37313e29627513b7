//! The board's own rules: `[slots]` (how many tasks run at once),
//! `[leases]` (how long a claim lasts), `[tasks]` (size bounds and
//! defaults every task is checked against), `[subtasks]` (how deep a
//! plan's tree may grow, and what a failed subtask does to its siblings) and
//! `[concurrency]` (how many running tasks may share a concurrency key).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `[slots]`: how many tasks run at once, and how long an anonymous hold waits to be
/// adopted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlotSettings {
    /// Number of worker slots: at most this many tasks run at once.
    pub count: u32,
    /// Seconds an anonymous slot hold (agent-coordinate-mcp
    /// `claim-worker-slot` without a `workerId`) stays held before a claim
    /// adopts it; unadopted by then, it lapses. A hold whose answer was lost
    /// is known to nobody, so it must not last `leases.compat_ttl_secs`.
    pub adopt_within_secs: u64,
}

/// `[leases]`: how long a claim lasts without a heartbeat, and how often lapsed ones
/// are swept.
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
    /// Any call of a connection that names its worker (`X-Baton-Worker`:
    /// an MCP tool call, a REST request, a Claude Code hook) renews that
    /// worker's leases, written only when less than half the TTL is left.
    pub renew_on_activity: bool,
    /// Seconds after a lease's last explicit sign of life (the claim, a
    /// heartbeat, a context write) during which activity still renews it;
    /// after that only an explicit one does, so an agent that only polls
    /// cannot hold its task forever.
    pub max_implicit_secs: u64,
}

/// `[tasks]`: the size bounds and defaults every task is checked against when added
/// (each refusal names the field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskSettings {
    /// Longest task id.
    pub max_id_len: usize,
    /// Longest title, in bytes of UTF-8.
    pub max_title_len: usize,
    /// Longest description, in bytes of UTF-8.
    pub max_description_len: usize,
    /// Largest JSON payload (serialized bytes); also bounds `output`.
    pub max_payload_bytes: usize,
    /// Most tags per task.
    pub max_tags: usize,
    /// Longest tag, in bytes of UTF-8.
    pub max_tag_len: usize,
    /// Most dependencies per task.
    pub max_dependencies: usize,
    /// Most tasks in one batch.
    pub max_batch: usize,
    /// The `max_attempts` a task gets when its spec names none.
    pub default_max_attempts: u32,
    /// Upper bound for `max_attempts`.
    pub max_attempts_limit: u32,
    /// Largest `timeout_secs` a task may ask for, in seconds.
    pub max_timeout_secs: u64,
    /// Largest context value (serialized bytes).
    pub max_context_value_bytes: usize,
    /// Longest error message kept.
    pub max_error_len: usize,
    /// Furthest a task may be put off, in seconds: a `run_after` or
    /// `delay_secs` on add, a `retry_after_secs` on release or fail.
    pub max_delay_secs: u64,
    /// Most path patterns per task (`paths`) and per reservation.
    pub max_paths: usize,
}

/// `[subtasks]`: plans as trees (a parent waits for its children).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubtaskSettings {
    /// Most levels of a tree: a top-level task is level 1, its subtasks
    /// level 2, and so on; a subtask deeper than this is refused.
    pub max_depth: u32,
    /// When a subtask fails for good its parent fails; with this on, the
    /// parent's other unfinished subtasks are cancelled too (running ones
    /// lose their lease). Off: they keep running.
    pub cancel_siblings_on_failure: bool,
}

impl Default for SubtaskSettings {
    fn default() -> Self {
        Self {
            max_depth: 8,
            cancel_siblings_on_failure: false,
        }
    }
}

/// The `[concurrency]` section: per-key limits on running tasks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConcurrencySettings {
    /// Most running tasks per concurrency key (`concurrency_key` of a task);
    /// a key without a limit here is unlimited. Every claim path checks it.
    pub limits: BTreeMap<String, u32>,
}

impl Default for SlotSettings {
    fn default() -> Self {
        Self {
            count: 5,
            adopt_within_secs: 30,
        }
    }
}

impl Default for LeaseSettings {
    fn default() -> Self {
        Self {
            ttl_secs: 30,
            sweep_interval_ms: 100,
            compat_ttl_secs: 600,
            renew_on_activity: true,
            max_implicit_secs: 3600,
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
            max_delay_secs: 30 * 24 * 3600,
            max_paths: 256,
        }
    }
}

/// `[messages]`: messages between workers, tasks and operators
/// (`send_message`, `read_messages`, `ack_message`; `/api/v1/messages`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessageSettings {
    /// Longest message body, in bytes (UTF-8); a longer one is refused
    /// (413 `too_large` naming this key), nothing stored.
    pub max_body_bytes: usize,
    /// Longest subject, in bytes (UTF-8).
    pub max_subject_bytes: usize,
    /// Most unacknowledged `ack_required` messages one addressee (a worker,
    /// a task, or all) may have; one more is refused (429
    /// `too_many_unacked` with the count).
    pub max_unacked: usize,
    /// A Claude Code `PostToolUse` hook is answered with the worker's unread
    /// messages at most once per this many seconds per worker (0: every
    /// time); `UserPromptSubmit` always.
    pub hook_every_secs: u64,
    /// Longest text a hook answer delivers at once, in bytes (the oldest
    /// unread messages first; the rest waits for the next answer).
    pub hook_max_bytes: usize,
}

impl Default for MessageSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 16_384,
            max_subject_bytes: 256,
            max_unacked: 100,
            hook_every_secs: 30,
            hook_max_bytes: 8_000,
        }
    }
}
