//! What Google refuses, the double refuses: each test names the rule of README.md it checks.

use drive_double::RequestRecord;
use reqwest::StatusCode;

use crate::common::{CHUNK, Harness, data, json_of, range_header};

fn last_put(records: &[RequestRecord]) -> RequestRecord {
    records.iter().rev().find(|r| r.method == "PUT").cloned().expect("a PUT was received")
}

/// Rule "length": Google's front end answers 411 with its HTML page, before the API sees the request.
#[tokio::test]
async fn an_empty_put_without_content_length_gets_411_and_changes_nothing() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let session = h.session(&token, &folder, "a.bin", "").await;
    h.put(&token, &session, &format!("bytes 0-{}/*", CHUNK - 1), data(CHUNK, 1)).await;

    for range in ["bytes */*".to_owned(), format!("bytes */{CHUNK}")] {
        let response = h.put_unsized(&token, &session, &range).await;
        assert_eq!(response.status(), StatusCode::LENGTH_REQUIRED, "{range}");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let page = response.text().await.unwrap();
        assert!(page.contains("POST requests require a <code>Content-length</code> header."), "{page}");
        let record = last_put(&h.drive.requests());
        assert_eq!((record.content_length, record.content_range.as_deref()), (None, Some(range.as_str())));
    }
    assert!(h.drive.files_in(&folder).is_empty(), "a refused empty final request finishes nothing");
    assert_eq!(h.drive.open_sessions(), 1);

    let finished = h.put(&token, &session, &format!("bytes */{CHUNK}"), Vec::new()).await;
    assert_eq!(finished.status(), StatusCode::OK, "with Content-Length: 0 the same request finishes the upload");
    assert_eq!(last_put(&h.drive.requests()).content_length.as_deref(), Some("0"));
}

/// Rule "length": POST is refused the same way, on every host Google fronts (the token endpoint too).
#[tokio::test]
async fn a_post_without_content_length_gets_411() {
    let h = Harness::new().await;
    let token = h.user_token().await;
    let initiate = h.http.post(h.upload_url("uploadType=resumable")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(initiate.status(), StatusCode::LENGTH_REQUIRED);
    let grant = h.http.post(h.drive.token_uri()).send().await.unwrap();
    assert_eq!(grant.status(), StatusCode::LENGTH_REQUIRED);
    assert_eq!(h.drive.open_sessions(), 0);
}

/// Rule "length": chunked transfer encoding is a stated length ("not required if you use chunked transfer
/// encoding").
#[tokio::test]
async fn a_chunked_body_without_content_length_is_accepted() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let session = h.session(&token, &folder, "a.bin", "").await;
    let content = data(CHUNK, 2);
    let stream = futures::stream::once(std::future::ready(Ok::<_, std::io::Error>(content.clone())));
    let response = h
        .http
        .put(&session)
        .bearer_auth(&token)
        .header("content-range", format!("bytes 0-{}/{CHUNK}", CHUNK - 1))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let record = last_put(&h.drive.requests());
    assert_eq!(record.content_length, None, "the body went out chunked");
    assert_eq!(h.drive.content(body["id"].as_str().unwrap()).unwrap(), content);
}

/// Rule "session-auth": the session URI is the credential; Google's examples send chunks without
/// Authorization. A token that is sent must still be valid.
#[tokio::test]
async fn a_session_uri_works_without_authorization_but_not_with_a_bad_token() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let session = h.session(&token, &folder, "a.bin", "").await;
    let put = |range: String, body: Vec<u8>| {
        h.http.put(&session).header("content-range", range).header("content-length", body.len()).body(body).send()
    };
    let first = put(format!("bytes 0-{}/*", CHUNK - 1), data(CHUNK, 3)).await.unwrap();
    assert_eq!(first.status().as_u16(), 308);
    let query = put("bytes */*".to_owned(), Vec::new()).await.unwrap();
    assert_eq!(range_header(&query).as_deref(), Some("bytes=0-262143"));
    let bad = h.put("ya29.not-a-token", &session, "bytes */*", Vec::new()).await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let cancel = h.http.delete(&session).send().await.unwrap();
    assert_eq!(cancel.status().as_u16(), 499);
    assert_eq!(h.drive.open_sessions(), 0);
}
