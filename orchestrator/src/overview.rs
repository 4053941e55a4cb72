//! What the dashboard, the runs and queue pages and the stats API read: a page of apps with their
//! last backup and stored copies, totals, runs by filter, and the queue's state. Queries stay
//! bounded by the page size (the filter's few grouped queries aside), so they stay fast with
//! thousands of apps and millions of runs.

use crate::backup::lifecycle::Status;
use crate::backup::restore::RestoreStatus;
use crate::db::entities::restore;
use std::collections::HashMap;

use sea_orm::prelude::*;
use sea_orm::sea_query::{Expr as SeaExpr, Func};
use sea_orm::{FromQueryResult, QueryOrder, QuerySelect, Statement};

use crate::db::entities::{app, backup_copy, backup_run};
use crate::db::now_ms;

/// One app's card.
#[derive(Debug, Clone)]
pub struct AppCard {
    /// The app (its token stays sealed here: never shown).
    pub app: app::Model,
    /// The latest run that ended.
    pub last_run: Option<backup_run::Model>,
    /// A run queued, running or waiting for Drive's budget now.
    pub active_run: Option<backup_run::Model>,
    /// Copies in the destination.
    pub copies: i64,
    /// Their total size.
    pub bytes: i64,
}

/// Totals at the top of the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Registered apps.
    pub apps: i64,
    /// Of which paused.
    pub paused: i64,
    /// Successful backups in the last 24 hours.
    pub backups_24h: i64,
    /// Failed runs in the last 24 hours.
    pub failures_24h: i64,
    /// Copies in the destinations.
    pub copies: i64,
    /// Their total size.
    pub bytes_stored: i64,
}

#[derive(Debug, FromQueryResult)]
struct CountSum {
    app_id: i64,
    count: i64,
    total: Option<i64>,
}

#[derive(Debug, FromQueryResult)]
struct MaxId {
    id: Option<i64>,
}

/// The apps `filter` picks (failing first, then by name; see [`crate::fleet::filter`]): page
/// `page` (0-based) of `per_page` as cards, and the whole selection (how many match, the counts
/// per state). `stale_intervals` is `STALE_AFTER_INTERVALS`.
pub async fn cards(
    db: &DatabaseConnection,
    filter: &crate::fleet::filter::AppFilter,
    stale_intervals: u32,
    page: u64,
    per_page: u64,
) -> Result<(Vec<AppCard>, crate::fleet::filter::Selection), DbErr> {
    let selection = crate::fleet::filter::select(db, filter, stale_intervals).await?;
    let page_ids: Vec<i64> =
        // A page far past the end (`?page=18446744073709551615`) is an empty page, never an overflow.
        selection
            .apps
            .iter()
            .skip(usize::try_from(page.saturating_mul(per_page)).unwrap_or(usize::MAX))
            .take(usize::try_from(per_page).unwrap_or(usize::MAX))
            .map(|a| a.id)
            .collect();
    let apps = crate::fleet::filter::rows(db, &page_ids).await?;
    let ids: Vec<i64> = apps.iter().map(|a| a.id).collect();
    let last = latest_runs(db, &ids, true).await?;
    let active = latest_runs(db, &ids, false).await?;
    let copies = copies_by_app(db, &ids).await?;
    let cards = apps
        .into_iter()
        .map(|app| {
            let (copies, bytes) = copies.get(&app.id).copied().unwrap_or_default();
            AppCard {
                last_run: last.get(&app.id).cloned(),
                active_run: active.get(&app.id).cloned(),
                copies,
                bytes,
                app,
            }
        })
        .collect();
    Ok((cards, selection))
}

/// Per app, its newest run that ended (`ended`) or that is queued or running (`!ended`).
async fn latest_runs(
    db: &DatabaseConnection,
    app_ids: &[i64],
    ended: bool,
) -> Result<HashMap<i64, backup_run::Model>, DbErr> {
    if app_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let statuses: &[Status] = if ended { &Status::ENDED } else { &Status::ACTIVE };
    let newest: Vec<i64> = backup_run::Entity::find()
        .select_only()
        .column_as(SeaExpr::expr(Func::max(SeaExpr::col(backup_run::Column::Id))), "id")
        .filter(backup_run::Column::AppId.is_in(app_ids.iter().copied()))
        .filter(backup_run::Column::Status.is_in(statuses.iter().copied()))
        .group_by(backup_run::Column::AppId)
        .into_model::<MaxId>()
        .all(db)
        .await?
        .into_iter()
        .filter_map(|m| m.id)
        .collect();
    let runs = backup_run::Entity::find().filter(backup_run::Column::Id.is_in(newest)).all(db).await?;
    Ok(runs.into_iter().map(|r| (r.app_id, r)).collect())
}

/// `SUM(col)` as a BIGINT: PostgreSQL sums BIGINTs into a NUMERIC, which does not read as `i64`.
fn sum_bigint(col: impl sea_orm::sea_query::IntoColumnRef) -> SeaExpr {
    use sea_orm::sea_query::ExprTrait;
    SeaExpr::expr(Func::sum(SeaExpr::col(col))).cast_as("BIGINT")
}

/// Per app: copies in the destination and their total size.
async fn copies_by_app(db: &DatabaseConnection, app_ids: &[i64]) -> Result<HashMap<i64, (i64, i64)>, DbErr> {
    if app_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = backup_copy::Entity::find()
        .select_only()
        .column(backup_copy::Column::AppId)
        .column_as(backup_copy::Column::Id.count(), "count")
        .column_as(sum_bigint(backup_copy::Column::Size), "total")
        .filter(backup_copy::Column::AppId.is_in(app_ids.iter().copied()))
        .filter(backup_copy::Column::DeletedAt.is_null())
        .group_by(backup_copy::Column::AppId)
        .into_model::<CountSum>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.app_id, (r.count, r.total.unwrap_or(0)))).collect())
}

/// The totals.
pub async fn totals(db: &DatabaseConnection) -> Result<Totals, DbErr> {
    let since = now_ms() - 24 * 3600 * 1000;
    let ended_since = |statuses: &[Status]| {
        backup_run::Entity::find()
            .filter(backup_run::Column::FinishedAt.gt(since))
            .filter(backup_run::Column::Status.is_in(statuses.iter().copied()))
            .count(db)
    };
    let stored = copies_by_app_total(db).await?;
    Ok(Totals {
        apps: app::Entity::find().count(db).await? as i64,
        paused: app::Entity::find().filter(app::Column::Enabled.eq(false)).count(db).await? as i64,
        backups_24h: ended_since(&[Status::Succeeded]).await? as i64,
        failures_24h: ended_since(&Status::FAILURES).await? as i64,
        copies: stored.0,
        bytes_stored: stored.1,
    })
}

async fn copies_by_app_total(db: &DatabaseConnection) -> Result<(i64, i64), DbErr> {
    #[derive(FromQueryResult)]
    struct Row {
        count: i64,
        total: Option<i64>,
    }
    let row = backup_copy::Entity::find()
        .select_only()
        .column_as(backup_copy::Column::Id.count(), "count")
        .column_as(sum_bigint(backup_copy::Column::Size), "total")
        .filter(backup_copy::Column::DeletedAt.is_null())
        .into_model::<Row>()
        .one(db)
        .await?;
    Ok(row.map_or((0, 0), |r| (r.count, r.total.unwrap_or(0))))
}

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only this status.
    pub status: Option<Status>,
    /// Only this app.
    pub app_id: Option<i64>,
    /// Only runs older than this id (the next page).
    pub before: Option<i64>,
}

/// Runs, newest first, with their app's name; `limit` of them.
pub async fn runs(
    db: &DatabaseConnection,
    filter: &RunFilter,
    limit: u64,
) -> Result<Vec<(backup_run::Model, String)>, DbErr> {
    let mut query = backup_run::Entity::find();
    if let Some(status) = &filter.status {
        query = query.filter(backup_run::Column::Status.eq(*status));
    }
    if let Some(app_id) = filter.app_id {
        query = query.filter(backup_run::Column::AppId.eq(app_id));
    }
    if let Some(before) = filter.before {
        query = query.filter(backup_run::Column::Id.lt(before));
    }
    let runs = query.order_by_desc(backup_run::Column::Id).limit(limit).all(db).await?;
    let names = app_names(db, runs.iter().map(|r| r.app_id)).await?;
    Ok(runs
        .into_iter()
        .map(|r| {
            let name = names.get(&r.app_id).cloned().unwrap_or_else(|| format!("#{}", r.app_id));
            (r, name)
        })
        .collect())
}

/// Names of apps by id.
pub async fn app_names(db: &DatabaseConnection, ids: impl Iterator<Item = i64>) -> Result<HashMap<i64, String>, DbErr> {
    app_texts(db, ids, app::Column::Name).await
}

/// Time zones of apps by id: each app's times are shown in its own zone.
pub async fn app_zones(db: &DatabaseConnection, ids: impl Iterator<Item = i64>) -> Result<HashMap<i64, String>, DbErr> {
    app_texts(db, ids, app::Column::TimeZone).await
}

/// One text column of apps, by id.
async fn app_texts(
    db: &DatabaseConnection,
    ids: impl Iterator<Item = i64>,
    column: app::Column,
) -> Result<HashMap<i64, String>, DbErr> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String)> = app::Entity::find()
        .select_only()
        .column(app::Column::Id)
        .column(column)
        .filter(app::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// A process taking jobs from the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    /// Its name (host:pid-start).
    pub id: String,
    /// When it last reported (seconds since the epoch).
    pub last_seen: i64,
    /// When it started (seconds since the epoch).
    pub started_at: Option<i64>,
}

/// The processes known to the queue, most recently seen first.
pub async fn workers(db: &DatabaseConnection) -> Result<Vec<Worker>, DbErr> {
    let sql = crate::db::dialect::Dialect::of(db).queue_workers_sql();
    #[derive(FromQueryResult)]
    struct Row {
        id: String,
        last_seen: i64,
        started_at: Option<i64>,
    }
    let rows = Row::find_by_statement(Statement::from_string(db.get_database_backend(), sql)).all(db).await?;
    Ok(rows.into_iter().map(|r| Worker { id: r.id, last_seen: r.last_seen, started_at: r.started_at }).collect())
}

/// Runs queued, running or waiting for Drive's budget now, oldest first, with their app's name.
pub async fn active_runs(db: &DatabaseConnection) -> Result<Vec<(backup_run::Model, String)>, DbErr> {
    let runs = backup_run::Entity::find()
        .filter(backup_run::Column::Status.is_in(Status::ACTIVE))
        .order_by_asc(backup_run::Column::Id)
        .limit(500)
        .all(db)
        .await?;
    let names = app_names(db, runs.iter().map(|r| r.app_id)).await?;
    Ok(runs
        .into_iter()
        .map(|r| {
            let name = names.get(&r.app_id).cloned().unwrap_or_default();
            (r, name)
        })
        .collect())
}

/// Restores waiting in the queue or running now, oldest first, with their app's name.
pub async fn active_restores(db: &DatabaseConnection) -> Result<Vec<(restore::Model, String)>, DbErr> {
    let rows = restore::Entity::find()
        .filter(restore::Column::Status.is_in(RestoreStatus::ACTIVE))
        .order_by_asc(restore::Column::Id)
        .limit(500)
        .all(db)
        .await?;
    let names = app_names(db, rows.iter().map(|r| r.app_id)).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let name = names.get(&r.app_id).cloned().unwrap_or_default();
            (r, name)
        })
        .collect())
}

/// One app's record over the last 30 days, and its stored copies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppStats {
    /// Copies in the destination.
    pub copies: i64,
    /// Their size.
    pub bytes: i64,
    /// Runs that succeeded in the last 30 days.
    pub succeeded_30d: i64,
    /// Runs that failed in the last 30 days.
    pub failed_30d: i64,
    /// When the last success ended (ms).
    pub last_success_at: Option<i64>,
    /// The last failed run: when it ended (ms) and why.
    pub last_error: Option<(i64, String)>,
}

impl AppStats {
    /// Succeeded / (succeeded + failed) over 30 days; `None` with no ended run.
    pub fn success_rate(&self) -> Option<f64> {
        let ended = self.succeeded_30d + self.failed_30d;
        (ended > 0).then(|| self.succeeded_30d as f64 / ended as f64)
    }
}

/// The stats of one app.
pub async fn app_stats(db: &DatabaseConnection, app_id: i64) -> Result<AppStats, DbErr> {
    let since = now_ms() - 30 * 24 * 3600 * 1000;
    let count = |statuses: &[Status]| {
        backup_run::Entity::find()
            .filter(backup_run::Column::AppId.eq(app_id))
            .filter(backup_run::Column::Status.is_in(statuses.iter().copied()))
            .filter(backup_run::Column::FinishedAt.gt(since))
            .count(db)
    };
    let newest = |statuses: &[Status]| {
        backup_run::Entity::find()
            .filter(backup_run::Column::AppId.eq(app_id))
            .filter(backup_run::Column::Status.is_in(statuses.iter().copied()))
            .order_by_desc(backup_run::Column::Id)
            .one(db)
    };
    let (copies, bytes) = copies_by_app(db, &[app_id]).await?.get(&app_id).copied().unwrap_or_default();
    let last_failure = newest(&Status::FAILURES).await?;
    Ok(AppStats {
        copies,
        bytes,
        succeeded_30d: count(&[Status::Succeeded]).await? as i64,
        failed_30d: count(&Status::FAILURES).await? as i64,
        last_success_at: newest(&[Status::Succeeded]).await?.and_then(|r| r.finished_at),
        last_error: last_failure.map(|r| (r.finished_at.unwrap_or(r.updated_at), r.error.unwrap_or_default())),
    })
}

/// Queue and alert counts, for `/api/v1/stats`.
#[derive(Debug, Clone, Default)]
pub struct AlertTotals {
    /// Runs waiting in the queue.
    pub queued: i64,
    /// Runs in progress.
    pub running: i64,
    /// Runs waiting for Drive's daily upload budget.
    pub waiting: i64,
    /// Apps failing since their last success.
    pub failing_apps: i64,
    /// Apps told stale.
    pub stale_apps: i64,
    /// Notifications waiting.
    pub notifications_pending: i64,
    /// Notifications given up.
    pub notifications_failed: i64,
}

/// Counts for `/api/v1/stats`, each one indexed query.
pub async fn alert_totals(db: &DatabaseConnection) -> Result<AlertTotals, DbErr> {
    use crate::db::entities::app_alert;
    let runs = |status: Status| backup_run::Entity::find().filter(backup_run::Column::Status.eq(status)).count(db);
    let (queued, running) = (runs(Status::Queued).await?, runs(Status::Running).await?);
    let waiting = runs(Status::Waiting).await?;
    let failing_apps =
        app_alert::Entity::find().filter(app_alert::Column::FailingSince.is_not_null()).count(db).await?;
    let stale_apps = app_alert::Entity::find().filter(app_alert::Column::StaleSince.is_not_null()).count(db).await?;
    let (pending, failed) = crate::notify::outbox::counts(db).await?;
    Ok(AlertTotals {
        queued: queued as i64,
        running: running as i64,
        waiting: waiting as i64,
        failing_apps: failing_apps as i64,
        stale_apps: stale_apps as i64,
        notifications_pending: pending as i64,
        notifications_failed: failed as i64,
    })
}
