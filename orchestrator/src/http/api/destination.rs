//! `/api/v1/destination`: where backups go, and the destination check.

use axum::extract::State;
use axum::response::Json;

use crate::http::api::error::ApiError;
use crate::http::api::types::{
    DestinationCheckBody, DestinationCheckView, DestinationView, DriveBudgetView, GoogleAccountView,
};
use crate::http::auth::api_token::ApiCaller;
use crate::http::state::Web;
use crate::storage::check;

/// GET /api/v1/destination.
pub async fn show(State(web): State<Web>, _c: ApiCaller) -> Result<Json<DestinationView>, ApiError> {
    let destination = &web.ctx.runner.destination;
    let mut folders: Vec<String> = web.ctx.registry.list().await?.into_iter().map(|a| a.folder).collect();
    folders.sort();
    folders.dedup();
    let runner = &web.ctx.runner;
    let account = match &runner.google {
        Some(google) => google.account().await?.map(|a| GoogleAccountView {
            email: a.email,
            scope: a.scope,
            connected_at: crate::http::format::rfc3339(a.connected_at),
            problem: a.problem,
        }),
        None => None,
    };
    let budget = crate::backup::budget::of_destination(&web.ctx.db, destination, &runner.settings.drive_budget).await?;
    Ok(Json(DestinationView {
        kind: destination.kind().to_owned(),
        location: destination.location(),
        folders,
        connectable: runner.google.is_some(),
        account,
        drive_budget: budget.as_ref().map(DriveBudgetView::new),
    }))
}

/// POST /api/v1/destination/check: writes and removes a probe file in each folder checked.
pub async fn check(
    State(web): State<Web>,
    c: ApiCaller,
    body: axum::body::Bytes,
) -> Result<Json<DestinationCheckView>, ApiError> {
    // The body is optional: none checks every app's folder.
    let body: DestinationCheckBody = if body.iter().all(u8::is_ascii_whitespace) {
        DestinationCheckBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("the body must be JSON of the documented shape: {e}")))?
    };
    let folder = body.folder.filter(|f| !f.trim().is_empty());
    let apps = web.ctx.registry.list().await?;
    let report = check::check_apps(&web.ctx.db, &apps, &web.ctx.runner.destination, folder.as_deref()).await?;
    let problems = report.findings.iter().filter(|f| f.level == check::Level::Problem).count();
    let detail = crate::catalogue::Msg::new("audit_detail.problems").with("n", problems);
    crate::audit::record_said(&web.ctx.db, &c.actor, "destination.check", None, &detail).await;
    Ok(Json(DestinationCheckView { ok: report.ok(), report }))
}
