//! Connect Google Drive, end to end against the Drive double's OAuth endpoints: without a
//! connected account runs wait; the web-server flow (state, PKCE, consent) connects one; a folder
//! made with the `drive.file` grant takes the backups, owned by that account; a revoked grant
//! makes runs wait with one alert and a Reconnect button, and reconnecting lets them finish.

use std::time::Duration;

use drive_double::Consent;
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::receivers::Recorder;
use e2e::sdk_apps::{self, Behaviour};
use e2e::web::{self, WebSession, element_text, location, sign_in};
use reqwest::StatusCode;
use serde_json::Value;

use crate::scheduling::eventually;

async fn api(url: &str, token: &str, method: reqwest::Method, path: &str) -> Value {
    let response = web::client().request(method, format!("{url}{path}")).bearer_auth(token).send().await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap()
}

async fn run_status(url: &str, token: &str, id: i64) -> (String, String) {
    let run = api(url, token, reqwest::Method::GET, &format!("/api/v1/runs/{id}")).await;
    (run["status"].as_str().unwrap().to_owned(), run["error"].as_str().unwrap_or_default().to_owned())
}

/// Presses Connect and follows Google's redirects back to our callback, as a browser would.
async fn connect(session: &WebSession) -> reqwest::Response {
    let to_google = session.post("/settings/drive/connect", &[("scope", "file")]).await;
    assert_eq!(to_google.status(), StatusCode::SEE_OTHER);
    let consent = location(&to_google);
    for must in ["response_type=code", "access_type=offline", "code_challenge_method=S256", "drive.file", "state="] {
        assert!(consent.contains(must), "{must} in {consent}");
    }
    let back = web::client().get(&consent).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::FOUND, "the double's consent answers at once");
    let callback = location(&back);
    let path = callback.split_once("/oauth/").map(|(_, rest)| format!("/oauth/{rest}")).expect("our callback");
    session.get(&path).await
}

#[tokio::test]
async fn an_account_connected_through_consent_takes_the_backups_and_a_revoked_one_makes_runs_wait() {
    let mut h = Harness::sqlite().await;
    h.set("GDRIVE_CREDENTIALS", "");
    h.set("GDRIVE_OAUTH_CLIENT_ID", &h.double.oauth_client_id());
    h.set("GDRIVE_OAUTH_CLIENT_SECRET", &h.double.oauth_client_secret());
    h.set("GDRIVE_AUTH_URI", &h.double.auth_uri());
    let app = sdk_apps::spawn(Behaviour::Good { size: 300_000, delay: Duration::ZERO }, 7).await;
    h.add_app("ledger", &app.url, "not-yet", &[]).await;
    let served = h.start(&[]).await;
    h.double.register_redirect_uri(&format!("{}/oauth/google/callback", served.url));
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("connect").await;
    let hooks = Recorder::start(0).await;
    let channel = session
        .post(
            "/notifications",
            &[
                ("kind", "webhook"),
                ("name", "on-call"),
                ("url", &format!("{}/hook", hooks.url)),
                ("signing_secret", "a-signing-secret-of-some-length"),
                ("on_failure", "on"),
            ],
        )
        .await;
    assert_eq!(channel.status(), StatusCode::SEE_OTHER, "the channel is added");

    // Nothing connected: the page says so, and a run waits rather than fails.
    let page = session.page("/settings/drive").await;
    assert!(page.contains("id=\"google-none\"") && page.contains("id=\"google-connect\""), "{page}");
    let first =
        api(&served.url, &token, reqwest::Method::POST, "/api/v1/apps/ledger/runs").await["id"].as_i64().unwrap();
    eventually(Duration::from_secs(30), "the run waits for an account", || async {
        run_status(&served.url, &token, first).await.0 == "waiting"
    })
    .await;
    assert!(run_status(&served.url, &token, first).await.1.contains("waiting for Google Drive to be connected"));

    // A forged or replayed callback is refused; a refusal on the consent page is reported.
    let forged = session.get("/oauth/google/callback?code=x&state=forged").await;
    assert!(forged.text().await.unwrap().contains("does not match a Connect started here"));
    h.double.auto_consent(Some(Consent::Deny));
    let denied = connect(&session).await.text().await.unwrap();
    assert!(denied.contains("access was not granted"), "{denied}");

    h.double.auto_consent(Some(Consent::Allow));
    let connected = connect(&session).await;
    assert_eq!(connected.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&connected), "/settings/drive?connected=1");
    let page = session.page("/settings/drive?connected=1").await;
    let account = element_text(&page, "google-account").unwrap();
    assert!(account.contains(&h.double.user_email()), "{account}");
    let made = session.post("/settings/drive/folder", &[("name", "Backups")]).await;
    let folder = location(&made).split_once("folder=").map(|(_, id)| id.to_owned()).expect("the new folder's id");
    h.cli(&["apps", "edit", "ledger", "--folder", &folder]).await.assert_success();
    eventually(Duration::from_secs(60), "the waiting run succeeds once connected", || async {
        run_status(&served.url, &token, first).await.0 == "succeeded"
    })
    .await;
    let files = h.double.files_in(&folder);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].owner, h.double.user_email(), "the copy belongs to the connected account");
    // A folder the user made by hand in Drive is invisible to a drive.file grant: the check says why.
    let by_hand = h.double.create_folder("Made in Drive");
    let checked = session.post("/settings/drive/check", &[("folder", &by_hand)]).await.text().await.unwrap();
    assert!(checked.contains("drive.file scope") && checked.contains("Create a folder"), "{checked}");
    assert!(checked.contains("neither listed nor pruned"), "the check names what the scope hides");
    let destination = api(&served.url, &token, reqwest::Method::GET, "/api/v1/destination").await;
    assert_eq!(destination["account"]["email"], h.double.user_email());
    assert!(destination["account"]["scope"].as_str().unwrap().contains("drive.file"));
    assert!(!serde_json::to_string(&destination).unwrap().contains("1//"), "no token in the answer");

    // The grant is revoked (or expired after 7 days in Testing): runs wait, one alert, Reconnect.
    h.double.revoke_refresh_tokens();
    let second =
        api(&served.url, &token, reqwest::Method::POST, "/api/v1/apps/ledger/runs").await["id"].as_i64().unwrap();
    eventually(Duration::from_secs(60), "the run waits for a reconnect", || async {
        run_status(&served.url, &token, second).await.0 == "waiting"
    })
    .await;
    assert!(run_status(&served.url, &token, second).await.1.contains("reconnected"));
    let alerts = hooks.wait_for(Duration::from_secs(30), |seen| !seen.is_empty()).await;
    assert!(
        alerts[0].json()["summary"].as_str().unwrap().contains("Google Drive is disconnected"),
        "{:?}",
        alerts[0].json()
    );
    let page = session.page("/settings/drive").await;
    assert!(page.contains("id=\"google-problem\""), "the page says the account was refused");
    assert!(element_text(&page, "google-connect").unwrap().contains("Reconnect"));
    // Test now meanwhile does not pile a second run up: it names the one that waits.
    let again =
        web::client().post(format!("{}/api/v1/apps/ledger/runs", served.url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(again.text().await.unwrap().contains(&format!("(run {second})")));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(hooks.received().len(), 1, "one alert, not one per run");

    let reconnected = connect(&session).await;
    assert_eq!(location(&reconnected), "/settings/drive?connected=1");
    eventually(Duration::from_secs(60), "the waiting run finishes after the reconnect", || async {
        run_status(&served.url, &token, second).await.0 == "succeeded"
    })
    .await;

    // Disconnect revokes the access at Google, not only here.
    assert_eq!(h.double.live_refresh_tokens(), 1);
    let gone = session.post("/settings/drive/disconnect", &[]).await;
    assert_eq!(location(&gone), "/settings/drive");
    assert_eq!(h.double.live_refresh_tokens(), 0, "the refresh token was revoked at Google");
    let page = session.page("/settings/drive").await;
    assert!(page.contains("id=\"google-none\""), "{page}");
    served.stop().await;
}

#[tokio::test]
async fn an_operator_connects_google_drive_in_the_browser_and_is_asked_to_reconnect_once_revoked() {
    use e2e::browser::Browser;
    let mut h = Harness::sqlite().await;
    h.set("GDRIVE_CREDENTIALS", "");
    let app = sdk_apps::spawn(Behaviour::Good { size: 100_000, delay: Duration::ZERO }, 9).await;
    h.add_app("ledger", &app.url, "not-yet", &[]).await;
    let served = h.serve(&[]).await;
    let callback = format!("{}/oauth/google/callback", served.url);
    // The operator pastes the client JSON downloaded from the Cloud console.
    let client_json = h.double.oauth_client_json(&callback);
    let Some(browser) = Browser::start("an_operator_connects_google_drive_in_the_browser").await else { return };
    browser.goto(&format!("{}/", served.url)).await;
    browser.wait_for("#login-form").await;
    browser.fill("#user", ADMIN_USER).await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_for("#register-app").await;
    browser.click("#footer-destination").await;
    browser.wait_for("#google-none").await;
    assert_eq!(browser.text("#google-callback").await, callback, "the page says which redirect URI to register");
    assert!(!browser.exists("#google-connect").await, "no Connect button before a client is configured");
    browser.fill("#google-client-json", &client_json).await;
    browser.click("#google-client").await;
    browser.wait_for("#google-connect").await;
    browser.screenshot("client saved").await;
    browser.click("#google-connect").await;

    // Google's consent page (the double's), then back.
    browser.wait_for("#allow").await;
    browser.screenshot("consent").await;
    browser.click("#allow").await;
    let account = browser.wait_for_text("#google-account", &h.double.user_email()).await;
    assert!(account.contains("only the files and folders it creates"), "{account}");
    assert!(browser.text("#flash").await.contains("Google Drive is connected"));
    browser.screenshot("connected").await;
    browser.click("#google-folder").await;
    let flash = browser.wait_for_text("#flash", "Folder created").await;
    let folder = flash.rsplit(' ').next().unwrap().trim().to_owned();
    h.cli(&["apps", "edit", "ledger", "--folder", &folder]).await.assert_success();
    browser.goto(&format!("{}/apps/ledger", served.url)).await;
    browser.click("#test-now").await;
    browser.wait_for("#run-status[data-status=succeeded]").await;
    assert_eq!(h.double.files_in(&folder).len(), 1);

    h.double.revoke_refresh_tokens();
    browser.goto(&format!("{}/apps/ledger", served.url)).await;
    browser.click("#test-now").await;
    browser.wait_for("#run-status[data-status=waiting]").await;
    browser.goto(&format!("{}/settings/drive", served.url)).await;
    browser.wait_for("#google-problem").await;
    assert_eq!(browser.text("#google-connect").await, "Reconnect");
    browser.screenshot("reconnect").await;
}
