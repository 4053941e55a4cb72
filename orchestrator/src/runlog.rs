//! Each run keeps its own log: every tracing event emitted inside a `run` span (the pipeline,
//! Drive retries, retention, the worker's retry decisions) is also written to `run_logs`, so the
//! run's page and the API can show what happened to that one run.
//!
//! The layer only queues lines; one task per process writes them in batches, so a run never
//! waits on its own log. Lines carry their fields; nothing logged in this codebase is a secret.
//!
//! A line meant for operators carries a `code` field, its stable machine code: the message
//! catalogue's `log.<code>` text, filled with the line's fields, says it in the reader's language
//! ([`Line::text`]); the English message stays beside it, as logged.
//!
//! The layer is process-wide and a run id only means something in its own database, so one
//! database per process receives lines: the first attached whose writer is still alive. A
//! second service in the same process (tests start several) attaches nothing while the first
//! lives; it must not install [`layer`] expecting its own runs' lines, which would go to the
//! first one's database. `orchestrator` runs one service per process, so this never arises there.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::{mpsc, oneshot};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::db::entities::run_log;

/// The span every run's work happens in; its `run_id` field routes the lines.
pub const SPAN: &str = "run";

/// A field named `<name>_msg` holds field `<name>` as a catalogue message (`Msg::to_json`),
/// from which a line says it in the reader's language.
pub const MSG_SUFFIX: &str = "_msg";

/// Lines kept per run at most; a run that logs more (a retry storm) keeps its first lines and
/// a last line saying how many were dropped.
pub const MAX_LINES_PER_RUN: usize = 2000;

enum Message {
    Line(run_log::ActiveModel),
    Flush(oneshot::Sender<()>),
}

/// Where lines go: the writer of the attached database, with the number of its attachment.
static SINK: Mutex<Option<(u64, mpsc::Sender<Message>)>> = Mutex::new(None);

fn sink() -> Option<mpsc::Sender<Message>> {
    SINK.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|(_, tx)| tx.clone())
}

/// The run a span belongs to, stored in the span's extensions.
struct RunId(i64);

/// The tracing layer; add it to the subscriber with [`layer`]. Lines go nowhere until
/// [`attach`] is called.
#[derive(Debug, Default)]
pub struct RunLogLayer;

/// The layer, filtered to this crate's events at info and above (not the SQL driver's, which
/// also run inside a run's span).
pub fn layer<S: Subscriber + for<'a> LookupSpan<'a>>() -> impl tracing_subscriber::Layer<S> {
    use tracing_subscriber::Layer as _;
    RunLogLayer
        .with_filter(tracing_subscriber::filter::Targets::new().with_target("orchestrator", tracing::Level::INFO))
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for RunLogLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != SPAN {
            return;
        }
        let mut found = FindRunId(None);
        attrs.record(&mut found);
        if let (Some(run_id), Some(span)) = (found.0, ctx.span(id)) {
            span.extensions_mut().insert(RunId(run_id));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(scope) = ctx.event_scope(event) else { return };
        let Some(run_id) = scope.into_iter().find_map(|span| span.extensions().get::<RunId>().map(|r| r.0)) else {
            return;
        };
        let Some(sink) = sink() else { return };
        let mut text = Text::default();
        event.record(&mut text);
        let code = text.code.take();
        let fields = (!text.values.is_empty()).then(|| serde_json::to_string(&text.values).unwrap_or_default());
        let line = run_log::ActiveModel {
            run_id: Set(run_id),
            at: Set(jiff::Timestamp::now().as_millisecond()),
            level: Set(event.metadata().level().as_str().to_ascii_lowercase()),
            message: Set(text.finish()),
            code: Set(code),
            fields: Set(fields),
            ..Default::default()
        };
        // A full queue drops the line rather than slow the run down.
        let _ = sink.try_send(Message::Line(line));
    }
}

struct FindRunId(Option<i64>);

impl Visit for FindRunId {
    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "run_id" {
            self.0 = Some(value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record_i64(field, value as i64);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "run_id" {
            self.0 = format!("{value:?}").parse().ok();
        }
    }
}

/// `message key=value key=value`, and the code and fields apart.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
    code: Option<String>,
    values: std::collections::BTreeMap<String, String>,
}

impl Text {
    fn finish(self) -> String {
        let mut out = self.message;
        if !self.fields.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(self.fields.trim_start());
        }
        out.chars().take(4000).collect()
    }
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_owned(),
            "code" => self.code = Some(value.to_owned()),
            // A reason as a catalogue message: kept whole for the reader's language, and left out of
            // the English line, which has the reason's English beside it.
            name if name.ends_with(MSG_SUFFIX) => {
                self.values.insert(name.to_owned(), value.chars().take(4000).collect());
            }
            name => {
                let _ = write!(self.fields, " {name}={value}");
                self.values.insert(name.to_owned(), value.chars().take(1000).collect());
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "code" => self.code = Some(format!("{value:?}").trim_matches('"').to_owned()),
            name if name.ends_with(MSG_SUFFIX) => {
                self.values.insert(name.to_owned(), format!("{value:?}").chars().take(4000).collect());
            }
            name => {
                let _ = write!(self.fields, " {name}={value:?}");
                let shown = format!("{value:?}");
                let shown = shown.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(&shown);
                self.values.insert(name.to_owned(), shown.chars().take(1000).collect());
            }
        }
    }
}

/// Starts this process's writer of run log lines into `db`. Returns the attachment when this
/// call made it, or `None` when lines already go to a live writer (see the module docs). A writer
/// whose runtime has ended (an earlier test's) counts as gone.
pub fn attach(db: DatabaseConnection) -> Option<Attachment> {
    static ATTACHMENTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
    if sink.as_ref().is_some_and(|(_, tx)| !tx.is_closed()) {
        return None;
    }
    let number = ATTACHMENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (tx, rx) = mpsc::channel(10_000);
    tokio::spawn(write_lines(db, rx));
    *sink = Some((number, tx));
    Some(Attachment { number })
}

/// Proof that lines go to one's database; [`Attachment::detach`] ends it.
#[derive(Debug)]
pub struct Attachment {
    number: u64,
}

impl Attachment {
    /// Stores every line queued so far, then sends no more lines to this database, so another
    /// service in the process can attach.
    pub async fn detach(self) {
        flush().await;
        let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
        if sink.as_ref().is_some_and(|(number, _)| *number == self.number) {
            *sink = None;
        }
    }
}

/// Waits until every line queued so far is stored (before a CLI command exits, or before a
/// test reads them).
pub async fn flush() {
    let Some(sink) = sink() else { return };
    let (tx, rx) = oneshot::channel();
    if sink.send(Message::Flush(tx)).await.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
    }
}

async fn write_lines(db: DatabaseConnection, mut rx: mpsc::Receiver<Message>) {
    let mut counts: std::collections::HashMap<i64, usize> = Default::default();
    while let Some(first) = rx.recv().await {
        let mut batch = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Line(line) => {
                    let run_id = *line.run_id.as_ref();
                    let count = counts.entry(run_id).or_default();
                    *count += 1;
                    if *count < MAX_LINES_PER_RUN {
                        batch.push(line);
                    } else if *count == MAX_LINES_PER_RUN {
                        batch.push(run_log::ActiveModel {
                            run_id: Set(run_id),
                            at: Set(jiff::Timestamp::now().as_millisecond()),
                            level: Set("warn".into()),
                            message: Set(format!("more than {MAX_LINES_PER_RUN} lines: the rest were not kept")),
                            ..Default::default()
                        });
                    }
                }
                Message::Flush(done) => flushes.push(done),
            }
            if batch.len() < 200 {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty()
            && let Err(e) = run_log::Entity::insert_many(batch).exec_without_returning(&db).await
        {
            // Not logged inside a run span, so this cannot feed itself.
            eprintln!("could not store run log lines: {e}");
        }
        for done in flushes {
            let _ = done.send(());
        }
        if counts.len() > 10_000 {
            counts.clear();
        }
    }
}

/// One stored line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Line {
    /// Its number, increasing within a run (a client following the log asks for lines after it).
    pub id: i64,
    /// When (RFC 3339).
    pub at: String,
    /// error | warn | info | debug.
    pub level: String,
    /// The line, in English, with its fields.
    pub message: String,
    /// The stable machine code of a line meant for operators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Its fields by name (the values the catalogue's text is filled with).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fields: std::collections::BTreeMap<String, String>,
    /// The line in the reader's language (pages and their live stream only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Its level in the reader's language (pages and their live stream only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level_text: Option<String>,
    /// `text` as HTML (pages and their live stream only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// `at` in the app's time zone (pages and their live stream only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_text: Option<String>,
}

impl Line {
    /// The line in `t`'s language: the catalogue's `log.<code>` filled with its fields, or the
    /// message as logged when it has no code (or the catalogue no text for it).
    pub fn text(&self, t: &crate::catalogue::T) -> String {
        self.said(t, false)
    }

    /// [`Line::text`] as HTML: escaped; English the catalogue does not say (a line without a
    /// code) and other systems' words in a reason marked as not in the page's language.
    pub fn html(&self, t: &crate::catalogue::T) -> String {
        self.said(t, true)
    }

    fn said(&self, t: &crate::catalogue::T, html: bool) -> String {
        use crate::catalogue::foreign_html;
        use crate::http::format::escape;
        let as_logged = || if html { foreign_html(&self.message) } else { self.message.clone() };
        let Some(code) = &self.code else { return as_logged() };
        let key = format!("log.{code}");
        if t.get(&key) == key {
            return as_logged();
        }
        let plain = |text: &str| if html { escape(text) } else { text.to_owned() };
        // Statuses and phases are words of the catalogue too.
        let said: Vec<(&str, String)> = self
            .fields
            .iter()
            .map(|(k, v)| {
                let said =
                    self.fields.get(&format!("{k}{MSG_SUFFIX}")).and_then(|m| crate::catalogue::Msg::from_json(m));
                let value = match k.as_str() {
                    _ if said.is_some() => {
                        said.map(|m| if html { m.render_html(t.lang) } else { m.render(t.lang) }).unwrap_or_default()
                    }
                    "status" => plain(&t.status(v).to_lowercase()),
                    "phase" => match t.get(&format!("phase.{v}")) {
                        text if text.starts_with("phase.") => plain(v),
                        text => plain(text),
                    },
                    _ => plain(v),
                };
                (k.as_str(), value)
            })
            .collect();
        let mut text = plain(t.get(&key));
        for (name, value) in &said {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// The same line with its `text` in `t`'s language.
    pub fn in_language(mut self, t: &crate::catalogue::T) -> Line {
        self.text = Some(self.text(t));
        self.level_text = Some(t.of("level", &self.level));
        self.html = Some(self.html(t));
        self
    }

    /// The same line with its moment shown in `time_zone` too.
    pub fn in_zone(mut self, time_zone: &str) -> Line {
        self.at_text = Some(crate::http::format::log_time(&self.at, time_zone));
        self
    }
}

/// A run's lines in order, at most `limit`.
pub async fn lines(db: &DatabaseConnection, run_id: i64, limit: u64) -> Result<Vec<Line>, sea_orm::DbErr> {
    lines_after(db, run_id, 0, limit).await
}

/// A run's lines after line `after` (its `id`), in order, at most `limit`: what a page or a
/// command following the run has not shown yet.
pub async fn lines_after(
    db: &DatabaseConnection,
    run_id: i64,
    after: i64,
    limit: u64,
) -> Result<Vec<Line>, sea_orm::DbErr> {
    let rows = run_log::Entity::find()
        .filter(run_log::Column::RunId.eq(run_id))
        .filter(run_log::Column::Id.gt(after))
        .order_by_asc(run_log::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| Line {
            id: r.id,
            at: jiff::Timestamp::from_millisecond(r.at).map(|t| t.to_string()).unwrap_or_default(),
            level: r.level,
            message: r.message,
            code: r.code,
            fields: r.fields.and_then(|f| serde_json::from_str(&f).ok()).unwrap_or_default(),
            text: None,
            level_text: None,
            html: None,
            at_text: None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{Lang, Msg, T};

    fn line(code: Option<&str>, fields: &[(&str, String)]) -> Line {
        Line {
            id: 1,
            at: "2026-12-07T03:00:00Z".into(),
            level: "warn".into(),
            message: "backup failed <as logged>".into(),
            code: code.map(str::to_owned),
            fields: fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
            text: None,
            level_text: None,
            html: None,
            at_text: None,
        }
    }

    #[test]
    fn a_coded_line_is_said_in_the_readers_language_with_its_reason_and_the_apps_words_marked() {
        let reason = Msg::new("reason.app.aborted").with("bytes", 42).quoting("detail", "reset <by peer>");
        let failed = line(
            Some("backup.failed"),
            &[
                ("status", "failed".into()),
                ("phase", "export".into()),
                ("reason", reason.to_string()),
                ("reason_msg", reason.to_json()),
            ],
        );
        let es = T { lang: Lang::Es };
        let text = failed.text(&es);
        assert!(text.contains(&reason.render(Lang::Es)) && text.contains("exportación"), "{text}");
        let html = failed.html(&es);
        assert!(html.contains(r#"<q lang="" class="quoted">reset &lt;by peer&gt;</q>"#), "{html}");
        assert!(!html.contains('{'), "{html}");
        // A line without a code stays as logged, marked as not in the page's language.
        let plain = line(None, &[]);
        assert_eq!(plain.text(&es), "backup failed <as logged>");
        assert_eq!(plain.html(&es), r#"<span lang="">backup failed &lt;as logged&gt;</span>"#);
    }
}
