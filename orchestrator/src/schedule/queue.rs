//! The job queue (apalis) on the registry's own database: apalis-sqlite by default,
//! apalis-postgres with PostgreSQL, sharing sea-orm's connection pool.

use std::sync::OnceLock;
use std::time::Duration;

use apalis::prelude::*;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};

/// The queue every backup job goes through (apalis would name it after the Rust type).
pub const QUEUE: &str = "backups";

/// One backup to run: the run record says which app and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupJob {
    /// The run record.
    pub run_id: i64,
    /// The app.
    pub app_id: i64,
}

/// A task for `job`, taken in `priority` order (higher first), not before `delay` has passed.
pub(crate) fn task(job: &BackupJob, priority: i32, delay: Duration) -> Task<Vec<u8>> {
    TaskBuilder::new(serde_json::to_vec(job).expect("a job serializes"))
        .priority(priority as usize)
        .max_attempts(3)
        .run_after(delay)
        .build()
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
pub async fn push(db: &DatabaseConnection, jobs: &[(BackupJob, i32, Duration)]) -> Result<(), String> {
    let tasks: Vec<Task<Vec<u8>>> = jobs.iter().map(|(j, p, d)| task(j, *p, *d)).collect();
    if crate::db::is_postgres(db) {
        let pool = db.get_postgres_connection_pool();
        let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
        apalis_postgres::queries::push_tasks(&mut *conn, QUEUE, tasks).await.map_err(|e| e.to_string())?;
    } else {
        let pool = db.get_sqlite_connection_pool();
        let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
        apalis_sqlite::queries::push_tasks(&mut *conn, QUEUE, &tasks).await.map_err(|e| e.to_string())?;
    }
    if jobs.iter().any(|(_, _, delay)| delay.is_zero()) {
        announce();
    }
    Ok(())
}

/// "Test now": records a manual run of `app` and queues it for whichever process takes it first,
/// ahead of scheduled work of the same priority (a person is waiting for it).
pub async fn run_now(
    db: &DatabaseConnection,
    app: &crate::registry::App,
) -> Result<crate::db::entities::backup_run::Model, String> {
    let run = crate::backup::record::create(db, app.id, crate::backup::record::Trigger::Manual)
        .await
        .map_err(|e| e.to_string())?;
    let job = BackupJob { run_id: run.id, app_id: app.id };
    push(db, &[(job, app.priority.rank() + 1, Duration::ZERO)]).await?;
    Ok(run)
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    #[tokio::test]
    async fn a_job_queued_here_wakes_every_worker_of_the_process() {
        let (mut first, mut second) = (announcements(), announcements());
        announce();
        let wait = Duration::from_secs(5);
        assert_eq!(tokio::time::timeout(wait, first.next()).await.expect("woken"), Some(()));
        assert_eq!(tokio::time::timeout(wait, second.next()).await.expect("woken"), Some(()));
    }
}
