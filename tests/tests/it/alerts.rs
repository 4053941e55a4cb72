//! Notifications, black-box: `serve` as a process, a webhook receiver and ping receiver on
//! port 0, a real SMTP server (aiosmtpd), apps built with client-sdk that fail or succeed.

use std::time::Duration;

use e2e::apps::TOKEN;
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::postgres::TestPostgres;
use e2e::receivers::{Received, Recorder, Smtp};
use e2e::sdk_apps::{self, Behaviour};
use e2e::web::{WebSession, element_text, follow_to_end, location, sign_in};
use hmac::{KeyInit, Mac};
use reqwest::StatusCode;

const SIGNING: &str = "a-signing-secret-of-some-length";
const WAIT: Duration = Duration::from_secs(60);

/// Checks `X-Backup-Signature` independently of the orchestrator's code.
fn signature_verifies(r: &Received) -> bool {
    let (Some(ts), Some(sig)) = (r.header("x-backup-timestamp"), r.header("x-backup-signature")) else {
        return false;
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SIGNING.as_bytes()).unwrap();
    mac.update(format!("{ts}.{}", r.body).as_bytes());
    sig.strip_prefix("sha256=").and_then(|h| hex::decode(h).ok()).is_some_and(|h| mac.verify_slice(&h).is_ok())
}

fn events(seen: &[Received], status: u16) -> Vec<String> {
    seen.iter()
        .filter(|r| r.status == status)
        .map(|r| r.json()["event"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn add_channel(session: &WebSession, fields: &[(&str, &str)]) {
    let response = session.post("/notifications", fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "channel {fields:?} was refused");
}

async fn test_now(session: &WebSession, app: &str) -> (i64, serde_json::Value) {
    let queued = session.post(&format!("/apps/{app}/run"), &[]).await;
    let run_url = location(&queued);
    let id = run_url.rsplit('/').next().unwrap().parse().unwrap();
    (id, follow_to_end(session.get(&format!("{run_url}/events")).await, WAIT).await)
}

#[tokio::test]
async fn a_failure_tells_every_channel_once_and_the_next_success_tells_recovery() {
    let h = Harness::sqlite().await;
    let broken = sdk_apps::spawn(Behaviour::FailsAtOnce, 1).await;
    let good = sdk_apps::spawn(Behaviour::Good { size: 256 * 1024, delay: Duration::ZERO }, 2).await;
    h.add_app("billing", &broken.url, &h.folder("billing"), &[]).await;
    let hooks = Recorder::start(2).await; // the receiver fails twice, then accepts
    let pings = Recorder::start(0).await;
    let smtp = Smtp::start("mailer", "mail-password").await;
    let served =
        h.serve(&[("MAX_ATTEMPTS", "1"), ("NOTIFY_RETRY_SECS", "1"), ("PUBLIC_URL", "http://backups.test")]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;

    // Bad input: a clear message per field, and nothing stored.
    let refused = session
        .post(
            "/notifications",
            &[("kind", "webhook"), ("name", ""), ("url", "ftp://x"), ("signing_secret", "short"), ("app", "nope")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    for field in ["name-error", "url-error", "signing_secret-error", "app-error", "events-error"] {
        assert!(element_text(&html, field).is_some(), "{field} shown in {html}");
    }
    assert!(!html.contains("short"), "a typed secret is not echoed back");
    assert!(session.page("/notifications").await.contains("id=\"no-channels\""));

    let hook_url = format!("{}/hook", hooks.url);
    add_channel(
        &session,
        &[
            ("kind", "webhook"),
            ("name", "on-call hook"),
            ("url", &hook_url),
            ("signing_secret", SIGNING),
            ("on_failure", "on"),
            ("on_recovery", "on"),
            ("on_stale", "on"),
        ],
    )
    .await;
    let port = smtp.port.to_string();
    add_channel(
        &session,
        &[
            ("kind", "email"),
            ("name", "ops mail"),
            ("app", "billing"),
            ("smtp_host", "127.0.0.1"),
            ("smtp_port", &port),
            ("smtp_tls", "none"),
            ("smtp_username", "mailer"),
            ("smtp_password", "mail-password"),
            ("email_from", "backups@example.org"),
            ("email_to", "oncall@example.org, ops@example.org"),
            ("on_failure", "on"),
            ("on_recovery", "on"),
        ],
    )
    .await;
    let (start, success, fail) =
        (format!("{}/ping/start", pings.url), format!("{}/ping", pings.url), format!("{}/ping/fail", pings.url));
    add_channel(
        &session,
        &[
            ("kind", "ping"),
            ("name", "healthchecks"),
            ("app", "billing"),
            ("ping_start", &start),
            ("ping_success", &success),
            ("ping_fail", &fail),
        ],
    )
    .await;
    let page = session.page("/notifications").await;
    assert!(page.contains("on-call hook") && page.contains("ops mail") && page.contains("healthchecks"));
    assert!(!page.contains(SIGNING) && !page.contains("mail-password") && !page.contains("/ping/fail"));

    // A failing run: one notification per channel, with the app, the reason and a link.
    let (failed_run, end) = test_now(&session, "billing").await;
    assert_eq!(end["status"], "failed");
    let seen = hooks.wait_for(WAIT, |s| s.iter().any(|r| r.status == 200)).await;
    assert_eq!(seen.len(), 3, "two refused attempts, then one accepted: {seen:#?}");
    assert!(seen.iter().all(|r| r.body == seen[0].body), "retries send the same document");
    assert!(seen.iter().all(signature_verifies), "every attempt is signed");
    let failure = seen[2].json();
    assert_eq!(failure["event"], "failure");
    assert_eq!(failure["app"]["name"], "billing");
    assert_eq!(failure["link"], format!("http://backups.test/runs/{failed_run}"));
    let reason = failure["reason"].as_str().unwrap();
    assert!(reason.contains("unreachable"), "the app's reason is passed on: {reason}");
    assert_eq!(seen[2].header("x-backup-event"), Some("failure"));

    let mails = smtp.wait_for(1, WAIT).await;
    assert_eq!(mails[0]["user"], "mailer");
    assert_eq!(mails[0]["to"], serde_json::json!(["oncall@example.org", "ops@example.org"]));
    let data = mails[0]["data"].as_str().unwrap();
    assert!(data.contains("Subject: [backup] billing: backup failed"), "{data}");
    assert!(data.contains(&format!("http://backups.test/runs/{failed_run}")) && data.contains("unreachable"), "{data}");

    let pinged = pings.wait_for(WAIT, |s| s.len() >= 2).await;
    let paths: Vec<&str> = pinged.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/ping/start", "/ping/fail"]);

    // The app is fixed; the next success tells recovery, once.
    h.cli_with(&["apps", "edit", "billing", "--url", &good.url, "--token"], &[("BACKUP_TOKEN", TOKEN)])
        .await
        .assert_success();
    let (ok_run, end) = test_now(&session, "billing").await;
    assert_eq!(end["status"], "succeeded");
    let seen = hooks.wait_for(WAIT, |s| events(s, 200).len() == 2).await;
    assert_eq!(events(&seen, 200), ["failure", "recovery"]);
    let recovery = seen.last().unwrap().json();
    assert_eq!(recovery["app"]["name"], "billing");
    assert_eq!(recovery["link"], format!("http://backups.test/runs/{ok_run}"));
    assert!(signature_verifies(seen.last().unwrap()));
    let mails = smtp.wait_for(2, WAIT).await;
    assert!(mails[1]["data"].as_str().unwrap().contains("billing: backups work again"));
    let pinged = pings.wait_for(WAIT, |s| s.len() >= 4).await;
    assert_eq!(pinged[2].path, "/ping/start");
    assert_eq!(pinged[3].path, "/ping");

    // A second success tells nothing more to the failure/recovery channels.
    let (_, end) = test_now(&session, "billing").await;
    assert_eq!(end["status"], "succeeded");
    pings.wait_for(WAIT, |s| s.len() >= 6).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(events(&hooks.received(), 200), ["failure", "recovery"]);
    assert_eq!(smtp.wait_for(2, WAIT).await.len(), 2);

    // Send a test notification, from the channel's button.
    let page = session.post("/notifications/1/test", &[]).await.text().await.unwrap();
    assert!(element_text(&page, "test-result").is_some_and(|t| t.contains("on-call hook")), "{page}");
    let seen = hooks.wait_for(WAIT, |s| events(s, 200).len() == 3).await;
    assert_eq!(events(&seen, 200)[2], "test");

    // The run's own log, on its page and in the API.
    let run_page = session.page(&format!("/runs/{ok_run}")).await;
    let log = &run_page[run_page.find("id=\"run-log\"").expect("a log section")..];
    for line in ["asking the app for its capabilities", "the destination stored the file", "verified", "retention"] {
        assert!(log.contains(line), "{line:?} in the run page's log: {log}");
    }
    let token = session.api_token("alerts").await;
    let api = reqwest::Client::new()
        .get(format!("{}/api/v1/runs/{failed_run}/log", served.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::OK);
    let api: serde_json::Value = api.json().await.unwrap();
    let lines: Vec<String> =
        api["lines"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap().to_owned()).collect();
    assert!(lines.iter().any(|l| l.contains("backup failed") && l.contains("unreachable")), "{lines:#?}");
    let stats: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/v1/stats", served.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["failing_apps"], 0);
    assert_eq!(stats["notifications_failed"], 0);
}

#[tokio::test]
async fn a_stale_app_is_told_once_not_every_check() {
    stale_told_once(Harness::sqlite().await).await;
}

#[tokio::test]
async fn a_stale_app_is_told_once_on_postgres_too() {
    let Some(pg) = TestPostgres::from_env("a_stale_app_is_told_once_on_postgres_too") else { return };
    let database = pg.create_database("alerts");
    stale_told_once(Harness::postgres(pg.url_for(&database)).await).await;
    pg.drop_database(&database);
}

async fn stale_told_once(h: Harness) {
    let broken = sdk_apps::spawn(Behaviour::FailsAtOnce, 3).await;
    let good = sdk_apps::spawn(Behaviour::Good { size: 64 * 1024, delay: Duration::ZERO }, 4).await;
    let hooks = Recorder::start(0).await;
    let served = h.serve(&[("MAX_ATTEMPTS", "1"), ("ALERT_CHECK_SECS", "1"), ("STALE_AFTER_INTERVALS", "2")]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let hook_url = format!("{}/hook", hooks.url);
    add_channel(
        &session,
        &[
            ("kind", "webhook"),
            ("name", "stale only"),
            ("url", &hook_url),
            ("signing_secret", SIGNING),
            ("on_stale", "on"),
            ("on_recovery", "on"),
        ],
    )
    .await;
    // Registered once the channel exists, however slowly the process started: a stale spell is
    // told once, to the channels there are then. Every 2 seconds: stale after 4 seconds without a
    // verified copy.
    h.add_app("ledger", &broken.url, &h.folder("ledger"), &["--schedule", "*/2 * * * * *"]).await;
    let seen = hooks.wait_for(WAIT, |s| !s.is_empty()).await;
    let stale = seen[0].json();
    assert_eq!(stale["event"], "stale");
    assert_eq!(stale["app"]["name"], "ledger");
    assert!(stale["link"].as_str().unwrap().ends_with("/apps/ledger"));
    // Many checks (and failing runs) later, still told once; failures were not asked for.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(events(&hooks.received(), 200), ["stale"]);
    assert!(hooks.received().iter().all(signature_verifies));

    h.cli_with(&["apps", "edit", "ledger", "--url", &good.url, "--token"], &[("BACKUP_TOKEN", TOKEN)])
        .await
        .assert_success();
    let seen = hooks.wait_for(WAIT, |s| s.len() >= 2).await;
    assert_eq!(events(&seen, 200), ["stale", "recovery"]);
    assert!(seen[1].json()["summary"].as_str().unwrap().contains("stale)"));
    assert!(seen.iter().all(signature_verifies));
}

#[tokio::test]
async fn json_logs_of_a_run_carry_its_app_and_run_id_and_no_secret() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(Behaviour::Good { size: 128 * 1024, delay: Duration::ZERO }, 5).await;
    h.add_app("books", &app.url, &h.folder("books"), &[]).await;
    let run = h.cli_with(&["run", "books"], &[("LOG", "info"), ("LOG_FORMAT", "json")]).await;
    run.assert_success();
    let lines: Vec<serde_json::Value> = run.stderr.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let in_run: Vec<&serde_json::Value> = lines.iter().filter(|l| l["span"]["name"] == "run").collect();
    let messages: Vec<&str> = in_run.iter().filter_map(|l| l["fields"]["message"].as_str()).collect();
    for expected in ["requesting the export", "the destination stored the file", "backup succeeded"] {
        assert!(messages.iter().any(|m| m.contains(expected)), "{expected:?} logged in the run's span: {messages:#?}");
    }
    assert!(in_run.iter().all(|l| l["span"]["app"] == "books" && l["span"]["run_id"] == 1), "{in_run:#?}");
    let codes: Vec<&str> = in_run.iter().filter_map(|l| l["fields"]["code"].as_str()).collect();
    for code in ["app.capabilities", "app.export", "upload.stored", "verify.ok", "backup.succeeded"] {
        assert!(codes.contains(&code), "operators' lines carry their machine code: {codes:?}");
    }
    assert!(!run.stderr.contains(e2e::apps::TOKEN), "the app's token is never logged");
    // The same lines are the run's own log.
    let db = h.db().await;
    use sea_orm::{ConnectionTrait, Statement};
    let stored = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT message FROM run_logs WHERE run_id = 1",
        ))
        .await
        .unwrap();
    // The run's own log keeps the orchestrator's lines (not its libraries').
    let ours = in_run.iter().filter(|l| l["target"].as_str().is_some_and(|t| t.starts_with("orchestrator"))).count();
    assert!(ours >= 7 && stored.len() >= ours, "{} lines stored, {ours} logged", stored.len());
}
