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
    media_type: &'static str,
    extension: &'static str,
}

/// The piece of an export that starts at byte `sent`: pieces walk the block, then start over.
fn piece(block: &Bytes, size: u64, sent: u64) -> Option<Bytes> {
    if sent >= size {
        return None;
    }
    let at = (sent % block.len() as u64) as usize;
    let n = (size - sent).min(PIECE.min(block.len() - at) as u64) as usize;
    Some(block.slice(at..at + n))
}

impl BackupSource for Source {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new("bench", [BackupType::new("full", self.media_type, self.extension)])
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

/// Bytes of generated SQL an SQL app sends again and again: far more than zstd's window, so
/// compression sees a dump, not a repeated block.
const SQL_BLOCK: usize = 64 << 20;

/// A plain-text SQL dump of an invoices table, as `pg_dump --inserts` would write it, with
/// varied values (ids, customers, amounts, dates, notes in Spanish).
fn sql_block(seed: u64) -> Bytes {
    const NOTES: [&str; 8] = [
        "pago pendiente",
        "pagado por transferencia",
        "factura rectificativa",
        "cliente nuevo",
        "entrega parcial",
        "descuento por volumen",
        "pago con tarjeta",
        "reclamación abierta",
    ];
    let mut out = String::with_capacity(SQL_BLOCK + 256);
    out.push_str("--\n-- PostgreSQL database dump\n--\n\nSET client_encoding = 'UTF8';\n\n");
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut id = 100_000u64;
    while out.len() < SQL_BLOCK {
        id += 1 + next() % 3;
        let r = next();
        let (customer, cents) = (r % 20_000, (r >> 16) % 5_000_000);
        let (month, day, hour, minute, second) =
            (1 + (r >> 40) % 12, 1 + (r >> 44) % 28, (r >> 50) % 24, (r >> 8) % 60, (r >> 20) % 60);
        out.push_str(&format!(
            "INSERT INTO public.invoices (id, customer_id, customer, amount, currency, issued_at, note) VALUES ({id}, {customer}, 'Cliente {customer}', {}.{:02}, 'EUR', '2026-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}+01', '{}');\n",
            cents / 100,
            cents % 100,
            NOTES[(r >> 58) as usize % NOTES.len()],
        ));
    }
    let mut bytes = out.into_bytes();
    bytes.truncate(SQL_BLOCK);
    Bytes::from(bytes)
}

/// Starts an app on loopback exporting `size` bytes made from `seed`, guarded by [`TOKEN`].
pub(crate) async fn spawn(size: u64, seed: u64) -> FastApp {
    serve(Source { size, block: block(seed), media_type: "application/octet-stream", extension: "bin" }).await
}

/// Starts an app exporting a `size`-byte plain-text SQL dump (compressible, as real dumps are).
pub(crate) async fn spawn_sql(size: u64, seed: u64) -> FastApp {
    let block = tokio::task::spawn_blocking(move || sql_block(seed)).await.expect("generate the dump");
    serve(Source { size, block, media_type: "application/sql", extension: "sql" }).await
}

async fn serve(source: Source) -> FastApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = client_sdk::router(source, TOKEN.to_owned().into());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    FastApp { url, task }
}
