//! `SECRET_KEY` and what it protects: app tokens (and other secret settings) are sealed with
//! AES-256-GCM under a key derived from it, so the database never holds them in clear.
//!
//! With SQLite the key is generated on first start into a file beside the database; with
//! PostgreSQL it is required and every replica must share it: its fingerprint is stored in the
//! database, and a process with another key refuses to start rather than fail to decrypt later.

use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{hmac, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};
use secrecy::{ExposeSecret, SecretString};

use crate::db::entities::setting;

const SEALED_PREFIX: &str = "v1.";
const FINGERPRINT_KEY: &str = "secret_key_fingerprint";

/// Seals and opens secrets with the key derived from `SECRET_KEY`.
pub struct SecretBox {
    key: LessSafeKey,
    fingerprint: String,
    /// Key material of the orchestrator's own backups (see `crate::selfbackup::seal`), derived
    /// apart from the sealing key so that neither reveals the other.
    self_backup: [u8; 32],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBox(fingerprint {})", self.fingerprint)
    }
}

fn derive(secret: &str, purpose: &str) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()), purpose.as_bytes())
}

/// Why a secret could not be sealed, opened or kept: what went wrong and what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SecretError(String);

impl SecretError {
    /// True when the message mentions `text`.
    pub fn contains(&self, text: &str) -> bool {
        self.0.contains(text)
    }
}

impl From<String> for SecretError {
    fn from(message: String) -> Self {
        SecretError(message)
    }
}

impl From<&str> for SecretError {
    fn from(message: &str) -> Self {
        SecretError(message.to_owned())
    }
}

impl SecretBox {
    /// Derives the sealing key from `SECRET_KEY` (at least 32 characters).
    pub fn new(secret_key: &SecretString) -> Result<Self, SecretError> {
        let secret = secret_key.expose_secret();
        if secret.trim().len() < 32 {
            return Err(
                "SECRET_KEY is shorter than 32 characters: use a long random value, e.g. `openssl rand -hex 32`".into(),
            );
        }
        let material = derive(secret, "backup-orchestrator: seal secrets v1");
        let key = UnboundKey::new(&AES_256_GCM, material.as_ref())
            .map_err(|_| "could not derive the sealing key".to_owned())?;
        let fingerprint = hex::encode(&derive(secret, "backup-orchestrator: fingerprint v1").as_ref()[..8]);
        let mut self_backup = [0u8; 32];
        self_backup.copy_from_slice(derive(secret, "backup-orchestrator: self-backup v1").as_ref());
        Ok(SecretBox { key: LessSafeKey::new(key), fingerprint, self_backup })
    }

    /// A short public fingerprint of the key, to tell keys apart without revealing them.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The key material self-backups are sealed with (never logged, never stored).
    pub(crate) fn self_backup_material(&self) -> &[u8; 32] {
        &self.self_backup
    }

    /// Seals `plain` with a fresh random nonce.
    pub fn seal(&self, plain: &SecretString) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce).expect("the system random generator works");
        let mut data = plain.expose_secret().as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .expect("AES-GCM sealing of a small value cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens what [`SecretBox::seal`] produced; fails if it was made with another key or altered.
    pub fn open(&self, sealed: &str) -> Result<SecretString, SecretError> {
        let bad = || {
            SecretError::from(
                "a stored secret cannot be decrypted: it was sealed with another SECRET_KEY or altered".to_owned(),
            )
        };
        let raw = sealed.strip_prefix(SEALED_PREFIX).ok_or_else(bad)?;
        let mut raw = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        if raw.len() < NONCE_LEN {
            return Err(bad());
        }
        let mut data = raw.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&raw).map_err(|_| bad())?;
        let plain = self.key.open_in_place(nonce, Aad::empty(), &mut data).map_err(|_| bad())?;
        String::from_utf8(plain.to_vec()).map(SecretString::from).map_err(|_| bad())
    }
}

/// `SECRET_KEY` from the environment; with SQLite, when unset, read from (or generated into)
/// `secret.key` beside the database file.
pub fn load_key(configured: Option<SecretString>, sqlite_file: Option<&Path>) -> Result<SecretString, SecretError> {
    if let Some(key) = configured {
        return Ok(key);
    }
    let Some(db_file) = sqlite_file else {
        return Err("SECRET_KEY is required with PostgreSQL, and every replica must use the same one: generate one with `openssl rand -hex 32`".into());
    };
    let path: PathBuf = db_file.parent().map(|p| p.join("secret.key")).unwrap_or_else(|| "secret.key".into());
    match std::fs::read_to_string(&path) {
        Ok(key) => Ok(SecretString::from(key.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            rand::fill(&mut bytes).map_err(|_| "the system random generator failed".to_owned())?;
            let key = hex::encode(bytes);
            write_private(&path, &key).map_err(|e| format!("could not write {}: {e}", path.display()))?;
            tracing::warn!(path = %path.display(), "generated a new SECRET_KEY; back this file up with the database");
            Ok(SecretString::from(key))
        }
        Err(e) => Err(SecretError(format!("could not read {}: {e}", path.display()))),
    }
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(content.as_bytes())?;
    file.write_all(b"\n")
}

/// Records the key's fingerprint on first use; refuses a different key afterwards.
pub async fn check_fingerprint(db: &DatabaseConnection, secrets: &SecretBox) -> Result<(), SecretError> {
    let stored = setting::Entity::find_by_id(FINGERPRINT_KEY.to_owned()).one(db).await.map_err(|e| e.to_string())?;
    match stored {
        Some(row) if row.value == secrets.fingerprint() => Ok(()),
        Some(row) => Err(SecretError(format!(
            "SECRET_KEY does not match the key this database was set up with (fingerprint {} instead of {}): start every process with the same SECRET_KEY, or the stored app tokens cannot be decrypted",
            secrets.fingerprint(),
            row.value
        ))),
        None => {
            let row = setting::ActiveModel {
                key: Set(FINGERPRINT_KEY.to_owned()),
                value: Set(secrets.fingerprint().to_owned()),
            };
            setting::Entity::insert(row).exec(db).await.map_err(|e| e.to_string())?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn sealed_secrets_open_only_with_the_same_key() {
        let a = SecretBox::new(&secret(&"a".repeat(40))).unwrap();
        let b = SecretBox::new(&secret(&"b".repeat(40))).unwrap();
        let sealed = a.seal(&secret("app-token-123"));
        assert!(!sealed.contains("app-token-123"));
        assert_ne!(sealed, a.seal(&secret("app-token-123")), "every seal uses a fresh nonce");
        assert_eq!(a.open(&sealed).unwrap().expose_secret(), "app-token-123");
        assert!(b.open(&sealed).unwrap_err().contains("another SECRET_KEY"));
        let mut tampered = sealed.clone();
        // Change the last character (to one it is not), so the tag no longer matches.
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(a.open(&tampered).is_err());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(SecretBox::new(&secret("short")).unwrap_err().contains("32 characters"));
    }

    #[test]
    fn with_sqlite_a_key_is_generated_once_and_reused() {
        let dir = std::env::temp_dir().join(format!(
            "orch-key-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        let db = dir.join("orchestrator.db");
        let first = load_key(None, Some(&db)).unwrap();
        let second = load_key(None, Some(&db)).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert_eq!(first.expose_secret().len(), 64);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.join("secret.key")).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(load_key(None, None).unwrap_err().contains("required with PostgreSQL"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
