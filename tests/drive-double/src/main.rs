//! `drive-double`: runs a Google Drive v3 double until killed, for manual runs and benchmarks.

use std::path::PathBuf;

use clap::Parser;
use drive_double::{DriveDouble, Options};

/// Starts a Drive double with a shared drive and a My Drive folder shared with the service account.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Keep only sizes and checksums of uploads, not their bytes.
    #[arg(long)]
    hash_only: bool,
    /// Write the service-account key file (token_uri = this double) here.
    #[arg(long, value_name = "PATH")]
    credentials_out: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let drive = DriveDouble::start_with(Options { hash_only: args.hash_only, ..Options::default() }).await;
    let shared_drive = drive.create_shared_drive("Backups");
    let folder = drive.create_folder("Backups");
    drive.share_folder_with(&folder, &drive.service_account_email());
    if let Some(path) = &args.credentials_out {
        std::fs::write(path, drive.service_account_json())?;
    }
    println!("endpoint {}", drive.endpoint());
    println!("token_uri {}", drive.token_uri());
    println!("service_account {}", drive.service_account_email());
    println!("shared_drive_folder {shared_drive}");
    println!("my_drive_folder {folder}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
