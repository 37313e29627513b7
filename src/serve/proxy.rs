//! The follower's HTTP surface: `/healthz` (200) and `/readyz` (503: this
//! node does not lead) answered by the node itself; every other request is
//! **proxied** to the leader's advertised URL with the caller's headers and
//! body, and the leader's answer streamed back (JSON, SSE, MCP's
//! streamable HTTP — sessions included, since `Mcp-Session-Id` travels both
//! ways). A redirect would not do: clients drop `Authorization` on a
//! cross-origin redirect.
//!
//! The follower is the edge the client reached, so it checks `Host` and
//! `Origin` against its own `[server] allowed_hosts` / `allowed_origins`
//! (the same rules as the leader's edge guard). The request then goes to
//! the leader with `Host` naming the leader (its advertised URL, which the
//! leader accepts), the original in `X-Forwarded-Host`, and no `Origin`
//! (already checked here). Authentication is the leader's: the
//! `Authorization` header is forwarded untouched.
//!
//! When no leader is known, or its address refuses the connection, the
//! answer is `503 no_leader` with `Retry-After: 1` — nothing was sent, so a
//! retry is safe. When the leader fails after the request was sent, the
//! answer is `502 leader_unreachable`: it may have been applied. When the
//! leadership moves, requests and streams still open to the old leader are
//! cut (a paused leader must not hold them forever). A request that already
//! came through a proxy (`X-Baton-Proxied`) is never proxied again: two
//! nodes that each took the other for the leader answer `503 no_leader`
//! instead of bouncing it between them.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::deadline::BodyDeadline;
use crate::api::error::Denial;
use crate::api::ApiError;
use crate::config::Settings;
use crate::error::ErrorCode;

/// Marks a request a follower forwarded.
const PROXIED: &str = "x-baton-proxied";

/// Request headers never forwarded (hop-by-hop, or set by the proxy).
const SKIP_REQUEST: [&str; 12] = [
    "expect",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "origin",
    "content-length",
];

/// Response headers never copied back (hop-by-hop; the body is re-framed
/// by this server, with the leader's `Content-Length` when it sent one).
const SKIP_RESPONSE: [&str; 8] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "trailer",
    "upgrade",
    "proxy-authenticate",
    "te",
];

/// The header names a `Connection` header lists (hop-by-hop as well).
fn connection_listed<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<String> {
    values
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect()
}

/// A follower: where the leader is, and the client that reaches it.
pub struct Follower {
    /// The leader's URL, and the token that cuts what is open to it when
    /// the leadership moves.
    leader: RwLock<(Option<String>, tokio_util::sync::CancellationToken)>,
    http: reqwest::Client,
    allowed_hosts: Vec<String>,
    allowed_origins: Vec<String>,
    max_body: usize,
    /// `[server] body_read_timeout_secs`.
    body_read_timeout_secs: u64,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("leader", &self.leader())
            .finish_non_exhaustive()
    }
}

impl Follower {
    /// A follower with `settings`' edge rules (`[server] allowed_hosts`,
    /// `allowed_origins`) and body limits (`[api] max_body_bytes`,
    /// `[server] body_read_timeout_secs`); no leader known yet.
    ///
    /// Errors: [`crate::error::Error::Unavailable`] when the HTTP client cannot
    /// be built (no TLS roots).
    pub fn new(settings: &Settings) -> Result<Arc<Self>, crate::error::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| crate::error::Error::Unavailable("the follower's HTTP client"))?;
        Ok(Arc::new(Self {
            leader: RwLock::new((None, tokio_util::sync::CancellationToken::new())),
            http,
            allowed_hosts: settings.server.allowed_hosts.clone(),
            allowed_origins: settings.server.allowed_origins.clone(),
            max_body: settings.api.max_body_bytes,
            body_read_timeout_secs: settings.server.body_read_timeout_secs,
        }))
    }

    /// Set the leader's advertised URL (`None`: no leader now). A change
    /// cuts the requests and streams still open to the previous one.
    pub fn set_leader(&self, url: Option<String>) {
        let url = url.filter(|u| !u.is_empty());
        let mut l = self.leader.write().unwrap_or_else(|p| p.into_inner());
        if l.0 != url {
            tracing::info!(leader = url.as_deref().unwrap_or("none"), "following");
            l.1.cancel();
            *l = (url, tokio_util::sync::CancellationToken::new());
        }
    }

    /// The leader's advertised URL, if one is known.
    pub fn leader(&self) -> Option<String> {
        self.leader
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    fn target(&self) -> (Option<String>, tokio_util::sync::CancellationToken) {
        self.leader
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Mount the follower's routes (`/healthz`, `/readyz`, everything else
    /// proxied) into an actix-web `App`.
    pub fn configure(self: &Arc<Self>) -> impl Fn(&mut web::ServiceConfig) + Clone + 'static {
        let data = web::Data::from(self.clone());
        // a body slower than [server] body_read_timeout_secs: 408, as on the leader
        let deadline = BodyDeadline::secs(self.body_read_timeout_secs);
        move |cfg| {
            cfg.app_data(data.clone())
                .route("/healthz", web::get().to(healthz).wrap(deadline))
                .route("/readyz", web::get().to(readyz).wrap(deadline))
                .default_service(web::to(forward).wrap(deadline));
        }
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok", "role": "follower"}))
}

async fn readyz(f: web::Data<Follower>) -> HttpResponse {
    HttpResponse::ServiceUnavailable().json(serde_json::json!({
        "status": "unavailable",
        "role": "follower",
        "reason": "this node follows the leader; requests sent to it are proxied there",
        "leader": f.leader(),
    }))
}

fn no_leader(why: &str) -> ApiError {
    ApiError::Denied(Denial {
        code: ErrorCode::NoLeader,
        message: format!("no leader can be reached now ({why}); nothing was sent; retry"),
        challenge: None,
        retry_after_secs: Some(1),
    })
}

/// Forward one request to the leader and stream its answer back.
async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    f: web::Data<Follower>,
) -> Result<HttpResponse, ApiError> {
    crate::auth::guard::host_and_origin(&req, &f.allowed_hosts, &f.allowed_origins)
        .map_err(ApiError::Denied)?;
    let scheme = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    if req.headers().contains_key(PROXIED) {
        return Err(no_leader(
            "this request came from another node, which takes this one for the leader",
        ));
    }
    let (Some(leader), moved) = f.target() else {
        return Err(no_leader("an election is under way"));
    };
    let body = match payload.to_bytes_limited(f.max_body).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidBody,
                format!("cannot read the request body: {e}"),
            ))
        }
        Err(_) => return Err(ApiError::BodyTooLarge(f.max_body)),
    };
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = format!("{}{path}", leader.trim_end_matches('/'));
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .map_err(|_| ApiError::bad_request(ErrorCode::InvalidPath, "unknown HTTP method"))?;
    let mut out = f.http.request(method, &url).header(PROXIED, "1");
    let hop = connection_listed(
        req.headers()
            .get_all(actix_web::http::header::CONNECTION)
            .map(|v| v.as_bytes()),
    );
    for (name, value) in req.headers() {
        let n = name.as_str();
        if SKIP_REQUEST.contains(&n) || n.starts_with("x-forwarded-") || hop.iter().any(|h| h == n)
        {
            continue;
        }
        out = out.header(n, value.as_bytes());
    }
    if let Some(h) = &host {
        out = out.header("x-forwarded-host", h.as_str());
    }
    out = out.header("x-forwarded-proto", scheme);
    if let Some(peer) = req.peer_addr() {
        out = out.header("x-forwarded-for", peer.ip().to_string());
    }
    let sent = tokio::select! {
        r = out.body(body).send() => r,
        _ = moved.cancelled() => {
            return Err(ApiError::Denied(Denial::new(
                ErrorCode::LeaderUnreachable,
                format!(
                    "the leadership moved away from {leader} while it had this request; it may \
                     or may not have been applied: read back before retrying"
                ),
            )))
        }
    };
    let res = match sent {
        Ok(res) => res,
        Err(e) if e.is_connect() => return Err(no_leader(&format!("{leader} refused: {e}"))),
        Err(e) => {
            return Err(ApiError::Denied(Denial::new(
                ErrorCode::LeaderUnreachable,
                format!(
                    "the leader at {leader} did not answer ({e}); the request may or may not \
                     have been applied: read back before retrying"
                ),
            )))
        }
    };
    let status = actix_web::http::StatusCode::from_u16(res.status().as_u16())
        .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
    let mut back = HttpResponse::build(status);
    let hop = connection_listed(
        res.headers()
            .get_all(reqwest::header::CONNECTION)
            .iter()
            .map(|v| v.as_bytes()),
    );
    for (name, value) in res.headers() {
        let n = name.as_str();
        if SKIP_RESPONSE.contains(&n) || hop.iter().any(|h| h == n) {
            continue;
        }
        back.append_header((n, value.as_bytes()));
    }
    let length = res
        .headers()
        .get(reqwest::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = length {
        back.no_chunking(n);
    }
    // the stream ends when the leadership moves (see the module docs)
    let body = futures_util::StreamExt::take_until(res.bytes_stream(), moved.cancelled_owned());
    Ok(back.streaming(body))
}
