//! The baseline: a minimal streaming client with no orchestrator logic. It asks the app for its
//! export and sends the bytes to the Drive double as a resumable upload, in chunks of the same
//! size, hashing them (sha256) on the way: what any copy has to do, and nothing more (no
//! database, no lease, no second checksum, no verification, no retention).

use std::time::{Duration, Instant};

use bytes::BytesMut;
use drive_double::DriveDouble;
use e2e::apps::TOKEN;
use futures::StreamExt;
use sha2::{Digest, Sha256};

/// One copy.
pub(crate) struct Copied {
    /// Bytes copied.
    pub(crate) bytes: u64,
    /// From the export request to Drive's final answer.
    pub(crate) elapsed: Duration,
    /// sha256 of the bytes, equal to the one Drive reported.
    pub(crate) sha256: String,
}

/// An access token from the double's refresh-token grant.
async fn token(http: &reqwest::Client, double: &DriveDouble) -> String {
    let user: serde_json::Value = serde_json::from_str(&double.authorized_user_json()).expect("credentials JSON");
    let field = |k: &str| user[k].as_str().expect("credentials field");
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", field("client_id")),
        ("client_secret", field("client_secret")),
        ("refresh_token", field("refresh_token")),
    ];
    grant(http, double, &form).await
}

/// The access token the double's token endpoint answers to `form`.
async fn grant(http: &reqwest::Client, double: &DriveDouble, form: &[(&str, &str)]) -> String {
    let answer: serde_json::Value = http
        .post(double.token_uri())
        .form(form)
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token answer");
    answer["access_token"].as_str().expect("an access token").to_owned()
}

/// Copies the export of the app at `app_url` into `folder` as file `name`.
pub(crate) async fn copy(double: &DriveDouble, app_url: &str, folder: &str, name: &str, chunk: usize) -> Copied {
    let http = reqwest::Client::new();
    let token = token(&http, double).await;
    let started = Instant::now();
    let export = http
        .post(format!("{app_url}/backup/export"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"type": "full"}))
        .send()
        .await
        .expect("export request");
    assert!(export.status().is_success(), "export answered {}", export.status());
    let session = http
        .post(format!(
            "{}/upload/drive/v3/files?uploadType=resumable&supportsAllDrives=true&fields=id,size,sha256Checksum",
            double.endpoint()
        ))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": name, "parents": [folder]}))
        .send()
        .await
        .expect("start the upload");
    let session = session.headers()["location"].to_str().expect("session URI").to_owned();
    let put = |range: String, body: bytes::Bytes| {
        // Google answers a PUT without a length with 411: say it, even for an empty body.
        let length = body.len().to_string();
        http.put(&session)
            .bearer_auth(&token)
            .header("content-range", range)
            .header("content-length", length)
            .body(body)
            .send()
    };
    let mut hasher = Sha256::new();
    let mut buffer = BytesMut::with_capacity(chunk);
    let mut sent = 0u64;
    let mut body = export.bytes_stream();
    while let Some(piece) = body.next().await {
        let piece = piece.expect("export body");
        hasher.update(&piece);
        buffer.extend_from_slice(&piece);
        while buffer.len() >= chunk {
            let part = buffer.split_to(chunk).freeze();
            let answer = put(format!("bytes {sent}-{}/*", sent + chunk as u64 - 1), part).await.expect("PUT chunk");
            assert_eq!(answer.status().as_u16(), 308, "a chunk is acknowledged");
            sent += chunk as u64;
        }
    }
    let total = sent + buffer.len() as u64;
    let range =
        if buffer.is_empty() { format!("bytes */{total}") } else { format!("bytes {sent}-{}/{total}", total - 1) };
    let answer = put(range, buffer.freeze()).await.expect("PUT last chunk");
    assert!(answer.status().is_success(), "the upload finishes ({})", answer.status());
    let file: serde_json::Value = answer.json().await.expect("file resource");
    let elapsed = started.elapsed();
    let sha256 = hex::encode(hasher.finalize());
    assert_eq!(file["sha256Checksum"].as_str(), Some(sha256.as_str()), "Drive stored what was sent");
    Copied { bytes: total, elapsed, sha256 }
}

/// The double's ceiling: a client with no logic at all, over TLS. It reads a file in chunks and
/// sends each as soon as it is read, on one kept-alive connection; it hashes nothing (Drive's
/// sha256 is compared with the file's, known beforehand).
pub(crate) struct TlsClient {
    http: reqwest::Client,
    endpoint: String,
    token: String,
}

impl TlsClient {
    /// A client trusting only `ca_pem`, with an access token of the double's service account.
    pub(crate) async fn new(ca_pem: &str, double: &DriveDouble) -> TlsClient {
        let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("the CA certificate");
        let http = reqwest::Client::builder().tls_certs_only([ca]).build().expect("an HTTPS client");
        let token = service_account_token(&http, double).await;
        TlsClient { http, endpoint: double.endpoint(), token }
    }

    /// Uploads the file as `name` into `folder`; the sha256 Drive reports.
    pub(crate) async fn upload(&self, path: &std::path::Path, folder: &str, name: &str, chunk: usize) -> String {
        use tokio::io::AsyncReadExt;
        let session = self
            .http
            .post(format!(
                "{}/upload/drive/v3/files?uploadType=resumable&supportsAllDrives=true&fields=sha256Checksum",
                self.endpoint
            ))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({"name": name, "parents": [folder]}))
            .send()
            .await
            .expect("start the upload");
        assert!(session.status().is_success(), "the session starts ({})", session.status());
        let session = session.headers()["location"].to_str().expect("session URI").to_owned();
        let mut file = tokio::fs::File::open(path).await.expect("the source file");
        let total = file.metadata().await.expect("source size").len();
        let mut sent = 0u64;
        loop {
            let mut buffer = BytesMut::zeroed(chunk);
            let mut filled = 0;
            while filled < chunk {
                let n = file.read(&mut buffer[filled..]).await.expect("read the source");
                if n == 0 {
                    break;
                }
                filled += n;
            }
            buffer.truncate(filled);
            let end = sent + filled as u64;
            let range = match (filled, end == total) {
                (0, _) => format!("bytes */{total}"),
                (_, true) => format!("bytes {sent}-{}/{total}", end - 1),
                (_, false) => format!("bytes {sent}-{}/*", end - 1),
            };
            let answer = self
                .http
                .put(&session)
                .bearer_auth(&self.token)
                .header("content-range", range)
                .header("content-length", filled.to_string())
                .body(buffer.freeze())
                .send()
                .await
                .expect("PUT a chunk");
            sent = end;
            if end == total && answer.status().is_success() {
                let file: serde_json::Value = answer.json().await.expect("file resource");
                return file["sha256Checksum"].as_str().expect("a sha256").to_owned();
            }
            assert_eq!(answer.status().as_u16(), 308, "a chunk is acknowledged");
        }
    }
}

/// An access token from the double's service-account grant (a JWT signed with its key).
async fn service_account_token(http: &reqwest::Client, double: &DriveDouble) -> String {
    let assertion = double.service_account_assertion("https://www.googleapis.com/auth/drive");
    grant(http, double, &[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", &assertion)])
        .await
}
