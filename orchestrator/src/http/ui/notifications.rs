//! Notifications: channels (webhook, email, pings), global or for one app; add, pause, delete,
//! "Send a test notification"; and the latest deliveries with their outcome.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

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
    /// webhook | email | ping.
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
    /// Attempts.
    pub attempts: i32,
    /// Why the last attempt failed.
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
    result: Option<(bool, String)>,
}

impl NotificationsPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }

    fn checked(&self, value: &Option<String>) -> bool {
        value.is_some()
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

async fn notifications_page(
    web: &Web,
    page: Page,
    kind: Kind,
    input: ChannelInput,
    errors: FieldErrors,
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
            target: match c.kind {
                Kind::Email => format!("{} via {}", c.config.to.join(", "), c.config.host),
                _ => c.config.host.clone(),
            },
            events: c.events().join(", "),
            enabled: c.enabled,
        })
        .collect();
    let deliveries = recent
        .into_iter()
        .map(|d| DeliveryRow {
            channel: channel_names.get(&d.channel_id).cloned().unwrap_or_default(),
            event: d.event,
            app: d.app_id.and_then(|id| names.get(&id).cloned()).unwrap_or_default(),
            run_id: d.run_id,
            status: d.status,
            attempts: d.attempts,
            error: d.last_error.unwrap_or_default(),
            created: format::time(d.created_at),
        })
        .collect();
    render(&NotificationsPage { page, channels, deliveries, kind: kind.as_str(), input, errors, result })
}

fn default_input(app: Option<String>) -> ChannelInput {
    ChannelInput {
        app: app.unwrap_or_default(),
        on_failure: Some("on".into()),
        on_recovery: Some("on".into()),
        on_stale: Some("on".into()),
        ..Default::default()
    }
}

/// GET /notifications.
pub async fn page(State(web): State<Web>, page: Page, Query(q): Query<FormQuery>) -> Result<Html<String>, PageError> {
    let kind = q.kind.as_deref().and_then(Kind::parse).unwrap_or(Kind::Webhook);
    notifications_page(&web, page, kind, default_input(q.app), FieldErrors::new(), None).await
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
    let app_id = match input.app.trim() {
        "" => None,
        name => {
            use crate::db::entities::app;
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            app::Entity::find().filter(app::Column::Name.eq(name)).one(db).await?.map(|a| a.id)
        }
    };
    let kind = Kind::parse(input.kind.trim()).unwrap_or(Kind::Webhook);
    match input.validate(app_id) {
        Ok(valid) => {
            let id = channel::create(db, web.ctx.notifier.secrets(), valid).await?;
            crate::audit::record(
                db,
                &page.user,
                "notification.create",
                Some(input.name.trim()),
                Some(&format!("channel {id}, {}", kind.as_str())),
            )
            .await;
            Ok(Redirect::to("/notifications").into_response())
        }
        Err(errors) => {
            // Secrets typed are not echoed back into the page.
            let input = ChannelInput { signing_secret: None, smtp_password: None, ..input };
            let html = notifications_page(&web, page, kind, input, errors, None).await?;
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
    let found = channel::get(&web.ctx.db, id).await?.ok_or_else(|| PageError::NotFound(format!("no channel {id}")))?;
    let result = match web.ctx.notifier.send_test(id).await {
        Ok(()) => (true, page.t.fill("notify.test_sent", [("name", found.name.as_str())].as_slice())),
        Err(e) => (
            false,
            page.t.fill(
                "notify.test_failed",
                [("name", found.name.as_str()), ("error", e.to_string().as_str())].as_slice(),
            ),
        ),
    };
    crate::audit::record(&web.ctx.db, &page.user, "notification.test", Some(&found.name), Some(&result.1)).await;
    let html =
        notifications_page(&web, page, Kind::Webhook, default_input(None), FieldErrors::new(), Some(result)).await?;
    Ok(html.into_response())
}

async fn set_enabled(web: &Web, page: &Page, id: i64, enabled: bool) -> Result<Response, PageError> {
    if !channel::set_enabled(&web.ctx.db, id, enabled).await? {
        return Err(PageError::NotFound(format!("no channel {id}")));
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
    let found = channel::get(&web.ctx.db, id).await?.ok_or_else(|| PageError::NotFound(format!("no channel {id}")))?;
    channel::delete(&web.ctx.db, id).await?;
    crate::audit::record(&web.ctx.db, &page.user, "notification.delete", Some(&found.name), None).await;
    Ok(Redirect::to("/notifications").into_response())
}
