//! Channels: where notifications go. What a channel needs in clear (an SMTP host, the
//! recipients) is kept as JSON; what would let someone else send or read (a webhook's URL and
//! signing secret, an SMTP password, ping URLs) is sealed with `SECRET_KEY` like app tokens.

use std::collections::BTreeMap;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::policy::{Policy, PolicyInput, Summary};
use crate::catalogue::Lang;
use crate::db::entities::notification_channel;
use crate::secrets::SecretBox;

/// How a channel delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An HTTP POST of a JSON document, signed with HMAC-SHA256.
    Webhook,
    /// An email over SMTP.
    Email,
    /// Healthchecks-style pings: a URL at the start, on success and on failure of every run.
    Ping,
}

impl Kind {
    /// As stored and in forms.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Email => "email",
            Kind::Ping => "ping",
        }
    }

    /// From a form or the database.
    pub fn parse(text: &str) -> Option<Kind> {
        match text {
            "webhook" => Some(Kind::Webhook),
            "email" => Some(Kind::Email),
            "ping" => Some(Kind::Ping),
            _ => None,
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// STARTTLS, required (usually port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
    /// No encryption: only for a relay on a trusted network (port 25).
    None,
}

impl Tls {
    /// As stored and in forms.
    pub fn as_str(self) -> &'static str {
        match self {
            Tls::Starttls => "starttls",
            Tls::Tls => "tls",
            Tls::None => "none",
        }
    }
}

/// What a channel keeps in clear.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Config {
    /// The host notifications go to (webhook and ping: shown, the URL itself is sealed).
    #[serde(default)]
    pub host: String,
    /// SMTP port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// SMTP protection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// SMTP user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The sender address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
}

/// What a channel keeps sealed.
#[derive(Default, Serialize, Deserialize)]
pub struct Secret {
    /// The webhook URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The webhook's HMAC signing secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
    /// The SMTP password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Ping URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_url: Option<String>,
    /// Ping URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_url: Option<String>,
    /// Ping URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_url: Option<String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A channel as read, its secret still sealed.
#[derive(Debug, Clone)]
pub struct Channel {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// The one app it is for, or every app.
    pub app_id: Option<i64>,
    /// What is kept in clear.
    pub config: Config,
    /// Events.
    pub on_failure: bool,
    /// Events.
    pub on_recovery: bool,
    /// Events.
    pub on_stale: bool,
    /// Paused channels are told nothing.
    pub enabled: bool,
    /// When it was added (ms).
    pub created_at: i64,
    /// When it was last changed (ms).
    pub updated_at: i64,
    /// Drill and restore events, its apps' tags, its summary, language and zone.
    pub policy: Policy,
    /// The day or week whose summary was last sent.
    pub summary_sent_for: Option<String>,
    sealed: Option<String>,
}

impl Channel {
    fn from_row(row: notification_channel::Model) -> Channel {
        Channel {
            id: row.id,
            name: row.name,
            kind: Kind::parse(&row.kind).unwrap_or(Kind::Webhook),
            app_id: row.app_id,
            config: serde_json::from_str(&row.config).unwrap_or_default(),
            on_failure: row.on_failure,
            on_recovery: row.on_recovery,
            on_stale: row.on_stale,
            enabled: row.enabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
            policy: Policy {
                on_drill: row.on_drill,
                on_restore: row.on_restore,
                summary: Summary::parse(&row.summary).unwrap_or_default(),
                summary_hour: row.summary_hour.clamp(0, 23) as u8,
                language: Lang::parse(&row.language).unwrap_or(Lang::En),
                time_zone: row.time_zone,
                tags: crate::registry::labels::parse_stored(&row.tags),
            },
            summary_sent_for: row.summary_sent_for,
            sealed: row.secret_encrypted,
        }
    }

    /// Opens the sealed part.
    pub fn secret(&self, secrets: &SecretBox) -> Result<Secret, crate::secrets::SecretError> {
        let Some(sealed) = &self.sealed else { return Ok(Secret::default()) };
        let plain = secrets.open(sealed)?;
        serde_json::from_str(plain.expose_secret())
            .map_err(|e| format!("a stored channel secret is unreadable: {e}").into())
    }

    /// The kind's secret fields (by their form and API names), and whether each is stored.
    /// Their values are never shown: a form left empty keeps them.
    pub fn secrets_set(&self, secrets: &SecretBox) -> Result<Vec<(&'static str, bool)>, crate::secrets::SecretError> {
        let secret = self.secret(secrets)?;
        Ok(match self.kind {
            Kind::Webhook => vec![("url", secret.url.is_some()), ("signing_secret", secret.signing_secret.is_some())],
            Kind::Email => vec![("smtp_password", secret.password.is_some())],
            Kind::Ping => vec![
                ("ping_start", secret.start_url.is_some()),
                ("ping_success", secret.success_url.is_some()),
                ("ping_fail", secret.fail_url.is_some()),
            ],
        })
    }

    /// The events it is told, for lists.
    pub fn events(&self) -> Vec<&'static str> {
        if self.kind == Kind::Ping {
            return vec!["start", "success", "fail"];
        }
        [
            (self.on_failure, "failure"),
            (self.on_recovery, "recovery"),
            (self.on_stale, "stale"),
            (self.policy.on_drill, "drill"),
            (self.policy.on_restore, "restore"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

/// A channel as a form or the API sends it, before validation.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChannelInput {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// webhook | email | ping.
    #[serde(default)]
    pub kind: String,
    /// The app's name; empty = every app.
    #[serde(default)]
    pub app: String,
    /// Events (checkboxes: present = on).
    #[serde(default)]
    pub on_failure: Option<String>,
    /// Events.
    #[serde(default)]
    pub on_recovery: Option<String>,
    /// Events.
    #[serde(default)]
    pub on_stale: Option<String>,
    /// Events: drills failed, refused or overdue.
    #[serde(default)]
    pub on_drill: Option<String>,
    /// Events: restores started, done or failed.
    #[serde(default)]
    pub on_restore: Option<String>,
    /// "" | daily | weekly.
    #[serde(default)]
    pub summary: String,
    /// The summary's hour, 0 to 23 (empty: 8).
    #[serde(default)]
    pub summary_hour: String,
    /// en | es.
    #[serde(default)]
    pub language: String,
    /// The zone of the summary hour (empty: UTC).
    #[serde(default)]
    pub time_zone: String,
    /// Only apps carrying one of these tags (empty: every app).
    #[serde(default)]
    pub tags: String,
    /// Webhook URL.
    #[serde(default)]
    pub url: String,
    /// Webhook signing secret.
    #[serde(default)]
    pub signing_secret: Option<SecretString>,
    /// SMTP host.
    #[serde(default)]
    pub smtp_host: String,
    /// SMTP port (empty = the usual one for the protection).
    #[serde(default)]
    pub smtp_port: String,
    /// starttls | tls | none.
    #[serde(default)]
    pub smtp_tls: String,
    /// SMTP user name (empty = no authentication).
    #[serde(default)]
    pub smtp_username: String,
    /// SMTP password.
    #[serde(default)]
    pub smtp_password: Option<SecretString>,
    /// Sender.
    #[serde(default)]
    pub email_from: String,
    /// Recipients, separated by commas or spaces.
    #[serde(default)]
    pub email_to: String,
    /// Ping URL at the start of a run.
    #[serde(default)]
    pub ping_start: String,
    /// Ping URL on success.
    #[serde(default)]
    pub ping_success: String,
    /// Ping URL on failure.
    #[serde(default)]
    pub ping_fail: String,
}

impl ChannelInput {
    /// The form of an existing channel, to edit it: every field in clear is filled in, the
    /// secret ones are left empty (empty keeps what is stored). `app` is its app's name.
    pub fn of(channel: &Channel, app: String) -> ChannelInput {
        let on = |b: bool| b.then(|| "on".to_owned());
        let c = &channel.config;
        let email = channel.kind == Kind::Email;
        ChannelInput {
            name: channel.name.clone(),
            kind: channel.kind.as_str().to_owned(),
            app,
            on_failure: on(channel.on_failure),
            on_recovery: on(channel.on_recovery),
            on_stale: on(channel.on_stale),
            on_drill: on(channel.policy.on_drill),
            on_restore: on(channel.policy.on_restore),
            summary: channel.policy.summary.as_str().to_owned(),
            summary_hour: channel.policy.summary_hour.to_string(),
            language: channel.policy.language.code().to_owned(),
            time_zone: channel.policy.time_zone.clone(),
            tags: channel.policy.tags.join(", "),
            smtp_host: if email { c.host.clone() } else { String::new() },
            smtp_port: c.port.map(|p| p.to_string()).unwrap_or_default(),
            smtp_tls: c.tls.map(|t| t.as_str().to_owned()).unwrap_or_default(),
            smtp_username: c.username.clone().unwrap_or_default(),
            email_from: c.from.clone().unwrap_or_default(),
            email_to: c.to.join(", "),
            ..Default::default()
        }
    }
}

/// Field errors, keyed by form field name.
pub type FieldErrors = BTreeMap<&'static str, String>;

fn check_url(field: &'static str, text: &str, required: bool, errors: &mut FieldErrors) -> Option<(String, String)> {
    let text = text.trim();
    if text.is_empty() {
        if required {
            errors.insert(field, "required: give an http(s) URL".into());
        }
        return None;
    }
    match reqwest::Url::parse(text) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => {
            Some((text.to_owned(), u.host_str().unwrap_or_default().to_owned()))
        }
        _ => {
            errors.insert(field, format!("{text:?} is not an http(s) URL, e.g. https://hooks.internal/backup"));
            None
        }
    }
}

/// As [`check_url`], but an empty field keeps the URL stored (`kept`), when there is one.
fn url_or_kept(
    field: &'static str,
    text: &str,
    required: bool,
    kept: &Option<String>,
    errors: &mut FieldErrors,
) -> Option<(String, String)> {
    match kept {
        Some(url) if text.trim().is_empty() => {
            let host = reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
            Some((url.clone(), host))
        }
        _ => check_url(field, text, required, errors),
    }
}

/// A secret typed in a form: `None` when the field was left empty.
fn typed(secret: &Option<SecretString>) -> Option<String> {
    secret.as_ref().map(|s| s.expose_secret().to_owned()).filter(|s| !s.trim().is_empty())
}

fn check_address(text: &str) -> bool {
    text.trim().parse::<lettre::Address>().is_ok()
}

/// A validated channel, ready to store.
pub struct Valid {
    name: String,
    kind: Kind,
    app_id: Option<i64>,
    config: Config,
    secret: Secret,
    on_failure: bool,
    on_recovery: bool,
    on_stale: bool,
    policy: Policy,
}

impl Valid {
    /// The kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }
}

impl ChannelInput {
    /// Checks every field; `app_id` is the id of the named app, looked up by the caller. When a
    /// channel of the same kind is edited, `kept` is its stored secret: a secret field left
    /// empty keeps its value, one typed replaces it.
    pub fn validate(&self, app_id: Option<i64>, kept: Option<&Secret>) -> Result<Valid, FieldErrors> {
        let nothing_kept = Secret::default();
        let kept = kept.unwrap_or(&nothing_kept);
        let mut errors = FieldErrors::new();
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
            errors.insert("name", "give a name of 1 to 80 characters, e.g. \"on-call webhook\"".into());
        }
        if !self.app.trim().is_empty() && app_id.is_none() {
            errors.insert("app", format!("there is no app named {:?}: pick one, or leave it empty for all", self.app));
        }
        let Some(kind) = Kind::parse(self.kind.trim()) else {
            errors.insert("kind", "choose webhook, email or ping".into());
            return Err(errors);
        };
        let (on_failure, on_recovery, on_stale) =
            (self.on_failure.is_some(), self.on_recovery.is_some(), self.on_stale.is_some());
        let policy = PolicyInput {
            on_drill: self.on_drill.is_some(),
            on_restore: self.on_restore.is_some(),
            summary: &self.summary,
            summary_hour: &self.summary_hour,
            language: &self.language,
            time_zone: &self.time_zone,
            tags: &self.tags,
        }
        .validate(&mut errors);
        let hears_something = on_failure
            || on_recovery
            || on_stale
            || policy.on_drill
            || policy.on_restore
            || policy.summary != Summary::Off;
        if kind != Kind::Ping && !hears_something {
            errors.insert(
                "events",
                "tick at least one event (failure, recovery, stale, drill, restore) or choose a summary".into(),
            );
        }
        let mut config = Config::default();
        let mut secret = Secret::default();
        match kind {
            Kind::Webhook => {
                if let Some((url, host)) = url_or_kept("url", &self.url, true, &kept.url, &mut errors) {
                    secret.url = Some(url);
                    config.host = host;
                }
                let signing = typed(&self.signing_secret).map(|s| s.trim().to_owned());
                match signing.or_else(|| kept.signing_secret.clone()) {
                    Some(s) if s.len() >= 16 && s.len() <= 256 => secret.signing_secret = Some(s),
                    _ => {
                        errors.insert(
                            "signing_secret",
                            "give a signing secret of 16 to 256 characters; the receiver checks X-Backup-Signature with it"
                                .into(),
                        );
                    }
                }
            }
            Kind::Email => {
                let host = self.smtp_host.trim();
                if host.is_empty() || host.contains(['/', ' ', ':']) {
                    errors.insert("smtp_host", "give the SMTP server's host name, e.g. smtp.internal".into());
                }
                config.host = host.to_owned();
                let tls = match self.smtp_tls.trim() {
                    "" | "starttls" => Tls::Starttls,
                    "tls" => Tls::Tls,
                    "none" => Tls::None,
                    other => {
                        errors.insert("smtp_tls", format!("{other:?}: choose starttls, tls or none"));
                        Tls::Starttls
                    }
                };
                config.tls = Some(tls);
                let port = match self.smtp_port.trim() {
                    "" => Some(match tls {
                        Tls::Starttls => 587,
                        Tls::Tls => 465,
                        Tls::None => 25,
                    }),
                    p => p.parse::<u16>().ok().filter(|p| *p > 0),
                };
                if port.is_none() {
                    errors.insert("smtp_port", format!("{:?} is not a port: use 1 to 65535", self.smtp_port));
                }
                config.port = port;
                let username = self.smtp_username.trim();
                if !username.is_empty() {
                    config.username = Some(username.to_owned());
                    match typed(&self.smtp_password).or_else(|| kept.password.clone()) {
                        Some(p) => secret.password = Some(p),
                        None => {
                            errors.insert("smtp_password", "give the password for this user name".into());
                        }
                    }
                }
                if !check_address(&self.email_from) {
                    errors.insert("email_from", format!("{:?} is not an email address", self.email_from));
                }
                config.from = Some(self.email_from.trim().to_owned());
                let to: Vec<String> = self
                    .email_to
                    .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if to.is_empty() || to.len() > 50 {
                    errors.insert("email_to", "give 1 to 50 recipient addresses, separated by commas".into());
                } else if let Some(bad) = to.iter().find(|a| !check_address(a)) {
                    errors.insert("email_to", format!("{bad:?} is not an email address"));
                }
                config.to = to;
            }
            Kind::Ping => {
                if app_id.is_none() && !errors.contains_key("app") {
                    errors.insert("app", "pings are for one app: pick it".into());
                }
                let start = url_or_kept("ping_start", &self.ping_start, false, &kept.start_url, &mut errors);
                let success = url_or_kept("ping_success", &self.ping_success, false, &kept.success_url, &mut errors);
                let fail = url_or_kept("ping_fail", &self.ping_fail, false, &kept.fail_url, &mut errors);
                if start.is_none()
                    && success.is_none()
                    && fail.is_none()
                    && !errors.keys().any(|k| k.starts_with("ping"))
                {
                    errors.insert(
                        "ping_success",
                        "give at least the success URL (for Healthchecks: the check's URL)".into(),
                    );
                }
                config.host =
                    [&start, &success, &fail].into_iter().flatten().map(|(_, h)| h.clone()).next().unwrap_or_default();
                secret.start_url = start.map(|(u, _)| u);
                secret.success_url = success.map(|(u, _)| u);
                secret.fail_url = fail.map(|(u, _)| u);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Valid { name, kind, app_id, config, secret, on_failure, on_recovery, on_stale, policy })
    }
}

/// The period whose summary counts as sent when a channel's summary is set: the current one
/// when its hour has already passed (a summary set at 15:00 for 08:00 starts tomorrow, not now),
/// none when the hour is this one or still to come today.
fn already_due(policy: &Policy) -> Option<String> {
    let now = jiff::Timestamp::now();
    let past = policy.summary.due_period(policy.summary_hour.saturating_add(1), &policy.zone(), now);
    past.filter(|_| policy.summary_hour < 23)
}

/// Stores a new channel; returns its id.
pub async fn create(db: &DatabaseConnection, secrets: &SecretBox, valid: Valid) -> Result<i64, sea_orm::DbErr> {
    let now = jiff::Timestamp::now().as_millisecond();
    let sealed = serde_json::to_string(&valid.secret).expect("a secret serializes");
    let row = notification_channel::ActiveModel {
        name: Set(valid.name),
        kind: Set(valid.kind.as_str().into()),
        app_id: Set(valid.app_id),
        config: Set(serde_json::to_string(&valid.config).expect("a config serializes")),
        secret_encrypted: Set(Some(secrets.seal(&SecretString::from(sealed)))),
        on_failure: Set(valid.on_failure),
        on_recovery: Set(valid.on_recovery),
        on_stale: Set(valid.on_stale),
        enabled: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        on_drill: Set(valid.policy.on_drill),
        on_restore: Set(valid.policy.on_restore),
        summary: Set(valid.policy.summary.as_str().into()),
        summary_hour: Set(valid.policy.summary_hour.into()),
        summary_sent_for: Set(already_due(&valid.policy)),
        language: Set(valid.policy.language.code().into()),
        time_zone: Set(valid.policy.time_zone.clone()),
        tags: Set(crate::registry::labels::stored(&valid.policy.tags)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row.id)
}

/// Replaces what a channel says and where it goes with `valid` (its pause stays as it is);
/// false when there is no such channel.
pub async fn update(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    id: i64,
    valid: Valid,
) -> Result<bool, sea_orm::DbErr> {
    let Some(stored) = notification_channel::Entity::find_by_id(id).one(db).await? else { return Ok(false) };
    let sealed = serde_json::to_string(&valid.secret).expect("a secret serializes");
    let mut row: notification_channel::ActiveModel = stored.clone().into();
    row.name = Set(valid.name);
    row.kind = Set(valid.kind.as_str().into());
    row.app_id = Set(valid.app_id);
    row.config = Set(serde_json::to_string(&valid.config).expect("a config serializes"));
    row.secret_encrypted = Set(Some(secrets.seal(&SecretString::from(sealed))));
    row.on_failure = Set(valid.on_failure);
    row.on_recovery = Set(valid.on_recovery);
    row.on_stale = Set(valid.on_stale);
    let summary_changed = stored.summary != valid.policy.summary.as_str()
        || stored.summary_hour != i32::from(valid.policy.summary_hour)
        || stored.time_zone != valid.policy.time_zone;
    if summary_changed {
        row.summary_sent_for = Set(already_due(&valid.policy));
    }
    row.on_drill = Set(valid.policy.on_drill);
    row.on_restore = Set(valid.policy.on_restore);
    row.summary = Set(valid.policy.summary.as_str().into());
    row.summary_hour = Set(valid.policy.summary_hour.into());
    row.language = Set(valid.policy.language.code().into());
    row.time_zone = Set(valid.policy.time_zone.clone());
    row.tags = Set(crate::registry::labels::stored(&valid.policy.tags));
    row.updated_at = Set(jiff::Timestamp::now().as_millisecond());
    row.update(db).await?;
    Ok(true)
}

/// The id of the app named `name` (trimmed); `Ok(None)` for an empty name or no such app.
pub async fn app_id_named(db: &DatabaseConnection, name: &str) -> Result<Option<i64>, sea_orm::DbErr> {
    use crate::db::entities::app;
    let name = name.trim();
    if name.is_empty() {
        return Ok(None);
    }
    Ok(app::Entity::find().filter(app::Column::Name.eq(name)).one(db).await?.map(|a| a.id))
}

/// Every channel, global ones first.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<Channel>, sea_orm::DbErr> {
    let rows = notification_channel::Entity::find()
        .order_by_asc(notification_channel::Column::AppId)
        .order_by_asc(notification_channel::Column::Id)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(Channel::from_row).collect())
}

/// The enabled channels told about `app_id` (its own and the global ones).
pub async fn for_app(db: &DatabaseConnection, app_id: i64) -> Result<Vec<Channel>, sea_orm::DbErr> {
    let rows = notification_channel::Entity::find()
        .filter(notification_channel::Column::Enabled.eq(true))
        .filter(
            sea_orm::Condition::any()
                .add(notification_channel::Column::AppId.is_null())
                .add(notification_channel::Column::AppId.eq(app_id)),
        )
        .order_by_asc(notification_channel::Column::Id)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(Channel::from_row).collect())
}

/// One channel.
pub async fn get(db: &DatabaseConnection, id: i64) -> Result<Option<Channel>, sea_orm::DbErr> {
    Ok(notification_channel::Entity::find_by_id(id).one(db).await?.map(Channel::from_row))
}

/// Pauses or resumes a channel; false when there is no such channel.
pub async fn set_enabled(db: &DatabaseConnection, id: i64, enabled: bool) -> Result<bool, sea_orm::DbErr> {
    let Some(row) = notification_channel::Entity::find_by_id(id).one(db).await? else { return Ok(false) };
    let mut row: notification_channel::ActiveModel = row.into();
    row.enabled = Set(enabled);
    row.updated_at = Set(jiff::Timestamp::now().as_millisecond());
    row.update(db).await?;
    Ok(true)
}

/// Deletes a channel and its deliveries; false when there is no such channel.
pub async fn delete(db: &DatabaseConnection, id: i64) -> Result<bool, sea_orm::DbErr> {
    Ok(notification_channel::Entity::delete_by_id(id).exec(db).await?.rows_affected > 0)
}
