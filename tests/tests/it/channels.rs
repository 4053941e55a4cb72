//! Notification channels as an operator uses them: "Send a test notification" answers what the
//! receiver got, every time; channels are edited in the UI and through the API
//! (`/api/v1/notification-channels`) with their secrets write-only.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode as AxumStatus;
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::web::{WebSession, element_text, sign_in};
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
        let message = element_text(&page, "test-result").unwrap_or_else(|| panic!("test {n}: no answer in {page}"));
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
