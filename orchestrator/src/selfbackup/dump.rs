//! Writing a self-backup: the kept tables read in ONE snapshot transaction, row by row, as JSON
//! lines -> gzip -> sealed frames -> hashed and counted -> the destination's writer. Memory holds
//! a few buffers of a few hundred KiB whatever the size of the registry; no temporary file.
//!
//! ```text
//! {"format":"backup-orchestrator self-backup","version":1,"deployment":"d-…","made_at":"…","schema":"m0006_…"}
//! {"table":"apps","columns":["id","name",…]}
//! [1,"billing",…]                      one line per row, values in the order of the columns
//! …
//! {"end":{"rows":123}}
//! ```

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};

use crate::secrets::SecretBox;
use crate::selfbackup::seal::Sealer;
use crate::selfbackup::{Header, SelfBackupError, tables};

/// JSON gathered before it is compressed.
const JSON_BATCH: usize = 256 * 1024;
/// Sealed bytes gathered before they are handed to the destination.
const WRITE_BATCH: usize = 1024 * 1024;

/// What a written dump is.
#[derive(Debug, Clone)]
pub struct Written {
    /// Bytes handed to the destination (sealed).
    pub bytes: u64,
    /// Their sha256 (hex).
    pub sha256: String,
    /// Rows of every table.
    pub rows: u64,
}

/// Where the lines of a dump go: compressed, sealed, hashed, written.
pub(crate) struct Sink<'a> {
    json: Vec<u8>,
    gzip: GzEncoder<Vec<u8>>,
    sealer: Option<Sealer>,
    sealed: Vec<u8>,
    hasher: Sha256,
    bytes: u64,
    writer: &'a mut opendal::Writer,
}

impl Sink<'_> {
    /// Adds one line (a JSON value and a newline).
    pub(crate) async fn line(&mut self, value: &impl serde::Serialize) -> Result<(), SelfBackupError> {
        serde_json::to_writer(&mut self.json, value).map_err(|e| SelfBackupError::Format(e.to_string()))?;
        self.json.push(b'\n');
        if self.json.len() >= JSON_BATCH {
            self.compress()?;
            if self.sealed.len() >= WRITE_BATCH {
                self.write().await?;
            }
        }
        Ok(())
    }

    fn compress(&mut self) -> Result<(), SelfBackupError> {
        self.gzip.write_all(&self.json).map_err(|e| SelfBackupError::Format(format!("compressing: {e}")))?;
        self.json.clear();
        let compressed = std::mem::take(self.gzip.get_mut());
        self.sealer.as_mut().expect("open until finished").push(&compressed, &mut self.sealed);
        Ok(())
    }

    async fn write(&mut self) -> Result<(), SelfBackupError> {
        if self.sealed.is_empty() {
            return Ok(());
        }
        let sealed = std::mem::replace(&mut self.sealed, Vec::with_capacity(WRITE_BATCH + 128 * 1024));
        self.hasher.update(&sealed);
        self.bytes += sealed.len() as u64;
        self.writer.write(sealed).await.map_err(SelfBackupError::upload)
    }

    /// Ends the gzip stream and the sealed stream and writes what is left.
    async fn finish(&mut self) -> Result<(), SelfBackupError> {
        self.compress()?;
        let gzip = std::mem::replace(&mut self.gzip, GzEncoder::new(Vec::new(), Compression::fast()));
        let rest = gzip.finish().map_err(|e| SelfBackupError::Format(format!("compressing: {e}")))?;
        let mut sealer = self.sealer.take().expect("finished once");
        sealer.push(&rest, &mut self.sealed);
        sealer.finish(&mut self.sealed);
        self.write().await
    }
}

/// Streams a dump of the kept tables of `db`, sealed with `secrets`, into `writer` (which the
/// caller closes, or aborts on an error).
pub async fn write(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    header: &Header,
    writer: &mut opendal::Writer,
) -> Result<Written, SelfBackupError> {
    let mut sealed = Vec::with_capacity(WRITE_BATCH + 128 * 1024);
    let sealer = Sealer::new(secrets, &mut sealed);
    let mut sink = Sink {
        json: Vec::with_capacity(JSON_BATCH + 64 * 1024),
        // Fast: the dump is mostly repeated keys and numbers, which compress well at any level,
        // and the level costs CPU on every row of a large registry.
        gzip: GzEncoder::new(Vec::new(), Compression::fast()),
        sealer: Some(sealer),
        sealed,
        hasher: Sha256::new(),
        bytes: 0,
        writer,
    };
    sink.line(header).await?;
    let txn = crate::db::dialect::Dialect::of(db).begin_snapshot(db).await?;
    let rows = tables::dump_all(&txn, &mut sink).await?;
    // Read-only: nothing to keep; ending it frees the snapshot.
    txn.rollback().await?;
    sink.line(&serde_json::json!({ "end": { "rows": rows } })).await?;
    sink.finish().await?;
    Ok(Written { bytes: sink.bytes, sha256: hex::encode(sink.hasher.finalize()), rows })
}
