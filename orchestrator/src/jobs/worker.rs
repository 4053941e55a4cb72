//! Workers: take jobs from the queue and run them, `MAX_CONCURRENT_BACKUPS` at a time per
//! process. apalis only re-runs a job whose worker died; retries of a failed backup are new
//! tasks queued by the backup job (`jobs::backup`).

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_core::backend::ext::poll_strategy::Strategy;

use crate::backup::lifecycle::RetryPolicy;
use crate::backup::run::Runner;
use crate::jobs::queue::{self, Job, QUEUE};
use crate::registry::Registry;

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

impl WorkerSettings {
    /// The retry policy of queued backups.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy { max_attempts: self.max_attempts, delay: self.retry_delay, queued: true }
    }
}

/// What every job shares.
#[derive(Debug, Clone)]
pub struct Jobs {
    /// Runs backups and restores.
    pub runner: Runner,
    /// Apps.
    pub registry: Registry,
    /// Retry policy and limits.
    pub settings: WorkerSettings,
}

impl Jobs {
    /// Runs one job.
    pub async fn execute(&self, job: Job) {
        match job {
            Job::Backup { run_id, app_id } => crate::jobs::backup::execute(self, run_id, app_id).await,
            Job::Restore { restore_id, app_id } => crate::jobs::restore::execute(self, restore_id, app_id).await,
        }
    }

    /// Puts `job` back in the queue to run after `delay`.
    pub(crate) async fn push_again(&self, job: Job, priority: i32, delay: Duration) {
        if let Err(e) = queue::push(&self.runner.db, &[(job, priority, delay)]).await {
            tracing::error!(?job, error = %e, "could not queue the job again");
        }
    }
}

async fn handle(job: Job, jobs: Data<Arc<Jobs>>) -> Result<(), BoxDynError> {
    jobs.execute(job).await;
    Ok(())
}

/// Why the workers stopped.
#[derive(Debug, thiserror::Error)]
#[error("the workers stopped: {0}")]
pub struct WorkerStopped(String);

/// Runs this process's workers until `stop` resolves; a running backup is given `grace` to
/// finish, then abandoned (its upload is never finalized, so no partial file appears).
pub async fn run(jobs: Arc<Jobs>, name: String, stop: tokio::sync::watch::Receiver<bool>) -> Result<(), WorkerStopped> {
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
                .map_err(|e| WorkerStopped(e.to_string()))
        }};
    }
    match crate::db::pool(&db) {
        crate::db::Pool::Postgres(pool) => {
            work!(apalis_postgres::PostgresStorage<Job>, apalis_postgres::Config::default(), pool)
        }
        crate::db::Pool::Sqlite(pool) => {
            work!(apalis_sqlite::SqliteStorage<Job>, apalis_sqlite::Config::default(), pool)
        }
    }
}
