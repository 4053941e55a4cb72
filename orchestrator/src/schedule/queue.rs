//! The job queue (apalis) on the registry's own database: apalis-sqlite by default,
//! apalis-postgres with PostgreSQL, sharing sea-orm's connection pool.

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

/// Puts jobs in the queue, in one transaction.
pub async fn push(db: &DatabaseConnection, jobs: &[(BackupJob, i32, Duration)]) -> Result<(), String> {
    let tasks: Vec<Task<Vec<u8>>> = jobs.iter().map(|(j, p, d)| task(j, *p, *d)).collect();
    if crate::db::is_postgres(db) {
        let pool = db.get_postgres_connection_pool();
        let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
        apalis_postgres::queries::push_tasks(&mut *conn, QUEUE, tasks).await.map_err(|e| e.to_string())
    } else {
        let pool = db.get_sqlite_connection_pool();
        let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
        apalis_sqlite::queries::push_tasks(&mut *conn, QUEUE, &tasks).await.map_err(|e| e.to_string())
    }
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
