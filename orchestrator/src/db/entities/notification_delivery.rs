//! One notification to one channel, kept until it is sent or given up (the outbox).

use sea_orm::entity::prelude::*;

/// One row of `notification_deliveries`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_deliveries")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The channel.
    pub channel_id: i64,
    /// failure | recovery | stale | test | start | success | fail (the last three are pings).
    pub event: String,
    /// The app it is about.
    pub app_id: Option<i64>,
    /// The run it is about.
    pub run_id: Option<i64>,
    /// The JSON document sent (never a secret).
    pub payload: String,
    /// pending | sent | failed.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// Not before (ms).
    pub next_attempt_at: i64,
    /// A process is sending it until then (ms).
    pub claimed_until: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// When it went out (ms).
    pub sent_at: Option<i64>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
