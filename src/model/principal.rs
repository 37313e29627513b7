//! Who acts on the board: a [`Role`] (viewer < agent < admin), the
//! [`Principal`] every operation is made for (a token's name and role, or the
//! local caller), and the [`AccessToken`] record a name and role are stored in.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rfc3339;
use super::time::Millis;

/// What a caller may do (ordered: every role can do what the roles below it can).
///
/// | role | may |
/// |---|---|
/// | `viewer` | read: every GET route, the event stream, metrics, the dashboard, MCP read tools, resources, prompts |
/// | `agent` | viewer + add tasks without an `executor`, claim, heartbeat, complete, fail, release, reset a failed task, write context, hold worker slots, wait, call gateway tools |
/// | `admin` | everything: executor tasks, cancel, downstream server restart/reset, tokens, and acting on any lease |
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything: tasks, events, slots, servers, metrics.
    Viewer,
    /// Works tasks: claims, heartbeats, completes, fails, resets failed ones; and
    /// reads.
    Agent,
    /// Everything: executor tasks, cancel, delete, servers, tokens.
    Admin,
}

impl Role {
    /// Lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }

    /// Parse a wire name (`viewer`, `agent`, `admin`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Role::Viewer),
            "agent" => Some(Role::Agent),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who performs an operation on the board: the name of the access token
/// (or JWT subject) that authenticated the request, and its role. In-process
/// callers and unauthenticated requests while `auth.required` is false act
/// as [`Principal::local`] (no name, admin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Token name or JWT `sub`; `None` for the local, unauthenticated caller.
    pub name: Option<String>,
    /// What it may do.
    pub role: Role,
}

impl Default for Principal {
    fn default() -> Self {
        Self::local()
    }
}

impl Principal {
    /// The in-process (or unauthenticated, auth not required) caller: admin, no name.
    pub fn local() -> Self {
        Self {
            name: None,
            role: Role::Admin,
        }
    }

    /// A named caller.
    pub fn named(name: impl Into<String>, role: Role) -> Self {
        Self {
            name: Some(name.into()),
            role,
        }
    }

    /// Whether this caller may act under a lease created by `owner`: its own
    /// leases, or any lease for an admin.
    pub fn may_act_on(&self, owner: Option<&str>) -> bool {
        self.role == Role::Admin || (self.name.is_some() && self.name.as_deref() == owner)
    }
}

/// An access token as stored (`k/` key space): never the secret, only its
/// SHA-256. Created by `baton token create` or `POST /api/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccessToken {
    /// Unique name: the actor recorded in the audit log for every change it makes.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// SHA-256 of the secret, lowercase hex (64 characters).
    #[schema(ignore)]
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    /// When the token was created (ms since the Unix epoch; RFC 3339 on the wire).
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Millis,
    /// Who created it (a token name), when created over the API by a named caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}
