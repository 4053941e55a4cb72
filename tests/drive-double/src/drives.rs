//! `/drive/v3/drives` (shared drives the caller belongs to) and `/drive/v3/about` (who the caller is), which
//! clients use to check a configuration before uploading.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::authenticate;
use crate::errors::ApiError;
use crate::fields;
use crate::params::Params;
use crate::state::{Shared, SharedDrive, USER_STORAGE_LIMIT};

fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(value) => axum::Json(value).into_response(),
        Err(error) => error.into_response(),
    }
}

fn drive_json(id: &str, drive: &SharedDrive) -> Value {
    json!({ "kind": "drive#drive", "id": id, "name": drive.name })
}

fn selected(params: &Params, value: Value) -> Result<Value, ApiError> {
    match params.get("fields") {
        Some(text) => Ok(fields::apply(&fields::parse(text)?, value)),
        None => Ok(value),
    }
}

/// `GET /drive/v3/drives/{driveId}`.
pub(crate) async fn get(State(shared): State<Arc<Shared>>, Path(id): Path<String>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    respond(get_drive(&shared, &id, &parts))
}

fn get_drive(shared: &Shared, id: &str, parts: &Parts) -> Result<Value, ApiError> {
    let params = Params::from_uri(&parts.uri)?;
    let who = authenticate(shared, &parts.headers)?;
    let inner = shared.lock();
    match inner.drives.get(id) {
        Some(drive) if drive.members.contains(&who.email) => selected(&params, drive_json(id, drive)),
        _ => Err(ApiError::new(404, "global", "notFound", format!("Shared drive not found: {id}"))
            .at("parameter", "driveId")),
    }
}

/// `GET /drive/v3/drives`.
pub(crate) async fn list(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    respond(list_drives(&shared, &parts))
}

fn list_drives(shared: &Shared, parts: &Parts) -> Result<Value, ApiError> {
    let params = Params::from_uri(&parts.uri)?;
    let who = authenticate(shared, &parts.headers)?;
    let inner = shared.lock();
    let mut drives: Vec<(&String, &SharedDrive)> =
        inner.drives.iter().filter(|(_, drive)| drive.members.contains(&who.email)).collect();
    drives.sort_by(|a, b| a.1.name.cmp(&b.1.name).then(a.0.cmp(b.0)));
    let drives: Vec<Value> = drives.into_iter().map(|(id, drive)| drive_json(id, drive)).collect();
    selected(&params, json!({ "kind": "drive#driveList", "drives": drives }))
}

/// The same user gets the same numeric permission id every time, as in Drive.
fn permission_id(email: &str) -> String {
    let mut hasher = DefaultHasher::new();
    email.hash(&mut hasher);
    format!("{:020}", hasher.finish())
}

/// `GET /drive/v3/about`; Google requires `fields` on this method.
pub(crate) async fn about(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    respond(about_me(&shared, &parts))
}

fn about_me(shared: &Shared, parts: &Parts) -> Result<Value, ApiError> {
    let params = Params::from_uri(&parts.uri)?;
    let who = authenticate(shared, &parts.headers)?;
    if params.get("fields").is_none() {
        return Err(ApiError::new(400, "global", "required", "The 'fields' parameter is required for this method.")
            .at("parameter", "fields"));
    }
    let inner = shared.lock();
    let owned = || inner.items.values().filter(|item| item.drive_id.is_none() && item.owner == who.email);
    let usage: u64 = owned().map(|item| item.size).sum();
    let in_trash: u64 = owned().filter(|item| inner.is_trashed(item)).map(|item| item.size).sum();
    // A quota set for the principal wins; otherwise a user has a Google Account's 15 GB and a service account
    // acting as itself none.
    let limit = match inner.faults.storage_quota.get(&who.email) {
        Some(quota) => *quota,
        None if who.service_account => 0,
        None => USER_STORAGE_LIMIT,
    };
    let about = json!({
        "kind": "drive#about",
        "user": {
            "kind": "drive#user",
            "displayName": who.email.split('@').next().unwrap_or_default(),
            "emailAddress": who.email,
            "permissionId": permission_id(&who.email),
            "me": true,
        },
        // The double has no unlimited accounts, so `limit` (absent when storage is unlimited) is always there.
        // Nothing outside Drive uses storage here: `usage` equals `usageInDrive`, which counts trashed items too.
        "storageQuota": {
            "limit": limit.to_string(),
            "usage": usage.to_string(),
            "usageInDrive": usage.to_string(),
            "usageInDriveTrash": in_trash.to_string(),
        },
    });
    selected(&params, about)
}
