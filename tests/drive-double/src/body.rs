//! Reading request bodies. Upload bodies are always read to the end before an error is answered: a client
//! still writing a large chunk would otherwise see a reset connection instead of Google's error.

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

use crate::errors::ApiError;
use crate::state::Shared;

/// Reads and discards the body; returns how many bytes it had.
pub(crate) async fn drain(mut body: Body) -> u64 {
    let mut total = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            total += data.len() as u64;
        }
    }
    total
}

/// `drain` for a request to /upload, whose size is recorded.
pub(crate) async fn drain_upload(shared: &Shared, body: Body) {
    let total = drain(body).await;
    shared.note_upload_body(total);
}

/// Why a bounded read failed.
pub(crate) enum ReadError {
    /// Longer than the limit; the rest was drained.
    TooLarge,
    /// The client went away mid-body.
    Broken,
}

/// Reads at most `limit` bytes into memory; anything longer is drained and refused.
pub(crate) async fn collect(mut body: Body, limit: usize) -> (Result<Bytes, ReadError>, u64) {
    let mut buffer = BytesMut::new();
    let mut total = 0u64;
    let mut too_large = false;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return (Err(ReadError::Broken), total);
        };
        if let Ok(data) = frame.into_data() {
            total += data.len() as u64;
            if !too_large && buffer.len() + data.len() <= limit {
                buffer.extend_from_slice(&data);
            } else {
                too_large = true;
                buffer.clear();
            }
        }
    }
    if too_large { (Err(ReadError::TooLarge), total) } else { (Ok(buffer.freeze()), total) }
}

/// A small JSON request body (metadata): at most 1 MiB, which no metadata reaches.
pub(crate) async fn small(body: Body) -> Result<Bytes, ApiError> {
    match collect(body, 1 << 20).await.0 {
        Ok(bytes) => Ok(bytes),
        Err(ReadError::TooLarge) => Err(ApiError::bad_request("The request body is too large.")),
        Err(ReadError::Broken) => Err(ApiError::bad_request("The request body could not be read.")),
    }
}
