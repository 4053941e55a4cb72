//! Copies compressed and encrypted in the stream, in standard formats only: zstd frames, then
//! the age format (X25519 recipients). A stored copy opens with the upstream tools, no product
//! needed: `age -d -i KEY.txt COPY.zst.age | zstd -d > COPY`.
//!
//! export -> plaintext sha256 and size -> zstd -> age -> stored sha256 and size -> upload. The
//! copy's marks say how it was stored (`codec`), its plaintext sha256 (`sha256`, what the app
//! checks on restore) and size (`size`), its stored sha256 and size (`stored_sha256`,
//! `stored_size`: what the destination's checksum and size are checked against, on upload and by
//! every audit) and the fingerprints of its recipients (`rcpt`).

pub mod keys;
pub mod stream;

use std::collections::BTreeMap;

use keys::Recipient;

/// The mark saying how a copy was stored: `zstd`, `age` or `zstd+age`; absent for a copy stored
/// as the app sent it.
pub const CODEC_MARK: &str = "codec";
/// The mark holding the sha256 of the stored bytes, when they differ from the plaintext.
pub const STORED_SHA256_MARK: &str = "stored_sha256";
/// The mark holding the plaintext's size in bytes.
pub const SIZE_MARK: &str = "size";
/// The mark holding the stored bytes' size, when they differ from the plaintext.
pub const STORED_SIZE_MARK: &str = "stored_size";
/// The mark(s) holding the recipients' fingerprints, comma-separated: `rcpt`, then `rcpt2`,
/// `rcpt3`... when they do not fit in one (Drive allows 124 bytes per key and value together).
pub const RECIPIENTS_MARK: &str = "rcpt";

/// How a copy is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Codec {
    /// Compressed with zstd.
    pub zstd: bool,
    /// Encrypted to these recipients (none: not encrypted).
    pub recipients: Vec<Recipient>,
}

/// What per-app settings and the deployment's say, before the app's type is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compress {
    /// Compress unless the export is already compressed (the default).
    #[default]
    Auto,
    /// Always zstd.
    Zstd,
    /// Never.
    None,
}

impl Compress {
    /// As stored and typed: `zstd`, `none`; `auto` (or nothing) for the default.
    pub fn parse(text: &str) -> Result<Self, crate::catalogue::Msg> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Compress::Auto),
            "zstd" => Ok(Compress::Zstd),
            "none" | "off" => Ok(Compress::None),
            other => Err(crate::catalogue::Msg::new("field.compress.unknown").with("given", other)),
        }
    }

    /// As stored; `None` for the default.
    pub fn stored(self) -> Option<&'static str> {
        match self {
            Compress::Auto => None,
            Compress::Zstd => Some("zstd"),
            Compress::None => Some("none"),
        }
    }

    /// As shown.
    pub fn as_str(self) -> &'static str {
        self.stored().unwrap_or("auto")
    }
}

impl Codec {
    /// How a copy of `backup_type` is stored for an app: `compress` and `encrypt` as the app
    /// says (`encrypt` `None`: whenever there are recipients), to the deployment's recipients
    /// and the app's own. Refused when encryption is asked for and nobody could open the copy.
    pub fn choose(
        compress: Compress,
        encrypt: Option<bool>,
        global: &[Recipient],
        own: &[Recipient],
        backup_type: &contract_spec::BackupType,
    ) -> Result<Codec, String> {
        let zstd = match compress {
            Compress::Auto => !backup_type.is_compressed(),
            Compress::Zstd => true,
            Compress::None => false,
        };
        let mut recipients: Vec<Recipient> = global.to_vec();
        for r in own {
            if !recipients.contains(r) {
                recipients.push(r.clone());
            }
        }
        let recipients = match encrypt {
            Some(false) => Vec::new(),
            Some(true) if recipients.is_empty() => {
                return Err("the app is set to encrypt its copies but no recipient is configured: set ENCRYPTION_RECIPIENTS (age public keys, see `orchestrator keys new`) or give the app a recipient".to_owned());
            }
            _ => recipients,
        };
        Ok(Codec { zstd, recipients })
    }

    /// Stored as the app sent it.
    pub fn is_plain(&self) -> bool {
        !self.zstd && self.recipients.is_empty()
    }

    /// Encrypted.
    pub fn encrypts(&self) -> bool {
        !self.recipients.is_empty()
    }

    /// What the copy's name gets after the type's extension: `.zst`, `.age`, `.zst.age`.
    pub fn suffix(&self) -> &'static str {
        match (self.zstd, self.encrypts()) {
            (false, false) => "",
            (true, false) => ".zst",
            (false, true) => ".age",
            (true, true) => ".zst.age",
        }
    }

    /// The `codec` mark; `None` for a plain copy.
    pub fn mark(&self) -> Option<&'static str> {
        match (self.zstd, self.encrypts()) {
            (false, false) => None,
            (true, false) => Some("zstd"),
            (false, true) => Some("age"),
            (true, true) => Some("zstd+age"),
        }
    }

    /// The content type the stored bytes are sent with.
    pub fn content_type<'a>(&self, plain: &'a str) -> &'a str {
        match (self.zstd, self.encrypts()) {
            (false, false) => plain,
            (true, false) => "application/zstd",
            (_, true) => "application/octet-stream",
        }
    }

    /// The recipients' fingerprints as marks (see [`RECIPIENTS_MARK`]).
    pub fn recipient_marks(&self) -> BTreeMap<String, String> {
        let mut marks = BTreeMap::new();
        let mut current = String::new();
        for fp in self.recipients.iter().map(Recipient::fingerprint) {
            if !current.is_empty() && current.len() + 1 + fp.len() > 100 {
                marks.insert(mark_key(marks.len()), std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push(',');
            }
            current.push_str(&fp);
        }
        if !current.is_empty() {
            marks.insert(mark_key(marks.len()), current);
        }
        marks
    }
}

fn mark_key(n: usize) -> String {
    if n == 0 { RECIPIENTS_MARK.to_owned() } else { format!("{RECIPIENTS_MARK}{}", n + 1) }
}

/// How a stored copy was stored, as its marks say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    /// Compressed with zstd.
    pub zstd: bool,
    /// Encrypted with age.
    pub age: bool,
    /// The fingerprints of the recipients it was encrypted to.
    pub recipients: Vec<String>,
}

impl Stored {
    /// Reads a copy's marks; an unknown codec is an error (a newer release wrote it).
    pub fn of(marks: &BTreeMap<String, String>) -> Result<Stored, String> {
        let (zstd, age) = match marks.get(CODEC_MARK).map(String::as_str) {
            None | Some("") => (false, false),
            Some("zstd") => (true, false),
            Some("age") => (false, true),
            Some("zstd+age") => (true, true),
            Some(other) => return Err(format!("the copy is stored as {other:?}, which this release cannot read")),
        };
        let mut recipients = Vec::new();
        for n in 0.. {
            let Some(list) = marks.get(&mark_key(n)) else { break };
            recipients.extend(list.split(',').filter(|f| !f.is_empty()).map(str::to_owned));
        }
        Ok(Stored { zstd, age, recipients })
    }

    /// Stored as the app sent it.
    pub fn is_plain(&self) -> bool {
        !self.zstd && !self.age
    }

    /// The copy's name without what the codecs added (`.zst`, `.age`).
    pub fn plain_name<'a>(&self, name: &'a str) -> &'a str {
        let name = if self.age { name.strip_suffix(".age").unwrap_or(name) } else { name };
        if self.zstd { name.strip_suffix(".zst").unwrap_or(name) } else { name }
    }
}

#[cfg(test)]
mod tests {
    use contract_spec::BackupType;

    use super::*;

    #[test]
    fn compression_is_skipped_for_exports_already_compressed_and_encryption_follows_the_recipients() {
        let sql = BackupType::new("full", "application/sql", "sql");
        let gz = BackupType::new("full", "application/gzip", "sql.gz");
        let (_, a) = keys::generate();
        let (_, b) = keys::generate();
        let auto = Codec::choose(Compress::Auto, None, &[], &[], &sql).unwrap();
        assert_eq!((auto.zstd, auto.encrypts(), auto.suffix()), (true, false, ".zst"));
        assert!(Codec::choose(Compress::Auto, None, &[], &[], &gz).unwrap().is_plain());
        let both =
            Codec::choose(Compress::Auto, None, std::slice::from_ref(&a), &[b.clone(), a.clone()], &sql).unwrap();
        assert_eq!(both.recipients, vec![a.clone(), b.clone()]);
        assert_eq!((both.suffix(), both.mark()), (".zst.age", Some("zstd+age")));
        let off = Codec::choose(Compress::None, Some(false), std::slice::from_ref(&a), &[], &sql).unwrap();
        assert!(off.is_plain());
        let err = Codec::choose(Compress::Zstd, Some(true), &[], &[], &gz).unwrap_err();
        assert!(err.contains("ENCRYPTION_RECIPIENTS"), "{err}");
        assert_eq!(Compress::parse(" ZSTD ").unwrap(), Compress::Zstd);
        assert!(Compress::parse("gzip").unwrap_err().to_string().contains("use zstd, none or auto"));
    }

    #[test]
    fn marks_round_trip_and_many_recipients_spread_over_several_keys() {
        let recipients: Vec<Recipient> = (0..12).map(|_| keys::generate().1).collect();
        let codec = Codec { zstd: true, recipients: recipients.clone() };
        let mut marks = codec.recipient_marks();
        assert!(marks.len() > 1 && marks.iter().all(|(k, v)| k.len() + v.len() <= 124), "{marks:?}");
        marks.insert(CODEC_MARK.into(), codec.mark().unwrap().into());
        let stored = Stored::of(&marks).unwrap();
        assert_eq!(stored.recipients, recipients.iter().map(Recipient::fingerprint).collect::<Vec<_>>());
        assert!(stored.zstd && stored.age);
        assert_eq!(stored.plain_name("a_full_20261122_030405Z_1.sql.zst.age"), "a_full_20261122_030405Z_1.sql");
        assert!(Stored::of(&BTreeMap::from([(CODEC_MARK.into(), "brotli".into())])).is_err());
        assert!(Stored::of(&BTreeMap::new()).unwrap().is_plain());
    }
}
