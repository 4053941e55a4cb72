//! Where notifications go: a webhook, an email address list, a set of ping URLs, or a chat or push
//! service (Slack, Teams, Discord, Telegram, ntfy, Gotify).

use sea_orm::entity::prelude::*;

/// One row of `notification_channels`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_channels")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What the operator calls it.
    pub name: String,
    /// webhook | email | ping | slack | teams | discord | telegram | ntfy | gotify.
    pub kind: String,
    /// The one app it is for; `None` = every app.
    pub app_id: Option<i64>,
    /// The kind's settings that are not secret, as JSON.
    pub config: String,
    /// The kind's secret (signing key, SMTP password, ping or webhook URLs, a token, an ntfy
    /// topic), sealed with `SECRET_KEY`.
    pub secret_encrypted: Option<String>,
    /// Told when a run fails for good.
    pub on_failure: bool,
    /// Told on the first success after failures or staleness.
    pub on_recovery: bool,
    /// Told when an app has had no verified backup for too long.
    pub on_stale: bool,
    /// A paused channel is told nothing.
    pub enabled: bool,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
