//! In-process apps built with `client-sdk`, served on a loopback port, whose export does
//! exactly what a test needs: succeed, fail at once, die half-way, stall, or be big.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use client_sdk::{BackupSource, BackupType, Capabilities, ExportStream, ImportStream, SourceError};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::apps::TOKEN;
use crate::cli::generate;

/// What the export does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// `size` deterministic bytes, with `delay` between 64 KiB pieces.
    Good {
        /// Bytes.
        size: u64,
        /// Pause between pieces.
        delay: Duration,
    },
    /// Fails before the first byte (the SDK answers 500).
    FailsAtOnce,
    /// Sends half of `size` bytes, then fails (the SDK cuts the connection).
    DiesMidStream {
        /// Bytes it would have sent.
        size: u64,
    },
    /// Sends a little, then never another byte.
    Stalls,
}

struct Source {
    behaviour: Behaviour,
    seed: u64,
    restore: bool,
    /// Pause after each piece of an import read, to make it slow.
    import_pause: Duration,
    /// The data as last restored: the sha256 of each import that arrived whole, in order.
    restored: Arc<Mutex<Vec<String>>>,
    /// Imports under way (begun, not yet ended one way or another).
    importing: Arc<AtomicUsize>,
}

/// Counts an import as under way until dropped, however the import ends (even dropped itself).
struct Importing(Arc<AtomicUsize>);

impl Importing {
    fn begin(count: &Arc<AtomicUsize>) -> Importing {
        count.fetch_add(1, Ordering::SeqCst);
        Importing(count.clone())
    }
}

impl Drop for Importing {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

const PIECE: usize = 64 * 1024;

impl BackupSource for Source {
    fn capabilities(&self) -> Capabilities {
        let caps = Capabilities::new("test-app", [BackupType::new("full", "application/octet-stream", "bin")]);
        if self.restore { caps.with_restore() } else { caps }
    }

    /// Reads the whole body (the SDK checks its sha256 against the header as it ends) and only
    /// then "commits" it: records its sha256 as the app's data. A body cut short commits nothing.
    async fn import(&self, _: &BackupType, mut body: ImportStream) -> Result<(), SourceError> {
        let _importing = Importing::begin(&self.importing);
        let mut hasher = Sha256::new();
        while let Some(chunk) = body.next().await {
            hasher.update(&chunk?);
            if !self.import_pause.is_zero() {
                tokio::time::sleep(self.import_pause).await;
            }
        }
        self.restored.lock().expect("restored log").push(hex::encode(hasher.finalize()));
        Ok(())
    }

    async fn export(&self, _: &BackupType) -> Result<ExportStream, SourceError> {
        let (size, delay, fail_at, stall) = match self.behaviour {
            Behaviour::Good { size, delay } => (size, delay, None, false),
            Behaviour::FailsAtOnce => return Err(SourceError::failed("the database is unreachable")),
            Behaviour::DiesMidStream { size } => (size, Duration::ZERO, Some(size / 2), false),
            Behaviour::Stalls => (u64::MAX, Duration::ZERO, None, true),
        };
        let state = (self.seed | 1, 0u64);
        let stream = futures::stream::unfold(state, move |(mut seed, sent)| async move {
            if sent >= size {
                return None;
            }
            if let Some(at) = fail_at
                && sent >= at
            {
                return Some((Err(SourceError::failed("the dump process crashed")), (seed, u64::MAX)));
            }
            if stall && sent > 0 {
                futures::future::pending::<()>().await;
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let n = (size - sent).min(PIECE as u64) as usize;
            let mut buf = vec![0u8; n];
            generate(&mut seed, &mut buf);
            Some((Ok(Bytes::from(buf)), (seed, sent + n as u64)))
        });
        Ok(Box::pin(stream))
    }
}

/// A running SDK app; stops when dropped.
pub struct SdkApp {
    /// Base URL.
    pub url: String,
    requests: Arc<Mutex<Vec<String>>>,
    restored: Arc<Mutex<Vec<String>>>,
    importing: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl SdkApp {
    /// The sha256 of every import it committed (took in whole), in order.
    pub fn restored(&self) -> Vec<String> {
        self.restored.lock().expect("restored log").clone()
    }

    /// How many imports it is taking in now (an import cut off counts until the app has let go
    /// of it).
    pub fn imports_running(&self) -> usize {
        self.importing.load(Ordering::SeqCst)
    }

    /// Every request it received so far, as `METHOD /path`, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("request log").clone()
    }
}

impl Drop for SdkApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts an app with `behaviour`, guarded by [`TOKEN`]; `seed` makes its bytes. It offers no
/// restore.
pub async fn spawn(behaviour: Behaviour, seed: u64) -> SdkApp {
    start(Source {
        behaviour,
        seed,
        restore: false,
        import_pause: Duration::ZERO,
        restored: Default::default(),
        importing: Default::default(),
    })
    .await
}

/// Like [`spawn`], and it accepts imports, which it reads to the end and throws away.
pub async fn spawn_restorable(behaviour: Behaviour, seed: u64) -> SdkApp {
    spawn_slow_restorable(behaviour, seed, Duration::ZERO).await
}

/// Like [`spawn_restorable`], pausing `pause` after each piece of an import it reads.
pub async fn spawn_slow_restorable(behaviour: Behaviour, seed: u64, pause: Duration) -> SdkApp {
    start(Source {
        behaviour,
        seed,
        restore: true,
        import_pause: pause,
        restored: Default::default(),
        importing: Default::default(),
    })
    .await
}

/// Like [`spawn_slow_restorable`], with a small TCP receive buffer: the kernel keeps little of an
/// import the app has not read yet (autotuning may otherwise take in tens of MiB), so a sender
/// stays about as far ahead as its own send buffer, and an import of a few MiB lasts as long as
/// the app takes to read it.
pub async fn spawn_slow_restorable_small_window(behaviour: Behaviour, seed: u64, pause: Duration) -> SdkApp {
    let source = Source {
        behaviour,
        seed,
        restore: true,
        import_pause: pause,
        restored: Default::default(),
        importing: Default::default(),
    };
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    // Set on the listening socket, it is the accepted connections' too (and stops autotuning).
    socket.set_recv_buffer_size(64 * 1024).expect("SO_RCVBUF");
    socket.bind("127.0.0.1:0".parse().expect("address")).expect("bind");
    serve(source, socket.listen(64).expect("listen")).await
}

async fn start(source: Source) -> SdkApp {
    serve(source, tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind")).await
}

async fn serve(source: Source, listener: tokio::net::TcpListener) -> SdkApp {
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let restored = source.restored.clone();
    let importing = source.importing.clone();
    let log = requests.clone();
    let router = client_sdk::router(source, TOKEN.to_owned().into()).layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            log.lock().expect("request log").push(format!("{} {}", request.method(), request.uri().path()));
            next.run(request)
        },
    ));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    SdkApp { url, requests, restored, importing, task }
}

/// The sha256 of what a `Good { size }` app with `seed` exports.
pub fn expected_sha256(size: u64, seed: u64) -> String {
    let mut state = seed | 1;
    let mut hasher = Sha256::new();
    let mut left = size;
    while left > 0 {
        let n = left.min(PIECE as u64) as usize;
        let mut buf = vec![0u8; n];
        generate(&mut state, &mut buf);
        hasher.update(&buf);
        left -= n as u64;
    }
    hex::encode(hasher.finalize())
}
