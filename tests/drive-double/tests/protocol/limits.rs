//! Storage quota and item limits, answered as Google's "Resolve errors" guide shows them.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{CHUNK, Harness, data, json_of, range_header, reason};

#[tokio::test]
async fn a_full_my_drive_refuses_new_items_declared_sizes_and_chunks_past_the_quota() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let shared_drive = h.drive.create_shared_drive("Team");
    let token = h.user_token().await;
    h.drive.set_storage_quota(&h.drive.user_email(), CHUNK as u64);

    let declared = h
        .http
        .post(h.upload_url("uploadType=resumable"))
        .bearer_auth(&token)
        .header("content-type", "application/json; charset=UTF-8")
        .header("x-upload-content-length", 2 * CHUNK)
        .body(json!({ "name": "big.bin", "parents": [folder] }).to_string())
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(declared).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reason(&body), "storageQuotaExceeded");
    assert_eq!(body["error"]["message"], "The user's Drive storage quota has been exceeded.");

    let session = h.session(&token, &folder, "a.bin", "").await;
    let first = h.put(&token, &session, &format!("bytes 0-{}/*", CHUNK - 1), data(CHUNK, 1)).await;
    assert_eq!(first.status().as_u16(), 308, "up to the quota is fine");
    let past = h.put(&token, &session, &format!("bytes {CHUNK}-{}/*", 2 * CHUNK - 1), data(CHUNK, 2)).await;
    let (status, body) = json_of(past).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reason(&body), "storageQuotaExceeded");
    let query = h.put(&token, &session, "bytes */*", Vec::new()).await;
    assert_eq!(range_header(&query).as_deref(), Some("bytes=0-262143"), "the refused chunk committed nothing");
    let done = h.put(&token, &session, &format!("bytes */{CHUNK}"), Vec::new()).await;
    assert_eq!(done.status(), StatusCode::OK);

    let (status, body) = json_of(h.initiate(&token, json!({ "name": "b", "parents": [folder] }), "").await).await;
    assert_eq!((status, reason(&body)), (StatusCode::FORBIDDEN, "storageQuotaExceeded"), "nothing is left");
    let session = h.session(&token, &shared_drive, "c.bin", "&supportsAllDrives=true").await;
    assert_eq!(
        h.put(&token, &session, "bytes 0-0/1", vec![1]).await.status(),
        StatusCode::OK,
        "shared drives don't count"
    );
}

#[tokio::test]
async fn a_shared_drive_at_its_item_limit_refuses_one_more() {
    let h = Harness::new().await;
    let shared_drive = h.drive.create_shared_drive("Team");
    let inner = h.drive.create_folder_in(&shared_drive, "Backups");
    h.drive.add_file(&inner, "old.bin", b"x", &[]);
    h.drive.set_shared_drive_item_limit(2);
    let token = h.user_token().await;
    for parent in [&shared_drive, &inner] {
        let response = h.initiate(&token, json!({ "name": "a", "parents": [parent] }), "&supportsAllDrives=true").await;
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(reason(&body), "teamDriveFileLimitExceeded");
        assert_eq!(body["error"]["message"], "The file limit for this shared drive has been exceeded.");
    }
    let folder = h
        .http
        .post(h.api("/files?supportsAllDrives=true"))
        .bearer_auth(&token)
        .json(&json!({ "name": "f", "mimeType": "application/vnd.google-apps.folder", "parents": [inner] }))
        .send()
        .await
        .unwrap();
    assert_eq!(reason(&json_of(folder).await.1), "teamDriveFileLimitExceeded", "folders count too");
    assert_eq!(h.drive.open_sessions(), 0);
}

#[tokio::test]
async fn a_folder_at_its_children_limit_refuses_one_more_but_a_root_has_no_such_limit() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    h.drive.add_file(&folder, "old.bin", b"x", &[]);
    h.drive.set_folder_children_limit(1);
    let token = h.user_token().await;
    let (status, body) = json_of(h.initiate(&token, json!({ "name": "a", "parents": [folder] }), "").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reason(&body), "numChildrenInNonRootLimitExceeded");
    assert_eq!(
        body["error"]["message"],
        "The limit for this folder's number of children (files and folders) has been exceeded."
    );
    let session = h.session(&token, "root", "in-root.bin", "").await;
    assert_eq!(h.put(&token, &session, "bytes 0-0/1", vec![1]).await.status(), StatusCode::OK);
    let again = h.session(&token, "root", "in-root-2.bin", "").await;
    assert_eq!(h.put(&token, &again, "bytes 0-0/1", vec![1]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn refused_grants_end_an_upload_whose_token_was_revoked() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let session = h.session(&token, &folder, "a.bin", "").await;
    h.drive.refuse_grants_after_chunks(1);
    h.put(&token, &session, &format!("bytes 0-{}/*", CHUNK - 1), data(CHUNK, 3)).await;
    let next = h.put(&token, &session, &format!("bytes {CHUNK}-{}/*", 2 * CHUNK - 1), data(CHUNK, 4)).await;
    assert_eq!(next.status(), StatusCode::UNAUTHORIZED);

    let file: serde_json::Value = serde_json::from_str(&h.drive.authorized_user_json()).unwrap();
    let body = crate::common::form(&[
        ("grant_type", "refresh_token"),
        ("client_id", file["client_id"].as_str().unwrap()),
        ("client_secret", file["client_secret"].as_str().unwrap()),
        ("refresh_token", file["refresh_token"].as_str().unwrap()),
    ]);
    let (status, answer) = h.token_request(body).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let assertion = h.sign(&h.claims(None), crate::common::SA_KEY);
    let (status, answer) = h.jwt_grant(&assertion).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));

    let cancel = h.http.delete(&session).send().await.unwrap();
    assert_eq!(cancel.status().as_u16(), 499, "the session URI still cancels the upload without a token");
    assert!(h.drive.files_in(&folder).is_empty());
}
