//! An ntfy server, as ntfy documents it.
//!
//! Rules, and where they come from:
//! - Publishing as JSON is a `PUT` or `POST` of a JSON object to the server's root URL, not the
//!   topic's; `topic` is required; `message` (default "triggered"), `title`, `tags` (an array
//!   of strings), `priority` (an integer, 1 to 5), `click` (a URL), `markdown` (a boolean)...
//!   (https://docs.ntfy.sh/publish/#publish-as-json). A body of the wrong JSON types is refused
//!   with 400 code 40024 "invalid request: request body must be valid JSON".
//! - Publishing to the topic's URL takes the body as the message itself, with `Title`,
//!   `Priority`, `Tags` and `Click` headers (https://docs.ntfy.sh/publish/): a JSON document
//!   sent there is shown as text.
//! - A topic is 1 to 64 of `[-_A-Za-z0-9]`, else 400 code 40009
//!   (https://docs.ntfy.sh/publish/#picking-a-topic); a priority out of 1-5 is 400 code 40007
//!   (https://docs.ntfy.sh/publish/#message-priority).
//! - A message is at most 4,096 bytes; a longer one is taken as an attachment, which a server
//!   without an attachment cache (the default) refuses with 400 code 40014
//!   (https://docs.ntfy.sh/publish/#limitations, https://docs.ntfy.sh/config/#attachments).
//! - A protected topic needs `Authorization: Bearer <token>` (or Basic): without one, 403 code
//!   40301; with a wrong one, 401 code 40101 (https://docs.ntfy.sh/publish/#authentication).
//! - Errors are `{"code", "http", "error", "link"}`; success is 200 with the message as JSON
//!   (https://docs.ntfy.sh/subscribe/api/#json-message-format).

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{Receiver, Reply, Request};

/// How the double behaves.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The access token publishing needs; `None` = anonymous publishing is allowed.
    pub token: Option<String>,
}

/// Starts the double.
pub async fn start(options: Options) -> Receiver {
    Receiver::serve(Arc::new(move |r: &Request| rules(&options, r)), None).await
}

fn error(status: u16, code: u32, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"code": code, "http": status, "error": message, "link": "https://ntfy.sh/docs/publish/"}),
    )
}

fn valid_topic(topic: &str) -> bool {
    (1..=64).contains(&topic.len()) && topic.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A JSON publication, as Go's decoder reads it into ntfy's message type: each known field must
/// have its type (unknown fields are ignored).
fn from_json(object: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (name, value) in object {
        let ok = match name.as_str() {
            "topic" | "title" | "message" | "click" | "icon" | "attach" | "filename" | "email" | "call" | "delay"
            | "cache" | "firebase" => value.is_string() || value.is_null(),
            "priority" => value.is_i64() || value.is_null(),
            "tags" => value.is_null() || value.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            "markdown" => value.is_boolean() || value.is_null(),
            "actions" => value.is_array() || value.is_null(),
            _ => true,
        };
        if !ok {
            return Err(format!("{name} has the wrong type"));
        }
        out.insert(name.clone(), value.clone());
    }
    Ok(out)
}

fn rules(options: &Options, r: &Request) -> Reply {
    if r.method != axum::http::Method::POST && r.method != axum::http::Method::PUT {
        return error(404, 40401, "page not found");
    }
    let (topic, mut message) = if r.path == "/" {
        if r.body.len() > 2 * 4096 {
            return error(413, 41303, "JSON body too large");
        }
        let Some(object) = r.json_object() else {
            return error(400, 40024, "invalid request: request body must be valid JSON");
        };
        let message = match from_json(&object) {
            Ok(m) => m,
            Err(why) => return error(400, 40024, "invalid request: request body must be valid JSON").because(why),
        };
        (message.get("topic").and_then(Value::as_str).unwrap_or_default().to_owned(), message)
    } else {
        // The body is the message; the headers say the rest.
        let mut message = Map::new();
        let body = String::from_utf8_lossy(&r.body).into_owned();
        message.insert("message".into(), json!(body));
        for (header, field) in [("title", "title"), ("x-title", "title"), ("click", "click"), ("x-click", "click")] {
            if let Some(v) = r.header(header) {
                message.insert(field.into(), json!(v));
            }
        }
        (r.path.trim_start_matches('/').to_owned(), message)
    };
    if !valid_topic(&topic) {
        return error(400, 40009, "invalid request: topic invalid");
    }
    if let Some(token) = &options.token {
        match r.header("authorization") {
            None => return error(403, 40301, "forbidden"),
            Some(given) if given != format!("Bearer {token}") => return error(401, 40101, "unauthorized"),
            Some(_) => {}
        }
    }
    let priority = message.get("priority").and_then(Value::as_i64).unwrap_or(0);
    if !(0..=5).contains(&priority) {
        return error(400, 40007, "invalid priority parameter");
    }
    let text = message.get("message").and_then(Value::as_str).unwrap_or_default().to_owned();
    if text.len() > 4096 {
        return error(400, 40014, "invalid request: attachments not allowed")
            .because(format!("a message of {} bytes becomes an attachment", text.len()));
    }
    let text = if text.trim().is_empty() { "triggered".to_owned() } else { text.trim().to_owned() };
    message.insert("message".into(), json!(text));
    message.insert("topic".into(), json!(topic));
    let shown = json!({
        "topic": topic,
        "title": message.get("title"),
        "message": text,
        "priority": if priority == 0 { 3 } else { priority },
        "tags": message.get("tags"),
        "click": message.get("click"),
    });
    let mut answer = json!({"id": "hwQ2YpKdmg", "time": 1735700000, "expires": 1735743200, "event": "message"});
    for (k, v) in shown.as_object().unwrap() {
        if !v.is_null() {
            answer[k] = v.clone();
        }
    }
    Reply::json(200, answer).showing(shown)
}
