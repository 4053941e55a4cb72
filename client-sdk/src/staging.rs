//! Where recipes put what they restore before it replaces the live data: a hidden sibling of
//! the target, on the same filesystem, so the final swap is a rename.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::{ImportStream, SourceError};

/// A hidden path next to `target`, unique to this process and moment.
pub(crate) fn sibling(target: &Path, what: &str) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "restore".into());
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    target.with_file_name(format!(".{name}.{what}-{}-{nanos}", std::process::id()))
}

/// Writes `body` whole to the new file `path` and syncs it. On any error (a checksum mismatch,
/// a cut upload, a full disk) the file is removed and the error returned: nothing half-written
/// stays behind.
pub(crate) async fn write_body(mut body: ImportStream, path: &Path) -> Result<u64, SourceError> {
    let result = async {
        let mut file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(path).await?;
        let mut written = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            file.write_all(&chunk).await?;
            written += chunk.len() as u64;
        }
        file.sync_all().await?;
        Ok::<u64, SourceError>(written)
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(path).await;
    }
    result
}

/// Removes a staged file or folder when dropped, whatever happened in between.
pub(crate) struct Staged(pub(crate) PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        let path = &self.0;
        let _ = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    }
}

/// Replaces the folder `target` by `staged`: the old one moves aside, the new one takes its
/// place, the old one goes. If the second rename fails the old folder is put back.
pub(crate) async fn swap_folder(staged: &Path, target: &Path) -> Result<(), SourceError> {
    let previous = sibling(target, "previous");
    let had_target = tokio::fs::try_exists(target).await.unwrap_or(false);
    if had_target {
        tokio::fs::rename(target, &previous).await?;
    } else if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    if let Err(e) = tokio::fs::rename(staged, target).await {
        if had_target {
            let _ = tokio::fs::rename(&previous, target).await;
        }
        return Err(e.into());
    }
    if had_target && let Err(e) = tokio::fs::remove_dir_all(&previous).await {
        // The swap is done; what is left is litter, not a failed restore.
        tracing::warn!(folder = %previous.display(), error = %e, "the folder replaced by a restore could not be removed");
    }
    Ok(())
}

/// The bytes and the number of files under `dir` (symbolic links not followed).
pub(crate) fn folder_size(dir: &Path) -> Option<(u64, u64)> {
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

/// Runs blocking work (SQLite, zip files, child processes read synchronously) off the async
/// threads; a panic in it is an error, never a success.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SourceError> + Send + 'static,
) -> Result<T, SourceError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| SourceError::failed(format!("a blocking task failed: {e}")))?
}
