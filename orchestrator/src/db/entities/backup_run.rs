//! One backup run: its trigger, progress and outcome, with the error a user can read.

use sea_orm::entity::prelude::*;

/// One row of `backup_runs`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "backup_runs")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The app.
    pub app_id: i64,
    /// What started it.
    pub trigger: crate::backup::lifecycle::Trigger,
    /// For scheduled runs, the fire time (ms); unique per app.
    pub scheduled_for: Option<i64>,
    /// When it was queued (ms).
    pub queued_at: i64,
    /// When it started (ms).
    pub started_at: Option<i64>,
    /// When it ended (ms).
    pub finished_at: Option<i64>,
    /// How many times it was attempted.
    pub attempts: i32,
    /// Where it stands.
    pub status: crate::backup::lifecycle::Status,
    /// The furthest phase reached.
    pub phase: Option<crate::backup::lifecycle::Phase>,
    /// Bytes received so far / in total.
    pub bytes: i64,
    /// sha256 of the export.
    pub sha256: Option<String>,
    /// Destination file id.
    pub file_id: Option<String>,
    /// Destination file name.
    pub file_name: Option<String>,
    /// Duration in milliseconds.
    pub duration_ms: Option<i64>,
    /// What went wrong, for the operator.
    pub error: Option<String>,
    /// The same as a catalogue message (`Msg::to_json`), said in each reader's language.
    pub error_msg: Option<String>,
    /// Names of the copies retention deleted after this run, comma-separated.
    pub pruned: Option<String>,
    /// Last progress update (ms).
    pub updated_at: i64,
    /// The process that ran the latest attempt.
    pub runner: Option<String>,
    /// The operator's note on a manual backup, also written into the copy's marks.
    pub note: Option<String>,
    /// How the copy was stored (`zstd`, `age`, `zstd+age`); `None` = as the app sent it.
    pub codec: Option<String>,
    /// Bytes stored, when the codecs changed them (`bytes` is what the app sent).
    pub stored_bytes: Option<i64>,
    /// sha256 of the stored bytes, when the codecs changed them.
    pub stored_sha256: Option<String>,
    /// When an operator asked to cancel the run while it ran (the process running it stops it).
    pub cancel_requested_at: Option<i64>,
    /// Who asked, and why.
    pub cancel_reason: Option<String>,
    /// When its first attempt began: its duration counts every attempt and the waits between.
    pub first_started_at: Option<i64>,
    /// Queued again after a failed attempt: when the next attempt is due.
    pub retry_at: Option<i64>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
