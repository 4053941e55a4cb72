//! The registry of apps: what operators register, validated, with tokens sealed at rest.

pub mod check;
pub mod groups;
pub mod input;
pub mod labels;

use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, SqlErr};
use secrecy::SecretString;

use crate::backup::retention::Policy;
use crate::catalogue::Msg;
use crate::codec::keys::{self, Recipient};
use crate::codec::{Codec, Compress};
use crate::db::entities::app;
use crate::db::now_ms;
use crate::secrets::SecretBox;
use input::{AppInput, FieldError, Priority};

/// A registered app, token decrypted (held as a secret).
#[derive(Debug, Clone)]
pub struct App {
    /// Id.
    pub id: i64,
    /// Unique slug.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// Bearer token.
    pub token: SecretString,
    /// Cron expression.
    pub schedule: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Destination folder.
    pub folder: String,
    /// Retention.
    pub retention: Policy,
    /// Backup type; `None` = the app's first.
    pub backup_type: Option<String>,
    /// Queue priority.
    pub priority: Priority,
    /// Scheduled runs happen only when enabled.
    pub enabled: bool,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
    /// Whether copies are compressed.
    pub compress: Compress,
    /// Whether copies are encrypted; `None` = whenever recipients are configured.
    pub encrypt: Option<bool>,
    /// The app's own recipients, added to the deployment's.
    pub recipients: Vec<Recipient>,
    /// A stable uid, written into its copies' marks (empty for an app recovered from a
    /// self-backup older than uids, whose copies are then known by name alone).
    pub uid: String,
    /// When restore drills run (cron, in the app's time zone); `None` = no scheduled drills.
    pub drill_schedule: Option<String>,
    /// Which copy a scheduled drill takes: `newest` or `random`.
    pub drill_copy: String,
    /// Its group (e.g. the database host it lives on), if any.
    pub group: Option<String>,
    /// Its tags, sorted.
    pub tags: Vec<String>,
    /// Its own backup window in seconds (see `schedule::spread`); `None` = its group's.
    pub window_secs: Option<i64>,
    /// Its own jitter in seconds; `None` = its group's.
    pub jitter_secs: Option<i64>,
}

/// A new app uid, e.g. `3f9a0c1b7e42d815`.
pub fn new_uid() -> String {
    format!("{:016x}", fastrand::u64(..))
}

impl App {
    /// How a copy of `backup_type` is stored, with the deployment's recipients `global`.
    pub fn codec(&self, global: &[Recipient], backup_type: &contract_spec::BackupType) -> Result<Codec, String> {
        Codec::choose(self.compress, self.encrypt, global, &self.recipients, backup_type)
    }
}

/// Why a registry change was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// One or more fields are invalid; nothing was stored.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// No such app.
    #[error("no app named {0:?}")]
    NotFound(String),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// A stored token cannot be decrypted.
    #[error("{0}")]
    Secret(#[from] crate::secrets::SecretError),
}

/// Apps in the database.
#[derive(Debug, Clone)]
pub struct Registry {
    db: DatabaseConnection,
    secrets: std::sync::Arc<SecretBox>,
    /// The deployment encrypts to recipients of its own (`ENCRYPTION_RECIPIENTS`).
    global_recipients: bool,
}

impl Registry {
    /// A registry over `db`, sealing tokens with `secrets`.
    pub fn new(db: DatabaseConnection, secrets: std::sync::Arc<SecretBox>) -> Self {
        Registry { db, secrets, global_recipients: false }
    }

    /// The same registry, knowing whether the deployment has recipients of its own (an app set
    /// to encrypt needs some recipient).
    pub fn with_global_recipients(mut self, any: bool) -> Self {
        self.global_recipients = any;
        self
    }

    fn check_encryption(&self, valid: &input::ValidApp) -> Result<(), RegistryError> {
        if valid.encrypt == Some(true) && valid.recipients.is_empty() && !self.global_recipients {
            return Err(RegistryError::Invalid(vec![FieldError::new(
                "encrypt",
                Msg::new("field.encrypt.no_recipient"),
            )]));
        }
        Ok(())
    }

    /// A token sealed for a form to carry between two posts (e.g. across "Check connection")
    /// without the page ever holding it in clear.
    pub fn seal_for_form(&self, token: &SecretString) -> String {
        self.secrets.seal(token)
    }

    /// The token a form carried, if it is one this deployment sealed.
    pub fn open_from_form(&self, sealed: &str) -> Option<SecretString> {
        self.secrets.open(sealed).ok()
    }

    /// The database.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    fn decode(&self, row: app::Model) -> Result<App, RegistryError> {
        Ok(App {
            token: self.secrets.open(&row.token_encrypted).map_err(RegistryError::Secret)?,
            retention: Policy {
                keep_last: row.keep_last as u32,
                keep_daily: row.keep_daily as u32,
                keep_weekly: row.keep_weekly as u32,
                keep_monthly: row.keep_monthly as u32,
                keep_within_days: row.keep_within_days as u32,
            },
            priority: row.priority.parse().unwrap_or_default(),
            id: row.id,
            name: row.name,
            url: row.url,
            schedule: row.schedule,
            time_zone: row.time_zone,
            folder: row.folder,
            backup_type: row.backup_type,
            enabled: row.enabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
            // Stored values were validated when saved; one that no longer parses is dropped
            // rather than locking the app out.
            compress: row.compress.as_deref().and_then(|c| Compress::parse(c).ok()).unwrap_or_default(),
            encrypt: row.encrypt,
            recipients: keys::parse_recipients(&row.recipients).unwrap_or_default(),
            uid: row.uid.unwrap_or_default(),
            drill_schedule: row.drill_schedule,
            drill_copy: row.drill_copy,
            group: row.group_name,
            tags: labels::parse_stored(&row.tags),
            window_secs: row.window_secs,
            jitter_secs: row.jitter_secs,
        })
    }

    /// Registers an app. Every field error is reported at once and nothing is stored on error.
    pub async fn add(&self, input: &AppInput) -> Result<App, RegistryError> {
        let valid = input.validate(true).map_err(RegistryError::Invalid)?;
        self.check_encryption(&valid)?;
        let now = now_ms();
        let token = valid.token.as_ref().expect("validated: a new app has a token");
        let row = app::ActiveModel {
            name: Set(valid.name.clone()),
            url: Set(valid.url.clone()),
            token_encrypted: Set(self.secrets.seal(token)),
            schedule: Set(valid.schedule.clone()),
            time_zone: Set(valid.time_zone.clone()),
            folder: Set(valid.folder.clone()),
            keep_last: Set(valid.retention.keep_last as i32),
            keep_daily: Set(valid.retention.keep_daily as i32),
            keep_weekly: Set(valid.retention.keep_weekly as i32),
            keep_monthly: Set(valid.retention.keep_monthly as i32),
            keep_within_days: Set(valid.retention.keep_within_days as i32),
            backup_type: Set(valid.backup_type.clone()),
            priority: Set(valid.priority.to_string()),
            enabled: Set(valid.enabled),
            created_at: Set(now),
            updated_at: Set(now),
            compress: Set(valid.compress.stored().map(str::to_owned)),
            encrypt: Set(valid.encrypt),
            recipients: Set(recipients_text(&valid.recipients)),
            uid: Set(Some(new_uid())),
            drill_schedule: Set(valid.drill_schedule.clone()),
            drill_copy: Set(valid.drill_copy.clone()),
            group_name: Set(valid.group.clone()),
            tags: Set(labels::stored(&valid.tags)),
            window_secs: Set(valid.window_secs),
            jitter_secs: Set(valid.jitter_secs),
            ..Default::default()
        };
        let row = row.insert(&self.db).await.map_err(|e| unique_name(e, &valid.name))?;
        self.decode(row)
    }

    /// [`Registry::add`], after asking the app (see [`check::before_save`]) unless `ask` is false
    /// (an app that is down today). Field errors come first, then the app's answer.
    pub async fn add_checked(&self, input: &AppInput, ask: bool) -> Result<App, RegistryError> {
        let valid = input.validate(true).map_err(RegistryError::Invalid)?;
        self.check_encryption(&valid)?;
        if ask {
            let token = valid.token.clone().expect("validated: a new app has a token");
            check::before_save(&valid.url, token, valid.backup_type.as_deref())
                .await
                .map_err(RegistryError::Invalid)?;
        }
        self.add(input).await
    }

    /// [`Registry::edit`], after asking the app when what it is asked with changes (URL, token,
    /// backup type), unless `ask` is false.
    pub async fn edit_checked(&self, name: &str, changes: &AppInput, ask: bool) -> Result<App, RegistryError> {
        let current = self.get(name).await?;
        let valid = changes.over(&current).validate(false).map_err(RegistryError::Invalid)?;
        self.check_encryption(&valid)?;
        let token =
            token_for(&current, &valid.url, valid.token.clone()).map_err(|e| RegistryError::Invalid(vec![e]))?;
        let asked_differently = !input::same_address(&valid.url, &current.url)
            || valid.token.is_some()
            || valid.backup_type != current.backup_type;
        if ask && asked_differently {
            check::before_save(&valid.url, token, valid.backup_type.as_deref())
                .await
                .map_err(RegistryError::Invalid)?;
        }
        self.edit(name, changes).await
    }

    /// Every app, by name.
    pub async fn list(&self) -> Result<Vec<App>, RegistryError> {
        let rows = app::Entity::find().order_by_asc(app::Column::Name).all(&self.db).await?;
        rows.into_iter().map(|r| self.decode(r)).collect()
    }

    /// The app called `name`.
    pub async fn get(&self, name: &str) -> Result<App, RegistryError> {
        let row = app::Entity::find().filter(app::Column::Name.eq(name)).one(&self.db).await?;
        self.decode(row.ok_or_else(|| RegistryError::NotFound(name.to_owned()))?)
    }

    /// The app with this id.
    pub async fn get_by_id(&self, id: i64) -> Result<App, RegistryError> {
        let row = app::Entity::find_by_id(id).one(&self.db).await?;
        self.decode(row.ok_or_else(|| RegistryError::NotFound(format!("#{id}")))?)
    }

    /// Changes the app called `name`: fields set in `changes` replace the stored ones (the token
    /// only when given). Validated as a whole; nothing is stored on error.
    pub async fn edit(&self, name: &str, changes: &AppInput) -> Result<App, RegistryError> {
        let current = self.get(name).await?;
        let merged = changes.over(&current);
        let valid = merged.validate(false).map_err(RegistryError::Invalid)?;
        self.check_encryption(&valid)?;
        token_for(&current, &valid.url, valid.token.clone()).map_err(|e| RegistryError::Invalid(vec![e]))?;
        let mut row: app::ActiveModel = app::Entity::find_by_id(current.id)
            .one(&self.db)
            .await?
            .ok_or_else(|| RegistryError::NotFound(name.to_owned()))?
            .into();
        row.name = Set(valid.name.clone());
        row.url = Set(valid.url.clone());
        if let Some(token) = &valid.token {
            row.token_encrypted = Set(self.secrets.seal(token));
        }
        row.schedule = Set(valid.schedule.clone());
        row.time_zone = Set(valid.time_zone.clone());
        row.folder = Set(valid.folder.clone());
        row.keep_last = Set(valid.retention.keep_last as i32);
        row.keep_daily = Set(valid.retention.keep_daily as i32);
        row.keep_weekly = Set(valid.retention.keep_weekly as i32);
        row.keep_monthly = Set(valid.retention.keep_monthly as i32);
        row.keep_within_days = Set(valid.retention.keep_within_days as i32);
        row.backup_type = Set(valid.backup_type.clone());
        row.priority = Set(valid.priority.to_string());
        row.enabled = Set(valid.enabled);
        row.compress = Set(valid.compress.stored().map(str::to_owned));
        row.encrypt = Set(valid.encrypt);
        row.recipients = Set(recipients_text(&valid.recipients));
        row.drill_schedule = Set(valid.drill_schedule.clone());
        row.drill_copy = Set(valid.drill_copy.clone());
        row.group_name = Set(valid.group.clone());
        row.tags = Set(labels::stored(&valid.tags));
        row.window_secs = Set(valid.window_secs);
        row.jitter_secs = Set(valid.jitter_secs);
        row.updated_at = Set(now_ms());
        let row = row.update(&self.db).await.map_err(|e| unique_name(e, &valid.name))?;
        self.decode(row)
    }

    /// Removes the app and its run history (its stored copies stay in the destination).
    pub async fn remove(&self, name: &str) -> Result<App, RegistryError> {
        let app = self.get(name).await?;
        app::Entity::delete_by_id(app.id).exec(&self.db).await?;
        crate::db::entities::copy_audit::Entity::delete_many()
            .filter(crate::db::entities::copy_audit::Column::AppId.eq(app.id))
            .exec(&self.db)
            .await?;
        Ok(app)
    }
}

/// The token to ask `current` with at `url`: the one `given`, else the stored one. A stored
/// token is only ever sent where it was given for, so another address (scheme, host, port or
/// path, compared normalised) needs the token again. Every surface that edits or checks an
/// app (API, form, CLI, fleet file) goes through here.
pub fn token_for(current: &App, url: &str, given: Option<SecretString>) -> Result<SecretString, FieldError> {
    match given {
        Some(token) => Ok(token),
        None if input::same_address(&current.url, url) => Ok(current.token.clone()),
        None => Err(FieldError::new(
            "token",
            Msg::new("field.token.new_url")
                .with("from", &current.url)
                .with("to", input::normal_url(url).as_deref().unwrap_or(url.trim())),
        )),
    }
}

/// Recipients as stored: one per line.
fn recipients_text(recipients: &[Recipient]) -> String {
    recipients.iter().map(Recipient::as_str).collect::<Vec<_>>().join("\n")
}

/// A unique-name violation becomes a field error, like any other.
fn unique_name(e: DbErr, name: &str) -> RegistryError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            RegistryError::Invalid(vec![FieldError::new("name", Msg::new("field.name.taken").with("name", name))])
        }
        _ => RegistryError::Db(e),
    }
}
