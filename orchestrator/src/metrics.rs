//! Prometheus metrics, read from the database (so every process reports the same deployment-wide
//! figures) plus this process's own Drive errors and scheduler lag, in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sea_orm::prelude::*;
use sea_orm::{FromQueryResult, Statement};

use crate::db::now_ms;

/// Bucket bounds of the size histogram (bytes).
const SIZE_BUCKETS: [i64; 8] = [1 << 20, 16 << 20, 128 << 20, 1 << 30, 4 << 30, 16 << 30, 64 << 30, 256 << 30];
/// Bucket bounds of the duration histogram (seconds).
const DURATION_BUCKETS: [i64; 8] = [1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600];

#[derive(Debug, FromQueryResult)]
struct RunCount {
    name: String,
    status: String,
    count: i64,
}

#[derive(Debug, FromQueryResult)]
struct PerApp {
    name: String,
    value: Option<i64>,
}

#[derive(Debug, FromQueryResult)]
struct CopyRow {
    name: String,
    copies: i64,
    bytes: Option<i64>,
    newest: Option<i64>,
}

#[derive(Debug, FromQueryResult)]
struct Count {
    count: i64,
}

async fn all<T: FromQueryResult>(db: &DatabaseConnection, sql: &str) -> Result<Vec<T>, DbErr> {
    T::find_by_statement(Statement::from_string(db.get_database_backend(), sql.to_owned())).all(db).await
}

fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

async fn histogram(
    db: &DatabaseConnection,
    out: &mut String,
    name: &str,
    help: &str,
    column: &str,
    bounds: &[i64],
    scale: i64,
) -> Result<(), DbErr> {
    let mut sql = String::from("SELECT ");
    for (i, b) in bounds.iter().enumerate() {
        let _ = write!(sql, "SUM(CASE WHEN {column} <= {} THEN 1 ELSE 0 END) AS b{i}, ", b * scale);
    }
    let _ = write!(
        sql,
        "COUNT(*) AS total, SUM({column}) AS sum FROM backup_runs WHERE status = 'succeeded' AND {column} IS NOT NULL"
    );
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or_else(|| DbErr::Custom("no histogram row".into()))?;
    header(out, name, "histogram", help);
    for (i, b) in bounds.iter().enumerate() {
        let n: Option<i64> = row.try_get("", &format!("b{i}")).ok().flatten();
        let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {}", n.unwrap_or(0));
    }
    let total: i64 = row.try_get("", "total").unwrap_or(0);
    let sum: Option<i64> = row.try_get("", "sum").ok().flatten();
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
    let sum = sum.unwrap_or(0) as f64 / scale as f64;
    let _ = writeln!(out, "{name}_sum {sum}");
    let _ = writeln!(out, "{name}_count {total}");
    Ok(())
}

/// The metrics, rendered. `tick_lag_ms` is how long ago this process's scheduler last ticked.
pub async fn render(db: &DatabaseConnection, tick_lag_ms: i64) -> Result<String, DbErr> {
    let mut out = String::new();
    let now = now_ms();

    let runs: Vec<RunCount> = all(
        db,
        "SELECT apps.name AS name, backup_runs.status AS status, COUNT(*) AS count FROM backup_runs \
         JOIN apps ON apps.id = backup_runs.app_id GROUP BY apps.name, backup_runs.status",
    )
    .await?;
    header(&mut out, "backup_runs_total", "counter", "Runs recorded, by app and status.");
    for r in &runs {
        let _ = writeln!(
            out,
            "backup_runs_total{{app=\"{}\",status=\"{}\"}} {}",
            label(&r.name),
            label(&r.status),
            r.count
        );
    }

    let last: Vec<PerApp> = all(
        db,
        "SELECT apps.name AS name, MAX(backup_runs.finished_at) AS value FROM backup_runs \
         JOIN apps ON apps.id = backup_runs.app_id WHERE backup_runs.status = 'succeeded' GROUP BY apps.name",
    )
    .await?;
    header(&mut out, "backup_last_success_timestamp_seconds", "gauge", "When the app's last verified backup ended.");
    for r in &last {
        if let Some(ms) = r.value {
            let _ = writeln!(out, "backup_last_success_timestamp_seconds{{app=\"{}\"}} {}", label(&r.name), ms / 1000);
        }
    }

    let audited: Vec<PerApp> = all(
        db,
        "SELECT apps.name AS name, MAX(copy_audits.finished_at) AS value FROM copy_audits \
         JOIN apps ON apps.id = copy_audits.app_id WHERE copy_audits.error IS NULL GROUP BY apps.name",
    )
    .await?;
    header(
        &mut out,
        "backup_last_audit_timestamp_seconds",
        "gauge",
        "When the app's copies were last audited (found there and as stored, or marked lost or damaged).",
    );
    for r in &audited {
        if let Some(ms) = r.value {
            let _ = writeln!(out, "backup_last_audit_timestamp_seconds{{app=\"{}\"}} {}", label(&r.name), ms / 1000);
        }
    }
    let drilled: Vec<PerApp> = all(
        db,
        "SELECT apps.name AS name, MAX(restores.finished_at) AS value FROM restores \
         JOIN apps ON apps.id = COALESCE(restores.source_app_id, restores.app_id) \
         WHERE restores.kind <> 'restore' AND restores.status = 'succeeded' GROUP BY apps.name",
    )
    .await?;
    header(
        &mut out,
        "backup_last_drill_success_timestamp_seconds",
        "gauge",
        "When a copy of the app was last proven restorable by a restore drill.",
    );
    for r in &drilled {
        if let Some(ms) = r.value {
            let _ = writeln!(
                out,
                "backup_last_drill_success_timestamp_seconds{{app=\"{}\"}} {}",
                label(&r.name),
                ms / 1000
            );
        }
    }
    let bad: Vec<RunCount> = all(
        db,
        "SELECT apps.name AS name, backup_copies.health AS status, COUNT(*) AS count FROM backup_copies \
         JOIN apps ON apps.id = backup_copies.app_id WHERE backup_copies.health <> 'good' \
         GROUP BY apps.name, backup_copies.health",
    )
    .await?;
    header(&mut out, "backup_copies_bad", "gauge", "Copies of the app found lost or damaged, by health.");
    for r in &bad {
        let _ = writeln!(
            out,
            "backup_copies_bad{{app=\"{}\",health=\"{}\"}} {}",
            label(&r.name),
            label(&r.status),
            r.count
        );
    }

    let copies: Vec<CopyRow> = all(
        db,
        "SELECT apps.name AS name, COUNT(backup_copies.id) AS copies, SUM(backup_copies.size) AS bytes, \
         MAX(CASE WHEN backup_copies.verified THEN backup_copies.created_at END) AS newest FROM apps \
         LEFT JOIN backup_copies ON backup_copies.app_id = apps.id AND backup_copies.deleted_at IS NULL \
         GROUP BY apps.name",
    )
    .await?;
    header(&mut out, "backup_copies", "gauge", "Copies of the app in its destination.");
    for c in &copies {
        let _ = writeln!(out, "backup_copies{{app=\"{}\"}} {}", label(&c.name), c.copies);
    }
    header(&mut out, "backup_stored_bytes", "gauge", "Bytes of the app's copies in its destination.");
    for c in &copies {
        let _ = writeln!(out, "backup_stored_bytes{{app=\"{}\"}} {}", label(&c.name), c.bytes.unwrap_or(0));
    }
    header(&mut out, "backup_newest_verified_copy_age_seconds", "gauge", "Age of the app's newest verified copy.");
    for c in &copies {
        if let Some(newest) = c.newest {
            let _ = writeln!(
                out,
                "backup_newest_verified_copy_age_seconds{{app=\"{}\"}} {}",
                label(&c.name),
                (now - newest).max(0) / 1000
            );
        }
    }

    for (name, sql, help) in [
        (
            "backup_queue_depth",
            "SELECT COUNT(*) AS count FROM backup_runs WHERE status = 'queued'",
            "Runs waiting in the queue.",
        ),
        ("backup_running", "SELECT COUNT(*) AS count FROM backup_runs WHERE status = 'running'", "Runs running now."),
        (
            "backup_waiting_for_drive_budget",
            "SELECT COUNT(*) AS count FROM backup_runs WHERE status = 'waiting'",
            "Runs waiting for Drive's daily upload budget to free.",
        ),
        (
            "backup_apps_failing",
            "SELECT COUNT(*) AS count FROM app_alerts WHERE failing_since IS NOT NULL",
            "Apps whose last run failed for good, with no success since.",
        ),
        (
            "backup_apps_stale",
            "SELECT COUNT(*) AS count FROM app_alerts WHERE stale_since IS NOT NULL",
            "Apps with no verified backup for longer than their schedule allows.",
        ),
        (
            "backup_notifications_pending",
            "SELECT COUNT(*) AS count FROM notification_deliveries WHERE status = 'pending'",
            "Notifications waiting to be sent or retried.",
        ),
        (
            "backup_notifications_failed",
            "SELECT COUNT(*) AS count FROM notification_deliveries WHERE status = 'failed'",
            "Notifications given up after their last attempt.",
        ),
    ] {
        let n: Vec<Count> = all(db, sql).await?;
        header(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {}", n.first().map_or(0, |c| c.count));
    }

    histogram(db, &mut out, "backup_size_bytes", "Size of successful backups.", "bytes", &SIZE_BUCKETS, 1).await?;
    histogram(
        db,
        &mut out,
        "backup_duration_seconds",
        "Duration of successful backups.",
        "duration_ms",
        &DURATION_BUCKETS,
        1000,
    )
    .await?;

    header(&mut out, "backup_drive_errors_total", "counter", "Google Drive API errors met by this process, by kind.");
    let counts: BTreeMap<&str, u64> = crate::storage::gdrive::error_counts().into_iter().collect();
    for (kind, n) in counts {
        let _ = writeln!(out, "backup_drive_errors_total{{kind=\"{kind}\"}} {n}");
    }
    header(&mut out, "backup_scheduler_tick_lag_seconds", "gauge", "Time since this process's scheduler last ticked.");
    let _ = writeln!(out, "backup_scheduler_tick_lag_seconds {}", tick_lag_ms.max(0) as f64 / 1000.0);
    Ok(out)
}
