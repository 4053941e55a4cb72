//! Backs up a folder as a streamed tar.gz; an import restores it into a target folder.
//!
//! ```sh
//! BACKUP_TOKEN=s3cret cargo run -p client-sdk --example directory -- --listen 127.0.0.1:9001 --dir ./some/folder
//! ```
//! The import extracts into a staging folder beside the target and swaps it in only when `tar`
//! succeeded on a body whose sha256 matched: a bad import leaves the folder as it was.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use client_sdk::process::{export_command, import_command};
use client_sdk::{BackupSource, BackupType, Capabilities, ExportStream, ImportStream, SourceError};
use tokio::process::Command;

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

struct Directory {
    app: String,
    dir: PathBuf,
    restore_into: PathBuf,
}

impl BackupSource for Directory {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new(&self.app, [BackupType::new("full", "application/gzip", "tar.gz")]).with_restore()
    }

    async fn export(&self, _: &BackupType) -> Result<ExportStream, SourceError> {
        let mut tar = Command::new("tar");
        tar.arg("-czf").arg("-").arg("-C").arg(&self.dir).arg(".");
        export_command(tar)
    }

    async fn import(&self, _: &BackupType, body: ImportStream) -> Result<(), SourceError> {
        let target = &self.restore_into;
        let staging = sibling(target, "incoming");
        tokio::fs::create_dir_all(&staging).await?;
        let mut tar = Command::new("tar");
        tar.arg("-xzf").arg("-").arg("-C").arg(&staging);
        if let Err(e) = import_command(tar, body).await {
            let _ = tokio::fs::remove_dir_all(&staging).await;
            return Err(e);
        }
        // Swap: the old folder moves aside, the restored one takes its place.
        let previous = sibling(target, "previous");
        let had_target = tokio::fs::try_exists(target).await.unwrap_or(false);
        if had_target {
            tokio::fs::rename(target, &previous).await?;
        }
        if let Err(e) = tokio::fs::rename(&staging, target).await {
            if had_target {
                let _ = tokio::fs::rename(&previous, target).await;
            }
            let _ = tokio::fs::remove_dir_all(&staging).await;
            return Err(e.into());
        }
        if had_target {
            tokio::fs::remove_dir_all(&previous).await?;
        }
        Ok(())
    }
}

/// A hidden folder next to `target`, unique to this process and moment.
fn sibling(target: &Path, what: &str) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "restore".into());
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    target.with_file_name(format!(".{name}.{what}-{}-{nanos}", std::process::id()))
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
    let source = Directory { app: args.app, dir: args.dir, restore_into };
    common::serve(args.listen, client_sdk::router(source, token)).await
}
