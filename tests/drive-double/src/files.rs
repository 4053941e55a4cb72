//! `/drive/v3/files`: list, get (metadata or `alt=media`), create (metadata only), update, delete.

use std::cmp::Ordering;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::auth::authenticate;
use crate::body;
use crate::errors::ApiError;
use crate::fields;
use crate::metadata;
use crate::params::Params;
use crate::query::{self, Candidate};
use crate::resource::render;
use crate::state::{FOLDER_MIME, Inner, Item, Principal, Shared, digests, random_id};

fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

fn json_response(value: Value) -> Response {
    axum::Json(value).into_response()
}

/// `GET /drive/v3/files`.
pub(crate) async fn list(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    respond(list_files(&shared, &parts))
}

#[derive(Clone, Copy)]
enum SortKey {
    Created,
    Modified,
    Name,
    Folder,
    Quota,
    Unordered,
}

fn parse_order(text: Option<&str>) -> Result<Vec<(SortKey, bool)>, ApiError> {
    let Some(text) = text else { return Ok(Vec::new()) };
    let mut keys = Vec::new();
    for clause in text.split(',').map(str::trim).filter(|clause| !clause.is_empty()) {
        let mut words = clause.split_whitespace();
        let key = match words.next() {
            Some("createdTime") => SortKey::Created,
            Some("modifiedTime" | "modifiedByMeTime" | "viewedByMeTime" | "recency" | "sharedWithMeTime") => {
                SortKey::Modified
            }
            Some("name" | "name_natural") => SortKey::Name,
            Some("folder") => SortKey::Folder,
            Some("quotaBytesUsed") => SortKey::Quota,
            Some("starred") => SortKey::Unordered,
            _ => return Err(ApiError::invalid_value("orderBy")),
        };
        let descending = match words.next() {
            None => false,
            Some("desc") => true,
            Some(_) => return Err(ApiError::invalid_value("orderBy")),
        };
        if words.next().is_some() {
            return Err(ApiError::invalid_value("orderBy"));
        }
        keys.push((key, descending));
    }
    Ok(keys)
}

fn compare(a: &Item, b: &Item, keys: &[(SortKey, bool)]) -> Ordering {
    for (key, descending) in keys {
        let ordering = match key {
            SortKey::Created => a.created_ms.cmp(&b.created_ms),
            SortKey::Modified => a.modified_ms.cmp(&b.modified_ms),
            SortKey::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()).then_with(|| a.name.cmp(&b.name)),
            // Ascending `folder` puts folders first.
            SortKey::Folder => b.is_folder().cmp(&a.is_folder()),
            SortKey::Quota => a.size.cmp(&b.size),
            SortKey::Unordered => Ordering::Equal,
        };
        let ordering = if *descending { ordering.reverse() } else { ordering };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    a.seq.cmp(&b.seq)
}

/// Page tokens are offsets bound to the query they came from; a token from another query is invalid.
const PAGE_TOKEN_PREFIX: &str = "~!!~AI9FV7";

fn encode_page_token(fingerprint: u64, offset: usize) -> String {
    format!("{PAGE_TOKEN_PREFIX}{fingerprint:016x}{offset:x}")
}

fn decode_page_token(token: &str, fingerprint: u64) -> Option<usize> {
    let rest = token.strip_prefix(PAGE_TOKEN_PREFIX)?;
    let (print, offset) = (rest.get(..16)?, rest.get(16..)?);
    if u64::from_str_radix(print, 16).ok()? != fingerprint {
        return None;
    }
    usize::from_str_radix(offset, 16).ok()
}

fn list_files(shared: &Shared, parts: &Parts) -> Result<Response, ApiError> {
    let params = Params::from_uri(&parts.uri)?;
    let who = authenticate(shared, &parts.headers)?;
    let all_drives = params.all_drives()?;
    let include_all = params.include_all_drives()? && all_drives;
    let corpora = params.get("corpora").unwrap_or("user");
    let drive_id = params.get("driveId").or(params.get("teamDriveId"));
    if !matches!(corpora, "user" | "domain" | "drive" | "allDrives") {
        return Err(ApiError::invalid_value("corpora"));
    }
    if (corpora == "drive") != drive_id.is_some() {
        return Err(ApiError::bad_request(
            "The driveId parameter must be specified if and only if corpora is set to drive.",
        )
        .at("parameter", "driveId"));
    }
    if matches!(corpora, "drive" | "allDrives") && !include_all {
        return Err(ApiError::bad_request(format!(
            "includeItemsFromAllDrives and supportsAllDrives must be set to true when corpora is {corpora}."
        ))
        .at("parameter", "includeItemsFromAllDrives"));
    }
    let page_size = match params.get("pageSize") {
        None => 100,
        Some(text) => match text.parse::<usize>() {
            Ok(size @ 1..=1000) => size,
            _ => return Err(ApiError::invalid_value("pageSize")),
        },
    };
    let q = params.get("q").filter(|q| !q.trim().is_empty());
    let expr = q.map(query::parse).transpose().map_err(|()| ApiError::invalid_value("q"))?;
    let order = parse_order(params.get("orderBy"))?;
    let selection = fields::for_file_list(params.get("fields"))?;
    let spaces = params.get("spaces").unwrap_or("drive");
    let mut drive_space = false;
    for space in spaces.split(',').map(str::trim) {
        match space {
            "drive" => drive_space = true,
            "appDataFolder" | "photos" => {}
            _ => return Err(ApiError::invalid_value("spaces")),
        }
    }

    let mut hasher = DefaultHasher::new();
    (&who.email, q, params.get("orderBy"), corpora, drive_id, include_all, spaces).hash(&mut hasher);
    let fingerprint = hasher.finish();
    let offset = match params.get("pageToken") {
        None | Some("") => 0,
        Some(token) => decode_page_token(token, fingerprint).ok_or_else(|| ApiError::invalid_value("pageToken"))?,
    };

    let inner = shared.lock();
    if let Some(drive_id) = drive_id
        && !inner.is_member(drive_id, &who.email)
    {
        return Err(ApiError::new(404, "global", "notFound", format!("Shared drive not found: {drive_id}"))
            .at("parameter", "driveId"));
    }
    let mut found: Vec<&Item> = inner
        .items
        .values()
        .filter(|item| drive_space && listable(&inner, item, &who, include_all, drive_id))
        .filter(|item| {
            expr.as_ref().is_none_or(|expr| query::matches(expr, &Candidate { item, trashed: inner.is_trashed(item) }))
        })
        .collect();
    found.sort_by(|a, b| compare(a, b, &order));
    let page: Vec<Value> = found.iter().skip(offset).take(page_size).map(|item| render(&inner, item, &who)).collect();
    let mut list = json!({ "kind": "drive#fileList", "incompleteSearch": false, "files": page });
    if offset + page_size < found.len() {
        list["nextPageToken"] = json!(encode_page_token(fingerprint, offset + page_size));
    }
    Ok(json_response(fields::apply(&selection, list)))
}

/// Whether files.list may return the item at all, before `q` is applied.
fn listable(inner: &Inner, item: &Item, who: &Principal, include_all: bool, drive_id: Option<&str>) -> bool {
    if item.is_root || !inner.can_see(who, item) {
        return false;
    }
    match (&item.drive_id, drive_id) {
        (Some(item_drive), Some(wanted)) => item_drive == wanted,
        (Some(_), None) => include_all,
        (None, Some(_)) => false,
        // "The trashed item is excluded from all files.list responses returned for any user who doesn't own it."
        (None, None) => item.owner == who.email || !inner.is_trashed(item),
    }
}

/// `GET /drive/v3/files/{fileId}`.
pub(crate) async fn get(State(shared): State<Arc<Shared>>, Path(id): Path<String>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    respond(get_file(&shared, &id, &parts))
}

fn get_file(shared: &Shared, id: &str, parts: &Parts) -> Result<Response, ApiError> {
    let params = Params::from_uri(&parts.uri)?;
    let who = authenticate(shared, &parts.headers)?;
    let all_drives = params.all_drives()?;
    let inner = shared.lock();
    let item = inner.lookup(&who, id, all_drives)?;
    match params.get("alt") {
        None | Some("json") => {
            let selection = fields::for_file(params.get("fields"))?;
            Ok(json_response(fields::apply(&selection, render(&inner, item, &who))))
        }
        Some("media") => download(item, parts.headers.get(header::RANGE).and_then(|v| v.to_str().ok())),
        Some(_) => Err(ApiError::invalid_value("alt")),
    }
}

/// A single `bytes=a-b`, `bytes=a-` or `bytes=-n` range; `None` means "serve everything".
fn parse_range(text: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = text.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let range = match (first.trim(), last.trim()) {
        ("", suffix) => {
            let suffix: u64 = suffix.parse().ok()?;
            if suffix == 0 || size == 0 {
                return Some(Err(()));
            }
            (size - suffix.min(size), size - 1)
        }
        (first, last) => {
            let first: u64 = first.parse().ok()?;
            let last: u64 = if last.is_empty() { u64::MAX } else { last.parse().ok()? };
            if last < first {
                return None;
            }
            if first >= size {
                return Some(Err(()));
            }
            (first, last.min(size - 1))
        }
    };
    Some(Ok(range))
}

fn download(item: &Item, range: Option<&str>) -> Result<Response, ApiError> {
    if item.is_folder() {
        return Err(ApiError::new(
            403,
            "global",
            "fileNotDownloadable",
            "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
        ));
    }
    let Some(content) = item.content.clone() else {
        return Err(ApiError::bad_request("The Drive double runs with hash_only and keeps no file content."));
    };
    let size = content.len() as u64;
    let content_type =
        HeaderValue::from_str(&item.mime_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    match range.and_then(|text| parse_range(text, size)) {
        None => Ok(([(header::CONTENT_TYPE, content_type)], Body::from(content)).into_response()),
        Some(Err(())) => {
            let mut response =
                ApiError::new(416, "global", "requestedRangeNotSatisfiable", "Request range not satisfiable")
                    .into_response();
            let unsatisfied = HeaderValue::from_str(&format!("bytes */{size}")).expect("ASCII");
            response.headers_mut().insert(header::CONTENT_RANGE, unsatisfied);
            Ok(response)
        }
        Some(Ok((first, last))) => {
            let part: Bytes = content.slice(first as usize..=last as usize);
            let content_range = HeaderValue::from_str(&format!("bytes {first}-{last}/{size}")).expect("ASCII");
            Ok((
                StatusCode::PARTIAL_CONTENT,
                [(header::CONTENT_TYPE, content_type), (header::CONTENT_RANGE, content_range)],
                Body::from(part),
            )
                .into_response())
        }
    }
}

/// `POST /drive/v3/files`: metadata only (folders, or empty files).
pub(crate) async fn create(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match body::small(body).await {
        Ok(bytes) => bytes,
        Err(error) => return error.into_response(),
    };
    respond(create_item(&shared, &parts, &bytes))
}

fn create_item(shared: &Shared, parts: &Parts, bytes: &[u8]) -> Result<Response, ApiError> {
    let params = Params::from_uri(&parts.uri)?;
    let who = authenticate(shared, &parts.headers)?;
    let all_drives = params.all_drives()?;
    let selection = fields::for_file(params.get("fields"))?;
    let metadata = metadata::parse(bytes)?;
    let is_folder = metadata.mime_type.as_deref() == Some(FOLDER_MIME);
    let mut guard = shared.lock();
    let inner = &mut *guard;
    // Folders take no storage, so a service account may create them in a folder shared with it.
    let file = metadata::prepare(inner, &who, metadata, all_drives, !is_folder, "application/octet-stream")?;
    let id = if is_folder {
        let id = random_id("1", 33);
        let mut folder = inner.blank_item(id.clone(), &file.name, FOLDER_MIME, &who.email);
        folder.parents = vec![file.parent.clone()];
        folder.drive_id = file.drive_id.clone();
        folder.app_properties = file.app_properties.clone();
        folder.properties = file.properties.clone();
        folder.description = file.description.clone();
        folder.apps.extend(who.client.iter().cloned());
        inner.items.insert(id.clone(), folder);
        id
    } else {
        let (md5, sha256) = digests(b"");
        let content = (!shared.hash_only).then(Bytes::new);
        inner.create_file(&who, &file, 0, md5, sha256, content)?
    };
    let item = &inner.items[&id];
    Ok(json_response(fields::apply(&selection, render(inner, item, &who))))
}

/// `PATCH /drive/v3/files/{fileId}`: name, trashed, appProperties / properties (merged; null removes),
/// description, mimeType, and moves with addParents / removeParents.
pub(crate) async fn update(State(shared): State<Arc<Shared>>, Path(id): Path<String>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match body::small(body).await {
        Ok(bytes) => bytes,
        Err(error) => return error.into_response(),
    };
    respond(update_item(&shared, &id, &parts, &bytes))
}

fn ids(list: Option<&str>) -> Vec<String> {
    list.unwrap_or_default().split(',').map(str::trim).filter(|id| !id.is_empty()).map(str::to_owned).collect()
}

fn update_item(shared: &Shared, id: &str, parts: &Parts, bytes: &[u8]) -> Result<Response, ApiError> {
    let params = Params::from_uri(&parts.uri)?;
    let who = authenticate(shared, &parts.headers)?;
    let all_drives = params.all_drives()?;
    let selection = fields::for_file(params.get("fields"))?;
    let patch = metadata::object(bytes)?;
    if patch.contains_key("parents") {
        return Err(ApiError::field_not_writable(
            "The parents field is not directly writable in update requests. Use the addParents and removeParents \
             parameters instead.",
        ));
    }
    if metadata::read_only_field(&patch).is_some() {
        return Err(ApiError::field_not_writable("The resource body includes fields which are not directly writable."));
    }

    let mut guard = shared.lock();
    let inner = &mut *guard;
    let mut item = inner.lookup(&who, id, all_drives)?.clone();
    if item.is_root {
        return Err(ApiError::insufficient_file_permissions());
    }
    let string = |value: &Value, field: &str| {
        value.as_str().map(str::to_owned).ok_or_else(|| ApiError::bad_request(format!("Invalid value for {field}.")))
    };
    for (key, value) in &patch {
        match key.as_str() {
            "name" => item.name = string(value, key)?,
            "mimeType" => item.mime_type = string(value, key)?,
            "description" => item.description = if value.is_null() { None } else { Some(string(value, key)?) },
            "trashed" => {
                let trashed = value.as_bool().ok_or_else(|| ApiError::bad_request("Invalid value for trashed."))?;
                if trashed != item.explicitly_trashed && !inner.can_manage(&who.email, &item) {
                    return Err(ApiError::insufficient_file_permissions());
                }
                item.explicitly_trashed = trashed;
            }
            "appProperties" | "properties" => {
                let target = if key == "appProperties" { &mut item.app_properties } else { &mut item.properties };
                for (name, value) in metadata::property_changes(value, key)? {
                    match value {
                        Some(value) => target.insert(name, value),
                        None => target.remove(&name),
                    };
                }
            }
            _ => {}
        }
    }

    let (add, remove) = (ids(params.get("addParents")), ids(params.get("removeParents")));
    if !add.is_empty() || !remove.is_empty() {
        for parent in &remove {
            let parent = inner.resolve_alias(&who, parent);
            item.parents.retain(|p| *p != parent);
        }
        let below = inner.descendants(&item.id);
        for parent in &add {
            let (parent, drive_id) = inner.check_new_child(&who, parent, all_drives, false)?;
            if drive_id != item.drive_id {
                return Err(ApiError::bad_request(
                    "Moving items between My Drive and shared drives, or between shared drives, is not supported by \
                     the Drive double.",
                ));
            }
            if parent == item.id || below.contains(&parent) {
                return Err(ApiError::bad_request(
                    "You tried to add a parent that would create a cycle in the directory graph.",
                ));
            }
            if !item.parents.contains(&parent) {
                item.parents.push(parent);
            }
        }
        if item.parents.len() != 1 {
            return Err(ApiError::new(
                403,
                "global",
                "cannotAddParent",
                "Increasing the number of parents is not allowed.",
            ));
        }
    }

    item.modified_ms = inner.tick();
    item.version += 1;
    let id = item.id.clone();
    inner.items.insert(id.clone(), item);
    let item = &inner.items[&id];
    Ok(json_response(fields::apply(&selection, render(inner, item, &who))))
}

/// `DELETE /drive/v3/files/{fileId}`: permanent, descendants included.
pub(crate) async fn delete(State(shared): State<Arc<Shared>>, Path(id): Path<String>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    respond(delete_item(&shared, &id, &parts))
}

fn delete_item(shared: &Shared, id: &str, parts: &Parts) -> Result<Response, ApiError> {
    let params = Params::from_uri(&parts.uri)?;
    let who = authenticate(shared, &parts.headers)?;
    let all_drives = params.all_drives()?;
    let mut inner = shared.lock();
    let item = inner.lookup(&who, id, all_drives)?;
    if item.is_root || !inner.can_manage(&who.email, item) {
        return Err(ApiError::insufficient_file_permissions());
    }
    let id = item.id.clone();
    for descendant in inner.descendants(&id) {
        inner.items.remove(&descendant);
    }
    inner.items.remove(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
    }

    #[test]
    fn page_tokens_are_bound_to_their_query() {
        let token = encode_page_token(42, 200);
        assert_eq!(decode_page_token(&token, 42), Some(200));
        assert_eq!(decode_page_token(&token, 43), None);
        assert_eq!(decode_page_token("garbage", 42), None);
    }
}
