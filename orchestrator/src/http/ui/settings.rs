//! `/settings/drive`: where backups go, the Check destination button, and Connect Google Drive
//! (the OAuth web-server flow; its callback is `/oauth/google/callback`).

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::http::error::PageError;
use crate::http::extract::CheckedForm;
use crate::http::state::Web;
use crate::http::ui::{Page, render};
use crate::storage::check::{self, Report};
use crate::storage::google_account::{Account, ConnectError, GoogleAccount, SCOPE_FULL};

/// The Connect Google Drive part of the page.
pub struct GoogleView {
    /// The OAuth client (id, where it comes from), when one is configured.
    pub client: Option<(String, &'static str)>,
    /// The connected account.
    pub account: Option<Account>,
    /// The callback URL to register with the OAuth client.
    pub callback: String,
}

impl GoogleView {
    /// True when the account may see every file (not only those made here).
    pub fn full_scope(&self) -> bool {
        self.account.as_ref().is_some_and(|a| a.scope.split_whitespace().any(|s| s == SCOPE_FULL))
    }
}

/// A message at the top of the page: (is it an error, text).
type Flash = Option<(bool, String)>;

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
    google: Option<GoogleView>,
    flash: Flash,
}

impl DrivePage {
    fn kind_key(&self) -> String {
        format!("destination.kind.{}", self.kind)
    }

    fn size(bytes: &u64) -> String {
        crate::http::format::bytes(i64::try_from(*bytes).unwrap_or(i64::MAX))
    }
}

/// Where Google sends the browser back: `PUBLIC_URL` (or where `serve` listens) plus the path.
fn callback_url(web: &Web) -> String {
    format!("{}/oauth/google/callback", web.ctx.notifier.base_url().unwrap_or_default())
}

async fn google_view(web: &Web, google: &GoogleAccount) -> Result<(GoogleView, Option<String>), PageError> {
    let client = google.client().await.map_err(|e| PageError::Internal(e.to_string()))?;
    let consent_origin = client
        .as_ref()
        .and_then(|c| reqwest::Url::parse(&c.auth_uri).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null");
    let view = GoogleView {
        client: client.map(|c| (c.client_id, c.source)),
        account: google.account().await?,
        callback: callback_url(web),
    };
    Ok((view, consent_origin))
}

async fn drive_page(
    web: &Web,
    page: Page,
    checked_folder: String,
    report: Option<Report>,
    flash: Flash,
) -> Result<Response, PageError> {
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
    let (google, consent_origin) = match &web.ctx.runner.google {
        Some(google) => {
            let (view, origin) = google_view(web, google).await?;
            (Some(view), origin)
        }
        None => (None, None),
    };
    let location = destination.location_in(page.t.lang);
    let html = render(&DrivePage {
        page,
        kind: destination.kind(),
        location,
        folders,
        checked_folder,
        report,
        google,
        flash,
    })?;
    // The Connect form's answer sends the browser on to Google's consent page: the policy lets
    // this page's forms go there, and only there.
    let mut response = html.into_response();
    if let Some(origin) = consent_origin {
        let csp = crate::http::CSP.replace("form-action 'self'", &format!("form-action 'self' {origin}"));
        if let Ok(value) = axum::http::HeaderValue::from_str(&csp) {
            response.headers_mut().insert(axum::http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    Ok(response)
}

/// `?connected=1` after a connect, `?folder=ID` after creating a folder.
#[derive(Deserialize)]
pub struct DriveQuery {
    connected: Option<String>,
    folder: Option<String>,
}

/// GET /settings/drive.
pub async fn drive(State(web): State<Web>, page: Page, Query(q): Query<DriveQuery>) -> Result<Response, PageError> {
    let flash = match (q.connected, q.folder) {
        (Some(_), _) => Some((false, page.t.get("google.connected").to_owned())),
        (_, Some(folder)) => Some((false, page.t.fill("google.folder_created", &[("id", folder.as_str())]))),
        _ => None,
    };
    drive_page(&web, page, String::new(), None, flash).await
}

fn connectable(web: &Web) -> Result<&GoogleAccount, PageError> {
    web.ctx
        .runner
        .google
        .as_ref()
        .ok_or_else(|| PageError::BadRequest(crate::catalogue::Msg::new("page_error.connect_needs_oauth").into()))
}

async fn refused(web: &Web, page: Page, e: ConnectError) -> Result<Response, PageError> {
    if let ConnectError::Failed(reason) = &e {
        tracing::warn!(reason = %reason, "connecting Google Drive failed");
    }
    drive_page(web, page, String::new(), None, Some((true, e.to_string()))).await
}

/// The Connect form.
#[derive(Deserialize)]
pub struct ConnectForm {
    #[serde(default)]
    scope: String,
}

/// POST /settings/drive/connect: off to Google's consent page.
pub async fn connect(
    State(web): State<Web>,
    page: Page,
    CheckedForm(form): CheckedForm<ConnectForm>,
) -> Result<Response, PageError> {
    let google = connectable(&web)?;
    let full = match form.scope.as_str() {
        "" | "file" => false,
        "full" => true,
        other => {
            return Err(PageError::BadRequest(
                crate::catalogue::Msg::new("page_error.scope").with("scope", format!("{other:?}")).into(),
            ));
        }
    };
    match google.begin(&callback_url(&web), full).await {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(e) => refused(&web, page, e).await,
    }
}

/// Google's answer: `?code=&state=` or `?error=&state=`.
#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// GET /oauth/google/callback.
pub async fn callback(
    State(web): State<Web>,
    page: Page,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let google = connectable(&web)?;
    match google.finish(q.code.as_deref(), q.state.as_deref(), q.error.as_deref()).await {
        Ok(account) => {
            let detail = format!("{} ({})", account.email, account.scope);
            crate::audit::record(&web.ctx.db, &page.user, "drive.connect", None, Some(&detail)).await;
            Ok(Redirect::to("/settings/drive?connected=1").into_response())
        }
        Err(e) => refused(&web, page, e).await,
    }
}

/// POST /settings/drive/disconnect.
pub async fn disconnect(
    State(web): State<Web>,
    page: Page,
    CheckedForm(_): CheckedForm<crate::http::extract::NoFields>,
) -> Result<Response, PageError> {
    let google = connectable(&web)?;
    let warning = google.disconnect().await?;
    crate::audit::record(&web.ctx.db, &page.user, "drive.disconnect", None, warning.as_deref()).await;
    match warning {
        None => Ok(Redirect::to("/settings/drive").into_response()),
        Some(warning) => {
            tracing::warn!(%warning, "Google Drive disconnected without revoking its access");
            drive_page(&web, page, String::new(), None, Some((true, warning))).await
        }
    }
}

/// The OAuth client upload form.
#[derive(Deserialize)]
pub struct ClientForm {
    #[serde(default)]
    client_json: String,
}

/// POST /settings/drive/client: keeps an OAuth client JSON (its secret sealed).
pub async fn upload_client(
    State(web): State<Web>,
    page: Page,
    CheckedForm(form): CheckedForm<ClientForm>,
) -> Result<Response, PageError> {
    let google = connectable(&web)?;
    match google.upload_client(&form.client_json).await {
        Ok(client_id) => {
            crate::audit::record(&web.ctx.db, &page.user, "drive.client", None, Some(&client_id)).await;
            Ok(Redirect::to("/settings/drive").into_response())
        }
        Err(e) => refused(&web, page, e).await,
    }
}

/// The create-folder form.
#[derive(Deserialize)]
pub struct FolderForm {
    #[serde(default)]
    name: String,
}

/// POST /settings/drive/folder: a folder the connected account owns and this app made (all a
/// `drive.file` grant may write to).
pub async fn create_folder(
    State(web): State<Web>,
    page: Page,
    CheckedForm(form): CheckedForm<FolderForm>,
) -> Result<Response, PageError> {
    connectable(&web)?;
    let name = form.name.trim();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        let message = page.t.get("google.folder_name_required").to_owned();
        return drive_page(&web, page, String::new(), None, Some((true, message))).await;
    }
    let Some(drive) = web.ctx.runner.destination.drive() else {
        return Err(PageError::NotFound(crate::catalogue::Msg::new("missing.drive").into()));
    };
    match drive.create_folder(name).await {
        Ok(id) => {
            crate::audit::record(&web.ctx.db, &page.user, "drive.folder", None, Some(&format!("{name} ({id})"))).await;
            Ok(Redirect::to(&format!("/settings/drive?folder={}", crate::http::format::url_encode(&id)))
                .into_response())
        }
        Err(e) => {
            let message = format!("could not create the folder: {}", e.message());
            drive_page(&web, page, String::new(), None, Some((true, message))).await
        }
    }
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
) -> Result<Response, PageError> {
    let folder = form.folder.trim().to_owned();
    let apps = web.ctx.registry.list().await?;
    let only = (!folder.is_empty()).then_some(folder.as_str());
    let report = check::check_apps(&web.ctx.db, &apps, &web.ctx.runner.destination, only).await?;
    let problems = report.findings.iter().filter(|f| f.level == check::Level::Problem).count();
    let detail = crate::catalogue::Msg::new("audit_detail.problems").with("n", problems);
    crate::audit::record_said(&web.ctx.db, &page.user, "destination.check", None, &detail).await;
    drive_page(&web, page, folder, Some(report), None).await
}
