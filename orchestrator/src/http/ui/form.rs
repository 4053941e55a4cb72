//! Register and edit an app: the main form. "Check connection" asks the app for its capabilities
//! (and fills the backup types it offers); the schedule has presets and a custom cron field with a
//! preview of the next runs. Every field error shows next to its field and nothing is saved until
//! all are valid. The token is never shown back: leaving it blank when editing keeps it, unless
//! the URL changes (the stored token is never sent to another address).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Json, Redirect, Response};
use contract_spec::Capabilities;
use secrecy::SecretString;
use serde::Deserialize;

use crate::catalogue::{Msg, T};
use crate::http::error::PageError;
use crate::http::extract::CheckedForm;
use crate::http::extract::PageApp;
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::{Page, render};
use crate::registry::input::{AppInput, FieldError};
use crate::registry::{App, RegistryError};
use crate::schedule::cron::CronSchedule;
use crate::schedule::spread::format_span;

/// Schedule presets: (cron, text key).
pub const PRESETS: [(&str, &str); 6] = [
    ("0 3 * * *", "preset.daily"),
    ("0 */6 * * *", "preset.six_hours"),
    ("0 * * * *", "preset.hourly"),
    ("0 3 * * 0", "preset.weekly"),
    ("0 3 1 * *", "preset.monthly"),
    ("custom", "preset.custom"),
];

/// The form as posted (and as shown again).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AppForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    token: String,
    /// A token typed in an earlier post of this form, sealed (never the token itself).
    #[serde(default)]
    token_sealed: String,
    /// "Save without checking": the app is not asked first (it is down today).
    #[serde(default)]
    no_check: Option<String>,
    #[serde(default)]
    schedule_preset: String,
    #[serde(default)]
    schedule: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    folder: String,
    #[serde(default)]
    keep_last: String,
    #[serde(default)]
    keep_daily: String,
    #[serde(default)]
    keep_weekly: String,
    #[serde(default)]
    keep_monthly: String,
    #[serde(default)]
    keep_within_days: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    backup_type: String,
    enabled: Option<String>,
    /// auto | zstd | none.
    #[serde(default)]
    compress: String,
    /// auto | on | off.
    #[serde(default)]
    encrypt: String,
    /// The app's own recipients, one per line.
    #[serde(default)]
    recipients: String,
    /// Restore drills' cron expression; empty = none.
    #[serde(default)]
    drill_schedule: String,
    /// newest | random.
    #[serde(default)]
    drill_copy: String,
    /// One label; empty = no group.
    #[serde(default)]
    group: String,
    /// Labels, separated by commas or spaces.
    #[serde(default)]
    tags: String,
    /// Backup window (`2h`); empty = the group's.
    #[serde(default)]
    window: String,
    /// Jitter (`15m`); empty = the group's.
    #[serde(default)]
    jitter: String,
    #[serde(default)]
    action: String,
}

impl AppForm {
    /// The token typed now, or the one typed in an earlier post (carried sealed); the form then
    /// carries it on, sealed, so the operator types it once.
    fn carry_token(&mut self, web: &Web) -> Option<SecretString> {
        let token = if self.token.is_empty() {
            web.ctx.registry.open_from_form(&self.token_sealed)
        } else {
            Some(SecretString::from(self.token.clone()))
        };
        self.token.clear();
        self.token_sealed = token.as_ref().map(|t| web.ctx.registry.seal_for_form(t)).unwrap_or_default();
        token
    }

    fn blank() -> AppForm {
        AppForm {
            schedule_preset: PRESETS[0].0.into(),
            schedule: PRESETS[0].0.into(),
            time_zone: "UTC".into(),
            keep_last: "7".into(),
            keep_daily: "0".into(),
            keep_weekly: "0".into(),
            keep_monthly: "0".into(),
            keep_within_days: "0".into(),
            priority: "normal".into(),
            enabled: Some("on".into()),
            compress: "auto".into(),
            encrypt: "auto".into(),
            drill_copy: "newest".into(),
            ..AppForm::default()
        }
    }

    fn of(app: &App) -> AppForm {
        let preset = PRESETS.iter().find(|(cron, _)| *cron == app.schedule).map_or("custom", |(cron, _)| cron);
        AppForm {
            name: app.name.clone(),
            url: app.url.clone(),
            token: String::new(),
            token_sealed: String::new(),
            no_check: None,
            schedule_preset: preset.to_owned(),
            schedule: app.schedule.clone(),
            time_zone: app.time_zone.clone(),
            folder: app.folder.clone(),
            keep_last: app.retention.keep_last.to_string(),
            keep_daily: app.retention.keep_daily.to_string(),
            keep_weekly: app.retention.keep_weekly.to_string(),
            keep_monthly: app.retention.keep_monthly.to_string(),
            keep_within_days: app.retention.keep_within_days.to_string(),
            priority: app.priority.to_string(),
            backup_type: app.backup_type.clone().unwrap_or_default(),
            enabled: app.enabled.then(|| "on".to_owned()),
            compress: app.compress.as_str().to_owned(),
            encrypt: match app.encrypt {
                None => "auto",
                Some(true) => "on",
                Some(false) => "off",
            }
            .to_owned(),
            recipients: app.recipients.iter().map(|r| r.as_str()).collect::<Vec<_>>().join("\n"),
            drill_schedule: app.drill_schedule.clone().unwrap_or_default(),
            drill_copy: app.drill_copy.clone(),
            group: app.group.clone().unwrap_or_default(),
            tags: app.tags.join(", "),
            window: app.window_secs.map(format_span).unwrap_or_default(),
            jitter: app.jitter_secs.map(format_span).unwrap_or_default(),
            action: String::new(),
        }
    }

    /// The schedule the form means: the preset, or the custom field.
    fn effective_schedule(&self) -> String {
        if self.schedule_preset.is_empty() || self.schedule_preset == "custom" {
            self.schedule.trim().to_owned()
        } else {
            self.schedule_preset.clone()
        }
    }

    /// The registry's input (with `token`, the one typed or carried), plus errors of fields that
    /// are not even numbers.
    fn input(&self, token: Option<SecretString>) -> (AppInput, Vec<FieldError>) {
        let mut errors = Vec::new();
        let mut number = |field: &str, text: &str| -> Option<u32> {
            let text = text.trim();
            if text.is_empty() {
                return Some(0);
            }
            match text.parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push(FieldError::new(field, Msg::new("field.whole_number")));
                    None
                }
            }
        };
        let input = AppInput {
            name: Some(self.name.trim().to_owned()),
            url: Some(self.url.trim().to_owned()),
            token,
            schedule: Some(self.effective_schedule()),
            time_zone: Some(self.time_zone.trim().to_owned()),
            folder: Some(self.folder.trim().to_owned()),
            keep_last: number("keep_last", &self.keep_last),
            keep_daily: number("keep_daily", &self.keep_daily),
            keep_weekly: number("keep_weekly", &self.keep_weekly),
            keep_monthly: number("keep_monthly", &self.keep_monthly),
            keep_within_days: number("keep_within_days", &self.keep_within_days),
            backup_type: Some(self.backup_type.trim().to_owned()),
            priority: Some(self.priority.trim().to_owned()),
            enabled: Some(self.enabled.is_some()),
            compress: Some(self.compress.clone()),
            encrypt: match self.encrypt.as_str() {
                "on" => Some(Some(true)),
                "off" => Some(Some(false)),
                "" | "auto" => Some(None),
                _ => {
                    errors.push(FieldError::new("encrypt", Msg::new("field.encrypt.choice")));
                    None
                }
            },
            recipients: Some(vec![self.recipients.clone()]),
            drill_schedule: Some(self.drill_schedule.trim().to_owned()),
            drill_copy: Some(self.drill_copy.trim().to_owned()),
            group: Some(self.group.trim().to_owned()),
            tags: Some(vec![self.tags.clone()]),
            window: Some(self.window.trim().to_owned()),
            jitter: Some(self.jitter.trim().to_owned()),
        };
        (input, errors)
    }
}

#[derive(Template)]
#[template(path = "app_form.html")]
struct FormPage {
    page: Page,
    /// `None` for a new app; the app's current name when editing.
    editing: Option<String>,
    form: AppForm,
    errors: BTreeMap<String, String>,
    /// The outcome of "Check connection".
    check: Option<Result<Capabilities, String>>,
    /// Next runs of the schedule, or why there are none.
    preview: Result<Vec<String>, String>,
    schedule_words: String,
    presets: Vec<(&'static str, String)>,
    priorities: [&'static str; 3],
}

impl FormPage {
    fn error(&self, field: &str) -> &str {
        self.errors.get(field).map_or("", String::as_str)
    }

    fn has_error(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    fn types(&self) -> Vec<(String, String)> {
        match &self.check {
            Some(Ok(caps)) => {
                caps.types.iter().map(|t| (t.name.clone(), format!("{} ({})", t.name, t.media_type))).collect()
            }
            _ => Vec::new(),
        }
    }
}

fn form_page(
    page: Page,
    editing: Option<String>,
    form: AppForm,
    errors: Vec<FieldError>,
    check: Option<Result<Capabilities, String>>,
) -> Result<Html<String>, PageError> {
    let schedule = form.effective_schedule();
    let preview = next_runs(&page.t, &schedule, &form.time_zone, 5);
    let schedule_words = page.t.schedule(&schedule, form.time_zone.trim());
    let mut by_field = BTreeMap::new();
    for e in errors {
        // One field's message once, however many checks found it.
        let message = page.t.msg(&e.msg);
        by_field
            .entry(e.field)
            .and_modify(|m: &mut String| {
                if !m.split("; ").any(|said| said == message) {
                    m.push_str(&format!("; {message}"));
                }
            })
            .or_insert(message);
    }
    let presets = PRESETS.iter().map(|(cron, key)| (*cron, page.t.get(key).to_owned())).collect();
    render(&FormPage {
        editing,
        form,
        errors: by_field,
        check,
        preview,
        schedule_words,
        presets,
        priorities: ["high", "normal", "low"],
        page,
    })
}

/// The next `n` fires, formatted for the reader, or why the schedule is invalid.
pub fn next_runs(t: &T, schedule: &str, time_zone: &str, n: usize) -> Result<Vec<String>, String> {
    let tz = if time_zone.trim().is_empty() { "UTC" } else { time_zone.trim() };
    let parsed = CronSchedule::parse(schedule, tz).map_err(|e| t.msg(&e.0))?;
    let zone = jiff::tz::TimeZone::get(tz).map_err(|_| t.msg(&Msg::new("field.time_zone.unknown").with("zone", tz)))?;
    Ok(parsed.upcoming(jiff::Timestamp::now(), n).into_iter().map(|at| t.moment(&at.to_zoned(zone.clone()))).collect())
}

/// GET /apps/new.
pub async fn new_form(page: Page) -> Result<Html<String>, PageError> {
    form_page(page, None, AppForm::blank(), Vec::new(), None)
}

/// GET /apps/{name}/edit.
pub async fn edit_form(page: Page, PageApp(app): PageApp) -> Result<Html<String>, PageError> {
    form_page(page, Some(app.name.clone()), AppForm::of(&app), Vec::new(), None)
}

/// POST /apps/new.
pub async fn create(
    State(web): State<Web>,
    page: Page,
    CheckedForm(mut form): CheckedForm<AppForm>,
) -> Result<Response, PageError> {
    let token = form.carry_token(&web);
    if form.action == "check" {
        let check = match token {
            Some(token) => crate::registry::check::check(&form.url, token).await.map_err(|e| e.to_string()),
            None => Err(page.t.get("form.check_needs_token").to_owned()),
        };
        return Ok(form_page(page, None, form, Vec::new(), Some(check))?.into_response());
    }
    let (input, mut errors) = form.input(token);
    if errors.is_empty() {
        match web.ctx.registry.add_checked(&input, form.no_check.is_none()).await {
            Ok(app) => {
                crate::audit::record(&web.ctx.db, &page.user, "app.create", Some(&app.name), None).await;
                return Ok(Redirect::to(&format!("/apps/{}", format::url_encode(&app.name))).into_response());
            }
            Err(RegistryError::Invalid(e)) => errors = e,
            Err(e) => return Err(e.into()),
        }
    } else if let Err(e) = input.validate(true) {
        errors.extend(e);
    }
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, form_page(page, None, form, errors, None)?).into_response())
}

/// POST /apps/{name}/edit.
pub async fn update(
    State(web): State<Web>,
    page: Page,
    Path(name): Path<String>,
    CheckedForm(mut form): CheckedForm<AppForm>,
) -> Result<Response, PageError> {
    let current = web.ctx.registry.get(&name).await?;
    let token = form.carry_token(&web);
    if form.action == "check" {
        // Checking another address with the stored token would hand it to whoever answers there.
        let token = match crate::registry::token_for(&current, &form.url, token) {
            Ok(token) => token,
            Err(error) => {
                let page = form_page(page, Some(name), form, vec![error], None)?;
                return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
            }
        };
        let check = crate::registry::check::check(&form.url, token).await.map_err(|e| e.to_string());
        return Ok(form_page(page, Some(name), form, Vec::new(), Some(check))?.into_response());
    }
    let (input, mut errors) = form.input(token);
    if errors.is_empty() {
        match web.ctx.registry.edit_checked(&name, &input, form.no_check.is_none()).await {
            Ok(app) => {
                let detail =
                    (app.name != name).then(|| crate::catalogue::Msg::new("audit_detail.renamed").with("from", &name));
                match &detail {
                    Some(detail) => {
                        crate::audit::record_said(&web.ctx.db, &page.user, "app.update", Some(&app.name), detail).await
                    }
                    None => crate::audit::record(&web.ctx.db, &page.user, "app.update", Some(&app.name), None).await,
                }
                return Ok(Redirect::to(&format!("/apps/{}", format::url_encode(&app.name))).into_response());
            }
            Err(RegistryError::Invalid(e)) => errors = e,
            Err(e) => return Err(e.into()),
        }
    } else if let Err(e) = input.over(&current).validate(false) {
        errors.extend(e);
    }
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, form_page(page, Some(name), form, errors, None)?).into_response())
}

/// `?schedule=&time_zone=`.
#[derive(Debug, Deserialize)]
pub struct PreviewQuery {
    #[serde(default)]
    schedule: String,
    #[serde(default)]
    time_zone: String,
}

/// GET /cron/preview: the live preview of the form (JSON for the page's script).
pub async fn cron_preview(page: Page, Query(q): Query<PreviewQuery>) -> Json<serde_json::Value> {
    let tz = if q.time_zone.trim().is_empty() { "UTC".to_owned() } else { q.time_zone.trim().to_owned() };
    match next_runs(&page.t, &q.schedule, &tz, 5) {
        Ok(next) => {
            Json(serde_json::json!({ "ok": true, "words": page.t.schedule(q.schedule.trim(), &tz), "next": next }))
        }
        Err(error) => Json(serde_json::json!({ "ok": false, "error": error })),
    }
}
