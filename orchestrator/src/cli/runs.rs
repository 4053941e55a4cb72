//! `orchestrator runs`: the runs of every app (list, show), a run's log (followed live with
//! `--follow`), and cancelling a run, or a restore or drill (`cancel --restore ID`). Works on the
//! database, so it sees and stops runs and restores of every process sharing it.

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

use crate::backup::lifecycle::{self, Cancel, Status};
use crate::db::entities::backup_run;
use crate::http::format;
use crate::overview::{self, RunFilter};
use crate::startup::Context;

/// How often `--follow` looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(500);

/// `runs list|show|logs|cancel`.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// The newest runs first, with their status, size and duration.
    List {
        /// Only this app's runs.
        #[arg(long)]
        app: Option<String>,
        /// Only runs with this status: queued, running, waiting, succeeded, failed, skipped,
        /// interrupted or cancelled.
        #[arg(long)]
        status: Option<String>,
        /// How many runs at most.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Print JSON (times in UTC, RFC 3339), one run per line.
        #[arg(long)]
        json: bool,
    },
    /// One run: status, phase, attempts, times, file, hashes and error.
    Show {
        /// The run's id.
        id: i64,
        /// Print JSON (times in UTC, RFC 3339).
        #[arg(long)]
        json: bool,
    },
    /// A run's own log; with --follow, new lines as they are written until the run ends (exit
    /// 0 when it succeeded, 1 otherwise).
    Logs {
        /// The run's id.
        id: i64,
        /// Keep printing lines until the run ends.
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Cancel a queued, waiting or running run: one not started yet ends at once; a running
    /// one is stopped by the process running it within seconds, its upload aborted (no file is
    /// left). Recorded as cancelled, not failed; the app is free again at once. With --restore,
    /// a queued or running restore or drill instead (its safety backup too): the upload into the
    /// app is cut off before the end of the copy, so the app keeps its data as it was (once the
    /// whole copy has been sent it is too late: the app's answer decides).
    Cancel {
        /// The run's id.
        #[arg(required_unless_present = "restore", conflicts_with = "restore")]
        id: Option<i64>,
        /// Cancel this restore or drill (its id, as its page and `orchestrator restore` show it)
        /// instead of a run.
        #[arg(long, value_name = "ID")]
        restore: Option<i64>,
    },
}

impl RunsCommand {
    /// Runs it; exits 1 when the run is unknown or the input is wrong.
    pub async fn run(self, ctx: &Context) -> anyhow::Result<ExitCode> {
        match self {
            RunsCommand::List { app, status, limit, json } => {
                list(ctx, app.as_deref(), status.as_deref(), limit, json).await
            }
            RunsCommand::Show { id, json } => show(ctx, id, json).await,
            RunsCommand::Logs { id, follow } => logs(ctx, id, follow).await,
            RunsCommand::Cancel { restore: Some(id), .. } => cancel_restore(ctx, id).await,
            RunsCommand::Cancel { id: Some(id), .. } => cancel(ctx, id).await,
            RunsCommand::Cancel { id: None, restore: None } => {
                eprintln!(
                    "error: name the run to cancel (`runs cancel ID`), or a restore (`runs cancel --restore ID`)"
                );
                Ok(ExitCode::from(2))
            }
        }
    }
}

async fn list(
    ctx: &Context,
    app: Option<&str>,
    status: Option<&str>,
    limit: u64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let status = match status {
        Some(text) => match Status::parse(text) {
            Some(s) => Some(s),
            None => {
                eprintln!(
                    "error: unknown status {text:?}: use queued, running, waiting, succeeded, failed, skipped, interrupted or cancelled"
                );
                return Ok(ExitCode::from(1));
            }
        },
        None => None,
    };
    if limit == 0 || limit > 1000 {
        eprintln!("error: --limit {limit}: use 1 to 1000");
        return Ok(ExitCode::from(1));
    }
    let app_id = match app {
        Some(name) => Some(ctx.registry.get(name).await?.id),
        None => None,
    };
    let runs = overview::runs(&ctx.db, &RunFilter { status, app_id, before: None }, limit).await?;
    if json {
        for (run, app) in &runs {
            println!("{}", serde_json::to_string(&crate::http::api::types::RunView::new(run, app))?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        println!("no runs");
        return Ok(ExitCode::SUCCESS);
    }
    let zones = overview::app_zones(&ctx.db, runs.iter().map(|(r, _)| r.app_id)).await?;
    println!(
        "{:>7}  {:<20} {:<11} {:<9} {:<30} {:>10} {:>9}",
        "RUN", "APP", "STATUS", "TRIGGER", "TIME", "SIZE", "DURATION"
    );
    for (run, app) in &runs {
        let zone = zones.get(&run.app_id).map_or("UTC", String::as_str);
        println!(
            "{:>7}  {:<20} {:<11} {:<9} {:<30} {:>10} {:>9}",
            run.id,
            app,
            status_word(run),
            run.trigger.as_str(),
            format::in_zone(run.first_started_at.or(run.started_at).unwrap_or(run.queued_at), zone),
            format::bytes(run.bytes),
            run.duration_ms.map(format::duration).unwrap_or_else(|| "-".into()),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The status, with "cancelling" for a running run an operator asked to stop.
fn status_word(run: &backup_run::Model) -> String {
    if run.cancel_requested_at.is_some() && run.status.is_active() {
        return "cancelling".into();
    }
    run.status.as_str().to_owned()
}

async fn load(ctx: &Context, id: i64) -> anyhow::Result<Option<(backup_run::Model, String)>> {
    let Some(run) = lifecycle::get(&ctx.db, id).await? else {
        eprintln!("error: there is no run {id}: `orchestrator runs list` shows the runs");
        return Ok(None);
    };
    let names = overview::app_names(&ctx.db, std::iter::once(run.app_id)).await?;
    let app = names.get(&run.app_id).cloned().unwrap_or_else(|| format!("#{}", run.app_id));
    Ok(Some((run, app)))
}

async fn show(ctx: &Context, id: i64, json: bool) -> anyhow::Result<ExitCode> {
    let Some((run, app)) = load(ctx, id).await? else { return Ok(ExitCode::from(1)) };
    if json {
        println!("{}", serde_json::to_string_pretty(&crate::http::api::types::RunView::new(&run, &app))?);
        return Ok(ExitCode::SUCCESS);
    }
    let zone = overview::app_zones(&ctx.db, std::iter::once(run.app_id))
        .await?
        .remove(&run.app_id)
        .unwrap_or_else(|| "UTC".into());
    let at = |ms: Option<i64>| ms.map_or_else(|| "-".to_owned(), |ms| format::in_zone(ms, &zone));
    println!("run        {}", run.id);
    println!("app        {app}");
    println!("status     {}", status_word(&run));
    println!("trigger    {}", run.trigger.as_str());
    println!("phase      {}", run.phase.map_or("-", |p| p.as_str()));
    println!("attempts   {}", run.attempts);
    println!("queued     {}", at(Some(run.queued_at)));
    println!("started    {}", at(run.first_started_at.or(run.started_at)));
    println!("ended      {}", at(run.finished_at));
    if let Some(retry) = run.retry_at.filter(|_| run.status == Status::Queued) {
        println!("next try   {}", at(Some(retry)));
    }
    println!("duration   {}", run.duration_ms.map(format::duration).unwrap_or_else(|| "-".into()));
    println!("bytes      {} ({})", run.bytes, format::bytes(run.bytes));
    if let Some(file) = &run.file_name {
        println!("file       {file}");
        println!("sha256     {}", run.sha256.as_deref().unwrap_or("-"));
    }
    if let Some(codec) = &run.codec {
        println!(
            "stored as  {codec}, {} bytes, sha256 {}",
            run.stored_bytes.unwrap_or(0),
            run.stored_sha256.as_deref().unwrap_or("-")
        );
    }
    if let Some(error) = &run.error {
        println!("reason     {error}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn logs(ctx: &Context, id: i64, follow: bool) -> anyhow::Result<ExitCode> {
    let Some((mut run, _)) = load(ctx, id).await? else { return Ok(ExitCode::from(1)) };
    let mut after = 0;
    loop {
        // Read the status first: lines written before it ended are then all found below.
        let ended = !run.status.is_active();
        loop {
            let lines = crate::runlog::lines_after(&ctx.db, id, after, 500).await?;
            for line in &lines {
                println!("{} {:<5} {}", line.at, line.level, line.message);
            }
            match lines.last() {
                Some(last) => after = last.id,
                None => break,
            }
        }
        if !follow {
            return Ok(ExitCode::SUCCESS);
        }
        if ended {
            println!("run {id} {}", run.status.as_str());
            return Ok(if run.status == Status::Succeeded { ExitCode::SUCCESS } else { ExitCode::from(1) });
        }
        tokio::time::sleep(FOLLOW_POLL).await;
        run = lifecycle::get(&ctx.db, id).await?.ok_or_else(|| anyhow::anyhow!("run {id} was deleted"))?;
    }
}

async fn cancel(ctx: &Context, id: i64) -> anyhow::Result<ExitCode> {
    let Some((_, app)) = load(ctx, id).await? else { return Ok(ExitCode::from(1)) };
    match lifecycle::cancel(&ctx.db, id, "cli").await? {
        Some(Cancel::Cancelled) => {
            let detail = crate::catalogue::Msg::new("audit_detail.run").with("id", id);
            crate::audit::record_said(&ctx.db, "cli", "run.cancel", Some(&app), &detail).await;
            println!("run {id} of {app} cancelled");
            Ok(ExitCode::SUCCESS)
        }
        Some(Cancel::Requested) => {
            let detail = crate::catalogue::Msg::new("audit_detail.run").with("id", id);
            crate::audit::record_said(&ctx.db, "cli", "run.cancel", Some(&app), &detail).await;
            println!(
                "run {id} of {app} is being cancelled: the process running it stops it within seconds (`orchestrator runs show {id}`)"
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Cancel::Ended(status)) => {
            eprintln!("error: run {id} already ended ({status}): there is nothing to cancel");
            Ok(ExitCode::from(1))
        }
        None => {
            eprintln!("error: there is no run {id}");
            Ok(ExitCode::from(1))
        }
    }
}

async fn cancel_restore(ctx: &Context, id: i64) -> anyhow::Result<ExitCode> {
    use crate::backup::restore::{KIND_RESTORE, record};
    let Some(row) = record::get(&ctx.db, id).await? else {
        eprintln!("error: there is no restore {id}: its page and `orchestrator restore` name the restores");
        return Ok(ExitCode::from(1));
    };
    let names = overview::app_names(&ctx.db, std::iter::once(row.app_id)).await?;
    let app = names.get(&row.app_id).cloned().unwrap_or_else(|| format!("#{}", row.app_id));
    let what = if row.kind == KIND_RESTORE { "restore" } else { "drill" };
    match record::cancel(&ctx.db, id, "cli").await? {
        Some(record::Cancel::Cancelled) => {
            record::audit_cancel(&ctx.db, "cli", &row.kind, &app, id).await;
            println!("{what} {id} of {app} cancelled before it started: nothing was sent to the app");
            Ok(ExitCode::SUCCESS)
        }
        Some(record::Cancel::Requested) => {
            record::audit_cancel(&ctx.db, "cli", &row.kind, &app, id).await;
            println!(
                "{what} {id} of {app} is being cancelled: the process running it cuts off the upload into the app within seconds"
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(record::Cancel::Ended(status)) => {
            eprintln!("error: {what} {id} already ended ({status}): there is nothing to cancel");
            Ok(ExitCode::from(1))
        }
        None => {
            eprintln!("error: there is no restore {id}");
            Ok(ExitCode::from(1))
        }
    }
}
