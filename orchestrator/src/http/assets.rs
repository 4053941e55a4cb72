//! The static assets (`web/static`), embedded into the binary: served without a session.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::http::state::Web;

const FILES: [(&str, &str, &str); 3] = [
    ("app.css", "text/css; charset=utf-8", include_str!("../../../web/static/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../../web/static/app.js")),
    ("favicon.svg", "image/svg+xml", include_str!("../../../web/static/favicon.svg")),
];

/// `/static/{file}`.
pub fn routes() -> Router<Web> {
    Router::new().route("/static/{file}", get(serve))
}

async fn serve(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => {
            ([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "public, max-age=300")], *body)
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
