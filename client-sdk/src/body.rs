//! The export response body: passes the source's bytes through one at a time, counts and
//! hashes them for the trailers, and turns a source error into a cut connection.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use contract_spec::{TRAILER_BYTES, TRAILER_SHA256};
use futures::StreamExt;
use http::{HeaderMap, HeaderValue};
use http_body::{Body, Frame};
use sha2::{Digest, Sha256};
use tokio::sync::OwnedSemaphorePermit;

use crate::source::{ExportStream, SourceError};

pub(crate) struct ExportBody {
    first: Option<Bytes>,
    stream: ExportStream,
    /// Present when the client asked for trailers.
    hasher: Option<Sha256>,
    bytes: u64,
    done: bool,
    backup_type: String,
    /// Held until the body ends or is dropped: one export at a time means one body at a time.
    permit: Option<OwnedSemaphorePermit>,
}

impl ExportBody {
    pub(crate) fn new(
        first: Bytes,
        stream: ExportStream,
        trailers: bool,
        backup_type: String,
        permit: OwnedSemaphorePermit,
    ) -> Self {
        ExportBody {
            first: Some(first),
            stream,
            hasher: trailers.then(Sha256::new),
            bytes: 0,
            done: false,
            backup_type,
            permit: Some(permit),
        }
    }

    fn data(&mut self, chunk: Bytes) -> Poll<Option<Result<Frame<Bytes>, SourceError>>> {
        if let Some(h) = self.hasher.as_mut() {
            h.update(&chunk);
        }
        self.bytes += chunk.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn end(&mut self) {
        self.done = true;
        self.permit = None;
    }
}

impl Body for ExportBody {
    type Data = Bytes;
    type Error = SourceError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, SourceError>>> {
        let this = &mut *self;
        if let Some(first) = this.first.take() {
            return this.data(first);
        }
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match this.stream.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) if chunk.is_empty() => continue,
                Poll::Ready(Some(Ok(chunk))) => return this.data(chunk),
                Poll::Ready(Some(Err(e))) => {
                    this.end();
                    tracing::error!(backup_type = %this.backup_type, bytes = this.bytes, error = %e, "export failed mid-stream; cutting the connection");
                    // hyper aborts the connection on a body error: the chunked body never ends cleanly.
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    this.end();
                    tracing::info!(backup_type = %this.backup_type, bytes = this.bytes, "export complete");
                    let Some(hasher) = this.hasher.take() else {
                        return Poll::Ready(None);
                    };
                    let mut trailers = HeaderMap::new();
                    let sha = hex::encode(hasher.finalize());
                    trailers.insert(TRAILER_SHA256, HeaderValue::from_str(&sha).expect("hex is a valid header value"));
                    trailers.insert(TRAILER_BYTES, HeaderValue::from(this.bytes));
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.first.is_none()
    }
}
