//! In front of every route: the request log, and injected rate limiting.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::RequestRecord;
use crate::body;
use crate::errors::ApiError;
use crate::state::Shared;

pub(crate) async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let is_api = path.starts_with("/drive/v3") || path.starts_with("/upload/");
    let limited = {
        let mut inner = shared.lock();
        inner.requests.push(RequestRecord {
            method: request.method().to_string(),
            path: path.clone(),
            query: request.uri().query().unwrap_or_default().to_owned(),
        });
        if is_api { inner.faults.take_rate_limit() } else { None }
    };
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
