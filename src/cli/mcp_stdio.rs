//! `baton mcp-stdio`: MCP over stdin/stdout, bridged to a running server's
//! `/mcp` or served by an in-process runtime over a data directory.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use baton::{Runtime, Settings};

use super::Credentials;

/// Bridge stdin/stdout to the MCP endpoint at `url` (with `credentials`),
/// or, without `url`, serve an in-process runtime over `settings` (its data
/// directory replaced by `data_dir` when given) until stdin closes.
/// `settings` are loaded and tracing is set up by `main`.
pub(crate) async fn run(
    mut settings: Settings,
    url: Option<String>,
    credentials: &Credentials,
    data_dir: Option<PathBuf>,
) -> Result<()> {
    if let Some(url) = url {
        baton::mcp::stdio::bridge(&url, credentials.client()?).await?;
        return Ok(());
    }
    if let Some(d) = data_dir {
        settings.storage.data_dir = d;
    }
    let runtime = Runtime::start(settings.clone())
        .await
        .with_context(|| format!("cannot open {}", settings.storage.data_dir.display()))?;
    baton::mcp::stdio::serve_in_process(runtime.board()).await?;
    runtime.shutdown().await?;
    Ok(())
}
