//! The Self-backup page: this deployment's id (to note down with `SECRET_KEY`), when and where
//! the orchestrator backs itself up, how the newest attempt went (a failure stays red until one
//! succeeds), the self-backups kept in the folder, and a button that makes one now. Recovery
//! itself runs from the command line on a fresh install (`orchestrator recover`): the page says
//! how, since on that day there is no registry to sign in to.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::http::error::PageError;
use crate::http::extract::{CheckedForm, NoFields};
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::{Page, render};
use crate::selfbackup::last::Last;

/// A self-backup in the folder, ready to show.
pub struct FileRow {
    /// File name.
    pub name: String,
    /// When the destination says it was made.
    pub created: String,
    /// Its size.
    pub size: String,
    /// Verified after its upload.
    pub verified: bool,
    /// Another deployment's (`None` = this one's).
    pub other: Option<String>,
}

#[derive(Template)]
#[template(path = "self_backup.html")]
struct SelfBackupPage {
    page: Page,
    deployment: String,
    /// The schedule (UTC), `None` when off.
    schedule: Option<String>,
    /// The folder, `None` when self-backups are off.
    folder: Option<String>,
    off_reason: String,
    keep: usize,
    last: Option<Last>,
    /// The folder's self-backups, newest first; `Err` when it could not be listed.
    files: Result<Vec<FileRow>, String>,
}

impl SelfBackupPage {
    fn last_time(&self) -> String {
        self.last.as_ref().map(|l| format::time(l.at_ms)).unwrap_or_default()
    }

    fn last_size(&self) -> String {
        self.last.as_ref().and_then(|l| l.bytes).map(|b| format::bytes(b as i64)).unwrap_or_default()
    }
}

/// GET /settings/self-backup.
pub async fn page(State(web): State<Web>, page: Page) -> Result<Html<String>, PageError> {
    let settings = &web.self_backup;
    let last = crate::selfbackup::last::read(&web.ctx.db).await?;
    let files = match &settings.folder {
        None => Ok(Vec::new()),
        Some(folder) => match crate::selfbackup::list(&web.ctx.runner.destination, folder).await {
            Ok(mut files) => {
                crate::selfbackup::newest_first(&mut files);
                Ok(files
                    .iter()
                    .map(|f| FileRow {
                        name: f.name.clone(),
                        created: f.created.clone().unwrap_or_default(),
                        size: format::bytes(f.size as i64),
                        verified: crate::selfbackup::is_verified(f),
                        other: crate::selfbackup::deployment_of(f)
                            .filter(|d| *d != web.ctx.deployment_id)
                            .map(str::to_owned),
                    })
                    .collect())
            }
            Err(e) => Err(e.to_string()),
        },
    };
    render(&SelfBackupPage {
        off_reason: page.t.msg(&settings.off_msg()),
        page,
        deployment: web.ctx.deployment_id.clone(),
        schedule: settings.schedule.as_ref().map(|s| s.expression().to_owned()),
        folder: settings.folder.clone(),
        keep: settings.keep,
        last,
        files,
    })
}

/// POST /settings/self-backup/run: one self-backup now; the page then shows how it went.
pub async fn run(
    State(web): State<Web>,
    page: Page,
    CheckedForm(_): CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    let (outcome, ..) = crate::selfbackup::take::take_recorded(&web.ctx, &web.self_backup, &page.user).await;
    let detail = match &outcome {
        Ok(taken) => crate::catalogue::Msg::new("audit_detail.self_backup_stored")
            .with("file", &taken.file.name)
            .with("bytes", taken.written.bytes),
        Err(e) => crate::catalogue::Msg::new("audit_detail.self_backup_failed").quoting("detail", e),
    };
    crate::audit::record_said(&web.ctx.db, &page.user, "self_backup.run", None, &detail).await;
    Ok(Redirect::to("/settings/self-backup").into_response())
}
