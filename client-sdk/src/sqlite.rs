//! A ready-made source for an SQLite database file, read and written with SQLite itself (no
//! `sqlite3` command needed).
//!
//! An export is a consistent online snapshot made with `VACUUM INTO` while the app keeps
//! working (readers and writers are not stopped; the snapshot is one transaction's view), into a
//! hidden file beside the database that is unlinked as soon as it is open, then streamed. A
//! restore writes the body beside the database, checks it with `PRAGMA integrity_check`, and
//! renames it over the database: atomic, so a bad body leaves the database as it was. Stop the
//! app (or make it reopen its database) around a restore, as for any file-level restore.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use contract_spec::{Health, VerifyCheck, VerifyReport};

use crate::process::export_reader;
use crate::staging::{Staged, blocking, sibling, write_body};
use crate::{BackupSource, BackupType, Capabilities, ExportStream, ImportStream, SourceError};

/// How long a snapshot waits for a writer's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Backs up the SQLite database at `path`.
#[derive(Debug, Clone)]
pub struct Sqlite {
    app: String,
    path: PathBuf,
}

impl Sqlite {
    /// The database file `path`, announced as `app`.
    pub fn new(app: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Sqlite { app: app.into(), path: path.into() }
    }

    /// The one type this source offers: `full`, the database file.
    pub fn backup_type() -> BackupType {
        BackupType::new("full", "application/vnd.sqlite3", "sqlite").with_verify()
    }
}

fn sqlite_error(what: &str, path: &Path, e: rusqlite::Error) -> SourceError {
    SourceError::failed(format!("{what} {}: {e}", path.display()))
}

/// `PRAGMA integrity_check` on the file at `path`: `Ok(None)` when it is sound, `Ok(Some(what))`
/// with SQLite's findings when it is not (or is not a database at all).
fn integrity(path: &Path) -> Result<Option<String>, SourceError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sqlite_error("could not open", path, e))?;
    let findings: Result<Vec<String>, rusqlite::Error> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut stmt| stmt.query_map([], |row| row.get::<_, String>(0))?.collect());
    match findings {
        Ok(lines) if lines.len() == 1 && lines[0] == "ok" => Ok(None),
        Ok(lines) => Ok(Some(lines.join("; "))),
        Err(e) => Ok(Some(e.to_string())),
    }
}

impl BackupSource for Sqlite {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new(&self.app, [Self::backup_type()]).with_restore()
    }

    async fn export(&self, _: &BackupType) -> Result<ExportStream, SourceError> {
        let db = self.path.clone();
        let file = blocking(move || {
            if !db.is_file() {
                return Err(SourceError::failed(format!("the database {} does not exist", db.display())));
            }
            let snapshot = Staged(sibling(&db, "snapshot"));
            let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| sqlite_error("could not open", &db, e))?;
            conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| sqlite_error("could not open", &db, e))?;
            let target = snapshot.0.to_str().ok_or_else(|| SourceError::failed("the database path is not UTF-8"))?;
            conn.execute("VACUUM INTO ?1", [target]).map_err(|e| sqlite_error("could not snapshot", &db, e))?;
            // Open, then unlink: the snapshot lives exactly as long as the export reads it.
            let file = std::fs::File::open(&snapshot.0)?;
            drop(snapshot);
            Ok(file)
        })
        .await?;
        Ok(export_reader(tokio::fs::File::from_std(file)))
    }

    /// The database file's size.
    async fn health(&self) -> Option<Health> {
        let size = tokio::fs::metadata(&self.path).await.ok()?.len();
        Some(Health { size_bytes: Some(size), details: BTreeMap::new() })
    }

    async fn verify(&self, _: &BackupType, body: ImportStream) -> Result<VerifyReport, SourceError> {
        let staged = Staged(sibling(&self.path, "verify"));
        let bytes = write_body(body, &staged.0).await?;
        let path = staged.0.clone();
        let check = match blocking(move || integrity(&path)).await? {
            None => VerifyCheck::passed("PRAGMA integrity_check", Some("ok".into())),
            Some(findings) => VerifyCheck::failed("PRAGMA integrity_check", findings),
        };
        Ok(VerifyReport::of(bytes, vec![check]))
    }

    async fn import(&self, _: &BackupType, body: ImportStream) -> Result<(), SourceError> {
        let staged = Staged(sibling(&self.path, "incoming"));
        write_body(body, &staged.0).await?;
        let (incoming, db) = (staged.0.clone(), self.path.clone());
        blocking(move || {
            if let Some(findings) = integrity(&incoming)? {
                return Err(SourceError::failed(format!(
                    "the backup is not a sound SQLite database ({findings}): nothing was restored"
                )));
            }
            if db.is_file() {
                // Whatever the live database still holds in its write-ahead log goes into the
                // file first; a checkpoint another connection holds up means the app is writing:
                // refuse rather than leave a log that could be replayed over the restored file.
                let conn = Connection::open(&db).map_err(|e| sqlite_error("could not open", &db, e))?;
                conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| sqlite_error("could not open", &db, e))?;
                let busy: i64 = conn
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
                    .map_err(|e| sqlite_error("could not checkpoint", &db, e))?;
                if busy != 0 {
                    return Err(SourceError::failed(format!(
                        "{} is being written to: stop the app and restore again (nothing was restored)",
                        db.display()
                    )));
                }
                drop(conn);
            }
            for suffix in ["-wal", "-shm", "-journal"] {
                let mut side = db.clone().into_os_string();
                side.push(suffix);
                let _ = std::fs::remove_file(side);
            }
            std::fs::rename(&incoming, &db)?;
            Ok(())
        })
        .await
    }
}
