//! The copies inventory (`backup_copies`): what the dashboard, stats and metrics count. The
//! destination wins: a full listing of an app's folder brings the inventory in line with it
//! ([`reconcile`]); a single new copy is added on its own ([`record_copy`]) without judging any
//! other copy, since one file says nothing about the rest of the folder.
//!
//! Each row also holds the copy's health. A copy that leaves the folder though nobody here
//! deleted it (deleted or trashed by hand, a folder emptied) is `lost`; one whose size or
//! checksum, as listed, is not what was stored is `damaged` (so is one an audit read back and
//! found different: see [`crate::backup::audit`]). A lost copy found again, or a damaged one
//! found as stored, is `good` again. Retention counts good copies only.

use sea_orm::ActiveValue::Set;
use sea_orm::prelude::*;

use crate::db::entities::backup_copy;
use crate::db::now_ms;
use crate::storage::destination::StoredFile;

/// A copy found as it was stored.
pub const GOOD: &str = "good";
/// A copy gone from its folder (or trashed) that nobody here deleted.
pub const LOST: &str = "lost";
/// A copy whose size or checksum is not what was stored.
pub const DAMAGED: &str = "damaged";
/// Damage seen in a listing (size, or the destination's own checksum).
pub const FOUND_IN_LISTING: &str = "listing";
/// Damage found by reading the copy back.
pub const FOUND_BY_READING: &str = "read";

/// How a listing changed the health of an app's copies (file names).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Newly lost.
    pub lost: Vec<String>,
    /// Newly damaged, with what is wrong.
    pub damaged: Vec<(String, String)>,
    /// Lost or damaged before, found as stored now.
    pub recovered: Vec<String>,
}

/// Brings the inventory of an app in line with a COMPLETE listing of its folder, begun at
/// `listed_at` (ms; the destination wins): files the app owns are upserted and judged; rows
/// whose file is gone are marked deleted, and lost unless they were deleted here (deletions here
/// mark the row first).
///
/// Other processes work meanwhile, so the listing may be stale by the time it is applied: a row
/// deleted here after the listing began is not brought back, and a copy the listing missed is
/// looked up once more before it is called lost (a backup may have stored it since).
pub async fn reconcile(
    db: &DatabaseConnection,
    destination: &crate::storage::destination::Destination,
    deployment: &str,
    app: &crate::registry::App,
    listed: &[StoredFile],
    listed_at: i64,
) -> Result<Changes, DbErr> {
    let app_id = app.id;
    let owned: Vec<&StoredFile> = listed.iter().filter(|f| owned_by(f, deployment, app)).collect();
    let known = backup_copy::Entity::find().filter(backup_copy::Column::AppId.eq(app_id)).all(db).await?;
    let mut changes = Changes::default();
    for file in &owned {
        let row = known.iter().find(|k| k.file_id == file.id);
        if row.is_some_and(|r| r.deleted_at.is_some_and(|at| at >= listed_at)) {
            continue;
        }
        upsert(db, app_id, file, row, Some(&mut changes)).await?;
    }
    for row in known.iter().filter(|k| k.deleted_at.is_none() && !owned.iter().any(|f| f.id == k.file_id)) {
        match destination.find(&app.folder, &row.name).await {
            Ok(Some(found)) if found.id == row.file_id => continue,
            Ok(_) => {}
            // Not known to be gone: judged by a later listing.
            Err(_) => continue,
        }
        let now = now_ms();
        let marked = backup_copy::Entity::update_many()
            .col_expr(backup_copy::Column::DeletedAt, Expr::value(now))
            .col_expr(backup_copy::Column::Health, Expr::value(LOST))
            .col_expr(
                backup_copy::Column::HealthDetail,
                Expr::value("gone from the folder: deleted or trashed outside the orchestrator"),
            )
            .col_expr(backup_copy::Column::HealthSince, Expr::value(now))
            .col_expr(backup_copy::Column::HealthAlertedAt, Expr::value(Option::<i64>::None))
            .col_expr(backup_copy::Column::DamageFoundBy, Expr::value(Option::<String>::None))
            .filter(backup_copy::Column::Id.eq(row.id))
            .filter(backup_copy::Column::DeletedAt.is_null())
            .exec(db)
            .await?;
        if marked.rows_affected == 1 {
            changes.lost.push(row.name.clone());
        }
    }
    Ok(changes)
}

/// What a listing shows wrong with a verified copy: a size or a checksum (the destination's own,
/// where it reports one) other than its marks recorded when it was stored. `None` when nothing
/// listed contradicts them, or when the copy carries no such marks to hold it to.
pub fn listing_problem(file: &StoredFile) -> Option<String> {
    if file.properties.get("verified").is_none_or(|v| v != "1") {
        return None;
    }
    let stored = crate::codec::Stored::of(&file.properties).ok()?;
    let (size, sha256) = recorded(file, &stored);
    if let Some(size) = size
        && size != file.size
    {
        return Some(format!("the destination holds {} bytes; {size} were stored", file.size));
    }
    if let (Some(ours), Some(theirs)) = (sha256, file.sha256.as_deref())
        && !ours.eq_ignore_ascii_case(theirs)
    {
        return Some(format!("the destination reports sha256 {theirs}; {ours} was stored"));
    }
    None
}

/// Adds (or updates) one copy the app just made; every other row is left as it was.
pub async fn record_copy(db: &DatabaseConnection, app_id: i64, file: &StoredFile) -> Result<(), DbErr> {
    let known = backup_copy::Entity::find()
        .filter(backup_copy::Column::AppId.eq(app_id))
        .filter(backup_copy::Column::FileId.eq(file.id.as_str()))
        .one(db)
        .await?;
    upsert(db, app_id, file, known.as_ref(), None).await
}

async fn upsert(
    db: &DatabaseConnection,
    app_id: i64,
    file: &StoredFile,
    known: Option<&backup_copy::Model>,
    changes: Option<&mut Changes>,
) -> Result<(), DbErr> {
    let verified = file.properties.get("verified").is_some_and(|v| v == "1");
    let sha256 = file.properties.get("sha256").cloned().or_else(|| file.sha256.clone());
    let codec = file.properties.get(crate::codec::CODEC_MARK).cloned();
    let plain_size = file.properties.get(crate::codec::SIZE_MARK).and_then(|s| s.parse::<i64>().ok());
    let stored_sha256 = file.properties.get(crate::codec::STORED_SHA256_MARK).cloned();
    let problem = listing_problem(file);
    let now = now_ms();
    match known {
        Some(row) => {
            // Only what changed is written: a folder listed again unchanged costs no write.
            let mut update: backup_copy::ActiveModel = row.clone().into();
            update.name.set_if_not_equals(file.name.clone());
            update.size.set_if_not_equals(file.size as i64);
            update.sha256.set_if_not_equals(sha256);
            update.verified.set_if_not_equals(verified);
            update.deleted_at.set_if_not_equals(None);
            update.codec.set_if_not_equals(codec);
            update.plain_size.set_if_not_equals(plain_size);
            update.stored_sha256.set_if_not_equals(stored_sha256);
            match &problem {
                Some(problem) if row.health != DAMAGED || row.deleted_at.is_some() => {
                    update.health = Set(DAMAGED.to_owned());
                    update.health_detail = Set(Some(problem.clone()));
                    update.health_since = Set(Some(now));
                    update.health_alerted_at = Set(None);
                    update.damage_found_by = Set(Some(FOUND_IN_LISTING.to_owned()));
                    if let Some(changes) = changes {
                        changes.damaged.push((file.name.clone(), problem.clone()));
                    }
                }
                Some(_) => {}
                // Damage found by reading is cleared by reading only: a listing cannot see it.
                None if row.health == LOST
                    || (row.health == DAMAGED && row.damage_found_by.as_deref() != Some(FOUND_BY_READING)) =>
                {
                    clear_health(&mut update);
                    if let Some(changes) = changes {
                        changes.recovered.push(file.name.clone());
                    }
                }
                None => {}
            }
            if update.is_changed() {
                update.update(db).await?;
            }
        }
        None => {
            let created = file
                .created
                .as_deref()
                .and_then(|c| c.parse::<jiff::Timestamp>().ok())
                .map_or_else(now_ms, |t| t.as_millisecond());
            if let (Some(problem), Some(changes)) = (&problem, changes) {
                changes.damaged.push((file.name.clone(), problem.clone()));
            }
            backup_copy::ActiveModel {
                app_id: Set(app_id),
                run_id: Set(file.properties.get("run_id").and_then(|r| r.parse().ok())),
                file_id: Set(file.id.clone()),
                name: Set(file.name.clone()),
                size: Set(file.size as i64),
                sha256: Set(sha256),
                verified: Set(verified),
                created_at: Set(created),
                codec: Set(codec),
                plain_size: Set(plain_size),
                stored_sha256: Set(stored_sha256),
                health: Set(if problem.is_some() { DAMAGED } else { GOOD }.to_owned()),
                health_since: Set(problem.is_some().then_some(now)),
                damage_found_by: Set(problem.is_some().then(|| FOUND_IN_LISTING.to_owned())),
                health_detail: Set(problem),
                ..Default::default()
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
}

/// The size and sha256 of the stored bytes as the copy's marks recorded them when it was stored
/// (the plaintext's for a copy stored as the app sent it), when the marks say.
pub fn recorded<'a>(file: &'a StoredFile, stored: &crate::codec::Stored) -> (Option<u64>, Option<&'a str>) {
    let mark = |key: &str| file.properties.get(key).map(String::as_str);
    let (size, sha256) = if stored.is_plain() {
        (mark(crate::codec::SIZE_MARK), mark("sha256"))
    } else {
        (mark(crate::codec::STORED_SIZE_MARK), mark(crate::codec::STORED_SHA256_MARK))
    };
    (size.and_then(|s| s.parse().ok()), sha256)
}

/// Sets a row back to good.
pub(crate) fn clear_health(row: &mut backup_copy::ActiveModel) {
    row.health = Set(GOOD.to_owned());
    row.health_detail = Set(None);
    row.health_since = Set(None);
    row.health_alerted_at = Set(None);
    row.damage_found_by = Set(None);
}

/// The file ids of the app's copies found damaged (by a listing or by reading them back).
pub async fn damaged_ids(db: &DatabaseConnection, app_id: i64) -> Result<std::collections::HashSet<String>, DbErr> {
    let rows = backup_copy::Entity::find()
        .filter(backup_copy::Column::AppId.eq(app_id))
        .filter(backup_copy::Column::DeletedAt.is_null())
        .filter(backup_copy::Column::Health.eq(DAMAGED))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.file_id).collect())
}

/// Marks an inventory row deleted.
pub async fn mark_deleted(db: &DatabaseConnection, app_id: i64, file_id: &str) -> Result<(), DbErr> {
    backup_copy::Entity::update_many()
        .col_expr(backup_copy::Column::DeletedAt, Expr::value(now_ms()))
        .filter(backup_copy::Column::AppId.eq(app_id))
        .filter(backup_copy::Column::FileId.eq(file_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// True when the file's marks say it belongs to this app of this deployment (never judged by its
/// file name): the deployment id (`dep`) and the app's name (`app`) or stable uid (`uid`) decide,
/// so an app removed and registered again under the same name keeps its copies, and a copy of
/// another deployment sharing the folder is never ours. Marks written before deployment ids
/// carry no `dep`: the app's row id decides for them, as it did.
pub fn owned_by(file: &StoredFile, deployment: &str, app: &crate::registry::App) -> bool {
    let mark = |key: &str| file.properties.get(key).map(String::as_str);
    match mark(DEPLOYMENT_MARK) {
        Some(dep) => {
            dep == deployment
                && (mark("app") == Some(app.name.as_str())
                    || (!app.uid.is_empty() && mark(UID_MARK) == Some(app.uid.as_str())))
        }
        None => mark("app_id").is_some_and(|id| *id == app.id.to_string()),
    }
}

/// The mark holding the app's stable uid.
pub const UID_MARK: &str = "uid";

/// The mark naming the deployment that wrote a copy (kept short: Drive allows 124 bytes per
/// `appProperties` key and value together).
pub const DEPLOYMENT_MARK: &str = "dep";
