//! A signed-in browser without the browser: sign-in through the real form, the session cookie,
//! the CSRF token of the pages, and an API token made on the tokens page.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// A session with a running `serve`.
pub struct WebSession {
    /// Base URL.
    pub base: String,
    /// The session cookie (`name=value`).
    pub cookie: String,
    /// The session's CSRF token.
    pub csrf: String,
    http: reqwest::Client,
}

/// A plain client that never follows redirects (tests look at them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// The value of `<input name="NAME" value="...">` (or any `name="NAME" value="..."`) in a page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// The text of the element with `id` (up to its first `<`).
pub fn element_text(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')? + start;
    Some(rest[start..end].trim().to_owned())
}

/// The text of the element with this id, inline markup (`<q>`, `<span>`, `<a>`, ...) left
/// out: up to its own closing tag (elements of the same name must not nest in it).
pub fn element_words(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let open = html[..at].rfind('<')?;
    let name: String = html[open + 1..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    let start = at + html[at..].find('>')? + 1;
    let end = start + html[start..].find(&format!("</{name}>"))?;
    let mut text = String::new();
    let mut in_tag = false;
    for c in html[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    Some(text.trim().to_owned())
}

fn cookie_pair(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// Signs in through the form; the response to the form post is returned with the session when
/// it succeeded.
pub async fn try_sign_in(base: &str, user: &str, password: &str) -> (reqwest::Response, Option<WebSession>) {
    try_sign_in_with(client(), base, user, password).await
}

/// [`try_sign_in`] from another loopback address (e.g. 127.0.0.2): another source to the server.
pub async fn try_sign_in_from(
    address: std::net::IpAddr,
    base: &str,
    user: &str,
    password: &str,
) -> (reqwest::Response, Option<WebSession>) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(address)
        .build()
        .expect("client");
    try_sign_in_with(http, base, user, password).await
}

/// [`try_sign_in`] with these headers on every request, as a proxy in front would add them
/// (`X-Forwarded-For`, `X-Forwarded-Proto`).
pub async fn try_sign_in_with_headers(
    base: &str,
    user: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (reqwest::Response, Option<WebSession>) {
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("a header name");
        map.append(name, value.parse().expect("a header value"));
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(map)
        .build()
        .expect("client");
    try_sign_in_with(http, base, user, password).await
}

async fn try_sign_in_with(
    http: reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> (reqwest::Response, Option<WebSession>) {
    let form = http.get(format!("{base}/login")).send().await.expect("GET /login");
    assert_eq!(form.status(), StatusCode::OK);
    let login_cookie = cookie_pair(&form, "login_csrf").expect("the sign-in form sets its CSRF cookie");
    let html = form.text().await.expect("login page");
    let csrf = input_value(&html, "csrf").expect("the sign-in form carries a CSRF token");
    let response = http
        .post(format!("{base}/login"))
        .header(COOKIE, &login_cookie)
        .form(&[("user", user), ("password", password), ("csrf", csrf.as_str()), ("next", "/")])
        .send()
        .await
        .expect("POST /login");
    let Some(cookie) = cookie_pair(&response, "orchestrator_session") else { return (response, None) };
    let mut session = WebSession { base: base.to_owned(), cookie, csrf: String::new(), http };
    let home = session.get("/").await;
    assert_eq!(home.status(), StatusCode::OK, "the dashboard opens after sign-in");
    session.csrf = input_value(&home.text().await.unwrap(), "csrf").expect("pages carry the session's CSRF token");
    (response, Some(session))
}

/// Signs in; panics when it fails.
pub async fn sign_in(base: &str, user: &str, password: &str) -> WebSession {
    let (response, session) = try_sign_in(base, user, password).await;
    let status = response.status();
    session.unwrap_or_else(|| panic!("sign-in failed with {status}"))
}

impl WebSession {
    /// GET a page with the session.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base)).header(COOKIE, &self.cookie).send().await.expect("GET")
    }

    /// GET a page's HTML, asserting 200.
    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.expect("page body")
    }

    /// POST a form with the session and its CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &self.csrf));
        self.post_raw(path, &all).await
    }

    /// POST a form exactly as given (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .form(fields)
            .send()
            .await
            .expect("POST")
    }

    /// POST a `multipart/form-data` form exactly as given (the CSRF token is one of its parts, where
    /// the test puts it).
    pub async fn post_multipart(&self, path: &str, form: reqwest::multipart::Form) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .multipart(form)
            .send()
            .await
            .expect("POST")
    }

    /// Creates an API token on the tokens page and returns it.
    pub async fn api_token(&self, name: &str) -> String {
        // Allowed to confirm, as the tests that use it delete and restore.
        let response = self.post("/tokens", &[("name", name), ("confirms", "on")]).await;
        assert_eq!(response.status(), StatusCode::OK);
        element_text(&response.text().await.unwrap(), "token-value").expect("the new token is shown once")
    }
}

/// Where a redirect goes.
pub fn location(response: &reqwest::Response) -> String {
    response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// Reads a Server-Sent Events response until its `end` event and returns that event's data.
/// Panics when the stream ends first or after `within`.
pub async fn follow_to_end(response: reqwest::Response, within: std::time::Duration) -> serde_json::Value {
    use futures::StreamExt;
    assert_eq!(response.status(), StatusCode::OK, "the events stream opens");
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(content_type.starts_with("text/event-stream"), "content-type {content_type}");
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .unwrap_or_else(|_| panic!("no end event in time; received:\n{text}"))
            .unwrap_or_else(|| panic!("the stream ended without an end event; received:\n{text}"))
            .expect("read events");
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(at) = text.find("\n\n") {
            let event: String = text.drain(..at + 2).collect();
            let mut name = "message";
            let mut data = String::new();
            for line in event.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = if n.trim() == "end" { "end" } else { "other" };
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim());
                }
            }
            if name == "end" {
                return serde_json::from_str(&data).expect("end event carries JSON");
            }
        }
    }
}

impl WebSession {
    /// Adds a webhook channel named `name` that hears failures and drills (of every app) at `url`, through
    /// the Notifications form; asserts it was accepted.
    pub async fn add_failure_webhook(&self, name: &str, url: &str) {
        let fields = [
            ("kind", "webhook"),
            ("name", name),
            ("url", url),
            ("signing_secret", "a-signing-secret-of-some-length"),
            ("on_failure", "on"),
            ("on_drill", "on"),
        ];
        let added = self.post("/notifications", &fields).await;
        assert_eq!(added.status(), StatusCode::SEE_OTHER, "the webhook channel {name} was refused");
    }
}

/// `GET url` with a bearer token; the status and the body as text.
pub async fn get_with_token(url: &str, token: &str) -> (StatusCode, String) {
    let response = client().get(url).bearer_auth(token).send().await.expect("GET");
    (response.status(), response.text().await.expect("body"))
}

/// `GET url` with a bearer token; the body as JSON, asserting 200.
pub async fn get_json(url: &str, token: &str) -> serde_json::Value {
    let (status, body) = get_with_token(url, token).await;
    assert_eq!(status, StatusCode::OK, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"))
}
