//! The database: SQLite by default, PostgreSQL for several replicas. Owns the connection, its
//! settings, and the schema (migrations). Table names never collide with apalis's `Jobs` and
//! `Workers` (SQLite compares names case-insensitively).

pub mod dialect;
pub mod entities;
mod migrations;

use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;

use self::dialect::Dialect;

/// The default database: a file under `data/`.
pub const DEFAULT_URL: &str = "sqlite://data/orchestrator.db?mode=rwc";

/// Opens the database at `url`, creating it (and `data/`) if needed, and brings the schema up to
/// date.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let dialect = Dialect::of_url(url);
    if let Some(file) = dialect::sqlite_file(url) {
        create_parent_folder(&file);
        create_private(&file);
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options.connect_timeout(Duration::from_secs(10)).acquire_timeout(Duration::from_secs(30)).sqlx_logging(false);
    dialect.configure(&mut options);
    let db = Database::connect(options).await?;
    migrations::Migrator::up(&db, None).await?;
    // The queue's tables live in the same database; they exist before anything can push a job.
    dialect.migrate_queue(&db).await?;
    Ok(db)
}

/// The name of the newest migration: the schema a self-backup was read from.
pub fn schema_version() -> String {
    migrations::Migrator::migrations().last().map(|m| m.name().to_owned()).unwrap_or_default()
}

/// True on PostgreSQL.
pub fn is_postgres(db: &DatabaseConnection) -> bool {
    Dialect::of(db) == Dialect::Postgres
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

fn create_parent_folder(file: &std::path::Path) {
    if file.as_os_str().is_empty() || file.as_os_str() == ":memory:" {
        return;
    }
    if let Some(parent) = file.parent()
        && !parent.as_os_str().is_empty()
    {
        let _ = std::fs::create_dir_all(parent);
    }
}

/// Creates a SQLite database file that does not exist yet readable by its owner only (0600, as
/// the key file): it holds sealed tokens, password hashes and the whole registry. SQLite gives
/// its journal and WAL files the database file's permissions.
fn create_private(file: &std::path::Path) {
    if file.as_os_str().is_empty() || file.as_os_str() == ":memory:" || file.exists() {
        return;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    if let Err(e) = options.open(file) {
        tracing::warn!(file = %file.display(), error = %e, "could not create the database file beforehand");
    }
}

/// Milliseconds since the Unix epoch: how every time is stored, the same on both databases.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
