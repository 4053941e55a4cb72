//! `orchestrator self-backup`: one self-backup now, in the foreground (what `serve` does on
//! `SELF_BACKUP_SCHEDULE`). Exits non-zero when it failed; a failed one deletes nothing.

use std::io::Write;
use std::process::ExitCode;

use crate::config::self_backup::SelfBackupSettings;
use crate::startup::Context;

/// Makes one self-backup and prints what was stored.
pub async fn self_backup(ctx: &Context, settings: &SelfBackupSettings) -> anyhow::Result<ExitCode> {
    let taken = match crate::selfbackup::take::take_recorded(ctx, settings, "cli").await.0 {
        Ok(taken) => taken,
        Err(e) => {
            eprintln!("error: the self-backup failed: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "self-backup of deployment {} stored and verified", ctx.deployment_id)?;
    writeln!(out, "file: {}", taken.file.name)?;
    writeln!(out, "file id: {}", taken.file.id)?;
    writeln!(out, "size: {} bytes", taken.written.bytes)?;
    writeln!(out, "sha256: {}", taken.written.sha256)?;
    writeln!(out, "rows: {}", taken.written.rows)?;
    let pruned = if taken.pruned.is_empty() { "nothing".to_owned() } else { taken.pruned.join(", ") };
    writeln!(out, "pruned: {pruned}")?;
    if let Some(warning) = taken.prune_error {
        writeln!(out, "warning: {warning}")?;
    }
    Ok(ExitCode::SUCCESS)
}
