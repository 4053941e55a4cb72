//! Chunk buffers reused by the uploads of a process.
//!
//! Each upload fills one chunk-sized buffer while, with read-ahead, the previous one is sent.
//! Allocating and freeing those multi-MiB buffers chunk after chunk lets the allocator keep freed
//! blocks in per-thread arenas, so with many uploads at once the process grew well past the
//! buffers actually alive. Handing buffers back here instead keeps memory at the number of
//! buffers in use at the busiest moment, which the settings bound (one per upload plus the
//! read-ahead budget). The idle buffers are released when no upload is running, so an idle
//! process does not hold them.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};

/// Idle chunk buffers, and how many uploads may still hand one back.
#[derive(Debug)]
pub(crate) struct ChunkPool {
    chunk: usize,
    idle: Mutex<Vec<BytesMut>>,
    uploads: AtomicUsize,
}

impl ChunkPool {
    pub(crate) fn new(chunk: usize) -> Self {
        ChunkPool { chunk, idle: Mutex::new(Vec::new()), uploads: AtomicUsize::new(0) }
    }

    /// An upload begins: buffers handed back are kept until every upload has ended.
    pub(crate) fn upload_started(&self) {
        self.uploads.fetch_add(1, Ordering::AcqRel);
    }

    /// An upload ended; the last one out frees the idle buffers.
    pub(crate) fn upload_ended(&self) {
        if self.uploads.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.lock().clear();
        }
    }

    /// An empty buffer with room for a chunk.
    pub(crate) fn take(&self) -> BytesMut {
        self.lock().pop().unwrap_or_else(|| BytesMut::with_capacity(self.chunk))
    }

    /// Takes back a buffer that is no longer needed; one of another size is simply freed.
    pub(crate) fn give(&self, mut buffer: BytesMut) {
        if buffer.capacity() < self.chunk || buffer.capacity() > 2 * self.chunk {
            return;
        }
        if self.uploads.load(Ordering::Acquire) == 0 {
            return;
        }
        buffer.clear();
        self.lock().push(buffer);
    }

    /// Takes back the memory of a sent chunk, when nothing else refers to it any more.
    pub(crate) fn give_sent(&self, sent: Bytes) {
        if let Ok(buffer) = sent.try_into_mut() {
            self.give(buffer);
        }
    }

    /// Idle buffers held now.
    #[cfg(test)]
    fn idle(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<BytesMut>> {
        // A panic while holding the lock leaves a plain list of buffers: still usable.
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sent_chunk_is_reused_by_the_next_and_released_when_uploads_end() {
        let pool = ChunkPool::new(1024);
        pool.upload_started();
        let mut buffer = pool.take();
        buffer.extend_from_slice(&[7; 1024]);
        let address = buffer.as_ptr();
        let sent = buffer.freeze();
        let clone = sent.clone();
        pool.give_sent(sent);
        assert_eq!(pool.idle(), 0, "a chunk still referred to (in flight) is not reused");
        pool.give_sent(clone);
        assert_eq!(pool.idle(), 1);
        let again = pool.take();
        assert_eq!(again.as_ptr(), address, "the same memory is filled again");
        assert!(again.is_empty() && again.capacity() >= 1024);
        pool.give(again);
        pool.give(BytesMut::with_capacity(16));
        assert_eq!(pool.idle(), 1, "a buffer too small for a chunk is freed");
        pool.upload_ended();
        assert_eq!(pool.idle(), 0, "no upload running: nothing is held");
        pool.give(BytesMut::with_capacity(1024));
        assert_eq!(pool.idle(), 0);
    }
}
