//! One line of a run's own log.

use sea_orm::entity::prelude::*;

/// One row of `run_logs`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "run_logs")]
pub struct Model {
    /// Id (lines read in id order).
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The run.
    pub run_id: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// error | warn | info | debug.
    pub level: String,
    /// The line, with its fields.
    pub message: String,
    /// The stable machine code of a line meant for operators (`log.<code>` in the catalogue).
    pub code: Option<String>,
    /// Its fields as a JSON object of strings, to fill the catalogue's text with.
    pub fields: Option<String>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
