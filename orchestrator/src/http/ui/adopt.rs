//! Adopting files the orchestrator did not write, from the app's page: a preview (a dry run, by
//! GET: it changes nothing), then one confirmed POST that writes the marks. The same domain call
//! as `orchestrator apps adopt` and the API.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::backup::adopt::{self, AdoptRequest, Adoption, Skip};
use crate::http::error::PageError;
use crate::http::extract::{CheckedForm, PageApp};
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::{Page, render};

/// The adopt form's fields (the preview's query, the confirmation's body).
#[derive(Deserialize, Default)]
pub struct AdoptForm {
    #[serde(default, rename = "match")]
    pattern: String,
    #[serde(default, rename = "type")]
    backup_type: String,
    #[serde(default)]
    count: Option<String>,
}

/// One matched file, ready to show.
struct FileRow {
    name: String,
    /// Why it is left alone, in the page's language; `None` when it is (or would be) adopted.
    skipped: Option<String>,
}

#[derive(Template)]
#[template(path = "adopt.html")]
struct AdoptPage {
    page: Page,
    app: String,
    href: String,
    pattern: String,
    backup_type: String,
    count: bool,
    applied: bool,
    files: Vec<FileRow>,
    /// What happened, or would, in a sentence.
    summary: Option<String>,
    /// How many would be adopted (the confirm button shows only when some would).
    adoptable: usize,
    error: Option<String>,
}

/// GET /apps/{name}/adopt: the form, and with `match` given, what adopting would do.
pub async fn preview(
    State(web): State<Web>,
    page: Page,
    PageApp(app): PageApp,
    Query(form): Query<AdoptForm>,
) -> Result<Response, PageError> {
    let asked = !form.pattern.trim().is_empty();
    respond(&web, page, &app, form, false, asked).await
}

/// POST /apps/{name}/adopt: adopts what the preview showed.
pub async fn apply(
    State(web): State<Web>,
    page: Page,
    PageApp(app): PageApp,
    CheckedForm(form): CheckedForm<AdoptForm>,
) -> Result<Response, PageError> {
    respond(&web, page, &app, form, true, true).await
}

async fn respond(
    web: &Web,
    page: Page,
    app: &crate::registry::App,
    form: AdoptForm,
    apply: bool,
    asked: bool,
) -> Result<Response, PageError> {
    let mut view = AdoptPage {
        href: format::url_encode(&app.name),
        app: app.name.clone(),
        pattern: form.pattern.clone(),
        backup_type: if form.backup_type.is_empty() {
            app.backup_type.clone().unwrap_or_default()
        } else {
            form.backup_type.clone()
        },
        count: form.count.is_some(),
        applied: false,
        files: Vec::new(),
        summary: None,
        adoptable: 0,
        error: None,
        page,
    };
    if !asked {
        return Ok(render(&view)?.into_response());
    }
    let req = AdoptRequest {
        pattern: form.pattern,
        backup_type: Some(form.backup_type).filter(|t| !t.trim().is_empty()),
        apply,
        count_in_retention: form.count.is_some(),
        actor: view.page.user.clone(),
    };
    match adopt::adopt(&web.ctx.runner, app, &req).await {
        Ok(adoption) => {
            fill(&mut view, &adoption);
            Ok(render(&view)?.into_response())
        }
        Err(crate::error::Error::Said(class, msg)) => {
            let status = match class {
                crate::error::Class::Refused => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            view.error = Some(view.page.t.msg(&msg));
            Ok((status, render(&view)?).into_response())
        }
        Err(e) => {
            let status = match PageError::from(e) {
                PageError::NotFound(m) | PageError::BadRequest(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
                PageError::Conflict(m) => (StatusCode::CONFLICT, m),
                PageError::BadGateway(m) => (StatusCode::BAD_GATEWAY, m),
                other => return Err(other),
            };
            view.error = Some(status.1.text(view.page.t.lang));
            Ok((status.0, render(&view)?).into_response())
        }
    }
}

fn fill(view: &mut AdoptPage, adoption: &Adoption) {
    let t = &view.page.t;
    view.applied = adoption.applied;
    view.backup_type = adoption.backup_type.clone();
    view.files = adoption
        .files
        .iter()
        .map(|c| FileRow {
            name: c.file.name.clone(),
            skipped: c.skip.as_ref().map(|skip| match skip {
                Skip::AlreadyOurs => t.get("adopt.skip_ours").to_owned(),
                Skip::AnotherCopy { app, deployment } => t.fill(
                    "adopt.skip_other",
                    &[("app", app.as_str()), ("deployment", deployment.as_deref().unwrap_or("-"))],
                ),
                Skip::PropertiesFile => t.get("adopt.skip_props").to_owned(),
            }),
        })
        .collect();
    view.adoptable = adoption.adopted().count();
    let count = view.adoptable.to_string();
    let key = match (adoption.applied, view.adoptable) {
        (_, 0) => "adopt.nothing",
        (true, _) => "adopt.done",
        (false, _) => "adopt.would",
    };
    view.summary = Some(t.fill(key, &[("count", count.as_str()), ("type", adoption.backup_type.as_str())]));
}
