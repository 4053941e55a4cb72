//! One running backup per app, whatever started it: a lease with an expiry the holder renews.

use sea_orm::entity::prelude::*;

/// One row of `app_leases`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "app_leases")]
pub struct Model {
    /// The app.
    #[sea_orm(primary_key, auto_increment = false)]
    pub app_id: i64,
    /// Who holds it (process and run).
    pub holder: String,
    /// The run it is for.
    pub run_id: Option<i64>,
    /// When it lapses unless renewed (ms).
    pub expires_at: i64,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
