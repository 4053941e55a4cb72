//! files.list / get / create / update / delete, shared drives and partial responses.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{FOLDER_MIME, Harness, enc, json_of, reason};

fn names(list: &Value) -> Vec<String> {
    list["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn list_pages_through_a_query_in_order_with_partial_fields() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    for i in 0..250 {
        h.drive.add_file(&folder, &format!("billing-{i:03}.sql.gz"), b"x", &[("app", "billing")]);
    }
    h.drive.add_file(&folder, "wiki-000.tar", b"x", &[("app", "wiki")]);
    let trashed = h.drive.add_file(&folder, "billing-trashed", b"x", &[("app", "billing")]);
    let token = h.user_token().await;
    let patch = h.http.patch(h.api(&format!("/files/{trashed}"))).bearer_auth(&token).json(&json!({ "trashed": true }));
    assert_eq!(patch.send().await.unwrap().status(), StatusCode::OK);

    let q =
        format!("'{folder}' in parents and trashed = false and appProperties has {{ key='app' and value='billing' }}");
    let base = format!(
        "/files?q={}&orderBy={}&pageSize=100&fields={}",
        enc(&q),
        enc("createdTime desc"),
        enc("files(id,name),nextPageToken")
    );
    let mut pages = Vec::new();
    let mut token_param = String::new();
    loop {
        let (status, list) = h.get_json(&token, &h.api(&format!("{base}{token_param}"))).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["files"][0].as_object().unwrap().len(), 2, "only id and name: {list}");
        pages.push(names(&list));
        match list["nextPageToken"].as_str() {
            Some(next) => token_param = format!("&pageToken={}", enc(next)),
            None => break,
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![100, 100, 50]);
    let all: Vec<String> = pages.concat();
    let expected: Vec<String> = (0..250).rev().map(|i| format!("billing-{i:03}.sql.gz")).collect();
    assert_eq!(all, expected);

    let (status, list) =
        h.get_json(&token, &h.api(&format!("/files?q={}&orderBy=name", enc("name contains 'wiki'")))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&list), vec!["wiki-000.tar"]);
    assert_eq!(list["files"][0].as_object().unwrap().len(), 4, "default: kind, id, name, mimeType");
    assert_eq!(list["kind"], "drive#fileList");
    assert_eq!(list["incompleteSearch"], false);
}

#[tokio::test]
async fn unsupported_queries_and_parameters_are_invalid() {
    let h = Harness::new().await;
    let token = h.user_token().await;
    let (status, body) = h.get_json(&token, &h.api(&format!("/files?q={}", enc("size > 3")))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reason(&body), "invalid");
    assert_eq!(body["error"]["errors"][0]["location"], "q");
    let (status, _) = h.get_json(&token, &h.api("/files?pageSize=1001")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = h.get_json(&token, &h.api("/files?pageToken=forged")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = h.get_json(&token, &h.api("/files?fields=files(id,nmae)")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn shared_drive_items_need_supports_all_drives() {
    let h = Harness::new().await;
    let drive_id = h.drive.create_shared_drive("Team");
    let folder = h.drive.create_folder_in(&drive_id, "Backups");
    let file = h.drive.add_file(&folder, "in-team.bin", b"abc", &[]);
    let token = h.user_token().await;

    for id in [&drive_id, &folder, &file] {
        let (status, body) = h.get_json(&token, &h.api(&format!("/files/{id}"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(reason(&body), "notFound");
        let (status, body) =
            h.get_json(&token, &h.api(&format!("/files/{id}?supportsAllDrives=true&fields=id,driveId"))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["driveId"], json!(drive_id));
    }
    let (status, _) = json_of(h.initiate(&token, json!({ "name": "a", "parents": [folder] }), "").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let q = enc(&format!("'{folder}' in parents"));
    let (_, list) = h.get_json(&token, &h.api(&format!("/files?q={q}"))).await;
    assert!(names(&list).is_empty());
    let (_, list) = h.get_json(&token, &h.api(&format!("/files?q={q}&includeItemsFromAllDrives=true"))).await;
    assert!(names(&list).is_empty(), "includeItemsFromAllDrives alone is not enough");
    let (_, list) = h
        .get_json(&token, &h.api(&format!("/files?q={q}&includeItemsFromAllDrives=true&supportsAllDrives=true")))
        .await;
    assert_eq!(names(&list), vec!["in-team.bin"]);

    let (status, _) =
        h.get_json(&token, &h.api("/files?corpora=drive&includeItemsFromAllDrives=true&supportsAllDrives=true")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "corpora=drive needs driveId");
    let (status, _) = h.get_json(&token, &h.api(&format!("/files?corpora=drive&driveId={drive_id}"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "corpora=drive needs includeItemsFromAllDrives");
    let url = format!("/files?corpora=drive&driveId={drive_id}&includeItemsFromAllDrives=true&supportsAllDrives=true");
    let (status, list) = h.get_json(&token, &h.api(&url)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&list), vec!["Backups", "in-team.bin"]);

    assert!(
        h.drive.requests().iter().any(|r| r.path == "/drive/v3/files" && r.query.contains("supportsAllDrives=true"))
    );
}

#[tokio::test]
async fn get_honors_fields_and_downloads_with_ranges() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let file = h.drive.add_file(&folder, "a.txt", b"0123456789", &[("k", "v")]);
    let token = h.user_token().await;
    let (_, body) = h.get_json(&token, &h.api(&format!("/files/{file}"))).await;
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4, "{body}");
    assert_eq!(body["kind"], "drive#file");
    let (_, body) = h.get_json(&token, &h.api(&format!("/files/{file}?fields=*"))).await;
    assert_eq!(body["size"], "10");
    assert_eq!(body["parents"], json!([folder]));
    assert_eq!(body["appProperties"], json!({ "k": "v" }));
    assert!(body["createdTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["createdTime"].as_str().unwrap().len(), 24, "RFC 3339 with milliseconds");

    let media = h.http.get(h.api(&format!("/files/{file}?alt=media"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(media.status(), StatusCode::OK);
    assert_eq!(media.bytes().await.unwrap().as_ref(), b"0123456789");
    let part =
        h.http.get(h.api(&format!("/files/{file}?alt=media"))).bearer_auth(&token).header("range", "bytes=2-4").send();
    let part = part.await.unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"], "bytes 2-4/10");
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"234");
}

#[tokio::test]
async fn create_folder_and_patch_app_properties_merge() {
    let h = Harness::new().await;
    let parent = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let create = h
        .http
        .post(h.api("/files?fields=id,mimeType,parents"))
        .bearer_auth(&token)
        .json(&json!({ "name": "billing", "mimeType": FOLDER_MIME, "parents": [parent] }));
    let (status, folder) = json_of(create.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{folder}");
    assert_eq!(folder["parents"], json!([parent]));

    let folder_id = folder["id"].as_str().unwrap();
    let file = h.drive.add_file(folder_id, "a", b"a", &[("a", "1"), ("b", "2")]);
    let patch = h
        .http
        .patch(h.api(&format!("/files/{file}?fields=name,appProperties")))
        .bearer_auth(&token)
        .json(&json!({ "name": "renamed", "appProperties": { "b": null, "c": "3" } }));
    let (status, body) = json_of(patch.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "name": "renamed", "appProperties": { "a": "1", "c": "3" } }));
    assert_eq!(h.drive.file(&file).unwrap().app_properties.len(), 2);

    let patch = h.http.patch(h.api(&format!("/files/{file}"))).bearer_auth(&token).json(&json!({ "parents": ["x"] }));
    let (status, body) = json_of(patch.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reason(&body), "fieldNotWritable");
}

#[tokio::test]
async fn trash_keeps_the_file_readable_delete_removes_it() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let file = h.drive.add_file(&folder, "old.bin", b"old", &[]);
    let token = h.user_token().await;

    let trash = h
        .http
        .patch(h.api(&format!("/files/{file}?fields=trashed")))
        .bearer_auth(&token)
        .json(&json!({ "trashed": true }));
    let (status, body) = json_of(trash.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "trashed": true }));
    assert!(h.drive.file(&file).unwrap().trashed);
    assert!(h.drive.files_in(&folder).is_empty());
    let (status, _) = h.get_json(&token, &h.api(&format!("/files/{file}"))).await;
    assert_eq!(status, StatusCode::OK, "trashed files stay readable by id");
    let q = enc(&format!("'{folder}' in parents and trashed = false"));
    let (_, list) = h.get_json(&token, &h.api(&format!("/files?q={q}"))).await;
    assert!(names(&list).is_empty());

    let delete = h.http.delete(h.api(&format!("/files/{file}"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    assert!(h.drive.file(&file).is_none());
    let (status, _) = h.get_json(&token, &h.api(&format!("/files/{file}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_the_owner_may_trash_or_delete_in_my_drive() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    h.drive.share_folder_with(&folder, &h.drive.service_account_email());
    let file = h.drive.add_file(&folder, "theirs.bin", b"x", &[]);
    let token = h.sa_token(None).await;
    let (status, _) = h.get_json(&token, &h.api(&format!("/files/{file}"))).await;
    assert_eq!(status, StatusCode::OK, "shared with the service account");
    let delete = h.http.delete(h.api(&format!("/files/{file}"))).bearer_auth(&token).send().await.unwrap();
    let (status, body) = json_of(delete).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reason(&body), "insufficientFilePermissions");
    assert!(h.drive.file(&file).is_some());
}
