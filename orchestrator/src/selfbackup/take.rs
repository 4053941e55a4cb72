//! Taking a self-backup: the dump streamed into a new file of `SELF_BACKUP_FOLDER`, verified as a
//! copy is (the destination's checksum, or the file read back), marked, then pruned to
//! `SELF_BACKUP_KEEP`. A failed self-backup aborts its upload and deletes nothing.

use std::collections::BTreeMap;

use crate::backup::inventory::DEPLOYMENT_MARK;
use crate::config::self_backup::SelfBackupSettings;
use crate::selfbackup::dump::{self, Written};
use crate::selfbackup::{Header, KIND, KIND_MARK, SelfBackupError};
use crate::startup::Context;
use crate::storage::destination::{Destination, StoredFile};

/// A self-backup made.
#[derive(Debug, Clone)]
pub struct Taken {
    /// The stored file, marked verified.
    pub file: StoredFile,
    /// What was written.
    pub written: Written,
    /// Older self-backups deleted by `SELF_BACKUP_KEEP`.
    pub pruned: Vec<String>,
    /// Set when the self-backup is good but pruning failed.
    pub prune_error: Option<String>,
}

/// Makes one self-backup of `ctx`'s database into the folder `settings` name.
pub async fn take(ctx: &Context, settings: &SelfBackupSettings) -> Result<Taken, SelfBackupError> {
    let folder = settings.folder.as_deref().ok_or_else(|| SelfBackupError::Off(settings.off_reason()))?;
    let destination = &ctx.runner.destination;
    let now = jiff::Timestamp::now();
    let name = crate::selfbackup::file_name(&ctx.deployment_id, now);
    let header = Header {
        format: crate::selfbackup::FORMAT.to_owned(),
        version: 1,
        deployment: ctx.deployment_id.clone(),
        made_at: now.to_string(),
        schema: crate::db::schema_version(),
    };
    let mut marks = BTreeMap::from([
        (KIND_MARK.to_owned(), KIND.to_owned()),
        (DEPLOYMENT_MARK.to_owned(), ctx.deployment_id.clone()),
    ]);
    let (mut writer, _) = destination
        .metered_writer(folder, &name, "application/octet-stream", &marks)
        .await
        .map_err(|e| SelfBackupError::destination(format_args!("could not start the upload into {folder}"), e))?;
    let written = match dump::write(&ctx.db, &ctx.secrets, &header, &mut writer).await {
        Ok(written) => written,
        Err(e) => {
            // Without its last chunk no file appears; abort also ends the upload session.
            let _ = writer.abort().await;
            return Err(e);
        }
    };
    let meta = writer.close().await.map_err(SelfBackupError::upload)?;
    let stored = destination.stored(&name, &meta);
    if let Err(mismatch) = ctx.runner.verify(folder, &stored, written.bytes, &written.sha256).await {
        if let Err(e) = destination.remove(folder, &stored).await {
            tracing::error!(file = %stored.name, error = %e, "could not remove a self-backup that failed verification");
        }
        return Err(SelfBackupError::Destination(format!(
            "the stored self-backup does not match what was sent ({}); it was deleted",
            mismatch.0
        )));
    }
    marks.insert("sha256".into(), written.sha256.clone());
    marks.insert("verified".into(), "1".into());
    let file = destination
        .set_properties(folder, &stored, &marks)
        .await
        .map_err(|e| SelfBackupError::destination("could not mark the self-backup verified", e))?;
    let (pruned, prune_error) = match prune(destination, folder, &ctx.deployment_id, settings.keep).await {
        Ok(pruned) => (pruned, None),
        Err(e) => {
            tracing::warn!(error = %e, "pruning old self-backups failed after a good one");
            (Vec::new(), Some(format!("the self-backup is good, but pruning older ones failed: {e}")))
        }
    };
    Ok(Taken { file, written, pruned, prune_error })
}

/// Deletes this deployment's verified self-backups beyond the newest `keep` (at least one is
/// always kept). Unverified files, other deployments' and anything that is not a self-backup
/// are never touched.
async fn prune(
    destination: &Destination,
    folder: &str,
    deployment: &str,
    keep: usize,
) -> Result<Vec<String>, SelfBackupError> {
    let mut ours: Vec<StoredFile> = crate::selfbackup::list(destination, folder)
        .await?
        .into_iter()
        .filter(|f| crate::selfbackup::is_verified(f) && crate::selfbackup::deployment_of(f) == Some(deployment))
        .collect();
    crate::selfbackup::newest_first(&mut ours);
    let mut pruned = Vec::new();
    for file in ours.iter().skip(keep.max(1)) {
        destination
            .remove(folder, file)
            .await
            .map_err(|e| SelfBackupError::destination(format_args!("deleting {} failed", file.name), e))?;
        pruned.push(file.name.clone());
    }
    Ok(pruned)
}
