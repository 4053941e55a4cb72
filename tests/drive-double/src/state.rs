//! The double's whole world: items, shared drives, principals, tokens, upload sessions and pending faults.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use md5::{Digest, Md5};
use sha2::Sha256;

use crate::errors::ApiError;
use crate::grants::OAuth;
use crate::{FileInfo, RateLimit, RequestRecord, clock};

pub(crate) const FOLDER_MIME: &str = "application/vnd.google-apps.folder";
pub(crate) const SERVICE_ACCOUNT_EMAIL: &str = "backup-bot@test-project.iam.gserviceaccount.com";
pub(crate) const SERVICE_ACCOUNT_CLIENT_ID: &str = "104270653281537491234";
pub(crate) const PRIVATE_KEY_ID: &str = "5c3f1e2d9a8b7c6d5e4f30211a2b3c4d5e6f7a8b";
pub(crate) const PROJECT_ID: &str = "test-project";
pub(crate) const USER_EMAIL: &str = "operator@example.com";
pub(crate) const OAUTH_CLIENT_ID: &str = "123456789012-drivedouble.apps.googleusercontent.com";
pub(crate) const OAUTH_CLIENT_SECRET: &str = "GOCSPX-drive-double-secret";
pub(crate) const REFRESH_TOKEN: &str = "1//0drive-double-refresh-token";
pub(crate) const DRIVE_SCOPE: &str = "https://www.googleapis.com/auth/drive";
pub(crate) const DRIVE_FILE_SCOPE: &str = "https://www.googleapis.com/auth/drive.file";
/// The free storage of a Google Account, "15 GB", which about.get reports as 16106127360 bytes.
pub(crate) const USER_STORAGE_LIMIT: u64 = 15 * 1024 * 1024 * 1024;

/// State shared by the server tasks and the in-process handle.
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    pub(crate) hash_only: bool,
    pub(crate) endpoint: String,
    /// Base of the token and revocation endpoints (Google: `https://oauth2.googleapis.com`).
    pub(crate) oauth_endpoint: String,
    /// Base of the consent page (Google: `https://accounts.google.com`).
    pub(crate) auth_endpoint: String,
    max_upload_body: AtomicU64,
}

impl Shared {
    pub(crate) fn new(
        endpoint: String,
        oauth_endpoint: String,
        auth_endpoint: String,
        hash_only: bool,
        token_ttl: Duration,
    ) -> Self {
        Shared {
            auth_endpoint,
            inner: Mutex::new(Inner::new(token_ttl)),
            hash_only,
            endpoint,
            oauth_endpoint,
            max_upload_body: AtomicU64::new(0),
        }
    }

    /// A panicking test thread must not wedge every later request, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn token_uri(&self) -> String {
        format!("{}/token", self.oauth_endpoint)
    }

    pub(crate) fn note_upload_body(&self, bytes: u64) {
        self.max_upload_body.fetch_max(bytes, Ordering::Relaxed);
    }

    pub(crate) fn max_upload_body(&self) -> u64 {
        self.max_upload_body.load(Ordering::Relaxed)
    }
}

/// Who a token acts as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Principal {
    pub(crate) email: String,
    /// A service account acting as itself: it has no storage quota of its own.
    pub(crate) service_account: bool,
    /// The OAuth client the token was issued to (none for service-account JWT grants).
    pub(crate) client: Option<String>,
    /// The token has `drive.file` without `drive`: it sees only what its client created or was given.
    pub(crate) drive_file_only: bool,
}

impl Principal {
    /// A service account acting as itself, or as `email` through domain-wide delegation.
    pub(crate) fn service(email: &str, service_account: bool) -> Self {
        Principal { email: email.to_owned(), service_account, client: None, drive_file_only: false }
    }

    /// A user through an OAuth client, with the scopes the user granted it.
    pub(crate) fn user(email: &str, client: &str, scopes: &[String]) -> Self {
        let has = |wanted: &str| scopes.iter().any(|scope| scope == wanted);
        Principal {
            email: email.to_owned(),
            service_account: false,
            client: Some(client.to_owned()),
            drive_file_only: has(DRIVE_FILE_SCOPE) && !has(DRIVE_SCOPE),
        }
    }
}

pub(crate) struct Token {
    pub(crate) principal: Principal,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires_at: Instant,
    /// The grant it came from (a refresh token or an exchanged code); revoking the grant ends the token.
    pub(crate) grant: Option<String>,
}

pub(crate) struct SharedDrive {
    pub(crate) name: String,
    pub(crate) members: BTreeSet<String>,
}

/// A file or folder. Shared-drive roots and My Drive roots are items too.
#[derive(Clone)]
pub(crate) struct Item {
    pub(crate) id: String,
    pub(crate) seq: u64,
    pub(crate) name: String,
    pub(crate) mime_type: String,
    pub(crate) parents: Vec<String>,
    pub(crate) drive_id: Option<String>,
    /// Owner in My Drive; the creating principal for shared-drive items (which Google reports without owners).
    pub(crate) owner: String,
    pub(crate) created_ms: i64,
    pub(crate) modified_ms: i64,
    pub(crate) app_properties: BTreeMap<String, String>,
    pub(crate) properties: BTreeMap<String, String>,
    pub(crate) description: Option<String>,
    pub(crate) explicitly_trashed: bool,
    pub(crate) size: u64,
    /// The checksums Drive reports (wrong on purpose after `corrupt_next_checksum`).
    pub(crate) md5: String,
    pub(crate) sha256: String,
    pub(crate) content: Option<Bytes>,
    pub(crate) shared_with: BTreeSet<String>,
    /// OAuth clients a `drive.file` token may use it through: the creating client, and apps it was opened
    /// with (the Picker).
    pub(crate) apps: BTreeSet<String>,
    pub(crate) is_root: bool,
    pub(crate) version: u64,
}

impl Item {
    pub(crate) fn is_folder(&self) -> bool {
        self.mime_type == FOLDER_MIME
    }
}

/// Metadata of a file about to be created (by an upload or files.create).
#[derive(Clone, Debug, Default)]
pub(crate) struct NewFile {
    pub(crate) name: String,
    pub(crate) mime_type: String,
    pub(crate) parent: String,
    pub(crate) drive_id: Option<String>,
    pub(crate) app_properties: BTreeMap<String, String>,
    pub(crate) properties: BTreeMap<String, String>,
    pub(crate) description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SessionState {
    Open,
    Finished(String),
    Cancelled,
    Expired,
}

pub(crate) struct Session {
    pub(crate) principal: Principal,
    pub(crate) file: NewFile,
    pub(crate) total: Option<u64>,
    pub(crate) committed: u64,
    pub(crate) md5: Md5,
    pub(crate) sha256: Sha256,
    pub(crate) content: Option<Vec<u8>>,
    pub(crate) state: SessionState,
}

/// One-shot faults armed by the control API.
#[derive(Default)]
pub(crate) struct Faults {
    pub(crate) fail_chunks: usize,
    pub(crate) fail_status: u16,
    pub(crate) rate_limits: usize,
    pub(crate) rate_limit_kind: Option<RateLimit>,
    pub(crate) partial_ack: Option<u64>,
    pub(crate) drop_connection: bool,
    pub(crate) corrupt_checksum: bool,
    pub(crate) daily_cap: Option<u64>,
    pub(crate) expire_after_chunks: Option<usize>,
    pub(crate) revoke_after_chunks: Option<usize>,
    pub(crate) chunk_pause: Duration,
    pub(crate) refuse_grants_after_chunks: Option<usize>,
    /// Storage limit per principal's email, in bytes, for what it owns in My Drive.
    pub(crate) storage_quota: HashMap<String, u64>,
    pub(crate) shared_drive_item_limit: Option<usize>,
    pub(crate) folder_children_limit: Option<usize>,
}

impl Faults {
    pub(crate) fn take_rate_limit(&mut self) -> Option<RateLimit> {
        if self.rate_limits == 0 {
            return None;
        }
        self.rate_limits -= 1;
        self.rate_limit_kind
    }

    /// Counts one committed chunk down; true when the armed trigger fires.
    fn count_down(slot: &mut Option<usize>) -> bool {
        match slot {
            Some(left) if *left <= 1 => {
                *slot = None;
                true
            }
            Some(left) => {
                *left -= 1;
                false
            }
            None => false,
        }
    }

    pub(crate) fn take_chunk_failure(&mut self) -> Option<u16> {
        if self.fail_chunks == 0 {
            return None;
        }
        self.fail_chunks -= 1;
        Some(self.fail_status)
    }
}

pub(crate) struct Inner {
    pub(crate) items: HashMap<String, Item>,
    pub(crate) roots: HashMap<String, String>,
    pub(crate) drives: HashMap<String, SharedDrive>,
    pub(crate) delegation: BTreeSet<String>,
    pub(crate) tokens: HashMap<String, Token>,
    pub(crate) token_ttl: Duration,
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) faults: Faults,
    pub(crate) uploaded_today: u64,
    pub(crate) requests: Vec<RequestRecord>,
    /// The token endpoint answers every grant with `invalid_grant` (credentials revoked or deleted).
    pub(crate) grants_refused: bool,
    pub(crate) oauth: OAuth,
    /// How far the double's clock for codes and tokens runs ahead of the real one.
    pub(crate) clock_skew: Duration,
    next_seq: u64,
    last_ms: i64,
}

impl Inner {
    fn new(token_ttl: Duration) -> Self {
        let mut inner = Inner {
            items: HashMap::new(),
            roots: HashMap::new(),
            drives: HashMap::new(),
            delegation: BTreeSet::new(),
            tokens: HashMap::new(),
            token_ttl,
            sessions: HashMap::new(),
            faults: Faults::default(),
            uploaded_today: 0,
            requests: Vec::new(),
            grants_refused: false,
            oauth: OAuth::new(),
            clock_skew: Duration::ZERO,
            next_seq: 0,
            last_ms: 0,
        };
        inner.root_of(USER_EMAIL);
        inner.root_of(SERVICE_ACCOUNT_EMAIL);
        inner
    }

    /// The instant codes and tokens are judged by: real time plus what `advance_clock` added.
    pub(crate) fn now(&self) -> Instant {
        Instant::now() + self.clock_skew
    }

    /// Ends a grant: its refresh token is refused from now on and its access tokens stop working.
    pub(crate) fn revoke_grant(&mut self, grant: &str) {
        self.oauth.revoke(grant);
        self.tokens.retain(|_, token| token.grant.as_deref() != Some(grant));
    }

    /// Strictly increasing milliseconds, so createdTime order is creation order even within one millisecond.
    pub(crate) fn tick(&mut self) -> i64 {
        self.last_ms = clock::now_ms().max(self.last_ms + 1);
        self.last_ms
    }

    /// A fresh item with timestamps and sequence number filled in; the caller inserts it.
    pub(crate) fn blank_item(&mut self, id: String, name: &str, mime_type: &str, owner: &str) -> Item {
        let now = self.tick();
        self.next_seq += 1;
        Item {
            id,
            seq: self.next_seq,
            name: name.to_owned(),
            mime_type: mime_type.to_owned(),
            parents: Vec::new(),
            drive_id: None,
            owner: owner.to_owned(),
            created_ms: now,
            modified_ms: now,
            app_properties: BTreeMap::new(),
            properties: BTreeMap::new(),
            description: None,
            explicitly_trashed: false,
            size: 0,
            md5: String::new(),
            sha256: String::new(),
            content: None,
            shared_with: BTreeSet::new(),
            apps: BTreeSet::new(),
            is_root: false,
            version: 1,
        }
    }

    /// The My Drive root folder of `email`, created on first use.
    pub(crate) fn root_of(&mut self, email: &str) -> String {
        if let Some(id) = self.roots.get(email) {
            return id.clone();
        }
        let id = drive_style_id();
        let mut root = self.blank_item(id.clone(), "My Drive", FOLDER_MIME, email);
        root.is_root = true;
        self.items.insert(id.clone(), root);
        self.roots.insert(email.to_owned(), id.clone());
        id
    }

    pub(crate) fn is_member(&self, drive_id: &str, email: &str) -> bool {
        self.drives.get(drive_id).is_some_and(|drive| drive.members.contains(email))
    }

    fn parent_of(&self, item: &Item) -> Option<&Item> {
        item.parents.first().and_then(|id| self.items.get(id))
    }

    /// Sharing a folder shares everything below it, so the walk goes up the tree.
    pub(crate) fn can_access(&self, email: &str, item: &Item) -> bool {
        if let Some(drive) = &item.drive_id {
            return self.is_member(drive, email);
        }
        let mut current = Some(item);
        let mut depth = 0;
        while let Some(node) = current {
            if node.owner == email || node.shared_with.contains(email) {
                return true;
            }
            depth += 1;
            if depth > 10_000 {
                break;
            }
            current = self.parent_of(node);
        }
        false
    }

    /// `can_access`, narrowed for a `drive.file` token to what its client created or was given; roots stay
    /// usable as parents, since a file created without parents goes to the root.
    pub(crate) fn can_see(&self, who: &Principal, item: &Item) -> bool {
        if !self.can_access(&who.email, item) {
            return false;
        }
        !who.drive_file_only || item.is_root || who.client.as_ref().is_some_and(|client| item.apps.contains(client))
    }

    /// Trashing a folder trashes what is inside it.
    pub(crate) fn is_trashed(&self, item: &Item) -> bool {
        let mut current = Some(item);
        let mut depth = 0;
        while let Some(node) = current {
            if node.explicitly_trashed {
                return true;
            }
            depth += 1;
            if depth > 10_000 {
                break;
            }
            current = self.parent_of(node);
        }
        false
    }

    /// Trash and delete: the owner in My Drive ("Only the owner may trash a file"), any member in a shared drive.
    pub(crate) fn can_manage(&self, email: &str, item: &Item) -> bool {
        match &item.drive_id {
            Some(drive) => self.is_member(drive, email),
            None => item.owner == email,
        }
    }

    pub(crate) fn resolve_alias(&self, who: &Principal, id: &str) -> String {
        if id == "root" { self.roots.get(&who.email).cloned().unwrap_or_default() } else { id.to_owned() }
    }

    /// The item as `who` may see it; anything it may not see is "not found", as Google answers.
    pub(crate) fn lookup(&self, who: &Principal, id: &str, all_drives: bool) -> Result<&Item, ApiError> {
        let resolved = self.resolve_alias(who, id);
        let item = self.items.get(&resolved).ok_or_else(|| ApiError::file_not_found(id))?;
        if item.drive_id.is_some() && !all_drives {
            return Err(ApiError::file_not_found(id));
        }
        if !self.can_see(who, item) {
            return Err(ApiError::file_not_found(id));
        }
        Ok(item)
    }

    /// Checks that `who` may create an item in `parent_id`; returns the resolved parent id and its drive.
    pub(crate) fn check_new_child(
        &self,
        who: &Principal,
        parent_id: &str,
        all_drives: bool,
        uses_quota: bool,
    ) -> Result<(String, Option<String>), ApiError> {
        let parent = self.lookup(who, parent_id, all_drives)?;
        if !parent.is_folder() {
            return Err(ApiError::bad_request("The specified parent is not a folder.").at("parameter", "parents"));
        }
        if parent.drive_id.is_none() && who.service_account && uses_quota {
            return Err(ApiError::service_account_quota());
        }
        if let (Some(drive), Some(limit)) = (&parent.drive_id, self.faults.shared_drive_item_limit)
            && self.items.values().filter(|item| item.drive_id.as_ref() == Some(drive) && !item.is_root).count()
                >= limit
        {
            return Err(ApiError::shared_drive_file_limit());
        }
        if let Some(limit) = self.faults.folder_children_limit
            && !parent.is_root
            && self.items.values().filter(|item| item.parents.contains(&parent.id)).count() >= limit
        {
            return Err(ApiError::folder_children_limit());
        }
        if parent.drive_id.is_none() && uses_quota && self.storage_left(&who.email) == Some(0) {
            return Err(ApiError::storage_quota());
        }
        Ok((parent.id.clone(), parent.drive_id.clone()))
    }

    /// Bytes `email` may still store in My Drive, when a quota was set for it.
    pub(crate) fn storage_left(&self, email: &str) -> Option<u64> {
        let quota = *self.faults.storage_quota.get(email)?;
        let used: u64 = self
            .items
            .values()
            .filter(|item| item.drive_id.is_none() && item.owner == email)
            .map(|item| item.size)
            .sum();
        Some(quota.saturating_sub(used))
    }

    pub(crate) fn descendants(&self, id: &str) -> Vec<String> {
        let mut found = Vec::new();
        let mut queue = vec![id.to_owned()];
        while let Some(current) = queue.pop() {
            for item in self.items.values() {
                if item.parents.contains(&current) && !found.contains(&item.id) {
                    found.push(item.id.clone());
                    queue.push(item.id.clone());
                }
            }
        }
        found
    }

    /// Creates the file an upload finished; the parent is checked again since it may have gone meanwhile.
    pub(crate) fn create_file(
        &mut self,
        who: &Principal,
        file: &NewFile,
        size: u64,
        md5: String,
        sha256: String,
        content: Option<Bytes>,
    ) -> Result<String, ApiError> {
        if !self.items.contains_key(&file.parent) {
            return Err(ApiError::file_not_found(&file.parent));
        }
        let (md5, sha256) = if std::mem::take(&mut self.faults.corrupt_checksum) {
            (corrupt(&md5), corrupt(&sha256))
        } else {
            (md5, sha256)
        };
        let id = random_id("1", 33);
        let mut item = self.blank_item(id.clone(), &file.name, &file.mime_type, &who.email);
        item.parents = vec![file.parent.clone()];
        item.drive_id = file.drive_id.clone();
        item.app_properties = file.app_properties.clone();
        item.properties = file.properties.clone();
        item.description = file.description.clone();
        item.size = size;
        item.md5 = md5;
        item.sha256 = sha256;
        item.content = content;
        item.apps.extend(who.client.iter().cloned());
        self.items.insert(id.clone(), item);
        Ok(id)
    }

    /// Runs the triggers armed to fire after a number of committed chunks.
    pub(crate) fn chunk_committed(&mut self) {
        if Faults::count_down(&mut self.faults.expire_after_chunks) {
            self.expire_sessions();
        }
        if Faults::count_down(&mut self.faults.revoke_after_chunks) {
            self.tokens.clear();
        }
        if Faults::count_down(&mut self.faults.refuse_grants_after_chunks) {
            self.tokens.clear();
            self.grants_refused = true;
        }
    }

    pub(crate) fn expire_sessions(&mut self) {
        for session in self.sessions.values_mut() {
            if session.state == SessionState::Open {
                session.state = SessionState::Expired;
                session.content = None;
            }
        }
    }

    /// Whether today's upload volume reached the cap; a chunk already past this check still commits.
    pub(crate) fn over_daily_cap(&self) -> bool {
        self.faults.daily_cap.is_some_and(|cap| self.uploaded_today >= cap)
    }

    pub(crate) fn info(&self, item: &Item) -> FileInfo {
        FileInfo {
            id: item.id.clone(),
            name: item.name.clone(),
            mime_type: item.mime_type.clone(),
            parents: item.parents.clone(),
            size: item.size,
            md5: item.md5.clone(),
            sha256: item.sha256.clone(),
            created_time: clock::format_rfc3339(item.created_ms),
            app_properties: item.app_properties.clone(),
            trashed: self.is_trashed(item),
            drive_id: item.drive_id.clone(),
            owner: item.owner.clone(),
        }
    }
}

/// Lowercase hex digests of `data`: (md5, sha256).
pub(crate) fn digests(data: &[u8]) -> (String, String) {
    (hex::encode(Md5::digest(data)), hex::encode(Sha256::digest(data)))
}

/// A different but well-formed hex digest of the same length.
fn corrupt(hex_digest: &str) -> String {
    let mut chars: Vec<char> = hex_digest.chars().collect();
    if let Some(first) = chars.first_mut() {
        *first = if *first == '0' { '1' } else { '0' };
    }
    chars.into_iter().collect()
}

/// Root folders and shared drives carry ids of this shape in Drive.
pub(crate) fn drive_style_id() -> String {
    format!("{}Uk9PVA", random_id("0A", 13))
}

/// Unpredictable identifiers (file ids, upload ids, tokens) without a random-number crate:
/// SipHash with per-process random keys over a counter.
pub(crate) fn random_id(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let keys = KEYS.get_or_init(RandomState::new);
    let mut out = String::with_capacity(len);
    out.push_str(prefix);
    while out.len() < len {
        let mut value = keys.hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
        for _ in 0..10 {
            out.push(char::from(ALPHABET[(value & 63) as usize]));
            value >>= 6;
        }
    }
    out.truncate(len);
    out
}
