//! `baton guard …`: the git guard, the one check of reservations that sees
//! writes made through a shell.
//!
//! - `baton guard pre-commit` (run by the hook): the staged paths (`git
//!   diff --cached --name-only --no-renames`, so both sides of a rename;
//!   git prints them relative to the repository's top level, so agents in
//!   different worktrees of one repository name the same paths) are sent
//!   to `POST /api/v1/reservations/check`. The commit is refused (exit 1)
//!   when a staged path is held by a worker other than `$BATON_WORKER`:
//!   exclusively, or shared while `$BATON_WORKER` holds no reservation of
//!   the path itself. The message names each path and its holder. The
//!   token is `BATON_TOKEN`, the server `BATON_URL`. When baton cannot be
//!   reached (or answers with a server error) the commit goes ahead with
//!   a warning, unless `BATON_GUARD_FAIL_CLOSED=1` (then it is refused).
//! - `baton guard install`: writes the hook into the hooks directory git
//!   uses (`git rev-parse --git-path hooks`: honours `core.hooksPath` and
//!   linked worktrees). An existing `pre-commit` hook that is not baton's
//!   is kept as `pre-commit.baton-chained` and run first; installing again
//!   changes nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};
use clap::Subcommand;
use serde_json::{json, Value};

use super::reservations::holder;
use super::{s, Remote};

/// `baton guard <command>`.
#[derive(Subcommand)]
pub(crate) enum GuardCommand {
    /// Refuse the commit if a staged path is reserved by another worker.
    PreCommit,
    /// Install the pre-commit hook (chaining an existing one).
    Install,
}

/// A line that marks a hook as baton's.
const MARKER: &str = "# baton guard: installed by `baton guard install`";

/// Name an existing hook is kept under, and run from baton's.
const CHAINED: &str = "pre-commit.baton-chained";

/// Paths sent per check request (the server bounds a request by `api.max_page_size`).
const CHUNK: usize = 500;

fn git(args: &[&str]) -> Result<Vec<u8>> {
    let out = Command::new("git")
        .args(args)
        .output()
        .context("cannot run git")?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

/// Run `cmd`; the process's exit code is what it returns.
pub(crate) async fn run(remote: Remote, cmd: GuardCommand) -> Result<i32> {
    match cmd {
        GuardCommand::PreCommit => pre_commit(&remote).await,
        GuardCommand::Install => install().map(|()| 0),
    }
}

async fn pre_commit(remote: &Remote) -> Result<i32> {
    let staged = git(&[
        "diff",
        "--cached",
        "--name-only",
        "--no-renames",
        "-z",
        "--diff-filter=ACDMRTUXB",
    ])?;
    let paths: Vec<String> = staged
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    if paths.is_empty() {
        return Ok(0);
    }
    let me = std::env::var("BATON_WORKER").unwrap_or_default();
    let fail_closed = std::env::var("BATON_GUARD_FAIL_CLOSED").is_ok_and(|v| v == "1");
    let mut refused = Vec::new();
    for chunk in paths.chunks(CHUNK) {
        let answer = match check(remote, chunk).await {
            Ok(v) => v,
            Err(e) if fail_closed => {
                eprintln!("baton guard: commit refused: cannot check reservations ({e:#}), and BATON_GUARD_FAIL_CLOSED=1");
                return Ok(1);
            }
            Err(e) => {
                eprintln!("baton guard: warning: cannot check reservations ({e:#}); committing without the check (BATON_GUARD_FAIL_CLOSED=1 refuses instead)");
                return Ok(0);
            }
        };
        for p in answer["paths"].as_array().into_iter().flatten() {
            let holders: Vec<&Value> = p["holders"].as_array().into_iter().flatten().collect();
            let mine = holders.iter().any(|h| s(&h["worker"]) == me);
            for h in holders {
                let other = s(&h["worker"]) != me;
                let exclusive = h["mode"] == "exclusive";
                if other && (exclusive || !mine) {
                    refused.push(format!("  {} is reserved by {}", s(&p["path"]), holder(h)));
                }
            }
        }
    }
    if refused.is_empty() {
        return Ok(0);
    }
    let who = if me.is_empty() {
        "no worker (BATON_WORKER is not set)".to_owned()
    } else {
        format!("worker '{me}'")
    };
    eprintln!("baton guard: commit refused: staged paths are reserved by another worker (this commit is by {who}):");
    for line in refused {
        eprintln!("{line}");
    }
    eprintln!("Wait for the holder to finish, or unstage those paths.");
    Ok(1)
}

/// Ask the server who holds `paths`; any failure to get an answer is an error.
async fn check(remote: &Remote, paths: &[String]) -> Result<Value> {
    let http = remote.credentials.client()?;
    let url = format!(
        "{}/api/v1/reservations/check",
        remote.url.trim_end_matches('/')
    );
    let res = http
        .post(&url)
        .timeout(std::time::Duration::from_secs(10))
        .json(&json!({ "paths": paths }))
        .send()
        .await
        .with_context(|| format!("baton at {} cannot be reached", remote.url))?;
    let status = res.status();
    let v: Value = res.json().await.context("baton sent a non-JSON reply")?;
    if !status.is_success() {
        bail!(
            "{}: {} (HTTP {status})",
            s(&v["error"]["code"]),
            s(&v["error"]["message"])
        );
    }
    Ok(v)
}

fn install() -> Result<()> {
    let dir = String::from_utf8(git(&["rev-parse", "--git-path", "hooks"])?)
        .context("git printed a hooks path that is not UTF-8")?;
    let dir = PathBuf::from(dir.trim());
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let hook = dir.join("pre-commit");
    if hook.exists() {
        let text = std::fs::read_to_string(&hook).unwrap_or_default();
        if !text.contains(MARKER) {
            let chained = dir.join(CHAINED);
            if chained.exists() {
                bail!(
                    "{} exists and is not baton's, and {} exists too; merge them by hand",
                    hook.display(),
                    chained.display()
                );
            }
            std::fs::rename(&hook, &chained)
                .with_context(|| format!("cannot move {} aside", hook.display()))?;
            println!(
                "kept the existing hook as {} (it runs first)",
                chained.display()
            );
        }
    }
    let exe = std::env::current_exe().context("cannot find the baton binary")?;
    std::fs::write(&hook, script(&exe))
        .with_context(|| format!("cannot write {}", hook.display()))?;
    make_executable(&hook)?;
    println!("installed {}", hook.display());
    Ok(())
}

fn script(exe: &Path) -> String {
    let exe = exe.display().to_string().replace('\'', r"'\''");
    format!(
        "#!/bin/sh\n{MARKER}\n\
         # Refuses a commit whose staged paths another worker reserved (BATON_WORKER, BATON_URL,\n\
         # BATON_TOKEN; BATON_GUARD_FAIL_CLOSED=1 refuses when baton cannot be reached).\n\
         chained=\"$(dirname \"$0\")/{CHAINED}\"\n\
         if [ -x \"$chained\" ]; then \"$chained\" \"$@\" || exit $?; fi\n\
         baton_bin=\"${{BATON_BIN:-}}\"\n\
         [ -n \"$baton_bin\" ] || baton_bin='{exe}'\n\
         exec \"$baton_bin\" guard pre-commit\n"
    )
}

#[cfg(unix)]
fn make_executable(p: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut perm = std::fs::metadata(p)?.permissions();
    perm.set_mode(0o755);
    std::fs::set_permissions(p, perm)
        .with_context(|| format!("cannot make {} executable", p.display()))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> Result<()> {
    Ok(())
}
