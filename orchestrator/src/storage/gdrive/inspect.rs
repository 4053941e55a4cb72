//! What a destination check asks Drive: who the credentials act as, their storage quota
//! (`about.get`), and where a folder lives (My Drive or a shared drive).

use serde::Deserialize;

use super::GdriveHandle;
use super::core::{DriveCore, DriveFile};
use super::error::{DriveError, Kind};

/// The account the credentials act as, and its storage (`about.get`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    /// The account's email address.
    pub email: String,
    /// Its display name.
    pub name: String,
    /// Storage limit in bytes; `None` when unlimited.
    pub limit: Option<u64>,
    /// Bytes used across Google services.
    pub usage: u64,
    /// Bytes used by files in Drive's trash (they count until the trash is emptied).
    pub usage_in_trash: u64,
}

/// How the credentials act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acting {
    /// A service account acting as itself: it has no storage of its own.
    ServiceAccount,
    /// A service account impersonating a user (domain-wide delegation).
    Delegated,
    /// An OAuth user.
    User,
}

/// Where a folder lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderInfo {
    /// Folder id.
    pub id: String,
    /// Folder name.
    pub name: String,
    /// The shared drive holding it (id, name), or `None` for a My Drive.
    pub shared_drive: Option<(String, String)>,
    /// Whether the account may add files to it, as Drive says (`None`: Drive did not say).
    pub can_add_children: Option<bool>,
    /// Whether the account may trash files in it.
    pub can_trash_children: Option<bool>,
    /// Whether the account may delete files in it for good.
    pub can_delete_children: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AboutAnswer {
    #[serde(default)]
    user: User,
    #[serde(default)]
    storage_quota: Quota,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email_address: String,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Quota {
    limit: Option<String>,
    usage: Option<String>,
    usage_in_drive_trash: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FolderAnswer {
    #[serde(flatten)]
    file: DriveFile,
    #[serde(default)]
    capabilities: Capabilities,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Capabilities {
    can_add_children: Option<bool>,
    can_trash: Option<bool>,
    can_delete_children: Option<bool>,
    can_trash_children: Option<bool>,
}

#[derive(Deserialize)]
struct DriveAnswer {
    #[serde(default)]
    name: String,
}

fn int(value: Option<&str>) -> u64 {
    value.and_then(|v| v.parse().ok()).unwrap_or(0)
}

async fn json<T: serde::de::DeserializeOwned>(resp: reqwest::Response, what: &str) -> Result<T, DriveError> {
    let body = resp.bytes().await.map_err(|e| DriveError::transport(what.to_owned(), &e))?;
    serde_json::from_slice(&body)
        .map_err(|e| DriveError::temporary(format!("{what}: Drive answered something unexpected: {e}")))
}

async fn about(core: &DriveCore) -> Result<About, DriveError> {
    let what = "asking Drive who the credentials are (about.get)";
    let url = core.url("/drive/v3/about");
    let resp = core
        .call(what, true, |http| {
            http.get(url.clone())
                .query(&[("fields", "user(displayName,emailAddress),storageQuota(limit,usage,usageInDriveTrash)")])
        })
        .await?;
    let answer: AboutAnswer = json(resp, what).await?;
    let quota = &answer.storage_quota;
    Ok(About {
        email: answer.user.email_address,
        name: answer.user.display_name,
        limit: quota.limit.as_deref().map(|l| int(Some(l))),
        usage: int(quota.usage.as_deref()),
        usage_in_trash: int(quota.usage_in_drive_trash.as_deref()),
    })
}

async fn folder(core: &DriveCore, id: &str) -> Result<FolderInfo, DriveError> {
    let what = format!("opening Drive folder {id}");
    let url = core.url(&format!("/drive/v3/files/{id}"));
    let fields =
        "id,name,mimeType,driveId,trashed,capabilities(canAddChildren,canTrash,canDeleteChildren,canTrashChildren)";
    let resp = core
        .call(&what, true, |http| http.get(url.clone()).query(&[("fields", fields), ("supportsAllDrives", "true")]))
        .await?;
    let answer: FolderAnswer = json(resp, &what).await?;
    let file = answer.file;
    if !file.is_folder() {
        return Err(DriveError::new(
            Kind::Refused,
            format!("{id} is a file ({}), not a folder: give a folder ID", file.name),
        ));
    }
    if file.trashed {
        return Err(DriveError::new(
            Kind::NotFound,
            format!("Drive folder {id} ({}) is in the trash: restore it or use another folder", file.name),
        ));
    }
    let shared_drive = match &file.drive_id {
        None => None,
        Some(drive) => {
            let what = format!("reading shared drive {drive}");
            let url = core.url(&format!("/drive/v3/drives/{drive}"));
            let resp = core.call(&what, true, |http| http.get(url.clone()).query(&[("fields", "id,name")])).await?;
            let answer: DriveAnswer = json(resp, &what).await?;
            Some((drive.clone(), answer.name))
        }
    };
    let caps = answer.capabilities;
    Ok(FolderInfo {
        id: file.id,
        name: file.name,
        shared_drive,
        can_add_children: caps.can_add_children,
        // In a My Drive, who may trash the folder may trash what is in it.
        can_trash_children: caps.can_trash_children.or(caps.can_trash.filter(|_| file.drive_id.is_none())),
        can_delete_children: caps.can_delete_children,
    })
}

async fn create_folder(core: &DriveCore, name: &str) -> Result<String, DriveError> {
    let what = format!("creating the Drive folder {name:?}");
    let url = core.url("/drive/v3/files");
    let body = serde_json::json!({ "name": name, "mimeType": super::core::FOLDER_MIME });
    let resp = core
        .call(&what, false, |http| http.post(url.clone()).query(&[("fields", "id,name,mimeType")]).json(&body))
        .await?;
    let file: DriveFile = json(resp, &what).await?;
    Ok(file.id)
}

impl GdriveHandle {
    /// Creates a folder at the top of the account's My Drive and returns its id: with the
    /// `drive.file` scope, the only folders the orchestrator may write to are those it made.
    pub async fn create_folder(&self, name: &str) -> opendal::Result<String> {
        Ok(create_folder(&self.core, name).await?)
    }

    /// Who the credentials act as and their storage quota.
    pub async fn about(&self) -> opendal::Result<About> {
        Ok(about(&self.core).await?)
    }

    /// The folder: its name, and whether it is in a My Drive or a shared drive.
    pub async fn folder_info(&self, id: &str) -> opendal::Result<FolderInfo> {
        folder(&self.core, id).await.map_err(|e| match e.kind {
            Kind::NotFound if !e.message.contains("trash") => {
                opendal::Error::new(opendal::ErrorKind::NotFound, self.core.folder_not_found(id))
            }
            _ => e.into(),
        })
    }

    /// How the credentials act.
    pub fn acting(&self) -> Acting {
        match (self.core.tokens.credentials().is_some_and(|c| c.is_service_account()), self.core.tokens.subject()) {
            (true, None) => Acting::ServiceAccount,
            (true, Some(_)) => Acting::Delegated,
            (false, _) => Acting::User,
        }
    }

    /// The account was granted only `drive.file`: Drive shows it only what this app made.
    pub fn files_only(&self) -> bool {
        self.core.tokens.credentials().is_some_and(|c| c.files_only())
    }

    /// How the credentials act; `None` while no account is connected.
    pub fn acting_as(&self) -> Option<Acting> {
        self.core.tokens.credentials().map(|_| self.acting())
    }

    /// Who the calls act as, for messages.
    pub fn principal(&self) -> String {
        self.core.principal()
    }

    /// Whether retention trashes (true) or deletes for good.
    pub fn trashes(&self) -> bool {
        self.core.delete_mode == super::DeleteMode::Trash
    }
}
