//! `baton backup` (a running server's board to a file, checked before it
//! appears) and `baton restore` (a file into an empty store).

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use baton::Settings;

use super::{reply, Credentials};

/// `baton backup`: stream `GET /api/v1/admin/backup` into `<out>.partial`,
/// check it end to end, then rename it to `out`.
pub(crate) async fn backup(
    url: &str,
    out: &std::path::Path,
    credentials: &Credentials,
) -> Result<()> {
    use std::io::Write;
    let http = credentials.client()?;
    let endpoint = format!("{}/api/v1/admin/backup", url.trim_end_matches('/'));
    let mut res = http
        .get(&endpoint)
        .send()
        .await
        .with_context(|| format!("cannot reach baton at {url}"))?;
    if !res.status().is_success() {
        reply(res, false).await?;
        anyhow::bail!("the server refused the backup");
    }
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?,
    );
    let mut bytes = 0u64;
    while let Some(chunk) = res
        .chunk()
        .await
        .context("the backup stream broke off (nothing was written under --out)")?
    {
        bytes += chunk.len() as u64;
        file.write_all(&chunk)
            .with_context(|| format!("cannot write {}", partial.display()))?;
    }
    let file = file
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot write {}", partial.display()))?;
    file.sync_all()
        .with_context(|| format!("cannot write {}", partial.display()))?;
    let mut records = 0u64;
    let reader = std::io::BufReader::new(std::fs::File::open(&partial)?);
    let header = baton::store::backup::read_backup(reader, |_| {
        records += 1;
        Ok(())
    })
    .with_context(|| format!("the backup in {} is not complete", partial.display()))?;
    std::fs::rename(&partial, out)
        .with_context(|| format!("cannot rename {} to {}", partial.display(), out.display()))?;
    println!(
        "backup of {} records ({bytes} bytes, taken {}) written to {}",
        records,
        header.created_at,
        out.display()
    );
    Ok(())
}

/// `baton restore`: load a backup file into an empty data directory.
pub(crate) fn restore(
    input: &std::path::Path,
    data_dir: Option<PathBuf>,
    storage_url: Option<String>,
    config: Option<&std::path::Path>,
) -> Result<()> {
    let mut settings = Settings::load(config)?;
    let target = match (data_dir, storage_url) {
        (_, Some(url)) => {
            settings.storage.backend = baton::config::StorageBackend::Postgres;
            settings.storage.url = url;
            "the PostgreSQL database".to_owned()
        }
        (Some(dir), None) => {
            // the configured embedded engine for a new directory (one that
            // holds a board keeps its own); redb when postgres is configured
            if !settings.storage.backend.is_embedded() {
                settings.storage.backend = baton::config::StorageBackend::Redb;
            }
            let shown = dir.display().to_string();
            settings.storage.data_dir = dir;
            shown
        }
        (None, None) => anyhow::bail!("give --data-dir or --storage-url"),
    };
    let file =
        std::fs::File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
    let summary =
        baton::store::Store::restore_with(&settings.storage, std::io::BufReader::new(file))
            .with_context(|| format!("cannot restore {} into {target}", input.display()))?;
    println!(
        "restored {} tasks, {} events and {} other records into {target}",
        summary.tasks, summary.events, summary.other
    );
    Ok(())
}
