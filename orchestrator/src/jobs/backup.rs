//! The backup job: one attempt of a queued run. The run record decides (the queue delivers at
//! least once: a job seen again after its run ended does nothing); the pipeline and the run's
//! lifecycle do the rest, and this job puts the run back in the queue when they say so.

use crate::backup::lifecycle::{self, Failure, Outcome, Phase, Status};
use crate::backup::run::{Ended, Progress};
use crate::error::Retry;
use crate::jobs::queue::Job;
use crate::jobs::worker::Jobs;

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
            let reason = format!("the app is gone: {e}");
            let outcome = Outcome::Failed(Failure::new(Phase::Capabilities, reason, Retry::Permanent));
            if let Err(e) = lifecycle::settle_quietly(&runner.db, run_id, &outcome).await {
                tracing::error!(run_id, error = %e, "could not record the end of the run");
            }
            return;
        }
    };
    let quiet = |_: Progress| {};
    let policy = jobs.settings.retry_policy();
    let timeout = jobs.settings.job_timeout;
    let Ok(ended) = tokio::time::timeout(timeout, runner.run(&app, run_id, policy, &quiet)).await else {
        // Dropping the run stopped its upload before the final chunk: no file appears.
        let reason = format!("stopped after JOB_TIMEOUT ({}s)", timeout.as_secs());
        runner.settle(&app, run_id, &Outcome::Failed(Failure::new(Phase::Export, reason, Retry::Permanent))).await;
        return;
    };
    let priority = app.priority.rank();
    match ended {
        Ended::Settled(_) => {}
        // A waiting run's job comes back when the budget frees: the run looks at it again then.
        Ended::Retry { delay, .. } | Ended::Deferred { delay, .. } | Ended::Waiting { delay, .. } => {
            jobs.push_again(Job::Backup { run_id, app_id }, priority, delay).await;
        }
    }
}
