//! Backs up a PostgreSQL database with `pg_dump`; an import restores it in one transaction.
//!
//! ```sh
//! PGHOST=127.0.0.1 PGUSER=postgres BACKUP_TOKEN=s3cret \
//!   cargo run -p client-sdk --example postgres -- --listen 127.0.0.1:9002 --database billing
//! ```
//! The connection comes from the standard libpq variables (`PGHOST`, `PGPORT`, `PGUSER`,
//! `PGPASSWORD`, or `~/.pgpass`), so no password appears in a process list. The work is done by
//! [`client_sdk::Postgres`]; the `backup-agent` binary serves the same without code.

mod common;

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use client_sdk::Postgres;
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
    let mut source = Postgres::new(args.app, &args.database);
    if let Some(restore_database) = args.restore_database {
        source = source.restore_into(restore_database);
    }
    common::serve(args.listen, client_sdk::router(source, token)).await
}
