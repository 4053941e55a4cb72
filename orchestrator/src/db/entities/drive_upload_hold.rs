//! Drive said a Google account reached its daily upload limit: uploads wait until `held_until`.

use sea_orm::entity::prelude::*;

/// One row of `drive_upload_holds`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "drive_upload_holds")]
pub struct Model {
    /// The Google account.
    #[sea_orm(primary_key, auto_increment = false)]
    pub account: String,
    /// When Drive answered at its cap (ms).
    pub reported_at: i64,
    /// No upload starts before this (ms).
    pub held_until: i64,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
