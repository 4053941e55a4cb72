//! The JSON API under `/api/v1`: everything the UI does, for scripts. Every route needs an API
//! token (`Authorization: Bearer bko_...`); errors are JSON with field details. The OpenAPI
//! document is committed (`orchestrator/api/openapi.yaml`) and served as JSON.

pub mod apps;
pub mod bulk;
pub mod channels;
pub mod destination;
pub mod error;
pub mod fleet;
pub mod groups;
pub mod openapi;
pub mod restores;
pub mod runs;
pub mod types;

use axum::Router;
use axum::routing::{get, post, put};

use crate::http::state::Web;

/// The API's routes.
pub fn routes() -> Router<Web> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/stats", get(runs::stats))
        .route("/api/v1/check", post(apps::check_new))
        .route("/api/v1/apps", get(apps::list).post(apps::create))
        .route("/api/v1/fleet", get(fleet::export))
        .route("/api/v1/fleet/apply", post(fleet::apply))
        .route("/api/v1/apps/bulk", post(bulk::apply))
        .route("/api/v1/groups", get(groups::list))
        .route("/api/v1/groups/{name}", put(groups::set))
        .route("/api/v1/apps/{name}", get(apps::show).patch(apps::update).delete(apps::delete))
        .route("/api/v1/apps/{name}/check", post(apps::check))
        .route("/api/v1/apps/{name}/stats", get(runs::app_stats))
        .route("/api/v1/apps/{name}/runs", post(runs::run_now))
        .route("/api/v1/apps/{name}/copies", get(apps::copies))
        .route("/api/v1/apps/{name}/adopt", post(apps::adopt))
        .route("/api/v1/apps/{name}/audit", post(apps::audit))
        .route("/api/v1/apps/{name}/audits", get(apps::audits))
        .route("/api/v1/apps/{name}/drills", get(restores::drills).post(restores::drill))
        .route("/api/v1/apps/{name}/copies/{copy}", get(apps::download).delete(apps::delete_copy))
        .route("/api/v1/apps/{name}/copies/{copy}/pin", put(apps::pin).delete(apps::unpin))
        .route("/api/v1/apps/{name}/copies/{copy}/restore", post(restores::start))
        .route("/api/v1/restores/{id}", get(restores::show))
        .route("/api/v1/restores/{id}/events", get(restores::events))
        .route("/api/v1/restores/{id}/cancel", post(restores::cancel))
        .route("/api/v1/destination", get(destination::show))
        .route("/api/v1/destination/check", post(destination::check))
        .route("/api/v1/queue", get(runs::queue))
        .route("/api/v1/runs", get(runs::list))
        .route("/api/v1/runs/{id}", get(runs::show))
        .route("/api/v1/runs/{id}/events", get(runs::events))
        .route("/api/v1/runs/{id}/log", get(runs::log))
        .route("/api/v1/runs/{id}/cancel", post(runs::cancel))
        .route("/api/v1/notification-channels", get(channels::list).post(channels::create))
        .route(
            "/api/v1/notification-channels/{id}",
            get(channels::show).patch(channels::update).delete(channels::delete),
        )
        .route("/api/v1/notification-channels/{id}/test", post(channels::test))
        .layer(axum::middleware::from_fn(error::in_reader_language))
}
