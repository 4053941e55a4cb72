//! The resumable upload: one chunk in memory whatever the file's size.
//!
//! Bytes are buffered until a chunk (a multiple of 256 KiB) is full, then `PUT` with
//! `Content-Range: bytes a-b/*`. Drive answers 308 with the committed range and may keep fewer
//! bytes than sent: the unacknowledged tail stays at the front of the buffer. On a failure that
//! may pass (5xx, 429, rate limits, a dropped connection) the writer backs off, asks Drive what it
//! has (`bytes */*`) and resumes from there. The last chunk carries the total size and returns
//! the file; a stream ending exactly on a chunk boundary finishes with an empty `bytes */TOTAL`.
//! Every request states its `Content-Length`, 0 included: Google refuses a PUT without one (411).
//! No file exists until that last request succeeds, so `abort` (or a crash) leaves none.
//!
//! While a full chunk uploads, the next one fills: the upload runs as its own task and the
//! caller keeps reading the export, so reading and sending overlap instead of taking turns. That
//! second buffer comes out of a read-ahead budget shared by every upload of the process
//! (`GDRIVE_READ_AHEAD_BUDGET`); without room in it, a chunk is sent before reading on. Memory
//! stays at one chunk per upload plus the budget. At most one chunk is in flight, so chunks
//! still reach Drive in order and a partial acknowledgement is handled as before. Chunk buffers
//! come from, and go back to, the process's pool (`pool.rs`) rather than the allocator.
//!
//! This writer owns its retries: it must never be wrapped by a generic retry layer, which could
//! send the final chunk twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use opendal::raw::oio;
use opendal::{Buffer, Metadata};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;

use super::core::{DriveCore, DriveFile, UploadMeter};
use super::error::{DriveError, Kind};

pub(crate) struct DriveWriter {
    core: Arc<DriveCore>,
    folder_id: String,
    name: String,
    if_not_exists: bool,
    content_type: String,
    app_properties: BTreeMap<String, String>,
    /// The session URI: a secret, since anyone holding it can write to the upload.
    session: Option<SecretString>,
    /// Bytes not yet acknowledged by Drive, starting at `offset`.
    buffer: BytesMut,
    /// How many bytes Drive has committed.
    offset: u64,
    /// Answers in a row that acknowledged nothing new.
    stalls: u32,
    /// The chunk uploading while the next one fills.
    in_flight: Option<InFlight>,
    /// Counts what Drive acknowledged, when the caller asked (the daily upload budget).
    meter: Option<UploadMeter>,
}

/// A chunk sent by its own task, and the read-ahead memory it holds until it is acknowledged.
struct InFlight {
    body: Bytes,
    task: JoinHandle<Result<Put, DriveError>>,
    _permit: OwnedSemaphorePermit,
}

/// What sending a chunk needs, owned, so a task can send it while the writer reads on.
#[derive(Clone)]
struct Upload {
    core: Arc<DriveCore>,
    session: SecretString,
    what: String,
}

enum Put {
    /// Drive holds this many bytes of the upload.
    Committed(u64),
    /// The upload is complete.
    Finished(Box<DriveFile>),
}

impl DriveWriter {
    pub(crate) fn new(
        core: Arc<DriveCore>,
        folder_id: String,
        name: String,
        content_type: String,
        app_properties: BTreeMap<String, String>,
        if_not_exists: bool,
    ) -> Self {
        core.pool.upload_started();
        let meter = core.claim_meter(&folder_id, &name);
        DriveWriter {
            core,
            folder_id,
            name,
            if_not_exists,
            content_type,
            app_properties,
            session: None,
            // Taken from the pool when the first byte arrives.
            buffer: BytesMut::new(),
            offset: 0,
            stalls: 0,
            in_flight: None,
            meter,
        }
    }

    fn what(&self) -> String {
        format!("uploading {} to Drive folder {}", self.name, self.folder_id)
    }

    async fn session(&mut self) -> Result<SecretString, DriveError> {
        if let Some(s) = &self.session {
            return Ok(s.clone());
        }
        let folder = self.core.folder(&self.folder_id).await?;
        if self.if_not_exists && self.core.find(&folder, &self.name).await?.is_some() {
            return Err(DriveError::new(
                Kind::Exists,
                format!("{} already exists in Drive folder {}: never overwritten", self.name, self.folder_id),
            ));
        }
        let session = self.core.start_upload(&folder, &self.name, &self.content_type, &self.app_properties).await?;
        self.session = Some(session.clone());
        Ok(session)
    }

    /// Sends the first `len` buffered bytes (all of them, with the total, when `last`) until Drive
    /// acknowledges some or all of them, retrying what may pass. No chunk may be in flight.
    async fn put(&mut self, len: usize, last: bool) -> Result<Put, DriveError> {
        debug_assert!(self.in_flight.is_none(), "chunks are sent in order");
        let upload = Upload { core: self.core.clone(), session: self.session().await?, what: self.what() };
        let body = self.take_front(len);
        let result = upload.put_with_retries(self.offset, &body, last).await;
        self.settle(body, result)
    }

    /// Sends a full chunk: in the background when the read-ahead budget has room for the next
    /// one to fill meanwhile, else right away.
    async fn send_chunk(&mut self) -> Result<(), DriveError> {
        self.finish_in_flight().await?;
        let chunk = self.core.chunk_size;
        if self.buffer.len() < chunk {
            return Ok(());
        }
        let Ok(permit) = self.core.read_ahead.clone().try_acquire_owned() else {
            self.put(chunk, false).await?;
            return Ok(());
        };
        let upload = Upload { core: self.core.clone(), session: self.session().await?, what: self.what() };
        // The sent chunk keeps its memory until acknowledged; the next one fills another buffer.
        let body = self.take_front(chunk);
        let (offset, sending) = (self.offset, body.clone());
        // In the caller's span: a retry of this chunk is part of the run's own log.
        let task = tokio::spawn(tracing::Instrument::in_current_span(async move {
            upload.put_with_retries(offset, &sending, false).await
        }));
        self.in_flight = Some(InFlight { body, task, _permit: permit });
        Ok(())
    }

    /// The first `len` buffered bytes, to send. The whole buffer is handed over as it is (no
    /// copy, and its memory can go back to the pool once sent); the rest of a longer buffer,
    /// which only a partial acknowledgement leaves, is split off.
    fn take_front(&mut self, len: usize) -> Bytes {
        if len == self.buffer.len() {
            std::mem::take(&mut self.buffer).freeze()
        } else {
            self.buffer.split_to(len).freeze()
        }
    }

    /// Waits for the chunk in flight, if any, and takes in Drive's answer.
    async fn finish_in_flight(&mut self) -> Result<(), DriveError> {
        let Some(InFlight { body, task, _permit }) = self.in_flight.take() else { return Ok(()) };
        let result = task
            .await
            .unwrap_or_else(|e| Err(DriveError::temporary(format!("{}: the upload task failed: {e}", self.what()))));
        self.settle(body, result).map(|_| ())
    }

    /// Takes in Drive's answer to `body`, the bytes sent from `offset`: whatever Drive did not
    /// acknowledge goes back in front of the buffer.
    fn settle(&mut self, body: Bytes, result: Result<Put, DriveError>) -> Result<Put, DriveError> {
        let acknowledged = match &result {
            Ok(Put::Committed(c)) => c.saturating_sub(self.offset).min(body.len() as u64) as usize,
            Ok(Put::Finished(_)) => body.len(),
            Err(_) => 0,
        };
        if acknowledged < body.len() {
            let mut rest = self.core.pool.take();
            rest.reserve(body.len() - acknowledged + self.buffer.len());
            rest.extend_from_slice(&body[acknowledged..]);
            rest.extend_from_slice(&self.buffer);
            let filled = std::mem::replace(&mut self.buffer, rest);
            self.core.pool.give(filled);
        }
        self.core.pool.give_sent(body);
        if let Some(meter) = &self.meter {
            match &result {
                Ok(Put::Committed(c)) => meter.add(c.saturating_sub(self.offset)),
                Ok(Put::Finished(_)) => meter.add(acknowledged as u64),
                Err(_) => {}
            }
        }
        if let Ok(Put::Committed(c)) = &result {
            if *c > self.offset {
                self.offset = *c;
                self.stalls = 0;
            } else {
                self.stalls += 1;
                if self.stalls > self.core.retry.max_retries {
                    return Err(DriveError::temporary(format!(
                        "{}: Drive keeps acknowledging nothing past byte {}",
                        self.what(),
                        self.offset
                    )));
                }
            }
        }
        result
    }
}

impl Upload {
    /// Sends `body`, the bytes from `offset` on (the last ones when `last`), retrying what may
    /// pass, until Drive acknowledges some or all of them.
    async fn put_with_retries(&self, offset: u64, body: &Bytes, last: bool) -> Result<Put, DriveError> {
        let (session, what) = (&self.session, self.what.as_str());
        let total = last.then(|| offset + body.len() as u64);
        let mut attempt = 0;
        let mut refreshed = false;
        let mut send_from = offset;
        loop {
            // After a failure, what Drive already has is skipped.
            let skip = (send_from - offset) as usize;
            let piece = body.slice(skip.min(body.len())..);
            let outcome = self.put_once(session, send_from, &piece, total, what).await;
            let error = match outcome {
                Ok(put) => return Ok(put),
                Err(e) => e,
            };
            match error.kind {
                Kind::Unauthorized if !refreshed => {
                    refreshed = true;
                    continue;
                }
                Kind::NotFound => {
                    return Err(DriveError::new(
                        Kind::SessionGone,
                        format!(
                            "{what}: the upload session expired or was cancelled by Drive; the backup has to start again"
                        ),
                    ));
                }
                _ if error.is_retryable() && attempt < self.core.retry.max_retries => {}
                _ => return Err(error),
            }
            tracing::warn!(
                code = "drive.chunk_failed",
                attempt,
                error = %error,
                "Drive upload chunk failed; asking Drive what it has"
            );
            tokio::time::sleep(self.core.retry.delay(attempt)).await;
            attempt += 1;
            match self.query(session, what).await {
                Ok(Put::Finished(file)) => return Ok(Put::Finished(file)),
                Ok(Put::Committed(c)) if c < offset => {
                    return Err(DriveError::new(
                        Kind::SessionGone,
                        format!(
                            "{what}: Drive lost bytes it had acknowledged ({c} < {}); the backup has to start again",
                            offset
                        ),
                    ));
                }
                // Drive kept part of the chunk: report it, and the caller re-buffers the rest,
                // which keeps every non-final request a multiple of 256 KiB.
                Ok(Put::Committed(c)) if c > offset && !last => return Ok(Put::Committed(c)),
                Ok(Put::Committed(c)) => send_from = c.min(offset + body.len() as u64),
                Err(e) if e.kind == Kind::NotFound => {
                    return Err(DriveError::new(
                        Kind::SessionGone,
                        format!(
                            "{what}: the upload session expired or was cancelled by Drive; the backup has to start again"
                        ),
                    ));
                }
                // The status query failed too: count it as this attempt and try again.
                Err(e) if e.is_retryable() || e.kind == Kind::Unauthorized => continue,
                Err(e) => return Err(e),
            }
        }
    }

    async fn put_once(
        &self,
        session: &SecretString,
        start: u64,
        piece: &Bytes,
        total: Option<u64>,
        what: &str,
    ) -> Result<Put, DriveError> {
        let total_text = total.map(|t| t.to_string()).unwrap_or_else(|| "*".into());
        let range = if piece.is_empty() {
            format!("bytes */{total_text}")
        } else {
            format!("bytes {start}-{}/{total_text}", start + piece.len() as u64 - 1)
        };
        let token = self.core.tokens.token().await?;
        let sent = self
            .core
            .http
            .put(session.expose_secret())
            .bearer_auth(token.expose_secret())
            .header(reqwest::header::CONTENT_RANGE, range)
            // Stated even when it is 0: hyper sends no length for an empty body, and Google answers a PUT
            // without Content-Length or Transfer-Encoding with 411.
            .header(reqwest::header::CONTENT_LENGTH, piece.len())
            .body(piece.clone())
            .send()
            .await;
        let resp = sent.map_err(|e| DriveError::transport(what.to_owned(), &e))?;
        let outcome = self.outcome(resp, what).await;
        if let Err(e) = &outcome
            && e.kind == Kind::Unauthorized
        {
            self.core.tokens.invalidate(&token).await;
        }
        outcome
    }

    /// Asks Drive how much of the upload it holds (`Content-Range: bytes */*`).
    async fn query(&self, session: &SecretString, what: &str) -> Result<Put, DriveError> {
        let token = self.core.tokens.token().await?;
        let resp = self
            .core
            .http
            .put(session.expose_secret())
            .bearer_auth(token.expose_secret())
            .header(reqwest::header::CONTENT_RANGE, "bytes */*")
            .header(reqwest::header::CONTENT_LENGTH, 0)
            .body(Bytes::new())
            .send()
            .await
            .map_err(|e| DriveError::transport(what.to_owned(), &e))?;
        let outcome = self.outcome(resp, what).await;
        if let Err(e) = &outcome
            && e.kind == Kind::Unauthorized
        {
            self.core.tokens.invalidate(&token).await;
        }
        outcome
    }

    async fn outcome(&self, resp: reqwest::Response, what: &str) -> Result<Put, DriveError> {
        let status = resp.status();
        if status.as_u16() == 308 {
            let committed = resp
                .headers()
                .get(reqwest::header::RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().strip_prefix("bytes=0-"))
                .and_then(|end| end.parse::<u64>().ok())
                .map_or(0, |end| end + 1);
            return Ok(Put::Committed(committed));
        }
        let body = resp.bytes().await.map_err(|e| DriveError::transport(what.to_owned(), &e))?;
        if status == StatusCode::OK || status == StatusCode::CREATED {
            let file: DriveFile = serde_json::from_slice(&body)
                .map_err(|e| DriveError::temporary(format!("{what}: Drive's final answer was unexpected: {e}")))?;
            return Ok(Put::Finished(Box::new(file)));
        }
        Err(self.core.error(status.as_u16(), &body, what))
    }
}

impl oio::Write for DriveWriter {
    async fn write(&mut self, bs: Buffer) -> opendal::Result<()> {
        let chunk = self.core.chunk_size;
        for piece in bs {
            let mut piece = piece;
            while !piece.is_empty() {
                if self.buffer.capacity() == 0 {
                    self.buffer = self.core.pool.take();
                }
                let room = chunk - self.buffer.len().min(chunk);
                let take = room.min(piece.len());
                self.buffer.extend_from_slice(&piece.split_to(take));
                if self.buffer.len() >= chunk {
                    self.send_chunk().await?;
                }
            }
        }
        Ok(())
    }

    async fn close(&mut self) -> opendal::Result<Metadata> {
        match self.finish().await {
            Ok(meta) => Ok(meta),
            Err(e) => {
                // Nobody retries a failed close (a retry could finalize twice): cancel the session
                // now rather than leave it open until Drive expires it.
                self.cancel().await;
                Err(e.into())
            }
        }
    }

    async fn abort(&mut self) -> opendal::Result<()> {
        self.cancel().await;
        Ok(())
    }
}

impl DriveWriter {
    /// Sends what is left and the total; Drive answers with the file.
    async fn finish(&mut self) -> Result<Metadata, DriveError> {
        self.finish_in_flight().await?;
        loop {
            match self.put(self.buffer.len(), true).await? {
                Put::Finished(file) => {
                    self.session = None;
                    return Ok(file.metadata());
                }
                // Drive kept only part of the last piece: send the rest.
                Put::Committed(_) => continue,
            }
        }
    }

    /// Stops sending and cancels the upload session, best effort: an unfinished session never
    /// becomes a file and expires on its own, but until then it is an open door to the upload.
    async fn cancel(&mut self) {
        if let Some(in_flight) = self.in_flight.take() {
            // A chunk that is not the last never finalizes the file: stop sending it.
            in_flight.task.abort();
        }
        self.core.pool.give(std::mem::take(&mut self.buffer));
        let Some(session) = self.session.take() else { return };
        let url = session.expose_secret();
        // The session URI is itself the credential (Google's guide sends session requests without
        // Authorization), so the session is cancelled even when no token can be had any more, as
        // after an `invalid_grant`. A token we still hold is sent, and dropped if refused.
        let token = self.core.tokens.token().await.ok();
        let request = match &token {
            Some(token) => self.core.http.delete(url).bearer_auth(token.expose_secret()),
            None => self.core.http.delete(url),
        };
        let refused = matches!(request.send().await, Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED);
        if refused {
            let _ = self.core.http.delete(url).send().await;
        }
    }
}

impl Drop for DriveWriter {
    fn drop(&mut self) {
        self.core.pool.give(std::mem::take(&mut self.buffer));
        if let Some(in_flight) = self.in_flight.take() {
            in_flight.task.abort();
        }
        self.core.pool.upload_ended();
    }
}
