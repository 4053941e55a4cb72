//! A signed-in browser: the cookie holds a random token, this row its sha256.

use sea_orm::entity::prelude::*;

/// One row of `sessions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// sha256 (hex) of the cookie's token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Who signed in.
    pub username: String,
    /// The token every state-changing form must carry.
    pub csrf: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch: the absolute end.
    pub expires_at: i64,
    /// Milliseconds since the epoch: the idle lifetime counts from here.
    pub last_seen_at: Option<i64>,
    /// The address it was opened from.
    pub source: Option<String>,
    /// Milliseconds since the epoch: when its user last typed their password or signed in with
    /// the identity provider (dangerous actions by SSO users need this to be recent).
    pub confirmed_at: Option<i64>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
