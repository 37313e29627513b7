//! The `add_subtasks` tool: plans as trees. Adds subtasks under a task as
//! one atomic batch (the task becomes a parent, done when they are); an
//! agent splits the task it holds by passing its `lease_id`. Its own tool
//! router ([`BatonMcp::subtask_router`]), joined to the others' in
//! [`super::server`]; in the `full` profile only (splitting is occasional,
//! not a step of every task).

// rmcp's tool-error type is `CallToolResult` itself; returning it by value is the API.
#![allow(clippy::result_large_err)]

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{CallToolResult, Tool};
use rmcp::{tool, tool_router};
use serde_json::Value;

use super::dto::{SubtasksArgs, SubtasksOut};
use super::BatonMcp;
use crate::core::table::LeaseRef;

#[tool_router(router = subtask_router, vis = "pub(super)")]
impl BatonMcp {
    /// Split a task into subtasks (one atomic batch; each task as in add_tasks). The parent is never
    /// claimed and is done when they are. To split a task you hold, pass its lease_id: your lease ends; claim a subtask.
    #[tool(annotations(
        title = "Add subtasks",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn add_subtasks(
        &self,
        Parameters(a): Parameters<SubtasksArgs>,
    ) -> Result<Json<SubtasksOut>, CallToolResult> {
        self.done(
            self.board
                .add_subtasks(&a.parent, a.tasks, a.lease_id.map(LeaseRef::Id))
                .await
                .map(|(parent, tasks)| SubtasksOut {
                    parent,
                    tasks,
                    more: None,
                }),
        )
    }
}

/// Shorten `add_subtasks`' definition for the model's context: its task
/// specs are `add_tasks`' (whose definition describes every field), so the
/// descriptions inside its `$defs` are dropped — names, types and bounds
/// stay, and the tool's description points to `add_tasks`. Applied once,
/// with the schema policy, when the router is built.
pub(super) fn terse(tool: &mut Tool) {
    if tool.name != "add_subtasks" {
        return;
    }
    let schema = std::sync::Arc::make_mut(&mut tool.input_schema);
    if let Some(defs) = schema.get_mut("$defs") {
        drop_descriptions(defs);
    }
}

/// Remove every `description` keyword under `v` (schemas only: `$defs`
/// hold no `default`/`enum` data with such a key in baton's specs).
fn drop_descriptions(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if matches!(map.get("description"), Some(Value::String(_))) {
                map.remove("description");
            }
            map.values_mut().for_each(drop_descriptions);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_descriptions),
        _ => {}
    }
}
