//! In front of every route: the request log, Google's front-end check that a PUT or POST states its body
//! length, and injected rate limiting.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::RequestRecord;
use crate::body;
use crate::errors::{ApiError, length_required};
use crate::state::Shared;

pub(crate) async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let is_api = path.starts_with("/drive/v3") || path.starts_with("/upload/");
    let headers = request.headers();
    // Google's front end answers a PUT or POST that has neither Content-Length nor Transfer-Encoding with
    // 411 before any API sees it (README.md, rule "length").
    let lengthless = matches!(*request.method(), Method::PUT | Method::POST)
        && !headers.contains_key(header::CONTENT_LENGTH)
        && !headers.contains_key(header::TRANSFER_ENCODING);
    let limited = {
        let mut inner = shared.lock();
        inner.requests.push(RequestRecord {
            method: request.method().to_string(),
            path: path.clone(),
            query: request.uri().query().unwrap_or_default().to_owned(),
            content_length: header_text(headers, header::CONTENT_LENGTH.as_str()),
            content_range: header_text(headers, "content-range"),
        });
        if is_api && !lengthless { inner.faults.take_rate_limit() } else { None }
    };
    if lengthless {
        // Without a length and without chunked framing, an HTTP/1.1 request has no body to drain.
        return length_required();
    }
    match limited {
        Some(kind) => {
            if path.starts_with("/upload/") {
                body::drain_upload(&shared, request.into_body()).await;
            } else {
                body::drain(request.into_body()).await;
            }
            ApiError::rate_limited(kind).into_response()
        }
        None => next.run(request).await,
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
}
