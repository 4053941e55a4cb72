//! The inventory: every file the orchestrator created in a destination, reconciled with the
//! destination's listing (the destination wins).

use sea_orm::entity::prelude::*;

/// One row of `backup_copies`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "backup_copies")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The app.
    pub app_id: i64,
    /// The run that made it, when known.
    pub run_id: Option<i64>,
    /// Destination file id.
    pub file_id: String,
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Verified sha256.
    pub sha256: Option<String>,
    /// The destination's checksum matched ours.
    pub verified: bool,
    /// Creation time (ms).
    pub created_at: i64,
    /// When it was deleted (ms), by retention or by hand.
    pub deleted_at: Option<i64>,
    /// How it was stored (`zstd`, `age`, `zstd+age`); `None` = as the app sent it.
    pub codec: Option<String>,
    /// The plaintext's size, when the marks say it.
    pub plain_size: Option<i64>,
    /// The stored bytes' sha256, when they differ from the plaintext.
    pub stored_sha256: Option<String>,
    /// `good`, `lost` (gone from the destination or trashed, though nobody here deleted it) or
    /// `damaged` (its size or checksum is not what was recorded).
    pub health: String,
    /// What was found wrong, in words.
    pub health_detail: Option<String>,
    /// Since when it has been lost or damaged (ms).
    pub health_since: Option<i64>,
    /// When its loss or damage was told (ms): told once.
    pub health_alerted_at: Option<i64>,
    /// How the damage was found: `listing` (size or checksum as listed) or `read` (read back).
    pub damage_found_by: Option<String>,
    /// When an audit last checked it against a listing (ms).
    pub audited_at: Option<i64>,
    /// When an audit last read it back whole (ms).
    pub read_at: Option<i64>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
