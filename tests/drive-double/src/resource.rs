//! The v3 File resource as JSON, with every field the double knows; `fields` trims it afterwards.

use serde_json::{Value, json};

use crate::clock::format_rfc3339;
use crate::state::{Inner, Item, Principal};

pub(crate) fn render(inner: &Inner, item: &Item, who: &Principal) -> Value {
    let mut file = json!({
        "kind": "drive#file",
        "id": item.id,
        "name": item.name,
        "mimeType": item.mime_type,
        "starred": false,
        "trashed": inner.is_trashed(item),
        "explicitlyTrashed": item.explicitly_trashed,
        "spaces": ["drive"],
        "version": item.version.to_string(),
        "createdTime": format_rfc3339(item.created_ms),
        "modifiedTime": format_rfc3339(item.modified_ms),
    });
    // Roots have no parents, and Google then omits the field instead of sending [].
    if !item.parents.is_empty() {
        file["parents"] = json!(item.parents);
    }
    if !item.is_folder() {
        // int64 values travel as JSON strings in Google APIs.
        file["size"] = json!(item.size.to_string());
        file["quotaBytesUsed"] = json!(item.size.to_string());
        file["md5Checksum"] = json!(item.md5);
        file["sha256Checksum"] = json!(item.sha256);
    }
    if !item.app_properties.is_empty() {
        file["appProperties"] = json!(item.app_properties);
    }
    if !item.properties.is_empty() {
        file["properties"] = json!(item.properties);
    }
    if let Some(description) = &item.description {
        file["description"] = json!(description);
    }
    match &item.drive_id {
        Some(drive_id) => {
            file["driveId"] = json!(drive_id);
            file["teamDriveId"] = json!(drive_id);
        }
        None => {
            // Shared-drive items have no owners; My Drive items have exactly one.
            let me = item.owner == who.email;
            file["ownedByMe"] = json!(me);
            file["owners"] = json!([{
                "kind": "drive#user",
                "displayName": item.owner.split('@').next().unwrap_or_default(),
                "emailAddress": item.owner,
                "me": me,
            }]);
        }
    }
    file
}
