//! Bulk rows straight into the orchestrator's SQLite database, after its migrations: thousands
//! of apps cloned from one registered through the CLI (so tokens and every column are real),
//! runs by the million and a stored copy per app. Each insert is ONE statement over a recursive
//! counter, so SQLite writes a million rows in seconds.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection};

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("seeding failed: {e}\n{sql}"));
}

fn counter(n: usize) -> String {
    format!("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) ")
}

/// Clones app 1 into `more` apps named `app-00001`..; returns how long it took.
pub(crate) async fn apps(db: &DatabaseConnection, more: usize) -> Duration {
    let started = Instant::now();
    if more > 0 {
        exec(
            db,
            &format!(
                "INSERT INTO apps (name, url, token_encrypted, schedule, time_zone, folder, keep_last, keep_daily, \
                 keep_weekly, keep_monthly, keep_within_days, backup_type, priority, enabled, created_at, updated_at) \
                 {} SELECT printf('app-%05d', i), t.url, t.token_encrypted, t.schedule, t.time_zone, t.folder, \
                 t.keep_last, t.keep_daily, t.keep_weekly, t.keep_monthly, t.keep_within_days, t.backup_type, \
                 t.priority, t.enabled, t.created_at, t.updated_at FROM n, apps AS t WHERE t.id = 1",
                counter(more)
            ),
        )
        .await;
    }
    started.elapsed()
}

/// Gives every app the same schedule (UTC), as if just edited.
pub(crate) async fn schedule_all(db: &DatabaseConnection, schedule: &str) {
    let now = orchestrator::db::now_ms();
    let schedule = schedule.replace('\'', "''");
    exec(db, &format!("UPDATE apps SET schedule = '{schedule}', time_zone = 'UTC', updated_at = {now}")).await;
}

/// `count` ended runs over the last 30 days, spread over every app, one in 20 failed; ids grow
/// with time, as real runs do. Returns how long it took.
pub(crate) async fn runs(db: &DatabaseConnection, count: usize) -> Duration {
    let started = Instant::now();
    let now = orchestrator::db::now_ms();
    let step = 30 * 24 * 3600 * 1000 / count.max(1) as i64;
    let apps: i64 = count_of(db, "apps").await;
    exec(
        db,
        &format!(
            "INSERT INTO backup_runs (app_id, trigger, scheduled_for, queued_at, started_at, finished_at, attempts, \
             status, phase, bytes, duration_ms, error, updated_at, runner) \
             {counter} SELECT a.id, 'schedule', {now} - ({count} - i) * {step}, {now} - ({count} - i) * {step}, \
             {now} - ({count} - i) * {step} + 500, {now} - ({count} - i) * {step} + 60500, 1, \
             CASE WHEN i % 20 = 0 THEN 'failed' ELSE 'succeeded' END, \
             CASE WHEN i % 20 = 0 THEN 'export' ELSE 'retention' END, 104857600, 60000, \
             CASE WHEN i % 20 = 0 THEN 'the app sent no byte for 300s: the export stalled' END, \
             {now} - ({count} - i) * {step} + 60500, 'bench:1' \
             FROM n JOIN (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS k FROM apps) AS a ON a.k = i % {apps}",
            counter = counter(count),
        ),
    )
    .await;
    started.elapsed()
}

/// One verified stored copy per app.
pub(crate) async fn copies(db: &DatabaseConnection) {
    let now = orchestrator::db::now_ms();
    exec(
        db,
        &format!(
            "INSERT INTO backup_copies (app_id, file_id, name, size, verified, created_at) \
             SELECT id, 'file-' || id, name || '_full.bin', 104857600, 1, {now} FROM apps"
        ),
    )
    .await;
}

async fn count_of(db: &DatabaseConnection, table: &str) -> i64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get("", "n").expect("n")
}
