//! Tools: the two entry points every `tools/list` and `tools/call` goes
//! through ([`BatonMcp::visible_tools`], [`BatonMcp::dispatch_tool`] — the
//! place that decides which tools a connection sees and may call), and
//! baton's own tools, each a thin wrapper over one [`Board`] method.
//!
//! A call is routed, in order, to: the conformance fixtures (test build
//! only), a downstream server's tool through the gateway
//! ([`super::gateway`]), a durable task handle for clients of the MCP tasks
//! extension ([`super::handles`]), or the `#[tool_router]` below — baton's
//! own tools after their arguments are checked against the tool's schema
//! (`super::arguments`). Argument and result types are in [`super::dto`];
//! refusals become tool errors in [`super::errors`].

// rmcp's tool-error type is `CallToolResult` itself; returning it by value is the API.
#![allow(clippy::result_large_err)]

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ProgressNotificationParam,
    RequestMetaObject, Tool,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::{tool, tool_router, ErrorData as McpError, RoleServer};

use super::access::{caller_of, tool_role};
use super::budget::{Fit, PAGE_SIZE};
use super::dto::*;
use super::errors::{gateway_error, tool_error};
use super::handles::TASK_TOOLS;
use super::BatonMcp;
use crate::board::{Claim, TaskFilter, TaskPage};
use crate::config::ToolProfile;
use crate::core::table::{LeaseRef, TaskError};
use crate::error::Error;
use crate::model::{Task, TaskSpec, TaskStatus};
use crate::pool::PoolError;

impl BatonMcp {
    /// `tools/list`: the tools this connection sees — baton's own tools in
    /// its profile (`?profile=`), plus (full profile) every downstream
    /// server's tools as `<server>__<tool>`. Starts the session's
    /// list-changed forwarder.
    pub(super) fn visible_tools(&self, context: &RequestContext<RoleServer>) -> Vec<Tool> {
        let profile = self.profile_of(context);
        let role = caller_of(context).actor.role;
        let mut tools: Vec<_> = self
            .tool_router
            .list_all()
            .into_iter()
            .filter(|t| profile.allows(&t.name) && tool_role(&t.name) <= role)
            .collect();
        // the tools below come from elsewhere: the schema policy is applied here
        #[allow(unused_mut)]
        let mut other: Vec<Tool> = Vec::new();
        #[cfg(feature = "conformance-fixtures")]
        other.extend(super::fixtures::tools());
        let gateway_role = tool_role("<server>__<tool>");
        if let (Some(pool), ToolProfile::Full, true) =
            (self.board.pool(), profile, gateway_role <= role)
        {
            other.extend(pool.tools().into_iter().map(|t| t.definition));
            self.start_list_forwarding(context.peer.clone());
        }
        other.iter_mut().for_each(super::schema::apply);
        tools.extend(other);
        tools
    }

    /// `tools/call`: refuse a tool outside the connection's profile, route
    /// the call (see the module doc), and hold every result to the size
    /// budget ([`super::budget`]).
    pub(super) async fn dispatch_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.clone();
        let response = self.route_tool(request, context).await?;
        Ok(self.within_budget(&name, response))
    }

    /// A result still over `[mcp] max_result_bytes` after baton's own tools
    /// fitted theirs (a downstream tool's, through the gateway) becomes a
    /// tool error naming its size and the budget.
    fn within_budget(&self, name: &str, response: CallToolResponse) -> CallToolResponse {
        let max = self.board.settings().mcp.max_result_bytes;
        let CallToolResponse::Complete(result) = &response else {
            return response;
        };
        let bytes = super::budget::size(result);
        if bytes <= max {
            return response;
        }
        tracing::warn!(tool = name, bytes, max, "tool result over the size budget");
        tool_error(&Error::Task(TaskError::TooLarge {
            field: "result".into(),
            message: format!(
                "the result of {name} is {bytes} bytes, over this server's max_result_bytes \
                 ({max}); ask for less (a smaller limit, a narrower query)"
            ),
        }))
        .into()
    }

    /// Route one call (see the module doc).
    async fn route_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        #[cfg(feature = "conformance-fixtures")]
        if let Some(r) = super::fixtures::call(&request, &context).await {
            return r.map(Into::into);
        }
        // the caller's role first, then everything else as that caller
        // (audit log actor, lease owner)
        let caller = caller_of(&context);
        let required = tool_role(&request.name);
        if caller.actor.role < required {
            return Ok(tool_error(&Error::Forbidden {
                required,
                action: "call this tool",
            })
            .into());
        }
        let this = self.acting_as(caller.actor);
        let this = &this;
        let profile = this.profile_of(&context);
        if !profile.allows(&request.name) {
            return Err(McpError::invalid_params(
                format!(
                    "tool '{}' is not in the '{}' profile of this connection; connect to /mcp?profile=full",
                    request.name,
                    profile.as_str()
                ),
                None,
            ));
        }
        // an argument the tool does not declare is refused, not dropped
        if let Some(tool) = this.tool_router.get(&request.name) {
            if let Err(e) = super::arguments::check(
                &request.name,
                &tool.input_schema,
                request.arguments.as_ref(),
            ) {
                return Ok(tool_error(&e).into());
            }
        }
        if !this.tool_router.has_route(&request.name) && this.is_gateway_tool(&request.name) {
            return this.call_gateway_tool(request, &context).await;
        }
        let tasks_client = context
            .client_capabilities()
            .is_some_and(|caps| caps.supports_tasks());
        if tasks_client && TASK_TOOLS.contains(&request.name.as_ref()) {
            return this.open_task_handle(request).await;
        }
        let tcc = rmcp::handler::server::tool::ToolCallContext::new(this, request, context);
        this.tool_router.call(tcc).await
    }
}

// ---- helpers of the tools below --------------------------------------------

impl BatonMcp {
    /// A board result as a tool result: the value, made to fit the result
    /// budget ([`Fit`]), as structured content — or a tool error.
    pub(super) fn done<T: Fit>(&self, r: Result<T, Error>) -> Result<Json<T>, CallToolResult> {
        let max = self.board.settings().mcp.max_result_bytes;
        r.map(|mut v| {
            v.fit(max);
            Json(v)
        })
        .map_err(|e| tool_error(&e))
    }

    /// A listing tool's page size: `limit`, default [`PAGE_SIZE`], at most
    /// `[api] max_page_size`.
    fn page_limit(&self, limit: Option<usize>) -> Result<usize, CallToolResult> {
        let max = self.board.settings().api.max_page_size;
        match limit {
            None => Ok(PAGE_SIZE.min(max)),
            Some(n) if (1..=max).contains(&n) => Ok(n),
            Some(_) => Err(tool_error(&Error::invalid(
                "limit",
                format!("must be between 1 and {max}"),
            ))),
        }
    }
}

/// The first `limit` items of `rest`, and the cursor after the last of them
/// when more follow.
fn page<T>(
    rest: impl Iterator<Item = T>,
    limit: usize,
    cursor_of: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let mut items: Vec<T> = rest.take(limit.saturating_add(1)).collect();
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more {
        items.last().map(&cursor_of)
    } else {
        None
    };
    (items, next)
}

/// A cursor this tool did not make.
fn bad_cursor(c: &str) -> CallToolResult {
    tool_error(&Error::invalid(
        "cursor",
        format!("'{c}' is not a cursor of this listing; pass next_cursor from the previous page, or omit it"),
    ))
}

// ---- baton's own tools -------------------------------------------------------

#[tool_router(vis = "pub(super)")]
impl BatonMcp {
    /// Add one task. Dependencies must exist; a cycle is refused.
    #[tool(annotations(
        title = "Add task",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn add_task(
        &self,
        Parameters(spec): Parameters<TaskSpec>,
    ) -> Result<Json<Task>, CallToolResult> {
        self.done(self.board.add_task(spec).await)
    }

    /// Add several tasks as one atomic batch; dependencies may point inside the batch.
    #[tool(annotations(
        title = "Add tasks",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn add_tasks(
        &self,
        Parameters(a): Parameters<AddTasksArgs>,
    ) -> Result<Json<TasksOut>, CallToolResult> {
        self.done(
            self.board
                .add_tasks(a.tasks)
                .await
                .map(|tasks| TasksOut { tasks, more: None }),
        )
    }

    /// Get one task with its dependents.
    #[tool(annotations(
        title = "Get task",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn get_task(
        &self,
        Parameters(a): Parameters<TaskRef>,
    ) -> Result<Json<TaskOut>, CallToolResult> {
        let (task, deps) = match self.board.task_detail(&a.task_id).await {
            Ok(d) => d,
            Err(e) => return Err(tool_error(&e)),
        };
        // only a ready task with paths or a key can be held back: ask the registry then only
        let waits = if task.status == TaskStatus::Ready
            && (!task.paths.is_empty() || task.concurrency_key.is_some())
        {
            self.board.why_waiting(&a.task_id).await
        } else {
            Ok(None)
        };
        self.done(waits.map(|waits| TaskOut {
            task,
            dependents: deps.into_iter().map(|d| d.to_string()).collect(),
            waits,
            more: None,
        }))
    }

    /// List tasks by status, tag or worker, a page at a time (follow `next_cursor`).
    #[tool(annotations(
        title = "List tasks",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn list_tasks(
        &self,
        Parameters(a): Parameters<ListArgs>,
    ) -> Result<Json<TaskPage>, CallToolResult> {
        let status = match a.status.as_deref() {
            None | Some("") => None,
            Some(s) => match TaskStatus::parse(s) {
                Some(st) => Some(st),
                None => {
                    return Err(tool_error(&Error::invalid(
                        "status",
                        format!("unknown status '{s}'; one of blocked, ready, running, done, failed, cancelled"),
                    )))
                }
            },
        };
        self.done(
            self.board
                .list_tasks(TaskFilter {
                    status,
                    tag: a.tag,
                    worker: a.worker,
                    cursor: a.cursor,
                    limit: Some(a.limit.unwrap_or(PAGE_SIZE)),
                })
                .await,
        )
    }

    /// Tasks ready to be claimed now, best first (priority, then age), a page at a time.
    #[tool(annotations(
        title = "Available tasks",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn get_available_tasks(
        &self,
        Parameters(a): Parameters<PageArgs>,
    ) -> Result<Json<AvailableOut>, CallToolResult> {
        let limit = self.page_limit(a.limit)?;
        let after = match a.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(AvailableOut::parse_cursor(c).ok_or_else(|| bad_cursor(c))?),
        };
        let tasks = match self.board.available_tasks().await {
            Ok(t) => t,
            Err(e) => return Err(tool_error(&e)),
        };
        let rest = tasks
            .into_iter()
            .filter(|t| after.is_none_or(|c| AvailableOut::is_after(t, c)));
        let (tasks, next_cursor) = page(rest, limit, AvailableOut::cursor_of);
        self.done(Ok(AvailableOut { tasks, next_cursor }))
    }

    /// Claim the best ready task (optionally only tasks with all `tags`) together with a worker
    /// slot. Returns the task and a lease: heartbeat it while working, then complete or fail it.
    #[tool(annotations(
        title = "Claim next task",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn claim_next_task(
        &self,
        Parameters(a): Parameters<ClaimNextArgs>,
    ) -> Result<Json<ClaimOut>, CallToolResult> {
        self.done(
            self.board
                .claim_next_keyed(&a.worker, a.tags, None, a.request_id.as_deref())
                .await
                .map(|c| ClaimOut {
                    claimed: c.is_some(),
                    claim: c,
                }),
        )
    }

    /// Claim a specific ready task (claiming one you already hold returns your lease).
    #[tool(annotations(
        title = "Claim task",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn claim_task(
        &self,
        Parameters(a): Parameters<ClaimArgs>,
    ) -> Result<Json<Claim>, CallToolResult> {
        self.done(self.board.claim_task(&a.task_id, &a.worker, a.slot).await)
    }

    /// Extend your lease on a running task (call well before `lease.expires_at`).
    #[tool(annotations(
        title = "Heartbeat",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn heartbeat(
        &self,
        Parameters(a): Parameters<LeaseArgs>,
    ) -> Result<Json<Task>, CallToolResult> {
        self.done(
            self.board
                .heartbeat(&a.task_id, LeaseRef::Id(a.lease_id))
                .await,
        )
    }

    /// Complete a running task under your lease, with its output. Dependents may become ready.
    #[tool(annotations(
        title = "Complete task",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn complete_task(
        &self,
        Parameters(a): Parameters<CompleteArgs>,
    ) -> Result<Json<Task>, CallToolResult> {
        self.done(
            self.board
                .complete(&a.task_id, LeaseRef::Id(a.lease_id), a.output)
                .await,
        )
    }

    /// Fail the attempt under your lease; retried while attempts remain unless `retry` is
    /// false. Failing for good fails its pending dependents.
    #[tool(annotations(
        title = "Fail task",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = false
    ))]
    async fn fail_task(
        &self,
        Parameters(a): Parameters<FailArgs>,
    ) -> Result<Json<Task>, CallToolResult> {
        self.done(
            self.board
                .fail(
                    &a.task_id,
                    LeaseRef::Id(a.lease_id),
                    a.error,
                    a.retry.unwrap_or(true),
                )
                .await,
        )
    }

    /// Give a task back without counting the attempt (it becomes ready for others).
    #[tool(annotations(
        title = "Release task",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn release_task(
        &self,
        Parameters(a): Parameters<LeaseArgs>,
    ) -> Result<Json<Task>, CallToolResult> {
        self.done(
            self.board
                .release(&a.task_id, LeaseRef::Id(a.lease_id))
                .await,
        )
    }

    /// Cancel a task that has not finished; its pending dependents are cancelled too.
    #[tool(annotations(
        title = "Cancel task",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = false
    ))]
    async fn cancel_task(
        &self,
        Parameters(a): Parameters<CancelArgs>,
    ) -> Result<Json<Task>, CallToolResult> {
        self.done(self.board.cancel(&a.task_id, a.reason).await)
    }

    /// Reset a failed task and the dependents that failed with it.
    #[tool(annotations(
        title = "Reset failed task",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn reset_failed_task(
        &self,
        Parameters(a): Parameters<TaskRef>,
    ) -> Result<Json<ResetOut>, CallToolResult> {
        self.done(
            self.board
                .reset(&a.task_id)
                .await
                .map(|reset| ResetOut { reset, more: None }),
        )
    }

    /// A task's status and, once finished, its output or error.
    #[tool(annotations(
        title = "Task result",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn get_task_result(
        &self,
        Parameters(a): Parameters<TaskRef>,
    ) -> Result<Json<ResultOut>, CallToolResult> {
        self.done(self.board.get_task(&a.task_id).await.map(ResultOut::from))
    }

    /// Wait until a task finishes or the timeout passes (progress notified on each change).
    /// Clients of the MCP tasks extension get a task handle instead.
    #[tool(annotations(
        title = "Wait for task",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn wait_for_task(
        &self,
        Parameters(a): Parameters<WaitArgs>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
    ) -> Result<Json<ResultOut>, CallToolResult> {
        let timeout = a.timeout();
        let token = meta.get_progress_token();
        let mut rx = self.board.store().subscribe();
        let mut task = match self.board.get_task(&a.task_id).await {
            Ok(t) => t,
            Err(e) => return Err(tool_error(&e)),
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut step = 0u32;
        if let (Some(tok), false) = (&token, task.status.is_terminal()) {
            // first notification: the wait has begun (subscribed before this read)
            let msg = format!("{} is {}", task.id, task.status);
            let _ = peer
                .notify_progress(ProgressNotificationParam::new(tok.clone(), 0.0).with_message(msg))
                .await;
        }
        while !task.status.is_terminal() {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Ok(p) if p.event.task_id.as_ref() == Some(&task.id) => {
                        if let Ok(t) = self.board.get_task(&a.task_id).await {
                            task = t;
                        }
                        step += 1;
                        if let Some(tok) = &token {
                            let msg = format!("{} is {}", task.id, task.status);
                            let _ = peer
                                .notify_progress(ProgressNotificationParam::new(tok.clone(), f64::from(step)).with_message(msg))
                                .await;
                        }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        if let Ok(t) = self.board.get_task(&a.task_id).await {
                            task = t;
                        }
                    }
                    Err(_) => break,
                },
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        Ok(Json(ResultOut::from(task)))
    }

    /// Hold a worker slot explicitly (then claim tasks into it with `claim_task` + `slot`).
    #[tool(annotations(
        title = "Claim worker slot",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn claim_worker_slot(
        &self,
        Parameters(a): Parameters<WorkerArgs>,
    ) -> Result<Json<SlotOut>, CallToolResult> {
        self.done(
            self.board
                .claim_slot_keyed(&a.worker, a.request_id.as_deref())
                .await
                .map(|slot| SlotOut { slot }),
        )
    }

    /// Release a worker slot you hold.
    #[tool(annotations(
        title = "Release worker slot",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false
    ))]
    async fn release_worker_slot(
        &self,
        Parameters(a): Parameters<ReleaseSlotArgs>,
    ) -> Result<Json<SlotOut>, CallToolResult> {
        self.done(
            self.board
                .release_slot(a.slot, Some(&a.worker))
                .await
                .map(|()| SlotOut { slot: a.slot }),
        )
    }

    /// Worker slots with their holder and running task, a page at a time.
    #[tool(annotations(
        title = "Workers",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn get_workers(
        &self,
        Parameters(a): Parameters<PageArgs>,
    ) -> Result<Json<WorkersOut>, CallToolResult> {
        let limit = self.page_limit(a.limit)?;
        let after = match a.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(c.parse::<u32>().map_err(|_| bad_cursor(c))?),
        };
        let slots = match self.board.slots().await {
            Ok(s) => s,
            Err(e) => return Err(tool_error(&e)),
        };
        let rest = slots
            .into_iter()
            .filter(|s| after.is_none_or(|n| s.slot > n));
        let (slots, next_cursor) = page(rest, limit, |s| s.slot.to_string());
        self.done(Ok(WorkersOut { slots, next_cursor }))
    }

    /// Downstream MCP servers (their tools appear as `<server>__<tool>`): state, breaker, last
    /// error, latency; a page at a time.
    #[tool(annotations(
        title = "List downstream servers",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn list_servers(
        &self,
        Parameters(a): Parameters<PageArgs>,
    ) -> Result<Json<ServersOut>, CallToolResult> {
        let limit = self.page_limit(a.limit)?;
        let mut servers = match self.board.pool() {
            Some(pool) => pool.status().await,
            None => Vec::new(),
        };
        servers.sort_by(|a, b| a.name.cmp(&b.name));
        let after = a.cursor.filter(|c| !c.is_empty());
        let rest = servers
            .into_iter()
            .filter(|s| after.as_ref().is_none_or(|c| s.name > *c));
        let (servers, next_cursor) = page(rest, limit, |s| s.name.clone());
        self.done(Ok(ServersOut {
            servers: servers
                .iter()
                .map(|s| serde_json::to_value(s).unwrap_or_default())
                .collect(),
            next_cursor,
        }))
    }

    /// One downstream MCP server's status, with the gateway names of its tools.
    #[tool(annotations(
        title = "Downstream server status",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn server_status(
        &self,
        Parameters(a): Parameters<ServerRef>,
    ) -> Result<Json<ServerOut>, CallToolResult> {
        let unknown = PoolError::UnknownServer {
            server: a.server.clone(),
        };
        let pool = self.board.pool().ok_or_else(|| gateway_error(&unknown))?;
        let status = pool
            .server_status(&a.server)
            .await
            .map_err(|e| gateway_error(&e))?;
        let tools = pool
            .server_tools(&a.server)
            .into_iter()
            .map(|t| t.name)
            .collect();
        self.done(Ok(ServerOut {
            server: serde_json::to_value(status).unwrap_or_default(),
            tools,
            more: None,
        }))
    }

    /// Read one key of a task's context.
    #[tool(annotations(
        title = "Context get",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn context_get(
        &self,
        Parameters(a): Parameters<ContextGetArgs>,
    ) -> Result<Json<ContextValue>, CallToolResult> {
        self.done(
            self.board
                .context_get(&a.task_id, &a.key)
                .await
                .map(|value| ContextValue {
                    task_id: a.task_id,
                    key: a.key,
                    value,
                }),
        )
    }

    /// Write one key of a running task's context, under your lease (notes, progress, partial results).
    #[tool(annotations(
        title = "Context set",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn context_set(
        &self,
        Parameters(a): Parameters<ContextSetArgs>,
    ) -> Result<Json<ContextValue>, CallToolResult> {
        let value = a.value.clone();
        self.done(
            self.board
                .context_put(&a.task_id, a.lease_id, &a.key, a.value)
                .await
                .map(|()| ContextValue {
                    task_id: a.task_id,
                    key: a.key,
                    value: Some(value),
                }),
        )
    }

    /// Read a task's context, a page of keys at a time.
    #[tool(annotations(
        title = "Context list",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true
    ))]
    async fn context_list(
        &self,
        Parameters(a): Parameters<ContextListArgs>,
    ) -> Result<Json<ContextOut>, CallToolResult> {
        let limit = self.page_limit(a.limit)?;
        let context = match self.board.context_list(&a.task_id).await {
            Ok(c) => c,
            Err(e) => return Err(tool_error(&e)),
        };
        let after = a.cursor.filter(|c| !c.is_empty());
        let mut entries: Vec<(String, serde_json::Value)> = context
            .into_iter()
            .filter(|(k, _)| after.as_ref().is_none_or(|c| k > c))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let (entries, next_cursor) = page(entries.into_iter(), limit, |(k, _)| k.clone());
        self.done(Ok(ContextOut {
            task_id: a.task_id,
            context: entries.into_iter().collect(),
            next_cursor,
        }))
    }
}
