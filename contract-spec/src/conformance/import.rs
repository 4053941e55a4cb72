//! Import: guarded by the token, refuses a body whose sha256 does not match, and restores an
//! export of the app's own. Runs only with `--with-import`: an import overwrites the app's data.

use std::path::PathBuf;

use bytes::Bytes;
use futures::TryStreamExt;
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Options, Report};
use crate::client::{AppClient, ClientError};
use crate::{Capabilities, HEADER_BACKUP_SHA256, HEADER_BACKUP_TYPE, IMPORT_PATH};

const ROUND_TRIP: &str = "import round trip";

pub(super) async fn check(client: &AppClient, caps: &Capabilities, options: &Options, report: &mut Report) {
    if !caps.restore {
        report.skip(ROUND_TRIP, "the app does not advertise restore");
        return;
    }
    if !options.with_import {
        report.skip(ROUND_TRIP, "pass --with-import to test it (it overwrites the app's data)");
        return;
    }
    let backup_type = &caps.types[0].name;
    let unauthenticated = client
        .bare(Method::POST, IMPORT_PATH)
        .header(HEADER_BACKUP_TYPE, backup_type.as_str())
        .header(HEADER_BACKUP_SHA256, "0".repeat(64))
        .body(Vec::new());
    super::auth::expect_401(client, report, "POST /backup/import without a token", unauthenticated).await;

    let spool = Spool::new();
    let (sha, bytes) = match spool.fill(client, backup_type).await {
        Ok(done) => done,
        Err(e) => return report.fail(ROUND_TRIP, format!("the export to import back failed: {e}")),
    };

    // A wrong checksum first: a conforming app refuses it, and the good import that follows
    // restores the data in any case.
    let wrong = format!("{}{}", if sha.starts_with('0') { '1' } else { '0' }, &sha[1..]);
    let check = "import with a wrong Backup-Sha256";
    match client.import(backup_type, &wrong, spool.stream()).await {
        Err(ClientError::Status { status: 422, code, .. }) if code == "checksum_mismatch" => {
            report.pass(check, "422 checksum_mismatch");
        }
        Err(e) => report.fail(check, format!("{e}; expected 422 checksum_mismatch")),
        Ok(_) => report.fail(check, "the app restored a body whose sha256 does not match Backup-Sha256: hash what arrives and refuse a mismatch with 422 checksum_mismatch"),
    }

    match client.import(backup_type, &sha, spool.stream()).await {
        Ok(result) if result.restored && result.bytes == bytes => {
            report.pass(ROUND_TRIP, format!("exported and imported {bytes} bytes of {backup_type:?}"));
        }
        Ok(result) => report.fail(
            ROUND_TRIP,
            format!(
                "exported {bytes} bytes, the import reported restored={} bytes={}: report the bytes received",
                result.restored, result.bytes
            ),
        ),
        Err(e) => report.fail(ROUND_TRIP, e.to_string()),
    }
}

/// A file holding one export, so the same bytes can be sent twice.
pub(super) struct Spool {
    path: PathBuf,
}

impl Spool {
    pub(super) fn new() -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        Spool { path: std::env::temp_dir().join(format!("backup-conformance-{}-{nanos}", std::process::id())) }
    }

    pub(super) async fn fill(&self, client: &AppClient, backup_type: &str) -> Result<(String, u64), ClientError> {
        let io = |e: std::io::Error| ClientError::Protocol(format!("could not write {}: {e}", self.path.display()));
        let mut file = tokio::fs::File::create(&self.path).await.map_err(io)?;
        let mut export = client.export(Some(backup_type)).await?;
        while let Some(chunk) = export.next_chunk().await? {
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.flush().await.map_err(io)?;
        Ok((export.sha256().unwrap_or_default().to_owned(), export.bytes()))
    }

    /// The spooled export as a stream of 64 KiB pieces.
    pub(super) fn stream(&self) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let path = self.path.clone();
        futures::stream::once(async move { tokio::fs::File::open(path).await })
            .map_ok(|file| {
                futures::stream::try_unfold(file, |mut file| async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let n = file.read(&mut buf).await?;
                    buf.truncate(n);
                    Ok((n > 0).then(|| (Bytes::from(buf), file)))
                })
            })
            .try_flatten()
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
