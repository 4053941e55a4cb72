//! The built-in self-backup job of `serve`: at each fire of `SELF_BACKUP_SCHEDULE` (UTC) one
//! process makes a self-backup (`crate::selfbackup::take`).
//!
//! Every replica runs this loop; the fire is claimed in the `settings` table first (an update
//! that only one process's can win), so one fire is one self-backup however many replicas run.
//! A fire missed while no process ran is not made up: the next one comes within a schedule's gap.

use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use tokio::sync::watch;

use crate::config::self_backup::SelfBackupSettings;
use crate::db::entities::setting;
use crate::schedule::cron::CronSchedule;
use crate::startup::Context;

const CLAIM_KEY: &str = "self_backup_fire";

/// Runs until `stop` turns true.
pub async fn run(ctx: Context, settings: SelfBackupSettings, schedule: CronSchedule, mut stop: watch::Receiver<bool>) {
    loop {
        let Some(fire) = schedule.next_after(jiff::Timestamp::now()) else { return };
        let wait = fire.duration_since(jiff::Timestamp::now());
        let wait = Duration::try_from(wait).unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        match claim(&ctx.db, CLAIM_KEY, fire.as_millisecond()).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim the self-backup fire; skipped");
                continue;
            }
        }
        tokio::select! {
            _ = take_scheduled(&ctx, &settings) => {}
            // Dropping the upload before its last chunk leaves no file.
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// How often a failing streak of scheduled self-backups is told again.
const REMIND_MS: i64 = 24 * 3600 * 1000;

/// One scheduled self-backup: taken, its outcome kept for the pages, and a failure told to every
/// channel that hears failures — once when the streak begins and once a day while it lasts (an
/// orchestrator that cannot back itself up must not stay silent: the day its database is lost,
/// the newest self-backup is what `recover` has). The first success after a told failure is told
/// as a recovery.
pub async fn take_scheduled(ctx: &Context, settings: &SelfBackupSettings) {
    let (taken, mut outcome, before) = crate::selfbackup::take::take_recorded(ctx, settings, "schedule").await;
    match taken {
        Ok(taken) => {
            tracing::info!(
                file = %taken.file.name,
                bytes = taken.written.bytes,
                rows = taken.written.rows,
                pruned = taken.pruned.len(),
                warning = taken.prune_error.as_deref().unwrap_or(""),
                "self-backup stored and verified"
            );
            if before.is_some_and(|b| !b.ok && b.alerted_ms.is_some()) {
                ctx.notifier.self_backup_recovered(&taken.file.name).await;
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "the self-backup failed; no older one was deleted");
            let now = crate::db::now_ms();
            if outcome.alerted_ms.is_none_or(|at| now - at >= REMIND_MS) {
                ctx.notifier.self_backup_failed(&e.to_string()).await;
                outcome.alerted_ms = Some(now);
                if let Err(e) = crate::selfbackup::last::record(&ctx.db, &outcome).await {
                    tracing::warn!(error = %e, "could not record that the self-backup's failure was told");
                }
            }
        }
    }
}

/// True when this process won the fire at `fire_ms` of the schedule whose claims are kept under
/// `key` in `settings` (recorded so no other process makes it).
pub(crate) async fn claim(db: &DatabaseConnection, key: &str, fire_ms: i64) -> Result<bool, DbErr> {
    // Zero-padded, so text order is time order on both databases.
    let fire = format!("{fire_ms:016}");
    setting::Entity::insert(setting::ActiveModel { key: Set(key.to_owned()), value: Set(format!("{:016}", 0)) })
        .on_conflict_do_nothing_on([setting::Column::Key])
        .exec_without_returning(db)
        .await?;
    let won = setting::Entity::update_many()
        .col_expr(setting::Column::Value, Expr::value(fire.clone()))
        .filter(setting::Column::Key.eq(key))
        .filter(setting::Column::Value.lt(fire))
        .exec(db)
        .await?;
    Ok(won.rows_affected == 1)
}
