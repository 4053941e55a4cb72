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
    /// Told when a restore drill fails, cannot be made, or is overdue.
    pub on_drill: bool,
    /// Told when a restore starts, succeeds or fails.
    pub on_restore: bool,
    /// "" (none), "daily" or "weekly" (Mondays): a summary of its apps.
    pub summary: String,
    /// The hour (0 to 23, in `time_zone`) the summary is sent at.
    pub summary_hour: i32,
    /// The day ("2026-12-07") or week ("2026-W50") whose summary was last sent.
    pub summary_sent_for: Option<String>,
    /// en | es: the language it is told in.
    pub language: String,
    /// The zone its summary hour and times are in.
    pub time_zone: String,
    /// Only apps carrying one of these tags, stored as `,a,b,` (empty: every app).
    pub tags: String,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
