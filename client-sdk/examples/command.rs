//! A sidecar for apps not written in Rust: streams a command's standard output as the export,
//! and pipes an import into another command.
//!
//! ```sh
//! BACKUP_TOKEN=s3cret cargo run -p client-sdk --example command -- --listen 127.0.0.1:9003 \
//!   --export 'python3 dump.py' --import 'python3 restore.py' \
//!   --type full --media-type application/x-tar --extension tar
//! ```
//! Commands run through `sh -c`. A command that exits non-zero fails the export (the connection
//! is cut, so a half-written dump never looks complete) or the import. The work is done by
//! [`client_sdk::Commands`]; the `backup-agent` binary serves the same from a TOML file.

mod common;

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use client_sdk::{BackupSource, BackupType, Commands};

/// Serve a command's output as backups over contract v1 (token from BACKUP_TOKEN).
#[derive(Parser)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9003")]
    listen: SocketAddr,
    /// Shell command whose standard output is the backup.
    #[arg(long = "export")]
    export_command: String,
    /// Shell command that reads a backup on its standard input and restores it (enables import).
    #[arg(long = "import")]
    import_command: Option<String>,
    /// Name of the backup type.
    #[arg(long = "type", default_value = "full")]
    backup_type: String,
    /// Media type of the backup.
    #[arg(long, default_value = "application/octet-stream")]
    media_type: String,
    /// File name extension for stored copies, without the dot.
    #[arg(long, default_value = "bin")]
    extension: String,
    /// The app name shown in capabilities.
    #[arg(long, default_value = "command")]
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
    if args.export_command.trim().is_empty() {
        return common::usage_error("--export is empty: give the command that writes the backup to standard output");
    }
    let backup_type = BackupType::new(args.backup_type, args.media_type, args.extension);
    let mut source = Commands::new(args.app, backup_type, args.export_command);
    if let Some(import) = args.import_command {
        source = source.import(import);
    }
    let problems = source.capabilities().problems();
    if !problems.is_empty() {
        return common::usage_error(problems.join("\n       "));
    }
    common::serve(args.listen, client_sdk::router(source, token)).await
}
