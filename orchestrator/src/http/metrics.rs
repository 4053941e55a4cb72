//! `/metrics` for Prometheus, behind its own bearer token (`METRICS_TOKEN`): unset, the route
//! answers 404 and says how to turn it on.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sea_orm::DatabaseConnection;
use secrecy::{ExposeSecret, SecretString};

/// What the route needs.
#[derive(Clone)]
pub struct MetricsState {
    /// The database.
    pub db: DatabaseConnection,
    /// `METRICS_TOKEN`.
    pub token: Option<SecretString>,
    /// When the scheduler last ticked (ms).
    pub last_tick: Arc<AtomicI64>,
}

/// `/metrics`.
pub fn router(state: MetricsState) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

async fn metrics(State(s): State<MetricsState>, headers: HeaderMap) -> Response {
    let Some(token) = &s.token else {
        return (StatusCode::NOT_FOUND, "metrics are off: set METRICS_TOKEN and scrape with it as a bearer token\n")
            .into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !crate::http::auth::same(given.trim(), token.expose_secret()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "send METRICS_TOKEN as a bearer token\n",
        )
            .into_response();
    }
    let lag = crate::db::now_ms() - s.last_tick.load(Ordering::Relaxed);
    match crate::metrics::render(&s.db, lag).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the database failed; the log says more\n").into_response()
        }
    }
}
