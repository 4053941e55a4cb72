//! `/settings/drive`: where backups go, and the Check destination button.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use serde::Deserialize;

use crate::http::error::PageError;
use crate::http::extract::CheckedForm;
use crate::http::state::Web;
use crate::http::ui::{Page, render};
use crate::storage::check::{self, Report};

/// An app and the folder it writes to.
pub struct FolderRow {
    /// The folder.
    pub folder: String,
    /// The apps writing there.
    pub apps: String,
}

#[derive(Template)]
#[template(path = "settings_drive.html")]
struct DrivePage {
    page: Page,
    kind: &'static str,
    location: String,
    folders: Vec<FolderRow>,
    checked_folder: String,
    report: Option<Report>,
}

impl DrivePage {
    fn kind_key(&self) -> String {
        format!("destination.kind.{}", self.kind)
    }

    fn size(bytes: &u64) -> String {
        crate::http::format::bytes(i64::try_from(*bytes).unwrap_or(i64::MAX))
    }
}

async fn drive_page(
    web: &Web,
    page: Page,
    checked_folder: String,
    report: Option<Report>,
) -> Result<Html<String>, PageError> {
    let mut apps = web.ctx.registry.list().await?;
    apps.sort_by(|a, b| a.folder.cmp(&b.folder).then_with(|| a.name.cmp(&b.name)));
    let mut folders: Vec<FolderRow> = Vec::new();
    for app in apps {
        match folders.last_mut() {
            Some(row) if row.folder == app.folder => {
                row.apps.push_str(", ");
                row.apps.push_str(&app.name);
            }
            _ => folders.push(FolderRow { folder: app.folder, apps: app.name }),
        }
    }
    let destination = &web.ctx.runner.destination;
    render(&DrivePage {
        page,
        kind: destination.kind(),
        location: destination.location().to_owned(),
        folders,
        checked_folder,
        report,
    })
}

/// GET /settings/drive.
pub async fn drive(State(web): State<Web>, page: Page) -> Result<Html<String>, PageError> {
    drive_page(&web, page, String::new(), None).await
}

/// The Check destination form.
#[derive(Deserialize)]
pub struct CheckForm {
    #[serde(default)]
    folder: String,
}

/// POST /settings/drive/check: writes and removes a probe file in each folder checked.
pub async fn check(
    State(web): State<Web>,
    page: Page,
    CheckedForm(form): CheckedForm<CheckForm>,
) -> Result<Html<String>, PageError> {
    let folder = form.folder.trim().to_owned();
    let apps = web.ctx.registry.list().await?;
    let only = (!folder.is_empty()).then_some(folder.as_str());
    let report = check::check_apps(&web.ctx.db, &apps, &web.ctx.runner.destination, only).await?;
    let problems = report.findings.iter().filter(|f| f.level == check::Level::Problem).count();
    crate::audit::record(&web.ctx.db, &page.user, "destination.check", None, Some(&format!("{problems} problem(s)")))
        .await;
    drive_page(&web, page, folder, Some(report)).await
}
