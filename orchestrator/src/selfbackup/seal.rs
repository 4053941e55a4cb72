//! The sealed format of a self-backup: AES-256-GCM over 64 KiB frames, under a key derived from
//! `SECRET_KEY` and a random salt of the file, streamed in and out with one frame in memory.
//!
//! ```text
//! "BKOSELF1" | key fingerprint (16 hex chars) | salt (16 bytes)
//! then frames: ciphertext length (u32, big-endian) | ciphertext (plaintext + 16-byte tag)
//! ```
//! Each frame's nonce is its number (u64, big-endian), three zero bytes and a last-frame flag,
//! so frames can be neither reordered nor dropped, and a file cut after any frame does not open
//! (the last frame is missing). The fingerprint is the public one of `SECRET_KEY` (the one the
//! database keeps): it only lets a wrong key be named as such before any decryption.
//!
//! This module never writes anything anywhere: callers hand it bytes and take bytes back.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{hmac, rand};

use crate::secrets::SecretBox;

const MAGIC: &[u8; 8] = b"BKOSELF1";
const FINGERPRINT_LEN: usize = 16;
const SALT_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + FINGERPRINT_LEN + SALT_LEN;
/// Plaintext bytes per frame.
const FRAME: usize = 64 * 1024;
const TAG_LEN: usize = 16;

/// Why a self-backup could not be opened; each says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The bytes do not start like a self-backup.
    #[error("this file is not a self-backup of the orchestrator (it does not start with its header)")]
    NotSealed,
    /// Sealed under another `SECRET_KEY`.
    #[error(
        "this self-backup was sealed with another SECRET_KEY (fingerprint {theirs}; this process has {ours}): run recover with the SECRET_KEY of the installation that made it"
    )]
    OtherKey {
        /// The fingerprint in the file.
        theirs: String,
        /// Ours.
        ours: String,
    },
    /// A frame does not decrypt: altered or damaged.
    #[error("this self-backup is damaged or was altered (frame {0} does not decrypt): use another one (--from)")]
    Damaged(u64),
    /// It ends before its last frame.
    #[error("this self-backup is cut short (its last frame is missing): use another one (--from)")]
    Truncated,
}

fn file_key(secrets: &SecretBox, salt: &[u8]) -> LessSafeKey {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secrets.self_backup_material()), salt);
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, tag.as_ref()).expect("a 32-byte key fits AES-256"))
}

fn nonce(counter: u64, last: bool) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[..8].copy_from_slice(&counter.to_be_bytes());
    n[NONCE_LEN - 1] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

/// Seals a stream: [`Sealer::push`] plaintext as it comes, [`Sealer::finish`] at the end; the
/// sealed bytes are appended to the caller's buffer.
pub struct Sealer {
    key: LessSafeKey,
    counter: u64,
    pending: Vec<u8>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer(frame {})", self.counter)
    }
}

impl Sealer {
    /// Starts a sealed stream: writes its header into `out`.
    pub fn new(secrets: &SecretBox, out: &mut Vec<u8>) -> Self {
        let mut salt = [0u8; SALT_LEN];
        rand::fill(&mut salt).expect("the system random generator works");
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(secrets.fingerprint().as_bytes());
        out.extend_from_slice(&salt);
        Sealer { key: file_key(secrets, &salt), counter: 0, pending: Vec::with_capacity(FRAME * 2) }
    }

    /// Takes more plaintext; full frames are sealed into `out`. The last frame is always held
    /// back for [`Sealer::finish`].
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.pending.extend_from_slice(data);
        let mut start = 0;
        while self.pending.len() - start > FRAME {
            let frame = self.pending[start..start + FRAME].to_vec();
            self.seal(frame, false, out);
            start += FRAME;
        }
        self.pending.drain(..start);
    }

    /// Seals what is left as the last frame.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        let rest = std::mem::take(&mut self.pending);
        self.seal(rest, true, out);
    }

    fn seal(&mut self, mut frame: Vec<u8>, last: bool, out: &mut Vec<u8>) {
        self.key
            .seal_in_place_append_tag(nonce(self.counter, last), Aad::empty(), &mut frame)
            .expect("AES-GCM sealing of a frame cannot fail");
        self.counter += 1;
        out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        out.extend_from_slice(&frame);
    }
}

/// Opens a sealed stream: [`Opener::push`] sealed bytes as they come (plaintext is appended to
/// the caller's buffer), then [`Opener::finish`], which fails when the last frame never came.
pub struct Opener<'a> {
    secrets: &'a SecretBox,
    key: Option<LessSafeKey>,
    buf: Vec<u8>,
    counter: u64,
    done: bool,
}

impl std::fmt::Debug for Opener<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Opener(frame {}, done {})", self.counter, self.done)
    }
}

impl<'a> Opener<'a> {
    /// An opener for streams sealed under this `SECRET_KEY`.
    pub fn new(secrets: &'a SecretBox) -> Self {
        Opener { secrets, key: None, buf: Vec::new(), counter: 0, done: false }
    }

    /// Takes more sealed bytes; the plaintext of every complete frame goes into `out`.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), OpenError> {
        self.buf.extend_from_slice(data);
        let mut at = 0;
        if self.key.is_none() {
            if self.buf.len() < HEADER_LEN {
                return if self.buf.len() >= MAGIC.len() && &self.buf[..MAGIC.len()] != MAGIC {
                    Err(OpenError::NotSealed)
                } else {
                    Ok(())
                };
            }
            if &self.buf[..MAGIC.len()] != MAGIC {
                return Err(OpenError::NotSealed);
            }
            let theirs = String::from_utf8_lossy(&self.buf[MAGIC.len()..MAGIC.len() + FINGERPRINT_LEN]).into_owned();
            if theirs != self.secrets.fingerprint() {
                return Err(OpenError::OtherKey { theirs, ours: self.secrets.fingerprint().to_owned() });
            }
            self.key = Some(file_key(self.secrets, &self.buf[MAGIC.len() + FINGERPRINT_LEN..HEADER_LEN]));
            at = HEADER_LEN;
        }
        let key = self.key.as_ref().expect("set above");
        while self.buf.len() - at >= 4 {
            let len = u32::from_be_bytes(self.buf[at..at + 4].try_into().expect("4 bytes")) as usize;
            if self.done || !(TAG_LEN..=FRAME + TAG_LEN).contains(&len) {
                return Err(OpenError::Damaged(self.counter));
            }
            if self.buf.len() - at - 4 < len {
                break;
            }
            let frame = &self.buf[at + 4..at + 4 + len];
            let mut plain = frame.to_vec();
            let opened = match key.open_in_place(nonce(self.counter, false), Aad::empty(), &mut plain) {
                Ok(p) => p.len(),
                Err(_) => {
                    plain = frame.to_vec();
                    let p = key
                        .open_in_place(nonce(self.counter, true), Aad::empty(), &mut plain)
                        .map_err(|_| OpenError::Damaged(self.counter))?;
                    self.done = true;
                    p.len()
                }
            };
            out.extend_from_slice(&plain[..opened]);
            self.counter += 1;
            at += 4 + len;
        }
        self.buf.drain(..at);
        Ok(())
    }

    /// Ends the stream: an error unless the last frame came and nothing followed it.
    pub fn finish(&self) -> Result<(), OpenError> {
        match (self.done, self.buf.is_empty(), self.key.is_some()) {
            (true, true, _) => Ok(()),
            (true, false, _) => Err(OpenError::Damaged(self.counter)),
            (false, _, false) if !self.buf.is_empty() && !MAGIC.starts_with(&self.buf[..self.buf.len().min(8)]) => {
                Err(OpenError::NotSealed)
            }
            (false, _, _) => Err(OpenError::Truncated),
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn secrets(c: char) -> SecretBox {
        SecretBox::new(&SecretString::from(c.to_string().repeat(40))).unwrap()
    }

    fn seal(secrets: &SecretBox, plain: &[u8], step: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut sealer = Sealer::new(secrets, &mut out);
        for piece in plain.chunks(step.max(1)) {
            sealer.push(piece, &mut out);
        }
        sealer.finish(&mut out);
        out
    }

    fn open(secrets: &SecretBox, sealed: &[u8], step: usize) -> Result<Vec<u8>, OpenError> {
        let mut out = Vec::new();
        let mut opener = Opener::new(secrets);
        for piece in sealed.chunks(step.max(1)) {
            opener.push(piece, &mut out)?;
        }
        opener.finish()?;
        Ok(out)
    }

    #[test]
    fn what_is_sealed_opens_whole_whatever_the_pieces() {
        let key = secrets('a');
        for size in [0, 1, FRAME - 1, FRAME, FRAME + 1, 3 * FRAME + 17] {
            let plain: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            for (seal_step, open_step) in [(size.max(1), 7), (1000, 65_536), (FRAME, 1 << 20)] {
                let sealed = seal(&key, &plain, seal_step);
                assert_eq!(open(&key, &sealed, open_step).unwrap(), plain, "size {size}");
            }
        }
    }

    #[test]
    fn the_same_plaintext_seals_differently_and_hides_its_bytes() {
        let key = secrets('a');
        let plain = b"token=app-token-123 ".repeat(100);
        let (one, two) = (seal(&key, &plain, 64), seal(&key, &plain, 64));
        assert_ne!(one, two, "a fresh salt per file");
        assert!(!one.windows(b"app-token-123".len()).any(|w| w == b"app-token-123"));
    }

    #[test]
    fn another_key_is_named_as_such() {
        let sealed = seal(&secrets('a'), b"registry", 8);
        match open(&secrets('b'), &sealed, 1024) {
            Err(e @ OpenError::OtherKey { .. }) => assert!(e.to_string().contains("another SECRET_KEY"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cut_an_altered_or_a_foreign_file_does_not_open() {
        let key = secrets('a');
        let plain: Vec<u8> = (0..3 * FRAME).map(|i| i as u8).collect();
        let sealed = seal(&key, &plain, 4096);
        // Cut after a whole frame: everything that came decrypts, but the last frame is missing.
        let first_frame_end = HEADER_LEN + 4 + FRAME + TAG_LEN;
        assert_eq!(open(&key, &sealed[..first_frame_end], 100), Err(OpenError::Truncated));
        assert_eq!(open(&key, &sealed[..sealed.len() - 1], 100), Err(OpenError::Truncated));
        let mut altered = sealed.clone();
        altered[HEADER_LEN + 10] ^= 1;
        assert_eq!(open(&key, &altered, 100), Err(OpenError::Damaged(0)));
        let mut longer = sealed.clone();
        longer.extend_from_slice(&sealed[HEADER_LEN..]);
        assert!(matches!(open(&key, &longer, 100), Err(OpenError::Damaged(_))));
        assert_eq!(open(&key, b"PK\x03\x04 a zip file, not ours at all, long enough", 5), Err(OpenError::NotSealed));
        assert_eq!(open(&key, b"", 5), Err(OpenError::Truncated));
    }
}
