//! Saving an app asks the app first: a refused token, a type it does not offer or a URL that does
//! not answer is refused with the app's own answer and the field to fix, and nothing is saved —
//! from the CLI, the API and the form alike; `--no-check` saves an app that is down today. A
//! stored token is never sent to a new URL. Schedule and retention errors name the field and the
//! rule in the operator's terms, once.

use e2e::apps::TOKEN;
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::sdk_apps::{self, Behaviour};
use e2e::web::{self, element_text, sign_in};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn good() -> Behaviour {
    Behaviour::Good { size: 1000, delay: std::time::Duration::ZERO }
}

async fn app_names(h: &Harness) -> Vec<String> {
    use sea_orm::EntityTrait;
    orchestrator::db::entities::app::Entity::find()
        .all(&h.db().await)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect()
}

async fn add(h: &Harness, url: &str, token: &str, extra: &[&str]) -> e2e::cli::Run {
    let mut args = vec!["apps", "add", "crm", "--url", url, "--folder", "crm", "--schedule", "0 3 * * *"];
    args.extend_from_slice(extra);
    h.cli_with(&args, &[("BACKUP_TOKEN", token)]).await
}

#[tokio::test]
async fn the_cli_refuses_what_cannot_work_with_the_apps_own_answer_and_saves_nothing() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(good(), 51).await;
    let wrong = add(&h, &app.url, "not-the-token", &[]).await;
    assert!(!wrong.status.success());
    assert!(wrong.stderr.contains("token: the app refused the token (it answered 401)"), "{}", wrong.stderr);
    let nope = add(&h, &app.url, TOKEN, &["--type", "nope"]).await;
    assert!(!nope.status.success());
    assert!(
        nope.stderr.contains("backup_type: the app does not offer the backup type \"nope\": it offers full"),
        "{}",
        nope.stderr
    );
    let down = h
        .cli_with(
            &["apps", "add", "gone", "--url", "http://127.0.0.1:9", "--folder", "gone", "--schedule", "0 3 * * *"],
            &[("BACKUP_TOKEN", TOKEN)],
        )
        .await;
    assert!(!down.status.success());
    assert!(
        down.stderr.contains("url: could not reach the app") && down.stderr.contains("--no-check"),
        "{}",
        down.stderr
    );
    assert!(app_names(&h).await.is_empty(), "nothing was saved");

    // An app that is down today is saved on purpose.
    let saved = h
        .cli_with(
            &[
                "apps",
                "add",
                "gone",
                "--url",
                "http://127.0.0.1:9",
                "--folder",
                "gone",
                "--schedule",
                "0 3 * * *",
                "--no-check",
            ],
            &[("BACKUP_TOKEN", TOKEN)],
        )
        .await;
    saved.assert_success();
    add(&h, &app.url, TOKEN, &[]).await.assert_success();

    // Moving an app needs its token again: the stored one never goes to the new URL.
    let other = sdk_apps::spawn(good(), 52).await;
    let moved = h.cli(&["apps", "edit", "crm", "--url", &other.url]).await;
    assert!(!moved.status.success());
    assert!(
        moved.stderr.contains("token: the URL changes") && moved.stderr.contains("give the app's token again"),
        "{}",
        moved.stderr
    );
    assert!(other.requests().is_empty(), "nothing was sent to the new URL: {:?}", other.requests());
    let moved = h.cli_with(&["apps", "edit", "crm", "--url", &other.url, "--token"], &[("BACKUP_TOKEN", TOKEN)]).await;
    moved.assert_success();
    let edit_type = h.cli(&["apps", "edit", "crm", "--type", "nope"]).await;
    assert!(
        !edit_type.status.success() && edit_type.stderr.contains("does not offer the backup type"),
        "{}",
        edit_type.stderr
    );

    // Schedule and retention errors: the field, the rule in the operator's words, once each.
    let bad = h.cli(&["apps", "edit", "crm", "--schedule", "61 25 * * *", "--keep-last", "0"]).await;
    assert!(!bad.status.success());
    let said = bad.stderr;
    assert!(said.contains("schedule: minutes go from 0 to 59, not 61; hours go from 0 to 23, not 25"), "{said}");
    assert_eq!(said.matches("minutes go from").count(), 1, "{said}");
    assert!(said.contains("keep_last: keep last must be at least 1 (got 0)"), "{said}");
    assert!(!said.contains("less than"), "{said}");
}

#[tokio::test]
async fn the_api_and_the_form_check_on_save_and_the_app_page_says_why_the_app_was_not_asked() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(good(), 53).await;
    let folder = h.folder("crm");
    let served = h.serve(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("checks").await;
    let http = web::client();
    let post = |body: Value| http.post(format!("{}/api/v1/apps", served.url)).bearer_auth(&token).json(&body).send();

    let refused =
        post(json!({"name": "crm", "url": app.url, "token": "wrong", "folder": folder, "schedule": "@daily"}))
            .await
            .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["fields"][0]["field"], "token", "{body}");
    assert_eq!(body["fields"][0]["code"], "check.token_refused", "{body}");
    assert!(body["fields"][0]["message"].as_str().unwrap().contains("refused the token"), "{body}");
    // The same refusal in the caller's language, under the same code.
    let spanish = http
        .post(format!("{}/api/v1/apps", served.url))
        .bearer_auth(&token)
        .header("accept-language", "es-ES,es;q=0.9")
        .json(&json!({"name": "Crm App", "url": app.url, "token": "wrong", "folder": folder, "schedule": "@daily"}))
        .send()
        .await
        .unwrap();
    assert_eq!(spanish.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = spanish.json().await.unwrap();
    assert_eq!(body["error"], "invalid", "{body}");
    assert_eq!(body["fields"][0]["code"], "field.name.slug", "{body}");
    assert!(body["fields"][0]["message"].as_str().unwrap().starts_with("use de 1 a 63 letras"), "{body}");
    assert!(body["message"].as_str().unwrap().contains("corríjalos"), "{body}");
    // Saved anyway when asked to: the app page then says why the app was not asked.
    let saved = post(json!({"name": "crm", "url": app.url, "token": "wrong", "folder": folder, "schedule": "@daily", "no_check": true}))
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::CREATED);
    let page = session.page("/apps/crm").await;
    let why = element_text(&page, "restore-unknown").expect("the page says why Restore is not offered");
    assert!(why.contains("the app refused the token (401)"), "{why}");

    let patched = http
        .patch(format!("{}/api/v1/apps/crm", served.url))
        .bearer_auth(&token)
        .json(&json!({"token": TOKEN, "backup_type": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = patched.json().await.unwrap();
    assert_eq!(body["fields"][0]["field"], "backup_type", "{body}");

    // The form: Edit → type `nope` is refused on the field, the app's types named.
    let form = [
        ("name", "crm"),
        ("url", app.url.as_str()),
        ("token", TOKEN),
        ("schedule_preset", "custom"),
        ("schedule", "0 3 * * *"),
        ("time_zone", "Europe/Madrid"),
        ("folder", folder.as_str()),
        ("keep_last", "3"),
        ("keep_daily", "0"),
        ("keep_weekly", "0"),
        ("keep_monthly", "0"),
        ("keep_within_days", "0"),
        ("priority", "normal"),
        ("backup_type", "nope"),
        ("enabled", "on"),
        ("action", "save"),
    ];
    let response = session.post("/apps/crm/edit", &form).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    let error = element_text(&page, "backup_type-error").expect("the type field says what is wrong");
    assert!(error.contains("does not offer the backup type") && error.contains("it offers full"), "{error}");
    let mut fixed = form.to_vec();
    fixed.retain(|(k, _)| *k != "backup_type");
    fixed.push(("backup_type", "full"));
    let response = session.post("/apps/crm/edit", &fixed).await;
    assert_eq!(web::location(&response), "/apps/crm", "a type the app offers is saved");
}

#[tokio::test]
async fn a_new_url_needs_the_token_again_from_the_api_and_the_form_and_the_stored_one_goes_nowhere_new() {
    let h = Harness::local().await;
    let app = sdk_apps::spawn(good(), 54).await;
    let served = h.start(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let api_token = session.api_token("moves").await;
    let http = web::client();
    let api = |path: &str| format!("{}/api/v1/apps{path}", served.url);
    let patch = |body: Value| http.patch(api("/crm")).bearer_auth(&api_token).json(&body).send();
    let created = http
        .post(api(""))
        .bearer_auth(&api_token)
        .json(&json!({"name": "crm", "url": app.url, "token": TOKEN, "folder": "crm", "schedule": "@daily"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let stored_url = created.json::<Value>().await.unwrap()["url"].clone();
    let elsewhere = e2e::receivers::Recorder::start(0).await;

    // The API: a new URL without the token is refused on the token field, and nothing changes...
    let moved = patch(json!({"url": elsewhere.url, "no_check": true})).await.unwrap();
    assert_eq!(moved.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = moved.json().await.unwrap();
    assert_eq!(body["fields"][0]["field"], "token", "{body}");
    assert_eq!(body["fields"][0]["code"], "field.token.new_url", "{body}");
    assert!(body["fields"][0]["message"].as_str().unwrap().contains("give the app's token again"), "{body}");
    // ...so the check still asks the app where it was.
    let checked = http.post(api("/crm/check")).bearer_auth(&api_token).send().await.unwrap();
    let checked: Value = checked.json().await.unwrap();
    assert_eq!(checked["ok"], true, "{checked}");
    // The same address written another way is no move.
    let same = format!("{}/", app.url.trim_end_matches('/').replacen("http://", "HTTP://", 1));
    let kept = patch(json!({"url": same, "keep_last": 4})).await.unwrap();
    assert_eq!(kept.status(), StatusCode::OK, "{}", kept.text().await.unwrap());

    // The form: Check connection and Save with a new URL and the token left blank are refused on
    // the token field.
    let mut form = vec![
        ("name", "crm"),
        ("url", elsewhere.url.as_str()),
        ("token", ""),
        ("schedule_preset", "custom"),
        ("schedule", "0 3 * * *"),
        ("time_zone", "UTC"),
        ("folder", "crm"),
        ("keep_last", "3"),
        ("priority", "normal"),
        ("enabled", "on"),
        ("action", "check"),
    ];
    for action in ["check", "save"] {
        form.retain(|(k, _)| *k != "action");
        form.push(("action", action));
        let response = session.post("/apps/crm/edit", &form).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{action}");
        let page = response.text().await.unwrap();
        let error = element_text(&page, "token-error").expect("the token field says what is wrong");
        assert!(error.contains("the URL changes") && error.contains("token again"), "{action}: {error}");
        assert!(element_text(&page, "check-result").is_none(), "{action}: nothing was asked");
    }
    assert!(elsewhere.received().is_empty(), "the stored token went nowhere new: {:?}", elsewhere.received());
    let shown: Value = http.get(api("/crm")).bearer_auth(&api_token).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown["url"], stored_url, "the URL did not change");

    // With the token typed again the move is saved, and the new address gets that token only.
    let moved = patch(json!({"url": elsewhere.url, "token": "the-new-token", "no_check": true})).await.unwrap();
    assert_eq!(moved.status(), StatusCode::OK);
    http.post(api("/crm/check")).bearer_auth(&api_token).send().await.unwrap();
    let asked = elsewhere.wait_for(std::time::Duration::from_secs(5), |seen| !seen.is_empty()).await;
    assert_eq!(asked[0].path, "/backup/capabilities");
    assert_eq!(asked[0].header("authorization"), Some("Bearer the-new-token"));
}
