//! `orchestrator drill APP [--copy COPY] [--drill-target SCRATCH_APP] [--identity FILE]`: a restore
//! drill in the foreground. The copy (the newest good verified one by default) is streamed into
//! the app's `POST /backup/verify`, which checks it would restore without applying it; or, with
//! `--drill-target`, restored into that scratch app without a safety backup. Prints the app's checks
//! and exits 1 when the drill failed or could not be made.

use std::io::Write;
use std::process::ExitCode;

use crate::backup::drill::{self, DrillRequest, Prepared};
use crate::backup::restore;
use crate::startup::Context;

/// Drills `app`.
pub async fn drill(
    ctx: &Context,
    app: &str,
    copy: Option<&str>,
    target: Option<&str>,
    identity: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let source = ctx.registry.get(app).await?;
    let target = match target {
        Some(name) => Some(ctx.registry.get(name).await?),
        None => None,
    };
    let options = crate::cli::restore::Options { into: None, safety_backup: false, identity };
    let identity = match crate::cli::restore::identity_of(&options) {
        Ok(identity) => identity,
        Err(code) => return Ok(code),
    };
    let req = DrillRequest { copy: copy.map(str::to_owned), target, actor: "cli".to_owned() };
    let prepared = drill::prepare(&ctx.runner, &source, &req, identity.as_ref()).await;
    ctx.notifier.deliver_due().await;
    let (row, app) = match prepared {
        Ok(Prepared::Ready { row, target }) => (row, *target),
        Ok(Prepared::NotDrilled(row)) => {
            eprintln!("error: drill {} of {}: {}", row.id, source.name, row.error.unwrap_or_default());
            return Ok(ExitCode::from(1));
        }
        Err(refusal) => {
            eprintln!("error: drill of {} refused: {refusal}", source.name);
            return Ok(ExitCode::from(1));
        }
    };
    eprintln!("drilling {} with {} ({})", source.name, row.copy_name, drill::how(&row));
    let outcome = restore::execute(&ctx.runner, &source, &app, row.id, identity, &|_| {}).await;
    ctx.notifier.deliver_due().await;
    let report = restore::record::get(&ctx.db, row.id).await?.and_then(|r| r.report);
    let mut out = std::io::stdout().lock();
    if let Some(report) = report.and_then(|r| serde_json::from_str::<contract_spec::VerifyReport>(&r).ok()) {
        for check in &report.checks {
            let mark = if check.ok { "ok" } else { "FAILED" };
            writeln!(
                out,
                "  {mark}: {}{}",
                check.name,
                check.detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default()
            )?;
        }
    }
    match outcome {
        Ok(done) => {
            writeln!(
                out,
                "drill {} of {}: passed: {} would restore ({}, {} bytes)",
                row.id,
                source.name,
                row.copy_name,
                drill::how(&row),
                done.bytes
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) if failure.cancelled => {
            eprintln!("error: drill {} of {} was {}", row.id, source.name, failure.message);
            Ok(ExitCode::from(1))
        }
        Err(failure) => {
            eprintln!(
                "error: drill {} of {} failed during {}: {}",
                row.id,
                source.name,
                failure.phase.as_str(),
                failure.message
            );
            Ok(ExitCode::from(1))
        }
    }
}
