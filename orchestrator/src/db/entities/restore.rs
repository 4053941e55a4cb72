//! One restore: a stored copy streamed back into its app, with progress and outcome.

use sea_orm::entity::prelude::*;

/// One row of `restores`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "restores")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The app restored into.
    pub app_id: i64,
    /// The copy's destination file id.
    pub copy_file_id: String,
    /// The copy's file name.
    pub copy_name: String,
    /// Where it stands.
    pub status: crate::backup::restore::RestoreStatus,
    /// The phase reached; none until a worker takes it.
    pub phase: Option<crate::backup::restore::RestorePhase>,
    /// Bytes sent to the app so far.
    pub bytes: i64,
    /// The copy's size.
    pub total_bytes: i64,
    /// The safety backup taken first, when one was.
    pub safety_run_id: Option<i64>,
    /// Who asked for it.
    pub actor: String,
    /// What went wrong, for the operator.
    pub error: Option<String>,
    /// The same as a catalogue message (`Msg::to_json`), said in each reader's language.
    pub error_msg: Option<String>,
    /// Milliseconds since the epoch.
    pub started_at: i64,
    /// Milliseconds since the epoch.
    pub finished_at: Option<i64>,
    /// Last progress update (ms).
    pub updated_at: i64,
    /// The app whose copy was restored, when it is not the app restored into.
    pub source_app_id: Option<i64>,
    /// That app's name when the restore was asked for.
    pub source_app: Option<String>,
    /// `restore`; `drill` (checked by the app's `POST /backup/verify`, nothing applied); or
    /// `drill_restore` (a drill restoring into a scratch app).
    pub kind: String,
    /// A drill's report from the app (JSON), when it answered one.
    pub report: Option<String>,
    /// When an operator asked to cancel it (ms), while it was running.
    pub cancel_requested_at: Option<i64>,
    /// Who asked to cancel it ("cancelled by ..."), once somebody did.
    pub cancel_reason: Option<String>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
