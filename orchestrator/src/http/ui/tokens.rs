//! API tokens: create (shown once), list, revoke. Everyone makes tokens for themselves, with a
//! role no higher than their own; an admin sees and revokes everyone's.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::http::auth::api_token::{self, NewToken};
use crate::http::error::PageError;
use crate::http::extract::{CheckedForm, NoFields};
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::{Page, render};
use crate::users::Role;

/// A token, ready to show (never the token itself).
pub struct TokenRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Who it acts for.
    pub owner: String,
    /// Its role.
    pub role: String,
    /// First characters.
    pub prefix: String,
    /// Created.
    pub created: String,
    /// Last used.
    pub last_used: String,
    /// When it expires ("" = never).
    pub expires: String,
    /// Revoked or expired.
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    page: Page,
    tokens: Vec<TokenRow>,
    roles: Vec<&'static str>,
    created: Option<(String, String)>,
    error: Option<String>,
}

async fn tokens_page(
    web: &Web,
    page: Page,
    created: Option<(String, String)>,
    error: Option<String>,
) -> Result<Html<String>, PageError> {
    let owner = (page.signed.role < Role::Admin).then_some(page.user.as_str());
    let now = crate::db::now_ms();
    let tokens = api_token::list(&web.ctx.db, owner)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            owner: t.owner.clone().unwrap_or(t.created_by),
            name: t.name,
            role: t.role,
            prefix: t.prefix,
            created: format::time(t.created_at),
            last_used: t.last_used_at.map(format::time).unwrap_or_default(),
            expires: t.expires_at.map(format::time).unwrap_or_default(),
            revoked: t.revoked_at.is_some() || t.expires_at.is_some_and(|at| at <= now),
        })
        .collect();
    let roles = Role::ALL.into_iter().filter(|r| page.signed.role.allows(*r)).map(Role::as_str).collect();
    render(&TokensPage { page, tokens, roles, created, error })
}

/// GET /tokens.
pub async fn page(State(web): State<Web>, page: Page) -> Result<Html<String>, PageError> {
    tokens_page(&web, page, None, None).await
}

/// The create-token form.
#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    expires_in: String,
    #[serde(default)]
    confirms: Option<String>,
}

/// POST /tokens.
pub async fn create(
    State(web): State<Web>,
    page: Page,
    CheckedForm(form): CheckedForm<CreateForm>,
) -> Result<Response, PageError> {
    let mut problems = Vec::new();
    let role = match form.role.trim() {
        "" => page.signed.role,
        given => crate::users::check_role(given).unwrap_or_else(|e| {
            problems.push(e);
            page.signed.role
        }),
    };
    let expires_in = match form.expires_in.trim() {
        "" => None,
        given => api_token::parse_expiry(given).map_err(|e| problems.push(e)).ok(),
    };
    if let Err(errors) = api_token::check(&form.name, role, page.signed.role) {
        problems.extend(errors);
    }
    if !problems.is_empty() {
        let said: Vec<String> = problems.iter().map(|p| page.t.msg(&p.msg)).collect();
        let error = Some(said.join(" "));
        return Ok(
            (axum::http::StatusCode::UNPROCESSABLE_ENTITY, tokens_page(&web, page, None, error).await?).into_response()
        );
    }
    let new =
        NewToken { name: form.name, owner: page.user.clone(), role, expires_in, confirms: form.confirms.is_some() };
    let (row, token) = api_token::create(&web.ctx.db, &new, &page.user).await?;
    let detail = crate::catalogue::Msg::new("audit_detail.token_role").with("role", role);
    crate::audit::record_said(&web.ctx.db, &page.user, "token.create", Some(&row.name), &detail).await;
    Ok(tokens_page(&web, page, Some((row.name, token)), None).await?.into_response())
}

/// POST /tokens/{id}/revoke: one's own, or anyone's for an admin.
pub async fn revoke(
    State(web): State<Web>,
    page: Page,
    Path(id): Path<i64>,
    _: CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    let not_found = || PageError::NotFound(crate::catalogue::Msg::new("missing.token").with("id", id).into());
    let owner = (page.signed.role < Role::Admin).then_some(page.user.as_str());
    let row = api_token::revoke(&web.ctx.db, id, owner).await?.ok_or_else(not_found)?;
    crate::audit::record(&web.ctx.db, &page.user, "token.revoke", Some(&row.name), None).await;
    Ok(Redirect::to("/tokens").into_response())
}
