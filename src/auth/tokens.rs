//! Access tokens: creation, lookup, revocation.
//!
//! A secret is `baton_` followed by 64 hex digits: 256 bits from the OS
//! random number generator. Only its SHA-256 is stored (the `k/` key space,
//! through the store's group commit, so tokens survive restarts and are in
//! backups). A slow password hash would buy nothing for a random 256-bit
//! secret and would cost every request; the digest is looked up by its
//! first 16 bytes and then compared in full in constant time
//! ([`subtle::ConstantTimeEq`]).
//!
//! [`Tokens`] is the single writer of the token records: writes are
//! serialized by an async mutex (tokens change rarely), reads are lock-free
//! lookups in a [`DashMap`] view that a revocation updates before it
//! returns — so a revoked token is refused from the next request on.

use std::sync::Arc;

use dashmap::DashMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error_code::{ErrorCode, ServiceError};
use crate::model::{now_ms, AccessToken, Role};
use crate::store::{Store, StoreError, WriteBatch};

/// Prefix of every secret (lets secret scanners and people recognize one).
pub const SECRET_PREFIX: &str = "baton_";

/// Longest token name.
pub const MAX_NAME_LEN: usize = 64;

/// Why a token operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The name is not 1..=64 of `[A-Za-z0-9._-]`.
    #[error("name: {0}")]
    InvalidName(String),
    /// A token with this name exists.
    #[error("a token named '{0}' exists; revoke it first or pick another name")]
    Exists(String),
    /// No token with this name.
    #[error("no token named '{0}'")]
    NotFound(String),
    /// The OS random number generator failed.
    #[error("cannot generate a secret: {0}")]
    Random(String),
    /// The store refused or failed the write (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError for TokenError {
    fn error_code(&self) -> ErrorCode {
        match self {
            TokenError::InvalidName(_) => ErrorCode::InvalidField,
            TokenError::Exists(_) => ErrorCode::TokenExists,
            TokenError::NotFound(_) => ErrorCode::TokenNotFound,
            TokenError::Random(_) => ErrorCode::Internal,
            TokenError::Store(e) => e.error_code(),
        }
    }
}

/// A freshly created token: the record and the secret, shown once.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The token's name (1 to 64 bytes of `[A-Za-z0-9._-]`), the actor the audit log
    /// names.
    pub name: String,
    /// What the token may do: `viewer`, `agent` or `admin`.
    pub role: Role,
    /// The secret (`baton_…`): send it as `Authorization: Bearer <secret>`. Not stored; shown once.
    pub secret: String,
    /// When the token was created (ms since the Unix epoch; RFC 3339 on the wire).
    #[serde(with = "crate::model::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: crate::model::Millis,
}

/// Check a token name: 1..=64 bytes of `[A-Za-z0-9._-]` (ASCII, so as many characters).
pub fn check_name(name: &str) -> Result<(), TokenError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(TokenError::InvalidName(format!(
            "must be 1 to {MAX_NAME_LEN} bytes"
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(TokenError::InvalidName(format!(
            "contains {c:?}; only letters, digits and . _ - are allowed"
        )));
    }
    Ok(())
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn selector(d: &[u8; 32]) -> u128 {
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    u128::from_be_bytes(b)
}

/// A new secret: the prefix and 256 random bits in hex.
pub fn generate_secret() -> Result<String, TokenError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
    Ok(format!("{SECRET_PREFIX}{}", hex(&bytes)))
}

struct Entry {
    digest: [u8; 32],
    token: AccessToken,
}

struct Inner {
    store: Store,
    /// By the first 16 bytes of the secret's digest.
    by_selector: DashMap<u128, Arc<Entry>>,
    /// Names in use (value: selector).
    by_name: DashMap<String, u128>,
    write: tokio::sync::Mutex<()>,
}

/// The token registry over a store. Cheap to clone.
#[derive(Clone)]
pub struct Tokens {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("count", &self.inner.by_name.len())
            .finish()
    }
}

impl Tokens {
    /// Load every token record of `store`.
    pub fn load(store: Store) -> Result<Self, StoreError> {
        let tokens = Self {
            inner: Arc::new(Inner {
                by_selector: DashMap::new(),
                by_name: DashMap::new(),
                write: tokio::sync::Mutex::new(()),
                store,
            }),
        };
        for t in tokens.inner.store.load_tokens()? {
            match unhex(&t.sha256) {
                Some(d) => tokens.index(d, t),
                None => {
                    tracing::warn!(name = %t.name, "ignoring a token record with a malformed hash")
                }
            }
        }
        Ok(tokens)
    }

    fn index(&self, digest: [u8; 32], token: AccessToken) {
        let sel = selector(&digest);
        self.inner.by_name.insert(token.name.clone(), sel);
        self.inner
            .by_selector
            .insert(sel, Arc::new(Entry { digest, token }));
    }

    /// How many tokens exist.
    pub fn len(&self) -> usize {
        self.inner.by_name.len()
    }

    /// Whether no token exists.
    pub fn is_empty(&self) -> bool {
        self.inner.by_name.is_empty()
    }

    /// The token whose secret is `secret`, if any (constant-time comparison
    /// of the full digest).
    pub fn verify(&self, secret: &str) -> Option<AccessToken> {
        let d = digest(secret);
        let entry = self.inner.by_selector.get(&selector(&d))?.value().clone();
        bool::from(entry.digest.ct_eq(&d)).then(|| entry.token.clone())
    }

    /// Whether a token named `name` exists (not revoked).
    pub fn exists(&self, name: &str) -> bool {
        self.inner.by_name.contains_key(name)
    }

    /// Every token, by name (no secrets, no hashes).
    pub fn list(&self) -> Vec<AccessToken> {
        let mut out: Vec<AccessToken> = self
            .inner
            .by_selector
            .iter()
            .map(|e| AccessToken {
                sha256: String::new(),
                ..e.value().token.clone()
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Create a token; durable before it returns. The secret is in the
    /// result only.
    pub async fn create(
        &self,
        name: &str,
        role: Role,
        created_by: Option<String>,
    ) -> Result<CreatedToken, TokenError> {
        check_name(name)?;
        let _w = self.inner.write.lock().await;
        if self.exists(name) {
            return Err(TokenError::Exists(name.to_owned()));
        }
        let secret = generate_secret()?;
        let d = digest(&secret);
        let token = AccessToken {
            name: name.to_owned(),
            role,
            sha256: hex(&d),
            created_at: now_ms(),
            created_by,
        };
        let mut batch = WriteBatch::new();
        batch.put_token(&token);
        let ticket = self.inner.store.commit(batch)?;
        self.inner.store.wait_durable(ticket).await?;
        // Indexed only once durable: the secret reaches nobody if the write failed.
        self.index(d, token.clone());
        tracing::info!(token = %token.name, role = %role, "access token created");
        Ok(CreatedToken {
            name: token.name,
            role,
            secret,
            created_at: token.created_at,
        })
    }

    /// Revoke a token: refused from now on (before this returns), removed
    /// from the store durably.
    pub async fn revoke(&self, name: &str) -> Result<AccessToken, TokenError> {
        let _w = self.inner.write.lock().await;
        let Some((_, sel)) = self.inner.by_name.remove(name) else {
            return Err(TokenError::NotFound(name.to_owned()));
        };
        let removed = self.inner.by_selector.remove(&sel).map(|(_, e)| e);
        let mut batch = WriteBatch::new();
        batch.remove_token(name);
        let ticket = self.inner.store.commit(batch)?;
        self.inner.store.wait_durable(ticket).await?;
        tracing::info!(token = %name, "access token revoked");
        let token = removed
            .map(|e| e.token.clone())
            .ok_or_else(|| TokenError::NotFound(name.to_owned()))?;
        Ok(AccessToken {
            sha256: String::new(),
            ..token
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_hash_round_trips() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert!(a.starts_with(SECRET_PREFIX) && a.len() == SECRET_PREFIX.len() + 64);
        assert_ne!(a, b);
        let d = digest(&a);
        assert_eq!(unhex(&hex(&d)), Some(d));
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("ci-bot_1.x").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
    }

    #[tokio::test]
    async fn create_verify_revoke_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let tokens = Tokens::load(store.clone()).unwrap();
        let t = tokens.create("alice", Role::Agent, None).await.unwrap();
        assert_eq!(tokens.verify(&t.secret).map(|t| t.role), Some(Role::Agent));
        assert!(tokens.verify("baton_nope").is_none());
        let e = tokens.create("alice", Role::Admin, None).await.unwrap_err();
        assert_eq!(e.error_code(), ErrorCode::TokenExists);
        let bob = tokens.create("bob", Role::Viewer, None).await.unwrap();
        assert_eq!(
            tokens
                .list()
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            ["alice", "bob"]
        );
        assert!(tokens.list().iter().all(|t| t.sha256.is_empty()));
        tokens.revoke("alice").await.unwrap();
        assert!(tokens.verify(&t.secret).is_none());
        assert_eq!(
            tokens.revoke("alice").await.unwrap_err().error_code(),
            ErrorCode::TokenNotFound
        );
        store.close().unwrap();
        drop((tokens, store));
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let tokens = Tokens::load(store.clone()).unwrap();
        assert!(tokens.verify(&t.secret).is_none(), "revocation is durable");
        assert_eq!(
            tokens.verify(&bob.secret).map(|t| t.name),
            Some("bob".to_owned())
        );
        store.close().unwrap();
    }
}
