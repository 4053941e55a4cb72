//! A run waiting for a slot of its group: it renews its row each time it looks, and a row not
//! renewed (its run ended, was cancelled, or its process died) lapses.

use sea_orm::entity::prelude::*;

/// One row of `group_waiters`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "group_waiters")]
pub struct Model {
    /// The group.
    #[sea_orm(primary_key, auto_increment = false)]
    pub group_name: String,
    /// The waiting run.
    #[sea_orm(primary_key, auto_increment = false)]
    pub run_id: i64,
    /// Its queue priority (higher goes first).
    pub priority: i32,
    /// Since when it waits (ms).
    pub since: i64,
    /// When the row lapses unless the run looks again (ms).
    pub expires_at: i64,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
