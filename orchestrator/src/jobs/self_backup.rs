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
        match claim(&ctx.db, fire.as_millisecond()).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim the self-backup fire; skipped");
                continue;
            }
        }
        tokio::select! {
            taken = crate::selfbackup::take::take(&ctx, &settings) => match taken {
                Ok(taken) => tracing::info!(
                    file = %taken.file.name,
                    bytes = taken.written.bytes,
                    rows = taken.written.rows,
                    pruned = taken.pruned.len(),
                    warning = taken.prune_error.as_deref().unwrap_or(""),
                    "self-backup stored and verified"
                ),
                Err(e) => tracing::error!(error = %e, "the self-backup failed; no older one was deleted"),
            },
            // Dropping the upload before its last chunk leaves no file.
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// True when this process won the fire at `fire_ms` (recorded so no other process makes it).
async fn claim(db: &DatabaseConnection, fire_ms: i64) -> Result<bool, DbErr> {
    // Zero-padded, so text order is time order on both databases.
    let fire = format!("{fire_ms:016}");
    setting::Entity::insert(setting::ActiveModel { key: Set(CLAIM_KEY.to_owned()), value: Set(format!("{:016}", 0)) })
        .on_conflict_do_nothing_on([setting::Column::Key])
        .exec_without_returning(db)
        .await?;
    let won = setting::Entity::update_many()
        .col_expr(setting::Column::Value, Expr::value(fire.clone()))
        .filter(setting::Column::Key.eq(CLAIM_KEY))
        .filter(setting::Column::Value.lt(fire))
        .exec(db)
        .await?;
    Ok(won.rows_affected == 1)
}
