//! The start of a new database next to an old deployment's self-backups. A database with no
//! apps and no deployment id would take a new id on its first start; when `SELF_BACKUP_FOLDER`
//! holds self-backups, that is most likely a lost installation being rebuilt, and copies
//! written under a new id would not be the old deployment's. So the start is refused until the
//! operator runs `recover`, or says which deployment this is (`DEPLOYMENT_ID`).
//!
//! It only ever reads: a listing of `SELF_BACKUP_FOLDER`, on a database that holds no id yet.

use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};

use crate::config::Settings;
use crate::db::entities::app;
use crate::storage::destination::Destination;

/// Refuses, saying what to do, when a new deployment id would be generated next to existing
/// self-backups.
pub async fn check(db: &DatabaseConnection, destination: &Destination, settings: &Settings) -> Result<(), String> {
    if settings.deployment_id.is_some() || crate::deployment::stored(db).await?.is_some() {
        return Ok(());
    }
    let Some(folder) = settings.self_backup.folder.as_deref() else { return Ok(()) };
    if app::Entity::find().count(db).await.map_err(|e| format!("could not count the apps: {e}"))? > 0 {
        return Ok(());
    }
    let found = match crate::selfbackup::list(destination, folder).await {
        Ok(found) => found,
        Err(e) => {
            // A destination that cannot be listed yet (e.g. a Drive account still to be
            // connected on the Destination page) must not keep the service from starting.
            tracing::warn!(error = %e, "could not look for self-backups of an earlier installation");
            return Ok(());
        }
    };
    if found.is_empty() {
        return Ok(());
    }
    let deployments: Vec<String> = crate::selfbackup::deployments(&found).into_iter().collect();
    Err(format!(
        "this database is new (no apps, no deployment id), but SELF_BACKUP_FOLDER {folder} holds {} self-backup(s) of deployment(s) {}: run `orchestrator recover` to restore that registry first, or set DEPLOYMENT_ID (to one of those ids to continue that deployment without its registry, or to a new id to start a deployment of its own)",
        found.len(),
        deployments.join(", ")
    ))
}
