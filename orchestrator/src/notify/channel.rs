//! Channels: where notifications go. What a channel needs in clear (an SMTP host, the
//! recipients, a Telegram chat id, an ntfy or Gotify server) is kept as JSON; what would let
//! someone else send or read (a webhook's URL and signing secret, an SMTP password, ping URLs,
//! a Slack, Teams or Discord webhook URL, a bot, access or app token, an ntfy topic) is sealed
//! with `SECRET_KEY` like app tokens, and never shown again.

use std::collections::BTreeMap;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::policy::{Policy, PolicyInput, Summary};
use crate::catalogue::{Lang, Msg};
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
    /// A Slack incoming webhook (Block Kit message).
    Slack,
    /// A Microsoft Teams Workflows webhook ("When a Teams webhook request is received"), with an
    /// Adaptive Card.
    Teams,
    /// A Discord webhook (an embed).
    Discord,
    /// A Telegram bot's `sendMessage` to one chat.
    Telegram,
    /// An ntfy topic (published as JSON to the server's root).
    Ntfy,
    /// A Gotify application (`POST /message`).
    Gotify,
}

impl Kind {
    /// Every kind, in the order forms list them.
    pub const ALL: [Kind; 9] = [
        Kind::Webhook,
        Kind::Email,
        Kind::Ping,
        Kind::Slack,
        Kind::Teams,
        Kind::Discord,
        Kind::Telegram,
        Kind::Ntfy,
        Kind::Gotify,
    ];

    /// As stored and in forms.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Email => "email",
            Kind::Ping => "ping",
            Kind::Slack => "slack",
            Kind::Teams => "teams",
            Kind::Discord => "discord",
            Kind::Telegram => "telegram",
            Kind::Ntfy => "ntfy",
            Kind::Gotify => "gotify",
        }
    }

    /// From a form or the database.
    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
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
    /// The server posted to, without a trailing slash: Telegram's Bot API, an ntfy or Gotify
    /// server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Telegram: the chat's id, or `@channelusername`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<String>,
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
    /// Telegram's bot token, ntfy's access token, Gotify's application token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The ntfy topic: on a public server, whoever knows it reads the notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
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
            Kind::Slack | Kind::Teams | Kind::Discord => vec![("url", secret.url.is_some())],
            Kind::Telegram => vec![("telegram_bot_token", secret.token.is_some())],
            Kind::Ntfy => vec![("ntfy_topic", secret.topic.is_some()), ("ntfy_token", secret.token.is_some())],
            Kind::Gotify => vec![("gotify_token", secret.token.is_some())],
        })
    }

    /// Where it goes, for lists: a host (URLs are secret), the recipients, or the chat.
    pub fn target(&self) -> String {
        let c = &self.config;
        match self.kind {
            Kind::Email => format!("{} via {}", c.to.join(", "), c.host),
            Kind::Telegram => format!("chat {} via {}", c.chat_id.as_deref().unwrap_or_default(), c.host),
            _ => c.host.clone(),
        }
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
    /// webhook | email | ping | slack | teams | discord | telegram | ntfy | gotify.
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
    /// Webhook URL (webhook, Slack, Teams, Discord).
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
    /// Telegram: the bot's token, from @BotFather.
    #[serde(default)]
    pub telegram_bot_token: Option<SecretString>,
    /// Telegram: the chat's id, or `@channelusername`.
    #[serde(default)]
    pub telegram_chat_id: String,
    /// Telegram: the Bot API server (empty = https://api.telegram.org).
    #[serde(default)]
    pub telegram_api_url: String,
    /// ntfy: the server (empty = https://ntfy.sh).
    #[serde(default)]
    pub ntfy_server: String,
    /// ntfy: the topic.
    #[serde(default)]
    pub ntfy_topic: Option<SecretString>,
    /// ntfy: an access token (empty = anonymous).
    #[serde(default)]
    pub ntfy_token: Option<SecretString>,
    /// Gotify: the server.
    #[serde(default)]
    pub gotify_server: String,
    /// Gotify: the application's token.
    #[serde(default)]
    pub gotify_token: Option<SecretString>,
}

impl ChannelInput {
    /// The form of an existing channel, to edit it: every field in clear is filled in, the
    /// secret ones are left empty (empty keeps what is stored). `app` is its app's name.
    pub fn of(channel: &Channel, app: String) -> ChannelInput {
        let on = |b: bool| b.then(|| "on".to_owned());
        let c = &channel.config;
        let email = channel.kind == Kind::Email;
        let server =
            |kind: Kind| if channel.kind == kind { c.server.clone().unwrap_or_default() } else { String::new() };
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
            telegram_chat_id: c.chat_id.clone().unwrap_or_default(),
            telegram_api_url: server(Kind::Telegram),
            ntfy_server: server(Kind::Ntfy),
            gotify_server: server(Kind::Gotify),
            ..Default::default()
        }
    }

    /// The same input with every secret typed dropped, to show the form again (a typed secret is
    /// never echoed back into a page).
    pub fn without_secrets(self) -> ChannelInput {
        ChannelInput {
            signing_secret: None,
            smtp_password: None,
            telegram_bot_token: None,
            ntfy_topic: None,
            ntfy_token: None,
            gotify_token: None,
            ..self
        }
    }
}

/// Telegram's Bot API, unless a channel names another (a self-hosted Bot API server).
pub const TELEGRAM_API: &str = "https://api.telegram.org";
/// The public ntfy server, unless a channel names another.
pub const NTFY_SERVER: &str = "https://ntfy.sh";

/// Field errors, keyed by form field name.
pub type FieldErrors = BTreeMap<&'static str, Msg>;

fn check_url(field: &'static str, text: &str, required: bool, errors: &mut FieldErrors) -> Option<(String, String)> {
    let text = text.trim();
    if text.is_empty() {
        if required {
            errors.insert(field, Msg::new("channel_field.url_required"));
        }
        return None;
    }
    match reqwest::Url::parse(text) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => {
            Some((text.to_owned(), u.host_str().unwrap_or_default().to_owned()))
        }
        _ => {
            errors.insert(field, Msg::new("channel_field.url_invalid").with("text", text));
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

/// A server's base URL (`field`, or `default` when empty): http(s), a host, no user or password
/// (it is kept in clear), no query; without its trailing slash. Returns it and its host.
fn check_server(
    field: &'static str,
    text: &str,
    default: Option<&str>,
    errors: &mut FieldErrors,
) -> Option<(String, String)> {
    let text = text.trim();
    let text = match (text, default) {
        ("", Some(default)) => default,
        ("", None) => {
            errors.insert(field, Msg::new("channel_field.server_required"));
            return None;
        }
        (text, _) => text,
    };
    match reqwest::Url::parse(text) {
        Ok(u)
            if (u.scheme() == "http" || u.scheme() == "https")
                && u.host_str().is_some()
                && u.username().is_empty()
                && u.password().is_none()
                && u.query().is_none()
                && u.fragment().is_none() =>
        {
            Some((text.trim_end_matches('/').to_owned(), u.host_str().unwrap_or_default().to_owned()))
        }
        _ => {
            errors.insert(field, Msg::new("channel_field.server_invalid").with("text", text));
            None
        }
    }
}

/// A token typed in a form, else the one kept: printable ASCII without spaces, at most 256
/// characters. The message of an error never repeats what was typed.
fn check_token(
    field: &'static str,
    typed_in: &Option<SecretString>,
    kept: &Option<String>,
    required: Option<&'static str>,
    valid: impl Fn(&str) -> bool,
    errors: &mut FieldErrors,
) -> Option<String> {
    let token = typed(typed_in).map(|t| t.trim().to_owned()).or_else(|| kept.clone());
    match token {
        Some(t) if t.len() <= 256 && t.chars().all(|c| c.is_ascii_graphic()) && valid(&t) => Some(t),
        Some(_) => {
            errors.insert(field, Msg::new(required.unwrap_or("channel_field.token_invalid")));
            None
        }
        None => {
            if let Some(message) = required {
                errors.insert(field, Msg::new(message));
            }
            None
        }
    }
}

/// A Telegram bot token as @BotFather gives it: the bot's number, a colon, and a secret of
/// letters, digits, `_` and `-` (https://core.telegram.org/bots/api#authorizing-your-bot).
fn is_bot_token(token: &str) -> bool {
    token.split_once(':').is_some_and(|(id, secret)| {
        !id.is_empty()
            && id.chars().all(|c| c.is_ascii_digit())
            && secret.len() >= 20
            && secret.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    })
}

/// A chat's id (an integer, negative for groups and channels) or a public channel's
/// `@username` (5 to 32 letters, digits or `_`).
fn is_chat_id(text: &str) -> bool {
    match text.strip_prefix('@') {
        Some(name) => (5..=32).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        None => text.parse::<i64>().is_ok_and(|n| n != 0),
    }
}

/// An ntfy topic: letters, digits, `_` and `-`, 1 to 64 of them
/// (https://docs.ntfy.sh/publish/#picking-a-topic).
fn is_ntfy_topic(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
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
            errors.insert("name", Msg::new("channel_field.name"));
        }
        if !self.app.trim().is_empty() && app_id.is_none() {
            errors.insert("app", Msg::new("channel_field.app_unknown").with("app", self.app.trim()));
        }
        let Some(kind) = Kind::parse(self.kind.trim()) else {
            let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            errors.insert("kind", Msg::new("channel_field.kind").with("kinds", kinds.join(", ")));
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
            errors.insert("events", Msg::new("channel_field.events"));
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
                        errors.insert("signing_secret", Msg::new("channel_field.signing_secret"));
                    }
                }
            }
            Kind::Email => {
                let host = self.smtp_host.trim();
                if host.is_empty() || host.contains(['/', ' ', ':']) {
                    errors.insert("smtp_host", Msg::new("channel_field.smtp_host"));
                }
                config.host = host.to_owned();
                let tls = match self.smtp_tls.trim() {
                    "" | "starttls" => Tls::Starttls,
                    "tls" => Tls::Tls,
                    "none" => Tls::None,
                    other => {
                        errors.insert("smtp_tls", Msg::new("channel_field.smtp_tls").with("text", other));
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
                    errors.insert("smtp_port", Msg::new("channel_field.smtp_port").with("text", self.smtp_port.trim()));
                }
                config.port = port;
                let username = self.smtp_username.trim();
                if !username.is_empty() {
                    config.username = Some(username.to_owned());
                    match typed(&self.smtp_password).or_else(|| kept.password.clone()) {
                        Some(p) => secret.password = Some(p),
                        None => {
                            errors.insert("smtp_password", Msg::new("channel_field.smtp_password"));
                        }
                    }
                }
                if !check_address(&self.email_from) {
                    errors.insert("email_from", Msg::new("channel_field.email").with("text", self.email_from.trim()));
                }
                config.from = Some(self.email_from.trim().to_owned());
                let to: Vec<String> = self
                    .email_to
                    .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if to.is_empty() || to.len() > 50 {
                    errors.insert("email_to", Msg::new("channel_field.email_to"));
                } else if let Some(bad) = to.iter().find(|a| !check_address(a)) {
                    errors.insert("email_to", Msg::new("channel_field.email").with("text", bad));
                }
                config.to = to;
            }
            Kind::Ping => {
                if app_id.is_none() && !errors.contains_key("app") {
                    errors.insert("app", Msg::new("channel_field.ping_app"));
                }
                let start = url_or_kept("ping_start", &self.ping_start, false, &kept.start_url, &mut errors);
                let success = url_or_kept("ping_success", &self.ping_success, false, &kept.success_url, &mut errors);
                let fail = url_or_kept("ping_fail", &self.ping_fail, false, &kept.fail_url, &mut errors);
                if start.is_none()
                    && success.is_none()
                    && fail.is_none()
                    && !errors.keys().any(|k| k.starts_with("ping"))
                {
                    errors.insert("ping_success", Msg::new("channel_field.ping_success"));
                }
                config.host =
                    [&start, &success, &fail].into_iter().flatten().map(|(_, h)| h.clone()).next().unwrap_or_default();
                secret.start_url = start.map(|(u, _)| u);
                secret.success_url = success.map(|(u, _)| u);
                secret.fail_url = fail.map(|(u, _)| u);
            }
            Kind::Slack | Kind::Teams | Kind::Discord => {
                if let Some((url, host)) = url_or_kept("url", &self.url, true, &kept.url, &mut errors) {
                    secret.url = Some(url);
                    config.host = host;
                }
            }
            Kind::Telegram => {
                secret.token = check_token(
                    "telegram_bot_token",
                    &self.telegram_bot_token,
                    &kept.token,
                    Some("channel_field.telegram_token"),
                    is_bot_token,
                    &mut errors,
                );
                let chat = self.telegram_chat_id.trim();
                if is_chat_id(chat) {
                    config.chat_id = Some(chat.to_owned());
                } else {
                    errors.insert("telegram_chat_id", Msg::new("channel_field.telegram_chat").with("text", chat));
                }
                if let Some((server, host)) =
                    check_server("telegram_api_url", &self.telegram_api_url, Some(TELEGRAM_API), &mut errors)
                {
                    config.server = Some(server);
                    config.host = host;
                }
            }
            Kind::Ntfy => {
                if let Some((server, host)) =
                    check_server("ntfy_server", &self.ntfy_server, Some(NTFY_SERVER), &mut errors)
                {
                    config.server = Some(server);
                    config.host = host;
                }
                secret.topic = check_token(
                    "ntfy_topic",
                    &self.ntfy_topic,
                    &kept.topic,
                    Some("channel_field.ntfy_topic"),
                    is_ntfy_topic,
                    &mut errors,
                );
                secret.token = check_token("ntfy_token", &self.ntfy_token, &kept.token, None, |_| true, &mut errors);
            }
            Kind::Gotify => {
                if let Some((server, host)) = check_server("gotify_server", &self.gotify_server, None, &mut errors) {
                    config.server = Some(server);
                    config.host = host;
                }
                secret.token = check_token(
                    "gotify_token",
                    &self.gotify_token,
                    &kept.token,
                    Some("channel_field.gotify_token"),
                    |_| true,
                    &mut errors,
                );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn input(kind: &str, fields: &[(&str, &str)]) -> ChannelInput {
        let mut value = serde_json::json!({"name": "ops", "kind": kind, "on_failure": "on"});
        for (k, v) in fields {
            value[*k] = serde_json::json!(v);
        }
        serde_json::from_value(value).unwrap()
    }

    fn fields(result: Result<Valid, FieldErrors>) -> Vec<&'static str> {
        result.err().map(|e| e.into_keys().collect()).unwrap_or_default()
    }

    const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

    #[test]
    fn every_kind_reads_back_from_its_name() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse("sms"), None);
    }

    #[test]
    fn webhook_services_need_an_http_url_which_is_sealed() {
        for kind in ["slack", "teams", "discord"] {
            assert_eq!(fields(input(kind, &[]).validate(None, None)), ["url"], "{kind}");
            assert_eq!(fields(input(kind, &[("url", "hooks.slack.com/x")]).validate(None, None)), ["url"]);
            let valid = input(kind, &[("url", "https://hooks.slack.com/services/T/B/X")]).validate(None, None).unwrap();
            assert_eq!(valid.config.host, "hooks.slack.com");
            assert_eq!(valid.secret.url.as_deref(), Some("https://hooks.slack.com/services/T/B/X"));
        }
    }

    #[test]
    fn telegram_checks_the_token_the_chat_and_the_server() {
        let valid = input("telegram", &[("telegram_bot_token", TOKEN), ("telegram_chat_id", "-1001234567890")])
            .validate(None, None)
            .unwrap();
        assert_eq!(valid.config.server.as_deref(), Some(TELEGRAM_API));
        assert_eq!(valid.config.host, "api.telegram.org");
        assert_eq!(valid.secret.token.as_deref(), Some(TOKEN));
        let bad = input(
            "telegram",
            &[("telegram_bot_token", "not a token"), ("telegram_chat_id", "someone"), ("telegram_api_url", "ftp://x")],
        );
        let errors = bad.validate(None, None).err().unwrap();
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["telegram_api_url", "telegram_bot_token", "telegram_chat_id"]
        );
        assert!(!errors["telegram_bot_token"].to_string().contains("not a token"), "a typed secret is not repeated");
        for chat in ["@backups_channel", "42", "-42"] {
            assert!(
                input("telegram", &[("telegram_bot_token", TOKEN), ("telegram_chat_id", chat)])
                    .validate(None, None)
                    .is_ok()
            );
        }
        for chat in ["", "0", "@abc", "@with space", "12a"] {
            let result =
                input("telegram", &[("telegram_bot_token", TOKEN), ("telegram_chat_id", chat)]).validate(None, None);
            assert_eq!(fields(result), ["telegram_chat_id"], "{chat:?}");
        }
        let own = input(
            "telegram",
            &[
                ("telegram_bot_token", TOKEN),
                ("telegram_chat_id", "42"),
                ("telegram_api_url", "http://127.0.0.1:8081/"),
            ],
        );
        assert_eq!(own.validate(None, None).unwrap().config.server.as_deref(), Some("http://127.0.0.1:8081"));
        let with_password = input(
            "telegram",
            &[
                ("telegram_bot_token", TOKEN),
                ("telegram_chat_id", "42"),
                ("telegram_api_url", "https://u:p@bots.internal"),
            ],
        );
        assert_eq!(
            fields(with_password.validate(None, None)),
            ["telegram_api_url"],
            "a server kept in clear holds no password"
        );
    }

    #[test]
    fn ntfy_needs_a_topic_and_takes_an_optional_token() {
        let valid = input("ntfy", &[("ntfy_topic", "backups-7f3a9c")]).validate(None, None).unwrap();
        assert_eq!(valid.config.server.as_deref(), Some(NTFY_SERVER));
        assert_eq!(valid.secret.topic.as_deref(), Some("backups-7f3a9c"));
        assert_eq!(valid.secret.token, None);
        assert_eq!(fields(input("ntfy", &[]).validate(None, None)), ["ntfy_topic"]);
        assert_eq!(fields(input("ntfy", &[("ntfy_topic", "a/b")]).validate(None, None)), ["ntfy_topic"]);
        assert_eq!(fields(input("ntfy", &[("ntfy_topic", &"x".repeat(65))]).validate(None, None)), ["ntfy_topic"]);
        let with_token = input(
            "ntfy",
            &[("ntfy_topic", "t"), ("ntfy_token", "tk_abc"), ("ntfy_server", "https://push.internal/ntfy/")],
        );
        let valid = with_token.validate(None, None).unwrap();
        assert_eq!(valid.secret.token.as_deref(), Some("tk_abc"));
        assert_eq!(valid.config.server.as_deref(), Some("https://push.internal/ntfy"));
    }

    #[test]
    fn gotify_needs_a_server_and_an_application_token() {
        assert_eq!(fields(input("gotify", &[]).validate(None, None)), ["gotify_server", "gotify_token"]);
        let valid = input("gotify", &[("gotify_server", "https://gotify.internal"), ("gotify_token", "AbCdEf123")])
            .validate(None, None)
            .unwrap();
        assert_eq!(valid.config.host, "gotify.internal");
        assert_eq!(
            fields(input("gotify", &[("gotify_server", "https://g"), ("gotify_token", "a b")]).validate(None, None)),
            ["gotify_token"]
        );
    }

    #[test]
    fn secrets_left_empty_keep_the_stored_ones() {
        let kept = Secret { token: Some(TOKEN.into()), topic: Some("kept-topic".into()), ..Default::default() };
        let telegram = input("telegram", &[("telegram_bot_token", ""), ("telegram_chat_id", "42")]);
        assert_eq!(telegram.validate(None, Some(&kept)).unwrap().secret.token.as_deref(), Some(TOKEN));
        let ntfy = input("ntfy", &[("ntfy_topic", ""), ("ntfy_token", "")]);
        let valid = ntfy.validate(None, Some(&kept)).unwrap();
        assert_eq!((valid.secret.topic.as_deref(), valid.secret.token.as_deref()), (Some("kept-topic"), Some(TOKEN)));
        let replaced = input("ntfy", &[("ntfy_topic", "new-topic")]).validate(None, Some(&kept)).unwrap();
        assert_eq!(replaced.secret.topic.as_deref(), Some("new-topic"));
    }

    #[test]
    fn an_unknown_kind_names_every_kind() {
        let errors = input("sms", &[]).validate(None, None).err().unwrap();
        assert!(errors["kind"].to_string().contains("telegram, ntfy, gotify"), "{}", errors["kind"]);
    }
}
