//! `/upload/drive/v3/files`: resumable sessions (initiate, chunks, status queries, cancel) and the 5 MB
//! multipart / media uploads. Each rule is listed, with the page it comes from, in README.md.
//!
//! Choices where Google's documentation is silent:
//! - a chunk starting before the committed offset is accepted and its already-committed head skipped (not
//!   compared); a chunk starting after it (a gap) gets 400;
//! - a data PUT to a finished session answers 200 with the file again (a retried final chunk), and its body is
//!   ignored; DELETE on a finished session gets 400, on an unknown/cancelled/expired one 404;
//! - a request to a session URI needs no bearer token (the guide's examples send none), but one that is sent
//!   must be valid (any principal);
//! - `fields` and `supportsAllDrives` of the initiating request are carried into the session URI.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::BodyExt;
use md5::{Digest, Md5};
use sha2::Sha256;

use crate::auth::{authenticate, authenticate_session};
use crate::body::{self, ReadError};
use crate::errors::ApiError;
use crate::fields::{self, Selection};
use crate::metadata::{self, Metadata};
use crate::params::Params;
use crate::resource;
use crate::serve::ConnectionKill;
use crate::state::{Inner, Session, SessionState, Shared, digests, random_id};

/// Every chunk but the last must be a multiple of this (Google's resumable upload guide).
pub(crate) const CHUNK_GRANULARITY: u64 = 256 * 1024;
/// "Use this upload type to transfer a small file (5 MB or less)".
const SIMPLE_UPLOAD_LIMIT: usize = 5 * 1024 * 1024;
/// Room for the metadata part and the multipart framing around the media.
const MULTIPART_SLACK: usize = 64 * 1024;

fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `POST /upload/drive/v3/files?uploadType=resumable|multipart|media`.
/// A POST to a session URI (it carries `upload_id`) is a chunk or a status query, as a PUT is.
pub(crate) async fn post(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if Params::from_uri(request.uri()).is_ok_and(|params| params.get("upload_id").is_some()) {
        return put(State(shared), request).await;
    }
    let (parts, body) = request.into_parts();
    let params = match Params::from_uri(&parts.uri) {
        Ok(params) => params,
        Err(error) => {
            body::drain_upload(&shared, body).await;
            return error.into_response();
        }
    };
    match params.get("uploadType") {
        Some("resumable") => respond(initiate(&shared, &parts.headers, &params, body).await),
        Some("multipart") => respond(simple(&shared, &parts.headers, &params, body, true).await),
        Some("media") => respond(simple(&shared, &parts.headers, &params, body, false).await),
        _ => {
            body::drain_upload(&shared, body).await;
            ApiError::invalid_value("uploadType").into_response()
        }
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn header_u64(headers: &HeaderMap, name: &str) -> Result<Option<u64>, ApiError> {
    match header_str(headers, name) {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("Invalid {name} header.")).at("header", name)),
    }
}

async fn initiate(shared: &Shared, headers: &HeaderMap, params: &Params, body: Body) -> Result<Response, ApiError> {
    let (read, size) = body::collect(body, 1 << 20).await;
    shared.note_upload_body(size);
    let bytes = read.map_err(|_| ApiError::bad_request("The metadata body could not be read."))?;
    let who = authenticate(shared, headers)?;
    let all_drives = params.all_drives()?;
    fields::for_file(params.get("fields"))?;
    let total = header_u64(headers, "x-upload-content-length")?;
    let media_type = header_str(headers, "x-upload-content-type").unwrap_or("application/octet-stream").to_owned();
    let metadata = metadata::parse(&bytes)?;

    let mut inner = shared.lock();
    if inner.over_daily_cap() {
        return Err(ApiError::upload_limit());
    }
    let file = metadata::prepare(&inner, &who, metadata, all_drives, true, &media_type)?;
    if file.drive_id.is_none() && total.zip(inner.storage_left(&who.email)).is_some_and(|(total, left)| total > left) {
        return Err(ApiError::storage_quota());
    }
    let upload_id = random_id("AHVrFx", 86);
    inner.sessions.insert(
        upload_id.clone(),
        Session {
            principal: who,
            file,
            total,
            committed: 0,
            md5: Md5::new(),
            sha256: Sha256::new(),
            content: (!shared.hash_only).then(Vec::new),
            state: SessionState::Open,
        },
    );
    drop(inner);

    let carried = params.encode_without(&["uploadType", "upload_id"]);
    let separator = if carried.is_empty() { "" } else { "&" };
    let location = format!(
        "{}/upload/drive/v3/files?uploadType=resumable&upload_id={upload_id}{separator}{carried}",
        shared.endpoint
    );
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_str(&location).map_err(|_| ApiError::injected(500))?);
    headers.insert("x-guploader-uploadid", HeaderValue::from_str(&upload_id).map_err(|_| ApiError::injected(500))?);
    Ok(response)
}

/// Multipart (metadata + media) or media-only upload, both capped at 5 MB.
async fn simple(
    shared: &Shared,
    headers: &HeaderMap,
    params: &Params,
    body: Body,
    multipart: bool,
) -> Result<Response, ApiError> {
    let (read, size) = body::collect(body, SIMPLE_UPLOAD_LIMIT + MULTIPART_SLACK).await;
    shared.note_upload_body(size);
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(ReadError::TooLarge) => return Err(ApiError::upload_too_large()),
        Err(ReadError::Broken) => return Err(ApiError::bad_request("The request body could not be read.")),
    };
    let who = authenticate(shared, headers)?;
    let all_drives = params.all_drives()?;
    let selection = fields::for_file(params.get("fields"))?;
    let content_type = header_str(headers, "content-type").unwrap_or("application/octet-stream");
    let (metadata, media, media_type) = if multipart {
        let (meta, media, media_type) = split_multipart(&bytes, content_type)?;
        (metadata::parse(&meta)?, media, media_type)
    } else {
        (Metadata::default(), bytes, Some(content_type.to_owned()))
    };
    if media.len() > SIMPLE_UPLOAD_LIMIT {
        return Err(ApiError::upload_too_large());
    }

    let mut inner = shared.lock();
    if inner.over_daily_cap() {
        return Err(ApiError::upload_limit());
    }
    let media_type = media_type.unwrap_or_else(|| "application/octet-stream".to_owned());
    let file = metadata::prepare(&inner, &who, metadata, all_drives, true, &media_type)?;
    if file.drive_id.is_none() && inner.storage_left(&who.email).is_some_and(|left| media.len() as u64 > left) {
        return Err(ApiError::storage_quota());
    }
    let (md5, sha256) = digests(&media);
    inner.uploaded_today += media.len() as u64;
    let content = (!shared.hash_only).then(|| media.clone());
    let id = inner.create_file(&who, &file, media.len() as u64, md5, sha256, content)?;
    Ok(file_response(&inner, &id, &who, &selection))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// Splits a multipart/related body (RFC 2046) into the metadata part and the media part.
fn split_multipart(body: &Bytes, content_type: &str) -> Result<(Bytes, Bytes, Option<String>), ApiError> {
    let malformed = |count: usize| ApiError::bad_request(format!("Invalid multipart request with {count} mime parts."));
    let mut pieces = content_type.split(';');
    if !pieces.next().unwrap_or_default().trim().to_ascii_lowercase().starts_with("multipart/") {
        return Err(malformed(0));
    }
    let boundary = pieces
        .find_map(|p| p.trim().strip_prefix("boundary=").map(|b| b.trim_matches('"').to_owned()))
        .ok_or_else(|| malformed(0))?;
    let delimiter = format!("--{boundary}").into_bytes();
    let next_delimiter = format!("\n--{boundary}").into_bytes();

    let mut parts: Vec<(Option<String>, Bytes)> = Vec::new();
    let mut pos = find(body, &delimiter).ok_or_else(|| malformed(0))?;
    loop {
        pos += delimiter.len();
        if body[pos..].starts_with(b"--") {
            break;
        }
        let line_end = find(&body[pos..], b"\n").ok_or_else(|| malformed(parts.len()))?;
        pos += line_end + 1;
        let end = find(&body[pos..], &next_delimiter).ok_or_else(|| malformed(parts.len()))? + pos;
        let mut part = body.slice(pos..end);
        if part.ends_with(b"\r") {
            part = part.slice(..part.len() - 1);
        }
        parts.push(split_part(part).ok_or_else(|| malformed(parts.len()))?);
        pos = end + 1;
    }
    match <[_; 2]>::try_from(parts) {
        Ok([(_, meta), (media_type, media)]) => Ok((meta, media, media_type)),
        Err(parts) => Err(malformed(parts.len())),
    }
}

/// One part: its Content-Type and its body.
fn split_part(part: Bytes) -> Option<(Option<String>, Bytes)> {
    let (head_len, sep_len) = match (find(&part, b"\r\n\r\n"), find(&part, b"\n\n")) {
        (Some(crlf), Some(lf)) if lf < crlf => (lf, 2),
        (Some(crlf), _) => (crlf, 4),
        (None, Some(lf)) => (lf, 2),
        (None, None) if part.starts_with(b"\r\n") => (0, 2),
        (None, None) => return None,
    };
    let head = std::str::from_utf8(&part[..head_len]).ok()?;
    let content_type = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("content-type").then(|| value.trim().to_owned())
    });
    Some((content_type, part.slice(head_len + sep_len..)))
}

fn file_response(inner: &Inner, id: &str, who: &crate::state::Principal, selection: &Selection) -> Response {
    match inner.items.get(id) {
        Some(item) => axum::Json(fields::apply(selection, resource::render(inner, item, who))).into_response(),
        None => ApiError::file_not_found(id).into_response(),
    }
}

/// 308 with `Range: bytes=0-<last>`, and no Range at all while nothing is committed.
fn incomplete(committed: u64) -> Response {
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    if committed > 0 {
        let range = HeaderValue::from_str(&format!("bytes=0-{}", committed - 1)).expect("ASCII");
        response.headers_mut().insert(header::RANGE, range);
    }
    response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

enum ContentRange {
    /// `bytes */*` or `bytes */TOTAL`: a status query, or the empty request that finishes an upload.
    Query { total: Option<u64> },
    /// `bytes A-B/*` or `bytes A-B/TOTAL`.
    Data { start: u64, end: u64, total: Option<u64> },
    /// No Content-Range with a body of unknown length: the whole file in one request.
    Whole,
}

fn parse_content_range(headers: &HeaderMap) -> Result<ContentRange, ApiError> {
    let bad = || ApiError::bad_request("Failed to parse Content-Range header.").at("header", "Content-Range");
    let Some(text) = header_str(headers, "content-range") else {
        // Without Content-Range the body is the whole file.
        return match header_u64(headers, "content-length")? {
            Some(0) => Ok(ContentRange::Query { total: Some(0) }),
            Some(length) => Ok(ContentRange::Data { start: 0, end: length - 1, total: Some(length) }),
            None => Ok(ContentRange::Whole),
        };
    };
    let rest = text.trim().strip_prefix("bytes ").ok_or_else(bad)?.trim();
    let (range, total) = rest.split_once('/').ok_or_else(bad)?;
    let total = match total {
        "*" => None,
        digits => Some(digits.parse::<u64>().map_err(|_| bad())?),
    };
    if range == "*" {
        return Ok(ContentRange::Query { total });
    }
    let (start, end) = range.split_once('-').ok_or_else(bad)?;
    let start: u64 = start.parse().map_err(|_| bad())?;
    let end: u64 = end.parse().map_err(|_| bad())?;
    if end < start || total.is_some_and(|total| end >= total) {
        return Err(bad());
    }
    Ok(ContentRange::Data { start, end, total })
}

/// What to do with a PUT once its headers and the session were checked.
enum Plan {
    Reply(Response),
    /// Read about this many bytes, then kill the connection.
    Drop(u64),
    Receive(Receive),
}

struct Receive {
    upload_id: String,
    committed: u64,
    start: u64,
    expected: Option<u64>,
    total: Option<u64>,
    final_chunk: bool,
    keep: Option<u64>,
    md5: Md5,
    sha256: Sha256,
    selection: Selection,
}

/// `PUT <session URI>`.
pub(crate) async fn put(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    match plan(&shared, &parts) {
        Ok(Plan::Reply(response)) => {
            body::drain_upload(&shared, body).await;
            response
        }
        Err(error) => {
            body::drain_upload(&shared, body).await;
            error.into_response()
        }
        Ok(Plan::Drop(bytes)) => drop_connection(&shared, body, bytes, parts.extensions.get::<ConnectionKill>()).await,
        Ok(Plan::Receive(receive)) => {
            let response = receive_chunk(&shared, receive, body).await;
            let pause = shared.lock().faults.chunk_pause;
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            response
        }
    }
}

fn plan(shared: &Shared, parts: &Parts) -> Result<Plan, ApiError> {
    let params = Params::from_uri(&parts.uri)?;
    let upload_id = params.get("upload_id").ok_or_else(ApiError::session_not_found)?;
    authenticate_session(shared, &parts.headers)?;
    let selection = fields::for_file(params.get("fields"))?;
    let range = parse_content_range(&parts.headers)?;
    let content_length = header_u64(&parts.headers, "content-length")?;

    let mut guard = shared.lock();
    let inner = &mut *guard;
    let session = inner.sessions.get(upload_id).ok_or_else(ApiError::session_not_found)?;
    match &session.state {
        SessionState::Open => {}
        SessionState::Finished(file_id) => {
            return Ok(Plan::Reply(file_response(inner, file_id, &session.principal, &selection)));
        }
        SessionState::Cancelled | SessionState::Expired => return Err(ApiError::session_not_found()),
    }
    let committed = session.committed;
    let declared_total = session.total;
    let conflicting_total =
        |total: Option<u64>| matches!((declared_total, total), (Some(declared), Some(total)) if declared != total);

    let (start, end, total) = match range {
        ContentRange::Query { total } => {
            if content_length.is_some_and(|length| length > 0) {
                return Err(ApiError::bad_request("A status query must have an empty body."));
            }
            if conflicting_total(total) {
                return Err(ApiError::bad_request("The total size differs from the one declared earlier."));
            }
            return match total {
                Some(total) if committed > total => Err(ApiError::bad_request(format!(
                    "Invalid request. The total size {total} is smaller than the {committed} byte(s) already uploaded."
                ))),
                Some(total) if committed == total => {
                    if let Some(status) = inner.faults.take_chunk_failure() {
                        return Err(ApiError::injected(status));
                    }
                    let file_id = finish(inner, upload_id, Some(total))?;
                    let who = inner.sessions[upload_id].principal.clone();
                    Ok(Plan::Reply(file_response(inner, &file_id, &who, &selection)))
                }
                _ => Ok(Plan::Reply(incomplete(committed))),
            };
        }
        ContentRange::Whole => {
            if committed != 0 {
                return Err(ApiError::bad_request("Content-Range is required to resume an upload."));
            }
            if let Some(status) = inner.faults.take_chunk_failure() {
                return Err(ApiError::injected(status));
            }
            if inner.over_daily_cap() {
                return Err(ApiError::upload_limit());
            }
            return Ok(Plan::Receive(Receive {
                upload_id: upload_id.to_owned(),
                committed,
                start: 0,
                expected: None,
                total: None,
                final_chunk: true,
                keep: None,
                md5: session.md5.clone(),
                sha256: session.sha256.clone(),
                selection,
            }));
        }
        ContentRange::Data { start, end, total } => (start, end, total),
    };

    let length = end - start + 1;
    if content_length.is_some_and(|declared| declared != length) {
        return Err(ApiError::bad_request(format!(
            "Invalid request. The Content-Range header covers {length} byte(s) but Content-Length is {}.",
            content_length.unwrap_or_default()
        )));
    }
    if conflicting_total(total) {
        return Err(ApiError::bad_request("The total size differs from the one declared earlier."));
    }
    if total.or(declared_total).is_some_and(|total| end >= total) {
        return Err(ApiError::bad_request("Invalid request. The chunk ends beyond the declared total size."));
    }
    let final_chunk = total.is_some_and(|total| end + 1 == total);
    if let Some(status) = inner.faults.take_chunk_failure() {
        return Err(ApiError::injected(status));
    }
    if inner.over_daily_cap() {
        return Err(ApiError::upload_limit());
    }
    let owner = &inner.sessions[upload_id];
    if owner.file.drive_id.is_none() && inner.storage_left(&owner.principal.email).is_some_and(|left| end + 1 > left) {
        return Err(ApiError::storage_quota());
    }
    if start > committed {
        return Err(ApiError::bad_request(format!(
            "Invalid request. According to the Content-Range header, the upload offset is {start} byte(s), which \
             exceeds already uploaded size of {committed} byte(s)."
        )));
    }
    if !final_chunk && length % CHUNK_GRANULARITY != 0 {
        return Err(ApiError::bad_request(format!(
            "Invalid request. The number of bytes uploaded is required to be a multiple of {CHUNK_GRANULARITY}, \
             except for the final request. The received request contained {length} byte(s), which does not meet \
             this requirement."
        )));
    }
    if end < committed {
        // Everything in it is committed already: nothing to add.
        return Ok(Plan::Reply(incomplete(committed)));
    }
    if std::mem::take(&mut inner.faults.drop_connection) {
        return Ok(Plan::Drop(length / 2));
    }
    let keep = if final_chunk { None } else { inner.faults.partial_ack.take() };
    let session = &inner.sessions[upload_id];
    Ok(Plan::Receive(Receive {
        upload_id: upload_id.to_owned(),
        committed,
        start,
        expected: Some(length),
        total,
        final_chunk,
        keep,
        md5: session.md5.clone(),
        sha256: session.sha256.clone(),
        selection,
    }))
}

/// Turns a complete session into a file; the session then answers every later PUT with that file.
fn finish(inner: &mut Inner, upload_id: &str, total: Option<u64>) -> Result<String, ApiError> {
    let session = inner.sessions.get(upload_id).ok_or_else(ApiError::session_not_found)?;
    let parent = session.file.parent.clone();
    if !inner.items.contains_key(&parent) {
        return Err(ApiError::file_not_found(&parent));
    }
    let session = inner.sessions.get_mut(upload_id).ok_or_else(ApiError::session_not_found)?;
    if total.is_some() {
        session.total = total;
    }
    let md5 = hex::encode(session.md5.clone().finalize());
    let sha256 = hex::encode(session.sha256.clone().finalize());
    let content = session.content.take().map(Bytes::from);
    let (who, file, size) = (session.principal.clone(), session.file.clone(), session.committed);
    let file_id = inner.create_file(&who, &file, size, md5, sha256, content)?;
    if let Some(session) = inner.sessions.get_mut(upload_id) {
        session.state = SessionState::Finished(file_id.clone());
    }
    Ok(file_id)
}

/// MD5 and SHA-256 of a chunk as it arrives. Inline when a partial acknowledgement must cut the
/// chunk at a given byte (both hashes are snapshot there); otherwise each hash runs on a thread of
/// its own beside the task reading the body, as Google's front end does not make a client wait
/// for its checksums: one hash after the other on the reading task (MD5 alone runs at about
/// 700 MB/s on one core) made the double the bottleneck of every benchmark.
enum Hashing {
    Inline(Md5, Sha256),
    Threads(HashThread<Md5>, HashThread<Sha256>),
}

/// One hash fed by a channel; the bytes are shared, never copied.
struct HashThread<H> {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    handle: std::thread::JoinHandle<H>,
}

impl<H: Digest + Send + 'static> HashThread<H> {
    fn start(mut hasher: H) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(64);
        let handle = std::thread::spawn(move || {
            while let Some(data) = rx.blocking_recv() {
                hasher.update(&data);
            }
            hasher
        });
        HashThread { tx, handle }
    }

    fn finish(self) -> H {
        drop(self.tx);
        self.handle.join().expect("a hash thread does not panic")
    }
}

/// The bytes of one chunk as they arrive: hashed at once, kept only when content is kept.
struct Stage {
    hashing: Hashing,
    bytes: Option<Vec<u8>>,
    accepted: u64,
    keep_at: Option<u64>,
    kept: Option<(Md5, Sha256, u64)>,
}

impl Stage {
    fn new(receive: &Receive, keep_content: bool) -> Stage {
        let keep_at = receive.keep.map(|keep| (receive.start + keep).saturating_sub(receive.committed));
        let (md5, sha256) = (receive.md5.clone(), receive.sha256.clone());
        let hashing = match keep_at {
            Some(_) => Hashing::Inline(md5, sha256),
            None => Hashing::Threads(HashThread::start(md5), HashThread::start(sha256)),
        };
        Stage { hashing, bytes: keep_content.then(Vec::new), accepted: 0, keep_at, kept: None }
    }

    async fn update(&mut self, data: Bytes) {
        if let Some(bytes) = &mut self.bytes {
            bytes.extend_from_slice(&data);
        }
        self.accepted += data.len() as u64;
        match &mut self.hashing {
            Hashing::Inline(md5, sha256) => {
                md5.update(&data);
                sha256.update(&data);
            }
            Hashing::Threads(md5, sha256) => {
                // A send fails only if the thread is gone, which `finish` reports.
                let _ = md5.tx.send(data.clone()).await;
                let _ = sha256.tx.send(data).await;
            }
        }
    }

    /// Takes a snapshot of the hashes where a partial acknowledgement will cut the chunk.
    async fn push(&mut self, mut data: Bytes) {
        if let Some(at) = self.keep_at
            && self.kept.is_none()
            && self.accepted + data.len() as u64 >= at
        {
            let head = (at - self.accepted) as usize;
            self.update(data.slice(..head)).await;
            if let Hashing::Inline(md5, sha256) = &self.hashing {
                self.kept = Some((md5.clone(), sha256.clone(), self.accepted));
            }
            data = data.slice(head..);
        }
        self.update(data).await;
    }

    /// The hashes of everything pushed.
    async fn digests(hashing: Hashing) -> (Md5, Sha256) {
        match hashing {
            Hashing::Inline(md5, sha256) => (md5, sha256),
            Hashing::Threads(md5, sha256) => tokio::task::spawn_blocking(move || (md5.finish(), sha256.finish()))
                .await
                .expect("the hash threads end"),
        }
    }
}

async fn receive_chunk(shared: &Shared, receive: Receive, mut body: Body) -> Response {
    let skip = receive.committed - receive.start;
    let mut stage = Stage::new(&receive, !shared.hash_only);
    let mut read = 0u64;
    let mut broken = false;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            broken = true;
            break;
        };
        let Ok(data) = frame.into_data() else { continue };
        let skip_here = skip.saturating_sub(read).min(data.len() as u64) as usize;
        read += data.len() as u64;
        stage.push(data.slice(skip_here..)).await;
    }
    shared.note_upload_body(read);
    let (md5, sha256) =
        Stage::digests(std::mem::replace(&mut stage.hashing, Hashing::Inline(Md5::new(), Sha256::new()))).await;
    if broken {
        return ApiError::bad_request("The request body ended early.").into_response();
    }
    let expected = receive.expected.unwrap_or(read);
    if read != expected {
        return ApiError::bad_request(format!(
            "Invalid request. The request body has {read} byte(s) but the Content-Range header announced {expected}."
        ))
        .into_response();
    }
    let partial = stage.kept.is_some();
    let kept = stage.kept.take().unwrap_or((md5, sha256, stage.accepted));
    respond(commit(shared, receive, stage, kept, partial, read))
}

/// Commits what the chunk brought: `kept` is the hashes and byte count Drive keeps (all of it,
/// or what a partial acknowledgement keeps).
fn commit(
    shared: &Shared,
    receive: Receive,
    stage: Stage,
    kept: (Md5, Sha256, u64),
    partial: bool,
    read: u64,
) -> Result<Response, ApiError> {
    let mut guard = shared.lock();
    let inner = &mut *guard;
    let session = inner.sessions.get_mut(&receive.upload_id).ok_or_else(ApiError::session_not_found)?;
    if session.state != SessionState::Open {
        return Err(ApiError::session_not_found());
    }
    if session.committed != receive.committed {
        return Err(ApiError::bad_request("Invalid request. Another request changed this upload meanwhile."));
    }
    let (md5, sha256, accepted) = kept;
    if let (Some(content), Some(bytes)) = (&mut session.content, &stage.bytes) {
        content.extend_from_slice(&bytes[..accepted as usize]);
    }
    session.md5 = md5;
    session.sha256 = sha256;
    session.committed += accepted;
    let total = if receive.expected.is_none() { Some(read) } else { receive.total };
    if total.is_some() {
        session.total = total;
    }
    let committed = session.committed;
    inner.uploaded_today += accepted;
    inner.chunk_committed();
    if receive.final_chunk && !partial {
        let file_id = finish(inner, &receive.upload_id, total)?;
        let who = inner.sessions[&receive.upload_id].principal.clone();
        return Ok(file_response(inner, &file_id, &who, &receive.selection));
    }
    Ok(incomplete(committed))
}

/// The fault: read part of the chunk, commit nothing, and let the connection die without a response.
async fn drop_connection(shared: &Shared, mut body: Body, bytes: u64, kill: Option<&ConnectionKill>) -> Response {
    let mut read = 0u64;
    while read < bytes {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.into_data().map(|data| data.len() as u64).unwrap_or(0),
            _ => break,
        }
    }
    shared.note_upload_body(read);
    if let Some(kill) = kill {
        kill.kill();
        // The connection task drops this future together with the connection.
        std::future::pending::<()>().await;
    }
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// `DELETE <session URI>`: cancels the upload; Google's documented answer is 499.
pub(crate) async fn cancel(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    body::drain_upload(&shared, body).await;
    respond(cancel_session(&shared, &parts))
}

fn cancel_session(shared: &Shared, parts: &Parts) -> Result<Response, ApiError> {
    let params = Params::from_uri(&parts.uri)?;
    let upload_id = params.get("upload_id").ok_or_else(ApiError::session_not_found)?;
    authenticate_session(shared, &parts.headers)?;
    let mut inner = shared.lock();
    let session = inner.sessions.get_mut(upload_id).ok_or_else(ApiError::session_not_found)?;
    match session.state {
        SessionState::Open => {
            session.state = SessionState::Cancelled;
            session.content = None;
            let status = StatusCode::from_u16(499).expect("499 is a valid status code");
            Ok(status.into_response())
        }
        SessionState::Finished(_) => Err(ApiError::bad_request("The upload is already complete.")),
        SessionState::Cancelled | SessionState::Expired => Err(ApiError::session_not_found()),
    }
}
