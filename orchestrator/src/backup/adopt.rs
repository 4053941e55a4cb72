//! Adopting files we did not write: copies an operator made before this orchestrator (a script
//! with rclone and cron, a hand upload) lying in an app's folder become the app's copies. Their
//! marks are written into the files themselves (deployment, app, type, sha256, `adopted`), so an
//! adoption survives the loss of this database like any copy.
//!
//! A dry run by default: it lists what would be adopted and what is skipped, and why. It never
//! touches a file another deployment or app wrote, nor one already the app's, and never adopts a
//! file whose checksum it could not take. An adopted copy counts toward retention only when the
//! operator says so (`count`); until then retention keeps it outside its rules.

use std::collections::BTreeMap;
use std::fmt;

use contract_spec::client::AppClient;
use futures::TryStreamExt;

use crate::backup::copies::{ADOPTED_MARK, COUNT_MARK};
use crate::backup::inventory::{self, DEPLOYMENT_MARK};
use crate::backup::run::Runner;
use crate::catalogue::Msg;
use crate::error::{Class, Error};
use crate::registry::App;
use crate::storage::destination::StoredFile;

/// Drive keeps at most this many bytes of key and value together per `appProperties` entry.
pub const MARK_MAX_BYTES: usize = 124;

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct AdoptRequest {
    /// A glob over file names: `*` any run of characters, `?` any one character.
    pub pattern: String,
    /// The backup type the files hold; `None` = the app's configured type.
    pub backup_type: Option<String>,
    /// Write the marks; without it, only say what would happen.
    pub apply: bool,
    /// Let retention count (and so delete) the adopted copies.
    pub count_in_retention: bool,
    /// Who asked, for the audit log.
    pub actor: String,
}

/// Why a matched file is not adopted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// It is already a copy of this app.
    AlreadyOurs,
    /// The orchestrator wrote it for another app or another deployment.
    AnotherCopy {
        /// The app its marks name.
        app: String,
        /// The deployment its marks name, when they name one.
        deployment: Option<String>,
    },
    /// A file of properties we keep beside a copy.
    PropertiesFile,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::AlreadyOurs => f.write_str("already a copy of this app"),
            Skip::AnotherCopy { app, deployment: Some(dep) } => {
                write!(f, "written by the orchestrator for app {app} of deployment {dep}: not ours to adopt")
            }
            Skip::AnotherCopy { app, deployment: None } => {
                write!(f, "written by the orchestrator for app {app}: not ours to adopt")
            }
            Skip::PropertiesFile => f.write_str("the properties kept beside a copy, not a copy"),
        }
    }
}

/// One file the pattern matched.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The file (with its new marks, once adopted).
    pub file: StoredFile,
    /// Why it is left alone; `None` when it is (or would be) adopted.
    pub skip: Option<Skip>,
}

/// The outcome of [`adopt`].
#[derive(Debug, Clone)]
pub struct Adoption {
    /// The type the adopted copies are marked with.
    pub backup_type: String,
    /// The marks were written (not a dry run).
    pub applied: bool,
    /// The adopted copies count toward retention.
    pub count_in_retention: bool,
    /// Every file the pattern matched, by name.
    pub files: Vec<Candidate>,
}

impl Adoption {
    /// The files adopted (or, in a dry run, that would be).
    pub fn adopted(&self) -> impl Iterator<Item = &StoredFile> {
        self.files.iter().filter(|c| c.skip.is_none()).map(|c| &c.file)
    }
}

/// Adopts the files of the app's folder whose names match `req.pattern` and that we did not
/// write; a dry run unless `req.apply`. Refuses, changing nothing, a bad pattern, a type the
/// operator did not name (nor configured for the app) or that the app does not offer, marks too
/// long for the destination, and a pattern that matches no file.
pub async fn adopt(runner: &Runner, app: &App, req: &AdoptRequest) -> Result<Adoption, Error> {
    let pattern = req.pattern.trim();
    if pattern.is_empty() {
        return Err(Error::Said(Class::Invalid, Msg::new("adopt_error.empty_pattern")));
    }
    let backup_type = match req.backup_type.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => t.to_owned(),
        None => app
            .backup_type
            .clone()
            .ok_or_else(|| Error::Said(Class::Invalid, Msg::new("adopt_error.no_type").with("app", &app.name)))?,
    };
    let marks = marks_of(&runner.deployment_id, app, &backup_type, req.count_in_retention, &"0".repeat(64));
    check_marks(&marks)?;
    check_type_offered(runner, app, &backup_type).await?;

    let listed = runner
        .destination
        .list(&app.folder)
        .await
        .map_err(|e| Error::destination(format_args!("cannot list {}", app.folder), &e))?;
    let mut files: Vec<Candidate> = listed
        .into_iter()
        .filter(|f| glob_matches(pattern, &f.name))
        .map(|file| Candidate { skip: skip_reason(&runner.deployment_id, app, &file), file })
        .collect();
    if files.is_empty() {
        return Err(Error::Said(
            Class::NotFound,
            Msg::new("adopt_error.no_match")
                .with("app", &app.name)
                .with("folder", &app.folder)
                .with("pattern", pattern),
        ));
    }
    files.sort_by(|a, b| a.file.name.cmp(&b.file.name));
    let mut adoption =
        Adoption { backup_type, applied: req.apply, count_in_retention: req.count_in_retention, files: Vec::new() };
    if !req.apply {
        adoption.files = files;
        return Ok(adoption);
    }

    let mut done = 0usize;
    let mut result = Ok(());
    for candidate in &mut files {
        if candidate.skip.is_some() {
            continue;
        }
        match adopt_one(runner, app, &adoption, &candidate.file).await {
            Ok(file) => {
                candidate.file = file;
                done += 1;
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if done > 0 {
        let key = if req.count_in_retention { "audit_detail.adopted_counted" } else { "audit_detail.adopted" };
        let detail = Msg::new(key).with("n", done).with("pattern", pattern).with("backup_type", &adoption.backup_type);
        crate::audit::record_said(&runner.db, &req.actor, "copy.adopt", Some(&app.name), &detail).await;
    }
    if let Err(e) = result {
        return Err(match e {
            Error::Destination { message, retry } => Error::Destination {
                message: format!(
                    "{message} ({done} file(s) were adopted before this one; run the same adoption again to go on)"
                ),
                retry,
            },
            other => other,
        });
    }
    adoption.files = files;
    Ok(adoption)
}

/// Takes the file's checksum and writes its marks; the inventory learns of it.
async fn adopt_one(runner: &Runner, app: &App, adoption: &Adoption, file: &StoredFile) -> Result<StoredFile, Error> {
    let sha256 = match &file.sha256 {
        Some(sha) if contract_spec::is_sha256_hex(sha) => sha.to_ascii_lowercase(),
        _ => read_back_sha256(runner, app, file).await?,
    };
    let marks = marks_of(&runner.deployment_id, app, &adoption.backup_type, adoption.count_in_retention, &sha256);
    let adopted = runner
        .destination
        .set_properties(&app.folder, file, &marks)
        .await
        .map_err(|e| Error::destination(format_args!("cannot mark {} as a copy of {}", file.name, app.name), &e))?;
    inventory::record_copy(&runner.db, app.id, &adopted).await?;
    Ok(adopted)
}

/// The sha256 of the file as the destination reads it back, hashed as it streams.
async fn read_back_sha256(runner: &Runner, app: &App, file: &StoredFile) -> Result<String, Error> {
    use sha2::{Digest, Sha256};
    let mut stream = runner
        .destination
        .reader(&app.folder, file)
        .await
        .map_err(|e| Error::destination(format_args!("cannot read {} back to take its sha256", file.name), &e))?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = stream.try_next().await.map_err(|e| Error::Destination {
        message: format!("cannot read {} back to take its sha256: {e}", file.name),
        retry: crate::error::Retry::Temporary,
    })? {
        hasher.update(&chunk);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The marks an adopted copy carries: enough to own, restore and rebuild it from the destination.
fn marks_of(deployment: &str, app: &App, backup_type: &str, count: bool, sha256: &str) -> BTreeMap<String, String> {
    let mut marks = BTreeMap::from([
        (DEPLOYMENT_MARK.to_owned(), deployment.to_owned()),
        ("app".to_owned(), app.name.clone()),
        (inventory::UID_MARK.to_owned(), app.uid.clone()),
        ("type".to_owned(), backup_type.to_owned()),
        ("sha256".to_owned(), sha256.to_owned()),
        ("verified".to_owned(), "1".to_owned()),
        (ADOPTED_MARK.to_owned(), "1".to_owned()),
    ]);
    if count {
        marks.insert(COUNT_MARK.to_owned(), "1".to_owned());
    }
    marks
}

/// Refuses marks the destination could not keep (Drive: 124 bytes of key and value each).
fn check_marks(marks: &BTreeMap<String, String>) -> Result<(), Error> {
    for (key, value) in marks {
        let len = key.len() + value.len();
        if len > MARK_MAX_BYTES {
            let what = if key == "type" { "adopt_error.mark_type" } else { "adopt_error.mark_other" };
            return Err(Error::Said(
                Class::Invalid,
                Msg::new(what).with("key", key).with("value", value).with("len", len).with("max", MARK_MAX_BYTES),
            ));
        }
    }
    Ok(())
}

/// Asks the app whether it offers `backup_type`: a copy of a type it does not know could never
/// be restored into it.
async fn check_type_offered(runner: &Runner, app: &App, backup_type: &str) -> Result<(), Error> {
    let client = AppClient::new(&app.url, app.token.clone(), runner.settings.timeouts)
        .map_err(|e| Error::Invalid(format!("{}: {e}", app.name)))?;
    let caps = client.capabilities().await.map_err(|e| {
        Error::app(
            format_args!("could not ask {} whether it offers the type {backup_type:?} (nothing was adopted)", app.name),
            &e,
        )
    })?;
    if caps.resolve_type(Some(backup_type)).is_none() {
        let offered: Vec<&str> = caps.types.iter().map(|t| t.name.as_str()).collect();
        return Err(Error::Said(
            Class::Refused,
            Msg::new("adopt_error.type_not_offered")
                .with("app", &app.name)
                .with("backup_type", backup_type)
                .with("offered", offered.join(", ")),
        ));
    }
    Ok(())
}

/// Why `file` must not be adopted, if it must not.
fn skip_reason(deployment: &str, app: &App, file: &StoredFile) -> Option<Skip> {
    if inventory::owned_by(file, deployment, app) {
        return Some(Skip::AlreadyOurs);
    }
    let marks = &file.properties;
    if marks.contains_key(DEPLOYMENT_MARK) || marks.contains_key("app_id") || marks.contains_key("app") {
        let app = marks.get("app").or_else(|| marks.get("app_id")).cloned().unwrap_or_default();
        return Some(Skip::AnotherCopy { app, deployment: marks.get(DEPLOYMENT_MARK).cloned() });
    }
    if file.name.ends_with(".props.json") {
        return Some(Skip::PropertiesFile);
    }
    None
}

/// True when `name` matches `pattern`, where `*` matches any run of characters (also none) and
/// `?` any one character; every other character matches itself.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    // Where the last `*` was, and where in the name it started matching: on a mismatch, that
    // star takes one more character (linear backtracking, no exponential blow-up).
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_names_with_stars_and_question_marks() {
        let cases = [
            ("*.sql.gz", "billing-2024-01-01.sql.gz", true),
            ("*.sql.gz", "billing-2024-01-01.sql", false),
            ("billing-*", "billing-", true),
            ("billing-????-01-*.gz", "billing-2024-01-31.gz", true),
            ("billing-????-01-*.gz", "billing-24-01-31.gz", false),
            ("*", "anything at all", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("a*b", "abab", true),
            ("exact.tar", "exact.tar", true),
            ("exact.tar", "exact.tar.gz", false),
            ("?", "ñ", true),
            ("**x", "yyx", true),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(glob_matches(pattern, name), expected, "{pattern} ~ {name}");
        }
    }

    #[test]
    fn marks_longer_than_drive_keeps_are_refused() {
        let long = "t".repeat(MARK_MAX_BYTES - 3);
        let marks = BTreeMap::from([("type".to_owned(), long)]);
        let err = check_marks(&marks).unwrap_err().to_string();
        assert!(err.contains("at most 124 bytes") && err.contains("shorter type name"), "{err}");
        let fits = BTreeMap::from([("type".to_owned(), "t".repeat(MARK_MAX_BYTES - 4))]);
        assert!(check_marks(&fits).is_ok());
    }
}
