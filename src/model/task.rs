//! A task: its record ([`Task`]), its lifecycle state ([`TaskStatus`]), what
//! a client sends to create one ([`TaskSpec`]) and the downstream tool call
//! that runs one for baton ([`Executor`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::id::TaskId;
use super::lease::Lease;
use super::reservation::ReservationMode;
use super::rfc3339;
use super::time::Millis;

/// Lifecycle state of a task.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    ToSchema,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// Waiting for dependencies.
    Blocked,
    /// Claimable: every dependency is done.
    Ready,
    /// Held by a worker under a lease.
    Running,
    /// Finished successfully (terminal).
    Done,
    /// Failed for good (terminal until reset).
    Failed,
    /// Cancelled by an operator (terminal).
    Cancelled,
}

impl TaskStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [TaskStatus; 6] = [
        TaskStatus::Blocked,
        TaskStatus::Ready,
        TaskStatus::Running,
        TaskStatus::Done,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ];

    /// Lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Blocked => "blocked",
            TaskStatus::Ready => "ready",
            TaskStatus::Running => "running",
            TaskStatus::Done => "done",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// `done`, `failed` and `cancelled` are terminal.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Done | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }

    /// Index into [`TaskStatus::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task record. The [`TaskRegistry`](crate::actors::registry) is its only writer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, schemars::JsonSchema)]
pub struct Task {
    /// The task's id, unique on the board (the caller's, or generated: `t-` and a
    /// UUIDv7).
    pub id: TaskId,
    /// Short human title.
    pub title: String,
    /// Longer description (instructions for the worker).
    #[serde(default)]
    pub description: String,
    /// Free-form JSON input for the worker (size-bounded).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Box<serde_json::Value>>,
    /// Labels used for filtering and capability matching.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Higher runs first.
    #[serde(default)]
    pub priority: i32,
    /// Tasks that must be `done` before this one is `ready`.
    #[serde(default)]
    pub dependencies: Vec<TaskId>,
    /// Claims allowed before a failing/expiring task fails for good.
    pub max_attempts: u32,
    /// Execution timeout of one attempt, in seconds.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Where the task is in its lifecycle.
    pub status: TaskStatus,
    /// Result reported on completion.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub output: Option<Box<serde_json::Value>>,
    /// Last error (failure reason, expiry, cascade).
    #[serde(default)]
    pub error: Option<String>,
    /// Number of claims so far that counted as attempts.
    #[serde(default)]
    pub attempts: u32,
    /// Present while `running`.
    #[serde(default)]
    pub lease: Option<Box<Lease>>,
    /// Who works on it (while `running`) or finished it (`done`, `failed`
    /// under a lease): the worker of the current or last lease. Cleared when
    /// the task is ready again (released, retried, expired, reset).
    #[serde(default)]
    pub worker: Option<String>,
    /// When the current or last attempt was claimed (cleared like `worker`).
    #[serde(default, with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    #[schemars(with = "Option<String>")]
    pub started_at: Option<Millis>,
    /// When the task reached `done`, `failed` or `cancelled` (cleared by a reset).
    #[serde(default, with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    #[schemars(with = "Option<String>")]
    pub finished_at: Option<Millis>,
    /// When the task was added (ms since the Unix epoch; RFC 3339 on the wire).
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    #[schemars(with = "String")]
    pub created_at: Millis,
    /// When the record last changed (ms since the Unix epoch; RFC 3339 on the wire).
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    #[schemars(with = "String")]
    pub updated_at: Millis,
    /// Insertion order on this board, the tie-breaker after priority.
    #[serde(default)]
    pub seq: u64,
    /// When set, baton runs the task itself by calling this downstream tool
    /// (the dispatcher); agents' `claim_next` never hands it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<Box<Executor>>,
    /// Repository-relative path patterns (globset globs, normalized) the
    /// task will touch: no claim starts it while another holder's live
    /// reservation (or a running task's paths) conflicts, and a claim
    /// reserves them for its lease.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// How `paths` are held: `exclusive` (default) or `shared`.
    #[serde(default, skip_serializing_if = "is_exclusive")]
    pub paths_mode: ReservationMode,
    /// At most `[concurrency] limits.<key>` running tasks share this key (a
    /// key without a limit is unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_key: Option<String>,
}

fn is_exclusive(m: &ReservationMode) -> bool {
    *m == ReservationMode::Exclusive
}

/// A downstream MCP tool call that runs a task (see the dispatcher).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Executor {
    /// Downstream server name (a key of `mcpServers`).
    pub server: String,
    /// Tool name as the downstream server calls it.
    pub tool: String,
    /// Tool arguments (a JSON object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub arguments: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Task {
    /// Whether this task carries every tag in `tags`.
    pub fn has_tags(&self, tags: &[String]) -> bool {
        tags.iter().all(|t| self.tags.iter().any(|x| x == t))
    }
}

impl Task {
    /// A fixture for tests: a `ready` task named `id` (not validated) with
    /// every other field at its default — title `id`, empty description, no
    /// payload, tags, dependencies, output, error, lease, worker or
    /// executor; priority 0; `max_attempts` 3; 0 attempts; `created_at`,
    /// `updated_at` and `seq` 0; no start or finish time. Change what a test
    /// needs with struct update syntax:
    /// `Task { status: TaskStatus::Failed, ..Task::for_test("a") }`.
    pub fn for_test(id: &str) -> Self {
        Self {
            id: TaskId::from_trusted(id),
            title: id.to_owned(),
            description: String::new(),
            payload: None,
            tags: Vec::new(),
            priority: 0,
            dependencies: Vec::new(),
            max_attempts: 3,
            timeout_secs: None,
            status: TaskStatus::Ready,
            output: None,
            error: None,
            attempts: 0,
            lease: None,
            worker: None,
            started_at: None,
            finished_at: None,
            created_at: 0,
            updated_at: 0,
            seq: 0,
            executor: None,
            paths: Vec::new(),
            paths_mode: ReservationMode::Exclusive,
            concurrency_key: None,
        }
    }
}

/// What a client sends to create a task. Everything but `title` (or
/// `description`) is optional.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Client-chosen id (`[A-Za-z0-9._:-]`); generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Short title (at most `max_title_len` bytes); defaults to the description's first
    /// non-blank line, cut to fit on a character boundary.
    #[serde(default)]
    pub title: Option<String>,
    /// Instructions for the worker.
    #[serde(default)]
    pub description: Option<String>,
    /// Free-form JSON input.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
    /// Labels a claim can filter on.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Higher runs first (default 0).
    #[serde(default)]
    pub priority: Option<i32>,
    /// Ids of tasks (existing, or earlier/later in the same batch) that must be done first.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// Claims allowed before failing for good.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Execution timeout of one attempt, in seconds.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Run the task by calling a downstream MCP tool (baton's dispatcher claims it).
    #[serde(default)]
    pub executor: Option<Executor>,
    /// Repo-relative globset globs it will touch (`src/api/**`): claims wait while others hold them.
    #[serde(default)]
    pub paths: Vec<String>,
    /// `exclusive` (default) or `shared`.
    #[serde(default)]
    pub paths_mode: Option<ReservationMode>,
    /// At most `[concurrency] limits.<key>` running tasks share a key.
    #[serde(default)]
    pub concurrency_key: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_lowercase() {
        for s in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }

    #[test]
    fn for_test_builds_a_ready_task_that_round_trips() {
        let t = Task::for_test("a");
        assert_eq!((t.id.as_str(), t.title.as_str()), ("a", "a"));
        assert_eq!(t.status, TaskStatus::Ready);
        assert_eq!(t.max_attempts, 3);
        let back: Task = serde_json::from_value(serde_json::to_value(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        let failed = Task {
            status: TaskStatus::Failed,
            ..Task::for_test("b")
        };
        assert_eq!(
            (failed.id.as_str(), failed.status),
            ("b", TaskStatus::Failed)
        );
    }
}
