//! ntfy, publishing as JSON.
//!
//! - A JSON `POST` to the server's root URL (not the topic's) with `topic` (required),
//!   `message`, `title`, `tags` (strings, some shown as emojis), `priority` (1 to 5, 3 the
//!   default) and `click` (a URL opened on a tap) (https://docs.ntfy.sh/publish/#publish-as-json).
//!   JSON carries UTF-8 safely, where headers may not (https://docs.ntfy.sh/publish/#message-title).
//! - A topic is 1 to 64 letters, digits, `_` or `-` (https://docs.ntfy.sh/publish/#picking-a-topic).
//! - A message is at most 4,096 bytes; longer ones become attachments
//!   (https://docs.ntfy.sh/publish/#limitations).
//! - A protected topic needs `Authorization: Bearer <access token>`
//!   (https://docs.ntfy.sh/publish/#access-tokens).
//! - Errors are JSON: `{"code": 40301, "http": 403, "error": "forbidden", "link": "..."}`; 429
//!   when a limit is reached (https://docs.ntfy.sh/publish/#limitations).

use serde_json::{Value, json};

use super::{Answer, Measure, Refusal, Tone, cut, facts, link, refusal, tone};
use crate::notify::message::Notice;

/// A message, in bytes of UTF-8.
pub const MESSAGE_BYTES: usize = 4096;
/// The title's length (ntfy documents no limit: a notification's title is one line).
pub const TITLE: usize = 250;
/// Each fact's share of the message, in bytes.
const FACT_BYTES: usize = 200;

fn tag_and_priority(tone: Tone) -> (&'static str, u8) {
    match tone {
        Tone::Bad => ("rotating_light", 4),
        Tone::Warning => ("warning", 4),
        Tone::Good => ("white_check_mark", 3),
        Tone::Neutral => ("bell", 3),
    }
}

/// The JSON to publish to `topic`: the summary as title, the reason and facts as the message
/// (within [`MESSAGE_BYTES`]), an emoji tag and a priority by event, and the orchestrator's page
/// opened on a tap.
pub fn payload(notice: &Notice, topic: &str) -> Value {
    let facts: Vec<String> = facts(notice)
        .into_iter()
        .map(|(label, value)| cut(&format!("{label}: {value}"), FACT_BYTES, Measure::Bytes))
        .collect();
    let facts = facts.join("\n");
    let message = match &notice.reason {
        Some(reason) => {
            let room = MESSAGE_BYTES.saturating_sub(facts.len() + 2);
            format!("{}\n\n{facts}", cut(reason, room, Measure::Bytes))
        }
        None => facts,
    };
    let (tag, priority) = tag_and_priority(tone(notice.event));
    let mut out = json!({
        "topic": topic,
        "title": cut(&notice.summary, TITLE, Measure::Chars),
        "message": cut(&message, MESSAGE_BYTES, Measure::Bytes),
        "tags": [tag],
        "priority": priority,
    });
    if let Some(url) = link(notice) {
        out["click"] = json!(url);
    }
    out
}

/// What the server's answer means.
pub fn answer(answer: &Answer<'_>) -> Result<(), Refusal> {
    if (200..300).contains(&answer.status) {
        return Ok(());
    }
    let error: Value = serde_json::from_str(answer.body).unwrap_or_default();
    let said = match (error["error"].as_str(), error["code"].as_u64()) {
        (Some(message), Some(code)) => format!("{message} (code {code})"),
        _ => answer.body.to_owned(),
    };
    let hint = match answer.status {
        401 => Some("the access token was refused: make a new one (ntfy token add) and edit the channel"),
        403 => Some("the topic is protected: give an access token allowed to publish to it"),
        400 | 413 => Some("ntfy found the message malformed: a defect of the orchestrator, please report it"),
        _ => None,
    };
    Err(refusal(answer, &said, hint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::formats::Retry;
    use crate::notify::formats::tests::failure;

    #[test]
    fn the_message_is_json_for_the_servers_root() {
        let payload = payload(&failure("pg_dump: conexión rechazada"), "backups-7f3a");
        assert_eq!(
            payload,
            json!({
                "topic": "backups-7f3a",
                "title": "billing: backup failed during export",
                "message": "pg_dump: conexión rechazada\n\nApp: billing\nRun: 12 (scheduled): failed after 3 attempt(s) during export\nAt: 2025-01-01T03:00:10Z",
                "tags": ["rotating_light"],
                "priority": 4,
                "click": "https://backups.example.org/runs/12",
            })
        );
    }

    #[test]
    fn a_long_reason_is_cut_so_the_message_stays_within_4096_bytes() {
        for reason in ["ñ".repeat(10_000), "😀".repeat(10_000), "a".repeat(4095)] {
            let payload = payload(&failure(&reason), "t");
            let message = payload["message"].as_str().unwrap();
            assert!(message.len() <= MESSAGE_BYTES, "{}", message.len());
            assert!(message.len() >= MESSAGE_BYTES - 4, "{}", message.len());
            assert!(message.ends_with("At: 2025-01-01T03:00:10Z"), "the facts are kept");
        }
    }

    #[test]
    fn long_facts_and_titles_are_cut_too() {
        let mut notice = failure(&"r".repeat(10_000));
        notice.summary = "s".repeat(1000);
        notice.since = Some("w".repeat(10_000));
        notice.last_verified_at = Some("v".repeat(10_000));
        let payload = payload(&notice, "t");
        assert!(payload["message"].as_str().unwrap().len() <= MESSAGE_BYTES);
        assert_eq!(payload["title"].as_str().unwrap().chars().count(), TITLE);
    }

    #[test]
    fn ntfys_answers_read_as_documented() {
        let read = |status, body: &'static str| answer(&Answer { status, retry_after: None, body });
        assert_eq!(read(200, r#"{"id":"x","event":"message"}"#), Ok(()));
        let forbidden = read(
            403,
            r#"{"code":40301,"http":403,"error":"forbidden","link":"https://ntfy.sh/docs/publish/#authentication"}"#,
        );
        let forbidden = forbidden.unwrap_err();
        assert!(
            forbidden.detail.starts_with("403 Forbidden: forbidden (code 40301) (the topic is protected"),
            "{forbidden:?}"
        );
        assert_eq!(forbidden.retry, Retry::Never);
        let limited = read(429, r#"{"code":42901,"http":429,"error":"limit reached: too many requests"}"#);
        assert_eq!(limited.unwrap_err().retry, Retry::Later);
    }
}
