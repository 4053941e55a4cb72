//! Lists a folder page by page (`pageToken`), as opendal entries named `FOLDER_ID/NAME`.

use std::sync::Arc;

use opendal::raw::oio;

use super::core::DriveCore;

pub(crate) struct DriveLister {
    pub(crate) core: Arc<DriveCore>,
    pub(crate) folder_id: String,
}

impl oio::PageList for DriveLister {
    async fn next_page(&self, ctx: &mut oio::PageContext) -> opendal::Result<()> {
        let token = (!ctx.token.is_empty()).then_some(ctx.token.as_str());
        let folder = self.core.folder(&self.folder_id).await?;
        let (files, next) = self.core.list_page(&folder, None, token).await?;
        for file in files {
            let suffix = if file.is_folder() { "/" } else { "" };
            let path = format!("{}/{}{suffix}", self.folder_id, file.name);
            ctx.entries.push_back(oio::Entry::new(&path, file.metadata()));
        }
        match next {
            Some(token) => ctx.token = token,
            None => ctx.done = true,
        }
        Ok(())
    }
}
