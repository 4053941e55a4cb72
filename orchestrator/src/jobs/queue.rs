//! The job queue (apalis) on the registry's own database: apalis-sqlite by default,
//! apalis-postgres with PostgreSQL, sharing sea-orm's connection pool. What a job is, and how
//! jobs get in.

use std::sync::OnceLock;
use std::time::Duration;

use apalis::prelude::*;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};

/// The queue every job goes through (apalis would name it after the Rust type).
pub const QUEUE: &str = "backups";

/// One job. Its record (a run or a restore) says what to do and how far it got; the job only
/// points at it. Stored as JSON without a tag, so jobs queued by earlier versions (a backup's
/// `{"run_id", "app_id"}`) still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Job {
    /// Restore `restore_id` into `app_id`.
    Restore {
        /// The restore record.
        restore_id: i64,
        /// The app.
        app_id: i64,
    },
    /// One attempt of backup run `run_id` of `app_id`.
    Backup {
        /// The run record.
        run_id: i64,
        /// The app.
        app_id: i64,
    },
}

/// Why a job could not be queued (the database behind the queue failed).
#[derive(Debug, thiserror::Error)]
#[error("could not queue the job: {0}")]
pub struct QueueError(String);

impl QueueError {
    pub(crate) fn of(e: impl std::fmt::Display) -> QueueError {
        QueueError(e.to_string())
    }
}

impl From<QueueError> for crate::error::Error {
    fn from(e: QueueError) -> Self {
        crate::error::Error::Internal(e.to_string())
    }
}

/// A task for `job`, taken in `priority` order (higher first), not before `delay` has passed.
pub(crate) fn task(job: &Job, priority: i32, delay: Duration) -> Task<Vec<u8>> {
    TaskBuilder::new(serde_json::to_vec(job).expect("a job serializes"))
        .priority(priority as usize)
        .max_attempts(3)
        .run_after(whole_seconds(delay))
        .build()
}

/// The queue keeps a job's start time to the second, rounded down: a delay is stretched to the
/// next whole second, so that a job never starts before its delay is over (a spread run before
/// its place in the jitter, a retry before its wait). No delay stays none.
fn whole_seconds(delay: Duration) -> Duration {
    if delay.is_zero() {
        return delay;
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let target = now + delay;
    let up = Duration::from_secs(target.as_secs() + u64::from(target.subsec_nanos() > 0));
    up - now
}

/// Counts the jobs this process queued to run at once, so that its own idle workers take them
/// now instead of at their next poll ("Test now" starts at once). Other processes still find
/// them by polling.
static QUEUED_HERE: OnceLock<tokio::sync::watch::Sender<u64>> = OnceLock::new();

fn queued_here() -> &'static tokio::sync::watch::Sender<u64> {
    QUEUED_HERE.get_or_init(|| tokio::sync::watch::channel(0).0)
}

/// Tells this process's workers that jobs due now were queued.
pub(crate) fn announce() {
    queued_here().send_modify(|n| *n = n.wrapping_add(1));
}

/// Wakes for every [`announce`] made after it was created (several in a row wake it once).
pub(crate) fn announcements() -> std::pin::Pin<Box<dyn futures::Stream<Item = ()> + Send + Sync>> {
    let rx = queued_here().subscribe();
    Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        Some(((), rx))
    }))
}

/// Puts jobs in the queue, in one transaction.
pub async fn push(db: &DatabaseConnection, jobs: &[(Job, i32, Duration)]) -> Result<(), QueueError> {
    let tasks: Vec<Task<Vec<u8>>> = jobs.iter().map(|(j, p, d)| task(j, *p, *d)).collect();
    match crate::db::pool(db) {
        crate::db::Pool::Postgres(pool) => {
            let mut conn = pool.acquire().await.map_err(QueueError::of)?;
            apalis_postgres::queries::push_tasks(&mut *conn, QUEUE, tasks).await.map_err(QueueError::of)?;
        }
        crate::db::Pool::Sqlite(pool) => {
            let mut conn = pool.acquire().await.map_err(QueueError::of)?;
            apalis_sqlite::queries::push_tasks(&mut *conn, QUEUE, &tasks).await.map_err(QueueError::of)?;
        }
    }
    if jobs.iter().any(|(_, _, delay)| delay.is_zero()) {
        announce();
    }
    Ok(())
}

/// "Test now": records a manual run of `app` and queues it for whichever process takes it first,
/// ahead of scheduled work of the same priority (a person is waiting for it). Refused (busy) while
/// a backup of the app is queued, running or waiting: that run is the one to follow or cancel.
pub async fn run_now(
    db: &DatabaseConnection,
    app: &crate::registry::App,
    note: Option<&str>,
) -> Result<crate::db::entities::backup_run::Model, crate::error::Error> {
    use crate::backup::lifecycle::{self, Trigger};
    let note = note
        .map(crate::backup::copies::note_problem)
        .transpose()
        .map_err(|p| crate::error::Error::Said(crate::error::Class::Invalid, p.msg()))?;
    if let Some(active) = lifecycle::active_of(db, app.id).await? {
        let key = match active.status {
            lifecycle::Status::Running => "refusal.backup_running_now",
            lifecycle::Status::Waiting => "refusal.backup_waiting",
            _ => "refusal.backup_queued",
        };
        let msg = crate::catalogue::Msg::new(key).with("app", &app.name).with("run", active.id);
        return Err(crate::error::Error::Said(crate::error::Class::Busy, msg));
    }
    let run = lifecycle::create_noted(db, app.id, Trigger::Manual, note).await?;
    let job = Job::Backup { run_id: run.id, app_id: app.id };
    push(db, &[(job, app.priority.rank() + 1, Duration::ZERO)]).await?;
    Ok(run)
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    #[test]
    fn jobs_queued_by_earlier_versions_still_read_as_backups() {
        let old: Job = serde_json::from_str(r#"{"run_id":7,"app_id":3}"#).unwrap();
        assert_eq!(old, Job::Backup { run_id: 7, app_id: 3 });
        for job in [Job::Backup { run_id: 1, app_id: 2 }, Job::Restore { restore_id: 1, app_id: 2 }] {
            let again: Job = serde_json::from_slice(&serde_json::to_vec(&job).unwrap()).unwrap();
            assert_eq!(again, job);
        }
    }

    #[tokio::test]
    async fn a_job_queued_here_wakes_every_worker_of_the_process() {
        let (mut first, mut second) = (announcements(), announcements());
        announce();
        let wait = Duration::from_secs(5);
        assert_eq!(tokio::time::timeout(wait, first.next()).await.expect("woken"), Some(()));
        assert_eq!(tokio::time::timeout(wait, second.next()).await.expect("woken"), Some(()));
    }

    #[test]
    fn a_delay_is_stretched_to_a_whole_second_never_shortened() {
        assert_eq!(whole_seconds(Duration::ZERO), Duration::ZERO);
        for ms in [1, 999, 1_000, 1_500, 3_806, 60_000] {
            let delay = Duration::from_millis(ms);
            let stretched = whole_seconds(delay);
            assert!(stretched >= delay && stretched < delay + Duration::from_secs(1), "{delay:?} -> {stretched:?}");
        }
    }
}
