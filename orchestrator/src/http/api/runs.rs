//! `/api/v1/runs` and run now, live events, stats.

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Json, Response};
use futures::Stream;
use serde::Deserialize;

use crate::http::api::error::ApiError;
use crate::http::api::types::{
    AppStatsView, DriveBudgetView, QueueView, RestoreView, RunList, RunLogLine, RunLogView, RunView, StatsView,
};
use crate::http::auth::api_token::ApiCaller;
use crate::http::extract::ApiApp;
use crate::http::state::Web;
use crate::overview::{self, RunFilter};

/// POST /api/v1/apps/{name}/runs: queue a manual run now (202 with the run).
pub async fn run_now(
    State(web): State<Web>,
    c: ApiCaller,
    ApiApp(app): ApiApp,
    body: Option<crate::http::api::apps::JsonBody<crate::http::api::types::NoteBody>>,
) -> Result<Response, ApiError> {
    let note = body.and_then(|b| b.0.note).map(|n| crate::http::api::apps::checked_note(&n)).transpose()?;
    let run = crate::jobs::queue::run_now(&web.ctx.db, &app, note.as_deref()).await?;
    let detail = crate::catalogue::Msg::new("audit_detail.run").with("id", run.id);
    crate::audit::record_said(&web.ctx.db, &c.actor, "run.start", Some(&app.name), &detail).await;
    Ok((StatusCode::ACCEPTED, Json(RunView::new(&run, &app.name))).into_response())
}

/// GET /api/v1/queue: the runs and restores waiting or running now.
pub async fn queue(State(web): State<Web>, _c: ApiCaller) -> Result<Json<QueueView>, ApiError> {
    let runs = overview::active_runs(&web.ctx.db).await?;
    let restores = overview::active_restores(&web.ctx.db).await?;
    Ok(Json(QueueView {
        runs: runs.iter().map(|(r, app)| RunView::new(r, app)).collect(),
        restores: restores.iter().map(|(r, app)| RestoreView::new(r, app)).collect(),
    }))
}

/// `?status=&app=&before=&limit=`.
#[derive(Debug, Deserialize)]
pub struct RunsQuery {
    status: Option<String>,
    app: Option<String>,
    before: Option<i64>,
    limit: Option<u64>,
}

/// GET /api/v1/runs.
pub async fn list(
    State(web): State<Web>,
    _c: ApiCaller,
    Query(q): Query<RunsQuery>,
) -> Result<Json<RunList>, ApiError> {
    use crate::backup::lifecycle::Status;
    use sea_orm::Iterable;
    let status = match q.status.as_deref() {
        Some(text) => Some(Status::parse(text).ok_or_else(|| {
            let known: Vec<&str> = Status::iter().map(Status::as_str).collect();
            ApiError::BadRequest(format!("unknown status {text:?}: use one of {}", known.join(", ")))
        })?),
        None => None,
    };
    let app_id = match &q.app {
        Some(name) => Some(web.ctx.registry.get(name).await?.id),
        None => None,
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let filter = RunFilter { status, app_id, before: q.before };
    let runs = overview::runs(&web.ctx.db, &filter, limit).await?;
    let next_before = (runs.len() as u64 == limit).then(|| runs.last().map(|(r, _)| r.id)).flatten();
    Ok(Json(RunList { runs: runs.iter().map(|(r, app)| RunView::new(r, app)).collect(), next_before }))
}

async fn load(web: &Web, id: i64) -> Result<RunView, ApiError> {
    let run = crate::backup::lifecycle::get(&web.ctx.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found(crate::catalogue::Msg::new("missing.run").with("id", id)))?;
    let names = overview::app_names(&web.ctx.db, std::iter::once(run.app_id)).await?;
    Ok(RunView::new(&run, names.get(&run.app_id).map_or("", String::as_str)))
}

/// GET /api/v1/runs/{id}.
pub async fn show(State(web): State<Web>, _c: ApiCaller, Path(id): Path<i64>) -> Result<Json<RunView>, ApiError> {
    load(&web, id).await.map(Json)
}

/// `?after=`: a log line id; only later lines are sent.
#[derive(Debug, Deserialize)]
pub struct After {
    after: Option<i64>,
}

/// GET /api/v1/runs/{id}/events?after=: `progress` events and `log` events (its new log lines)
/// as they come, then one `end` event.
pub async fn events(
    State(web): State<Web>,
    _c: ApiCaller,
    Path(id): Path<i64>,
    Query(q): Query<After>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    load(&web, id).await?;
    Ok(crate::http::live::run_stream(&web, id, q.after.unwrap_or(0), None))
}

/// GET /api/v1/runs/{id}/log?after=.
pub async fn log(
    State(web): State<Web>,
    _c: ApiCaller,
    Path(id): Path<i64>,
    Query(q): Query<After>,
) -> Result<Json<RunLogView>, ApiError> {
    load(&web, id).await?;
    let limit = crate::runlog::MAX_LINES_PER_RUN as u64;
    let lines = crate::runlog::lines_after(&web.ctx.db, id, q.after.unwrap_or(0), limit).await?;
    let lines = lines
        .into_iter()
        .map(|l| RunLogLine { id: l.id, at: l.at, level: l.level, message: l.message, code: l.code, fields: l.fields })
        .collect();
    Ok(Json(RunLogView { run_id: id, lines }))
}

/// POST /api/v1/runs/{id}/cancel: a run not started yet is cancelled at once (200); a running one
/// is stopped by the process running it within a second or so, its upload aborted (202; follow
/// it until its status is `cancelled`). An ended run: 409.
pub async fn cancel(State(web): State<Web>, c: ApiCaller, Path(id): Path<i64>) -> Result<Response, ApiError> {
    use crate::backup::lifecycle::{self, Cancel};
    let view = load(&web, id).await?;
    let done = lifecycle::cancel(&web.ctx.db, id, &c.actor)
        .await?
        .ok_or_else(|| ApiError::not_found(crate::catalogue::Msg::new("missing.run").with("id", id)))?;
    let code = match done {
        Cancel::Cancelled => StatusCode::OK,
        Cancel::Requested => StatusCode::ACCEPTED,
        Cancel::Ended(status) => {
            return Err(ApiError::Conflict(format!("run {id} already ended ({status}): there is nothing to cancel")));
        }
    };
    let detail = crate::catalogue::Msg::new("audit_detail.run").with("id", id);
    crate::audit::record_said(&web.ctx.db, &c.actor, "run.cancel", Some(&view.app), &detail).await;
    Ok((code, Json(load(&web, id).await?)).into_response())
}

/// GET /api/v1/stats: the dashboard's totals, the queue, alerts and Drive's upload budget.
pub async fn stats(State(web): State<Web>, _c: ApiCaller) -> Result<Json<StatsView>, ApiError> {
    let t = overview::totals(&web.ctx.db).await?;
    let a = overview::alert_totals(&web.ctx.db).await?;
    let runner = &web.ctx.runner;
    let budget =
        crate::backup::budget::of_destination(&web.ctx.db, &runner.destination, &runner.settings.drive_budget).await?;
    Ok(Json(StatsView {
        apps: t.apps,
        paused: t.paused,
        backups_24h: t.backups_24h,
        failures_24h: t.failures_24h,
        copies: t.copies,
        bytes_stored: t.bytes_stored,
        queued: a.queued,
        running: a.running,
        waiting: a.waiting,
        drive_budget: budget.as_ref().map(DriveBudgetView::new),
        failing_apps: a.failing_apps,
        stale_apps: a.stale_apps,
        notifications_pending: a.notifications_pending,
        notifications_failed: a.notifications_failed,
    }))
}

/// GET /api/v1/apps/{name}/stats.
pub async fn app_stats(
    State(web): State<Web>,
    _c: ApiCaller,
    ApiApp(app): ApiApp,
) -> Result<Json<AppStatsView>, ApiError> {
    let s = overview::app_stats(&web.ctx.db, app.id).await?;
    Ok(Json(AppStatsView {
        success_rate_30d: s.success_rate(),
        app: app.name,
        copies: s.copies,
        bytes_stored: s.bytes,
        succeeded_30d: s.succeeded_30d,
        failed_30d: s.failed_30d,
        last_success_at: s.last_success_at.map(crate::http::format::rfc3339),
        last_error_at: s.last_error.as_ref().map(|(at, _)| crate::http::format::rfc3339(*at)),
        last_error: s.last_error.map(|(_, e)| e),
    }))
}
