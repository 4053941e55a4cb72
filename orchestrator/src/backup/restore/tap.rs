//! The copy's stream on its way from the destination to the app, counted and hashed as the HTTP
//! client pulls it, so progress can be read while it flows and a failure can say whether the
//! copy itself was at fault; and cut by a cancel, so that the app never sees its end.
//!
//! The upload is chunked: the app learns that the copy is whole only from the end of the body,
//! which the HTTP client sends once this stream has ended. A cancel ([`Seen::cut`]) and that end
//! are decided under one lock: either the end was let through (the app may restore the copy, and
//! the cancel comes too late), or it never will be (the stream fails instead, the client aborts
//! the upload, and the app sees its upload cut off).

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
    /// Cut by a cancel: the end of the copy is never let through.
    cut: bool,
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

    /// Cuts the stream for a cancel: true when its end had not been let through (and now never
    /// will be: its next item is an error), false when it had, so the app may already hold the
    /// whole copy and its answer decides.
    pub(super) fn cut(&self) -> bool {
        let Ok(mut state) = self.state.lock() else { return false };
        if state.sha256.is_some() {
            return false;
        }
        state.cut = true;
        true
    }
}

/// The error a cut stream ends with.
fn cut_error() -> std::io::Error {
    std::io::Error::other("the restore was cancelled: the upload is cut off before the end of the copy")
}

/// The copy's stream on its way to the app, counted and hashed as the HTTP client pulls it.
pub(super) struct Tap<S> {
    inner: S,
    seen: Arc<Seen>,
}

impl<S> Tap<S> {
    /// `inner`, counted into `seen`.
    pub(super) fn new(inner: S, seen: Arc<Seen>) -> Self {
        Tap { inner, seen }
    }
}

impl<S: Stream<Item = std::io::Result<Bytes>> + Unpin> Stream for Tap<S> {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.seen.state.lock().is_ok_and(|s| s.cut) {
            return Poll::Ready(Some(Err(cut_error())));
        }
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
                // Cut meanwhile: the end is never let through.
                None if state.cut => return Poll::Ready(Some(Err(cut_error()))),
                None => state.sha256 = Some(hex::encode(std::mem::take(&mut state.hasher).finalize())),
            }
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    fn chunks(n: usize) -> impl Stream<Item = std::io::Result<Bytes>> + Unpin {
        futures::stream::iter((0..n).map(|i| Ok(Bytes::from(vec![i as u8; 4]))))
    }

    #[tokio::test]
    async fn a_cut_stream_never_ends_cleanly_and_a_stream_that_ended_cannot_be_cut() {
        let seen = Arc::new(Seen::default());
        let mut tap = Tap::new(chunks(3), seen.clone());
        assert_eq!(tap.next().await.unwrap().unwrap().len(), 4);
        assert!(seen.cut(), "cut before its end");
        assert!(tap.next().await.unwrap().is_err(), "the next item is an error, not more of the copy");
        assert!(seen.sha256().is_none(), "it never ended");

        let seen = Arc::new(Seen::default());
        let mut tap = Tap::new(chunks(2), seen.clone());
        while let Some(item) = tap.next().await {
            item.unwrap();
        }
        assert_eq!(seen.bytes(), 8);
        assert!(seen.sha256().is_some());
        assert!(!seen.cut(), "its end was let through: too late to cut");
    }
}
