//! The Drive v3 calls the service needs, over one HTTP client, with authentication, the
//! shared-drive flags on every call, and retries for rate limits and server failures on calls
//! that are safe to repeat. Uploads have their own retry loop in `writer.rs`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opendal::raw::Timestamp;
use opendal::{Metadata, MetadataBuilder};
use reqwest::{Method, RequestBuilder, Response, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::auth::TokenSource;
use super::error::{DriveError, Kind};

/// The fields asked for on every file: what verification, retention and the inventory need.
pub(crate) const FILE_FIELDS: &str =
    "id,name,mimeType,size,md5Checksum,sha256Checksum,createdTime,appProperties,trashed,driveId,parents";
pub(crate) const FOLDER_MIME: &str = "application/vnd.google-apps.folder";
/// Keys of user metadata that carry Drive's own checksums (appProperties never use this prefix).
pub const META_SHA256: &str = "gdrive.sha256Checksum";
pub const META_MD5: &str = "gdrive.md5Checksum";
/// Key of user metadata listing the file's parent folder ids, comma-separated.
pub const META_PARENTS: &str = "gdrive.parents";
pub(crate) const RESERVED_PREFIX: &str = "gdrive.";

/// What deleting a file does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeleteMode {
    /// Move to the trash (Drive empties it after 30 days).
    #[default]
    Trash,
    /// Delete at once, for good.
    Permanent,
}

/// Exponential backoff with jitter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub(crate) max_retries: u32,
    pub(crate) base: Duration,
    pub(crate) max: Duration,
}

impl RetryPolicy {
    /// The pause before retry number `attempt` (0-based): half fixed, half random, so many
    /// clients that failed together do not retry together.
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempt.min(16)).min(self.max);
        let half = exp / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// A file resource as Drive returns it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DriveFile {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) mime_type: String,
    #[serde(default, deserialize_with = "int64")]
    pub(crate) size: Option<u64>,
    pub(crate) md5_checksum: Option<String>,
    pub(crate) sha256_checksum: Option<String>,
    pub(crate) created_time: Option<String>,
    #[serde(default)]
    pub(crate) app_properties: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) trashed: bool,
    pub(crate) drive_id: Option<String>,
    #[serde(default)]
    pub(crate) parents: Vec<String>,
}

/// Drive sends int64 fields as JSON strings.
fn int64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int {
        Text(String),
        Number(u64),
    }
    match Option::<Int>::deserialize(d)? {
        None => Ok(None),
        Some(Int::Number(n)) => Ok(Some(n)),
        Some(Int::Text(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

impl DriveFile {
    pub(crate) fn is_folder(&self) -> bool {
        self.mime_type == FOLDER_MIME
    }

    /// opendal metadata: `version` is the file id, `etag` the md5, `last_modified` the creation
    /// time (our files are never rewritten), user metadata the appProperties plus Drive's checksums.
    pub(crate) fn metadata(&self) -> Metadata {
        let mut m =
            if self.is_folder() { MetadataBuilder::dir() } else { MetadataBuilder::file(self.size.unwrap_or(0)) };
        m.version(self.id.clone()).content_type(self.mime_type.clone());
        // The name travels here because a stat by id has no path to carry it.
        m.content_disposition(format!("attachment; filename=\"{}\"", self.name.replace('"', "\\\"")));
        if let Some(md5) = &self.md5_checksum {
            m.etag(md5.clone());
        }
        if let Some(ts) = self.created_time.as_deref().and_then(|t| t.parse::<Timestamp>().ok()) {
            m.last_modified(ts);
        }
        let mut user: Vec<(String, String)> = self
            .app_properties
            .iter()
            .filter(|(k, _)| !k.starts_with(RESERVED_PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(sha) = &self.sha256_checksum {
            user.push((META_SHA256.into(), sha.clone()));
        }
        if let Some(md5) = &self.md5_checksum {
            user.push((META_MD5.into(), md5.clone()));
        }
        if !self.parents.is_empty() {
            user.push((META_PARENTS.into(), self.parents.join(",")));
        }
        m.user_metadata(user);
        m.build()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileList {
    #[serde(default)]
    files: Vec<DriveFile>,
    next_page_token: Option<String>,
}

/// A folder we write into, and the shared drive it lives in, if any.
#[derive(Debug, Clone)]
pub(crate) struct Folder {
    pub(crate) id: String,
    pub(crate) drive_id: Option<String>,
}

/// Everything the service's operations share.
#[derive(Debug)]
pub(crate) struct DriveCore {
    pub(crate) api: Url,
    pub(crate) http: reqwest::Client,
    pub(crate) tokens: TokenSource,
    pub(crate) chunk_size: usize,
    pub(crate) delete_mode: DeleteMode,
    pub(crate) retry: RetryPolicy,
    pub(crate) page_size: u32,
    /// Chunks of read-ahead memory shared by every upload of the process (see the writer).
    pub(crate) read_ahead: Arc<tokio::sync::Semaphore>,
    /// Chunk buffers, reused from one chunk to the next and across uploads.
    pub(crate) pool: super::pool::ChunkPool,
    folders: Mutex<HashMap<String, Folder>>,
    /// Meters waiting for the writer of `FOLDER_ID/NAME` (see [`UploadMeter`]).
    meters: Mutex<HashMap<String, std::sync::Weak<std::sync::atomic::AtomicU64>>>,
}

/// How many bytes of one upload Drive has acknowledged (committed, or received in the final
/// request): what Google counts against the account's daily upload limit, also for an upload
/// that fails part way. Bytes Drive refused or never answered for are not counted.
#[derive(Debug, Clone, Default)]
pub struct UploadMeter(Arc<std::sync::atomic::AtomicU64>);

impl UploadMeter {
    /// Bytes acknowledged so far.
    pub fn sent(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn add(&self, bytes: u64) {
        self.0.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
    }
}

impl DriveCore {
    #[allow(clippy::too_many_arguments, reason = "one argument per setting; crate-private, called once")]
    pub(crate) fn new(
        api: Url,
        http: reqwest::Client,
        tokens: TokenSource,
        chunk_size: usize,
        delete_mode: DeleteMode,
        retry: RetryPolicy,
        page_size: u32,
        read_ahead_budget: usize,
    ) -> Self {
        let read_ahead = Arc::new(tokio::sync::Semaphore::new(read_ahead_budget / chunk_size.max(1)));
        DriveCore {
            api,
            http,
            tokens,
            chunk_size,
            delete_mode,
            retry,
            page_size,
            read_ahead,
            pool: super::pool::ChunkPool::new(chunk_size),
            folders: Mutex::new(HashMap::new()),
            meters: Mutex::new(HashMap::new()),
        }
    }

    /// A meter for the next writer of `path` (`FOLDER_ID/NAME`; names of new uploads are unique).
    /// Held only weakly here: a meter nobody keeps is forgotten.
    pub(crate) fn meter(&self, path: &str) -> UploadMeter {
        let meter = UploadMeter::default();
        let mut meters = self.meters.lock().expect("meters lock");
        meters.retain(|_, m| m.strong_count() > 0);
        meters.insert(path.trim_start_matches('/').to_owned(), Arc::downgrade(&meter.0));
        meter
    }

    /// The meter waiting for the writer of `FOLDER_ID/NAME`, if one was asked for.
    pub(crate) fn claim_meter(&self, folder_id: &str, name: &str) -> Option<UploadMeter> {
        let mut meters = self.meters.lock().expect("meters lock");
        meters.remove(&format!("{folder_id}/{name}")).and_then(|m| m.upgrade()).map(UploadMeter)
    }

    /// Forgets the folders checked so far (the account changed).
    pub(crate) fn forget_folders(&self) {
        self.folders.lock().expect("folder cache").clear();
    }

    /// Why a folder is not found, and what to do: share it, or, for an account granted only
    /// `drive.file` (which sees only what this app made), make the folder from the Destination page.
    pub(crate) fn folder_not_found(&self, id: &str) -> String {
        if self.tokens.credentials().is_some_and(|c| c.files_only()) {
            return format!(
                "Drive folder {id} was not found by {}: the account was connected with the drive.file scope, which lets the orchestrator see only the folders it made. Create the folder on the Destination page (Create a folder), or connect again choosing every file of the account",
                self.principal()
            );
        }
        format!(
            "Drive folder {id} was not found, or is not shared with {}: check the folder ID (the last part of the folder's URL) and share the folder with that account",
            self.principal()
        )
    }

    /// Who the calls act as, for messages.
    pub(crate) fn principal(&self) -> String {
        match self.tokens.credentials() {
            Some(credentials) => credentials.principal(self.tokens.subject()),
            None => "no Google account (Drive is not connected)".to_owned(),
        }
    }

    /// A service account acting as itself (no delegation): it has no storage quota.
    pub(crate) fn is_bare_service_account(&self) -> bool {
        self.tokens.credentials().is_some_and(|c| c.is_service_account()) && self.tokens.subject().is_none()
    }

    pub(crate) fn url(&self, path: &str) -> Url {
        let mut url = self.api.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}{path}"));
        url
    }

    pub(crate) fn error(&self, status: u16, body: &[u8], what: &str) -> DriveError {
        DriveError::from_answer(status, body, what, &self.principal(), self.is_bare_service_account())
    }

    /// Sends a request built by `build` with a fresh token; on 401 refreshes the token and tries
    /// once more. With `retry`, rate limits and server failures are retried with backoff.
    pub(crate) async fn call(
        &self,
        what: &str,
        retry: bool,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Response, DriveError> {
        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            let token = self.tokens.token().await?;
            let sent = build(&self.http).bearer_auth(token.expose_secret()).send().await;
            let error = match sent {
                Ok(resp) if resp.status().is_success() || resp.status().as_u16() == 308 => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body = resp.bytes().await.unwrap_or_default();
                    self.error(status, &body, what)
                }
                Err(e) => DriveError::transport(what.to_owned(), &e),
            };
            if error.kind == Kind::Unauthorized && !refreshed {
                refreshed = true;
                self.tokens.invalidate(&token).await;
                continue;
            }
            if retry && error.is_retryable() && attempt < self.retry.max_retries {
                tracing::warn!(code = "drive.retrying", attempt, error = %error, "Drive call failed; retrying");
                tokio::time::sleep(self.retry.delay(attempt)).await;
                attempt += 1;
                continue;
            }
            return Err(error);
        }
    }

    async fn json<T: serde::de::DeserializeOwned>(resp: Response, what: &str) -> Result<T, DriveError> {
        let body = resp.bytes().await.map_err(|e| DriveError::transport(what.to_owned(), &e))?;
        serde_json::from_slice(&body)
            .map_err(|e| DriveError::temporary(format!("{what}: Drive answered something unexpected: {e}")))
    }

    /// The folder with this id, checked once per process: it must exist, be a folder, and be
    /// visible to the account.
    pub(crate) async fn folder(&self, id: &str) -> Result<Folder, DriveError> {
        if let Some(f) = self.folders.lock().expect("folder cache").get(id) {
            return Ok(f.clone());
        }
        let what = format!("opening Drive folder {id}");
        let url = self.url(&format!("/drive/v3/files/{id}"));
        let resp = self
            .call(&what, true, |http| {
                http.get(url.clone())
                    .query(&[("fields", "id,name,mimeType,driveId,trashed"), ("supportsAllDrives", "true")])
            })
            .await
            .map_err(|e| match e.kind {
                Kind::NotFound => DriveError::new(Kind::NotFound, self.folder_not_found(id)),
                _ => e,
            })?;
        let file: DriveFile = Self::json(resp, &what).await?;
        if !file.is_folder() {
            return Err(DriveError::new(
                Kind::Refused,
                format!("{id} is a file ({}), not a folder: give a folder ID", file.name),
            ));
        }
        if file.trashed {
            return Err(DriveError::new(
                Kind::NotFound,
                format!("Drive folder {id} ({}) is in the trash: restore it or use another folder", file.name),
            ));
        }
        let folder = Folder { id: file.id, drive_id: file.drive_id };
        self.folders.lock().expect("folder cache").insert(id.to_owned(), folder.clone());
        Ok(folder)
    }

    /// One page of the files in `folder` (not trashed), oldest first.
    pub(crate) async fn list_page(
        &self,
        folder: &Folder,
        extra_query: Option<&str>,
        page_token: Option<&str>,
    ) -> Result<(Vec<DriveFile>, Option<String>), DriveError> {
        let what = format!("listing Drive folder {}", folder.id);
        let mut q = format!("'{}' in parents and trashed = false", escape(&folder.id));
        if let Some(extra) = extra_query {
            q.push_str(" and ");
            q.push_str(extra);
        }
        let fields = format!("nextPageToken,files({FILE_FIELDS})");
        let page_size = self.page_size.to_string();
        let url = self.url("/drive/v3/files");
        let resp = self
            .call(&what, true, |http| {
                let mut params: Vec<(&str, &str)> = vec![
                    ("q", &q),
                    ("fields", &fields),
                    ("pageSize", &page_size),
                    ("orderBy", "createdTime"),
                    ("supportsAllDrives", "true"),
                    ("includeItemsFromAllDrives", "true"),
                ];
                if let Some(drive) = &folder.drive_id {
                    params.push(("corpora", "drive"));
                    params.push(("driveId", drive));
                }
                if let Some(token) = page_token {
                    params.push(("pageToken", token));
                }
                http.get(url.clone()).query(&params)
            })
            .await?;
        let list: FileList = Self::json(resp, &what).await?;
        Ok((list.files, list.next_page_token.filter(|t| !t.is_empty())))
    }

    /// The file called `name` in `folder`, if there is one (the newest, if names repeat).
    pub(crate) async fn find(&self, folder: &Folder, name: &str) -> Result<Option<DriveFile>, DriveError> {
        let (files, _) = self.list_page(folder, Some(&format!("name = '{}'", escape(name))), None).await?;
        Ok(files.into_iter().next_back())
    }

    /// The file with this id.
    pub(crate) async fn get(&self, id: &str) -> Result<DriveFile, DriveError> {
        let what = format!("reading Drive file {id}");
        let url = self.url(&format!("/drive/v3/files/{id}"));
        let resp = self
            .call(&what, true, |http| {
                http.get(url.clone()).query(&[("fields", FILE_FIELDS), ("supportsAllDrives", "true")])
            })
            .await?;
        Self::json(resp, &what).await
    }

    /// Sets (or, with an empty value, removes) appProperties of a file; other keys are kept.
    pub(crate) async fn patch_app_properties(&self, id: &str, props: &[(&str, &str)]) -> Result<DriveFile, DriveError> {
        let what = format!("updating the properties of Drive file {id}");
        let map: serde_json::Map<String, serde_json::Value> = props
            .iter()
            .map(|(k, v)| ((*k).to_owned(), if v.is_empty() { serde_json::Value::Null } else { (*v).into() }))
            .collect();
        let body = serde_json::json!({ "appProperties": map });
        let url = self.url(&format!("/drive/v3/files/{id}"));
        let resp = self
            .call(&what, true, |http| {
                http.patch(url.clone()).query(&[("fields", FILE_FIELDS), ("supportsAllDrives", "true")]).json(&body)
            })
            .await?;
        Self::json(resp, &what).await
    }

    /// Deletes a file as configured: to the trash, or for good. A file already gone is fine.
    pub(crate) async fn delete(&self, id: &str) -> Result<(), DriveError> {
        let what = format!("deleting Drive file {id}");
        let url = self.url(&format!("/drive/v3/files/{id}"));
        let result = match self.delete_mode {
            DeleteMode::Permanent => {
                self.call(&what, true, |http| http.delete(url.clone()).query(&[("supportsAllDrives", "true")])).await
            }
            DeleteMode::Trash => {
                self.call(&what, true, |http| {
                    http.patch(url.clone())
                        .query(&[("supportsAllDrives", "true"), ("fields", "id")])
                        .json(&serde_json::json!({"trashed": true}))
                })
                .await
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.kind == Kind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Starts a resumable upload of a new file `name` in `folder` and returns its session URI.
    pub(crate) async fn start_upload(
        &self,
        folder: &Folder,
        name: &str,
        content_type: &str,
        app_properties: &BTreeMap<String, String>,
    ) -> Result<SecretString, DriveError> {
        let what = format!("starting the upload of {name} to Drive folder {}", folder.id);
        let metadata = serde_json::json!({
            "name": name,
            "parents": [folder.id],
            "mimeType": content_type,
            "appProperties": app_properties,
        });
        let url = self.url("/upload/drive/v3/files");
        let resp = self
            .call(&what, true, |http| {
                http.post(url.clone())
                    .query(&[("uploadType", "resumable"), ("supportsAllDrives", "true"), ("fields", FILE_FIELDS)])
                    .header("X-Upload-Content-Type", content_type)
                    .json(&metadata)
            })
            .await?;
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| DriveError::temporary(format!("{what}: Drive gave no upload session URI")))?;
        Ok(SecretString::from(location.to_owned()))
    }

    /// `GET alt=media` of a file, optionally a byte range.
    pub(crate) async fn download(&self, id: &str, range: Option<String>) -> Result<Response, DriveError> {
        let what = format!("downloading Drive file {id}");
        let url = self.url(&format!("/drive/v3/files/{id}"));
        self.call(&what, true, |http| {
            let req = http.request(Method::GET, url.clone()).query(&[("alt", "media"), ("supportsAllDrives", "true")]);
            match &range {
                Some(r) => req.header(reqwest::header::RANGE, r),
                None => req,
            }
        })
        .await
    }
}

/// Escapes a value for a single-quoted string in a Drive query.
pub(crate) fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "\\'")
}
