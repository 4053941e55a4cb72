//! The token endpoint (refresh-token and JWT bearer grants), bearer checks, and who may write where.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Harness, SA_KEY, STRANGER_KEY, form, json_of, now, reason};

#[tokio::test]
async fn jwt_grant_accepts_a_good_assertion() {
    let h = Harness::new().await;
    let assertion = h.sign(&h.claims(None), SA_KEY);
    let (status, body) = h.jwt_grant(&assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["expires_in"].as_u64().is_some_and(|s| s > 3000));
}

#[tokio::test]
async fn jwt_grant_refuses_a_stranger_key_a_wrong_audience_and_expired_assertions() {
    let h = Harness::new().await;
    let stranger: Value = serde_json::from_str(&h.drive.stranger_service_account_json()).unwrap();
    let stranger_key = stranger["private_key"].as_str().unwrap();
    assert_eq!(stranger_key, STRANGER_KEY);
    let (status, body) = h.jwt_grant(&h.sign(&h.claims(None), stranger_key)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({ "error": "invalid_grant", "error_description": "Invalid JWT Signature." }));

    let mut claims = h.claims(None);
    claims["aud"] = json!("https://example.com/token");
    let (status, body) = h.jwt_grant(&h.sign(&claims, SA_KEY)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");

    let mut claims = h.claims(None);
    claims["iat"] = json!(now() - 7200);
    claims["exp"] = json!(now() - 3600);
    let (status, body) = h.jwt_grant(&h.sign(&claims, SA_KEY)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");

    let mut claims = h.claims(None);
    claims["exp"] = json!(now() + 7200);
    let (status, _) = h.jwt_grant(&h.sign(&claims, SA_KEY)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "tokens may live at most one hour");

    let mut claims = h.claims(None);
    claims["iss"] = json!("someone-else@test-project.iam.gserviceaccount.com");
    let (status, body) = h.jwt_grant(&h.sign(&claims, SA_KEY)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn delegation_needs_to_be_allowed() {
    let h = Harness::new().await;
    let assertion = h.sign(&h.claims(Some("operator@example.com")), SA_KEY);
    let (status, body) = h.jwt_grant(&assertion).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized_client");
    h.drive.allow_delegation("operator@example.com");
    let (status, _) = h.jwt_grant(&assertion).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn refresh_grant() {
    let h = Harness::new().await;
    let file: Value = serde_json::from_str(&h.drive.authorized_user_json()).unwrap();
    assert_eq!(file["type"], "authorized_user");
    let (id, secret, refresh) = (
        file["client_id"].as_str().unwrap(),
        file["client_secret"].as_str().unwrap(),
        file["refresh_token"].as_str().unwrap(),
    );
    let grant = |client: &str, secret: &str, refresh: &str| {
        form(&[
            ("grant_type", "refresh_token"),
            ("client_id", client),
            ("client_secret", secret),
            ("refresh_token", refresh),
        ])
    };
    let (status, body) = h.token_request(grant(id, secret, refresh)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "https://www.googleapis.com/auth/drive");
    let (status, body) = h.token_request(grant(id, secret, "1//wrong")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({ "error": "invalid_grant", "error_description": "Bad Request" }));
    let (status, body) = h.token_request(grant("other.apps.googleusercontent.com", secret, refresh)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn revoked_expired_and_missing_tokens_get_401() {
    let h = Harness::new().await;
    let token = h.user_token().await;
    let url = h.api("/files");
    assert_eq!(h.get_json(&token, &url).await.0, StatusCode::OK);

    h.drive.revoke_tokens();
    let (status, body) = h.get_json(&token, &url).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(reason(&body), "authError");
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");

    h.drive.set_token_ttl(Duration::ZERO);
    let expired = h.user_token().await;
    assert_eq!(h.get_json(&expired, &url).await.0, StatusCode::UNAUTHORIZED);
    h.drive.set_token_ttl(Duration::from_secs(3600));
    let fresh = h.user_token().await;
    assert_eq!(h.get_json(&fresh, &url).await.0, StatusCode::OK);

    let anonymous = h.http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_expiring_mid_upload_gets_401_on_the_next_chunk() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    h.drive.set_token_ttl(Duration::ZERO);
    let doomed = h.user_token().await;
    h.drive.set_token_ttl(Duration::from_secs(3600));
    let token = h.user_token().await;
    let session = h.session(&token, &folder, "a.bin", "").await;
    let chunk = h.put(&doomed, &session, "bytes 0-2/3", vec![1, 2, 3]).await;
    assert_eq!(chunk.status(), StatusCode::UNAUTHORIZED);
    let retry = h.put(&token, &session, "bytes 0-2/3", vec![1, 2, 3]).await;
    assert_eq!(retry.status(), StatusCode::OK, "the session survives; a fresh token finishes it");
}

#[tokio::test]
async fn service_account_has_no_quota_in_my_drive_but_may_use_shared_drives_or_delegation() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    h.drive.share_folder_with(&folder, &h.drive.service_account_email());
    let shared_drive = h.drive.create_shared_drive("Team");
    let token = h.sa_token(None).await;

    let (status, body) = json_of(h.initiate(&token, json!({ "name": "a", "parents": [folder] }), "").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reason(&body), "storageQuotaExceeded");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("Service Accounts do not have storage quota."));

    let session = h.session(&token, &shared_drive, "a.bin", "&supportsAllDrives=true").await;
    assert_eq!(h.put(&token, &session, "bytes 0-0/1", vec![1]).await.status(), StatusCode::OK);
    let stored = h.drive.files_in(&shared_drive);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].drive_id.as_deref(), Some(shared_drive.as_str()));

    h.drive.allow_delegation(&h.drive.user_email());
    let delegated = h.sa_token(Some(&h.drive.user_email())).await;
    let session = h.session(&delegated, &folder, "b.bin", "").await;
    assert_eq!(h.put(&delegated, &session, "bytes 0-0/1", vec![1]).await.status(), StatusCode::OK);
    assert_eq!(h.drive.files_in(&folder)[0].owner, h.drive.user_email(), "a delegated token acts as the user");
}

#[tokio::test]
async fn folders_not_shared_are_not_found() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Private");
    let token = h.sa_token(None).await;
    let (status, body) = h.get_json(&token, &h.api(&format!("/files/{folder}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], json!(format!("File not found: {folder}.")));
    let (status, _) = json_of(h.initiate(&token, json!({ "name": "a", "parents": [folder] }), "").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
