//! What a notification says: one document, sent as the webhook's JSON body and worded as an
//! email or a ping's log line. It names the app, says why, and links to the page to look at.

use serde::{Deserialize, Serialize};

use crate::catalogue::{Lang, T};

/// Why a notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// A run failed for good (no retry left).
    Failure,
    /// The first verified backup after failures or staleness.
    Recovery,
    /// No verified backup for longer than the app's schedule allows.
    Stale,
    /// The operator pressed "Send a test notification".
    Test,
    /// Ping: a run started.
    Start,
    /// Ping: a run succeeded.
    Success,
    /// Ping: a run failed for good.
    Fail,
    /// A restore drill failed, could not be made, or is overdue.
    Drill,
    /// A restore started, succeeded or failed.
    Restore,
    /// The daily or weekly summary.
    Summary,
}

impl Event {
    /// As stored and sent in `X-Backup-Event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Failure => "failure",
            Event::Recovery => "recovery",
            Event::Stale => "stale",
            Event::Test => "test",
            Event::Start => "start",
            Event::Success => "success",
            Event::Fail => "fail",
            Event::Drill => "drill",
            Event::Restore => "restore",
            Event::Summary => "summary",
        }
    }
}

/// The app a notice is about.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AppRef {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
}

/// The run a notice is about.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunRef {
    /// Id.
    pub id: i64,
    /// scheduled | manual | cli | safety.
    pub trigger: String,
    /// succeeded | failed.
    pub status: String,
    /// The phase it ended in.
    pub phase: Option<String>,
    /// Attempts made.
    pub attempts: i32,
    /// Bytes streamed.
    pub bytes: i64,
    /// The copy's file name, on success.
    pub file_name: Option<String>,
    /// When it finished (RFC 3339).
    pub finished_at: Option<String>,
}

/// The restore a notice is about.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RestoreRef {
    /// Id.
    pub id: i64,
    /// The copy restored.
    pub copy_name: String,
    /// queued | running | succeeded | failed.
    pub status: String,
    /// Bytes sent to the app.
    pub bytes: i64,
}

/// One app's line in a summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SummaryApp {
    /// Name.
    pub name: String,
    /// succeeded | failed | cancelled | skipped | ... of its last run that ended; `None`: never.
    pub last_result: Option<String>,
    /// When that run ended (RFC 3339).
    pub last_at: Option<String>,
    /// Copies stored.
    pub copies: i64,
    /// Their total size in bytes.
    pub bytes: i64,
    /// Runs that failed in the summary's period.
    pub failures: i64,
    /// Its last backup failed or was interrupted (a failure since its last success).
    pub failing: bool,
    /// No verified copy for longer than its schedule allows.
    pub stale: bool,
    /// Paused apps have no next run.
    pub paused: bool,
    /// Its next scheduled run (RFC 3339).
    pub next_run: Option<String>,
}

/// One notification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Notice {
    /// Why.
    pub event: Event,
    /// What happened, as a stable machine code (e.g. `backup.failed`, `backup.still_failing`):
    /// the same whatever the language of the texts.
    #[serde(default)]
    pub code: String,
    /// The language of the texts (en | es).
    #[serde(default)]
    pub language: String,
    /// One line for people: what happened to which app.
    pub summary: String,
    /// The reason (the run's error, or why the app is stale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The page to look at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppRef>,
    /// The run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunRef>,
    /// When the newest verified copy was made (stale, recovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verified_at: Option<String>,
    /// Since when the app failed or was stale (recovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// The restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreRef>,
    /// A summary's apps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<SummaryApp>,
    /// The lines for people a summary or a list is told in, in `language`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    /// When the notice was made (RFC 3339).
    pub at: String,
}

impl Notice {
    /// A notice of `event` now, whose machine code is `code`.
    pub fn new(event: Event, code: &str, summary: String) -> Notice {
        Notice {
            event,
            code: code.to_owned(),
            language: Lang::En.code().to_owned(),
            summary,
            reason: None,
            link: None,
            app: None,
            run: None,
            last_verified_at: None,
            since: None,
            restore: None,
            apps: Vec::new(),
            lines: Vec::new(),
            at: jiff::Timestamp::now().to_string(),
        }
    }

    /// The webhook body.
    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a notice serializes")
    }

    /// An email's subject.
    pub fn subject(&self) -> String {
        format!("[backup] {}", self.summary)
    }

    /// The texts' language.
    pub fn lang(&self) -> Lang {
        Lang::parse(&self.language).unwrap_or(Lang::En)
    }

    /// An email's body, or a ping's log line, in the notice's language.
    pub fn text(&self) -> String {
        let t = T { lang: self.lang() };
        let mut out = vec![self.summary.clone()];
        if let Some(reason) = &self.reason {
            out.push(t.fill("notify.text.reason", &[("reason", reason)]));
        }
        if let Some(run) = &self.run {
            let attempts = run.attempts.max(1).to_string();
            let mut line = t.fill(
                "notify.text.run",
                &[
                    ("id", &run.id.to_string()),
                    ("trigger", &t.of("trigger", &run.trigger)),
                    ("status", &t.status(&run.status)),
                    ("attempts", &attempts),
                ],
            );
            if let Some(phase) = &run.phase {
                line.push_str(&t.fill("notify.text.during", &[("phase", &t.of("phase", phase))]));
            }
            out.push(line);
        }
        if let Some(at) = &self.last_verified_at {
            out.push(t.fill("notify.text.newest_verified", &[("at", at)]));
        }
        if let Some(since) = &self.since {
            out.push(t.fill("notify.text.since", &[("since", since)]));
        }
        if !self.lines.is_empty() {
            out.push(String::new());
            out.extend(self.lines.iter().cloned());
            out.push(String::new());
        }
        if let Some(link) = &self.link {
            out.push(t.fill("notify.text.details", &[("link", link)]));
        }
        out.push(t.fill("notify.text.at", &[("at", &self.at)]));
        out.join("\n")
    }
}
