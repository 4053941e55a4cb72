//! Restore from the UI: a confirmation (type the name of the app restored into, the password
//! again, a safety backup unless the operator opts out), then the restore runs in the background
//! and its page follows it live, with a button to cancel it while it may still change. Its times
//! are in its app's own zone, with the offset. A copy can be restored into another app (production into
//! staging): the confirmation page is loaded again for that app (`?into=`), so what is typed and
//! said always names the app whose data is replaced.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::backup::restore::{self, RestoreRequest};
use crate::codec::keys::Identities;
use crate::http::error::PageError;
use crate::http::extract::PageApp;
use crate::http::extract::{CheckedForm, NoFields};
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::copies::recheck_password;
use crate::http::ui::{Page, render};
use crate::registry::App;

#[derive(Template)]
#[template(path = "restore_confirm.html")]
struct ConfirmPage {
    page: Page,
    /// The app whose copy it is.
    source: String,
    app_href: String,
    /// The app restored into (the source unless another was chosen).
    app: String,
    /// Another app chosen to restore into.
    into: Option<String>,
    /// The other apps, to choose from.
    others: Vec<String>,
    copy: String,
    copy_href: String,
    /// Why the restore was not started, as HTML in the page's language.
    error: Option<String>,
}

async fn confirm_page(
    web: &Web,
    page: Page,
    source: &App,
    target: &App,
    copy: &str,
    error: Option<String>,
) -> Result<ConfirmPage, PageError> {
    let others = web.ctx.registry.list().await?.into_iter().map(|a| a.name).filter(|n| *n != source.name).collect();
    Ok(ConfirmPage {
        page,
        source: source.name.clone(),
        app_href: format::url_encode(&source.name),
        app: target.name.clone(),
        into: (target.id != source.id).then(|| target.name.clone()),
        others,
        copy: copy.to_owned(),
        copy_href: format::url_encode(copy),
        error,
    })
}

/// `?into=APP`: restore into another app.
#[derive(Deserialize, Default)]
pub struct IntoQuery {
    #[serde(default)]
    into: Option<String>,
}

/// The app restored into: `into` when another app is named, else the copy's own.
async fn target_of(web: &Web, source: &App, into: Option<&str>) -> Result<App, PageError> {
    match into.map(str::trim).filter(|n| !n.is_empty() && *n != source.name) {
        Some(name) => Ok(web.ctx.registry.get(name).await?),
        None => Ok(source.clone()),
    }
}

/// GET /apps/{name}/copies/{copy}/restore.
pub async fn confirm(
    State(web): State<Web>,
    page: Page,
    PageApp(app): PageApp,
    Path((_, copy)): Path<(String, String)>,
    Query(query): Query<IntoQuery>,
) -> Result<Html<String>, PageError> {
    let target = target_of(&web, &app, query.into.as_deref()).await?;
    render(&confirm_page(&web, page, &app, &target, &copy, None).await?)
}

/// The restore form.
#[derive(Deserialize)]
pub struct RestoreForm {
    #[serde(default)]
    confirm: String,
    password: SecretString,
    safety_backup: Option<String>,
    /// The identity that opens an encrypted copy, pasted for this restore only.
    #[serde(default)]
    identity: Option<SecretString>,
    /// The same, as an uploaded identity file.
    #[serde(default)]
    identity_file: Option<SecretString>,
    #[serde(default)]
    into: Option<String>,
}

/// POST /apps/{name}/copies/{copy}/restore.
pub async fn start(
    State(web): State<Web>,
    page: Page,
    PageApp(app): PageApp,
    Path((_, copy)): Path<(String, String)>,
    CheckedForm(form): CheckedForm<RestoreForm>,
) -> Result<Response, PageError> {
    let target = target_of(&web, &app, form.into.as_deref()).await?;
    if form.confirm.trim() != target.name {
        let error = Some(format::escape(page.t.get("confirm.type_name")));
        let view = confirm_page(&web, page, &app, &target, &copy, error).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&view)?).into_response());
    }
    if let Err(error) = recheck_password(&web, &page, form.password).await {
        let view = confirm_page(&web, page, &app, &target, &copy, Some(format::escape(&error))).await?;
        return Ok((StatusCode::FORBIDDEN, render(&view)?).into_response());
    }
    let req = RestoreRequest {
        copy: copy.clone(),
        safety_backup: form.safety_backup.is_some(),
        actor: page.user.clone(),
        kind: crate::backup::restore::KIND_RESTORE,
    };
    let given = |i: &&SecretString| !i.expose_secret().trim().is_empty();
    let identity = form.identity.as_ref().filter(given).or_else(|| form.identity_file.as_ref().filter(given));
    let started = match identity.map(Identities::parse) {
        Some(Err(e)) => {
            let error = Some(format!(
                "{}: {}",
                format::escape(page.t.get("restore.identity")),
                crate::catalogue::foreign_html(&e.to_string())
            ));
            let view = confirm_page(&web, page, &app, &target, &copy, error).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&view)?).into_response());
        }
        Some(Ok(identity)) => {
            crate::jobs::restore::start_here(&web.ctx.runner, &app, &target, &req, std::sync::Arc::new(identity)).await
        }
        None => crate::jobs::restore::queue(&web.ctx.runner, &app, &target, &req).await,
    };
    let row = match started {
        Ok(row) => row,
        Err(refusal) => {
            let error = Some(refusal.said().html(page.t.lang));
            let view = confirm_page(&web, page, &app, &target, &copy, error).await?;
            return Ok((StatusCode::CONFLICT, render(&view)?).into_response());
        }
    };
    Ok(Redirect::to(&format!("/restores/{}", row.id)).into_response())
}

/// A restore, ready to show.
pub struct RestoreRow {
    /// Id.
    pub id: i64,
    /// The app.
    pub app: String,
    /// Percent-encoded app name.
    pub app_href: String,
    /// The copy restored.
    pub copy: String,
    /// Status.
    pub status: crate::backup::restore::RestoreStatus,
    /// Phase.
    pub phase: String,
    /// Bytes sent.
    pub size: String,
    /// The copy's size.
    pub total: String,
    /// Who asked.
    pub actor: String,
    /// When it was asked for, in its app's zone.
    pub started: String,
    /// When it ended, in its app's zone; empty while it runs.
    pub finished: String,
    /// The safety backup's run.
    pub safety_run: Option<i64>,
    /// What went wrong, as HTML in the page's language.
    pub error: String,
    /// A drill (checked by the app, or restored into a scratch app), not a restore.
    pub drill: bool,
    /// An operator asked to cancel it; it stops shortly.
    pub cancelling: bool,
}

impl RestoreRow {
    /// From a record and its app's name; its times in `zone`, its app's.
    pub fn new(
        row: crate::db::entities::restore::Model,
        app: String,
        zone: &str,
        lang: crate::catalogue::Lang,
    ) -> RestoreRow {
        RestoreRow {
            id: row.id,
            app_href: format::url_encode(&app),
            app,
            copy: row.copy_name,
            status: row.status,
            phase: row.phase.map(|p| p.as_str().to_owned()).unwrap_or_default(),
            size: format::bytes(row.bytes),
            total: format::bytes(row.total_bytes),
            actor: row.actor,
            started: format::in_zone(row.started_at, zone),
            finished: row.finished_at.map(|ms| format::in_zone(ms, zone)).unwrap_or_default(),
            safety_run: row.safety_run_id,
            error: crate::backup::reason::Stored::read(row.error.as_deref(), row.error_msg.as_deref())
                .map(|r| r.html(lang))
                .unwrap_or_default(),
            drill: row.kind != restore::KIND_RESTORE,
            cancelling: row.cancel_requested_at.is_some() && row.status.is_active(),
        }
    }

    /// True while it may still change.
    pub fn active(&self) -> bool {
        self.status.is_active()
    }
}

#[derive(Template)]
#[template(path = "restore_show.html")]
struct RestorePage {
    page: Page,
    restore: RestoreRow,
}

/// GET /restores/{id}.
pub async fn show(State(web): State<Web>, page: Page, Path(id): Path<i64>) -> Result<Html<String>, PageError> {
    let row = restore::record::get(&web.ctx.db, id)
        .await?
        .ok_or_else(|| PageError::NotFound(crate::catalogue::Msg::new("missing.restore").with("id", id).into()))?;
    let app = web.ctx.registry.get_by_id(row.app_id).await?;
    let restore = RestoreRow::new(row, app.name, &app.time_zone, page.t.lang);
    render(&RestorePage { page, restore })
}

/// POST /restores/{id}/cancel: cancels a restore or drill that has not ended (see
/// `record::cancel`), then shows it.
pub async fn cancel(
    State(web): State<Web>,
    page: Page,
    Path(id): Path<i64>,
    _: CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    use crate::backup::restore::record::{self, Cancel};
    let row = record::get(&web.ctx.db, id)
        .await?
        .ok_or_else(|| PageError::NotFound(crate::catalogue::Msg::new("missing.restore").with("id", id).into()))?;
    match record::cancel(&web.ctx.db, id, &page.user).await? {
        Some(Cancel::Cancelled | Cancel::Requested) => {
            let names = crate::overview::app_names(&web.ctx.db, std::iter::once(row.app_id)).await?;
            let app = names.get(&row.app_id).map_or("", String::as_str);
            record::audit_cancel(&web.ctx.db, &page.user, &row.kind, app, id).await;
        }
        // Ended meanwhile: the page shows how.
        Some(Cancel::Ended(_)) | None => {}
    }
    Ok(Redirect::to(&format!("/restores/{id}")).into_response())
}
