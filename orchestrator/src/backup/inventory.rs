//! The copies inventory (`backup_copies`): what the dashboard, stats and metrics count. The
//! destination wins: a full listing of an app's folder brings the inventory in line with it
//! ([`reconcile`]); a single new copy is added on its own ([`record_copy`]) without judging any
//! other copy, since one file says nothing about the rest of the folder.

use sea_orm::ActiveValue::Set;
use sea_orm::prelude::*;

use crate::db::entities::backup_copy;
use crate::db::now_ms;
use crate::storage::destination::StoredFile;

/// Brings the inventory of an app in line with a COMPLETE listing of its folder (the destination
/// wins): files the app owns are upserted, inventory rows whose file is gone are marked deleted.
pub async fn reconcile(
    db: &DatabaseConnection,
    deployment: &str,
    app: &crate::registry::App,
    listed: &[StoredFile],
) -> Result<(), DbErr> {
    let app_id = app.id;
    let owned: Vec<&StoredFile> = listed.iter().filter(|f| owned_by(f, deployment, app)).collect();
    let known = backup_copy::Entity::find().filter(backup_copy::Column::AppId.eq(app_id)).all(db).await?;
    for file in &owned {
        upsert(db, app_id, file, known.iter().find(|k| k.file_id == file.id)).await?;
    }
    let now = now_ms();
    for row in known.iter().filter(|k| k.deleted_at.is_none() && !owned.iter().any(|f| f.id == k.file_id)) {
        let mut row: backup_copy::ActiveModel = row.clone().into();
        row.deleted_at = Set(Some(now));
        row.update(db).await?;
    }
    Ok(())
}

/// Adds (or updates) one copy the app just made; every other row is left as it was.
pub async fn record_copy(db: &DatabaseConnection, app_id: i64, file: &StoredFile) -> Result<(), DbErr> {
    let known = backup_copy::Entity::find()
        .filter(backup_copy::Column::AppId.eq(app_id))
        .filter(backup_copy::Column::FileId.eq(file.id.as_str()))
        .one(db)
        .await?;
    upsert(db, app_id, file, known.as_ref()).await
}

async fn upsert(
    db: &DatabaseConnection,
    app_id: i64,
    file: &StoredFile,
    known: Option<&backup_copy::Model>,
) -> Result<(), DbErr> {
    let verified = file.properties.get("verified").is_some_and(|v| v == "1");
    let sha256 = file.properties.get("sha256").cloned().or_else(|| file.sha256.clone());
    let codec = file.properties.get(crate::codec::CODEC_MARK).cloned();
    let plain_size = file.properties.get(crate::codec::SIZE_MARK).and_then(|s| s.parse::<i64>().ok());
    let stored_sha256 = file.properties.get(crate::codec::STORED_SHA256_MARK).cloned();
    match known {
        Some(row) => {
            let mut row: backup_copy::ActiveModel = row.clone().into();
            row.name = Set(file.name.clone());
            row.size = Set(file.size as i64);
            row.sha256 = Set(sha256);
            row.verified = Set(verified);
            row.deleted_at = Set(None);
            row.codec = Set(codec);
            row.plain_size = Set(plain_size);
            row.stored_sha256 = Set(stored_sha256);
            row.update(db).await?;
        }
        None => {
            let created = file
                .created
                .as_deref()
                .and_then(|c| c.parse::<jiff::Timestamp>().ok())
                .map_or_else(now_ms, |t| t.as_millisecond());
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
                ..Default::default()
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
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
