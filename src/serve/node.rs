//! A node's life once its settings are checked: lead (serve a [`Runtime`])
//! until stopped, or — on PostgreSQL — follow (answer `/healthz` and
//! `/readyz`, proxy the rest) until elected, lead until stopped or deposed,
//! then follow again.
//!
//! One bound socket is kept for the node's whole life: each HTTP server
//! (the follower's, then the leader's, ...) listens on a copy of it, so
//! connections wait in its backlog while one hands over to the other.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpResponse};
use tokio::sync::watch;

use super::proxy::Follower;
use super::{Listening, ServeError, Stop};
use crate::api::deadline::BodyDeadline;
use crate::config::{Settings, StorageBackend};
use crate::descriptors::{ConnectionCap, Role};
use crate::runtime::Runtime;
use crate::store::leader::Observer;

/// How a leader's time ended.
enum Ended {
    /// A stop was asked for: the node ends.
    Stopped,
    /// Another node took the database over (or the store failed): follow.
    SteppedDown,
}

/// The callback told each address once, when the first HTTP server listens.
pub(super) type Announce = Box<dyn FnMut(&Listening)>;

/// One running node: its checked settings, its bound socket, TLS, the stop
/// it waits for and whom to tell that it listens.
pub(super) struct Running {
    pub(super) settings: Settings,
    pub(super) listener: std::net::TcpListener,
    pub(super) tls: Option<rustls::ServerConfig>,
    /// `None` until a stop is asked for; then how.
    pub(super) stop: watch::Receiver<Option<Stop>>,
    /// Taken (called, then dropped) when the first server listens.
    pub(super) announce: Option<Announce>,
}

impl Running {
    /// Lead until stopped (embedded engines), or follow and lead in turn
    /// (PostgreSQL) until stopped.
    pub(super) async fn run(mut self) -> Result<(), ServeError> {
        if self.settings.storage.backend != StorageBackend::Postgres {
            let runtime = Runtime::start(self.settings.clone())
                .await
                .map_err(|source| ServeError::Start {
                    data_dir: self.settings.storage.data_dir.clone(),
                    source: Box::new(source),
                })?;
            self.lead(runtime, false).await?;
            return Ok(());
        }
        // several nodes on one database: follow until elected, lead until
        // stopped or deposed, then follow again
        let follower =
            Follower::new(&self.settings).map_err(|e| ServeError::Follower(Box::new(e)))?;
        let mut observer = Observer::new(&self.settings.storage.url)?;
        loop {
            let Some(runtime) = self.follow(&follower, &mut observer).await? else {
                return Ok(());
            };
            match self.lead(runtime, true).await? {
                Ended::Stopped => return Ok(()),
                Ended::SteppedDown => {
                    tracing::warn!("stepped down: following the new leader");
                }
            }
        }
    }

    /// How the stop asked for goes (graceful unless forced).
    fn graceful(&self) -> bool {
        !matches!(*self.stop.borrow(), Some(Stop::Forced))
    }

    /// Start an HTTP server for `factory` on (a copy of) the socket, with
    /// `cap`'s workers and connection cap.
    fn server<F, I, S, B>(
        &mut self,
        factory: F,
        cap: &ConnectionCap,
        shutdown_secs: u64,
    ) -> Result<actix_web::dev::Server, ServeError>
    where
        F: Fn() -> I + Send + Clone + 'static,
        I: actix_service::IntoServiceFactory<S, actix_http::Request>,
        S: actix_web::dev::ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig>
            + 'static,
        S::Error: Into<actix_web::Error> + 'static,
        S::InitError: std::fmt::Debug,
        S::Response: Into<actix_web::dev::Response<B>> + 'static,
        <S::Service as actix_web::dev::Service<actix_http::Request>>::Future: 'static,
        S::Service: 'static,
        B: actix_web::body::MessageBody + 'static,
    {
        // socket options (TCP_NODELAY), workers and the connection cap are set in this one place
        let server = crate::runtime::capped_http_server(factory, cap)
            .shutdown_timeout(shutdown_secs)
            // stops come from the stop future: the streams end first, then the server stops
            .disable_signals();
        let listener = self
            .listener
            .try_clone()
            .map_err(|source| ServeError::Socket {
                what: "cannot share the bound socket",
                source,
            })?;
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let server = match &self.tls {
            Some(cfg) => server.listen_rustls_0_23(listener, cfg.clone()),
            None => server.listen(listener),
        }
        .map_err(|source| ServeError::Socket {
            what: "cannot serve on the bound socket",
            source,
        })?;
        if let Some(mut announce) = self.announce.take() {
            for addr in server.addrs() {
                tracing::info!(addr = %addr, scheme, auth_required = self.settings.auth.required, data_dir = %self.settings.storage.data_dir.display(), slots = self.settings.slots.count, "baton listening");
                announce(&Listening {
                    addr,
                    tls: self.tls.is_some(),
                });
            }
        }
        Ok(server.run())
    }

    /// Serve `runtime` until a stop (then shut it down) or, with `ha`, until
    /// this node is deposed or its store fails (then step down: the server
    /// stops, the runtime closes without writing).
    async fn lead(&mut self, runtime: Runtime, ha: bool) -> Result<Ended, ServeError> {
        let mount = runtime.configure();
        let settings = self.settings.clone();
        // a path no route matches gets the same body deadline as baton's own
        let deadline = BodyDeadline::secs(settings.server.body_read_timeout_secs);
        let server = self.server(
            move || {
                App::new()
                    .configure(mount.clone())
                    .default_service(web::to(HttpResponse::NotFound).wrap(deadline))
            },
            &runtime.connection_cap(),
            settings.server.shutdown_timeout_secs,
        )?;
        let handle = server.handle();
        let mut running = actix_web::rt::spawn(server);
        let mut check = tokio::time::interval(Duration::from_millis(100));
        let ended = loop {
            tokio::select! {
                r = &mut running => {
                    r.map_err(|source| ServeError::HttpTask { what: "the HTTP server task", source })?
                        .map_err(|source| ServeError::Http { what: "the HTTP server", source })?;
                    break Ended::Stopped;
                }
                _ = self.stop.changed() => {
                    let graceful = self.graceful();
                    // SSE streams and MCP sessions would hold a graceful stop open
                    // until its timeout: end them first; requests in flight still finish
                    runtime.close_streams();
                    handle.stop(graceful).await;
                    let _ = running.await;
                    break Ended::Stopped;
                }
                _ = check.tick(), if ha => {
                    let store = runtime.board().store();
                    if store.is_deposed() || store.is_failed() {
                        tracing::error!(
                            deposed = store.is_deposed(),
                            failure = store.failure().unwrap_or(""),
                            "this node stops leading"
                        );
                        runtime.close_streams();
                        handle.stop(false).await;
                        let _ = running.await;
                        break Ended::SteppedDown;
                    }
                }
            }
        };
        // The runtime's own shutdown (dispatcher, child processes, the store's
        // last flush) gets the same bound as the HTTP server's: a failed or
        // hung disk must not keep the process alive.
        let bound = Duration::from_secs(settings.server.shutdown_timeout_secs.max(1));
        let done = tokio::time::timeout(bound, runtime.shutdown()).await;
        match (ended, done) {
            (Ended::SteppedDown, Ok(Err(e))) => {
                // expected: a deposed store refuses its last flush
                tracing::warn!(error = %e, "the deposed runtime closed without its last flush");
                Ok(Ended::SteppedDown)
            }
            (Ended::SteppedDown, _) => Ok(Ended::SteppedDown),
            (Ended::Stopped, Ok(done)) => {
                done.map_err(|e| ServeError::Shutdown(Box::new(e)))?;
                Ok(Ended::Stopped)
            }
            (Ended::Stopped, Err(_)) => Err(ServeError::ShutdownTimeout(bound.as_secs())),
        }
    }

    /// Follow: answer `/healthz` and `/readyz` here and proxy everything
    /// else to the leader, looking at the leadership every
    /// [`crate::store::leader::poll_interval`]; when it is vacant (or this node's
    /// own, from before a restart), start the runtime, which takes it over.
    /// `None` after a stop.
    async fn follow(
        &mut self,
        follower: &Arc<Follower>,
        observer: &mut Observer,
    ) -> Result<Option<Runtime>, ServeError> {
        let mount = follower.configure();
        // each proxied request holds a second descriptor (to the leader)
        let cap = ConnectionCap::for_process(
            &self.settings.server,
            &self.settings.storage,
            0,
            Role::Proxy,
        );
        let server = self.server(move || App::new().configure(mount.clone()), &cap, 1)?;
        let handle = server.handle();
        let mut running = actix_web::rt::spawn(server);
        let me = self.settings.server.advertise_url.clone();
        let failover = self.settings.ha.failover_timeout();
        let every = crate::store::leader::poll_interval(failover);
        let mut look = tokio::time::interval(every);
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut warned = false;
        loop {
            tokio::select! {
                r = &mut running => {
                    r.map_err(|source| ServeError::HttpTask { what: "the follower's HTTP server task", source })?
                        .map_err(|source| ServeError::Http { what: "the follower's HTTP server", source })?;
                    return Err(ServeError::FollowerStopped);
                }
                _ = self.stop.changed() => {
                    let graceful = self.graceful();
                    handle.stop(graceful).await;
                    let _ = running.await;
                    return Ok(None);
                }
                _ = look.tick() => {
                    let vacant = match observer.current_within(every.max(Duration::from_secs(1))).await {
                        Ok(Some(l)) if !l.vacant && l.holder != me => {
                            follower.set_leader(Some(l.advertise_url));
                            warned = false;
                            false
                        }
                        Ok(_) => true,
                        Err(e) => {
                            if !warned {
                                tracing::warn!(error = %e, "cannot read the leadership from PostgreSQL");
                                warned = true;
                            }
                            false
                        }
                    };
                    if !vacant {
                        continue;
                    }
                    follower.set_leader(None);
                    match Runtime::start_takeover(self.settings.clone()).await {
                        Ok(runtime) => {
                            tracing::info!(advertise_url = %me, "elected: this node leads");
                            handle.stop(true).await;
                            let _ = running.await;
                            return Ok(Some(runtime));
                        }
                        Err(e) => tracing::info!(error = %e, "could not take the leadership over"),
                    }
                }
            }
        }
    }
}
