//! The restore records (`restores`) after `begin` has made one: taken by the process that runs
//! it, kept up to date, closed and audited; and the sweep of those a stopped process left running.

use std::time::Duration;

use sea_orm::QueryOrder;
use sea_orm::prelude::*;

use crate::audit;
use crate::backup::restore::{RestoreFailure, RestorePhase, Restored};
use crate::db::entities::{backup_run, restore};
use crate::db::now_ms;
use crate::registry::App;

/// Takes restore `restore_id` for this process: only a row still waiting to start is taken, so
/// two callers never run the same restore.
pub(super) async fn claim(
    db: &DatabaseConnection,
    app: &App,
    restore_id: i64,
) -> Result<restore::Model, RestoreFailure> {
    let failed = |message: String| RestoreFailure::new(RestorePhase::Download, message);
    let taken = restore::Entity::update_many()
        .col_expr(restore::Column::Phase, Expr::value(RestorePhase::Download.as_str()))
        .col_expr(restore::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(restore::Column::Id.eq(restore_id))
        .filter(restore::Column::AppId.eq(app.id))
        .filter(restore::Column::Status.eq("running"))
        .filter(restore::Column::Phase.is_null())
        .exec(db)
        .await
        .map_err(|e| failed(format!("database error: {e}")))?;
    if taken.rows_affected == 0 {
        return Err(failed(format!("restore {restore_id} of {} is not waiting to start", app.name)));
    }
    restore::Entity::find_by_id(restore_id)
        .one(db)
        .await
        .map_err(|e| failed(format!("database error: {e}")))?
        .ok_or_else(|| failed(format!("restore {restore_id} does not exist")))
}

/// Records progress: the phase reached and the bytes sent so far.
pub(super) async fn progress(
    db: &DatabaseConnection,
    restore_id: i64,
    phase: RestorePhase,
    bytes: u64,
) -> Result<(), DbErr> {
    restore::Entity::update_many()
        .col_expr(restore::Column::Phase, Expr::value(phase.as_str()))
        .col_expr(restore::Column::Bytes, Expr::value(bytes as i64))
        .col_expr(restore::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(restore::Column::Id.eq(restore_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Closes the row with the outcome and audits it.
pub(super) async fn finish(
    db: &DatabaseConnection,
    app: &App,
    row: &restore::Model,
    bytes: u64,
    outcome: &Result<Restored, RestoreFailure>,
) {
    let (status, phase, error) = match outcome {
        Ok(_) => ("succeeded", RestorePhase::Done, None),
        Err(f) => ("failed", f.phase, Some(f.message.clone())),
    };
    let now = now_ms();
    let closed = restore::Entity::update_many()
        .col_expr(restore::Column::Status, Expr::value(status))
        .col_expr(restore::Column::Phase, Expr::value(phase.as_str()))
        .col_expr(restore::Column::Bytes, Expr::value(bytes as i64))
        .col_expr(restore::Column::Error, Expr::value(error))
        .col_expr(restore::Column::FinishedAt, Expr::value(now))
        .col_expr(restore::Column::UpdatedAt, Expr::value(now))
        .filter(restore::Column::Id.eq(row.id))
        .exec(db)
        .await;
    if let Err(e) = closed {
        tracing::error!(restore_id = row.id, error = %e, "could not record the end of the restore");
    }
    let detail = match outcome {
        Ok(r) => {
            format!("restore {}: succeeded, {} restored from {} ({} bytes)", row.id, app.name, row.copy_name, r.bytes)
        }
        Err(f) => format!("restore {}: failed during {}: {}", row.id, f.phase.as_str(), f.message),
    };
    audit::record(db, &row.actor, "restore.finish", Some(&app.name), Some(&detail)).await;
}

/// Marks failed the restores left running by a process that is gone (no progress for `stale`),
/// and the safety runs they had queued but never started. Returns how many restores.
pub async fn sweep_interrupted(db: &DatabaseConnection, stale: Duration) -> Result<u64, DbErr> {
    let now = now_ms();
    let stale: Vec<restore::Model> = restore::Entity::find()
        .filter(restore::Column::Status.eq("running"))
        .filter(restore::Column::UpdatedAt.lt(now - stale.as_millis() as i64))
        .all(db)
        .await?;
    if stale.is_empty() {
        return Ok(0);
    }
    let message = "interrupted: the process running it stopped";
    let result = restore::Entity::update_many()
        .col_expr(restore::Column::Status, Expr::value("failed"))
        .col_expr(restore::Column::Error, Expr::value(message))
        .col_expr(restore::Column::FinishedAt, Expr::value(now))
        .filter(restore::Column::Id.is_in(stale.iter().map(|r| r.id)))
        .filter(restore::Column::Status.eq("running"))
        .exec(db)
        .await?;
    backup_run::Entity::update_many()
        .col_expr(backup_run::Column::Status, Expr::value("failed"))
        .col_expr(backup_run::Column::Error, Expr::value(format!("the restore it was for was {message}")))
        .col_expr(backup_run::Column::FinishedAt, Expr::value(now))
        .filter(backup_run::Column::Id.is_in(stale.iter().filter_map(|r| r.safety_run_id)))
        .filter(backup_run::Column::Status.eq("queued"))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// A restore by id.
pub async fn get(db: &DatabaseConnection, restore_id: i64) -> Result<Option<restore::Model>, DbErr> {
    restore::Entity::find_by_id(restore_id).one(db).await
}

/// The latest restores of an app, newest first.
pub async fn recent(db: &DatabaseConnection, app_id: i64, limit: u64) -> Result<Vec<restore::Model>, DbErr> {
    use sea_orm::QuerySelect;
    restore::Entity::find()
        .filter(restore::Column::AppId.eq(app_id))
        .order_by_desc(restore::Column::Id)
        .limit(limit)
        .all(db)
        .await
}
