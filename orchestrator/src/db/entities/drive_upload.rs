//! Bytes one upload sent to a Google account's Drive, for the daily upload budget.

use sea_orm::entity::prelude::*;

/// One row of `drive_uploads`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "drive_uploads")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The Google account the bytes count against.
    pub account: String,
    /// The run that uploaded them, if any.
    pub run_id: Option<i64>,
    /// Bytes Drive acknowledged.
    pub bytes: i64,
    /// When they were last counted (ms): they count until this leaves the window.
    pub counted_at: i64,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
