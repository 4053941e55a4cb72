//! Every page in Spanish, in real headless Chromium: signed in with the page's switch set to
//! Spanish, the walk opens each page of the router, submits each form once with bad input so
//! that its errors show, and opens a failed run's page. On each, the visible text must hold no
//! English: no phrase of the English catalogue whose Spanish differs, and no common English
//! function word. What a page shows of the operator's own data (app names, URLs, cron
//! expressions, file names) is not English and is not looked at as such.

use std::collections::BTreeMap;
use std::time::Duration;

use e2e::broken::{self, Fault};
use e2e::browser::Browser;
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::sdk_apps::{self, Behaviour};
use serde_json::Value;

const EN: &str = include_str!("../../../web/i18n/en.json");
const ES: &str = include_str!("../../../web/i18n/es.json");

/// English words that no Spanish sentence holds, matched whole and in any case.
const FUNCTION_WORDS: &[&str] = &[
    "the",
    "was",
    "were",
    "could not",
    "cannot",
    "and",
    "is",
    "not",
    "of",
    "to",
    "with",
    "this",
    "that",
    "has",
    "have",
    "been",
    "will",
    "which",
    "from",
    "yet",
    "it",
    "its",
    "there",
    "when",
    "should",
    "would",
    "as",
];

/// What pages show that is stored in English and not yet a code: nothing now. (Why a run
/// failed, its log lines and the audit log's details are said in the page's language; the app's
/// or the network's own words in them, and log lines without a code, are marked as not in it.)
const STORED_ENGLISH: &[&str] = &[];

/// The page's visible text, line by line, without what is marked as written in another language
/// (`lang="en"`: the OpenAPI reference, the name of the language English in the switch).
const VISIBLE_TEXT: &str = r#"
const copy = document.body.cloneNode(true);
copy.querySelectorAll('[lang]:not([lang=es]), script, style, [hidden]').forEach((e) => e.remove());
for (const skip of arguments[0]) { copy.querySelectorAll(skip).forEach((e) => e.remove()); }
document.body.appendChild(copy);
copy.style.position = 'absolute';
const text = copy.innerText;
copy.remove();
return text;
"#;

/// Sets the named fields of a form and submits it (without its confirmation dialogs).
const SUBMIT: &str = r#"
const form = document.querySelector(arguments[0]);
for (const [name, value] of Object.entries(arguments[1])) {
  for (const field of form.querySelectorAll(`[name="${name}"]`)) {
    if (field.type === 'checkbox' || field.type === 'radio') { field.checked = field.value === value || value === 'on'; }
    else { field.value = value; }
  }
}
window.e2eOldPage = true;
HTMLFormElement.prototype.submit.call(form);
return true;
"#;

/// English phrases of the catalogue (two words or more between its placeholders) whose Spanish
/// text differs.
fn english_phrases() -> Vec<String> {
    let en: BTreeMap<String, String> = serde_json::from_str(EN).unwrap();
    let es: BTreeMap<String, String> = serde_json::from_str(ES).unwrap();
    let mut phrases: Vec<String> = en
        .iter()
        .filter(|(key, text)| es.get(*key) != Some(*text))
        .flat_map(|(_, text)| {
            let mut pieces = Vec::new();
            let mut rest = text.as_str();
            while let Some(open) = rest.find('{') {
                pieces.push(rest[..open].to_owned());
                rest = rest[open..].split_once('}').map_or("", |(_, after)| after);
            }
            pieces.push(rest.to_owned());
            pieces
        })
        .map(|p| p.trim_matches(|c: char| !c.is_alphanumeric()).to_owned())
        .filter(|p| p.split_whitespace().filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2).count() >= 2)
        .collect();
    phrases.sort();
    phrases.dedup();
    phrases
}

/// The words of a line, leaving out identifiers and paths (`email_from`, `/api/v1/apps`).
fn words(line: &str) -> Vec<String> {
    line.split_whitespace()
        .filter(|token| !token.contains(['_', '/', '=', '@', '`']))
        .flat_map(|token| token.split(|c: char| !c.is_alphanumeric() && c != '\''))
        .map(str::to_lowercase)
        .collect()
}

/// The lines of `text` that are English, with why.
fn english_lines(text: &str, phrases: &[String], data: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        // The operator's data is not looked at: names, URLs, expressions, files.
        let mut looked = line.to_owned();
        for d in data {
            looked = looked.replace(d, " ");
        }
        if let Some(phrase) = phrases.iter().find(|p| looked.contains(p.as_str())) {
            found.push(format!("{line:?} (the catalogue's English \"{phrase}\")"));
            continue;
        }
        let ws = words(&looked);
        let joined = format!(" {} ", ws.join(" "));
        if let Some(word) = FUNCTION_WORDS.iter().find(|w| joined.contains(&format!(" {w} "))) {
            found.push(format!("{line:?} (the English word \"{word}\")"));
        }
    }
    found
}

struct Walk<'a> {
    browser: &'a Browser,
    base: String,
    phrases: Vec<String>,
    data: Vec<String>,
    english: Vec<String>,
}

impl Walk<'_> {
    async fn look(&mut self, what: &str, skip: &[&str]) {
        self.browser.screenshot(what).await;
        assert_eq!(self.browser.attribute("html", "lang").await.as_deref(), Some("es"), "{what} is in Spanish");
        let skip: Vec<Value> = skip.iter().chain(STORED_ENGLISH).map(|s| Value::from(*s)).collect();
        let text = self.browser.execute(VISIBLE_TEXT, &[Value::Array(skip)]).await;
        let data: Vec<&str> = self.data.iter().map(String::as_str).collect();
        for line in english_lines(text.as_str().unwrap_or(""), &self.phrases, &data) {
            self.english.push(format!("{what}: {line}"));
        }
    }

    async fn visit(&mut self, path: &str, skip: &[&str]) {
        self.browser.goto(&format!("{}{path}", self.base)).await;
        self.browser.wait_for("main").await;
        self.look(path, skip).await;
    }

    /// Submits `form` on the page at `path` with `fields`, then looks at the answer.
    async fn submit(&mut self, path: &str, form: &str, fields: Value, shows: &str) {
        self.browser.goto(&format!("{}{path}", self.base)).await;
        self.browser.wait_for(form).await;
        self.browser.execute(SUBMIT, &[form.into(), fields]).await;
        for _ in 0..100 {
            if self.browser.execute("return window.e2eOldPage !== true;", &[]).await == true {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.browser.wait_for(shows).await;
        self.look(&format!("{path} {form} refused"), &[]).await;
    }
}

#[tokio::test]
async fn every_page_and_form_error_reads_in_spanish() {
    let h = Harness::sqlite().await;
    let good = sdk_apps::spawn(Behaviour::Good { size: 64 * 1024, delay: Duration::ZERO }, 3).await;
    let broken = broken::spawn(Fault::DiesMidStream, e2e::apps::TOKEN).await;
    let (billing, ledger) = (h.folder("billing"), h.folder("ledger"));
    h.add_app("billing", &good.url, &billing, &["--group", "db-1", "--tag", "prod"]).await;
    h.add_app("ledger", &broken.url, &ledger, &[]).await;
    let copy = h.backup("billing", &[]).await;
    let failed = h.cli(&["run", "ledger"]).await;
    assert!(!failed.status.success(), "the broken app's run fails");
    let db = h.db().await;
    use sea_orm::{EntityTrait, QueryOrder};
    let runs = orchestrator::db::entities::backup_run::Entity::find()
        .order_by_asc(orchestrator::db::entities::backup_run::Column::Id)
        .all(&db)
        .await
        .unwrap();
    let failed_run = runs.iter().find(|r| r.status.to_string() == "failed").expect("a failed run").id;
    let good_run = runs.iter().find(|r| r.status.to_string() == "succeeded").expect("a good run").id;

    let served = h.serve(&[]).await;
    let Some(browser) = Browser::start("every_page_and_form_error_reads_in_spanish").await else { return };
    let data = vec![
        good.url.clone(),
        broken.url.clone(),
        billing.clone(),
        ledger.clone(),
        copy.clone(),
        served.url.clone(),
        "test-app".to_owned(),
    ];
    let mut walk =
        Walk { browser: &browser, base: served.url.clone(), phrases: english_phrases(), data, english: Vec::new() };

    // Sign-in in Spanish, first with a wrong password.
    browser.goto(&format!("{}/login", served.url)).await;
    browser.wait_for("#login-form").await;
    browser.click("a[href^='/lang/es']").await;
    browser.wait_for("html[lang=es]").await;
    walk.look("/login", &[]).await;
    walk.submit("/login", "#login-form", serde_json::json!({"user": ADMIN_USER, "password": "wrong"}), "#login-error")
        .await;
    browser.fill("#user", ADMIN_USER).await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_for("#register-app").await;

    let copy_path = format!("/apps/billing/copies/{copy}");
    for path in [
        "/".to_owned(),
        "/apps/new".to_owned(),
        "/apps/billing".to_owned(),
        "/apps/ledger".to_owned(),
        "/apps/billing/edit".to_owned(),
        "/apps/billing/delete".to_owned(),
        "/apps/billing/adopt".to_owned(),
        "/apps/billing/restore-file".to_owned(),
        format!("{copy_path}/restore"),
        format!("{copy_path}/delete"),
        "/runs".to_owned(),
        format!("/runs/{good_run}"),
        "/queue".to_owned(),
        "/audit".to_owned(),
        "/groups".to_owned(),
        "/tokens".to_owned(),
        "/settings/drive".to_owned(),
        "/settings/encryption".to_owned(),
        "/settings/self-backup".to_owned(),
        "/api-docs".to_owned(),
    ] {
        walk.visit(&path, &[]).await;
    }
    // A failed run's page: why it failed is said in Spanish, what the network said quoted in it.
    walk.visit(&format!("/runs/{failed_run}"), &[]).await;
    let why = walk.browser.text("#run-error").await;
    assert!(why.starts_with("la exportación se cortó tras "), "{why}");
    assert!(walk.browser.exists("#run-error q[lang='']").await, "the transport's own words are marked as theirs");

    // Each form once with bad input.
    let bad_app = serde_json::json!({
        "name": "Bad Name", "url": "ftp://billing", "token": "", "schedule_preset": "custom",
        "schedule": "0 25 * *", "time_zone": "Mars/Base", "folder": "../etc", "keep_last": "0",
        "keep_daily": "20000", "window": "soon", "jitter": "13h", "group": "db host", "tags": "bad!",
        "drill_schedule": "99 * * * *", "drill_copy": "oldest", "recipients": "age1nope", "priority": "urgent",
    });
    walk.submit("/apps/new", "#app-form", bad_app, "#form-errors").await;
    let bad_edit = serde_json::json!({"keep_weekly": "many", "window": "1h", "jitter": "2h", "schedule_preset": "custom", "schedule": "@sometimes"});
    walk.submit("/apps/billing/edit", "#app-form", bad_edit, "#form-errors").await;
    walk.submit(
        "/apps/new",
        "#app-form",
        serde_json::json!({"name": "", "url": "", "folder": "", "schedule_preset": "custom", "schedule": ""}),
        "#form-errors",
    )
    .await;
    walk.submit(
        "/groups",
        ".group-form",
        serde_json::json!({"max_concurrent": "0", "window": "soon", "jitter": "13h"}),
        ".field-error",
    )
    .await;
    walk.submit(
        "/",
        "#bulk-form",
        serde_json::json!({"action": "set_schedule", "schedule": "0 3 * *"}),
        "#bulk-refused",
    )
    .await;
    walk.submit(
        "/",
        "#bulk-form",
        serde_json::json!({"action": "set_retention", "keep_last": "x", "app": "billing"}),
        "#bulk-refused",
    )
    .await;
    walk.submit("/tokens", "#token-form", serde_json::json!({"name": ""}), ".field-error").await;
    walk.submit("/apps/billing/delete", "#delete-app-form", serde_json::json!({"confirm": "nope"}), "#confirm-error")
        .await;
    walk.submit(
        &format!("{copy_path}/delete"),
        "#delete-copy-form",
        serde_json::json!({"password": "wrong"}),
        "#password-error",
    )
    .await;
    walk.submit(
        &format!("{copy_path}/restore"),
        "#restore-form",
        serde_json::json!({"confirm": "nope"}),
        "#restore-error",
    )
    .await;
    // A refusal of the domain (billing takes no restores) is said in Spanish too.
    walk.submit(
        &format!("{copy_path}/restore"),
        "#restore-form",
        serde_json::json!({"confirm": "billing", "password": ADMIN_PASSWORD}),
        "#restore-error",
    )
    .await;
    let refusal = walk.browser.text("#restore-error").await;
    assert!(refusal.starts_with("billing no acepta restauraciones"), "{refusal}");
    // Error pages: what is missing, in Spanish, on a Spanish page.
    walk.visit("/runs/999999", &[]).await;
    assert!(walk.browser.text("main").await.contains("No existe la ejecución 999999."));
    walk.visit("/apps/nobody", &[]).await;
    walk.submit(
        "/apps/billing/restore-file",
        "#restore-file-form",
        serde_json::json!({"confirm": "billing"}),
        "#restore-file-error",
    )
    .await;
    walk.submit("/apps/billing/adopt", "#adopt-preview-form", serde_json::json!({"match": "nothing-*.zip"}), "main")
        .await;
    // The destination check's findings (a local folder: written, removed, and its space).
    walk.submit("/settings/drive", "#destination-check-form", serde_json::json!({}), ".finding").await;
    walk.visit("/notifications", &[]).await;
    let bad_channel = serde_json::json!({
        "name": "", "app": "nobody", "url": "ftp://hooks", "signing_secret": "short", "summary": "daily",
        "summary_hour": "25", "time_zone": "Mars/Base", "language": "fr", "tags": "bad!",
    });
    walk.submit("/notifications", "#channel-form", bad_channel, "#form-errors").await;
    assert!(walk.browser.exists("#name-error").await, "the channel form's errors show");

    assert!(walk.english.is_empty(), "English on Spanish pages:\n{}", walk.english.join("\n"));
}
