//! Telegram's Bot API (`sendMessage`), as Telegram documents it.
//!
//! Rules, and where they come from:
//! - Requests are `https://api.telegram.org/bot<token>/METHOD`, by GET or POST, with
//!   parameters in the query, `application/x-www-form-urlencoded`, `application/json` or
//!   `multipart/form-data`; method names are case-insensitive; answers are JSON with `ok`, and
//!   `result`, or `error_code` and `description` (and `parameters`)
//!   (https://core.telegram.org/bots/api#making-requests).
//! - A token Telegram does not know is `401 Unauthorized`; an unknown method `404 Not Found`
//!   (https://core.telegram.org/bots/api#making-requests, as the API answers).
//! - `sendMessage` needs `chat_id` (an integer, or `@channelusername`) and `text`, 1 to 4,096
//!   characters after entities are parsed; `parse_mode` is `HTML`, `MarkdownV2` or `Markdown`;
//!   `link_preview_options` is a LinkPreviewOptions object
//!   (https://core.telegram.org/bots/api#sendmessage,
//!   https://core.telegram.org/bots/api#linkpreviewoptions). Characters are counted in UTF-16
//!   code units, as entities are (https://core.telegram.org/bots/api#messageentity).
//! - HTML: only the tags listed (`b`, `strong`, `i`, `em`, `u`, `ins`, `s`, `strike`, `del`,
//!   `span class="tg-spoiler"`, `tg-spoiler`, `a href`, `tg-emoji`, `code`, `pre`,
//!   `blockquote`); every `<`, `>` and `&` not part of a tag or entity must be escaped; only
//!   `&lt;`, `&gt;`, `&amp;`, `&quot;` and numerical entities are read
//!   (https://core.telegram.org/bots/api#html-style). A text that breaks this is refused with
//!   400 "Bad Request: can't parse entities: ...". The double checks HTML only: the other modes
//!   are taken as they are.
//! - When flooded: `429` with `parameters.retry_after`
//!   (https://core.telegram.org/bots/api#responseparameters).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value, json};

use super::{Receiver, Reply, Request, utf16_len};

/// The bot's token.
pub const TOKEN: &str = "7012345678:AAFz3k9QmX2vB8nR4tY6uI1oP0aS5dF7gHj";
/// The chat the bot is in.
pub const CHAT: i64 = -1001234567890;

/// How the double behaves.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The first this many messages are refused with 429 and `retry_after: 1`.
    pub flood_first: usize,
}

/// Starts the double; it is the Bot API server at `url`.
pub async fn start(options: Options) -> Receiver {
    let seen = Arc::new(AtomicUsize::new(0));
    Receiver::serve(Arc::new(move |r: &Request| rules(&options, &seen, r)), None).await
}

fn refused(status: u16, description: &str) -> Reply {
    Reply::json(status, json!({"ok": false, "error_code": status, "description": description}))
}

fn parameters(r: &Request) -> Option<Map<String, Value>> {
    let mut params: Map<String, Value> =
        super::form_pairs(&r.query).into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    match r.media_type().as_str() {
        "application/json" => params.extend(r.json_object()?),
        "application/x-www-form-urlencoded" => {
            let body = String::from_utf8_lossy(&r.body).into_owned();
            params.extend(super::form_pairs(&body).into_iter().map(|(k, v)| (k, Value::String(v))));
        }
        _ => {}
    }
    Some(params)
}

fn rules(options: &Options, seen: &AtomicUsize, r: &Request) -> Reply {
    let Some((token, method)) = r.path.strip_prefix("/bot").and_then(|p| p.split_once('/')) else {
        return Reply::text(404, "404 page not found");
    };
    if token != TOKEN {
        return refused(401, "Unauthorized");
    }
    if !method.eq_ignore_ascii_case("sendMessage") {
        return refused(404, "Not Found");
    }
    if r.method != axum::http::Method::POST && r.method != axum::http::Method::GET {
        return refused(404, "Not Found");
    }
    let Some(params) = parameters(r) else {
        return refused(400, "Bad Request: can't parse JSON object");
    };
    let chat = match params.get("chat_id") {
        None => return refused(400, "Bad Request: chat_id is empty"),
        Some(Value::Number(n)) => n.as_i64().map(|n| n.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => None,
    };
    let Some(chat) = chat.filter(|c| !c.is_empty()) else { return refused(400, "Bad Request: chat_id is empty") };
    if chat != CHAT.to_string() {
        return refused(400, "Bad Request: chat not found");
    }
    let text = match params.get("text") {
        Some(Value::String(t)) => t.clone(),
        _ => return refused(400, "Bad Request: message text is empty"),
    };
    let mode = match params.get("parse_mode") {
        None => String::new(),
        Some(Value::String(m)) => m.clone(),
        Some(_) => return refused(400, "Bad Request: unsupported parse_mode"),
    };
    let parsed = match mode.as_str() {
        "" | "Markdown" | "MarkdownV2" => Ok(Parsed { text: text.clone(), bold: Vec::new(), links: Vec::new() }),
        m if m.eq_ignore_ascii_case("html") => parse_html(&text),
        _ => return refused(400, "Bad Request: unsupported parse_mode"),
    };
    let parsed = match parsed {
        Ok(p) => p,
        Err(why) => return refused(400, &format!("Bad Request: can't parse entities: {why}")),
    };
    if parsed.text.trim().is_empty() {
        return refused(400, "Bad Request: message text is empty");
    }
    if utf16_len(&parsed.text) > 4096 {
        return refused(400, "Bad Request: message is too long");
    }
    let preview_disabled = match params.get("link_preview_options") {
        None => false,
        Some(Value::Object(o)) => o.get("is_disabled").and_then(Value::as_bool).unwrap_or(false),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(o)) => o.get("is_disabled").and_then(Value::as_bool).unwrap_or(false),
            _ => return refused(400, "Bad Request: can't parse link preview options JSON object"),
        },
        Some(_) => return refused(400, "Bad Request: can't parse link preview options JSON object"),
    };
    if seen.fetch_add(1, Ordering::SeqCst) < options.flood_first {
        return Reply::json(
            429,
            json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}),
        );
    }
    let shown = json!({
        "chat_id": chat,
        "text": parsed.text,
        "bold": parsed.bold,
        "links": parsed.links,
        "preview_disabled": preview_disabled,
    });
    Reply::json(
        200,
        json!({"ok": true, "result": {"message_id": seen.load(Ordering::SeqCst), "date": 0, "chat": {"id": CHAT, "type": "supergroup"}, "text": parsed.text}}),
    )
    .showing(shown)
}

/// A text once its entities are parsed: what it shows, the bold spans and the links.
struct Parsed {
    text: String,
    bold: Vec<String>,
    links: Vec<Value>,
}

const TAGS: [&str; 16] = [
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
];

fn entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// Reads the entities at the start of `rest` (after a `&`): the character, and the bytes read.
fn read_entity(rest: &str) -> Option<(char, usize)> {
    let end = rest.find(';').filter(|e| *e <= 10)?;
    Some((entity(&rest[..end])?, end + 1))
}

fn unescape_attribute(value: &str) -> Option<String> {
    let mut out = String::new();
    let mut i = 0;
    while i < value.len() {
        let c = value[i..].chars().next()?;
        if c == '&' {
            let (decoded, used) = read_entity(&value[i + 1..])?;
            out.push(decoded);
            i += used + 1;
        } else {
            out.push(c);
            i += c.len_utf8();
        }
    }
    Some(out)
}

fn parse_html(html: &str) -> Result<Parsed, String> {
    let mut text = String::new();
    let mut open: Vec<(String, usize, Option<String>)> = Vec::new();
    let mut bold = Vec::new();
    let mut links = Vec::new();
    let mut i = 0;
    while i < html.len() {
        let c = html[i..].chars().next().unwrap();
        match c {
            '<' => {
                let close = html[i..].find('>').ok_or(format!("Unclosed start tag at byte offset {i}"))?;
                let tag = &html[i + 1..i + close];
                if let Some(name) = tag.strip_prefix('/') {
                    let name = name.trim();
                    let (opened, start, href) = open.pop().ok_or(format!("Unexpected end tag at byte offset {i}"))?;
                    if opened != name {
                        return Err(format!("Can't find end tag corresponding to start tag \"{opened}\""));
                    }
                    let inner = text[start..].to_owned();
                    match opened.as_str() {
                        "b" | "strong" => bold.push(inner),
                        "a" => links.push(json!({"text": inner, "url": href})),
                        _ => {}
                    }
                } else {
                    let (name, attributes) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
                    if !TAGS.contains(&name) {
                        return Err(format!("Unsupported start tag \"{name}\" at byte offset {i}"));
                    }
                    let href = if name == "a" {
                        let value = attributes
                            .trim()
                            .strip_prefix("href=\"")
                            .and_then(|v| v.strip_suffix('"'))
                            .ok_or(format!("Can't find href attribute of the tag \"a\" at byte offset {i}"))?;
                        Some(unescape_attribute(value).ok_or(format!("Wrong href attribute at byte offset {i}"))?)
                    } else {
                        None
                    };
                    open.push((name.to_owned(), text.len(), href));
                }
                i += close + 1;
            }
            '>' => return Err(format!("Character '>' is reserved and must be escaped, at byte offset {i}")),
            '&' => {
                let (decoded, used) =
                    read_entity(&html[i + 1..]).ok_or(format!("Unsupported HTML entity at byte offset {i}"))?;
                text.push(decoded);
                i += used + 1;
            }
            c => {
                text.push(c);
                i += c.len_utf8();
            }
        }
    }
    if let Some((name, _, _)) = open.pop() {
        return Err(format!("Can't find end tag corresponding to start tag \"{name}\""));
    }
    Ok(Parsed { text, bold, links })
}
