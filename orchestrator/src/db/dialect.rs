//! Where SQLite and PostgreSQL differ, in one place: which one a URL names, the file behind a
//! SQLite URL, pool size and connection pragmas, the queue's own tables, and the raw SQL that
//! reads them. Everything else goes through sea-orm and is the same on both. This module holds
//! no business rules; code outside `db/` asks it instead of matching on URLs or backends.

use std::path::PathBuf;
use std::time::Duration;

use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    IsolationLevel, TransactionTrait,
};

/// The database engines we run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite, the default: one file, one process.
    Sqlite,
    /// PostgreSQL, for several replicas.
    Postgres,
}

impl Dialect {
    /// The engine a database URL names (`sqlite:` or anything else, which sea-orm reads as
    /// PostgreSQL).
    pub fn of_url(url: &str) -> Dialect {
        if url.starts_with("sqlite:") { Dialect::Sqlite } else { Dialect::Postgres }
    }

    /// The engine of an open connection.
    pub fn of(db: &DatabaseConnection) -> Dialect {
        match db.get_database_backend() {
            DbBackend::Postgres => Dialect::Postgres,
            _ => Dialect::Sqlite,
        }
    }

    /// Connection settings that differ: SQLite serializes writers, so a small pool; its pragmas
    /// are ours (apalis's own setup would set `synchronous=OFF`) and durable enough.
    pub(super) fn configure(self, options: &mut ConnectOptions) {
        options.max_connections(match self {
            Dialect::Sqlite => 8,
            Dialect::Postgres => 16,
        });
        options.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    }

    /// Creates or updates the queue's tables (apalis ships one set per engine).
    pub(super) async fn migrate_queue(self, db: &DatabaseConnection) -> Result<(), DbErr> {
        let result = match self {
            Dialect::Postgres => {
                apalis_postgres::PostgresStorage::migrations().run(db.get_postgres_connection_pool()).await
            }
            Dialect::Sqlite => apalis_sqlite::SqliteStorage::migrations().run(db.get_sqlite_connection_pool()).await,
        };
        result.map_err(|e| DbErr::Migration(format!("queue tables: {e}")))
    }

    /// A read-only transaction that sees one snapshot of the whole database from its first read
    /// to its end. PostgreSQL needs `REPEATABLE READ` for that (its default gives each statement
    /// its own snapshot); a SQLite transaction reads one snapshot already (WAL), and takes no
    /// isolation settings.
    pub async fn begin_snapshot(self, db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
        match self {
            Dialect::Postgres => {
                db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await
            }
            Dialect::Sqlite => db.begin().await,
        }
    }

    /// After rows were inserted with their own ids (a recovery), moves PostgreSQL's id sequences
    /// of `tables` past the highest id, so the next insert does not collide. SQLite's
    /// auto-increment follows the table by itself.
    pub async fn reset_id_sequences(self, txn: &DatabaseTransaction, tables: &[&str]) -> Result<(), DbErr> {
        if self == Dialect::Sqlite {
            return Ok(());
        }
        for table in tables {
            txn.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            ))
            .await?;
        }
        Ok(())
    }

    /// The processes known to the queue, most recently seen first, as `id`, `last_seen` and
    /// `started_at` (seconds since the epoch). apalis keeps them in `apalis.workers` with
    /// timestamps on PostgreSQL, and in `Workers` with epoch seconds on SQLite.
    pub fn queue_workers_sql(self) -> &'static str {
        match self {
            Dialect::Postgres => {
                "SELECT id, CAST(EXTRACT(EPOCH FROM last_seen) AS BIGINT) AS last_seen, \
                 CAST(EXTRACT(EPOCH FROM started_at) AS BIGINT) AS started_at FROM apalis.workers \
                 ORDER BY last_seen DESC LIMIT 100"
            }
            Dialect::Sqlite => "SELECT id, last_seen, started_at FROM Workers ORDER BY last_seen DESC LIMIT 100",
        }
    }
}

/// The file a SQLite URL names (`sqlite://data/x.db?mode=rwc` -> `data/x.db`), or `None` for
/// another engine. `:memory:` and an empty path come back as they are.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let path = rest.trim_start_matches("//");
    Some(PathBuf::from(path.split('?').next().unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_its_engine_and_a_sqlite_url_its_file() {
        assert_eq!(Dialect::of_url("sqlite://data/orchestrator.db?mode=rwc"), Dialect::Sqlite);
        assert_eq!(Dialect::of_url("sqlite::memory:"), Dialect::Sqlite);
        assert_eq!(Dialect::of_url("postgres://u@h/db"), Dialect::Postgres);
        assert_eq!(sqlite_file("sqlite://data/orchestrator.db?mode=rwc"), Some("data/orchestrator.db".into()));
        assert_eq!(sqlite_file("sqlite:///srv/o.db"), Some("/srv/o.db".into()));
        assert_eq!(sqlite_file("sqlite:o.db"), Some("o.db".into()));
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
    }
}
