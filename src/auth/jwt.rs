//! JWT bearer tokens from a team's identity provider (`[auth.jwt]`).
//!
//! Validation is `jsonwebtoken`'s: signature by a key from the provider's
//! JWKS (asymmetric algorithms only: RS*, PS*, ES*, EdDSA — never `none` or
//! HMAC, whatever the token's header says), `exp`/`nbf` with
//! `leeway_secs`, the configured `iss` and `aud`. The `sub` claim names the
//! caller; `role_claim` carries the baton role. Keys are cached for
//! `jwks_refresh_secs`; a token signed by an unknown key id makes one fetch
//! (at most every [`MIN_REFETCH`]) so a provider's key rotation is picked up
//! without waiting.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::RwLock;

use crate::config::JwtSettings;
use crate::model::{Principal, Role};

/// Shortest time between two JWKS fetches caused by unknown key ids.
pub const MIN_REFETCH: Duration = Duration::from_secs(10);

/// Why a JWT was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Malformed, bad signature, expired, wrong issuer or audience, unknown key:
    /// not a credential (401).
    #[error("invalid token: {0}")]
    Invalid(String),
    /// A valid token without a baton role (403).
    #[error("the token carries no baton role in its '{0}' claim (viewer, agent or admin)")]
    NoRole(String),
    /// The identity provider's keys could not be fetched (401: the token cannot be checked).
    #[error("cannot fetch the identity provider's keys: {0}")]
    Keys(String),
}

struct Key {
    key: DecodingKey,
    /// Algorithms this key may verify.
    algs: Vec<Algorithm>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Key>,
    fetched: Option<Instant>,
}

/// The verifier: settings, an HTTP client for the JWKS, the key cache.
pub struct JwtVerifier {
    settings: JwtSettings,
    http: reqwest::Client,
    cache: RwLock<Cache>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("jwks_url", &self.settings.jwks_url)
            .finish_non_exhaustive()
    }
}

/// Algorithms allowed for a key of this JWK type (asymmetric only).
fn algorithms_for(params: &AlgorithmParameters) -> Vec<Algorithm> {
    use Algorithm::*;
    match params {
        AlgorithmParameters::RSA(_) => vec![RS256, RS384, RS512, PS256, PS384, PS512],
        AlgorithmParameters::EllipticCurve(_) => vec![ES256, ES384],
        AlgorithmParameters::OctetKeyPair(_) => vec![EdDSA],
        _ => vec![],
    }
}

/// Whether a bearer value looks like a JWT (three base64url segments).
pub fn looks_like_jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    };
    ok(parts.next()) && ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// The highest baton role named by a claim value (a string or an array of strings).
pub fn role_from_claim(v: &Value) -> Option<Role> {
    match v {
        Value::String(s) => Role::parse(s),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().and_then(Role::parse))
            .max(),
        _ => None,
    }
}

impl JwtVerifier {
    /// A verifier for `settings` (must be [`JwtSettings::enabled`]); `http` fetches the JWKS.
    pub fn new(settings: JwtSettings, http: reqwest::Client) -> Self {
        Self {
            settings,
            http,
            cache: RwLock::new(Cache::default()),
        }
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    async fn fetch(&self) -> Result<(), JwtError> {
        let set: JwkSet = self
            .http
            .get(&self.settings.jwks_url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| JwtError::Keys(e.to_string()))?
            .json()
            .await
            .map_err(|e| JwtError::Keys(format!("not a JWK set: {e}")))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let mut algs = algorithms_for(&jwk.algorithm);
            if let Some(alg) = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<Algorithm>().ok())
            {
                algs.retain(|a| *a == alg);
            }
            if algs.is_empty() {
                continue;
            }
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    keys.insert(kid, Key { key, algs });
                }
                Err(e) => tracing::warn!(kid, error = %e, "ignoring an unusable JWK"),
            }
        }
        tracing::info!(keys = keys.len(), url = %self.settings.jwks_url, "fetched JWKS");
        let mut cache = self.cache.write().await;
        cache.keys = keys;
        cache.fetched = Some(Instant::now());
        Ok(())
    }

    /// Validate `token` and return the caller it names.
    pub async fn verify(&self, token: &str) -> Result<Principal, JwtError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| JwtError::Invalid(format!("malformed header: {e}")))?;
        let kid = header
            .kid
            .clone()
            .ok_or_else(|| JwtError::Invalid("the header names no key id (kid)".into()))?;
        let refresh = Duration::from_secs(self.settings.jwks_refresh_secs);
        let (stale, known, recent) = {
            let c = self.cache.read().await;
            let age = c.fetched.map(|t| t.elapsed());
            (
                age.is_none_or(|a| a >= refresh),
                c.keys.contains_key(&kid),
                age.is_some_and(|a| a < MIN_REFETCH),
            )
        };
        if stale || (!known && !recent) {
            if let Err(e) = self.fetch().await {
                // keep using cached keys when a periodic refresh fails
                if !known {
                    return Err(e);
                }
                tracing::warn!(error = %e, "JWKS refresh failed; using the cached keys");
            }
        }
        let cache = self.cache.read().await;
        let key = cache
            .keys
            .get(&kid)
            .ok_or_else(|| JwtError::Invalid(format!("unknown key id '{kid}'")))?;
        if !key.algs.contains(&header.alg) {
            return Err(JwtError::Invalid(format!(
                "algorithm {:?} is not allowed for key '{kid}'",
                header.alg
            )));
        }
        let mut v = Validation::new(header.alg);
        v.algorithms = key.algs.clone();
        v.leeway = self.settings.leeway_secs;
        v.validate_nbf = true;
        v.set_issuer(&[&self.settings.issuer]);
        v.set_audience(&[&self.settings.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key.key, &v)
            .map_err(|e| JwtError::Invalid(e.to_string()))?;
        let claims = data.claims;
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 256 && !s.chars().any(char::is_control))
            .ok_or_else(|| JwtError::Invalid("the sub claim is missing or invalid".into()))?;
        let role = claims
            .get(&self.settings.role_claim)
            .and_then(role_from_claim)
            .ok_or_else(|| JwtError::NoRole(self.settings.role_claim.clone()))?;
        Ok(Principal::named(sub, role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jwt_shape_and_role_claims() {
        assert!(looks_like_jwt("eyJ.eyJ.sig_-"));
        assert!(!looks_like_jwt("baton_abc"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a..c"));
        assert!(!looks_like_jwt("a.b.c.d"));
        assert_eq!(role_from_claim(&json!("agent")), Some(Role::Agent));
        assert_eq!(
            role_from_claim(&json!(["other", "viewer", "admin"])),
            Some(Role::Admin)
        );
        assert_eq!(role_from_claim(&json!("root")), None);
        assert_eq!(role_from_claim(&json!(3)), None);
    }
}
