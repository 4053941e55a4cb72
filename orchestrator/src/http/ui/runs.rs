//! The runs across all apps (filtered by status, newest first, paged by id) and one run's page,
//! which follows a run live over Server-Sent Events until it ends.

use sea_orm::Iterable;

use crate::backup::lifecycle::{Status, Trigger};
use crate::backup::reason::Stored;
use crate::catalogue::Lang;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::db::entities::backup_run;
use crate::http::error::PageError;
use crate::http::extract::{CheckedForm, NoFields};
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::{Page, render};
use crate::overview::{self, RunFilter};

/// Runs per page.
const PER_PAGE: u64 = 50;

/// A run, ready to show.
pub struct RunRow {
    /// Id.
    pub id: i64,
    /// The app.
    pub app: String,
    /// Percent-encoded app name.
    pub app_href: String,
    /// When it was queued.
    pub time: String,
    /// schedule | manual | cli | safety.
    pub trigger: Trigger,
    /// Status.
    pub status: Status,
    /// Phase reached.
    pub phase: String,
    /// Size.
    pub size: String,
    /// Duration, when ended.
    pub duration: String,
    /// Why it failed (or waits, or was skipped), as HTML in the page's language; empty when
    /// nothing went wrong.
    pub error: String,
    /// Attempts.
    pub attempts: i32,
    /// File name, when it succeeded.
    pub file: String,
    /// sha256, when it succeeded.
    pub sha256: String,
    /// Which process ran it.
    pub runner: String,
    /// How the copy was stored (`zstd`, `age`, `zstd+age`); empty = as the app sent it.
    pub codec: String,
    /// Bytes stored, when the codecs changed them, with their share of the export.
    pub stored_size: String,
    /// sha256 of the stored bytes, when the codecs changed them.
    pub stored_sha256: String,
    /// Queued again after a failed attempt: seconds until the next one.
    pub retry_in: Option<i64>,
    /// An operator asked to cancel it; it stops shortly.
    pub cancelling: bool,
}

impl RunRow {
    /// From a record; its times in `zone`, its app's, its words in `lang`.
    pub fn new(run: &backup_run::Model, app: &str, zone: &str, lang: Lang) -> RunRow {
        RunRow {
            id: run.id,
            app: app.to_owned(),
            app_href: format::url_encode(app),
            time: format::in_zone(run.first_started_at.or(run.started_at).unwrap_or(run.queued_at), zone),
            trigger: run.trigger,
            status: run.status,
            phase: run.phase.map(|p| p.as_str().to_owned()).unwrap_or_default(),
            size: format::bytes(run.bytes),
            duration: run.duration_ms.map(format::duration).unwrap_or_default(),
            retry_in: crate::http::live::of_run(run, None).retry_in_secs,
            cancelling: run.cancel_requested_at.is_some() && run.status.is_active(),
            error: Stored::read(run.error.as_deref(), run.error_msg.as_deref())
                .map(|reason| reason.html(lang))
                .unwrap_or_default(),
            attempts: run.attempts,
            file: run.file_name.clone().unwrap_or_default(),
            sha256: run.sha256.clone().unwrap_or_default(),
            runner: run.runner.clone().unwrap_or_default(),
            codec: run.codec.clone().unwrap_or_default(),
            stored_size: run.stored_bytes.map(|b| stored_share(b, run.bytes)).unwrap_or_default(),
            stored_sha256: run.stored_sha256.clone().unwrap_or_default(),
        }
    }

    /// True when the codecs changed the bytes the app sent.
    pub fn coded(&self) -> bool {
        !self.codec.is_empty()
    }

    /// True while the run may still change.
    pub fn active(&self) -> bool {
        self.status.is_active()
    }
}

/// `stored` bytes with their share of the `sent` ones: "1.2 MB (18 %)".
fn stored_share(stored: i64, sent: i64) -> String {
    if sent <= 0 {
        return format::bytes(stored);
    }
    format!("{} ({} %)", format::bytes(stored), (stored as f64 * 100.0 / sent as f64).round() as i64)
}

#[derive(Template)]
#[template(path = "runs.html")]
struct RunsPage {
    page: Page,
    runs: Vec<RunRow>,
    status: String,
    statuses: Vec<Status>,
    next: Option<String>,
}

/// `?status=&before=`.
#[derive(Debug, Deserialize)]
pub struct RunsQuery {
    status: Option<String>,
    before: Option<i64>,
}

/// GET /runs.
pub async fn list(State(web): State<Web>, page: Page, Query(q): Query<RunsQuery>) -> Result<Html<String>, PageError> {
    let status = q.status.as_deref().and_then(Status::parse);
    let filter = RunFilter { status, app_id: None, before: q.before };
    let runs = overview::runs(&web.ctx.db, &filter, PER_PAGE).await?;
    let status = status.map(|s| s.as_str().to_owned()).unwrap_or_default();
    let next = (runs.len() as u64 == PER_PAGE)
        .then(|| runs.last().map(|(r, _)| format!("/runs?status={status}&before={}", r.id)))
        .flatten();
    let zones = overview::app_zones(&web.ctx.db, runs.iter().map(|(r, _)| r.app_id)).await?;
    let zone = |id: i64| zones.get(&id).map_or("UTC", String::as_str);
    let runs = runs.iter().map(|(r, app)| RunRow::new(r, app, zone(r.app_id), page.t.lang)).collect();
    render(&RunsPage { page, runs, status, statuses: Status::iter().collect(), next })
}

#[derive(Template)]
#[template(path = "run_show.html")]
struct RunPage {
    page: Page,
    run: RunRow,
    log: Vec<crate::runlog::Line>,
    /// The last log line shown: the live stream sends the ones after it.
    last_line: i64,
    /// Attempts a queued run gets (`MAX_ATTEMPTS`).
    max_attempts: i32,
    /// Test now found this run already under way.
    already: bool,
}

/// `?already=1`: Test now was pressed while this run was under way.
#[derive(Debug, Deserialize)]
pub struct ShowQuery {
    already: Option<String>,
}

/// GET /runs/{id}.
pub async fn show(
    State(web): State<Web>,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<ShowQuery>,
) -> Result<Html<String>, PageError> {
    let run = crate::backup::lifecycle::get(&web.ctx.db, id)
        .await?
        .ok_or_else(|| PageError::NotFound(crate::catalogue::Msg::new("missing.run").with("id", id).into()))?;
    let names = overview::app_names(&web.ctx.db, std::iter::once(run.app_id)).await?;
    let app = names.get(&run.app_id).cloned().unwrap_or_default();
    let log = crate::runlog::lines(&web.ctx.db, id, crate::runlog::MAX_LINES_PER_RUN as u64).await?;
    let zones = overview::app_zones(&web.ctx.db, std::iter::once(run.app_id)).await?;
    let zone = zones.get(&run.app_id).map_or("UTC", String::as_str);
    let log: Vec<crate::runlog::Line> = log.into_iter().map(|l| l.in_language(&page.t).in_zone(zone)).collect();
    let last_line = log.last().map_or(0, |l| l.id);
    let already = q.already.is_some() && run.status.is_active();
    render(&RunPage {
        run: RunRow::new(&run, &app, zone, page.t.lang),
        log,
        last_line,
        max_attempts: web.max_attempts,
        already,
        page,
    })
}

/// POST /runs/{id}/cancel: cancels a run that has not ended (see `lifecycle::cancel`), then shows it.
pub async fn cancel(
    State(web): State<Web>,
    page: Page,
    Path(id): Path<i64>,
    _: CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    use crate::backup::lifecycle::{self, Cancel};
    let run = lifecycle::get(&web.ctx.db, id)
        .await?
        .ok_or_else(|| PageError::NotFound(crate::catalogue::Msg::new("missing.run").with("id", id).into()))?;
    match lifecycle::cancel(&web.ctx.db, id, &page.user).await? {
        Some(Cancel::Cancelled | Cancel::Requested) => {
            let names = overview::app_names(&web.ctx.db, std::iter::once(run.app_id)).await?;
            let app = names.get(&run.app_id).map(String::as_str);
            let detail = crate::catalogue::Msg::new("audit_detail.run").with("id", id);
            crate::audit::record_said(&web.ctx.db, &page.user, "run.cancel", app, &detail).await;
        }
        // Ended meanwhile: the page shows how.
        Some(Cancel::Ended(_)) | None => {}
    }
    Ok(Redirect::to(&format!("/runs/{id}")).into_response())
}
