//! A copy that only exists somewhere else (an operator's laptop, another site) brought in for a
//! restore: the file is streamed into the app's folder (no temporary file here), verified as a
//! copy is, hashed, and marked as the app's, adopted (outside retention's rules) and `uploaded`.
//! Then it restores like any copy, through the same checks, safety backup and lease — and stays
//! in the destination, so it is no longer only on that laptop.
//!
//! How the file is stored is read from its name, as the product names copies: `.zst.age`,
//! `.age`, `.zst` after the type's own extension; the content must agree (the age header, the
//! zstd frame magic). An encrypted file needs an identity that opens it; its plaintext sha256 is
//! taken by reading it back and decoding it, before anything is sent to the app. A file that is
//! not what its name says, or that does not decode, is deleted again and refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};

use crate::backup::copies::{ADOPTED_MARK, NOTE_MARK};
use crate::backup::inventory::{self, DEPLOYMENT_MARK, UID_MARK};
use crate::backup::run::Runner;
use crate::catalogue::Msg;
use crate::codec::keys::Identities;
use crate::error::{Class, Error};
use crate::registry::App;
use crate::storage::destination::StoredFile;

/// The mark of a copy brought in from a file.
pub const UPLOADED_MARK: &str = "uploaded";

/// What is known of the file before its bytes come.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Its name where it came from (only its last path component is kept).
    pub name: String,
    /// The backup type it holds; `None` = the app's configured type, else its first offered.
    pub backup_type: Option<String>,
    /// Who brings it, for the marks and the audit log.
    pub actor: String,
}

const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Which codecs a file name says were applied, given the type's own extension.
fn codecs_of(name: &str, type_extension: &str) -> (bool, bool) {
    let (rest, age) = match name.strip_suffix(".age") {
        Some(rest) => (rest, true),
        None => (name, false),
    };
    let zstd = rest.ends_with(".zst") && !type_extension.ends_with(".zst");
    (zstd, age)
}

/// The last path component of `name`, with anything but letters, digits, `.`, `_` and `-`
/// replaced, so it can sit in any destination.
fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    last.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect()
}

/// Streams `body` into the app's folder as a copy of `app` and returns it, marked verified and
/// known to the inventory. Refuses, storing nothing, an app that takes no restores, a type it does
/// not offer, and an encrypted file without an identity; a file that turns out not to be what
/// its name says is deleted again.
pub async fn upload<S>(
    runner: &Runner,
    app: &App,
    incoming: &Incoming,
    identity: Option<Arc<Identities>>,
    mut body: S,
) -> Result<StoredFile, Error>
where
    S: Stream<Item = std::io::Result<Bytes>> + Unpin,
{
    let original = clean_name(&incoming.name);
    if original.trim_matches(['.', '_']).is_empty() {
        return Err(Error::Said(
            Class::Invalid,
            Msg::new("upload_refusal.not_a_name").with("name", format!("{:?}", incoming.name)),
        ));
    }
    let caps = crate::backup::restore::restore_capabilities(runner, app, "refusal.nothing_stored").await?;
    let wanted = incoming.backup_type.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let backup_type = caps.resolve_type(wanted.or(app.backup_type.as_deref())).cloned().ok_or_else(|| {
        let offered: Vec<&str> = caps.types.iter().map(|t| t.name.as_str()).collect();
        Error::refused(
            Msg::new("upload_refusal.type_not_offered")
                .with("app", &app.name)
                .with("type", format!("{:?}", wanted.unwrap_or_default()))
                .with("offered", offered.join(", ")),
        )
    })?;
    let (zstd, age) = codecs_of(&original, &backup_type.extension);
    let identity = identity.or_else(|| runner.encryption.identities.clone());
    if age && identity.is_none() {
        return Err(Error::refused(Msg::new("upload_refusal.no_identity").with("file", &original)));
    }

    // The first bytes before anything is created: an empty file leaves nothing behind.
    let first = loop {
        match body.next().await {
            Some(Ok(piece)) if piece.is_empty() => continue,
            Some(Ok(piece)) => break piece,
            Some(Err(e)) => {
                let msg = Msg::new("upload_refusal.read_failed").with("file", &original).quoting("detail", e);
                return Err(Error::Said(Class::Invalid, msg));
            }
            None => return Err(Error::Said(Class::Invalid, Msg::new("upload_refusal.empty").with("file", &original))),
        }
    };
    let mut body = futures::stream::iter([Ok(first)]).chain(body);
    let stamp = jiff::Timestamp::now().strftime("%Y%m%d_%H%M%SZ").to_string();
    let name = free_name(runner, app, &format!("{}_uploaded_{stamp}_{original}", app.name)).await?;
    let mut marks = BTreeMap::from([
        (DEPLOYMENT_MARK.to_owned(), runner.deployment_id.clone()),
        ("app".to_owned(), app.name.clone()),
        (UID_MARK.to_owned(), app.uid.clone()),
        ("type".to_owned(), backup_type.name.clone()),
        (ADOPTED_MARK.to_owned(), "1".to_owned()),
        (UPLOADED_MARK.to_owned(), "1".to_owned()),
    ]);
    let note: String = format!("uploaded from {original} by {}", incoming.actor).chars().take(100).collect();
    marks.insert(NOTE_MARK.to_owned(), note);
    let (mut writer, _) = runner
        .destination
        .metered_writer(&app.folder, &name, "application/octet-stream", &marks)
        .await
        .map_err(|e| Error::destination(format_args!("could not start the upload into {}", app.folder), &e))?;

    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut head = Vec::with_capacity(AGE_MAGIC.len());
    let written: Result<(), Msg> = async {
        while let Some(piece) = body.next().await {
            let piece =
                piece.map_err(|e| Msg::new("upload_refusal.read_cut").with("bytes", size).quoting("detail", e))?;
            if head.len() < AGE_MAGIC.len() {
                let take = (AGE_MAGIC.len() - head.len()).min(piece.len());
                head.extend_from_slice(&piece[..take]);
            }
            hasher.update(&piece);
            size += piece.len() as u64;
            writer
                .write(piece)
                .await
                .map_err(|e| Msg::new("upload_refusal.write_cut").with("bytes", size).quoting("detail", e.message()))?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = written {
        let _ = writer.abort().await;
        return Err(Error::Said(Class::Invalid, Msg::new("upload_refusal.nothing_stored").with_msg("reason", e)));
    }
    let meta = writer.close().await.map_err(|e| Error::destination("the upload could not be finished", &e))?;
    let stored = runner.destination.stored(&name, &meta);
    let stored_sha256 = hex::encode(hasher.finalize());
    let kept = async {
        runner
            .verify(&app.folder, &stored, size, &stored_sha256)
            .await
            .map_err(|m| Error::Destination { message: m.0.to_string(), retry: crate::error::Retry::Temporary })?;
        let looks_age = head.starts_with(AGE_MAGIC);
        if age != looks_age {
            let key = if age { "upload_refusal.not_age" } else { "upload_refusal.unnamed_age" };
            return Err(Error::Said(Class::Invalid, Msg::new(key).with("file", &original)));
        }
        if zstd && !age && !head.starts_with(ZSTD_MAGIC) {
            return Err(Error::Said(Class::Invalid, Msg::new("upload_refusal.not_zstd").with("file", &original)));
        }
        let (sha256, plain_size) = if zstd || age {
            plain_hash(runner, app, &stored, zstd, if age { identity } else { None }).await?
        } else {
            (stored_sha256.clone(), size)
        };
        let mut marks = marks.clone();
        marks.insert("sha256".to_owned(), sha256);
        marks.insert("verified".to_owned(), "1".to_owned());
        marks.insert(crate::codec::SIZE_MARK.to_owned(), plain_size.to_string());
        if zstd || age {
            let how = match (zstd, age) {
                (true, true) => "zstd+age",
                (true, false) => "zstd",
                _ => "age",
            };
            marks.insert(crate::codec::CODEC_MARK.to_owned(), how.to_owned());
            marks.insert(crate::codec::STORED_SHA256_MARK.to_owned(), stored_sha256.clone());
            marks.insert(crate::codec::STORED_SIZE_MARK.to_owned(), size.to_string());
        }
        runner
            .destination
            .set_properties(&app.folder, &stored, &marks)
            .await
            .map_err(|e| Error::destination(format_args!("could not mark {name} as a copy of {}", app.name), &e))
    }
    .await;
    let file = match kept {
        Ok(file) => file,
        Err(e) => {
            if let Err(gone) = runner.destination.remove(&app.folder, &stored).await {
                tracing::error!(file = %name, error = %gone, "could not delete an uploaded file that was refused");
            }
            return Err(e);
        }
    };
    inventory::record_copy(&runner.db, app.id, &file).await?;
    let detail = crate::catalogue::Msg::new("audit_detail.uploaded")
        .with("original", &original)
        .with("bytes", size)
        .with("name", &name)
        .with("backup_type", &backup_type.name);
    crate::audit::record_said(&runner.db, &incoming.actor, "copy.upload", Some(&app.name), &detail).await;
    Ok(file)
}

/// The plaintext's sha256 and size, read back from the destination and decoded.
async fn plain_hash(
    runner: &Runner,
    app: &App,
    stored: &StoredFile,
    zstd: bool,
    identity: Option<Arc<Identities>>,
) -> Result<(String, u64), Error> {
    let stream = runner
        .destination
        .reader(&app.folder, stored)
        .await
        .map_err(|e| Error::destination(format_args!("could not read {} back", stored.name), &e))?;
    let mut decoded = crate::codec::stream::decode(Box::pin(stream), zstd, identity);
    let refused = |e: String| {
        Error::refused(Msg::new("upload_refusal.does_not_open").with("file", &stored.name).quoting("detail", e))
    };
    decoded.ready().await.map_err(refused)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(piece) = decoded.next().await {
        let piece = piece.map_err(|e| refused(e.to_string()))?;
        hasher.update(&piece);
        size += piece.len() as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// `base`, or `base` with `-2`, `-3`... before its extensions when the folder holds that name.
async fn free_name(runner: &Runner, app: &App, base: &str) -> Result<String, Error> {
    let (stem, ext) = match base.split_once('.') {
        Some((stem, ext)) => (stem, format!(".{ext}")),
        None => (base, String::new()),
    };
    for n in 1..=20 {
        let name = if n == 1 { base.to_owned() } else { format!("{stem}-{n}{ext}") };
        let taken = runner
            .destination
            .find(&app.folder, &name)
            .await
            .map_err(|e| Error::destination(format_args!("could not look into {}", app.folder), &e))?;
        if taken.is_none() {
            return Ok(name);
        }
    }
    Err(Error::Said(Class::Busy, Msg::new("upload_refusal.names_taken").with("name", base).with("folder", &app.folder)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_says_how_the_file_is_stored() {
        assert_eq!(codecs_of("a.sql.zst.age", ".sql"), (true, true));
        assert_eq!(codecs_of("a.sql.age", ".sql"), (false, true));
        assert_eq!(codecs_of("a.sql.zst", ".sql"), (true, false));
        assert_eq!(codecs_of("a.sql.zst", ".sql.zst"), (false, false), "the app's own zstd is left to the app");
        assert_eq!(codecs_of("a.sql", ".sql"), (false, false));
    }

    #[test]
    fn only_the_file_name_is_kept() {
        assert_eq!(clean_name("/home/ana/backups/crm 2024.sql"), "crm_2024.sql");
        assert_eq!(clean_name("C:\\dumps\\crm.sql"), "crm.sql");
    }
}
