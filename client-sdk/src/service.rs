//! The three routes of contract v1 as an axum [`Router`].

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use contract_spec::{
    BackupType, CAPABILITIES_PATH, Capabilities, EXPORT_PATH, ErrorBody, ErrorCode, ExportRequest,
    HEADER_BACKUP_SHA256, HEADER_BACKUP_TYPE, IMPORT_PATH, ImportResult, TRAILER_BYTES, TRAILER_SHA256, VERIFY_PATH,
};
use futures::StreamExt;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, TE, TRAILER};
use http::{HeaderMap, HeaderValue, StatusCode};
use secrecy::SecretString;
use tokio::sync::Semaphore;

use crate::auth::TokenCheck;
use crate::body::ExportBody;
use crate::source::{BackupSource, ImportEnd, ImportProgress, ImportStream, SourceError};

/// Serves contract v1 for a [`BackupSource`]; [`crate::router`] is the short way to get one.
///
/// By default one export runs at a time and a second gets `409 export_in_progress` (after
/// waiting up to a second for the first to end).
pub struct BackupService<S> {
    source: S,
    token: SecretString,
    concurrent_exports: usize,
}

impl<S: BackupSource> BackupService<S> {
    /// A service for `source`, guarded by `token`.
    pub fn new(source: S, token: SecretString) -> Self {
        BackupService { source, token, concurrent_exports: 1 }
    }

    /// Allows up to `n` exports at once (at least 1). An import always runs alone.
    pub fn concurrent_exports(mut self, n: usize) -> Self {
        self.concurrent_exports = n.max(1);
        self
    }

    /// The router serving `/backup/capabilities`, `/backup/export`, `/backup/import` and
    /// `/backup/verify`.
    ///
    /// # Panics
    /// When the source's capabilities break the contract, or the token is empty: both are
    /// mistakes in the app's code or configuration, best caught at start-up.
    pub fn into_router(self) -> Router {
        let capabilities = self.source.capabilities();
        let problems = capabilities.problems();
        assert!(problems.is_empty(), "invalid backup capabilities: {}", problems.join("; "));
        let shared = Arc::new(Shared {
            tokens: TokenCheck::new(&self.token),
            capabilities,
            permits: Arc::new(Semaphore::new(self.concurrent_exports)),
            max_permits: self.concurrent_exports as u32,
            source: self.source,
        });
        Router::new()
            .route(CAPABILITIES_PATH, get(capabilities_route::<S>))
            .route(EXPORT_PATH, post(export_route::<S>))
            .route(IMPORT_PATH, post(import_route::<S>))
            .route(VERIFY_PATH, post(verify_route::<S>))
            .with_state(shared)
    }
}

struct Shared<S> {
    source: S,
    tokens: TokenCheck,
    capabilities: Capabilities,
    permits: Arc<Semaphore>,
    max_permits: u32,
}

/// An answer other than success: the contract's error body with its status.
struct Refusal {
    code: ErrorCode,
    message: String,
    retry_after: Option<u64>,
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> Refusal {
    Refusal { code, message: message.into(), retry_after: None }
}

impl Refusal {
    fn from_source(e: SourceError, failed: ErrorCode) -> Self {
        match e {
            SourceError::Busy { retry_after, message } => {
                Refusal { code: ErrorCode::Busy, message, retry_after: Some(retry_after.as_secs().max(1)) }
            }
            SourceError::Unsupported => refuse(ErrorCode::RestoreUnsupported, "this app does not support import"),
            SourceError::Failed(message) => refuse(failed, message),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, axum::Json(ErrorBody::new(self.code, self.message))).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

impl<S> Shared<S> {
    fn authorize(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        if self.tokens.allows(headers) {
            Ok(())
        } else {
            Err(refuse(ErrorCode::Unauthorized, "missing or wrong bearer token: send `Authorization: Bearer <token>`"))
        }
    }

    fn find_type(&self, requested: Option<&str>) -> Result<&BackupType, Refusal> {
        self.capabilities.resolve_type(requested).ok_or_else(|| {
            let offered: Vec<&str> = self.capabilities.types.iter().map(|t| t.name.as_str()).collect();
            refuse(
                ErrorCode::UnknownType,
                format!(
                    "unknown backup type {:?}: this app offers {}",
                    requested.unwrap_or_default(),
                    offered.join(", ")
                ),
            )
        })
    }
}

async fn capabilities_route<S: BackupSource>(
    State(shared): State<Arc<Shared<S>>>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    shared.authorize(&headers)?;
    match shared.source.health().await {
        None => Ok(axum::Json(&shared.capabilities).into_response()),
        Some(health) => {
            let mut capabilities = shared.capabilities.clone();
            capabilities.health = Some(health);
            Ok(axum::Json(capabilities).into_response())
        }
    }
}

async fn export_route<S: BackupSource>(
    State(shared): State<Arc<Shared<S>>>,
    request: Request,
) -> Result<Response, Refusal> {
    let (parts, body) = request.into_parts();
    shared.authorize(&parts.headers)?;
    let body = axum::body::to_bytes(body, 64 * 1024).await.map_err(|_| {
        refuse(ErrorCode::BadRequest, "the export request body must be a small JSON object like {\"type\": \"full\"}")
    })?;
    let wanted = if body.iter().all(u8::is_ascii_whitespace) {
        ExportRequest::default()
    } else {
        serde_json::from_slice::<ExportRequest>(&body).map_err(|e| {
            refuse(ErrorCode::BadRequest, format!("the export request body is not {{\"type\": \"<name>\"}}: {e}"))
        })?
    };
    let backup_type = shared.find_type(wanted.backup_type.as_deref())?.clone();
    let permit = tokio::time::timeout(SLOT_WAIT, shared.permits.clone().acquire_owned())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| {
            refuse(ErrorCode::ExportInProgress, "another export or import is running: try again when it has finished")
        })?;
    let mut stream =
        shared.source.export(&backup_type).await.map_err(|e| Refusal::from_source(e, ErrorCode::ExportFailed))?;
    // Waiting for the first byte lets an export that fails at once get a readable error
    // instead of a cut connection.
    let first = loop {
        match stream.next().await {
            Some(Ok(chunk)) if chunk.is_empty() => continue,
            Some(Ok(chunk)) => break chunk,
            Some(Err(e)) => return Err(Refusal::from_source(e, ErrorCode::ExportFailed)),
            None => {
                return Err(refuse(
                    ErrorCode::ExportFailed,
                    "the export produced no bytes: an empty export is a failed export",
                ));
            }
        }
    };
    let trailers = parts
        .headers
        .get_all(TE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("trailers")));
    tracing::info!(backup_type = %backup_type.name, trailers, "export started");
    let body = ExportBody::new(first, stream, trailers, backup_type.name.clone(), permit);
    let mut resp = Response::new(Body::new(body));
    let headers = resp.headers_mut();
    let media_type =
        HeaderValue::from_str(&backup_type.media_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(CONTENT_TYPE, media_type);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if trailers {
        // hyper sends trailers only when this header announces them.
        headers.insert(
            TRAILER,
            HeaderValue::from_str(&format!("{TRAILER_SHA256}, {TRAILER_BYTES}")).expect("static names"),
        );
    }
    Ok(resp)
}

/// What an import or a verify was sent, checked before the source sees a byte: the type, the
/// declared sha256, and the app to itself (no export or import running).
struct Incoming {
    backup_type: BackupType,
    expected: String,
    body: axum::body::Body,
    _exclusive: Option<tokio::sync::OwnedSemaphorePermit>,
    max_permits: u32,
}

/// How long a request that finds the app busy waits for it before answering 409. A client that
/// drops an export frees its slot only when the server notices the closed connection, a few
/// milliseconds later (more on a loaded machine): an export asked for right after must not be
/// refused for that.
const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

impl Incoming {
    /// Waits (at most [`SLOT_WAIT`]) until nothing else runs, and keeps the app to itself.
    async fn exclusive(mut self, permits: &Arc<Semaphore>) -> Result<Self, Refusal> {
        let permit = tokio::time::timeout(SLOT_WAIT, permits.clone().acquire_many_owned(self.max_permits))
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| {
                refuse(ErrorCode::ExportInProgress, "an export or import is running: try again when it has finished")
            })?;
        self._exclusive = Some(permit);
        Ok(self)
    }
}

impl<S> Shared<S> {
    /// Checks the token and the headers (and, for a verify, that the type offers it); `what`
    /// names the route. [`Incoming::exclusive`] then waits for the app to be free.
    fn incoming(&self, request: Request, what: &str, verify: bool) -> Result<Incoming, Refusal> {
        let (parts, body) = request.into_parts();
        self.authorize(&parts.headers)?;
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let type_name = header(HEADER_BACKUP_TYPE).ok_or_else(|| {
            refuse(
                ErrorCode::BadRequest,
                format!("send the Backup-Type header naming the type of the backup being {what}"),
            )
        })?;
        let backup_type = self.find_type(Some(type_name))?.clone();
        if verify && !backup_type.verify {
            return Err(refuse(
                ErrorCode::RestoreUnsupported,
                format!(
                    "this app does not verify copies of type {:?} (its capabilities do not say verify: true)",
                    backup_type.name
                ),
            ));
        }
        let expected = match header(HEADER_BACKUP_SHA256) {
            Some(sha) if contract_spec::is_sha256_hex(sha) => sha.to_ascii_lowercase(),
            _ => {
                return Err(refuse(
                    ErrorCode::BadRequest,
                    "send the Backup-Sha256 header with the hex sha256 of the body",
                ));
            }
        };
        Ok(Incoming { backup_type, expected, body, _exclusive: None, max_permits: self.max_permits })
    }
}

async fn import_route<S: BackupSource>(
    State(shared): State<Arc<Shared<S>>>,
    request: Request,
) -> Result<Response, Refusal> {
    if !shared.capabilities.restore {
        shared.authorize(request.headers())?;
        return Err(refuse(
            ErrorCode::RestoreUnsupported,
            "this app does not support import (its capabilities say restore: false)",
        ));
    }
    let Incoming { backup_type, expected, body, _exclusive, .. } =
        shared.incoming(request, "imported", false)?.exclusive(&shared.permits).await?;
    let progress = Arc::new(Mutex::new(ImportProgress::default()));
    let stream = ImportStream::new(body.into_data_stream(), expected.clone(), progress.clone());
    tracing::info!(backup_type = %backup_type.name, "import started");
    let result = shared.source.import(&backup_type, stream).await;
    let (bytes, end) = {
        let p = progress.lock().expect("import progress lock");
        (p.bytes, p.end.clone())
    };
    match (result, end) {
        (_, Some(ImportEnd::Mismatch { actual })) => {
            tracing::warn!(backup_type = %backup_type.name, bytes, "import refused: checksum mismatch");
            Err(refuse(
                ErrorCode::ChecksumMismatch,
                format!("the body's sha256 is {actual}, Backup-Sha256 says {expected}: nothing was restored"),
            ))
        }
        (Err(e), _) => {
            tracing::error!(backup_type = %backup_type.name, bytes, error = %e, "import failed");
            Err(Refusal::from_source(e, ErrorCode::ImportFailed))
        }
        (Ok(()), Some(ImportEnd::Verified)) => {
            tracing::info!(backup_type = %backup_type.name, bytes, "import complete");
            Ok(axum::Json(ImportResult { restored: true, bytes }).into_response())
        }
        (Ok(()), Some(ImportEnd::Cut(reason))) => Err(refuse(ErrorCode::ImportFailed, reason)),
        (Ok(()), None) => Err(refuse(
            ErrorCode::ImportFailed,
            format!("the import stopped reading after {bytes} bytes, before the end of the body"),
        )),
    }
}

async fn verify_route<S: BackupSource>(
    State(shared): State<Arc<Shared<S>>>,
    request: Request,
) -> Result<Response, Refusal> {
    let Incoming { backup_type, expected, body, _exclusive, .. } =
        shared.incoming(request, "verified", true)?.exclusive(&shared.permits).await?;
    let progress = Arc::new(Mutex::new(ImportProgress::default()));
    let stream = ImportStream::new(body.into_data_stream(), expected.clone(), progress.clone());
    tracing::info!(backup_type = %backup_type.name, "verify started");
    let result = shared.source.verify(&backup_type, stream).await;
    let (bytes, end) = {
        let p = progress.lock().expect("verify progress lock");
        (p.bytes, p.end.clone())
    };
    match (result, end) {
        (_, Some(ImportEnd::Mismatch { actual })) => Err(refuse(
            ErrorCode::ChecksumMismatch,
            format!("the body's sha256 is {actual}, Backup-Sha256 says {expected}: the copy was not checked"),
        )),
        (Err(SourceError::Unsupported), _) => Err(refuse(
            ErrorCode::RestoreUnsupported,
            "this app advertises verify but does not implement it: implement BackupSource::verify",
        )),
        (Err(e), _) => {
            tracing::error!(backup_type = %backup_type.name, bytes, error = %e, "verify failed");
            Err(Refusal::from_source(e, ErrorCode::ImportFailed))
        }
        // A copy read whole and checked: the report says whether it would restore.
        (Ok(report), Some(ImportEnd::Verified)) => {
            tracing::info!(backup_type = %backup_type.name, bytes, ok = report.ok, "verify complete");
            Ok(axum::Json(report).into_response())
        }
        (Ok(_), Some(ImportEnd::Cut(reason))) => Err(refuse(ErrorCode::ImportFailed, reason)),
        // A check that stopped before the end proved nothing about the rest: never ok.
        (Ok(mut report), None) => {
            report.ok = false;
            report.checks.push(contract_spec::VerifyCheck::failed(
                "read to the end",
                format!("the check stopped reading after {bytes} bytes, before the end of the copy"),
            ));
            Ok(axum::Json(report).into_response())
        }
    }
}
