//! A Google Drive v3 double: a real HTTP server on 127.0.0.1 implementing, as Google documents them, the parts of
//! Drive v3 and of Google's OAuth 2.0 token endpoint that a backup tool uses (resumable and multipart uploads,
//! files.list/get/create/update/delete, shared drives, service accounts with or without domain-wide delegation,
//! the web-server flow with its consent screen, the authorization-code and refresh-token grants, token revocation,
//! the `drive.file` scope), plus one-shot fault injection to test a client's error handling.
//!
//! ```no_run
//! # async fn demo() {
//! let drive = drive_double::DriveDouble::start().await;
//! let folder = drive.create_shared_drive("Backups");
//! let credentials = drive.service_account_json(); // token_uri points at the double
//! // ... run the client against drive.endpoint(), then:
//! assert_eq!(drive.files_in(&folder).len(), 1);
//! # }
//! ```

mod auth;
mod authorize;
mod body;
mod clock;
mod code_grant;
mod consent_page;
mod drives;
mod errors;
mod fields;
mod files;
mod gate;
mod grants;
mod metadata;
mod params;
mod query;
mod resource;
mod revoke;
mod serve;
mod state;
pub mod tls;
mod upload;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::errors::ApiError;
use crate::state::{
    FOLDER_MIME, Inner, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, PRIVATE_KEY_ID, PROJECT_ID, REFRESH_TOKEN,
    SERVICE_ACCOUNT_CLIENT_ID, SERVICE_ACCOUNT_EMAIL, SessionState, Shared, SharedDrive, USER_EMAIL, digests,
    drive_style_id, random_id,
};

const SERVICE_ACCOUNT_KEY: &str = include_str!("../keys/service-account.key.pem");
const STRANGER_KEY: &str = include_str!("../keys/other.key.pem");

/// How a double is started.
#[derive(Debug, Clone)]
pub struct Options {
    /// Keep only size, MD5 and SHA-256 of uploaded content, not the bytes (for multi-GiB benchmarks).
    pub hash_only: bool,
    /// Lifetime of the access tokens the token endpoint issues.
    pub token_ttl: Duration,
    /// Serve TLS under Google's host names instead of plain HTTP on 127.0.0.1.
    pub as_google: Option<AsGoogle>,
}

impl Default for Options {
    fn default() -> Self {
        Options { hash_only: false, token_ttl: Duration::from_secs(3600), as_google: None }
    }
}

/// Where and how the double answers as Google: HTTPS on `listen` (127.0.0.1:443 in a network
/// namespace whose `/etc/hosts` sends [`tls::GOOGLE_HOSTS`] there), with a certificate of `ca`.
/// Its endpoint is then `https://www.googleapis.com` and its token endpoint
/// `https://oauth2.googleapis.com/token` (with the port when it is not 443).
#[derive(Debug, Clone)]
pub struct AsGoogle {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The authority whose certificate clients trust for the run.
    pub ca: Arc<tls::TestCa>,
}

/// Which rate-limit answer [`DriveDouble::rate_limit_next`] injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// `429` with reason `rateLimitExceeded`.
    TooManyRequests,
    /// `403` with reason `userRateLimitExceeded`.
    UserRateLimit,
    /// `403` with reason `rateLimitExceeded`.
    RateLimit,
}

/// The answer of the signed-in user on the consent screen, given without a browser
/// ([`DriveDouble::auto_consent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// "Allow": back to the redirect URI with a code.
    Allow,
    /// "Cancel": back to the redirect URI with `error=access_denied`.
    Deny,
}

/// A file or folder as the double stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Drive file id.
    pub id: String,
    /// File name.
    pub name: String,
    /// MIME type (`application/vnd.google-apps.folder` for folders).
    pub mime_type: String,
    /// The single parent folder (empty for roots).
    pub parents: Vec<String>,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// `md5Checksum` as Drive reports it (wrong on purpose after [`DriveDouble::corrupt_next_checksum`]).
    pub md5: String,
    /// `sha256Checksum` as Drive reports it (wrong on purpose after [`DriveDouble::corrupt_next_checksum`]).
    pub sha256: String,
    /// `createdTime`, RFC 3339 with milliseconds.
    pub created_time: String,
    /// `appProperties`.
    pub app_properties: BTreeMap<String, String>,
    /// Trashed, explicitly or through a trashed folder above it.
    pub trashed: bool,
    /// The shared drive holding the item, if any.
    pub drive_id: Option<String>,
    /// Owner's email in My Drive; for shared-drive items (which have no owner in Drive) the creator's email.
    pub owner: String,
}

/// One request the double received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method, e.g. `PUT`.
    pub method: String,
    /// Path without the query, e.g. `/upload/drive/v3/files`.
    pub path: String,
    /// Raw query string (empty when there is none).
    pub query: String,
    /// The `Content-Length` header as sent, if any.
    pub content_length: Option<String>,
    /// The `Content-Range` header as sent, if any.
    pub content_range: Option<String>,
}

/// A running double. The server stops when this is dropped.
pub struct DriveDouble {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for DriveDouble {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/token", post(auth::token))
        .route("/revoke", post(revoke::revoke))
        .route(authorize::AUTH_PATH, get(authorize::authorize))
        .route(authorize::CONSENT_PATH, post(authorize::decide))
        .route("/drive/v3/files", get(files::list).post(files::create))
        .route("/drive/v3/files/{id}", get(files::get).patch(files::update).delete(files::delete))
        .route("/drive/v3/drives", get(drives::list))
        .route("/drive/v3/drives/{id}", get(drives::get))
        .route("/drive/v3/about", get(drives::about))
        .route("/upload/drive/v3/files", post(upload::post).put(upload::put).delete(upload::cancel))
        .fallback(|| async { ApiError::route_not_found() })
        .layer(axum::middleware::from_fn_with_state(shared.clone(), gate::gate))
        // Upload bodies are streamed and bounded by the handlers themselves.
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

impl DriveDouble {
    /// Starts a double with [`Options::default`].
    pub async fn start() -> DriveDouble {
        DriveDouble::start_with(Options::default()).await
    }

    /// Starts a double on 127.0.0.1, on a port chosen by the system (or as [`Options::as_google`] says).
    ///
    /// # Panics
    /// If the address cannot be bound.
    pub async fn start_with(options: Options) -> DriveDouble {
        let (listener, endpoint, oauth, auth, tls) = match &options.as_google {
            None => {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
                let address = listener.local_addr().expect("local address");
                let base = format!("http://{address}");
                (listener, base.clone(), base.clone(), base, None)
            }
            Some(google) => {
                let listener = TcpListener::bind(google.listen).await.expect("bind the address to answer as Google");
                let port = match google.listen.port() {
                    443 => String::new(),
                    port => format!(":{port}"),
                };
                let [api, oauth, accounts] = tls::GOOGLE_HOSTS.map(|host| format!("https://{host}{port}"));
                (listener, api, oauth, accounts, Some(google.ca.acceptor()))
            }
        };
        let shared = Arc::new(Shared::new(endpoint, oauth, auth, options.hash_only, options.token_ttl));
        let server = tokio::spawn(serve::serve(listener, router(shared.clone()), tls));
        DriveDouble { shared, server }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.lock()
    }

    /// `http://127.0.0.1:PORT`: the API is under `/drive/v3`, uploads under `/upload/drive/v3`.
    pub fn endpoint(&self) -> String {
        self.shared.endpoint.clone()
    }

    /// `{endpoint}/token`, the OAuth token endpoint.
    pub fn token_uri(&self) -> String {
        self.shared.token_uri()
    }

    /// `{endpoint}/o/oauth2/v2/auth`, the authorization endpoint of the web-server flow.
    pub fn auth_uri(&self) -> String {
        format!("{}{}", self.shared.auth_endpoint, authorize::AUTH_PATH)
    }

    /// The client id of the double's one OAuth client (a "web application" client).
    pub fn oauth_client_id(&self) -> String {
        OAUTH_CLIENT_ID.to_owned()
    }

    /// The secret of that client.
    pub fn oauth_client_secret(&self) -> String {
        OAUTH_CLIENT_SECRET.to_owned()
    }

    /// Adds an authorized redirect URI to the OAuth client; the authorization endpoint redirects only to these,
    /// compared exactly (scheme, case, port, path and trailing slash).
    pub fn register_redirect_uri(&self, uri: &str) {
        self.lock().oauth.redirect_uris.insert(uri.to_owned());
    }

    /// The client's JSON as the Cloud console downloads it for a web application, with `redirect_uri` registered
    /// (and listed with any other registered one) and `auth_uri` / `token_uri` pointing at this double.
    pub fn oauth_client_json(&self, redirect_uri: &str) -> String {
        let mut inner = self.lock();
        inner.oauth.redirect_uris.insert(redirect_uri.to_owned());
        let redirect_uris: Vec<&String> = inner.oauth.redirect_uris.iter().collect();
        let value = json!({
            "web": {
                "client_id": OAUTH_CLIENT_ID,
                "project_id": PROJECT_ID,
                "auth_uri": self.auth_uri(),
                "token_uri": self.token_uri(),
                "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                "client_secret": OAUTH_CLIENT_SECRET,
                "redirect_uris": redirect_uris,
            }
        });
        serde_json::to_string(&value).expect("JSON")
    }

    /// The account signed in at the authorization endpoint, named on the consent screen and owning what the
    /// tokens of its grants create; [`user_email`](Self::user_email) until changed.
    pub fn set_consenting_user(&self, email: &str) {
        let mut inner = self.lock();
        inner.oauth.consenting_user = email.to_owned();
        inner.root_of(email);
    }

    /// With `Some`, the authorization endpoint answers as if the user had clicked that button: a 302 to the
    /// redirect URI instead of the consent page. `None` shows the page again.
    pub fn auto_consent(&self, answer: Option<Consent>) {
        self.lock().oauth.auto_consent = answer;
    }

    /// The user removes the app's access: every refresh token (issued by the code grant, or the fixed one of
    /// [`authorized_user_json`](Self::authorized_user_json)) then gets `invalid_grant` "Token has been expired or
    /// revoked.", and the access tokens issued from them stop working.
    pub fn revoke_refresh_tokens(&self) {
        let mut inner = self.lock();
        for grant in inner.oauth.refresh_grants() {
            inner.revoke_grant(&grant);
        }
    }

    /// How many refresh tokens still work (issued and neither revoked nor replaced).
    pub fn live_refresh_tokens(&self) -> usize {
        let inner = self.lock();
        inner.oauth.grants.values().filter(|grant| grant.refresh_token.is_some() && !grant.revoked).count()
    }

    /// Opens a file or folder with the app, as the Google Picker does: tokens of the OAuth client limited to
    /// `drive.file` may then see and change that item (not what is inside a folder).
    ///
    /// # Panics
    /// If the item does not exist.
    pub fn grant_to_app(&self, file_id: &str) {
        let mut inner = self.lock();
        let item = inner.items.get_mut(file_id).expect("grant_to_app: unknown item");
        item.apps.insert(OAUTH_CLIENT_ID.to_owned());
    }

    /// Moves the double's clock for authorization codes and access tokens `by` ahead, so expiry can be tested
    /// without waiting (file timestamps keep following the real clock).
    pub fn advance_clock(&self, by: Duration) {
        self.lock().clock_skew += by;
    }

    /// The service account's email, `backup-bot@test-project.iam.gserviceaccount.com`.
    pub fn service_account_email(&self) -> String {
        SERVICE_ACCOUNT_EMAIL.to_owned()
    }

    fn service_account_with_key(&self, private_key: &str) -> String {
        let value = json!({
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": PRIVATE_KEY_ID,
            "private_key": private_key,
            "client_email": SERVICE_ACCOUNT_EMAIL,
            "client_id": SERVICE_ACCOUNT_CLIENT_ID,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri(),
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": format!(
                "https://www.googleapis.com/robot/v1/metadata/x509/{}",
                SERVICE_ACCOUNT_EMAIL.replace('@', "%40")
            ),
            "universe_domain": "googleapis.com",
        });
        serde_json::to_string_pretty(&value).expect("JSON")
    }

    /// A JWT bearer assertion of the service account for `scope`, signed with its key, as Google's client
    /// libraries make them: for minimal clients written in tests and benchmarks.
    ///
    /// # Panics
    /// Never with the double's own key.
    pub fn service_account_assertion(&self, scope: &str) -> String {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let claims = json!({
            "iss": SERVICE_ACCOUNT_EMAIL,
            "scope": scope,
            "aud": self.token_uri(),
            "iat": now,
            "exp": now + 3600,
        });
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(PRIVATE_KEY_ID.to_owned());
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(SERVICE_ACCOUNT_KEY.as_bytes()).expect("the double's key");
        jsonwebtoken::encode(&header, &claims, &key).expect("signing")
    }

    /// A Google service-account key file whose `token_uri` is this double.
    pub fn service_account_json(&self) -> String {
        self.service_account_with_key(SERVICE_ACCOUNT_KEY)
    }

    /// The same key file with a private key the double does not know: its JWTs fail signature checks.
    pub fn stranger_service_account_json(&self) -> String {
        self.service_account_with_key(STRANGER_KEY)
    }

    /// An `authorized_user` credentials file (client id, secret and a valid refresh token of
    /// [`user_email`](Self::user_email)), with `token_uri` pointing at this double.
    pub fn authorized_user_json(&self) -> String {
        let value = json!({
            "type": "authorized_user",
            "client_id": OAUTH_CLIENT_ID,
            "client_secret": OAUTH_CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
            "token_uri": self.token_uri(),
            "universe_domain": "googleapis.com",
        });
        serde_json::to_string_pretty(&value).expect("JSON")
    }

    /// The human account the refresh token belongs to, `operator@example.com`.
    pub fn user_email(&self) -> String {
        USER_EMAIL.to_owned()
    }

    /// Domain-wide delegation: the service account may then ask for tokens with `sub` = `subject` and acts as
    /// that user (with that user's My Drive and quota).
    pub fn allow_delegation(&self, subject: &str) {
        let mut inner = self.lock();
        inner.delegation.insert(subject.to_owned());
        inner.root_of(subject);
    }

    /// Creates a folder in the human user's My Drive, owned by that user; returns its id.
    pub fn create_folder(&self, name: &str) -> String {
        let mut inner = self.lock();
        let root = inner.root_of(USER_EMAIL);
        drop(inner);
        self.create_folder_in(&root, name)
    }

    /// Gives `email` writer access to the folder and everything in it.
    ///
    /// # Panics
    /// If the folder does not exist.
    pub fn share_folder_with(&self, folder_id: &str, email: &str) {
        let mut inner = self.lock();
        let folder = inner.items.get_mut(folder_id).expect("share_folder_with: unknown folder");
        folder.shared_with.insert(email.to_owned());
    }

    /// Creates a shared drive whose members are the service account and the human user; returns its id, which is
    /// also the id of its root folder.
    pub fn create_shared_drive(&self, name: &str) -> String {
        let mut inner = self.lock();
        let id = drive_style_id();
        let members = [SERVICE_ACCOUNT_EMAIL.to_owned(), USER_EMAIL.to_owned()].into_iter().collect();
        inner.drives.insert(id.clone(), SharedDrive { name: name.to_owned(), members });
        let mut root = inner.blank_item(id.clone(), name, FOLDER_MIME, USER_EMAIL);
        root.drive_id = Some(id.clone());
        root.is_root = true;
        inner.items.insert(id.clone(), root);
        id
    }

    /// Creates a folder inside another folder (of My Drive or of a shared drive), owned like its parent.
    ///
    /// # Panics
    /// If the parent does not exist.
    pub fn create_folder_in(&self, parent_id: &str, name: &str) -> String {
        let mut inner = self.lock();
        let parent = inner.items.get(parent_id).expect("create_folder_in: unknown parent").clone();
        let id = random_id("1", 33);
        let mut folder = inner.blank_item(id.clone(), name, FOLDER_MIME, &parent.owner);
        folder.parents = vec![parent.id];
        folder.drive_id = parent.drive_id;
        inner.items.insert(id.clone(), folder);
        id
    }

    /// Puts a file into a folder as someone else would (owned like the folder); returns its id.
    ///
    /// # Panics
    /// If the parent does not exist.
    pub fn add_file(&self, parent_id: &str, name: &str, content: &[u8], app_properties: &[(&str, &str)]) -> String {
        let mut inner = self.lock();
        let parent = inner.items.get(parent_id).expect("add_file: unknown parent").clone();
        let id = random_id("1", 33);
        let mut file = inner.blank_item(id.clone(), name, "application/octet-stream", &parent.owner);
        let (md5, sha256) = digests(content);
        file.parents = vec![parent.id];
        file.drive_id = parent.drive_id;
        file.size = content.len() as u64;
        file.md5 = md5;
        file.sha256 = sha256;
        file.content = (!self.shared.hash_only).then(|| Bytes::copy_from_slice(content));
        file.app_properties = app_properties.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        inner.items.insert(id.clone(), file);
        id
    }

    /// Replaces a file's content as a person would in Drive's web interface (a new revision): its
    /// size and checksums follow the new bytes; its name and appProperties stay.
    ///
    /// # Panics
    /// If there is no such file.
    pub fn replace_content(&self, id: &str, content: &[u8]) {
        let mut inner = self.lock();
        let now = inner.tick();
        let hash_only = self.shared.hash_only;
        let item = inner.items.get_mut(id).expect("replace_content: unknown file");
        let (md5, sha256) = digests(content);
        item.size = content.len() as u64;
        item.md5 = md5;
        item.sha256 = sha256;
        item.content = (!hash_only).then(|| Bytes::copy_from_slice(content));
        item.modified_ms = now;
        item.version += 1;
    }

    /// Sets one of a file's appProperties, as another program using the same OAuth app could.
    ///
    /// # Panics
    /// If there is no such file.
    pub fn set_app_property(&self, id: &str, key: &str, value: &str) {
        let mut inner = self.lock();
        let item = inner.items.get_mut(id).expect("set_app_property: unknown file");
        item.app_properties.insert(key.to_owned(), value.to_owned());
    }

    /// Moves a file to the trash, or restores it from there, as a person would in Drive's web
    /// interface.
    ///
    /// # Panics
    /// If there is no such file.
    pub fn set_trashed(&self, id: &str, trashed: bool) {
        let mut inner = self.lock();
        inner.items.get_mut(id).expect("set_trashed: unknown file").explicitly_trashed = trashed;
    }

    /// The items directly in a folder that are not trashed, in creation order.
    pub fn files_in(&self, folder_id: &str) -> Vec<FileInfo> {
        let inner = self.lock();
        let mut children: Vec<_> = inner
            .items
            .values()
            .filter(|item| item.parents.iter().any(|p| p == folder_id) && !inner.is_trashed(item))
            .collect();
        children.sort_by_key(|item| item.seq);
        children.into_iter().map(|item| inner.info(item)).collect()
    }

    /// Any item by id, trashed ones included.
    pub fn file(&self, id: &str) -> Option<FileInfo> {
        let inner = self.lock();
        inner.items.get(id).map(|item| inner.info(item))
    }

    /// The stored bytes of a file; `None` for unknown ids, folders, and in hash_only mode.
    pub fn content(&self, id: &str) -> Option<Vec<u8>> {
        let inner = self.lock();
        let item = inner.items.get(id)?;
        if item.is_folder() { None } else { item.content.as_ref().map(|c| c.to_vec()) }
    }

    /// Resumable sessions created and neither finished, cancelled nor expired.
    pub fn open_sessions(&self) -> usize {
        self.lock().sessions.values().filter(|s| s.state == SessionState::Open).count()
    }

    /// The largest body of any request to `/upload/...` so far, in bytes.
    pub fn max_upload_request_body(&self) -> u64 {
        self.shared.max_upload_body()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.lock().requests.clone()
    }

    /// The next `n` PUTs to upload sessions that carry data or finish an upload (status queries excepted) answer
    /// `status` with Google's error JSON and commit nothing. 403 comes with reason `userRateLimitExceeded`,
    /// 429 with `rateLimitExceeded`, 5xx with `backendError` (502: `badGateway`).
    pub fn fail_next_chunks(&self, n: usize, status: u16) {
        let mut inner = self.lock();
        inner.faults.fail_chunks = n;
        inner.faults.fail_status = status;
    }

    /// The next `n` requests to `/drive/v3` or `/upload` (not `/token`) are refused as rate limited.
    pub fn rate_limit_next(&self, n: usize, kind: RateLimit) {
        let mut inner = self.lock();
        inner.faults.rate_limits = n;
        inner.faults.rate_limit_kind = Some(kind);
    }

    /// The next non-final chunk commits only its first `keep` bytes (a multiple of 256 KiB) and answers 308 with
    /// the shorter Range, so the client must resend the rest.
    pub fn partial_ack_next_chunk(&self, keep: u64) {
        self.lock().faults.partial_ack = Some(keep);
    }

    /// The next chunk PUT reads about half its body, commits nothing, and the TCP connection is closed without
    /// any response.
    pub fn drop_connection_next_chunk(&self) {
        self.lock().faults.drop_connection = true;
    }

    /// Every open resumable session expires: later PUTs and status queries on it get 404.
    pub fn expire_sessions(&self) {
        self.lock().expire_sessions();
    }

    /// Like [`expire_sessions`](Self::expire_sessions), once `n` more chunks were committed (for tests that
    /// cannot call in mid-upload, e.g. when the client runs as another process). `0` expires at once.
    pub fn expire_sessions_after_chunks(&self, n: usize) {
        let mut inner = self.lock();
        if n == 0 {
            inner.expire_sessions();
        } else {
            inner.faults.expire_after_chunks = Some(n);
        }
    }

    /// Every access token issued so far becomes invalid (401); refresh tokens and keys keep working.
    pub fn revoke_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// Like [`revoke_tokens`](Self::revoke_tokens), once `n` more chunks were committed. `0` revokes at once.
    pub fn revoke_tokens_after_chunks(&self, n: usize) {
        let mut inner = self.lock();
        if n == 0 {
            inner.tokens.clear();
        } else {
            inner.faults.revoke_after_chunks = Some(n);
        }
    }

    /// Every chunk PUT that carries data waits `pause` after committing before it answers, until set back to
    /// zero: makes an upload slow enough for tokens to expire during it.
    pub fn pause_chunks(&self, pause: Duration) {
        self.lock().faults.chunk_pause = pause;
    }

    /// Tokens issued from now on expire after `ttl`.
    pub fn set_token_ttl(&self, ttl: Duration) {
        self.lock().token_ttl = ttl;
    }

    /// Once `bytes` were uploaded today (all principals together), new sessions, simple uploads and further
    /// chunks get what Google answers at its 750 GB daily cap: 403 `userRateLimitExceeded` with the message
    /// exactly "User rate limit exceeded.". A chunk that passes the check while under the cap still commits.
    pub fn set_daily_upload_cap(&self, bytes: u64) {
        self.lock().faults.daily_cap = Some(bytes);
    }

    /// Once `n` more chunks were committed, every access token is revoked and every later grant at the token
    /// endpoint answers `invalid_grant` (a refresh token revoked, a service-account key deleted). `0`: at once.
    pub fn refuse_grants_after_chunks(&self, n: usize) {
        let mut inner = self.lock();
        if n == 0 {
            inner.tokens.clear();
            inner.grants_refused = true;
        } else {
            inner.faults.refuse_grants_after_chunks = Some(n);
        }
    }

    /// `email` may own at most `bytes` in My Drive (shared drives do not count): creating an item there when
    /// nothing is left, an upload declaring more than is left, or a chunk going past it gets 403
    /// `storageQuotaExceeded`.
    pub fn set_storage_quota(&self, email: &str, bytes: u64) {
        self.lock().faults.storage_quota.insert(email.to_owned(), bytes);
    }

    /// A shared drive may hold at most `items` files and folders (Google: 400,000): creating one more gets
    /// 403 `teamDriveFileLimitExceeded`.
    pub fn set_shared_drive_item_limit(&self, items: usize) {
        self.lock().faults.shared_drive_item_limit = Some(items);
    }

    /// A folder that is not a root may hold at most `children` items (Google: 500,000): creating one more
    /// gets 403 `numChildrenInNonRootLimitExceeded`.
    pub fn set_folder_children_limit(&self, children: usize) {
        self.lock().faults.folder_children_limit = Some(children);
    }

    /// The next finished upload stores the right bytes but reports wrong `md5Checksum` and `sha256Checksum`.
    pub fn corrupt_next_checksum(&self) {
        self.lock().faults.corrupt_checksum = true;
    }
}
