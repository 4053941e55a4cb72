//! Workers: take backup jobs from the queue and run them, `MAX_CONCURRENT_BACKUPS` at a time per
//! process. A temporary failure (Drive 5xx, app 503, a cut connection) is retried with backoff;
//! a permanent one (401, wrong contract) is not. apalis only re-runs a job whose worker died.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_core::backend::ext::poll_strategy::Strategy;

use crate::backup::record;
use crate::backup::run::{Progress, Runner};
use crate::registry::Registry;
use crate::schedule::queue::{self, BackupJob, QUEUE};

/// How the workers of this process behave.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// Backups running at once in this process.
    pub concurrency: usize,
    /// How often workers tell the queue they are alive.
    pub heartbeat: Duration,
    /// Missed heartbeats after which a worker's jobs go back to the queue.
    pub missed_heartbeats: usize,
    /// How often an idle worker looks for new jobs.
    pub poll: Duration,
    /// Attempts of a run before it stays failed.
    pub max_attempts: i32,
    /// First pause before a retry (doubling).
    pub retry_delay: Duration,
    /// Longest a job may run before it is stopped and failed.
    pub job_timeout: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            concurrency: 4,
            heartbeat: Duration::from_secs(10),
            missed_heartbeats: 3,
            poll: Duration::from_millis(250),
            max_attempts: 3,
            retry_delay: Duration::from_secs(30),
            job_timeout: Duration::from_secs(25 * 3600),
        }
    }
}

/// What every job handler shares.
#[derive(Debug, Clone)]
pub struct Jobs {
    /// Runs backups.
    pub runner: Runner,
    /// Apps.
    pub registry: Registry,
    /// Retry policy.
    pub settings: WorkerSettings,
}

impl Jobs {
    /// Runs the job's backup; on a temporary failure with attempts left, queues it again later.
    pub async fn execute(&self, job: BackupJob) {
        let db = &self.runner.db;
        let Ok(Some(run)) = record::get(db, job.run_id).await else {
            tracing::warn!(run_id = job.run_id, "a queued job's run record is gone; dropping the job");
            return;
        };
        // The queue delivers at least once: a job seen again after its run ended does nothing.
        let interrupted = run.error.as_deref().is_some_and(|e| e.starts_with("interrupted"));
        if run.status == "succeeded" || run.status == "skipped" || (run.status == "failed" && !interrupted) {
            tracing::info!(run_id = run.id, status = %run.status, "job delivered again after its run ended; ignored");
            return;
        }
        let app = match self.registry.get_by_id(job.app_id).await {
            Ok(app) => app,
            Err(e) => {
                let ending = record::Ending {
                    status: "failed",
                    error: Some(format!("the app is gone: {e}")),
                    ..Default::default()
                };
                let _ = record::finish(db, run.id, &ending).await;
                return;
            }
        };
        let quiet = |_: Progress| {};
        let Ok(outcome) = tokio::time::timeout(self.settings.job_timeout, self.runner.run(&app, run.id, &quiet)).await
        else {
            // Dropping the run stopped its upload before the final chunk: no file appears.
            let error = format!("stopped after JOB_TIMEOUT ({}s)", self.settings.job_timeout.as_secs());
            let ending = record::Ending { status: "failed", error: Some(error), ..Default::default() };
            let _ = record::finish(db, run.id, &ending).await;
            self.runner.notifier.run_settled(&app, run.id).await;
            return;
        };
        match outcome {
            Ok(_) => self.runner.notifier.run_settled(&app, run.id).await,
            Err(failure) if failure.deferred => {
                let retry = crate::backup::lease::LEASE_TTL;
                if let Err(e) = queue::push(db, &[(job, app.priority.rank(), retry)]).await {
                    tracing::error!(run_id = run.id, error = %e, "could not queue the retry");
                }
            }
            Err(failure) if failure.retryable && !failure.skipped => {
                let attempts =
                    record::get(db, run.id).await.ok().flatten().map_or(self.settings.max_attempts, |r| r.attempts);
                // A shutdown is not the run's fault: it does not use up an attempt.
                let stopped = self.runner.stopping.load(std::sync::atomic::Ordering::Relaxed);
                if attempts < self.settings.max_attempts || stopped {
                    let delay = self.settings.retry_delay.saturating_mul(1 << (attempts - 1).clamp(0, 10));
                    tracing::info_span!(crate::runlog::SPAN, app = %app.name, run_id = run.id).in_scope(|| {
                        tracing::warn!(attempt = attempts, retry_in = ?delay, reason = %failure.message, "attempt failed; retrying")
                    });
                    let _ = record::requeue(db, run.id, &failure.message, delay).await;
                    if let Err(e) = queue::push(db, &[(job, app.priority.rank(), delay)]).await {
                        tracing::error!(run_id = run.id, error = %e, "could not queue the retry");
                    }
                } else {
                    self.runner.notifier.run_settled(&app, run.id).await;
                }
            }
            Err(failure) if failure.skipped => {}
            Err(_) => self.runner.notifier.run_settled(&app, run.id).await,
        }
    }
}

async fn handle(job: BackupJob, jobs: Data<Arc<Jobs>>) -> Result<(), BoxDynError> {
    jobs.execute(job).await;
    Ok(())
}

/// Runs this process's workers until `stop` resolves; a running backup is given `grace` to
/// finish, then abandoned (its upload is never finalized, so no partial file appears).
pub async fn run(jobs: Arc<Jobs>, name: String, stop: tokio::sync::watch::Receiver<bool>) -> Result<(), String> {
    let db = jobs.runner.db.clone();
    let s = jobs.settings;
    let signal = async move {
        let mut stop = stop;
        let _ = stop.wait_for(|s| *s).await;
        Ok::<(), WorkerError>(())
    };
    // Jobs this process queues wake its workers at once; the interval finds everyone else's.
    let strategy = Strategy::new().stream(queue::announcements()).interval(s.poll);
    // The same worker over either backend; only the storage type differs.
    macro_rules! work {
        ($storage:ty, $config:expr, $pool:expr) => {{
            let config = $config
                .queue(QUEUE)
                .batch_size(1)
                .heartbeat_interval(s.heartbeat)
                .missed_heartbeats(s.missed_heartbeats);
            let backend = <$storage>::new($pool).with_config(config).poll_with_strategy(strategy);
            WorkerBuilder::new(name)
                .backend(backend)
                .concurrency(s.concurrency)
                .data(jobs)
                .build(handle)
                .run_until(signal)
                .await
                .map_err(|e| e.to_string())
        }};
    }
    if crate::db::is_postgres(&db) {
        work!(
            apalis_postgres::PostgresStorage<BackupJob>,
            apalis_postgres::Config::default(),
            db.get_postgres_connection_pool()
        )
    } else {
        work!(
            apalis_sqlite::SqliteStorage<BackupJob>,
            apalis_sqlite::Config::default(),
            db.get_sqlite_connection_pool()
        )
    }
}
