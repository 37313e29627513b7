//! `POST /api/v1/hooks/claude-code`: Claude Code's lifecycle hooks, so the
//! harness — not the model — keeps the coordination rules. Answers are in
//! Claude Code's hook output format, using only the events, fields and
//! answers the pinned CLI (2.1.332) is recorded to send and act on
//! (`tests/clients/fixtures/hooks/README.md`).
//!
//! The worker is the request's `X-Baton-Worker` (`$BATON_WORKER`, which
//! `baton hooks install` writes into every hook), resolved by the one
//! resolver ([`crate::core::worker`]); the caller is the bearer token's, so
//! a hook acts only on leases that token may act on.
//!
//! | event | what baton does | answer |
//! |---|---|---|
//! | `SessionStart`, `UserPromptSubmit` | `UserPromptSubmit`: takes the worker's unread messages (marked read) | `additionalContext`: the task the worker holds (id, title, lease, expiry) or how to claim one, then (`UserPromptSubmit`) the unread messages, at most `[messages] hook_max_bytes`; without a worker, how to set `BATON_WORKER` |
//! | `PreToolUse` of `Edit`, `Write`, `MultiEdit`, `NotebookEdit` | asks who holds the file, relative to the repository's top level ([`paths`]); `[hooks] auto_reserve` (on by default) reserves a free one bound to the held task's lease | `deny` naming the holder when another worker holds it, else `{}` |
//! | `PostToolUse`, `PostToolUseFailure` | renews the worker's leases (durable before the answer); appends a progress line (tool and file) to each held task's `progress` context key and audit log, at most one per `[hooks] progress_interval_ms`; takes unread messages at most once per `[messages] hook_every_secs` | `additionalContext` with the unread messages, else `{}` |
//! | `Stop` | — | `decision: block` once (not when `stop_hook_active`) while the worker holds a lease: complete, fail or release it first |
//! | `SessionEnd` | releases the worker's leases now (not waiting for them to lapse) | `{}` |
//! | `StopFailure` and anything else | nothing (a failed turn ends a turn, not the work) | `{}` |
//!
//! Every call is also activity: it renews the worker's leases past half
//! their TTL ([`crate::board::Board::note_activity`]).
//!
//! **Fail-open.** Claude Code treats a hook it cannot reach, a non-2xx
//! answer or a non-JSON body as a non-blocking error: the tool runs, the
//! turn goes on. So baton being down, a token without the `agent` role
//! (403), a body over `[hooks] max_body_bytes` (413) or a malformed one
//! (400/422) never stops an agent — and never denies a write either.
//! `SessionStart` is not sent to `http` hooks by the pinned CLI: `baton
//! hooks run SessionStart` forwards it as a `command` hook.

pub mod paths;

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use self::paths::{repository_relative, BoardReservations, PathHolder, PathHolders};
use super::{parse_json, Acting, ApiError};
use crate::board::{Board, HookTrigger, HOW_TO_NAME_A_WORKER};
use crate::core::table::LeaseRef;
use crate::core::text::clip;
use crate::error::{Error, ErrorCode};
use crate::model::{rfc3339, Task};

/// Tools that write a file: their `PreToolUse` is checked against path
/// holders. (`MultiEdit` is not a tool of the pinned CLI; it is listed for
/// the versions that have it.)
pub const WRITING_TOOLS: [&str; 4] = ["Edit", "Write", "MultiEdit", "NotebookEdit"];

/// Longest progress line, in bytes.
const MAX_LINE_BYTES: usize = 240;
/// Longest task title quoted in an answer, in bytes.
const MAX_TITLE_BYTES: usize = 120;
/// Most held tasks named in one answer.
const MAX_NAMED: usize = 3;

/// The fields of a hook event baton reads; everything else (a
/// `tool_response` carrying whole files, say) is skipped unread.
#[derive(Debug, Default, Deserialize)]
struct HookEvent {
    /// `SessionStart`, `PreToolUse`, ….
    #[serde(default)]
    hook_event_name: String,
    /// The session's working directory (file paths are made relative to it).
    #[serde(default)]
    cwd: Option<String>,
    /// The tool of a tool event.
    #[serde(default)]
    tool_name: Option<String>,
    /// The tool's input (only the fields below are read).
    #[serde(default)]
    tool_input: Option<ToolInput>,
    /// `Stop`: this stop follows one a hook blocked.
    #[serde(default)]
    stop_hook_active: bool,
    /// `SessionEnd`: why.
    #[serde(default)]
    reason: Option<String>,
}

/// The parts of a tool's input a progress line or a path check needs.
#[derive(Debug, Default, Deserialize)]
struct ToolInput {
    #[serde(default)]
    file_path: Option<String>,
    #[serde(default)]
    notebook_path: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

impl ToolInput {
    /// The file a writing tool writes.
    fn written_file(&self) -> Option<&str> {
        self.file_path
            .as_deref()
            .or(self.notebook_path.as_deref())
            .filter(|p| !p.is_empty())
    }
}

/// Claude Code's own hook output, as the pinned CLI reads it.
fn additional_context(event: &str, text: String) -> Value {
    json!({"hookSpecificOutput": {"hookEventName": event, "additionalContext": text}})
}

fn deny(reason: String) -> Value {
    json!({"hookSpecificOutput": {
        "hookEventName": "PreToolUse",
        "permissionDecision": "deny",
        "permissionDecisionReason": reason,
    }})
}

fn block(reason: String) -> Value {
    json!({"decision": "block", "reason": reason})
}

/// Nothing to say: the CLI goes on as if no hook had run.
fn nothing() -> Value {
    json!({})
}

/// One of Claude Code's hook events (the body the CLI POSTs: `hook_event_name`,
/// `session_id`, `cwd`, and the event's own fields). The worker is the
/// `X-Baton-Worker` header; the answer is Claude Code's hook output (see
/// the module doc for each event). Only the fields baton needs are read;
/// the rest (whole files in a `PostToolUse`) is skipped.
#[utoipa::path(post, path = "/api/v1/hooks/claude-code", tag = "hooks",
    params(("X-Baton-Worker" = Option<String>, Header, description = "the agent's worker name (`$BATON_WORKER`)")),
    request_body(content = Object, description = "the hook event as Claude Code sends it"),
    responses((status = 200, body = Object, description = "Claude Code's hook output: `{}`, `hookSpecificOutput` (`additionalContext`, or a PreToolUse `permissionDecision: deny` with its reason) or a Stop's `{decision: \"block\", reason}`"),
              (status = 400, body = super::tasks::ErrorBody, description = "the body is not JSON (Claude Code goes on: fail-open)"),
              (status = 413, body = super::tasks::ErrorBody, description = "the body is larger than `[hooks] max_body_bytes` (Claude Code goes on: fail-open)"),
              (status = 422, body = super::tasks::ErrorBody, description = "the body is not a JSON object, a field has the wrong type, or `X-Baton-Worker` is not a valid worker name")))]
pub(crate) async fn claude_code(
    board: Acting,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limit = board.settings().hooks.max_body_bytes;
    let bytes = match payload.to_bytes_limited(limit).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidJson,
                format!("cannot read body: {e}"),
            ))
        }
        Err(_) => return Err(ApiError::BodyTooLarge(limit)),
    };
    let event: HookEvent = parse_json(&bytes)?;
    // serde's derived struct also takes a JSON array (fields by position):
    // a hook event is an object
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::Unprocessable {
            message: "invalid body: a hook event is a JSON object".to_owned(),
        });
    }
    let holders: Arc<dyn PathHolders> = match req.app_data::<web::Data<dyn PathHolders>>() {
        Some(h) => h.clone().into_inner(),
        None => Arc::new(BoardReservations),
    };
    let answer = answer(&board, &event, holders.as_ref()).await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// What baton does for `event` and answers (see the module doc).
async fn answer(
    board: &Board,
    event: &HookEvent,
    holders: &dyn PathHolders,
) -> Result<Value, Error> {
    let name = event.hook_event_name.as_str();
    let Some(worker) = board.connection_worker().map(str::to_owned) else {
        return Ok(match name {
            "SessionStart" | "UserPromptSubmit" => additional_context(
                name,
                format!("baton: this agent has no worker name, so baton cannot keep a task for it. To {HOW_TO_NAME_A_WORKER}."),
            ),
            _ => nothing(),
        });
    };
    match name {
        "SessionStart" => {
            let held = held(board, &worker).await?;
            Ok(additional_context(name, briefing(&worker, &held)))
        }
        "UserPromptSubmit" => {
            let held = held(board, &worker).await?;
            let mut text = briefing(&worker, &held);
            if let Some(digest) = board
                .unread_digest(&worker, HookTrigger::PromptSubmit)
                .await?
            {
                text.push('\n');
                text.push_str(&digest);
            }
            Ok(additional_context(name, text))
        }
        "PreToolUse" => pre_tool_use(board, event, &worker, holders).await,
        "PostToolUse" | "PostToolUseFailure" => {
            board.renew_activity().await?;
            progress(board, event, &worker, name == "PostToolUseFailure").await?;
            // unread messages reach the model between tool calls, at most once
            // per `[messages] hook_every_secs`
            Ok(
                match board.unread_digest(&worker, HookTrigger::ToolUse).await? {
                    Some(digest) => additional_context(name, digest),
                    None => nothing(),
                },
            )
        }
        "Stop" if !event.stop_hook_active => {
            let held = held(board, &worker).await?;
            Ok(match held.first() {
                None => nothing(),
                Some(_) => block(format!(
                    "baton: you hold {}: complete_task, fail_task or release_task first",
                    named(&held)
                )),
            })
        }
        "SessionEnd" => {
            session_end(board, &worker, event.reason.as_deref()).await?;
            Ok(nothing())
        }
        _ => Ok(nothing()),
    }
}

/// The running tasks `worker` holds under leases this caller may act on.
async fn held(board: &Board, worker: &str) -> Result<Vec<Task>, Error> {
    let actor = board.actor().clone();
    let mut held = board.held_tasks(worker).await?;
    held.retain(|t| {
        t.lease
            .as_ref()
            .is_some_and(|l| actor.may_act_on(l.owner.as_deref()))
    });
    Ok(held)
}

/// "task `a` (lease 3)" for up to [`MAX_NAMED`] tasks, "and N more".
fn named(held: &[Task]) -> String {
    let mut parts: Vec<String> = held
        .iter()
        .take(MAX_NAMED)
        .map(|t| {
            let lease = t.lease.as_ref().map_or(0, |l| l.lease_id);
            format!("task `{}` (lease_id {lease})", t.id)
        })
        .collect();
    if held.len() > MAX_NAMED {
        parts.push(format!("{} more", held.len() - MAX_NAMED));
    }
    parts.join(", ")
}

/// The `additionalContext` of a session's start and of every prompt.
fn briefing(worker: &str, held: &[Task]) -> String {
    if held.is_empty() {
        return format!(
            "baton: you are worker `{worker}` and hold no task. Claim one with claim_next_task; \
             before you stop, complete_task, fail_task or release_task it."
        );
    }
    let tasks: Vec<String> = held
        .iter()
        .take(MAX_NAMED)
        .map(|t| {
            let (lease, expires) = t.lease.as_ref().map_or((0, String::new()), |l| {
                (l.lease_id, rfc3339::format(l.expires_at))
            });
            format!(
                "task `{}` \"{}\" (lease_id {lease}, expires {expires}, renewed while you work)",
                t.id,
                clip(t.title.clone(), MAX_TITLE_BYTES)
            )
        })
        .collect();
    let more = if held.len() > MAX_NAMED {
        format!(" and {} more", held.len() - MAX_NAMED)
    } else {
        String::new()
    };
    format!(
        "baton: you are worker `{worker}` and hold {}{more}. When it is done call complete_task \
         with its task_id and lease_id; if you cannot finish it, fail_task or release_task.",
        tasks.join("; ")
    )
}

/// `PreToolUse`: a write to a file another worker holds is denied.
async fn pre_tool_use(
    board: &Board,
    event: &HookEvent,
    worker: &str,
    holders: &dyn PathHolders,
) -> Result<Value, Error> {
    let tool = event.tool_name.as_deref().unwrap_or_default();
    if !WRITING_TOOLS.contains(&tool) {
        return Ok(nothing());
    }
    let Some(file) = event.tool_input.as_ref().and_then(ToolInput::written_file) else {
        return Ok(nothing());
    };
    let path = repository_relative(file, event.cwd.as_deref());
    let all = holders.holders(board, &path, worker).await?;
    if let Some(h) = all.iter().find(|h| h.worker != worker) {
        tracing::info!(%worker, holder = %h.worker, %path, tool, "write denied: path reserved");
        return Ok(deny(denial(&path, h)));
    }
    // already the worker's own: nothing more to reserve
    if all.is_empty() && board.settings().hooks.auto_reserve {
        let held = held(board, worker).await?;
        // one held task: the write is its work; with several, whose is unclear
        if let [task] = held.as_slice() {
            holders.reserve(board, &path, worker, task).await?;
        }
    }
    Ok(nothing())
}

/// The reason a denied write gives the model.
fn denial(path: &str, h: &PathHolder) -> String {
    let task = h
        .task_id
        .as_ref()
        .map(|t| format!(" for task `{t}`"))
        .unwrap_or_default();
    let until = h
        .expires_at
        .map(|at| format!(" until {}", rfc3339::format(at)))
        .unwrap_or_default();
    format!(
        "baton: {path} is reserved by worker `{}`{task}{until}; do not write it. Work on \
         another file, or wait until it is released.",
        h.worker
    )
}

/// `PostToolUse`: a progress line for each held task.
async fn progress(
    board: &Board,
    event: &HookEvent,
    worker: &str,
    failed: bool,
) -> Result<(), Error> {
    let tool = event.tool_name.as_deref().unwrap_or_default();
    // baton's own tool calls are in the audit log already
    if tool.is_empty() || tool.starts_with("mcp__baton__") {
        return Ok(());
    }
    let line = progress_line(
        tool,
        event.tool_input.as_ref(),
        event.cwd.as_deref(),
        failed,
    );
    for task in held(board, worker).await? {
        let Some(lease) = task.lease.as_ref() else {
            continue;
        };
        match board
            .append_progress(&task.id, lease.lease_id, worker, line.clone())
            .await
        {
            Ok(_) => {}
            // the lease ended between the read and the write: nothing to note
            Err(Error::Task(e)) => {
                tracing::debug!(task = %task.id, error = %e, "progress line not written");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// "Edit src/api.rs", "Bash: cargo test", "Write notes.md (failed)".
fn progress_line(tool: &str, input: Option<&ToolInput>, cwd: Option<&str>, failed: bool) -> String {
    let detail = input.and_then(|i| {
        if let Some(f) = i.written_file() {
            return Some(repository_relative(f, cwd));
        }
        if let Some(c) = i.command.as_deref() {
            let first = c.lines().next().unwrap_or_default();
            return Some(format!(": {first}"));
        }
        i.path
            .as_deref()
            .map(|p| repository_relative(p, cwd))
            .or_else(|| i.pattern.clone())
            .or_else(|| i.url.clone())
    });
    let mut line = match detail {
        Some(d) if d.starts_with(':') => format!("{tool}{d}"),
        Some(d) => format!("{tool} {d}"),
        None => tool.to_owned(),
    };
    if failed {
        line.push_str(" (failed)");
    }
    clip(line.replace(char::is_control, " "), MAX_LINE_BYTES)
}

/// `SessionEnd`: release every lease the worker holds (that this caller may
/// act on) now. A lease that ended meanwhile is skipped.
async fn session_end(board: &Board, worker: &str, reason: Option<&str>) -> Result<(), Error> {
    for task in held(board, worker).await? {
        let Some(lease) = task.lease.as_ref() else {
            continue;
        };
        match board
            .release(task.id.as_str(), LeaseRef::Id(lease.lease_id))
            .await
        {
            Ok(_) => tracing::info!(
                task = %task.id, lease_id = lease.lease_id, %worker,
                reason = reason.unwrap_or_default(),
                "session ended: lease released"
            ),
            Err(Error::Task(e)) => {
                tracing::debug!(task = %task.id, error = %e, "lease not released at session end");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: Value) -> ToolInput {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_progress_line_names_the_tool_and_its_file_or_command() {
        let edit = input(json!({"file_path": "/p/src/a.rs", "old_string": "x", "new_string": "y"}));
        assert_eq!(
            progress_line("Edit", Some(&edit), Some("/p"), false),
            "Edit src/a.rs"
        );
        let bash = input(json!({"command": "cargo test\necho more", "description": "d"}));
        assert_eq!(
            progress_line("Bash", Some(&bash), Some("/p"), true),
            "Bash: cargo test (failed)"
        );
        assert_eq!(progress_line("WebSearch", None, None, false), "WebSearch");
        let long = input(json!({"command": "x".repeat(1000)}));
        assert!(progress_line("Bash", Some(&long), None, false).len() <= MAX_LINE_BYTES);
    }

    #[test]
    fn a_large_write_body_is_read_for_its_path_only() {
        let body = json!({
            "hook_event_name": "PreToolUse", "cwd": "/p", "tool_name": "Write",
            "tool_input": {"content": "x".repeat(1 << 20), "file_path": "/p/big.txt"},
            "tool_response": {"content": "x".repeat(1 << 20)},
        });
        let e: HookEvent = serde_json::from_value(body).unwrap();
        let file = e.tool_input.as_ref().and_then(ToolInput::written_file);
        assert_eq!(file, Some("/p/big.txt"));
    }
}
