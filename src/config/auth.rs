//! `[auth]` and `[auth.jwt]`: who may call baton (bearer tokens, JWTs from
//! an identity provider) and how often.

use serde::{Deserialize, Serialize};

/// `[auth]`: bearer tokens (stored hashes, created with `baton token create`),
/// optional JWT from an identity provider, and a per-token rate limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Every request except the open ones (`/healthz`, `/readyz`, the
    /// protected-resource metadata, the dashboard's static files) needs a
    /// valid bearer token. While `false`, a request without a token acts as
    /// admin (a token that is sent is still verified and its role applies);
    /// `baton serve` then refuses to listen beyond loopback unless
    /// `--insecure-no-auth` is given.
    pub required: bool,
    /// Requests per second allowed to one token (or JWT subject); 0 = no limit.
    /// Beyond it: 429 with `Retry-After`.
    pub rate_limit_per_sec: u32,
    /// Requests a token may make in a burst; 0 = twice `rate_limit_per_sec`.
    pub rate_limit_burst: u32,
    /// Lifetime of a single-use event-stream ticket (`POST /api/v1/events/ticket`), in seconds.
    pub stream_ticket_ttl_secs: u64,
    /// JWT bearer tokens from a team's identity provider (off unless `jwks_url` is set).
    pub jwt: JwtSettings,
}

/// `[auth.jwt]`: validate JWTs signed by keys from a JWKS endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtSettings {
    /// JWKS URL of the identity provider; empty = JWT authentication off.
    pub jwks_url: String,
    /// Required `iss` claim.
    pub issuer: String,
    /// Required `aud` claim (one of the token's audiences).
    pub audience: String,
    /// Claim holding the baton role (`viewer`, `agent` or `admin`; a string, or an
    /// array whose highest baton role counts). A token without it is refused (403).
    pub role_claim: String,
    /// How long fetched keys are used before the JWKS is fetched again, in seconds
    /// (an unknown key id also triggers a fetch, at most once per 10 s).
    pub jwks_refresh_secs: u64,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            required: false,
            rate_limit_per_sec: 0,
            rate_limit_burst: 0,
            stream_ticket_ttl_secs: 60,
            jwt: JwtSettings::default(),
        }
    }
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            jwks_url: String::new(),
            issuer: String::new(),
            audience: String::new(),
            role_claim: "baton_role".into(),
            jwks_refresh_secs: 300,
            leeway_secs: 30,
        }
    }
}

impl JwtSettings {
    /// Whether JWT authentication is configured.
    pub fn enabled(&self) -> bool {
        !self.jwks_url.is_empty()
    }
}
