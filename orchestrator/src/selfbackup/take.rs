//! Taking a self-backup: the dump streamed into a new file of `SELF_BACKUP_FOLDER`, verified as a
//! copy is (the destination's checksum, or the file read back), marked, then pruned to
//! `SELF_BACKUP_KEEP`. A failed self-backup aborts its upload and deletes nothing.

use std::collections::BTreeMap;

use crate::backup::inventory::DEPLOYMENT_MARK;
use crate::config::self_backup::SelfBackupSettings;
use crate::selfbackup::dump::{self, Written};
use crate::selfbackup::last;
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
    let (mut writer, meter) = destination
        .metered_writer(folder, &name, "application/octet-stream", &marks)
        .await
        .map_err(|e| SelfBackupError::destination(format_args!("could not start the upload into {folder}"), e))?;
    let written = match dump::write(&ctx.db, &ctx.secrets, &header, &mut writer).await {
        Ok(written) => written,
        Err(e) => {
            // Without its last chunk no file appears; abort also ends the upload session.
            let _ = writer.abort().await;
            count_upload(ctx, meter.as_ref()).await;
            return Err(e);
        }
    };
    let closed = writer.close().await;
    // What Drive took counts against the account's daily budget like any run's upload (the
    // budget is shared, so the apps' runs see it), whether the upload finished or not.
    count_upload(ctx, meter.as_ref()).await;
    let meta = closed.map_err(SelfBackupError::upload)?;
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

/// Records what Drive acknowledged of a self-backup's upload in the account's daily budget (no
/// run owns it). A self-backup never waits for the budget: it is small, and the upload that
/// crosses the limit is let finish, as a run's is.
async fn count_upload(ctx: &Context, meter: Option<&crate::storage::gdrive::UploadMeter>) {
    let (Some(meter), Some(account)) = (meter, ctx.runner.destination.drive_account()) else { return };
    let mut counter = crate::backup::budget::Counter::new(account, None);
    if let Err(e) = counter.record(&ctx.db, meter.sent()).await {
        tracing::warn!(error = %e, "could not count the self-backup's upload against Drive's budget");
    }
}

/// Makes one self-backup as [`take`] does and keeps its outcome ([`last`]) for the pages.
/// Returns the outcome kept with the one before it.
pub async fn take_recorded(
    ctx: &Context,
    settings: &SelfBackupSettings,
    trigger: &str,
) -> (Result<Taken, SelfBackupError>, last::Last, Option<last::Last>) {
    let before = last::read(&ctx.db).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not read the previous self-backup's outcome");
        None
    });
    let taken = take(ctx, settings).await;
    let mut outcome = last::Last {
        at_ms: crate::db::now_ms(),
        trigger: trigger.to_owned(),
        ok: taken.is_ok(),
        file: None,
        bytes: None,
        error: None,
        alerted_ms: None,
    };
    match &taken {
        Ok(t) => {
            outcome.file = Some(t.file.name.clone());
            outcome.bytes = Some(t.written.bytes);
            outcome.error = t.prune_error.clone();
        }
        Err(e) => {
            outcome.error = Some(e.to_string());
            outcome.alerted_ms = before.as_ref().filter(|b| !b.ok).and_then(|b| b.alerted_ms);
        }
    }
    if let Err(e) = last::record(&ctx.db, &outcome).await {
        tracing::warn!(error = %e, "could not record the self-backup's outcome");
    }
    (taken, outcome, before)
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
