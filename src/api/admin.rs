//! `GET /api/v1/admin/backup`: a consistent online snapshot of the board as
//! JSON Lines (see [`crate::backup`] for the format), streamed while the
//! board keeps serving. `baton backup --url URL --out FILE` saves it;
//! `baton restore` loads it into an empty store.

use actix_web::{web, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::ApiError;
use crate::board::Board;

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
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut buf = BytesMut::with_capacity(CHUNK_BYTES);
        let done = store.export(|line| {
            buf.extend_from_slice(line.as_bytes());
            buf.extend_from_slice(b"\n");
            if buf.len() < CHUNK_BYTES {
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
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    })
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
