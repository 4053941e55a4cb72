//! Gotify, through `POST /message`.
//!
//! - The application's token goes in the `X-Gotify-Key` header (a query parameter would end up
//!   in proxies' logs); the JSON body has `message` (required), `title`, `priority` (an
//!   integer) and `extras` (https://gotify.net/api-docs).
//! - Extras: `client::display` with `contentType` `text/plain` or `text/markdown`, and
//!   `client::notification` with `click.url`, opened on a tap
//!   (https://gotify.net/docs/msgextras).
//! - Gotify's Android client shows priorities 1-3 quietly, 4-7 with a sound, 8-10 with sound
//!   and vibration (https://github.com/gotify/android#message-priorities).
//! - Errors are JSON: `{"error": "Unauthorized", "errorCode": 401, "errorDescription": "..."}`;
//!   a client's token (not an application's) is refused with 403 (https://gotify.net/api-docs).

use serde_json::{Value, json};

use super::{Answer, Measure, Refusal, Tone, cut, facts, link, refusal, tone};
use crate::notify::message::Notice;

/// The title's length (Gotify documents no limit; a notification's title is one line).
pub const TITLE: usize = 250;
/// The message's length (Gotify documents no limit; this keeps a phone's screen readable).
pub const MESSAGE: usize = 8000;

fn priority(tone: Tone) -> u8 {
    match tone {
        Tone::Bad => 8,
        Tone::Warning => 6,
        Tone::Good | Tone::Neutral => 4,
    }
}

/// The message: the summary as title; the reason, facts and the link as plain text; a priority
/// by event; and the orchestrator's page opened on a tap.
pub fn payload(notice: &Notice) -> Value {
    let mut lines = Vec::new();
    if let Some(reason) = &notice.reason {
        lines.push(cut(reason, MESSAGE / 2, Measure::Chars));
        lines.push(String::new());
    }
    lines.extend(facts(notice).into_iter().map(|(label, value)| format!("{label}: {value}")));
    let url = link(notice);
    if let Some(url) = url {
        lines.push(url.to_owned());
    }
    let mut extras = json!({"client::display": {"contentType": "text/plain"}});
    if let Some(url) = url {
        extras["client::notification"] = json!({"click": {"url": url}});
    }
    json!({
        "title": cut(&notice.summary, TITLE, Measure::Chars),
        "message": cut(&lines.join("\n"), MESSAGE, Measure::Chars),
        "priority": priority(tone(notice.event)),
        "extras": extras,
    })
}

/// What the server's answer means.
pub fn answer(answer: &Answer<'_>) -> Result<(), Refusal> {
    if (200..300).contains(&answer.status) {
        return Ok(());
    }
    let error: Value = serde_json::from_str(answer.body).unwrap_or_default();
    let said = error["errorDescription"].as_str().unwrap_or(answer.body);
    let hint = match answer.status {
        401 => Some("the token was refused: copy the application's token from Apps in Gotify"),
        403 => Some("this token may not send messages: use an application's token, not a client's"),
        400 => Some("Gotify found the message malformed: a defect of the orchestrator, please report it"),
        404 => Some("is the server's address right?"),
        _ => None,
    };
    Err(refusal(answer, said, hint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::formats::Retry;
    use crate::notify::formats::tests::failure;

    #[test]
    fn the_message_is_plain_text_opening_the_run_on_a_tap() {
        let payload = payload(&failure("pg_dump: connection refused"));
        assert_eq!(
            payload,
            json!({
                "title": "billing: backup failed during export",
                "message": "pg_dump: connection refused\n\nApp: billing\nRun: 12 (scheduled): failed after 3 attempt(s) during export\nAt: 2025-01-01T03:00:10Z\nhttps://backups.example.org/runs/12",
                "priority": 8,
                "extras": {
                    "client::display": {"contentType": "text/plain"},
                    "client::notification": {"click": {"url": "https://backups.example.org/runs/12"}},
                },
            })
        );
    }

    #[test]
    fn long_texts_are_cut() {
        let mut notice = failure(&"r".repeat(100_000));
        notice.summary = "s".repeat(1000);
        let payload = payload(&notice);
        assert_eq!(payload["title"].as_str().unwrap().chars().count(), TITLE);
        let message = payload["message"].as_str().unwrap();
        assert!(message.chars().count() <= MESSAGE);
        assert!(message.ends_with("https://backups.example.org/runs/12"), "the link is kept");
    }

    #[test]
    fn gotifys_answers_read_as_documented() {
        let read = |status, body: &'static str| answer(&Answer { status, retry_after: None, body });
        assert_eq!(read(200, r#"{"id":1,"appid":1,"message":"x"}"#), Ok(()));
        let refused = read(
            401,
            r#"{"error":"Unauthorized","errorCode":401,"errorDescription":"you need to provide a valid access token or user credentials to access this api"}"#,
        )
        .unwrap_err();
        assert!(refused.detail.starts_with("401 Unauthorized: you need to provide a valid access token"));
        assert!(refused.detail.contains("copy the application's token"));
        assert_eq!(refused.retry, Retry::Never);
        assert_eq!(read(500, "").unwrap_err().retry, Retry::Later);
    }
}
