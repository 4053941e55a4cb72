//! A Discord webhook, as Discord documents it.
//!
//! Rules, and where they come from:
//! - Execute Webhook is `POST /api/webhooks/{webhook.id}/{webhook.token}`, with `?wait=true`
//!   to get the message back (200) and without it `204 No Content`
//!   (https://discord.com/developers/docs/resources/webhook#execute-webhook).
//! - An unknown webhook is `404 {"message": "Unknown Webhook", "code": 10015}`; a wrong token
//!   `401 {"message": "Invalid Webhook Token", "code": 50027}`; a body that is not JSON
//!   `400` code 50109; a message with neither content nor embeds `400` code 50006 "Cannot send
//!   an empty message"; fields breaking a rule `400` code 50035 "Invalid Form Body" with the
//!   `errors` (https://discord.com/developers/docs/topics/opcodes-and-status-codes#json).
//! - `content` is at most 2,000 characters; at most 10 `embeds`
//!   (https://discord.com/developers/docs/resources/webhook#execute-webhook-jsonform-params).
//! - An embed's title is at most 256 characters, its description 4,096, at most 25 fields with
//!   a name of at most 256 and a value of at most 1,024 (both required), a footer's text 2,048,
//!   an author's name 256, and all of these together, across the message's embeds, at most
//!   6,000; `color` is an integer; `timestamp` ISO 8601; `url` a URL
//!   (https://discord.com/developers/docs/resources/message#embed-object-embed-limits,
//!   https://discord.com/developers/docs/resources/message#embed-object).
//! - `allowed_mentions.parse` lists `roles`, `users` and/or `everyone`
//!   (https://discord.com/developers/docs/resources/message#allowed-mentions-object).
//! - Past the rate limit: `429` with `{"message", "retry_after" (seconds, a float), "global"}`
//!   and the `Retry-After` header (https://discord.com/developers/docs/topics/rate-limits#exceeding-a-rate-limit).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use super::{Receiver, Reply, Request};

/// The webhook's id.
pub const ID: &str = "1234567890123456789";
/// The webhook's token.
pub const TOKEN: &str = "rT3x-Jd9_kLmN0pQrStUvWxYz1234567890AbCdEfGhIjKlMnOpQrStUvWxYz0123";

/// How the double behaves.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The first this many messages are refused with 429 and this `retry_after`, in seconds.
    pub rate_limit_first: usize,
    /// The `retry_after` of those refusals.
    pub retry_after: f64,
}

/// The webhook's path; its URL is `url + path()`.
pub fn path() -> String {
    format!("/api/webhooks/{ID}/{TOKEN}")
}

/// Starts the double.
pub async fn start(options: Options) -> Receiver {
    let seen = Arc::new(AtomicUsize::new(0));
    Receiver::serve(Arc::new(move |r: &Request| rules(&options, &seen, r)), None).await
}

fn error(status: u16, code: u32, message: &str) -> Reply {
    Reply::json(status, json!({"message": message, "code": code}))
}

fn invalid(field: &str, why: String) -> Reply {
    Reply::json(
        400,
        json!({"code": 50035, "message": "Invalid Form Body", "errors": {field: {"_errors": [{"code": "BASE_TYPE_INVALID", "message": why}]}}}),
    )
    .because(format!("{field}: {why}"))
}

fn rules(options: &Options, seen: &AtomicUsize, r: &Request) -> Reply {
    let Some((id, token)) = r.path.strip_prefix("/api/webhooks/").and_then(|p| p.split_once('/')) else {
        return error(404, 0, "404: Not Found");
    };
    if id != ID {
        return error(404, 10015, "Unknown Webhook");
    }
    if token != TOKEN {
        return error(401, 50027, "Invalid Webhook Token");
    }
    if r.method != axum::http::Method::POST {
        return error(405, 0, "405: Method Not Allowed");
    }
    let media = r.media_type();
    if media != "application/json" {
        // Discord reads form bodies too; another type leaves nothing to send.
        return error(400, 50006, "Cannot send an empty message");
    }
    let Some(message) = r.json_object() else { return error(400, 50109, "The request body contains invalid JSON.") };
    let content = match message.get("content") {
        None | Some(Value::Null) => "",
        Some(Value::String(c)) => c,
        Some(_) => return invalid("content", "must be a string".into()),
    };
    if content.chars().count() > 2000 {
        return invalid("content", format!("{} characters (at most 2000)", content.chars().count()));
    }
    let embeds = match message.get("embeds") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(e)) => e.clone(),
        Some(_) => return invalid("embeds", "must be an array".into()),
    };
    if embeds.len() > 10 {
        return invalid("embeds", format!("{} embeds (at most 10)", embeds.len()));
    }
    let mut total = 0;
    for (n, embed) in embeds.iter().enumerate() {
        match check_embed(embed) {
            Ok(chars) => total += chars,
            Err((field, why)) => return invalid(&format!("embeds.{n}.{field}"), why),
        }
    }
    if total > 6000 {
        return invalid("embeds", format!("{total} characters in all (at most 6000)"));
    }
    if let Some(mentions) = message.get("allowed_mentions") {
        let parse = mentions["parse"].as_array().cloned().unwrap_or_default();
        if let Some(bad) = parse.iter().find(|p| !matches!(p.as_str(), Some("roles" | "users" | "everyone"))) {
            return invalid("allowed_mentions.parse", format!("{bad} is not a mention type"));
        }
    }
    if content.trim().is_empty() && embeds.is_empty() {
        return error(400, 50006, "Cannot send an empty message");
    }
    if seen.fetch_add(1, Ordering::SeqCst) < options.rate_limit_first {
        let after = options.retry_after;
        return Reply::json(
            429,
            json!({"message": "You are being rate limited.", "retry_after": after, "global": false}),
        )
        .with_header("retry-after", (after.ceil() as u64).to_string());
    }
    let shown = json!({"content": content, "embeds": embeds, "allowed_mentions": message.get("allowed_mentions")});
    if r.query_param("wait").as_deref() == Some("true") {
        Reply::json(200, json!({"id": "1", "content": content, "embeds": embeds})).showing(shown)
    } else {
        Reply::empty(204).showing(shown)
    }
}

/// The characters an embed counts toward the 6,000, or the field that breaks a rule.
fn check_embed(embed: &Value) -> Result<usize, (String, String)> {
    let mut total = 0;
    let mut text = |field: &str, value: &Value, max: usize, required: bool| -> Result<(), (String, String)> {
        match value {
            Value::Null if !required => Ok(()),
            Value::String(s) => {
                let n = s.chars().count();
                if n > max || (required && s.trim().is_empty()) {
                    return Err((field.to_owned(), format!("{n} characters (1 to {max})")));
                }
                total += n;
                Ok(())
            }
            _ => Err((field.to_owned(), "must be a string".to_owned())),
        }
    };
    text("title", &embed["title"], 256, false)?;
    text("description", &embed["description"], 4096, false)?;
    text("footer.text", &embed["footer"]["text"], 2048, false)?;
    text("author.name", &embed["author"]["name"], 256, false)?;
    match &embed["fields"] {
        Value::Null => {}
        Value::Array(fields) if fields.len() <= 25 => {
            for (n, field) in fields.iter().enumerate() {
                text(&format!("fields.{n}.name"), &field["name"], 256, true)?;
                text(&format!("fields.{n}.value"), &field["value"], 1024, true)?;
            }
        }
        _ => return Err(("fields".into(), "at most 25 fields".into())),
    }
    if let Some(url) = embed.get("url") {
        let ok = url
            .as_str()
            .and_then(|u| reqwest::Url::parse(u).ok())
            .is_some_and(|u| u.scheme() == "http" || u.scheme() == "https");
        if !ok {
            return Err(("url".into(), "Not a well formed URL.".into()));
        }
    }
    if let Some(color) = embed.get("color")
        && color.as_u64().is_none_or(|c| c > 0xFF_FF_FF)
    {
        return Err(("color".into(), "must be an integer colour".into()));
    }
    if let Some(at) = embed.get("timestamp")
        && at.as_str().is_none_or(|t| t.parse::<jiff::Timestamp>().is_err())
    {
        return Err(("timestamp".into(), "Could not interpret as an ISO8601 timestamp.".into()));
    }
    Ok(total)
}
