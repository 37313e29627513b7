//! `GET /api/v1/admin/backup`: a consistent online snapshot of the board as
//! JSON Lines (see [`crate::store::backup`] for the format), streamed while the
//! board keeps serving. `baton backup --url URL --out FILE` saves it;
//! `baton restore` loads it into an empty store.

use actix_web::{web, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::ApiError;
use crate::board::Board;
use crate::error::Error;
use crate::store::StoreError;

/// How much of the backup is buffered before it is handed to the socket.
const CHUNK_BYTES: usize = 64 * 1024;

/// The whole board from one read snapshot: a header line, one line per
/// record, an `end` line with the record count. The snapshot is read on a
/// blocking thread and sent a chunk at a time, so the stream's memory is a
/// few chunks whatever the board's size. A failure mid-way ends the body
/// without the `end` line, which `baton restore` refuses as truncated.
#[utoipa::path(get, path = "/api/v1/admin/backup", tag = "admin",
    responses((status = 200, content_type = "application/x-ndjson",
               description = "JSON Lines: header, records, end line"),
              (status = 503, body = super::tasks::ErrorBody, description = "the store is closed or failed")))]
pub(crate) async fn backup(board: web::Data<Board>) -> Result<HttpResponse, ApiError> {
    let store = board.store().clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, StoreError>>(4);
    tokio::task::spawn_blocking(move || {
        let mut buf = BytesMut::with_capacity(CHUNK_BYTES);
        let mut first = true;
        let done = store.export(|line| {
            buf.extend_from_slice(line.as_bytes());
            buf.extend_from_slice(b"\n");
            // the header goes at once: the reply's status waits for it
            if buf.len() < CHUNK_BYTES && !std::mem::take(&mut first) {
                return true;
            }
            // false once the client went away: the export stops
            tx.blocking_send(Ok(buf.split().freeze())).is_ok()
        });
        match done {
            Ok(records) => {
                if !buf.is_empty() {
                    let _ = tx.blocking_send(Ok(buf.freeze()));
                }
                tracing::info!(records, "backup streamed");
            }
            Err(e) => {
                // the body ends without its end line: a restore refuses it
                tracing::error!(error = %e, "backup failed mid-stream");
                let _ = tx.blocking_send(Err(e));
            }
        }
    });
    // a store that cannot be read (closed, failed) answers with its error
    // status before any byte of a backup went out
    let header = match rx.recv().await {
        Some(Ok(header)) => header,
        Some(Err(e)) => return Err(Error::Store(e).into()),
        None => return Err(Error::Unavailable("the backup reader").into()),
    };
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let stream = futures_util::stream::once(async move { Ok(header) })
        .chain(rest)
        .map(|chunk| chunk.map_err(actix_web::error::ErrorInternalServerError));
    let name = format!(
        "baton-backup-{}.jsonl",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .streaming(stream))
}
