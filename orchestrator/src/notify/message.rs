//! What a notification says: one document, sent as the webhook's JSON body and worded as an
//! email or a ping's log line. It names the app, says why, and links to the page to look at.

use serde::{Deserialize, Serialize};

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

/// One notification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Notice {
    /// Why.
    pub event: Event,
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
    /// When the notice was made (RFC 3339).
    pub at: String,
}

impl Notice {
    /// A notice of `event` now.
    pub fn new(event: Event, summary: String) -> Notice {
        Notice {
            event,
            summary,
            reason: None,
            link: None,
            app: None,
            run: None,
            last_verified_at: None,
            since: None,
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

    /// An email's body, or a ping's log line.
    pub fn text(&self) -> String {
        let mut out = vec![self.summary.clone()];
        if let Some(reason) = &self.reason {
            out.push(format!("Reason: {reason}"));
        }
        if let Some(run) = &self.run {
            out.push(format!(
                "Run {} ({}), {} after {} attempt(s){}",
                run.id,
                run.trigger,
                run.status,
                run.attempts.max(1),
                run.phase.as_deref().map(|p| format!(", during {p}")).unwrap_or_default()
            ));
        }
        if let Some(at) = &self.last_verified_at {
            out.push(format!("Newest verified copy: {at}"));
        }
        if let Some(since) = &self.since {
            out.push(format!("Since: {since}"));
        }
        if let Some(link) = &self.link {
            out.push(format!("Details: {link}"));
        }
        out.push(format!("At: {}", self.at));
        out.join("\n")
    }
}
