//! An app built with `client-sdk` whose export costs next to nothing: a deterministic 1 MiB
//! block, generated once, sent again and again as zero-copy slices. Whatever time a benchmark
//! measures is then spent moving and checking bytes, not making them.

use bytes::Bytes;
use client_sdk::{BackupSource, BackupType, Capabilities, ExportStream, SourceError};
use e2e::apps::TOKEN;

const BLOCK: usize = 1 << 20;
const PIECE: usize = 256 << 10;

struct Source {
    size: u64,
    block: Bytes,
}

/// The piece of an export that starts at byte `sent`: pieces walk the block, then start over.
fn piece(block: &Bytes, size: u64, sent: u64) -> Option<Bytes> {
    if sent >= size {
        return None;
    }
    let at = (sent % BLOCK as u64) as usize;
    let n = (size - sent).min(PIECE.min(BLOCK - at) as u64) as usize;
    Some(block.slice(at..at + n))
}

impl BackupSource for Source {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new("bench", [BackupType::new("full", "application/octet-stream", "bin")])
    }

    async fn export(&self, _: &BackupType) -> Result<ExportStream, SourceError> {
        let (block, size) = (self.block.clone(), self.size);
        let stream = futures::stream::unfold(0u64, move |sent| {
            let next = piece(&block, size, sent).map(|p| {
                let len = p.len() as u64;
                (Ok(p), sent + len)
            });
            std::future::ready(next)
        });
        Ok(Box::pin(stream))
    }
}

fn block(seed: u64) -> Bytes {
    let mut buf = vec![0u8; BLOCK];
    let mut state = seed | 1;
    e2e::cli::generate(&mut state, &mut buf);
    Bytes::from(buf)
}

/// A running fast app; stops when dropped.
pub(crate) struct FastApp {
    /// Base URL.
    pub(crate) url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FastApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts an app on loopback exporting `size` bytes made from `seed`, guarded by [`TOKEN`].
pub(crate) async fn spawn(size: u64, seed: u64) -> FastApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = client_sdk::router(Source { size, block: block(seed) }, TOKEN.to_owned().into());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    FastApp { url, task }
}
