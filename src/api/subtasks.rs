//! `POST /api/v1/tasks/{id}/subtasks`: plans as trees. Adds subtasks under
//! a task as one atomic batch; the task becomes a parent (never claimed,
//! done when its subtasks are). The worker holding a task splits it by
//! sending its `lease_id`: the lease ends as `split` and the worker may
//! claim one of the subtasks.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::tasks::ErrorBody;
use super::{json_body, Acting, ApiError};
use crate::core::table::LeaseRef;
use crate::model::{Task, TaskSpec};

/// Body of `POST /tasks/{id}/subtasks`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubtasksRequest {
    /// The subtasks (atomic: all are added or none). A subtask's `parent`
    /// may be left out (it is the task in the path) or name another task of
    /// this batch (a deeper tree); dependencies may point inside the batch.
    pub tasks: Vec<TaskSpec>,
    /// The caller's lease on the task, when it holds it: splitting its own
    /// work ends that lease (`split`). A running task is split only so.
    #[serde(default)]
    pub lease_id: Option<u64>,
}

/// The parent and its new subtasks.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubtasksReply {
    /// The parent as it is now (`blocked`, waiting for its subtasks).
    pub parent: Task,
    /// The subtasks added, in order.
    pub tasks: Vec<Task>,
}

/// Add subtasks under a task (one atomic batch). The task becomes a parent:
/// never claimed, `blocked` while subtasks are unfinished, `done` when
/// every subtask is (its `output` lists them), `failed` when one fails for
/// good; cancelling it cancels its unfinished subtasks. A running task is
/// split only by its holder, with its `lease_id`.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/subtasks", tag = "tasks", params(("id" = String, Path)),
    request_body = SubtasksRequest,
    responses((status = 201, body = SubtasksReply, description = "the parent (now waiting for its subtasks) and the subtasks added"),
              (status = 409, body = ErrorBody, description = "the task is running and no lease was sent (`invalid_status`), the lease is stale (`stale_lease`), a subtask id exists (`task_exists`), or a subtask's dependency failed (`dependency_failed`)"),
              (status = 413, body = ErrorBody, description = "a field is over its size bound"),
              (status = 422, body = ErrorBody, description = "the parent does not exist or has finished, a subtask would be deeper than `[subtasks] max_depth`, a cycle runs through parents or dependencies (`field`: `parent`), or a field is invalid (`tasks[i].…`)")))]
pub(crate) async fn add_subtasks(
    board: Acting,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let req: SubtasksRequest = json_body(&board, payload, false).await?;
    let (parent, tasks) = board
        .add_subtasks(&id, req.tasks, req.lease_id.map(LeaseRef::Id))
        .await?;
    Ok(HttpResponse::Created().json(SubtasksReply { parent, tasks }))
}
