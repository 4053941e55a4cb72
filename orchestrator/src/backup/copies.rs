//! The copies of an app in its destination, as operators browse them: listed from the
//! destination (which wins over the inventory, brought in line on each listing), found by name,
//! read back, deleted by hand. Only files whose properties say they are the app's are ever shown
//! or touched, whatever their name.

use crate::backup::inventory;
use crate::backup::run::Runner;
use crate::error::Error;
use crate::registry::App;
use crate::storage::destination::StoredFile;

/// The app's copies, newest first; the inventory is reconciled with what was listed.
pub async fn list(runner: &Runner, app: &App) -> Result<Vec<StoredFile>, Error> {
    let listed = runner
        .destination
        .list(&app.folder)
        .await
        .map_err(|e| Error::destination(format_args!("cannot list {}", app.folder), &e))?;
    if let Err(e) = inventory::reconcile(&runner.db, &runner.deployment_id, app, &listed).await {
        tracing::warn!(app = %app.name, error = %e, "could not update the inventory");
    }
    let mut owned: Vec<StoredFile> =
        listed.into_iter().filter(|f| inventory::owned_by(f, &runner.deployment_id, app)).collect();
    owned.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.name.cmp(&a.name)));
    Ok(owned)
}

/// The app's copy called `name` (or with that file id).
pub async fn find(runner: &Runner, app: &App, name: &str) -> Result<Option<StoredFile>, Error> {
    let found = runner
        .destination
        .find(&app.folder, name)
        .await
        .map_err(|e| Error::destination(format_args!("cannot look up {name}"), &e))?;
    Ok(found.filter(|f| inventory::owned_by(f, &runner.deployment_id, app)))
}

/// True when the copy was verified after upload (its checksum matched ours).
pub fn verified(file: &StoredFile) -> bool {
    file.properties.get("verified").is_some_and(|v| v == "1")
}

/// The copy's verified sha256, if any.
pub fn sha256(file: &StoredFile) -> Option<String> {
    file.properties.get("sha256").cloned().or_else(|| file.sha256.clone())
}

/// Deletes one copy and marks it deleted in the inventory.
pub async fn delete(runner: &Runner, app: &App, file: &StoredFile) -> Result<(), Error> {
    runner
        .destination
        .remove(&app.folder, file)
        .await
        .map_err(|e| Error::destination(format_args!("cannot delete {}", file.name), &e))?;
    Ok(inventory::mark_deleted(&runner.db, app.id, &file.id).await?)
}

/// Deletes every copy of the app (when an operator deletes the app and asks for its copies to
/// go too); returns how many.
pub async fn delete_all(runner: &Runner, app: &App) -> Result<usize, Error> {
    let files = list(runner, app).await?;
    for file in &files {
        delete(runner, app, file).await?;
    }
    Ok(files.len())
}
