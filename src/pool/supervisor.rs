//! `McpPool`: the supervisor of the downstream MCP servers.
//!
//! State it owns: one [`McpServer`] actor per enabled server (disabled ones
//! are only listed), the invalid entries, every server's last tool and
//! prompt lists, the books of every gateway name handed out (one
//! [`NameBook`](crate::core::names::NameBook) for tools, another for
//! prompts, so a prompt and a tool may share a gateway name; kept through a
//! [`NameLedger`](super::NameLedger), see `names.rs`), and the gateway
//! catalogs built from them. It writes the read-side views callers use without a
//! mailbox hop: the route table (server name → actor, concurrency semaphore,
//! state channel, options) once at start, the tool catalog after each
//! tool-list change (announced on the [`ToolsChanged`] broadcast) and the
//! prompt catalog after each prompt-list change (announced on the
//! [`PromptsChanged`] broadcast). A list change that brings a tool or prompt
//! without a name yet is shown only once its new name is kept: the actor
//! waits for the ledger meanwhile (no other message is handled).
//!
//! Messages: [`ToolsRefreshed`] and [`PromptsRefreshed`] from its servers
//! (defined in `events.rs`, below both); [`GetPoolStatus`],
//! [`RestartServer`], [`ResetServer`] and [`ShutdownPool`] from the
//! [`PoolHandle`](super::PoolHandle), routed by server name.
//!
//! It hands the runtime's [`Clock`] to every server it starts.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix::prelude::*;
use futures_util::future::join_all;
use rmcp::model::{Prompt, Tool};
use tokio::sync::{watch, Semaphore};

use super::catalog::{
    Catalog, GatewayPrompt, GatewayTool, PromptCatalog, PromptsChanged, ToolsChanged,
};
use super::error::PoolError;
use super::events::{PromptsRefreshed, ToolsRefreshed};
use super::names::{record, NameChange, Names, RememberedNames};
use super::server::{GetServerStatus, McpServer, ResetBreaker, Restart, StopServer};
use super::shared::{LiveRoute, PoolShared, Route};
use super::spec::{ServerSet, TransportKind};
use super::state::ServerState;
use super::status::ServerStatus;
use crate::clock::Clock;
use crate::core::breaker::CircuitBreaker;
use crate::model::{GatewayKind, GatewayName};

/// The supervisor actor.
pub struct McpPool {
    servers: BTreeMap<String, Entry>,
    tools: BTreeMap<String, Arc<Vec<Tool>>>,
    prompts: BTreeMap<String, Arc<Vec<Prompt>>>,
    names: Names,
    /// Names to forget in the ledger at start (servers no longer configured).
    forget: Vec<GatewayName>,
    shared: Arc<PoolShared>,
}

enum Entry {
    Running(Addr<McpServer>),
    Disabled(TransportKind),
}

impl McpPool {
    /// Start the pool and one [`McpServer`] per enabled server of `set`, on
    /// the current actix arbiter, every server on `clock`; invalid entries
    /// are logged by name. Its gateway names start from `remembered` (see
    /// `names.rs`), with the names of servers `set` no longer names
    /// forgotten. Returns the pool and the views it writes (the public way
    /// in is [`McpPool::start`]). Needs a running actix system.
    pub(super) fn spawn(
        set: ServerSet,
        clock: Clock,
        remembered: Option<RememberedNames>,
    ) -> (Addr<McpPool>, Arc<PoolShared>) {
        for issue in &set.issues {
            tracing::error!(server = %issue.name, error = %issue.error, "invalid MCP server entry; not started");
        }
        let configured = set.configured_names();
        let (names, forget) = Names::start(remembered, |s| configured.contains(s));
        let shared = Arc::new(PoolShared::new(set.issues, clock));
        let view = shared.clone();
        let addr = McpPool::create(move |ctx| {
            let me = ctx.address();
            let mut servers = BTreeMap::new();
            for spec in set.servers {
                let name = spec.name.clone();
                let options = Arc::new(spec.options.clone());
                let kind = spec.transport.kind();
                if !spec.options.enabled {
                    tracing::info!(server = %name, "MCP server disabled");
                    view.routes.insert(
                        name.clone(),
                        Route {
                            kind,
                            options,
                            live: None,
                        },
                    );
                    servers.insert(name, Entry::Disabled(kind));
                    continue;
                }
                let (state_tx, state_rx) = watch::channel(ServerState::Starting);
                let limit = spec.options.max_concurrent_calls;
                let server = McpServer::new(
                    spec,
                    me.clone().recipient(),
                    me.clone().recipient(),
                    state_tx,
                    view.breakers.clone(),
                    view.clock.clone(),
                )
                .start();
                view.routes.insert(
                    name.clone(),
                    Route {
                        kind,
                        options,
                        live: Some(LiveRoute {
                            addr: server.clone(),
                            semaphore: Arc::new(Semaphore::new(limit as usize)),
                            limit,
                            state: state_rx,
                        }),
                    },
                );
                servers.insert(name, Entry::Running(server));
            }
            McpPool {
                servers,
                tools: BTreeMap::new(),
                prompts: BTreeMap::new(),
                names,
                forget,
                shared: view,
            }
        });
        (addr, shared)
    }

    /// Every (server, tool) or (server, prompt) pair listed now.
    fn pairs(&self, kind: GatewayKind) -> Vec<(String, String)> {
        match kind {
            GatewayKind::Tool => self
                .tools
                .iter()
                .flat_map(|(s, ts)| ts.iter().map(move |t| (s.clone(), t.name.to_string())))
                .collect(),
            GatewayKind::Prompt => self
                .prompts
                .iter()
                .flat_map(|(s, ps)| ps.iter().map(move |p| (s.clone(), p.name.clone())))
                .collect(),
        }
    }

    /// `server`'s list of `kind` changed: name the newcomers, keep their
    /// names (waiting for the ledger, if any), then show the catalog and
    /// announce the change.
    fn name_and_publish(&mut self, ctx: &mut Context<Self>, kind: GatewayKind, server: String) {
        let new = self.names.book(kind).plan(self.pairs(kind));
        let ledger = self.names.ledger().filter(|_| !new.is_empty());
        let Some(ledger) = ledger else {
            self.names.book_mut(kind).record(new);
            self.publish(kind, server);
            return;
        };
        let change = NameChange {
            put: new.iter().cloned().map(|n| record(kind, n)).collect(),
            remove: Vec::new(),
        };
        let save = ledger.save(change).into_actor(self).map(move |saved, act, _| {
            match saved {
                Ok(()) => {
                    tracing::debug!(server = %server, kind = kind.as_str(), names = new.len(), "new gateway names kept");
                    act.names.book_mut(kind).record(new);
                }
                Err(e) => tracing::error!(
                    server = %server,
                    kind = kind.as_str(),
                    names = new.len(),
                    error = %e,
                    "new gateway names not kept; they are not offered until a later list change keeps them"
                ),
            }
            act.publish(kind, server);
        });
        ctx.wait(save);
    }

    /// Show the `kind` catalog as the book names it now and announce that
    /// `server`'s list changed.
    fn publish(&mut self, kind: GatewayKind, server: String) {
        // no receiver is not an error: nobody is listening yet
        match kind {
            GatewayKind::Tool => {
                self.rebuild_catalog();
                let _ = self.shared.changes.send(ToolsChanged { server });
            }
            GatewayKind::Prompt => {
                self.rebuild_prompt_catalog();
                let _ = self.shared.prompt_changes.send(PromptsChanged { server });
            }
        }
    }

    fn rebuild_catalog(&mut self) {
        let table = self
            .names
            .book(GatewayKind::Tool)
            .table(self.pairs(GatewayKind::Tool));
        let mut tools = BTreeMap::new();
        for (name, server, tool) in table.iter() {
            let Some(def) = self
                .tools
                .get(server)
                .and_then(|ts| ts.iter().find(|t| t.name == tool))
            else {
                continue;
            };
            let mut definition = def.clone();
            definition.name = name.to_owned().into();
            let idempotent = def
                .annotations
                .as_ref()
                .and_then(|a| a.idempotent_hint)
                .unwrap_or(false);
            tools.insert(
                name.to_owned(),
                GatewayTool {
                    name: name.to_owned(),
                    server: server.to_owned(),
                    tool: tool.to_owned(),
                    idempotent,
                    definition,
                },
            );
        }
        self.shared.set_catalog(Catalog { table, tools });
    }

    fn rebuild_prompt_catalog(&mut self) {
        let table = self
            .names
            .book(GatewayKind::Prompt)
            .table(self.pairs(GatewayKind::Prompt));
        let mut prompts = BTreeMap::new();
        for (name, server, prompt) in table.iter() {
            let Some(def) = self
                .prompts
                .get(server)
                .and_then(|ps| ps.iter().find(|p| p.name == prompt))
            else {
                continue;
            };
            let mut definition = def.clone();
            name.clone_into(&mut definition.name);
            prompts.insert(
                name.to_owned(),
                GatewayPrompt {
                    name: name.to_owned(),
                    server: server.to_owned(),
                    prompt: prompt.to_owned(),
                    definition,
                },
            );
        }
        self.shared
            .set_prompt_catalog(PromptCatalog { table, prompts });
    }
}

impl Actor for McpPool {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::info!(
            servers = self.servers.len(),
            invalid = self.shared.issues.len(),
            gateway_names = self.names.book(GatewayKind::Tool).len()
                + self.names.book(GatewayKind::Prompt).len(),
            "MCP server pool started"
        );
        let remove = std::mem::take(&mut self.forget);
        if let (Some(ledger), false) = (self.names.ledger(), remove.is_empty()) {
            let count = remove.len();
            let change = NameChange {
                put: Vec::new(),
                remove,
            };
            // before any list is named: a forgotten name may go to a newcomer
            ctx.wait(ledger.save(change).into_actor(self).map(move |saved, _, _| match saved {
                Ok(()) => tracing::info!(names = count, "forgot the gateway names of servers no longer in the server file"),
                Err(e) => tracing::error!(names = count, error = %e, "could not forget the gateway names of servers no longer in the server file"),
            }));
        }
    }
}

impl Handler<ToolsRefreshed> for McpPool {
    type Result = ();

    fn handle(&mut self, msg: ToolsRefreshed, ctx: &mut Context<Self>) {
        if self.tools.get(&msg.server) == Some(&msg.tools) {
            return;
        }
        self.tools.insert(msg.server.clone(), msg.tools);
        self.name_and_publish(ctx, GatewayKind::Tool, msg.server);
    }
}

impl Handler<PromptsRefreshed> for McpPool {
    type Result = ();

    fn handle(&mut self, msg: PromptsRefreshed, ctx: &mut Context<Self>) {
        if self.prompts.get(&msg.server) == Some(&msg.prompts) {
            return;
        }
        self.prompts.insert(msg.server.clone(), msg.prompts);
        self.name_and_publish(ctx, GatewayKind::Prompt, msg.server);
    }
}

/// Status of every configured server, invalid entries included, in name order.
#[derive(Debug, Message)]
#[rtype(result = "Vec<ServerStatus>")]
pub(crate) struct GetPoolStatus;

impl Handler<GetPoolStatus> for McpPool {
    type Result = ResponseFuture<Vec<ServerStatus>>;

    fn handle(&mut self, _: GetPoolStatus, _: &mut Context<Self>) -> Self::Result {
        let idle = CircuitBreaker::new(Default::default()).view();
        let mut fixed: Vec<ServerStatus> = self
            .shared
            .issues
            .iter()
            .map(|i| ServerStatus {
                last_error: Some(i.error.to_string()),
                ..ServerStatus::idle(&i.name, None, ServerState::Invalid, idle.clone())
            })
            .collect();
        let mut live = Vec::new();
        for (name, entry) in &self.servers {
            match entry {
                Entry::Running(addr) => live.push(addr.send(GetServerStatus)),
                Entry::Disabled(kind) => fixed.push(ServerStatus::idle(
                    name,
                    Some(*kind),
                    ServerState::Disabled,
                    idle.clone(),
                )),
            }
        }
        Box::pin(async move {
            let mut all = fixed;
            all.extend(join_all(live).await.into_iter().flatten());
            all.sort_by(|a, b| a.name.cmp(&b.name));
            all
        })
    }
}

fn route(pool: &McpPool, name: &str) -> Result<Addr<McpServer>, PoolError> {
    match pool.servers.get(name) {
        Some(Entry::Running(addr)) => Ok(addr.clone()),
        Some(Entry::Disabled(_)) => Err(PoolError::Disabled {
            server: name.to_owned(),
        }),
        None => Err(PoolError::UnknownServer {
            server: name.to_owned(),
        }),
    }
}

/// Restart one server: terminate its connection and process group, reset
/// its restart backoff, start it again.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), PoolError>")]
pub(crate) struct RestartServer {
    /// Server.
    pub(crate) name: String,
}

impl Handler<RestartServer> for McpPool {
    type Result = ResponseFuture<Result<(), PoolError>>;

    fn handle(&mut self, msg: RestartServer, _: &mut Context<Self>) -> Self::Result {
        let addr = route(self, &msg.name);
        Box::pin(async move { addr?.send(Restart).await? })
    }
}

/// Close one server's breaker and clear its counts.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), PoolError>")]
pub(crate) struct ResetServer {
    /// Server.
    pub(crate) name: String,
}

impl Handler<ResetServer> for McpPool {
    type Result = ResponseFuture<Result<(), PoolError>>;

    fn handle(&mut self, msg: ResetServer, _: &mut Context<Self>) -> Self::Result {
        let addr = route(self, &msg.name);
        Box::pin(async move { Ok(addr?.send(ResetBreaker).await?) })
    }
}

/// Stop every server (each terminates its process group, awaited), then the pool.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct ShutdownPool;

impl Handler<ShutdownPool> for McpPool {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: ShutdownPool, _: &mut Context<Self>) -> Self::Result {
        let stops: Vec<_> = self
            .servers
            .values()
            .filter_map(|e| match e {
                Entry::Running(addr) => Some(addr.send(StopServer)),
                Entry::Disabled(_) => None,
            })
            .collect();
        tracing::info!(servers = stops.len(), "stopping MCP server pool");
        Box::pin(
            async move {
                join_all(stops).await;
            }
            .into_actor(self)
            .map(|(), _, ctx| {
                tracing::info!("MCP server pool stopped");
                ctx.stop();
            }),
        )
    }
}
