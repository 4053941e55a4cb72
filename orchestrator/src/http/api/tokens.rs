//! `/api/v1/tokens`: API tokens for the caller's user (an admin's list holds everyone's). A new
//! token's role is at most the caller's, and it is shown once.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::db::entities::api_token as row;
use crate::http::api::apps::JsonBody;
use crate::http::api::error::ApiError;
use crate::http::auth::api_token::{self, ApiCaller, NewToken};
use crate::http::format::rfc3339;
use crate::http::state::Web;
use crate::users::Role;

/// A token to make.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// What it is for: 1 to 100 characters.
    pub name: String,
    /// viewer | operator | restorer | admin: at most the caller's (default: the caller's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// How long it lasts: 90m, 12h, 30d, 8w (at most 400 days; default: until revoked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
    /// May confirm dangerous actions without the owner's password (default false).
    #[serde(default)]
    pub confirms: bool,
}

/// A token (never the token itself, but when it is made).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TokenView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// The user it acts for.
    pub owner: String,
    /// Its role.
    pub role: String,
    /// Its first characters.
    pub prefix: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, or none.
    pub last_used_at: Option<String>,
    /// RFC 3339, or none (until revoked).
    pub expires_at: Option<String>,
    /// RFC 3339, or none.
    pub revoked_at: Option<String>,
    /// May confirm dangerous actions.
    pub confirms: bool,
    /// The token itself: only in the answer that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

fn view(t: row::Model, token: Option<String>) -> TokenView {
    TokenView {
        id: t.id,
        owner: t.owner.unwrap_or(t.created_by),
        name: t.name,
        role: t.role,
        prefix: t.prefix,
        created_at: rfc3339(t.created_at),
        last_used_at: t.last_used_at.map(rfc3339),
        expires_at: t.expires_at.map(rfc3339),
        revoked_at: t.revoked_at.map(rfc3339),
        confirms: t.confirms,
        token,
    }
}

fn whose(c: &ApiCaller) -> Option<&str> {
    (c.role < Role::Admin).then_some(c.user.as_str())
}

/// GET /api/v1/tokens.
pub async fn list(State(web): State<Web>, c: ApiCaller) -> Result<Json<Vec<TokenView>>, ApiError> {
    let rows = api_token::list(&web.ctx.db, whose(&c)).await?;
    Ok(Json(rows.into_iter().map(|t| view(t, None)).collect()))
}

/// POST /api/v1/tokens: for the caller's user.
pub async fn create(
    State(web): State<Web>,
    c: ApiCaller,
    JsonBody(body): JsonBody<TokenBody>,
) -> Result<Response, ApiError> {
    let mut problems = Vec::new();
    let role = match body.role.as_deref() {
        None => c.role,
        Some(given) => crate::users::check_role(given).unwrap_or_else(|e| {
            problems.push(e);
            c.role
        }),
    };
    let expires_in =
        body.expires_in.as_deref().and_then(|e| api_token::parse_expiry(e).map_err(|e| problems.push(e)).ok());
    if let Err(errors) = api_token::check(&body.name, role, c.role) {
        problems.extend(errors);
    }
    // A token cannot hand out the right to confirm that it does not have itself.
    if body.confirms && !c.confirms {
        problems.push(crate::registry::input::FieldError::new(
            "confirms",
            crate::catalogue::Msg::new("field.token.confirms_not_held"),
        ));
    }
    if !problems.is_empty() {
        return Err(ApiError::Invalid(problems));
    }
    let new = NewToken { name: body.name, owner: c.user.clone(), role, expires_in, confirms: body.confirms };
    let (row, token) = api_token::create(&web.ctx.db, &new, &c.actor).await?;
    let detail = crate::catalogue::Msg::new("audit_detail.token_role").with("role", role);
    crate::audit::record_said(&web.ctx.db, &c.actor, "token.create", Some(&row.name), &detail).await;
    Ok((StatusCode::CREATED, Json(view(row, Some(token)))).into_response())
}

/// DELETE /api/v1/tokens/{id}: one of the caller's (an admin: anyone's).
pub async fn revoke(State(web): State<Web>, c: ApiCaller, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    let not_found = || ApiError::NotFound(format!("there is no token {id}"));
    let row = api_token::revoke(&web.ctx.db, id, whose(&c)).await?.ok_or_else(not_found)?;
    crate::audit::record(&web.ctx.db, &c.actor, "token.revoke", Some(&row.name), None).await;
    Ok(StatusCode::NO_CONTENT)
}
