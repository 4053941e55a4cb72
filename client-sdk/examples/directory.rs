//! Backs up a folder as a streamed tar.gz; an import restores it into a target folder.
//!
//! ```sh
//! BACKUP_TOKEN=s3cret cargo run -p client-sdk --example directory -- --listen 127.0.0.1:9001 --dir ./some/folder
//! ```
//! The work is done by the SDK's [`client_sdk::Directory`]: an import extracts into a staging
//! folder beside the target and swaps it in only when `tar` succeeded on a body whose sha256
//! matched, so a bad import leaves the folder as it was.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use client_sdk::Directory;

/// Serve a folder's backups over contract v1 (token from BACKUP_TOKEN).
#[derive(Parser)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9001")]
    listen: SocketAddr,
    /// The folder to back up.
    #[arg(long)]
    dir: PathBuf,
    /// Where an import restores to (default: the folder given by --dir).
    #[arg(long)]
    restore_into: Option<PathBuf>,
    /// The app name shown in capabilities.
    #[arg(long, default_value = "directory")]
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
    if !args.dir.is_dir() {
        return common::usage_error(format!("--dir {} is not a folder", args.dir.display()));
    }
    let restore_into = args.restore_into.unwrap_or_else(|| args.dir.clone());
    match restore_into.parent() {
        Some(parent) if parent.as_os_str().is_empty() || parent.is_dir() => {}
        _ => {
            return common::usage_error(format!(
                "--restore-into {}: its parent folder does not exist",
                restore_into.display()
            ));
        }
    }
    let source = Directory::new(args.app, args.dir).restore_into(restore_into);
    common::serve(args.listen, client_sdk::router(source, token)).await
}
