//! Restore from a file chosen in the browser (a copy that only exists on someone's laptop): the
//! same typed confirmation and password as any restore, then the file is streamed from the request
//! into the app's folder ([`crate::backup::upload`]: no temporary file, no size held in memory)
//! and restored like any copy. The body limit is lifted for this route alone.
//!
//! The form's fields are read in the order the page sends them: every small field first, the file
//! last. Nothing is stored before the CSRF token, the typed name, the password and the identity
//! have been checked; a form that sends the file before them is refused unread.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::multipart::Field;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use futures::StreamExt;
use secrecy::SecretString;

use crate::backup::restore::RestoreRequest;
use crate::backup::upload::{self, Incoming};
use crate::catalogue::Msg;
use crate::codec::keys::Identities;
use crate::http::error::PageError;
use crate::http::extract::PageApp;
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::copies::recheck_password;
use crate::http::ui::{Page, render};
use crate::registry::App;

/// The most one small field (an identity file included) may hold.
const FIELD_LIMIT: usize = 64 << 10;
/// The name of the file field, last in the form.
const FILE_FIELD: &str = "copy";

#[derive(Template)]
#[template(path = "restore_file.html")]
struct FilePage {
    page: Page,
    app: String,
    href: String,
    /// The type the app is configured with, as the field's placeholder.
    configured_type: String,
    /// What went wrong, as HTML in the page's language.
    error: Option<String>,
}

fn file_page(page: Page, app: &App, error: Option<String>) -> FilePage {
    FilePage {
        page,
        app: app.name.clone(),
        href: format::url_encode(&app.name),
        configured_type: app.backup_type.clone().unwrap_or_default(),
        error,
    }
}

/// GET /apps/{name}/restore-file.
pub async fn form(page: Page, PageApp(app): PageApp) -> Result<Html<String>, PageError> {
    render(&file_page(page, &app, None))
}

/// The page again with what went wrong (HTML).
fn refuse(status: StatusCode, page: Page, app: &App, error: String) -> Result<Response, PageError> {
    Ok((status, render(&file_page(page, app, Some(error)))?).into_response())
}

/// A small field's text, refused past [`FIELD_LIMIT`].
async fn text(mut field: Field<'_>) -> Result<String, Msg> {
    let name = field.name().unwrap_or_default().to_owned();
    let mut bytes = Vec::new();
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        Msg::new("page_error.unreadable_form").quoting("detail", e.body_text())
    };
    while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
        if bytes.len() + chunk.len() > FIELD_LIMIT {
            let name = format!("{name:?}");
            return Err(Msg::new("page_error.field_too_long").with("field", name).with("kib", FIELD_LIMIT / 1024));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| Msg::new("page_error.field_not_text").with("field", format!("{name:?}")))
}

/// POST /apps/{name}/restore-file (multipart: the small fields, then the file as `copy`).
pub async fn start(
    State(web): State<Web>,
    page: Page,
    PageApp(app): PageApp,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    let refused = match receive(&web, &page, &app, &mut multipart).await {
        Ok(response) => return Ok(response),
        Err(refused) => refused,
    };
    // A browser still sending the file may lose an answer given before it finished (the
    // connection is closed with its bytes unread): read the rest, for a while, and drop it.
    let _ = tokio::time::timeout(DRAIN, async {
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(_)) = field.chunk().await {}
        }
    })
    .await;
    match refused {
        Refused::Page(status, error) => refuse(status, page, &app, error),
        Refused::Error(e) => Err(e),
    }
}

/// How long a refused upload's remaining bytes are read and dropped.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Why a form was not taken: the page again with this message, or an error page.
enum Refused {
    Page(StatusCode, String),
    Error(PageError),
}

impl From<PageError> for Refused {
    fn from(e: PageError) -> Self {
        Refused::Error(e)
    }
}

async fn receive(web: &Web, page: &Page, app: &App, multipart: &mut Multipart) -> Result<Response, Refused> {
    let unreadable = |e: String| {
        Refused::Error(PageError::BadRequest(Msg::new("page_error.unreadable_form").quoting("detail", e).into()))
    };
    let mut fields: HashMap<String, String> = HashMap::new();
    let file = loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break None,
            Err(e) => return Err(unreadable(e.body_text())),
        };
        if field.name() == Some(FILE_FIELD) {
            break Some(field);
        }
        let name = field.name().unwrap_or_default().to_owned();
        let value = text(field).await.map_err(|m| Refused::Error(PageError::BadRequest(m.into())))?;
        fields.insert(name, value);
    };
    // Nothing of the file is read before these pass.
    page.check_csrf(fields.get("csrf").map(String::as_str))?;
    let Some(file) = file else {
        return Err(Refused::Page(
            StatusCode::UNPROCESSABLE_ENTITY,
            format::escape(page.t.get("restore_file.no_file")),
        ));
    };
    if fields.get("confirm").map(|c| c.trim()) != Some(app.name.as_str()) {
        return Err(Refused::Page(StatusCode::UNPROCESSABLE_ENTITY, format::escape(page.t.get("confirm.type_name"))));
    }
    let password = SecretString::from(fields.remove("password").unwrap_or_default());
    recheck_password(web, page, password)
        .await
        .map_err(|error| Refused::Page(StatusCode::FORBIDDEN, format::escape(&error)))?;
    let given = |key: &str| fields.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_owned);
    let identity = match given("identity").or_else(|| given("identity_file")) {
        None => None,
        Some(text) => match Identities::parse(&SecretString::from(text)) {
            Ok(identity) => Some(Arc::new(identity)),
            Err(e) => {
                let error = format!(
                    "{}: {}",
                    format::escape(page.t.get("restore.identity")),
                    crate::catalogue::foreign_html(&e.to_string())
                );
                return Err(Refused::Page(StatusCode::UNPROCESSABLE_ENTITY, error));
            }
        },
    };
    let incoming = Incoming {
        name: file.file_name().unwrap_or_default().to_owned(),
        backup_type: given("type"),
        actor: page.user.clone(),
    };
    let body = file.map(|piece| piece.map_err(|e| std::io::Error::other(e.body_text())));
    let stored = upload::upload(&web.ctx.runner, app, &incoming, identity.clone(), Box::pin(body))
        .await
        .map_err(|e| Refused::Page(StatusCode::UNPROCESSABLE_ENTITY, e.said().html(page.t.lang)))?;
    let req = RestoreRequest {
        copy: stored.id.clone(),
        safety_backup: given("safety_backup").is_some(),
        actor: page.user.clone(),
        kind: crate::backup::restore::KIND_RESTORE,
    };
    let started = match identity {
        Some(identity) => crate::jobs::restore::start_here(&web.ctx.runner, app, app, &req, identity).await,
        None => crate::jobs::restore::queue(&web.ctx.runner, app, app, &req).await,
    };
    match started {
        Ok(row) => Ok(Redirect::to(&format!("/restores/{}", row.id)).into_response()),
        Err(refusal) => {
            let error = Msg::new("restore_file.kept")
                .with("copy", &stored.name)
                .with_said("error", refusal.said())
                .render_html(page.t.lang);
            Err(Refused::Page(StatusCode::CONFLICT, error))
        }
    }
}
