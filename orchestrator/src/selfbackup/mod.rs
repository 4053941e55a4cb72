//! The orchestrator's own backup and the way back from it.
//!
//! A self-backup is a consistent logical dump of the registry ([`tables`]: apps with their sealed
//! tokens, runs, channels, API tokens, settings…), read in one snapshot transaction, streamed as
//! JSON lines through gzip and sealed with a key derived from `SECRET_KEY` ([`seal`]) into
//! `SELF_BACKUP_FOLDER` of the destination ([`take`]), verified and pruned like any copy.
//! [`recover`] fills an empty database from the newest one and rebuilds the copies inventory
//! from the marks; [`guard`] stops a new database from taking a new deployment id next to the
//! self-backups of an old one before `recover` had its chance.
//!
//! Nothing here ever reads or writes an app's copies except to list them for the inventory.

pub mod dump;
pub mod guard;
pub mod last;
pub mod load;
pub mod recover;
pub mod seal;
pub mod tables;
pub mod take;

use std::collections::BTreeSet;

use crate::backup::inventory::DEPLOYMENT_MARK;
use crate::storage::destination::{Destination, StoredFile};

/// The mark telling a self-backup apart from an app's copy (`kind=self-backup`).
pub const KIND_MARK: &str = "kind";
/// Its value.
pub const KIND: &str = "self-backup";
/// The `format` of the first line.
pub const FORMAT: &str = "backup-orchestrator self-backup";

/// The first line of a self-backup: what it is, and whose.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// Version of the line format (1).
    pub version: u32,
    /// The deployment whose registry it holds.
    pub deployment: String,
    /// When it was made (RFC 3339).
    pub made_at: String,
    /// The newest migration of the schema it was read from.
    pub schema: String,
}

/// Why a self-backup or a recovery failed; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SelfBackupError {
    /// Not configured.
    #[error("{0}")]
    Off(String),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// The destination failed.
    #[error("{0}")]
    Destination(String),
    /// The content is not what this release writes.
    #[error("the self-backup cannot be read: {0}")]
    Format(String),
    /// It could not be opened.
    #[error(transparent)]
    Open(#[from] seal::OpenError),
    /// Recovery refused: the request or the database is not one it can act on.
    #[error("{0}")]
    Refused(String),
}

impl SelfBackupError {
    /// The upload of a self-backup failed.
    pub(crate) fn upload(e: opendal::Error) -> Self {
        SelfBackupError::Destination(format!("the upload of the self-backup failed: {}", e.message()))
    }

    /// Another call to the destination failed while doing `what`.
    pub(crate) fn destination(what: impl std::fmt::Display, e: opendal::Error) -> Self {
        SelfBackupError::Destination(format!("{what}: {}", e.message()))
    }
}

/// True when the file's marks say it is a self-backup.
pub fn is_self_backup(file: &StoredFile) -> bool {
    file.properties.get(KIND_MARK).is_some_and(|k| k == KIND)
}

/// True when it is a verified self-backup.
pub fn is_verified(file: &StoredFile) -> bool {
    is_self_backup(file) && file.properties.get("verified").is_some_and(|v| v == "1")
}

/// The deployment a copy's marks name, if any.
pub fn deployment_of(file: &StoredFile) -> Option<&str> {
    file.properties.get(DEPLOYMENT_MARK).map(String::as_str)
}

/// The self-backups in `folder` (verified or not).
pub async fn list(destination: &Destination, folder: &str) -> Result<Vec<StoredFile>, SelfBackupError> {
    let files = destination
        .list(folder)
        .await
        .map_err(|e| SelfBackupError::destination(format_args!("listing SELF_BACKUP_FOLDER {folder} failed"), e))?;
    Ok(files.into_iter().filter(is_self_backup).collect())
}

/// Newest first: by the destination's creation time, then by name (which holds the time too).
pub fn newest_first(files: &mut [StoredFile]) {
    let created = |f: &StoredFile| f.created.as_deref().and_then(|c| c.parse::<jiff::Timestamp>().ok());
    files.sort_by(|a, b| created(b).cmp(&created(a)).then_with(|| b.name.cmp(&a.name)));
}

/// The deployment ids the marks of these files name, sorted.
pub fn deployments(files: &[StoredFile]) -> BTreeSet<String> {
    files.iter().filter_map(deployment_of).map(str::to_owned).collect()
}

/// `orchestrator_{deployment}_{YYYYMMDD}_{HHMMSSmmm}Z.selfbackup`: sortable by time.
pub fn file_name(deployment: &str, at: jiff::Timestamp) -> String {
    let millis = at.as_millisecond().rem_euclid(1000);
    format!("orchestrator_{deployment}_{}{millis:03}Z.selfbackup", at.strftime("%Y%m%d_%H%M%S"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn file(name: &str, created: Option<&str>, marks: &[(&str, &str)]) -> StoredFile {
        StoredFile {
            id: name.to_owned(),
            name: name.to_owned(),
            size: 1,
            created: created.map(str::to_owned),
            sha256: None,
            md5: None,
            properties: marks.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn names_sort_by_time_to_the_millisecond() {
        let at: jiff::Timestamp = "2026-12-06T02:15:00.042Z".parse().unwrap();
        assert_eq!(file_name("d-1", at), "orchestrator_d-1_20261206_021500042Z.selfbackup");
        let later = at + jiff::SignedDuration::from_millis(1);
        assert!(file_name("d-1", later) > file_name("d-1", at));
    }

    #[test]
    fn only_marked_files_are_self_backups_and_the_newest_comes_first() {
        let marks = [(KIND_MARK, KIND), ("verified", "1"), (DEPLOYMENT_MARK, "d-1")];
        let mut files = vec![
            file("a", Some("2026-12-01T00:00:00Z"), &marks),
            file("c", Some("2026-12-03T00:00:00Z"), &marks),
            file("b", Some("2026-12-02T00:00:00Z"), &[(KIND_MARK, KIND), (DEPLOYMENT_MARK, "d-2")]),
            file("app-copy", None, &[("app", "wiki"), (DEPLOYMENT_MARK, "d-3")]),
        ];
        assert!(!is_self_backup(&files[3]) && is_verified(&files[0]) && !is_verified(&files[2]));
        newest_first(&mut files);
        let order: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(order, ["c", "b", "a", "app-copy"]);
        let deps: Vec<String> = deployments(&files).into_iter().collect();
        assert_eq!(deps, ["d-1", "d-2", "d-3"]);
    }
}
