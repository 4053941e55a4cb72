//! Telegram, through a bot's `sendMessage`.
//!
//! - `POST {api}/bot<token>/sendMessage` with a JSON body; `chat_id` is an integer or a
//!   channel's `@username`; `text` is 1 to 4,096 characters after entities are parsed;
//!   `parse_mode` HTML; `link_preview_options` (https://core.telegram.org/bots/api#sendmessage,
//!   https://core.telegram.org/bots/api#linkpreviewoptions).
//! - In HTML, `<`, `>` and `&` that are not part of a tag or entity are written `&lt;`, `&gt;`
//!   and `&amp;`; `<b>` and `<a href="...">` are among the tags allowed
//!   (https://core.telegram.org/bots/api#html-style). Entity offsets and lengths count UTF-16
//!   code units (https://core.telegram.org/bots/api#messageentity), as we do.
//! - Answers are `{"ok": true, "result": ...}` or `{"ok": false, "error_code": N,
//!   "description": "..."}`, with `parameters.retry_after` (seconds) when flooded and
//!   `parameters.migrate_to_chat_id` when a group became a supergroup
//!   (https://core.telegram.org/bots/api#making-requests,
//!   https://core.telegram.org/bots/api#responseparameters).
//!
//! The token is in the request's path: no message here ever holds the URL.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Answer, Measure, Refusal, Retry, facts, fit, link, link_text, refusal};
use crate::notify::message::Notice;

/// A message's text, once entities are parsed.
pub const TEXT: usize = 4096;
/// The summary's share.
const SUMMARY: usize = 512;
/// Each fact's share.
const FACT: usize = 300;

/// `text` as HTML shows it literally.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn escape_attribute(text: &str) -> String {
    escape(text).replace('"', "&quot;")
}

/// The JSON of `sendMessage` to `chat_id`: the summary in bold, the reason, the facts, and a
/// link to the orchestrator's page (without a preview of it), within [`TEXT`] characters.
pub fn payload(notice: &Notice, chat_id: &str) -> Value {
    // What is shown is measured before escaping: Telegram counts the text its entities leave.
    let shown = |t: &str, room: usize| fit(t, room, Measure::Chars, str::to_owned);
    let summary = shown(&notice.summary, SUMMARY);
    let facts: Vec<String> = facts(notice)
        .into_iter()
        .map(|(label, value)| {
            let label = format!("{label}: ");
            let value = shown(&value, FACT.saturating_sub(Measure::Chars.of(&label)));
            format!("{label}{value}")
        })
        .collect();
    let url = link(notice);
    let mut lines_shown = Measure::Chars.of(&summary) + facts.iter().map(|f| Measure::Chars.of(f) + 1).sum::<usize>();
    if url.is_some() {
        lines_shown += Measure::Chars.of(link_text(notice)) + 1;
    }
    let mut html = vec![format!("<b>{}</b>", escape(&summary))];
    if let Some(reason) = &notice.reason {
        // The reason's own line break, and the blank line after it.
        let room = TEXT.saturating_sub(lines_shown + 2);
        html.push(escape(&shown(reason, room)));
        html.push(String::new());
    }
    html.extend(facts.iter().map(|f| escape(f)));
    if let Some(url) = url {
        html.push(format!("<a href=\"{}\">{}</a>", escape_attribute(url), escape(link_text(notice))));
    }
    let chat_id = match chat_id.parse::<i64>() {
        Ok(id) => json!(id),
        Err(_) => json!(chat_id),
    };
    json!({
        "chat_id": chat_id,
        "text": html.join("\n"),
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": true},
    })
}

/// What the Bot API's answer means.
pub fn answer(answer: &Answer<'_>) -> Result<(), Refusal> {
    let body: Value = serde_json::from_str(answer.body).unwrap_or_default();
    if (200..300).contains(&answer.status) && body["ok"] == json!(true) {
        return Ok(());
    }
    let Some(description) = body["description"].as_str() else {
        // Not the Bot API speaking (a proxy, or the wrong server): its status says enough.
        let hint = (answer.status == 404).then_some("is the Bot API server's address right?");
        return Err(refusal(answer, answer.body, hint));
    };
    let parameters = &body["parameters"];
    if let Some(chat) = parameters["migrate_to_chat_id"].as_i64() {
        let hint = format!("the group became a supergroup: set the chat id to {chat}");
        return Err(refusal(answer, description, Some(&hint)));
    }
    let hint = match answer.status {
        401 => Some("Telegram refused the bot token: check it with @BotFather"),
        403 => Some("the bot may not write to this chat: add it to the group or channel, or unblock it"),
        400 if description.contains("chat not found") => {
            Some("the bot does not know this chat: check the chat id, and that the bot was added to it")
        }
        400 => Some("Telegram found the message malformed: a defect of the orchestrator, please report it"),
        _ => None,
    };
    let mut refused = refusal(answer, description, hint);
    if let Some(after) = parameters["retry_after"].as_u64() {
        refused.retry = Retry::After(Duration::from_secs(after));
    }
    Err(refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::formats::tests::failure;

    /// The text Telegram shows: tags dropped, entities read.
    fn shown(html: &str) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
    }

    #[test]
    fn the_message_is_html_with_the_summary_in_bold_and_a_link() {
        let payload = payload(&failure("pg_dump: <connection> refused & gave up"), "-1001234567890");
        assert_eq!(payload["chat_id"], json!(-1001234567890i64));
        assert_eq!(payload["parse_mode"], "HTML");
        assert_eq!(payload["link_preview_options"], json!({"is_disabled": true}));
        assert_eq!(
            payload["text"],
            "<b>billing: backup failed during export</b>\n\
             pg_dump: &lt;connection&gt; refused &amp; gave up\n\
             \n\
             App: billing\n\
             Run: 12 (scheduled): failed after 3 attempt(s) during export\n\
             At: 2025-01-01T03:00:10Z\n\
             <a href=\"https://backups.example.org/runs/12\">Open in the backup orchestrator</a>"
        );
    }

    #[test]
    fn a_channel_username_is_sent_as_a_string() {
        assert_eq!(payload(&failure("x"), "@backups_channel")["chat_id"], "@backups_channel");
    }

    #[test]
    fn a_long_reason_is_cut_so_the_shown_text_stays_within_4096_characters() {
        for reason in ["<&>".repeat(5000), "😀".repeat(5000), "a".repeat(5000)] {
            let payload = payload(&failure(&reason), "42");
            let text = shown(payload["text"].as_str().unwrap());
            assert!(Measure::Chars.of(&text) <= TEXT, "{}", Measure::Chars.of(&text));
            assert!(Measure::Chars.of(&text) >= TEXT - 2, "the room is used");
            assert!(text.contains('…'));
        }
    }

    #[test]
    fn long_summaries_and_facts_are_cut_too() {
        let mut notice = failure(&"r".repeat(5000));
        notice.summary = "s".repeat(5000);
        notice.since = Some("w".repeat(5000));
        let text = shown(payload(&notice, "42")["text"].as_str().unwrap());
        assert!(Measure::Chars.of(&text) <= TEXT);
        assert!(text.starts_with(&format!("{}…\n", "s".repeat(SUMMARY - 1))));
    }

    #[test]
    fn the_bot_apis_answers_read_as_documented() {
        let read = |status, body: &'static str| answer(&Answer { status, retry_after: None, body });
        assert_eq!(read(200, r#"{"ok":true,"result":{"message_id":1}}"#), Ok(()));
        let unknown = read(400, r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#);
        let unknown = unknown.unwrap_err();
        assert!(unknown.detail.starts_with("400 Bad Request: Bad Request: chat not found (the bot does not know"));
        assert_eq!(unknown.retry, Retry::Never);
        let flooded = read(
            429,
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#,
        );
        assert_eq!(flooded.unwrap_err().retry, Retry::After(Duration::from_secs(3)));
        let migrated = read(
            400,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001}}"#,
        );
        assert!(migrated.unwrap_err().detail.contains("set the chat id to -1001"));
        assert!(
            read(401, r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#)
                .unwrap_err()
                .detail
                .contains("@BotFather")
        );
        assert_eq!(read(502, "<html>Bad Gateway</html>").unwrap_err().retry, Retry::Later);
    }
}
