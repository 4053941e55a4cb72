//! Doubles of the chat and push services notifications go to: Slack, Microsoft Teams (a
//! Workflows webhook), Discord, Telegram's Bot API, ntfy and Gotify.
//!
//! Each is a real HTTP server on a loopback port that checks a request the way the service's
//! documentation says the service checks it, and answers the way the service answers: method,
//! path, content type, authentication, required fields and their types, size limits, and the
//! documented error for each violation. The rules are listed beside the code of each, with the
//! page they come from. A double follows the service, never our client: what the service would
//! refuse, it refuses, and what it would show is recorded as [`Exchange::shown`].

pub mod discord;
pub mod gotify;
pub mod ntfy;
pub mod slack;
pub mod teams;
pub mod telegram;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// One request a double received, and what it did with it.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// The query string ("" when none).
    pub query: String,
    /// Headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
    /// The status answered.
    pub status: u16,
    /// The body answered.
    pub answer: String,
    /// What the service would show (the message it took), or `None` when it took nothing.
    pub shown: Option<Value>,
    /// Why the double refused the request, or dropped what it accepted (a Teams flow run that
    /// failed after the 202): for the test's own messages, never sent.
    pub why: Option<String>,
    /// When it came.
    pub at: std::time::Instant,
}

impl Exchange {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A request as a double's rules see it.
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The media type of `Content-Type`, without parameters, lower-cased.
    pub(crate) fn media_type(&self) -> String {
        self.header("content-type")
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    }

    /// The body as a JSON object, if it is one.
    pub(crate) fn json_object(&self) -> Option<serde_json::Map<String, Value>> {
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        }
    }

    /// A query parameter's value.
    pub(crate) fn query_param(&self, name: &str) -> Option<String> {
        form_pairs(&self.query).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    let url = reqwest::Url::parse(&format!("http://query.invalid/?{query}")).expect("a query");
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// What a double answers.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
    pub(crate) shown: Option<Value>,
    pub(crate) why: Option<String>,
}

impl Reply {
    /// An answer with a JSON body.
    pub(crate) fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            content_type: "application/json",
            body: body.to_string(),
            shown: None,
            why: None,
        }
    }

    /// An answer with a plain-text body.
    pub(crate) fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            content_type: "text/plain; charset=utf-8",
            body: body.to_owned(),
            shown: None,
            why: None,
        }
    }

    /// An answer without a body.
    pub(crate) fn empty(status: u16) -> Reply {
        Reply { status, headers: Vec::new(), content_type: "", body: String::new(), shown: None, why: None }
    }

    /// The message was taken: this is what the service shows.
    pub(crate) fn showing(mut self, shown: Value) -> Reply {
        self.shown = Some(shown);
        self
    }

    /// Why: kept with the exchange for the test to read, never sent.
    pub(crate) fn because(mut self, why: impl Into<String>) -> Reply {
        self.why = Some(why.into());
        self
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }
}

/// A double's rules: a request in, an answer out.
pub(crate) type Rules = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A double running on a loopback port.
pub struct Receiver {
    /// Its base URL (`http://127.0.0.1:PORT`, or `https://localhost:PORT` over TLS).
    pub url: String,
    log: Arc<Mutex<Vec<Exchange>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Serves `rules` on a free loopback port; over TLS with `tls`'s server certificate when given.
    pub(crate) async fn serve(rules: Rules, tls: Option<&drive_double::tls::TestCa>) -> Receiver {
        let log: Arc<Mutex<Vec<Exchange>>> = Default::default();
        let record = log.clone();
        let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (rules, record) = (rules.clone(), record.clone());
            async move {
                let request = Request {
                    method,
                    path: uri.path().to_owned(),
                    query: uri.query().unwrap_or_default().to_owned(),
                    headers,
                    body,
                };
                let reply = rules(&request);
                record.lock().unwrap().push(Exchange {
                    method: request.method.to_string(),
                    path: request.path.clone(),
                    query: request.query.clone(),
                    headers: request
                        .headers
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                        .collect(),
                    body: String::from_utf8_lossy(&request.body).into_owned(),
                    status: reply.status,
                    answer: reply.body.clone(),
                    shown: reply.shown.clone(),
                    why: reply.why.clone(),
                    at: std::time::Instant::now(),
                });
                respond(reply)
            }
        };
        let router = axum::Router::new().fallback(handler);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().unwrap().port();
        let (url, task) = match tls {
            None => (
                format!("http://127.0.0.1:{port}"),
                tokio::spawn(async move {
                    let _ = axum::serve(listener, router).await;
                }),
            ),
            Some(ca) => {
                let ca = ca.clone();
                (format!("https://localhost:{port}"), tokio::spawn(async move { ca.serve(listener, router).await }))
            }
        };
        Receiver { url, log, task }
    }

    /// Every request so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.log.lock().unwrap().clone()
    }

    /// The messages the service took, in order.
    pub fn shown(&self) -> Vec<Value> {
        self.exchanges().into_iter().filter_map(|e| e.shown).collect()
    }

    /// Waits until the service took `n` messages (at most `within`), and returns them.
    pub async fn wait_shown(&self, n: usize, within: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let shown = self.shown();
            if shown.len() >= n {
                return shown;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{n} message(s) not taken within {within:?}; requests: {:#?}",
                self.exchanges()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn respond(reply: Reply) -> Response {
    let mut response = (StatusCode::from_u16(reply.status).expect("a valid status"), reply.body).into_response();
    let headers = response.headers_mut();
    headers.remove(axum::http::header::CONTENT_TYPE);
    if !reply.content_type.is_empty() {
        headers.insert(axum::http::header::CONTENT_TYPE, reply.content_type.parse().unwrap());
    }
    for (name, value) in reply.headers {
        headers.insert(name, value.parse().unwrap());
    }
    response
}

/// Counts in UTF-16 code units, as JavaScript and Telegram's entities do.
pub(crate) fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}
