//! `baton hooks install | uninstall | run`: wire Claude Code to baton.
//!
//! `install` merges into the Claude Code files of a scope:
//!
//! | scope | hooks and `enabledMcpjsonServers` | MCP server entry | record of the change |
//! |---|---|---|---|
//! | `project` (default, `--dir`) | `.claude/settings.json` | `.mcp.json` (enabled in the settings, so `claude -p` loads it without asking) | `.claude/baton-hooks.json` |
//! | `user` | `~/.claude/settings.json` | `~/.claude.json` (`mcpServers`, Claude Code's user scope) | `~/.claude/baton-hooks.json` |
//!
//! The hooks: `http` hooks POSTing `PreToolUse`, `PostToolUse`,
//! `PostToolUseFailure`, `UserPromptSubmit`, `Stop` and `SessionEnd` to
//! `<url>/api/v1/hooks/claude-code`, and a `command` hook `baton hooks run
//! SessionStart` (the pinned CLI sends no `http` hook for `SessionStart`).
//! Every hook and the MCP entry send `X-Baton-Worker`: `--worker NAME`, else
//! `$BATON_WORKER` expanded by Claude Code from the agent's environment;
//! with `--auth` also `Authorization: Bearer $BATON_TOKEN`.
//!
//! Installing again first takes back what the last install added, so the
//! files hold one copy; the user's own hooks and keys are kept. `--dry-run`
//! prints the files as they would be. `uninstall` takes back exactly what
//! was added ([`super::hooks_merge`]): each file is again equal, as JSON, to
//! what it was, and a file or directory the install created is removed.
//!
//! `run EVENT` reads a hook event on stdin, POSTs it to the endpoint (as
//! `--worker`, else `BATON_WORKER`; with `BATON_TOKEN`) and prints the
//! answer: for clients, or events, without `http` hooks. It exits 1 when
//! baton cannot be reached, which Claude Code treats as a non-blocking
//! hook error (fail-open).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::hooks_merge::{append, set, undo_all, Undo};
use super::Credentials;

/// Where `install` puts things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Scope {
    /// The project directory (`--dir`): `.claude/settings.json`, `.mcp.json`.
    Project,
    /// Your user: `~/.claude/settings.json`, `~/.claude.json`.
    User,
}

/// Which files of a scope.
#[derive(clap::Args, Clone)]
pub(crate) struct Target {
    /// `project` (the directory `--dir`) or `user` (your home directory).
    #[arg(long, value_enum, default_value = "project")]
    scope: Scope,
    /// The project directory (scope `project`).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Print the files as they would be written, write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// `baton hooks ...`
#[derive(clap::Subcommand)]
pub(crate) enum HooksCommand {
    /// Merge baton's hooks and MCP server entry into Claude Code's settings.
    Install {
        #[command(flatten)]
        target: Target,
        /// baton's URL.
        #[arg(long, env = "BATON_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// The worker name every hook and MCP call sends (default: each
        /// agent's `$BATON_WORKER`).
        #[arg(long)]
        worker: Option<String>,
        /// Also send `Authorization: Bearer $BATON_TOKEN` (baton with `auth.required`).
        #[arg(long)]
        auth: bool,
    },
    /// Take back exactly what `install` added.
    Uninstall {
        #[command(flatten)]
        target: Target,
    },
    /// Forward one hook event (JSON on stdin) to baton and print its answer.
    Run {
        /// The event (`SessionStart`, ...): for logs; the body names it too.
        event: String,
        /// baton's URL.
        #[arg(long, env = "BATON_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// The worker (default: `BATON_WORKER`).
        #[arg(long)]
        worker: Option<String>,
        #[command(flatten)]
        credentials: Credentials,
    },
}

/// The endpoint's path below baton's URL.
const HOOKS_PATH: &str = "/api/v1/hooks/claude-code";
/// Seconds Claude Code waits for a hook.
const HOOK_TIMEOUT_SECS: u64 = 10;
/// Largest event `run` reads from stdin (`[hooks] max_body_bytes`' default).
const MAX_EVENT_BYTES: u64 = 64 * 1024 * 1024;
/// The events sent by `http` hooks, and whether they take a tool matcher.
const HTTP_EVENTS: [(&str, bool); 6] = [
    ("PreToolUse", true),
    ("PostToolUse", true),
    ("PostToolUseFailure", true),
    ("UserPromptSubmit", false),
    ("Stop", false),
    ("SessionEnd", false),
];

/// Run a `baton hooks` subcommand.
pub(crate) async fn run(command: HooksCommand) -> Result<()> {
    match command {
        HooksCommand::Install {
            target,
            url,
            worker,
            auth,
        } => {
            let wiring = Wiring {
                url: url.trim_end_matches('/').to_owned(),
                worker,
                auth,
                exe: std::env::current_exe().context("cannot tell where this baton binary is")?,
            };
            install(&Files::of(&target)?, &wiring, target.dry_run)
        }
        HooksCommand::Uninstall { target } => uninstall(&Files::of(&target)?, target.dry_run),
        HooksCommand::Run {
            event,
            url,
            worker,
            credentials,
        } => forward(&event, &url, worker, &credentials).await,
    }
}

/// The files of one scope.
struct Files {
    scope: Scope,
    settings: PathBuf,
    mcp: PathBuf,
    record: PathBuf,
}

impl Files {
    fn of(t: &Target) -> Result<Self> {
        Ok(match t.scope {
            Scope::Project => {
                let dir = std::path::absolute(&t.dir)
                    .with_context(|| format!("cannot resolve {}", t.dir.display()))?;
                Files {
                    scope: Scope::Project,
                    settings: dir.join(".claude/settings.json"),
                    mcp: dir.join(".mcp.json"),
                    record: dir.join(".claude/baton-hooks.json"),
                }
            }
            Scope::User => {
                let home = std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .context("HOME is not set: cannot find the user's Claude Code files")?;
                Files {
                    scope: Scope::User,
                    settings: home.join(".claude/settings.json"),
                    mcp: home.join(".claude.json"),
                    record: home.join(".claude/baton-hooks.json"),
                }
            }
        })
    }
}

/// What the hooks and the MCP entry point at and send.
struct Wiring {
    url: String,
    worker: Option<String>,
    auth: bool,
    exe: PathBuf,
}

impl Wiring {
    /// The headers of an `http` hook (`$VAR`, expanded by Claude Code from
    /// `allowedEnvVars`) and the variables they use.
    fn hook_headers(&self) -> (Value, Vec<&'static str>) {
        let mut headers = serde_json::Map::new();
        let mut vars = Vec::new();
        match &self.worker {
            Some(w) => {
                headers.insert("X-Baton-Worker".into(), json!(w));
            }
            None => {
                headers.insert("X-Baton-Worker".into(), json!("$BATON_WORKER"));
                vars.push("BATON_WORKER");
            }
        }
        if self.auth {
            headers.insert("Authorization".into(), json!("Bearer $BATON_TOKEN"));
            vars.push("BATON_TOKEN");
        }
        (Value::Object(headers), vars)
    }

    /// The matcher group of an `http` hook's event (a tool event's matches every tool).
    fn group(&self, tool_event: bool) -> Value {
        let (headers, vars) = self.hook_headers();
        let mut hook = json!({
            "type": "http",
            "url": format!("{}{HOOKS_PATH}", self.url),
            "headers": headers,
            "timeout": HOOK_TIMEOUT_SECS,
        });
        if !vars.is_empty() {
            hook["allowedEnvVars"] = json!(vars);
        }
        if tool_event {
            json!({"matcher": "*", "hooks": [hook]})
        } else {
            json!({"hooks": [hook]})
        }
    }

    /// The `command` hook of `SessionStart` (`http` hooks are not sent for it).
    fn session_start(&self) -> Value {
        let mut command = format!(
            "{} hooks run SessionStart --url {}",
            shell_quote(&self.exe.to_string_lossy()),
            shell_quote(&self.url)
        );
        if let Some(w) = &self.worker {
            command.push_str(&format!(" --worker {}", shell_quote(w)));
        }
        json!({"hooks": [{"type": "command", "command": command, "timeout": HOOK_TIMEOUT_SECS}]})
    }

    /// The `mcpServers.baton` entry.
    fn mcp_entry(&self) -> Value {
        let worker = self
            .worker
            .clone()
            .unwrap_or_else(|| "${BATON_WORKER}".into());
        let mut headers = json!({"X-Baton-Worker": worker});
        if self.auth {
            headers["Authorization"] = json!("Bearer ${BATON_TOKEN}");
        }
        json!({"type": "http", "url": format!("{}/mcp", self.url), "headers": headers})
    }
}

/// `s` as one word of a POSIX shell command line.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:=@+,".contains(c))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// What an install changed, kept beside the settings for `uninstall`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    /// Format version (1).
    version: u32,
    /// Each file changed, in the order changed.
    files: Vec<FileRecord>,
    /// Directories the install created (removed again when empty).
    #[serde(default)]
    dirs_created: Vec<PathBuf>,
}

/// One file's changes.
#[derive(Debug, Serialize, Deserialize)]
struct FileRecord {
    path: PathBuf,
    /// The file did not exist before the install.
    created: bool,
    undo: Vec<Undo>,
}

/// A JSON file as read: its value (`{}` when absent) and whether it existed.
fn load(path: &Path) -> Result<(Value, bool)> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok((json!({}), true)),
        Ok(bytes) => {
            let v: Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not JSON", path.display()))?;
            if !v.is_object() {
                bail!("{} is not a JSON object", path.display());
            }
            Ok((v, true))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((json!({}), false)),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn read_record(path: &Path) -> Result<Option<Record>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is not a record of `baton hooks install`",
                path.display()
            )
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}

/// A file's content after taking back `record`'s changes: the value, and
/// whether the file existed before any install.
fn original(path: &Path, record: Option<&Record>) -> Result<(Value, bool)> {
    let (mut doc, exists) = load(path)?;
    let mut existed = exists;
    if let Some(r) = record.and_then(|r| r.files.iter().find(|f| f.path == path)) {
        undo_all(&mut doc, &r.undo);
        existed = exists && !r.created;
    }
    Ok((doc, existed))
}

fn install(files: &Files, wiring: &Wiring, dry_run: bool) -> Result<()> {
    let previous = read_record(&files.record)?;
    let (mut settings, settings_existed) = original(&files.settings, previous.as_ref())?;
    let (mut mcp, mcp_existed) = original(&files.mcp, previous.as_ref())?;
    let what = |e: String, p: &Path| anyhow::anyhow!("{}: {e}", p.display());
    let mut s_undo = Vec::new();
    append(
        &mut settings,
        &["hooks"],
        "SessionStart",
        wiring.session_start(),
        &mut s_undo,
    )
    .map_err(|e| what(e, &files.settings))?;
    for (event, tool_event) in HTTP_EVENTS {
        append(
            &mut settings,
            &["hooks"],
            event,
            wiring.group(tool_event),
            &mut s_undo,
        )
        .map_err(|e| what(e, &files.settings))?;
    }
    if files.scope == Scope::Project {
        append(
            &mut settings,
            &[],
            "enabledMcpjsonServers",
            json!("baton"),
            &mut s_undo,
        )
        .map_err(|e| what(e, &files.settings))?;
    }
    let mut m_undo = Vec::new();
    set(
        &mut mcp,
        &["mcpServers"],
        "baton",
        wiring.mcp_entry(),
        &mut m_undo,
    )
    .map_err(|e| what(e, &files.mcp))?;
    if dry_run {
        for (path, doc) in [(&files.settings, &settings), (&files.mcp, &mcp)] {
            println!("would write {}:\n{}", path.display(), pretty(doc));
        }
        return Ok(());
    }
    let mut record = Record {
        version: 1,
        files: vec![
            FileRecord {
                path: files.settings.clone(),
                created: !settings_existed,
                undo: s_undo,
            },
            FileRecord {
                path: files.mcp.clone(),
                created: !mcp_existed,
                undo: m_undo,
            },
        ],
        dirs_created: previous.map(|p| p.dirs_created).unwrap_or_default(),
    };
    for (path, doc) in [(&files.settings, &settings), (&files.mcp, &mcp)] {
        write(path, &pretty(doc), &mut record.dirs_created)?;
    }
    let text = serde_json::to_string_pretty(&record).context("cannot encode the record")?;
    write(
        &files.record,
        &format!("{text}\n"),
        &mut record.dirs_created,
    )?;
    println!(
        "baton's hooks are in {} and its MCP server in {} (worker: {}); `baton hooks uninstall{}` takes them out",
        files.settings.display(),
        files.mcp.display(),
        wiring.worker.as_deref().unwrap_or("$BATON_WORKER"),
        if files.scope == Scope::User { " --scope user" } else { "" },
    );
    Ok(())
}

/// Write `text` to `path`, creating its directory (noted in `dirs`).
fn write(path: &Path, text: &str, dirs: &mut Vec<PathBuf>) -> Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.exists() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            if !dirs.iter().any(|d| d == dir) {
                dirs.push(dir.to_path_buf());
            }
        }
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn uninstall(files: &Files, dry_run: bool) -> Result<()> {
    let Some(record) = read_record(&files.record)? else {
        println!(
            "nothing to uninstall: {} does not exist",
            files.record.display()
        );
        return Ok(());
    };
    for f in &record.files {
        let (doc, existed) = original(&f.path, Some(&record))?;
        let remove = !existed && doc.as_object().is_some_and(|o| o.is_empty());
        if dry_run {
            if remove {
                println!("would remove {}", f.path.display());
            } else {
                println!("would write {}:\n{}", f.path.display(), pretty(&doc));
            }
            continue;
        }
        if remove {
            match std::fs::remove_file(&f.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot remove {}", f.path.display()))
                }
            }
        } else if f.path.exists() {
            std::fs::write(&f.path, pretty(&doc))
                .with_context(|| format!("cannot write {}", f.path.display()))?;
        }
    }
    if dry_run {
        return Ok(());
    }
    std::fs::remove_file(&files.record)
        .with_context(|| format!("cannot remove {}", files.record.display()))?;
    for dir in record.dirs_created.iter().rev() {
        // only if empty: anything else in it is someone's
        let _ = std::fs::remove_dir(dir);
    }
    println!(
        "baton's hooks and MCP server entry are out of {} and {}",
        files.settings.display(),
        files.mcp.display()
    );
    Ok(())
}

/// `baton hooks run`: one event from stdin to the endpoint, its answer to stdout.
async fn forward(
    event: &str,
    url: &str,
    worker: Option<String>,
    credentials: &Credentials,
) -> Result<()> {
    let mut body = Vec::new();
    std::io::stdin()
        .take(MAX_EVENT_BYTES + 1)
        .read_to_end(&mut body)
        .context("cannot read the hook event from stdin")?;
    if body.len() as u64 > MAX_EVENT_BYTES {
        bail!("the {event} event is larger than {MAX_EVENT_BYTES} bytes");
    }
    let worker = worker
        .or_else(|| std::env::var("BATON_WORKER").ok())
        .filter(|w| !w.trim().is_empty());
    let endpoint = format!("{}{HOOKS_PATH}", url.trim_end_matches('/'));
    let mut req = credentials
        .client()?
        .post(&endpoint)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .timeout(std::time::Duration::from_secs(HOOK_TIMEOUT_SECS))
        .body(body);
    if let Some(w) = worker {
        req = req.header("X-Baton-Worker", w);
    }
    let res = req
        .send()
        .await
        .with_context(|| format!("{event} hook: cannot reach baton at {endpoint}"))?;
    let status = res.status();
    let text = res.text().await.context("cannot read baton's answer")?;
    if !status.is_success() {
        bail!("{event} hook: baton answered {status}: {text}");
    }
    println!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_quoted_only_when_the_shell_needs_it() {
        assert_eq!(shell_quote("/usr/bin/baton"), "/usr/bin/baton");
        assert_eq!(shell_quote("/a b/baton"), "'/a b/baton'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(
            shell_quote("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
    }
}
