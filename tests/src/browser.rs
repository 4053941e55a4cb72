//! Real headless Chromium for browser tests, driven over W3C WebDriver by a small client of our
//! own. Each [`Browser`] owns a `chromedriver` on its own loopback port, one session with a
//! fresh profile, and a folder of screenshots that CI keeps as artifacts, so tests can run in
//! parallel threads without sharing anything.
//!
//! The browser is Debian's `chromium` and the driver Debian's `chromium-driver`: nothing is
//! downloaded at run time. Every helper panics saying what it was doing, the selector and the
//! page's URL; a failure also saves a screenshot and shows the page's text, so a red CI run
//! explains itself without a rerun.
//!
//! ```no_run
//! # async fn example(base: &str) {
//! let Some(browser) = e2e::browser::Browser::start("signing_in_shows_the_apps").await else { return };
//! browser.goto(&format!("{base}/login")).await;
//! browser.fill("input[name=user]", "admin").await;
//! browser.click("button[type=submit]").await;
//! browser.wait_for_text("h1", "Apps").await;
//! browser.screenshot("apps").await;
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// True when Debian's Chromium and ChromeDriver are installed. Otherwise a test run outside CI
/// says that `test` skips and how to install them; under `CI=true` (where `.ci/run` installs
/// them) a missing browser is a failure, never a skip.
pub fn installed(test: &str) -> bool {
    all_present(test, &[CHROMIUM, CHROMEDRIVER], std::env::var("CI").as_deref() == Ok("true"))
}

/// [`installed`] for these paths, in CI or not.
fn all_present(test: &str, paths: &[&str], ci: bool) -> bool {
    let missing: Vec<&str> = paths.iter().copied().filter(|p| !Path::new(p).exists()).collect();
    if missing.is_empty() {
        return true;
    }
    let what = missing.join(" and ");
    assert!(!ci, "{what} missing: in CI a browser test never skips (apt-get install chromium chromium-driver)");
    eprintln!("SKIPPED {test}: {what} not installed (apt-get install chromium chromium-driver)");
    false
}

/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const POLL: Duration = Duration::from_millis(100);
/// Generous, because CI machines are slow and shared; a passing wait returns as soon as it can.
const DEFAULT_WAIT: Duration = Duration::from_secs(60);
const STARTUP: Duration = Duration::from_secs(60);
/// How much of the page's text a failure message shows.
const PAGE_TEXT_LIMIT: usize = 4000;

/// The size of the browser window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Width in CSS pixels.
    pub width: u32,
    /// Height in CSS pixels.
    pub height: u32,
}

impl Window {
    /// A laptop screen.
    pub const DESKTOP: Window = Window { width: 1280, height: 900 };
    /// A phone held upright.
    pub const PHONE: Window = Window { width: 390, height: 844 };
}

/// A cookie of the current page, as the browser holds it (HttpOnly ones included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// One headless Chromium with its own driver; both are killed when this is dropped.
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`: every command's URL starts with it.
    session: String,
    shots: PathBuf,
    shot_count: AtomicU32,
    wait: Duration,
    /// Held for its `Drop`, which kills the driver and the browser.
    _driver: Driver,
}

/// An element found by a CSS selector; the selector is kept for error messages.
pub struct Element<'b> {
    browser: &'b Browser,
    css: String,
    id: String,
}

/// What went wrong talking to the driver, for the panic messages.
#[derive(Debug)]
enum Failure {
    Transport(reqwest::Error),
    WebDriver { error: String, message: String },
    Protocol(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Transport(e) => write!(f, "cannot talk to chromedriver: {e}"),
            // The driver appends session details on further lines; the first says what failed.
            Failure::WebDriver { error, message } => {
                write!(f, "{error}: {}", message.lines().next().unwrap_or_default())
            }
            Failure::Protocol(what) => write!(f, "unexpected answer from chromedriver: {what}"),
        }
    }
}

impl Failure {
    fn is(&self, code: &str) -> bool {
        matches!(self, Failure::WebDriver { error, .. } if error == code)
    }
}

impl Browser {
    /// A desktop-sized browser for test `test_name`, which names its screenshot folder (so it
    /// must differ between browsers alive at the same time). `None` when Chromium or its driver
    /// is not installed, after saying the test skips (see [`installed`]).
    pub async fn start(test_name: &str) -> Option<Browser> {
        Browser::start_with(test_name, Window::DESKTOP).await
    }

    /// A phone-sized browser for test `test_name`; `None` as for [`Browser::start`].
    pub async fn phone(test_name: &str) -> Option<Browser> {
        Browser::start_with(test_name, Window::PHONE).await
    }

    /// A browser with this window for test `test_name`; `None` as for [`Browser::start`].
    /// Screenshots of an earlier run of the same test are removed, so the folder only ever shows
    /// the latest run.
    pub async fn start_with(test_name: &str, window: Window) -> Option<Browser> {
        if !installed(test_name) {
            return None;
        }
        let shots = screenshot_root().join(file_name(test_name));
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap_or_else(|e| panic!("creating {}: {e}", shots.display()));

        let mut driver = Driver::spawn().await;
        let http = reqwest::Client::builder()
            // Only a backstop: the session's own page-load and script timeouts come first.
            .timeout(Duration::from_secs(180))
            .build()
            .expect("build an HTTP client");
        driver.wait_ready(&http).await;
        let session = driver.new_session(&http, window).await;
        let browser =
            Browser { http, session, shots, shot_count: AtomicU32::new(0), wait: DEFAULT_WAIT, _driver: driver };
        // Headless Chromium widens a window narrower than 500 px given on its command line; a
        // window resized afterwards keeps the size asked for.
        let size = json!({ "width": window.width, "height": window.height });
        let result = browser.post("/window/rect", size).await;
        browser.check(&format!("resizing the window to {window:?}"), result).await;
        Some(browser)
    }

    /// How long [`wait_for`](Self::wait_for) and friends poll before failing (60 s unless set).
    pub fn set_wait_timeout(&mut self, wait: Duration) {
        self.wait = wait;
    }

    /// The folder this browser's screenshots go to.
    pub fn screenshot_dir(&self) -> &Path {
        &self.shots
    }

    /// Opens `url` and waits until the page has loaded.
    pub async fn goto(&self, url: &str) {
        let result = self.post("/url", json!({ "url": url })).await;
        self.check(&format!("goto({url:?})"), result).await;
    }

    /// The URL of the current page.
    pub async fn current_url(&self) -> String {
        match self.try_current_url().await {
            Ok(url) => url,
            Err(e) => panic!("current_url(): {e}"),
        }
    }

    /// The first element matching `css`, which must exist now.
    pub async fn find(&self, css: &str) -> Element<'_> {
        match self.try_find(css).await {
            Ok(Some(id)) => self.element(css, id),
            Ok(None) => panic!("{}", self.failure(&format!("find({css:?}): no element matches")).await),
            Err(e) => panic!("{}", self.failure(&format!("find({css:?}): {e}")).await),
        }
    }

    /// Whether an element matches `css` now.
    pub async fn exists(&self, css: &str) -> bool {
        let result = self.post("/elements", json!({ "using": "css selector", "value": css })).await;
        let found = self.check(&format!("exists({css:?})"), result).await;
        found.as_array().is_some_and(|all| !all.is_empty())
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await;
    }

    /// Clears the field matching `css`, then types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        self.find(css).await.fill(text).await;
    }

    /// Chooses the option whose value is `value` in the `<select>` matching `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.find(css).await.select(value).await;
    }

    /// The rendered text of the element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await
    }

    /// The current value of the field matching `css` (what the user typed, not the attribute).
    pub async fn value(&self, css: &str) -> String {
        self.find(css).await.value().await
    }

    /// Attribute `name` of the element matching `css`, if it has one.
    pub async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        self.find(css).await.attribute(name).await
    }

    /// Waits until an element matches `css`, and returns it.
    pub async fn wait_for(&self, css: &str) -> Element<'_> {
        let deadline = Instant::now() + self.wait;
        loop {
            let last = match self.try_find(css).await {
                Ok(Some(id)) => return self.element(css, id),
                Ok(None) => "no element matched".to_owned(),
                // A page being replaced answers with errors for a moment: keep polling.
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                let what = format!("wait_for({css:?}): nothing within {:?}; last: {last}", self.wait);
                panic!("{}", self.failure(&what).await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the element matching `css` has text containing `needle`, and returns its text.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + self.wait;
        loop {
            let last = match self.try_find(css).await {
                Ok(Some(id)) => match self.get(&format!("/element/{id}/text")).await {
                    Ok(Value::String(text)) if text.contains(needle) => return text,
                    Ok(text) => format!("text {text}"),
                    Err(e) => e.to_string(),
                },
                Ok(None) => "no element matched".to_owned(),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                let what = format!("wait_for_text({css:?}, {needle:?}): not within {:?}; last: {last}", self.wait);
                panic!("{}", self.failure(&what).await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs `script` as the body of a function called with `args`; returns what it returns.
    pub async fn execute(&self, script: &str, args: &[Value]) -> Value {
        let result = self.try_execute(script, args).await;
        let first_line = script.lines().next().unwrap_or_default();
        self.check(&format!("execute({first_line:?})"), result).await
    }

    /// The cookies the browser holds for the current page.
    pub async fn cookies(&self) -> Vec<Cookie> {
        let result = self.get("/cookie").await;
        let all = self.check("cookies()", result).await;
        let all = all.as_array().cloned().unwrap_or_default();
        all.iter()
            .map(|cookie| Cookie {
                name: cookie["name"].as_str().unwrap_or_default().to_owned(),
                value: cookie["value"].as_str().unwrap_or_default().to_owned(),
            })
            .collect()
    }

    /// The current page's cookies as a `Cookie` request header, to fetch something (a
    /// download, say) with another HTTP client as the browser's session.
    pub async fn cookie_header(&self) -> String {
        let cookies = self.cookies().await;
        cookies.iter().map(|c| format!("{}={}", c.name, c.value)).collect::<Vec<_>>().join("; ")
    }

    /// Waits for an `alert`, `confirm` or `prompt` dialog, accepts it, and returns its message.
    pub async fn accept_alert(&self) -> String {
        self.answer_alert("accept").await
    }

    /// Waits for a dialog, dismisses it ("Cancel"), and returns its message.
    pub async fn dismiss_alert(&self) -> String {
        self.answer_alert("dismiss").await
    }

    /// Saves a PNG of the viewport as `NN-name.png` in [`screenshot_dir`](Self::screenshot_dir)
    /// and returns its path; `NN` counts this browser's screenshots, so they sort in order.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        match self.try_screenshot(name).await {
            Ok(path) => path,
            Err(e) => panic!("screenshot({name:?}) at {}: {e}", self.url_for_message().await),
        }
    }

    async fn answer_alert(&self, how: &str) -> String {
        let deadline = Instant::now() + self.wait;
        loop {
            match self.get("/alert/text").await {
                Ok(text) => {
                    let text = text.as_str().unwrap_or_default().to_owned();
                    let result = self.post(&format!("/alert/{how}"), json!({})).await;
                    self.check(&format!("{how}_alert()"), result).await;
                    return text;
                }
                Err(e) if e.is("no such alert") && Instant::now() < deadline => tokio::time::sleep(POLL).await,
                Err(e) => {
                    panic!("{}", self.failure(&format!("{how}_alert(): no dialog within {:?}: {e}", self.wait)).await)
                }
            }
        }
    }

    fn element(&self, css: &str, id: String) -> Element<'_> {
        Element { browser: self, css: css.to_owned(), id }
    }

    async fn try_find(&self, css: &str) -> Result<Option<String>, Failure> {
        match self.post("/element", json!({ "using": "css selector", "value": css })).await {
            Ok(found) => element_id(&found).map(Some),
            Err(e) if e.is("no such element") => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn try_current_url(&self) -> Result<String, Failure> {
        let url = self.get("/url").await?;
        url.as_str().map(str::to_owned).ok_or_else(|| Failure::Protocol(format!("URL {url}")))
    }

    async fn try_execute(&self, script: &str, args: &[Value]) -> Result<Value, Failure> {
        self.post("/execute/sync", json!({ "script": script, "args": args })).await
    }

    async fn try_screenshot(&self, name: &str) -> Result<PathBuf, Failure> {
        let png = self.get("/screenshot").await?;
        let png = png.as_str().ok_or_else(|| Failure::Protocol(format!("screenshot {png}")))?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(png)
            .map_err(|e| Failure::Protocol(format!("screenshot is not base64: {e}")))?;
        let number = self.shot_count.fetch_add(1, Ordering::Relaxed) + 1;
        let path = self.shots.join(format!("{number:02}-{}.png", file_name(name)));
        std::fs::write(&path, png).map_err(|e| Failure::Protocol(format!("writing {}: {e}", path.display())))?;
        Ok(path)
    }

    /// The value of a command that must succeed, or a panic describing the page.
    async fn check(&self, what: &str, result: Result<Value, Failure>) -> Value {
        match result {
            Ok(value) => value,
            Err(e) => panic!("{}", self.failure(&format!("{what}: {e}")).await),
        }
    }

    /// A failure message: what failed, where, a screenshot and the page's text. Everything here
    /// is best effort, since the browser itself may be what broke.
    async fn failure(&self, what: &str) -> String {
        let url = self.url_for_message().await;
        let shot = match self.try_screenshot("failure").await {
            Ok(path) => path.display().to_string(),
            Err(e) => format!("none ({e})"),
        };
        let text = match self.try_execute("return document.body ? document.body.innerText : ''", &[]).await {
            Ok(Value::String(text)) => text,
            Ok(other) => other.to_string(),
            Err(e) => format!("unavailable ({e})"),
        };
        let mut shown: String = text.chars().take(PAGE_TEXT_LIMIT).collect();
        if shown.len() < text.len() {
            shown.push_str("\n[…]");
        }
        let text = shown.lines().map(|line| format!("    {line}")).collect::<Vec<_>>().join("\n");
        format!("{what}\n  page: {url}\n  screenshot: {shot}\n  page text:\n{text}")
    }

    async fn url_for_message(&self) -> String {
        self.try_current_url().await.unwrap_or_else(|e| format!("unknown ({e})"))
    }

    async fn get(&self, path: &str) -> Result<Value, Failure> {
        self.command(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, Failure> {
        self.command(Method::POST, path, Some(body)).await
    }

    async fn command(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, Failure> {
        send(&self.http, method, &format!("{}{path}", self.session), body).await
    }
}

impl Element<'_> {
    /// Clicks it.
    pub async fn click(&self) {
        let result = self.post("/click", json!({})).await;
        self.check("click", result).await;
    }

    /// Clears it, then types `text` into it.
    pub async fn fill(&self, text: &str) {
        let result = self.post("/clear", json!({})).await;
        self.check("fill (clearing)", result).await;
        let result = self.post("/value", json!({ "text": text })).await;
        self.check("fill (typing)", result).await;
    }

    /// Chooses, in this `<select>`, the option whose value is `value`.
    pub async fn select(&self, value: &str) {
        let option = format!("option[value=\"{}\"]", css_string(value));
        let result = self.post("/element", json!({ "using": "css selector", "value": option })).await;
        let option = self.check(&format!("select({value:?}): finding the option"), result).await;
        let option = match element_id(&option) {
            Ok(id) => id,
            Err(e) => panic!("select({value:?}) on {:?}: {e}", self.css),
        };
        let result = self.browser.post(&format!("/element/{option}/click"), json!({})).await;
        self.check(&format!("select({value:?}): clicking the option"), result).await;
        let chosen = self.value().await;
        if chosen != value {
            let what = format!("select({:?}, {value:?}): the field's value is {chosen:?} instead", self.css);
            panic!("{}", self.browser.failure(&what).await);
        }
    }

    /// Its rendered text.
    pub async fn text(&self) -> String {
        let result = self.get("/text").await;
        let text = self.check("text", result).await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Its current `value` property (what the user typed or chose).
    pub async fn value(&self) -> String {
        let result = self.get("/property/value").await;
        let value = self.check("value", result).await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Its attribute `name`, if it has one.
    pub async fn attribute(&self, name: &str) -> Option<String> {
        let result = self.get(&format!("/attribute/{name}")).await;
        let value = self.check(&format!("attribute({name:?})"), result).await;
        value.as_str().map(str::to_owned)
    }

    async fn check(&self, what: &str, result: Result<Value, Failure>) -> Value {
        match result {
            Ok(value) => value,
            Err(e) => panic!("{}", self.browser.failure(&format!("{what} on {:?}: {e}", self.css)).await),
        }
    }

    async fn get(&self, rest: &str) -> Result<Value, Failure> {
        self.browser.get(&format!("/element/{}{rest}", self.id)).await
    }

    async fn post(&self, rest: &str, body: Value) -> Result<Value, Failure> {
        self.browser.post(&format!("/element/{}{rest}", self.id), body).await
    }
}

/// One WebDriver command: the answer's `value`, or the error it carries.
async fn send(http: &reqwest::Client, method: Method, url: &str, body: Option<Value>) -> Result<Value, Failure> {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(Failure::Transport)?;
    let status = response.status();
    let mut answer: Value = response.json().await.map_err(Failure::Transport)?;
    let value = answer.get_mut("value").map(Value::take).unwrap_or_default();
    if status.is_success() {
        return Ok(value);
    }
    Err(Failure::WebDriver {
        error: value["error"].as_str().unwrap_or("unknown error").to_owned(),
        message: value["message"].as_str().unwrap_or_default().to_owned(),
    })
}

fn element_id(found: &Value) -> Result<String, Failure> {
    found[ELEMENT_KEY].as_str().map(str::to_owned).ok_or_else(|| Failure::Protocol(format!("element {found}")))
}

/// `text` quoted for a CSS string between double quotes.
fn css_string(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\a ")
}

/// `name` with anything but letters, digits, `-`, `_` and `.` replaced, to be a file name.
fn file_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

/// `target/browser-screenshots`, where CI collects artifacts.
fn screenshot_root() -> PathBuf {
    let root = crate::binaries::workspace_root();
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    };
    target.join("browser-screenshots")
}

/// The `chromedriver` process, its session and the browser profile folder it was given.
struct Driver {
    child: Child,
    port: u16,
    /// `http://127.0.0.1:PORT`.
    url: String,
    /// The session's path (`/session/ID`) once there is one.
    session: Option<String>,
    profile: PathBuf,
}

impl Driver {
    /// Starts `chromedriver` on a port of its choosing (it accepts `--port=0` and says which).
    /// Now and then, on a busy machine, it exits before saying (seen once in a full run with
    /// several browser tests at once): it is started again, up to three times in all.
    async fn spawn() -> Driver {
        for attempt in 1..=3 {
            match Driver::try_spawn().await {
                Ok(driver) => return driver,
                Err(status) if attempt < 3 => {
                    eprintln!("chromedriver exited ({status}) before saying its port; starting it again");
                }
                Err(status) => {
                    panic!("chromedriver exited ({status}) before saying which port it listens on, three times")
                }
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// One start of `chromedriver`; its exit status when it ends before announcing its port.
    async fn try_spawn() -> Result<Driver, String> {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let profile = std::env::temp_dir().join(format!(
            "e2e-browser-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).unwrap_or_else(|e| panic!("creating {}: {e}", profile.display()));

        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // Its log would show whatever a test types, secrets included: only on request.
            .stderr(if std::env::var_os("E2E_APP_LOGS").is_some() { Stdio::inherit() } else { Stdio::null() })
            // Its own process group, holding the browser it starts, so all of it can be killed.
            .process_group(0)
            .kill_on_drop(true);
        let child =
            command.spawn().unwrap_or_else(|e| panic!("starting {CHROMEDRIVER} (Debian package chromium-driver): {e}"));
        let mut driver = Driver { child, port: 0, url: String::new(), session: None, profile };

        let stdout = driver.child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(STARTUP, async {
            while let Some(line) = lines.next_line().await.expect("read chromedriver's output") {
                if let Some(port) = announced_port(&line) {
                    return Some(port);
                }
            }
            None
        })
        .await
        .expect("chromedriver says which port it listens on");
        let Some(port) = port else {
            let status = driver.child.wait().await.map_or_else(|e| e.to_string(), |s| s.to_string());
            return Err(status);
        };
        // Keep reading, so the driver never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        driver.port = port;
        driver.url = format!("http://127.0.0.1:{port}");
        Ok(driver)
    }

    /// Polls `/status` until the driver accepts sessions.
    async fn wait_ready(&self, http: &reqwest::Client) {
        let deadline = Instant::now() + STARTUP;
        loop {
            let status = send(http, Method::GET, &format!("{}/status", self.url), None).await;
            match status {
                Ok(status) if status["ready"] == json!(true) => return,
                Ok(status) if Instant::now() >= deadline => panic!("chromedriver is not ready: {status}"),
                Err(e) if Instant::now() >= deadline => panic!("chromedriver is not ready: {e}"),
                _ => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Opens a session in a new headless Chromium; returns the session's base URL.
    async fn new_session(&mut self, http: &reqwest::Client, window: Window) -> String {
        let args = [
            "--headless=new".to_owned(),
            // Tests run as root in containers, where the sandbox cannot start.
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            // Containers often have a tiny /dev/shm.
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-extensions".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--lang=en-US".to_owned(),
            format!("--window-size={},{}", window.width, window.height),
            format!("--user-data-dir={}", self.profile.display()),
        ];
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            "timeouts": { "implicit": 0, "pageLoad": 60_000, "script": 30_000 },
        }}});
        let session = send(http, Method::POST, &format!("{}/session", self.url), Some(capabilities))
            .await
            .unwrap_or_else(|e| panic!("starting {CHROMIUM} (Debian package chromium): {e}"));
        let id = session["sessionId"].as_str().unwrap_or_else(|| panic!("no session id in {session}"));
        let path = format!("/session/{id}");
        self.session = Some(path.clone());
        format!("{}{path}", self.url)
    }

    /// Ends the session, which closes the browser and waits for its processes. `Drop` cannot
    /// await, so this is a plain blocking HTTP request; any failure is left to the kill after it.
    fn end_session(&self) {
        use std::io::{Read, Write};
        let Some(path) = &self.session else { return };
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else { return };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "DELETE {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return;
        }
        // The answer's head is enough: the driver sends it once the browser is gone.
        let mut answer = Vec::new();
        let mut buffer = [0u8; 1024];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.end_session();
        // Then the whole group: the driver, and whatever of the browser is left.
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The port in chromedriver's "ChromeDriver was started successfully on port N." line.
fn announced_port(line: &str) -> Option<u16> {
    let (_, rest) = line.split_once("started successfully on port ")?;
    rest.trim_end().trim_end_matches('.').parse().ok()
}

#[cfg(test)]
mod skip_tests {
    use super::all_present;

    const GONE: &str = "/nonexistent/chromedriver";

    #[test]
    fn without_a_browser_a_test_skips_outside_ci() {
        assert!(!all_present("t", &[GONE], false));
        assert!(all_present("t", &["/"], false), "present paths let the test run");
    }

    #[test]
    #[should_panic(expected = "in CI a browser test never skips")]
    fn without_a_browser_a_test_fails_in_ci() {
        all_present("t", &[GONE], true);
    }
}
