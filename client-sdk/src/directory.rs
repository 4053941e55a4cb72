//! A ready-made source: a folder, exported as a streamed tar.gz (`tar` on the PATH), restored by
//! extracting into a staging folder beside the target and swapping it in only when `tar`
//! succeeded on a body whose sha256 matched, so a bad import leaves the folder as it was. A
//! restore drill (`verify`) lists the whole archive with `tar -tzf -`, which reads and
//! decompresses it to its end (gzip checks its CRC there), changing nothing.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use contract_spec::{Health, VerifyReport};

use crate::process::{export_command, import_command, verify_command};
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
        let staging = sibling(target, "incoming");
        tokio::fs::create_dir_all(&staging).await?;
        let mut tar = Command::new("tar");
        tar.arg("-xzf").arg("-").arg("-C").arg(&staging);
        if let Err(e) = import_command(tar, body).await {
            let _ = tokio::fs::remove_dir_all(&staging).await;
            return Err(e);
        }
        // Swap: the old folder moves aside, the restored one takes its place.
        let previous = sibling(target, "previous");
        let had_target = tokio::fs::try_exists(target).await.unwrap_or(false);
        if had_target {
            tokio::fs::rename(target, &previous).await?;
        }
        if let Err(e) = tokio::fs::rename(&staging, target).await {
            if had_target {
                let _ = tokio::fs::rename(&previous, target).await;
            }
            let _ = tokio::fs::remove_dir_all(&staging).await;
            return Err(e.into());
        }
        if had_target {
            tokio::fs::remove_dir_all(&previous).await?;
        }
        Ok(())
    }
}

/// The bytes and the number of files under `dir` (symbolic links not followed).
fn folder_size(dir: &Path) -> Option<(u64, u64)> {
    let (mut bytes, mut files) = (0u64, 0u64);
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let meta = entry.metadata().ok()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                bytes += meta.len();
                files += 1;
            }
        }
    }
    Some((bytes, files))
}

/// A hidden folder next to `target`, unique to this process and moment.
fn sibling(target: &Path, what: &str) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "restore".into());
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    target.with_file_name(format!(".{name}.{what}-{}-{nanos}", std::process::id()))
}
