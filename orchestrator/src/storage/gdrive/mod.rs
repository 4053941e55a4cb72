//! Our opendal service for Google Drive, streaming uploads with one chunk in memory.
//!
//! opendal's stock `gdrive` service holds a whole file in memory and sends it in one request; it
//! knows neither shared drives, folder IDs nor service accounts. This one speaks Drive v3
//! directly: resumable uploads (`writer.rs`), paged listings, streaming reads, trash or permanent
//! deletes, service-account or OAuth credentials (`auth.rs`).
//!
//! Paths are `FOLDER_ID/NAME`: a folder is addressed by its Drive ID, a file by its name in that
//! folder, or by its file ID passed as the opendal `version`. Writes always create a new file.
//! Entries carry the file ID as `version`, the md5 as `etag`, the creation time as
//! `last_modified`, and appProperties as user metadata, next to Drive's checksums under the
//! reserved keys [`META_SHA256`] and [`META_MD5`].

mod auth;
mod core;
mod deleter;
mod error;
pub use error::error_counts;
mod inspect;
pub use auth::GOOGLE_TOKEN_URI;
pub use inspect::{About, Acting, FolderInfo};
mod lister;
mod pool;
mod reader;
mod writer;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use opendal::raw::{
    OpCopy, OpCreateDir, OpList, OpPresign, OpRead, OpRename, OpStat, OpWrite, RpCreateDir, RpPresign, RpRename,
    RpStat, Service, ServiceInfo, oio,
};
use opendal::{Builder, Capability, Configurator, Error, ErrorKind, OperationContext};
use serde::{Deserialize, Serialize};

pub use self::core::{DeleteMode, META_MD5, META_PARENTS, META_SHA256, UploadMeter};
use self::core::{DriveCore, DriveFile, RESERVED_PREFIX, RetryPolicy};
use self::error::DriveError;

/// The scheme name of this service.
pub const SCHEME: &str = "gdrive-stream";
const ALIGNMENT: usize = 256 * 1024;

/// Settings of the Drive service.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GdriveConfig {
    /// Google credentials JSON (service-account key or OAuth authorized user), the document itself.
    pub credentials: String,
    /// User to impersonate through domain-wide delegation (service accounts only).
    pub subject: Option<String>,
    /// API base URL.
    pub endpoint: String,
    /// Token endpoint, overriding the one in the credentials.
    pub token_uri: Option<String>,
    /// Upload chunk size: a multiple of 256 KiB.
    pub chunk_size: usize,
    /// Trash or delete for good.
    pub delete: DeleteMode,
    /// Retries of a failing call before giving up.
    pub max_retries: u32,
    /// First pause between retries, in milliseconds (doubling each time, with jitter).
    pub retry_delay_ms: u64,
    /// Longest pause between retries, in milliseconds.
    pub retry_max_delay_ms: u64,
    /// Files asked for per listing page (Drive allows up to 1000).
    pub page_size: u32,
    /// Memory, shared by all uploads of the process, for reading a chunk ahead while the
    /// previous one uploads; each upload also holds one chunk of its own.
    pub read_ahead_budget: usize,
}

impl Default for GdriveConfig {
    fn default() -> Self {
        GdriveConfig {
            credentials: String::new(),
            subject: None,
            endpoint: "https://www.googleapis.com".into(),
            token_uri: None,
            chunk_size: 8 * 1024 * 1024,
            delete: DeleteMode::Trash,
            max_retries: 8,
            retry_delay_ms: 1000,
            retry_max_delay_ms: 32_000,
            page_size: 1000,
            read_ahead_budget: 64 * 1024 * 1024,
        }
    }
}

impl fmt::Debug for GdriveConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GdriveConfig")
            .field("credentials", &"[redacted]")
            .field("subject", &self.subject)
            .field("endpoint", &self.endpoint)
            .field("token_uri", &self.token_uri)
            .field("chunk_size", &self.chunk_size)
            .field("read_ahead_budget", &self.read_ahead_budget)
            .field("delete", &self.delete)
            .finish_non_exhaustive()
    }
}

impl Configurator for GdriveConfig {
    type Builder = GdriveBuilder;

    fn into_builder(self) -> GdriveBuilder {
        GdriveBuilder { config: self, core: None }
    }
}

/// Builds the Drive service.
#[derive(Debug, Default)]
pub struct GdriveBuilder {
    config: GdriveConfig,
    core: Option<Arc<DriveCore>>,
}

/// A handle on the Drive service for what opendal has no operation for (updating appProperties,
/// the account, connecting one).
#[derive(Debug, Clone)]
pub struct GdriveHandle {
    core: Arc<DriveCore>,
    /// The token endpoint a connected account's refresh token goes to.
    token_uri: String,
    /// Started without credentials: an account connected in the UI is used.
    connectable: bool,
}

/// A Google account connected through the OAuth web-server flow.
pub struct ConnectedUser {
    /// The OAuth client it was authorized for.
    pub client_id: String,
    /// That client's secret.
    pub client_secret: secrecy::SecretString,
    /// The long-lived refresh token.
    pub refresh_token: secrecy::SecretString,
    /// The account's email, when known.
    pub email: Option<String>,
    /// Granted only the `drive.file` scope.
    pub files_only: bool,
}

impl GdriveHandle {
    /// Sets appProperties of a file (an empty value removes the key); returns the file's metadata.
    pub async fn set_app_properties(
        &self,
        file_id: &str,
        props: &[(&str, &str)],
    ) -> opendal::Result<opendal::Metadata> {
        if let Some((k, _)) = props.iter().find(|(k, _)| k.starts_with(RESERVED_PREFIX)) {
            return Err(Error::new(ErrorKind::Unsupported, format!("appProperties key {k:?} is reserved")));
        }
        Ok(self.core.patch_app_properties(file_id, props).await?.metadata())
    }

    /// True when the service started without `GDRIVE_CREDENTIALS`: it uses the account connected
    /// on the Destination page.
    pub fn connectable(&self) -> bool {
        self.connectable
    }

    /// Uses this connected account from now on, or none (every call then says Drive is not
    /// connected). Folders are looked up again: what the account sees may differ.
    pub async fn connect(&self, user: Option<ConnectedUser>) {
        let credentials = user.map(|u| auth::Credentials::AuthorizedUser {
            client_id: u.client_id,
            client_secret: u.client_secret,
            refresh_token: u.refresh_token,
            token_uri: self.token_uri.clone(),
            email: u.email,
            files_only: u.files_only,
        });
        self.core.tokens.replace(credentials).await;
        self.core.forget_folders();
    }

    /// Why Google refused the connected account's refresh token, if it did since it was connected.
    pub fn refused(&self) -> Option<String> {
        self.core.tokens.refused()
    }

    /// A meter counting what Drive acknowledges of the next upload to `path` (`FOLDER_ID/NAME`).
    pub fn meter(&self, path: &str) -> UploadMeter {
        self.core.meter(path)
    }

    /// The Google account uploads are counted against (Drive's daily upload limit is per user):
    /// the delegated subject, else the service account's email.
    pub fn account(&self) -> String {
        let tokens = &self.core.tokens;
        match tokens.subject() {
            Some(subject) => subject.to_owned(),
            None => match tokens.credentials().as_deref() {
                Some(auth::Credentials::AuthorizedUser { email: Some(email), .. }) => email.clone(),
                Some(auth::Credentials::AuthorizedUser { email: None, .. }) => "oauth-user".to_owned(),
                _ => self.core.principal(),
            },
        }
    }
}

/// True when `e` is Drive's answer at the account's daily upload limit: no retry helps until
/// enough of the day's uploads age out. (Rate limits that pass are temporary; this one is not.)
pub fn is_upload_cap(e: &opendal::Error) -> bool {
    e.kind() == ErrorKind::RateLimited && !e.is_temporary()
}

impl GdriveBuilder {
    /// A builder from settings.
    pub fn new(config: GdriveConfig) -> Self {
        GdriveBuilder { config, core: None }
    }

    /// Checks the settings and prepares the shared client; keep the handle for
    /// [`GdriveHandle::set_app_properties`] and pass the builder on to `Operator::new`.
    pub fn prepare(mut self) -> opendal::Result<(Self, GdriveHandle)> {
        let core = Arc::new(self.make_core()?);
        self.core = Some(core.clone());
        let token_uri = self.config.token_uri.clone().unwrap_or_else(|| auth::GOOGLE_TOKEN_URI.to_owned());
        let connectable = self.config.credentials.trim().is_empty();
        Ok((self, GdriveHandle { core, token_uri, connectable }))
    }

    fn make_core(&self) -> opendal::Result<DriveCore> {
        let c = &self.config;
        let invalid = |m: String| Error::new(ErrorKind::ConfigInvalid, m);
        if c.chunk_size < ALIGNMENT || !c.chunk_size.is_multiple_of(ALIGNMENT) {
            return Err(invalid(format!(
                "GDRIVE_CHUNK_SIZE is {} bytes: use a multiple of 262144 (256 KiB), e.g. 8388608 (8 MiB)",
                c.chunk_size
            )));
        }
        if !(1..=1000).contains(&c.page_size) {
            return Err(invalid(format!("the Drive page size is {}: use 1 to 1000", c.page_size)));
        }
        let api = reqwest::Url::parse(&c.endpoint)
            .map_err(|e| invalid(format!("GDRIVE_ENDPOINT {:?} is not a URL: {e}", c.endpoint)))?;
        // Without credentials, Drive waits for an account to be connected (see `connect`).
        let credentials = match c.credentials.trim() {
            "" => None,
            json => Some(auth::Credentials::parse(json, c.token_uri.as_deref()).map_err(|e| invalid(e.to_string()))?),
        };
        if c.subject.is_some() && !credentials.as_ref().is_some_and(auth::Credentials::is_service_account) {
            return Err(invalid(
                "GDRIVE_SUBJECT works only with a service account key: unset it or use a service account".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| invalid(format!("could not build the HTTP client: {e}")))?;
        let tokens = auth::TokenSource::new(credentials, c.subject.clone(), http.clone());
        let retry = RetryPolicy {
            max_retries: c.max_retries,
            base: Duration::from_millis(c.retry_delay_ms),
            max: Duration::from_millis(c.retry_max_delay_ms.max(c.retry_delay_ms)),
        };
        Ok(DriveCore::new(api, http, tokens, c.chunk_size, c.delete, retry, c.page_size, c.read_ahead_budget))
    }
}

impl Builder for GdriveBuilder {
    type Config = GdriveConfig;

    fn build(self) -> opendal::Result<impl Service> {
        let core = match self.core {
            Some(core) => core,
            None => Arc::new(self.make_core()?),
        };
        Ok(GdriveService { core })
    }
}

/// The opendal service (only reachable through an `Operator`).
#[derive(Debug, Clone)]
pub(crate) struct GdriveService {
    core: Arc<DriveCore>,
}

/// Splits `FOLDER_ID/NAME`.
fn split_path(path: &str) -> opendal::Result<(&str, &str)> {
    let path = path.trim_start_matches('/');
    match path.split_once('/') {
        Some((folder, name)) if !folder.is_empty() && !name.is_empty() && !name.contains('/') => Ok((folder, name)),
        _ => Err(Error::new(
            ErrorKind::NotFound,
            format!("{path:?} is not FOLDER_ID/NAME: Drive files are addressed by folder ID and name"),
        )),
    }
}

/// The file at `FOLDER_ID/NAME`, or NotFound.
async fn resolve(core: &DriveCore, path: &str) -> opendal::Result<DriveFile> {
    let (folder, name) = split_path(path)?;
    let folder = core.folder(folder).await?;
    core.find(&folder, name)
        .await?
        .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no file named {name:?} in Drive folder {}", folder.id)))
}

fn unsupported(what: &str) -> Error {
    Error::new(ErrorKind::Unsupported, format!("the Drive service does not support {what}"))
}

impl Service for GdriveService {
    type Reader = oio::StreamReader<reader::DriveReader>;
    type Writer = writer::DriveWriter;
    type Lister = oio::PageLister<lister::DriveLister>;
    type Deleter = oio::OneShotDeleter<deleter::DriveDeleter>;
    type Copier = ();
    type Composer = ();

    fn info(&self) -> ServiceInfo {
        ServiceInfo::new(SCHEME, "/", "")
    }

    fn capability(&self) -> Capability {
        Capability {
            stat: true,
            stat_with_version: true,
            read: true,
            read_with_version: true,
            write: true,
            write_can_multi: true,
            write_can_empty: true,
            write_with_content_type: true,
            write_with_if_not_exists: true,
            write_with_user_metadata: true,
            delete: true,
            delete_with_version: true,
            list: true,
            shared: true,
            ..Default::default()
        }
    }

    async fn create_dir(&self, _: &OperationContext, _: &str, _: OpCreateDir) -> opendal::Result<RpCreateDir> {
        Err(unsupported("creating folders (create it in Drive and use its ID)"))
    }

    async fn stat(&self, _: &OperationContext, path: &str, args: OpStat) -> opendal::Result<RpStat> {
        let file = match args.version() {
            Some(id) => self.core.get(id).await.map_err(|e: DriveError| Error::from(e))?,
            None if path.trim_end_matches('/').split('/').count() == 1 => {
                let id = path.trim_matches('/');
                let folder = self.core.folder(id).await?;
                let mut meta = opendal::MetadataBuilder::dir();
                meta.version(folder.id);
                return Ok(RpStat::new(meta.build()));
            }
            None => resolve(&self.core, path).await?,
        };
        Ok(RpStat::new(file.metadata()))
    }

    fn read(&self, _: &OperationContext, path: &str, args: OpRead) -> opendal::Result<Self::Reader> {
        Ok(oio::StreamReader::new(reader::DriveReader {
            core: self.core.clone(),
            path: path.to_owned(),
            file_id: args.version().map(str::to_owned),
        }))
    }

    fn write(&self, _: &OperationContext, path: &str, args: OpWrite) -> opendal::Result<Self::Writer> {
        let (folder, name) = split_path(path)?;
        let mut props = BTreeMap::new();
        if let Some(user) = args.user_metadata() {
            for (k, v) in user {
                if k.starts_with(RESERVED_PREFIX) {
                    return Err(Error::new(ErrorKind::Unsupported, format!("user metadata key {k:?} is reserved")));
                }
                props.insert(k.to_owned(), v.to_owned());
            }
        }
        let content_type = args.content_type().unwrap_or("application/octet-stream").to_owned();
        Ok(writer::DriveWriter::new(
            self.core.clone(),
            folder.to_owned(),
            name.to_owned(),
            content_type,
            props,
            args.if_not_exists(),
        ))
    }

    fn delete(&self, _: &OperationContext) -> opendal::Result<Self::Deleter> {
        Ok(oio::OneShotDeleter::new(deleter::DriveDeleter { core: self.core.clone() }))
    }

    fn list(&self, _: &OperationContext, path: &str, _: OpList) -> opendal::Result<Self::Lister> {
        let folder_id = path.trim_matches('/');
        if folder_id.is_empty() || folder_id.contains('/') {
            return Err(Error::new(ErrorKind::NotFound, format!("list {path:?}: give a Drive folder ID")));
        }
        Ok(oio::PageLister::new(lister::DriveLister { core: self.core.clone(), folder_id: folder_id.to_owned() }))
    }

    fn copy(&self, _: &OperationContext, _: &str, _: &str, _: OpCopy) -> opendal::Result<Self::Copier> {
        Err(unsupported("copy"))
    }

    async fn rename(&self, _: &OperationContext, _: &str, _: &str, _: OpRename) -> opendal::Result<RpRename> {
        Err(unsupported("rename"))
    }

    async fn presign(&self, _: &OperationContext, _: &str, _: OpPresign) -> opendal::Result<RpPresign> {
        Err(unsupported("presigned URLs"))
    }
}
