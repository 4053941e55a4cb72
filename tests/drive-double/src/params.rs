//! Query parameters as Google reads them.

use std::collections::BTreeMap;

use axum::extract::Query;
use axum::http::Uri;

use crate::errors::ApiError;

pub(crate) struct Params(BTreeMap<String, String>);

impl Params {
    pub(crate) fn from_uri(uri: &Uri) -> Result<Params, ApiError> {
        match Query::<BTreeMap<String, String>>::try_from_uri(uri) {
            Ok(Query(map)) => Ok(Params(map)),
            Err(_) => Err(ApiError::bad_request("Invalid query string.")),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Boolean parameters are `true` or `false`; anything else is an invalid value.
    pub(crate) fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(ApiError::invalid_value(name)),
        }
    }

    /// `supportsTeamDrives` is the deprecated spelling Google still honors.
    pub(crate) fn all_drives(&self) -> Result<bool, ApiError> {
        Ok(self.flag("supportsAllDrives")? || self.flag("supportsTeamDrives")?)
    }

    pub(crate) fn include_all_drives(&self) -> Result<bool, ApiError> {
        Ok(self.flag("includeItemsFromAllDrives")? || self.flag("includeTeamDriveItems")?)
    }

    /// The parameters re-encoded, minus those named in `skip`.
    pub(crate) fn encode_without(&self, skip: &[&str]) -> String {
        self.0
            .iter()
            .filter(|(name, _)| !skip.contains(&name.as_str()))
            .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
