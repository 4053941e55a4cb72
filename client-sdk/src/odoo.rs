//! A ready-made source for an Odoo instance: its database and its filestore, in the layout of
//! Odoo's own backups (the database manager's "zip" format, as Odoo Online produces too), so a
//! copy restores with Odoo's own tools as well as through the contract:
//!
//! - `dump.sql`: `pg_dump --no-owner` in plain SQL;
//! - `filestore/`: the files of `<data_dir>/filestore/<database>`;
//! - `manifest.json`: the keys of Odoo's `dump_db_manifest` (`odoo_dump`, `db_name`, `version`,
//!   `version_info`, `major_version`, `pg_version`, `modules`).
//!
//! The zip is written as it is read (entries with data descriptors, Zip64 sizes), from a thread
//! that holds one buffer; nothing is staged on disk. A restore stages the zip beside the
//! filestore, loads `dump.sql` into a new database in one transaction and extracts the filestore
//! beside the live one; only when both succeeded are the databases renamed and the folders swapped
//! (connections to the live database are closed for the swap: stop Odoo around a restore, as its
//! own database manager does). A failed restore leaves database and filestore as they were.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use bytes::Bytes;
use tokio::sync::mpsc;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use contract_spec::{Health, VerifyCheck, VerifyReport};

use crate::postgres::PgConnection;
use crate::staging::{Staged, blocking, folder_size, sibling, swap_folder, write_body};
use crate::{BackupSource, BackupType, Capabilities, ExportStream, ImportStream, SourceError};

const CHUNK: usize = 64 * 1024;
/// Chunks in flight between the zip thread and the response.
const CHANNEL_DEPTH: usize = 4;
/// The last line `pg_dump` writes in plain format, absent from a dump cut short.
const DUMP_COMPLETE: &str = "PostgreSQL database dump complete";

/// Backs up the Odoo database `database` and its filestore folder.
#[derive(Debug, Clone)]
pub struct Odoo {
    app: String,
    database: String,
    filestore: PathBuf,
    connection: PgConnection,
    maintenance_database: String,
}

impl Odoo {
    /// The database `database` and its filestore, the folder `<data_dir>/filestore/<database>`.
    pub fn new(app: impl Into<String>, database: impl Into<String>, filestore: impl Into<PathBuf>) -> Self {
        Odoo {
            app: app.into(),
            database: database.into(),
            filestore: filestore.into(),
            connection: PgConnection::default(),
            maintenance_database: "postgres".into(),
        }
    }

    /// Reaches the server with `connection` instead of libpq's variables alone.
    pub fn connection(mut self, connection: PgConnection) -> Self {
        self.connection = connection;
        self
    }

    /// The database a restore connects to for creating and renaming databases (`postgres`).
    pub fn maintenance_database(mut self, database: impl Into<String>) -> Self {
        self.maintenance_database = database.into();
        self
    }

    /// The one type this source offers: `full`, Odoo's backup zip.
    pub fn backup_type() -> BackupType {
        BackupType::new("full", "application/zip", "zip").with_verify()
    }

    /// Odoo's `dump_db_manifest` for the database as it is now.
    async fn manifest(&self) -> Result<serde_json::Value, SourceError> {
        let modules = self
            .connection
            .query(
                &self.database,
                "SELECT coalesce(json_object_agg(name, latest_version), '{}') FROM ir_module_module \
                 WHERE state = 'installed'",
            )
            .await
            .map_err(|e| match e.to_string() {
                m if m.contains("ir_module_module") => SourceError::failed(format!(
                    "{m} (is {:?} an Odoo database? it has no module table)",
                    self.database
                )),
                _ => e,
            })?;
        let modules: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&modules)
            .map_err(|e| SourceError::failed(format!("the installed modules could not be read: {e}")))?;
        let server: u64 = self
            .connection
            .query(&self.database, "SHOW server_version_num")
            .await?
            .parse()
            .map_err(|e| SourceError::failed(format!("the server's version could not be read: {e}")))?;
        let base = modules.get("base").and_then(|v| v.as_str()).unwrap_or_default();
        Ok(manifest(&self.database, base, server, modules.clone()))
    }
}

/// The manifest Odoo writes: `version` and its parts come from the `base` module's version
/// (`17.0.1.3` → `17.0`); `pg_version` is computed as Odoo does (`15.0` for PostgreSQL 15).
fn manifest(
    database: &str,
    base_version: &str,
    server_version_num: u64,
    modules: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    let parts: Vec<&str> = base_version.split('.').collect();
    let series = if parts.len() >= 2 { format!("{}.{}", parts[0], parts[1]) } else { base_version.to_owned() };
    let number = |i: usize| parts.get(i).and_then(|p| p.parse::<u64>().ok()).unwrap_or(0);
    let hundreds = server_version_num / 100;
    serde_json::json!({
        "odoo_dump": "1",
        "db_name": database,
        "version": series,
        "version_info": [number(0), number(1), 0, "final", 0, ""],
        "major_version": series,
        "pg_version": format!("{}.{}", hundreds / 100, hundreds % 100),
        "modules": modules,
    })
}

/// Sends what the zip writer writes to the response, one chunk at a time.
struct ChannelWriter(mpsc::Sender<Result<Bytes, SourceError>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the export was abandoned"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn zip_error(e: zip::result::ZipError) -> SourceError {
    SourceError::failed(format!("writing the zip failed: {e}"))
}

/// Keeps the end of a child's standard error, read on its own thread.
fn stderr_tail(child: &mut std::process::Child) -> std::thread::JoinHandle<String> {
    let mut stderr = child.stderr.take();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        if let Some(stderr) = stderr.as_mut() {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                all.extend_from_slice(&buf[..n]);
                if all.len() > 4096 {
                    all.drain(..all.len() - 2048);
                }
            }
        }
        String::from_utf8_lossy(&all).trim().to_owned()
    })
}

fn tool_failed(program: &str, status: io::Result<std::process::ExitStatus>, stderr: String) -> SourceError {
    let said = if stderr.is_empty() { String::new() } else { format!(": {stderr}") };
    match status {
        Ok(status) => SourceError::failed(format!("`{program}` failed ({status}){said}")),
        Err(e) => SourceError::failed(format!("could not wait for `{program}`: {e}{said}")),
    }
}

/// The files under `root`, as paths relative to it, sorted (symbolic links not followed).
fn files_under(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path().strip_prefix(root).expect("under root").to_owned());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes Odoo's backup zip to `out`: manifest, `dump.sql` streamed from `pg_dump`, filestore.
///
/// `pg_dump` starts first and nothing is written before its first bytes: a dump that fails at
/// once (refused credentials, a missing database) fails the export with its own words instead of
/// a connection cut after the zip's first entry.
fn write_zip(
    out: impl Write,
    manifest: &serde_json::Value,
    mut pg_dump: std::process::Command,
    filestore: &Path,
) -> Result<(), SourceError> {
    pg_dump.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = pg_dump.spawn().map_err(|e| SourceError::failed(format!("could not start `pg_dump`: {e}")))?;
    let stderr = stderr_tail(&mut child);
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut first = vec![0u8; CHUNK];
    let n = match stdout.read(&mut first) {
        Ok(n) => n,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e.into());
        }
    };
    first.truncate(n);
    if n == 0 {
        let status = child.wait();
        return Err(tool_failed("pg_dump", status, stderr.join().unwrap_or_default()));
    }

    let mut zip = ZipWriter::new_stream(io::BufWriter::with_capacity(CHUNK, out));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .unix_permissions(0o644)
        .large_file(true);
    let dumped = (|| {
        zip.start_file("manifest.json", options).map_err(zip_error)?;
        zip.write_all(serde_json::to_string_pretty(manifest).unwrap_or_default().as_bytes())?;
        zip.start_file("dump.sql", options).map_err(zip_error)?;
        zip.write_all(&first)?;
        io::copy(&mut stdout, &mut zip)?;
        Ok::<(), SourceError>(())
    })();
    if let Err(e) = dumped {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    let status = child.wait();
    if !matches!(&status, Ok(s) if s.success()) {
        return Err(tool_failed("pg_dump", status, stderr.join().unwrap_or_default()));
    }

    for relative in files_under(filestore)? {
        let name = format!("filestore/{}", relative.to_string_lossy());
        zip.start_file(name, options.compression_level(Some(2))).map_err(zip_error)?;
        let mut file = std::fs::File::open(filestore.join(&relative))?;
        io::copy(&mut file, &mut zip)?;
    }
    let mut out = zip.finish().map_err(zip_error)?.into_inner();
    out.flush()?;
    Ok(())
}

/// Quotes an SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes an SQL string literal.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// What a read of the whole zip found: each entry's CRC, the manifest, a complete `dump.sql`.
fn check_zip(path: &Path) -> Result<Vec<VerifyCheck>, SourceError> {
    let file = std::fs::File::open(path)?;
    let mut archive = match ZipArchive::new(file) {
        Ok(a) => a,
        Err(e) => return Ok(vec![VerifyCheck::failed("the zip opens", e.to_string())]),
    };
    let mut checks = Vec::new();
    let mut manifest = None;
    let mut dump_tail = None;
    let mut read_error = None;
    let mut tail = Vec::new();
    for i in 0..archive.len() {
        let mut entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                read_error = Some(e.to_string());
                break;
            }
        };
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        // Reading an entry to its end checks its CRC-32.
        let result = if name == "manifest.json" {
            let mut text = String::new();
            entry.read_to_string(&mut text).map(|_| manifest = Some(text))
        } else {
            let mut buf = vec![0u8; CHUNK];
            tail.clear();
            loop {
                match entry.read(&mut buf) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        if name == "dump.sql" {
                            tail.extend_from_slice(&buf[..n]);
                            if tail.len() > 512 {
                                tail.drain(..tail.len() - 256);
                            }
                        }
                    }
                    Err(e) => break Err(e),
                }
            }
        };
        if let Err(e) = result {
            read_error = Some(format!("{name}: {e}"));
            break;
        }
        if name == "dump.sql" {
            dump_tail = Some(String::from_utf8_lossy(&tail).into_owned());
        }
    }
    checks.push(match read_error {
        None => VerifyCheck::passed("every entry reads back (CRC-32)", Some(format!("{} entries", archive.len()))),
        Some(e) => VerifyCheck::failed("every entry reads back (CRC-32)", e),
    });
    let manifest_ok = manifest
        .as_deref()
        .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
        .is_some_and(|m| m.get("odoo_dump").is_some() && m.get("db_name").is_some() && m.get("modules").is_some());
    checks.push(if manifest_ok {
        VerifyCheck::passed("manifest.json is Odoo's", None)
    } else {
        VerifyCheck::failed("manifest.json is Odoo's", "manifest.json is missing or lacks odoo_dump, db_name, modules")
    });
    checks.push(match dump_tail {
        Some(t) if t.contains(DUMP_COMPLETE) => VerifyCheck::passed("dump.sql is complete", None),
        Some(_) => VerifyCheck::failed("dump.sql is complete", format!("dump.sql does not end with {DUMP_COMPLETE:?}")),
        None => VerifyCheck::failed("dump.sql is complete", "the zip holds no dump.sql"),
    });
    Ok(checks)
}

/// Loads `dump.sql` from the zip into `database` with `psql` in one transaction, and extracts
/// `filestore/` into the new folder `into`.
fn load_zip(zip: &Path, mut psql: std::process::Command, into: &Path) -> Result<(), SourceError> {
    let mut archive = ZipArchive::new(std::fs::File::open(zip)?)
        .map_err(|e| SourceError::failed(format!("the backup is not a readable zip: {e}")))?;
    let manifest = match archive.by_name("manifest.json") {
        Ok(mut entry) => {
            let mut text = String::new();
            entry.by_ref().take(1 << 20).read_to_string(&mut text).map(|_| text).ok()
        }
        Err(_) => None,
    };
    let is_odoo = manifest
        .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok())
        .is_some_and(|m| m.get("odoo_dump").is_some() && m.get("db_name").is_some());
    if !is_odoo {
        return Err(SourceError::failed("the zip has no Odoo manifest.json: it is not an Odoo backup"));
    }
    {
        let mut dump = archive
            .by_name("dump.sql")
            .map_err(|_| SourceError::failed("the zip has no dump.sql: it is not an Odoo backup"))?;
        psql.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = psql.spawn().map_err(|e| SourceError::failed(format!("could not start `psql`: {e}")))?;
        let stderr = stderr_tail(&mut child);
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // The dump goes to psql as it is read, its end kept aside: psql sees the end of its input
        // only once the dump is known to be whole (pg_dump's last line), never a cut one.
        let mut tail = Vec::new();
        let mut buf = vec![0u8; CHUNK];
        let copied = loop {
            match dump.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    tail.extend_from_slice(&buf[..n]);
                    if tail.len() > 512 {
                        tail.drain(..tail.len() - 256);
                    }
                    if let Err(e) = stdin.write_all(&buf[..n]) {
                        break Err(format!("psql stopped reading: {e}"));
                    }
                }
                Err(e) => break Err(format!("dump.sql could not be read: {e}")),
            }
        };
        let complete = String::from_utf8_lossy(&tail).contains(DUMP_COMPLETE);
        if copied.is_err() || !complete {
            let _ = child.kill();
            let status = child.wait();
            let said = tool_failed("psql", status, stderr.join().unwrap_or_default());
            let why = copied
                .err()
                .unwrap_or_else(|| format!("dump.sql does not end with {DUMP_COMPLETE:?}: it was cut short"));
            return Err(SourceError::failed(format!("{why} ({said}); nothing was restored")));
        }
        drop(stdin);
        let status = child.wait();
        if !matches!(&status, Ok(s) if s.success()) {
            return Err(tool_failed("psql", status, stderr.join().unwrap_or_default()));
        }
    }
    std::fs::create_dir_all(into)?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| SourceError::failed(format!("reading the zip: {e}")))?;
        let Some(path) = entry.enclosed_name() else { continue };
        let Ok(relative) = path.strip_prefix("filestore") else { continue };
        if entry.is_dir() || relative.as_os_str().is_empty() {
            continue;
        }
        let target = into.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::File::create(&target)?;
        io::copy(&mut entry, &mut file)?;
    }
    Ok(())
}

impl Odoo {
    fn std_tool(&self, program: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new(program);
        for var in crate::process::TOKEN_VARIABLES {
            cmd.env_remove(var);
        }
        cmd.envs(self.connection.env()).arg("--no-password");
        cmd
    }

    /// A name for the database a restore loads into before the swap (at most 63 bytes).
    fn staging_database(&self, what: &str) -> String {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let suffix = format!("_{what}_{}_{}", std::process::id(), nanos % 1_000_000);
        let keep = self.database.char_indices().take_while(|(i, _)| i + suffix.len() < 63).count();
        format!("{}{suffix}", self.database.chars().take(keep).collect::<String>())
    }

    async fn admin(&self, sql: &str) -> Result<String, SourceError> {
        self.connection.query(&self.maintenance_database, sql).await
    }

    /// Puts the loaded database `staging` in the place of the live one, which is renamed aside
    /// and returned (`None` when there was none) so the caller can put it back or drop it.
    async fn swap_database(&self, staging: &str) -> Result<Option<String>, SourceError> {
        let exists = self
            .admin(&format!("SELECT count(*) FROM pg_database WHERE datname = {}", literal(&self.database)))
            .await?;
        if exists == "0" {
            self.admin(&format!("ALTER DATABASE {} RENAME TO {}", ident(staging), ident(&self.database))).await?;
            return Ok(None);
        }
        let previous = self.staging_database("previous");
        self.admin(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {} AND pid <> pg_backend_pid()",
            literal(&self.database)
        ))
        .await?;
        self.admin(&format!(
            "BEGIN; ALTER DATABASE {live} RENAME TO {previous}; ALTER DATABASE {staging} RENAME TO {live}; COMMIT;",
            live = ident(&self.database),
            previous = ident(&previous),
            staging = ident(staging),
        ))
        .await?;
        Ok(Some(previous))
    }

    /// Swaps in the loaded database and the extracted filestore, both or neither: if the folder
    /// cannot be swapped, the database swap is undone. The old database is dropped last.
    async fn swap_in(&self, staging: &str, files: &Path) -> Result<(), SourceError> {
        let previous = match self.swap_database(staging).await {
            Ok(previous) => previous,
            Err(e) => {
                let _ = self.admin(&format!("DROP DATABASE IF EXISTS {}", ident(staging))).await;
                return Err(e);
            }
        };
        if let Err(e) = swap_folder(files, &self.filestore).await {
            let undo = match &previous {
                Some(previous) => format!(
                    "BEGIN; ALTER DATABASE {live} RENAME TO {staging}; ALTER DATABASE {previous} RENAME TO {live}; COMMIT;",
                    live = ident(&self.database),
                    staging = ident(staging),
                    previous = ident(previous),
                ),
                None => format!("ALTER DATABASE {} RENAME TO {}", ident(&self.database), ident(staging)),
            };
            self.admin(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {} AND pid <> pg_backend_pid()",
                literal(&self.database)
            ))
            .await?;
            self.admin(&undo).await?;
            let _ = self.admin(&format!("DROP DATABASE IF EXISTS {}", ident(staging))).await;
            return Err(SourceError::failed(format!(
                "the filestore {} could not be swapped ({e}; it must be a folder inside a volume, not a mount point itself): the database was put back, nothing was restored",
                self.filestore.display()
            )));
        }
        if let Some(previous) = previous
            && let Err(e) = self.admin(&format!("DROP DATABASE IF EXISTS {}", ident(&previous))).await
        {
            tracing::warn!(database = %previous, error = %e, "the database replaced by a restore could not be dropped");
        }
        Ok(())
    }
}

impl BackupSource for Odoo {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new(&self.app, [Self::backup_type()]).with_restore()
    }

    async fn export(&self, _: &BackupType) -> Result<ExportStream, SourceError> {
        let manifest = self.manifest().await?;
        let mut pg_dump = self.std_tool("pg_dump");
        pg_dump.args(["--no-owner", "--format=plain", "--dbname"]).arg(&self.database);
        let filestore = self.filestore.clone();
        if !tokio::fs::metadata(&filestore).await.is_ok_and(|m| m.is_dir()) {
            return Err(SourceError::failed(format!(
                "the filestore {} is not a folder: set `filestore` to Odoo's <data_dir>/filestore/{}",
                filestore.display(),
                self.database
            )));
        }
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        let errors = tx.clone();
        tokio::task::spawn_blocking(move || {
            // A panic must end the stream with an error too: a clean end would pass for a whole zip.
            let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                write_zip(ChannelWriter(tx), &manifest, pg_dump, &filestore)
            }));
            let error = match written {
                Ok(Ok(())) => return,
                Ok(Err(e)) => e,
                Err(_) => SourceError::failed("writing the zip failed unexpectedly"),
            };
            let _ = errors.blocking_send(Err(error));
        });
        Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })))
    }

    /// The database's size, with the filestore's size and file count.
    async fn health(&self) -> Option<Health> {
        let size = self.connection.database_size(&self.database).await?;
        let dir = self.filestore.clone();
        let (bytes, files) = tokio::task::spawn_blocking(move || folder_size(&dir)).await.ok()?.unwrap_or((0, 0));
        let details = BTreeMap::from([
            ("database".to_owned(), self.database.clone()),
            ("filestore_bytes".to_owned(), bytes.to_string()),
            ("filestore_files".to_owned(), files.to_string()),
        ]);
        Some(Health { size_bytes: Some(size + bytes), details })
    }

    async fn verify(&self, _: &BackupType, body: ImportStream) -> Result<VerifyReport, SourceError> {
        let staged = Staged(sibling(&self.filestore, "verify.zip"));
        let bytes = write_body(body, &staged.0).await?;
        let path = staged.0.clone();
        let checks = blocking(move || check_zip(&path)).await?;
        Ok(VerifyReport::of(bytes, checks))
    }

    async fn import(&self, _: &BackupType, body: ImportStream) -> Result<(), SourceError> {
        if let Some(parent) = self.filestore.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let zip = Staged(sibling(&self.filestore, "incoming.zip"));
        write_body(body, &zip.0).await?;
        let files = Staged(sibling(&self.filestore, "incoming"));
        let staging = self.staging_database("restore");
        self.admin(&format!("CREATE DATABASE {} TEMPLATE template0", ident(&staging))).await?;
        // Not one transaction: an Odoo schema can hold more objects than one transaction may
        // lock, and the staging database is dropped whole on any error.
        let mut psql = self.std_tool("psql");
        psql.args(["--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "--dbname"]).arg(&staging);
        let (zip_path, files_path) = (zip.0.clone(), files.0.clone());
        if let Err(e) = blocking(move || load_zip(&zip_path, psql, &files_path)).await {
            let _ = self.admin(&format!("DROP DATABASE IF EXISTS {}", ident(&staging))).await;
            return Err(e);
        }
        // The swap runs to its end on its own task, even if the request is dropped meanwhile.
        let (odoo, files_path) = (self.clone(), files.0.clone());
        let swapped = tokio::spawn(async move { odoo.swap_in(&staging, &files_path).await });
        let result = swapped.await.map_err(|e| SourceError::failed(format!("the swap task failed: {e}")))?;
        drop(files);
        result
    }
}
