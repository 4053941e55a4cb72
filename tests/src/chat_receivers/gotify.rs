//! A Gotify server (`POST /message`), as Gotify documents it.
//!
//! Rules, and where they come from:
//! - `POST /message` creates a message; it is authenticated by an application token in the
//!   `X-Gotify-Key` header, an `Authorization: Bearer` header, or the `token` query parameter
//!   (https://gotify.net/api-docs, securityDefinitions; https://gotify.net/docs/pushmsg).
//!   Without a known token: `401` "you need to provide a valid access token or user
//!   credentials to access this api"; with a client's token instead of an application's: `403`
//!   "you are not allowed to access this api".
//! - The body is a CreateMessage: `message` (required), `title`, `priority` (an integer),
//!   `extras` (an object, read only from `application/json` bodies); a form body is read too
//!   (https://gotify.net/api-docs, definitions/Message). A missing message is `400` "Field
//!   'message' is required"; JSON of the wrong types is `400`.
//! - Errors are `{"error", "errorCode", "errorDescription"}` (definitions/Error); success is 200
//!   with the stored message (an empty title becomes the application's name).
//! - Extras are keyed `<namespace>::<action>`; `client::display.contentType` is `text/plain` or
//!   `text/markdown`, `client::notification.click.url` a URL (https://gotify.net/docs/msgextras).

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Receiver, Reply, Request};

/// The application's token.
pub const APP_TOKEN: &str = "AKQ9fXpT3mLw2Zr";
/// A client's token (it may read, not send).
pub const CLIENT_TOKEN: &str = "CpV7nB4xYq8sDh1";
/// The application's name (the title of a message without one).
pub const APP_NAME: &str = "Backups";

/// Starts the double.
pub async fn start() -> Receiver {
    Receiver::serve(Arc::new(rules), None).await
}

/// Starts the double over HTTPS, presenting `ca`'s server certificate (for `localhost`).
pub async fn start_over_tls(ca: &drive_double::tls::TestCa) -> Receiver {
    Receiver::serve(Arc::new(rules), Some(ca)).await
}

fn error(status: u16, description: &str) -> Reply {
    let name = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or_default();
    Reply::json(status, json!({"error": name, "errorCode": status, "errorDescription": description}))
}

fn rules(r: &Request) -> Reply {
    if r.path != "/message" || r.method != axum::http::Method::POST {
        return Reply::text(404, "404 page not found");
    }
    let token = r
        .header("x-gotify-key")
        .map(str::to_owned)
        .or_else(|| r.header("authorization").and_then(|a| a.strip_prefix("Bearer ")).map(str::to_owned))
        .or_else(|| r.query_param("token"));
    match token.as_deref() {
        Some(APP_TOKEN) => {}
        Some(CLIENT_TOKEN) => return error(403, "you are not allowed to access this api"),
        _ => return error(401, "you need to provide a valid access token or user credentials to access this api"),
    }
    let message = match r.media_type().as_str() {
        "application/json" => {
            let Some(object) = r.json_object() else { return error(400, "invalid character in the JSON body") };
            let typed = object.get("message").is_none_or(|v| v.is_string() || v.is_null())
                && object.get("title").is_none_or(|v| v.is_string() || v.is_null())
                && object.get("priority").is_none_or(|v| v.is_i64() || v.is_null())
                && object.get("extras").is_none_or(|v| v.is_object() || v.is_null());
            if !typed {
                return error(400, "json: cannot unmarshal a value of the wrong type into CreateMessage");
            }
            Value::Object(object)
        }
        "application/x-www-form-urlencoded" => {
            let body = String::from_utf8_lossy(&r.body).into_owned();
            let pairs = super::form_pairs(&body);
            let get = |k: &str| pairs.iter().find(|(name, _)| name == k).map(|(_, v)| json!(v));
            json!({"message": get("message"), "title": get("title"),
                   "priority": get("priority").and_then(|p| p.as_str().and_then(|p| p.parse::<i64>().ok()))})
        }
        _ => return error(400, "unsupported content type"),
    };
    let text = message["message"].as_str().unwrap_or_default();
    if text.is_empty() {
        return error(400, "Field 'message' is required");
    }
    let title = message["title"].as_str().filter(|t| !t.trim().is_empty()).unwrap_or(APP_NAME);
    let priority = message["priority"].as_i64().unwrap_or(0);
    let extras = message.get("extras").cloned().unwrap_or(Value::Null);
    let shown = json!({"title": title, "message": text, "priority": priority, "extras": extras});
    Reply::json(
        200,
        json!({"id": 1, "appid": 1, "message": text, "title": title, "priority": priority, "extras": extras, "date": "2025-01-01T03:00:10Z"}),
    )
    .showing(shown)
}
