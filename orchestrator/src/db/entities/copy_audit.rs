//! One app's part of one integrity audit: what was checked and what was found.

use sea_orm::entity::prelude::*;

/// One row of `copy_audits`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "copy_audits")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The app.
    pub app_id: i64,
    /// Who asked: `schedule`, `cli`, `ui` or `api`.
    pub trigger: String,
    /// Milliseconds since the epoch.
    pub started_at: i64,
    /// Milliseconds since the epoch.
    pub finished_at: i64,
    /// Copies checked (the app's copies listed, and those of the inventory not found).
    pub copies: i64,
    /// Found as recorded.
    pub good: i64,
    /// Found missing or trashed.
    pub lost: i64,
    /// Found with another size or checksum.
    pub damaged: i64,
    /// Read back whole and re-hashed.
    pub read_back: i64,
    /// Why the audit could not be made (the folder could not be listed); nothing was marked.
    pub error: Option<String>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
