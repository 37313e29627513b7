//! Process groups of stdio servers: every child is started as the leader of
//! its own group (`process_group(0)`), so the child and everything it spawned
//! are signalled together and none is left behind.
//!
//! Termination: SIGTERM to the group, wait up to a grace period for every
//! member to exit, then SIGKILL to the group. Zombies (exited, not yet reaped
//! by their parent or by init) count as gone: they run nothing.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// How often group membership is polled while waiting.
const POLL: Duration = Duration::from_millis(20);

/// The longest pause between two membership polls.
const MAX_POLL: Duration = Duration::from_millis(200);

/// How long to wait for the group to vanish after SIGKILL.
const AFTER_KILL: Duration = Duration::from_secs(2);

/// A process group, named by its leader's pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcessGroup(i32);

impl ProcessGroup {
    /// The group led by `pid` (a child started with `process_group(0)`).
    pub(crate) fn of_leader(pid: u32) -> Option<Self> {
        i32::try_from(pid).ok().filter(|p| *p > 1).map(ProcessGroup)
    }

    /// Group id.
    pub(crate) fn id(self) -> i32 {
        self.0
    }

    /// Send `signal` to every member; false when the group has no member left.
    pub(crate) fn signal(self, signal: Signal) -> bool {
        match killpg(Pid::from_raw(self.0), signal) {
            Ok(()) => true,
            Err(Errno::ESRCH) => false,
            Err(e) => {
                tracing::warn!(pgid = self.0, signal = %signal, error = %e, "cannot signal process group");
                false
            }
        }
    }

    /// Whether any member is still running (zombies do not count).
    pub(crate) fn is_alive(self) -> bool {
        match killpg(Pid::from_raw(self.0), None) {
            Err(Errno::ESRCH) => false,
            // EPERM would mean a foreign group reused the id: not ours to wait for
            Err(_) => false,
            Ok(()) => self.has_running_member().unwrap_or(true),
        }
    }

    /// Scan `/proc` for a member that is not a zombie; `None` without `/proc`.
    fn has_running_member(self) -> Option<bool> {
        let dir = std::fs::read_dir("/proc").ok()?;
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue; // exited meanwhile
            };
            // "pid (comm) state ppid pgrp …"; comm may contain spaces and parentheses
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            let mut fields = rest.split_whitespace();
            let state = fields.next().unwrap_or("Z");
            let pgrp = fields.nth(1).and_then(|p| p.parse::<i32>().ok());
            if pgrp == Some(self.0) && state != "Z" && state != "X" {
                return Some(true);
            }
        }
        Some(false)
    }

    /// Wait until no member runs; false if some still do after `within`.
    /// Each check (a scan of `/proc`) runs on the blocking pool, never on the
    /// arbiter that hosts the actors, and the polls back off from 20 ms to
    /// 200 ms.
    pub(crate) async fn wait_gone(self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let mut poll = POLL;
        loop {
            let alive = tokio::task::spawn_blocking(move || self.is_alive())
                .await
                .unwrap_or(true);
            if !alive {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(poll.min(deadline.saturating_duration_since(Instant::now()))).await;
            poll = (poll * 2).min(MAX_POLL);
        }
    }

    /// SIGTERM, up to `grace` for the members to exit, then SIGKILL.
    /// Returns false if something survived even SIGKILL (it should not).
    pub(crate) async fn terminate(self, grace: Duration) -> bool {
        if !self.signal(Signal::SIGTERM) {
            return true;
        }
        if self.wait_gone(grace).await {
            return true;
        }
        tracing::warn!(
            pgid = self.0,
            grace_ms = grace.as_millis() as u64,
            "process group ignored SIGTERM; sending SIGKILL"
        );
        self.signal(Signal::SIGKILL);
        let gone = self.wait_gone(AFTER_KILL).await;
        if !gone {
            tracing::error!(pgid = self.0, "process group survived SIGKILL");
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn a_group_and_its_grandchildren_are_terminated() {
        // a shell that ignores SIGTERM and leaves a grandchild behind
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg("trap '' TERM; sleep 600 & echo $!; while :; do sleep 0.05; done")
            .stdout(std::process::Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn().expect("spawn sh");
        let group = ProcessGroup::of_leader(child.id().expect("pid")).expect("group");
        let mut out = tokio::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        tokio::io::AsyncBufReadExt::read_line(&mut out, &mut line)
            .await
            .expect("grandchild pid");
        let grandchild: u32 = line.trim().parse().expect("pid");
        assert!(group.is_alive());
        let started = Instant::now();
        assert!(group.terminate(Duration::from_millis(200)).await);
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "waited the grace period"
        );
        let _ = child.wait().await;
        assert!(!group.is_alive());
        let stat = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z"),
            "grandchild still running: {stat}"
        );
        assert!(!group.signal(Signal::SIGTERM) || !group.is_alive());
    }
}
