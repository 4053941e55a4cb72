//! The copy's stream on its way from the destination to the app, counted and hashed as the HTTP
//! client pulls it, so progress can be read while it flows and a failure can say whether the
//! copy itself was at fault.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use sha2::{Digest, Sha256};

/// What went through a [`Tap`]: bytes, their sha256 once the copy ended, or the read error.
#[derive(Default)]
pub(super) struct Seen {
    bytes: AtomicU64,
    state: Mutex<SeenState>,
}

#[derive(Default)]
struct SeenState {
    hasher: Sha256,
    sha256: Option<String>,
    error: Option<String>,
}

impl Seen {
    pub(super) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub(super) fn sha256(&self) -> Option<String> {
        self.state.lock().ok().and_then(|s| s.sha256.clone())
    }

    pub(super) fn read_error(&self) -> Option<String> {
        self.state.lock().ok().and_then(|s| s.error.clone())
    }
}

/// The copy's stream on its way to the app, counted and hashed as the HTTP client pulls it.
pub(super) struct Tap<S> {
    inner: S,
    seen: Arc<Seen>,
}

impl<S> Tap<S> {
    pub(super) fn new(inner: S) -> Self {
        Tap { inner, seen: Arc::default() }
    }

    /// What went through so far; readable while the stream flows elsewhere.
    pub(super) fn seen(&self) -> Arc<Seen> {
        self.seen.clone()
    }
}

impl<S: Stream<Item = std::io::Result<Bytes>> + Unpin> Stream for Tap<S> {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(item) = &polled
            && let Ok(mut state) = self.seen.state.lock()
        {
            match item {
                Some(Ok(chunk)) => {
                    state.hasher.update(chunk);
                    self.seen.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
                Some(Err(e)) => state.error = Some(e.to_string()),
                None => state.sha256 = Some(hex::encode(std::mem::take(&mut state.hasher).finalize())),
            }
        }
        polled
    }
}
