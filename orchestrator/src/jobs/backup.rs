//! The backup job: one attempt of a queued run. The run record decides (the queue delivers at
//! least once: a job seen again after its run ended does nothing); the pipeline and the run's
//! lifecycle do the rest, and this job puts the run back in the queue when they say so.

use std::time::Duration;

use crate::backup::lifecycle::{self, Failure, Outcome, Phase, Status, Trigger};
use crate::backup::run::{Ended, Progress};
use crate::backup::slots::GroupSlot;
use crate::catalogue::Msg;
use crate::db::entities::backup_run;
use crate::db::now_ms;
use crate::error::Retry;
use crate::jobs::queue::Job;
use crate::jobs::worker::Jobs;
use crate::schedule::spread::{Spread, format_span};

/// Runs one attempt of run `run_id` of app `app_id`.
pub async fn execute(jobs: &Jobs, run_id: i64, app_id: i64) {
    let runner = &jobs.runner;
    let run = match lifecycle::get(&runner.db, run_id).await {
        Ok(Some(run)) => run,
        Ok(None) => {
            tracing::warn!(run_id, "a queued job's run record is gone; dropping the job");
            return;
        }
        Err(e) => {
            tracing::error!(run_id, error = %e, "could not read a queued job's run; trying again later");
            jobs.push_again(Job::Backup { run_id, app_id }, 0, crate::backup::lease::LEASE_TTL).await;
            return;
        }
    };
    // Queued, running (its process stopped mid-attempt), interrupted or waiting (for Drive's
    // budget) runs are taken up; an ended run is not run again.
    if !matches!(run.status, Status::Queued | Status::Running | Status::Interrupted | Status::Waiting) {
        tracing::info!(run_id, status = run.status.as_str(), "job delivered again after its run ended; ignored");
        return;
    }
    let app = match jobs.registry.get_by_id(app_id).await {
        Ok(app) => app,
        Err(e) => {
            // No app, no channels to tell: the run is recorded as failed, quietly.
            let reason = Msg::new("reason.app_gone").quoting("detail", e);
            let outcome = Outcome::Failed(Failure::new(Phase::Capabilities, reason, Retry::Permanent));
            if let Err(e) = lifecycle::settle_quietly(&runner.db, run_id, &outcome).await {
                tracing::error!(run_id, error = %e, "could not record the end of the run");
            }
            return;
        }
    };
    let priority = app.priority.rank();
    let again = || Job::Backup { run_id, app_id };
    let spread = match Spread::of(&runner.db, &app).await {
        Ok(spread) => spread,
        Err(e) => {
            tracing::error!(run_id, error = %e, "could not read the app's group; trying again later");
            jobs.push_again(again(), priority, crate::backup::lease::LEASE_TTL).await;
            return;
        }
    };
    let skip = |reason: Msg| async {
        // Said in the run's own log too.
        let span = tracing::info_span!(crate::runlog::SPAN, app = %app.name, run_id);
        span.in_scope(|| {
            tracing::warn!(code = "backup.skipped", reason = %reason, reason_msg = %reason.to_json(), "backup skipped")
        });
        runner.settle(&app, run_id, &Outcome::Skipped { reason }).await;
    };
    if let Some(reason) = missed_window(&run, &spread, &app) {
        // It waits for its group's slot no more.
        if let Some((group, _)) = &spread.limit
            && let Err(e) = crate::backup::slots::stop_waiting(&runner.db, group, run_id).await
        {
            tracing::warn!(run_id, error = %e, "could not stop waiting for a group slot; it lapses by itself");
        }
        skip(reason).await;
        return;
    }
    // A group's limit: without a free slot the run stays queued and comes back soon.
    let slot = match &spread.limit {
        None => None,
        Some((group, limit)) => {
            let holder = format!("{}:run-{run_id}", runner.holder);
            match GroupSlot::in_turn(&runner.db, group, *limit, &holder, run_id, priority).await {
                Ok(Some(slot)) => Some(slot),
                Ok(None) => {
                    tracing::debug!(run_id, group = %group, limit, "the group's slots are all held; the run waits");
                    jobs.push_again(again(), priority, slot_wait()).await;
                    return;
                }
                Err(e) => {
                    tracing::error!(run_id, error = %e, "could not take a slot of the app's group; trying again later");
                    jobs.push_again(again(), priority, crate::backup::lease::LEASE_TTL).await;
                    return;
                }
            }
        }
    };
    // Taking the slot is the last wait before the run starts: the window is looked at again.
    if slot.is_some()
        && let Some(reason) = missed_window(&run, &spread, &app)
    {
        if let Some(slot) = slot {
            slot.release().await;
            crate::jobs::queue::announce();
        }
        skip(reason).await;
        return;
    }
    let quiet = |_: Progress| {};
    let policy = jobs.settings.retry_policy();
    let timeout = jobs.settings.job_timeout;
    let ended = tokio::time::timeout(timeout, runner.run(&app, run_id, policy, &quiet)).await;
    if let Some(slot) = slot {
        slot.release().await;
        // The group's next run may start now: wake this process's idle workers.
        crate::jobs::queue::announce();
    }
    let Ok(ended) = ended else {
        // Dropping the run stopped its upload before the final chunk: no file appears.
        let reason = Msg::new("reason.job_timeout").with("seconds", timeout.as_secs());
        runner.settle(&app, run_id, &Outcome::Failed(Failure::new(Phase::Export, reason, Retry::Permanent))).await;
        return;
    };
    match ended {
        Ended::Settled(_) => {}
        // A waiting run's job comes back when the budget frees: the run looks at it again then.
        Ended::Retry { delay, .. } | Ended::Deferred { delay, .. } | Ended::Waiting { delay, .. } => {
            jobs.push_again(Job::Backup { run_id, app_id }, priority, delay).await;
        }
    }
}

/// How long a run waits for its group's slot before it looks again: a few seconds, spread so
/// that the waiting runs of a group do not all look at once.
fn slot_wait() -> Duration {
    Duration::from_millis(2_000 + fastrand::u64(..2_000))
}

/// Why a scheduled run that has not started yet may no longer start: the end of its window has
/// passed. A run that started once (and waits to retry) is past this point.
fn missed_window(run: &backup_run::Model, spread: &Spread, app: &crate::registry::App) -> Option<Msg> {
    let scheduled = run.scheduled_for.filter(|_| run.trigger == Trigger::Schedule && run.first_started_at.is_none())?;
    let latest = spread.latest_start(scheduled)?;
    if now_ms() <= latest {
        return None;
    }
    let zone = &app.time_zone;
    Some(
        Msg::new("reason.skipped.window")
            .with("window", format_span(spread.window_secs.unwrap_or_default()))
            .with("scheduled", crate::http::format::in_zone(scheduled, zone))
            .with("latest", crate::http::format::in_zone(latest, zone)),
    )
}
