//! `orchestrator run <APP>`: one backup in the foreground, with a progress line, then the result.
//! Exits non-zero when the backup failed or was refused.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use crate::backup::lifecycle::{self, Trigger};
use crate::backup::lifecycle::{Outcome, RetryPolicy};
use crate::backup::run::{Ended, Progress};
use crate::startup::Context;

/// Runs one backup of `app` now.
pub async fn run(ctx: &Context, app: &str, note: Option<&str>) -> anyhow::Result<ExitCode> {
    let note = note.map(crate::backup::copies::check_note).transpose().map_err(anyhow::Error::msg)?;
    let app = ctx.registry.get(app).await?;
    let run = lifecycle::create_noted(&ctx.db, app.id, Trigger::Cli, note).await?;
    let live = std::io::stderr().is_terminal();
    let show = move |p: Progress| {
        let secs = p.elapsed.as_secs_f64().max(0.001);
        let line = format!(
            "[{}] {} {}/s {:.0}s",
            p.phase.as_str(),
            human(p.bytes),
            human((p.bytes as f64 / secs) as u64),
            secs
        );
        let mut err = std::io::stderr().lock();
        let _ = if live { write!(err, "\r\x1b[2K{line}") } else { writeln!(err, "{line}") };
    };
    let ended = ctx.runner.run(&app, run.id, RetryPolicy::ONCE, &show).await;
    if live {
        eprintln!();
    }
    // One attempt at each notification the run's settling queued; what fails is retried by `serve`.
    ctx.notifier.deliver_due().await;
    crate::runlog::flush().await;
    let mut out = std::io::stdout().lock();
    match ended {
        Ended::Settled(Outcome::Succeeded(success)) => {
            writeln!(out, "backed up {} (run {})", app.name, run.id)?;
            writeln!(out, "file: {}", success.file.name)?;
            writeln!(out, "file id: {}", success.file.id)?;
            writeln!(out, "size: {} bytes", success.bytes)?;
            writeln!(out, "sha256: {}", success.sha256)?;
            let pruned = if success.pruned.is_empty() { "nothing".to_owned() } else { success.pruned.join(", ") };
            writeln!(out, "retention deleted: {pruned}")?;
            if let Some(warning) = success.retention_error {
                writeln!(out, "warning: {warning}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Ended::Settled(Outcome::Skipped { reason })
        | Ended::Deferred { reason, .. }
        | Ended::Waiting { reason, .. } => {
            eprintln!("error: backup of {} refused: {reason}", app.name);
            Ok(ExitCode::from(1))
        }
        Ended::Settled(other) => {
            let phase = other.phase().map_or("start", |p| p.as_str());
            let reason = other.reason().map(ToString::to_string).unwrap_or_default();
            eprintln!("error: backup of {} failed during {phase}: {reason}", app.name);
            Ok(ExitCode::from(1))
        }
        Ended::Retry { reason, .. } => {
            // One attempt only: never reached, but a retry would be a failure here.
            eprintln!("error: backup of {} failed: {reason}", app.name);
            Ok(ExitCode::from(1))
        }
    }
}

/// Queues a manual backup of `app` for the service (`orchestrator serve`) and prints its run id.
pub async fn queue(ctx: &Context, app: &str, note: Option<&str>) -> anyhow::Result<ExitCode> {
    let app = ctx.registry.get(app).await?;
    let run = crate::jobs::queue::run_now(&ctx.db, &app, note).await?;
    println!("queued run {} of {}", run.id, app.name);
    Ok(ExitCode::SUCCESS)
}

/// Prints what retention would keep and delete in the app's folder, by name.
pub async fn retention(ctx: &Context, app: &str) -> anyhow::Result<ExitCode> {
    let app = ctx.registry.get(app).await?;
    let (listed, plan) = ctx.runner.retention_plan(&app).await.map_err(anyhow::Error::msg)?;
    let name = |id: &str| listed.iter().find(|f| f.id == id).map_or(id.to_owned(), |f| f.name.clone());
    let mut out = std::io::stdout().lock();
    writeln!(out, "retention of {} (dry run, nothing is deleted):", app.name)?;
    for (id, reasons) in &plan.keep {
        let reasons: Vec<String> = reasons.iter().map(|r| r.to_string()).collect();
        writeln!(out, "keep   {} ({})", name(id), reasons.join(", "))?;
    }
    for id in &plan.delete {
        writeln!(out, "delete {}", name(id))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
