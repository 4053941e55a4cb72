//! Slack incoming webhooks.
//!
//! - A JSON `POST` to the webhook URL; `text` is what notifications and old clients show, and is
//!   required as the fallback when `blocks` are given (https://api.slack.com/messaging/webhooks,
//!   https://api.slack.com/reference/messaging/payload).
//! - A `section` block's text is at most 3,000 characters; a `context` block holds at most 10
//!   elements (https://api.slack.com/reference/block-kit/blocks).
//! - In `mrkdwn`, `&`, `<` and `>` are written `&amp;`, `&lt;` and `&gt;`; a link is
//!   `<url|text>` (https://api.slack.com/reference/surfaces/formatting#escaping).
//! - Slack answers 200 `ok`; or 400 `invalid_payload` / `no_text`, 403 `action_prohibited`,
//!   404 `no_service` / `channel_not_found`, 410 `channel_is_archived`, 500 `rollup_error`
//!   (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks), and
//!   429 with `Retry-After` past one message a second (https://api.slack.com/apis/rate-limits).

use serde_json::{Value, json};

use super::{Answer, Measure, Refusal, facts, fit, link, link_text, refusal};
use crate::notify::message::Notice;

/// A section's text, and any text object's here.
pub const SECTION_TEXT: usize = 3000;
/// Elements of a context block.
pub const CONTEXT_ELEMENTS: usize = 10;
/// The summary's share of the first section.
const SUMMARY: usize = 500;

/// `text` as `mrkdwn` shows it literally.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": text})
}

/// The message: the summary as fallback `text`; a section with the summary in bold and the
/// reason; a context line per fact; and a link to the orchestrator's page.
pub fn payload(notice: &Notice) -> Value {
    let summary = fit(&notice.summary, SUMMARY, Measure::Chars, escape);
    let mut first = format!("*{summary}*");
    if let Some(reason) = &notice.reason {
        let room = SECTION_TEXT - Measure::Chars.of(&first) - 1;
        first.push('\n');
        first.push_str(&fit(reason, room, Measure::Chars, escape));
    }
    let mut blocks = vec![json!({"type": "section", "text": mrkdwn(first)})];
    let elements: Vec<Value> = facts(notice)
        .into_iter()
        .take(CONTEXT_ELEMENTS)
        .map(|(label, value)| {
            let label = format!("*{label}:* ");
            let room = SECTION_TEXT - Measure::Chars.of(&label);
            mrkdwn(format!("{label}{}", fit(&value, room, Measure::Chars, escape)))
        })
        .collect();
    blocks.push(json!({"type": "context", "elements": elements}));
    if let Some(url) = link(notice) {
        // A `|` or `>` in the URL would end the link early.
        let url = escape(url).replace('|', "%7C");
        blocks.push(json!({"type": "section", "text": mrkdwn(format!("<{url}|{}>", link_text(notice)))}));
    }
    json!({"text": summary, "blocks": blocks})
}

/// What Slack's answer means.
pub fn answer(answer: &Answer<'_>) -> Result<(), Refusal> {
    if (200..300).contains(&answer.status) {
        return Ok(());
    }
    let said = answer.body.trim();
    let hint = match said {
        "invalid_payload" | "no_text" | "invalid_blocks" | "invalid_blocks_format" => {
            Some("Slack found the message malformed: a defect of the orchestrator, please report it")
        }
        "action_prohibited" => Some("the workspace's admins restrict this webhook"),
        "no_service" | "no_team" | "invalid_token" | "channel_not_found" => {
            Some("the webhook was removed or its URL is wrong: make a new one in Slack and edit the channel")
        }
        "channel_is_archived" => Some("the channel is archived: unarchive it, or make a webhook for another one"),
        _ => None,
    };
    Err(refusal(answer, said, hint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::formats::Retry;
    use crate::notify::formats::tests::failure;

    fn texts(payload: &Value) -> Vec<String> {
        let mut out = vec![payload["text"].as_str().unwrap().to_owned()];
        for block in payload["blocks"].as_array().unwrap() {
            if let Some(t) = block["text"]["text"].as_str() {
                out.push(t.to_owned());
            }
            for e in block["elements"].as_array().into_iter().flatten() {
                out.push(e["text"].as_str().unwrap().to_owned());
            }
        }
        out
    }

    #[test]
    fn the_message_has_a_fallback_a_section_a_context_and_a_link() {
        let payload = payload(&failure("pg_dump: connection refused"));
        assert_eq!(payload["text"], "billing: backup failed during export");
        let blocks = payload["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "section");
        assert_eq!(blocks[0]["text"]["type"], "mrkdwn");
        assert_eq!(blocks[0]["text"]["text"], "*billing: backup failed during export*\npg_dump: connection refused");
        assert_eq!(blocks[1]["type"], "context");
        assert_eq!(blocks[1]["elements"][0]["text"], "*App:* billing");
        assert_eq!(blocks[2]["text"]["text"], "<https://backups.example.org/runs/12|Open in the backup orchestrator>");
    }

    #[test]
    fn angle_brackets_and_ampersands_are_escaped() {
        let payload = payload(&failure("<html> & <body>"));
        assert!(payload["blocks"][0]["text"]["text"].as_str().unwrap().ends_with("&lt;html&gt; &amp; &lt;body&gt;"));
    }

    #[test]
    fn a_long_reason_is_cut_so_the_section_stays_within_3000_characters() {
        let payload = payload(&failure(&"é<".repeat(4000)));
        let text = payload["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(Measure::Chars.of(text) <= SECTION_TEXT, "{}", text.len());
        assert!(text.ends_with('…'));
        assert!(Measure::Chars.of(text) > SECTION_TEXT - 10, "the room is used");
        for t in texts(&payload) {
            assert!(Measure::Chars.of(&t) <= SECTION_TEXT);
        }
    }

    #[test]
    fn a_long_summary_is_cut_in_the_fallback_and_the_section() {
        let mut notice = failure("x");
        notice.summary = "s".repeat(10_000);
        let payload = payload(&notice);
        assert_eq!(Measure::Chars.of(payload["text"].as_str().unwrap()), SUMMARY);
        assert!(payload["blocks"][0]["text"]["text"].as_str().unwrap().starts_with(&format!("*{}", "s".repeat(10))));
    }

    #[test]
    fn the_context_never_has_more_than_10_elements_nor_long_texts() {
        let mut notice = failure("x");
        notice.last_verified_at = Some("v".repeat(5000));
        notice.since = Some("s".repeat(5000));
        let payload = payload(&notice);
        let elements = payload["blocks"][1]["elements"].as_array().unwrap();
        assert!(elements.len() <= CONTEXT_ELEMENTS);
        for e in elements {
            assert!(Measure::Chars.of(e["text"].as_str().unwrap()) <= SECTION_TEXT);
        }
    }

    #[test]
    fn without_a_link_there_is_no_link_block() {
        let mut notice = failure("x");
        notice.link = None;
        assert_eq!(payload(&notice)["blocks"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn slacks_answers_read_as_documented() {
        let read = |status, body: &'static str| answer(&Answer { status, retry_after: None, body });
        assert_eq!(read(200, "ok"), Ok(()));
        let archived = read(410, "channel_is_archived").unwrap_err();
        assert!(archived.detail.starts_with("410 Gone: channel_is_archived (the channel is archived"), "{archived:?}");
        assert_eq!(archived.retry, Retry::Never);
        assert_eq!(read(404, "no_service").unwrap_err().retry, Retry::Never);
        assert!(read(400, "invalid_payload").unwrap_err().detail.contains("a defect"));
        assert_eq!(read(500, "rollup_error").unwrap_err().retry, Retry::Later);
        let limited = answer(&Answer { status: 429, retry_after: Some(std::time::Duration::from_secs(2)), body: "" })
            .unwrap_err();
        assert_eq!(limited.retry, Retry::After(std::time::Duration::from_secs(2)));
    }
}
