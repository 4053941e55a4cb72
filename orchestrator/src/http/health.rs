//! `/healthz` (the process is alive) and `/readyz` (the database answers and the scheduler
//! ticks), both without authentication, for container health checks and load balancers.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use sea_orm::DatabaseConnection;

/// What readiness looks at.
#[derive(Clone)]
pub struct Health {
    /// The database.
    pub db: DatabaseConnection,
    /// When the scheduler last completed a tick (ms).
    pub last_tick: Arc<AtomicI64>,
    /// A tick older than this means the scheduler is stuck.
    pub max_tick_age: Duration,
}

/// The health routes.
pub fn router(state: Health) -> Router {
    Router::new().route("/healthz", get(|| async { "ok" })).route("/readyz", get(ready)).with_state(state)
}

async fn ready(State(h): State<Health>) -> impl IntoResponse {
    let database = h.db.ping().await.is_ok();
    let age = crate::db::now_ms() - h.last_tick.load(Ordering::Relaxed);
    let scheduler = age >= 0 && age <= h.max_tick_age.as_millis() as i64;
    let status = if database && scheduler { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(serde_json::json!({ "database": database, "scheduler": scheduler, "last_tick_ms_ago": age })))
}
