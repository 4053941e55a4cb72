//! A group's settings: the limit of its backups running at once, and the backup window and
//! jitter its apps take unless they set their own. A group without a row has no limit.

use sea_orm::entity::prelude::*;

/// One row of `app_groups`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "app_groups")]
pub struct Model {
    /// The group, as the apps' `group_name` says it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Backups of the group's apps running at once, across every process; `None` = no limit.
    pub max_concurrent: Option<i32>,
    /// Seconds after a scheduled time within which its run may still start.
    pub window_secs: Option<i64>,
    /// Seconds over which scheduled starts are spread.
    pub jitter_secs: Option<i64>,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
