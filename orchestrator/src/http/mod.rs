//! The HTTP server: health and readiness, the pages (`ui`), the JSON API (`api`) and the static
//! assets, behind security headers. What both surfaces serve (live progress, downloads, errors,
//! extractors) lives beside them; neither imports the other. Every page but sign-in needs a session; every API route an
//! API token.

pub mod access;
pub mod api;
pub mod assets;
pub mod auth;
pub mod download;
pub mod error;
pub mod extract;
pub mod format;
pub mod health;
pub mod i18n;
pub mod live;
pub mod metrics;
pub mod source;
pub mod state;
pub mod ui;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// The content security policy: scripts and styles only from this site, no inline script.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Health only (commands that serve no UI).
pub fn router(health: health::Health) -> Router {
    Router::new().merge(health::router(health))
}

/// Everything `serve` answers.
pub fn app(health: health::Health, web: state::Web) -> Router {
    let metrics = metrics::router(metrics::MetricsState {
        db: web.ctx.db.clone(),
        token: web.settings.metrics_token.clone(),
        last_tick: health.last_tick.clone(),
    });
    let signed_in = ui::routes().into_router().merge(
        api::routes()
            .into_router()
            .layer(axum::middleware::from_fn(api::error::json_rejections))
            .layer(axum::middleware::from_fn(i18n::api_reader_scope)),
    );
    let pages = ui::public()
        .merge(signed_in)
        .merge(assets::routes())
        .layer(axum::middleware::from_fn_with_state(web.clone(), source::remember))
        .layer(axum::middleware::from_fn(i18n::reader_scope))
        .with_state(web);
    Router::new()
        .merge(health::router(health))
        .merge(metrics)
        .merge(pages)
        .layer(header_layer(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_layer(header::REFERRER_POLICY, "same-origin"))
        .layer(header_layer(HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=()"))
}

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}
