//! `orchestrator recover`: a fresh installation (a database without apps) and the same
//! `SECRET_KEY` become the lost one again. The newest verified self-backup in
//! `SELF_BACKUP_FOLDER` (or the one named) restores the registry in one transaction; then every
//! app's folder is listed and its copies inventory rebuilt from the marks. Without a
//! self-backup, a deployment id given by the operator is adopted, so apps registered again by
//! name own their old copies.
//!
//! It never touches a database that has apps: that registry may be in use.

use sea_orm::{EntityTrait, PaginatorTrait};

use crate::config::Settings;
use crate::db::entities::app;
use crate::registry::Registry;
use crate::selfbackup::load::{self, Loaded};
use crate::selfbackup::{self as sb, SelfBackupError};
use crate::startup::Parts;
use crate::storage::destination::StoredFile;

/// How `recover` was asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    /// `--from`: a self-backup's file name (or Drive file id) in `SELF_BACKUP_FOLDER`.
    pub from: Option<&'a str>,
    /// `--deployment-id`: whose self-backup to take, or the id to adopt when there is none.
    pub deployment_id: Option<&'a str>,
}

/// What `recover` did.
#[derive(Debug, Clone)]
pub enum Recovered {
    /// The registry came back from a self-backup.
    Restored(Box<Restoration>),
    /// No self-backup: the deployment id was adopted.
    Adopted {
        /// The id.
        deployment: String,
    },
}

/// A registry restored from a self-backup.
#[derive(Debug, Clone)]
pub struct Restoration {
    /// The self-backup.
    pub file: StoredFile,
    /// What it held.
    pub loaded: Loaded,
    /// Each app's copies, found again.
    pub inventory: Vec<AppCopies>,
}

/// One app's copies after the rescan.
#[derive(Debug, Clone)]
pub struct AppCopies {
    /// The app.
    pub app: String,
    /// Copies its marks call its own.
    pub copies: usize,
    /// Why its folder could not be listed.
    pub error: Option<String>,
}

/// Recovers into the database of `parts`.
pub async fn recover(parts: &Parts, settings: &Settings, request: Request<'_>) -> Result<Recovered, SelfBackupError> {
    let apps = app::Entity::find().count(&parts.db).await?;
    if apps > 0 {
        return Err(SelfBackupError::Refused(format!(
            "this database already has {apps} app(s): recover only fills a database without apps, so it never overwrites a registry in use; point DATABASE_URL at a new, empty database (or move this one away) and run recover again"
        )));
    }
    if let Some(id) = request.deployment_id {
        crate::deployment::validate(id)
            .map_err(|e| SelfBackupError::Refused(e.replace("DEPLOYMENT_ID=", "--deployment-id ")))?;
    }
    if let (Some(asked), Some(configured)) = (request.deployment_id, settings.deployment_id.as_deref())
        && asked != configured
    {
        return Err(SelfBackupError::Refused(format!(
            "--deployment-id {asked} and DEPLOYMENT_ID={configured} differ: give one of them"
        )));
    }
    let wanted = request.deployment_id.or(settings.deployment_id.as_deref());
    let Some(folder) = settings.self_backup.folder.as_deref() else {
        return match (request.from, wanted) {
            (None, Some(id)) => adopt(parts, id).await,
            (Some(_), _) => Err(SelfBackupError::Refused(format!(
                "{} (--from names a file in that folder)",
                settings.self_backup.off_reason()
            ))),
            (None, None) => Err(SelfBackupError::Refused(
                "SELF_BACKUP_FOLDER is not set, so there is no self-backup to recover from: set it to the folder that holds them, or run `orchestrator recover --deployment-id ID` with the id `serve` printed (noted with SECRET_KEY) so apps registered again by name own their copies".into(),
            )),
        };
    };
    let file = match request.from {
        Some(from) => named(parts, folder, from).await?,
        None => match newest(parts, folder, wanted).await? {
            Some(file) => file,
            None => {
                return match wanted {
                    Some(id) => adopt(parts, id).await,
                    None => Err(no_self_backup(parts, folder).await),
                };
            }
        },
    };
    if let (Some(wanted), Some(theirs)) = (wanted, sb::deployment_of(&file))
        && wanted != theirs
    {
        return Err(SelfBackupError::Refused(format!(
            "{} is a self-backup of deployment {theirs}, not {wanted}: choose one of {wanted}, or leave DEPLOYMENT_ID and --deployment-id unset",
            file.name
        )));
    }
    let loaded = load::restore(&parts.db, &parts.secrets, &parts.destination, folder, &file, wanted).await?;
    let inventory = rescan(parts, &loaded.header.deployment).await?;
    Ok(Recovered::Restored(Box::new(Restoration { file, loaded, inventory })))
}

/// The self-backup `--from` names.
async fn named(parts: &Parts, folder: &str, from: &str) -> Result<StoredFile, SelfBackupError> {
    let found = parts
        .destination
        .find(folder, from)
        .await
        .map_err(|e| SelfBackupError::destination(format_args!("looking for {from} in {folder} failed"), e))?;
    if let Some(file) = found {
        return Ok(file);
    }
    let mut there = sb::list(&parts.destination, folder).await?;
    sb::newest_first(&mut there);
    let names: Vec<&str> = there.iter().map(|f| f.name.as_str()).collect();
    Err(SelfBackupError::Refused(if names.is_empty() {
        format!("--from {from}: SELF_BACKUP_FOLDER {folder} has no such file, and no self-backup at all")
    } else {
        format!(
            "--from {from}: SELF_BACKUP_FOLDER {folder} has no such file; its self-backups are: {}",
            names.join(", ")
        )
    }))
}

/// The newest verified self-backup in `folder` (of `deployment`, when given). Several
/// deployments' self-backups with none chosen is an error: picking one would be a guess.
async fn newest(parts: &Parts, folder: &str, deployment: Option<&str>) -> Result<Option<StoredFile>, SelfBackupError> {
    let mut candidates: Vec<StoredFile> = sb::list(&parts.destination, folder)
        .await?
        .into_iter()
        .filter(|f| sb::is_verified(f) && deployment.is_none_or(|d| sb::deployment_of(f) == Some(d)))
        .collect();
    let deployments = sb::deployments(&candidates);
    if deployment.is_none() && deployments.len() > 1 {
        let list: Vec<String> = deployments.into_iter().collect();
        return Err(SelfBackupError::Refused(format!(
            "SELF_BACKUP_FOLDER {folder} holds self-backups of several deployments ({}): choose yours with --deployment-id ID, or a file with --from NAME",
            list.join(", ")
        )));
    }
    sb::newest_first(&mut candidates);
    Ok(candidates.into_iter().next())
}

/// No self-backup and no id: say which ids the folder's marks name, and how to choose.
async fn no_self_backup(parts: &Parts, folder: &str) -> SelfBackupError {
    let found = match parts.destination.list(folder).await {
        Ok(files) => sb::deployments(&files).into_iter().collect::<Vec<_>>(),
        Err(e) => return SelfBackupError::destination(format_args!("listing SELF_BACKUP_FOLDER {folder} failed"), e),
    };
    SelfBackupError::Refused(if found.is_empty() {
        format!(
            "SELF_BACKUP_FOLDER {folder} holds no self-backup and no marked copy: run `orchestrator recover --deployment-id ID` with the id `serve` printed (noted with SECRET_KEY), then register the apps again by name"
        )
    } else {
        format!(
            "SELF_BACKUP_FOLDER {folder} holds no verified self-backup; the marks there name deployment(s) {}: run `orchestrator recover --deployment-id ID` with yours, then register the apps again by name",
            found.join(", ")
        )
    })
}

/// Adopts `id` on a database without apps.
async fn adopt(parts: &Parts, id: &str) -> Result<Recovered, SelfBackupError> {
    crate::secrets::check_fingerprint(&parts.db, &parts.secrets)
        .await
        .map_err(|e| SelfBackupError::Refused(e.to_string()))?;
    crate::deployment::adopt(&parts.db, id).await.map_err(SelfBackupError::Refused)?;
    Ok(Recovered::Adopted { deployment: id.to_owned() })
}

/// Lists every restored app's folder and rebuilds its inventory from the marks.
async fn rescan(parts: &Parts, deployment: &str) -> Result<Vec<AppCopies>, SelfBackupError> {
    let registry = Registry::new(parts.db.clone(), parts.secrets.clone());
    let apps = registry.list().await.map_err(|e| {
        SelfBackupError::Refused(format!("the registry was restored, but reading its apps back failed: {e}"))
    })?;
    let mut found = Vec::with_capacity(apps.len());
    for app in apps {
        let listed_at = crate::db::now_ms();
        match parts.destination.list(&app.folder).await {
            Ok(listed) => {
                let (db, destination) = (&parts.db, &parts.destination);
                crate::backup::inventory::reconcile(db, destination, deployment, &app, &listed, listed_at).await?;
                let copies = listed.iter().filter(|f| crate::backup::inventory::owned_by(f, deployment, &app)).count();
                found.push(AppCopies { app: app.name, copies, error: None });
            }
            Err(e) => found.push(AppCopies {
                app: app.name.clone(),
                copies: 0,
                error: Some(format!(
                    "listing its folder {} failed ({}); `orchestrator retention {}` rebuilds its inventory later",
                    app.folder,
                    e.message(),
                    app.name
                )),
            }),
        }
    }
    Ok(found)
}
