//! Who may do what: the edge checks, authentication and roles, in front of
//! every route baton serves.
//!
//! | file | what |
//! |---|---|
//! | [`edge`] | `Host` / `Origin` allow-lists and `Content-Type` on bodies (pure) |
//! | [`tokens`] | access tokens: 256-bit secrets, stored SHA-256, create / verify / revoke |
//! | [`jwt`] | JWTs from a team's identity provider, keys from its JWKS |
//! | [`Denial`] | why a request was refused: a code, a message, the headers to send |
//! | [`guard`] | the actix middleware: [`guard::edge_check`] on every scope and resource, [`guard::authorize_check`] per route |
//!
//! Every route is registered from one table (`api::routes`) that names the
//! [`Access`] it needs; the guard reads nothing else. Authorization is
//! decided before a handler reads the body, so a caller without the
//! permission gets 403 and learns nothing from a validation error. The
//! caller ([`Caller`]) is put in the request's extensions; handlers act on
//! the board as [`Caller::actor`] (`Board::acting_as`), which records it in
//! the audit log and checks it against lease owners.

mod denial;
pub mod edge;
pub mod guard;
pub mod jwt;
pub mod tokens;

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Settings;
use crate::error_code::ErrorCode;
use crate::model::{Principal, Role};
use crate::store::{Store, StoreError};

pub use denial::Denial;
pub use tokens::Tokens;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nobody needs a token: `/healthz`, `/readyz`, the protected-resource
    /// metadata, the dashboard's static files (a browser cannot attach a
    /// bearer token to a page load).
    Public,
    /// A caller with at least this role.
    Role(Role),
    /// A viewer, by bearer token or by a single-use stream ticket in the
    /// query (`?ticket=`): the event stream, which `EventSource` opens
    /// without headers.
    Stream,
    /// A viewer at the MCP endpoint (tools are then checked one by one);
    /// a 401 there points at the protected-resource metadata (RFC 9728).
    Mcp,
}

impl Access {
    /// The least role the route needs (`None`: public).
    pub fn role(self) -> Option<Role> {
        match self {
            Access::Public => None,
            Access::Role(r) => Some(r),
            Access::Stream | Access::Mcp => Some(Role::Viewer),
        }
    }
}

/// How a caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// No token (only while `auth.required` is false): the local admin.
    None,
    /// A baton access token.
    Token,
    /// A JWT from the identity provider.
    Jwt,
}

/// The authenticated caller of a request (in its extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Name and role the request acts as.
    pub actor: Principal,
    /// How it authenticated.
    pub credential: Credential,
}

struct Ticket {
    caller: Caller,
    expires: Instant,
}

/// Most stream tickets outstanding at once (each lives `stream_ticket_ttl_secs`).
const MAX_TICKETS: usize = 10_000;

/// Longest `Authorization` header accepted (a JWT with many claims fits).
pub const MAX_AUTHORIZATION_LEN: usize = 8192;

/// Authentication state shared by every request: settings, tokens, the JWT
/// verifier, the rate limiter, stream tickets.
pub struct Auth {
    required: bool,
    allowed_hosts: Vec<String>,
    allowed_origins: Vec<String>,
    ticket_ttl: Duration,
    tokens: Tokens,
    jwt: Option<jwt::JwtVerifier>,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    limited_checks: AtomicU64,
    tickets: DashMap<String, Ticket>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("required", &self.required)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Build from settings over `store` (loads the token records).
    pub fn new(settings: &Settings, store: Store) -> Result<Self, StoreError> {
        let a = &settings.auth;
        let limiter = NonZeroU32::new(a.rate_limit_per_sec).map(|rate| {
            let burst = NonZeroU32::new(a.rate_limit_burst)
                .unwrap_or_else(|| rate.saturating_mul(NonZeroU32::MIN.saturating_add(1)));
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        let jwt = a.jwt.enabled().then(|| {
            jwt::JwtVerifier::new(
                a.jwt.clone(),
                reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .build()
                    .unwrap_or_default(),
            )
        });
        Ok(Self {
            required: a.required,
            allowed_hosts: settings.server.allowed_hosts.clone(),
            allowed_origins: settings.server.allowed_origins.clone(),
            ticket_ttl: Duration::from_secs(a.stream_ticket_ttl_secs),
            tokens: Tokens::load(store)?,
            jwt,
            limiter,
            limited_checks: AtomicU64::new(0),
            tickets: DashMap::new(),
        })
    }

    /// The token registry.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Whether every non-public request needs a token.
    pub fn required(&self) -> bool {
        self.required
    }

    fn unauthorized(message: impl Into<String>, error: Option<&str>) -> Denial {
        let mut d = Denial::new(ErrorCode::Unauthorized, message);
        d.challenge = Some(match error {
            Some(e) => format!("Bearer realm=\"baton\", error=\"{e}\""),
            None => "Bearer realm=\"baton\"".to_owned(),
        });
        d
    }

    /// The caller named by an `Authorization` header value (`None`: no
    /// header). Malformed, oversize or non-UTF-8 values and unknown,
    /// revoked or invalid tokens are 401; a JWT without a baton role is 403.
    pub async fn authenticate(&self, header: Option<&[u8]>) -> Result<Option<Caller>, Denial> {
        let Some(raw) = header else {
            return Ok(None);
        };
        if raw.len() > MAX_AUTHORIZATION_LEN {
            return Err(Self::unauthorized(
                format!("the Authorization header is longer than {MAX_AUTHORIZATION_LEN} bytes"),
                Some("invalid_request"),
            ));
        }
        let text = std::str::from_utf8(raw).map_err(|_| {
            Self::unauthorized(
                "the Authorization header is not UTF-8",
                Some("invalid_request"),
            )
        })?;
        let token = match text.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
            _ => {
                return Err(Self::unauthorized(
                    "the Authorization header must be 'Bearer <token>'",
                    Some("invalid_request"),
                ))
            }
        };
        if token.is_empty() || token.contains(char::is_whitespace) {
            return Err(Self::unauthorized(
                "the bearer token is empty or malformed",
                Some("invalid_request"),
            ));
        }
        if token.starts_with(tokens::SECRET_PREFIX) {
            return match self.tokens.verify(token) {
                Some(t) => Ok(Some(Caller {
                    actor: Principal::named(t.name, t.role),
                    credential: Credential::Token,
                })),
                None => Err(Self::unauthorized(
                    "unknown or revoked token",
                    Some("invalid_token"),
                )),
            };
        }
        if let Some(v) = &self.jwt {
            if jwt::looks_like_jwt(token) {
                return match v.verify(token).await {
                    Ok(actor) => Ok(Some(Caller {
                        actor,
                        credential: Credential::Jwt,
                    })),
                    Err(jwt::JwtError::NoRole(claim)) => Err(Denial::new(
                        ErrorCode::Forbidden,
                        format!("the token carries no baton role in its '{claim}' claim (viewer, agent or admin)"),
                    )),
                    Err(e) => Err(Self::unauthorized(e.to_string(), Some("invalid_token"))),
                };
            }
        }
        Err(Self::unauthorized("unknown token", Some("invalid_token")))
    }

    /// The caller for a request without credentials: the local admin while
    /// auth is not required, else 401.
    pub fn anonymous(&self) -> Result<Caller, Denial> {
        if self.required {
            Err(Self::unauthorized(
                "authentication required: send 'Authorization: Bearer <token>' (create one with `baton token create`)",
                None,
            ))
        } else {
            Ok(Caller {
                actor: Principal::local(),
                credential: Credential::None,
            })
        }
    }

    /// Refuse `caller` unless its role reaches `required`.
    pub fn check_role(caller: &Caller, required: Role) -> Result<(), Denial> {
        if caller.actor.role >= required {
            return Ok(());
        }
        let who = caller.actor.name.as_deref().unwrap_or("this caller");
        Err(Denial::new(
            ErrorCode::Forbidden,
            format!(
                "the '{required}' role is required; '{who}' has the '{}' role",
                caller.actor.role
            ),
        ))
    }

    /// Count one request of `caller` against its rate limit (named callers
    /// only): 429 with `Retry-After` beyond it.
    pub fn check_rate(&self, caller: &Caller) -> Result<(), Denial> {
        let (Some(limiter), Some(name)) = (&self.limiter, &caller.actor.name) else {
            return Ok(());
        };
        // bound the limiter's memory: forget keys that are back at full burst
        if self.limited_checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            limiter.retain_recent();
        }
        limiter.check_key(name).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let mut d = Denial::new(
                ErrorCode::RateLimited,
                format!(
                    "rate limit of '{name}' exceeded; retry in {} ms",
                    wait.as_millis()
                ),
            );
            d.retry_after_secs = Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
            d
        })
    }

    /// Whether a caller's credential still holds (a revoked token does not).
    pub fn still_valid(&self, caller: &Caller) -> bool {
        match (caller.credential, &caller.actor.name) {
            (Credential::Token, Some(name)) => self.tokens.exists(name),
            _ => true,
        }
    }

    /// A single-use ticket for the event stream, valid `stream_ticket_ttl_secs`.
    pub fn issue_ticket(&self, caller: &Caller) -> Result<(String, Duration), Denial> {
        let now = Instant::now();
        if self.tickets.len() >= MAX_TICKETS / 2 {
            self.tickets.retain(|_, t| t.expires > now);
        }
        if self.tickets.len() >= MAX_TICKETS {
            let mut d = Denial::new(
                ErrorCode::RateLimited,
                "too many stream tickets outstanding; retry shortly",
            );
            d.retry_after_secs = Some(self.ticket_ttl.as_secs());
            return Err(d);
        }
        let ticket = tokens::generate_secret()
            .map_err(|e| Denial::new(ErrorCode::Internal, e.to_string()))?
            .replacen(tokens::SECRET_PREFIX, "st_", 1);
        self.tickets.insert(
            ticket.clone(),
            Ticket {
                caller: caller.clone(),
                expires: now + self.ticket_ttl,
            },
        );
        Ok((ticket, self.ticket_ttl))
    }

    /// Redeem a stream ticket (once).
    pub fn redeem_ticket(&self, ticket: &str) -> Result<Caller, Denial> {
        let invalid = || {
            Self::unauthorized(
                "unknown, used or expired stream ticket",
                Some("invalid_token"),
            )
        };
        let (_, t) = self.tickets.remove(ticket).ok_or_else(invalid)?;
        if t.expires <= Instant::now() || !self.still_valid(&t.caller) {
            return Err(invalid());
        }
        Ok(t.caller)
    }

    /// Hosts and origins of the edge check.
    pub(crate) fn allow_lists(&self) -> (&[String], &[String]) {
        (&self.allowed_hosts, &self.allowed_origins)
    }

    /// The JWT issuer, for the protected-resource metadata.
    pub(crate) fn authorization_server(&self) -> Option<String> {
        self.jwt.as_ref().map(|v| v.issuer().to_owned())
    }
}

/// The one [`Auth`] a runtime shares between its guard, its edges and the token admin
/// routes (cloning is a reference count).
pub type AuthHandle = Arc<Auth>;
