//! The web UI and the JSON API over real HTTP: the service started inside the test process on
//! SQLite with a folder as destination, and apps built with client-sdk. Tests that restart the
//! service or read what it prints run `orchestrator serve` as a process. (The browser tests drive
//! the same pages in Chromium.)

use std::time::Duration;

use e2e::apps::TOKEN;
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::sdk_apps::{self, Behaviour, expected_sha256};
use e2e::web::{self, WebSession, element_text, follow_to_end, location, sign_in, try_sign_in};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

const MIB: u64 = 1024 * 1024;

fn app_form<'a>(name: &'a str, url: &'a str, folder: &'a str, schedule: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("url", url),
        ("token", TOKEN),
        ("schedule_preset", "custom"),
        ("schedule", schedule),
        ("time_zone", "Europe/Madrid"),
        ("folder", folder),
        ("keep_last", "3"),
        ("keep_daily", "0"),
        ("keep_weekly", "0"),
        ("keep_monthly", "0"),
        ("keep_within_days", "0"),
        ("priority", "normal"),
        ("backup_type", ""),
        ("enabled", "on"),
        ("action", "save"),
    ]
}

async fn app_count(h: &Harness) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    orchestrator::db::entities::app::Entity::find().count(&h.db().await).await.unwrap()
}

#[tokio::test]
async fn pages_need_a_session_and_every_api_route_needs_a_token() {
    let h = Harness::local().await;
    let served = h.start(&[]).await;
    let http = web::client();
    for path in [
        "/",
        "/apps/new",
        "/apps/billing",
        "/apps/billing/edit",
        "/apps/billing/delete",
        "/apps/billing/copies/x.bin/download",
        "/apps/billing/copies/x.bin/delete",
        "/runs",
        "/runs/1",
        "/runs/1/events",
        "/restores/1/events",
        "/queue",
        "/audit",
        "/tokens",
        "/notifications",
        "/cron/preview?schedule=0+3+*+*+*",
        "/api-docs",
        "/api-docs/openapi.yaml",
    ] {
        let response = http.get(format!("{}{path}", served.url)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "GET {path} without a session");
        assert!(location(&response).starts_with("/login"), "GET {path} goes to sign-in: {}", location(&response));
    }
    for path in [
        "/apps/new",
        "/apps/billing/run",
        "/apps/billing/pause",
        "/apps/billing/delete",
        "/tokens",
        "/notifications",
        "/notifications/1/test",
        "/notifications/1/delete",
        "/logout",
    ] {
        let response = http.post(format!("{}{path}", served.url)).form(&[("csrf", "x")]).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "POST {path} without a session");
        assert!(location(&response).starts_with("/login"));
    }
    // Every operation of the committed OpenAPI document.
    let doc = orchestrator::http::api::openapi::document_value();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path.replace("{name}", "billing").replace("{copy}", "x.bin").replace("{id}", "1");
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            for auth in [None, Some("Bearer bko_not-a-real-token"), Some("Basic b3BlcmF0b3I6eA==")] {
                let mut request = http.request(method.clone(), format!("{}{concrete}", served.url));
                if let Some(auth) = auth {
                    request = request.header("authorization", auth);
                }
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {concrete} with {auth:?}");
                let body: serde_json::Value = response.json().await.expect("a JSON error");
                assert_eq!(body["error"], "unauthorized");
                assert!(!body["message"].as_str().unwrap().is_empty());
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "every documented operation was tried ({checked})");
    for public in ["/login", "/healthz", "/static/app.css", "/static/app.js"] {
        let response = http.get(format!("{}{public}", served.url)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{public} is public");
    }
}

#[tokio::test]
async fn pages_carry_security_headers_and_no_inline_script() {
    let h = Harness::local().await;
    let served = h.start(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    for path in ["/", "/apps/new", "/runs", "/tokens", "/notifications"] {
        let response = session.get(path).await;
        let headers = response.headers().clone();
        let csp = headers.get("content-security-policy").expect("CSP").to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(headers.get("x-frame-options").unwrap(), "DENY");
        assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
        let html = response.text().await.unwrap();
        assert!(!html.contains("<script>") && !html.contains(" onclick="), "{path} has an inline script");
        assert!(html.contains("name=\"viewport\""), "{path} is laid out for phones");
    }
    let login = web::client().get(format!("{}/login", served.url)).send().await.unwrap();
    let cookie = login.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
}

#[tokio::test]
async fn form_posts_without_the_csrf_token_are_refused_and_change_nothing() {
    let h = Harness::local().await;
    let app = sdk_apps::spawn(Behaviour::Good { size: 1000, delay: Duration::ZERO }, 3).await;
    let folder = "billing";
    let served = h.start(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let fields = app_form("billing", &app.url, folder, "0 3 * * *");
    let refused = session.post_raw("/apps/new", &fields).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "no CSRF token");
    let mut forged = fields.clone();
    forged.push(("csrf", "forged-token"));
    assert_eq!(session.post_raw("/apps/new", &forged).await.status(), StatusCode::FORBIDDEN, "a wrong token");
    assert_eq!(app_count(&h).await, 0, "nothing was registered");
    assert_eq!(session.post_raw("/logout", &[]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(session.get("/").await.status(), StatusCode::OK, "the session survived the forged sign-out");
    // The same form with the token works.
    let saved = session.post("/apps/new", &fields).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&saved), "/apps/billing");
    assert_eq!(app_count(&h).await, 1);
    // Signing out ends the session.
    assert_eq!(session.post("/logout", &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(session.get("/").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_in_is_throttled_after_repeated_failures_and_audited() {
    let h = Harness::local().await;
    let served = h.start(&[("LOGIN_MAX_FAILURES", "3")]).await;
    for _ in 0..3 {
        let (response, session) = try_sign_in(&served.url, ADMIN_USER, "wrong password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(session.is_none());
        assert!(response.text().await.unwrap().contains("Wrong user or password"));
    }
    let (response, session) = try_sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "locked even with the right password");
    assert!(session.is_none());
    assert!(response.text().await.unwrap().contains("Too many failed attempts"));
    use orchestrator::db::entities::audit_entry;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let failures = audit_entry::Entity::find()
        .filter(audit_entry::Column::Action.eq("sign_in.failed"))
        .count(&h.db().await)
        .await
        .unwrap();
    assert_eq!(failures, 3);
}

#[tokio::test]
async fn parallel_guesses_cannot_race_past_the_limit_nor_lock_out_another_address() {
    let h = Harness::local().await;
    let served = h.start(&[("LOGIN_MAX_FAILURES", "5")]).await;
    let guesses = (0..40).map(|_| try_sign_in(&served.url, ADMIN_USER, "wrong password"));
    let answers: Vec<StatusCode> =
        futures::future::join_all(guesses).await.into_iter().map(|(r, _)| r.status()).collect();
    let checked = answers.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = answers.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert!(checked <= 5, "at most LOGIN_MAX_FAILURES passwords were checked: {answers:?}");
    assert_eq!(checked + refused, 40, "every other guess was refused unchecked: {answers:?}");
    use orchestrator::db::entities::audit_entry;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let failures = audit_entry::Entity::find()
        .filter(audit_entry::Column::Action.eq("sign_in.failed"))
        .count(&h.db().await)
        .await
        .unwrap();
    assert_eq!(failures as usize, checked);
    // The guessing address is refused even the right password; the admin elsewhere signs in.
    let (response, _) = try_sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let elsewhere = "127.0.0.2".parse().unwrap();
    let (response, session) = e2e::web::try_sign_in_from(elsewhere, &served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "another address is not locked out");
    assert!(session.is_some());
}

#[tokio::test]
async fn a_forwarded_address_counts_only_from_a_trusted_proxy_and_each_client_behind_it_is_throttled_alone() {
    use e2e::web::try_sign_in_with_headers as sign_in_via;
    let h = Harness::local().await;
    let from = |client: &'static str| [("x-forwarded-for", client)];

    // No proxy trusted: anyone can write the header, so the failures all count against the peer.
    let direct = h.start(&[("LOGIN_MAX_FAILURES", "2")]).await;
    for client in ["203.0.113.1", "203.0.113.2"] {
        let (response, _) = sign_in_via(&direct.url, ADMIN_USER, "wrong password", &from(client)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let (response, _) = sign_in_via(&direct.url, ADMIN_USER, ADMIN_PASSWORD, &from("203.0.113.3")).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "a new forwarded address is still the same peer");
    direct.stop().await;

    // Behind a trusted proxy each client is throttled on its own...
    let proxied = h.start(&[("LOGIN_MAX_FAILURES", "2"), ("TRUSTED_PROXIES", "127.0.0.1")]).await;
    for _ in 0..2 {
        let (response, _) = sign_in_via(&proxied.url, ADMIN_USER, "wrong password", &from("203.0.113.1")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let (response, _) = sign_in_via(&proxied.url, ADMIN_USER, ADMIN_PASSWORD, &from("203.0.113.1")).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // ...known by the right-most address the proxy saw: one it was handed cannot hide it.
    let (response, _) = sign_in_via(&proxied.url, ADMIN_USER, ADMIN_PASSWORD, &from("198.51.100.7, 203.0.113.1")).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let (response, session) = sign_in_via(&proxied.url, ADMIN_USER, ADMIN_PASSWORD, &from("203.0.113.2")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "another client behind the proxy signs in");
    assert!(session.is_some());
    use orchestrator::db::entities::audit_entry;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let signed_in =
        audit_entry::Entity::find().filter(audit_entry::Column::Action.eq("sign_in")).all(&h.db().await).await.unwrap();
    assert_eq!(signed_in[0].source.as_deref(), Some("203.0.113.2"), "the audit names the client");
}

#[tokio::test]
async fn the_cookie_is_secure_behind_tls_only_when_a_trusted_proxy_says_so() {
    let h = Harness::local().await;
    let secure_cookies = |response: &reqwest::Response| -> Vec<String> {
        response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .filter(|v| v.split(';').any(|attribute| attribute.trim() == "Secure"))
            .collect()
    };
    let over_tls = [("x-forwarded-proto", "https")];
    for trusted in ["", "10.0.0.0/8, 192.168.0.1"] {
        let served = h.start(&[("TRUSTED_PROXIES", trusted)]).await;
        let (response, session) =
            e2e::web::try_sign_in_with_headers(&served.url, ADMIN_USER, ADMIN_PASSWORD, &over_tls).await;
        assert!(session.is_some());
        assert_eq!(
            secure_cookies(&response),
            Vec::<String>::new(),
            "anyone's header is ignored (trusted: {trusted:?})"
        );
        served.stop().await;
    }
    let served = h.start(&[("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.0/8")]).await;
    let (response, session) =
        e2e::web::try_sign_in_with_headers(&served.url, ADMIN_USER, ADMIN_PASSWORD, &over_tls).await;
    assert!(session.is_some());
    let secure = secure_cookies(&response);
    assert!(secure.iter().any(|c| c.starts_with("orchestrator_session=")), "{secure:?}");
    // The same proxy over plain http: no Secure.
    let (response, _) = e2e::web::try_sign_in_with_headers(&served.url, ADMIN_USER, ADMIN_PASSWORD, &[]).await;
    assert_eq!(secure_cookies(&response), Vec::<String>::new());
}

#[tokio::test]
async fn a_generated_admin_password_is_printed_once_and_works() {
    let mut h = Harness::sqlite().await;
    h.set("ADMIN_PASSWORD", "");
    h.set("ADMIN_USER", "");
    let mut first = h.serve(&[]).await;
    let line = first.printed.iter().find(|l| l.starts_with("admin sign-in")).expect("the password is printed");
    let password = line.split("password ").nth(1).unwrap().split(' ').next().unwrap().to_owned();
    assert!(password.len() >= 16);
    sign_in(&first.url, "admin", &password).await;
    first.terminate().await;
    let second = h.serve(&[]).await;
    assert!(second.printed.iter().all(|l| !l.contains(&password)), "printed only on first start");
    sign_in(&second.url, "admin", &password).await;
}

#[tokio::test]
async fn the_ui_registers_an_app_runs_it_live_and_never_shows_its_token() {
    let h = Harness::local().await;
    let size = 3 * MIB + 5;
    let app = sdk_apps::spawn(Behaviour::Good { size, delay: Duration::ZERO }, 7).await;
    let folder = "billing";
    let served = h.start(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;

    // One invalid field: the error shows next to it, and nothing is stored.
    let bad = app_form("billing", &app.url, folder, "0 25 * * *");
    let response = session.post("/apps/new", &bad).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    let error = element_text(&html, "schedule-error").expect("the schedule's error is next to it");
    assert!(!error.is_empty());
    assert!(html.contains("id=\"schedule\" name=\"schedule\" value=\"0 25 * * *\""), "the typed value is kept");
    assert!(!html.contains(TOKEN), "the token is not echoed back");
    assert_eq!(app_count(&h).await, 0);

    // Check connection shows what the app offers.
    let mut check = bad.clone();
    check.retain(|(k, _)| *k != "action");
    check.push(("action", "check"));
    let html = session.post("/apps/new", &check).await.text().await.unwrap();
    let result = element_text(&html, "check-result").expect("a check result");
    assert!(html.contains("class=\"check-result ok\""), "{result}");
    assert!(html.contains("<option value=\"full\""), "the app's types are offered");

    let mut wrong_token = check.clone();
    wrong_token.retain(|(k, _)| *k != "token");
    wrong_token.push(("token", "not-the-token"));
    let html = session.post("/apps/new", &wrong_token).await.text().await.unwrap();
    assert!(html.contains("class=\"check-result bad\"") && html.contains("refused the token"), "a wrong token says so");

    // Fixed and saved.
    let good = app_form("billing", &app.url, folder, "0 3 * * *");
    let saved = session.post("/apps/new", &good).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let app_page = session.page("/apps/billing").await;
    assert!(app_page.contains("every day at 03:00 (Europe/Madrid)"), "the schedule in words");

    // Test now, followed live.
    let queued = session.post("/apps/billing/run", &[]).await;
    assert_eq!(queued.status(), StatusCode::SEE_OTHER);
    let run_path = location(&queued);
    assert!(run_path.starts_with("/runs/"));
    let run_page = session.page(&run_path).await;
    assert!(run_page.contains(&format!("data-events=\"{run_path}/events?after=")), "the page follows the run");
    let end = follow_to_end(session.get(&format!("{run_path}/events")).await, Duration::from_secs(90)).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    assert_eq!(end["bytes"], size);
    assert_eq!(end["done"], true);

    // The copy is listed with its verified sha256, and downloads intact.
    let expected = expected_sha256(size, 7);
    let app_page = session.page("/apps/billing").await;
    assert!(app_page.contains(&expected), "the copy's verified sha256 is shown");
    let name = h.stored_files(folder)[0].clone();
    assert!(app_page.contains(&name));
    let download = session.get(&format!("/apps/billing/copies/{name}/download?as=plain")).await;
    assert_eq!(download.status(), StatusCode::OK);
    let plain_name = name.strip_suffix(".zst").expect("stored compressed by default");
    assert!(download.headers()["content-disposition"].to_str().unwrap().contains(&format!("\"{plain_name}\"")));
    let bytes = download.bytes().await.unwrap();
    assert_eq!(hex::encode(Sha256::digest(&bytes)), expected);

    // Pause.
    assert_eq!(session.post("/apps/billing/pause", &[]).await.status(), StatusCode::SEE_OTHER);
    let app_page = session.page("/apps/billing").await;
    assert_eq!(element_text(&app_page, "app-state").as_deref(), Some("Paused"));

    // The token never appears in a page or an API answer.
    let token = session.api_token("script").await;
    let mut bodies = Vec::new();
    for path in ["/", "/apps/billing", "/apps/billing/edit", "/runs", &run_path, "/queue", "/audit", "/tokens"] {
        bodies.push((path.to_owned(), session.page(path).await));
    }
    let api = web::client();
    for path in ["/api/v1/apps", "/api/v1/apps/billing", "/api/v1/runs", "/api/v1/apps/billing/copies", "/api/v1/stats"]
    {
        let response = api.get(format!("{}{path}", served.url)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        bodies.push((path.to_owned(), response.text().await.unwrap()));
    }
    for (path, body) in &bodies {
        assert!(!body.contains(TOKEN), "{path} shows the app's token");
    }
    let audit = &bodies.iter().find(|(p, _)| p == "/audit").unwrap().1;
    for action in ["sign_in", "app.create", "run.start", "copy.download", "app.pause", "token.create"] {
        assert!(audit.contains(&format!("<code>{action}</code>")), "the audit log has {action}");
    }
}

async fn api(
    session_url: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let mut request = web::client().request(method, format!("{session_url}{path}")).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_api_manages_apps_runs_and_copies_with_field_errors() {
    use reqwest::Method;
    use serde_json::json;
    let h = Harness::local().await;
    let size = MIB + 3;
    let app = sdk_apps::spawn(Behaviour::Good { size, delay: Duration::ZERO }, 11).await;
    let folder = "crm";
    let served = h.start(&[]).await;
    let session: WebSession = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("ci").await;
    let url = served.url.as_str();

    let bad = api(
        url,
        &token,
        Method::POST,
        "/api/v1/apps",
        Some(json!({"name": "CRM!", "url": "ftp://x", "schedule": "never", "folder": folder, "token": TOKEN})),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(body["error"], "invalid");
    let fields: Vec<&str> = body["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    for field in ["name", "url", "schedule"] {
        assert!(fields.contains(&field), "{field} is reported: {body}");
    }
    let unknown = api(url, &token, Method::POST, "/api/v1/apps", Some(json!({"nmae": "crm"}))).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST, "unknown fields are refused");
    assert_eq!(app_count(&h).await, 0, "nothing was stored");

    let created = api(
        url,
        &token,
        Method::POST,
        "/api/v1/apps",
        Some(json!({"name": "crm", "url": app.url, "schedule": "@daily", "folder": folder, "token": TOKEN})),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let text = created.text().await.unwrap();
    assert!(!text.contains(TOKEN));
    let view: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(view["token_set"], true);
    assert!(view.get("token").is_none());

    let check: serde_json::Value =
        api(url, &token, Method::POST, "/api/v1/apps/crm/check", None).await.json().await.unwrap();
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["types"], json!(["full"]));
    let wrong: serde_json::Value =
        api(url, &token, Method::POST, "/api/v1/check", Some(json!({"url": app.url, "token": "nope"})))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(wrong["ok"], false);
    assert!(wrong["error"].as_str().unwrap().contains("401"), "{wrong}");

    let patched = api(url, &token, Method::PATCH, "/api/v1/apps/crm", Some(json!({"keep_last": 0}))).await;
    assert_eq!(patched.status(), StatusCode::UNPROCESSABLE_ENTITY, "keep_last 0 is refused");
    let patched =
        api(url, &token, Method::PATCH, "/api/v1/apps/crm", Some(json!({"keep_last": 4, "priority": "high"}))).await;
    assert_eq!(patched.status(), StatusCode::OK);
    let patched: serde_json::Value = patched.json().await.unwrap();
    assert_eq!(patched["retention"]["keep_last"], 4);
    assert_eq!(patched["priority"], "high");

    let run = api(url, &token, Method::POST, "/api/v1/apps/crm/runs", None).await;
    assert_eq!(run.status(), StatusCode::ACCEPTED);
    let run: serde_json::Value = run.json().await.unwrap();
    let id = run["id"].as_i64().unwrap();
    let events = api(url, &token, Method::GET, &format!("/api/v1/runs/{id}/events"), None).await;
    let end = follow_to_end(events, Duration::from_secs(90)).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    let run: serde_json::Value =
        api(url, &token, Method::GET, &format!("/api/v1/runs/{id}"), None).await.json().await.unwrap();
    assert_eq!(run["sha256"], expected_sha256(size, 11));
    let listed: serde_json::Value =
        api(url, &token, Method::GET, "/api/v1/runs?status=succeeded&app=crm", None).await.json().await.unwrap();
    assert_eq!(listed["runs"].as_array().unwrap().len(), 1);
    let stats: serde_json::Value =
        api(url, &token, Method::GET, "/api/v1/apps/crm/stats", None).await.json().await.unwrap();
    assert_eq!(stats["succeeded_30d"], 1, "{stats}");
    assert_eq!(stats["failed_30d"], 0);
    assert_eq!(stats["success_rate_30d"], 1.0);
    assert_eq!(stats["copies"], 1);
    assert!(stats["last_success_at"].is_string() && stats["last_error"].is_null());
    let bad_filter = api(url, &token, Method::GET, "/api/v1/runs?status=happy", None).await;
    assert_eq!(bad_filter.status(), StatusCode::BAD_REQUEST);

    let copies: serde_json::Value =
        api(url, &token, Method::GET, "/api/v1/apps/crm/copies", None).await.json().await.unwrap();
    let copies = copies.as_array().unwrap();
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0]["verified"], true);
    let name = copies[0]["name"].as_str().unwrap().to_owned();
    // Registered through the API without a word on compression: stored with zstd (the export
    // is not compressed), downloaded as exported with `?as=plain`.
    assert!(name.ends_with(".bin.zst"), "{name}");
    let bytes = api(url, &token, Method::GET, &format!("/api/v1/apps/crm/copies/{name}?as=plain"), None)
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(hex::encode(Sha256::digest(&bytes)), expected_sha256(size, 11));
    let stored =
        api(url, &token, Method::GET, &format!("/api/v1/apps/crm/copies/{name}"), None).await.bytes().await.unwrap();
    assert_eq!(zstd_decode(&stored), bytes, "as stored: a standard zstd frame");
    let bad = api(url, &token, Method::GET, &format!("/api/v1/apps/crm/copies/{name}?as=zip"), None).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let stats: serde_json::Value = api(url, &token, Method::GET, "/api/v1/stats", None).await.json().await.unwrap();
    assert_eq!(stats["apps"], 1);
    assert_eq!(stats["backups_24h"], 1);
    assert_eq!(stats["copies"], 1);
    assert_eq!(stats["bytes_stored"], stored.len() as u64, "what the destination holds");

    let deleted = api(url, &token, Method::DELETE, &format!("/api/v1/apps/crm/copies/{name}"), None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(h.stored_files(folder).is_empty());
    let gone = api(url, &token, Method::DELETE, &format!("/api/v1/apps/crm/copies/{name}"), None).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    let served_doc: serde_json::Value =
        api(url, &token, Method::GET, "/api/v1/openapi.json", None).await.json().await.unwrap();
    assert_eq!(&served_doc, orchestrator::http::api::openapi::document_value());

    assert_eq!(api(url, &token, Method::DELETE, "/api/v1/apps/crm", None).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app_count(&h).await, 0);

    // A revoked token stops working.
    let tokens_page = session.page("/tokens").await;
    let revoke = tokens_page.split("action=\"/tokens/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    assert_eq!(session.post(&format!("/tokens/{revoke}/revoke"), &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(api(url, &token, Method::GET, "/api/v1/apps", None).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn pages_follow_the_browser_language_and_the_switch() {
    let h = Harness::local().await;
    let served = h.start(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let http = web::client();
    let spanish = http
        .get(format!("{}/", served.url))
        .header("cookie", &session.cookie)
        .header("accept-language", "es-ES,es;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        spanish.contains("<html lang=\"es\">") && spanish.contains("Registrar una app"),
        "Spanish by Accept-Language"
    );
    let switched = http
        .get(format!("{}/lang/en?back=%2Fruns", served.url))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&switched), "/runs");
    let lang_cookie = switched.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let english = http
        .get(format!("{}/", served.url))
        .header("cookie", format!("{}; {lang_cookie}", session.cookie))
        .header("accept-language", "es")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(english.contains("<html lang=\"en\">") && english.contains("Register an app"), "the switch wins");
}

#[tokio::test]
async fn demo_mode_registers_a_sample_app_that_backs_up_on_test_now() {
    let h = Harness::sqlite().await;
    let storage = [("STORAGE", "fs"), ("FS_ROOT", "data/backups")];
    let mut first = h.serve_with(&["--demo"], &storage).await;
    let session = sign_in(&first.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let dashboard = session.page("/").await;
    assert!(dashboard.contains("class=\"demo-banner\""), "the UI says it is a demo");
    assert!(dashboard.contains("data-app=\"demo\""), "the demo app is registered");
    let queued = session.post("/apps/demo/run", &[]).await;
    let end = follow_to_end(session.get(&format!("{}/events", location(&queued))).await, Duration::from_secs(60)).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    assert!(h.dir().join("data/demo/sample/README.txt").is_file(), "the sample folder is under data/");
    // Whatever STORAGE and FS_ROOT say, the demo's copies stay in its own folder.
    let copies: Vec<_> = std::fs::read_dir(h.dir().join("data/demo/backups/demo"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tar.gz"))
        .collect();
    assert_eq!(copies.len(), 1);
    first.terminate().await;

    // A second start re-registers the same app at its new address, with a new token.
    let second = h.serve_with(&["--demo"], &storage).await;
    let listed = h.cli(&["apps", "list"]).await;
    assert!(
        !listed.assert_success().stdout_text().contains("demo"),
        "the installation's own database never sees the demo"
    );
    let session = sign_in(&second.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let queued = session.post("/apps/demo/run", &[]).await;
    let end = follow_to_end(session.get(&format!("{}/events", location(&queued))).await, Duration::from_secs(60)).await;
    assert_eq!(end["status"], "succeeded", "{end}");
}

#[tokio::test]
async fn a_restore_from_the_ui_puts_the_directory_back_after_a_safety_backup() {
    use crate::sdk_examples::{read_tree, write_tree};
    let h = Harness::local().await;
    let data = h.dir().join("files");
    write_tree(&data);
    let original = read_tree(&data);
    let app = e2e::apps::RunningApp::start("directory", &["--dir", data.to_str().unwrap()], &[]).await;
    let folder = "files";
    h.add_app("files", &app.url, folder, &[]).await;
    h.cli(&["run", "files"]).await.assert_success();
    let copy = h.stored_files(folder)[0].clone();
    std::fs::write(data.join("a.txt"), "changed after the backup\n").unwrap();
    std::fs::write(data.join("new.txt"), "added after the backup\n").unwrap();

    let served = h.start(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let app_page = session.page("/apps/files").await;
    let restore_link = format!("/apps/files/copies/{copy}/restore");
    assert!(app_page.contains(&restore_link), "Restore is offered: the app advertises it");
    let path = restore_link.as_str();
    let form = [("confirm", "files"), ("password", ADMIN_PASSWORD), ("safety_backup", "on")];

    let wrong_name = session.post(path, &[("confirm", "file"), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(wrong_name.status(), StatusCode::UNPROCESSABLE_ENTITY, "the app's name must be typed");
    let wrong_password = session.post(path, &[("confirm", "files"), ("password", "guess")]).await;
    assert_eq!(wrong_password.status(), StatusCode::FORBIDDEN, "the password must be entered again");
    assert_eq!(std::fs::read_to_string(data.join("a.txt")).unwrap(), "changed after the backup\n", "nothing ran");

    let started = session.post(path, &form).await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let restore_path = location(&started);
    assert!(restore_path.starts_with("/restores/"), "{restore_path}");
    let end = follow_to_end(session.get(&format!("{restore_path}/events")).await, Duration::from_secs(90)).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    assert_eq!(read_tree(&data), original, "the folder is as it was when backed up");
    let page = session.page(&restore_path).await;
    assert!(page.contains("id=\"safety-run\""), "the safety backup is linked");
    assert_eq!(h.stored_files(folder).len(), 2, "the safety backup is a second copy");
    let audit = session.page("/audit").await;
    assert!(audit.contains("<code>restore.start</code>") && audit.contains("<code>restore.finish</code>"));

    // The API does the same, and refuses without the name typed again.
    let token = session.api_token("restore-script").await;
    let url = format!("{}/api/v1/apps/files/copies/{copy}/restore", served.url);
    let http = web::client();
    let refused =
        http.post(&url).bearer_auth(&token).json(&serde_json::json!({"confirm": "nope"})).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    std::fs::write(data.join("a.txt"), "changed again\n").unwrap();
    let started = http
        .post(&url)
        .bearer_auth(&token)
        .json(&serde_json::json!({"confirm": "files", "safety_backup": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let view: serde_json::Value = started.json().await.unwrap();
    assert!(view["safety_run_id"].is_null());
    let events = http
        .get(format!("{}/api/v1/restores/{}/events", served.url, view["id"]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(follow_to_end(events, Duration::from_secs(90)).await["status"], "succeeded");
    assert_eq!(read_tree(&data), original);
    assert_eq!(h.stored_files(folder).len(), 2, "no safety backup this time");
}

/// Parses the Prometheus text format strictly enough to catch a malformed line: `# HELP`/`# TYPE`
/// comments, then `name{label="value",...} number` samples. Returns samples by `name{labels}`.
fn parse_prometheus(text: &str) -> std::collections::BTreeMap<String, f64> {
    let mut samples = std::collections::BTreeMap::new();
    let mut typed = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap();
            let kind = parts.next().unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
        let name = series.split('{').next().unwrap();
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'), "bad metric name: {line}");
        let labels = &series[name.len()..];
        if !labels.is_empty() {
            assert!(labels.starts_with('{') && labels.ends_with('}'), "bad labels: {line}");
            for pair in labels[1..labels.len() - 1].split("\",") {
                let (k, _) = pair.split_once("=\"").unwrap_or_else(|| panic!("bad label: {line}"));
                assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "bad label name: {line}");
            }
        }
        let family = ["_bucket", "_sum", "_count"].iter().fold(name, |n, s| n.strip_suffix(s).unwrap_or(n));
        assert!(typed.contains(name) || typed.contains(family), "sample before its # TYPE: {line}");
        samples.insert(series.to_owned(), value);
    }
    samples
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_change_as_runs_happen() {
    let h = Harness::local().await;
    let app = sdk_apps::spawn(Behaviour::Good { size: 2 * MIB, delay: Duration::ZERO }, 5).await;
    let folder = "billing";
    h.add_app("billing", &app.url, folder, &[]).await;
    let served = h.start(&[("METRICS_TOKEN", "scrape-me")]).await;
    let http = web::client();
    let url = format!("{}/metrics", served.url);
    assert_eq!(http.get(&url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(http.get(&url).bearer_auth("wrong").send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let scrape = || async {
        let response = http.get(&url).bearer_auth("scrape-me").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        parse_prometheus(&response.text().await.unwrap())
    };
    let before = scrape().await;
    assert_eq!(before.get("backup_copies{app=\"billing\"}"), Some(&0.0));
    assert!(!before.contains_key("backup_runs_total{app=\"billing\",status=\"succeeded\"}"));
    assert_eq!(before.get("backup_size_bytes_count"), Some(&0.0));

    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let queued = session.post("/apps/billing/run", &[]).await;
    let end = follow_to_end(session.get(&format!("{}/events", location(&queued))).await, Duration::from_secs(90)).await;
    assert_eq!(end["status"], "succeeded");

    let after = scrape().await;
    assert_eq!(after.get("backup_runs_total{app=\"billing\",status=\"succeeded\"}"), Some(&1.0));
    assert_eq!(after.get("backup_copies{app=\"billing\"}"), Some(&1.0));
    assert_eq!(after.get("backup_stored_bytes{app=\"billing\"}"), Some(&((2 * MIB) as f64)));
    assert_eq!(after.get("backup_size_bytes_count"), Some(&1.0));
    assert_eq!(after.get("backup_size_bytes_bucket{le=\"16777216\"}"), Some(&1.0));
    assert_eq!(after.get("backup_size_bytes_bucket{le=\"1048576\"}"), Some(&0.0));
    assert!(after.contains_key("backup_last_success_timestamp_seconds{app=\"billing\"}"));
    assert!(after["backup_newest_verified_copy_age_seconds{app=\"billing\"}"] < 600.0);
    assert_eq!(after.get("backup_queue_depth"), Some(&0.0));
    assert_eq!(after.get("backup_apps_failing"), Some(&0.0));
    assert_eq!(after.get("backup_notifications_failed"), Some(&0.0));
    assert!(after.contains_key("backup_drive_errors_total{kind=\"rate_limited\"}"));
    assert!(after["backup_scheduler_tick_lag_seconds"] < 60.0);
}

#[tokio::test]
async fn metrics_are_off_without_a_token() {
    let h = Harness::local().await;
    let served = h.start(&[]).await;
    let response = web::client().get(format!("{}/metrics", served.url)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.unwrap().contains("METRICS_TOKEN"));
}

/// A zstd frame, decoded with the upstream `zstd` command.
fn zstd_decode(stored: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("zstd")
        .args(["-d", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("zstd is installed (.ci/run installs it)");
    let mut stdin = child.stdin.take().unwrap();
    let input = stored.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    out.stdout
}

#[tokio::test]
async fn the_product_serves_its_own_api_reference_without_any_outside_script() {
    let h = Harness::local().await;
    let served = h.start(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let dashboard = session.page("/").await;
    assert!(dashboard.contains("href=\"/api-docs\""), "the pages link to it");
    let page = session.page("/api-docs").await;
    for needle in ["/api/v1/runs/{id}/cancel", "/api/v1/apps/{name}/runs", "id=\"schema-RunView\"", "no_check"] {
        assert!(page.contains(needle), "the reference shows {needle}");
    }
    assert!(
        !page.contains("<script src=\"http") && !page.contains("<link rel=\"stylesheet\" href=\"http"),
        "nothing from a CDN"
    );
    let yaml = session.get("/api-docs/openapi.yaml").await;
    assert_eq!(yaml.status(), StatusCode::OK);
    assert!(yaml.text().await.unwrap().starts_with("openapi: "), "the document itself");
}
