//! Each injected fault does what it says, and the session survives where Google's guide says it does.

use drive_double::RateLimit;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{CHUNK, Harness, data, json_of, md5_hex, range_header, reason, sha256_hex};

#[tokio::test]
async fn failed_chunks_commit_nothing_and_can_be_retried() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let content = data(CHUNK + 5, 8);
    let session = h.session(&token, &folder, "a.bin", "").await;
    let first_range = format!("bytes 0-{}/*", CHUNK - 1);

    h.drive.fail_next_chunks(2, 503);
    for _ in 0..2 {
        let (status, body) = json_of(h.put(&token, &session, &first_range, content[..CHUNK].to_vec()).await).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["code"], 503);
    }
    let query = h.put(&token, &session, "bytes */*", Vec::new()).await;
    assert_eq!(range_header(&query), None, "a failed chunk commits nothing");

    h.drive.fail_next_chunks(1, 403);
    let (status, body) = json_of(h.put(&token, &session, &first_range, content[..CHUNK].to_vec()).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reason(&body), "userRateLimitExceeded");

    let (status, _) = json_of(h.upload(&token, &session, &content, CHUNK).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.drive.content(&h.drive.files_in(&folder)[0].id).unwrap(), content);
}

#[tokio::test]
async fn partial_ack_commits_a_prefix_and_the_client_resends_the_rest() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let content = data(3 * CHUNK, 9);
    let session = h.session(&token, &folder, "a.bin", "&fields=id,md5Checksum").await;

    h.drive.partial_ack_next_chunk(CHUNK as u64);
    let first = h.put(&token, &session, &format!("bytes 0-{}/*", 2 * CHUNK - 1), content[..2 * CHUNK].to_vec()).await;
    assert_eq!(first.status().as_u16(), 308);
    assert_eq!(range_header(&first).as_deref(), Some("bytes=0-262143"));

    let total = content.len();
    let range = format!("bytes {CHUNK}-{}/{total}", total - 1);
    let (status, file) = json_of(h.put(&token, &session, &range, content[CHUNK..].to_vec()).await).await;
    assert_eq!(status, StatusCode::OK, "{file}");
    assert_eq!(file["md5Checksum"], json!(md5_hex(&content)));
    assert_eq!(h.drive.content(file["id"].as_str().unwrap()).unwrap(), content);
}

#[tokio::test]
async fn dropped_connection_gives_a_client_error_and_commits_nothing() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let content = data(4 * CHUNK, 10);
    let session = h.session(&token, &folder, "a.bin", "").await;

    h.drive.drop_connection_next_chunk();
    let range = format!("bytes 0-{}/{}", content.len() - 1, content.len());
    let outcome =
        h.http.put(&session).bearer_auth(&token).header("content-range", &range).body(content.clone()).send().await;
    assert!(outcome.is_err(), "no HTTP response at all: {:?}", outcome.map(|r| r.status()));
    assert!(h.drive.files_in(&folder).is_empty());
    assert_eq!(h.drive.open_sessions(), 1);

    let query = h.put(&token, &session, "bytes */*", Vec::new()).await;
    assert_eq!(query.status().as_u16(), 308);
    assert_eq!(range_header(&query), None);
    let retry = h.put(&token, &session, &range, content.clone()).await;
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(h.drive.files_in(&folder).len(), 1);
}

#[tokio::test]
async fn rate_limits_hit_the_api_but_not_the_token_endpoint() {
    let h = Harness::new().await;
    let token = h.user_token().await;
    let url = h.api("/files");

    h.drive.rate_limit_next(1, RateLimit::TooManyRequests);
    h.user_token().await;
    let (status, body) = h.get_json(&token, &url).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reason(&body), "rateLimitExceeded");

    h.drive.rate_limit_next(2, RateLimit::UserRateLimit);
    for _ in 0..2 {
        let (status, body) = h.get_json(&token, &url).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(reason(&body), "userRateLimitExceeded");
        assert_eq!(body["error"]["errors"][0]["domain"], "usageLimits");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("User Rate Limit Exceeded. Rate of requests for user"), "{message}");
        assert_ne!(message, "User rate limit exceeded.", "the per-minute limit is not the daily cap");
    }

    h.drive.rate_limit_next(1, RateLimit::RateLimit);
    let folder = h.drive.create_folder("Backups");
    let (status, body) = json_of(h.initiate(&token, json!({ "name": "a", "parents": [folder] }), "").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reason(&body), "rateLimitExceeded");
    assert_eq!(h.get_json(&token, &url).await.0, StatusCode::OK);
}

#[tokio::test]
async fn daily_upload_cap_stops_new_sessions_and_further_chunks() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    h.drive.set_daily_upload_cap(CHUNK as u64);
    let session = h.session(&token, &folder, "a.bin", "").await;
    let first = h.put(&token, &session, &format!("bytes 0-{}/*", CHUNK - 1), data(CHUNK, 11)).await;
    assert_eq!(first.status().as_u16(), 308);

    let next = h.put(&token, &session, &format!("bytes {CHUNK}-{}/*", 2 * CHUNK - 1), data(CHUNK, 12)).await;
    let (status, body) = json_of(next).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Google's daily cap has no reason of its own: the rate limit's reason, with this exact short message.
    assert_eq!(reason(&body), "userRateLimitExceeded");
    assert_eq!(body["error"]["errors"][0]["domain"], "usageLimits");
    assert_eq!(body["error"]["message"], "User rate limit exceeded.");
    assert_eq!(body["error"]["errors"][0]["message"], "User rate limit exceeded.");
    let (status, body) = json_of(h.initiate(&token, json!({ "name": "b", "parents": [folder] }), "").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["message"], "User rate limit exceeded.");
}

#[tokio::test]
async fn corrupted_checksum_is_reported_once_while_the_bytes_are_right() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let content = data(1000, 13);
    h.drive.corrupt_next_checksum();
    for expect_corrupt in [true, false] {
        let session = h.session(&token, &folder, "a.bin", "&fields=id,md5Checksum,sha256Checksum").await;
        let (status, file) = json_of(h.put(&token, &session, "bytes 0-999/1000", content.clone()).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(file["md5Checksum"] != json!(md5_hex(&content)), expect_corrupt, "{file}");
        assert_eq!(file["sha256Checksum"] != json!(sha256_hex(&content)), expect_corrupt, "{file}");
        assert_eq!(h.drive.content(file["id"].as_str().unwrap()).unwrap(), content);
    }
}

#[tokio::test]
async fn triggers_after_a_number_of_chunks() {
    let h = Harness::new().await;
    let folder = h.drive.create_folder("Backups");
    let token = h.user_token().await;
    let first = format!("bytes 0-{}/*", CHUNK - 1);
    let second = format!("bytes {CHUNK}-{}/*", 2 * CHUNK - 1);

    h.drive.expire_sessions_after_chunks(1);
    let session = h.session(&token, &folder, "a.bin", "").await;
    assert_eq!(h.put(&token, &session, &first, data(CHUNK, 14)).await.status().as_u16(), 308);
    assert_eq!(h.put(&token, &session, &second, data(CHUNK, 15)).await.status(), StatusCode::NOT_FOUND);

    h.drive.revoke_tokens_after_chunks(1);
    let session = h.session(&token, &folder, "b.bin", "").await;
    assert_eq!(h.put(&token, &session, &first, data(CHUNK, 14)).await.status().as_u16(), 308);
    assert_eq!(h.put(&token, &session, &second, data(CHUNK, 15)).await.status(), StatusCode::UNAUTHORIZED);
    let fresh = h.user_token().await;
    assert_eq!(h.put(&fresh, &session, &second, data(CHUNK, 15)).await.status().as_u16(), 308);

    h.drive.pause_chunks(std::time::Duration::from_millis(10));
    let (status, _) = json_of(h.put(&fresh, &session, "bytes */*", Vec::new()).await).await;
    assert_eq!(status.as_u16(), 308, "status queries are not paused and still work");
    let (status, _) = json_of(
        h.put(&fresh, &session, &format!("bytes {}-{}/{}", 2 * CHUNK, 2 * CHUNK, 2 * CHUNK + 1), vec![1]).await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "a paused chunk still completes");
}
