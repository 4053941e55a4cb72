//! The browser harness drives real headless Chromium: forms, a script that acts later, dialogs,
//! cookies shared with a plain HTTP client, screenshots, and a phone-sized window. The page is
//! served on port 0 under a content security policy that forbids inline scripts, as the web UI's
//! will be.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use e2e::browser::Browser;
use futures::FutureExt;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
const DOWNLOAD: &[u8] = b"backup bytes \x00\x01\x02\xff";

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Harness page</title>
</head>
<body>
<h1>Harness page</h1>
<form method="post" action="/echo">
  <label>Name <input id="name" name="name" type="text"></label>
  <label>Colour
    <select id="colour" name="colour">
      <option value="red">Red</option>
      <option value="green">Green</option>
      <option value="blue">Blue</option>
    </select>
  </label>
  <button id="send" type="submit">Send</button>
</form>
<button id="later" type="button">Change the text later</button>
<p id="status">waiting</p>
<button id="delete" type="button">Delete</button>
<p id="answer">not asked</p>
<a id="download" href="/download">Download</a>
<script src="/app.js"></script>
</body>
</html>
"#;

const SCRIPT: &str = r#"document.getElementById("later").addEventListener("click", () => {
  setTimeout(() => { document.getElementById("status").textContent = "changed after a delay"; }, 800);
});
document.getElementById("delete").addEventListener("click", () => {
  const yes = window.confirm("Delete everything?");
  document.getElementById("answer").textContent = yes ? "confirmed" : "cancelled";
});
"#;

/// The test site on a loopback port until dropped.
struct Site {
    url: String,
    /// The session cookie's value the site hands out and requires for the download.
    session: Arc<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn site() -> Site {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let session = Arc::new(format!("s{nanos:x}"));
    let app = Router::new()
        .route("/", get(home))
        .route("/echo", axum::routing::post(echo))
        .route("/app.js", get(script))
        .route("/download", get(download))
        .with_state(session.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("bound address"));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve the test site");
    });
    Site { url, session, task }
}

fn html(body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CONTENT_SECURITY_POLICY, "default-src 'self'")],
        body,
    )
        .into_response()
}

async fn home(State(session): State<Arc<String>>) -> Response {
    let mut page = html(PAGE.to_owned());
    let cookie = format!("session={session}; Path=/; HttpOnly; SameSite=Strict");
    page.headers_mut().insert(header::SET_COOKIE, cookie.parse().expect("a valid header"));
    page
}

async fn echo(Form(fields): Form<HashMap<String, String>>) -> Response {
    let field = |name: &str| escape(fields.get(name).map(String::as_str).unwrap_or_default());
    html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Echo</title></head><body>\
         <p id=\"echo-name\">{}</p><p id=\"echo-colour\">{}</p></body></html>",
        field("name"),
        field("colour"),
    ))
}

async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT).into_response()
}

async fn download(State(session): State<Arc<String>>, headers: HeaderMap) -> Response {
    let expected = format!("session={session}");
    let signed_in = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .any(|pair| pair.trim() == expected);
    if !signed_in {
        return StatusCode::FORBIDDEN.into_response();
    }
    ([(header::CONTENT_TYPE, "application/octet-stream"), (header::CONTENT_DISPOSITION, "attachment")], DOWNLOAD)
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn assert_png(path: &std::path::Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(bytes.starts_with(PNG_SIGNATURE), "{} is not a PNG", path.display());
}

#[tokio::test]
async fn a_browser_fills_a_form_waits_for_a_script_answers_a_dialog_and_shares_its_cookies() {
    let site = site().await;
    let Some(browser) =
        Browser::start("a_browser_fills_a_form_waits_for_a_script_answers_a_dialog_and_shares_its_cookies").await
    else {
        return;
    };

    browser.goto(&format!("{}/", site.url)).await;
    browser.wait_for("#name").await;
    let first = browser.screenshot("form").await;
    assert!(first.file_name().is_some_and(|name| name == "01-form.png"), "first screenshot is {}", first.display());
    assert_png(&first);

    browser.fill("#name", "first try").await;
    browser.fill("#name", "Ada & <Grace>").await;
    browser.select("#colour", "green").await;
    assert_eq!(browser.value("#name").await, "Ada & <Grace>", "fill replaces what the field held");
    assert_eq!(browser.value("#colour").await, "green");
    browser.click("#send").await;
    assert_eq!(browser.wait_for("#echo-name").await.text().await, "Ada & <Grace>");
    assert_eq!(browser.text("#echo-colour").await, "green");
    assert!(browser.current_url().await.ends_with("/echo"));
    assert!(!browser.exists("#name").await, "the echo page has no form");

    browser.goto(&format!("{}/", site.url)).await;
    browser.click("#later").await;
    assert_eq!(browser.wait_for_text("#status", "after a delay").await, "changed after a delay");

    browser.click("#delete").await;
    assert_eq!(browser.accept_alert().await, "Delete everything?");
    browser.wait_for_text("#answer", "confirmed").await;
    browser.click("#delete").await;
    assert_eq!(browser.dismiss_alert().await, "Delete everything?");
    browser.wait_for_text("#answer", "cancelled").await;

    let cookies = browser.cookies().await;
    let session = cookies.iter().find(|cookie| cookie.name == "session").expect("the site's cookie is set");
    assert_eq!(session.value, *site.session, "the HttpOnly cookie is readable too");

    let href = browser.attribute("#download", "href").await.expect("the link has an href");
    let link = reqwest::Url::parse(&browser.current_url().await).unwrap().join(&href).unwrap();
    let http = reqwest::Client::new();
    let refused = http.get(link.clone()).send().await.unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::FORBIDDEN, "the download needs the session");
    let response = http.get(link).header(reqwest::header::COOKIE, browser.cookie_header().await).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().as_ref(), DOWNLOAD);

    let last = browser.screenshot("after everything").await;
    assert!(last.file_name().is_some_and(|name| name == "02-after_everything.png"), "{}", last.display());
    assert_png(&last);
    assert_eq!(last.parent(), Some(browser.screenshot_dir()));
    assert!(browser.screenshot_dir().ends_with(
        "browser-screenshots/a_browser_fills_a_form_waits_for_a_script_answers_a_dialog_and_shares_its_cookies"
    ));
}

#[tokio::test]
async fn a_phone_sized_browser_has_a_narrow_window() {
    let site = site().await;
    let Some(browser) = Browser::phone("a_phone_sized_browser_has_a_narrow_window").await else { return };
    browser.goto(&format!("{}/", site.url)).await;
    let width = browser.execute("return window.innerWidth;", &[]).await;
    let width = width.as_u64().expect("a width in pixels");
    assert!(width <= 400, "the phone window is {width} px wide");
    let sum = browser.execute("return arguments[0] + arguments[1];", &[2.into(), 3.into()]).await;
    assert_eq!(sum, 5, "scripts get their arguments");
    assert_png(&browser.screenshot("phone").await);
}

#[tokio::test]
async fn a_wait_that_runs_out_names_the_selector_and_the_page_and_saves_a_screenshot() {
    let site = site().await;
    let Some(mut browser) =
        Browser::start("a_wait_that_runs_out_names_the_selector_and_the_page_and_saves_a_screenshot").await
    else {
        return;
    };
    browser.set_wait_timeout(std::time::Duration::from_millis(500));
    browser.goto(&format!("{}/", site.url)).await;

    let outcome = std::panic::AssertUnwindSafe(browser.wait_for_text("#status", "never shown")).catch_unwind().await;
    let payload = outcome.expect_err("the wait fails");
    let message = payload.downcast_ref::<String>().expect("a formatted panic message");
    assert!(message.contains(r##"wait_for_text("#status", "never shown")"##), "{message}");
    assert!(message.contains("last: text \"waiting\""), "{message}");
    assert!(message.contains(&format!("page: {}/", site.url)), "{message}");
    assert!(message.contains("Harness page"), "the page's text is shown: {message}");

    let shots: Vec<_> =
        std::fs::read_dir(browser.screenshot_dir()).unwrap().map(|entry| entry.unwrap().path()).collect();
    assert_eq!(shots.len(), 1, "{shots:?}");
    assert!(shots[0].ends_with("01-failure.png"), "{shots:?}");
    assert_png(&shots[0]);
    assert!(message.contains(&shots[0].display().to_string()), "the message says where: {message}");
}
