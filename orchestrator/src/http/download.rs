//! Downloading a stored copy, for the pages and the API alike: its bytes as they come from the
//! destination, never whole in memory.

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;

use crate::error::Error;
use crate::http::state::Web;
use crate::registry::App;
use crate::storage::destination::StoredFile;

/// The download response of a copy: its bytes as they come from the destination.
pub async fn response(web: &Web, app: &App, file: &StoredFile) -> Result<Response, Error> {
    let stream = web
        .ctx
        .runner
        .destination
        .reader(&app.folder, file)
        .await
        .map_err(|e| Error::destination(format_args!("cannot read {}", file.name), &e))?;
    let body = Body::from_stream(stream.map_err(std::io::Error::other));
    let disposition = format!("attachment; filename=\"{}\"", file.name.replace(['"', '\\', '\r', '\n'], "_"));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, file.size.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
