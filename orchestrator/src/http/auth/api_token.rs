//! API tokens for `/api/v1`: created and revoked in the UI, shown once, stored as sha256.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sea_orm::ActiveValue::Set;
use sea_orm::QueryOrder;
use sea_orm::prelude::*;

use super::{random_token, sha256_hex};
use crate::db::entities::api_token;
use crate::db::now_ms;
use crate::http::api::error::ApiError;
use crate::http::state::Web;

/// Every token starts with this, so a leaked one is recognizable (secret scanners, logs).
pub const PREFIX: &str = "bko_";

/// Creates a token called `name`; returns its row and the token itself (shown once).
pub async fn create(db: &DatabaseConnection, name: &str, by: &str) -> Result<(api_token::Model, String), DbErr> {
    let token = format!("{PREFIX}{}", random_token(32));
    let row = api_token::ActiveModel {
        name: Set(name.to_owned()),
        token_hash: Set(sha256_hex(&token)),
        prefix: Set(token[..PREFIX.len() + 6].to_owned()),
        created_by: Set(by.to_owned()),
        created_at: Set(now_ms()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok((row, token))
}

/// Every token, newest first.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<api_token::Model>, DbErr> {
    api_token::Entity::find().order_by_desc(api_token::Column::Id).all(db).await
}

/// Revokes a token; returns it, or `None` when there is no such token.
pub async fn revoke(db: &DatabaseConnection, id: i64) -> Result<Option<api_token::Model>, DbErr> {
    let Some(row) = api_token::Entity::find_by_id(id).one(db).await? else { return Ok(None) };
    let mut active: api_token::ActiveModel = row.clone().into();
    active.revoked_at = Set(Some(now_ms()));
    active.update(db).await.map(Some)
}

/// A caller of the API holding a valid token.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    /// `api:<token name>`, for the audit log.
    pub actor: String,
}

impl FromRequestParts<Web> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Self::Rejection> {
        let unauthorized = |m: &str| ApiError::Unauthorized(m.to_owned());
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("send an API token: Authorization: Bearer bko_..."))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthorized("the Authorization header must be \"Bearer <token>\""))?;
        let row = api_token::Entity::find()
            .filter(api_token::Column::TokenHash.eq(sha256_hex(token)))
            .one(&web.ctx.db)
            .await
            .map_err(ApiError::from)?
            .filter(|r| r.revoked_at.is_none())
            .ok_or_else(|| unauthorized("this API token is unknown or revoked: create one on the API tokens page"))?;
        // Last use is informative; a minute's precision spares a write per request.
        let now = now_ms();
        if row.last_used_at.is_none_or(|t| now - t > 60_000) {
            let mut active: api_token::ActiveModel = row.clone().into();
            active.last_used_at = Set(Some(now));
            let _ = active.update(&web.ctx.db).await;
        }
        Ok(ApiCaller { actor: format!("api:{}", row.name) })
    }
}
