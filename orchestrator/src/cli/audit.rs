//! `orchestrator audit [APP] [--sample-percent N]`: checks every copy of one app, or of every app,
//! against one listing per folder (and reads back a share of them with `--sample-percent`), marks
//! what is lost or damaged, tells it once, and prints what was found. Exits 1 when a copy is
//! lost, damaged or could not be read, or an app could not be audited.

use std::io::Write;
use std::process::ExitCode;

use crate::backup::audit::{self, AppAudit, Options};
use crate::startup::Context;

/// Audits `app` (every app when `None`).
pub async fn audit(ctx: &Context, app: Option<&str>, sample_percent: u8, json: bool) -> anyhow::Result<ExitCode> {
    let apps = match app {
        Some(name) => vec![ctx.registry.get(name).await?],
        None => ctx.registry.list().await?,
    };
    let reports = audit::audit(&ctx.runner, &apps, Options { sample_percent, trigger: "cli" }).await;
    // One attempt at each notification queued; what fails is retried by `serve`.
    ctx.notifier.deliver_due().await;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &reports)?;
        writeln!(out)?;
    } else {
        for report in &reports {
            print(&mut out, report)?;
        }
        if reports.len() > 1 {
            let sum = |f: fn(&AppAudit) -> usize| reports.iter().map(f).sum::<usize>();
            writeln!(
                out,
                "{} apps: {} copies, {} good, {} lost, {} damaged, {} read back",
                reports.len(),
                sum(|r| r.copies),
                sum(|r| r.good),
                sum(|r| r.lost.len()),
                sum(|r| r.damaged.len()),
                sum(|r| r.read_back)
            )?;
        }
    }
    Ok(if reports.iter().all(AppAudit::clean) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print(out: &mut impl Write, report: &AppAudit) -> std::io::Result<()> {
    if let Some(error) = &report.error {
        return writeln!(out, "{}: not audited: {error}", report.app);
    }
    writeln!(
        out,
        "{}: {} copies, {} good, {} lost, {} damaged, {} read back",
        report.app,
        report.copies,
        report.good,
        report.lost.len(),
        report.damaged.len(),
        report.read_back
    )?;
    for f in &report.lost {
        writeln!(out, "  lost: {} ({})", f.name, f.detail)?;
    }
    for f in &report.damaged {
        writeln!(out, "  damaged: {} ({})", f.name, f.detail)?;
    }
    for f in &report.unreadable {
        writeln!(out, "  not read: {} ({})", f.name, f.detail)?;
    }
    for name in &report.recovered {
        writeln!(out, "  good again: {name}")?;
    }
    Ok(())
}
