//! The run records (`backup_runs`) and the copies inventory (`backup_copies`).

use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder};

use crate::db::entities::{backup_copy, backup_run};
use crate::db::now_ms;
use crate::storage::destination::StoredFile;

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A cron fire at this time (ms).
    Schedule(i64),
    /// "Test now" in the UI or the API.
    Manual,
    /// `orchestrator run`.
    Cli,
    /// The backup of the app's current state taken before a restore.
    Safety,
}

impl Trigger {
    /// The trigger as stored in `backup_runs.trigger`.
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Schedule(_) => "schedule",
            Trigger::Manual => "manual",
            Trigger::Cli => "cli",
            Trigger::Safety => "safety",
        }
    }
}

/// Creates a queued run record.
pub async fn create(db: &DatabaseConnection, app_id: i64, trigger: Trigger) -> Result<backup_run::Model, DbErr> {
    let now = now_ms();
    backup_run::ActiveModel {
        app_id: Set(app_id),
        trigger: Set(trigger.name().to_owned()),
        scheduled_for: Set(match trigger {
            Trigger::Schedule(at) => Some(at),
            _ => None,
        }),
        queued_at: Set(now),
        status: Set("queued".to_owned()),
        bytes: Set(0),
        attempts: Set(0),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Marks a run as started (one more attempt) by `runner`.
pub async fn start(db: &DatabaseConnection, run: &backup_run::Model, runner: &str) -> Result<(), DbErr> {
    let now = now_ms();
    let mut row: backup_run::ActiveModel = run.clone().into();
    row.status = Set("running".into());
    row.started_at = Set(Some(now));
    row.finished_at = Set(None);
    row.error = Set(None);
    row.attempts = Set(run.attempts + 1);
    row.phase = Set(Some("capabilities".into()));
    row.bytes = Set(0);
    row.updated_at = Set(now);
    row.runner = Set(Some(runner.to_owned()));
    row.update(db).await.map(|_| ())
}

/// Records progress: the phase reached and bytes so far.
pub async fn progress(db: &DatabaseConnection, run_id: i64, phase: &str, bytes: u64) -> Result<(), DbErr> {
    backup_run::Entity::update_many()
        .col_expr(backup_run::Column::Phase, Expr::value(phase))
        .col_expr(backup_run::Column::Bytes, Expr::value(bytes as i64))
        .col_expr(backup_run::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(backup_run::Column::Id.eq(run_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// How a run ended.
#[derive(Debug, Clone, Default)]
pub struct Ending {
    /// succeeded | failed | skipped.
    pub status: &'static str,
    /// Phase reached.
    pub phase: Option<String>,
    /// Bytes.
    pub bytes: u64,
    /// sha256.
    pub sha256: Option<String>,
    /// Destination file id.
    pub file_id: Option<String>,
    /// Destination file name.
    pub file_name: Option<String>,
    /// Readable error.
    pub error: Option<String>,
    /// Names retention deleted.
    pub pruned: Vec<String>,
}

/// Closes a run record.
pub async fn finish(db: &DatabaseConnection, run_id: i64, ending: &Ending) -> Result<backup_run::Model, DbErr> {
    let run =
        backup_run::Entity::find_by_id(run_id).one(db).await?.ok_or(DbErr::RecordNotFound(format!("run {run_id}")))?;
    let now = now_ms();
    let duration = run.started_at.map(|s| now - s);
    let mut row: backup_run::ActiveModel = run.into();
    row.status = Set(ending.status.to_owned());
    row.finished_at = Set(Some(now));
    row.duration_ms = Set(duration);
    if ending.phase.is_some() {
        row.phase = Set(ending.phase.clone());
    }
    row.bytes = Set(ending.bytes as i64);
    row.sha256 = Set(ending.sha256.clone());
    row.file_id = Set(ending.file_id.clone());
    row.file_name = Set(ending.file_name.clone());
    row.error = Set(ending.error.clone());
    row.pruned = Set((!ending.pruned.is_empty()).then(|| ending.pruned.join(",")));
    row.updated_at = Set(now);
    row.update(db).await
}

/// Marks failed the runs left "running" by a process that is gone: no live lease for the app and
/// no progress for `stale_ms`. Returns how many. (The queue re-runs their jobs; this keeps the
/// record honest in the meantime, so no run stays "running" forever.)
pub async fn sweep_interrupted(db: &DatabaseConnection, stale_ms: i64) -> Result<u64, DbErr> {
    use crate::db::entities::app_lease;
    let now = now_ms();
    let live: Vec<i64> = app_lease::Entity::find()
        .filter(app_lease::Column::ExpiresAt.gt(now))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.app_id)
        .collect();
    let result = backup_run::Entity::update_many()
        .col_expr(backup_run::Column::Status, Expr::value("failed"))
        .col_expr(backup_run::Column::Error, Expr::value("interrupted: the process running it stopped"))
        .col_expr(backup_run::Column::FinishedAt, Expr::value(now))
        .filter(backup_run::Column::Status.eq("running"))
        .filter(backup_run::Column::UpdatedAt.lt(now - stale_ms))
        .filter(backup_run::Column::AppId.is_not_in(live))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Puts a failed attempt back in the queued state, saying why and when it runs again.
pub async fn requeue(
    db: &DatabaseConnection,
    run_id: i64,
    reason: &str,
    delay: std::time::Duration,
) -> Result<(), DbErr> {
    backup_run::Entity::update_many()
        .col_expr(backup_run::Column::Status, Expr::value("queued"))
        .col_expr(backup_run::Column::Error, Expr::value(format!("{reason} (retrying in {}s)", delay.as_secs())))
        .col_expr(backup_run::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(backup_run::Column::Id.eq(run_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// A run by id.
pub async fn get(db: &DatabaseConnection, run_id: i64) -> Result<Option<backup_run::Model>, DbErr> {
    backup_run::Entity::find_by_id(run_id).one(db).await
}

/// The latest runs of an app, newest first.
pub async fn recent(db: &DatabaseConnection, app_id: i64, limit: u64) -> Result<Vec<backup_run::Model>, DbErr> {
    use sea_orm::QuerySelect;
    backup_run::Entity::find()
        .filter(backup_run::Column::AppId.eq(app_id))
        .order_by_desc(backup_run::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Brings the inventory of an app in line with what the destination lists (the destination
/// wins): files the app owns are upserted, inventory rows whose file is gone are marked deleted.
pub async fn reconcile(db: &DatabaseConnection, app_id: i64, listed: &[StoredFile]) -> Result<(), DbErr> {
    let now = now_ms();
    let owned: Vec<&StoredFile> = listed.iter().filter(|f| owned_by(f, app_id)).collect();
    let known = backup_copy::Entity::find().filter(backup_copy::Column::AppId.eq(app_id)).all(db).await?;
    for file in &owned {
        let verified = file.properties.get("verified").is_some_and(|v| v == "1");
        let sha256 = file.properties.get("sha256").cloned().or_else(|| file.sha256.clone());
        let created =
            file.created.as_deref().and_then(|c| c.parse::<jiff::Timestamp>().ok()).map_or(now, |t| t.as_millisecond());
        match known.iter().find(|k| k.file_id == file.id) {
            Some(row) => {
                let mut row: backup_copy::ActiveModel = row.clone().into();
                row.name = Set(file.name.clone());
                row.size = Set(file.size as i64);
                row.sha256 = Set(sha256);
                row.verified = Set(verified);
                row.deleted_at = Set(None);
                row.update(db).await?;
            }
            None => {
                backup_copy::ActiveModel {
                    app_id: Set(app_id),
                    run_id: Set(file.properties.get("run_id").and_then(|r| r.parse().ok())),
                    file_id: Set(file.id.clone()),
                    name: Set(file.name.clone()),
                    size: Set(file.size as i64),
                    sha256: Set(sha256),
                    verified: Set(verified),
                    created_at: Set(created),
                    ..Default::default()
                }
                .insert(db)
                .await?;
            }
        }
    }
    for row in known.iter().filter(|k| k.deleted_at.is_none() && !owned.iter().any(|f| f.id == k.file_id)) {
        let mut row: backup_copy::ActiveModel = row.clone().into();
        row.deleted_at = Set(Some(now));
        row.update(db).await?;
    }
    Ok(())
}

/// Marks inventory rows deleted.
pub async fn mark_deleted(db: &DatabaseConnection, app_id: i64, file_id: &str) -> Result<(), DbErr> {
    backup_copy::Entity::update_many()
        .col_expr(backup_copy::Column::DeletedAt, Expr::value(now_ms()))
        .filter(backup_copy::Column::AppId.eq(app_id))
        .filter(backup_copy::Column::FileId.eq(file_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// True when the file's properties say it belongs to this app (never judged by name).
pub fn owned_by(file: &StoredFile, app_id: i64) -> bool {
    file.properties.get("app_id").is_some_and(|id| *id == app_id.to_string())
}
