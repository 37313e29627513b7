//! The actix middleware of the guard.
//!
//! - [`edge_check`] wraps every scope and every root-level resource baton
//!   registers (never an embedder's routes): `Host`, `Origin`, and
//!   `Content-Type: application/json` on `POST`/`PUT`/`PATCH` bodies.
//! - [`authorize_check`] wraps every route with the [`Access`] its row in the
//!   route table names: authenticates the bearer token (or stream ticket),
//!   applies the rate limit and the role, and puts the [`Caller`] in the
//!   request's extensions.
//!
//! A refusal is the JSON error body of `api::error` (which renders a
//! [`Denial`] through `actix_web::ResponseError`), with `WWW-Authenticate`
//! on 401 and `Retry-After` on 429.

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};

use super::{Access, Auth, Caller, Denial};
use crate::error_code::ErrorCode;

type Resp<B> = ServiceResponse<EitherBody<B>>;

fn refuse<B>(req: ServiceRequest, d: Denial) -> Resp<B> {
    let status = d.status_code();
    if status.is_client_error() && d.code != ErrorCode::Unauthorized {
        tracing::warn!(
            code = %d.code,
            method = %req.method(),
            path = req.path(),
            reason = %d.message,
            "request refused"
        );
    }
    let res = d.error_response();
    req.into_response(res).map_into_right_body()
}

fn auth_of(req: &ServiceRequest) -> Option<Arc<Auth>> {
    req.app_data::<web::Data<Auth>>()
        .map(|d| d.clone().into_inner())
}

fn has_body(req: &ServiceRequest) -> bool {
    let h = req.headers();
    if h.contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    h.get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > 0)
}

/// The edge's `Host` and `Origin` check of `req` against the allow-lists
/// (see [`super::edge::check_host_and_origin`]): the request's own scheme,
/// its `Host` header itself (or the HTTP/2 authority, never
/// `X-Forwarded-Host`) and its `Origin`. [`edge_check`] and a follower's
/// proxy (`crate::serve::proxy`) both use it.
pub(crate) fn host_and_origin(
    req: &actix_web::HttpRequest,
    hosts: &[String],
    origins: &[String],
) -> Result<(), Denial> {
    let scheme = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    let origin = req.headers().get(header::ORIGIN).map(|v| v.as_bytes());
    super::edge::check_host_and_origin(scheme, host.as_deref(), origin, hosts, origins)
        .map_err(|(code, message)| Denial::new(code, message))
}

/// `Host` / `Origin` / `Content-Type` checks, before anything else. Use as
/// `.wrap(from_fn(edge_check))`.
pub async fn edge_check<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<Resp<B>, actix_web::Error> {
    let Some(auth) = auth_of(&req) else {
        let d = Denial::new(
            ErrorCode::Internal,
            "baton's guard has no state (mounted without runtime.configure())",
        );
        return Ok(refuse(req, d));
    };
    let (hosts, origins) = auth.allow_lists();
    if let Err(d) = host_and_origin(req.request(), hosts, origins) {
        return Ok(refuse(req, d));
    }
    if matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH)
        && has_body(&req)
        && !super::edge::is_json(
            req.headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
        )
    {
        let d = Denial::new(
            ErrorCode::UnsupportedMediaType,
            "request bodies must be JSON with 'Content-Type: application/json'",
        );
        return Ok(refuse(req, d));
    }
    Ok(next.call(req).await?.map_into_left_body())
}

fn ticket_of(query: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        kv.strip_prefix("ticket=")
            .map(|t| crate::core::text::truncate_to_bytes(t, 200).to_owned())
    })
}

/// Point a 401 at `/mcp` to the protected-resource metadata (RFC 9728).
fn with_resource_metadata(req: &ServiceRequest, mut d: Denial) -> Denial {
    if d.code != ErrorCode::Unauthorized {
        return d;
    }
    let scheme = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let path = req.path();
    let prefix = path.find("/mcp").map_or("", |i| &path[..i]);
    let url = format!("{scheme}://{host}{prefix}/.well-known/oauth-protected-resource");
    let base = d
        .challenge
        .take()
        .unwrap_or_else(|| "Bearer realm=\"baton\"".into());
    d.challenge = Some(format!("{base}, resource_metadata=\"{url}\""));
    d
}

/// Authenticate and authorize a request for `access`. Use as
/// `.wrap(from_fn(move |req, next| authorize_check(access, req, next)))`.
pub async fn authorize_check<B: MessageBody>(
    access: Access,
    req: ServiceRequest,
    next: Next<B>,
) -> Result<Resp<B>, actix_web::Error> {
    let Some(required) = access.role() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let Some(auth) = auth_of(&req) else {
        let d = Denial::new(
            ErrorCode::Internal,
            "baton's guard has no state (mounted without runtime.configure())",
        );
        return Ok(refuse(req, d));
    };
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes().to_vec());
    let caller: Result<Caller, Denial> = match header {
        Some(h) => match auth.authenticate(Some(&h)).await {
            Ok(Some(c)) => Ok(c),
            Ok(None) => auth.anonymous(),
            Err(d) => Err(d),
        },
        None => match (access, ticket_of(req.query_string())) {
            (Access::Stream, Some(t)) => auth.redeem_ticket(&t),
            _ => auth.anonymous(),
        },
    };
    let checked = caller.and_then(|c| {
        auth.check_rate(&c)?;
        Auth::check_role(&c, required)?;
        Ok(c)
    });
    match checked {
        Ok(c) => {
            req.extensions_mut().insert(c);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(d) => {
            let d = if access == Access::Mcp {
                with_resource_metadata(&req, d)
            } else {
                d
            };
            Ok(refuse(req, d))
        }
    }
}
