//! The HTTP server: health and readiness now; the UI and the JSON API build on it.

pub mod health;

use axum::Router;

/// The application's routes.
pub fn router(state: health::Health) -> Router {
    Router::new().merge(health::router(state))
}
