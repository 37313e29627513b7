//! A reload of the server file, as the pool's actor carries it out
//! ([`ReloadServers`]), given a set that [`ServerSet::load_strict`] read
//! (a file that does not parse or validate never gets here: it changes
//! nothing). Each server is compared with its running entry:
//!
//! | the new file | what happens |
//! |---|---|
//! | adds a server | it starts (or is listed, if disabled) |
//! | removes a server | its route goes at once (new calls: `unknown_server`), its calls in flight finish, then its process group is terminated; its gateway names are forgotten |
//! | changes a server's entry | a new actor (process, connection) starts under the same route name; the old one finishes its calls in flight, then stops; the server keeps its gateway names |
//! | leaves a server as it was | untouched — unless it is `misconfigured`, which is tried again |
//!
//! "Finishes its calls in flight": every call holds one of its route's
//! `max_concurrent_calls` permits while it runs; the old actor is stopped
//! once it has them all back, so no call that got in is cut off. Each call
//! ends by its own timeout, which bounds the wait.
//!
//! The replaced actor's lists and breaker no longer count: it is told
//! [`Retire`] (it stops writing the shared breaker view) and the pool
//! ignores lists whose epoch is not the running actor's.

use std::collections::BTreeMap;

use actix::prelude::*;

use super::names::NameChange;
use super::server::{Restart, Retire, StopServer};
use super::shared::LiveRoute;
use super::spec::{ServerSet, ServerSpec};
use super::state::ServerState;
use super::status::ReloadReport;
use super::supervisor::{launch, McpPool, Running};
use crate::model::GatewayKind;

/// Run `set` instead of the servers running now (see the module docs);
/// answers what changed once the new servers are starting and the removed
/// servers' names are forgotten (calls in flight may still be finishing).
#[derive(Debug, Message)]
#[rtype(result = "ReloadReport")]
pub(crate) struct ReloadServers {
    /// The whole server file, read strictly.
    pub(crate) set: ServerSet,
}

impl Handler<ReloadServers> for McpPool {
    type Result = ResponseActFuture<Self, ReloadReport>;

    fn handle(&mut self, msg: ReloadServers, ctx: &mut Context<Self>) -> Self::Result {
        let ServerSet {
            servers, issues, ..
        } = msg.set;
        let configured: std::collections::BTreeSet<String> = servers
            .iter()
            .map(|s| s.name.clone())
            .chain(
                issues
                    .iter()
                    .filter(|i| !i.is_unknown_override())
                    .map(|i| i.name.clone()),
            )
            .collect();
        let next: BTreeMap<String, ServerSpec> =
            servers.into_iter().map(|s| (s.name.clone(), s)).collect();
        let me = ctx.address();
        let mut report = ReloadReport::default();

        let gone: Vec<String> = self
            .servers
            .keys()
            .filter(|n| !next.contains_key(*n))
            .cloned()
            .collect();
        let mut lists_changed = Vec::new();
        for name in gone {
            let entry = self.servers.remove(&name);
            let route = self.shared.routes.remove(&name).and_then(|(_, r)| r.live);
            self.shared.breakers.remove(&name);
            if let Some(run) = entry.and_then(|e| e.run) {
                self.retire(ctx, &name, run, route);
            }
            let had_tools = self.tools.remove(&name).is_some_and(|t| !t.is_empty());
            let had_prompts = self.prompts.remove(&name).is_some_and(|p| !p.is_empty());
            lists_changed.push((name.clone(), had_tools, had_prompts));
            report.removed.push(name);
        }
        for (name, spec) in next {
            let Some(entry) = self.servers.get(&name) else {
                let epoch = self.epoch();
                let entry = launch(&self.shared, &me, spec, epoch);
                self.servers.insert(name.clone(), entry);
                report.added.push(name);
                continue;
            };
            if entry.spec != spec {
                let old_route = self.shared.routes.get(&name).and_then(|r| r.live.clone());
                let epoch = self.epoch();
                let old = self
                    .servers
                    .insert(name.clone(), launch(&self.shared, &me, spec, epoch));
                if let Some(run) = old.and_then(|e| e.run) {
                    self.retire(ctx, &name, run, old_route);
                }
                report.changed.push(name);
                continue;
            }
            let misconfigured = self
                .shared
                .routes
                .get(&name)
                .and_then(|r| r.live.as_ref().map(|l| *l.state.borrow()))
                == Some(ServerState::Misconfigured);
            match &entry.run {
                Some(run) if misconfigured => {
                    run.addr.do_send(Restart);
                    report.retried.push(name);
                }
                _ => report.unchanged.push(name),
            }
        }
        self.shared.set_issues(issues);
        tracing::info!(
            added = ?report.added,
            removed = ?report.removed,
            changed = ?report.changed,
            retried = ?report.retried,
            unchanged = report.unchanged.len(),
            "MCP server file reloaded"
        );

        // a server that left the file frees its names (before a newcomer is named)
        let forgotten = self.names.forget_servers(|s| configured.contains(s));
        let publish = move |act: &mut McpPool| {
            for (server, tools, prompts) in lists_changed {
                if tools {
                    act.publish(GatewayKind::Tool, server.clone());
                }
                if prompts {
                    act.publish(GatewayKind::Prompt, server);
                }
            }
        };
        match self.names.ledger().filter(|_| !forgotten.is_empty()) {
            None => publish(self),
            Some(ledger) => {
                let count = forgotten.len();
                let change = NameChange {
                    put: Vec::new(),
                    remove: forgotten,
                };
                ctx.wait(ledger.save(change).into_actor(self).map(move |saved, act, _| {
                    match saved {
                        Ok(()) => tracing::info!(names = count, "forgot the gateway names of servers removed from the server file"),
                        Err(e) => tracing::error!(names = count, error = %e, "could not forget the gateway names of servers removed from the server file"),
                    }
                    publish(act);
                }));
            }
        }
        Box::pin(fut::ready(report))
    }
}

impl McpPool {
    /// A new epoch for a server actor about to start.
    fn epoch(&mut self) -> u64 {
        let epoch = self.next_epoch;
        self.next_epoch += 1;
        epoch
    }

    /// Retire `run` (server `name`), which a reload removed or replaced:
    /// once the calls holding a permit of its old route `live` are done,
    /// stop it (its process group is terminated).
    fn retire(
        &mut self,
        ctx: &mut Context<Self>,
        name: &str,
        run: Running,
        live: Option<LiveRoute>,
    ) {
        run.addr.do_send(Retire);
        self.retiring.push(run.addr.clone());
        let addr = run.addr;
        let server = name.to_owned();
        let drain = async move {
            if let Some(live) = &live {
                let busy = live.limit.saturating_sub(
                    u32::try_from(live.semaphore.available_permits()).unwrap_or(u32::MAX),
                );
                if busy > 0 {
                    tracing::info!(server = %server, calls = busy, "waiting for calls in flight before stopping the old MCP server");
                }
                // every call ends by its own timeout, so this wait ends too
                let _all = live.semaphore.acquire_many(live.limit).await;
            }
            if addr.send(StopServer).await.is_err() {
                tracing::debug!(server = %server, "retired MCP server already stopped");
            }
            addr
        }
        .into_actor(self)
        .map(|addr, act, _| act.retiring.retain(|a| *a != addr));
        ctx.spawn(drain);
    }
}
