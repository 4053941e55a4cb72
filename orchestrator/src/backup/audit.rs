//! Integrity audits: are the copies still there, and still what was stored?
//!
//! A verified upload proves the bytes arrived once. An audit checks every copy of the inventory
//! against ONE listing per folder (apps sharing a folder share it; Drive pages it, so requests
//! grow with folders and pages, never with copies): still there and not trashed, the same size
//! and the same stored checksum as its marks recorded. With a sample share it also reads that
//! share of each app's copies back whole and re-hashes them in the stream: always the newest,
//! then those read longest ago (never-read first), so successive audits cover every copy. An
//! encrypted copy is decrypted when this orchestrator holds an identity, and its plaintext
//! checked against the hash the app will check on restore; without one, its stored bytes are.
//!
//! A copy found missing or trashed is marked lost, one that differs damaged
//! ([`crate::backup::inventory`]); retention counts neither, so it keeps one more good copy
//! and never deletes a good copy because another went bad. Each lost or damaged copy is told to
//! the app's failure channels once (a conditional update decides which process tells it), and a
//! copy found again as stored is good again. A copy that could not be READ (the destination
//! failed, not the copy) is reported and left as it was.
//!
//! Each app's result is kept in `copy_audits`: the history the pages, the API and the
//! `backup_last_audit_timestamp_seconds` metric read.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::{StreamExt, TryStreamExt};
use sea_orm::ActiveValue::Set;
use sea_orm::prelude::*;
use sea_orm::{QueryOrder, sea_query::Expr};
use sha2::{Digest, Sha256};

use crate::backup::inventory::{self, DAMAGED, FOUND_BY_READING, GOOD, LOST};
use crate::backup::run::Runner;
use crate::codec::keys::Identities;
use crate::db::entities::{backup_copy, copy_audit};
use crate::db::now_ms;
use crate::registry::App;
use crate::storage::destination::{Destination, StoredFile};

/// What to audit and how.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The share of each app's copies to read back whole, 0 to 100 (0: listings only).
    pub sample_percent: u8,
    /// Who asked: `schedule`, `cli`, `ui` or `api`.
    pub trigger: &'static str,
}

/// A lost or damaged copy, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The copy's file name.
    pub name: String,
    /// What was found.
    pub detail: String,
}

/// One app's audit.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AppAudit {
    /// The app.
    pub app: String,
    /// Copies checked: the app's copies listed, and those of the inventory not found.
    pub copies: usize,
    /// Found as stored.
    pub good: usize,
    /// Missing or trashed, though nobody here deleted them.
    pub lost: Vec<Finding>,
    /// Another size or checksum than stored.
    pub damaged: Vec<Finding>,
    /// Read back whole and re-hashed.
    pub read_back: usize,
    /// Copies that could not be read back (the destination failed, not the copy): left as they were.
    pub unreadable: Vec<Finding>,
    /// Lost or damaged before, found as stored now.
    pub recovered: Vec<String>,
    /// Why the app could not be audited; nothing was marked.
    pub error: Option<String>,
}

impl AppAudit {
    /// What was found, in one line ("12 copies, 1 lost, 0 damaged, 2 read back"), or why the
    /// app was not audited.
    pub fn summary(&self) -> crate::catalogue::Msg {
        use crate::catalogue::Msg;
        match &self.error {
            Some(error) => Msg::new("audit_detail.audit_failed").quoting("detail", error),
            None => Msg::new("audit_detail.audit_summary")
                .with("copies", self.copies)
                .with("lost", self.lost.len())
                .with("damaged", self.damaged.len())
                .with("read_back", self.read_back),
        }
    }

    /// True when every copy was found as stored.
    pub fn clean(&self) -> bool {
        self.error.is_none() && self.lost.is_empty() && self.damaged.is_empty() && self.unreadable.is_empty()
    }
}

/// Audits `apps` (one listing per folder), records each app's result and tells new findings.
pub async fn audit(runner: &Runner, apps: &[App], options: Options) -> Vec<AppAudit> {
    let mut by_folder: BTreeMap<&str, Vec<&App>> = BTreeMap::new();
    for app in apps {
        by_folder.entry(app.folder.as_str()).or_default().push(app);
    }
    let mut reports = Vec::with_capacity(apps.len());
    for (folder, apps) in by_folder {
        let started = now_ms();
        let listed = runner.destination.list(folder).await.map_err(|e| {
            crate::error::Error::destination(format_args!("cannot list the folder {folder}"), &e).to_string()
        });
        for app in apps {
            let mut report = match &listed {
                Ok(listed) => audit_app(runner, app, listed, started, options).await,
                Err(e) => AppAudit { app: app.name.clone(), error: Some(e.clone()), ..Default::default() },
            };
            if let Err(e) = record(&runner.db, app.id, started, options.trigger, &report).await {
                tracing::error!(app = %app.name, error = %e, "could not record the audit");
                report.error.get_or_insert_with(|| format!("database error: {e}"));
            }
            tell_new_findings(runner, app).await;
            reports.push(report);
        }
    }
    reports.sort_by(|a, b| a.app.cmp(&b.app));
    reports
}

async fn audit_app(runner: &Runner, app: &App, listed: &[StoredFile], listed_at: i64, options: Options) -> AppAudit {
    let mut report = AppAudit { app: app.name.clone(), ..Default::default() };
    let db = &runner.db;
    let changes =
        match inventory::reconcile(db, &runner.destination, &runner.deployment_id, app, listed, listed_at).await {
            Ok(changes) => changes,
            Err(e) => {
                report.error = Some(format!("database error: {e}"));
                return report;
            }
        };
    report.recovered = changes.recovered;
    let owned: Vec<&StoredFile> =
        listed.iter().filter(|f| inventory::owned_by(f, &runner.deployment_id, app)).collect();
    if options.sample_percent > 0 {
        match sample(db, app.id, &owned, options.sample_percent).await {
            Ok(picked) => {
                for file in picked {
                    read_and_judge(runner, app, file, &mut report).await;
                }
            }
            Err(e) => report.error = Some(format!("database error: {e}")),
        }
    }
    let now = now_ms();
    let mut audited = Ok(());
    // In slices: a statement binds a limited number of parameters.
    for ids in owned.chunks(500) {
        let ids: Vec<&str> = ids.iter().map(|f| f.id.as_str()).collect();
        let done = backup_copy::Entity::update_many()
            .col_expr(backup_copy::Column::AuditedAt, Expr::value(now))
            .filter(backup_copy::Column::AppId.eq(app.id))
            .filter(backup_copy::Column::FileId.is_in(ids))
            .exec(db)
            .await;
        if let Err(e) = done {
            audited = Err(e);
            break;
        }
    }
    let rows = match audited {
        Ok(_) => backup_copy::Entity::find().filter(backup_copy::Column::AppId.eq(app.id)).all(db).await,
        Err(e) => Err(e),
    };
    match rows {
        Ok(rows) => {
            for row in rows {
                let finding =
                    || Finding { name: row.name.clone(), detail: row.health_detail.clone().unwrap_or_default() };
                match (row.health.as_str(), row.deleted_at) {
                    (LOST, _) => report.lost.push(finding()),
                    (DAMAGED, None) => report.damaged.push(finding()),
                    (_, None) => report.good += 1,
                    _ => continue,
                }
                report.copies += 1;
            }
        }
        Err(e) => report.error = Some(format!("database error: {e}")),
    }
    report
}

/// The copies to read back: `percent` of the app's verified copies (at least one), the newest
/// first, then those read longest ago (never read first), oldest copy first among equals.
async fn sample<'a>(
    db: &DatabaseConnection,
    app_id: i64,
    owned: &[&'a StoredFile],
    percent: u8,
) -> Result<Vec<&'a StoredFile>, DbErr> {
    let mut verified: Vec<&StoredFile> = owned.iter().copied().filter(|f| crate::backup::copies::verified(f)).collect();
    if verified.is_empty() {
        return Ok(Vec::new());
    }
    verified.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.name.cmp(&a.name)));
    let want = (verified.len() * usize::from(percent.min(100))).div_ceil(100).max(1);
    let read_at: BTreeMap<String, Option<i64>> = backup_copy::Entity::find()
        .filter(backup_copy::Column::AppId.eq(app_id))
        .filter(backup_copy::Column::DeletedAt.is_null())
        .order_by_asc(backup_copy::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.file_id, r.read_at))
        .collect();
    let newest = verified.remove(0);
    verified.sort_by(|a, b| {
        let last = |f: &StoredFile| read_at.get(&f.id).copied().flatten().unwrap_or(i64::MIN);
        last(a).cmp(&last(b)).then_with(|| a.created.cmp(&b.created))
    });
    let mut picked = vec![newest];
    picked.extend(verified.into_iter().take(want - 1));
    Ok(picked)
}

/// Reads one copy back, compares it with its marks and records what was found.
async fn read_and_judge(runner: &Runner, app: &App, file: &StoredFile, report: &mut AppAudit) {
    let stored = match crate::codec::Stored::of(&file.properties) {
        Ok(stored) => stored,
        Err(e) => {
            report.unreadable.push(Finding { name: file.name.clone(), detail: e });
            return;
        }
    };
    // An identity that is not one of the copy's recipients (a key rotated since) cannot open it:
    // then only the stored bytes are checked, never the copy called damaged for it.
    let identities = runner.encryption.identities.clone().filter(|ids| {
        let ours = ids.fingerprints();
        stored.recipients.is_empty() || stored.recipients.iter().any(|r| ours.contains(r))
    });
    let decode = match (stored.is_plain(), stored.age, identities) {
        (true, _, _) => None,
        (false, true, None) => None,
        (false, true, ids) => Some((stored.zstd, ids)),
        (false, false, _) => Some((stored.zstd, None)),
    };
    let read = read_back(&runner.destination, &app.folder, file, decode).await;
    let now = now_ms();
    let verdict = match read {
        Err(ReadFailure::Unreadable(e)) => {
            report.unreadable.push(Finding { name: file.name.clone(), detail: e });
            return;
        }
        Err(ReadFailure::Differs(e)) => Some(e),
        Ok(read) => differs(file, &stored, &read),
    };
    report.read_back += 1;
    let row = backup_copy::Entity::find()
        .filter(backup_copy::Column::AppId.eq(app.id))
        .filter(backup_copy::Column::FileId.eq(file.id.as_str()))
        .one(&runner.db)
        .await;
    let Ok(Some(row)) = row else { return };
    let mut update: backup_copy::ActiveModel = row.clone().into();
    update.read_at = Set(Some(now));
    match verdict {
        Some(detail) => {
            if row.health != DAMAGED {
                update.health_since = Set(Some(now));
                update.health_alerted_at = Set(None);
            }
            update.health = Set(DAMAGED.to_owned());
            update.health_detail = Set(Some(detail));
            update.damage_found_by = Set(Some(FOUND_BY_READING.to_owned()));
        }
        // As stored: damage a listing saw is the listing's to clear.
        None if row.health == DAMAGED && row.damage_found_by.as_deref() == Some(FOUND_BY_READING) => {
            inventory::clear_health(&mut update);
            report.recovered.push(file.name.clone());
        }
        None => {}
    }
    if let Err(e) = update.update(&runner.db).await {
        tracing::error!(app = %app.name, copy = %file.name, error = %e, "could not record what reading the copy found");
    }
}

/// What reading a copy back shows that differs from its marks, in words.
fn differs(file: &StoredFile, stored: &crate::codec::Stored, read: &ReadBack) -> Option<String> {
    let mark = |key: &str| file.properties.get(key).map(String::as_str);
    let (size, sha256) = inventory::recorded(file, stored);
    if let Some(size) = size
        && size != read.stored_size
    {
        return Some(format!("it reads back as {} bytes; {size} were stored", read.stored_size));
    }
    if let Some(sha256) = sha256
        && !sha256.eq_ignore_ascii_case(&read.stored_sha256)
    {
        return Some(format!("it reads back with sha256 {}; {sha256} was stored", read.stored_sha256));
    }
    let (plain_sha, plain_size) = read.plain.as_ref()?;
    if let Some(size) = mark(crate::codec::SIZE_MARK).and_then(|s| s.parse::<u64>().ok())
        && size != *plain_size
    {
        return Some(format!("it opens to {plain_size} bytes; the app exported {size}"));
    }
    match mark("sha256") {
        Some(sha256) if !sha256.eq_ignore_ascii_case(plain_sha) => {
            Some(format!("it opens to sha256 {plain_sha}; the app exported {sha256}"))
        }
        _ => None,
    }
}

/// What reading a copy back gave.
#[derive(Debug, Clone)]
pub(crate) struct ReadBack {
    /// The stored bytes' sha256.
    pub(crate) stored_sha256: String,
    /// How many bytes were stored.
    pub(crate) stored_size: u64,
    /// The plaintext's sha256 and size, when the copy was decoded.
    pub(crate) plain: Option<(String, u64)>,
}

/// Why a copy was not read back whole.
#[derive(Debug, Clone)]
pub(crate) enum ReadFailure {
    /// The destination failed (not the copy's fault).
    Unreadable(String),
    /// The copy does not decode: it is damaged or truncated, or no identity given opens it.
    Differs(String),
}

impl std::fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadFailure::Unreadable(e) | ReadFailure::Differs(e) => f.write_str(e),
        }
    }
}

/// Reads a copy back whole, in the stream, hashing the stored bytes; with `decode` (zstd, and
/// the identities for an age copy), also decodes it and hashes the plaintext.
pub(crate) async fn read_back(
    destination: &Destination,
    folder: &str,
    file: &StoredFile,
    decode: Option<(bool, Option<Arc<Identities>>)>,
) -> Result<ReadBack, ReadFailure> {
    #[derive(Default)]
    struct Seen {
        hasher: Sha256,
        size: u64,
        error: Option<String>,
    }
    let stream = destination
        .reader(folder, file)
        .await
        .map_err(|e| ReadFailure::Unreadable(format!("cannot read {}: {e}", file.name)))?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let tap = seen.clone();
    let stream = stream.inspect(move |piece| {
        let mut seen = tap.lock().expect("the read-back tap is never poisoned");
        match piece {
            Ok(data) => {
                seen.hasher.update(data);
                seen.size += data.len() as u64;
            }
            Err(e) => seen.error = Some(e.to_string()),
        }
    });
    let unreadable = |e: String| ReadFailure::Unreadable(format!("reading {} failed: {e}", file.name));
    let plain = match decode {
        None => {
            let mut stream = Box::pin(stream);
            while stream.try_next().await.map_err(|e| unreadable(e.to_string()))?.is_some() {}
            None
        }
        Some((zstd, identities)) => {
            let mut decoded = crate::codec::stream::decode(Box::pin(stream), zstd, identities);
            let (mut hasher, mut size) = (Sha256::new(), 0u64);
            let mut failed = None;
            while let Some(piece) = decoded.next().await {
                match piece {
                    Ok(piece) => {
                        hasher.update(&piece);
                        size += piece.len() as u64;
                    }
                    Err(e) => {
                        failed = Some(e.to_string());
                        break;
                    }
                }
            }
            if let Some(e) = failed {
                let destination_failed = seen.lock().expect("never poisoned").error.clone();
                return Err(match destination_failed {
                    Some(read) => unreadable(read),
                    None => ReadFailure::Differs(e),
                });
            }
            Some((hex::encode(hasher.finalize()), size))
        }
    };
    let seen = std::mem::take(&mut *seen.lock().expect("never poisoned"));
    Ok(ReadBack { stored_sha256: hex::encode(seen.hasher.finalize()), stored_size: seen.size, plain })
}

async fn record(
    db: &DatabaseConnection,
    app_id: i64,
    started: i64,
    trigger: &str,
    report: &AppAudit,
) -> Result<(), DbErr> {
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    copy_audit::ActiveModel {
        app_id: Set(app_id),
        trigger: Set(trigger.to_owned()),
        started_at: Set(started),
        finished_at: Set(now_ms()),
        copies: Set(count(report.copies)),
        good: Set(count(report.good)),
        lost: Set(count(report.lost.len())),
        damaged: Set(count(report.damaged.len())),
        read_back: Set(count(report.read_back)),
        error: Set(report.error.clone()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map(|_| ())
}

/// Tells the app's failure channels of its lost and damaged copies not told yet; each copy is
/// claimed with a conditional update first, so it is told once however many processes audit.
pub(crate) async fn tell_new_findings(runner: &Runner, app: &App) {
    let untold = backup_copy::Entity::find()
        .filter(backup_copy::Column::AppId.eq(app.id))
        .filter(backup_copy::Column::Health.ne(GOOD))
        .filter(backup_copy::Column::HealthAlertedAt.is_null())
        .all(&runner.db)
        .await;
    let untold = match untold {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(app = %app.name, error = %e, "could not read the copies to tell");
            return;
        }
    };
    let (mut lost, mut damaged) = (Vec::new(), Vec::new());
    let now = now_ms();
    for row in untold {
        let claimed = backup_copy::Entity::update_many()
            .col_expr(backup_copy::Column::HealthAlertedAt, Expr::value(now))
            .filter(backup_copy::Column::Id.eq(row.id))
            .filter(backup_copy::Column::Health.eq(row.health.as_str()))
            .filter(backup_copy::Column::HealthAlertedAt.is_null())
            .exec(&runner.db)
            .await;
        if !matches!(claimed, Ok(r) if r.rows_affected == 1) {
            continue;
        }
        let finding = Finding { name: row.name, detail: row.health_detail.unwrap_or_default() };
        if row.health == LOST { lost.push(finding) } else { damaged.push(finding) }
    }
    if !lost.is_empty() || !damaged.is_empty() {
        runner.notifier.copies_lost_or_damaged(app, &lost, &damaged).await;
    }
}

/// Forgets a lost copy of the app (an operator knows why it is gone): it is no longer shown or
/// counted as lost. Returns false when the app has no lost copy of that name or file id.
pub async fn forget(db: &DatabaseConnection, app_id: i64, copy: &str) -> Result<bool, DbErr> {
    let forgotten = backup_copy::Entity::update_many()
        .col_expr(backup_copy::Column::Health, Expr::value(GOOD))
        .col_expr(backup_copy::Column::HealthDetail, Expr::value(Option::<String>::None))
        .col_expr(backup_copy::Column::HealthSince, Expr::value(Option::<i64>::None))
        .filter(backup_copy::Column::AppId.eq(app_id))
        .filter(backup_copy::Column::Health.eq(LOST))
        .filter(
            sea_orm::Condition::any().add(backup_copy::Column::Name.eq(copy)).add(backup_copy::Column::FileId.eq(copy)),
        )
        .exec(db)
        .await?;
    Ok(forgotten.rows_affected > 0)
}

/// The app's newest audits, newest first.
pub async fn history(db: &DatabaseConnection, app_id: i64, limit: u64) -> Result<Vec<copy_audit::Model>, DbErr> {
    use sea_orm::QuerySelect;
    copy_audit::Entity::find()
        .filter(copy_audit::Column::AppId.eq(app_id))
        .order_by_desc(copy_audit::Column::FinishedAt)
        .order_by_desc(copy_audit::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// The app's copies found lost or damaged, newest first (a lost one stays listed until it is
/// found again or an operator forgets it: [`forget`]).
pub async fn bad_copies(db: &DatabaseConnection, app_id: i64) -> Result<Vec<backup_copy::Model>, DbErr> {
    backup_copy::Entity::find()
        .filter(backup_copy::Column::AppId.eq(app_id))
        .filter(backup_copy::Column::Health.ne(GOOD))
        .order_by_desc(backup_copy::Column::CreatedAt)
        .all(db)
        .await
}
