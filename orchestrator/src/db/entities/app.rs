//! A registered app: where it is, how to reach it, when and where to back it up.

use sea_orm::entity::prelude::*;

/// One row of `apps`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "apps")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Unique slug.
    #[sea_orm(unique)]
    pub name: String,
    /// Internal base URL (http/https).
    pub url: String,
    /// The bearer token, encrypted with a key derived from SECRET_KEY.
    pub token_encrypted: String,
    /// Cron expression as the user wrote it.
    pub schedule: String,
    /// IANA time zone of the schedule.
    pub time_zone: String,
    /// Destination folder (Drive folder id, or a sub-folder on fs/s3).
    pub folder: String,
    /// Retention: keep the N newest.
    pub keep_last: i32,
    /// Retention: one per day for N days.
    pub keep_daily: i32,
    /// Retention: one per week for N weeks.
    pub keep_weekly: i32,
    /// Retention: one per month for N months.
    pub keep_monthly: i32,
    /// Retention: everything newer than N days.
    pub keep_within_days: i32,
    /// The backup type to export; `None` = the app's first type.
    pub backup_type: Option<String>,
    /// high | normal | low.
    pub priority: String,
    /// Paused apps are not scheduled.
    pub enabled: bool,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
    /// `zstd` or `none`; `None` = compress unless the export is already compressed.
    pub compress: Option<String>,
    /// `None` = encrypt whenever recipients are configured.
    pub encrypt: Option<bool>,
    /// The app's own age recipients (added to `ENCRYPTION_RECIPIENTS`), one per line.
    pub recipients: String,
    /// When restore drills run (cron, in the app's time zone); `None` = no scheduled drills.
    pub drill_schedule: Option<String>,
    /// Which copy a scheduled drill takes: `newest` (newest good verified) or `random`.
    pub drill_copy: String,
    /// A stable uid, written into the copies' marks; `None` only in a registry recovered from a
    /// self-backup older than uids.
    pub uid: Option<String>,
    /// One label grouping apps (e.g. the database host they live on); `None` = no group.
    pub group_name: Option<String>,
    /// Labels, sorted and wrapped in commas (`,odoo,prod,`; empty for none): see
    /// `registry::labels`.
    pub tags: String,
    /// Seconds after a scheduled time within which its run may still start (else it is skipped);
    /// `None` = the group's window, or none.
    pub window_secs: Option<i64>,
    /// Seconds over which its scheduled start is spread at random; `None` = the group's, or none.
    pub jitter_secs: Option<i64>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
