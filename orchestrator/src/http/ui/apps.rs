//! An app's page: its configuration, pause and resume, Test now, its run history and the copies
//! in its destination; deleting the app.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::backup::copies;
use crate::http::error::PageError;
use crate::http::extract::PageApp;
use crate::http::extract::{CheckedForm, NoFields};
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::runs::RunRow;
use crate::http::ui::{Page, render};
use crate::registry::App;
use crate::registry::input::AppInput;

/// A copy, ready to show.
fn codec_of(file: &crate::storage::destination::StoredFile) -> crate::codec::Stored {
    crate::codec::Stored::of(&file.properties).unwrap_or_default()
}

/// A copy in the app's page.
pub struct CopyRow {
    /// File name (also its handle in URLs).
    pub name: String,
    /// Percent-encoded name.
    pub href: String,
    /// Creation time.
    pub created: String,
    /// Size.
    pub size: String,
    /// Verified sha256, when verified.
    pub sha256: Option<String>,
    /// Pinned by an operator.
    pub pinned: bool,
    /// The operator's note.
    pub note: Option<String>,
    /// Compressed with zstd.
    pub compressed: bool,
    /// Encrypted with age.
    pub encrypted: bool,
    /// Stored bytes as a share of the export, when the codecs changed them ("23%").
    pub ratio: Option<String>,
    /// A decoded download can be offered (a coded copy the orchestrator can open).
    pub plain_download: bool,
    /// Adopted from a file the orchestrator did not write.
    pub adopted: bool,
    /// Adopted, and retention does not count it.
    pub uncounted: bool,
    /// Found damaged by an audit or a listing: what is wrong.
    pub damaged: Option<String>,
}

/// A copy found lost or damaged.
pub struct BadCopyRow {
    /// File name.
    pub name: String,
    /// Its file id, percent-encoded (the handle of Forget).
    pub href: String,
    /// Lost (it can be forgotten).
    pub lost: bool,
    /// `lost` or `damaged`, in the page's language.
    pub state: String,
    /// What was found.
    pub detail: String,
    /// Since when.
    pub since: String,
}

#[derive(Template)]
#[template(path = "app_show.html")]
struct AppPage {
    page: Page,
    app: App,
    href: String,
    schedule: String,
    next_runs: Vec<String>,
    runs: Vec<RunRow>,
    copies: Result<Vec<CopyRow>, String>,
    restore: Option<bool>,
    /// Why the app could not be asked just now (its own answer, e.g. a refused token).
    unasked: String,
    demo: bool,
    channels: Vec<(String, &'static str, String)>,
    last_audit: Option<String>,
    bad_copies: Vec<BadCopyRow>,
    proven: Option<String>,
    drills: Vec<DrillRow>,
    health: Option<String>,
    /// Its window, jitter and group limit as `(label, value)`, each saying where it comes from.
    spread: Vec<(String, String)>,
}

/// What the app reports about what it backs up, on one line: "12.3 MB; files 42".
fn health_text(health: &contract_spec::Health) -> String {
    let mut parts: Vec<String> = health.size_bytes.map(|b| format::bytes(b as i64)).into_iter().collect();
    parts.extend(health.details.iter().map(|(k, v)| format!("{k} {v}")));
    parts.join("; ")
}

/// A drill in the app's page.
pub struct DrillRow {
    /// Its restore record.
    pub id: i64,
    /// When it began.
    pub started: String,
    /// The copy.
    pub copy: String,
    /// How: checked by the app, or restored into a scratch app.
    pub how: String,
    /// Its status, as stored (also the CSS class).
    pub status: &'static str,
    /// Why it failed.
    pub error: Option<String>,
}

/// GET /apps/{name}.
pub async fn show(State(web): State<Web>, page: Page, PageApp(app): PageApp) -> Result<Html<String>, PageError> {
    let (listed, capabilities, runs) = tokio::join!(
        copies::list(&web.ctx.runner, &app),
        // Only to know whether Restore can be offered: a short wait, never an error page.
        tokio::time::timeout(
            std::time::Duration::from_secs(3),
            crate::registry::check::check(&app.url, app.token.clone())
        ),
        crate::backup::lifecycle::recent(&web.ctx.db, app.id, 25),
    );
    // After the listing, which brought the copies' health up to date.
    let bad = crate::backup::audit::bad_copies(&web.ctx.db, app.id).await?;
    let last_audit = crate::backup::audit::history(&web.ctx.db, app.id, 1).await?.into_iter().next();
    let damaged_detail = |name: &str| {
        bad.iter()
            .find(|b| b.name == name && b.health == crate::backup::inventory::DAMAGED && b.deleted_at.is_none())
            .map(|b| b.health_detail.clone().unwrap_or_default())
    };
    let copies = listed
        .map(|files| {
            files
                .iter()
                .map(|f| CopyRow {
                    name: f.name.clone(),
                    href: format::url_encode(&f.name),
                    created: f
                        .created
                        .as_deref()
                        .and_then(|c| c.parse::<jiff::Timestamp>().ok())
                        .map_or_else(String::new, |t| format::in_zone(t.as_millisecond(), &app.time_zone)),
                    size: format::bytes(f.size as i64),
                    sha256: copies::verified(f).then(|| copies::sha256(f)).flatten(),
                    pinned: copies::pinned(f),
                    note: copies::note(f).map(str::to_owned),
                    compressed: codec_of(f).zstd,
                    encrypted: codec_of(f).age,
                    ratio: f
                        .properties
                        .get(crate::codec::SIZE_MARK)
                        .and_then(|s| s.parse::<u64>().ok())
                        .filter(|_| !codec_of(f).is_plain())
                        .map(|plain| format!("{:.0}%", f.size as f64 * 100.0 / plain.max(1) as f64)),
                    plain_download: !codec_of(f).is_plain()
                        && (!codec_of(f).age || web.ctx.runner.encryption.identities.is_some()),
                    adopted: copies::adopted(f),
                    uncounted: copies::adopted_uncounted(f),
                    damaged: damaged_detail(&f.name),
                })
                .collect()
        })
        .map_err(|e| e.to_string());
    let (restore, health, unasked) = match capabilities {
        Ok(Ok(caps)) => (Some(caps.restore), caps.health.map(|h| health_text(&h)), String::new()),
        Ok(Err(e)) => (None, None, e.to_string()),
        Err(_) => (None, None, page.t.get("app.no_answer_in_time").to_owned()),
    };
    let next_runs = if app.enabled {
        crate::http::ui::form::next_runs(&page.t, &app.schedule, &app.time_zone, 5).unwrap_or_default()
    } else {
        Vec::new()
    };
    // The channels that hear about this app: its own and the global ones.
    let channels = crate::notify::channel::for_app(&web.ctx.db, app.id)
        .await?
        .into_iter()
        .map(|c| (c.name.clone(), c.kind.as_str(), c.events().join(", ")))
        .collect();
    let last_audit = last_audit.map(|a| {
        let when = format::in_zone(a.finished_at, &app.time_zone);
        match &a.error {
            Some(error) => page.t.fill(
                "audit.last_failed",
                &[("when", when.as_str()), ("trigger", a.trigger.as_str()), ("error", error.as_str())],
            ),
            None => page.t.fill(
                "audit.last",
                &[
                    ("when", when.as_str()),
                    ("trigger", a.trigger.as_str()),
                    ("copies", &a.copies.to_string()),
                    ("good", &a.good.to_string()),
                    ("lost", &a.lost.to_string()),
                    ("damaged", &a.damaged.to_string()),
                    ("read", &a.read_back.to_string()),
                ],
            ),
        }
    });
    let proven = crate::backup::drill::last_passed(&web.ctx.db, app.id).await?.map(|d| {
        page.t.fill(
            "drill.proven",
            &[
                ("when", format::in_zone(d.finished_at.unwrap_or(d.started_at), &app.time_zone).as_str()),
                ("copy", d.copy_name.as_str()),
                ("how", page.t.get(crate::backup::drill::how_key(&d))),
            ],
        )
    });
    let drills = crate::backup::drill::history(&web.ctx.db, app.id, 10)
        .await?
        .into_iter()
        .map(|d| DrillRow {
            id: d.id,
            started: format::in_zone(d.started_at, &app.time_zone),
            how: page.t.get(crate::backup::drill::how_key(&d)).to_owned(),
            status: d.status.as_str(),
            error: crate::backup::reason::Stored::read(d.error.as_deref(), d.error_msg.as_deref())
                .map(|r| r.html(page.t.lang)),
            copy: d.copy_name,
        })
        .collect();
    let bad_copies = bad
        .into_iter()
        .map(|b| BadCopyRow {
            href: format::url_encode(&b.file_id),
            lost: b.health == crate::backup::inventory::LOST,
            state: page
                .t
                .get(if b.health == crate::backup::inventory::LOST { "audit.lost" } else { "audit.damaged" })
                .to_owned(),
            detail: b.health_detail.unwrap_or_default(),
            since: b.health_since.map(format::time).unwrap_or_default(),
            name: b.name,
        })
        .collect();
    let spread = spread_rows(&web, &page, &app).await?;
    let view = AppPage {
        spread,
        href: format::url_encode(&app.name),
        schedule: page.t.schedule(&app.schedule, &app.time_zone),
        next_runs,
        runs: runs?.iter().map(|r| RunRow::new(r, &app.name, &app.time_zone, page.t.lang)).collect(),
        copies,
        restore,
        unasked,
        demo: page.demo.as_deref() == Some(app.name.as_str()),
        channels,
        last_audit,
        bad_copies,
        proven,
        drills,
        health,
        app,
        page,
    };
    render(&view)
}

/// The app's night spread, as its page shows it: its own window and jitter, or its group's
/// (said so), and the group's limit of backups at once.
async fn spread_rows(web: &Web, page: &Page, app: &App) -> Result<Vec<(String, String)>, PageError> {
    use crate::schedule::spread::{Spread, format_span};
    let spread = Spread::of(&web.ctx.db, app).await?;
    let from_group = |own: Option<i64>| match (&app.group, own) {
        (Some(group), None) => format!(" {}", page.t.fill("app.from_group", &[("group", group.as_str())])),
        _ => String::new(),
    };
    let mut rows = Vec::new();
    if let Some(window) = spread.window_secs {
        rows.push((
            page.t.get("form.window").to_owned(),
            format!("{}{}", format_span(window), from_group(app.window_secs)),
        ));
    }
    if let Some(jitter) = spread.jitter_secs {
        rows.push((
            page.t.get("form.jitter").to_owned(),
            format!("{}{}", format_span(jitter), from_group(app.jitter_secs)),
        ));
    }
    if let Some((group, limit)) = &spread.limit {
        let text = page.t.fill("app.group_limit", &[("n", limit.to_string().as_str()), ("group", group.as_str())]);
        rows.push((page.t.get("groups.max_concurrent").to_owned(), text));
    }
    Ok(rows)
}

async fn set_enabled(web: &Web, page: &Page, name: &str, enabled: bool) -> Result<Response, PageError> {
    let app = web.ctx.registry.edit(name, &AppInput { enabled: Some(enabled), ..AppInput::default() }).await?;
    let action = if enabled { "app.resume" } else { "app.pause" };
    crate::audit::record(&web.ctx.db, &page.user, action, Some(&app.name), None).await;
    Ok(Redirect::to(&format!("/apps/{}", format::url_encode(&app.name))).into_response())
}

/// POST /apps/{name}/pause.
pub async fn pause(
    State(web): State<Web>,
    page: Page,
    Path(name): Path<String>,
    _: CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    set_enabled(&web, &page, &name, false).await
}

/// POST /apps/{name}/resume.
pub async fn resume(
    State(web): State<Web>,
    page: Page,
    Path(name): Path<String>,
    _: CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    set_enabled(&web, &page, &name, true).await
}

/// The audit form.
#[derive(Deserialize)]
pub struct AuditForm {
    #[serde(default)]
    sample_percent: String,
}

/// POST /apps/{name}/audit: audits the app's copies now (one listing of its folder, and the share
/// asked for read back), then shows the app's page at its Integrity card.
pub async fn audit(
    State(web): State<Web>,
    page: Page,
    PageApp(app): PageApp,
    CheckedForm(form): CheckedForm<AuditForm>,
) -> Result<Response, PageError> {
    let text = form.sample_percent.trim();
    let sample_percent = match text {
        "" => 0,
        text => text.parse::<u8>().ok().filter(|p| *p <= 100).ok_or_else(|| {
            PageError::BadRequest(crate::catalogue::Msg::new("page_error.audit_sample").with("value", text).into())
        })?,
    };
    let options = crate::backup::audit::Options { sample_percent, trigger: "ui" };
    let reports = crate::backup::audit::audit(&web.ctx.runner, std::slice::from_ref(&app), options).await;
    if let Some(summary) = reports.first().map(crate::backup::audit::AppAudit::summary) {
        crate::audit::record_said(&web.ctx.db, &page.user, "copies.audit", Some(&app.name), &summary).await;
    }
    Ok(Redirect::to(&format!("/apps/{}#integrity", format::url_encode(&app.name))).into_response())
}

/// POST /apps/{name}/lost/{copy}/forget: forgets a lost copy (by file id).
pub async fn forget_lost(
    State(web): State<Web>,
    page: Page,
    Path((name, copy)): Path<(String, String)>,
    _: CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    let app = web.ctx.registry.get(&name).await?;
    if !crate::backup::audit::forget(&web.ctx.db, app.id, &copy).await? {
        return Err(PageError::NotFound(
            crate::catalogue::Msg::new("missing.lost_copy")
                .with("app", &app.name)
                .with("copy", format!("{copy:?}"))
                .into(),
        ));
    }
    crate::audit::record(&web.ctx.db, &page.user, "copies.forget", Some(&app.name), Some(&copy)).await;
    Ok(Redirect::to(&format!("/apps/{}#integrity", format::url_encode(&app.name))).into_response())
}

/// The drill form.
#[derive(Deserialize)]
pub struct DrillForm {
    #[serde(default)]
    drill_target: String,
}

/// POST /apps/{name}/drill: queues a restore drill of the app's newest good copy (checked by the
/// app's verify, or restored into the scratch app chosen) and shows its progress.
pub async fn drill(
    State(web): State<Web>,
    page: Page,
    PageApp(app): PageApp,
    CheckedForm(form): CheckedForm<DrillForm>,
) -> Result<Response, PageError> {
    let target = match form.drill_target.trim() {
        "" => None,
        name => Some(web.ctx.registry.get(name).await?),
    };
    let req = crate::backup::drill::DrillRequest { copy: None, target, actor: page.user.clone() };
    let row = crate::jobs::restore::queue_drill(&web.ctx.runner, &app, &req).await?;
    Ok(Redirect::to(&format!("/restores/{}", row.id)).into_response())
}

/// POST /apps/{name}/run: Test now. Queues a manual run and shows its live progress; while a
/// backup of the app is under way, shows that one instead.
pub async fn run_now(
    State(web): State<Web>,
    page: Page,
    PageApp(app): PageApp,
    CheckedForm(form): CheckedForm<crate::http::ui::copies::NoteForm>,
) -> Result<Response, PageError> {
    let note = crate::http::ui::copies::checked_note(form.note())?;
    if let Some(active) = crate::backup::lifecycle::active_of(&web.ctx.db, app.id).await? {
        // One backup of an app at a time: the one under way is the one to follow (or cancel).
        return Ok(Redirect::to(&format!("/runs/{}?already=1", active.id)).into_response());
    }
    let run = crate::jobs::queue::run_now(&web.ctx.db, &app, note.as_deref()).await?;
    let detail = crate::catalogue::Msg::new("audit_detail.run").with("id", run.id);
    crate::audit::record_said(&web.ctx.db, &page.user, "run.start", Some(&app.name), &detail).await;
    Ok(Redirect::to(&format!("/runs/{}", run.id)).into_response())
}

#[derive(Template)]
#[template(path = "app_delete.html")]
struct DeletePage {
    page: Page,
    name: String,
    href: String,
    error: Option<String>,
}

/// GET /apps/{name}/delete: the confirmation.
pub async fn confirm_delete(page: Page, PageApp(app): PageApp) -> Result<Html<String>, PageError> {
    render(&DeletePage { page, href: format::url_encode(&app.name), name: app.name, error: None })
}

/// The delete-app form.
#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    confirm: String,
    delete_copies: Option<String>,
    /// Needed when the copies go too.
    #[serde(default)]
    password: secrecy::SecretString,
}

/// POST /apps/{name}/delete: removes the app (and its copies only when asked).
pub async fn delete(
    State(web): State<Web>,
    page: Page,
    PageApp(app): PageApp,
    CheckedForm(form): CheckedForm<DeleteForm>,
) -> Result<Response, PageError> {
    if form.confirm.trim() != app.name {
        let error = Some(page.t.get("delete.type_name").to_owned());
        let view = DeletePage { href: format::url_encode(&app.name), name: app.name, error, page };
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&view)?).into_response());
    }
    let mut detail = crate::catalogue::Msg::new("audit_detail.copies_kept");
    if form.delete_copies.is_some() {
        if let Err(error) = crate::http::ui::copies::recheck_password(&web, &page, form.password).await {
            let view = DeletePage { href: format::url_encode(&app.name), name: app.name, error: Some(error), page };
            return Ok((axum::http::StatusCode::FORBIDDEN, render(&view)?).into_response());
        }
        let deleted = copies::delete_all(&web.ctx.runner, &app).await?;
        detail = crate::catalogue::Msg::new("audit_detail.copies_deleted").with("n", deleted);
    }
    web.ctx.registry.remove(&app.name).await?;
    crate::audit::record_said(&web.ctx.db, &page.user, "app.delete", Some(&app.name), &detail).await;
    Ok(Redirect::to("/").into_response())
}
