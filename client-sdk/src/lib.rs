//! Make an axum app backup-able: serve backup contract v1 in a few lines.
//!
//! Implement [`BackupSource`] (what you offer and how to produce it as a stream) and merge
//! [`router`] into your app. The SDK does the rest of the contract: bearer-token check in
//! constant time, one export at a time (a second gets `409 export_in_progress`), trailers with
//! the body's sha256 and size when asked, cutting the connection when your stream fails so a
//! partial export never looks complete, and hashing an import against its `Backup-Sha256`.
//! Memory stays bounded whatever the size: bytes pass through one piece at a time.
//!
//! ```no_run
//! use client_sdk::{BackupSource, BackupType, Capabilities, ExportStream, SourceError};
//!
//! struct Notes;
//!
//! impl BackupSource for Notes {
//!     fn capabilities(&self) -> Capabilities {
//!         Capabilities::new("notes", [BackupType::new("full", "application/gzip", "tar.gz")])
//!     }
//!     async fn export(&self, _: &BackupType) -> Result<ExportStream, SourceError> {
//!         let mut tar = tokio::process::Command::new("tar");
//!         tar.args(["-czf", "-", "-C", "/var/lib/notes", "."]);
//!         client_sdk::process::export_command(tar)
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let token = std::env::var("BACKUP_TOKEN").expect("set BACKUP_TOKEN").into();
//! let app = axum::Router::new() /* your routes */ .merge(client_sdk::router(Notes, token));
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! Ready-made sources (the recipes of the `backup-agent` binary, which serves them from a TOML
//! file with no code): [`Directory`] (a folder as a tar.gz), [`Postgres`] (`pg_dump` /
//! `pg_restore`), [`Sqlite`] (an online snapshot), [`Odoo`] (database and filestore in Odoo's
//! backup zip) and [`Commands`] (any command's output). `examples/` holds runnable apps built on
//! them.
#![warn(missing_docs)]

mod auth;
mod body;
mod command;
mod directory;
mod odoo;
mod postgres;
pub mod process;
mod service;
mod source;
mod sqlite;
mod staging;

pub use command::Commands;
pub use contract_spec::{BackupType, Capabilities, Health, VerifyCheck, VerifyReport};
pub use directory::Directory;
pub use odoo::Odoo;
pub use postgres::{PgConnection, Postgres};
pub use secrecy::SecretString;
pub use service::BackupService;
pub use source::{BackupSource, ExportStream, ImportStream, SourceError};
pub use sqlite::Sqlite;

/// Serves `app` on `listener` until Ctrl-C or SIGTERM, letting requests in flight finish.
pub async fn serve_until_stopped(listener: tokio::net::TcpListener, app: axum::Router) -> std::io::Result<()> {
    let stopped = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    axum::serve(listener, app).with_graceful_shutdown(stopped).await
}

/// The contract's routes for `source`, guarded by `token`, with one export at a time.
/// Merge it into your app's router. See [`BackupService`] for options.
pub fn router<S: BackupSource>(source: S, token: SecretString) -> axum::Router {
    BackupService::new(source, token).into_router()
}
