//! Live progress over Server-Sent Events, for the pages and the API alike. Progress goes through the database (the run or restore
//! row, updated about once a second by whichever process does the work), so a page served by one
//! process follows work done by another. The stream ends with the outcome.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use sea_orm::DatabaseConnection;
use serde::Serialize;

use crate::backup::reason::Stored;
use crate::db::entities::{backup_run, restore};
use crate::db::now_ms;
use crate::http::format;
use crate::http::state::Web;

/// How often the row is read.
const POLL: Duration = Duration::from_millis(400);

/// One progress event: the data of a stream's `progress` events and of its last, `end`.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
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
    /// Why it failed (or waits, or was skipped): in English, or on a page's own stream in the
    /// page's language.
    pub error: Option<String>,
    /// The stable machine code of `error`, when it has one (e.g. `reason.app.unauthorized`).
    pub error_code: Option<String>,
    /// `error` as HTML, on a page's own stream only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_html: Option<String>,
    /// True once it ended (the last event).
    pub done: bool,
    /// Extra facts once it succeeded (file name, sha256).
    pub detail: Option<String>,
    /// Attempts begun so far (a run's; 0 for a restore).
    pub attempts: i32,
    /// Queued again after a failed attempt: seconds until the next one.
    pub retry_in_secs: Option<i64>,
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
        error_code: None,
        error_html: None,
        done: !active,
        detail: None,
        attempts: 0,
        retry_in_secs: None,
    }
}

/// A run's progress now.
pub fn of_run(run: &backup_run::Model, t: Option<&crate::catalogue::T>) -> Progress {
    let (status, phase) = (run.status, run.phase.map(|p| p.as_str()));
    // The time of every attempt and the waits between them.
    let started = run.first_started_at.or(run.started_at);
    let mut p = progress(status.as_str(), status.is_active(), phase, run.bytes, started, run.finished_at);
    said(&mut p, Stored::read(run.error.as_deref(), run.error_msg.as_deref()), t);
    p.attempts = run.attempts;
    p.retry_in_secs = run
        .retry_at
        .filter(|_| run.status == crate::backup::lifecycle::Status::Queued)
        .map(|at| ((at - now_ms()) / 1000).max(0));
    p.detail = run.file_name.as_ref().map(|f| format!("{f} sha256 {}", run.sha256.as_deref().unwrap_or("-")));
    p
}

/// A restore's progress now.
pub fn of_restore(r: &restore::Model) -> Progress {
    let (status, phase) = (r.status, r.phase.map(|p| p.as_str()));
    let mut p = progress(status.as_str(), status.is_active(), phase, r.bytes, Some(r.started_at), r.finished_at);
    said(&mut p, Stored::read(r.error.as_deref(), r.error_msg.as_deref()), None);
    p
}

/// Puts a stored reason into `p`: in English with its code, or in `t`'s language on a page.
fn said(p: &mut Progress, reason: Option<Stored>, t: Option<&crate::catalogue::T>) {
    let Some(reason) = reason else { return };
    let lang = t.map_or(crate::catalogue::Lang::En, |t| t.lang);
    p.error = Some(reason.text(lang));
    p.error_code = reason.code().map(str::to_owned);
    p.error_html = t.map(|_| reason.html(lang));
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

/// Log lines sent in one event at most.
const LINES_PER_EVENT: u64 = 200;

/// The SSE stream of a run (the UI's and the API's): `progress` events as it moves, `log` events
/// with its log lines as they are written (lines after `after`, a line id), then `end`.
/// Pages pass their language (`t`): each line then carries its `text` in it.
pub fn run_stream(
    web: &Web,
    id: i64,
    after: i64,
    page: Option<(crate::catalogue::T, String)>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    use futures::StreamExt;
    let db = web.ctx.db.clone();
    struct Cursor {
        last: Option<Progress>,
        line: i64,
        finished: bool,
    }
    let start = Cursor { last: None, line: after, finished: false };
    let stream = futures::stream::unfold(start, move |mut cursor| {
        let db = db.clone();
        let page = page.clone();
        async move {
            if cursor.finished {
                return None;
            }
            loop {
                if cursor.last.is_some() {
                    tokio::time::sleep(POLL).await;
                }
                let Some(run) = crate::backup::lifecycle::get(&db, id).await.ok().flatten() else {
                    cursor.finished = true;
                    return Some((vec![Event::default().event("gone").data("{}")], cursor));
                };
                let now = of_run(&run, page.as_ref().map(|(t, _)| t));
                let mut events = Vec::new();
                // Lines first: the end comes after the last of them. A run's last lines are
                // stored just after it ends, so the stream looks once more before it ends.
                if now.done {
                    crate::runlog::flush().await;
                }
                let mut lines =
                    crate::runlog::lines_after(&db, id, cursor.line, LINES_PER_EVENT).await.unwrap_or_default();
                if let Some((t, zone)) = &page {
                    lines = lines.into_iter().map(|l| l.in_language(t).in_zone(zone)).collect();
                }
                if let Some(last) = lines.last() {
                    cursor.line = last.id;
                    events.push(json_event("log", &lines));
                }
                let more_lines = lines.len() as u64 == LINES_PER_EVENT;
                if cursor.last.as_ref() != Some(&now) && !(now.done && more_lines) {
                    events.push(json_event(if now.done { "end" } else { "progress" }, &now));
                    cursor.finished = now.done;
                    cursor.last = Some(now);
                }
                if !events.is_empty() {
                    return Some((events, cursor));
                }
            }
        }
    })
    .flat_map(|events| futures::stream::iter(events.into_iter().map(Ok)));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn json_event(name: &str, data: &impl Serialize) -> Event {
    Event::default().event(name).json_data(data).unwrap_or_else(|_| Event::default().event(name).data("{}"))
}

/// The SSE stream of a restore.
pub fn restore_stream(web: &Web, id: i64) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    use sea_orm::EntityTrait;
    let stream = follow(web.ctx.db.clone(), move |db| async move {
        restore::Entity::find_by_id(id).one(&db).await.ok().flatten().map(|r| of_restore(&r))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
