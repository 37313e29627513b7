//! Child processes a test starts: this build's `baton serve` (or another
//! build's, or a downstream MCP server) that says where it listens on a line
//! of its output. Each is killed — by its own pid, never by name — when its
//! [`Child`] is dropped, so a failed assertion leaves nothing running.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The line `baton serve` prints on stdout once it listens, before its URL.
pub const BATON_LISTENING: &str = "baton listening on ";

/// How long [`spawn_baton`] waits for the listening line.
pub const BATON_START: Duration = Duration::from_secs(60);

/// A command running this build's `baton` binary, with `RUST_LOG=warn`
/// and without the caller's `BATON_URL`, `BATON_TOKEN` or `BATON_CONFIG`
/// (a test names its server, token and config itself). Add arguments,
/// variables and stdio as needed; for tokio, `tokio::process::Command::from`.
pub fn baton_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
    cmd.env("RUST_LOG", "warn")
        .env_remove("BATON_URL")
        .env_remove("BATON_TOKEN")
        .env_remove("BATON_CONFIG");
    cmd
}

/// Start `baton` with `args` and `envs` (e.g. `["serve", "--bind",
/// "127.0.0.1:0", …]`) and wait until it prints its address: the returned
/// [`Child`]'s `url` is `http://127.0.0.1:<port>`. Its stderr goes to the
/// test's; panics (with the child killed) when no address comes within
/// [`BATON_START`].
pub fn spawn_baton(args: &[&str], envs: &[(&str, &str)]) -> Child {
    let mut cmd = baton_command();
    cmd.args(args)
        .envs(envs.iter().copied())
        .stderr(Stdio::inherit());
    Child::start(cmd, Announces::Stdout(BATON_LISTENING), BATON_START)
        .unwrap_or_else(|e| panic!("baton {args:?}: {e}"))
}

/// Which output stream carries a child's "listening on" line, and the text
/// before the URL on it.
#[derive(Debug, Clone, Copy)]
pub enum Announces {
    /// On stdout (`baton serve`: [`BATON_LISTENING`]).
    Stdout(&'static str),
    /// On stderr (server-everything over streamable HTTP: `"listening on "`).
    Stderr(&'static str),
}

/// A child process started by a test; killed (by its own pid) when
/// dropped, unless it already exited.
pub struct Child {
    pub process: std::process::Child,
    /// What followed the prefix on the listening line: `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Child {
    /// The same as [`spawn_baton`].
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Self {
        spawn_baton(args, envs)
    }

    /// Start `cmd` and wait up to `within` for the line `announces` names;
    /// the stream it is on is piped and read to its end on a thread (so the
    /// child never blocks on it), the others are as `cmd` set them. `Err`
    /// (the child killed) when it exits or stays silent instead.
    pub fn start(mut cmd: Command, announces: Announces, within: Duration) -> Result<Self, String> {
        let prefix = match announces {
            Announces::Stdout(p) => {
                cmd.stdout(Stdio::piped());
                p
            }
            Announces::Stderr(p) => {
                cmd.stderr(Stdio::piped());
                p
            }
        };
        let mut process = cmd
            .spawn()
            .map_err(|e| format!("cannot spawn {:?}: {e}", cmd.get_program()))?;
        let stream: Box<dyn std::io::Read + Send> = match announces {
            Announces::Stdout(_) => Box::new(process.stdout.take().expect("piped stdout")),
            Announces::Stderr(_) => Box::new(process.stderr.take().expect("piped stderr")),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix(prefix) {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        match rx.recv_timeout(within) {
            Ok(url) => Ok(Self { process, url }),
            Err(_) => {
                let _ = process.kill();
                let status = process.wait();
                Err(format!(
                    "no {prefix:?} line within {within:?} (exit: {status:?})"
                ))
            }
        }
    }

    /// Send SIGTERM and wait up to `bound` for the exit; `None` if it did
    /// not exit in time (it is then killed).
    pub fn terminate(&mut self, bound: Duration) -> Option<std::process::ExitStatus> {
        let pid = nix::unistd::Pid::from_raw(self.process.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.process.try_wait() {
                return Some(status);
            }
            // polling the exit: bounded by `bound`, then the child is killed
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
        None
    }
}

/// How many connections to `url` (`http://127.0.0.1:<port>`) hold bytes its
/// server has not read: what a paused (`SIGSTOP`) child has queued. Linux:
/// the `/proc/net/tcp` rows of that local address with a non-zero `rx_queue`.
pub fn unread_at(url: &str) -> usize {
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port");
    let local = format!("0100007F:{port:04X}");
    let unread = |row: &&str| {
        let f: Vec<&str> = row.split_whitespace().collect();
        let rx = f
            .get(4)
            .and_then(|q| q.split_once(':'))
            .map_or("0", |q| q.1);
        f.get(1) == Some(&local.as_str()) && u64::from_str_radix(rx, 16).is_ok_and(|n| n > 0)
    };
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table.lines().skip(1).filter(unread).count()
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(None) = self.process.try_wait() {
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
    }
}
