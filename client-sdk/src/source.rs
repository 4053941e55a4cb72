//! What an app implements: a [`BackupSource`] that describes, exports and optionally imports.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use contract_spec::{BackupType, Capabilities, Health, VerifyReport};
use futures::Stream;
use sha2::{Digest, Sha256};

/// The bytes of one export, produced as they are made. An `Err` item aborts the export: the
/// connection is cut so the orchestrator never takes a partial export for a complete one.
pub type ExportStream = Pin<Box<dyn Stream<Item = Result<Bytes, SourceError>> + Send + 'static>>;

/// Why an export or import could not be done.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The export or import failed; the message is shown to the operator.
    #[error("{0}")]
    Failed(String),
    /// The app cannot do it now (maintenance, heavy load); the orchestrator retries later.
    #[error("busy: {message}")]
    Busy {
        /// How long the caller should wait before trying again.
        retry_after: Duration,
        /// Why the app is busy.
        message: String,
    },
    /// The app does not support this operation (the default [`BackupSource::import`]).
    #[error("this app does not support import")]
    Unsupported,
}

impl SourceError {
    /// A failure with a message for the operator.
    pub fn failed(message: impl Into<String>) -> Self {
        SourceError::Failed(message.into())
    }
}

impl From<std::io::Error> for SourceError {
    fn from(e: std::io::Error) -> Self {
        SourceError::Failed(e.to_string())
    }
}

impl From<SourceError> for std::io::Error {
    fn from(e: SourceError) -> Self {
        std::io::Error::other(e)
    }
}

/// An app that can be backed up.
///
/// `export` returns a stream that produces the backup as it is made: never collect it in memory.
/// The stream must end with an `Err` if the export failed part-way (a dump that exited non-zero,
/// a read error); ending it cleanly tells the orchestrator the backup is complete.
pub trait BackupSource: Send + Sync + 'static {
    /// What this app offers. Called once, when the router is built.
    fn capabilities(&self) -> Capabilities;

    /// Starts an export of `backup_type` (always one of the advertised types).
    fn export(&self, backup_type: &BackupType) -> impl Future<Output = Result<ExportStream, SourceError>> + Send;

    /// Restores an earlier export of `backup_type` from `body`. Only called when
    /// [`Capabilities::restore`] is true.
    ///
    /// `body` ends with an `Err` if its sha256 does not match what the orchestrator declared, or
    /// if the upload was cut off: restore atomically (stage, then swap; or one transaction) and
    /// give up on the first `Err`, so a bad import leaves the app's data as it was.
    fn import(
        &self,
        backup_type: &BackupType,
        body: ImportStream,
    ) -> impl Future<Output = Result<(), SourceError>> + Send {
        let _ = (backup_type, body);
        async { Err(SourceError::Unsupported) }
    }

    /// What the app reports about what it backs up (e.g. the database's size), added to its
    /// capabilities at each `GET /backup/capabilities` and shown to operators. Keep it cheap: it
    /// runs on every capabilities request. `None` (the default) reports nothing.
    fn health(&self) -> impl Future<Output = Option<Health>> + Send {
        async { None }
    }

    /// Checks that `body`, an earlier export of `backup_type`, would restore, WITHOUT applying
    /// it (a restore drill): read it whole and check it the way a restore would (e.g. an archive
    /// read to its end, `pg_restore --file=/dev/null` on a dump; `pg_restore --list` is not
    /// enough: it passes truncated dumps). Only called for types advertised with `verify: true`.
    ///
    /// Answer a report whose failed checks say what is wrong with the copy ([`verify_command`]
    /// makes one from a command's exit status); an `Err` means the app could not check (its
    /// tool is missing), not that the copy is bad. `body` ends with an `Err` on a checksum
    /// mismatch, which the router answers with `422 checksum_mismatch` whatever the report says.
    ///
    /// [`verify_command`]: crate::process::verify_command
    fn verify(
        &self,
        backup_type: &BackupType,
        body: ImportStream,
    ) -> impl Future<Output = Result<VerifyReport, SourceError>> + Send {
        let _ = (backup_type, body);
        async { Err(SourceError::Unsupported) }
    }
}

/// How an import body ended, shared between the stream and the router that answers.
#[derive(Debug, Default)]
pub(crate) struct ImportProgress {
    pub(crate) bytes: u64,
    pub(crate) end: Option<ImportEnd>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ImportEnd {
    Verified,
    Mismatch { actual: String },
    Cut(String),
}

/// The body of an import, hashed as it arrives.
///
/// It yields the bytes as they come and, at the end, checks their sha256 against the
/// `Backup-Sha256` header: on a mismatch the last item is an `Err` instead of a clean end.
pub struct ImportStream {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, axum::Error>> + Send>>,
    expected: String,
    hasher: Sha256,
    progress: Arc<Mutex<ImportProgress>>,
    done: bool,
}

impl ImportStream {
    pub(crate) fn new(
        inner: impl Stream<Item = Result<Bytes, axum::Error>> + Send + 'static,
        expected_sha256: String,
        progress: Arc<Mutex<ImportProgress>>,
    ) -> Self {
        ImportStream { inner: Box::pin(inner), expected: expected_sha256, hasher: Sha256::new(), progress, done: false }
    }

    /// The shared progress, readable after the stream was handed on.
    pub(crate) fn progress(&self) -> Arc<Mutex<ImportProgress>> {
        self.progress.clone()
    }

    /// Bytes received so far.
    pub fn bytes(&self) -> u64 {
        self.progress.lock().map(|p| p.bytes).unwrap_or_default()
    }

    fn end(&mut self, end: ImportEnd) {
        self.done = true;
        if let Ok(mut p) = self.progress.lock() {
            p.end = Some(end);
        }
    }
}

impl Stream for ImportStream {
    type Item = Result<Bytes, SourceError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                self.hasher.update(&chunk);
                if let Ok(mut p) = self.progress.lock() {
                    p.bytes += chunk.len() as u64;
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                let reason = format!("the upload was cut off: {e}");
                self.end(ImportEnd::Cut(reason.clone()));
                Poll::Ready(Some(Err(SourceError::Failed(reason))))
            }
            Poll::Ready(None) => {
                let actual = hex::encode(std::mem::take(&mut self.hasher).finalize());
                if actual.eq_ignore_ascii_case(&self.expected) {
                    self.end(ImportEnd::Verified);
                    Poll::Ready(None)
                } else {
                    let message = format!(
                        "checksum mismatch: the body's sha256 is {actual}, Backup-Sha256 says {}",
                        self.expected
                    );
                    self.end(ImportEnd::Mismatch { actual });
                    Poll::Ready(Some(Err(SourceError::Failed(message))))
                }
            }
        }
    }
}
