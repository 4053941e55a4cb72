//! The restore job: a restore recorded by `backup::restore::begin` runs on whichever process
//! takes the job, with the same queue, lease and progress as backups, so it shows in the queue
//! and survives a restart while it waits.
//!
//! A restore is run once. If the process running it stops, the job comes back (apalis re-queues
//! a dead worker's jobs) and finds the restore running with no progress: it is recorded as
//! interrupted, never resumed — sending a copy into an app twice is for a person to decide. The
//! app's data is as the app left it, since an import commits only after its checksum matched.

use std::time::Duration;

use crate::backup::restore::{self, RestoreRequest, RestoreStatus, record};
use crate::db::entities::restore as restore_row;
use crate::db::now_ms;
use crate::error::Error;
use crate::jobs::queue::{self, Job};
use crate::jobs::worker::Jobs;
use crate::registry::App;

/// A running restore reports about once a second; one silent for this long has lost its process.
pub const SILENT_AFTER: Duration = Duration::from_secs(10);

/// Checks and records a restore of `req.copy` (a copy of `source`) into `app`, and queues it.
/// Refuses, changing nothing, what `restore::prepare` and `restore::begin` refuse.
pub async fn queue(
    runner: &crate::backup::run::Runner,
    source: &App,
    app: &App,
    req: &RestoreRequest,
) -> Result<restore_row::Model, Error> {
    let file = restore::prepare(runner, source, app, &req.copy, None).await?;
    let row = restore::begin(&runner.db, &runner.deployment_id, source, app, &file, req).await?;
    // A person is waiting: ahead of scheduled work of the same priority.
    let job = Job::Restore { restore_id: row.id, app_id: app.id };
    if let Err(e) = queue::push(&runner.db, &[(job, app.priority.rank() + 1, Duration::ZERO)]).await {
        record::abandon(&runner.db, Some(&app.name), &row, &e.to_string()).await;
        return Err(e.into());
    }
    Ok(row)
}

/// Checks and records a restore drill of `app`'s copy and queues it like a restore (a drill
/// that cannot be made, an encrypted copy with no identity here, is recorded as failed and told
/// at once). Refuses, changing nothing, what `backup::drill::prepare` refuses.
pub async fn queue_drill(
    runner: &crate::backup::run::Runner,
    app: &App,
    req: &crate::backup::drill::DrillRequest,
) -> Result<restore_row::Model, Error> {
    use crate::backup::drill::{self, Prepared};
    let (row, target) = match drill::prepare(runner, app, req, None).await? {
        Prepared::Ready { row, target } => (row, *target),
        Prepared::NotDrilled(row) => return Ok(row),
    };
    let job = Job::Restore { restore_id: row.id, app_id: target.id };
    if let Err(e) = queue::push(&runner.db, &[(job, target.priority.rank() + 1, Duration::ZERO)]).await {
        record::abandon(&runner.db, Some(&target.name), &row, &e.to_string()).await;
        return Err(e.into());
    }
    Ok(row)
}

/// Checks and records a restore that needs an identity handed in for it (an encrypted copy the
/// orchestrator holds no identity for), and runs it in this process: the identity stays in this
/// process's memory for that restore only, never in a job payload or a table. If the process
/// stops, the restore is recorded as interrupted, like any other.
pub async fn start_here(
    runner: &crate::backup::run::Runner,
    source: &App,
    app: &App,
    req: &RestoreRequest,
    identity: std::sync::Arc<crate::codec::keys::Identities>,
) -> Result<restore_row::Model, Error> {
    let file = restore::prepare(runner, source, app, &req.copy, Some(&identity)).await?;
    let row = restore::begin(&runner.db, &runner.deployment_id, source, app, &file, req).await?;
    let (runner, source, app, id) = (runner.clone(), source.clone(), app.clone(), row.id);
    tokio::spawn(async move {
        if let Err(e) = restore::execute(&runner, &source, &app, id, Some(identity), &|_| {}).await {
            tracing::warn!(app = %app.name, restore_id = id, error = %e, "restore failed");
        }
    });
    Ok(row)
}

/// Runs restore `restore_id` of app `app_id`, once.
pub async fn execute(jobs: &Jobs, restore_id: i64, app_id: i64) {
    let db = &jobs.runner.db;
    let row = match record::get(db, restore_id).await {
        Ok(Some(row)) => row,
        Ok(None) => {
            tracing::warn!(restore_id, "a queued job's restore record is gone; dropping the job");
            return;
        }
        Err(e) => {
            tracing::error!(restore_id, error = %e, "could not read a queued restore; trying again later");
            jobs.push_again(Job::Restore { restore_id, app_id }, 0, SILENT_AFTER).await;
            return;
        }
    };
    match row.status {
        RestoreStatus::Queued => {}
        RestoreStatus::Running if now_ms() - row.updated_at > SILENT_AFTER.as_millis() as i64 => {
            // Delivered again because the worker that had it died: its process stopped mid-way.
            match record::interrupt(db, &row).await {
                Ok(1) => tracing::warn!(restore_id, "restore interrupted: the process running it stopped"),
                Ok(_) => {}
                Err(e) => tracing::error!(restore_id, error = %e, "could not record the restore as interrupted"),
            }
            return;
        }
        RestoreStatus::Running => {
            // Still reporting: a live process has it. Look again once it could have gone silent.
            jobs.push_again(Job::Restore { restore_id, app_id }, 0, SILENT_AFTER).await;
            return;
        }
        ended => {
            tracing::info!(restore_id, status = ended.as_str(), "job delivered again after its restore ended");
            return;
        }
    }
    let app = match jobs.registry.get_by_id(app_id).await {
        Ok(app) => app,
        Err(e) => {
            record::abandon(db, None, &row, &format!("the app is gone: {e}")).await;
            return;
        }
    };
    let source = match row.source_app_id {
        None => app.clone(),
        Some(source_id) => match jobs.registry.get_by_id(source_id).await {
            Ok(source) => source,
            Err(e) => {
                let name = row.source_app.as_deref().unwrap_or("the copy's app");
                record::abandon(db, Some(&app.name), &row, &format!("{name}, whose copy this is, is gone: {e}")).await;
                return;
            }
        },
    };
    if let Err(e) = restore::execute(&jobs.runner, &source, &app, restore_id, None, &|_| {}).await {
        tracing::warn!(app = %app.name, restore_id, error = %e, "restore failed");
    }
}
