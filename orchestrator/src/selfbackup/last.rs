//! The outcome of the newest self-backup attempt (scheduled, by hand or from the page), kept in
//! the `settings` table so every replica's pages show it and a failure stays visible until a
//! self-backup succeeds again.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait};
use serde::{Deserialize, Serialize};

use crate::db::entities::setting;

const KEY: &str = "self_backup_last";

/// What the newest attempt came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Last {
    /// When it ended (ms).
    pub at_ms: i64,
    /// `schedule`, `cli` or the user who pressed the button.
    pub trigger: String,
    /// True when a verified self-backup was stored.
    pub ok: bool,
    /// The file stored.
    pub file: Option<String>,
    /// Its size.
    pub bytes: Option<u64>,
    /// Why it failed, or a warning about a good one (pruning failed).
    pub error: Option<String>,
    /// While failing: when the failure was last told to the channels (carried over the failed
    /// attempts that follow, so a failing streak is told once a day, not at every attempt).
    #[serde(default)]
    pub alerted_ms: Option<i64>,
}

/// Keeps `last` in place of the one before.
pub async fn record(db: &DatabaseConnection, last: &Last) -> Result<(), DbErr> {
    let value = serde_json::to_string(last).map_err(|e| DbErr::Custom(e.to_string()))?;
    setting::Entity::insert(setting::ActiveModel { key: Set(KEY.to_owned()), value: Set(value) })
        .on_conflict(OnConflict::column(setting::Column::Key).update_column(setting::Column::Value).to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The newest attempt's outcome; `None` before the first (or when what is kept is unreadable).
pub async fn read(db: &DatabaseConnection) -> Result<Option<Last>, DbErr> {
    let row = setting::Entity::find_by_id(KEY.to_owned()).one(db).await?;
    Ok(row.and_then(|r| serde_json::from_str(&r.value).ok()))
}
