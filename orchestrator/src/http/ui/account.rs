//! **Your account**: your sessions (end any of them), your password (changing it ends your other
//! sessions) and your language.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use sea_orm::QueryOrder;
use sea_orm::prelude::*;
use secrecy::SecretString;
use serde::Deserialize;

use crate::db::entities::session;
use crate::http::error::PageError;
use crate::http::extract::CheckedForm;
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::copies::recheck_password;
use crate::http::ui::{Page, render};

/// A session, as its owner sees it.
pub struct SessionRow {
    /// Its id's first characters (in the revoke address).
    pub id: String,
    /// Opened.
    pub created: String,
    /// Last used.
    pub last_seen: String,
    /// From where.
    pub source: String,
    /// This browser's.
    pub current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    page: Page,
    sessions: Vec<SessionRow>,
    language: String,
    message: Option<String>,
    error: Option<String>,
}

/// The length of a session id's prefix shown and used to end it: enough to tell them apart,
/// never enough to be the session.
const SHOWN: usize = 12;

async fn account_page(
    web: &Web,
    page: Page,
    message: Option<String>,
    error: Option<String>,
) -> Result<Html<String>, PageError> {
    let now = crate::db::now_ms();
    let rows = session::Entity::find()
        .filter(session::Column::Username.eq(page.user.as_str()))
        .filter(session::Column::ExpiresAt.gt(now))
        .order_by_desc(session::Column::CreatedAt)
        .all(&web.ctx.db)
        .await?;
    let sessions = rows
        .into_iter()
        .map(|s| SessionRow {
            id: s.id[..SHOWN].to_owned(),
            created: format::time(s.created_at),
            last_seen: format::time(s.last_seen_at.unwrap_or(s.created_at)),
            source: s.source.unwrap_or_default(),
            current: s.id == page.signed.id,
        })
        .collect();
    let language = crate::users::find(&web.ctx.db, &page.user).await?.and_then(|u| u.language).unwrap_or_default();
    render(&AccountPage { page, sessions, language, message, error })
}

/// The account page again, saying why a change was refused.
async fn refused(web: &Web, page: Page, e: crate::users::UserError) -> Result<Response, PageError> {
    match e {
        crate::users::UserError::Invalid(errors) => {
            let error = Some(errors.iter().map(|e| page.t.msg(&e.msg)).collect::<Vec<_>>().join(" "));
            Ok((StatusCode::UNPROCESSABLE_ENTITY, account_page(web, page, None, error).await?).into_response())
        }
        crate::users::UserError::NotFound => {
            Err(PageError::NotFound(crate::catalogue::Msg::new("field.user.not_found").into()))
        }
        crate::users::UserError::Db(e) => Err(e.into()),
    }
}

/// GET /account.
pub async fn page(State(web): State<Web>, page: Page) -> Result<Html<String>, PageError> {
    account_page(&web, page, None, None).await
}

/// The change-password form.
#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: SecretString,
    #[serde(default)]
    new: SecretString,
    #[serde(default)]
    again: SecretString,
}

/// POST /account/password: the current password, then the new one twice.
pub async fn password(
    State(web): State<Web>,
    page: Page,
    CheckedForm(form): CheckedForm<PasswordForm>,
) -> Result<Response, PageError> {
    use secrecy::ExposeSecret;
    if let Err(error) = recheck_password(&web, &page, form.current).await {
        return Ok((StatusCode::FORBIDDEN, account_page(&web, page, None, Some(error)).await?).into_response());
    }
    if form.new.expose_secret() != form.again.expose_secret() {
        let error = Some(page.t.get("account.passwords_differ").to_owned());
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, account_page(&web, page, None, error).await?).into_response());
    }
    let keep = page.signed.id.clone();
    match crate::users::set_password(&web.ctx.db, &page.user, form.new, Some(&keep)).await {
        Ok(()) => {
            crate::audit::record(&web.ctx.db, &page.user, "user.password", Some(&page.user), None).await;
            let message = Some(page.t.get("account.password_changed").to_owned());
            Ok(account_page(&web, page, message, None).await?.into_response())
        }
        Err(e) => refused(&web, page, e).await,
    }
}

/// The language form.
#[derive(Deserialize)]
pub struct LanguageForm {
    #[serde(default)]
    language: String,
}

/// POST /account/language.
pub async fn language(
    State(web): State<Web>,
    page: Page,
    CheckedForm(form): CheckedForm<LanguageForm>,
) -> Result<Response, PageError> {
    let first_admin = web.settings.admin_user.clone();
    match crate::users::update(&web.ctx.db, &page.user, None, Some(&form.language), None, &first_admin).await {
        Ok(_) => Ok(Redirect::to("/account").into_response()),
        Err(e) => refused(&web, page, e).await,
    }
}

/// POST /account/sessions/{id}/revoke: one of one's own sessions ends.
pub async fn revoke(
    State(web): State<Web>,
    page: Page,
    Path(id): Path<String>,
    _: CheckedForm<crate::http::extract::NoFields>,
) -> Result<Response, PageError> {
    if id.len() != SHOWN || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(PageError::NotFound(crate::catalogue::Msg::new("missing.session").into()));
    }
    let ended = session::Entity::delete_many()
        .filter(session::Column::Username.eq(page.user.as_str()))
        .filter(session::Column::Id.starts_with(id.as_str()))
        .exec(&web.ctx.db)
        .await?;
    if ended.rows_affected == 0 {
        return Err(PageError::NotFound(crate::catalogue::Msg::new("missing.session").into()));
    }
    crate::audit::record(&web.ctx.db, &page.user, "session.revoke", Some(&page.user), None).await;
    Ok(Redirect::to("/account").into_response())
}
