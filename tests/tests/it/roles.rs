//! Several people, each allowed what their role allows: every page and API route, asked by each
//! role, is refused with 403 exactly when its rule (drawn from the route table itself, so a new
//! route comes with its rule) needs a higher role; tokens act with their own role, never above
//! their owner's, and stop when they expire or their owner goes; dangerous actions need the
//! password again.

use std::time::Duration;

use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::sdk_apps::{self, Behaviour};
use e2e::web::{WebSession, sign_in};
use orchestrator::http::access::{Rule, rules};
use orchestrator::users::Role;
use reqwest::{Method, StatusCode};

fn password_of(role: Role) -> String {
    format!("{}-password-1", role.as_str())
}

fn user_of(role: Role) -> String {
    format!("{}-user", role.as_str())
}

/// The path of a rule with its parameters filled: the app `probe`, ids no row has.
fn concrete(rule: &Rule) -> String {
    rule.path.replace("{name}", "probe").replace("{copy}", "none.tar.gz").replace("{id}", "999999")
}

/// True when the answer is a refusal for the role (not a missing thing, a bad form or a wrong
/// password).
async fn refused_for_role(response: reqwest::Response) -> (bool, String) {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    (status == StatusCode::FORBIDDEN && body.contains("does not allow this"), format!("{status} {body:.200}"))
}

async fn ask_page(session: &WebSession, rule: &Rule) -> reqwest::Response {
    let path = concrete(rule);
    if rule.method == Method::GET { session.get(&path).await } else { session.post(&path, &[]).await }
}

async fn ask_api(base: &str, token: &str, rule: &Rule) -> reqwest::Response {
    let url = format!("{base}{}", concrete(rule));
    let mut request = e2e::web::client().request(rule.method.clone(), url).bearer_auth(token);
    if rule.method != Method::GET && rule.method != Method::DELETE {
        request = request.json(&serde_json::json!({}));
    }
    request.timeout(Duration::from_secs(30)).send().await.expect("the API answers")
}

#[tokio::test]
async fn every_route_answers_each_role_as_its_rule_says() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(Behaviour::Good { size: 1024, delay: Duration::ZERO }, 1).await;
    h.add_app("probe", &app.url, &h.folder("probe"), &[]).await;
    for role in [Role::Viewer, Role::Operator, Role::Restorer] {
        let password = password_of(role);
        h.cli_with(&["users", "add", &user_of(role), "--role", role.as_str()], &[("USER_PASSWORD", &password)])
            .await
            .assert_success();
    }
    let mut served = h.serve(&[]).await;
    let mut callers = Vec::new();
    for role in Role::ALL {
        let session = match role {
            Role::Admin => sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await,
            _ => sign_in(&served.url, &user_of(role), &password_of(role)).await,
        };
        let token = session.api_token(&format!("{role}-token")).await;
        callers.push((role, session, token));
    }

    let rules = rules();
    let mut wrong = Vec::new();
    for rule in &rules {
        // Signing out would end the session the rest of the matrix uses.
        if rule.path == "/logout" {
            continue;
        }
        for (role, session, token) in &callers {
            let answer = if rule.path.starts_with("/api/") {
                ask_api(&served.url, token, rule).await
            } else {
                ask_page(session, rule).await
            };
            let (refused, said) = refused_for_role(answer).await;
            if refused == role.allows(rule.need.role) {
                wrong.push(format!("{} {} as {role} (needs {}): {said}", rule.method, rule.path, rule.need.role));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} answers disagree with the rules:\n{}",
        wrong.len(),
        rules.len() * 4,
        wrong.join("\n")
    );
    served.terminate().await;
}

#[tokio::test]
async fn tokens_stop_when_they_expire_or_their_owner_loses_the_role_and_dangerous_calls_need_the_password() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn_restorable(Behaviour::Good { size: 1024, delay: Duration::ZERO }, 2).await;
    h.add_app("probe", &app.url, &h.folder("probe"), &[]).await;
    let copy = h.backup("probe", &[]).await;
    h.cli_with(&["users", "add", "ana", "--role", "restorer"], &[("USER_PASSWORD", "ana-password-1")])
        .await
        .assert_success();
    let create = |role: &'static str, extra: &'static [&'static str]| {
        let h = &h;
        async move {
            let mut args = vec!["tokens", "create", "t", "--user", "ana", "--role", role];
            args.extend_from_slice(extra);
            let out = h.cli(&args).await;
            out.assert_success();
            out.stdout_text().trim().to_owned()
        }
    };
    // Above the owner's role: refused, nothing made.
    let above = h.cli(&["tokens", "create", "t", "--user", "ana", "--role", "admin"]).await;
    assert!(!above.status.success() && above.stderr.contains("--role"), "{}", above.stderr);
    let restorer = create("restorer", &[]).await;
    let viewer = create("viewer", &[]).await;
    let expired = create("restorer", &["--expires-in", "1m"]).await;
    let mut served = h.serve(&[]).await;
    let api = |path: &str| format!("{}/api/v1{path}", served.url);
    let client = e2e::web::client();

    // A viewer's token reads but cannot start a backup.
    let read = client.get(api("/apps")).bearer_auth(&viewer).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let run =
        client.post(api("/apps/probe/runs")).bearer_auth(&viewer).json(&serde_json::json!({})).send().await.unwrap();
    assert_eq!(run.status(), StatusCode::FORBIDDEN);

    // A restore is dangerous: without the owner's password it is refused; with it, it starts.
    let restore = api(&format!("/apps/probe/copies/{copy}/restore"));
    let body = serde_json::json!({"confirm": "probe", "safety_backup": false});
    let bare = client.post(&restore).bearer_auth(&restorer).json(&body).send().await.unwrap();
    assert_eq!(bare.status(), StatusCode::FORBIDDEN);
    assert!(bare.text().await.unwrap().contains("X-Confirm-Password"));
    let wrong = client
        .post(&restore)
        .bearer_auth(&restorer)
        .header("X-Confirm-Password", "not-her-password")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let confirmed = client
        .post(&restore)
        .bearer_auth(&restorer)
        .header("X-Confirm-Password", "ana-password-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), StatusCode::ACCEPTED, "{}", confirmed.text().await.unwrap());

    // An expired token is refused as unauthorized.
    sqlite_exec(&h, "UPDATE api_tokens SET expires_at = 1 WHERE expires_at IS NOT NULL").await;
    let late = client.get(api("/apps")).bearer_auth(&expired).send().await.unwrap();
    assert_eq!(late.status(), StatusCode::UNAUTHORIZED);
    assert!(late.text().await.unwrap().contains("expired"));

    // Her role lowered to viewer: her restorer token can no longer start a backup; removed, it
    // is refused altogether.
    h.cli(&["users", "edit", "ana", "--role", "viewer"]).await.assert_success();
    let lowered =
        client.post(api("/apps/probe/runs")).bearer_auth(&restorer).json(&serde_json::json!({})).send().await.unwrap();
    assert_eq!(lowered.status(), StatusCode::FORBIDDEN);
    h.cli(&["users", "remove", "ana"]).await.assert_success();
    let gone = client.get(api("/apps")).bearer_auth(&restorer).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);

    // Every call above is in the audit log with who and from where.
    use orchestrator::db::entities::audit_entry;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let row = audit_entry::Entity::find()
        .filter(audit_entry::Column::Action.eq("restore.start"))
        .order_by_desc(audit_entry::Column::Id)
        .one(&h.db().await)
        .await
        .unwrap()
        .expect("the restore is audited");
    let (actor, source) = (row.actor, row.source);
    assert_eq!(actor, "ana (api:t)");
    assert_eq!(source.as_deref(), Some("127.0.0.1"));
    served.terminate().await;
}

async fn sqlite_exec(h: &Harness, statement: &str) {
    use sea_orm::ConnectionTrait;
    h.db().await.execute_unprepared(statement).await.unwrap();
}

/// Signs `user` in through the form.
async fn sign_in_as(browser: &e2e::browser::Browser, base: &str, user: &str, password: &str) {
    browser.goto(&format!("{base}/")).await;
    browser.wait_for("#login-form").await;
    browser.fill("#user", user).await;
    browser.fill("#password", password).await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_for("#account-link").await;
}

#[tokio::test]
async fn in_the_browser_a_restorer_restores_and_a_viewer_sees_no_way_to() {
    let Some(viewer_browser) = e2e::browser::Browser::start("roles viewer").await else { return };
    let Some(restorer_browser) = e2e::browser::Browser::start("roles restorer").await else { return };
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn_restorable(Behaviour::Good { size: 4096, delay: Duration::ZERO }, 3).await;
    h.add_app("ledger", &app.url, &h.folder("ledger"), &[]).await;
    let copy = h.backup("ledger", &[]).await;
    for (name, role) in [("vera", "viewer"), ("rosa", "restorer")] {
        let password = format!("{name}-password-1");
        h.cli_with(&["users", "add", name, "--role", role], &[("USER_PASSWORD", &password)]).await.assert_success();
    }
    let mut served = h.serve(&[]).await;

    // The viewer sees the app and its copies, but no button to change, run or restore them; the
    // restore page itself refuses her.
    let browser = &viewer_browser;
    sign_in_as(browser, &served.url, "vera", "vera-password-1").await;
    assert!(browser.text("#account-link").await.contains("viewer"));
    assert!(!browser.exists("#register-app").await, "a viewer registers no app");
    browser.goto(&format!("{}/apps/ledger", served.url)).await;
    browser.wait_for("#copies").await;
    for hidden in
        ["#test-now", "#pause", "#edit", "#delete-app", "a.restore", "a.download", "#drill-form", "#restore-file-link"]
    {
        assert!(!browser.exists(hidden).await, "a viewer is shown {hidden}");
    }
    assert!(!browser.exists("nav a[href='/users']").await, "only admins see the users page");
    browser.goto(&format!("{}/apps/ledger/copies/{copy}/restore", served.url)).await;
    let refusal = browser.wait_for_text("p.error", "does not allow this").await;
    assert!(refusal.contains("viewer") && refusal.contains("restorer"), "{refusal}");
    browser.screenshot("a viewer is refused the restore page").await;

    // The restorer restores, typing her own password again.
    let browser = &restorer_browser;
    sign_in_as(browser, &served.url, "rosa", "rosa-password-1").await;
    browser.goto(&format!("{}/apps/ledger", served.url)).await;
    browser.wait_for("#copies").await;
    assert!(browser.exists("#test-now").await, "a restorer may Test now");
    assert!(!browser.exists("#delete-app").await, "a restorer deletes nothing");
    browser.click("a.restore").await;
    browser.wait_for("#restore-form").await;
    browser.fill("#confirm", "ledger").await;
    browser.fill("#password", "not-rosas-password").await;
    browser.click("#safety_backup").await;
    browser.click("#confirm-restore").await;
    browser.wait_for("#restore-error").await;
    browser.fill("#confirm", "ledger").await;
    browser.fill("#password", "rosa-password-1").await;
    if browser.execute("return document.querySelector('#safety_backup').checked", &[]).await == serde_json::json!(true)
    {
        browser.click("#safety_backup").await;
    }
    browser.click("#confirm-restore").await;
    browser.wait_for_text("#restore-status", "Succeeded").await;
    browser.screenshot("a restorer restored").await;
    assert_eq!(app.restored().len(), 1, "the app took the copy in once");
    served.terminate().await;
}

#[tokio::test]
async fn sessions_are_listed_and_ended_a_password_change_ends_the_others_and_copies_go_only_with_the_password() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(Behaviour::Good { size: 1024, delay: Duration::ZERO }, 4).await;
    h.add_app("wiki", &app.url, &h.folder("wiki"), &[]).await;
    h.backup("wiki", &[]).await;
    let copies = h.cli(&["copies", "list", "wiki"]).await.stdout_text();
    assert!(copies.contains("wiki"), "{copies}");
    h.cli_with(&["users", "add", "ines", "--role", "admin"], &[("USER_PASSWORD", "ines-password-1")])
        .await
        .assert_success();
    let mut served = h.serve(&[]).await;
    let first = sign_in(&served.url, "ines", "ines-password-1").await;
    let second = sign_in(&served.url, "ines", "ines-password-1").await;
    let third = sign_in(&served.url, "ines", "ines-password-1").await;

    // Her account lists her three sessions; she ends the third from the first.
    let page = first.page("/account").await;
    assert_eq!(page.matches("/account/sessions/").count(), 2, "the other two can be ended, not this one");
    assert!(page.contains("127.0.0.1"), "where each was opened");
    let revoke = page.split("/account/sessions/").nth(1).and_then(|p| p.split('/').next()).unwrap().to_owned();
    let ended = first.post(&format!("/account/sessions/{revoke}/revoke"), &[]).await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    let alive = [second.get("/").await.status(), third.get("/").await.status()];
    assert_eq!(alive.iter().filter(|s| **s == StatusCode::OK).count(), 1, "one of the other two ended: {alive:?}");

    // Deleting the app with its copies needs her password; without it nothing goes.
    let bare = first.post("/apps/wiki/delete", &[("confirm", "wiki"), ("delete_copies", "on")]).await;
    assert_eq!(bare.status(), StatusCode::FORBIDDEN);
    assert_eq!(h.cli(&["copies", "list", "wiki"]).await.stdout_text(), copies, "the copy is still there");

    // A password change ends her other sessions and keeps this one.
    let changed = first
        .post(
            "/account/password",
            &[("current", "ines-password-1"), ("new", "ines-password-2"), ("again", "ines-password-2")],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(second.get("/").await.status(), StatusCode::SEE_OTHER, "another session ended");
    assert_eq!(first.get("/").await.status(), StatusCode::OK, "this one goes on");
    let (old, _) = e2e::web::try_sign_in(&served.url, "ines", "ines-password-1").await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);

    // Unused longer than the idle lifetime, a session ends.
    sqlite_exec(&h, "UPDATE sessions SET last_seen_at = 0").await;
    assert_eq!(first.get("/").await.status(), StatusCode::SEE_OTHER, "an idle session ended");
    let again = sign_in(&served.url, "ines", "ines-password-2").await;
    let deleted = again
        .post("/apps/wiki/delete", &[("confirm", "wiki"), ("delete_copies", "on"), ("password", "ines-password-2")])
        .await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    served.terminate().await;
}
