//! # baton
//!
//! An actor-based orchestration runtime: one durable task board that many AI
//! agents (MCP clients, scripts, Claude Code instances) share. Tasks have
//! dependencies; workers claim them atomically under fenced leases, within a
//! bounded number of worker slots; every acknowledged write survives `kill -9`.
//!
//! ## Layout
//!
//! Ground floor first: a module imports only modules on a lower floor (the
//! rows above its own), never one on its own floor or higher; the crate root
//! re-exports from all of them. `tests/layering.rs` (run by `make lint`)
//! holds every `crate::…` and `super::…` path against these floors.
//!
//! | floor | module | job |
//! |---|---|---|
//! | 0 | [`error_code`] | the leaf every error names its code with: `ErrorCode` (the wire's `code`) and the `ServiceError` trait; imports nothing of baton's |
//! | 0 | [`model`] | pure domain types: task ids, tasks, statuses, leases, slots, events, tokens, remembered requests |
//! | 1 | [`clock`] | the one injected time source: the system clock, or a manual one tests step |
//! | 1 | [`config`] | layered settings: defaults < TOML < `BATON_*`, validated; the downstream server file |
//! | 2 | [`core`] | pure cores of the actors: DAG, slot table, task table/lease machine, breaker, gateway names, validation (no I/O, time passed in) |
//! | 3 | [`store`] | persistence: key layout, versioned values, group commit, reads, backups; engines (memory, redb, PostgreSQL with its leader fence) under the facade |
//! | 3 | [`pool`] | downstream MCP servers: supervised clients, breakers, restarts, gateway tool names |
//! | 4 | [`auth`] | the guard in front of every route: Host/Origin, JSON bodies, tokens, JWT, roles, rate limits |
//! | 5 | [`error`] | the aggregate [`Error`] over the subsystems' errors, each saying its own code |
//! | 6 | [`actors`] | one actor per file, each the single writer of its state: registry, resolver, slot allocator, task contexts, metrics |
//! | 7 | [`board`] | the typed in-process API every edge uses |
//! | 8 | [`api`] | REST admin API, agent-coordinate-mcp routes, SSE, OpenAPI; every route in one table |
//! | 8 | [`mcp`] | the MCP edge: `/mcp` streamable HTTP and stdio, one tool per board operation, the gateway |
//! | 8 | [`dispatcher`] | the actor that runs executor tasks: claims them from the board, calls their downstream tool |
//! | 2 | [`descriptors`] | open file descriptors against `RLIMIT_NOFILE`: the connection cap, `/readyz` |
//! | 9 | [`runtime`] | start, mount, shut down: opens the store, starts the actors, mounts the edges |
//! | 10 | [`serve`] | a whole node as a library function: `serve::run(settings, listener, stop)`, lead or follow, TLS, the follower's proxy |
//!
//! The binary (`src/main.rs`, `src/cli/`) stands above them all: it parses
//! arguments and calls [`serve::run`] or a subcommand.
//!
//! ## Embedding
//!
//! ```no_run
//! use actix_web::App;
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = baton::Runtime::start(baton::Settings::default()).await?;
//! let mount = runtime.configure();
//! // HttpServer::new with TCP_NODELAY (required for /mcp), [server] workers and the
//! // connection cap derived from RLIMIT_NOFILE: see Runtime::http_server
//! runtime
//!     .http_server(move || App::new().configure(mount.clone()))
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await?;
//! runtime.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! When the server begins a graceful stop, call [`Runtime::close_streams`]
//! first (SSE streams and MCP sessions would otherwise hold it open until its
//! timeout), e.g. from your signal handler:
//!
//! ```no_run
//! # async fn run(runtime: baton::Runtime, handle: actix_web::dev::ServerHandle) {
//! runtime.close_streams();
//! handle.stop(true).await;
//! # }
//! ```
//!
//! To run a whole node instead (what `baton serve` runs: TLS, and on
//! PostgreSQL following and leading in turn) on a socket you bound, until
//! a future of yours completes: [`serve::run`]`(settings, listener, stop)`.
//!
//! In-process callers use [`Runtime::board`]: `board.add_task(spec)`,
//! `board.claim_next("worker", vec![], None)`, `board.complete(...)`.

pub mod actors;
pub mod api;
pub mod auth;
pub mod board;
pub mod clock;
pub mod config;
pub mod core;
pub mod descriptors;
pub mod dispatcher;
pub mod error;
pub mod error_code;
pub mod mcp;
pub mod model;
pub mod pool;
pub mod runtime;
pub mod serve;
pub mod store;

pub use board::{Board, Claim, TaskFilter, TaskPage};
pub use clock::Clock;
pub use config::Settings;
pub use error::{Error, Result};
pub use runtime::Runtime;
