//! Sign-in with the organisation's identity provider, through a real OpenID Provider (npm's
//! `oidc-provider`) and a real browser: the provider's role claim gives a newcomer their user
//! and role, someone it names no role for is refused without a user being made, a refusal at the
//! provider reads as one, and with passwords turned off only the provider's button is left.

use e2e::browser::Browser;
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::oidc_provider::OidcProvider;
use reqwest::StatusCode;

/// Signs in on the provider's development form as `login` and consents.
async fn sign_in_at_provider(browser: &Browser, login: &str) {
    browser.wait_for("input[name=login]").await;
    browser.fill("input[name=login]", login).await;
    browser.fill("input[name=password]", "any password").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("h1", "Authorize").await;
    browser.click("button[type=submit]").await;
}

#[tokio::test]
async fn people_sign_in_through_the_identity_provider_with_the_role_it_names() {
    let test = "people_sign_in_through_the_identity_provider_with_the_role_it_names";
    if !e2e::browser::installed(test) {
        return;
    }
    let Some(mut provider) = OidcProvider::start(test).await else { return };
    let h = Harness::sqlite().await;
    let mut settings = provider.settings();
    settings.push(("OIDC_ROLE_CLAIM", "roles".to_owned()));
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = h.start(&pairs).await;
    provider.register(&format!("{}/login/oidc/callback", app.url)).await;
    let db = &app.context().db;

    let Some(browser) = Browser::start("oidc_ana").await else { return };
    browser.goto(&format!("{}/login", app.url)).await;
    // Both ways in are offered.
    assert!(browser.exists("#login-form").await);
    browser.wait_for_text("#oidc-sign-in", "Sign in with your organisation").await;

    // Cancelling at the provider comes back as a readable refusal, and nothing is made.
    browser.click("#oidc-sign-in").await;
    browser.wait_for("input[name=login]").await;
    browser.click("a[href*=abort]").await;
    let said = browser.wait_for_text("#login-error", "access_denied").await;
    assert!(said.contains("did not sign you in"), "{said}");
    assert!(orchestrator::users::find_by_email(db, "ana@example.org").await.unwrap().is_none());

    // Ana has no user yet; the provider says she is a restorer: she gets a user and signs in.
    browser.click("#oidc-sign-in").await;
    sign_in_at_provider(&browser, "ana").await;
    let account = browser.wait_for_text("#account-link", "ana@example.org").await;
    assert!(account.contains("restorer"), "{account}");
    assert_eq!(browser.current_url().await.trim_end_matches('/'), app.url);
    let ana = orchestrator::users::find_by_email(db, "ANA@example.org").await.unwrap().expect("ana's user");
    assert_eq!((ana.name.as_str(), ana.role.as_str()), ("ana@example.org", "restorer"));
    assert!(ana.password_hash.is_none(), "she signs in only through the provider");
    let audit = e2e::web::sign_in(&app.url, ADMIN_USER, ADMIN_PASSWORD).await.get("/audit").await.text().await.unwrap();
    assert!(audit.contains("through the identity provider"), "the sign-in is audited");
    drop(browser);

    // Bob is vouched for, but no user has his e-mail and no role comes for him: refused, no user.
    let Some(browser) = Browser::start("oidc_bob").await else { return };
    browser.goto(&format!("{}/login?next=%2Fruns", app.url)).await;
    browser.click("#oidc-sign-in").await;
    sign_in_at_provider(&browser, "bob").await;
    let said = browser.wait_for_text("#login-error", "bob@example.org").await;
    assert!(said.contains("ask an admin to add you"), "{said}");
    assert!(!browser.exists("#account-link").await);
    assert!(orchestrator::users::find_by_email(db, "bob@example.org").await.unwrap().is_none());
    app.stop().await;
}

#[tokio::test]
async fn with_local_sign_in_off_only_the_identity_provider_signs_people_in() {
    let test = "with_local_sign_in_off_only_the_identity_provider_signs_people_in";
    let Some(provider) = OidcProvider::start(test).await else { return };
    let h = Harness::sqlite().await;
    let mut settings = provider.settings();
    settings.push(("LOCAL_SIGN_IN", "off".to_owned()));
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = h.start(&pairs).await;

    let client = e2e::web::client();
    let page = client.get(format!("{}/login", app.url)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("id=\"oidc-sign-in\""), "{page}");
    assert!(!page.contains("id=\"login-form\"") && !page.contains("type=\"password\""), "{page}");

    // Even the right password, in a form whose CSRF token matches its cookie, is refused.
    let posted = client
        .post(format!("{}/login", app.url))
        .header(reqwest::header::COOKIE, "login_csrf=matching")
        .form(&[("user", ADMIN_USER), ("password", ADMIN_PASSWORD), ("csrf", "matching"), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert!(posted.headers().get(reqwest::header::SET_COOKIE).is_none(), "no session starts");
    assert_eq!(posted.status(), StatusCode::FORBIDDEN);
    assert!(posted.text().await.unwrap().contains("Sign-in with a password is turned off"));
    app.stop().await;
}
