//! API tokens: create (shown once), list, revoke.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::http::auth::api_token;
use crate::http::error::PageError;
use crate::http::extract::{CheckedForm, NoFields};
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::{Page, render};

/// A token, ready to show (never the token itself).
pub struct TokenRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// First characters.
    pub prefix: String,
    /// Created.
    pub created: String,
    /// Last used.
    pub last_used: String,
    /// Revoked.
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    page: Page,
    tokens: Vec<TokenRow>,
    created: Option<(String, String)>,
    error: Option<String>,
}

async fn tokens_page(
    web: &Web,
    page: Page,
    created: Option<(String, String)>,
    error: Option<String>,
) -> Result<Html<String>, PageError> {
    let tokens = api_token::list(&web.ctx.db)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created: format::time(t.created_at),
            last_used: t.last_used_at.map(format::time).unwrap_or_default(),
            revoked: t.revoked_at.is_some(),
        })
        .collect();
    render(&TokensPage { page, tokens, created, error })
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
}

/// POST /tokens.
pub async fn create(
    State(web): State<Web>,
    page: Page,
    CheckedForm(form): CheckedForm<CreateForm>,
) -> Result<Response, PageError> {
    let name = form.name.trim();
    if name.is_empty() || name.len() > 64 {
        let error = Some(page.t.get("tokens.name_required").to_owned());
        return Ok(
            (axum::http::StatusCode::UNPROCESSABLE_ENTITY, tokens_page(&web, page, None, error).await?).into_response()
        );
    }
    let (row, token) = api_token::create(&web.ctx.db, name, &page.user).await?;
    crate::audit::record(&web.ctx.db, &page.user, "token.create", Some(&row.name), None).await;
    Ok(tokens_page(&web, page, Some((row.name, token)), None).await?.into_response())
}

/// POST /tokens/{id}/revoke.
pub async fn revoke(
    State(web): State<Web>,
    page: Page,
    Path(id): Path<i64>,
    _: CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    let row = api_token::revoke(&web.ctx.db, id).await?.ok_or_else(|| PageError::NotFound(format!("no token {id}")))?;
    crate::audit::record(&web.ctx.db, &page.user, "token.revoke", Some(&row.name), None).await;
    Ok(Redirect::to("/tokens").into_response())
}
