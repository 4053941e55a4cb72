//! The restore records (`restores`) after `begin` has made one: taken by the process that runs
//! it, kept up to date, cancelled by an operator, closed and audited; and the sweep of those a
//! stopped process left running.

use std::time::Duration;

use sea_orm::QueryOrder;
use sea_orm::prelude::*;

use crate::audit;
use crate::backup::lifecycle;
use crate::backup::restore::{RestoreFailure, RestorePhase, RestoreStatus, Restored};
use crate::catalogue::Msg;
use crate::db::entities::restore;
use crate::db::now_ms;
use crate::registry::App;

/// Takes restore `restore_id` for this process: only a row still queued is taken, so two callers
/// never run the same restore.
pub(super) async fn claim(
    db: &DatabaseConnection,
    app: &App,
    restore_id: i64,
) -> Result<restore::Model, RestoreFailure> {
    let failed = |message: Msg| RestoreFailure::new(RestorePhase::Download, message);
    let taken = restore::Entity::update_many()
        .col_expr(restore::Column::Status, Expr::value(RestoreStatus::Running))
        .col_expr(restore::Column::Phase, Expr::value(RestorePhase::Download))
        .col_expr(restore::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(restore::Column::Id.eq(restore_id))
        .filter(restore::Column::AppId.eq(app.id))
        .filter(restore::Column::Status.eq(RestoreStatus::Queued))
        .exec(db)
        .await
        .map_err(|e| failed(crate::backup::reason::database(&e)))?;
    if taken.rows_affected == 0 {
        return Err(failed(Msg::new("restore_reason.not_waiting").with("id", restore_id).with("app", &app.name)));
    }
    restore::Entity::find_by_id(restore_id)
        .one(db)
        .await
        .map_err(|e| failed(crate::backup::reason::database(&e)))?
        .ok_or_else(|| failed(Msg::new("restore_reason.gone").with("id", restore_id)))
}

/// Records progress: the phase reached and the bytes sent so far.
pub(super) async fn progress(
    db: &DatabaseConnection,
    restore_id: i64,
    phase: RestorePhase,
    bytes: u64,
) -> Result<(), DbErr> {
    restore::Entity::update_many()
        .col_expr(restore::Column::Phase, Expr::value(phase))
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
        Ok(_) => (RestoreStatus::Succeeded, RestorePhase::Done, None),
        Err(f) if f.cancelled => (RestoreStatus::Cancelled, f.phase, Some(&f.message)),
        Err(f) => (RestoreStatus::Failed, f.phase, Some(&f.message)),
    };
    let now = now_ms();
    let closed = restore::Entity::update_many()
        .col_expr(restore::Column::Status, Expr::value(status))
        .col_expr(restore::Column::Phase, Expr::value(phase))
        .col_expr(restore::Column::Bytes, Expr::value(bytes as i64))
        .col_expr(restore::Column::Error, Expr::value(error.map(Msg::to_string)))
        .col_expr(restore::Column::ErrorMsg, Expr::value(error.map(Msg::to_json)))
        .col_expr(restore::Column::FinishedAt, Expr::value(now))
        .col_expr(restore::Column::UpdatedAt, Expr::value(now))
        .filter(restore::Column::Id.eq(row.id))
        .exec(db)
        .await;
    if let Err(e) = closed {
        tracing::error!(restore_id = row.id, error = %e, "could not record the end of the restore");
    }
    let (what, of) = if row.kind == super::KIND_RESTORE {
        ("restore", Msg::new("audit_detail.restore").with("id", row.id))
    } else {
        ("drill", Msg::new("audit_detail.drill").with("id", row.id))
    };
    let detail = match outcome {
        Ok(r) if row.kind == super::KIND_DRILL => Msg::new("audit_detail.drill_passed")
            .with_msg("what", of)
            .with("app", &app.name)
            .with("copy", &row.copy_name)
            .with("bytes", r.bytes),
        Ok(r) => Msg::new("audit_detail.restored")
            .with_msg("what", of)
            .with("app", &app.name)
            .with("copy", &row.copy_name)
            .with("bytes", r.bytes),
        Err(f) if f.cancelled => Msg::new("audit_detail.restore_cancelled")
            .with_msg("what", of)
            .with_msg("reason", f.message.clone())
            .with_msg("phase", Msg::new(f.phase.key())),
        Err(f) => Msg::new("audit_detail.restore_failed")
            .with_msg("what", of)
            .with_msg("reason", f.message.clone())
            .with_msg("phase", Msg::new(f.phase.key())),
    };
    audit::record_said(db, &row.actor, &format!("{what}.finish"), Some(&app.name), &detail).await;
}

/// What a cancel did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// It had not started: it is cancelled now (with its safety backup), and its job does
    /// nothing when it comes.
    Cancelled,
    /// It is running: the process running it stops it within a second or so (a safety backup
    /// under way is cancelled too), cuts the upload into the app and records it as cancelled;
    /// unless the whole copy has been sent by then, when the app's answer decides how it ends.
    Requested,
    /// It had already ended, with this status: nothing to cancel.
    Ended(RestoreStatus),
}

/// Cancels restore (or drill) `restore_id` on behalf of `by` (who asked; it becomes the reason).
/// A safety backup queued or running for it is cancelled too: it was taken only for this
/// restore, and it holds the app while it runs. `None` when there is no such restore.
pub async fn cancel(db: &DatabaseConnection, restore_id: i64, by: &str) -> Result<Option<Cancel>, DbErr> {
    let now = now_ms();
    let before = Msg::new("restore_reason.cancelled_before").with_msg("reason", crate::backup::reason::cancelled(by));
    let Some(row) = get(db, restore_id).await? else { return Ok(None) };
    if !row.status.is_active() {
        return Ok(Some(Cancel::Ended(row.status)));
    }
    // Not started: ended here, unless a worker took it in the meantime.
    let ended = restore::Entity::update_many()
        .col_expr(restore::Column::Status, Expr::value(RestoreStatus::Cancelled))
        .col_expr(restore::Column::Error, Expr::value(before.to_string()))
        .col_expr(restore::Column::ErrorMsg, Expr::value(before.to_json()))
        .col_expr(restore::Column::CancelReason, Expr::value(by))
        .col_expr(restore::Column::CancelRequestedAt, Expr::value(now))
        .col_expr(restore::Column::FinishedAt, Expr::value(now))
        .col_expr(restore::Column::UpdatedAt, Expr::value(now))
        .filter(restore::Column::Id.eq(restore_id))
        .filter(restore::Column::Status.eq(RestoreStatus::Queued))
        .exec(db)
        .await?;
    let done = if ended.rows_affected == 1 {
        Cancel::Cancelled
    } else {
        let asked = restore::Entity::update_many()
            .col_expr(restore::Column::CancelReason, Expr::value(by))
            .col_expr(restore::Column::CancelRequestedAt, Expr::value(now))
            .filter(restore::Column::Id.eq(restore_id))
            .filter(restore::Column::Status.eq(RestoreStatus::Running))
            .exec(db)
            .await?;
        if asked.rows_affected == 1 {
            Cancel::Requested
        } else {
            // It ended between the two reads.
            let status = get(db, restore_id).await?.map_or(RestoreStatus::Cancelled, |r| r.status);
            return Ok(Some(if status.is_active() { Cancel::Requested } else { Cancel::Ended(status) }));
        }
    };
    if let Some(run_id) = row.safety_run_id {
        // Queued: ended at once; running: its own watch stops it and aborts its upload; ended:
        // nothing to do (a safety copy already made is kept).
        lifecycle::cancel(db, run_id, by).await?;
    }
    Ok(Some(done))
}

/// Audits that `actor` cancelled restore (or drill, by its `kind`) `id` of `app` (`restore.cancel`),
/// whichever surface it came from.
pub async fn audit_cancel(db: &DatabaseConnection, actor: &str, kind: &str, app: &str, id: i64) {
    let key = if kind == super::KIND_RESTORE { "audit_detail.restore" } else { "audit_detail.drill" };
    let app = (!app.is_empty()).then_some(app);
    audit::record_said(db, actor, "restore.cancel", app, &Msg::new(key).with("id", id)).await;
}

/// Why an operator asked to cancel restore `restore_id`, once somebody did.
pub async fn cancel_requested(db: &DatabaseConnection, restore_id: i64) -> Result<Option<String>, DbErr> {
    use sea_orm::QuerySelect;
    let row: Option<(Option<i64>, Option<String>)> = restore::Entity::find_by_id(restore_id)
        .select_only()
        .column(restore::Column::CancelRequestedAt)
        .column(restore::Column::CancelReason)
        .into_tuple()
        .one(db)
        .await?;
    Ok(row.and_then(|(at, by)| at.map(|_| by.unwrap_or_default())))
}

/// Keeps a drill's report (as the app answered it) with its row.
pub(super) async fn set_report(
    db: &DatabaseConnection,
    restore_id: i64,
    report: &contract_spec::VerifyReport,
) -> Result<(), DbErr> {
    let json = serde_json::to_string(report).unwrap_or_default();
    restore::Entity::update_many()
        .col_expr(restore::Column::Report, Expr::value(json))
        .filter(restore::Column::Id.eq(restore_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Closes, as failed with `reason`, a restore that never started (its job could not be queued,
/// or its app is gone), settles its safety run, and audits it.
pub async fn abandon(db: &DatabaseConnection, app_name: Option<&str>, row: &restore::Model, reason: &str) {
    let now = now_ms();
    let closed = restore::Entity::update_many()
        .col_expr(restore::Column::Status, Expr::value(RestoreStatus::Failed))
        .col_expr(restore::Column::Error, Expr::value(reason))
        .col_expr(restore::Column::FinishedAt, Expr::value(now))
        .col_expr(restore::Column::UpdatedAt, Expr::value(now))
        .filter(restore::Column::Id.eq(row.id))
        .filter(restore::Column::Status.eq(RestoreStatus::Queued))
        .exec(db)
        .await;
    if let Err(e) = closed {
        tracing::error!(restore_id = row.id, error = %e, "could not record the end of the restore");
    }
    if let Some(run_id) = row.safety_run_id {
        let why = Msg::new("reason.restore_failed_before").with("detail", reason);
        if let Err(e) = lifecycle::abandon_queued(db, &[run_id], &why).await {
            tracing::error!(run_id, error = %e, "could not record the end of a safety run");
        }
    }
    let detail = Msg::new("audit_detail.restore_failed_before").with("id", row.id).with("reason", reason);
    audit::record_said(db, &row.actor, "restore.finish", app_name, &detail).await;
}

/// The reason recorded on a restore whose process stopped.
pub const INTERRUPTED: &str =
    "interrupted: the process running it stopped; a restore is never resumed by itself: start it again";

/// Marks interrupted the restores left running by a process that is gone (no progress for
/// `stale`), and settles the safety runs they had queued but never started. Returns how many
/// restores.
pub async fn sweep_interrupted(db: &DatabaseConnection, stale: Duration) -> Result<u64, DbErr> {
    let stale: Vec<restore::Model> = restore::Entity::find()
        .filter(restore::Column::Status.eq(RestoreStatus::Running))
        .filter(restore::Column::UpdatedAt.lt(now_ms() - stale.as_millis() as i64))
        .all(db)
        .await?;
    let mut interrupted = 0;
    for row in &stale {
        interrupted += interrupt(db, row).await?;
    }
    Ok(interrupted)
}

/// Marks one running restore interrupted (if it still is), audits it, and settles its safety run
/// if that never started. Returns 1 when this call marked it.
pub async fn interrupt(db: &DatabaseConnection, row: &restore::Model) -> Result<u64, DbErr> {
    let now = now_ms();
    let result = restore::Entity::update_many()
        .col_expr(restore::Column::Status, Expr::value(RestoreStatus::Interrupted))
        .col_expr(restore::Column::Error, Expr::value(INTERRUPTED))
        .col_expr(restore::Column::FinishedAt, Expr::value(now))
        .col_expr(restore::Column::UpdatedAt, Expr::value(now))
        .filter(restore::Column::Id.eq(row.id))
        .filter(restore::Column::Status.eq(RestoreStatus::Running))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Ok(0);
    }
    if let Some(run_id) = row.safety_run_id {
        lifecycle::abandon_queued(db, &[run_id], &Msg::new("reason.restore_interrupted")).await?;
    }
    let detail = Msg::new("audit_detail.restore_interrupted").with("id", row.id);
    audit::record_said(db, &row.actor, "restore.finish", None, &detail).await;
    Ok(1)
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
