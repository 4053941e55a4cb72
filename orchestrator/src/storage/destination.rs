//! One adapter over every destination: builds the opendal operator for the configured storage,
//! adds concurrency-limit and logging layers, and retry for reads, lists and deletes only.
//!
//! Writes go through an operator WITHOUT the retry layer: a retried `close()` could finalize an
//! upload twice, and the Drive writer owns its retries.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use opendal::layers::{ConcurrentLimitLayer, LoggingLayer, RetryLayer};
use opendal::{Entry, ErrorKind, Metadata, Operator};
use secrecy::ExposeSecret;

use crate::catalogue::Msg;
use crate::config::storage::StorageSettings;
use crate::storage::gdrive::{GdriveBuilder, GdriveHandle, META_MD5, META_PARENTS, META_SHA256, UploadMeter};

/// How many storage operations run at once per process.
const CONCURRENCY: usize = 32;

/// A file in a destination folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Drive file id; the name on `fs` and `s3`.
    pub id: String,
    /// File name.
    pub name: String,
    /// Size in bytes, as the destination reports it.
    pub size: u64,
    /// Creation time (RFC 3339), when known.
    pub created: Option<String>,
    /// sha256 the destination computed itself (Drive), when it does.
    pub sha256: Option<String>,
    /// md5 the destination computed itself (Drive), when it does.
    pub md5: Option<String>,
    /// Properties stored with the file (Drive appProperties).
    pub properties: BTreeMap<String, String>,
}

/// A configured destination.
#[derive(Debug, Clone)]
pub struct Destination {
    kind: &'static str,
    location: String,
    read_op: Operator,
    write_op: Operator,
    write_chunk: Option<usize>,
    gdrive: Option<GdriveHandle>,
}

impl Destination {
    /// Opens the destination the settings describe.
    pub fn open(settings: &StorageSettings) -> opendal::Result<Self> {
        // The stock services (s3) send through opendal's process-wide HTTP transport.
        opendal::install_default();
        let (kind, location, base, write_chunk, gdrive) = match settings {
            StorageSettings::Gdrive(config) => {
                let (builder, handle) = GdriveBuilder::new(config.clone()).prepare()?;
                ("gdrive", String::new(), Operator::new(builder)?, None, Some(handle))
            }
            StorageSettings::Fs { root } => {
                let root = std::path::absolute(root).map_err(|e| {
                    opendal::Error::new(ErrorKind::ConfigInvalid, format!("FS_ROOT {}: {e}", root.display()))
                })?;
                let builder = opendal::services::Fs::default().root(&root.to_string_lossy());
                ("fs", root.display().to_string(), Operator::new(builder)?, None, None)
            }
            StorageSettings::S3(s3) => {
                let mut builder =
                    opendal::services::S3::default().bucket(&s3.bucket).region(&s3.region).disable_ec2_metadata();
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder.endpoint(endpoint);
                }
                if let Some(key) = &s3.access_key_id {
                    builder = builder.access_key_id(key);
                }
                if let Some(secret) = &s3.secret_access_key {
                    builder = builder.secret_access_key(secret.expose_secret());
                }
                let location = match &s3.endpoint {
                    Some(endpoint) => format!("S3 bucket {} at {endpoint}", s3.bucket),
                    None => format!("S3 bucket {} ({})", s3.bucket, s3.region),
                };
                ("s3", location, Operator::new(builder)?, Some(s3.part_size), None)
            }
        };
        let write_op = base.layer(ConcurrentLimitLayer::new(CONCURRENCY)).layer(LoggingLayer::default());
        let read_op = write_op.clone().layer(RetryLayer::new().with_jitter().with_max_times(4));
        Ok(Destination { kind, location, read_op, write_op, write_chunk, gdrive })
    }

    /// `gdrive`, `fs` or `s3`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Where backups go, in words: the Drive account (as it is now: one may be connected
    /// while the service runs), the local root folder, the bucket.
    pub fn location(&self) -> String {
        match &self.gdrive {
            Some(drive) if drive.acting_as().is_none() => "Google Drive (no account connected)".to_owned(),
            Some(drive) => format!("Google Drive, as {}", drive.principal()),
            None => self.location.clone(),
        }
    }

    /// [`Destination::location`] in `lang`: Drive's words are the catalogue's; a folder or a
    /// bucket is said as it is.
    pub fn location_in(&self, lang: crate::catalogue::Lang) -> String {
        match &self.gdrive {
            Some(drive) if drive.acting_as().is_none() => Msg::new("destination.where.unconnected").render(lang),
            Some(drive) => Msg::new("destination.where.drive").with("account", drive.principal()).render(lang),
            None => self.location.clone(),
        }
    }

    /// The Drive service, for what only Drive has (account, quota, shared drives).
    pub fn drive(&self) -> Option<&GdriveHandle> {
        self.gdrive.as_ref()
    }

    fn path(folder: &str, name: &str) -> opendal::Result<String> {
        let bad = |what: &str| {
            opendal::Error::new(ErrorKind::NotFound, format!("{what}: use a plain name, without '/' or '..'"))
        };
        if folder.is_empty() || folder.starts_with('/') || folder.split('/').any(|p| p == ".." || p == ".") {
            return Err(bad(&format!("folder {folder:?}")));
        }
        if name.is_empty() || name.contains('/') || name == ".." || name == "." {
            return Err(bad(&format!("file name {name:?}")));
        }
        Ok(format!("{}/{name}", folder.trim_end_matches('/')))
    }

    /// A writer for a NEW file `name` in `folder`, never overwriting one. Properties are stored
    /// with the file where the destination can (Drive appProperties).
    pub async fn writer(
        &self,
        folder: &str,
        name: &str,
        content_type: &str,
        properties: &BTreeMap<String, String>,
    ) -> opendal::Result<opendal::Writer> {
        Ok(self.metered_writer(folder, name, content_type, properties).await?.0)
    }

    /// [`Destination::writer`], with a meter of the bytes Drive acknowledged of this upload (on
    /// Drive only: other destinations have no upload budget).
    pub async fn metered_writer(
        &self,
        folder: &str,
        name: &str,
        content_type: &str,
        properties: &BTreeMap<String, String>,
    ) -> opendal::Result<(opendal::Writer, Option<UploadMeter>)> {
        let path = Self::path(folder, name)?;
        // Asked for before the writer exists: the Drive service hands it to the writer it creates.
        let meter = self.gdrive.as_ref().map(|handle| handle.meter(&path));
        let mut writer = self.write_op.writer_with(&path).if_not_exists(true).content_type(content_type);
        if self.gdrive.is_some() {
            writer = writer.user_metadata(properties.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if let Some(chunk) = self.write_chunk {
            writer = writer.chunk(chunk);
        }
        Ok((writer.await?, meter))
    }

    /// The Google account whose daily upload limit uploads count against, on Drive; `None` on
    /// destinations without one.
    pub fn drive_account(&self) -> Option<String> {
        self.gdrive.as_ref().map(GdriveHandle::account)
    }

    /// What the destination says about the file a writer just closed.
    pub fn stored(&self, name: &str, meta: &Metadata) -> StoredFile {
        file_from(name, meta)
    }

    /// True when the destination reports its own checksum of what it stored (Drive); otherwise
    /// verification reads the file back.
    pub fn reports_checksums(&self) -> bool {
        self.gdrive.is_some()
    }

    /// Every file in `folder`, oldest first where the destination orders by creation.
    pub async fn list(&self, folder: &str) -> opendal::Result<Vec<StoredFile>> {
        let dir = Self::path(folder, "x")?.trim_end_matches('x').to_owned();
        let mut lister = match self.read_op.lister(&dir).await {
            Ok(l) => l,
            // An empty local folder that was never written to does not exist yet.
            Err(e) if e.kind() == ErrorKind::NotFound && self.kind != "gdrive" => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut files = Vec::new();
        while let Some(entry) = lister.try_next().await? {
            if let Some(file) = self.entry(&dir, entry).await? {
                files.push(file);
            }
        }
        Ok(files)
    }

    async fn entry(&self, dir: &str, entry: Entry) -> opendal::Result<Option<StoredFile>> {
        let (path, meta) = entry.into_parts();
        if path.ends_with('/') || path == dir {
            return Ok(None);
        }
        let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
        if self.gdrive.is_some() {
            return Ok(Some(file_from(&name, &meta)));
        }
        if name.ends_with(SIDECAR_SUFFIX) {
            return Ok(None);
        }
        // Listings of fs and s3 do not always carry sizes and times: ask.
        let meta = self.read_op.stat(&path).await?;
        let mut file = file_from(&name, &meta);
        file.properties = self.sidecar(&path).await?;
        Ok(Some(file))
    }

    /// The file in `folder` whose name, or else (on Drive) id, is `name_or_id`.
    pub async fn find(&self, folder: &str, name_or_id: &str) -> opendal::Result<Option<StoredFile>> {
        if let Ok(path) = Self::path(folder, name_or_id) {
            match self.read_op.stat(&path).await {
                Ok(meta) => {
                    let mut file = file_from(name_or_id, &meta);
                    if self.gdrive.is_none() {
                        file.properties = self.sidecar(&path).await?;
                    }
                    return Ok(Some(file));
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if self.gdrive.is_none() {
            return Ok(None);
        }
        let path = format!("{}/{name_or_id}", folder.trim_end_matches('/'));
        match self.read_op.stat_with(&path).version(name_or_id).await {
            // A file id from another folder is not this folder's file.
            Ok(meta) if parents(&meta).iter().any(|p| p == folder) => Ok(Some(file_from(name_or_id, &meta))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The properties kept beside a file on fs and s3 (empty when there are none).
    async fn sidecar(&self, path: &str) -> opendal::Result<BTreeMap<String, String>> {
        match self.read_op.read(&format!("{path}{SIDECAR_SUFFIX}")).await {
            Ok(buf) => Ok(serde_json::from_slice(&buf.to_vec()).unwrap_or_default()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(e),
        }
    }

    /// Checks that `stored` is what was sent (`bytes` bytes with this `sha256`): Drive's own
    /// sha256 when it reports one, else the file read back and hashed. No md5 is needed in
    /// flight: it would cost every upload a second hash for the rare file Drive reports without
    /// a sha256, which reading back covers. The error says what differs.
    pub async fn verify_stored(&self, folder: &str, stored: &StoredFile, bytes: u64, sha256: &str) -> Result<(), Msg> {
        use sha2::{Digest, Sha256};
        if self.reports_checksums() {
            if stored.size != bytes {
                return Err(Msg::new("reason.verify.size").with("stored", stored.size).with("sent", bytes));
            }
            match &stored.sha256 {
                Some(theirs) if theirs.eq_ignore_ascii_case(sha256) => return Ok(()),
                Some(theirs) => {
                    return Err(Msg::new("reason.verify.sha256").with("stored", theirs).with("sent", sha256));
                }
                None => {}
            }
        }
        let unread = |e: &dyn std::fmt::Display| Msg::new("reason.verify.unreadable").quoting("detail", e);
        let mut stream = self.reader(folder, stored).await.map_err(|e| unread(&e.message()))?;
        let (mut hasher, mut read) = (Sha256::new(), 0u64);
        while let Some(chunk) = stream.try_next().await.map_err(|e| unread(&e))? {
            read += chunk.len() as u64;
            hasher.update(&chunk);
        }
        let theirs = hex::encode(hasher.finalize());
        if read != bytes || theirs != sha256 {
            return Err(Msg::new("reason.verify.read_back")
                .with("read", read)
                .with("stored", theirs)
                .with("bytes", bytes)
                .with("sent", sha256));
        }
        Ok(())
    }

    /// Streams a file's content.
    pub async fn reader(&self, folder: &str, file: &StoredFile) -> opendal::Result<opendal::FuturesBytesStream> {
        let path = Self::path(folder, &file.name)?;
        let reader = if self.gdrive.is_some() {
            self.read_op.reader_with(&path).version(&file.id).await?
        } else {
            self.read_op.reader(&path).await?
        };
        reader.into_bytes_stream(..).await
    }

    /// Deletes a file (to the trash or for good, on Drive, as `GDRIVE_DELETE` says).
    pub async fn remove(&self, folder: &str, file: &StoredFile) -> opendal::Result<()> {
        let path = Self::path(folder, &file.name)?;
        if self.gdrive.is_some() {
            self.read_op.delete_with(&path).version(&file.id).await
        } else {
            self.read_op.delete(&path).await?;
            self.read_op.delete(&format!("{path}{SIDECAR_SUFFIX}")).await
        }
    }

    /// Records properties of a stored file: Drive appProperties (merged), or on fs and s3, which
    /// cannot change an object's metadata, a small `NAME.props.json` beside it holding all of them.
    pub async fn set_properties(
        &self,
        folder: &str,
        file: &StoredFile,
        props: &BTreeMap<String, String>,
    ) -> opendal::Result<StoredFile> {
        match &self.gdrive {
            Some(handle) => {
                let pairs: Vec<(&str, &str)> = props.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let meta = handle.set_app_properties(&file.id, &pairs).await?;
                Ok(file_from(&file.name, &meta))
            }
            None => {
                let path = format!("{}{SIDECAR_SUFFIX}", Self::path(folder, &file.name)?);
                let mut all = file.properties.clone();
                all.extend(props.iter().map(|(k, v)| (k.clone(), v.clone())));
                let json = serde_json::to_vec(&all).expect("a string map serializes");
                self.write_op.write(&path, json).await?;
                Ok(StoredFile { properties: all, ..file.clone() })
            }
        }
    }
}

/// Suffix of the properties file kept beside a backup on fs and s3.
const SIDECAR_SUFFIX: &str = ".props.json";

fn parents(meta: &Metadata) -> Vec<String> {
    let parents = meta.user_metadata().and_then(|u| u.get(META_PARENTS)).unwrap_or_default();
    parents.split(',').filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

/// The file's own name when the metadata carries it (Drive), else `name`.
fn file_from(name: &str, meta: &Metadata) -> StoredFile {
    let name = meta
        .content_disposition()
        .and_then(|d| d.split_once("filename=\""))
        .map(|(_, rest)| rest.trim_end_matches('"').replace("\\\"", "\""))
        .unwrap_or_else(|| name.to_owned());
    let user = meta.user_metadata();
    let get = |key: &str| user.and_then(|u| u.get(key)).map(str::to_owned);
    let properties = user
        .map(|u| {
            u.into_iter()
                .filter(|(k, _)| !k.starts_with("gdrive."))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    StoredFile {
        id: meta.version().map(str::to_owned).unwrap_or_else(|| name.clone()),
        name,
        size: meta.content_length(),
        created: meta.last_modified().map(|t| t.to_string()),
        sha256: get(META_SHA256),
        md5: get(META_MD5).or_else(|| meta.etag().map(|e| e.trim_matches('"').to_owned()).filter(|e| e.len() == 32)),
        properties,
    }
}
