//! A person who signs in, with a role.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The name they sign in with.
    #[sea_orm(unique)]
    pub name: String,
    /// `viewer`, `operator`, `restorer` or `admin`.
    pub role: String,
    /// `en` or `es`; none = the browser's choice.
    pub language: Option<String>,
    /// How the identity provider names them.
    #[sea_orm(unique)]
    pub email: Option<String>,
    /// argon2id (PHC string); none = signs in only through the identity provider.
    pub password_hash: Option<String>,
    /// Who created them.
    pub created_by: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub password_changed_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
