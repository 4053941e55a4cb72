//! The codecs in the stream. Each codec runs on a blocking thread of its own, joined to the next
//! step by a small bounded channel, so on a 2-core machine compression, encryption and the upload
//! overlap, and memory stays at a few pieces in flight plus the codecs' fixed windows. Nothing
//! touches a temporary file.
//!
//! A stream ends with an explicit [`Piece::End`]: a channel closed without it (a step stopped)
//! ends the next step with an error, never with a short but well-formed file.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::Codec;
use super::keys::Identities;

/// Bytes gathered before a piece is handed to the next step.
const PIECE: usize = 256 << 10;
/// Pieces waiting between two steps.
const DEPTH: usize = 2;
/// zstd's level: its fastest regular level. At 3 (zstd's default) compression was the slowest step
/// of the stream on a 2-core machine for the same ratio on SQL dumps (BENCHMARKS.md).
const ZSTD_LEVEL: i32 = 1;

/// What flows between two steps.
#[derive(Debug)]
enum Piece {
    Data(Bytes),
    End,
    Failed(String),
}

/// The sending side of a step: what a codec writes goes to the next step in pieces.
struct Sink {
    tx: mpsc::Sender<Piece>,
    buf: BytesMut,
}

impl Sink {
    fn new(tx: mpsc::Sender<Piece>) -> Self {
        Sink { tx, buf: BytesMut::with_capacity(PIECE) }
    }

    fn send(&self, piece: Piece) -> io::Result<()> {
        self.tx.blocking_send(piece).map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the next step stopped"))
    }

    fn end(mut self) -> io::Result<()> {
        self.flush()?;
        self.send(Piece::End)
    }
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIECE {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let piece = self.buf.split().freeze();
            self.buf.reserve(PIECE);
            self.send(Piece::Data(piece))?;
        }
        Ok(())
    }
}

/// The receiving side of a step, read as a `Read`.
struct Source {
    rx: mpsc::Receiver<Piece>,
    current: Bytes,
    ended: bool,
}

impl Read for Source {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Piece::Data(data)) => self.current = data,
                Some(Piece::End) => self.ended = true,
                Some(Piece::Failed(e)) => return Err(io::Error::other(e)),
                None => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the stream stopped before its end")),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// A writer that must be told when the stream ended (a zstd frame's epilogue, age's last chunk).
trait Finish: Write {
    fn finish(self: Box<Self>) -> io::Result<Sink>;
}

impl Finish for zstd::stream::write::Encoder<'static, Sink> {
    fn finish(self: Box<Self>) -> io::Result<Sink> {
        (*self).finish()
    }
}

impl Finish for age::stream::StreamWriter<Sink> {
    fn finish(self: Box<Self>) -> io::Result<Sink> {
        (*self).finish()
    }
}

/// Runs one codec on a blocking thread: what arrives on `rx` is written through the codec that
/// `make` wraps around the sink to the next step.
fn step<F>(mut rx: mpsc::Receiver<Piece>, make: F) -> mpsc::Receiver<Piece>
where
    F: FnOnce(Sink) -> io::Result<Box<dyn Finish + Send>> + Send + 'static,
{
    let (tx, out) = mpsc::channel(DEPTH);
    tokio::task::spawn_blocking(move || {
        let failed = tx.clone();
        let run = move || -> Result<(), String> {
            let mut writer = make(Sink::new(tx)).map_err(|e| e.to_string())?;
            loop {
                match rx.blocking_recv() {
                    Some(Piece::Data(data)) => writer.write_all(&data).map_err(|e| e.to_string())?,
                    Some(Piece::End) => return writer.finish().and_then(Sink::end).map_err(|e| e.to_string()),
                    Some(Piece::Failed(e)) => return Err(e),
                    None => return Err("the stream stopped before its end".to_owned()),
                }
            }
        };
        if let Err(e) = run() {
            let _ = failed.blocking_send(Piece::Failed(e));
        }
    });
    out
}

/// Starts encoding a copy with `codec`: plaintext goes into the [`EncodeInput`], stored bytes
/// come out of the [`EncodeOutput`]. Must run inside a Tokio runtime.
pub fn encode(codec: &Codec) -> (EncodeInput, EncodeOutput) {
    let (tx, mut rx) = mpsc::channel(DEPTH);
    if codec.zstd {
        rx = step(rx, |sink| {
            let encoder = zstd::stream::write::Encoder::new(sink, ZSTD_LEVEL)?;
            Ok(Box::new(encoder) as Box<dyn Finish + Send>)
        });
    }
    if !codec.recipients.is_empty() {
        let recipients = codec.recipients.clone();
        rx = step(rx, move |sink| {
            let keys = recipients.iter().map(|r| r.key() as &dyn age::Recipient);
            let encryptor = age::Encryptor::with_recipients(keys).map_err(io::Error::other)?;
            Ok(Box::new(encryptor.wrap_output(sink)?) as Box<dyn Finish + Send>)
        });
    }
    (EncodeInput { tx }, EncodeOutput { rx, hasher: Sha256::new(), bytes: 0, ended: false })
}

/// Where the plaintext goes.
pub struct EncodeInput {
    tx: mpsc::Sender<Piece>,
}

impl EncodeInput {
    /// Hands a piece of plaintext on; an error when encoding stopped.
    pub async fn push(&self, data: Bytes) -> Result<(), String> {
        self.tx.send(Piece::Data(data)).await.map_err(|_| "compression or encryption stopped".to_owned())
    }

    /// Says the plaintext ended: the codecs close their formats.
    pub async fn finish(self) -> Result<(), String> {
        self.tx.send(Piece::End).await.map_err(|_| "compression or encryption stopped".to_owned())
    }
}

/// The stored bytes, hashed and counted as they come out.
pub struct EncodeOutput {
    rx: mpsc::Receiver<Piece>,
    hasher: Sha256,
    bytes: u64,
    ended: bool,
}

impl EncodeOutput {
    /// The next piece to store; `None` once the stream ended well.
    pub async fn next(&mut self) -> Result<Option<Bytes>, String> {
        if self.ended {
            return Ok(None);
        }
        match self.rx.recv().await {
            Some(Piece::Data(data)) => {
                self.hasher.update(&data);
                self.bytes += data.len() as u64;
                Ok(Some(data))
            }
            Some(Piece::End) => {
                self.ended = true;
                Ok(None)
            }
            Some(Piece::Failed(e)) => Err(e),
            None => Err("compression or encryption stopped before the end".to_owned()),
        }
    }

    /// Bytes that came out so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The sha256 of everything that came out (call after the end).
    pub fn sha256(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }
}

/// Why a stored copy could not be decoded, for the operator.
fn decode_error(e: &io::Error) -> String {
    if let Some(inner) = e.get_ref()
        && let Some(age) = inner.downcast_ref::<age::DecryptError>()
    {
        return describe(age);
    }
    format!("the copy does not decode ({e}): it is damaged or truncated, restore another copy")
}

fn describe(e: &age::DecryptError) -> String {
    match e {
        age::DecryptError::NoMatchingKeys => {
            "none of the identities given opens this copy: give the identity file of one of the recipients it was encrypted to (see `orchestrator keys list`)".to_owned()
        }
        age::DecryptError::DecryptionFailed => {
            "the copy does not decrypt: its ciphertext is damaged or truncated; restore another copy".to_owned()
        }
        other => format!("the copy is not a readable age file ({other}): restore another copy"),
    }
}

/// Decodes a stored copy back to the plaintext, on a blocking thread: decrypted with
/// `identities` when `age` is set, decompressed when `zstd` is set. A wrong identity, a damaged
/// or a truncated copy ends the stream with an error (before any plaintext, for a wrong identity).
pub fn decode<S>(stored: S, zstd: bool, identities: Option<Arc<Identities>>) -> Decoded
where
    S: Stream<Item = io::Result<Bytes>> + Send + Unpin + 'static,
{
    let (tx, rx) = mpsc::channel(DEPTH);
    let (out_tx, out) = mpsc::channel(DEPTH);
    tokio::spawn(async move {
        let mut stored = stored;
        while let Some(item) = stored.next().await {
            let piece = match item {
                Ok(data) => Piece::Data(data),
                Err(e) => Piece::Failed(format!("reading the copy from the destination failed: {e}")),
            };
            let failed = matches!(piece, Piece::Failed(_));
            if tx.send(piece).await.is_err() || failed {
                return;
            }
        }
        let _ = tx.send(Piece::End).await;
    });
    tokio::task::spawn_blocking(move || {
        let failed = out_tx.clone();
        let run = move || -> Result<(), String> {
            let source = Source { rx, current: Bytes::new(), ended: false };
            let decrypted: Box<dyn Read> = match &identities {
                Some(ids) => {
                    let decryptor = age::Decryptor::new(source).map_err(|e| describe(&e))?;
                    Box::new(decryptor.decrypt(ids.as_dyn()).map_err(|e| describe(&e))?)
                }
                None => Box::new(source),
            };
            let mut plain: Box<dyn Read> = if zstd {
                Box::new(zstd::stream::read::Decoder::new(decrypted).map_err(|e| decode_error(&e))?)
            } else {
                decrypted
            };
            let mut sink = Sink::new(out_tx);
            let mut buf = vec![0u8; 64 << 10];
            loop {
                let n = plain.read(&mut buf).map_err(|e| decode_error(&e))?;
                if n == 0 {
                    break;
                }
                sink.write_all(&buf[..n]).map_err(|e| e.to_string())?;
            }
            sink.end().map_err(|e| e.to_string())
        };
        if let Err(e) = run() {
            let _ = failed.blocking_send(Piece::Failed(e));
        }
    });
    Decoded { rx: out, first: None, done: false }
}

/// The plaintext of a stored copy, as a stream.
pub struct Decoded {
    rx: mpsc::Receiver<Piece>,
    first: Option<Piece>,
    done: bool,
}

impl Decoded {
    /// Waits for the first plaintext (or the end), so a wrong identity or a copy that is not
    /// what its marks say is told before anything is sent anywhere.
    pub async fn ready(&mut self) -> Result<(), String> {
        if self.first.is_none() && !self.done {
            self.first = Some(self.rx.recv().await.unwrap_or(Piece::Failed("decoding stopped".into())));
        }
        match &self.first {
            Some(Piece::Failed(e)) => Err(e.clone()),
            _ => Ok(()),
        }
    }
}

impl Stream for Decoded {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let piece = match self.first.take() {
            Some(piece) => piece,
            None => match self.rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(piece) => piece.unwrap_or(Piece::Failed("decoding stopped before the end".into())),
            },
        };
        Poll::Ready(match piece {
            Piece::Data(data) => Some(Ok(data)),
            Piece::End => {
                self.done = true;
                None
            }
            Piece::Failed(e) => {
                self.done = true;
                Some(Err(io::Error::other(e)))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::keys;

    fn text(n: usize) -> Vec<u8> {
        (0..n).flat_map(|i| format!("INSERT INTO t VALUES ({i}, 'row {}');\n", i % 97).into_bytes()).collect()
    }

    async fn run_encode(codec: &Codec, plain: &[u8]) -> (Vec<u8>, String) {
        let (input, mut output) = encode(codec);
        let plain = plain.to_vec();
        let feed = tokio::spawn(async move {
            for chunk in plain.chunks(100_000) {
                input.push(Bytes::copy_from_slice(chunk)).await.unwrap();
            }
            input.finish().await.unwrap();
        });
        let mut stored = Vec::new();
        while let Some(piece) = output.next().await.unwrap() {
            stored.extend_from_slice(&piece);
        }
        feed.await.unwrap();
        assert_eq!(output.bytes(), stored.len() as u64);
        (stored, output.sha256())
    }

    async fn run_decode(stored: Vec<u8>, zstd: bool, ids: Option<Arc<Identities>>) -> Result<Vec<u8>, String> {
        let pieces: Vec<io::Result<Bytes>> = stored.chunks(70_000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let mut decoded = decode(futures::stream::iter(pieces), zstd, ids);
        decoded.ready().await?;
        let mut plain = Vec::new();
        while let Some(piece) = decoded.next().await {
            plain.extend_from_slice(&piece.map_err(|e| e.to_string())?);
        }
        Ok(plain)
    }

    #[tokio::test]
    async fn compressed_and_encrypted_copies_decode_to_the_plaintext() {
        let (secret, recipient) = keys::generate();
        let ids = Arc::new(Identities::parse(&secret).unwrap());
        let plain = text(50_000);
        let codec = Codec { zstd: true, recipients: vec![recipient] };
        let (stored, sha) = run_encode(&codec, &plain).await;
        assert!(stored.starts_with(b"age-encryption.org/v1\n"));
        assert!(stored.len() * 5 < plain.len(), "{} of {}", stored.len(), plain.len());
        assert_eq!(sha, hex::encode(Sha256::digest(&stored)));
        assert_eq!(run_decode(stored, true, Some(ids)).await.unwrap(), plain);

        let (zst, _) = run_encode(&Codec { zstd: true, recipients: vec![] }, &plain).await;
        assert_eq!(zstd::decode_all(&zst[..]).unwrap(), plain, "a standard zstd frame");
        assert_eq!(run_decode(zst, true, None).await.unwrap(), plain);
    }

    #[tokio::test]
    async fn a_wrong_identity_damage_and_truncation_are_errors() {
        let (_, recipient) = keys::generate();
        let (other, _) = keys::generate();
        let wrong = Arc::new(Identities::parse(&other).unwrap());
        let plain = text(20_000);
        let codec = Codec { zstd: false, recipients: vec![recipient] };
        let (stored, _) = run_encode(&codec, &plain).await;
        let err = run_decode(stored.clone(), false, Some(wrong)).await.unwrap_err();
        assert!(err.contains("none of the identities given opens this copy"), "{err}");

        let (secret, recipient) = keys::generate();
        let ids = Arc::new(Identities::parse(&secret).unwrap());
        let (mut stored, _) = run_encode(&Codec { zstd: true, recipients: vec![recipient.clone()] }, &plain).await;
        let (truncated, _) = run_encode(&Codec { zstd: true, recipients: vec![recipient] }, &plain).await;
        let mid = stored.len() / 2;
        stored[mid] ^= 0x55;
        let err = run_decode(stored, true, Some(ids.clone())).await.unwrap_err();
        assert!(err.contains("damaged"), "{err}");
        let short = truncated[..truncated.len() - 10].to_vec();
        let err = run_decode(short, true, Some(ids)).await.unwrap_err();
        assert!(err.contains("damaged or truncated"), "{err}");
    }

    #[tokio::test]
    async fn an_input_that_stops_without_its_end_never_makes_a_whole_file() {
        let (input, mut output) = encode(&Codec { zstd: true, recipients: vec![] });
        input.push(Bytes::from_static(b"half a dump")).await.unwrap();
        drop(input);
        let mut result = Ok(Some(Bytes::new()));
        while let Ok(Some(_)) = result {
            result = output.next().await;
        }
        assert!(result.unwrap_err().contains("stopped before its end"));
    }
}
