//! The audit log: who did what, and when.

use sea_orm::entity::prelude::*;

/// One row of `audit_log`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// The user, `api:<token name>`, `cli` or `system`.
    pub actor: String,
    /// What happened (`sign_in`, `app.create`, `run.start`, `copy.delete`, `restore.start`, ...).
    pub action: String,
    /// What it happened to (an app name, a copy name).
    pub target: Option<String>,
    /// More words (never a secret).
    pub detail: Option<String>,
    /// The same as a catalogue message (`Msg::to_json`), said in each reader's language.
    pub detail_msg: Option<String>,
    /// The address the request came from (none for the command line and background work).
    pub source: Option<String>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
