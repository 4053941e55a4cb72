//! A bearer token for `/api/v1`, created in the UI. Only its sha256 is stored.

use sea_orm::entity::prelude::*;

/// One row of `api_tokens`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_tokens")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What the operator called it.
    pub name: String,
    /// sha256 (hex) of the token.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// The token's first characters, to tell tokens apart in the list.
    pub prefix: String,
    /// Who created it.
    pub created_by: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub last_used_at: Option<i64>,
    /// Revoked tokens are refused.
    pub revoked_at: Option<i64>,
    /// The user it acts for: it never does more than they may now (none: the first admin, for
    /// tokens made on the command line before there were users).
    pub owner: Option<String>,
    /// Its role (`viewer`, `operator`, `restorer`, `admin`), never above its owner's.
    pub role: String,
    /// Milliseconds since the epoch; refused from then on.
    pub expires_at: Option<i64>,
    /// May do dangerous actions (delete copies, restore, …) without a password in the request.
    pub confirms: bool,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
