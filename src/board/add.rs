//! Adding tasks: one, or an atomic batch whose dependencies may point inside
//! it; executor tasks only for admins, naming a configured server and one of
//! its `executable_tools`.

use super::Board;
use crate::actors::registry::AddTasks;
use crate::error::Error;
use crate::model::{Role, Task, TaskSpec};
use crate::pool::PoolHandle;

impl Board {
    /// Add one task.
    pub async fn add_task(&self, spec: TaskSpec) -> Result<Task, Error> {
        let mut tasks = self.add_tasks(vec![spec]).await?;
        tasks.pop().ok_or(Error::Unavailable("the task registry"))
    }

    /// Add tasks as one atomic batch (dependencies may point inside the batch).
    pub async fn add_tasks(&self, specs: Vec<TaskSpec>) -> Result<Vec<Task>, Error> {
        self.check_executors(&specs)?;
        self.writable()?;
        let r = self
            .registry
            .send(AddTasks {
                specs,
                actor: self.actor.clone(),
            })
            .await??;
        self.durable(r).await
    }

    /// Only admins create executor tasks; an executor must name a configured
    /// downstream server and one of its `executable_tools`.
    fn check_executors(&self, specs: &[TaskSpec]) -> Result<(), Error> {
        if specs.iter().any(|s| s.executor.is_some()) && self.actor.role < Role::Admin {
            return Err(Error::Forbidden {
                required: Role::Admin,
                action: "create tasks with an executor (baton would call a downstream tool)",
            });
        }
        for (i, spec) in specs.iter().enumerate() {
            let Some(e) = &spec.executor else { continue };
            let prefix = if specs.len() == 1 {
                "executor".to_owned()
            } else {
                format!("tasks[{i}].executor")
            };
            let field = format!("{prefix}.server");
            let servers = self
                .pool
                .as_ref()
                .map(PoolHandle::servers)
                .unwrap_or_default();
            if !servers.contains(&e.server) {
                let known = if servers.is_empty() {
                    "no downstream MCP servers are configured (--mcp-servers)".to_owned()
                } else {
                    format!("configured: {}", servers.join(", "))
                };
                return Err(Error::invalid(
                    field,
                    format!("no downstream MCP server named '{}'; {known}", e.server),
                ));
            }
            let allowed = self
                .pool
                .as_ref()
                .map(|p| p.executable_tools(&e.server))
                .unwrap_or_default();
            if !allowed.contains(&e.tool) {
                let listed = if allowed.is_empty() {
                    "none are allowed".to_owned()
                } else {
                    format!("allowed: {}", allowed.join(", "))
                };
                return Err(Error::invalid(
                    format!("{prefix}.tool"),
                    format!(
                        "tool '{}' of server '{}' is not in [pool.servers.{}] executable_tools ({listed})",
                        e.tool, e.server, e.server
                    ),
                ));
            }
        }
        Ok(())
    }
}
