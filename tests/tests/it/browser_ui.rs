//! The web UI in real headless Chromium: an operator's whole day with one app (sign in, register
//! with a mistake first, check the connection, Test now followed live, download, pause, delete),
//! the pages on a phone, and the language switch. Every step saves a screenshot, so a failure
//! (or a layout change) can be looked at in CI's artifacts.

use std::time::Duration;

use e2e::apps::TOKEN;
use e2e::browser::Browser;
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::sdk_apps::{self, Behaviour, expected_sha256};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

const MIB: u64 = 1024 * 1024;

/// Where the run page's states are kept while the test watches: session storage outlives the
/// reload the page's script does once the run ends.
const SEEN_KEY: &str = "e2e-run-states";

/// Records the run page's status, bytes and phase now and at every change of the live section.
/// Entries written by the observer are `live`: only the page's script changes the section.
const WATCH_RUN: &str = r#"
const key = arguments[0];
const snapshot = (source) => {
  const seen = JSON.parse(window.sessionStorage.getItem(key) || "[]");
  seen.push({
    source,
    status: document.getElementById("run-status").dataset.status,
    bytes: document.getElementById("run-bytes").textContent.trim(),
    phase: document.getElementById("run-phase").textContent.trim(),
  });
  window.sessionStorage.setItem(key, JSON.stringify(seen));
};
snapshot("initial");
const observer = new MutationObserver(() => snapshot("live"));
observer.observe(document.getElementById("run"), { subtree: true, childList: true, characterData: true, attributes: true });
return true;
"#;

/// Visible form fields (not hidden inputs or buttons) that no label names.
const UNLABELLED_FIELDS: &str = r#"
const skip = ["hidden", "submit", "button", "reset", "image"];
return Array.from(document.querySelectorAll("input, select, textarea"))
  .filter((field) => !skip.includes(field.type) && field.getClientRects().length > 0)
  .filter((field) => !field.labels || field.labels.length === 0)
  .map((field) => field.id || field.name || field.outerHTML);
"#;

/// The page's width against the window's: anything wider scrolls sideways.
const WIDTHS: &str = "return [document.documentElement.scrollWidth, window.innerWidth];";

async fn app_count(h: &Harness) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    orchestrator::db::entities::app::Entity::find().count(&h.db().await).await.unwrap()
}

/// Signs in through the form, starting from the dashboard's address (which sends to sign-in).
async fn sign_in(browser: &Browser, base: &str) {
    browser.goto(&format!("{base}/")).await;
    browser.wait_for("#login-form").await;
    browser.screenshot("sign in").await;
    browser.fill("#user", ADMIN_USER).await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_for("#register-app").await;
}

/// Asserts the page neither scrolls sideways nor has a field without a label.
async fn assert_fits_and_is_labelled(browser: &Browser, what: &str) {
    let widths = browser.execute(WIDTHS, &[]).await;
    let (content, window) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
    assert!(content <= window, "{what} is {content} px wide in a {window} px window");
    let unlabelled = browser.execute(UNLABELLED_FIELDS, &[]).await;
    assert_eq!(unlabelled, Value::Array(Vec::new()), "{what} has fields without a label");
}

#[tokio::test]
async fn an_operator_registers_an_app_tests_it_live_downloads_pauses_and_deletes_it() {
    let h = Harness::sqlite().await;
    // 64 pieces of 64 KiB, 50 ms apart: the run lasts seconds, so its progress can be seen.
    let size = 4 * MIB;
    let app = sdk_apps::spawn(Behaviour::Good { size, delay: Duration::from_millis(50) }, 21).await;
    let expected = expected_sha256(size, 21);
    let folder = h.folder("billing");
    let served = h.serve(&[]).await;
    let Some(browser) =
        Browser::start("an_operator_registers_an_app_tests_it_live_downloads_pauses_and_deletes_it").await
    else {
        return;
    };

    sign_in(&browser, &served.url).await;
    browser.screenshot("dashboard").await;
    browser.click("#register-app").await;
    browser.wait_for("#app-form").await;
    assert_eq!(browser.text("h1").await, "Register an app");

    // Everything right but the hour of the schedule.
    browser.fill("#name", "billing").await;
    browser.fill("#url", &app.url).await;
    browser.fill("#token", TOKEN).await;
    browser.select("#schedule_preset", "custom").await;
    browser.fill("#schedule", "0 25 * * *").await;
    browser.fill("#time_zone", "Europe/Madrid").await;
    browser.fill("#folder", &folder).await;
    browser.wait_for("#cron-error").await;
    browser.screenshot("form with a wrong hour").await;
    browser.click("#save").await;

    let error = browser.wait_for("#schedule-error").await.text().await;
    assert!(!error.is_empty(), "the schedule's error says what is wrong");
    browser.screenshot("the error next to the schedule").await;
    assert_eq!(browser.attribute("#schedule", "aria-describedby").await.as_deref(), Some("schedule-error"));
    assert_eq!(browser.attribute("#schedule", "aria-invalid").await.as_deref(), Some("true"));
    assert!(browser.exists("#form-errors").await, "the form says it has errors");
    for other in ["#name-error", "#url-error", "#token-error", "#time_zone-error", "#folder-error"] {
        assert!(!browser.exists(other).await, "only the schedule is wrong, yet {other} shows");
    }
    assert_eq!(browser.value("#schedule").await, "0 25 * * *", "what was typed is kept");
    assert_eq!(browser.value("#name").await, "billing");
    assert_eq!(browser.value("#token").await, "", "the token is never sent back to the page");
    assert_eq!(app_count(&h).await, 0, "nothing was saved");

    // Typing a valid schedule updates the preview in place (the server rendered an error there).
    browser.execute("window.e2eSamePage = true; return true;", &[]).await;
    browser.fill("#schedule", "30 4 * * *").await;
    let words = browser.wait_for_text("#cron-words", "04:30").await;
    assert_eq!(words, "every day at 04:30 (Europe/Madrid)");
    let next = browser.execute("return document.querySelectorAll('#cron-next li').length;", &[]).await;
    assert_eq!(next, 5, "the next five runs are listed");
    let next_text = browser.text("#cron-next").await;
    assert!(next_text.lines().all(|line| line.contains("04:30")), "{next_text}");
    assert_eq!(browser.execute("return window.e2eSamePage === true;", &[]).await, true, "the page never reloaded");
    assert!(!browser.exists("#cron-error").await);
    browser.screenshot("live schedule preview").await;

    // Check connection shows what the app offers.
    browser.fill("#token", TOKEN).await;
    browser.click("#check-connection").await;
    let result = browser.wait_for_text("#check-result", "full").await;
    assert!(result.starts_with("Connected: test-app"), "{result}");
    assert!(browser.exists("#check-result.ok").await);
    assert!(browser.exists("#backup_type option[value=full]").await, "the app's types are offered");
    assert_eq!(browser.value("#schedule").await, "30 4 * * *", "the fixed schedule is kept");
    assert_eq!(app_count(&h).await, 0, "checking saves nothing");
    browser.screenshot("connection checked").await;

    // The page never holds the token, so it is typed again to save.
    browser.fill("#token", TOKEN).await;
    browser.select("#backup_type", "full").await;
    browser.click("#save").await;
    browser.wait_for_text("#app-title", "billing").await;
    assert!(browser.current_url().await.ends_with("/apps/billing"));
    assert_eq!(browser.text("#app-state").await, "Enabled");
    assert!(browser.text("main").await.contains("every day at 04:30 (Europe/Madrid)"));
    assert!(browser.exists("#no-copies").await);
    assert_eq!(app_count(&h).await, 1);
    browser.screenshot("the app").await;

    // Test now, with a note: the run's page follows it over Server-Sent Events.
    browser.fill("#run-note", "antes de migrar").await;
    browser.click("#test-now").await;
    browser.wait_for("#run-status").await;
    browser.execute(WATCH_RUN, &[SEEN_KEY.into()]).await;
    assert!(browser.current_url().await.contains("/runs/"));
    browser.screenshot("run started").await;
    browser.wait_for("#run-status[data-status=succeeded]").await;
    browser.screenshot("run succeeded live").await;
    // Once it ends the page reloads itself for the final facts.
    browser.wait_for_text("#run-sha256", &expected).await;
    assert_eq!(browser.attribute("#run", "data-events").await.as_deref(), Some(""), "nothing left to follow");
    browser.screenshot("run with its sha256").await;

    let seen = browser.execute(&format!("return window.sessionStorage.getItem('{SEEN_KEY}');"), &[]).await;
    let seen: Vec<Value> = serde_json::from_str(seen.as_str().expect("the run page's states were kept")).unwrap();
    let live: Vec<&Value> = seen.iter().filter(|s| s["source"] == "live").collect();
    assert!(
        live.iter()
            .any(|s| s["status"] == "running" && s["bytes"] != "0 B" && !s["bytes"].as_str().unwrap().is_empty()),
        "bytes were shown while the run was going: {seen:?}"
    );
    assert!(live.iter().any(|s| s["status"] == "succeeded"), "the script showed the outcome itself: {seen:?}");

    // The copy is on the app's page with its verified sha256.
    browser.click("main > p > a").await;
    browser.wait_for("#copies .copy-row").await;
    let rows = browser.execute("return document.querySelectorAll('#copies .copy-row').length;", &[]).await;
    assert_eq!(rows, 1);
    let files = h.double.files_in(&folder);
    assert_eq!(files.len(), 1);
    assert_eq!(browser.attribute("#copies .copy-row", "data-copy").await.as_deref(), Some(files[0].name.as_str()));
    assert_eq!(browser.text("#copies .copy-row .hash code").await, expected);
    assert!(browser.exists("#runs .status-succeeded").await, "the history shows the run");
    assert_eq!(browser.text("#copies .copy-row .note").await, "antes de migrar");
    assert_eq!(files[0].app_properties.get("note").map(String::as_str), Some("antes de migrar"));
    browser.screenshot("the copy").await;

    // Pin it with a note: the badge shows, the copy cannot be deleted, the marks hold the pin.
    browser.click("#copies .copy-row .pin-form summary").await;
    browser.fill("#copies .copy-row .pin-form input[name=note]", "cierre de año").await;
    browser.screenshot("pin form").await;
    browser.click("#copies .copy-row .pin-form button.pin").await;
    browser.wait_for("#copies .copy-row .badge.pinned").await;
    assert_eq!(browser.text("#copies .copy-row .note").await, "cierre de año");
    assert!(!browser.exists("#copies .copy-row .delete").await, "a pinned copy offers no delete");
    let marks = h.double.files_in(&folder)[0].app_properties.clone();
    assert_eq!((marks["pin"].as_str(), marks["note"].as_str()), ("1", "cierre de año"));
    browser.screenshot("pinned").await;
    browser.click("#copies .copy-row .unpin").await;
    browser.wait_for("#copies .copy-row .pin-form").await;
    assert_eq!(h.double.files_in(&folder)[0].app_properties["pin"], "0");
    assert!(browser.exists("#copies .copy-row .delete").await);

    // The download link works with the browser's session, and the bytes are the app's.
    // Stored compressed (the default for an export that is not): "Download as exported" gives
    // the app's bytes.
    let href = browser.attribute("#copies .copy-row .download-plain", "href").await.expect("the link has an href");
    let link = reqwest::Url::parse(&browser.current_url().await).unwrap().join(&href).unwrap();
    let http = reqwest::Client::new();
    let download = http.get(link).header(reqwest::header::COOKIE, browser.cookie_header().await).send().await.unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    let bytes = download.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, size);
    assert_eq!(hex::encode(Sha256::digest(&bytes)), expected);

    // Pause.
    browser.click("#pause").await;
    browser.wait_for_text("#app-state", "Paused").await;
    assert!(browser.exists("#resume").await && !browser.exists("#pause").await);
    browser.screenshot("paused").await;

    // Delete, through the confirmation: a wrong name deletes nothing.
    browser.click("#delete-app").await;
    browser.wait_for("#confirm").await;
    browser.screenshot("delete confirmation").await;
    browser.fill("#confirm", "bill").await;
    browser.click("#confirm-delete").await;
    browser.wait_for("#confirm-error").await;
    assert_eq!(app_count(&h).await, 1, "a wrong name deletes nothing");
    browser.screenshot("wrong name").await;
    browser.fill("#confirm", "billing").await;
    browser.click("#confirm-delete").await;
    browser.wait_for("#register-app").await;
    assert!(!browser.exists(".app-card[data-app=billing]").await, "the app is gone from the dashboard");
    assert_eq!(browser.text("#total-apps").await, "0");
    assert_eq!(app_count(&h).await, 0);
    assert_eq!(h.double.files_in(&folder).len(), 1, "its copies are kept unless asked");
    browser.screenshot("gone").await;
}

#[tokio::test]
async fn the_dashboard_and_the_app_form_fit_a_phone() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(Behaviour::Good { size: 1000, delay: Duration::ZERO }, 5).await;
    let folder = h.folder("billing");
    // One app, so the dashboard shows a card and the app page has something to lay out.
    h.add_app("billing", &app.url, &folder, &[]).await;
    let served = h.serve(&[]).await;
    let Some(browser) = Browser::phone("the_dashboard_and_the_app_form_fit_a_phone").await else { return };

    browser.goto(&format!("{}/login", served.url)).await;
    assert_fits_and_is_labelled(&browser, "the sign-in page").await;
    sign_in(&browser, &served.url).await;
    browser.wait_for(".app-card[data-app=billing]").await;
    browser.screenshot("dashboard").await;
    assert_fits_and_is_labelled(&browser, "the dashboard").await;

    browser.click("#register-app").await;
    browser.wait_for("#app-form").await;
    browser.screenshot("register form").await;
    assert_fits_and_is_labelled(&browser, "the register form").await;
    // Further down the form, after an error and a check: still no sideways scrolling.
    browser.fill("#name", "Not A Valid Name!").await;
    browser.click("#save").await;
    browser.wait_for("#name-error").await;
    browser.execute("document.getElementById('name').scrollIntoView(); return true;", &[]).await;
    browser.screenshot("register form with errors").await;
    assert_fits_and_is_labelled(&browser, "the register form with errors").await;
    browser.fill("#url", &app.url).await;
    browser.fill("#token", TOKEN).await;
    browser.click("#check-connection").await;
    browser.wait_for("#check-result.ok").await;
    browser.execute("document.getElementById('check-result').scrollIntoView(); return true;", &[]).await;
    browser.screenshot("register form checked").await;
    assert_fits_and_is_labelled(&browser, "the register form after checking").await;

    browser.goto(&format!("{}/apps/billing", served.url)).await;
    browser.wait_for("#app-title").await;
    browser.screenshot("app page").await;
    assert_fits_and_is_labelled(&browser, "the app page").await;

    for kind in ["webhook", "email", "ping", "slack", "teams", "discord", "telegram", "ntfy", "gotify"] {
        browser.goto(&format!("{}/notifications?kind={kind}&app=billing", served.url)).await;
        browser.wait_for("#channel-form").await;
        browser.screenshot(&format!("notifications {kind}")).await;
        assert_fits_and_is_labelled(&browser, &format!("the {kind} channel form")).await;
    }
}

#[tokio::test]
async fn the_page_switches_to_spanish() {
    let h = Harness::sqlite().await;
    let served = h.serve(&[]).await;
    let Some(browser) = Browser::start("the_page_switches_to_spanish").await else { return };

    sign_in(&browser, &served.url).await;
    assert_eq!(browser.attribute("html", "lang").await.as_deref(), Some("en"), "the browser asks for English");
    assert_eq!(browser.text("#register-app").await, "Register an app");
    browser.screenshot("english").await;

    browser.click(".lang-switch a").await;
    browser.wait_for_text("#register-app", "Registrar una app").await;
    assert_eq!(browser.attribute("html", "lang").await.as_deref(), Some("es"));
    assert!(browser.text("header nav").await.contains("Ejecuciones"), "the navigation is in Spanish too");
    assert_eq!(browser.text(".lang-switch a").await, "English", "the switch offers the way back");
    browser.screenshot("spanish dashboard").await;

    // The choice sticks while moving around.
    browser.click("#register-app").await;
    browser.wait_for_text("h1", "Registrar una app").await;
    assert!(browser.text("#app-form").await.contains("Programación"));
    browser.screenshot("spanish form").await;

    // Switching back returns to the same page.
    browser.click(".lang-switch a").await;
    browser.wait_for_text("h1", "Register an app").await;
    assert!(browser.current_url().await.ends_with("/apps/new"), "the switch comes back to the page it was on");
    assert_eq!(browser.attribute("html", "lang").await.as_deref(), Some("en"));
    assert!(browser.text("#app-form").await.contains("Schedule"));
    browser.screenshot("english again").await;
}
