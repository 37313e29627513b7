//! `/api/v1/tokens`: access tokens on a running server (admins only; the
//! route table says so). The secret is in the creation reply only.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{json_body, Acting, ApiError};
use crate::api::tasks::ErrorBody;
use crate::auth::tokens::CreatedToken;
use crate::auth::Auth;
use crate::error::Error;
use crate::model::{AccessToken, Role};

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Unique name, 1..=64 of `[A-Za-z0-9._-]`: the actor in the audit log.
    pub name: String,
    /// `viewer`, `agent` or `admin`.
    pub role: Option<Role>,
}

/// Every token (no secrets).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    /// Every access token, ordered by name; hashes and secrets are never shown.
    pub tokens: Vec<AccessToken>,
}

/// Create a token; the reply carries its secret, shown only this once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, body = CreatedToken, description = "the token, with its secret (shown only here)"),
              (status = 409, body = ErrorBody, description = "a token of that name exists (`token_exists`)"),
              (status = 422, body = ErrorBody, description = "an invalid name or role, named in `field`")))]
pub(crate) async fn create_token(
    board: Acting,
    auth: web::Data<Auth>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: NewToken = json_body(&board, payload, false).await?;
    let role = body.role.ok_or_else(|| ApiError::Unprocessable {
        message: "invalid body: missing field `role` (viewer, agent or admin)".into(),
    })?;
    let created = auth
        .tokens()
        .create(&body.name, role, board.actor().name.clone())
        .await
        .map_err(Error::from)?;
    Ok(HttpResponse::Created().json(created))
}

/// Every token, by name (no secrets, no hashes).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, body = TokenList, description = "every token, without secrets")))]
pub(crate) async fn list_tokens(auth: web::Data<Auth>) -> HttpResponse {
    HttpResponse::Ok().json(TokenList {
        tokens: auth.tokens().list(),
    })
}

/// Revoke a token: refused from its next request on.
#[utoipa::path(delete, path = "/api/v1/tokens/{name}", tag = "tokens",
    params(("name" = String, Path, description = "token name")),
    responses((status = 200, body = AccessToken, description = "the revoked token"),
              (status = 404, body = ErrorBody, description = "no token of that name (`token_not_found`)")))]
pub(crate) async fn revoke_token(
    auth: web::Data<Auth>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let revoked = auth.tokens().revoke(&name).await.map_err(Error::from)?;
    Ok(HttpResponse::Ok().json(revoked))
}
