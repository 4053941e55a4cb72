//! Backs up a PostgreSQL database with `pg_dump`; an import restores it in one transaction.
//!
//! ```sh
//! PGHOST=127.0.0.1 PGUSER=postgres BACKUP_TOKEN=s3cret \
//!   cargo run -p client-sdk --example postgres -- --listen 127.0.0.1:9002 --database billing
//! ```
//! The connection comes from the standard libpq variables (`PGHOST`, `PGPORT`, `PGUSER`,
//! `PGPASSWORD`, or `~/.pgpass`), so no password appears in a process list.
//!
//! Types: `full` (`pg_dump --format=custom`, restored with `pg_restore`) and `schema` (plain SQL,
//! restored with `psql`). Both restores run in a single transaction that is rolled back when the
//! body is bad, so a failed import leaves the database as it was.

mod common;

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use client_sdk::process::{export_command, import_command, verify_command};
use client_sdk::{BackupSource, BackupType, Capabilities, ExportStream, ImportStream, SourceError, VerifyReport};
use tokio::process::Command;

/// Serve a PostgreSQL database's backups over contract v1 (token from BACKUP_TOKEN).
#[derive(Parser)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9002")]
    listen: SocketAddr,
    /// The database to back up.
    #[arg(long)]
    database: String,
    /// The database an import restores into (default: --database).
    #[arg(long)]
    restore_database: Option<String>,
    /// The app name shown in capabilities.
    #[arg(long, default_value = "postgres")]
    app: String,
}

struct Postgres {
    app: String,
    database: String,
    restore_database: String,
}

impl BackupSource for Postgres {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new(
            &self.app,
            [
                BackupType::new("full", "application/octet-stream", "dump").with_verify(),
                BackupType::new("schema", "application/sql", "sql"),
            ],
        )
        .with_restore()
    }

    async fn export(&self, backup_type: &BackupType) -> Result<ExportStream, SourceError> {
        let mut dump = Command::new("pg_dump");
        dump.arg("--no-password").arg("--dbname").arg(&self.database);
        match backup_type.name.as_str() {
            "full" => dump.arg("--format=custom"),
            _ => dump.args(["--format=plain", "--schema-only", "--clean", "--if-exists"]),
        };
        export_command(dump)
    }

    /// A drill of a custom-format dump: `pg_restore --file=/dev/null` reads every object and the
    /// data of every table to the end, so a truncated or corrupted dump fails (`--list` would
    /// read only the table of contents and pass it).
    async fn verify(&self, _: &BackupType, body: ImportStream) -> Result<VerifyReport, SourceError> {
        let mut check = Command::new("pg_restore");
        check.args(["--no-password", "--file=/dev/null"]);
        verify_command(check, body, "pg_restore reads the whole dump").await
    }

    async fn import(&self, backup_type: &BackupType, body: ImportStream) -> Result<(), SourceError> {
        let mut restore = match backup_type.name.as_str() {
            "full" => {
                let mut c = Command::new("pg_restore");
                c.args([
                    "--no-password",
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--single-transaction",
                    "--exit-on-error",
                ]);
                c
            }
            _ => {
                let mut c = Command::new("psql");
                c.args(["--no-password", "--no-psqlrc", "--quiet", "--single-transaction", "-v", "ON_ERROR_STOP=1"]);
                c
            }
        };
        restore.arg("--dbname").arg(&self.restore_database);
        import_command(restore, body).await
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logs();
    let args = Args::parse();
    let token = match common::token() {
        Ok(t) => t,
        Err(code) => return code,
    };
    if args.database.trim().is_empty() {
        return common::usage_error("--database is empty: name the database to back up");
    }
    for tool in ["pg_dump", "pg_restore", "psql"] {
        if Command::new(tool).arg("--version").output().await.is_err() {
            return common::usage_error(format!("{tool} was not found: install the PostgreSQL client tools"));
        }
    }
    let restore_database = args.restore_database.unwrap_or_else(|| args.database.clone());
    let source = Postgres { app: args.app, database: args.database, restore_database };
    common::serve(args.listen, client_sdk::router(source, token)).await
}
