//! The scheduled integrity audit of `serve`: at each fire of `AUDIT_SCHEDULE` (UTC) one process
//! audits every app's copies ([`crate::backup::audit`]), reading back `AUDIT_SAMPLE_PERCENT` of
//! them. The fire is claimed in `settings` first, as the self-backup's is, so one fire is one
//! audit however many replicas run; a fire missed while no process ran is not made up.

use std::time::Duration;

use tokio::sync::watch;

use crate::backup::audit::{self, Options};
use crate::config::audit::AuditSettings;
use crate::schedule::cron::CronSchedule;
use crate::startup::Context;

const CLAIM_KEY: &str = "audit_fire";

/// Runs until `stop` turns true.
pub async fn run(ctx: Context, settings: AuditSettings, schedule: CronSchedule, mut stop: watch::Receiver<bool>) {
    loop {
        let Some(fire) = schedule.next_after(jiff::Timestamp::now()) else { return };
        let wait = Duration::try_from(fire.duration_since(jiff::Timestamp::now())).unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        match crate::jobs::self_backup::claim(&ctx.db, CLAIM_KEY, fire.as_millisecond()).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim the audit's fire; skipped");
                continue;
            }
        }
        tokio::select! {
            _ = audit_all(&ctx, settings.sample_percent) => {}
            // An audit stopped halfway has marked what it saw; the next one sees the rest.
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

async fn audit_all(ctx: &Context, sample_percent: u8) {
    let apps = match ctx.registry.list().await {
        Ok(apps) => apps,
        Err(e) => {
            tracing::error!(error = %e, "could not list the apps to audit");
            return;
        }
    };
    let reports = audit::audit(&ctx.runner, &apps, Options { sample_percent, trigger: "schedule" }).await;
    for report in &reports {
        if report.clean() {
            tracing::info!(app = %report.app, copies = report.copies, read_back = report.read_back, "audit: every copy as stored");
        } else {
            tracing::warn!(
                app = %report.app,
                copies = report.copies,
                lost = report.lost.len(),
                damaged = report.damaged.len(),
                unreadable = report.unreadable.len(),
                error = report.error.as_deref().unwrap_or(""),
                "audit: copies lost, damaged or not read"
            );
        }
    }
}
