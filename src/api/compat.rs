//! Drop-in routes for agent-coordinate-mcp users: its standalone
//! coordinator's REST API and JSON shapes, so its stdio MCP shim
//! (`TASK_COORDINATOR_URL=http://127.0.0.1:8080`) works against baton.
//!
//! A task has that project's shape (its `types.ts`): `id`, `title`,
//! `description`, `status`, `dependencies`, `worker` (who works on it or
//! finished it), `startedAt` (when it was claimed), `completedAt` (when it
//! finished), `output`, `error`; baton adds `workerSlot`, `leaseId`,
//! `createdAt` and `updatedAt`. Status mapping: ready/blocked → `available`,
//! running → `working`, done → `done`, failed → `failed`, cancelled →
//! `cancelled`.
//!
//! Retrying a request whose answer was lost (a dropped connection, a
//! restart of baton) is safe: `claim-task` sent again by the same worker
//! answers the lease it already holds (same `leaseId`), `claim-worker-slot`
//! with a `requestId` (a baton extension) answers the same slot while that
//! hold lasts, and an anonymous hold that no `claim-task` adopts within
//! `slots.adopt_within_secs` (30 s) lapses, so a hold whose answer was lost
//! does not keep its slot for `leases.compat_ttl_secs`.
//!
//! Differences from the original, all on the side of safety: claims are
//! backed by baton leases with a default TTL (`leases.compat_ttl_secs`, as
//! that API has no heartbeat; `update-task` with `working` extends it), and a
//! lapsed one is refused; `update-task` acts by worker name only on a lease
//! that this API's `claim-task` created for that worker (a `leaseId` from the
//! claim's answer, when sent, must match too); releasing a slot one does not
//! hold is refused; cycles and missing dependencies are rejected; a body
//! field this API does not have, or a repeated key, is refused with 400
//! naming it (the original kept unknown fields in the task; a misspelt one was
//! silently lost — `AddTask` lists the fields its shim sends). Slots are
//! numbered from 1 here (slot 0 of `/api/v1` is slot 1), as a JavaScript
//! client may treat 0 as "no slot".
//!
//! `available-tasks` is read from the registry's in-memory ready queue (no
//! scan of the stored board).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{json_body, Acting};
use crate::board::Board;
use crate::core::table::LeaseRef;
use crate::error::Error;
use crate::model::{rfc3339, Task, TaskId, TaskSpec, TaskStatus};

fn ok(extra: serde_json::Value) -> HttpResponse {
    let mut body = json!({ "success": true });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    HttpResponse::Ok().json(body)
}

fn refused(e: &Error) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "success": false, "error": e.to_string(), "code": e.code() }))
}

/// A body this API cannot read (malformed JSON, a repeated key, an unknown
/// field, a wrong type): 400 in that API's shape, with baton's code.
fn bad(e: &super::ApiError) -> HttpResponse {
    HttpResponse::BadRequest()
        .json(json!({ "success": false, "error": e.to_string(), "code": e.code() }))
}

fn reply(r: Result<serde_json::Value, Error>) -> HttpResponse {
    match r {
        Ok(v) => ok(v),
        Err(e) => refused(&e),
    }
}

async fn body<T: serde::de::DeserializeOwned + Default>(
    board: &Board,
    p: web::Payload,
) -> Result<T, HttpResponse> {
    json_body(board, p, true).await.map_err(|e| bad(&e))
}

fn seed_status(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::Blocked | TaskStatus::Ready => "available",
        TaskStatus::Running => "working",
        TaskStatus::Done => "done",
        TaskStatus::Failed => "failed",
        TaskStatus::Cancelled => "cancelled",
    }
}

/// A task in the original's shape (its `types.ts`: `worker`, `startedAt`,
/// `completedAt`), borrowed from the task and serialized straight to the
/// answer: a listing of a 1,000,000-task board is ~260 MB of JSON, and a
/// `serde_json::Value` tree of it took several times that in memory.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CompatTask, description = "A task in agent-coordinate-mcp's shape (`status`: available, working, done, failed or cancelled; `workerSlot` numbered from 1).")]
struct SeedTask<'a> {
    id: &'a TaskId,
    title: &'a str,
    description: &'a str,
    status: &'static str,
    dependencies: &'a [TaskId],
    worker: Option<&'a str>,
    started_at: Option<String>,
    completed_at: Option<String>,
    #[schema(value_type = Option<Object>)]
    output: Option<&'a serde_json::Value>,
    error: Option<&'a str>,
    worker_slot: Option<u32>,
    lease_id: Option<u64>,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a Task> for SeedTask<'a> {
    fn from(t: &'a Task) -> Self {
        Self {
            id: &t.id,
            title: &t.title,
            description: &t.description,
            status: seed_status(t.status),
            dependencies: &t.dependencies,
            worker: t.worker.as_deref(),
            started_at: t.started_at.map(rfc3339::format),
            completed_at: t.finished_at.map(rfc3339::format),
            output: t.output.as_deref(),
            error: t.error.as_deref(),
            worker_slot: t.lease.as_ref().map(|l| l.slot + 1),
            lease_id: t.lease.as_ref().map(|l| l.lease_id),
            created_at: rfc3339::format(t.created_at),
            updated_at: rfc3339::format(t.updated_at),
        }
    }
}

fn seed_task(t: &Task) -> serde_json::Value {
    serde_json::to_value(SeedTask::from(t)).unwrap_or_default()
}

/// `{"success": true, "tasks": [...]}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct CompatTaskList<'a> {
    /// True.
    success: bool,
    /// The tasks.
    tasks: Vec<SeedTask<'a>>,
}

/// `{"success": true, "tasks": [...]}`, written from the tasks directly.
fn task_list(r: Result<Vec<Task>, Error>) -> HttpResponse {
    match r {
        Ok(tasks) => HttpResponse::Ok().json(CompatTaskList {
            success: true,
            tasks: tasks.iter().map(SeedTask::from).collect(),
        }),
        Err(e) => refused(&e),
    }
}

fn compat_ttl(board: &Board) -> u64 {
    board.settings().leases.compat_ttl_secs.saturating_mul(1000)
}

fn to_slot(n: u32) -> Result<u32, Error> {
    n.checked_sub(1)
        .ok_or_else(|| Error::invalid("slot", "slots are numbered from 1 on these routes"))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CompatSlotClaim)]
struct SlotClaim {
    worker_id: Option<String>,
    /// baton extension: an idempotency key (1 to 128 bytes). Sending the
    /// same claim again with it — its answer was lost — answers the same
    /// slot while that hold lasts, and holds no other.
    #[serde(alias = "request_id")]
    request_id: Option<String>,
}

#[utoipa::path(post, path = "/api/claim-worker-slot", tag = "compat", request_body = SlotClaim,
    responses((status = 200, body = CompatReply, description = "`{success: true, slot}` (slots are numbered from 1; the same slot again for a repeated `requestId`); a refusal by the board is also 200, as `{success: false, error, code}`"),
              (status = 400, body = CompatReply, description = "the body is not JSON or has a wrong type: `{success: false, error, code: \"invalid_json\"}`")))]
pub(crate) async fn claim_worker_slot(board: Acting, p: web::Payload) -> HttpResponse {
    let req: SlotClaim = match body(&board, p).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    // The original API claims a slot anonymously; the worker adopts it on claim-task.
    let worker = req.worker_id.unwrap_or_default();
    let r = async {
        let slot = board
            .claim_slot_keyed_as(&worker, req.request_id.as_deref())
            .await?;
        Ok(json!({ "slot": slot + 1 }))
    }
    .await;
    reply(r)
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CompatSlotRelease)]
struct SlotRelease {
    slot: Option<u32>,
    worker_id: Option<String>,
}

#[utoipa::path(post, path = "/api/release-worker-slot", tag = "compat", request_body = SlotRelease,
    responses((status = 200, body = CompatReply, description = "`{success: true}`; a refusal by the board is also 200, as `{success: false, error, code}`"),
              (status = 400, body = CompatReply, description = "the body is not JSON or has a wrong type: `{success: false, error, code: \"invalid_json\"}`")))]
pub(crate) async fn release_worker_slot(board: Acting, p: web::Payload) -> HttpResponse {
    let req: SlotRelease = match body(&board, p).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let r = async {
        let slot = to_slot(
            req.slot
                .ok_or_else(|| Error::invalid("slot", "is required"))?,
        )?;
        board.release_slot(slot, req.worker_id.as_deref()).await?;
        Ok(json!({}))
    }
    .await;
    reply(r)
}

#[utoipa::path(get, path = "/api/available-tasks", tag = "compat",
    responses((status = 200, body = CompatTaskList, description = "`{success: true, tasks}`: the tasks ready to claim; a refusal by the board is also 200, as `{success: false, error, code}`")))]
pub(crate) async fn available_tasks(board: Acting) -> HttpResponse {
    task_list(board.available_tasks().await)
}

#[utoipa::path(get, path = "/api/all-tasks", tag = "compat",
    responses((status = 200, body = CompatTaskList, description = "`{success: true, tasks}`: every task; a refusal by the board is also 200, as `{success: false, error, code}`")))]
pub(crate) async fn all_tasks(board: Acting) -> HttpResponse {
    task_list(board.all_tasks().await)
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CompatClaimTask)]
struct ClaimTask {
    task_id: String,
    worker_id: String,
    worker_slot: Option<u32>,
}

#[utoipa::path(post, path = "/api/claim-task", tag = "compat", request_body = ClaimTask,
    responses((status = 200, body = CompatReply, description = "`{success: true, leaseId, expiresAt}` (the lease it already holds when the same worker claims the task again); a refusal by the board is also 200, as `{success: false, error, code}`"),
              (status = 400, body = CompatReply, description = "the body is not JSON or has a wrong type: `{success: false, error, code: \"invalid_json\"}`")))]
pub(crate) async fn claim_task(board: Acting, p: web::Payload) -> HttpResponse {
    let req: ClaimTask = match body(&board, p).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    reply(async {
        let slot = req.worker_slot.map(to_slot).transpose()?;
        let c = board
            .compat_claim_task(&req.task_id, &req.worker_id, slot)
            .await?;
        Ok(json!({ "leaseId": c.lease.lease_id, "expiresAt": rfc3339::format(c.lease.expires_at) }))
    }
    .await)
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CompatUpdateTask)]
struct UpdateTask {
    task_id: String,
    status: String,
    worker_id: String,
    /// baton extension: the `leaseId` of the claim's answer, for exact fencing.
    lease_id: Option<u64>,
    #[schema(value_type = Option<Object>)]
    output: Option<serde_json::Value>,
    error: Option<String>,
}

#[utoipa::path(post, path = "/api/update-task", tag = "compat", request_body = UpdateTask,
    responses((status = 200, body = CompatReply, description = "`{success: true}`; a refusal by the board is also 200, as `{success: false, error, code}`"),
              (status = 400, body = CompatReply, description = "the body is not JSON or has a wrong type: `{success: false, error, code: \"invalid_json\"}`")))]
pub(crate) async fn update_task(board: Acting, p: web::Payload) -> HttpResponse {
    let req: UpdateTask = match body(&board, p).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    reply(
        async {
            if let Some(lease_id) = req.lease_id {
                // the named worker's own compat lease, and exactly that one
                let task = board.get_task(&req.task_id).await?;
                let same = task.lease.as_ref().is_some_and(|l| {
                    l.lease_id == lease_id && l.compat && l.worker == req.worker_id
                });
                if !same {
                    return Err(crate::core::table::TaskError::StaleLease {
                        task: task.id,
                        presented: lease_id,
                        current: task.lease.map(|l| l.lease_id),
                    }
                    .into());
                }
            }
            let by = match req.lease_id {
                Some(id) => LeaseRef::Id(id),
                None => LeaseRef::Worker(req.worker_id.clone()),
            };
            match req.status.as_str() {
                "working" | "claimed" => {
                    board
                        .heartbeat_ttl(&req.task_id, by, Some(compat_ttl(&board)))
                        .await?;
                }
                "done" => {
                    board.complete(&req.task_id, by, req.output).await?;
                }
                "failed" => {
                    let error = req.error.unwrap_or_else(|| "failed".to_owned());
                    board.fail(&req.task_id, by, error, false).await?;
                }
                other => {
                    return Err(Error::invalid(
                        "status",
                        format!("unknown status '{other}'; one of working, done, failed"),
                    ))
                }
            }
            Ok(json!({}))
        }
        .await,
    )
}

/// Body of `add-task`. The agent-coordinate-mcp shim (its `httpClient.ts`
/// `addTask`) sends `{id, description, status: "available", dependencies,
/// output?}`, and its web page the same without `status`: `status` may only
/// say `available` (what a new task is), and `output` — that API's
/// "expected output description" — is kept in the task's payload as
/// `{"expected_output": ...}` rather than dropped. Any other field is refused.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CompatAddTask)]
struct AddTask {
    id: Option<String>,
    title: Option<String>,
    description: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
    status: Option<String>,
    output: Option<serde_json::Value>,
}

#[utoipa::path(post, path = "/api/add-task", tag = "compat", request_body = AddTask,
    responses((status = 200, body = CompatReply, description = "`{success: true, task}`; a refusal by the board is also 200, as `{success: false, error, code}`"),
              (status = 400, body = CompatReply, description = "the body is not JSON or has a wrong type: `{success: false, error, code: \"invalid_json\"}`")))]
pub(crate) async fn add_task(board: Acting, p: web::Payload) -> HttpResponse {
    let req: AddTask = match body(&board, p).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    reply(
        async {
            if let Some(s) = req.status.as_deref().filter(|s| *s != "available") {
                return Err(Error::invalid(
                    "status",
                    format!("a new task is available; '{s}' cannot be set here (omit status)"),
                ));
            }
            let expected = req
                .output
                .filter(|o| !o.is_null() && o.as_str() != Some(""));
            let t = board
                .add_task(TaskSpec {
                    id: req.id,
                    title: req.title,
                    description: req.description,
                    dependencies: req.dependencies,
                    payload: expected.map(|o| json!({ "expected_output": o })),
                    ..TaskSpec::default()
                })
                .await?;
            Ok(json!({ "task": seed_task(&t) }))
        }
        .await,
    )
}

#[utoipa::path(get, path = "/api/workers", tag = "compat",
    responses((status = 200, body = CompatReply, description = "`{success: true, workers: [{slot, workerId, active, taskId}]}`; a refusal by the board is also 200, as `{success: false, error, code}`")))]
pub(crate) async fn workers(board: Acting) -> HttpResponse {
    reply(
        async {
            let slots = board.slots().await?;
            let workers: Vec<_> = slots
                .iter()
                .map(|s| {
                    json!({
                        "slot": s.slot + 1,
                        "workerId": s.worker,
                        "active": s.worker.is_some() || s.explicit,
                        "taskId": s.task_id,
                    })
                })
                .collect();
            Ok(json!({ "workers": workers }))
        }
        .await,
    )
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CompatResetTask)]
struct ResetTask {
    task_id: String,
}

#[utoipa::path(post, path = "/api/reset-failed-task", tag = "compat", request_body = ResetTask,
    responses((status = 200, body = CompatReply, description = "`{success: true, reset: [task ids]}`; a refusal by the board is also 200, as `{success: false, error, code}`"),
              (status = 400, body = CompatReply, description = "the body is not JSON or has a wrong type: `{success: false, error, code: \"invalid_json\"}`")))]
pub(crate) async fn reset_failed_task(board: Acting, p: web::Payload) -> HttpResponse {
    let req: ResetTask = match body(&board, p).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    reply(
        async {
            let reset = board.reset(&req.task_id).await?;
            Ok(json!({ "reset": reset.iter().map(|t| t.id.to_string()).collect::<Vec<_>>() }))
        }
        .await,
    )
}

/// The coordinator's liveness probe.
#[utoipa::path(get, path = "/api/health", tag = "compat",
    responses((status = 200, body = Object, description = "`{status: \"ok\", uptime}` (seconds since start)")))]
pub(crate) async fn health(board: web::Data<Board>) -> HttpResponse {
    HttpResponse::Ok()
        .json(json!({ "status": "ok", "uptime": board.view().started.elapsed().as_secs_f64() }))
}

// ---- the OpenAPI document's shapes of these routes' answers ---------------------

/// An answer in agent-coordinate-mcp's shape: `success`, and on a refusal
/// `error` (the message) and `code` (baton's error code); a success adds
/// the route's own fields.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: the answers are written by `ok` and `refused`
pub(crate) struct CompatReply {
    /// Whether the request succeeded.
    success: bool,
    /// What was refused (only when `success` is false).
    error: Option<String>,
    /// baton's error code (only when `success` is false).
    code: Option<String>,
}
