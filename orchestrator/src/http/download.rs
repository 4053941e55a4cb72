//! Downloading a stored copy, for the pages and the API alike: its bytes as they come from the
//! destination, never whole in memory; either as stored, or decrypted and decompressed in the
//! stream (with the orchestrator's own identity: a browser download cannot hand one in).

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;

use crate::codec::Stored;
use crate::error::Error;
use crate::http::state::Web;
use crate::registry::App;
use crate::storage::destination::StoredFile;

/// `?as=plain` asks for the copy decrypted and decompressed.
#[derive(Debug, Default, serde::Deserialize)]
pub struct DownloadQuery {
    /// `stored` (the default) or `plain`.
    #[serde(default, rename = "as")]
    pub form: Option<String>,
}

impl DownloadQuery {
    /// Decoded (`plain`) rather than as stored; anything else is refused.
    pub fn plain(&self) -> Result<bool, Error> {
        match self.form.as_deref() {
            None | Some("stored") => Ok(false),
            Some("plain") => Ok(true),
            Some(other) => Err(Error::Said(
                crate::error::Class::Invalid,
                crate::catalogue::Msg::new("refusal.download_as").with("value", format!("{other:?}")),
            )),
        }
    }
}

/// The download response of a copy: its bytes as they come from the destination, or (`plain`)
/// as the app exported them.
pub async fn response(web: &Web, app: &App, file: &StoredFile, plain: bool) -> Result<Response, Error> {
    let stored = Stored::of(&file.properties).map_err(|e| {
        Error::refused(crate::catalogue::Msg::new("refusal.marks").with("copy", &file.name).quoting("detail", e))
    })?;
    let identities = web.ctx.runner.encryption.identities.clone();
    if plain && stored.age && identities.is_none() {
        return Err(Error::refused(
            crate::catalogue::Msg::new("refusal.download_no_identity").with("copy", &file.name),
        ));
    }
    let stream = web
        .ctx
        .runner
        .destination
        .reader(&app.folder, file)
        .await
        .map_err(|e| Error::destination(format_args!("cannot read {}", file.name), &e))?;
    let safe = |name: &str| name.replace(['"', '\\', '\r', '\n'], "_");
    if plain && !stored.is_plain() {
        let mut decoded = crate::codec::stream::decode(stream, stored.zstd, identities.filter(|_| stored.age));
        decoded.ready().await.map_err(|e| {
            Error::refused(
                crate::catalogue::Msg::new("refusal.does_not_open").with("copy", &file.name).quoting("detail", e),
            )
        })?;
        let disposition = format!("attachment; filename=\"{}\"", safe(stored.plain_name(&file.name)));
        return Ok((
            [(header::CONTENT_TYPE, "application/octet-stream".to_owned()), (header::CONTENT_DISPOSITION, disposition)],
            Body::from_stream(decoded),
        )
            .into_response());
    }
    let body = Body::from_stream(stream.map_err(std::io::Error::other));
    let disposition = format!("attachment; filename=\"{}\"", safe(&file.name));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, file.size.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}
