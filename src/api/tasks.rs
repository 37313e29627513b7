//! `/api/v1` handlers. Each is thin: parse, call one [`Board`](crate::board::Board) method, shape
//! the reply. Writes reply only after their commit is durable.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{json_body, Acting, ApiError};
use crate::board::{Claim, TaskFilter};
use crate::core::table::LeaseRef;
use crate::model::{Task, TaskSpec, TaskStatus};

/// Every `/api/v1` error reply: `{"error": {code, message, field?}}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong: the stable code, a message and the field concerned.
    pub error: ErrorDetail,
}

/// The inside of an [`ErrorBody`]: which code, what message, which request field.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code (`stale_lease`, `dependency_cycle`, …).
    pub code: String,
    /// Human-readable message naming the problem.
    pub message: String,
    /// The request field concerned, if any.
    pub field: Option<String>,
    /// For `reservation_conflict` and `paths_reserved`: the holding in the
    /// way (`reservation`, `worker`, `task`, `mode`, `patterns`,
    /// `expires_at`, and the overlapping `wanted`/`held` patterns).
    #[schema(value_type = Option<Object>)]
    pub holder: Option<serde_json::Value>,
}

/// Batch of tasks (atomic: all are added or none).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskBatch {
    /// The tasks; dependencies may name tasks earlier or later in the batch.
    pub tasks: Vec<TaskSpec>,
}

/// Reply of `POST /api/v1/tasks`: `{"tasks": [...]}`, every task added, in request
/// order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskList {
    /// The tasks as stored after the add (each with its status), in request order.
    pub tasks: Vec<Task>,
}

/// Body of `POST /tasks`: one task, or `{"tasks": [...]}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AddBody {
    /// `{"tasks": [...]}`: several tasks added atomically.
    Batch(TaskBatch),
    /// A single task.
    One(Box<TaskSpec>),
}

fn from_value<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::Unprocessable {
        message: format!("invalid body: {e}"),
    })
}

/// Add one task (201 with the task) or an atomic batch (201 with `{tasks}`).
#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks", request_body = AddBody,
    responses((status = 201, body = Task, description = "added (a batch returns {tasks: [...]})"),
              (status = 409, body = ErrorBody, description = "a task with that id exists, or a dependency failed or was cancelled"),
              (status = 413, body = ErrorBody, description = "a field is over its size bound"),
              (status = 422, body = ErrorBody, description = "an invalid field, a missing dependency or a cycle")))]
pub(crate) async fn add_tasks(
    board: Acting,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let v: serde_json::Value = json_body(&board, payload, false).await?;
    let is_batch = v.as_object().is_some_and(|o| o.contains_key("tasks"));
    if is_batch {
        let batch: TaskBatch = from_value(v)?;
        let tasks = board.add_tasks(batch.tasks).await?;
        Ok(HttpResponse::Created().json(TaskList { tasks }))
    } else {
        let spec: TaskSpec = from_value(v)?;
        let task = board.add_task(spec).await?;
        Ok(HttpResponse::Created().json(task))
    }
}

/// Query of `GET /tasks`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this status.
    status: Option<String>,
    /// Only tasks with this tag.
    tag: Option<String>,
    /// Only tasks leased by this worker.
    worker: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size.
    limit: Option<usize>,
}

/// A page of tasks.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page {
    /// Tasks in id order.
    pub tasks: Vec<Task>,
    /// Cursor of the next page, null on the last.
    pub next_cursor: Option<String>,
    /// Newest event id when read: `GET /events?after=` it to follow changes.
    pub last_event_id: u64,
}

/// List tasks with filters and cursor pagination (id order).
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", params(ListQuery),
    responses((status = 200, body = Page, description = "a page of tasks in id order"),
              (status = 400, body = ErrorBody, description = "a malformed or unknown query parameter, named in `field`"),
              (status = 422, body = ErrorBody, description = "an unknown status or an invalid cursor")))]
pub(crate) async fn list_tasks(
    board: Acting,
    q: super::params::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(TaskStatus::parse(s).ok_or_else(|| {
            crate::error::Error::invalid(
                "status",
                format!(
                    "unknown status '{s}'; one of blocked, ready, running, done, failed, cancelled"
                ),
            )
        })?),
    };
    let page = board
        .list_tasks(TaskFilter {
            status,
            tag: q.tag.filter(|t| !t.is_empty()),
            worker: q.worker.filter(|w| !w.is_empty()),
            cursor: q.cursor.filter(|c| !c.is_empty()),
            limit: q.limit,
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page {
        tasks: page.tasks,
        next_cursor: page.next_cursor,
        last_event_id: page.last_event_id,
    }))
}

/// A task with its dependents.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskDetail {
    /// The task itself, its fields flattened into this object.
    #[serde(flatten)]
    pub task: Task,
    /// Ids of tasks that depend on it.
    pub dependents: Vec<String>,
    /// For a ready task a claim would pass over now: why it waits
    /// ("waits for `src/api/**` held by task `api` (worker alice) until …").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waits: Option<String>,
}

/// One task, with its dependents.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks", params(("id" = String, Path)),
    responses((status = 200, body = TaskDetail, description = "the task and the ids of its dependents"),
              (status = 404, body = ErrorBody, description = "no task with that id (`task_not_found`)")))]
pub(crate) async fn get_task(
    board: Acting,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (task, dependents) = board.task_detail(&id).await?;
    let waits = if task.status == TaskStatus::Ready
        && (!task.paths.is_empty() || task.concurrency_key.is_some())
    {
        board.why_waiting(&id).await?
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(TaskDetail {
        task,
        dependents: dependents.into_iter().map(|d| d.to_string()).collect(),
        waits,
    }))
}

/// Body of `claim-next`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimNextRequest {
    /// The claiming worker's name (free text, recorded in the lease and the audit log).
    pub worker: String,
    /// Only tasks carrying all these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// An explicit slot the worker holds (else a free slot is taken).
    #[serde(default)]
    pub slot: Option<u32>,
    /// Idempotency key (1 to 128 bytes): sending the same request again with
    /// it — its answer was lost — answers the same task and lease while
    /// that lease lasts, and claims nothing else (also across a restart).
    #[serde(default)]
    pub request_id: Option<String>,
}

/// Claim the best ready task (priority, then age) with a slot: 200 `{task, lease}`, or 204.
/// With `request_id`, a retry whose answer was lost gets the same claim.
#[utoipa::path(post, path = "/api/v1/tasks/claim-next", tag = "tasks", request_body = ClaimNextRequest,
    responses((status = 200, body = Claim, description = "the claimed task and its lease"), (status = 204, description = "nothing is ready"),
              (status = 409, body = ErrorBody, description = "no free slot")))]
pub(crate) async fn claim_next(
    board: Acting,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let req: ClaimNextRequest = json_body(&board, payload, false).await?;
    let claim = board
        .claim_next_keyed(&req.worker, req.tags, req.slot, req.request_id.as_deref())
        .await?;
    match claim {
        Some(c) => Ok(HttpResponse::Ok().json(c)),
        None => Ok(HttpResponse::NoContent().finish()),
    }
}

/// Body of `claim`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The claiming worker's name (free text, recorded in the lease and the audit log).
    pub worker: String,
    /// An explicit slot the worker holds.
    #[serde(default)]
    pub slot: Option<u32>,
}

/// Claim a specific ready task. The same worker claiming a task it already
/// holds (a retry whose answer was lost) gets the lease it holds.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/claim", tag = "tasks", params(("id" = String, Path)),
    request_body = ClaimRequest, responses((status = 200, body = Claim, description = "the claimed task and its lease (the lease it already holds, when the same worker claims it again)"),
              (status = 404, body = ErrorBody, description = "no task with that id"),
              (status = 409, body = ErrorBody, description = "the task is not ready, or no slot is free")))]
pub(crate) async fn claim_task(
    board: Acting,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let req: ClaimRequest = json_body(&board, payload, false).await?;
    let c = board.claim_task(&id, &req.worker, req.slot).await?;
    Ok(HttpResponse::Ok().json(c))
}

/// A lease-carrying update.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaseRequest {
    /// The lease id from the claim.
    pub lease_id: u64,
}

/// Extend a lease by the configured TTL.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/heartbeat", tag = "leases", params(("id" = String, Path)),
    request_body = LeaseRequest, responses((status = 200, body = Task, description = "the task, its lease extended"),
              (status = 409, body = ErrorBody, description = "a stale or lapsed lease, or a status that does not allow it")))]
pub(crate) async fn heartbeat(
    board: Acting,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let req: LeaseRequest = json_body(&board, payload, false).await?;
    Ok(HttpResponse::Ok().json(board.heartbeat(&id, LeaseRef::Id(req.lease_id)).await?))
}

/// Body of `complete`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// The lease id from the claim.
    pub lease_id: u64,
    /// Result (any JSON, size-bounded).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub output: Option<serde_json::Value>,
}

/// Complete a running task under its lease.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/complete", tag = "leases", params(("id" = String, Path)),
    request_body = CompleteRequest, responses((status = 200, body = Task, description = "the task, done"),
              (status = 409, body = ErrorBody, description = "a stale or lapsed lease, or a status that does not allow it")))]
pub(crate) async fn complete(
    board: Acting,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let req: CompleteRequest = json_body(&board, payload, false).await?;
    Ok(HttpResponse::Ok().json(
        board
            .complete(&id, LeaseRef::Id(req.lease_id), req.output)
            .await?,
    ))
}

/// Body of `fail`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailRequest {
    /// The lease id from the claim.
    pub lease_id: u64,
    /// What went wrong.
    #[serde(default)]
    pub error: String,
    /// Retry while attempts remain (default true); false fails for good.
    #[serde(default = "yes")]
    pub retry: bool,
}

fn yes() -> bool {
    true
}

impl Default for FailRequest {
    fn default() -> Self {
        Self {
            lease_id: 0,
            error: String::new(),
            retry: true,
        }
    }
}

/// Fail the current attempt.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/fail", tag = "leases", params(("id" = String, Path)),
    request_body = FailRequest, responses((status = 200, body = Task, description = "the task, ready again while attempts remain, else failed"),
              (status = 409, body = ErrorBody, description = "a stale or lapsed lease, or a status that does not allow it")))]
pub(crate) async fn fail(
    board: Acting,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let req: FailRequest = json_body(&board, payload, false).await?;
    let error = if req.error.is_empty() {
        "failed".to_owned()
    } else {
        req.error
    };
    Ok(HttpResponse::Ok().json(
        board
            .fail(&id, LeaseRef::Id(req.lease_id), error, req.retry)
            .await?,
    ))
}

/// Give a task back (ready again, attempt not counted).
#[utoipa::path(post, path = "/api/v1/tasks/{id}/release", tag = "leases", params(("id" = String, Path)),
    request_body = LeaseRequest, responses((status = 200, body = Task, description = "the task, ready again"),
              (status = 409, body = ErrorBody, description = "a stale or lapsed lease, or a status that does not allow it")))]
pub(crate) async fn release(
    board: Acting,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let req: LeaseRequest = json_body(&board, payload, false).await?;
    Ok(HttpResponse::Ok().json(board.release(&id, LeaseRef::Id(req.lease_id)).await?))
}

/// Delete a finished task (done, failed or cancelled) now, with its audit log
/// and context, instead of waiting for retention (`[retention]
/// keep_terminal_secs`). 409 `invalid_status` for a task that has not
/// finished, 409 `has_dependents` while other tasks depend on it (delete
/// those first), 404 for an unknown id. Admins only.
#[utoipa::path(delete, path = "/api/v1/tasks/{id}", tag = "tasks", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody, description = "no task with that id"),
              (status = 409, body = ErrorBody, description = "the task has not finished (`invalid_status`) or has dependents (`has_dependents`)")))]
pub(crate) async fn delete_task(
    board: Acting,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    board.delete_task(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Body of `cancel` (optional).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Why the task is cancelled, recorded on its `task_cancelled` event (and on its
    /// dependents').
    #[serde(default)]
    pub reason: Option<String>,
}

/// Cancel a task that has not finished; its pending dependents are cancelled too.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/cancel", tag = "tasks", params(("id" = String, Path)),
    request_body = CancelRequest, responses((status = 200, body = Task, description = "the task, cancelled"),
              (status = 409, body = ErrorBody, description = "the task has finished")))]
pub(crate) async fn cancel(
    board: Acting,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let req: CancelRequest = json_body(&board, payload, true).await?;
    Ok(HttpResponse::Ok().json(board.cancel(&id, req.reason).await?))
}

/// Reply of `POST /api/v1/tasks/{id}/reset`: `{"reset": [...]}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResetReply {
    /// Every task reset: the failed one and its failed dependents.
    pub reset: Vec<Task>,
}

/// Reset a failed task and its failed dependents.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/reset", tag = "tasks", params(("id" = String, Path)),
    responses((status = 200, body = ResetReply, description = "every task reset"),
              (status = 409, body = ErrorBody, description = "the task has not failed, or a dependency of it is still failed")))]
pub(crate) async fn reset(board: Acting, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ResetReply {
        reset: board.reset(&id).await?,
    }))
}

/// A task's audit log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventList {
    /// The task's audit events, oldest first.
    pub events: Vec<crate::model::Event>,
}

/// A task's audit log.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/events", tag = "tasks", params(("id" = String, Path)),
    responses((status = 200, body = EventList, description = "the task's audit log, oldest first"),
              (status = 404, body = ErrorBody, description = "no task with that id")))]
pub(crate) async fn task_events(
    board: Acting,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(EventList {
        events: board.task_events(&id).await?,
    }))
}

/// All context values.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/context", tag = "context", params(("id" = String, Path)),
    responses((status = 200, description = "{context: {key: value}}", body = Object),
              (status = 404, body = ErrorBody, description = "no task with that id")))]
pub(crate) async fn context_list(
    board: Acting,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let ctx = board.context_list(&id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "context": ctx })))
}

/// One context value.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/context/{key}", tag = "context",
    params(("id" = String, Path), ("key" = String, Path)),
    responses((status = 200, description = "{key, value}", body = Object),
              (status = 404, body = ErrorBody, description = "no task with that id, or no such key")))]
pub(crate) async fn context_get(
    board: Acting,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, key) = path.into_inner();
    match board.context_get(&id, &key).await? {
        Some(v) => Ok(HttpResponse::Ok().json(serde_json::json!({ "key": key, "value": v }))),
        None => Err(ApiError::NotFound {
            code: crate::error::ErrorCode::ContextKeyNotFound,
            message: format!("task '{id}' has no context key '{key}'"),
        }),
    }
}

/// Body of a context write.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextPut {
    /// The lease id from the claim.
    pub lease_id: u64,
    /// Value (any JSON).
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

/// Write one context key of a running task under its lease.
#[utoipa::path(put, path = "/api/v1/tasks/{id}/context/{key}", tag = "context",
    params(("id" = String, Path), ("key" = String, Path)), request_body = ContextPut,
    responses((status = 200, description = "{key, value}", body = Object),
              (status = 409, body = ErrorBody, description = "a stale or lapsed lease, or a status that does not allow it")))]
pub(crate) async fn context_put(
    board: Acting,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (id, key) = path.into_inner();
    let req: ContextPut = json_body(&board, payload, false).await?;
    board
        .context_put(&id, req.lease_id, &key, req.value.clone())
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "key": key, "value": req.value })))
}

/// The slot table.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SlotTable {
    /// The number of worker slots configured (`slots.count`).
    pub total: u32,
    /// How many slots are held now: by a running task or by an explicit hold.
    pub busy: usize,
    /// Every slot, by number, with its holder (if any).
    pub slots: Vec<crate::model::SlotInfo>,
}

/// Every worker slot.
#[utoipa::path(get, path = "/api/v1/slots", tag = "slots", responses((status = 200, body = SlotTable, description = "every slot and its holder")))]
pub(crate) async fn list_slots(board: Acting) -> Result<HttpResponse, ApiError> {
    let slots = board.slots().await?;
    let busy = slots
        .iter()
        .filter(|s| s.worker.is_some() || s.explicit)
        .count();
    Ok(HttpResponse::Ok().json(SlotTable {
        total: board.view().slots_total,
        busy,
        slots,
    }))
}

/// Body of a slot claim.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotClaimRequest {
    /// The worker's name that holds the slot (free text).
    pub worker: String,
    /// Idempotency key (1 to 128 bytes): sending the same request again with
    /// it — its answer was lost — answers the same slot while that hold
    /// lasts, and holds no other (also across a restart).
    #[serde(default)]
    pub request_id: Option<String>,
}

/// Hold a slot explicitly (tasks claimed with `slot` then run in it).
#[utoipa::path(post, path = "/api/v1/slots/claim", tag = "slots", request_body = SlotClaimRequest,
    responses((status = 200, description = "{slot, worker}", body = Object),
              (status = 409, body = ErrorBody, description = "every slot is taken (`no_free_slot`)")))]
pub(crate) async fn claim_slot(
    board: Acting,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let req: SlotClaimRequest = json_body(&board, payload, false).await?;
    let slot = board
        .claim_slot_keyed(&req.worker, req.request_id.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "slot": slot, "worker": req.worker })))
}

/// Body of a slot release.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotReleaseRequest {
    /// The holder: only the worker holding the slot may release it.
    pub worker: String,
}

/// Release an explicit slot; refused (409 `slot_not_held`) unless `worker` holds it.
#[utoipa::path(post, path = "/api/v1/slots/{slot}/release", tag = "slots", params(("slot" = u32, Path)),
    request_body = SlotReleaseRequest, responses((status = 200, description = "{released}", body = Object),
              (status = 400, body = ErrorBody, description = "`slot` is not a slot number"),
              (status = 409, body = ErrorBody, description = "the worker does not hold the slot (`slot_not_held`)")))]
pub(crate) async fn release_slot(
    board: Acting,
    slot: web::Path<u32>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let req: SlotReleaseRequest = json_body(&board, payload, false).await?;
    board.release_slot(*slot, Some(&req.worker)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "released": *slot })))
}

/// Counts per status, slots, per-second series.
#[utoipa::path(get, path = "/api/v1/stats", tag = "system", responses((status = 200, description = "counts per status, slots, per-second series", body = Object)))]
pub(crate) async fn stats(board: Acting) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(board.stats().await?))
}
