//! Discord webhooks.
//!
//! - A JSON `POST` to the webhook URL with `content` (at most 2,000 characters) and/or `embeds`;
//!   `allowed_mentions` says whom the message may ping; without `?wait=true` Discord answers
//!   204 No Content (https://discord.com/developers/docs/resources/webhook#execute-webhook).
//! - An embed's title is at most 256 characters, its description 4,096, a field's name 256 and
//!   value 1,024, at most 25 fields, and all of an embed's texts together at most 6,000
//!   (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
//! - Past its rate limit Discord answers 429 with a JSON body whose `retry_after` is in seconds
//!   (https://discord.com/developers/docs/topics/rate-limits#exceeding-a-rate-limit); errors are
//!   JSON with a `code` and a `message` (https://discord.com/developers/docs/topics/opcodes-and-status-codes#json):
//!   10015 Unknown Webhook, 50027 Invalid Webhook Token, 50035 Invalid Form Body.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Answer, Measure, Refusal, Retry, Tone, facts, fit, link, refusal, tone};
use crate::notify::message::Notice;

/// An embed's title.
pub const TITLE: usize = 256;
/// An embed's description.
pub const DESCRIPTION: usize = 4096;
/// A field's name.
pub const FIELD_NAME: usize = 256;
/// A field's value.
pub const FIELD_VALUE: usize = 1024;
/// Fields of an embed.
pub const FIELDS: usize = 25;
/// All of an embed's texts together.
pub const EMBED_TOTAL: usize = 6000;

fn color(tone: Tone) -> u32 {
    match tone {
        Tone::Bad => 0xD83C3E,
        Tone::Warning => 0xF0B232,
        Tone::Good => 0x23A55A,
        Tone::Neutral => 0x5865F2,
    }
}

/// The message: one embed, titled with the summary and linking to the orchestrator's page, the
/// reason as its description and the facts as fields. It pings nobody, whatever the reason says.
pub fn payload(notice: &Notice) -> Value {
    let text = |t: &str, room: usize| fit(t, room, Measure::Chars, str::to_owned);
    let title = text(&notice.summary, TITLE);
    // The time is the embed's timestamp, not a field.
    let fields: Vec<(String, String)> = facts(notice)
        .into_iter()
        .filter(|(label, _)| *label != "At")
        .take(FIELDS)
        .map(|(name, value)| (text(name, FIELD_NAME), text(&value, FIELD_VALUE)))
        .collect();
    let used = Measure::Chars.of(&title)
        + fields.iter().map(|(n, v)| Measure::Chars.of(n) + Measure::Chars.of(v)).sum::<usize>();
    let mut embed = json!({
        "title": title,
        "color": color(tone(notice.event)),
        "fields": fields.iter().map(|(name, value)| json!({"name": name, "value": value, "inline": true})).collect::<Vec<_>>(),
    });
    if let Some(reason) = &notice.reason {
        let room = DESCRIPTION.min(EMBED_TOTAL.saturating_sub(used));
        embed["description"] = json!(text(reason, room));
    }
    if let Some(url) = link(notice) {
        embed["url"] = json!(url);
    }
    // Discord refuses a timestamp that is not ISO 8601.
    if notice.at.parse::<jiff::Timestamp>().is_ok() {
        embed["timestamp"] = json!(notice.at);
    }
    json!({"embeds": [embed], "allowed_mentions": {"parse": []}})
}

/// What Discord's answer means.
pub fn answer(answer: &Answer<'_>) -> Result<(), Refusal> {
    if (200..300).contains(&answer.status) {
        return Ok(());
    }
    let error: Value = serde_json::from_str(answer.body).unwrap_or_default();
    let said = match (error["message"].as_str(), error["code"].as_u64()) {
        (Some(message), Some(code)) => format!("{message} (code {code})"),
        (Some(message), None) => message.to_owned(),
        _ => answer.body.to_owned(),
    };
    if answer.status == 429 {
        let after = error["retry_after"].as_f64().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64);
        let mut refused = refusal(answer, &said, None);
        refused.retry = after.or(answer.retry_after).map_or(Retry::Later, Retry::After);
        return Err(refused);
    }
    let hint = match (answer.status, error["code"].as_u64()) {
        (401 | 404, _) | (_, Some(10015 | 50027)) => {
            Some("the webhook was deleted or its URL is wrong: copy it again from the channel's Integrations")
        }
        (400, _) => Some("Discord found the message malformed: a defect of the orchestrator, please report it"),
        _ => None,
    };
    Err(refusal(answer, &said, hint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::formats::tests::failure;

    fn embed_total(embed: &Value) -> usize {
        let len = |v: &Value| v.as_str().map_or(0, |s| Measure::Chars.of(s));
        len(&embed["title"])
            + len(&embed["description"])
            + embed["fields"].as_array().unwrap().iter().map(|f| len(&f["name"]) + len(&f["value"])).sum::<usize>()
    }

    #[test]
    fn the_message_is_one_embed_that_pings_nobody() {
        let payload = payload(&failure("pg_dump: connection refused @everyone"));
        assert_eq!(payload["allowed_mentions"], json!({"parse": []}));
        assert!(payload.get("content").is_none());
        let embed = &payload["embeds"][0];
        assert_eq!(embed["title"], "billing: backup failed during export");
        assert_eq!(embed["description"], "pg_dump: connection refused @everyone");
        assert_eq!(embed["url"], "https://backups.example.org/runs/12");
        assert_eq!(embed["color"], 0xD83C3E);
        assert_eq!(embed["timestamp"], "2025-01-01T03:00:10Z");
        assert_eq!(embed["fields"][0], json!({"name": "App", "value": "billing", "inline": true}));
        assert_eq!(embed["fields"].as_array().unwrap().len(), 2, "no field for the time");
    }

    #[test]
    fn a_long_title_is_cut_to_256_characters() {
        let mut notice = failure("x");
        notice.summary = "ñ".repeat(1000);
        let title = payload(&notice)["embeds"][0]["title"].as_str().unwrap().to_owned();
        assert_eq!(Measure::Chars.of(&title), TITLE);
        assert!(title.ends_with('…'));
    }

    #[test]
    fn a_long_reason_is_cut_to_4096_characters() {
        let payload = payload(&failure(&"😀".repeat(10_000)));
        let description = payload["embeds"][0]["description"].as_str().unwrap();
        assert!(Measure::Chars.of(description) <= DESCRIPTION);
        assert!(Measure::Chars.of(description) >= DESCRIPTION - 2);
    }

    #[test]
    fn long_field_values_are_cut_to_1024_and_the_embed_to_6000() {
        let mut notice = failure(&"r".repeat(10_000));
        notice.summary = "s".repeat(1000);
        notice.last_verified_at = Some("v".repeat(5000));
        notice.since = Some("w".repeat(5000));
        notice.app.as_mut().unwrap().name = "a".repeat(5000);
        let payload = payload(&notice);
        let embed = &payload["embeds"][0];
        for field in embed["fields"].as_array().unwrap() {
            assert!(Measure::Chars.of(field["value"].as_str().unwrap()) <= FIELD_VALUE);
            assert!(Measure::Chars.of(field["name"].as_str().unwrap()) <= FIELD_NAME);
        }
        assert!(embed_total(embed) <= EMBED_TOTAL, "{}", embed_total(embed));
        assert!(embed_total(embed) >= EMBED_TOTAL - 2, "the description takes the room left");
    }

    #[test]
    fn discords_answers_read_as_documented() {
        let read = |status, body: &'static str| answer(&Answer { status, retry_after: None, body });
        assert_eq!(read(204, ""), Ok(()));
        let limited = read(429, r#"{"message": "You are being rate limited.", "retry_after": 0.25, "global": false}"#);
        assert_eq!(limited.unwrap_err().retry, Retry::After(Duration::from_millis(250)));
        let gone = read(404, r#"{"message": "Unknown Webhook", "code": 10015}"#).unwrap_err();
        assert!(
            gone.detail.starts_with("404 Not Found: Unknown Webhook (code 10015) (the webhook was deleted"),
            "{gone:?}"
        );
        assert_eq!(gone.retry, Retry::Never);
        let malformed = read(400, r#"{"message": "Invalid Form Body", "code": 50035}"#).unwrap_err();
        assert!(malformed.detail.contains("a defect"));
        assert_eq!(read(503, "upstream").unwrap_err().retry, Retry::Later);
    }
}
