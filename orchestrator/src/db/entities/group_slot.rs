//! One of a group's slots, held by a running backup: at most `max_concurrent` rows per group can
//! exist, because the slot number is part of the key. The holder renews its expiry while it works.

use sea_orm::entity::prelude::*;

/// One row of `group_slots`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "group_slots")]
pub struct Model {
    /// The group.
    #[sea_orm(primary_key, auto_increment = false)]
    pub group_name: String,
    /// The slot, from 0 to the group's limit minus one.
    #[sea_orm(primary_key, auto_increment = false)]
    pub slot: i32,
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
