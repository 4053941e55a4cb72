//! A ready-made source: a folder, exported as a streamed tar.gz (`tar` on the PATH), restored by
//! extracting into a staging folder beside the target and swapping it in only when `tar`
//! succeeded on a body whose sha256 matched, so a bad import leaves the folder as it was. A
//! restore drill (`verify`) lists the whole archive with `tar -tzf -`, which reads and
//! decompresses it to its end (gzip checks its CRC there), changing nothing.

use std::path::PathBuf;

use tokio::process::Command;

use contract_spec::{Health, VerifyReport};

use crate::process::{export_command, import_command, verify_command};
use crate::staging::{Staged, folder_size, sibling, swap_folder};
use crate::{BackupSource, BackupType, Capabilities, ExportStream, ImportStream, SourceError};

/// Backs up `dir`; restores into `restore_into` (by default `dir` itself).
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let source = client_sdk::Directory::new("notes", "/var/lib/notes");
/// let app = client_sdk::router(source, std::env::var("BACKUP_TOKEN").unwrap().into());
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:9001").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Directory {
    app: String,
    dir: PathBuf,
    restore_into: PathBuf,
}

impl Directory {
    /// The folder `dir`, announced as `app`.
    pub fn new(app: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Directory { app: app.into(), restore_into: dir.clone(), dir }
    }

    /// Restores into `target` instead of the backed-up folder.
    pub fn restore_into(mut self, target: impl Into<PathBuf>) -> Self {
        self.restore_into = target.into();
        self
    }
}

impl BackupSource for Directory {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new(&self.app, [BackupType::new("full", "application/gzip", "tar.gz").with_verify()])
            .with_restore()
    }

    async fn export(&self, _: &BackupType) -> Result<ExportStream, SourceError> {
        let mut tar = Command::new("tar");
        tar.arg("-czf").arg("-").arg("-C").arg(&self.dir).arg(".");
        export_command(tar)
    }

    /// The folder's size and file count, walked on each capabilities request.
    async fn health(&self) -> Option<Health> {
        let dir = self.dir.clone();
        let (bytes, files) = tokio::task::spawn_blocking(move || folder_size(&dir)).await.ok()??;
        let details = std::collections::BTreeMap::from([("files".to_owned(), files.to_string())]);
        Some(Health { size_bytes: Some(bytes), details })
    }

    async fn verify(&self, _: &BackupType, body: ImportStream) -> Result<VerifyReport, SourceError> {
        let mut tar = Command::new("tar");
        tar.arg("-tzf").arg("-");
        verify_command(tar, body, "the archive reads to its end").await
    }

    async fn import(&self, _: &BackupType, body: ImportStream) -> Result<(), SourceError> {
        let target = &self.restore_into;
        let staging = Staged(sibling(target, "incoming"));
        tokio::fs::create_dir_all(&staging.0).await?;
        let mut tar = Command::new("tar");
        tar.arg("-xzf").arg("-").arg("-C").arg(&staging.0);
        import_command(tar, body).await?;
        swap_folder(&staging.0, target).await
    }
}
