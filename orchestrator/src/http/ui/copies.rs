//! One stored copy: download it (streamed from the destination through the orchestrator, no
//! temporary file), delete it (password again), restore it into the app (type the app's name and
//! the password; a safety backup first unless the operator opts out).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use secrecy::SecretString;
use serde::Deserialize;

use crate::backup::copies;
use crate::http::error::PageError;
use crate::http::extract::CheckedForm;
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::{Page, render};
use crate::registry::App;
use crate::storage::destination::StoredFile;

async fn load(web: &Web, name: &str, copy: &str) -> Result<(App, StoredFile), PageError> {
    let app = web.ctx.registry.get(name).await?;
    let file = copies::find(&web.ctx.runner, &app, copy).await?.ok_or_else(|| {
        PageError::NotFound(crate::catalogue::Msg::new("missing.copy").with("app", name).with("copy", copy).into())
    })?;
    Ok((app, file))
}

/// GET /apps/{name}/copies/{copy}/download.
pub async fn download(
    State(web): State<Web>,
    page: Page,
    Path((name, copy)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<crate::http::download::DownloadQuery>,
) -> Result<Response, PageError> {
    let plain = query.plain()?;
    let (app, file) = load(&web, &name, &copy).await?;
    crate::audit::record(&web.ctx.db, &page.user, "copy.download", Some(&app.name), Some(&file.name)).await;
    Ok(crate::http::download::response(&web, &app, &file, plain).await?)
}

#[derive(Template)]
#[template(path = "copy_delete.html")]
struct DeletePage {
    page: Page,
    app: String,
    app_href: String,
    copy: String,
    copy_href: String,
    error: Option<String>,
}

/// GET /apps/{name}/copies/{copy}/delete.
pub async fn confirm_delete(
    State(web): State<Web>,
    page: Page,
    Path((name, copy)): Path<(String, String)>,
) -> Result<Html<String>, PageError> {
    let (app, file) = load(&web, &name, &copy).await?;
    render(&DeletePage {
        page,
        app_href: format::url_encode(&app.name),
        app: app.name,
        copy_href: format::url_encode(&file.name),
        copy: file.name,
        error: None,
    })
}

/// A form confirmed with the password.
#[derive(Deserialize)]
pub struct PasswordForm {
    password: SecretString,
}

/// Checks that the signed-in user is who they say, again, before a dangerous action: their
/// password (throttled like sign-in), or, for a user who signs in only through the identity
/// provider, a sign-in made in the last five minutes.
pub async fn recheck_password(web: &Web, page: &Page, password: SecretString) -> Result<(), String> {
    use secrecy::ExposeSecret;
    if password.expose_secret().is_empty() {
        let user = crate::users::find(&web.ctx.db, &page.user).await.ok().flatten();
        let sso_only = user.is_some_and(|u| u.password_hash.is_none());
        let recent = crate::db::now_ms() - page.signed.confirmed_at <= crate::users::SSO_CONFIRM_MS;
        return if sso_only && recent { Ok(()) } else { Err(page.t.get("confirm.wrong_password").to_owned()) };
    }
    // Only the signed-in user can make these attempts: their own lock is theirs alone.
    let attempt = web
        .throttle
        .begin(vec![format!("recheck:{}", page.user)])
        .map_err(|wait| page.t.fill("login.throttled", &[("seconds", &wait.as_secs().max(1).to_string())]))?;
    let verified = crate::users::verify(&web.ctx.db, &page.user, password).await.ok().flatten();
    match verified.map(|user| user.is_some()) {
        Some(true) => {
            attempt.succeeded(&page.user);
            Ok(())
        }
        Some(false) => {
            attempt.failed(&page.user);
            Err(page.t.get("confirm.wrong_password").to_owned())
        }
        None => Err(page.t.get("login.busy").to_owned()),
    }
}

/// POST /apps/{name}/copies/{copy}/delete.
pub async fn delete(
    State(web): State<Web>,
    page: Page,
    Path((name, copy)): Path<(String, String)>,
    CheckedForm(form): CheckedForm<PasswordForm>,
) -> Result<Response, PageError> {
    let (app, file) = load(&web, &name, &copy).await?;
    if let Err(error) = recheck_password(&web, &page, form.password).await {
        let view = DeletePage {
            app_href: format::url_encode(&app.name),
            app: app.name,
            copy_href: format::url_encode(&file.name),
            copy: file.name,
            error: Some(error),
            page,
        };
        return Ok((axum::http::StatusCode::FORBIDDEN, render(&view)?).into_response());
    }
    copies::delete(&web.ctx.runner, &app, &file).await?;
    crate::audit::record(&web.ctx.db, &page.user, "copy.delete", Some(&app.name), Some(&file.name)).await;
    Ok(Redirect::to(&format!("/apps/{}", format::url_encode(&app.name))).into_response())
}

/// The note field of Pin and Test now.
#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    note: Option<String>,
}

impl NoteForm {
    /// The note typed, if any (an empty field is no note).
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref().filter(|n| !n.trim().is_empty())
    }
}

/// The note as stored, or why not in the page's language.
pub fn checked_note(note: Option<&str>) -> Result<Option<String>, PageError> {
    let Some(note) = note else { return Ok(None) };
    copies::note_problem(note).map(Some).map_err(|problem| PageError::BadRequest(problem.msg().into()))
}

/// POST /apps/{name}/copies/{copy}/pin: pin with an optional note.
pub async fn pin(
    State(web): State<Web>,
    page: Page,
    Path((name, copy)): Path<(String, String)>,
    CheckedForm(form): CheckedForm<NoteForm>,
) -> Result<Response, PageError> {
    let note = checked_note(form.note.as_deref())?;
    set_pin(&web, &page, &name, &copy, true, note).await
}

/// POST /apps/{name}/copies/{copy}/unpin.
pub async fn unpin(
    State(web): State<Web>,
    page: Page,
    Path((name, copy)): Path<(String, String)>,
    _: CheckedForm<crate::http::extract::NoFields>,
) -> Result<Response, PageError> {
    set_pin(&web, &page, &name, &copy, false, None).await
}

async fn set_pin(
    web: &Web,
    page: &Page,
    name: &str,
    copy: &str,
    pin: bool,
    note: Option<String>,
) -> Result<Response, PageError> {
    let (app, file) = load(web, name, copy).await?;
    let file = copies::set_pin(&web.ctx.runner, &app, &file, pin, note.as_deref()).await?;
    let action = if pin { "copy.pin" } else { "copy.unpin" };
    crate::audit::record(&web.ctx.db, &page.user, action, Some(&app.name), Some(&file.name)).await;
    Ok(Redirect::to(&format!("/apps/{}#copies", format::url_encode(&app.name))).into_response())
}
