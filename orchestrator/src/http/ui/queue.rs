//! The queue: runs and restores waiting or running now (each cancellable), and the processes
//! taking jobs.

use askama::Template;
use axum::extract::State;
use axum::response::Html;

use crate::http::error::PageError;
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::restores::RestoreRow;
use crate::http::ui::runs::RunRow;
use crate::http::ui::{Page, render};
use crate::overview;

/// A worker process, ready to show.
pub struct WorkerRow {
    /// Name.
    pub id: String,
    /// Last heartbeat.
    pub last_seen: String,
    /// Started.
    pub started: String,
    /// Seen recently.
    pub alive: bool,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    page: Page,
    queued: Vec<RunRow>,
    running: Vec<RunRow>,
    restores: Vec<RestoreRow>,
    workers: Vec<WorkerRow>,
}

/// GET /queue.
pub async fn page(State(web): State<Web>, page: Page) -> Result<Html<String>, PageError> {
    let active = overview::active_runs(&web.ctx.db).await?;
    let now = jiff::Timestamp::now().as_second();
    let workers = overview::workers(&web.ctx.db)
        .await?
        .into_iter()
        .map(|w| WorkerRow {
            alive: now - w.last_seen < 120,
            last_seen: format::time(w.last_seen * 1000),
            started: w.started_at.map(|s| format::time(s * 1000)).unwrap_or_default(),
            id: w.id,
        })
        .collect();
    let zones = crate::overview::app_zones(&web.ctx.db, active.iter().map(|(r, _)| r.app_id)).await?;
    let zone = |id: i64| zones.get(&id).map_or("UTC", String::as_str);
    let rows: Vec<RunRow> = active.iter().map(|(r, app)| RunRow::new(r, app, zone(r.app_id), page.t.lang)).collect();
    let (running, queued) = rows.into_iter().partition(|r| r.status == crate::backup::lifecycle::Status::Running);
    let active_restores = overview::active_restores(&web.ctx.db).await?;
    let zones = overview::app_zones(&web.ctx.db, active_restores.iter().map(|(r, _)| r.app_id)).await?;
    let zone = |id: i64| zones.get(&id).map_or("UTC", String::as_str);
    let restores = active_restores
        .into_iter()
        .map(|(r, app)| {
            let z = zone(r.app_id);
            RestoreRow::new(r, app, z, page.t.lang)
        })
        .collect();
    render(&QueuePage { page, queued, running, restores, workers })
}
