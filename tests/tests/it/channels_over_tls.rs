//! Channels over TLS, against real TLS servers with a certificate authority made for the test
//! and trusted through `SSL_CERT_FILE` only: email over STARTTLS and over implicit TLS (a real
//! SMTP server, aiosmtpd, that takes the sign-in only once encrypted), and a push service over
//! HTTPS. A server whose certificate comes from another authority is refused once, with what to
//! do, and never retried.

use std::time::Duration;

use drive_double::tls::TestCa;
use e2e::chat_receivers::gotify;
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::receivers::{Smtp, SmtpTls};
use e2e::sdk_apps::{self, Behaviour};
use e2e::web::{follow_to_end, location, sign_in};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

async fn api(method: Method, url: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = e2e::web::client().request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn add(base: &str, token: &str, body: Value) -> i64 {
    let (status, created) = api(Method::POST, &format!("{base}/api/v1/notification-channels"), token, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_i64().unwrap()
}

async fn test_channel(base: &str, token: &str, id: i64) -> (bool, String) {
    let (_, tested) = api(Method::POST, &format!("{base}/api/v1/notification-channels/{id}/test"), token, None).await;
    (tested["sent"].as_bool().unwrap(), tested["error"].as_str().unwrap_or_default().to_owned())
}

fn email(name: &str, smtp: &Smtp, tls: &str) -> Value {
    json!({"kind": "email", "name": name, "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_tls": tls,
           "smtp_username": "mailer", "smtp_password": "mail-password", "email_from": "backups@example.org",
           "email_to": ["oncall@example.org"], "events": ["failure"]})
}

/// A folder of its own under the installation's, for one server's certificate files.
fn folder(h: &Harness, name: &str) -> std::path::PathBuf {
    let dir = h.dir().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The installation's trust store: the authority's certificate, in a file for `SSL_CERT_FILE`.
fn trust(h: &Harness, ca: &TestCa) -> String {
    let file = h.dir().join("trusted-ca.pem");
    std::fs::write(&file, ca.ca_pem()).unwrap();
    file.display().to_string()
}

/// Every delivery: (channel, status, attempts, last error).
async fn deliveries(h: &Harness) -> Vec<(i64, String, i64, String)> {
    use sea_orm::{ConnectionTrait, Statement};
    let db = h.db().await;
    let sql = "SELECT channel_id, status, attempts, last_error FROM notification_deliveries ORDER BY id";
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get::<i64>("", "channel_id").unwrap(),
                r.try_get::<String>("", "status").unwrap(),
                r.try_get::<i32>("", "attempts").unwrap() as i64,
                r.try_get::<Option<String>>("", "last_error").unwrap().unwrap_or_default(),
            )
        })
        .collect()
}

async fn fail_a_backup(base: &str) {
    let session = sign_in(base, ADMIN_USER, ADMIN_PASSWORD).await;
    let queued = session.post("/apps/billing/run", &[]).await;
    let end = follow_to_end(session.get(&format!("{}/events", location(&queued))).await, WAIT).await;
    assert_eq!(end["status"], "failed");
}

#[tokio::test]
async fn email_over_starttls_and_over_implicit_tls_is_encrypted_before_the_sign_in() {
    let h = Harness::sqlite().await;
    let broken = sdk_apps::spawn(Behaviour::FailsAtOnce, 31).await;
    h.add_app("billing", &broken.url, &h.folder("billing"), &[]).await;
    let ca = TestCa::generate(&[]);
    let starttls = Smtp::start_tls("mailer", "mail-password", SmtpTls::Starttls, &ca, &folder(&h, "starttls")).await;
    let implicit = Smtp::start_tls("mailer", "mail-password", SmtpTls::Implicit, &ca, &folder(&h, "implicit")).await;
    let served = h.serve(&[("MAX_ATTEMPTS", "1"), ("SSL_CERT_FILE", &trust(&h, &ca))]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("tls").await;
    let base = served.url.as_str();
    add(base, &token, email("starttls", &starttls, "starttls")).await;
    add(base, &token, email("implicit", &implicit, "tls")).await;

    fail_a_backup(base).await;
    for smtp in [&starttls, &implicit] {
        let mail = &smtp.wait_for(1, WAIT).await[0];
        assert_eq!(mail["tls"], true, "{mail}");
        assert!(mail["tls_version"].as_str().unwrap().starts_with("TLSv1."), "{mail}");
        assert_eq!(mail["user"], "mailer", "signed in, after encryption: {mail}");
        assert!(mail["data"].as_str().unwrap().contains("Subject: [backup] billing: backup failed"), "{mail}");
    }
    // And the test button.
    for id in [1, 2] {
        assert_eq!(test_channel(base, &token, id).await, (true, String::new()));
    }
    assert_eq!(starttls.wait_for(2, WAIT).await.len(), 2);
    assert_eq!(implicit.wait_for(2, WAIT).await.len(), 2);
}

#[tokio::test]
async fn a_server_whose_certificate_comes_from_an_unknown_authority_is_refused_once_with_what_to_do() {
    let h = Harness::sqlite().await;
    let broken = sdk_apps::spawn(Behaviour::FailsAtOnce, 32).await;
    h.add_app("billing", &broken.url, &h.folder("billing"), &[]).await;
    let (trusted, stranger) = (TestCa::generate(&[]), TestCa::generate(&[]));
    let smtp = Smtp::start_tls("mailer", "mail-password", SmtpTls::Starttls, &stranger, &folder(&h, "stranger")).await;
    let trusted_push = gotify::start_over_tls(&trusted).await;
    let stranger_push = gotify::start_over_tls(&stranger).await;
    let served =
        h.serve(&[("MAX_ATTEMPTS", "1"), ("NOTIFY_RETRY_SECS", "1"), ("SSL_CERT_FILE", &trust(&h, &trusted))]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("tls").await;
    let base = served.url.as_str();
    let mail = add(base, &token, email("stranger mail", &smtp, "starttls")).await;
    let push = |name: &str, server: &str| json!({"kind": "gotify", "name": name, "gotify_server": server, "gotify_token": gotify::APP_TOKEN, "events": ["failure"]});
    let trusted_id = add(base, &token, push("trusted push", &trusted_push.url)).await;
    let stranger_id = add(base, &token, push("stranger push", &stranger_push.url)).await;

    // The test button says why, and what to do.
    let (sent, error) = test_channel(base, &token, mail).await;
    assert!(!sent);
    assert!(
        error.starts_with("127.0.0.1: the TLS handshake failed (invalid peer certificate: UnknownIssuer)"),
        "{error}"
    );
    assert!(error.contains("SSL_CERT_FILE"), "{error}");
    let (sent, error) = test_channel(base, &token, stranger_id).await;
    assert!(!sent);
    assert!(
        error.starts_with("localhost: the TLS handshake failed (invalid peer certificate: UnknownIssuer)"),
        "{error}"
    );
    assert_eq!(test_channel(base, &token, trusted_id).await, (true, String::new()), "HTTPS trusts SSL_CERT_FILE too");

    // A real failure: refused at the first attempt, given up at once.
    fail_a_backup(base).await;
    trusted_push.wait_shown(2, WAIT).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let real = loop {
        let real: Vec<_> = deliveries(&h).await.into_iter().skip(3).collect();
        if real.len() == 3 && real.iter().all(|d| d.1 != "pending") {
            break real;
        }
        assert!(tokio::time::Instant::now() < deadline, "{real:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(deliveries(&h).await.into_iter().skip(3).collect::<Vec<_>>(), real, "nothing is retried");
    for (channel, status, attempts, error) in &real {
        if *channel == trusted_id {
            assert_eq!((status.as_str(), *attempts), ("sent", 1));
        } else {
            assert_eq!((status.as_str(), *attempts), ("failed", 1), "{error}");
            assert!(error.contains("the TLS handshake failed") && error.contains("SSL_CERT_FILE"), "{error}");
        }
    }
    assert!(smtp.received().is_empty(), "no message went to the stranger");
    assert!(stranger_push.exchanges().is_empty(), "no request reached the stranger");
}
