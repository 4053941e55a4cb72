//! Helpers: tokens, JWTs, upload sessions.

use drive_double::{DriveDouble, Options};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use md5::{Digest, Md5};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

pub(crate) const CHUNK: usize = 256 * 1024;
pub(crate) const SA_KEY: &str = include_str!("../../keys/service-account.key.pem");
pub(crate) const STRANGER_KEY: &str = include_str!("../../keys/other.key.pem");
pub(crate) const DRIVE_SCOPE: &str = "https://www.googleapis.com/auth/drive";
pub(crate) const FOLDER_MIME: &str = "application/vnd.google-apps.folder";

pub(crate) struct Harness {
    pub(crate) drive: DriveDouble,
    pub(crate) http: reqwest::Client,
}

pub(crate) fn enc(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// Deterministic, non-repeating-looking test bytes.
pub(crate) fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + i / 251) as u8).wrapping_add(seed)).collect()
}

pub(crate) fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `error.errors[0].reason` of a Google error body.
pub(crate) fn reason(body: &Value) -> &str {
    body["error"]["errors"][0]["reason"].as_str().unwrap_or_default()
}

impl Harness {
    pub(crate) async fn new() -> Harness {
        Harness::with(Options::default()).await
    }

    pub(crate) async fn with(options: Options) -> Harness {
        let drive = DriveDouble::start_with(options).await;
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Harness { drive, http }
    }

    pub(crate) fn api(&self, path: &str) -> String {
        format!("{}/drive/v3{path}", self.drive.endpoint())
    }

    pub(crate) fn upload_url(&self, query: &str) -> String {
        format!("{}/upload/drive/v3/files?{query}", self.drive.endpoint())
    }

    pub(crate) async fn token_request(&self, body: String) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.drive.token_uri())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// Access token of the human user, from the refresh-token grant.
    pub(crate) async fn user_token(&self) -> String {
        let file: Value = serde_json::from_str(&self.drive.authorized_user_json()).unwrap();
        let body = form(&[
            ("grant_type", "refresh_token"),
            ("client_id", file["client_id"].as_str().unwrap()),
            ("client_secret", file["client_secret"].as_str().unwrap()),
            ("refresh_token", file["refresh_token"].as_str().unwrap()),
        ]);
        let (status, json) = self.token_request(body).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        json["access_token"].as_str().unwrap().to_owned()
    }

    /// Claims as Google's JWT grant documents them, for the key file's account.
    pub(crate) fn claims(&self, subject: Option<&str>) -> Value {
        let file: Value = serde_json::from_str(&self.drive.service_account_json()).unwrap();
        let mut claims = json!({
            "iss": file["client_email"],
            "scope": DRIVE_SCOPE,
            "aud": file["token_uri"],
            "iat": now(),
            "exp": now() + 3600,
        });
        if let Some(subject) = subject {
            claims["sub"] = json!(subject);
        }
        claims
    }

    pub(crate) fn sign(&self, claims: &Value, key_pem: &str) -> String {
        let file: Value = serde_json::from_str(&self.drive.service_account_json()).unwrap();
        let key = EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = file["private_key_id"].as_str().map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    pub(crate) async fn jwt_grant(&self, assertion: &str) -> (StatusCode, Value) {
        let body = form(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion)]);
        self.token_request(body).await
    }

    /// Access token of the service account (acting as `subject` when given).
    pub(crate) async fn sa_token(&self, subject: Option<&str>) -> String {
        let assertion = self.sign(&self.claims(subject), SA_KEY);
        let (status, json) = self.jwt_grant(&assertion).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        json["access_token"].as_str().unwrap().to_owned()
    }

    /// `POST /upload/drive/v3/files?uploadType=resumable` with JSON metadata.
    pub(crate) async fn initiate(&self, token: &str, metadata: Value, extra_query: &str) -> Response {
        self.http
            .post(self.upload_url(&format!("uploadType=resumable{extra_query}")))
            .bearer_auth(token)
            .header("content-type", "application/json; charset=UTF-8")
            .header("x-upload-content-type", "application/gzip")
            .body(metadata.to_string())
            .send()
            .await
            .unwrap()
    }

    /// A resumable session for `name` in `parent`; returns the session URI.
    pub(crate) async fn session(&self, token: &str, parent: &str, name: &str, extra_query: &str) -> String {
        let response = self.initiate(token, json!({ "name": name, "parents": [parent] }), extra_query).await;
        assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
        response.headers()["location"].to_str().unwrap().to_owned()
    }

    /// A PUT to a session URI that states its length, as every request in Google's guide does (an empty body
    /// too: the HTTP client sends no length for it unless told).
    pub(crate) async fn put(&self, token: &str, session: &str, content_range: &str, body: Vec<u8>) -> Response {
        self.http
            .put(session)
            .bearer_auth(token)
            .header("content-range", content_range)
            .header("content-length", body.len())
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// The same request by POST, as Google's Go client library sends chunks and status queries.
    pub(crate) async fn post_to_session(&self, session: &str, content_range: &str, body: Vec<u8>) -> Response {
        self.http
            .post(session)
            .header("content-range", content_range)
            .header("content-length", body.len())
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// An empty PUT with neither Content-Length nor Transfer-Encoding, as hyper sends it when not told.
    pub(crate) async fn put_unsized(&self, token: &str, session: &str, content_range: &str) -> Response {
        self.http.put(session).bearer_auth(token).header("content-range", content_range).send().await.unwrap()
    }

    /// Uploads `content` in 256 KiB-multiple chunks of `chunk` bytes, size unknown until the end.
    pub(crate) async fn upload(&self, token: &str, session: &str, content: &[u8], chunk: usize) -> Response {
        let mut offset = 0;
        loop {
            let end = (offset + chunk).min(content.len());
            let last = end == content.len();
            let total = if last { content.len().to_string() } else { "*".to_owned() };
            let range =
                if end == offset { format!("bytes */{total}") } else { format!("bytes {offset}-{}/{total}", end - 1) };
            let response = self.put(token, session, &range, content[offset..end].to_vec()).await;
            if last {
                return response;
            }
            assert_eq!(response.status().as_u16(), 308, "{}", response.text().await.unwrap());
            offset = end;
        }
    }

    pub(crate) async fn get_json(&self, token: &str, url: &str) -> (StatusCode, Value) {
        let response = self.http.get(url).bearer_auth(token).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

pub(crate) async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub(crate) fn range_header(response: &Response) -> Option<String> {
    response.headers().get("range").map(|v| v.to_str().unwrap().to_owned())
}
