//! `orchestrator remote put|ls|rm|get`: use the configured destination by hand, to test a setup.
//! Same settings as the service (`STORAGE`, `GDRIVE_*`, `FS_ROOT`, `S3_*`).

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::config::Env;
use crate::config::storage::StorageSettings;
use crate::storage::destination::{Destination, StoredFile};

/// Remote subcommands.
#[derive(Debug, Subcommand)]
pub enum RemoteCommand {
    /// Stream standard input into a new file NAME in FOLDER; print its id, size and sha256.
    Put {
        /// Drive folder ID (or sub-folder / key prefix for fs and s3).
        folder: String,
        /// Name of the new file; an existing file is never overwritten.
        name: String,
        /// Media type stored with the file.
        #[arg(long, default_value = "application/octet-stream")]
        content_type: String,
    },
    /// List the files in FOLDER: name, id, size, created time, sha256.
    Ls {
        /// Drive folder ID (or sub-folder / key prefix).
        folder: String,
    },
    /// Delete a file (Drive: to the trash, or for good with GDRIVE_DELETE=permanent).
    Rm {
        /// Drive folder ID (or sub-folder / key prefix).
        folder: String,
        /// The file's name, or its Drive file ID.
        file: String,
    },
    /// Check the destination: credentials, each folder (a tiny test file is written and removed),
    /// the account and drive, and whether the copies retention keeps will fit. Without FOLDER,
    /// checks every registered app's folder. Exits non-zero on any problem.
    Check {
        /// Drive folder ID (or sub-folder / key prefix).
        folder: Option<String>,
    },
    /// Stream a file to standard output.
    Get {
        /// Drive folder ID (or sub-folder / key prefix).
        folder: String,
        /// The file's name, or its Drive file ID.
        file: String,
    },
}

impl RemoteCommand {
    /// Runs the subcommand against the destination configured in `env`.
    pub async fn run(self, env: &Env) -> anyhow::Result<ExitCode> {
        match self {
            // The check reads the registry for the apps' folders and sizes.
            RemoteCommand::Check { folder } => check(&super::context(env).await?, folder.as_deref()).await,
            RemoteCommand::Put { folder, name, content_type } => put(&open(env)?, &folder, &name, &content_type).await,
            RemoteCommand::Ls { folder } => ls(&open(env)?, &folder).await,
            RemoteCommand::Rm { folder, file } => rm(&open(env)?, &folder, &file).await,
            RemoteCommand::Get { folder, file } => get(&open(env)?, &folder, &file).await,
        }
    }
}

/// The destination the settings describe, without the database.
fn open(env: &Env) -> anyhow::Result<Destination> {
    let settings = StorageSettings::from_env(env).map_err(|errors| anyhow::anyhow!(errors.join("\n       ")))?;
    Ok(Destination::open(&settings)?)
}

/// `remote check [FOLDER]`: prints each finding; exit code 1 when any is a problem.
pub async fn check(ctx: &crate::startup::Context, folder: Option<&str>) -> anyhow::Result<ExitCode> {
    use crate::storage::check::{Level, check_apps};
    let apps = ctx.registry.list().await?;
    let report = check_apps(&ctx.db, &apps, &ctx.runner.destination, folder).await?;
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    writeln!(out, "destination: {}", report.location)?;
    if let Some(account) = &report.account {
        writeln!(out, "account: {account}")?;
    }
    for finding in &report.findings {
        let level = match finding.level {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Problem => "PROBLEM",
        };
        let folder = if finding.folder.is_empty() { String::new() } else { format!("[{}] ", finding.folder) };
        writeln!(out, "{level:<8} {folder}{}", finding.message)?;
    }
    let problems = report.findings.iter().filter(|f| f.level == Level::Problem).count();
    if problems == 0 {
        writeln!(out, "the destination is ready")?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(out, "{problems} problem(s): backups will fail until they are fixed")?;
        Ok(ExitCode::FAILURE)
    }
}

async fn put(destination: &Destination, folder: &str, name: &str, content_type: &str) -> anyhow::Result<ExitCode> {
    let exists = |e: opendal::Error| -> anyhow::Error {
        if e.kind() == opendal::ErrorKind::ConditionNotMatch {
            anyhow::anyhow!(
                "a file named {name:?} already exists in folder {folder}: files are never overwritten; pick another name"
            )
        } else {
            e.into()
        }
    };
    let mut writer = destination.writer(folder, name, content_type, &BTreeMap::new()).await.map_err(exists)?;
    let mut input = tokio_util::io::ReaderStream::with_capacity(tokio::io::stdin(), 256 * 1024);
    let (mut sha256, mut bytes) = (Sha256::new(), 0u64);
    let copied: anyhow::Result<()> = async {
        while let Some(chunk) = input.next().await {
            let chunk = chunk.context("reading standard input")?;
            sha256.update(&chunk);
            bytes += chunk.len() as u64;
            writer.write(chunk).await.map_err(exists)?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = copied {
        let _ = writer.abort().await;
        return Err(e);
    }
    let meta = writer.close().await.map_err(exists)?;
    let file = destination.stored(name, &meta);
    let sha256 = hex::encode(sha256.finalize());
    if let Err(mismatch) = destination.verify_stored(folder, &file, bytes, &sha256).await {
        let _ = destination.remove(folder, &file).await;
        bail!("the destination stored something else: {mismatch}; the file was removed");
    }
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    writeln!(out, "id: {}", file.id)?;
    writeln!(out, "name: {}", file.name)?;
    writeln!(out, "size: {bytes}")?;
    writeln!(out, "sha256: {sha256}")?;
    if let Some(reported) = &file.sha256 {
        writeln!(out, "verified: the destination reports the same sha256 ({reported})")?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn ls(destination: &Destination, folder: &str) -> anyhow::Result<ExitCode> {
    let files = destination.list(folder).await?;
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    writeln!(out, "NAME\tID\tSIZE\tCREATED\tSHA256")?;
    for f in &files {
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            f.name,
            f.id,
            f.size,
            f.created.as_deref().unwrap_or("-"),
            f.sha256.as_deref().or(f.properties.get("sha256").map(String::as_str)).unwrap_or("-")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn find(destination: &Destination, folder: &str, file: &str) -> anyhow::Result<StoredFile> {
    destination
        .find(folder, file)
        .await?
        .with_context(|| format!("no file named {file:?} (nor with that id) in folder {folder}"))
}

async fn rm(destination: &Destination, folder: &str, file: &str) -> anyhow::Result<ExitCode> {
    let found = find(destination, folder, file).await?;
    destination.remove(folder, &found).await?;
    println!("removed {} ({})", found.name, found.id);
    Ok(ExitCode::SUCCESS)
}

async fn get(destination: &Destination, folder: &str, file: &str) -> anyhow::Result<ExitCode> {
    let found = find(destination, folder, file).await?;
    let mut stream = destination.reader(folder, &found).await?;
    let mut out = tokio::io::stdout();
    while let Some(chunk) = stream.next().await {
        out.write_all(&chunk.context("reading the file")?).await?;
    }
    out.flush().await?;
    Ok(ExitCode::SUCCESS)
}
