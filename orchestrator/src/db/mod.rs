//! The database: SQLite by default, PostgreSQL for several replicas. Owns the connection, its
//! settings, and the schema (migrations). Table names never collide with apalis's `Jobs` and
//! `Workers` (SQLite compares names case-insensitively).

pub mod entities;
mod migrations;

use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};
use sea_orm_migration::MigratorTrait;

/// The default database: a file under `data/`.
pub const DEFAULT_URL: &str = "sqlite://data/orchestrator.db?mode=rwc";

/// Opens the database at `url`, creating it (and `data/`) if needed, and brings the schema up to
/// date.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    if url.starts_with("sqlite:") {
        create_parent_folder(url);
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(if url.starts_with("sqlite:") { 8 } else { 16 })
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false)
        // apalis's own setup would set synchronous=OFF: we set durable-enough pragmas ourselves.
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    let db = Database::connect(options).await?;
    migrations::Migrator::up(&db, None).await?;
    // The queue's tables live in the same database; they exist before anything can push a job.
    let queue = if is_postgres(&db) {
        apalis_postgres::PostgresStorage::migrations().run(db.get_postgres_connection_pool()).await
    } else {
        apalis_sqlite::SqliteStorage::migrations().run(db.get_sqlite_connection_pool()).await
    };
    queue.map_err(|e| DbErr::Migration(format!("queue tables: {e}")))?;
    Ok(db)
}

/// True on PostgreSQL.
pub fn is_postgres(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// The sqlx pool under sea-orm, by database: where code that talks to the driver directly (the
/// queue, the scheduler's batch insert) picks between SQLite and PostgreSQL.
#[derive(Debug, Clone, Copy)]
pub enum Pool<'a> {
    /// SQLite.
    Sqlite(&'a sea_orm::sqlx::SqlitePool),
    /// PostgreSQL.
    Postgres(&'a sea_orm::sqlx::PgPool),
}

/// The pool under `db`.
pub fn pool(db: &DatabaseConnection) -> Pool<'_> {
    if is_postgres(db) {
        Pool::Postgres(db.get_postgres_connection_pool())
    } else {
        Pool::Sqlite(db.get_sqlite_connection_pool())
    }
}

fn create_parent_folder(url: &str) {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return;
    }
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        let _ = std::fs::create_dir_all(parent);
    }
}

/// Milliseconds since the Unix epoch: how every time is stored, the same on both databases.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
