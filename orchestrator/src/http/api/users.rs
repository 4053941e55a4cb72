//! `/api/v1/users`: the people who sign in (admins only). Passwords are write-only; removing a
//! user is a dangerous action (the token must be allowed to confirm, or the request carry the
//! caller's password in `X-Confirm-Password`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use schemars::JsonSchema;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::db::entities::user;
use crate::http::api::apps::JsonBody;
use crate::http::api::error::ApiError;
use crate::http::auth::api_token::ApiCaller;
use crate::http::format::rfc3339;
use crate::http::state::Web;
use crate::users::{self, NewUser, UserError};

/// A user to add, or the fields of one to change (a field left out keeps its value).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    /// The name they sign in with: 1 to 64 letters, digits, `.`, `_`, `-` or `@`. Only when adding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// viewer | operator | restorer | admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// en | es | "" (their browser's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// How the identity provider names them ("" = none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// At least 8 characters; write-only. A change ends their sessions.
    #[serde(default, skip_serializing)]
    #[schemars(with = "Option<String>")]
    pub password: Option<SecretString>,
}

/// A user (never their password).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UserView {
    /// Sign-in name.
    pub name: String,
    /// viewer | operator | restorer | admin.
    pub role: String,
    /// en | es, or none (their browser's).
    pub language: Option<String>,
    /// Their e-mail, or none.
    pub email: Option<String>,
    /// Whether they have a password (otherwise they sign in through the identity provider).
    pub password_set: bool,
    /// RFC 3339.
    pub created_at: String,
}

fn view(u: user::Model) -> UserView {
    UserView {
        name: u.name,
        role: u.role,
        language: u.language,
        email: u.email,
        password_set: u.password_hash.is_some(),
        created_at: rfc3339(u.created_at),
    }
}

fn refused(e: UserError, name: &str) -> ApiError {
    match e {
        UserError::Invalid(errors) => ApiError::Invalid(errors),
        UserError::NotFound => ApiError::NotFound(format!("there is no user named {name}")),
        UserError::Db(e) => e.into(),
    }
}

/// GET /api/v1/users.
pub async fn list(State(web): State<Web>, _c: ApiCaller) -> Result<Json<Vec<UserView>>, ApiError> {
    Ok(Json(users::list(&web.ctx.db).await?.into_iter().map(view).collect()))
}

/// GET /api/v1/users/{name}.
pub async fn show(State(web): State<Web>, _c: ApiCaller, Path(name): Path<String>) -> Result<Json<UserView>, ApiError> {
    let found = users::find(&web.ctx.db, &name).await?;
    found.map(|u| Json(view(u))).ok_or_else(|| refused(UserError::NotFound, &name))
}

/// POST /api/v1/users.
pub async fn create(
    State(web): State<Web>,
    c: ApiCaller,
    JsonBody(body): JsonBody<UserBody>,
) -> Result<Response, ApiError> {
    let name = body.name.unwrap_or_default();
    let new = NewUser {
        name: name.clone(),
        role: body.role.unwrap_or_default(),
        language: body.language.unwrap_or_default(),
        email: body.email.unwrap_or_default(),
        password: body.password,
    };
    let row = users::add(&web.ctx.db, new, &c.actor, &web.settings.admin_user).await.map_err(|e| refused(e, &name))?;
    crate::audit::record(&web.ctx.db, &c.actor, "user.add", Some(&row.name), Some(&row.role)).await;
    Ok((StatusCode::CREATED, Json(view(row))).into_response())
}

/// PATCH /api/v1/users/{name}.
pub async fn update(
    State(web): State<Web>,
    c: ApiCaller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<UserBody>,
) -> Result<Json<UserView>, ApiError> {
    if body.name.as_deref().is_some_and(|n| n != name) {
        let error = crate::registry::input::FieldError::new("name", crate::catalogue::Msg::new("field.user.rename"));
        return Err(ApiError::Invalid(vec![error]));
    }
    let first_admin = &web.settings.admin_user;
    let row = users::update(
        &web.ctx.db,
        &name,
        body.role.as_deref(),
        body.language.as_deref(),
        body.email.as_deref(),
        first_admin,
    )
    .await
    .map_err(|e| refused(e, &name))?;
    if let Some(password) = body.password {
        users::set_password(&web.ctx.db, &name, password, None).await.map_err(|e| refused(e, &name))?;
        crate::audit::record(&web.ctx.db, &c.actor, "user.password", Some(&name), None).await;
    }
    crate::audit::record(&web.ctx.db, &c.actor, "user.update", Some(&name), Some(&row.role)).await;
    let row = users::find(&web.ctx.db, &name).await?.unwrap_or(row);
    Ok(Json(view(row)))
}

/// DELETE /api/v1/users/{name}: their sessions end and their tokens are revoked.
pub async fn remove(
    State(web): State<Web>,
    c: ApiCaller,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    c.confirm(&web, &headers).await?;
    users::remove(&web.ctx.db, &name, &web.settings.admin_user).await.map_err(|e| refused(e, &name))?;
    crate::audit::record(&web.ctx.db, &c.actor, "user.remove", Some(&name), None).await;
    Ok(StatusCode::NO_CONTENT)
}
