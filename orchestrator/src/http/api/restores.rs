//! `/api/v1` restores: start one (the name of the app restored into typed again in `confirm`),
//! read it, follow it, cancel it. A copy is restored into its own app, or with `into` into
//! another one.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Json, Response};
use futures::Stream;

use crate::backup::restore::{self, RestoreRequest};
use crate::catalogue::Msg;
use crate::codec::keys::Identities;
use crate::http::api::apps::JsonBody;
use crate::http::api::error::ApiError;
use crate::http::api::types::{DrillBody, RestoreBody, RestoreView};
use crate::http::auth::api_token::ApiCaller;
use crate::http::extract::ApiApp;
use crate::http::state::Web;
use crate::registry::input::FieldError;

/// POST /api/v1/apps/{name}/copies/{copy}/restore: 202 with the restore, queued as a job.
pub async fn start(
    State(web): State<Web>,
    c: ApiCaller,
    ApiApp(source): ApiApp,
    Path((_, copy)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<RestoreBody>,
) -> Result<Response, ApiError> {
    c.confirm(&web, &headers).await?;
    let app = match body.into.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(target) => web.ctx.registry.get(target).await.map_err(|_| {
            ApiError::Invalid(vec![FieldError::new("into", Msg::new("field.app.unknown").with("name", target))])
        })?,
        None => source.clone(),
    };
    if body.confirm.trim() != app.name {
        return Err(ApiError::Invalid(vec![FieldError::new(
            "confirm",
            Msg::new("field.confirm.restore").with("name", &app.name),
        )]));
    }
    let req = RestoreRequest {
        copy: copy.clone(),
        safety_backup: body.safety_backup.unwrap_or(true),
        actor: c.actor,
        kind: crate::backup::restore::KIND_RESTORE,
    };
    let row = match &body.identity {
        Some(text) => {
            let identity = Identities::parse(text).map_err(|e| {
                ApiError::Invalid(vec![FieldError::new(
                    "identity",
                    Msg::new("field.identity.invalid").with("detail", e),
                )])
            })?;
            crate::jobs::restore::start_here(&web.ctx.runner, &source, &app, &req, Arc::new(identity)).await?
        }
        None => crate::jobs::restore::queue(&web.ctx.runner, &source, &app, &req).await?,
    };
    Ok((StatusCode::ACCEPTED, Json(RestoreView::new(&row, &app.name))).into_response())
}

/// POST /api/v1/apps/{name}/drills: 202 with the drill, queued as a job (or, for an encrypted
/// copy nothing here opens, recorded as failed: not drilled).
pub async fn drill(
    State(web): State<Web>,
    c: ApiCaller,
    ApiApp(app): ApiApp,
    JsonBody(body): JsonBody<DrillBody>,
) -> Result<Response, ApiError> {
    let target = match body.drill_target.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(name) => Some(web.ctx.registry.get(name).await.map_err(|_| {
            ApiError::Invalid(vec![FieldError::new("drill_target", Msg::new("field.app.unknown").with("name", name))])
        })?),
        None => None,
    };
    let copy = body.copy.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    let req = crate::backup::drill::DrillRequest { copy, target, actor: c.actor };
    let row = crate::jobs::restore::queue_drill(&web.ctx.runner, &app, &req).await?;
    let names = crate::overview::app_names(&web.ctx.db, std::iter::once(row.app_id)).await?;
    let view = RestoreView::new(&row, names.get(&row.app_id).map_or("", String::as_str));
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}

/// GET /api/v1/apps/{name}/drills: the drills of the app's copies, newest first (at most 50).
pub async fn drills(
    State(web): State<Web>,
    _c: ApiCaller,
    ApiApp(app): ApiApp,
) -> Result<Json<Vec<RestoreView>>, ApiError> {
    let rows = crate::backup::drill::history(&web.ctx.db, app.id, 50).await?;
    let names = crate::overview::app_names(&web.ctx.db, rows.iter().map(|r| r.app_id)).await?;
    Ok(Json(rows.iter().map(|r| RestoreView::new(r, names.get(&r.app_id).map_or("", String::as_str))).collect()))
}

async fn load(web: &Web, id: i64) -> Result<RestoreView, ApiError> {
    let row = restore::record::get(&web.ctx.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found(crate::catalogue::Msg::new("missing.restore").with("id", id)))?;
    let names = crate::overview::app_names(&web.ctx.db, std::iter::once(row.app_id)).await?;
    Ok(RestoreView::new(&row, names.get(&row.app_id).map_or("", String::as_str)))
}

/// GET /api/v1/restores/{id}.
pub async fn show(State(web): State<Web>, _c: ApiCaller, Path(id): Path<i64>) -> Result<Json<RestoreView>, ApiError> {
    load(&web, id).await.map(Json)
}

/// GET /api/v1/restores/{id}/events.
pub async fn events(
    State(web): State<Web>,
    _c: ApiCaller,
    Path(id): Path<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    load(&web, id).await?;
    Ok(crate::http::live::restore_stream(&web, id))
}

/// POST /api/v1/restores/{id}/cancel: a restore or drill not started yet is cancelled at once
/// (200), with its safety backup; a running one is stopped by the process running it within a
/// second or so, its upload into the app cut off (202; follow it until its status is
/// `cancelled`). An ended one: 409.
pub async fn cancel(State(web): State<Web>, c: ApiCaller, Path(id): Path<i64>) -> Result<Response, ApiError> {
    use crate::backup::restore::record::{self, Cancel};
    let view = load(&web, id).await?;
    let done = record::cancel(&web.ctx.db, id, &c.actor)
        .await?
        .ok_or_else(|| ApiError::not_found(crate::catalogue::Msg::new("missing.restore").with("id", id)))?;
    let code = match done {
        Cancel::Cancelled => StatusCode::OK,
        Cancel::Requested => StatusCode::ACCEPTED,
        Cancel::Ended(status) => {
            return Err(ApiError::Conflict(format!(
                "restore {id} already ended ({status}): there is nothing to cancel"
            )));
        }
    };
    record::audit_cancel(&web.ctx.db, &c.actor, &view.kind, &view.app, id).await;
    Ok((code, Json(load(&web, id).await?)).into_response())
}
