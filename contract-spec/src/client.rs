//! A streaming HTTP client for contract v1.
//!
//! It owns what every caller of an app must get right: timeouts on every call (connect, idle,
//! total), refusing close-delimited bodies, treating an empty or aborted body as a failure, and
//! checking the `backup-sha256` / `backup-bytes` trailers *before* reporting the end of the body,
//! so a caller that finalizes an upload only after [`Export::next_chunk`] returns `Ok(None)` never
//! finalizes a lying export. It never buffers an export: one frame at a time.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::Stream;
use http_body_util::BodyExt;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, RETRY_AFTER, TRANSFER_ENCODING};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::{
    CAPABILITIES_PATH, Capabilities, EXPORT_PATH, ErrorBody, ExportRequest, HEADER_BACKUP_SHA256, HEADER_BACKUP_TYPE,
    IMPORT_PATH, ImportResult, TRAILER_BYTES, TRAILER_SHA256, VERIFY_PATH, VerifyReport,
};

/// Limits on every call to an app.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Time to open the TCP (and TLS) connection.
    pub connect: Duration,
    /// Longest wait for response headers, and for any small JSON call as a whole.
    pub response: Duration,
    /// Longest silence while an export body streams: no byte for this long = stalled.
    pub idle: Duration,
    /// Longest time an export may take from request to last byte.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            response: Duration::from_secs(60),
            idle: Duration::from_secs(60),
            total: Duration::from_secs(24 * 3600),
        }
    }
}

/// Why a call to an app failed. [`ClientError::is_retryable`] tells a temporary failure from a
/// permanent one.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL given for the app is not usable.
    #[error("invalid app URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The app could not be reached.
    #[error("could not reach the app at {url}: {reason}")]
    Unreachable {
        /// Where we tried.
        url: String,
        /// The transport's explanation.
        reason: String,
    },
    /// A timeout expired.
    #[error("the app {what} (limit {limit:?})")]
    Timeout {
        /// What took too long, as a phrase ("sent no byte for 60s").
        what: String,
        /// The limit that expired.
        limit: Duration,
    },
    /// The app answered 401.
    #[error("the app refused the token (401): check the token registered for this app")]
    Unauthorized,
    /// The app answered 503 busy.
    #[error("the app is busy (503){}: {message}", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default())]
    Busy {
        /// Seconds the app asked us to wait.
        retry_after: Option<Duration>,
        /// The app's message.
        message: String,
    },
    /// The app answered an error status.
    #[error("the app answered {status} {code}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The `error` code of the body, or "-" when the body was not an error body.
        code: String,
        /// The `message` of the body, or the start of whatever the body was.
        message: String,
    },
    /// The app's capabilities break the contract.
    #[error("the app's capabilities are invalid: {}", .0.join("; "))]
    InvalidCapabilities(Vec<String>),
    /// The app broke the contract in some other way.
    #[error("the app broke contract v1: {0}")]
    Protocol(String),
    /// The export body did not end cleanly: the app (or the network) aborted it.
    #[error("the export was cut off after {bytes} bytes ({reason}): the app's export failed or the connection dropped")]
    Aborted {
        /// Bytes received before the cut.
        bytes: u64,
        /// The transport's explanation.
        reason: String,
    },
    /// The export body ended cleanly but held no byte.
    #[error("the export was empty: an empty body is a failed export")]
    Empty,
    /// The body does not match what the app declared (Content-Length or trailers).
    #[error("the export does not match what the app declared: {0}")]
    Mismatch(String),
}

impl ClientError {
    /// True when trying again later may succeed (network trouble, 5xx, busy, a cut-off body);
    /// false when only a change of configuration or of the app can help (401, bad contract).
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Unreachable { .. }
            | ClientError::Timeout { .. }
            | ClientError::Busy { .. }
            | ClientError::Aborted { .. } => true,
            ClientError::Status { status, .. } => *status >= 500 || *status == 409 || *status == 429,
            ClientError::InvalidUrl { .. }
            | ClientError::Unauthorized
            | ClientError::InvalidCapabilities(_)
            | ClientError::Protocol(_)
            | ClientError::Empty
            | ClientError::Mismatch(_) => false,
        }
    }
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// HTTP/2 or later: frames carry their own end.
    Framed,
    /// Neither: the body ends when the connection closes, so its end cannot be told from a failure.
    CloseDelimited,
}

/// Tells how the body of a response with these headers is delimited.
pub fn framing_of(version: reqwest::Version, headers: &HeaderMap) -> Framing {
    if version >= reqwest::Version::HTTP_2 {
        return Framing::Framed;
    }
    let chunked = headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("chunked")));
    if chunked {
        return Framing::Chunked;
    }
    match headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok()) {
        Some(n) => Framing::Length(n),
        None => Framing::CloseDelimited,
    }
}

/// A client for one app.
#[derive(Clone)]
pub struct AppClient {
    base: reqwest::Url,
    token: SecretString,
    http: reqwest::Client,
    timeouts: Timeouts,
}

impl std::fmt::Debug for AppClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppClient").field("base", &self.base.as_str()).field("token", &"[redacted]").finish()
    }
}

impl AppClient {
    /// A client for the app at `base_url` (http or https), authenticating with `token`.
    pub fn new(base_url: &str, token: SecretString, timeouts: Timeouts) -> Result<Self, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl { url: base_url.to_owned(), reason: reason.to_owned() };
        let mut base = reqwest::Url::parse(base_url.trim()).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("only http:// and https:// URLs are allowed"));
        }
        if base.host_str().is_none_or(str::is_empty) {
            return Err(invalid("the URL has no host"));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(invalid("put the token in the token field, not in the URL"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid("remove the query string and fragment"));
        }
        // Routes are joined under the base path, so "http://host/app" serves "/app/backup/...".
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| invalid(&e.to_string()))?;
        Ok(AppClient { base, token, http, timeouts })
    }

    /// The app's base URL.
    pub fn base_url(&self) -> &reqwest::Url {
        &self.base
    }

    /// The timeouts this client applies.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The full URL of a contract route such as [`EXPORT_PATH`].
    pub fn url(&self, route: &str) -> reqwest::Url {
        self.base.join(route.trim_start_matches('/')).expect("contract routes are valid relative URLs")
    }

    /// A request to `route` with no credentials, for callers that test how the app guards itself.
    pub(crate) fn bare(&self, method: reqwest::Method, route: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(route))
    }

    /// A request to `route` carrying the app's token.
    pub(crate) fn authorized(&self, method: reqwest::Method, route: &str) -> reqwest::RequestBuilder {
        self.bare(method, route).header(AUTHORIZATION, format!("Bearer {}", self.token.expose_secret()))
    }

    /// Sends a request and waits for the response headers, within the response timeout.
    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let limit = self.timeouts.response;
        match tokio::time::timeout(limit, request.send()).await {
            Err(_) => Err(ClientError::Timeout { what: "did not answer".into(), limit }),
            Ok(Err(e)) => Err(transport_error(&self.base, &e)),
            Ok(Ok(resp)) => Ok(resp),
        }
    }

    /// `GET /backup/capabilities`, checked against the contract.
    pub async fn capabilities(&self) -> Result<Capabilities, ClientError> {
        let resp = self.send(self.authorized(reqwest::Method::GET, CAPABILITIES_PATH)).await?;
        let resp = ok_or_error(resp, self.timeouts.response).await?;
        let body = read_small(resp, self.timeouts.response).await?;
        let caps: Capabilities = serde_json::from_slice(&body).map_err(|e| {
            ClientError::InvalidCapabilities(vec![format!("the capabilities are not valid JSON of the v1 shape: {e}")])
        })?;
        let problems = caps.problems();
        if problems.is_empty() { Ok(caps) } else { Err(ClientError::InvalidCapabilities(problems)) }
    }

    /// `POST /backup/export`: returns once the app has answered 200 and its headers are
    /// acceptable. Read the body with [`Export::next_chunk`].
    pub async fn export(&self, backup_type: Option<&str>) -> Result<Export, ClientError> {
        let started = Instant::now();
        let body = ExportRequest { backup_type: backup_type.map(str::to_owned) };
        let request =
            self.authorized(reqwest::Method::POST, EXPORT_PATH).header(reqwest::header::TE, "trailers").json(&body);
        let resp = self.send(request).await?;
        let resp = ok_or_error(resp, self.timeouts.response).await?;
        Export::begin(resp, started, self.timeouts)
    }

    /// `POST /backup/import`: streams `body` to the app with its type and sha256.
    pub async fn import<S>(&self, backup_type: &str, sha256_hex: &str, body: S) -> Result<ImportResult, ClientError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let answer = self.send_copy(IMPORT_PATH, "the import", backup_type, sha256_hex, body).await?;
        serde_json::from_slice(&answer).map_err(|e| {
            ClientError::Protocol(format!("the import answer is not {{\"restored\": true, \"bytes\": N}}: {e}"))
        })
    }

    /// `POST /backup/verify`: streams `body` to the app, which checks that it would restore
    /// without applying it (only for types advertised with `verify: true`).
    pub async fn verify<S>(&self, backup_type: &str, sha256_hex: &str, body: S) -> Result<VerifyReport, ClientError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let answer = self.send_copy(VERIFY_PATH, "the verify", backup_type, sha256_hex, body).await?;
        serde_json::from_slice(&answer).map_err(|e| {
            ClientError::Protocol(format!(
                "the verify answer is not a report ({{\"ok\": BOOL, \"bytes\": N, \"checks\": [...]}}): {e}"
            ))
        })
    }

    /// Streams a copy to `path` with its type and sha256; the small answer of a 200.
    async fn send_copy<S>(
        &self,
        path: &str,
        what: &str,
        backup_type: &str,
        sha256_hex: &str,
        body: S,
    ) -> Result<Vec<u8>, ClientError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let request = self
            .authorized(reqwest::Method::POST, path)
            .header(HEADER_BACKUP_TYPE, backup_type)
            .header(HEADER_BACKUP_SHA256, sha256_hex)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(reqwest::Body::wrap_stream(body));
        // The upload may take long: the total limit applies, not the response one.
        let resp = match tokio::time::timeout(self.timeouts.total, request.send()).await {
            Err(_) => {
                return Err(ClientError::Timeout {
                    what: format!("did not finish {what}"),
                    limit: self.timeouts.total,
                });
            }
            Ok(Err(e)) => return Err(transport_error(&self.base, &e)),
            Ok(Ok(resp)) => resp,
        };
        let resp = ok_or_error(resp, self.timeouts.response).await?;
        read_small(resp, self.timeouts.response).await
    }
}

/// An export whose body is being read.
#[derive(Debug)]
pub struct Export {
    media_type: Option<String>,
    framing: Framing,
    body: reqwest::Body,
    started: Instant,
    timeouts: Timeouts,
    hasher: Sha256,
    bytes: u64,
    first_byte_after: Option<Duration>,
    trailers: Option<HeaderMap>,
    finished: Option<String>,
}

impl Export {
    pub(crate) fn begin(resp: reqwest::Response, started: Instant, timeouts: Timeouts) -> Result<Self, ClientError> {
        let framing = framing_of(resp.version(), resp.headers());
        if framing == Framing::CloseDelimited {
            return Err(ClientError::Protocol(
                "the export body has neither Content-Length nor chunked transfer encoding, so its end cannot be told from a failure: send it chunked or with Content-Length".into(),
            ));
        }
        let media_type = resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = http::Response::from(resp).into_body();
        Ok(Export {
            media_type,
            framing,
            body,
            started,
            timeouts,
            hasher: Sha256::new(),
            bytes: 0,
            first_byte_after: None,
            trailers: None,
            finished: None,
        })
    }

    /// The Content-Type the app sent.
    pub fn media_type(&self) -> Option<&str> {
        self.media_type.as_deref()
    }

    /// How the body is delimited.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Time from sending the request to the first byte of the body.
    pub fn first_byte_after(&self) -> Option<Duration> {
        self.first_byte_after
    }

    /// Trailers the app sent, once the body has ended.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }

    /// Hex sha256 of the whole body, once [`Export::next_chunk`] has returned `Ok(None)`.
    pub fn sha256(&self) -> Option<&str> {
        self.finished.as_deref()
    }

    /// The next piece of the body. `Ok(None)` means the body ended cleanly, was not empty,
    /// matched its Content-Length and, when sent, its trailers. Any error means the export
    /// must be thrown away.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, ClientError> {
        if self.finished.is_some() {
            return Ok(None);
        }
        loop {
            let left = self.timeouts.total.saturating_sub(self.started.elapsed());
            let (limit, what) = if left < self.timeouts.idle {
                (self.timeouts.total, "did not finish the export in time".to_owned())
            } else {
                (self.timeouts.idle, format!("sent no byte for {}s: the export stalled", self.timeouts.idle.as_secs()))
            };
            let frame = match tokio::time::timeout(left.min(self.timeouts.idle), self.body.frame()).await {
                Err(_) => return Err(ClientError::Timeout { what, limit }),
                Ok(None) => return self.finish().map(|()| None),
                Ok(Some(Err(e))) => {
                    return Err(ClientError::Aborted { bytes: self.bytes, reason: error_chain(&e) });
                }
                Ok(Some(Ok(frame))) => frame,
            };
            match frame.into_data() {
                Ok(data) if data.is_empty() => continue,
                Ok(data) => {
                    self.first_byte_after.get_or_insert_with(|| self.started.elapsed());
                    self.hasher.update(&data);
                    self.bytes += data.len() as u64;
                    return Ok(Some(data));
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        self.trailers.get_or_insert_with(HeaderMap::new).extend(trailers);
                    }
                }
            }
        }
    }

    fn finish(&mut self) -> Result<(), ClientError> {
        if self.bytes == 0 {
            return Err(ClientError::Empty);
        }
        if let Framing::Length(n) = self.framing
            && n != self.bytes
        {
            return Err(ClientError::Mismatch(format!("Content-Length said {n} bytes, the body had {}", self.bytes)));
        }
        let sha = hex::encode(std::mem::take(&mut self.hasher).finalize());
        if let Some(trailers) = &self.trailers {
            if let Some(declared) = trailers.get(TRAILER_SHA256) {
                let declared = declared.to_str().unwrap_or_default().trim();
                if !declared.eq_ignore_ascii_case(&sha) {
                    return Err(ClientError::Mismatch(format!(
                        "trailer {TRAILER_SHA256} says {declared}, the body's sha256 is {sha}"
                    )));
                }
            }
            if let Some(declared) = trailers.get(TRAILER_BYTES) {
                let declared = declared.to_str().unwrap_or_default().trim();
                if declared.parse::<u64>().ok() != Some(self.bytes) {
                    return Err(ClientError::Mismatch(format!(
                        "trailer {TRAILER_BYTES} says {declared}, the body had {} bytes",
                        self.bytes
                    )));
                }
            }
        }
        self.finished = Some(sha);
        Ok(())
    }
}

/// The most of an app's error message kept, in characters.
pub const MAX_ECHOED: usize = 300;

/// `text` on one line (control characters become spaces, runs of them one), at most `max`
/// characters, an ellipsis saying when it was cut.
pub fn said(text: &str, max: usize) -> String {
    let mut out = String::new();
    for word in text.split(|c: char| c.is_control() || c.is_whitespace()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.chars().count() > max {
        let mut cut: String = out.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        return cut;
    }
    out
}

/// Passes a 2xx response through; turns anything else into the matching error.
pub(crate) async fn ok_or_error(resp: reqwest::Response, limit: Duration) -> Result<reqwest::Response, ClientError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_secs);
    let body = read_small(resp, limit).await.unwrap_or_default();
    // What an app says is shown to operators and stored with the run: bounded, on one line.
    let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(e) => (said(&e.error, 60), said(&e.message, MAX_ECHOED)),
        Err(_) => ("-".to_owned(), said(&String::from_utf8_lossy(&body[..body.len().min(4 * MAX_ECHOED)]), MAX_ECHOED)),
    };
    Err(match status.as_u16() {
        401 => ClientError::Unauthorized,
        503 => ClientError::Busy { retry_after, message },
        status => ClientError::Status { status, code, message },
    })
}

/// Reads a small (JSON) body, refusing anything over 1 MiB.
pub(crate) async fn read_small(resp: reqwest::Response, limit: Duration) -> Result<Vec<u8>, ClientError> {
    const MAX: usize = 1 << 20;
    let mut body = http::Response::from(resp).into_body();
    let mut out = Vec::new();
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ClientError::Aborted { bytes: out.len() as u64, reason: error_chain(&e) })?;
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > MAX {
                    return Err(ClientError::Protocol("a JSON answer was larger than 1 MiB".into()));
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(())
    };
    match tokio::time::timeout(limit, read).await {
        Err(_) => Err(ClientError::Timeout { what: "did not finish its answer".into(), limit }),
        Ok(result) => result.map(|()| out),
    }
}

pub(crate) fn transport_error(base: &reqwest::Url, e: &reqwest::Error) -> ClientError {
    ClientError::Unreachable { url: base.to_string(), reason: error_chain(e) }
}

/// The error and its sources on one line, which is where reqwest keeps the useful part.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_an_app_says_is_echoed_bounded_and_on_one_line() {
        assert_eq!(said("  disk\r\nfull\t(see\u{0}log) ", 100), "disk full (see log)");
        let long = "x".repeat(5000);
        let echoed = said(&long, MAX_ECHOED);
        assert_eq!(echoed.chars().count(), MAX_ECHOED);
        assert!(echoed.ends_with('…'));
        assert_eq!(said("", 10), "");
    }
}
