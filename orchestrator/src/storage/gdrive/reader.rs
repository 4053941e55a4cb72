//! Streaming download (`alt=media`): the body is passed on piece by piece, never collected.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use futures::stream::BoxStream;
use opendal::BytesRange;
use opendal::raw::{RpRead, oio};
use opendal::{Buffer, Error, ErrorKind};

use super::core::DriveCore;

/// Reads a file given by id, or by `FOLDER_ID/NAME` (looked up when the read starts).
pub(crate) struct DriveReader {
    pub(crate) core: Arc<DriveCore>,
    pub(crate) path: String,
    pub(crate) file_id: Option<String>,
}

/// The response body; behind a mutex only to be `Sync`, which opendal's stream trait requires.
pub(crate) struct BodyStream(Mutex<BoxStream<'static, reqwest::Result<bytes::Bytes>>>);

impl oio::ReadStream for BodyStream {
    async fn read(&mut self) -> opendal::Result<Buffer> {
        let stream = self.0.get_mut().expect("body stream lock");
        match stream.next().await {
            None => Ok(Buffer::new()),
            Some(Ok(bytes)) => Ok(Buffer::from(bytes)),
            Some(Err(e)) => {
                Err(Error::new(ErrorKind::Unexpected, "the Drive download was cut off").set_source(e).set_temporary())
            }
        }
    }
}

impl oio::StreamRead for DriveReader {
    async fn open(&self, range: BytesRange) -> opendal::Result<(RpRead, Box<dyn oio::ReadStreamDyn>)> {
        let header = (!range.is_full()).then(|| range.to_header());
        let id = match &self.file_id {
            Some(id) => id.clone(),
            None => super::resolve(&self.core, &self.path).await?.id,
        };
        let resp = self.core.download(&id, header).await?;
        let stream = resp.bytes_stream().boxed();
        Ok((RpRead::new(opendal::MetadataBuilder::unknown().build()), Box::new(BodyStream(Mutex::new(stream)))))
    }
}
