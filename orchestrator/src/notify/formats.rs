//! What chat and push services are sent, and how their answers read, each as its own
//! documentation describes it: one file per service, naming the pages it follows.
//!
//! Everything here is pure: a [`Notice`] in, a JSON document out; a status and body in, an
//! outcome out. Nothing here sends, logs, or sees a secret other than what a payload itself must
//! carry (Telegram's chat id, ntfy's topic).
//!
//! Every text is cut to the service's documented limit, ending with an ellipsis, and never goes
//! over it. Where a service counts "characters", we count UTF-16 code units: never fewer than
//! Unicode scalar values, so a text that fits by our count fits by either.

pub mod discord;
pub mod gotify;
pub mod ntfy;
pub mod slack;
pub mod teams;
pub mod telegram;

use std::time::Duration;

use super::message::{Event, Notice, RunRef};

/// The mark left where a text was cut.
pub const ELLIPSIS: char = '…';

/// What the link to the orchestrator's page says.
pub fn link_text(notice: &Notice) -> &'static str {
    crate::catalogue::text(notice.lang(), "notify.open_link").unwrap_or("Open in the backup orchestrator")
}

/// How long a text is, in a service's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// UTF-16 code units: what services that count "characters" are held to here.
    Chars,
    /// Bytes of UTF-8.
    Bytes,
}

impl Measure {
    fn of_char(self, c: char) -> usize {
        match self {
            Measure::Chars => c.len_utf16(),
            Measure::Bytes => c.len_utf8(),
        }
    }

    /// The length of `text`.
    pub fn of(self, text: &str) -> usize {
        text.chars().map(|c| self.of_char(c)).sum()
    }
}

/// `text` cut to at most `max` (by `measure`), ending with an ellipsis when it was cut.
pub fn cut(text: &str, max: usize, measure: Measure) -> String {
    fit(text, max, measure, str::to_owned)
}

/// `escape(text)`, or the longest `escape(prefix) + "…"` that is at most `max` long: what an
/// escaped text (Slack's `&lt;`, Telegram's `&amp;`) becomes when it must fit a limit, never
/// cutting through an escape.
pub fn fit(text: &str, max: usize, measure: Measure, escape: impl Fn(&str) -> String) -> String {
    let whole = escape(text);
    if measure.of(&whole) <= max {
        return whole;
    }
    let with_mark = |prefix: &str| {
        let mut out = escape(prefix.trim_end());
        out.push(ELLIPSIS);
        out
    };
    // The longest prefix (in characters) that fits with its mark; the length is monotonic in the
    // prefix, so a binary search finds it.
    let ends: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let (mut fits, mut over) = (0usize, ends.len());
    while over - fits > 1 {
        let mid = (fits + over) / 2;
        if measure.of(&with_mark(&text[..ends[mid]])) <= max {
            fits = mid;
        } else {
            over = mid;
        }
    }
    let best = with_mark(&text[..ends.get(fits).copied().unwrap_or(0)]);
    if measure.of(&best) <= max { best } else { String::new() }
}

/// How a notice should look: its colour, emoji, urgency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Something failed.
    Bad,
    /// Something needs a look (an app is stale).
    Warning,
    /// Something works again.
    Good,
    /// For information (a test).
    Neutral,
}

/// The tone of `event`.
pub fn tone(event: Event) -> Tone {
    match event {
        Event::Failure | Event::Fail | Event::Drill => Tone::Bad,
        Event::Stale => Tone::Warning,
        Event::Recovery | Event::Success => Tone::Good,
        _ => Tone::Neutral,
    }
}

/// A run, in one line, in the notice's language: "Run 12 (schedule): failed after 3 attempt(s)
/// during upload".
fn run_line(notice: &Notice, run: &RunRef) -> String {
    let t = crate::catalogue::T { lang: notice.lang() };
    // A word the catalogue lacks is shown as stored.
    let word = |prefix: &str, value: &str| {
        crate::catalogue::text(notice.lang(), &format!("{prefix}.{value}")).unwrap_or(value).to_owned()
    };
    let status = word("status", &run.status);
    let mut chars = status.chars();
    let status: String = chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default();
    let mut line = t.fill(
        "notify.fact.run_value",
        &[
            ("id", &run.id.to_string()),
            ("trigger", &word("trigger", &run.trigger)),
            ("status", &status),
            ("attempts", &run.attempts.max(1).to_string()),
        ],
    );
    if let Some(phase) = &run.phase {
        line.push_str(&t.fill("notify.text.during", &[("phase", &word("phase", phase))]));
    }
    line
}

/// What a notice says besides its summary and reason, as labels (in the notice's language) and
/// values; a summary's lines come as one fact.
pub fn facts(notice: &Notice) -> Vec<(&'static str, String)> {
    let label = |key: &str, english: &'static str| crate::catalogue::text(notice.lang(), key).unwrap_or(english);
    let mut out = Vec::new();
    if let Some(app) = &notice.app {
        out.push((label("notify.fact.app", "App"), app.name.clone()));
    }
    if let Some(run) = &notice.run {
        out.push((label("notify.fact.run", "Run"), run_line(notice, run)));
    }
    if let Some(at) = &notice.last_verified_at {
        out.push((label("notify.fact.newest_verified", "Newest verified copy"), at.clone()));
    }
    if let Some(since) = &notice.since {
        out.push((label("notify.fact.since", "Since"), since.clone()));
    }
    if !notice.lines.is_empty() {
        out.push((label("notify.fact.apps", "Apps"), notice.lines.join("\n")));
    }
    out.push((label("notify.fact.at", "At"), notice.at.clone()));
    out
}

/// A service's answer to one request.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// The HTTP status.
    pub status: u16,
    /// Its `Retry-After` header, in seconds, when it sent one.
    pub retry_after: Option<Duration>,
    /// The body.
    pub body: &'a str,
}

/// When to try a refused message again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Retry {
    /// Never: the same request would be refused again (a wrong URL or token, a removed channel).
    Never,
    /// Later: the service is down or busy.
    Later,
    /// After the pause the service asked for.
    After(Duration),
}

/// Why a service did not take a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The status and what the service said, with what to do when we know it.
    pub detail: String,
    /// Whether another try may succeed.
    pub retry: Retry,
}

/// The answer's body, for a message: its first 200 characters, on one line.
fn excerpt(body: &str) -> String {
    let flat: String = body.trim().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    cut(&flat, 200, Measure::Chars)
}

/// "400 Bad Request: what the service said (what to do)".
fn detail(status: u16, said: &str, hint: Option<&str>) -> String {
    let status = reqwest::StatusCode::from_u16(status).map(|s| s.to_string()).unwrap_or_else(|_| status.to_string());
    let said = excerpt(said);
    let mut out = if said.is_empty() { status } else { format!("{status}: {said}") };
    if let Some(hint) = hint {
        out.push_str(&format!(" ({hint})"));
    }
    out
}

/// The retry an HTTP status calls for: a service that is down or busy may come back; one that
/// refused the request will refuse it again.
fn retry_for(status: u16, after: Option<Duration>) -> Retry {
    match (status, after) {
        (429 | 503, Some(after)) => Retry::After(after),
        (408 | 429, _) | (500..=599, _) => Retry::Later,
        _ => Retry::Never,
    }
}

/// A refusal read from the status alone, `said` being what the service said.
fn refusal(answer: &Answer<'_>, said: &str, hint: Option<&str>) -> Refusal {
    Refusal { detail: detail(answer.status, said, hint), retry: retry_for(answer.status, answer.retry_after) }
}

/// What a notice's link may be: an http(s) URL (services refuse anything else as a link).
fn link(notice: &Notice) -> Option<&str> {
    notice
        .link
        .as_deref()
        .filter(|l| reqwest::Url::parse(l).is_ok_and(|u| u.scheme() == "http" || u.scheme() == "https"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::notify::message::{AppRef, RunRef};

    /// A failure notice with every field set; `reason` as given.
    pub(crate) fn failure(reason: &str) -> Notice {
        let mut notice = Notice::new(Event::Failure, "backup.failed", "billing: backup failed during export".into());
        notice.reason = Some(reason.to_owned());
        notice.link = Some("https://backups.example.org/runs/12".into());
        notice.app = Some(AppRef { id: 3, name: "billing".into() });
        notice.run = Some(RunRef {
            id: 12,
            trigger: "scheduled".into(),
            status: "failed".into(),
            phase: Some("export".into()),
            attempts: 3,
            bytes: 0,
            file_name: None,
            finished_at: Some("2025-01-01T03:00:09Z".into()),
        });
        notice.at = "2025-01-01T03:00:10Z".into();
        notice
    }

    #[test]
    fn a_text_that_fits_is_kept_whole() {
        assert_eq!(cut("copia fallida", 13, Measure::Chars), "copia fallida");
        assert_eq!(cut("", 0, Measure::Bytes), "");
    }

    #[test]
    fn a_cut_text_ends_with_an_ellipsis_within_the_limit() {
        assert_eq!(cut("abcdefgh", 5, Measure::Chars), "abcd…");
        // The ellipsis is three bytes of UTF-8.
        assert_eq!(cut("abcdefgh", 5, Measure::Bytes), "ab…");
        // "ñ" is two bytes: it is never split.
        assert_eq!(cut("ñandú", 6, Measure::Bytes), "ña…");
        assert_eq!(cut("ñandú", 4, Measure::Bytes), "…");
        // An emoji is two UTF-16 units.
        assert_eq!(cut("ab😀cd", 4, Measure::Chars), "ab…");
        // Trailing spaces before the mark are dropped.
        assert_eq!(cut("one two three", 9, Measure::Chars), "one two…");
    }

    #[test]
    fn a_limit_too_small_for_the_ellipsis_gives_an_empty_text() {
        assert_eq!(cut("abc", 2, Measure::Bytes), "");
        assert_eq!(cut("abc", 0, Measure::Chars), "");
    }

    #[test]
    fn an_escaped_text_is_cut_before_an_escape_never_through_it() {
        let escape = |t: &str| t.replace('&', "&amp;");
        assert_eq!(fit("a&b", 7, Measure::Chars, escape), "a&amp;b");
        // "a&amp;…" is 7 long; "a&am…" would break the escape.
        assert_eq!(fit("a&b&c", 7, Measure::Chars, escape), "a&amp;…");
        assert_eq!(fit("a&b&c", 6, Measure::Chars, escape), "a…");
    }

    #[test]
    fn cuts_never_exceed_the_limit_whatever_the_text() {
        let texts = ["", "x", "ñandú ñandú ñandú", "😀😀😀😀😀", "a & b < c > d", &"é".repeat(5000)];
        for text in texts {
            for max in 0..40 {
                for measure in [Measure::Chars, Measure::Bytes] {
                    let out = fit(text, max, measure, |t| t.replace('&', "&amp;"));
                    assert!(measure.of(&out) <= max, "{text:?} cut to {max} {measure:?}: {out:?}");
                }
            }
        }
    }

    #[test]
    fn answers_say_the_status_and_what_the_service_said() {
        let answer = Answer { status: 404, retry_after: None, body: "no_service\n" };
        let refused = refusal(&answer, answer.body, Some("make a new webhook"));
        assert_eq!(refused.detail, "404 Not Found: no_service (make a new webhook)");
        assert_eq!(refused.retry, Retry::Never);
    }

    #[test]
    fn busy_and_broken_services_are_retried_and_refusals_are_not() {
        let retry = |status, after| retry_for(status, after);
        assert_eq!(retry(429, Some(Duration::from_secs(3))), Retry::After(Duration::from_secs(3)));
        assert_eq!(retry(429, None), Retry::Later);
        assert_eq!(retry(500, None), Retry::Later);
        assert_eq!(retry(503, Some(Duration::from_secs(1))), Retry::After(Duration::from_secs(1)));
        assert_eq!(retry(408, None), Retry::Later);
        for status in [400, 401, 403, 404, 410, 413] {
            assert_eq!(retry(status, None), Retry::Never, "{status}");
        }
    }

    #[test]
    fn facts_name_the_app_the_run_and_when() {
        let facts = facts(&failure("boom"));
        assert_eq!(
            facts,
            vec![
                ("App", "billing".to_owned()),
                ("Run", "12 (scheduled): failed after 3 attempt(s) during export".to_owned()),
                ("At", "2025-01-01T03:00:10Z".to_owned()),
            ]
        );
    }
}
