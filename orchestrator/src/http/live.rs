//! Live progress over Server-Sent Events, for the pages and the API alike. Progress goes through the database (the run or restore
//! row, updated about once a second by whichever process does the work), so a page served by one
//! process follows work done by another. The stream ends with the outcome.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use sea_orm::DatabaseConnection;
use serde::Serialize;

use crate::db::entities::{backup_run, restore};
use crate::db::now_ms;
use crate::http::format;
use crate::http::state::Web;

/// How often the row is read.
const POLL: Duration = Duration::from_millis(400);

/// One progress event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    /// Status.
    pub status: String,
    /// Phase.
    pub phase: String,
    /// Bytes so far.
    pub bytes: i64,
    /// The same, readable.
    pub size: String,
    /// Bytes per second since the start, readable.
    pub rate: String,
    /// Seconds since the start.
    pub elapsed_secs: i64,
    /// The error, when it failed.
    pub error: Option<String>,
    /// True once it ended (the last event).
    pub done: bool,
    /// Extra facts once it succeeded (file name, sha256).
    pub detail: Option<String>,
}

fn progress(
    status: &str,
    active: bool,
    phase: Option<&str>,
    bytes: i64,
    started: Option<i64>,
    end: Option<i64>,
) -> Progress {
    let elapsed_ms = started.map_or(0, |s| end.unwrap_or_else(now_ms) - s).max(1);
    let rate = bytes as f64 * 1000.0 / elapsed_ms as f64;
    Progress {
        status: status.to_owned(),
        phase: phase.unwrap_or_default().to_owned(),
        bytes,
        size: format::bytes(bytes),
        rate: format!("{}/s", format::bytes(rate as i64)),
        elapsed_secs: elapsed_ms / 1000,
        error: None,
        done: !active,
        detail: None,
    }
}

/// A run's progress now.
pub fn of_run(run: &backup_run::Model) -> Progress {
    let (status, phase) = (run.status, run.phase.map(|p| p.as_str()));
    let mut p = progress(status.as_str(), status.is_active(), phase, run.bytes, run.started_at, run.finished_at);
    p.error = run.error.clone();
    p.detail = run.file_name.as_ref().map(|f| format!("{f} sha256 {}", run.sha256.as_deref().unwrap_or("-")));
    p
}

/// A restore's progress now.
pub fn of_restore(r: &restore::Model) -> Progress {
    let (status, phase) = (r.status, r.phase.map(|p| p.as_str()));
    let mut p = progress(status.as_str(), status.is_active(), phase, r.bytes, Some(r.started_at), r.finished_at);
    p.error = r.error.clone();
    p
}

/// Polls `read` and sends an event whenever what it returns changes, until it is done.
pub fn follow<F, Fut>(db: DatabaseConnection, read: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: Fn(DatabaseConnection) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Option<Progress>> + Send,
{
    let read = std::sync::Arc::new(read);
    futures::stream::unfold((None::<Progress>, false), move |(last, finished)| {
        let db = db.clone();
        let read = read.clone();
        async move {
            if finished {
                return None;
            }
            loop {
                if last.is_some() {
                    tokio::time::sleep(POLL).await;
                }
                let Some(now) = read(db.clone()).await else {
                    let event = Event::default().event("gone").data("{}");
                    return Some((Ok(event), (last, true)));
                };
                if last.as_ref() != Some(&now) {
                    let event = Event::default()
                        .event(if now.done { "end" } else { "progress" })
                        .json_data(&now)
                        .unwrap_or_else(|_| Event::default().data("{}"));
                    let done = now.done;
                    return Some((Ok(event), (Some(now), done)));
                }
            }
        }
    })
}

/// The SSE stream of a run (the UI's and the API's).
pub fn run_stream(web: &Web, id: i64) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let stream = follow(web.ctx.db.clone(), move |db| async move {
        crate::backup::lifecycle::get(&db, id).await.ok().flatten().map(|r| of_run(&r))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The SSE stream of a restore.
pub fn restore_stream(web: &Web, id: i64) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    use sea_orm::EntityTrait;
    let stream = follow(web.ctx.db.clone(), move |db| async move {
        restore::Entity::find_by_id(id).one(&db).await.ok().flatten().map(|r| of_restore(&r))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
