//! `/api/v1/messages`: messages between workers, tasks and operators over
//! REST — send (`agent`), read and acknowledge as the calling worker
//! (`agent`; the worker is the `X-Baton-Worker` header, else the body's
//! `worker`), and an operator's view of every message, any worker's inbox
//! or a task's thread (`viewer`, nothing marked read). Each handler is one
//! [`crate::board::Board`] message method.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::tasks::ErrorBody;
use super::{json_body, Acting, ApiError};
use crate::board::{MessageFilter, MessagePage, NewMessage, ReadRequest, MESSAGE_WORKER_HEADER};
use crate::error::ErrorCode;
use crate::model::{Message, MessageView};

/// The request's `X-Baton-Worker` header, when it sent one that is text.
fn header_worker(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(MESSAGE_WORKER_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Send a message as the calling worker (`X-Baton-Worker`, else `worker`)
/// or, naming none, as the token's operator; durable when answered.
#[utoipa::path(post, path = "/api/v1/messages", tag = "messages", request_body = NewMessage,
    params(("X-Baton-Worker" = Option<String>, Header, description = "the sending worker (wins over the body's `worker`)")),
    responses((status = 201, body = Message, description = "the message as stored, with its id and thread"),
              (status = 404, body = ErrorBody, description = "`to.task` names no task (`task_not_found`)"),
              (status = 413, body = ErrorBody, description = "subject or body over its `[messages]` limit (`too_large`, naming it)"),
              (status = 422, body = ErrorBody, description = "no or more than one addressee, an empty subject, a bad worker name or an unknown thread, named in `field`"),
              (status = 429, body = ErrorBody, description = "the addressee has `[messages] max_unacked` unacknowledged messages (`too_many_unacked`, with the count)")))]
pub(crate) async fn send_message(
    board: Acting,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: NewMessage = json_body(&board, payload, false).await?;
    let message = board
        .send_message(header_worker(&req).as_deref(), body)
        .await?;
    Ok(HttpResponse::Created().json(message))
}

/// Query of `GET /api/v1/messages`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessageListQuery {
    /// One worker's inbox: messages to it, to the tasks it holds now, to all.
    inbox: Option<String>,
    /// One task's thread: the messages to the task.
    task: Option<String>,
    /// With `inbox`: only what that worker has not read.
    unread_only: Option<bool>,
    /// RFC 3339 time: only messages sent at or after it.
    since: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size (1..=`api.max_page_size`, default 50).
    limit: Option<usize>,
}

/// An operator's view: every message, one worker's inbox or one task's
/// thread, oldest first; nothing is marked read.
#[utoipa::path(get, path = "/api/v1/messages", tag = "messages", params(MessageListQuery),
    responses((status = 200, body = MessagePage, description = "a page of messages, oldest first"),
              (status = 400, body = ErrorBody, description = "malformed query string"),
              (status = 422, body = ErrorBody, description = "both inbox and task, unread_only without inbox, or a bad worker, task, since, cursor or limit")))]
pub(crate) async fn list_messages(
    board: Acting,
    q: super::params::Query<MessageListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let page = board
        .list_messages(MessageFilter {
            inbox: q.inbox,
            task: q.task,
            unread_only: q.unread_only.unwrap_or(false),
            since: q.since,
            limit: q.limit,
            cursor: q.cursor,
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Read the calling worker's inbox (`X-Baton-Worker`, else `worker`):
/// messages to it, to the tasks it holds now and to all, oldest first;
/// what it is shown is marked read (durably, before the answer).
#[utoipa::path(post, path = "/api/v1/messages/read", tag = "messages", request_body = ReadRequest,
    params(("X-Baton-Worker" = Option<String>, Header, description = "the reading worker (wins over the body's `worker`)")),
    responses((status = 200, body = MessagePage, description = "a page of the inbox, oldest first; `read_at` says what was read before"),
              (status = 422, body = ErrorBody, description = "no worker named, or a bad since, cursor or limit, named in `field`")))]
pub(crate) async fn read_messages(
    board: Acting,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ReadRequest = json_body(&board, payload, true).await?;
    let page = board
        .read_messages(header_worker(&req).as_deref(), body)
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One message with every acknowledgement (an operator's view).
#[utoipa::path(get, path = "/api/v1/messages/{id}", tag = "messages",
    params(("id" = u64, Path, description = "message id")),
    responses((status = 200, body = MessageView, description = "the message and its acknowledgements"),
              (status = 404, body = ErrorBody, description = "no message with that id (`message_not_found`)")))]
pub(crate) async fn get_message(
    board: Acting,
    id: web::Path<u64>,
) -> Result<HttpResponse, ApiError> {
    let view = board.message(id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// A message id path segment: a non-negative integer, else 400
/// `invalid_path` naming `id`.
fn message_id(segment: &str) -> Result<u64, ApiError> {
    segment.parse().map_err(|_| ApiError::BadParam {
        code: ErrorCode::InvalidPath,
        field: "id".into(),
        message: format!(
            "path parameter 'id': '{segment}' is not a message id (a non-negative integer)"
        ),
    })
}

/// Body of `POST /api/v1/messages/{id}/ack`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    /// The acknowledging worker (the `X-Baton-Worker` header wins).
    #[serde(default)]
    pub worker: Option<String>,
}

/// The calling worker acknowledges a message in its inbox; again changes
/// nothing.
#[utoipa::path(post, path = "/api/v1/messages/{id}/ack", tag = "messages", request_body = AckBody,
    params(("id" = u64, Path, description = "message id"),
           ("X-Baton-Worker" = Option<String>, Header, description = "the acknowledging worker (wins over the body's `worker`)")),
    responses((status = 200, body = MessageView, description = "the message with every acknowledgement"),
              (status = 404, body = ErrorBody, description = "no such message in the worker's inbox (`message_not_found`)"),
              (status = 422, body = ErrorBody, description = "no worker named, or a bad worker name")))]
pub(crate) async fn ack_message(
    board: Acting,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // the body is read first, so a bad body is reported whatever the path says
    let body: AckBody = json_body(&board, payload, true).await?;
    let id = message_id(&id)?;
    let view = board
        .ack_message(header_worker(&req).as_deref(), body.worker.as_deref(), id)
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
