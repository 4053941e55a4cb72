//! Microsoft Teams, through a Workflows webhook ("When a Teams webhook request is received"; the
//! Office 365 connectors it replaces are retired).
//!
//! - Workflows post Adaptive Cards only, sent as a `message` whose attachment has the content
//!   type `application/vnd.microsoft.card.adaptive`
//!   (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using).
//! - A card: `type` AdaptiveCard, a `version`, a `body` of elements (TextBlock, FactSet) and
//!   `actions` (Action.OpenUrl) (https://adaptivecards.io/explorer/).
//! - A posted message is at most about 28 KB, else the post fails with "Request Entity too
//!   large" (https://learn.microsoft.com/en-us/connectors/teams/#known-issues-and-limitations).
//! - The trigger answers 202 Accepted (it runs the flow afterwards); a URL whose `sig` is wrong
//!   is refused with 401, a workflow that is gone with 404, and a busy one with 429
//!   (https://learn.microsoft.com/en-us/azure/connectors/connectors-native-reqres).

use serde_json::{Value, json};

use super::{Answer, Measure, Refusal, Tone, facts, fit, link, link_text, refusal, tone};
use crate::notify::message::Notice;

/// The whole request body, in bytes: under the "about 28 KB" a message may be.
pub const MESSAGE_BYTES: usize = 28_000;
/// The first try at the reason's length; halved until the card fits.
const REASON: usize = 12_000;

fn color(tone: Tone) -> &'static str {
    match tone {
        Tone::Bad => "Attention",
        Tone::Warning => "Warning",
        Tone::Good => "Good",
        Tone::Neutral => "Default",
    }
}

fn card(notice: &Notice, reason_room: usize) -> Value {
    let text = |t: &str, room: usize| fit(t, room, Measure::Chars, str::to_owned);
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": text(&notice.summary, 500),
        "weight": "Bolder",
        "size": "Medium",
        "color": color(tone(notice.event)),
        "wrap": true,
    })];
    if let Some(reason) = notice.reason.as_deref().filter(|_| reason_room > 0) {
        body.push(json!({"type": "TextBlock", "text": text(reason, reason_room), "wrap": true}));
    }
    let facts: Vec<Value> =
        facts(notice).into_iter().map(|(title, value)| json!({"title": title, "value": text(&value, 500)})).collect();
    body.push(json!({"type": "FactSet", "facts": facts}));
    let actions: Vec<Value> = link(notice)
        .map(|url| json!({"type": "Action.OpenUrl", "title": link_text(notice), "url": url}))
        .into_iter()
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": actions,
            },
        }],
    })
}

/// The message: a card with the summary as its title, the reason, the facts, and a button to
/// the orchestrator's page; within [`MESSAGE_BYTES`] however long the reason.
pub fn payload(notice: &Notice) -> Value {
    let mut room = REASON;
    loop {
        let card = card(notice, room);
        if room == 0 || card.to_string().len() <= MESSAGE_BYTES {
            return card;
        }
        room /= 2;
    }
}

/// What the workflow's answer means.
pub fn answer(answer: &Answer<'_>) -> Result<(), Refusal> {
    if (200..300).contains(&answer.status) {
        return Ok(());
    }
    // Logic Apps errors are {"error": {"code": ..., "message": ...}}.
    let error: Value = serde_json::from_str(answer.body).unwrap_or_default();
    let said = match (error["error"]["code"].as_str(), error["error"]["message"].as_str()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => answer.body.to_owned(),
    };
    let hint = match answer.status {
        401 | 403 => Some("the workflow refused the URL's signature: copy the URL from the workflow's trigger again"),
        404 => Some("there is no such workflow: it was deleted or turned off"),
        413 => Some("the card is too large: a defect of the orchestrator, please report it"),
        400 => Some("the workflow refused the request: a defect of the orchestrator, please report it"),
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
    fn the_message_is_an_adaptive_card_as_workflows_expect() {
        let payload = payload(&failure("pg_dump: connection refused"));
        assert_eq!(payload["type"], "message");
        let attachment = &payload["attachments"][0];
        assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
        assert!(attachment["contentUrl"].is_null());
        let card = &attachment["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        assert_eq!(card["$schema"], "http://adaptivecards.io/schemas/adaptive-card.json");
        assert_eq!(card["body"][0]["text"], "billing: backup failed during export");
        assert_eq!(card["body"][0]["color"], "Attention");
        assert_eq!(card["body"][1]["text"], "pg_dump: connection refused");
        assert_eq!(card["body"][2]["type"], "FactSet");
        assert_eq!(card["body"][2]["facts"][0], json!({"title": "App", "value": "billing"}));
        assert_eq!(
            card["actions"][0],
            json!({"type": "Action.OpenUrl", "title": "Open in the backup orchestrator", "url": "https://backups.example.org/runs/12"})
        );
    }

    #[test]
    fn a_long_reason_is_cut_so_the_message_stays_within_28_kb() {
        // Quotes and control characters take several bytes each once in JSON.
        for reason in ["é".repeat(50_000), "\"\u{1}".repeat(50_000), "x".repeat(50_000)] {
            let payload = payload(&failure(&reason));
            let size = payload.to_string().len();
            assert!(size <= MESSAGE_BYTES, "{size}");
            let kept = payload["attachments"][0]["content"]["body"][1]["text"].as_str().unwrap();
            assert!(kept.ends_with('…') && kept.len() > 1000, "{}", kept.len());
        }
    }

    #[test]
    fn the_workflows_answers_read_as_documented() {
        let read = |status, body: &'static str| answer(&Answer { status, retry_after: None, body });
        assert_eq!(read(202, ""), Ok(()));
        let unsigned = read(
            401,
            r#"{"error":{"code":"DirectApiAuthorizationRequired","message":"The request must be authenticated."}}"#,
        )
        .unwrap_err();
        assert!(
            unsigned
                .detail
                .starts_with("401 Unauthorized: DirectApiAuthorizationRequired: The request must be authenticated.")
        );
        assert!(unsigned.detail.contains("copy the URL"));
        assert_eq!(unsigned.retry, Retry::Never);
        assert_eq!(read(502, "").unwrap_err().retry, Retry::Later);
        assert_eq!(read(429, "").unwrap_err().retry, Retry::Later);
    }
}
