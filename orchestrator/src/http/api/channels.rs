//! `/api/v1/notification-channels`: notification channels' CRUD and their test. Secrets are
//! write-only: answers say only whether each is set, and a PATCH without one keeps it.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use schemars::JsonSchema;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::catalogue::Msg;
use crate::http::api::apps::JsonBody;
use crate::http::api::error::ApiError;
use crate::http::auth::api_token::ApiCaller;
use crate::http::format::rfc3339;
use crate::http::state::Web;
use crate::notify::channel::{self, Channel, ChannelInput, FieldErrors, Kind};
use crate::registry::input::FieldError;

/// The events a channel (but a ping) can be told.
const EVENTS: [&str; 5] = ["failure", "recovery", "stale", "drill", "restore"];

/// A channel to add, or the fields of one to change (a field left out keeps its value; a secret
/// left out or empty keeps the stored one).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelBody {
    /// 1 to 80 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// webhook | email | ping | slack | teams | discord | telegram | ntfy | gotify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The one app it is about; "" = every app (pings need an app).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// false = paused (told nothing). A new channel is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// What it is told: failure (once per failing streak, then reminders), recovery, stale,
    /// drill (failed, refused, overdue), restore (started, succeeded, failed, cancelled). At
    /// least one, or a summary; pings hear every run. A new channel hears failure, recovery,
    /// stale and drill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// Only the apps carrying one of these tags (empty: every app, or its one app).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// none | daily | weekly (Mondays): a summary of its apps at `summary_hour`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The summary's hour, 0 to 23, in `time_zone` (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_hour: Option<u8>,
    /// en | es: the language it is told in (default en).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The IANA zone of its summary hour (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Webhook, Slack, Teams (a Workflows URL), Discord: the http(s) URL it POSTs to. Secret:
    /// write-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Webhook: the HMAC-SHA256 signing secret, 16 to 256 characters. Secret: write-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
    /// Email: the SMTP server's host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_host: Option<String>,
    /// Email: the SMTP port (default: 587 for starttls, 465 for tls, 25 for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_port: Option<u16>,
    /// Email: starttls | tls | none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_tls: Option<String>,
    /// Email: the SMTP user name ("" = no sign-in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_username: Option<String>,
    /// Email: the SMTP password. Secret: write-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_password: Option<String>,
    /// Email: the sender address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_from: Option<String>,
    /// Email: 1 to 50 recipient addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_to: Option<Vec<String>>,
    /// Ping: the URL pinged when a run starts. Secret: write-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping_start: Option<String>,
    /// Ping: the URL pinged when a run succeeds. Secret: write-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping_success: Option<String>,
    /// Ping: the URL pinged when a run fails for good. Secret: write-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping_fail: Option<String>,
    /// Telegram: the bot's token from @BotFather (`123456789:AA...`). Secret: write-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram_bot_token: Option<String>,
    /// Telegram: the chat's id (negative for groups and channels) or a channel's `@username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram_chat_id: Option<String>,
    /// Telegram: the Bot API server ("" = https://api.telegram.org).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram_api_url: Option<String>,
    /// ntfy: the server ("" = https://ntfy.sh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntfy_server: Option<String>,
    /// ntfy: the topic, 1 to 64 letters, digits, `_` or `-`. Secret: write-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntfy_topic: Option<String>,
    /// ntfy: an access token, sent as `Authorization: Bearer` (none = anonymous). Secret:
    /// write-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntfy_token: Option<String>,
    /// Gotify: the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gotify_server: Option<String>,
    /// Gotify: the application's token, sent as `X-Gotify-Key`. Secret: write-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gotify_token: Option<String>,
}

/// A channel as the API shows it: never a secret, only whether each is set.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChannelView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// webhook | email | ping | slack | teams | discord | telegram | ntfy | gotify.
    pub kind: String,
    /// The one app it is about; `null` = every app.
    pub app: Option<String>,
    /// false = paused.
    pub enabled: bool,
    /// What it is told (pings: start, success, fail).
    pub events: Vec<String>,
    /// Only the apps carrying one of these tags (empty: every app, or its one app).
    pub tags: Vec<String>,
    /// none | daily | weekly.
    pub summary: String,
    /// The summary's hour, in `time_zone`.
    pub summary_hour: u8,
    /// en | es.
    pub language: String,
    /// The zone of its summary hour.
    pub time_zone: String,
    /// Where it goes: the host (a URL is secret), the recipients and the SMTP host, or the
    /// Telegram chat and the Bot API's host.
    pub target: String,
    /// Email: the SMTP host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_host: Option<String>,
    /// Email: the SMTP port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_port: Option<u16>,
    /// Email: starttls | tls | none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_tls: Option<String>,
    /// Email: the SMTP user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_username: Option<String>,
    /// Email: the sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_from: Option<String>,
    /// Email: the recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email_to: Vec<String>,
    /// Telegram: the chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram_chat_id: Option<String>,
    /// Telegram: the Bot API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram_api_url: Option<String>,
    /// ntfy: the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntfy_server: Option<String>,
    /// Gotify: the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gotify_server: Option<String>,
    /// The kind's secrets (`url`, `signing_secret`, `smtp_password`, `ping_start`,
    /// `telegram_bot_token`, `ntfy_topic`, `ntfy_token`, `gotify_token`, ...): whether each is
    /// set. Their values are never returned.
    pub secrets: BTreeMap<String, bool>,
    /// When it was added (RFC 3339).
    pub created_at: String,
    /// When it was last changed (RFC 3339).
    pub updated_at: String,
}

/// What a test notification did.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChannelTestView {
    /// The receiver accepted it (a 2xx answer, or the SMTP server took the message).
    pub sent: bool,
    /// Why it was not sent: the receiver's answer, or why it could not be reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

fn invalid(errors: FieldErrors) -> ApiError {
    ApiError::Invalid(errors.into_iter().map(|(field, message)| FieldError::new(field, message)).collect())
}

async fn view(web: &Web, c: &Channel) -> Result<ChannelView, ApiError> {
    let app = match c.app_id {
        Some(id) => crate::overview::app_names(&web.ctx.db, [id].into_iter()).await?.remove(&id),
        None => None,
    };
    let secrets = c.secrets_set(web.ctx.notifier.secrets()).map_err(internal)?;
    let email = c.kind == Kind::Email;
    let config = &c.config;
    let server = |kind: Kind| config.server.clone().filter(|_| c.kind == kind);
    Ok(ChannelView {
        id: c.id,
        name: c.name.clone(),
        kind: c.kind.as_str().to_owned(),
        app,
        enabled: c.enabled,
        events: c.events().into_iter().map(str::to_owned).collect(),
        tags: c.policy.tags.clone(),
        summary: match c.policy.summary.as_str() {
            "" => "none".to_owned(),
            word => word.to_owned(),
        },
        summary_hour: c.policy.summary_hour,
        language: c.policy.language.code().to_owned(),
        time_zone: c.policy.time_zone.clone(),
        target: c.target(),
        smtp_host: email.then(|| config.host.clone()),
        smtp_port: config.port.filter(|_| email),
        smtp_tls: config.tls.filter(|_| email).map(|t| t.as_str().to_owned()),
        smtp_username: config.username.clone(),
        email_from: config.from.clone(),
        email_to: config.to.clone(),
        telegram_chat_id: config.chat_id.clone(),
        telegram_api_url: server(Kind::Telegram),
        ntfy_server: server(Kind::Ntfy),
        gotify_server: server(Kind::Gotify),
        secrets: secrets.into_iter().map(|(field, set)| (field.to_owned(), set)).collect(),
        created_at: rfc3339(c.created_at),
        updated_at: rfc3339(c.updated_at),
    })
}

impl ChannelBody {
    /// Lays the fields given over `input` (a new channel's defaults, or the channel edited).
    fn apply(self, input: &mut ChannelInput) -> Result<(), ApiError> {
        let set = |target: &mut String, value: Option<String>| {
            if let Some(v) = value {
                *target = v;
            }
        };
        set(&mut input.name, self.name);
        set(&mut input.kind, self.kind);
        set(&mut input.app, self.app);
        set(&mut input.url, self.url);
        set(&mut input.smtp_host, self.smtp_host);
        set(&mut input.smtp_port, self.smtp_port.map(|p| p.to_string()));
        set(&mut input.smtp_tls, self.smtp_tls);
        set(&mut input.smtp_username, self.smtp_username);
        set(&mut input.email_from, self.email_from);
        set(&mut input.email_to, self.email_to.map(|to| to.join(", ")));
        set(&mut input.ping_start, self.ping_start);
        set(&mut input.ping_success, self.ping_success);
        set(&mut input.ping_fail, self.ping_fail);
        set(&mut input.tags, self.tags.map(|tags| tags.join(", ")));
        set(&mut input.summary, self.summary);
        set(&mut input.summary_hour, self.summary_hour.map(|h| h.to_string()));
        set(&mut input.language, self.language);
        set(&mut input.time_zone, self.time_zone);
        set(&mut input.telegram_chat_id, self.telegram_chat_id);
        set(&mut input.telegram_api_url, self.telegram_api_url);
        set(&mut input.ntfy_server, self.ntfy_server);
        set(&mut input.gotify_server, self.gotify_server);
        let secret = |target: &mut Option<SecretString>, value: Option<String>| {
            if let Some(v) = value {
                *target = Some(SecretString::from(v));
            }
        };
        secret(&mut input.signing_secret, self.signing_secret);
        secret(&mut input.smtp_password, self.smtp_password);
        secret(&mut input.telegram_bot_token, self.telegram_bot_token);
        secret(&mut input.ntfy_topic, self.ntfy_topic);
        secret(&mut input.ntfy_token, self.ntfy_token);
        secret(&mut input.gotify_token, self.gotify_token);
        if let Some(events) = self.events {
            if let Some(bad) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
                return Err(ApiError::Invalid(vec![FieldError::new(
                    "events",
                    Msg::new("field.events.unknown").with("given", bad),
                )]));
            }
            let on = |name: &str| events.iter().any(|e| e == name).then(|| "on".to_owned());
            input.on_failure = on("failure");
            input.on_recovery = on("recovery");
            input.on_stale = on("stale");
            input.on_drill = on("drill");
            input.on_restore = on("restore");
        }
        Ok(())
    }
}

async fn found(web: &Web, id: i64) -> Result<Channel, ApiError> {
    channel::get(&web.ctx.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found(crate::catalogue::Msg::new("missing.channel").with("id", id)))
}

/// GET /api/v1/notification-channels: global channels first.
pub async fn list(State(web): State<Web>, _c: ApiCaller) -> Result<Json<Vec<ChannelView>>, ApiError> {
    let mut out = Vec::new();
    for c in channel::list(&web.ctx.db).await? {
        out.push(view(&web, &c).await?);
    }
    Ok(Json(out))
}

/// GET /api/v1/notification-channels/{id}.
pub async fn show(State(web): State<Web>, _c: ApiCaller, Path(id): Path<i64>) -> Result<Json<ChannelView>, ApiError> {
    let c = found(&web, id).await?;
    Ok(Json(view(&web, &c).await?))
}

/// POST /api/v1/notification-channels.
pub async fn create(
    State(web): State<Web>,
    c: ApiCaller,
    JsonBody(body): JsonBody<ChannelBody>,
) -> Result<Response, ApiError> {
    let db = &web.ctx.db;
    let enabled = body.enabled;
    let mut input = ChannelInput {
        on_failure: Some("on".into()),
        on_recovery: Some("on".into()),
        on_stale: Some("on".into()),
        on_drill: Some("on".into()),
        ..Default::default()
    };
    body.apply(&mut input)?;
    let app_id = channel::app_id_named(db, &input.app).await?;
    let valid = input.validate(app_id, None).map_err(invalid)?;
    let kind = valid.kind();
    let id = channel::create(db, web.ctx.notifier.secrets(), valid).await?;
    if enabled == Some(false) {
        channel::set_enabled(db, id, false).await?;
    }
    crate::audit::record_said(
        db,
        &c.actor,
        "notification.create",
        Some(input.name.trim()),
        &Msg::new("audit_detail.channel").with("id", id).with("kind", kind.as_str()),
    )
    .await;
    let added = found(&web, id).await?;
    Ok((StatusCode::CREATED, Json(view(&web, &added).await?)).into_response())
}

/// PATCH /api/v1/notification-channels/{id}: the fields given change, the others stay.
pub async fn update(
    State(web): State<Web>,
    c: ApiCaller,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<ChannelBody>,
) -> Result<Json<ChannelView>, ApiError> {
    let db = &web.ctx.db;
    let current = found(&web, id).await?;
    let app = match current.app_id {
        Some(app_id) => crate::overview::app_names(db, [app_id].into_iter()).await?.remove(&app_id).unwrap_or_default(),
        None => String::new(),
    };
    let enabled = body.enabled;
    let mut input = ChannelInput::of(&current, app);
    body.apply(&mut input)?;
    let app_id = channel::app_id_named(db, &input.app).await?;
    // Secrets are kept only while the kind stays: another kind's secrets must be given.
    let kept = match Kind::parse(input.kind.trim()) {
        Some(kind) if kind == current.kind => Some(current.secret(web.ctx.notifier.secrets()).map_err(internal)?),
        _ => None,
    };
    let valid = input.validate(app_id, kept.as_ref()).map_err(invalid)?;
    let kind = valid.kind();
    channel::update(db, web.ctx.notifier.secrets(), id, valid).await?;
    if let Some(enabled) = enabled {
        channel::set_enabled(db, id, enabled).await?;
    }
    crate::audit::record_said(
        db,
        &c.actor,
        "notification.update",
        Some(input.name.trim()),
        &Msg::new("audit_detail.channel").with("id", id).with("kind", kind.as_str()),
    )
    .await;
    let changed = found(&web, id).await?;
    Ok(Json(view(&web, &changed).await?))
}

/// DELETE /api/v1/notification-channels/{id}: the channel and its deliveries.
pub async fn delete(State(web): State<Web>, c: ApiCaller, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    let current = found(&web, id).await?;
    channel::delete(&web.ctx.db, id).await?;
    crate::audit::record(&web.ctx.db, &c.actor, "notification.delete", Some(&current.name), None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// POST /api/v1/notification-channels/{id}/test: sends a test notification now (one attempt,
/// through the same code as real ones) and answers what happened.
pub async fn test(
    State(web): State<Web>,
    c: ApiCaller,
    Path(id): Path<i64>,
) -> Result<Json<ChannelTestView>, ApiError> {
    use crate::notify::outbox::TestError;
    let current = found(&web, id).await?;
    let answer = match web.ctx.notifier.send_test(id).await {
        Ok(()) => ChannelTestView { sent: true, error: None },
        Err(TestError::NoChannel) => {
            return Err(ApiError::not_found(crate::catalogue::Msg::new("missing.channel").with("id", id)));
        }
        Err(TestError::Db(e)) => return Err(e.into()),
        Err(TestError::NotSent(error)) => ChannelTestView { sent: false, error: Some(error) },
    };
    let detail = match &answer.error {
        None => crate::catalogue::Msg::new("audit_detail.test_sent"),
        Some(e) => crate::catalogue::Msg::new("audit_detail.test_not_sent").quoting("detail", e),
    };
    crate::audit::record_said(&web.ctx.db, &c.actor, "notification.test", Some(&current.name), &detail).await;
    Ok(Json(answer))
}
