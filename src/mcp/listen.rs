//! `subscriptions/listen` (protocol 2026-07-28): one long-lived request per
//! stream, answered with notifications until the client cancels it or baton
//! shuts down (then the final result: a graceful end). rmcp acknowledges the
//! filter this module accepts ([`BatonMcp::listen_filter`]) and hands the
//! stream to [`BatonMcp::run_listen`].
//!
//! What a stream carries, each once durable:
//!
//! | filter | notification | when |
//! |---|---|---|
//! | `resourceSubscriptions: ["task://{id}"]` (and `task://{id}/context`) | `notifications/resources/updated` | any change of the task: every audit event naming it (claims, completion, context writes, messages to it) |
//! | `resourceSubscriptions: ["inbox://{worker}"]` | `notifications/resources/updated` | a message to the worker, to all, or to a task it holds; a claim of a task that has messages; its acknowledgement |
//! | `toolsListChanged`, `promptsListChanged` | `notifications/tools/list_changed`, `…/prompts/list_changed` | a downstream server's list changed (the same pool channels the older sessions' forwarder uses, [`crate::pool::PoolHandle::subscribe_changes`]: whatever sends on them, a hot reload included, reaches listen streams too) |
//!
//! Sessions of older protocol versions keep `resources/subscribe` and
//! `notifications/*/list_changed` through [`super::notify`]; both paths ask
//! [`changed_uris`] which URIs an event changed.

use std::collections::HashSet;

use rmcp::model::SubscriptionFilter;
use rmcp::service::SubscriptionContext;
use rmcp::ErrorData as McpError;
use tokio::sync::broadcast::error::RecvError;

use super::BatonMcp;
use crate::actors::Live;
use crate::board::Board;
use crate::model::{EventKind, Recipient, TaskId};
use crate::store::Published;

/// Whether `uri` names something baton notifies about: `task://{id}`,
/// `task://{id}/context` or `inbox://{worker}`.
pub(super) fn is_subscribable(uri: &str, max_id_len: usize) -> bool {
    if let Some(rest) = uri.strip_prefix("task://") {
        let id = rest.strip_suffix("/context").unwrap_or(rest);
        return TaskId::parse(id, max_id_len).is_ok();
    }
    if let Some(worker) = uri.strip_prefix("inbox://") {
        return crate::board::check_worker(worker).is_ok();
    }
    false
}

/// The next value of an optional broadcast, or never.
async fn next_of<T: Clone>(
    rx: &mut Option<tokio::sync::broadcast::Receiver<T>>,
) -> Result<T, RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl BatonMcp {
    /// The part of `requested` baton serves: list changes of tools and
    /// prompts, and updates of subscribable resource URIs (others dropped;
    /// the acknowledgement tells the client what was kept).
    pub(super) fn listen_filter(&self, requested: &SubscriptionFilter) -> SubscriptionFilter {
        let max_id = self.board.settings().tasks.max_id_len;
        let mut accepted = SubscriptionFilter::new();
        accepted.tools_list_changed = requested.tools_list_changed;
        accepted.prompts_list_changed = requested.prompts_list_changed;
        accepted.resource_subscriptions = requested.resource_subscriptions.as_ref().map(|uris| {
            uris.iter()
                .filter(|u| is_subscribable(u, max_id))
                .cloned()
                .collect()
        });
        accepted
    }

    /// Run one listen stream until the client cancels it (or goes away) or
    /// a shutdown begins ([`crate::Runtime::close_streams`]: then `Ok`, and
    /// rmcp sends the final result).
    pub(super) async fn run_listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        let sink = context.sink().clone();
        let accepted = context.accepted().clone();
        let uris: HashSet<String> = accepted
            .resource_subscriptions
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut events = (!uris.is_empty()).then(|| self.board.store().subscribe());
        let pool = self.board.pool();
        let mut tools = pool
            .filter(|_| accepted.tools_list_changed == Some(true))
            .map(|p| p.subscribe_changes());
        let mut prompts = pool
            .filter(|_| accepted.prompts_list_changed == Some(true))
            .map(|p| p.subscribe_prompt_changes());
        let closing = self.board.closing().clone();
        let _live = Live::new(&self.board.view().live_forwarders_cell());
        tracing::debug!(resources = uris.len(), "subscriptions/listen stream opened");
        loop {
            let sent = tokio::select! {
                () = context.cancelled() => return Ok(()),
                () = closing.cancelled() => return Ok(()),
                r = next_of(&mut events) => match r {
                    Ok(p) => {
                        let mut ok = true;
                        for uri in changed_uris(&self.board, &p, &uris).await {
                            ok &= sink.notify_resource_updated(uri).await.is_ok();
                        }
                        ok
                    }
                    Err(RecvError::Lagged(_)) => {
                        // events were missed: every subscribed resource may have changed
                        let mut ok = true;
                        for uri in &uris {
                            ok &= sink.notify_resource_updated(uri.clone()).await.is_ok();
                        }
                        ok
                    }
                    Err(RecvError::Closed) => return Ok(()),
                },
                r = next_of(&mut tools) => match r {
                    Ok(_) | Err(RecvError::Lagged(_)) => sink.notify_tool_list_changed().await.is_ok(),
                    Err(RecvError::Closed) => return Ok(()),
                },
                r = next_of(&mut prompts) => match r {
                    Ok(_) | Err(RecvError::Lagged(_)) => sink.notify_prompt_list_changed().await.is_ok(),
                    Err(RecvError::Closed) => return Ok(()),
                },
            };
            if !sent {
                return Ok(()); // the stream is gone
            }
        }
    }
}

/// The URIs among `subscribed` that the published event `p` changed:
/// its task's `task://` URIs, and the inboxes a message change reached
/// (see the module doc).
pub(super) async fn changed_uris(
    board: &Board,
    p: &Published,
    subscribed: &HashSet<String>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(id) = &p.event.task_id {
        for uri in [format!("task://{id}"), format!("task://{id}/context")] {
            if subscribed.contains(&uri) {
                out.push(uri);
            }
        }
    }
    if !subscribed.iter().any(|u| u.starts_with("inbox://")) {
        return out;
    }
    let mut inbox = |w: &str| {
        let uri = format!("inbox://{w}");
        if subscribed.contains(&uri) && !out.contains(&uri) {
            out.push(uri);
        }
    };
    match p.event.kind {
        EventKind::MessageSent => {
            let id = p
                .event
                .reason
                .as_deref()
                .and_then(|r| r.parse::<u64>().ok());
            let to = match id {
                Some(id) => board.message(id).await.ok().map(|v| v.message.to),
                None => None,
            };
            match to {
                Some(Recipient::Worker(w)) => inbox(&w),
                Some(Recipient::All) => {
                    let all: Vec<String> = subscribed
                        .iter()
                        .filter_map(|u| u.strip_prefix("inbox://"))
                        .map(str::to_owned)
                        .collect();
                    for w in all {
                        inbox(&w);
                    }
                }
                Some(Recipient::Task(t)) => {
                    let holder = match p.task.as_ref() {
                        Some(task) => task.lease.as_ref().map(|l| l.worker.to_string()),
                        None => board
                            .get_task(t.as_str())
                            .await
                            .ok()
                            .and_then(|task| task.lease.map(|l| l.worker.to_string())),
                    };
                    if let Some(h) = holder {
                        inbox(&h);
                    }
                }
                None => {}
            }
        }
        EventKind::MessageAcked => {
            if let Some(w) = &p.event.worker {
                inbox(w);
            }
        }
        EventKind::TaskClaimed => {
            if let (Some(w), Some(t)) = (&p.event.worker, &p.event.task_id) {
                if subscribed.contains(&format!("inbox://{w}")) && board.task_has_messages(t).await
                {
                    inbox(w);
                }
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_their_context_and_inboxes_are_subscribable_and_nothing_else() {
        for ok in ["task://a", "task://a-1/context", "inbox://worker 7"] {
            assert!(is_subscribable(ok, 128), "{ok}");
        }
        for no in [
            "task://",
            "task://a b",
            "inbox://",
            "data://system/stats",
            "file:///etc",
        ] {
            assert!(!is_subscribable(no, 128), "{no}");
        }
    }
}
