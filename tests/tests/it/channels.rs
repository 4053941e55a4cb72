//! Notification channels as an operator uses them: "Send a test notification" answers what the
//! receiver got, every time; channels are edited in the UI and through the API
//! (`/api/v1/notification-channels`) with their secrets write-only.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode as AxumStatus;
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::web::{WebSession, element_text, element_words, sign_in};
use reqwest::StatusCode;

const SIGNING: &str = "a-signing-secret-of-some-length";

/// A webhook receiver whose answers follow a fixed pattern: the n-th request (from 0) is answered
/// `pattern[n % pattern.len()]`. It records every request's `X-Backup-Event` and answer.
struct Patterned {
    url: String,
    seen: Arc<Mutex<Vec<(String, u16)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Patterned {
    async fn start(pattern: &'static [u16]) -> Patterned {
        let seen: Arc<Mutex<Vec<(String, u16)>>> = Default::default();
        let record = seen.clone();
        let handler = move |headers: axum::http::HeaderMap| {
            let record = record.clone();
            async move {
                let mut seen = record.lock().unwrap();
                let status = pattern[seen.len() % pattern.len()];
                let event = headers.get("x-backup-event").and_then(|v| v.to_str().ok()).unwrap_or_default();
                seen.push((event.to_owned(), status));
                (AxumStatus::from_u16(status).unwrap(), format!("answered {status} on purpose"))
            }
        };
        let router = axum::Router::new().fallback(handler);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Patterned { url, seen, task }
    }

    fn seen(&self) -> Vec<(String, u16)> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Patterned {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn add_webhook(session: &WebSession, name: &str, url: &str) {
    let fields = [("kind", "webhook"), ("name", name), ("url", url), ("signing_secret", SIGNING), ("on_failure", "on")];
    let added = session.post("/notifications", &fields).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER, "the channel {name} was refused");
}

/// Asserts that `message` (the answer to the n-th test) tells what the receiver answered.
fn assert_truthful(n: usize, message: &str, answered: u16, name: &str) {
    if (200..300).contains(&answered) {
        assert_eq!(message, format!("The test notification to {name} was sent."), "test {n}");
    } else {
        let prefix = format!("The test notification to {name} was not sent: ");
        assert!(message.starts_with(&prefix), "test {n}: {message}");
        assert!(message.contains(&format!("answered {answered}")), "test {n} names the receiver's answer: {message}");
        assert!(message.contains("on purpose"), "test {n} quotes the receiver's body: {message}");
        assert_eq!(message.matches("not sent").count(), 1, "test {n} does not repeat itself: {message}");
    }
}

#[tokio::test]
async fn the_test_button_says_what_the_receiver_answered_every_time() {
    let h = Harness::sqlite().await;
    // Quick retries: a test that the outbox also took up would show as a second request.
    let served = h.serve(&[("NOTIFY_RETRY_SECS", "1")]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let hooks = Patterned::start(&[200, 500, 200, 400, 503]).await;
    add_webhook(&session, "on-call hook", &hooks.url).await;

    for n in 0..30 {
        let page = session.post("/notifications/1/test", &[]).await;
        assert_eq!(page.status(), StatusCode::OK);
        let page = page.text().await.unwrap();
        let message = element_words(&page, "test-result").unwrap_or_else(|| panic!("test {n}: no answer in {page}"));
        // The answer comes after the attempt: the receiver has had exactly this many requests.
        let seen = hooks.seen();
        assert_eq!(seen.len(), n + 1, "test {n}: one request per press, made before the answer: {seen:?}");
        let (event, answered) = &seen[n];
        assert_eq!(event, "test");
        assert_truthful(n, &message, *answered, "on-call hook");
    }
    // No test was left for the outbox to retry (a refused test is reported, not retried).
    let token = session.api_token("channels").await;
    let stats = e2e::web::get_json(&format!("{}/api/v1/stats", served.url), &token).await;
    assert_eq!(stats["notifications_pending"], 0, "{stats}");
    assert_eq!(hooks.seen().len(), 30);
}

/// A webhook receiver that answers 200 and keeps each request's signature headers and body.
struct Signed {
    url: String,
    seen: Arc<Mutex<Vec<(String, String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Signed {
    async fn start() -> Signed {
        let seen: Arc<Mutex<Vec<(String, String, String)>>> = Default::default();
        let record = seen.clone();
        let handler = move |headers: axum::http::HeaderMap, body: String| {
            let record = record.clone();
            async move {
                let header =
                    |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                record.lock().unwrap().push((header("x-backup-timestamp"), header("x-backup-signature"), body));
                AxumStatus::OK
            }
        };
        let router = axum::Router::new().fallback(handler);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook/private-part", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Signed { url, seen, task }
    }

    /// How many requests came, and whether the newest is signed with `secret`.
    fn newest_signed_with(&self, secret: &str) -> (usize, bool) {
        use hmac::{KeyInit, Mac};
        let seen = self.seen.lock().unwrap();
        let Some((ts, sig, body)) = seen.last() else { return (0, false) };
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{ts}.{body}").as_bytes());
        let ok =
            sig.strip_prefix("sha256=").and_then(|h| hex::decode(h).ok()).is_some_and(|h| mac.verify_slice(&h).is_ok());
        (seen.len(), ok)
    }
}

impl Drop for Signed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn ui_test(session: &WebSession, id: i64) -> String {
    let page = session.post(&format!("/notifications/{id}/test"), &[]).await.text().await.unwrap();
    element_words(&page, "test-result").unwrap_or_else(|| panic!("no answer in {page}"))
}

#[tokio::test]
async fn a_channel_is_edited_in_the_ui_keeping_or_replacing_its_secrets() {
    let h = Harness::sqlite().await;
    let served = h.serve(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let first = Signed::start().await;
    add_webhook(&session, "on-call hook", &first.url).await;

    // The form comes filled with everything but the secrets.
    let form = session.page("/notifications/1/edit").await;
    assert!(form.contains("id=\"edit-title\""), "{form}");
    assert_eq!(e2e::web::input_value(&form, "name").as_deref(), Some("on-call hook"));
    assert!(form.contains("name=\"url\" type=\"url\" value=\"\""), "the URL is not shown: {form}");
    assert!(form.contains("id=\"url-kept\"") && form.contains("id=\"signing_secret-kept\""), "{form}");
    assert!(!form.contains(SIGNING) && !form.contains("private-part"), "no secret in the form");
    assert!(form.contains("name=\"on_failure\" value=\"on\" checked"), "{form}");

    // Renamed, secrets left empty: they are kept.
    let edit =
        [("kind", "webhook"), ("name", "renamed hook"), ("url", ""), ("signing_secret", ""), ("on_failure", "on")];
    let saved = session.post("/notifications/1/edit", &edit).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(ui_test(&session, 1).await, "The test notification to renamed hook was sent.");
    assert_eq!(first.newest_signed_with(SIGNING), (1, true), "the same URL and signing secret");

    // Bad input: a message per field, and nothing changes.
    let bad =
        [("kind", "webhook"), ("name", ""), ("url", "ftp://x"), ("signing_secret", "short"), ("on_failure", "on")];
    let refused = session.post("/notifications/1/edit", &bad).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    for field in ["name-error", "url-error", "signing_secret-error"] {
        assert!(element_text(&html, field).is_some(), "{field} shown in {html}");
    }
    assert!(!html.contains("short"), "a typed secret is not echoed back");
    assert_eq!(ui_test(&session, 1).await, "The test notification to renamed hook was sent.");
    assert_eq!(first.newest_signed_with(SIGNING), (2, true));

    // A new URL and signing secret replace the stored ones.
    let second = Signed::start().await;
    let replaced = "another-signing-secret-now";
    let edit = [
        ("kind", "webhook"),
        ("name", "renamed hook"),
        ("url", &second.url),
        ("signing_secret", replaced),
        ("on_failure", "on"),
    ];
    assert_eq!(session.post("/notifications/1/edit", &edit).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(ui_test(&session, 1).await, "The test notification to renamed hook was sent.");
    assert_eq!(second.newest_signed_with(replaced), (1, true));
    assert_eq!(first.newest_signed_with(SIGNING).0, 2, "the old URL hears nothing more");
    assert_eq!(session.get("/notifications/99/edit").await.status(), StatusCode::NOT_FOUND);
}

async fn api(
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    let mut request = e2e::web::client().request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        },
    )
}

#[tokio::test]
async fn channels_have_full_crud_in_the_api_with_write_only_secrets() {
    use reqwest::Method;
    use serde_json::json;
    let h = Harness::sqlite().await;
    let served = h.serve(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("channels").await;
    let base = format!("{}/api/v1/notification-channels", served.url);
    let first = Signed::start().await;

    // Invalid input: 422 with the fields, and nothing stored.
    let bad = json!({"kind": "webhook", "name": "", "url": "ftp://x", "signing_secret": "short", "events": []});
    let (status, body) = api(Method::POST, &base, &token, Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["events", "name", "signing_secret", "url"], "{body}");
    let (_, unknown) =
        api(Method::POST, &base, &token, Some(json!({"kind": "webhook", "events": ["sometimes"]}))).await;
    assert_eq!(unknown["fields"][0]["field"], "events", "{unknown}");
    assert_eq!(api(Method::GET, &base, &token, None).await.1, json!([]));

    // Created: answers say whether each secret is set, never what it is.
    let new = json!({"kind": "webhook", "name": "on-call hook", "url": first.url, "signing_secret": SIGNING, "events": ["failure"]});
    let (status, created) = api(Method::POST, &base, &token, Some(new)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["secrets"], json!({"url": true, "signing_secret": true}));
    assert_eq!(created["events"], json!(["failure"]));
    assert_eq!(created["enabled"], true);
    assert_eq!(created["target"], "127.0.0.1");
    let one = format!("{base}/{id}");
    for (status, body) in [api(Method::GET, &one, &token, None).await, api(Method::GET, &base, &token, None).await] {
        assert_eq!(status, StatusCode::OK);
        let text = body.to_string();
        assert!(text.contains("on-call hook") && !text.contains(SIGNING) && !text.contains("private-part"), "{text}");
    }

    // Edited without its secrets: they are kept.
    let (status, edited) =
        api(Method::PATCH, &one, &token, Some(json!({"name": "renamed", "events": ["failure", "stale"]}))).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!((edited["name"].as_str(), edited["events"].clone()), (Some("renamed"), json!(["failure", "stale"])));
    let (status, tested) = api(Method::POST, &format!("{one}/test"), &token, None).await;
    assert_eq!((status, tested.clone()), (StatusCode::OK, json!({"sent": true})));
    assert_eq!(first.newest_signed_with(SIGNING), (1, true));

    // Invalid edits change nothing.
    let (status, body) =
        api(Method::PATCH, &one, &token, Some(json!({"name": "x".repeat(81), "url": "not a url"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, unchanged) = api(Method::GET, &one, &token, None).await;
    assert_eq!(unchanged, edited);
    let (status, _) = api(Method::PATCH, &one, &token, Some(json!({"kind": "email"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "another kind needs its own fields");
    let (status, _) = api(Method::PATCH, &one, &token, Some(json!({"singing_secret": "typo"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an unknown field is refused");
    assert_eq!(api(Method::GET, &one, &token, None).await.1, edited);

    // Edited with new secrets: they replace the stored ones.
    let second = Patterned::start(&[500]).await;
    let patch = json!({"url": second.url, "signing_secret": "another-signing-secret-now", "enabled": false});
    let (status, paused) = api(Method::PATCH, &one, &token, Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(paused["enabled"], false);
    // The test answers what the receiver did.
    let (status, tested) = api(Method::POST, &format!("{one}/test"), &token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tested["sent"], false, "{tested}");
    let error = tested["error"].as_str().unwrap();
    assert!(error.contains("answered 500") && error.contains("on purpose"), "{error}");
    assert_eq!(second.seen().len(), 1);
    assert_eq!(first.newest_signed_with(SIGNING).0, 1, "the old URL hears nothing more");

    // Deleted.
    assert_eq!(api(Method::DELETE, &one, &token, None).await.0, StatusCode::NO_CONTENT);
    for method in [Method::GET, Method::DELETE, Method::PATCH] {
        let body = (method == Method::PATCH).then(|| json!({"name": "ghost"}));
        assert_eq!(api(method, &one, &token, body).await.0, StatusCode::NOT_FOUND);
    }
    assert_eq!(api(Method::POST, &format!("{one}/test"), &token, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api(Method::GET, &base, &token, None).await.1, json!([]));

    // Every change is in the audit log, under the token's name.
    let audit = session.page("/audit").await;
    for action in ["notification.create", "notification.update", "notification.test", "notification.delete"] {
        assert!(audit.contains(&format!("<code>{action}</code>")), "{action} in {audit}");
    }
    assert!(audit.contains("api:channels"), "{audit}");
}
