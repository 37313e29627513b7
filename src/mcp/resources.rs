//! Resources: `data://tasks/schema`, `data://tasks/statuses`,
//! `data://system/stats`, and the templates `task://{id}`,
//! `task://{id}/context` and `inbox://{worker}` (a worker's unread
//! messages); subscriptions to them (forwarded by [`super::notify`] on older
//! sessions, by [`super::listen`] on 2026-07-28 streams).

use rmcp::model::{
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
};
use rmcp::service::Peer;
use rmcp::{schemars, ErrorData as McpError, RoleServer};

use super::errors::not_found;
use super::BatonMcp;
use crate::model::TaskSpec;

impl BatonMcp {
    /// `resources/list`.
    pub(super) fn resources(&self) -> Vec<Resource> {
        #[allow(unused_mut)]
        let mut resources = vec![
            Resource::new("data://tasks/schema", "task-schema")
                .with_description("JSON Schema of a task as add_task accepts it")
                .with_mime_type("application/json"),
            Resource::new("data://tasks/statuses", "task-statuses")
                .with_description("The task statuses and what each means")
                .with_mime_type("application/json"),
            Resource::new("data://system/stats", "system-stats")
                .with_description("Task counts per status, worker slots, throughput series")
                .with_mime_type("application/json"),
        ];
        #[cfg(feature = "conformance-fixtures")]
        resources.extend(super::fixtures::resources());
        resources
    }

    /// `resources/templates/list`.
    pub(super) fn resource_templates(&self) -> Vec<ResourceTemplate> {
        #[allow(unused_mut)]
        let mut templates = vec![
            ResourceTemplate::new("task://{id}", "task")
                .with_description("One task (subscribe to be told when it changes)")
                .with_mime_type("application/json"),
            ResourceTemplate::new("task://{id}/context", "task-context")
                .with_description("One task's context values")
                .with_mime_type("application/json"),
            ResourceTemplate::new("inbox://{worker}", "inbox")
                .with_description(
                    "A worker's unread messages (subscribe to be told when one arrives; \
                     read_messages marks them read)",
                )
                .with_mime_type("application/json"),
        ];
        #[cfg(feature = "conformance-fixtures")]
        templates.extend(super::fixtures::templates());
        templates
    }

    /// `resources/read` of `uri`.
    pub(super) async fn read(&self, uri: &str) -> Result<ReadResourceResponse, McpError> {
        #[cfg(feature = "conformance-fixtures")]
        if let Some(r) = super::fixtures::read(uri) {
            return Ok(r.into());
        }
        match uri {
            "data://tasks/schema" => {
                let schema = schemars::schema_for!(TaskSpec);
                Ok(json_contents(
                    uri,
                    &serde_json::to_value(schema).unwrap_or_default(),
                ))
            }
            "data://tasks/statuses" => {
                let list: Vec<_> = STATUSES
                    .iter()
                    .map(|(s, d)| serde_json::json!({ "status": s, "meaning": d }))
                    .collect();
                let rules: serde_json::Map<String, serde_json::Value> = RULES
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).into()))
                    .collect();
                Ok(json_contents(
                    uri,
                    &serde_json::json!({ "statuses": list, "rules": rules }),
                ))
            }
            "data://system/stats" => {
                let stats = self
                    .board
                    .stats()
                    .await
                    .map_err(|e| McpError::internal_error(e.to_string(), None))?;
                Ok(json_contents(
                    uri,
                    &serde_json::to_value(stats).unwrap_or_default(),
                ))
            }
            _ if uri.starts_with("inbox://") => {
                let worker = &uri["inbox://".len()..];
                let page = self
                    .board
                    .list_messages(crate::board::MessageFilter {
                        inbox: Some(worker.to_owned()),
                        unread_only: true,
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| not_found(&e))?;
                Ok(json_contents(
                    uri,
                    &serde_json::json!({ "worker": worker, "unread": page }),
                ))
            }
            _ => {
                let Some(rest) = uri.strip_prefix("task://") else {
                    return Err(McpError::resource_not_found(
                        format!("no resource {uri}"),
                        None,
                    ));
                };
                if let Some(id) = rest.strip_suffix("/context") {
                    let ctx = self
                        .board
                        .context_list(id)
                        .await
                        .map_err(|e| not_found(&e))?;
                    return Ok(json_contents(uri, &serde_json::json!({ "context": ctx })));
                }
                let task = self.board.get_task(rest).await.map_err(|e| not_found(&e))?;
                Ok(json_contents(
                    uri,
                    &serde_json::to_value(task).unwrap_or_default(),
                ))
            }
        }
    }

    /// `resources/subscribe` to `uri` (a `task://` URI of an existing task,
    /// or `inbox://{worker}` of any worker name: an inbox exists before its
    /// worker ever appeared).
    pub(super) async fn subscribe_to(
        &self,
        uri: &str,
        peer: Peer<RoleServer>,
    ) -> Result<(), McpError> {
        #[cfg(feature = "conformance-fixtures")]
        if super::fixtures::is_fixture_uri(uri) {
            self.subscriptions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(uri.to_owned());
            return Ok(());
        }
        if let Some(worker) = uri.strip_prefix("inbox://") {
            crate::board::check_worker(worker).map_err(|e| not_found(&e))?;
        } else {
            let Some(rest) = uri.strip_prefix("task://") else {
                return Err(McpError::invalid_params(
                    "only task://{id}, task://{id}/context and inbox://{worker} can be subscribed to",
                    None,
                ));
            };
            let id = rest.strip_suffix("/context").unwrap_or(rest);
            self.board.get_task(id).await.map_err(|e| not_found(&e))?;
        }
        self.subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uri.to_owned());
        self.start_forwarding(peer);
        Ok(())
    }

    /// `resources/unsubscribe` from `uri`.
    pub(super) fn unsubscribe_from(&self, uri: &str) {
        self.subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uri);
    }
}

const STATUSES: &[(&str, &str)] = &[
    (
        "blocked",
        "waiting: for its dependencies (a subtask also for its parent's), for its subtasks (a parent, never claimed: blocked_reason \"waits for 3 of 5 children\"), or for its time (run_after: blocked_reason \"not before ...\")",
    ),
    ("ready", "claimable now"),
    (
        "running",
        "claimed under a lease; heartbeat it, then complete or fail it",
    ),
    (
        "done",
        "finished successfully (terminal); a parent is done when its last unfinished subtask ends and some are done, its output listing them",
    ),
    (
        "failed",
        "failed for good, itself or because a dependency or a subtask failed (reset_failed_task brings it back with the failed tasks that fell with it)",
    ),
    (
        "cancelled",
        "cancelled; its pending dependents, and a parent's unfinished subtasks, are cancelled too (terminal)",
    ),
];

/// How trees and time bend the statuses (`data://tasks/statuses`).
const RULES: &[(&str, &str)] = &[
    (
        "subtasks",
        "a task with subtasks (add_subtasks, or parent on add) is a parent: never claimed, blocked while subtasks are unfinished, done when they are (cancelled ones aside), failed when one fails for good (its siblings keep running unless [subtasks] cancel_siblings_on_failure); a dependency on a parent waits for all of it",
    ),
    (
        "split",
        "the worker holding a task may split it: add_subtasks with its lease_id ends the lease as split, and it may claim a subtask",
    ),
    (
        "delays",
        "run_after or delay_secs on add, retry_after_secs on fail or release: the task stays blocked until then and no claim hands it out early",
    ),
];

fn json_contents(uri: &str, v: &serde_json::Value) -> ReadResourceResponse {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    ReadResourceResult::new(vec![
        ResourceContents::text(text, uri).with_mime_type("application/json")
    ])
    .into()
}
