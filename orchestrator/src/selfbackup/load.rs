//! Reading a self-backup back into the database: the stored file streamed from the destination
//! -> hashed -> opened frame by frame -> gunzipped -> JSON lines -> rows inserted in batches, all
//! in ONE transaction that commits only when the whole file was read, opened, counted and its
//! sha256 matched its mark. Anything less rolls back and leaves the database as it was.

use std::io::Write as _;

use flate2::write::GzDecoder;
use futures::StreamExt;
use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::secrets::SecretBox;
use crate::selfbackup::seal::Opener;
use crate::selfbackup::tables::{self, TableHeader};
use crate::selfbackup::{FORMAT, Header, SelfBackupError};
use crate::storage::destination::{Destination, StoredFile};

/// Rows inserted per statement.
const BATCH: usize = 200;

/// What was restored.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The self-backup's first line.
    pub header: Header,
    /// Rows restored.
    pub rows: u64,
}

/// Replaces the kept tables of `db` with the content of the self-backup `file` of `folder`.
/// `deployment`, when given, is the only deployment whose registry may be restored.
pub async fn restore(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    destination: &Destination,
    folder: &str,
    file: &StoredFile,
    deployment: Option<&str>,
) -> Result<Loaded, SelfBackupError> {
    let txn = db.begin().await?;
    tables::clear_all(&txn).await?;
    let mut stream = destination
        .reader(folder, file)
        .await
        .map_err(|e| SelfBackupError::destination(format_args!("could not read {}", file.name), e))?;
    let mut reader = Reader::new(&txn, secrets, deployment);
    let mut hasher = Sha256::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| SelfBackupError::Destination(format!("reading {} failed: {e}", file.name)))?;
        hasher.update(&chunk);
        reader.push(&chunk).await?;
    }
    let loaded = reader.finish().await?;
    let sha256 = hex::encode(hasher.finalize());
    if let Some(marked) = file.properties.get("sha256").or(file.sha256.as_ref())
        && !marked.eq_ignore_ascii_case(&sha256)
    {
        return Err(SelfBackupError::Format(format!(
            "{} reads as sha256 {sha256}, its mark says {marked}: it was altered; use another one (--from)",
            file.name
        )));
    }
    crate::db::dialect::Dialect::of(db).reset_id_sequences(&txn, &tables::with_id_sequence()).await?;
    txn.commit().await?;
    Ok(loaded)
}

/// The decoding chain and the rows on their way into the transaction.
struct Reader<'a> {
    txn: &'a DatabaseTransaction,
    opener: Opener<'a>,
    opened: Vec<u8>,
    gunzip: GzDecoder<Vec<u8>>,
    line: Vec<u8>,
    deployment: Option<&'a str>,
    header: Option<Header>,
    table: Option<TableHeader>,
    batch: Vec<Vec<Json>>,
    rows: u64,
    end: Option<u64>,
}

impl<'a> Reader<'a> {
    fn new(txn: &'a DatabaseTransaction, secrets: &'a SecretBox, deployment: Option<&'a str>) -> Self {
        Reader {
            txn,
            opener: Opener::new(secrets),
            opened: Vec::new(),
            gunzip: GzDecoder::new(Vec::new()),
            line: Vec::new(),
            deployment,
            header: None,
            table: None,
            batch: Vec::with_capacity(BATCH),
            rows: 0,
            end: None,
        }
    }

    async fn push(&mut self, sealed: &[u8]) -> Result<(), SelfBackupError> {
        self.opener.push(sealed, &mut self.opened)?;
        self.gunzip.write_all(&self.opened).map_err(gzip_error)?;
        self.opened.clear();
        self.lines().await
    }

    async fn finish(mut self) -> Result<Loaded, SelfBackupError> {
        self.opener.finish()?;
        self.gunzip.try_finish().map_err(gzip_error)?;
        self.lines().await?;
        if !self.line.is_empty() {
            return Err(SelfBackupError::Format("it ends in the middle of a line".into()));
        }
        self.flush().await?;
        let header = self.header.ok_or_else(|| SelfBackupError::Format("it is empty".into()))?;
        match self.end {
            Some(rows) if rows == self.rows => Ok(Loaded { header, rows }),
            Some(rows) => Err(SelfBackupError::Format(format!("it says {rows} rows but holds {}", self.rows))),
            None => Err(SelfBackupError::Format("its end line is missing".into())),
        }
    }

    /// Takes every complete line out of what gzip produced.
    async fn lines(&mut self) -> Result<(), SelfBackupError> {
        let out = std::mem::take(self.gunzip.get_mut());
        let mut start = 0;
        for (at, _) in out.iter().enumerate().filter(|(_, b)| **b == b'\n') {
            if self.line.is_empty() {
                self.handle(&out[start..at]).await?;
            } else {
                self.line.extend_from_slice(&out[start..at]);
                let line = std::mem::take(&mut self.line);
                self.handle(&line).await?;
            }
            start = at + 1;
        }
        self.line.extend_from_slice(&out[start..]);
        Ok(())
    }

    async fn handle(&mut self, line: &[u8]) -> Result<(), SelfBackupError> {
        let bad = |e: serde_json::Error| SelfBackupError::Format(format!("a line is not JSON: {e}"));
        if self.end.is_some() {
            return Err(SelfBackupError::Format("lines follow its end line".into()));
        }
        if self.header.is_none() {
            let header: Header = serde_json::from_slice(line)
                .map_err(|_| SelfBackupError::Format("its first line is not the header of a self-backup".into()))?;
            if header.format != FORMAT || header.version != 1 {
                return Err(SelfBackupError::Format(format!(
                    "it is {:?} version {}, this release reads {FORMAT:?} version 1: recover with the release that made it",
                    header.format, header.version
                )));
            }
            if let Some(wanted) = self.deployment
                && wanted != header.deployment
            {
                return Err(SelfBackupError::Refused(format!(
                    "it holds the registry of deployment {}, not {wanted}: choose a self-backup of {wanted} (--from), or leave DEPLOYMENT_ID unset",
                    header.deployment
                )));
            }
            self.header = Some(header);
            return Ok(());
        }
        if line.first() == Some(&b'[') {
            if self.table.is_none() {
                return Err(SelfBackupError::Format("a row comes before its table".into()));
            }
            self.batch.push(serde_json::from_slice(line).map_err(bad)?);
            self.rows += 1;
            if self.batch.len() >= BATCH {
                self.flush().await?;
            }
            return Ok(());
        }
        let value: Json = serde_json::from_slice(line).map_err(bad)?;
        if let Some(rows) = value.get("end").and_then(|e| e.get("rows")).and_then(Json::as_u64) {
            self.flush().await?;
            self.end = Some(rows);
            return Ok(());
        }
        let table: TableHeader = serde_json::from_value(value)
            .map_err(|e| SelfBackupError::Format(format!("a line is neither a row, a table nor the end: {e}")))?;
        self.flush().await?;
        self.table = Some(table);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SelfBackupError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let rows = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        let table = self.table.as_ref().expect("rows come after their table");
        tables::load(self.txn, table, rows).await.map_err(|e| match (e, &self.header) {
            (SelfBackupError::Format(what), Some(h)) if h.schema != crate::db::schema_version() => {
                SelfBackupError::Format(format!(
                    "{what} (it was made with schema {}, this release has {})",
                    h.schema,
                    crate::db::schema_version()
                ))
            }
            (e, _) => e,
        })
    }
}

fn gzip_error(e: std::io::Error) -> SelfBackupError {
    SelfBackupError::Format(format!("its content does not decompress: {e}"))
}
