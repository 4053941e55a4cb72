//! `/drive/v3/drives` (shared drives the caller belongs to) and `/drive/v3/about` (who the caller is), which
//! clients use to check a configuration before uploading.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::authenticate;
use crate::errors::ApiError;
use crate::fields;
use crate::params::Params;
use crate::state::{Shared, SharedDrive};

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
    let usage: u64 =
        inner.items.values().filter(|item| item.drive_id.is_none() && item.owner == who.email).map(|i| i.size).sum();
    // Service accounts have no storage of their own.
    let limit: u64 = if who.service_account { 0 } else { 15 * 1024 * 1024 * 1024 };
    let about = json!({
        "kind": "drive#about",
        "user": {
            "kind": "drive#user",
            "displayName": who.email.split('@').next().unwrap_or_default(),
            "emailAddress": who.email,
            "me": true,
        },
        "storageQuota": { "limit": limit.to_string(), "usage": usage.to_string(), "usageInDrive": usage.to_string() },
    });
    selected(&params, about)
}
