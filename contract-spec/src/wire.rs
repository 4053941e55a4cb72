//! The JSON bodies of contract v1, exactly as they travel.
//!
//! Both sides use these types: the orchestrator to read what apps answer, `client-sdk` to answer.
//! Unknown fields are ignored on input so a newer app can talk to an older orchestrator.

use serde::{Deserialize, Serialize};

/// The only contract version this crate speaks.
pub const CONTRACT_VERSION: &str = "v1";

/// What an app offers: the answer to `GET /backup/capabilities`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Capabilities {
    /// Contract version; must be "v1".
    #[cfg_attr(feature = "schema", schemars(extend("const" = "v1")))]
    pub contract: String,
    /// The app's own name for itself, shown to operators.
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub app: String,
    /// The kinds of backup the app can export; at least one. The first is the default.
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub types: Vec<BackupType>,
    /// True when the app accepts `POST /backup/import`.
    #[serde(default)]
    pub restore: bool,
    /// What the app reports about what it backs up (e.g. the database's size), shown to
    /// operators. Optional; a v1 app without it stays valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// What an app reports about what it backs up: the `health` of its capabilities.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Health {
    /// The size of what is backed up, in bytes (e.g. the database's size), when the app knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// Anything else worth showing, as name and value (e.g. "tables": "42").
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub details: std::collections::BTreeMap<String, String>,
}

/// Answer of `POST /backup/verify`: whether the copy sent would restore, checked without
/// applying it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VerifyReport {
    /// True when every check passed: the copy would restore.
    pub ok: bool,
    /// Number of bytes the app received and checked.
    pub bytes: u64,
    /// The checks made, in order.
    #[serde(default)]
    pub checks: Vec<VerifyCheck>,
    /// Anything else the operator should read (e.g. the restore tool's own words).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// One check of a [`VerifyReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VerifyCheck {
    /// What was checked (e.g. "archive reads to its end").
    pub name: String,
    /// True when it passed.
    pub ok: bool,
    /// What was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl VerifyReport {
    /// A report of `checks`: ok when every one passed.
    pub fn of(bytes: u64, checks: Vec<VerifyCheck>) -> Self {
        VerifyReport { ok: !checks.is_empty() && checks.iter().all(|c| c.ok), bytes, checks, details: None }
    }

    /// The failed checks, in words ("name: detail; ...").
    pub fn failures(&self) -> String {
        let failed: Vec<String> = self
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| match &c.detail {
                Some(detail) => format!("{}: {detail}", c.name),
                None => c.name.clone(),
            })
            .collect();
        match (&self.details, failed.is_empty()) {
            (Some(details), true) => details.clone(),
            (Some(details), false) => format!("{}; {details}", failed.join("; ")),
            (None, _) => failed.join("; "),
        }
    }
}

impl VerifyCheck {
    /// A check that passed.
    pub fn passed(name: impl Into<String>, detail: Option<String>) -> Self {
        VerifyCheck { name: name.into(), ok: true, detail }
    }

    /// A check that failed, with what was found.
    pub fn failed(name: impl Into<String>, detail: impl Into<String>) -> Self {
        VerifyCheck { name: name.into(), ok: false, detail: Some(detail.into()) }
    }
}

/// One kind of backup an app can export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BackupType {
    /// Identifier used in export requests: letters, digits, '-' and '_', at most 64.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")))]
    pub name: String,
    /// Media type of the exported bytes, sent as the export's Content-Type (printable ASCII only).
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[!#$&^_.+0-9A-Za-z-]+/[!#$&^_.+0-9A-Za-z-]+(;[ -~]*)?$"))
    )]
    pub media_type: String,
    /// File name extension for stored copies, without the leading dot (e.g. "sql.gz").
    #[cfg_attr(feature = "schema", schemars(length(max = 32), regex(pattern = r"^[A-Za-z0-9]+(\.[A-Za-z0-9]+)*$")))]
    pub extension: String,
    /// True when the exported bytes are already compressed (e.g. a custom-format `pg_dump`),
    /// so the orchestrator stores them as they are instead of compressing them again. When
    /// absent, the media type decides (gzip, zip, zstd, xz, bzip2 and 7z count as compressed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed: Option<bool>,
    /// True when the app accepts `POST /backup/verify` for this type: it checks that a copy
    /// would restore, without applying it (restore drills). Absent means false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verify: bool,
}

/// Body of `POST /backup/export`. An empty body, or no `type`, asks for the first type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExportRequest {
    /// Name of one of the advertised types.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub backup_type: Option<String>,
}

/// Answer of a successful `POST /backup/import`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImportResult {
    /// Always true in a 200 answer.
    pub restored: bool,
    /// Number of bytes the app received and restored.
    pub bytes: u64,
}

/// Body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorBody {
    /// Machine-readable code, one of ErrorCode; clients must accept codes they do not know.
    pub error: String,
    /// Human-readable text saying what went wrong and what to do about it.
    pub message: String,
}

/// The error codes this contract defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request is malformed (bad JSON, a missing or invalid header).
    BadRequest,
    /// 401: the bearer token is missing or wrong.
    Unauthorized,
    /// 404: the app does not accept imports (capabilities say `restore: false`), or verifies of
    /// this type (its `verify` is not true).
    RestoreUnsupported,
    /// 409: another export or import is running and the app allows one at a time.
    ExportInProgress,
    /// 422: the requested type is not one the app offers.
    UnknownType,
    /// 422: the imported bytes do not match the `Backup-Sha256` header.
    ChecksumMismatch,
    /// 500: the export failed before its first byte.
    ExportFailed,
    /// 500: the import failed; the app's data is as it was.
    ImportFailed,
    /// 503: the app cannot export now; retry after `Retry-After` seconds.
    Busy,
}

impl ErrorCode {
    /// Every code, in the order the contract lists them.
    pub const ALL: [ErrorCode; 9] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::RestoreUnsupported,
        ErrorCode::ExportInProgress,
        ErrorCode::UnknownType,
        ErrorCode::ChecksumMismatch,
        ErrorCode::ExportFailed,
        ErrorCode::ImportFailed,
        ErrorCode::Busy,
    ];

    /// The code as it appears in `ErrorBody::error`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::RestoreUnsupported => "restore_unsupported",
            ErrorCode::ExportInProgress => "export_in_progress",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::ChecksumMismatch => "checksum_mismatch",
            ErrorCode::ExportFailed => "export_failed",
            ErrorCode::ImportFailed => "import_failed",
            ErrorCode::Busy => "busy",
        }
    }

    /// The HTTP status the contract pairs with this code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::RestoreUnsupported => 404,
            ErrorCode::ExportInProgress => 409,
            ErrorCode::UnknownType | ErrorCode::ChecksumMismatch => 422,
            ErrorCode::ExportFailed | ErrorCode::ImportFailed => 500,
            ErrorCode::Busy => 503,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ErrorBody {
    /// An error body with a contract code.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody { error: code.as_str().to_owned(), message: message.into() }
    }
}

impl Capabilities {
    /// Capabilities for contract v1 with the given types and no restore.
    ///
    /// ```
    /// use contract_spec::{BackupType, Capabilities};
    /// let caps = Capabilities::new("billing", [BackupType::new("full", "application/gzip", "sql.gz")]);
    /// assert_eq!(caps.contract, "v1");
    /// assert!(caps.problems().is_empty());
    /// ```
    pub fn new(app: impl Into<String>, types: impl IntoIterator<Item = BackupType>) -> Self {
        Capabilities {
            contract: CONTRACT_VERSION.to_owned(),
            app: app.into(),
            types: types.into_iter().collect(),
            restore: false,
            health: None,
        }
    }

    /// The same capabilities, advertising `POST /backup/import`.
    pub fn with_restore(mut self) -> Self {
        self.restore = true;
        self
    }

    /// The type an export request asks for: the named one, or the first when none is named.
    pub fn resolve_type(&self, requested: Option<&str>) -> Option<&BackupType> {
        match requested {
            None => self.types.first(),
            Some(name) => self.types.iter().find(|t| t.name == name),
        }
    }

    /// Everything that makes these capabilities invalid, each saying what to fix. Empty = valid.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.contract != CONTRACT_VERSION {
            problems.push(format!(
                "contract is {:?}, but only {CONTRACT_VERSION:?} is supported: answer \"contract\": \"v1\"",
                self.contract
            ));
        }
        if self.app.trim().is_empty() {
            problems.push("app is empty: give the app's name".to_owned());
        }
        if self.types.is_empty() {
            problems.push("types is empty: advertise at least one backup type".to_owned());
        }
        let mut seen = std::collections::HashSet::new();
        for t in &self.types {
            problems.extend(t.problems());
            if !seen.insert(t.name.as_str()) {
                problems.push(format!("type {:?} is listed twice: type names must be unique", t.name));
            }
        }
        problems
    }
}

/// Media types whose bytes are already compressed: compressing them again gains nothing.
const COMPRESSED_MEDIA_TYPES: &[&str] = &[
    "application/gzip",
    "application/x-gzip",
    "application/zip",
    "application/zstd",
    "application/x-zstd",
    "application/x-xz",
    "application/x-bzip2",
    "application/x-7z-compressed",
];

impl BackupType {
    /// A backup type.
    pub fn new(name: impl Into<String>, media_type: impl Into<String>, extension: impl Into<String>) -> Self {
        BackupType {
            name: name.into(),
            media_type: media_type.into(),
            extension: extension.into(),
            compressed: None,
            verify: false,
        }
    }

    /// The same type, advertising `POST /backup/verify` for it.
    pub fn with_verify(mut self) -> Self {
        self.verify = true;
        self
    }

    /// The same type, declaring whether its bytes are already compressed.
    pub fn compressed(mut self, compressed: bool) -> Self {
        self.compressed = Some(compressed);
        self
    }

    /// True when the exported bytes are already compressed: as the type declares, else as its
    /// media type says.
    pub fn is_compressed(&self) -> bool {
        self.compressed.unwrap_or_else(|| {
            let essence = self.media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            COMPRESSED_MEDIA_TYPES.contains(&essence.as_str())
        })
    }

    /// Everything that makes this type invalid, each saying what to fix. Empty = valid.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !is_type_name(&self.name) {
            problems.push(format!(
                "type name {:?} is invalid: use 1 to 64 letters, digits, '-' or '_', starting with a letter or digit",
                self.name
            ));
        }
        if !self.media_type.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
            problems.push(format!(
                "media_type {:?} of type {:?} holds a control or non-ASCII character (such as a line break): it is sent as an HTTP header, so use printable ASCII only, e.g. \"application/gzip\"",
                self.media_type, self.name
            ));
        } else if !is_media_type(&self.media_type) {
            problems.push(format!(
                "media_type {:?} of type {:?} is not a media type: use the form \"type/subtype\", e.g. \"application/gzip\"",
                self.media_type, self.name
            ));
        }
        if !is_extension(&self.extension) {
            problems.push(format!(
                "extension {:?} of type {:?} is invalid: use letters and digits separated by single dots, no leading dot, at most 32 characters (e.g. \"sql.gz\")",
                self.extension, self.name
            ));
        }
        problems
    }
}

fn is_type_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && s.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_media_type(s: &str) -> bool {
    let token = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c));
    let essence = s.split(';').next().unwrap_or_default().trim();
    matches!(essence.split_once('/'), Some((kind, sub)) if token(kind) && token(sub))
}

fn is_extension(s: &str) -> bool {
    s.len() <= 32 && s.split('.').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_is_compressed_as_it_declares_else_as_its_media_type_says() {
        assert!(BackupType::new("full", "application/gzip", "sql.gz").is_compressed());
        assert!(BackupType::new("full", "Application/ZIP; charset=binary", "zip").is_compressed());
        assert!(!BackupType::new("full", "application/sql", "sql").is_compressed());
        assert!(BackupType::new("full", "application/octet-stream", "dump").compressed(true).is_compressed());
        assert!(!BackupType::new("full", "application/gzip", "gz").compressed(false).is_compressed());
        let json = serde_json::to_value(BackupType::new("full", "application/sql", "sql")).unwrap();
        assert!(json.get("compressed").is_none(), "absent unless declared: {json}");
    }

    #[test]
    fn valid_capabilities_have_no_problems() {
        let caps = Capabilities::new(
            "billing",
            [
                BackupType::new("full", "application/gzip", "sql.gz"),
                BackupType::new("schema", "application/sql", "sql"),
            ],
        );
        assert_eq!(caps.problems(), Vec::<String>::new());
        assert_eq!(caps.resolve_type(None).map(|t| t.name.as_str()), Some("full"));
        assert_eq!(caps.resolve_type(Some("schema")).map(|t| t.name.as_str()), Some("schema"));
        assert_eq!(caps.resolve_type(Some("nope")), None);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let caps = Capabilities {
            contract: "v2".into(),
            app: " ".into(),
            types: vec![
                BackupType::new("-bad", "gzip", ".gz"),
                BackupType::new("ok", "application/gzip", "gz"),
                BackupType::new("ok", "application/gzip", "gz"),
            ],
            restore: false,
            health: None,
        };
        let problems = caps.problems();
        assert_eq!(problems.len(), 6, "{problems:#?}");
        assert!(problems[0].contains("only \"v1\""));
        assert!(problems.iter().any(|p| p.contains("listed twice")));
    }

    #[test]
    fn empty_types_are_refused() {
        let caps = Capabilities::new("x", []);
        assert!(caps.problems().iter().any(|p| p.contains("at least one")));
    }

    #[test]
    fn media_types_and_extensions_are_checked() {
        assert!(is_media_type("application/gzip"));
        assert!(is_media_type("text/plain; charset=utf-8"));
        assert!(!is_media_type("application"));
        assert!(!is_media_type("application/"));
        assert!(is_extension("tar.gz"));
        assert!(!is_extension("tar..gz"));
        assert!(!is_extension("a/b"));
        assert!(!is_type_name(""));
        assert!(!is_type_name(&"a".repeat(65)));
    }

    #[test]
    fn a_media_type_with_a_control_or_non_ascii_character_is_refused_naming_the_field() {
        for media_type in [
            "application/gzip\r\nX-Injected: yes",
            "application/sql; charset=utf-8\n",
            "text/plain;\0",
            "application/gzip; x=\u{7f}",
            "application/gzip; x=\ty",
            "text/plain; charset=\u{fc}",
        ] {
            let problems = BackupType::new("full", media_type, "gz").problems();
            assert_eq!(problems.len(), 1, "{media_type:?}: {problems:?}");
            assert!(problems[0].starts_with("media_type ") && problems[0].contains("HTTP header"), "{problems:?}");
        }
        assert!(BackupType::new("full", "text/plain; charset=\"utf-8\"", "txt").problems().is_empty());
    }

    #[test]
    fn error_codes_serialize_as_their_names() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::Value::from(code.as_str()));
        }
    }
}
