//! `GET /api/v1/events`: Server-Sent Events of task and slot changes.
//!
//! Each message is `id: <event id>`, `event: <kind>`, `data: <event JSON with
//! the task's state after it>`. A client that reconnects with `Last-Event-ID`
//! (browsers do this themselves), or passes `?after=<id>` (e.g. the
//! `last_event_id` of a task listing), first gets every stored event after
//! that id, then live ones, without gaps or duplicates. A subscriber that
//! falls behind the live buffer is caught up from disk the same way. Events
//! are sent only once durable.
//!
//! When events after the resume point were deleted by retention (the id is
//! not above [`Store::events_pruned_through`]), the stream instead sends one
//! `event: resync` (its `id:` the newest event id, its data saying why) and
//! continues live from there: the client must reload the board.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use super::error::Denial;
use super::ApiError;
use crate::actors::Live;
use crate::auth::{Auth, Caller};
use crate::board::Board;
use crate::error::ErrorCode;
use crate::model::{Event, Task};
use crate::store::Store;

/// Query of the event stream.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Replay stored events after this id first.
    after: Option<u64>,
    /// A single-use stream ticket (`POST /api/v1/events/ticket`), for
    /// clients that cannot send an `Authorization` header (`EventSource`).
    #[allow(dead_code)] // redeemed by the guard before the handler runs
    ticket: Option<String>,
}

/// A single-use ticket for the event stream.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StreamTicket {
    /// Pass as `GET /api/v1/events?ticket=…` (once).
    pub ticket: String,
    /// Seconds it stays valid.
    pub expires_in_secs: u64,
}

/// Issue a single-use ticket that opens the event stream as the caller
/// (for `EventSource`, which cannot send headers; a long-lived token never
/// goes into a URL).
#[utoipa::path(post, path = "/api/v1/events/ticket", tag = "events",
    responses((status = 200, body = StreamTicket, description = "a ticket for one `GET /api/v1/events?ticket=…`")))]
pub(crate) async fn ticket(
    req: HttpRequest,
    auth: web::Data<Auth>,
) -> Result<HttpResponse, ApiError> {
    let caller = req
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| ApiError::Denied(Denial::new(ErrorCode::Internal, "unguarded route")))?;
    let (ticket, ttl) = auth.issue_ticket(&caller)?;
    Ok(HttpResponse::Ok().json(StreamTicket {
        ticket,
        expires_in_secs: ttl.as_secs(),
    }))
}

/// One event as its SSE frame. A live event is framed once for all its
/// subscribers ([`Published::encoded_with`](crate::store::Published::encoded_with));
/// a replayed one per stream (it is read from disk per stream anyway).
fn frame(ev: &Event, task: Option<&Task>) -> Bytes {
    let mut v = serde_json::to_value(ev).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "task".into(),
            task.and_then(|t| serde_json::to_value(t).ok())
                .unwrap_or(serde_json::Value::Null),
        );
    }
    let kind = ev.kind.as_str();
    Bytes::from(format!("id: {}\nevent: {}\ndata: {}\n\n", ev.id, kind, v))
}

struct State {
    store: Store,
    /// Who opened the stream: it ends once their token is revoked.
    caller: Option<(Caller, Arc<Auth>)>,
    rx: tokio::sync::broadcast::Receiver<Arc<crate::store::Published>>,
    last_sent: u64,
    replaying: bool,
    queue: VecDeque<Bytes>,
    batch: usize,
    keepalive: Duration,
    /// The board's shutdown token: the stream ends when a shutdown begins.
    closing: tokio_util::sync::CancellationToken,
    /// Counts this stream in `baton_sse_streams` until it ends.
    _open: Live,
}

impl State {
    /// The next page of stored events. The read barrier comes after the
    /// reads: nothing is sent before everything it shows is durable.
    async fn replay(&mut self) -> Result<(), ApiError> {
        let pruned = self.store.events_pruned_through();
        if self.last_sent < pruned {
            let last = self
                .store
                .last_event_id()
                .map_err(crate::error::Error::from)?;
            self.store
                .read_barrier()
                .await
                .map_err(crate::error::Error::from)?;
            let data = serde_json::json!({
                "reason": "events after the resume point were deleted by retention; reload the board",
                "after": self.last_sent,
                "pruned_through": pruned,
                "last_event_id": last,
            });
            self.queue.push_back(Bytes::from(format!(
                "id: {last}\nevent: resync\ndata: {data}\n\n"
            )));
            self.last_sent = last;
            self.replaying = false;
            return Ok(());
        }
        // the page and its tasks are read on the blocking pool, not on the
        // actix-web worker that serves this stream
        let (store, after, batch) = (self.store.clone(), self.last_sent, self.batch);
        let (count, frames) = tokio::task::spawn_blocking(move || {
            let events = store.events_after(after, batch)?;
            let mut frames = Vec::with_capacity(events.len());
            for ev in &events {
                let task = match &ev.task_id {
                    Some(id) => store.get_task(id)?,
                    None => None,
                };
                frames.push((ev.id, frame(ev, task.as_ref())));
            }
            Ok::<_, crate::store::StoreError>((events.len(), frames))
        })
        .await
        .map_err(|_| crate::error::Error::Unavailable("the event replay"))?
        .map_err(crate::error::Error::from)?;
        self.store
            .read_barrier()
            .await
            .map_err(crate::error::Error::from)?;
        if self.store.events_pruned_through() > self.last_sent {
            // a retention pass removed events while this page was read: the
            // page may have gaps, so resync instead of sending it
            return Box::pin(self.replay()).await;
        }
        if count < self.batch {
            self.replaying = false;
        }
        for (id, f) in frames {
            self.queue.push_back(f);
            self.last_sent = id;
        }
        Ok(())
    }

    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if self.closing.is_cancelled() {
                return None; // a shutdown began: end the stream (clients reconnect elsewhere or later)
            }
            if let Some(b) = self.queue.pop_front() {
                return Some(b);
            }
            if self.replaying {
                if let Err(e) = self.replay().await {
                    tracing::warn!(error = %e, "event replay failed; closing stream");
                    return None;
                }
                continue;
            }
            tokio::select! {
                r = self.rx.recv() => match r {
                    Ok(p) => {
                        if p.event.id <= self.last_sent {
                            continue;
                        }
                        if self.store.wait_durable(p.ticket).await.is_err() {
                            return None;
                        }
                        self.last_sent = p.event.id;
                        if let (None, Some(id)) = (&p.task, &p.event.task_id) {
                            // published before any subscriber existed: no snapshot was taken
                            let (store, id) = (self.store.clone(), id.clone());
                            let task = tokio::task::spawn_blocking(move || store.get_task(&id))
                                .await
                                .ok()
                                .and_then(Result::ok)
                                .flatten();
                            if self.store.read_barrier().await.is_err() {
                                return None;
                            }
                            return Some(frame(&p.event, task.as_ref()));
                        }
                        // serialized once, by the first stream to get here;
                        // every other stream sends the same bytes
                        return Some(p.encoded_with(|p| frame(&p.event, p.task.as_deref())));
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::debug!(missed = n, "event subscriber lagged; catching up from disk");
                        self.replaying = true;
                    }
                    Err(RecvError::Closed) => return None,
                },
                () = tokio::time::sleep(self.keepalive) => return Some(Bytes::from_static(b": keep-alive\n\n")),
                () = self.closing.cancelled() => return None,
            }
        }
    }
}

/// The event stream: every durable task and slot change as a Server-Sent
/// Event (`id`, `event`: the kind, `data`: the event with the task after
/// it), after the stored events past `Last-Event-ID` or `after`; an
/// `event: resync` when retention deleted events after that point.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(EventsQuery,
           ("Last-Event-ID" = Option<u64>, Header, description = "resume after this event id (browsers send it when they reconnect); wins over `after`")),
    responses((status = 200, content_type = "text/event-stream", body = String,
               description = "`id: <event id>`, `event: <kind>`, `data: <event JSON with its task>` per change; `: keep-alive` comments between"),
              (status = 400, body = super::tasks::ErrorBody, description = "a malformed or unknown query parameter, named in `field`")))]
pub(crate) async fn events(
    board: web::Data<Board>,
    auth: web::Data<Auth>,
    req: HttpRequest,
    q: super::params::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let caller = req.extensions().get::<Caller>().cloned();
    let header = req
        .headers()
        .get("last-event-id")
        .and_then(|h| h.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok());
    let after = header.or(q.after);
    let store = board.store().clone();
    let rx = store.subscribe();
    let api = &board.settings().api;
    let state = State {
        store,
        caller: caller.map(|c| (c, auth.into_inner())),
        rx,
        last_sent: after.unwrap_or(0),
        replaying: after.is_some(),
        queue: VecDeque::new(),
        batch: api.sse_replay_batch,
        keepalive: Duration::from_secs(api.sse_keepalive_secs),
        closing: board.closing().clone(),
        _open: board.view().stream_opened(),
    };
    let hello = Bytes::from_static(b": baton event stream\nretry: 2000\n\n");
    let stream = futures_util::stream::once(async move { Ok::<_, actix_web::Error>(hello) }).chain(
        futures_util::stream::unfold(state, |mut st| async move {
            let frame = st.next().await?;
            if let Some((caller, auth)) = &st.caller {
                if !auth.still_valid(caller) {
                    return None; // the token was revoked: end the stream
                }
            }
            Some((Ok::<_, actix_web::Error>(frame), st))
        }),
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}

use futures_util::StreamExt as _;

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::model::EventKind;
    use crate::store::{MemoryBoard, WriteBatch};

    fn stream(store: &Store, open: &Arc<AtomicUsize>) -> State {
        State {
            store: store.clone(),
            caller: None,
            rx: store.subscribe(),
            last_sent: 0,
            replaying: false,
            queue: VecDeque::new(),
            batch: 100,
            keepalive: Duration::from_secs(60),
            closing: tokio_util::sync::CancellationToken::new(),
            _open: Live::new(open),
        }
    }

    #[tokio::test]
    async fn a_live_event_is_serialized_once_and_every_stream_sends_the_same_bytes() {
        let store = Store::open_memory(&MemoryBoard::new()).expect("memory store");
        let open = Arc::new(AtomicUsize::new(0));
        let mut streams: Vec<State> = (0..3).map(|_| stream(&store, &open)).collect();
        assert_eq!(open.load(std::sync::atomic::Ordering::Relaxed), 3);
        let mut batch = WriteBatch::new();
        batch.put_event(
            Event {
                id: 0,
                at: 1,
                kind: EventKind::SlotClaimed,
                task_id: None,
                worker: Some("w".into()),
                actor: None,
                slot: Some(0),
                lease_id: None,
                from: None,
                to: None,
                reason: None,
            },
            None,
        );
        let ticket = store.commit(batch).expect("commit");
        store.wait_durable(ticket).await.expect("durable");
        let mut frames = Vec::new();
        for s in &mut streams {
            frames.push(s.next().await.expect("a frame"));
        }
        assert!(
            frames[0].starts_with(b"id: 1\nevent: slot_claimed\ndata: "),
            "{:?}",
            frames[0]
        );
        for f in &frames[1..] {
            assert_eq!(f, &frames[0]);
            assert_eq!(
                f.as_ptr(),
                frames[0].as_ptr(),
                "every stream sends the one serialization, not a copy"
            );
        }
        drop(streams);
        assert_eq!(open.load(std::sync::atomic::Ordering::Relaxed), 0);
        store.close().expect("close");
    }
}
