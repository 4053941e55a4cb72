//! Resumable and multipart uploads, as the "Upload file data" guide describes them.

use drive_double::Options;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{CHUNK, Harness, data, json_of, md5_hex, range_header, reason, sha256_hex};

#[tokio::test]
async fn resumable_upload_in_chunks_reports_308_ranges_then_the_file() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let content = data(2 * CHUNK + 1000, 1);
    let session = h.session(&token, &folder, "billing.sql.gz", "&fields=id,name,size,md5Checksum,sha256Checksum").await;
    assert_eq!(h.drive.open_sessions(), 1);

    let first = h.put(&token, &session, &format!("bytes 0-{}/*", CHUNK - 1), content[..CHUNK].to_vec()).await;
    assert_eq!(first.status().as_u16(), 308);
    assert_eq!(range_header(&first).as_deref(), Some("bytes=0-262143"));
    let second = h
        .put(&token, &session, &format!("bytes {CHUNK}-{}/*", 2 * CHUNK - 1), content[CHUNK..2 * CHUNK].to_vec())
        .await;
    assert_eq!(second.status().as_u16(), 308);
    assert_eq!(range_header(&second).as_deref(), Some("bytes=0-524287"));
    assert!(h.drive.files_in(&folder).is_empty(), "a file exists only after the final chunk");

    let total = content.len();
    let range = format!("bytes {}-{}/{total}", 2 * CHUNK, total - 1);
    let (status, file) = json_of(h.put(&token, &session, &range, content[2 * CHUNK..].to_vec()).await).await;
    assert_eq!(status, StatusCode::OK, "{file}");
    assert_eq!(file["name"], "billing.sql.gz");
    assert_eq!(file["size"], json!(total.to_string()), "int64 travels as a string");
    assert_eq!(file["md5Checksum"], json!(md5_hex(&content)));
    assert_eq!(file["sha256Checksum"], json!(sha256_hex(&content)));
    assert!(file.get("kind").is_none(), "fields from the initiating request are honored");

    let id = file["id"].as_str().unwrap();
    assert_eq!(h.drive.content(id).unwrap(), content);
    let info = h.drive.file(id).unwrap();
    assert_eq!(info.mime_type, "application/gzip", "X-Upload-Content-Type applies when metadata has none");
    assert_eq!(info.owner, h.drive.user_email());
    assert_eq!(h.drive.open_sessions(), 0);
    assert_eq!(h.drive.max_upload_request_body(), CHUNK as u64);
}

#[tokio::test]
async fn status_query_reports_committed_bytes_and_the_finished_file() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let session = h.session(&token, &folder, "a.bin", "").await;

    let query = h.put(&token, &session, "bytes */*", Vec::new()).await;
    assert_eq!(query.status().as_u16(), 308);
    assert_eq!(range_header(&query), None, "no Range while nothing is committed");

    h.put(&token, &session, &format!("bytes 0-{}/*", CHUNK - 1), data(CHUNK, 2)).await;
    let query = h.put(&token, &session, "bytes */*", Vec::new()).await;
    assert_eq!(query.status().as_u16(), 308);
    assert_eq!(range_header(&query).as_deref(), Some("bytes=0-262143"));
    let query = h.put(&token, &session, &format!("bytes */{}", CHUNK + 10), Vec::new()).await;
    assert_eq!(query.status().as_u16(), 308, "*/TOTAL with fewer bytes committed is a status query");

    let done = h.put(&token, &session, &format!("bytes {CHUNK}-{}/{}", CHUNK + 9, CHUNK + 10), vec![7; 10]).await;
    assert_eq!(done.status(), StatusCode::OK);
    let (status, file) = json_of(h.put(&token, &session, "bytes */*", Vec::new()).await).await;
    assert_eq!(status, StatusCode::OK, "a finished session answers with its file");
    assert!(file["id"].is_string());
}

#[tokio::test]
async fn chunks_and_status_queries_sent_by_post_are_taken_as_by_put() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let content = data(CHUNK + 10, 4);
    let session = h.session(&token, &folder, "by-post.bin", "&fields=id,size,sha256Checksum").await;

    let query = h.post_to_session(&session, "bytes */*", Vec::new()).await;
    assert_eq!(query.status().as_u16(), 308);
    assert_eq!(range_header(&query), None);
    let first = h.post_to_session(&session, &format!("bytes 0-{}/*", CHUNK - 1), content[..CHUNK].to_vec()).await;
    assert_eq!(first.status().as_u16(), 308);
    assert_eq!(range_header(&first).as_deref(), Some("bytes=0-262143"));
    let unaligned = h.post_to_session(&session, &format!("bytes {CHUNK}-{}/*", CHUNK + 9), vec![1; 10]).await;
    assert_eq!(
        unaligned.status(),
        StatusCode::BAD_REQUEST,
        "a short chunk that is not the last is refused by POST too"
    );

    let range = format!("bytes {CHUNK}-{}/{}", CHUNK + 9, CHUNK + 10);
    let (status, file) = json_of(h.post_to_session(&session, &range, content[CHUNK..].to_vec()).await).await;
    assert_eq!(status, StatusCode::OK, "{file}");
    assert_eq!(file["sha256Checksum"], json!(sha256_hex(&content)));
    assert_eq!(h.drive.content(file["id"].as_str().unwrap()).unwrap(), content);

    let gone = h.post_to_session(&session.replace("upload_id=", "upload_id=x"), "bytes */*", Vec::new()).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND, "an unknown session by POST is gone, not a new upload");
}

#[tokio::test]
async fn unaligned_non_final_chunk_and_gaps_are_refused() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let session = h.session(&token, &folder, "a.bin", "").await;

    let (status, body) = json_of(h.put(&token, &session, "bytes 0-999/*", vec![1; 1000]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reason(&body), "badRequest");
    let start = 2 * CHUNK;
    let gap = h.put(&token, &session, &format!("bytes {start}-{}/*", start + CHUNK - 1), data(CHUNK, 0)).await;
    assert_eq!(gap.status(), StatusCode::BAD_REQUEST, "a chunk after a gap is refused");

    let query = h.put(&token, &session, "bytes */*", Vec::new()).await;
    assert_eq!(range_header(&query), None, "refused chunks commit nothing");
    let final_small = h.put(&token, &session, "bytes 0-999/1000", vec![1; 1000]).await;
    assert_eq!(final_small.status(), StatusCode::OK, "the final chunk may have any size");
}

#[tokio::test]
async fn empty_put_with_total_finishes_a_stream_ending_on_a_chunk_boundary() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let content = data(2 * CHUNK, 3);
    let session = h.session(&token, &folder, "aligned.bin", "&fields=id,size").await;
    h.put(&token, &session, &format!("bytes 0-{}/*", CHUNK - 1), content[..CHUNK].to_vec()).await;
    h.put(&token, &session, &format!("bytes {CHUNK}-{}/*", 2 * CHUNK - 1), content[CHUNK..].to_vec()).await;

    let (status, file) = json_of(h.put(&token, &session, &format!("bytes */{}", 2 * CHUNK), Vec::new()).await).await;
    assert_eq!(status, StatusCode::OK, "{file}");
    assert_eq!(file["size"], json!((2 * CHUNK).to_string()));
    assert_eq!(h.drive.content(file["id"].as_str().unwrap()).unwrap(), content);
}

#[tokio::test]
async fn zero_byte_file() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let session = h.session(&token, &folder, "empty.bin", "&fields=id,size,md5Checksum").await;
    let (status, file) = json_of(h.put(&token, &session, "bytes */0", Vec::new()).await).await;
    assert_eq!(status, StatusCode::OK, "{file}");
    assert_eq!(file["size"], "0");
    assert_eq!(file["md5Checksum"], "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(h.drive.files_in(&folder).len(), 1);
}

#[tokio::test]
async fn cancelled_session_answers_499_then_404_and_creates_nothing() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let session = h.session(&token, &folder, "a.bin", "").await;
    h.put(&token, &session, &format!("bytes 0-{}/*", CHUNK - 1), data(CHUNK, 4)).await;

    let cancel = h.http.delete(&session).bearer_auth(&token).send().await.unwrap();
    assert_eq!(cancel.status().as_u16(), 499);
    assert_eq!(h.drive.open_sessions(), 0);
    let (status, body) = json_of(h.put(&token, &session, "bytes */*", Vec::new()).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(reason(&body), "notFound");
    let after = h.put(&token, &session, &format!("bytes {CHUNK}-{}/{}", CHUNK + 9, CHUNK + 10), vec![0; 10]).await;
    assert_eq!(after.status(), StatusCode::NOT_FOUND);
    assert!(h.drive.files_in(&folder).is_empty());
}

#[tokio::test]
async fn expired_sessions_answer_404() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let session = h.session(&token, &folder, "a.bin", "").await;
    h.put(&token, &session, &format!("bytes 0-{}/*", CHUNK - 1), data(CHUNK, 5)).await;
    h.drive.expire_sessions();
    assert_eq!(h.drive.open_sessions(), 0);
    let query = h.put(&token, &session, "bytes */*", Vec::new()).await;
    assert_eq!(query.status(), StatusCode::NOT_FOUND);
    let chunk = h.put(&token, &session, &format!("bytes {CHUNK}-{}/{}", CHUNK, CHUNK + 1), vec![1]).await;
    assert_eq!(chunk.status(), StatusCode::NOT_FOUND);
    assert!(h.drive.files_in(&folder).is_empty());
}

#[tokio::test]
async fn session_uri_carries_supports_all_drives_and_fields() {
    let h = Harness::new().await;
    let drive_id = h.drive.create_shared_drive("Team");
    let token = h.user_token().await;
    let session = h.session(&token, &drive_id, "a.bin", "&supportsAllDrives=true&fields=id,driveId").await;
    assert!(session.contains("upload_id="));
    assert!(session.contains("supportsAllDrives=true"));
    let (status, file) = json_of(h.put(&token, &session, "bytes 0-2/3", vec![1, 2, 3]).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(file, json!({ "id": file["id"], "driveId": drive_id }));
}

fn multipart_body(boundary: &str, metadata: &serde_json::Value, media: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n--{boundary}\r\n\
         Content-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(media);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[tokio::test]
async fn multipart_upload_up_to_5_mb() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let metadata = json!({ "name": "notes.txt", "parents": [folder], "appProperties": { "app": "wiki" } });
    let media = b"hello\r\n--not-the-boundary\r\n".to_vec();
    let response = h
        .http
        .post(h.upload_url("uploadType=multipart&fields=id,name,mimeType,size,appProperties"))
        .bearer_auth(&token)
        .header("content-type", "multipart/related; boundary=frontier")
        .body(multipart_body("frontier", &metadata, &media))
        .send()
        .await
        .unwrap();
    let (status, file) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{file}");
    assert_eq!(file["name"], "notes.txt");
    assert_eq!(file["mimeType"], "text/plain");
    assert_eq!(file["size"], json!(media.len().to_string()));
    assert_eq!(file["appProperties"], json!({ "app": "wiki" }));
    assert_eq!(h.drive.content(file["id"].as_str().unwrap()).unwrap(), media);

    let big = data(6 * 1024 * 1024, 6);
    let response = h
        .http
        .post(h.upload_url("uploadType=multipart"))
        .bearer_auth(&token)
        .header("content-type", "multipart/related; boundary=frontier")
        .body(multipart_body("frontier", &metadata, &big))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reason(&body), "uploadTooLarge");
    assert_eq!(h.drive.files_in(&folder).len(), 1);
}

#[tokio::test]
async fn hash_only_keeps_checksums_but_no_content() {
    let h = Harness::with(Options { hash_only: true, ..Options::default() }).await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let content = data(3 * CHUNK + 17, 7);
    let session = h.session(&token, &folder, "big.bin", "&fields=id,size,md5Checksum,sha256Checksum").await;
    let (status, file) = json_of(h.upload(&token, &session, &content, 2 * CHUNK).await).await;
    assert_eq!(status, StatusCode::OK, "{file}");
    assert_eq!(file["md5Checksum"], json!(md5_hex(&content)));
    assert_eq!(file["sha256Checksum"], json!(sha256_hex(&content)));
    let id = file["id"].as_str().unwrap();
    assert_eq!(h.drive.content(id), None);
    let info = h.drive.file(id).unwrap();
    assert_eq!(info.size, content.len() as u64);
    assert_eq!(info.sha256, sha256_hex(&content));
    assert_eq!(h.drive.max_upload_request_body(), 2 * CHUNK as u64);
}

#[tokio::test]
async fn upload_into_a_missing_or_non_folder_parent_is_refused() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let file = h.drive.add_file(&folder, "x", b"x", &[]);
    let token = h.user_token().await;
    let (status, body) = json_of(h.initiate(&token, json!({ "name": "a", "parents": ["nope"] }), "").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], "File not found: nope.");
    let (status, _) = json_of(h.initiate(&token, json!({ "name": "a", "parents": [file] }), "").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) =
        json_of(h.initiate(&token, json!({ "name": "a", "parents": [folder], "size": "3" }), "").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reason(&body), "fieldNotWritable");
}
