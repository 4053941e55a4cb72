//! Google's partial-response syntax for the `fields` parameter: `id,name`, `files(id,name),nextPageToken`,
//! `a/b`, `*`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::errors::ApiError;

/// What `fields` keeps: everything, or these members (each with its own sub-selection).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Selection {
    All,
    Some(BTreeMap<String, Selection>),
}

/// Every field of the v3 File resource, so a misspelt selection fails as it would against Google.
const FILE_FIELDS: &[&str] = &[
    "kind",
    "driveId",
    "fileExtension",
    "copyRequiresWriterPermission",
    "md5Checksum",
    "contentHints",
    "writersCanShare",
    "viewedByMe",
    "mimeType",
    "exportLinks",
    "parents",
    "thumbnailLink",
    "iconLink",
    "shared",
    "lastModifyingUser",
    "owners",
    "headRevisionId",
    "sharingUser",
    "webViewLink",
    "webContentLink",
    "size",
    "viewersCanCopyContent",
    "permissions",
    "hasThumbnail",
    "spaces",
    "folderColorRgb",
    "id",
    "name",
    "description",
    "starred",
    "trashed",
    "explicitlyTrashed",
    "createdTime",
    "modifiedTime",
    "modifiedByMeTime",
    "viewedByMeTime",
    "sharedWithMeTime",
    "quotaBytesUsed",
    "version",
    "originalFilename",
    "ownedByMe",
    "fullFileExtension",
    "properties",
    "appProperties",
    "isAppAuthorized",
    "teamDriveId",
    "capabilities",
    "hasAugmentedPermissions",
    "trashingUser",
    "thumbnailVersion",
    "trashedTime",
    "modifiedByMe",
    "permissionIds",
    "imageMediaMetadata",
    "videoMediaMetadata",
    "shortcutDetails",
    "contentRestrictions",
    "resourceKey",
    "linkShareMetadata",
    "labelInfo",
    "sha1Checksum",
    "sha256Checksum",
    "downloadRestrictions",
    "inheritedPermissionsDisabled",
];

const FILE_LIST_FIELDS: &[&str] = &["kind", "nextPageToken", "incompleteSearch", "files"];

/// Parses and checks a selection on a File resource (files.get, files.create, files.update, uploads).
pub(crate) fn for_file(text: Option<&str>) -> Result<Selection, ApiError> {
    let selection = parse(text.unwrap_or("kind,id,name,mimeType"))?;
    check(&selection, FILE_FIELDS)?;
    Ok(selection)
}

/// Parses and checks a selection on a FileList (files.list).
pub(crate) fn for_file_list(text: Option<&str>) -> Result<Selection, ApiError> {
    let selection = parse(text.unwrap_or("kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)"))?;
    check(&selection, FILE_LIST_FIELDS)?;
    if let Selection::Some(members) = &selection
        && let Some(files) = members.get("files")
    {
        check(files, FILE_FIELDS)?;
    }
    Ok(selection)
}

fn check(selection: &Selection, allowed: &[&str]) -> Result<(), ApiError> {
    if let Selection::Some(members) = selection {
        for name in members.keys() {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::invalid_fields(name));
            }
        }
    }
    Ok(())
}

pub(crate) fn parse(text: &str) -> Result<Selection, ApiError> {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut parser = Parser { chars: &chars, pos: 0 };
    let selection = parser.list().ok_or_else(|| ApiError::invalid_fields(text))?;
    if parser.pos != chars.len() {
        return Err(ApiError::invalid_fields(text));
    }
    Ok(selection)
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn list(&mut self) -> Option<Selection> {
        let mut selection = self.item()?;
        while self.peek() == Some(',') {
            self.pos += 1;
            selection = merge(selection, self.item()?);
        }
        Some(selection)
    }

    fn name(&mut self) -> Option<String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        (self.pos > start).then(|| self.chars[start..self.pos].iter().collect())
    }

    fn item(&mut self) -> Option<Selection> {
        if self.peek() == Some('*') {
            self.pos += 1;
            return Some(Selection::All);
        }
        let mut path = vec![self.name()?];
        while self.peek() == Some('/') {
            self.pos += 1;
            if self.peek() == Some('*') {
                self.pos += 1;
                path.push("*".to_owned());
                break;
            }
            path.push(self.name()?);
        }
        let mut leaf = Selection::All;
        if self.peek() == Some('(') {
            self.pos += 1;
            leaf = self.list()?;
            if self.peek() != Some(')') {
                return None;
            }
            self.pos += 1;
        }
        Some(path.into_iter().rev().fold(leaf, |inner, name| {
            if name == "*" { inner } else { Selection::Some(BTreeMap::from([(name, inner)])) }
        }))
    }
}

fn merge(a: Selection, b: Selection) -> Selection {
    match (a, b) {
        (Selection::Some(mut left), Selection::Some(right)) => {
            for (name, sub) in right {
                let merged = match left.remove(&name) {
                    Some(existing) => merge(existing, sub),
                    None => sub,
                };
                left.insert(name, merged);
            }
            Selection::Some(left)
        }
        _ => Selection::All,
    }
}

/// Keeps what the selection names; arrays are filtered element by element.
pub(crate) fn apply(selection: &Selection, value: Value) -> Value {
    match (selection, value) {
        (Selection::All, value) => value,
        (Selection::Some(members), Value::Object(object)) => {
            let mut kept = Map::new();
            for (name, value) in object {
                if let Some(sub) = members.get(&name) {
                    kept.insert(name, apply(sub, value));
                }
            }
            Value::Object(kept)
        }
        (selection, Value::Array(items)) => Value::Array(items.into_iter().map(|v| apply(selection, v)).collect()),
        (_, scalar) => scalar,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_selection() {
        let selection = for_file_list(Some("files(id,name),nextPageToken")).unwrap();
        let value =
            json!({"kind": "drive#fileList", "nextPageToken": "t", "files": [{"id": "1", "name": "a", "size": "3"}]});
        assert_eq!(apply(&selection, value), json!({"nextPageToken": "t", "files": [{"id": "1", "name": "a"}]}));
    }

    #[test]
    fn slash_and_star() {
        let selection = for_file_list(Some("files/id,kind")).unwrap();
        let value = json!({"kind": "k", "files": [{"id": "1", "name": "a"}]});
        assert_eq!(apply(&selection, value.clone()), json!({"kind": "k", "files": [{"id": "1"}]}));
        assert_eq!(apply(&for_file_list(Some("*")).unwrap(), value.clone()), value);
    }

    #[test]
    fn rejects_garbage_and_unknown_fields() {
        assert!(for_file(Some("id,(name")).is_err());
        assert!(for_file(Some("id,nmae")).is_err());
        assert!(for_file_list(Some("files(id,sizee)")).is_err());
    }
}
