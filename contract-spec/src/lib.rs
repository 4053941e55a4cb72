//! Backup contract v1, shared by the orchestrator and the apps it backs up.
//!
//! An app that wants to be backed up answers three routes, each behind `Authorization: Bearer`:
//!
//! | route | answer |
//! |---|---|
//! | `GET /backup/capabilities` | [`Capabilities`] as JSON |
//! | `POST /backup/export` ([`ExportRequest`]) | the backup's bytes, streamed; trailers `backup-sha256` and `backup-bytes` when asked with `TE: trailers` |
//! | `POST /backup/import` (only when `restore: true`) | [`ImportResult`]; headers `Backup-Type` and `Backup-Sha256` |
//! | `POST /backup/verify` (optional: only for types with `verify: true`) | [`VerifyReport`]; the same headers as import; checks that the copy would restore, changing nothing |
//!
//! Errors are [`ErrorBody`] with one of the [`ErrorCode`]s. The full document is
//! `contract-spec/openapi.yaml` (also [`OPENAPI_YAML`]); a test keeps it and these types in step.
//!
//! Default features hold only the serde types. `client` adds [`client::AppClient`], a streaming
//! HTTP client for the contract, and [`conformance`], the kit that checks any app against it.
#![warn(missing_docs)]

mod wire;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "client")]
pub mod conformance;

pub use wire::{
    BackupType, CONTRACT_VERSION, Capabilities, ErrorBody, ErrorCode, ExportRequest, Health, ImportResult, VerifyCheck,
    VerifyReport,
};

/// The committed OpenAPI 3.1 document of contract v1.
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");

/// Path of the capabilities route.
pub const CAPABILITIES_PATH: &str = "/backup/capabilities";
/// Path of the export route.
pub const EXPORT_PATH: &str = "/backup/export";
/// Path of the import route.
pub const IMPORT_PATH: &str = "/backup/import";
/// Route of the optional verify endpoint (restore drills), offered per type by `verify: true`.
pub const VERIFY_PATH: &str = "/backup/verify";

/// Trailer carrying the hex sha256 of the export body.
pub const TRAILER_SHA256: &str = "backup-sha256";
/// Trailer carrying the byte count of the export body.
pub const TRAILER_BYTES: &str = "backup-bytes";
/// Import request header naming the backup type being restored.
pub const HEADER_BACKUP_TYPE: &str = "backup-type";
/// Import request header carrying the hex sha256 of the import body.
pub const HEADER_BACKUP_SHA256: &str = "backup-sha256";

/// True when `s` is a lowercase or uppercase hex sha256 (64 hex digits).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}
