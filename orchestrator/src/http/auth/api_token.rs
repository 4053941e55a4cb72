//! API tokens for `/api/v1`: created and revoked in the UI, the API or the command line, shown
//! once, stored as sha256. A token acts for its owner with its own role, never more than the
//! owner may do now: an owner removed or lowered takes their tokens down with them, at once.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sea_orm::ActiveValue::Set;
use sea_orm::QueryOrder;
use sea_orm::prelude::*;

use super::{random_token, sha256_hex};
use crate::catalogue::{Lang, Msg};
use crate::db::entities::api_token;
use crate::db::now_ms;
use crate::http::access::Need;
use crate::http::api::error::ApiError;
use crate::http::auth::session::allowed;
use crate::http::state::Web;
use crate::registry::input::FieldError;
use crate::users::Role;

/// Every token starts with this, so a leaked one is recognizable (secret scanners, logs).
pub const PREFIX: &str = "bko_";

/// A token to make.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// What it is for.
    pub name: String,
    /// Who it acts for.
    pub owner: String,
    /// Its role (at most the owner's).
    pub role: Role,
    /// How long it lasts; `None` = until revoked.
    pub expires_in: Option<std::time::Duration>,
    /// May confirm dangerous actions without the owner's password.
    pub confirms: bool,
}

/// The longest a token may be set to last: 400 days.
pub const LONGEST: std::time::Duration = std::time::Duration::from_secs(400 * 24 * 3600);

/// Parses a lifetime: `30d`, `12h`, `90m` (a number and a unit: m, h, d, w).
pub fn parse_expiry(text: &str) -> Result<std::time::Duration, FieldError> {
    let text = text.trim();
    let invalid = || FieldError::new("expires_in", Msg::new("field.token.expiry_invalid"));
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(invalid)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let seconds = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(invalid()),
    };
    let lasts = std::time::Duration::from_secs(number.saturating_mul(seconds));
    if number == 0 || lasts > LONGEST {
        return Err(invalid());
    }
    Ok(lasts)
}

/// Checks a token's fields: its name, and a role no higher than its owner's (`owner_role`).
pub fn check(name: &str, role: Role, owner_role: Role) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let name_ok = !name.trim().is_empty() && name.len() <= 100 && !name.chars().any(char::is_control);
    if !name_ok {
        errors.push(FieldError::new("name", Msg::new("field.token.name_invalid")));
    }
    if !owner_role.allows(role) {
        errors.push(FieldError::new("role", Msg::new("field.token.role_above_owner").with("role", owner_role)));
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// Creates a token; returns its row and the token itself (shown once). The caller checked it.
pub async fn create(db: &DatabaseConnection, new: &NewToken, by: &str) -> Result<(api_token::Model, String), DbErr> {
    let token = format!("{PREFIX}{}", random_token(32));
    let now = now_ms();
    let row = api_token::ActiveModel {
        name: Set(new.name.trim().to_owned()),
        token_hash: Set(sha256_hex(&token)),
        prefix: Set(token[..PREFIX.len() + 6].to_owned()),
        created_by: Set(by.to_owned()),
        created_at: Set(now),
        owner: Set(Some(new.owner.clone())),
        role: Set(new.role.as_str().to_owned()),
        expires_at: Set(new.expires_in.map(|d| now + d.as_millis() as i64)),
        confirms: Set(new.confirms),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok((row, token))
}

/// Every token, newest first; only `owner`'s when given.
pub async fn list(db: &DatabaseConnection, owner: Option<&str>) -> Result<Vec<api_token::Model>, DbErr> {
    let mut query = api_token::Entity::find().order_by_desc(api_token::Column::Id);
    if let Some(owner) = owner {
        query = query.filter(api_token::Column::Owner.eq(owner));
    }
    query.all(db).await
}

/// Revokes a token, only `owner`'s when given; returns it, or `None` when there is no such token
/// (of theirs).
pub async fn revoke(db: &DatabaseConnection, id: i64, owner: Option<&str>) -> Result<Option<api_token::Model>, DbErr> {
    let mut query = api_token::Entity::find_by_id(id);
    if let Some(owner) = owner {
        query = query.filter(api_token::Column::Owner.eq(owner));
    }
    let Some(row) = query.one(db).await? else { return Ok(None) };
    let mut active: api_token::ActiveModel = row.clone().into();
    active.revoked_at = Set(Some(now_ms()));
    active.update(db).await.map(Some)
}

/// A caller of the API holding a valid token.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    /// `<owner> (api:<token name>)`, for the audit log.
    pub actor: String,
    /// The user the token acts for.
    pub user: String,
    /// What it may do now: the lower of its role and its owner's.
    pub role: Role,
    /// May confirm dangerous actions without the owner's password.
    pub confirms: bool,
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
        let now = now_ms();
        if row.expires_at.is_some_and(|at| at <= now) {
            return Err(unauthorized("this API token has expired: create a new one on the API tokens page"));
        }
        // Tokens made on the command line before users existed act for the first admin.
        let owner = row.owner.clone().unwrap_or_else(|| web.settings.admin_user.clone());
        let owner_role =
            crate::users::role_of(&web.ctx.db, &owner).await.map_err(ApiError::from)?.ok_or_else(|| {
                unauthorized("this API token's owner no longer exists: create one on the API tokens page")
            })?;
        let role = Role::parse(&row.role).unwrap_or(Role::Viewer).min(owner_role);
        if let Err(refused) = allowed(parts.extensions.get::<Need>(), role) {
            return Err(ApiError::Forbidden(refused.render(Lang::accepted(&parts.headers))));
        }
        // Last use is informative; a minute's precision spares a write per request.
        if row.last_used_at.is_none_or(|t| now - t > 60_000) {
            let mut active: api_token::ActiveModel = row.clone().into();
            active.last_used_at = Set(Some(now));
            let _ = active.update(&web.ctx.db).await;
        }
        Ok(ApiCaller { actor: format!("{owner} (api:{})", row.name), user: owner, role, confirms: row.confirms })
    }
}

/// The header a dangerous API call carries its owner's password in, unless its token may confirm.
pub const CONFIRM_HEADER: &str = "x-confirm-password";

impl ApiCaller {
    /// Lets a dangerous action go ahead: when the token may confirm, or when the request carries
    /// the owner's password in `X-Confirm-Password` (throttled like sign-in).
    pub async fn confirm(&self, web: &Web, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
        if self.confirms {
            return Ok(());
        }
        let lang = Lang::accepted(headers);
        let refused = || ApiError::Forbidden(Msg::new("access.confirm").render(lang));
        let password = headers.get(CONFIRM_HEADER).and_then(|v| v.to_str().ok()).ok_or_else(refused)?;
        let attempt = web.throttle.begin(vec![format!("recheck:{}", self.user)]).map_err(|wait| {
            ApiError::Forbidden(Msg::new("access.throttled").with("seconds", wait.as_secs().max(1)).render(lang))
        })?;
        let secret = secrecy::SecretString::from(password.to_owned());
        match crate::users::verify(&web.ctx.db, &self.user, secret).await? {
            Some(Some(_)) => {
                attempt.succeeded(&self.user);
                Ok(())
            }
            Some(None) => {
                attempt.failed(&self.user);
                Err(refused())
            }
            None => Err(ApiError::Forbidden(Msg::new("access.busy").render(lang))),
        }
    }
}
