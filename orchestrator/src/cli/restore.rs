//! `orchestrator restore <APP> <COPY> [--into TARGET]`: a stored copy streamed back into its app
//! (or into another app: production into staging) in the foreground, after a safety backup of
//! the app restored into unless `--no-safety-backup`, with a progress line, then the result.
//! Exits non-zero when the restore was refused, failed or was cancelled (`orchestrator runs cancel
//! --restore ID`, from another shell, the page or the API).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use crate::backup::restore::{self, RestoreProgress, RestoreRequest};
use crate::backup::upload::{self, Incoming};
use crate::cli::run::human;
use crate::codec::keys::Identities;
use crate::startup::Context;

/// How a restore was asked for on the command line.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// Restore into this app instead of the copy's own.
    pub into: Option<&'a str>,
    /// Back up the app restored into first.
    pub safety_backup: bool,
    /// An identity file that opens an encrypted copy, for this restore only.
    pub identity: Option<&'a std::path::Path>,
}

/// The identity given with `--identity`; `Err` = the exit code, the error already printed.
pub(crate) fn identity_of(options: &Options<'_>) -> Result<Option<Arc<Identities>>, ExitCode> {
    match options.identity {
        Some(path) => match Identities::read(path) {
            Ok(ids) => Ok(Some(Arc::new(ids))),
            Err(e) => {
                eprintln!("error: --identity {e}; nothing was changed");
                Err(ExitCode::from(2))
            }
        },
        None => Ok(None),
    }
}

/// `restore APP --from-file PATH`: the file is streamed into the app's folder as a copy (see
/// [`crate::backup::upload`]), then restored into the app (or `options.into`) like any copy.
pub async fn from_file(
    ctx: &Context,
    app: &str,
    path: &std::path::Path,
    backup_type: Option<&str>,
    options: Options<'_>,
) -> anyhow::Result<ExitCode> {
    let source = ctx.registry.get(app).await?;
    let identity = match identity_of(&options) {
        Ok(identity) => identity,
        Err(code) => return Ok(code),
    };
    let file = match tokio::fs::File::open(path).await {
        Ok(file) if file.metadata().await.is_ok_and(|m| m.is_file()) => file,
        Ok(_) => {
            eprintln!("error: --from-file {}: not a file; nothing was changed", path.display());
            return Ok(ExitCode::from(2));
        }
        Err(e) => {
            eprintln!("error: --from-file {}: cannot read the file: {e}; nothing was changed", path.display());
            return Ok(ExitCode::from(2));
        }
    };
    let incoming = Incoming {
        name: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        backup_type: backup_type.map(str::to_owned),
        actor: "cli".to_owned(),
    };
    let body = tokio_util::io::ReaderStream::with_capacity(file, 256 << 10);
    eprintln!("uploading {} into the folder of {} ({})", path.display(), source.name, source.folder);
    let stored = match upload::upload(&ctx.runner, &source, &incoming, identity, body).await {
        Ok(stored) => stored,
        Err(e) => {
            eprintln!("error: {} could not be brought in as a copy of {}: {e}", path.display(), source.name);
            return Ok(ExitCode::from(1));
        }
    };
    println!(
        "uploaded as {} (file id {}), kept in the folder of {} outside retention",
        stored.name, stored.id, source.name
    );
    restore(ctx, &source.name, &stored.id, options).await
}

/// Restores `copy` (a file name or id in the folder of `source`) into `options.into`, or into
/// `source` itself.
pub async fn restore(ctx: &Context, source: &str, copy: &str, options: Options<'_>) -> anyhow::Result<ExitCode> {
    let source = ctx.registry.get(source).await?;
    let app = match options.into {
        Some(target) => ctx.registry.get(target).await?,
        None => source.clone(),
    };
    let identity = match identity_of(&options) {
        Ok(identity) => identity,
        Err(code) => return Ok(code),
    };
    let req = RestoreRequest {
        copy: copy.to_owned(),
        safety_backup: options.safety_backup,
        actor: "cli".to_owned(),
        kind: restore::KIND_RESTORE,
    };
    let accepted = match restore::prepare(&ctx.runner, &source, &app, &req.copy, identity.as_ref()).await {
        Ok(file) => restore::begin(&ctx.db, &ctx.deployment_id, &source, &app, &file, &req).await,
        Err(refusal) => Err(refusal),
    };
    let row = match accepted {
        Ok(row) => row,
        Err(refusal) => {
            eprintln!("error: restore of {} refused: {refusal}", app.name);
            return Ok(ExitCode::from(1));
        }
    };
    let live = std::io::stderr().is_terminal();
    let show = move |p: RestoreProgress| {
        let secs = p.elapsed.as_secs_f64().max(0.001);
        let of = p.total.map(|t| format!(" of {}", human(t))).unwrap_or_default();
        let phase = match p.backup {
            Some(step) => format!("{}: {}", p.phase.as_str(), step.as_str()),
            None => p.phase.as_str().to_owned(),
        };
        let line = format!("[{phase}] {}{of} {}/s {:.0}s", human(p.bytes), human((p.bytes as f64 / secs) as u64), secs);
        let mut err = std::io::stderr().lock();
        let _ = if live { write!(err, "\r\x1b[2K{line}") } else { writeln!(err, "{line}") };
    };
    let outcome = restore::execute(&ctx.runner, &source, &app, row.id, identity, &show).await;
    if live {
        eprintln!();
    }
    let mut out = std::io::stdout().lock();
    match outcome {
        Ok(restored) => {
            match &row.source_app {
                Some(from) => {
                    writeln!(out, "restored {} from {} of {from} (restore {})", app.name, row.copy_name, row.id)?
                }
                None => writeln!(out, "restored {} from {} (restore {})", app.name, row.copy_name, row.id)?,
            }
            match &restored.safety {
                Some(s) => writeln!(out, "safety backup: {} (run {}, file id {})", s.file_name, s.run_id, s.file_id)?,
                None => writeln!(out, "safety backup: none")?,
            }
            writeln!(out, "size: {} bytes", restored.bytes)?;
            writeln!(out, "sha256: {}", restored.sha256)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            if let Some(s) = &failure.safety {
                writeln!(out, "safety backup: {} (run {}, file id {})", s.file_name, s.run_id, s.file_id)?;
            }
            if failure.cancelled {
                eprintln!("error: restore {} of {} was {}", row.id, app.name, failure.message);
            } else {
                eprintln!(
                    "error: restore {} of {} failed during {}: {}",
                    row.id,
                    app.name,
                    failure.phase.as_str(),
                    failure.message
                );
            }
            Ok(ExitCode::from(1))
        }
    }
}
