//! The web-server flow ("Using OAuth 2.0 for Web Server Applications"): the authorization endpoint and its consent
//! screen, the authorization-code grant with PKCE, refresh tokens from it, revocation; then the `drive.file` scope
//! ("Choose Google Drive API scopes") and about.get.

use std::collections::BTreeMap;
use std::time::Duration;

use drive_double::Consent;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{FOLDER_MIME, Harness, SA_KEY, enc, form, json_of, reason};

const REDIRECT: &str = "http://127.0.0.1:8080/oauth/google/callback";
const DRIVE_FILE: &str = "https://www.googleapis.com/auth/drive.file";
const USERINFO_EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";
/// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const S256_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// The query parameters of a redirect's `Location`, after checking it goes to `REDIRECT`.
fn redirected(response: &reqwest::Response) -> BTreeMap<String, String> {
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().unwrap();
    let (target, query) = location.split_once('?').unwrap();
    assert_eq!(target, REDIRECT);
    query
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            (decode(name), decode(value))
        })
        .collect()
}

fn is_html(response: &reqwest::Response) -> bool {
    response.headers()["content-type"].to_str().unwrap().starts_with("text/html")
}

struct Flow {
    h: Harness,
}

impl Flow {
    async fn new() -> Flow {
        let h = Harness::new().await;
        h.drive.register_redirect_uri(REDIRECT);
        Flow { h }
    }

    /// The parameters of a well-formed request for `scope`, with `extra` added or replacing.
    fn params(&self, scope: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let client_id = self.h.drive.oauth_client_id();
        let mut params: BTreeMap<String, String> = [
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", scope),
            ("state", "st/4 te&x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (name, value) in extra {
            params.insert((*name).to_owned(), (*value).to_owned());
        }
        params.into_iter().collect()
    }

    async fn authorize_with(&self, params: &[(String, String)]) -> reqwest::Response {
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.h.http.get(format!("{}?{}", self.h.drive.auth_uri(), form(&pairs))).send().await.unwrap()
    }

    async fn authorize(&self, scope: &str, extra: &[(&str, &str)]) -> reqwest::Response {
        self.authorize_with(&self.params(scope, extra)).await
    }

    /// A code, consented without a browser.
    async fn code(&self, scope: &str, extra: &[(&str, &str)]) -> String {
        self.h.drive.auto_consent(Some(Consent::Allow));
        let query = redirected(&self.authorize(scope, extra).await);
        query["code"].clone()
    }

    async fn exchange_with(&self, pairs: &[(&str, &str)]) -> (StatusCode, Value) {
        self.h.token_request(form(pairs)).await
    }

    async fn exchange(&self, code: &str, verifier: Option<&str>) -> (StatusCode, Value) {
        let (id, secret) = (self.h.drive.oauth_client_id(), self.h.drive.oauth_client_secret());
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("redirect_uri", REDIRECT),
        ];
        if let Some(verifier) = verifier {
            pairs.push(("code_verifier", verifier));
        }
        self.exchange_with(&pairs).await
    }

    async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        let (id, secret) = (self.h.drive.oauth_client_id(), self.h.drive.oauth_client_secret());
        self.exchange_with(&[
            ("grant_type", "refresh_token"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// Access token of a `drive.file` grant.
    async fn drive_file_token(&self) -> String {
        let code = self.code(DRIVE_FILE, &[]).await;
        let (status, body) = self.exchange(&code, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn revoke(&self, token: &str) -> (StatusCode, Value) {
        let response = self
            .h
            .http
            .post(format!("{}/revoke", self.h.drive.endpoint()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("token", token)]))
            .send()
            .await
            .unwrap();
        json_of(response).await
    }

    async fn files_ok(&self, token: &str) -> StatusCode {
        self.h.get_json(token, &self.h.api("/files")).await.0
    }
}

#[tokio::test]
async fn request_errors_are_error_pages_that_never_redirect() {
    let f = Flow::new().await;
    let cases = [
        (vec![("client_id", "nobody.apps.googleusercontent.com")], 401, "Error 401: invalid_client"),
        (vec![("client_id", "")], 400, "Error 400: invalid_request"),
        (
            vec![("redirect_uri", "http://127.0.0.1:8080/oauth/google/callback/")],
            400,
            "Error 400: redirect_uri_mismatch",
        ),
        (vec![("redirect_uri", "https://evil.example/callback")], 400, "Error 400: redirect_uri_mismatch"),
        (vec![("redirect_uri", "")], 400, "Error 400: invalid_request"),
        (vec![("response_type", "")], 400, "Error 400: invalid_request"),
        (vec![("scope", "")], 400, "Error 400: invalid_request"),
        (vec![("scope", "https://www.googleapis.com/auth/drive.readonly.bogus")], 400, "Error 400: invalid_scope"),
        (vec![("access_type", "forever")], 400, "Error 400: invalid_request"),
        (vec![("prompt", "none consent")], 400, "Error 400: invalid_request"),
        (vec![("include_granted_scopes", "yes")], 400, "Error 400: invalid_request"),
        (
            vec![("code_challenge", S256_CHALLENGE), ("code_challenge_method", "S512")],
            400,
            "Error 400: invalid_request",
        ),
        (vec![("code_challenge_method", "S256")], 400, "Error 400: invalid_request"),
        (vec![("code_challenge", "short")], 400, "Error 400: invalid_request"),
    ];
    for (extra, status, headline) in cases {
        let response = f.authorize(DRIVE_FILE, &extra).await;
        assert_eq!(response.status().as_u16(), status, "{extra:?}");
        assert!(response.headers().get("location").is_none(), "{extra:?} must not redirect");
        assert!(is_html(&response));
        let page = response.text().await.unwrap();
        assert!(page.contains(headline), "{extra:?}: {page}");
    }
    let unknown = f.authorize(&format!("{DRIVE_FILE} https://example.com/made-up"), &[]).await;
    let page = unknown.text().await.unwrap();
    assert!(page.contains("invalid=[https://example.com/made-up]"), "{page}");
    let not_found = f.authorize(DRIVE_FILE, &[("client_id", "nobody.apps.googleusercontent.com")]).await;
    assert!(not_found.text().await.unwrap().contains("The OAuth client was not found."));
}

#[tokio::test]
async fn an_unsupported_response_type_goes_back_to_the_redirect_uri_with_the_state() {
    let f = Flow::new().await;
    let query = redirected(&f.authorize(DRIVE_FILE, &[("response_type", "token")]).await);
    assert_eq!(query["error"], "unsupported_response_type");
    assert_eq!(query["state"], "st/4 te&x");
}

/// The hidden fields of the consent form.
fn hidden_fields(page: &str) -> Vec<(String, String)> {
    let unescape = |text: &str| {
        text.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    page.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once('"').unwrap();
            let value = rest.split_once("value=\"").unwrap().1.split_once('"').unwrap().0;
            (unescape(name), unescape(value))
        })
        .collect()
}

#[tokio::test]
async fn the_consent_page_names_account_client_and_scopes_and_its_buttons_answer_the_redirect() {
    let f = Flow::new().await;
    f.h.drive.set_consenting_user("alice@example.com");
    let response = f.authorize(&format!("{DRIVE_FILE} email"), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(is_html(&response));
    let page = response.text().await.unwrap();
    for expected in [
        "alice@example.com",
        &f.h.drive.oauth_client_id(),
        DRIVE_FILE,
        USERINFO_EMAIL,
        "id=\"allow\"",
        "id=\"deny\"",
        "action=\"/o/oauth2/v2/consent\"",
    ] {
        assert!(page.contains(expected), "{expected} missing from {page}");
    }
    let fields = hidden_fields(&page);
    assert!(fields.contains(&("state".to_owned(), "st/4 te&x".to_owned())), "{fields:?}");

    let click = |decision: &'static str| {
        let mut pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        pairs.push(("decision", decision));
        f.h.http
            .post(format!("{}/o/oauth2/v2/consent", f.h.drive.endpoint()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&pairs))
            .send()
    };
    let allowed = redirected(&click("allow").await.unwrap());
    assert!(allowed["code"].starts_with("4/"), "{allowed:?}");
    assert_eq!(allowed["scope"], format!("{DRIVE_FILE} {USERINFO_EMAIL}"));
    assert_eq!(allowed["state"], "st/4 te&x");
    let denied = redirected(&click("deny").await.unwrap());
    assert_eq!(
        denied,
        BTreeMap::from([("error".into(), "access_denied".into()), ("state".into(), "st/4 te&x".into())])
    );
}

#[tokio::test]
async fn auto_consent_answers_the_redirect_directly() {
    let f = Flow::new().await;
    f.h.drive.auto_consent(Some(Consent::Deny));
    let denied = redirected(&f.authorize(DRIVE_FILE, &[]).await);
    assert_eq!(denied["error"], "access_denied");
    assert!(!denied.contains_key("code"));
    f.h.drive.auto_consent(Some(Consent::Allow));
    let allowed = redirected(&f.authorize(DRIVE_FILE, &[("state", "")]).await);
    assert!(allowed.contains_key("code"));
    assert_eq!(allowed["scope"], DRIVE_FILE);
    f.h.drive.auto_consent(None);
    assert_eq!(f.authorize(DRIVE_FILE, &[]).await.status(), StatusCode::OK, "the page again");
}

#[tokio::test]
async fn a_code_is_exchanged_once_and_a_second_use_revokes_what_it_gave() {
    let f = Flow::new().await;
    let code = f.code(&format!("{DRIVE_FILE} email"), &[]).await;
    let (status, body) = f.exchange(&code, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], format!("{DRIVE_FILE} {USERINFO_EMAIL}"));
    assert!(body["expires_in"].as_u64().is_some_and(|s| s > 3000));
    assert!(body.get("refresh_token").is_none(), "online access: no refresh token: {body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(f.files_ok(&token).await, StatusCode::OK);

    let (status, body) = f.exchange(&code, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({ "error": "invalid_grant", "error_description": "Code was already redeemed." }));
    assert_eq!(f.files_ok(&token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_token_endpoint_refuses_wrong_clients_unknown_codes_and_other_redirect_uris() {
    let f = Flow::new().await;
    f.h.drive.register_redirect_uri("http://127.0.0.1:8080/other");
    let code = f.code(DRIVE_FILE, &[]).await;
    let (id, secret) = (f.h.drive.oauth_client_id(), f.h.drive.oauth_client_secret());
    let grant = |code: &str, client: &str, secret: &str, redirect: Option<&str>| {
        let mut pairs = vec![("grant_type", "authorization_code"), ("code", code), ("client_id", client)];
        pairs.push(("client_secret", secret));
        pairs.extend(redirect.map(|redirect| ("redirect_uri", redirect)));
        form(&pairs)
    };

    let (status, body) =
        f.h.token_request(grant(&code, "nobody.apps.googleusercontent.com", &secret, Some(REDIRECT))).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    let (status, body) = f.h.token_request(grant(&code, &id, "GOCSPX-wrong", Some(REDIRECT))).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    let (status, body) = f.h.token_request(grant("4/0Amade-up", &id, &secret, Some(REDIRECT))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({ "error": "invalid_grant", "error_description": "Malformed auth code." }));
    let (status, body) = f.h.token_request(grant(&code, &id, &secret, Some("http://127.0.0.1:8080/other"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({ "error": "redirect_uri_mismatch", "error_description": "Bad Request" }));
    let (status, body) = f.h.token_request(grant(&code, &id, &secret, None)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));

    let (status, body) = f.exchange(&code, None).await;
    assert_eq!(status, StatusCode::OK, "refused exchanges leave the code usable: {body}");
}

#[tokio::test]
async fn a_code_expires_after_ten_minutes() {
    let f = Flow::new().await;
    let late = f.code(DRIVE_FILE, &[]).await;
    let in_time = f.code(DRIVE_FILE, &[]).await;
    f.h.drive.advance_clock(Duration::from_secs(9 * 60));
    assert_eq!(f.exchange(&in_time, None).await.0, StatusCode::OK);
    f.h.drive.advance_clock(Duration::from_secs(60));
    let (status, body) = f.exchange(&late, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn pkce_binds_the_code_to_its_verifier() {
    let f = Flow::new().await;
    assert_eq!(
        S256_CHALLENGE,
        base64url(&Sha256::digest(VERIFIER.as_bytes())),
        "the test's own S256 agrees with RFC 7636"
    );
    let s256 = [("code_challenge", S256_CHALLENGE), ("code_challenge_method", "S256")];
    let code = f.code(DRIVE_FILE, &s256).await;
    let (status, body) = f.exchange(&code, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({ "error": "invalid_grant", "error_description": "Missing code verifier." }));
    let (status, body) = f.exchange(&code, Some(&format!("{VERIFIER}x"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({ "error": "invalid_grant", "error_description": "Invalid code verifier." }));
    assert_eq!(f.exchange(&code, Some(VERIFIER)).await.0, StatusCode::OK);

    // Without a method the challenge is the verifier itself ("plain").
    let code = f.code(DRIVE_FILE, &[("code_challenge", VERIFIER)]).await;
    assert_eq!(f.exchange(&code, Some(S256_CHALLENGE)).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(f.exchange(&code, Some(VERIFIER)).await.0, StatusCode::OK);

    let code = f.code(DRIVE_FILE, &[]).await;
    let (status, body) = f.exchange(&code, Some(VERIFIER)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_description"], "code_verifier or verifier is not needed.");
}

pub(crate) fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = String::new();
    for byte in bytes {
        bits = (bits << 8) | u32::from(*byte);
        count += 8;
        while count >= 6 {
            count -= 6;
            out.push(char::from(ALPHABET[((bits >> count) & 63) as usize]));
        }
    }
    if count > 0 {
        out.push(char::from(ALPHABET[((bits << (6 - count)) & 63) as usize]));
    }
    out
}

#[tokio::test]
async fn offline_access_gives_a_refresh_token_the_first_time_and_again_with_prompt_consent() {
    let f = Flow::new().await;
    f.h.drive.set_consenting_user("alice@example.com");
    let code = f.code(DRIVE_FILE, &[("access_type", "offline")]).await;
    let (status, body) = f.exchange(&code, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refresh_token = body["refresh_token"].as_str().expect("a refresh token").to_owned();

    let (status, refreshed) = f.refresh(&refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(refreshed["scope"], DRIVE_FILE);
    assert!(refreshed.get("refresh_token").is_none());
    let token = refreshed["access_token"].as_str().unwrap();
    let (status, about) = f.h.get_json(token, &f.h.api("/about?fields=user")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(about["user"]["emailAddress"], "alice@example.com", "the token acts as the consenting user");

    let again = f.code(DRIVE_FILE, &[("access_type", "offline")]).await;
    let (_, body) = f.exchange(&again, None).await;
    assert!(body.get("refresh_token").is_none(), "only the first offline exchange: {body}");
    let forced = f.code(DRIVE_FILE, &[("access_type", "offline"), ("prompt", "consent")]).await;
    let (_, body) = f.exchange(&forced, None).await;
    assert!(body["refresh_token"].is_string(), "prompt=consent: {body}");
}

#[tokio::test]
async fn include_granted_scopes_and_prompt_none_follow_earlier_consent() {
    let f = Flow::new().await;
    f.h.drive.auto_consent(None);
    let silent = redirected(&f.authorize(DRIVE_FILE, &[("prompt", "none")]).await);
    assert_eq!(silent["error"], "consent_required");
    assert_eq!(silent["state"], "st/4 te&x");

    f.code(DRIVE_FILE, &[]).await;
    f.h.drive.auto_consent(None);
    let silent = redirected(&f.authorize(DRIVE_FILE, &[("prompt", "none")]).await);
    assert_eq!(silent["scope"], DRIVE_FILE, "already granted: no screen needed");

    let code = f.code("email", &[("include_granted_scopes", "true")]).await;
    let (_, body) = f.exchange(&code, None).await;
    let scopes: Vec<&str> = body["scope"].as_str().unwrap().split(' ').collect();
    assert!(scopes.contains(&DRIVE_FILE) && scopes.contains(&USERINFO_EMAIL), "{body}");
}

#[tokio::test]
async fn revoke_refresh_tokens_refuses_issued_and_fixed_refresh_tokens_and_their_access_tokens() {
    let f = Flow::new().await;
    let code = f.code(DRIVE_FILE, &[("access_type", "offline")]).await;
    let (_, body) = f.exchange(&code, None).await;
    let issued = body["refresh_token"].as_str().unwrap().to_owned();
    let from_code = body["access_token"].as_str().unwrap().to_owned();
    let fixed: Value = serde_json::from_str(&f.h.drive.authorized_user_json()).unwrap();
    let fixed = fixed["refresh_token"].as_str().unwrap().to_owned();
    let from_fixed = f.h.user_token().await;

    f.h.drive.revoke_refresh_tokens();
    for refresh_token in [&issued, &fixed] {
        let (status, body) = f.refresh(refresh_token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({ "error": "invalid_grant", "error_description": "Token has been expired or revoked." })
        );
    }
    assert_eq!(f.files_ok(&from_code).await, StatusCode::UNAUTHORIZED);
    assert_eq!(f.files_ok(&from_fixed).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_revoke_endpoint_ends_the_grant_behind_an_access_or_refresh_token() {
    let f = Flow::new().await;
    let code = f.code(DRIVE_FILE, &[("access_type", "offline")]).await;
    let (_, body) = f.exchange(&code, None).await;
    let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
    let access_token = body["access_token"].as_str().unwrap().to_owned();
    let (_, refreshed) = f.refresh(&refresh_token).await;
    let second = refreshed["access_token"].as_str().unwrap().to_owned();

    assert_eq!(f.revoke(&access_token).await.0, StatusCode::OK);
    for token in [&access_token, &second] {
        assert_eq!(f.files_ok(token).await, StatusCode::UNAUTHORIZED, "every access token of the grant");
    }
    let (status, body) = f.refresh(&refresh_token).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (status, body) = f.revoke(&access_token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(f.revoke("ya29.made-up").await.0, StatusCode::BAD_REQUEST);

    let code = f.code(DRIVE_FILE, &[("access_type", "offline")]).await;
    let (_, body) = f.exchange(&code, None).await;
    let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
    let access_token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(f.revoke(&refresh_token).await.0, StatusCode::OK);
    assert_eq!(f.files_ok(&access_token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(f.revoke(&refresh_token).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn oauth_client_json_is_a_web_client_pointing_at_the_double() {
    let f = Flow::new().await;
    let file: Value = serde_json::from_str(&f.h.drive.oauth_client_json("http://localhost:3000/cb")).unwrap();
    let web = &file["web"];
    assert_eq!(web["client_id"], f.h.drive.oauth_client_id());
    assert_eq!(web["client_secret"], f.h.drive.oauth_client_secret());
    assert_eq!(web["auth_uri"], f.h.drive.auth_uri());
    assert_eq!(web["token_uri"], f.h.drive.token_uri());
    assert_eq!(
        web["redirect_uris"],
        json!(["http://127.0.0.1:8080/oauth/google/callback", "http://localhost:3000/cb"])
    );
    assert!(web["project_id"].is_string() && web["auth_provider_x509_cert_url"].is_string());
    f.h.drive.auto_consent(Some(Consent::Allow));
    let response = f.authorize(DRIVE_FILE, &[("redirect_uri", "http://localhost:3000/cb")]).await;
    assert_eq!(response.status(), StatusCode::FOUND, "the listed redirect URI is registered");
}

fn names(list: &Value) -> Vec<&str> {
    list["files"].as_array().unwrap().iter().map(|file| file["name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_drive_file_token_sees_only_what_its_client_created_or_was_given() {
    let f = Flow::new().await;
    let foreign = f.h.drive.create_folder("Someone's folder");
    let foreign_file = f.h.drive.add_file(&foreign, "tax.pdf", b"secret", &[]);
    let picked = f.h.drive.create_folder("Picked");
    let token = f.drive_file_token().await;

    let (status, list) = f.h.get_json(&token, &f.h.api("/files")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(names(&list).is_empty(), "{list}");
    for id in [&foreign, &foreign_file] {
        let url = f.h.api(&format!("/files/{id}"));
        let (status, body) = f.h.get_json(&token, &url).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["message"], format!("File not found: {id}."));
        let patch = f.h.http.patch(&url).bearer_auth(&token).json(&json!({ "name": "x" })).send().await.unwrap();
        assert_eq!(patch.status(), StatusCode::NOT_FOUND);
        let delete = f.h.http.delete(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(delete.status(), StatusCode::NOT_FOUND);
    }
    let (status, body) = json_of(f.h.initiate(&token, json!({ "name": "a", "parents": [foreign] }), "").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(reason(&body), "notFound");

    // Its own "Backups" folder in My Drive, and a backup written there.
    let create = f.h.http.post(f.h.api("/files")).bearer_auth(&token);
    let response = create.json(&json!({ "name": "Backups", "mimeType": FOLDER_MIME })).send().await.unwrap();
    let (status, folder) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{folder}");
    let folder = folder["id"].as_str().unwrap().to_owned();
    let session = f.h.session(&token, &folder, "db.sql.gz", "").await;
    let (status, file) = json_of(f.h.put(&token, &session, "bytes 0-2/3", vec![1, 2, 3]).await).await;
    assert_eq!(status, StatusCode::OK, "{file}");
    let q = enc(&format!("'{folder}' in parents"));
    let (_, list) = f.h.get_json(&token, &f.h.api(&format!("/files?q={q}"))).await;
    assert_eq!(names(&list), vec!["db.sql.gz"]);
    let (_, list) = f.h.get_json(&token, &f.h.api("/files?orderBy=name")).await;
    assert_eq!(names(&list), vec!["Backups", "db.sql.gz"]);

    // Opened with the app (the Picker): that folder, not what others put in it.
    let inside = f.h.drive.add_file(&picked, "old.bin", b"x", &[]);
    f.h.drive.grant_to_app(&picked);
    assert_eq!(f.h.get_json(&token, &f.h.api(&format!("/files/{picked}"))).await.0, StatusCode::OK);
    assert_eq!(f.h.get_json(&token, &f.h.api(&format!("/files/{inside}"))).await.0, StatusCode::NOT_FOUND);
    let session = f.h.session(&token, &picked, "new.bin", "").await;
    assert_eq!(f.h.put(&token, &session, "bytes 0-0/1", vec![9]).await.status(), StatusCode::OK);

    // A full-drive token of the same user sees everything.
    let full = f.h.user_token().await;
    let (_, list) = f.h.get_json(&full, &f.h.api("/files")).await;
    assert_eq!(names(&list).len(), 7, "{list}");
}

#[tokio::test]
async fn drive_file_tokens_see_what_the_same_client_made_with_the_full_scope_and_service_accounts_are_unlimited() {
    let f = Flow::new().await;
    let full = f.h.user_token().await;
    let create = f.h.http.post(f.h.api("/files")).bearer_auth(&full);
    let (_, made) = json_of(create.json(&json!({ "name": "Made by the app" })).send().await.unwrap()).await;
    let token = f.drive_file_token().await;
    let (status, _) = f.h.get_json(&token, &f.h.api(&format!("/files/{}", made["id"].as_str().unwrap()))).await;
    assert_eq!(status, StatusCode::OK, "created through the same OAuth client");

    let folder = f.h.drive.create_folder("Shared");
    f.h.drive.share_folder_with(&folder, &f.h.drive.service_account_email());
    let mut claims = f.h.claims(None);
    claims["scope"] = json!(DRIVE_FILE);
    let (status, body) = f.h.jwt_grant(&f.h.sign(&claims, SA_KEY)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sa = body["access_token"].as_str().unwrap();
    assert_eq!(f.h.get_json(sa, &f.h.api(&format!("/files/{folder}"))).await.0, StatusCode::OK);
}

#[tokio::test]
async fn about_reports_the_user_and_the_storage_quota_as_documented() {
    let f = Flow::new().await;
    let folder = f.h.drive.create_folder("Backups");
    f.h.drive.add_file(&folder, "kept.bin", &[0; 100], &[]);
    let trashed = f.h.drive.add_file(&folder, "trashed.bin", &[0; 30], &[]);
    let token = f.h.user_token().await;
    let url = f.h.api(&format!("/files/{trashed}"));
    let patch = f.h.http.patch(&url).bearer_auth(&token).json(&json!({ "trashed": true })).send().await.unwrap();
    assert_eq!(patch.status(), StatusCode::OK);

    let about_url = f.h.api("/about?fields=user,storageQuota");
    let (status, about) = f.h.get_json(&token, &about_url).await;
    assert_eq!(status, StatusCode::OK, "{about}");
    let user = &about["user"];
    assert_eq!(user["emailAddress"], f.h.drive.user_email());
    assert_eq!(user["me"], true);
    assert!(user["displayName"].is_string() && user["permissionId"].is_string(), "{about}");
    let quota = &about["storageQuota"];
    assert_eq!(quota["limit"], "16106127360", "15 GB of a Google Account");
    assert_eq!(quota["usage"], "130");
    assert_eq!(quota["usageInDrive"], "130");
    assert_eq!(quota["usageInDriveTrash"], "30");
    let (_, again) = f.h.get_json(&token, &about_url).await;
    assert_eq!(again["user"]["permissionId"], user["permissionId"], "stable per user");

    f.h.drive.set_storage_quota(&f.h.drive.user_email(), 1000);
    let (_, about) = f.h.get_json(&token, &about_url).await;
    assert_eq!(about["storageQuota"]["limit"], "1000");

    let sa = f.h.sa_token(None).await;
    let (_, about) = f.h.get_json(&sa, &about_url).await;
    assert_eq!(about["storageQuota"]["limit"], "0");
    assert_eq!(about["user"]["emailAddress"], f.h.drive.service_account_email());

    let (status, body) = f.h.get_json(&token, &f.h.api("/about")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "fields is required: {body}");
}
