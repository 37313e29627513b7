//! The signals `baton serve` listens for: `SIGTERM`, `SIGINT` and
//! `SIGQUIT` stop the node; `SIGHUP` reloads the downstream server file.

use anyhow::{Context as _, Result};
use baton::serve::Stop;

/// `SIGHUP`: reload the server file (`[pool] mcp_servers`, `--mcp-servers`),
/// as `POST /api/v1/servers/reload` does. The returned channel changes on
/// each one.
pub(crate) fn reload_on_sighup() -> Result<tokio::sync::watch::Receiver<u64>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    let (tx, rx) = tokio::sync::watch::channel(0u64);
    actix_web::rt::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP received; reloading the MCP server file");
            tx.send_modify(|n| *n += 1);
        }
    });
    Ok(rx)
}

/// The signals that stop `baton serve`, with actix-web's meanings: `SIGTERM`
/// a graceful stop (in-flight requests finish within
/// `server.shutdown_timeout_secs`), `SIGINT` and `SIGQUIT` a forced one.
/// Either way the store's last flush still runs.
pub(crate) struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

impl StopSignals {
    pub(crate) fn register() -> Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
            quit: signal(SignalKind::quit()).context("cannot handle SIGQUIT")?,
        })
    }

    /// Wait for the first stop signal; how the node stops.
    pub(crate) async fn next(mut self) -> Stop {
        tokio::select! {
            _ = self.term.recv() => {
                tracing::info!("SIGTERM received; starting graceful shutdown");
                Stop::Graceful
            }
            _ = self.int.recv() => {
                tracing::info!("SIGINT received; starting forced shutdown");
                Stop::Forced
            }
            _ = self.quit.recv() => {
                tracing::info!("SIGQUIT received; starting forced shutdown");
                Stop::Forced
            }
        }
    }
}
