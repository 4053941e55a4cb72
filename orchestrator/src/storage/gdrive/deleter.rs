//! Deletes one file, by id (`version`) or by name, to the trash or for good as configured.

use std::sync::Arc;

use opendal::raw::{OpDelete, oio};

use super::core::DriveCore;
use super::split_path;

pub(crate) struct DriveDeleter {
    pub(crate) core: Arc<DriveCore>,
}

impl oio::OneShotDelete for DriveDeleter {
    async fn delete_once(&self, path: String, args: OpDelete) -> opendal::Result<()> {
        let id = match args.version() {
            Some(id) => id.to_owned(),
            None => {
                let (folder, name) = split_path(&path)?;
                let folder = self.core.folder(folder).await?;
                match self.core.find(&folder, name).await? {
                    Some(file) => file.id,
                    None => return Ok(()),
                }
            }
        };
        Ok(self.core.delete(&id).await?)
    }
}
