//! `orchestrator recover`: rebuilds a lost installation on a fresh database with the same
//! `SECRET_KEY` (see `crate::selfbackup::recover`), and says what it found.

use std::io::Write;
use std::process::ExitCode;

use crate::config::Settings;
use crate::selfbackup::recover::{self, Recovered, Request, Restoration};

/// Recovers, printing the self-backup used, what it held and each app's copies.
pub async fn recover(settings: &Settings, request: Request<'_>) -> anyhow::Result<ExitCode> {
    let parts = crate::startup::open_parts(settings).await?;
    let recovered = match recover::recover(&parts, settings, request).await {
        Ok(recovered) => recovered,
        Err(e) => {
            eprintln!("error: nothing was recovered: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let mut out = std::io::stdout().lock();
    match recovered {
        Recovered::Restored(restoration) => {
            let Restoration { file, loaded, inventory } = *restoration;
            writeln!(out, "recovered deployment {} from {}", loaded.header.deployment, file.name)?;
            writeln!(out, "made at: {}", loaded.header.made_at)?;
            writeln!(out, "rows: {}", loaded.rows)?;
            writeln!(out, "apps: {}", inventory.len())?;
            for app in &inventory {
                match &app.error {
                    None => writeln!(out, "  {}: {} copies found", app.app, app.copies)?,
                    Some(error) => writeln!(out, "  {}: {error}", app.app)?,
                }
            }
            writeln!(
                out,
                "deployment id: {} (keep it with SECRET_KEY); sign in again: sessions are not kept",
                loaded.header.deployment
            )?;
        }
        Recovered::Adopted { deployment } => {
            writeln!(out, "adopted deployment id {deployment} (no self-backup was restored)")?;
            writeln!(out, "register the apps again with their old names and folders: their copies are theirs again")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
