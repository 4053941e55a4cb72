//! Notifications: channels (webhook, email, pings, Slack, Teams, Discord, Telegram, ntfy,
//! Gotify), global or for one app; add, edit (secrets left empty are kept), pause, delete, "Send
//! a test notification"; and the latest deliveries with their outcome.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::catalogue::Msg;
use crate::http::error::PageError;
use crate::http::extract::{CheckedForm, NoFields};
use crate::http::format;
use crate::http::state::Web;
use crate::http::ui::{Page, render};
use crate::notify::channel::{self, ChannelInput, FieldErrors, Kind};
use crate::notify::outbox;

/// A channel, ready to show (never its secret).
pub struct ChannelRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// webhook | email | ping | slack | teams | discord | telegram | ntfy | gotify.
    pub kind: &'static str,
    /// The app's name; empty = every app.
    pub app: String,
    /// Where it goes: a host, or the recipients.
    pub target: String,
    /// Events told.
    pub events: String,
    /// Paused or not.
    pub enabled: bool,
}

/// A delivery, ready to show.
pub struct DeliveryRow {
    /// Channel name.
    pub channel: String,
    /// Event.
    pub event: String,
    /// App name.
    pub app: String,
    /// Run id.
    pub run_id: Option<i64>,
    /// pending | sent | failed.
    pub status: String,
    /// The status in words.
    pub status_text: String,
    /// Attempts.
    pub attempts: i32,
    /// Why the last attempt failed, as HTML.
    pub error: String,
    /// When it was made.
    pub created: String,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    page: Page,
    channels: Vec<ChannelRow>,
    deliveries: Vec<DeliveryRow>,
    kind: &'static str,
    input: ChannelInput,
    errors: FieldErrors,
    /// The test button's result: sent or not, and what happened as HTML.
    result: Option<(bool, String)>,
    editing: Option<Editing>,
}

/// The channel the form edits.
pub struct Editing {
    /// Its id.
    pub id: i64,
    /// Its name as stored.
    pub name: String,
    /// Its kind as stored (secrets are kept only while the kind stays).
    pub kind: &'static str,
    /// The secret fields that hold a value.
    pub kept: Vec<&'static str>,
}

impl NotificationsPage {
    /// A secret field that an empty input keeps.
    fn kept(&self, field: &str) -> bool {
        self.editing.as_ref().is_some_and(|e| e.kind == self.kind && e.kept.contains(&field))
    }

    /// Where the kind tabs lead.
    fn form_path(&self) -> String {
        match &self.editing {
            Some(e) => format!("/notifications/{}/edit", e.id),
            None => "/notifications".to_owned(),
        }
    }

    fn error(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|e| self.page.t.msg(e))
    }

    fn checked(&self, value: &Option<String>) -> bool {
        value.is_some()
    }

    /// The kind tabs: each kind and its name (services keep their own).
    fn tabs(&self) -> Vec<(&'static str, &'static str)> {
        Kind::ALL
            .into_iter()
            .map(|k| {
                let name = match k {
                    Kind::Webhook => "Webhook",
                    Kind::Email => self.page.t.get("notify.email"),
                    Kind::Ping => self.page.t.get("notify.pings"),
                    Kind::Slack => "Slack",
                    Kind::Teams => "Microsoft Teams",
                    Kind::Discord => "Discord",
                    Kind::Telegram => "Telegram",
                    Kind::Ntfy => "ntfy",
                    Kind::Gotify => "Gotify",
                };
                (k.as_str(), name)
            })
            .collect()
    }

    /// What the webhook URL field is called, for the kinds that post to one.
    fn url_label(&self) -> &'static str {
        self.page.t.get(match self.kind {
            "slack" => "notify.url_slack",
            "teams" => "notify.url_teams",
            "discord" => "notify.url_discord",
            _ => "notify.url",
        })
    }

    /// Where to find the webhook URL, for the services that give one.
    fn url_hint(&self) -> Option<&'static str> {
        match self.kind {
            "slack" => Some(self.page.t.get("notify.slack_hint")),
            "teams" => Some(self.page.t.get("notify.teams_hint")),
            "discord" => Some(self.page.t.get("notify.discord_hint")),
            _ => None,
        }
    }

    /// An example of the kind's webhook URL.
    fn url_placeholder(&self) -> &'static str {
        match self.kind {
            "slack" => "https://hooks.slack.com/services/T000/B000/XXXX",
            "teams" => {
                "https://prod-00.westeurope.logic.azure.com:443/workflows/…/triggers/manual/paths/invoke?…&sig=…"
            }
            "discord" => "https://discord.com/api/webhooks/ID/TOKEN",
            _ => "https://hooks.internal/backup",
        }
    }
}

/// `?kind=` and `?app=` for the form.
#[derive(Deserialize, Default)]
pub struct FormQuery {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    app: Option<String>,
}

/// What the page's form shows.
struct Form {
    kind: Kind,
    input: ChannelInput,
    errors: FieldErrors,
    editing: Option<Editing>,
}

impl Form {
    fn add(kind: Kind, input: ChannelInput) -> Form {
        Form { kind, input, errors: FieldErrors::new(), editing: None }
    }
}

async fn notifications_page(
    web: &Web,
    page: Page,
    form: Form,
    result: Option<(bool, String)>,
) -> Result<Html<String>, PageError> {
    let db = &web.ctx.db;
    let list = channel::list(db).await?;
    let recent = outbox::recent(db, 30).await?;
    let ids = list.iter().filter_map(|c| c.app_id).chain(recent.iter().filter_map(|d| d.app_id));
    let names: HashMap<i64, String> = crate::overview::app_names(db, ids).await?;
    let channel_names: HashMap<i64, String> = list.iter().map(|c| (c.id, c.name.clone())).collect();
    let channels = list
        .into_iter()
        .map(|c| ChannelRow {
            id: c.id,
            name: c.name.clone(),
            kind: c.kind.as_str(),
            app: c.app_id.and_then(|id| names.get(&id).cloned()).unwrap_or_default(),
            target: c.target(),
            events: {
                let mut said: Vec<String> = c.events().iter().map(|e| page.t.of("notify.event_name", e)).collect();
                if c.policy.summary != crate::notify::policy::Summary::Off {
                    said.push(page.t.fill(
                        &format!("notify.summary_at.{}", c.policy.summary.as_str()),
                        &[("hour", &format!("{:02}:00", c.policy.summary_hour)), ("zone", &c.policy.time_zone)],
                    ));
                }
                if !c.policy.tags.is_empty() {
                    said.push(page.t.fill("notify.tags_only", &[("tags", &c.policy.tags.join(", "))]));
                }
                said.push(c.policy.language.code().to_owned());
                said.join(", ")
            },
            enabled: c.enabled,
        })
        .collect();
    let deliveries = recent
        .into_iter()
        .map(|d| DeliveryRow {
            channel: channel_names.get(&d.channel_id).cloned().unwrap_or_default(),
            event: page.t.of("notify.event_name", &d.event),
            status_text: page.t.of("notify.delivery", &d.status),
            app: d.app_id.and_then(|id| names.get(&id).cloned()).unwrap_or_default(),
            run_id: d.run_id,
            status: d.status,
            attempts: d.attempts,
            // What went wrong is still stored as English sentences (and the service's own
            // words): shown as such, marked as not in the page's language.
            error: d.last_error.map(|e| crate::catalogue::Said::English(e).html(page.t.lang)).unwrap_or_default(),
            created: format::time(d.created_at),
        })
        .collect();
    let Form { kind, input, errors, editing } = form;
    render(&NotificationsPage { page, channels, deliveries, kind: kind.as_str(), input, errors, result, editing })
}

fn default_input(app: Option<String>, page: &Page) -> ChannelInput {
    ChannelInput {
        app: app.unwrap_or_default(),
        on_failure: Some("on".into()),
        on_recovery: Some("on".into()),
        on_stale: Some("on".into()),
        on_drill: Some("on".into()),
        summary_hour: "8".into(),
        language: page.t.lang.code().into(),
        time_zone: "UTC".into(),
        ..Default::default()
    }
}

/// GET /notifications.
pub async fn page(State(web): State<Web>, page: Page, Query(q): Query<FormQuery>) -> Result<Html<String>, PageError> {
    let kind = q.kind.as_deref().and_then(Kind::parse).unwrap_or(Kind::Webhook);
    let form = Form::add(kind, default_input(q.app, &page));
    notifications_page(&web, page, form, None).await
}

/// The add-channel form.
#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(flatten)]
    input: ChannelInput,
}

/// POST /notifications.
pub async fn create(
    State(web): State<Web>,
    page: Page,
    CheckedForm(form): CheckedForm<CreateForm>,
) -> Result<Response, PageError> {
    let input = form.input;
    let db = &web.ctx.db;
    let app_id = channel::app_id_named(db, &input.app).await?;
    let kind = Kind::parse(input.kind.trim()).unwrap_or(Kind::Webhook);
    match input.validate(app_id, None) {
        Ok(valid) => {
            let id = channel::create(db, web.ctx.notifier.secrets(), valid).await?;
            crate::audit::record_said(
                db,
                &page.user,
                "notification.create",
                Some(input.name.trim()),
                &crate::catalogue::Msg::new("audit_detail.channel").with("id", id).with("kind", kind.as_str()),
            )
            .await;
            Ok(Redirect::to("/notifications").into_response())
        }
        Err(errors) => {
            // Secrets typed are not echoed back into the page.
            let input = input.without_secrets();
            let form = Form { kind, input, errors, editing: None };
            let html = notifications_page(&web, page, form, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
    }
}

async fn found(web: &Web, id: i64) -> Result<channel::Channel, PageError> {
    channel::get(&web.ctx.db, id)
        .await?
        .ok_or_else(|| PageError::NotFound(crate::catalogue::Msg::new("missing.channel").with("id", id).into()))
}

fn editing(web: &Web, c: &channel::Channel) -> Result<Editing, PageError> {
    let set = c.secrets_set(web.ctx.notifier.secrets()).map_err(|e| PageError::Internal(e.to_string()))?;
    Ok(Editing {
        id: c.id,
        name: c.name.clone(),
        kind: c.kind.as_str(),
        kept: set.into_iter().filter_map(|(field, on)| on.then_some(field)).collect(),
    })
}

/// GET /notifications/{id}/edit: the form filled in with everything but the secrets
/// (`?kind=` switches the channel to another kind; its secrets must then be given again).
pub async fn edit_form(
    State(web): State<Web>,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<FormQuery>,
) -> Result<Html<String>, PageError> {
    let c = found(&web, id).await?;
    let app = match c.app_id {
        Some(app_id) => {
            crate::overview::app_names(&web.ctx.db, [app_id].into_iter()).await?.remove(&app_id).unwrap_or_default()
        }
        None => String::new(),
    };
    let mut input = ChannelInput::of(&c, app);
    let kind = q.kind.as_deref().and_then(Kind::parse).unwrap_or(c.kind);
    input.kind = kind.as_str().to_owned();
    let form = Form { kind, input, errors: FieldErrors::new(), editing: Some(editing(&web, &c)?) };
    notifications_page(&web, page, form, None).await
}

/// POST /notifications/{id}/edit: a secret field left empty keeps the stored value.
pub async fn edit(
    State(web): State<Web>,
    page: Page,
    Path(id): Path<i64>,
    CheckedForm(form): CheckedForm<CreateForm>,
) -> Result<Response, PageError> {
    let input = form.input;
    let db = &web.ctx.db;
    let c = found(&web, id).await?;
    let app_id = channel::app_id_named(db, &input.app).await?;
    let kind = Kind::parse(input.kind.trim()).unwrap_or(c.kind);
    let kept = if kind == c.kind {
        Some(c.secret(web.ctx.notifier.secrets()).map_err(|e| PageError::Internal(e.to_string()))?)
    } else {
        None
    };
    match input.validate(app_id, kept.as_ref()) {
        Ok(valid) => {
            channel::update(db, web.ctx.notifier.secrets(), id, valid).await?;
            crate::audit::record_said(
                db,
                &page.user,
                "notification.update",
                Some(input.name.trim()),
                &crate::catalogue::Msg::new("audit_detail.channel").with("id", id).with("kind", kind.as_str()),
            )
            .await;
            Ok(Redirect::to("/notifications").into_response())
        }
        Err(errors) => {
            let input = input.without_secrets();
            let form = Form { kind, input, errors, editing: Some(editing(&web, &c)?) };
            let html = notifications_page(&web, page, form, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
    }
}

/// POST /notifications/{id}/test.
pub async fn test(
    State(web): State<Web>,
    page: Page,
    Path(id): Path<i64>,
    _: CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    let found = found(&web, id).await?;
    let (result, detail) = match web.ctx.notifier.send_test(id).await {
        Ok(()) => (
            (true, Msg::new("notify.test_sent").with("name", &found.name).render_html(page.t.lang)),
            Msg::new("audit_detail.test_sent"),
        ),
        Err(e) => (
            (
                false,
                Msg::new("notify.test_failed")
                    .with("name", &found.name)
                    .with_said("error", e.to_string().into())
                    .render_html(page.t.lang),
            ),
            Msg::new("audit_detail.test_not_sent").quoting("detail", e),
        ),
    };
    crate::audit::record_said(&web.ctx.db, &page.user, "notification.test", Some(&found.name), &detail).await;
    let form = Form::add(Kind::Webhook, default_input(None, &page));
    let html = notifications_page(&web, page, form, Some(result)).await?;
    Ok(html.into_response())
}

async fn set_enabled(web: &Web, page: &Page, id: i64, enabled: bool) -> Result<Response, PageError> {
    if !channel::set_enabled(&web.ctx.db, id, enabled).await? {
        return Err(PageError::NotFound(crate::catalogue::Msg::new("missing.channel").with("id", id).into()));
    }
    let action = if enabled { "notification.resume" } else { "notification.pause" };
    crate::audit::record(&web.ctx.db, &page.user, action, Some(&format!("channel {id}")), None).await;
    Ok(Redirect::to("/notifications").into_response())
}

/// POST /notifications/{id}/pause.
pub async fn pause(
    State(web): State<Web>,
    page: Page,
    Path(id): Path<i64>,
    _: CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    set_enabled(&web, &page, id, false).await
}

/// POST /notifications/{id}/resume.
pub async fn resume(
    State(web): State<Web>,
    page: Page,
    Path(id): Path<i64>,
    _: CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    set_enabled(&web, &page, id, true).await
}

/// POST /notifications/{id}/delete.
pub async fn delete(
    State(web): State<Web>,
    page: Page,
    Path(id): Path<i64>,
    _: CheckedForm<NoFields>,
) -> Result<Response, PageError> {
    let found = found(&web, id).await?;
    channel::delete(&web.ctx.db, id).await?;
    crate::audit::record(&web.ctx.db, &page.user, "notification.delete", Some(&found.name), None).await;
    Ok(Redirect::to("/notifications").into_response())
}
