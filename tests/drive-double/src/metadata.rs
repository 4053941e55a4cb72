//! File metadata in request bodies (files.create, uploads) and where the new file may go.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::errors::ApiError;
use crate::state::{Inner, NewFile, Principal};

/// Fields Google computes itself; sending them is refused rather than silently ignored.
const READ_ONLY: &[&str] = &[
    "size",
    "md5Checksum",
    "sha1Checksum",
    "sha256Checksum",
    "driveId",
    "teamDriveId",
    "owners",
    "version",
    "quotaBytesUsed",
    "headRevisionId",
    "capabilities",
    "webViewLink",
    "webContentLink",
    "iconLink",
    "thumbnailLink",
    "fileExtension",
    "fullFileExtension",
    "explicitlyTrashed",
    "ownedByMe",
    "shared",
    "spaces",
    "permissions",
    "permissionIds",
    "lastModifyingUser",
    "sharingUser",
    "trashingUser",
    "trashedTime",
    "modifiedByMe",
    "viewedByMe",
    "isAppAuthorized",
    "hasThumbnail",
    "exportLinks",
];

/// Google's per-property limit: key and value together at most 124 bytes of UTF-8.
const PROPERTY_LIMIT: usize = 124;

#[derive(Debug, Default)]
pub(crate) struct Metadata {
    pub(crate) name: Option<String>,
    pub(crate) mime_type: Option<String>,
    pub(crate) parents: Vec<String>,
    pub(crate) app_properties: BTreeMap<String, String>,
    pub(crate) properties: BTreeMap<String, String>,
    pub(crate) description: Option<String>,
}

pub(crate) fn object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(ApiError::parse_error()),
    }
}

fn string(value: &Value, field: &str) -> Result<String, ApiError> {
    value.as_str().map(str::to_owned).ok_or_else(|| ApiError::bad_request(format!("Invalid value for {field}.")))
}

/// Reads a properties object; `null` values mean "remove" and come back as `None`.
pub(crate) fn property_changes(value: &Value, field: &str) -> Result<Vec<(String, Option<String>)>, ApiError> {
    let Value::Object(map) = value else {
        return Err(ApiError::bad_request(format!("Invalid value for {field}.")));
    };
    let mut changes = Vec::new();
    for (key, value) in map {
        match value {
            Value::Null => changes.push((key.clone(), None)),
            Value::String(text) => {
                if key.len() + text.len() > PROPERTY_LIMIT {
                    return Err(ApiError::bad_request(format!(
                        "The size of the property {key} exceeds the limit of {PROPERTY_LIMIT} bytes for key and value."
                    )));
                }
                changes.push((key.clone(), Some(text.clone())));
            }
            _ => return Err(ApiError::bad_request(format!("Invalid value for {field}."))),
        }
    }
    Ok(changes)
}

pub(crate) fn read_only_field(object: &Map<String, Value>) -> Option<&str> {
    object.keys().map(String::as_str).find(|key| READ_ONLY.contains(key))
}

/// Metadata of a file to create. Writable fields the double does not model are accepted and ignored.
pub(crate) fn parse(bytes: &[u8]) -> Result<Metadata, ApiError> {
    let object = object(bytes)?;
    if read_only_field(&object).is_some() {
        return Err(ApiError::field_not_writable("The resource body includes fields which are not directly writable."));
    }
    let mut metadata = Metadata::default();
    for (key, value) in &object {
        match key.as_str() {
            "name" => metadata.name = Some(string(value, key)?),
            "mimeType" => metadata.mime_type = Some(string(value, key)?),
            "description" => metadata.description = Some(string(value, key)?),
            "parents" => {
                let Value::Array(parents) = value else {
                    return Err(ApiError::bad_request("Invalid value for parents."));
                };
                metadata.parents = parents.iter().map(|p| string(p, key)).collect::<Result<_, _>>()?;
            }
            "appProperties" | "properties" => {
                let target =
                    if key == "appProperties" { &mut metadata.app_properties } else { &mut metadata.properties };
                for (name, value) in property_changes(value, key)? {
                    if let Some(value) = value {
                        target.insert(name, value);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(metadata)
}

/// Resolves where the file goes and whether `who` may put it there.
pub(crate) fn prepare(
    inner: &Inner,
    who: &Principal,
    metadata: Metadata,
    all_drives: bool,
    uses_quota: bool,
    default_mime: &str,
) -> Result<NewFile, ApiError> {
    let parent = match metadata.parents.as_slice() {
        [] => "root".to_owned(),
        [one] => one.clone(),
        _ => {
            return Err(ApiError::new(
                403,
                "global",
                "cannotAddParent",
                "Increasing the number of parents is not allowed.",
            ));
        }
    };
    let (parent, drive_id) = inner.check_new_child(who, &parent, all_drives, uses_quota)?;
    Ok(NewFile {
        name: metadata.name.unwrap_or_else(|| "Untitled".to_owned()),
        mime_type: metadata.mime_type.unwrap_or_else(|| default_mime.to_owned()),
        parent,
        drive_id,
        app_properties: metadata.app_properties,
        properties: metadata.properties,
        description: metadata.description,
    })
}
