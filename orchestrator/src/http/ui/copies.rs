//! One stored copy: download it (streamed from the destination through the orchestrator, no
//! temporary file), delete it (password again), restore it into the app (type the app's name and
//! the password; a safety backup first unless the operator opts out).

use askama::Template;
use axum::Form;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use futures::TryStreamExt;
use secrecy::SecretString;
use serde::Deserialize;

use crate::backup::copies;
use crate::http::error::PageError;
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::{Page, render};
use crate::registry::App;
use crate::storage::destination::StoredFile;

async fn load(web: &Web, name: &str, copy: &str) -> Result<(App, StoredFile), PageError> {
    let app = web.ctx.registry.get(name).await?;
    let file = copies::find(&web.ctx.runner, &app, copy)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("{name} has no copy named {copy}")))?;
    Ok((app, file))
}

/// The download response of a copy: its bytes as they come from the destination.
pub async fn download_response(web: &Web, app: &App, file: &StoredFile) -> Result<Response, String> {
    let stream = web.ctx.runner.destination.reader(&app.folder, file).await.map_err(|e| e.to_string())?;
    let body = Body::from_stream(stream.map_err(std::io::Error::other));
    let disposition = format!("attachment; filename=\"{}\"", file.name.replace(['"', '\\', '\r', '\n'], "_"));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, file.size.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// GET /apps/{name}/copies/{copy}/download.
pub async fn download(
    State(web): State<Web>,
    page: Page,
    Path((name, copy)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (app, file) = load(&web, &name, &copy).await?;
    crate::audit::record(&web.ctx.db, &page.user, "copy.download", Some(&app.name), Some(&file.name)).await;
    download_response(&web, &app, &file).await.map_err(PageError::Internal)
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
    csrf: Option<String>,
    password: SecretString,
}

/// Checks the signed-in admin's password again (throttled like sign-in).
pub async fn recheck_password(web: &Web, page: &Page, password: SecretString) -> Result<(), String> {
    let keys = vec![format!("user:{}", page.user)];
    if let Some(wait) = web.throttle.wait(&keys) {
        return Err(page.t.fill("login.throttled", &[("seconds", &wait.as_secs().max(1).to_string())]));
    }
    if web.admin.verify_async(&page.user, password).await {
        Ok(())
    } else {
        web.throttle.failed(&keys);
        Err(page.t.get("confirm.wrong_password").to_owned())
    }
}

/// POST /apps/{name}/copies/{copy}/delete.
pub async fn delete(
    State(web): State<Web>,
    page: Page,
    Path((name, copy)): Path<(String, String)>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    page.check_csrf(form.csrf.as_deref())?;
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
