//! An app's alert state: since when it has been failing, or stale.

use sea_orm::entity::prelude::*;

/// One row of `app_alerts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "app_alerts")]
pub struct Model {
    /// The app.
    #[sea_orm(primary_key, auto_increment = false)]
    pub app_id: i64,
    /// The first failure told since the last success (ms).
    pub failing_since: Option<i64>,
    /// When staleness was told (ms); cleared by the next verified backup.
    pub stale_since: Option<i64>,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
    /// When a reminder that the app still fails, or is still stale, was last told (ms).
    pub reminded_at: Option<i64>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
