//! The schema the migrations build, on a fresh SQLite database and a fresh PostgreSQL one: every
//! table with its columns in order, every index, and the recorded migration names (which existing
//! databases depend on to keep migrating).

use e2e::postgres::TestPostgres;
use sea_orm::{DatabaseConnection, FromQueryResult, Statement};

/// Every migration, by the name databases record.
const MIGRATIONS: [&str; 20] = [
    "m0001_initial",
    "m0002_schedule_fires",
    "m0003_web",
    "m0004_alerts",
    "m0005_run_indexes",
    "m0006_drive_budget",
    "m0007_run_notes",
    "m0008_codecs",
    "m0009_restore_source",
    "m0010_app_uid",
    "m0011_audits_and_drills",
    "m0012_run_cancel",
    "m0013_app_groups",
    "m0014_night_spread",
    "m0015_restore_cancel",
    "m0016_alert_policy",
    "m0017_log_codes",
    "m0018_users",
    "m0019_reason_codes",
    "m0020_group_waiters",
];

/// Our tables and their columns, in order, as the migrations leave them.
const TABLES: &[(&str, &[&str])] = &[
    ("app_alerts", &["app_id", "failing_since", "stale_since", "updated_at", "reminded_at"]),
    ("app_groups", &["name", "max_concurrent", "window_secs", "jitter_secs", "updated_at"]),
    ("app_leases", &["app_id", "holder", "run_id", "expires_at"]),
    (
        "api_tokens",
        &[
            "id",
            "name",
            "token_hash",
            "prefix",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
            "owner",
            "role",
            "expires_at",
            "confirms",
        ],
    ),
    (
        "apps",
        &[
            "id",
            "name",
            "url",
            "token_encrypted",
            "schedule",
            "time_zone",
            "folder",
            "keep_last",
            "keep_daily",
            "keep_weekly",
            "keep_monthly",
            "keep_within_days",
            "backup_type",
            "priority",
            "enabled",
            "created_at",
            "updated_at",
            "compress",
            "encrypt",
            "recipients",
            "uid",
            "drill_schedule",
            "drill_copy",
            "group_name",
            "tags",
            "window_secs",
            "jitter_secs",
        ],
    ),
    ("audit_log", &["id", "at", "actor", "action", "target", "detail", "source", "detail_msg"]),
    (
        "backup_copies",
        &[
            "id",
            "app_id",
            "run_id",
            "file_id",
            "name",
            "size",
            "sha256",
            "verified",
            "created_at",
            "deleted_at",
            "codec",
            "plain_size",
            "stored_sha256",
            "health",
            "health_detail",
            "health_since",
            "health_alerted_at",
            "damage_found_by",
            "audited_at",
            "read_at",
        ],
    ),
    (
        "backup_runs",
        &[
            "id",
            "app_id",
            "trigger",
            "scheduled_for",
            "queued_at",
            "started_at",
            "finished_at",
            "attempts",
            "status",
            "phase",
            "bytes",
            "sha256",
            "file_id",
            "file_name",
            "duration_ms",
            "error",
            "pruned",
            "updated_at",
            "runner",
            "note",
            "codec",
            "stored_bytes",
            "stored_sha256",
            "cancel_requested_at",
            "cancel_reason",
            "first_started_at",
            "retry_at",
            "error_msg",
        ],
    ),
    (
        "copy_audits",
        &[
            "id",
            "app_id",
            "trigger",
            "started_at",
            "finished_at",
            "copies",
            "good",
            "lost",
            "damaged",
            "read_back",
            "error",
        ],
    ),
    ("drive_upload_holds", &["account", "reported_at", "held_until"]),
    ("drive_uploads", &["id", "account", "run_id", "bytes", "counted_at"]),
    ("group_slots", &["group_name", "slot", "holder", "run_id", "expires_at"]),
    ("group_waiters", &["group_name", "run_id", "priority", "since", "expires_at"]),
    (
        "notification_channels",
        &[
            "id",
            "name",
            "kind",
            "app_id",
            "config",
            "secret_encrypted",
            "on_failure",
            "on_recovery",
            "on_stale",
            "enabled",
            "created_at",
            "updated_at",
            "on_drill",
            "on_restore",
            "summary",
            "summary_hour",
            "summary_sent_for",
            "language",
            "time_zone",
            "tags",
        ],
    ),
    (
        "notification_deliveries",
        &[
            "id",
            "channel_id",
            "event",
            "app_id",
            "run_id",
            "payload",
            "status",
            "attempts",
            "next_attempt_at",
            "claimed_until",
            "last_error",
            "created_at",
            "sent_at",
        ],
    ),
    (
        "restores",
        &[
            "id",
            "app_id",
            "copy_file_id",
            "copy_name",
            "status",
            "phase",
            "bytes",
            "total_bytes",
            "safety_run_id",
            "actor",
            "error",
            "started_at",
            "finished_at",
            "updated_at",
            "source_app_id",
            "source_app",
            "kind",
            "report",
            "cancel_requested_at",
            "cancel_reason",
            "error_msg",
        ],
    ),
    ("run_logs", &["id", "run_id", "at", "level", "message", "code", "fields"]),
    ("schedule_fires", &["app_id", "fire_at", "created_at"]),
    ("sessions", &["id", "username", "csrf", "created_at", "expires_at", "last_seen_at", "source", "confirmed_at"]),
    ("settings", &["key", "value"]),
    (
        "users",
        &[
            "id",
            "name",
            "role",
            "language",
            "email",
            "password_hash",
            "created_by",
            "created_at",
            "password_changed_at",
        ],
    ),
];

/// The indexes the migrations name (primary keys and unique columns get unnamed ones).
const INDEXES: [&str; 15] = [
    "apps_group_name",
    "audit_log_at",
    "backup_copies_app_file",
    "copy_audits_app_finished",
    "drive_uploads_account_counted",
    "backup_runs_app_id",
    "backup_runs_app_status_id",
    "backup_runs_app_time",
    "backup_runs_finished",
    "backup_runs_one_per_fire",
    "backup_runs_status",
    "backup_runs_status_finished",
    "backup_runs_status_id",
    "notification_deliveries_due",
    "run_logs_run_id",
];

#[derive(FromQueryResult)]
struct Column {
    table_name: String,
    column_name: String,
}

#[derive(FromQueryResult)]
struct Name {
    name: String,
}

async fn rows<T: FromQueryResult>(db: &DatabaseConnection, sql: &str) -> Vec<T> {
    T::find_by_statement(Statement::from_string(db.get_database_backend(), sql))
        .all(db)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Checks the schema of `url` after migrating it twice (the second time must find nothing to do).
async fn assert_schema(url: &str, columns_sql: &str, indexes_sql: &str) {
    orchestrator::db::connect(url).await.expect("a fresh database migrates");
    let db = orchestrator::db::connect(url).await.expect("a migrated database opens again");

    let applied: Vec<Name> = rows(&db, "SELECT version AS name FROM seaql_migrations ORDER BY version").await;
    assert_eq!(applied.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), MIGRATIONS);

    let columns: Vec<Column> = rows(&db, columns_sql).await;
    for (table, expected) in TABLES {
        let found: Vec<&str> =
            columns.iter().filter(|c| c.table_name == *table).map(|c| c.column_name.as_str()).collect();
        assert_eq!(found, *expected, "the columns of {table}");
    }
    let indexes: Vec<Name> = rows(&db, indexes_sql).await;
    let indexes: Vec<&str> = indexes.iter().map(|r| r.name.as_str()).collect();
    for index in INDEXES {
        assert!(indexes.contains(&index), "index {index} exists: {indexes:?}");
    }
}

#[tokio::test]
async fn migrations_build_the_released_schema_on_sqlite() {
    let dir = e2e::harness::temp_dir();
    let url = format!("sqlite://{}/schema.db?mode=rwc", dir.display());
    assert_schema(
        &url,
        "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m \
         JOIN pragma_table_info(m.name) p WHERE m.type = 'table' ORDER BY m.name, p.cid",
        "SELECT name FROM sqlite_master WHERE type = 'index'",
    )
    .await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn migrations_build_the_released_schema_on_postgres() {
    let Some(pg) = TestPostgres::from_env("migrations_build_the_released_schema_on_postgres") else { return };
    let database = pg.create_database("schema");
    assert_schema(
        &pg.url_for(&database),
        "SELECT table_name::text AS table_name, column_name::text AS column_name FROM information_schema.columns \
         WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
        "SELECT indexname::text AS name FROM pg_indexes WHERE schemaname = 'public'",
    )
    .await;
    pg.drop_database(&database);
}

#[test]
fn every_table_is_either_in_the_self_backup_or_left_out_on_purpose() {
    use orchestrator::selfbackup::tables::{LEFT_OUT, names};
    let kept = names();
    for (table, _) in TABLES {
        let (is_kept, is_left_out) = (kept.contains(table), LEFT_OUT.contains(table));
        assert!(
            is_kept != is_left_out,
            "{table}: kept {is_kept}, left out {is_left_out}; choose one in selfbackup::tables"
        );
    }
    for table in kept.iter().chain(LEFT_OUT.iter()) {
        assert!(TABLES.iter().any(|(t, _)| t == table), "{table} is not a table of the schema");
    }
}
