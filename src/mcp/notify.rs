//! Notification forwarders of sessions of protocol versions before
//! 2026-07-28 (newer clients use `subscriptions/listen`, [`super::listen`]):
//! one background task per session and kind, started on first use and ended
//! with the session — resource-updated notifications for subscribed
//! `task://` and `inbox://` URIs (sent once the change is durable; which
//! URIs an event changed is [`super::listen::changed_uris`]), and tools/prompts list-changed notifications when the
//! gateway's downstream lists change. Each holds a receiver of the
//! session's `watch` channel, whose sender lives in the session's handler:
//! when rmcp drops the handler at the session's end, the forwarder ends too
//! (counted by the `baton_mcp_forwarders` gauge).

use std::sync::atomic::Ordering;

use rmcp::service::Peer;
use rmcp::RoleServer;

use super::BatonMcp;
use crate::actors::Live;

impl BatonMcp {
    /// Tell this session's client when the gateway's tool or prompt list
    /// changes (a downstream server's list changed, or it restarted with
    /// other tools). Started by the session's first `tools/list` or
    /// `prompts/list`; ends with the session.
    pub(super) fn start_list_forwarding(&self, peer: Peer<RoleServer>) {
        use tokio::sync::broadcast::error::RecvError;
        if self.list_forwarding.swap(true, Ordering::SeqCst) {
            return;
        }
        let Some(pool) = self.board.pool() else {
            return;
        };
        let mut tools = pool.subscribe_changes();
        let mut prompts = pool.subscribe_prompt_changes();
        let mut session = self.session.subscribe();
        let live = Live::new(&self.board.view().live_forwarders_cell());
        tokio::spawn(async move {
            let _live = live;
            loop {
                let sent = tokio::select! {
                    r = tools.recv() => match r {
                        Ok(_) | Err(RecvError::Lagged(_)) => peer.notify_tool_list_changed().await.is_ok(),
                        Err(RecvError::Closed) => false, // the pool shut down
                    },
                    r = prompts.recv() => match r {
                        Ok(_) | Err(RecvError::Lagged(_)) => peer.notify_prompt_list_changed().await.is_ok(),
                        Err(RecvError::Closed) => false,
                    },
                    // the session's handler was dropped: the session ended
                    _ = session.changed() => false,
                };
                if !sent || peer.is_transport_closed() {
                    return;
                }
            }
        });
    }

    /// Forward resource-updated notifications for subscribed `task://` and `inbox://` URIs,
    /// once durable, until the session's peer goes away.
    pub(super) fn start_forwarding(&self, peer: Peer<RoleServer>) {
        if self.forwarding.swap(true, Ordering::SeqCst) {
            return;
        }
        let store = self.board.store().clone();
        let subs = self.subscriptions.clone();
        let board = self.board.clone();
        let mut rx = store.subscribe();
        let mut session = self.session.subscribe();
        let live = Live::new(&self.board.view().live_forwarders_cell());
        tokio::spawn(async move {
            let _live = live;
            loop {
                let p = tokio::select! {
                    r = rx.recv() => match r {
                        Ok(p) => p,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => return,
                    },
                    // the session's handler was dropped: the session ended
                    _ = session.changed() => return,
                };
                let subscribed = subs.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let wanted = super::listen::changed_uris(&board, &p, &subscribed).await;
                if wanted.is_empty() {
                    continue;
                }
                // published after its flush, so already durable
                for uri in wanted {
                    let param = rmcp::model::ResourceUpdatedNotificationParam::new(uri);
                    if peer.notify_resource_updated(param).await.is_err() {
                        return; // the session is gone
                    }
                }
            }
        });
    }
}
