//! A Slack incoming webhook, as Slack documents it.
//!
//! Rules, and where they come from:
//! - The webhook takes an HTTP `POST` of a JSON payload to its URL, `/services/T…/B…/<secret>`;
//!   any other URL is `404 no_service` (https://api.slack.com/messaging/webhooks, "Handling
//!   errors").
//! - A body that is not JSON, or not an object, is `400 invalid_payload`
//!   (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks).
//! - `text` is required, as the notification's fallback, even when `blocks` are given: without
//!   it, `400 no_text` (https://api.slack.com/messaging/webhooks, "Handling errors";
//!   https://api.slack.com/reference/messaging/payload).
//! - `blocks` is an array of at most 50 blocks; a `section` has a text object of 1 to 3,000
//!   characters (or up to 10 `fields` of at most 2,000); a `context` has 1 to 10 elements; a
//!   text object's `type` is `mrkdwn` or `plain_text`. A block that breaks these is
//!   `400 invalid_blocks` (https://api.slack.com/reference/block-kit/blocks,
//!   https://api.slack.com/reference/block-kit/composition-objects#text).
//! - In `mrkdwn`, `<...>` is a link (`<url|label>`) or a mention, and `&amp;`, `&lt;`, `&gt;`
//!   stand for `&`, `<`, `>`: an unescaped `<` swallows what follows as a link
//!   (https://api.slack.com/reference/surfaces/formatting#escaping). What is shown is rendered so.
//! - An archived channel is `410 channel_is_archived`; past one message a second, `429` with
//!   `Retry-After` (https://api.slack.com/apis/rate-limits). Success is `200 ok`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use super::{Receiver, Reply, Request};

/// The webhook path the double knows.
pub const PATH: &str = "/services/T0001TEST/B0001TEST/dbHn0wYvP1kX8s2QmZ7cLr4A";

/// How the double behaves.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The channel was archived: every message is refused with 410.
    pub archived: bool,
    /// The first this many messages are refused with 429 (`Retry-After: 1`).
    pub rate_limit_first: usize,
}

/// Starts the double; the webhook URL is `url + PATH`.
pub async fn start(options: Options) -> Receiver {
    let seen = Arc::new(AtomicUsize::new(0));
    Receiver::serve(Arc::new(move |r: &Request| rules(&options, &seen, r)), None).await
}

fn rules(options: &Options, seen: &AtomicUsize, r: &Request) -> Reply {
    if r.path != PATH {
        return Reply::text(404, "no_service");
    }
    if r.method != axum::http::Method::POST {
        return Reply::text(405, "invalid_method");
    }
    if r.media_type() != "application/json" {
        return Reply::text(400, "invalid_payload");
    }
    let Some(payload) = r.json_object() else { return Reply::text(400, "invalid_payload") };
    let Some(text) = payload.get("text").and_then(Value::as_str).filter(|t| !t.trim().is_empty()) else {
        return Reply::text(400, "no_text");
    };
    let mut lines = Vec::new();
    let mut links = Vec::new();
    if let Some(blocks) = payload.get("blocks")
        && let Err(why) = check_blocks(blocks, &mut lines, &mut links)
    {
        return Reply::text(400, "invalid_blocks").because(why);
    }
    if options.archived {
        return Reply::text(410, "channel_is_archived");
    }
    if seen.fetch_add(1, Ordering::SeqCst) < options.rate_limit_first {
        return Reply::text(429, "rate_limited").with_header("retry-after", "1".into());
    }
    let (fallback, _) = render(text);
    Reply::text(200, "ok").showing(json!({"fallback": fallback, "lines": lines, "links": links}))
}

fn check_text(object: &Value, max: usize, lines: &mut Vec<String>, links: &mut Vec<Value>) -> Result<(), String> {
    let kind = object["type"].as_str().unwrap_or_default();
    let Some(text) = object["text"].as_str() else { return Err("a text object without text".into()) };
    if kind != "mrkdwn" && kind != "plain_text" {
        return Err(format!("text object type {kind:?}"));
    }
    let length = text.chars().count();
    if length == 0 || length > max {
        return Err(format!("a text of {length} characters (1 to {max})"));
    }
    if kind == "mrkdwn" {
        let (shown, found) = render(text);
        lines.push(shown);
        links.extend(found);
    } else {
        lines.push(text.to_owned());
    }
    Ok(())
}

fn check_blocks(blocks: &Value, lines: &mut Vec<String>, links: &mut Vec<Value>) -> Result<(), String> {
    let Some(blocks) = blocks.as_array() else { return Err("blocks is not an array".into()) };
    if blocks.len() > 50 {
        return Err(format!("{} blocks (at most 50)", blocks.len()));
    }
    for block in blocks {
        match block["type"].as_str() {
            Some("section") => {
                let fields = block["fields"].as_array();
                if block.get("text").is_none() && fields.is_none() {
                    return Err("a section without text or fields".into());
                }
                if let Some(text) = block.get("text") {
                    check_text(text, 3000, lines, links)?;
                }
                if let Some(fields) = fields {
                    if fields.len() > 10 {
                        return Err(format!("{} fields (at most 10)", fields.len()));
                    }
                    for field in fields {
                        check_text(field, 2000, lines, links)?;
                    }
                }
            }
            Some("context") => {
                let Some(elements) = block["elements"].as_array() else {
                    return Err("a context without elements".into());
                };
                if elements.is_empty() || elements.len() > 10 {
                    return Err(format!("a context of {} elements (1 to 10)", elements.len()));
                }
                for element in elements {
                    check_text(element, 3000, lines, links)?;
                }
            }
            Some("divider") => {}
            Some("header") => check_text(&block["text"], 150, lines, links)?,
            other => return Err(format!("block type {other:?}")),
        }
    }
    Ok(())
}

/// `mrkdwn` as Slack shows it: `*bold*` without its asterisks, `<url|label>` a link showing its
/// label, `<url>` one showing the URL, and the three escapes read. An unescaped `<` starts a
/// link to whatever follows.
fn render(text: &str) -> (String, Vec<Value>) {
    let (shown, links) = render_links(text);
    (unbold(&shown), links)
}

/// `*text*` (on one line, not empty) shows as bold text, without the asterisks.
fn unbold(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            let parts: Vec<&str> = line.split('*').collect();
            if parts.len() < 3 {
                return line.to_owned();
            }
            // Pairs of asterisks around something are markers; an odd one left stays.
            let mut out = String::new();
            let pairs = (parts.len() - 1) / 2 * 2;
            for (n, part) in parts.iter().enumerate() {
                if n > 0 && n > pairs {
                    out.push('*');
                }
                out.push_str(part);
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn render_links(text: &str) -> (String, Vec<Value>) {
    let mut shown = String::new();
    let mut links = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        shown.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            shown.push_str(after);
            rest = "";
            break;
        };
        let inner = &after[..close];
        let (target, label) = inner.split_once('|').unwrap_or((inner, inner));
        links.push(json!({"url": unescape(target), "label": unescape(label)}));
        shown.push_str(label);
        rest = &after[close + 1..];
    }
    shown.push_str(rest);
    (unescape(&shown), links)
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}
