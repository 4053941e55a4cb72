//! A run's life, owned here and nowhere else: every change of a `backup_runs` row goes through
//! this module, whoever started the run (a cron fire, Test now, the CLI, the safety backup before
//! a restore).
//!
//! ```text
//! create (queued) -> start (running, one more attempt) -> progress ... -> settle (final) -> notify
//!                                                      \-> retry_later (queued again, not final)
//!                 \-> wait (waiting for Drive's upload budget; not an attempt, not final)
//! ```
//!
//! [`settle`] records how a run ended and tells the notification channels, so a run is told
//! about exactly once, when it ends for good. [`decide`] is the retry policy as a pure function.
//! This module never talks to an app or a destination: the pipeline (`backup::run`) does.

use std::time::Duration;

use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder};
use serde::{Deserialize, Serialize};

use crate::catalogue::Msg;
use crate::db::entities::{app_lease, backup_run};
use crate::db::now_ms;
use crate::error::Retry;
use crate::notify::Notifier;
use crate::registry::App;
use crate::storage::destination::StoredFile;

/// Shows a stored enum as the text it is stored as (`as_str`).
macro_rules! display_as_stored {
    ($($name:ty),+) => {$(
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )+};
}
pub(crate) use display_as_stored;

display_as_stored!(Status, Trigger, Phase);

/// Where a run stands, as stored in `backup_runs.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for a worker (also between attempts).
    #[sea_orm(string_value = "queued")]
    Queued,
    /// An attempt is running.
    #[sea_orm(string_value = "running")]
    Running,
    /// A verified copy was made.
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    /// It failed for good.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// It was not attempted: another backup or a restore of the app was running.
    #[sea_orm(string_value = "skipped")]
    Skipped,
    /// The process running it stopped; the queue may run it again.
    #[sea_orm(string_value = "interrupted")]
    Interrupted,
    /// An operator stopped it.
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
    /// Waiting for Drive's daily upload budget to free: not a failure and not an attempt; its
    /// job runs again when the budget frees (the reason says when).
    #[sea_orm(string_value = "waiting")]
    Waiting,
}

impl Status {
    /// The status as stored and as keyed in the translations.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Interrupted => "interrupted",
            Status::Cancelled => "cancelled",
            Status::Waiting => "waiting",
        }
    }

    /// The status stored as `text`, if any.
    pub fn parse(text: &str) -> Option<Status> {
        use sea_orm::ActiveEnum;
        Status::try_from_value(&text.to_owned()).ok()
    }

    /// Queued, running or waiting for Drive's budget: the run may still change.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Queued | Status::Running | Status::Waiting)
    }

    /// The statuses of a run that may still change.
    pub const ACTIVE: [Status; 3] = [Status::Queued, Status::Running, Status::Waiting];

    /// The statuses of a run that ended (an interrupted run may still be taken up again).
    pub const ENDED: [Status; 5] =
        [Status::Succeeded, Status::Failed, Status::Skipped, Status::Interrupted, Status::Cancelled];

    /// The statuses that count as a failure in totals and rates.
    pub const FAILURES: [Status; 2] = [Status::Failed, Status::Interrupted];
}

/// What started a run, as stored in `backup_runs.trigger`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A cron fire (its time is in `scheduled_for`).
    #[sea_orm(string_value = "schedule")]
    Schedule,
    /// "Test now" in the UI or the API, or `orchestrator run --queued`.
    #[sea_orm(string_value = "manual")]
    Manual,
    /// `orchestrator run`, in the foreground.
    #[sea_orm(string_value = "cli")]
    Cli,
    /// The backup of the app's current state taken before a restore.
    #[sea_orm(string_value = "safety")]
    Safety,
}

impl Trigger {
    /// The trigger as stored and as keyed in the translations.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Cli => "cli",
            Trigger::Safety => "safety",
        }
    }

    /// Whether a successful run of this trigger applies retention. The backup taken just before
    /// a restore never prunes: it could push out the very copy about to be restored. Its copy
    /// counts toward retention from the next run on.
    pub fn prunes(self) -> bool {
        self != Trigger::Safety
    }
}

/// Where a run is, as stored in `backup_runs.phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Asking the app what it offers.
    #[sea_orm(string_value = "capabilities")]
    Capabilities,
    /// Streaming the export into the destination.
    #[sea_orm(string_value = "export")]
    Export,
    /// Finishing the upload.
    #[sea_orm(string_value = "upload")]
    Upload,
    /// Comparing what the destination stored with what the app sent.
    #[sea_orm(string_value = "verify")]
    Verify,
    /// Deleting copies beyond retention.
    #[sea_orm(string_value = "retention")]
    Retention,
}

impl Phase {
    /// The phase as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Capabilities => "capabilities",
            Phase::Export => "export",
            Phase::Upload => "upload",
            Phase::Verify => "verify",
            Phase::Retention => "retention",
        }
    }
}

/// A run that made a verified copy.
#[derive(Debug, Clone)]
pub struct Success {
    /// The stored, verified copy.
    pub file: StoredFile,
    /// Bytes.
    pub bytes: u64,
    /// sha256 of the export.
    pub sha256: String,
    /// When compression or encryption changed the bytes: how (`zstd`, `age`, `zstd+age`), and
    /// the stored size and sha256.
    pub stored: Option<Box<StoredAs>>,
    /// Names retention deleted.
    pub pruned: Vec<String>,
    /// A problem with retention after the backup itself succeeded.
    pub retention_error: Option<Msg>,
}

/// How a copy was stored, when the codecs changed its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAs {
    /// `zstd`, `age` or `zstd+age`.
    pub codec: &'static str,
    /// Bytes stored.
    pub bytes: u64,
    /// Their sha256.
    pub sha256: String,
}

/// An attempt that failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct Failure {
    /// Phase reached.
    pub phase: Phase,
    /// What went wrong, for the operator.
    pub reason: Msg,
    /// Whether trying again later may help.
    pub retry: Retry,
    /// Bytes streamed before it failed.
    pub bytes: u64,
}

impl Failure {
    /// A failure in `phase`.
    pub fn new(phase: Phase, reason: Msg, retry: Retry) -> Self {
        Failure { phase, reason, retry, bytes: 0 }
    }
}

/// How a run (or one attempt of it) ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A verified copy was made.
    Succeeded(Success),
    /// It failed; [`Failure::retry`] says whether another attempt may help.
    Failed(Failure),
    /// It was not attempted: the app was busy with another backup or a restore.
    Skipped {
        /// Why, for the operator.
        reason: Msg,
    },
    /// The process stopped it (shutdown, lost lease): not the run's fault.
    Interrupted {
        /// Phase reached.
        phase: Phase,
        /// Why, for the operator.
        reason: Msg,
    },
    /// An operator stopped it.
    Cancelled {
        /// Who, and why.
        reason: Msg,
    },
}

impl Outcome {
    /// The status a run settled with this outcome has.
    pub fn status(&self) -> Status {
        match self {
            Outcome::Succeeded(_) => Status::Succeeded,
            Outcome::Failed(_) => Status::Failed,
            Outcome::Skipped { .. } => Status::Skipped,
            Outcome::Interrupted { .. } => Status::Interrupted,
            Outcome::Cancelled { .. } => Status::Cancelled,
        }
    }

    /// What went wrong, when something did.
    pub fn reason(&self) -> Option<&Msg> {
        match self {
            Outcome::Succeeded(s) => s.retention_error.as_ref(),
            Outcome::Failed(f) => Some(&f.reason),
            Outcome::Skipped { reason } | Outcome::Interrupted { reason, .. } | Outcome::Cancelled { reason } => {
                Some(reason)
            }
        }
    }

    /// The phase reached.
    pub fn phase(&self) -> Option<Phase> {
        match self {
            Outcome::Succeeded(_) => Some(Phase::Retention),
            Outcome::Failed(f) => Some(f.phase),
            Outcome::Interrupted { phase, .. } => Some(*phase),
            Outcome::Skipped { .. } | Outcome::Cancelled { .. } => None,
        }
    }
}

/// How many attempts a run gets, and how long to wait between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts of a run before it stays failed.
    pub max_attempts: i32,
    /// First pause before a retry (doubling).
    pub delay: Duration,
    /// The run is a job of the queue, which takes it up again later: a run that must wait for
    /// Drive's upload budget waits there. Otherwise (the CLI, a safety backup, where someone waits
    /// for the answer now) it ends as skipped, saying why.
    pub queued: bool,
}

impl RetryPolicy {
    /// One attempt, settled whatever happens (the CLI, a safety backup).
    pub const ONCE: RetryPolicy = RetryPolicy { max_attempts: 1, delay: Duration::ZERO, queued: false };
}

/// What to do with a run after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// It ended for good: record it and tell the channels.
    Settle,
    /// Queue it again after this pause; nobody is told yet.
    RetryAfter(Duration),
}

/// The retry policy: a temporary failure with attempts left is tried again after a doubling
/// pause; an interruption (a shutdown, a lost lease) is not the run's fault and is tried again
/// whatever the attempts, when the policy allows retries at all. Everything else settles.
pub fn decide(outcome: &Outcome, attempts: i32, policy: RetryPolicy) -> Decision {
    let pause = || policy.delay.saturating_mul(1 << (attempts - 1).clamp(0, 10));
    match outcome {
        Outcome::Failed(f) if f.retry == Retry::Temporary && attempts < policy.max_attempts => {
            Decision::RetryAfter(pause())
        }
        Outcome::Interrupted { .. } if policy.max_attempts > 1 => Decision::RetryAfter(pause()),
        _ => Decision::Settle,
    }
}

/// Creates a queued run record.
pub async fn create(db: &DatabaseConnection, app_id: i64, trigger: Trigger) -> Result<backup_run::Model, DbErr> {
    create_noted(db, app_id, trigger, None).await
}

/// [`create`], with the operator's note (already checked by `copies::check_note`).
pub async fn create_noted(
    db: &DatabaseConnection,
    app_id: i64,
    trigger: Trigger,
    note: Option<String>,
) -> Result<backup_run::Model, DbErr> {
    let now = now_ms();
    backup_run::ActiveModel {
        note: Set(note.filter(|n| !n.is_empty())),
        app_id: Set(app_id),
        trigger: Set(trigger),
        scheduled_for: Set(None),
        queued_at: Set(now),
        status: Set(Status::Queued),
        bytes: Set(0),
        attempts: Set(0),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Defines `$name`, which inserts the due fires `(app id, fire time)` in the scheduler's
/// transaction and, for each fire this process inserted first, a queued scheduled run; it returns
/// `(run id, app id)` of each. The same SQL on both databases, typed per driver.
macro_rules! create_scheduled {
    ($name:ident, $db:ty) => {
        /// Records the due fires and creates a queued run for each one this process won.
        pub(crate) async fn $name(
            tx: &mut sea_orm::sqlx::Transaction<'_, $db>,
            due: &[(i64, i64)],
            now: i64,
        ) -> Result<Vec<(i64, i64)>, sea_orm::sqlx::Error> {
            use sea_orm::ActiveEnum as _;
            use sea_orm::sqlx::{QueryBuilder, Row};
            let mut q = QueryBuilder::<$db>::new("INSERT INTO schedule_fires (app_id, fire_at, created_at) ");
            q.push_values(due, |mut b, (app, at)| {
                b.push_bind(*app).push_bind(*at).push_bind(now);
            });
            q.push(" ON CONFLICT DO NOTHING RETURNING app_id, fire_at");
            let won: Vec<(i64, i64)> =
                q.build().fetch_all(&mut **tx).await?.iter().map(|r| (r.get(0), r.get(1))).collect();
            if won.is_empty() {
                return Ok(Vec::new());
            }
            let mut q = QueryBuilder::<$db>::new(
                "INSERT INTO backup_runs (app_id, trigger, scheduled_for, queued_at, status, bytes, attempts, updated_at) ",
            );
            q.push_values(&won, |mut b, (app, at)| {
                b.push_bind(*app)
                    .push_bind(Trigger::Schedule.to_value())
                    .push_bind(*at)
                    .push_bind(now)
                    .push_bind(Status::Queued.to_value())
                    .push_bind(0i64)
                    .push_bind(0i32)
                    .push_bind(now);
            });
            q.push(" RETURNING id, app_id");
            let rows = q.build().fetch_all(&mut **tx).await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        }
    };
}

create_scheduled!(create_scheduled_pg, sea_orm::sqlx::Postgres);
create_scheduled!(create_scheduled_sqlite, sea_orm::sqlx::Sqlite);

/// Marks a run as started (one more attempt) by `runner`; returns the row as it now is, or `None`
/// when the run changed since `run` was read (an operator cancelled it meanwhile): then it must
/// not start.
pub async fn start(
    db: &DatabaseConnection,
    run: &backup_run::Model,
    runner: &str,
) -> Result<Option<backup_run::Model>, DbErr> {
    let now = now_ms();
    let result = backup_run::Entity::update_many()
        .col_expr(backup_run::Column::Status, Expr::value(Status::Running))
        .col_expr(backup_run::Column::StartedAt, Expr::value(now))
        .col_expr(
            backup_run::Column::FirstStartedAt,
            Expr::value(run.first_started_at.or(run.started_at).unwrap_or(now)),
        )
        .col_expr(backup_run::Column::FinishedAt, Expr::value(Option::<i64>::None))
        .col_expr(backup_run::Column::RetryAt, Expr::value(Option::<i64>::None))
        .col_expr(backup_run::Column::Error, Expr::value(Option::<String>::None))
        .col_expr(backup_run::Column::Attempts, Expr::value(run.attempts + 1))
        .col_expr(backup_run::Column::Phase, Expr::value(Phase::Capabilities))
        .col_expr(backup_run::Column::Bytes, Expr::value(0i64))
        .col_expr(backup_run::Column::UpdatedAt, Expr::value(now))
        .col_expr(backup_run::Column::Runner, Expr::value(runner))
        .filter(backup_run::Column::Id.eq(run.id))
        .filter(backup_run::Column::Status.eq(run.status))
        .filter(backup_run::Column::CancelRequestedAt.is_null())
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Ok(None);
    }
    get(db, run.id).await
}

/// What a request to cancel a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancel {
    /// It had not started (queued, waiting between attempts or for Drive's budget): it is
    /// cancelled now, and its job does nothing when it comes.
    Cancelled,
    /// It is running: the process running it stops it within a second or so, aborting its upload,
    /// and records it as cancelled.
    Requested,
    /// It had already ended, with this status: nothing to cancel.
    Ended(Status),
}

/// Cancels run `run_id` on behalf of `by` (who asked; it becomes the run's reason). `None` when
/// there is no such run.
pub async fn cancel(db: &DatabaseConnection, run_id: i64, by: &str) -> Result<Option<Cancel>, DbErr> {
    let now = now_ms();
    let reason = Msg::new("reason.cancelled_by").with("by", by);
    let Some(run) = get(db, run_id).await? else { return Ok(None) };
    if !run.status.is_active() {
        return Ok(Some(Cancel::Ended(run.status)));
    }
    // Not running: ended here, unless a worker started it in the meantime.
    let ended = backup_run::Entity::update_many()
        .col_expr(backup_run::Column::Status, Expr::value(Status::Cancelled))
        .col_expr(backup_run::Column::Error, Expr::value(reason.to_string()))
        .col_expr(backup_run::Column::ErrorMsg, Expr::value(reason.to_json()))
        .col_expr(backup_run::Column::CancelReason, Expr::value(by))
        .col_expr(backup_run::Column::CancelRequestedAt, Expr::value(now))
        .col_expr(backup_run::Column::FinishedAt, Expr::value(now))
        .col_expr(backup_run::Column::RetryAt, Expr::value(Option::<i64>::None))
        .col_expr(backup_run::Column::DurationMs, Expr::value(run.first_started_at.or(run.started_at).map(|s| now - s)))
        .col_expr(backup_run::Column::UpdatedAt, Expr::value(now))
        .filter(backup_run::Column::Id.eq(run_id))
        .filter(backup_run::Column::Status.is_in([Status::Queued, Status::Waiting]))
        .exec(db)
        .await?;
    if ended.rows_affected == 1 {
        return Ok(Some(Cancel::Cancelled));
    }
    let asked = backup_run::Entity::update_many()
        .col_expr(backup_run::Column::CancelReason, Expr::value(by))
        .col_expr(backup_run::Column::CancelRequestedAt, Expr::value(now))
        .filter(backup_run::Column::Id.eq(run_id))
        .filter(backup_run::Column::Status.eq(Status::Running))
        .exec(db)
        .await?;
    if asked.rows_affected == 1 {
        return Ok(Some(Cancel::Requested));
    }
    // It ended between the two reads.
    let status = get(db, run_id).await?.map_or(Status::Cancelled, |r| r.status);
    Ok(Some(if status.is_active() { Cancel::Requested } else { Cancel::Ended(status) }))
}

/// Who asked to cancel run `run_id`, once somebody did.
pub async fn cancel_requested(db: &DatabaseConnection, run_id: i64) -> Result<Option<String>, DbErr> {
    use sea_orm::QuerySelect;
    let row: Option<(Option<i64>, Option<String>)> = backup_run::Entity::find_by_id(run_id)
        .select_only()
        .column(backup_run::Column::CancelRequestedAt)
        .column(backup_run::Column::CancelReason)
        .into_tuple()
        .one(db)
        .await?;
    Ok(row.and_then(|(at, by)| at.map(|_| by.unwrap_or_default())))
}

/// Records progress: the phase reached and bytes so far.
pub async fn progress(db: &DatabaseConnection, run_id: i64, phase: Phase, bytes: u64) -> Result<(), DbErr> {
    backup_run::Entity::update_many()
        .col_expr(backup_run::Column::Phase, Expr::value(phase))
        .col_expr(backup_run::Column::Bytes, Expr::value(bytes as i64))
        .col_expr(backup_run::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(backup_run::Column::Id.eq(run_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Puts a run whose attempt failed back in the queued state, saying why and when it runs again
/// (`retry_at`). Not an ending: nobody is told.
pub async fn retry_later(db: &DatabaseConnection, run_id: i64, reason: &Msg, delay: Duration) -> Result<(), DbErr> {
    backup_run::Entity::update_many()
        .col_expr(backup_run::Column::Status, Expr::value(Status::Queued))
        .col_expr(backup_run::Column::Error, Expr::value(reason.to_string()))
        .col_expr(backup_run::Column::ErrorMsg, Expr::value(reason.to_json()))
        .col_expr(backup_run::Column::RetryAt, Expr::value(now_ms() + delay.as_millis() as i64))
        .col_expr(backup_run::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(backup_run::Column::Id.eq(run_id))
        .filter(backup_run::Column::Status.eq(Status::Running))
        .exec(db)
        .await
        .map(|_| ())
}

/// Puts a run in the waiting state: Drive's daily upload budget is spent (`reason` says whose
/// and when it frees). Not an ending and not a failure: nobody is told, and an attempt it had
/// begun is not counted (the run was not at fault). What it had streamed is not kept.
pub async fn wait(db: &DatabaseConnection, run_id: i64, reason: &Msg) -> Result<(), DbErr> {
    let run =
        backup_run::Entity::find_by_id(run_id).one(db).await?.ok_or(DbErr::RecordNotFound(format!("run {run_id}")))?;
    let began = run.status == Status::Running;
    let mut row: backup_run::ActiveModel = run.clone().into();
    row.status = Set(Status::Waiting);
    row.error = Set(Some(reason.to_string()));
    row.error_msg = Set(Some(reason.to_json()));
    row.phase = Set(None);
    row.bytes = Set(0);
    if began {
        row.attempts = Set((run.attempts - 1).max(0));
    }
    row.updated_at = Set(now_ms());
    row.update(db).await.map(|_| ())
}

/// The newest run of `app_id` other than `run_id` that waits for Drive's budget, if any.
pub async fn waiting_run(db: &DatabaseConnection, app_id: i64, run_id: i64) -> Result<Option<i64>, DbErr> {
    use sea_orm::QuerySelect;
    backup_run::Entity::find()
        .select_only()
        .column(backup_run::Column::Id)
        .filter(backup_run::Column::AppId.eq(app_id))
        .filter(backup_run::Column::Status.eq(Status::Waiting))
        .filter(backup_run::Column::Id.ne(run_id))
        .order_by_desc(backup_run::Column::Id)
        .into_tuple()
        .one(db)
        .await
}

/// Ends a run for good: records the outcome (`note` is appended to its reason, e.g. that an
/// earlier attempt was interrupted) and tells the app's channels. Returns the row as recorded.
pub async fn settle(
    db: &DatabaseConnection,
    notifier: &Notifier,
    app: &App,
    run_id: i64,
    outcome: &Outcome,
    note: Option<&Msg>,
) -> Result<backup_run::Model, DbErr> {
    let run = record(db, run_id, outcome, note).await?;
    match outcome {
        Outcome::Succeeded(_) => notifier.run_succeeded(app, &run).await,
        Outcome::Failed(_) | Outcome::Interrupted { .. } => notifier.run_failed(app, &run).await,
        Outcome::Skipped { .. } | Outcome::Cancelled { .. } => {}
    }
    Ok(run)
}

/// Ends a run for good without telling anyone: its app is gone, so there is nobody to tell.
pub async fn settle_quietly(
    db: &DatabaseConnection,
    run_id: i64,
    outcome: &Outcome,
) -> Result<backup_run::Model, DbErr> {
    record(db, run_id, outcome, None).await
}

async fn record(
    db: &DatabaseConnection,
    run_id: i64,
    outcome: &Outcome,
    note: Option<&Msg>,
) -> Result<backup_run::Model, DbErr> {
    let run =
        backup_run::Entity::find_by_id(run_id).one(db).await?.ok_or(DbErr::RecordNotFound(format!("run {run_id}")))?;
    if run.status == Status::Cancelled {
        // An operator cancelled it while this ending was on its way: the cancel stands.
        return Ok(run);
    }
    let now = now_ms();
    // Every attempt counts, and the waits between them.
    let duration = run.first_started_at.or(run.started_at).map(|s| now - s);
    let reason = match (outcome.reason(), note) {
        (Some(reason), Some(note)) => {
            Some(Msg::new("reason.with_note").with_msg("reason", reason.clone()).with_msg("note", note.clone()))
        }
        (reason, note) => reason.or(note).cloned(),
    };
    let mut row: backup_run::ActiveModel = run.into();
    row.status = Set(outcome.status());
    row.finished_at = Set(Some(now));
    row.duration_ms = Set(duration);
    if let Some(phase) = outcome.phase() {
        row.phase = Set(Some(phase));
    }
    match outcome {
        Outcome::Succeeded(s) => {
            row.bytes = Set(s.bytes as i64);
            row.sha256 = Set(Some(s.sha256.clone()));
            row.file_id = Set(Some(s.file.id.clone()));
            row.file_name = Set(Some(s.file.name.clone()));
            row.pruned = Set((!s.pruned.is_empty()).then(|| s.pruned.join(",")));
            row.codec = Set(s.stored.as_ref().map(|st| st.codec.to_owned()));
            row.stored_bytes = Set(s.stored.as_ref().map(|st| st.bytes as i64));
            row.stored_sha256 = Set(s.stored.as_ref().map(|st| st.sha256.clone()));
        }
        Outcome::Failed(f) => {
            row.bytes = Set(f.bytes as i64);
            row.sha256 = Set(None);
            row.file_id = Set(None);
            row.file_name = Set(None);
            row.pruned = Set(None);
        }
        _ => {}
    }
    row.error = Set(reason.as_ref().map(Msg::to_string));
    row.error_msg = Set(reason.as_ref().map(Msg::to_json));
    row.updated_at = Set(now);
    row.update(db).await
}

/// Marks interrupted the runs left "running" by a process that is gone: no live lease for the
/// app and no progress for `stale_ms`. Returns how many. (The queue re-runs their jobs; this
/// keeps the record honest in the meantime, so no run stays "running" forever.)
pub async fn sweep_interrupted(db: &DatabaseConnection, stale_ms: i64) -> Result<u64, DbErr> {
    let now = now_ms();
    let swept = Msg::new("reason.process_stopped");
    let live: Vec<i64> = app_lease::Entity::find()
        .filter(app_lease::Column::ExpiresAt.gt(now))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.app_id)
        .collect();
    let result = backup_run::Entity::update_many()
        .col_expr(backup_run::Column::Status, Expr::value(Status::Interrupted))
        .col_expr(backup_run::Column::Error, Expr::value(swept.to_string()))
        .col_expr(backup_run::Column::ErrorMsg, Expr::value(swept.to_json()))
        .col_expr(backup_run::Column::FinishedAt, Expr::value(now))
        .filter(backup_run::Column::Status.eq(Status::Running))
        .filter(backup_run::Column::UpdatedAt.lt(now - stale_ms))
        .filter(backup_run::Column::AppId.is_not_in(live))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Settles, as failed with `reason`, queued runs that will never start (the safety backup of a
/// restore that was interrupted before it). Returns how many.
pub async fn abandon_queued(db: &DatabaseConnection, run_ids: &[i64], reason: &Msg) -> Result<u64, DbErr> {
    let result = backup_run::Entity::update_many()
        .col_expr(backup_run::Column::Status, Expr::value(Status::Failed))
        .col_expr(backup_run::Column::Error, Expr::value(reason.to_string()))
        .col_expr(backup_run::Column::ErrorMsg, Expr::value(reason.to_json()))
        .col_expr(backup_run::Column::FinishedAt, Expr::value(now_ms()))
        .filter(backup_run::Column::Id.is_in(run_ids.iter().copied()))
        .filter(backup_run::Column::Status.eq(Status::Queued))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// The oldest run of `app_id` that is queued, running or waiting, if any.
pub async fn active_of(db: &DatabaseConnection, app_id: i64) -> Result<Option<backup_run::Model>, DbErr> {
    backup_run::Entity::find()
        .filter(backup_run::Column::AppId.eq(app_id))
        .filter(backup_run::Column::Status.is_in(Status::ACTIVE))
        .order_by_asc(backup_run::Column::Id)
        .one(db)
        .await
}

/// A run by id.
pub async fn get(db: &DatabaseConnection, run_id: i64) -> Result<Option<backup_run::Model>, DbErr> {
    backup_run::Entity::find_by_id(run_id).one(db).await
}

/// The latest runs of an app, newest first.
pub async fn recent(db: &DatabaseConnection, app_id: i64, limit: u64) -> Result<Vec<backup_run::Model>, DbErr> {
    use sea_orm::QuerySelect;
    backup_run::Entity::find()
        .filter(backup_run::Column::AppId.eq(app_id))
        .order_by_desc(backup_run::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy { max_attempts: 3, delay: Duration::from_secs(30), queued: true };

    fn failed(retry: Retry) -> Outcome {
        Outcome::Failed(Failure::new(Phase::Export, Msg::untranslated("boom"), retry))
    }

    #[test]
    fn a_temporary_failure_is_retried_with_a_doubling_pause_until_attempts_run_out() {
        assert_eq!(decide(&failed(Retry::Temporary), 1, POLICY), Decision::RetryAfter(Duration::from_secs(30)));
        assert_eq!(decide(&failed(Retry::Temporary), 2, POLICY), Decision::RetryAfter(Duration::from_secs(60)));
        assert_eq!(decide(&failed(Retry::Temporary), 3, POLICY), Decision::Settle);
    }

    #[test]
    fn a_permanent_failure_a_skip_and_a_success_settle_at_once() {
        assert_eq!(decide(&failed(Retry::Permanent), 1, POLICY), Decision::Settle);
        assert_eq!(decide(&Outcome::Skipped { reason: Msg::untranslated("busy") }, 1, POLICY), Decision::Settle);
        assert_eq!(decide(&Outcome::Cancelled { reason: Msg::untranslated("by ana") }, 1, POLICY), Decision::Settle);
    }

    #[test]
    fn an_interruption_does_not_use_up_attempts_but_settles_when_nothing_retries() {
        let stopped = Outcome::Interrupted { phase: Phase::Export, reason: Msg::untranslated("shutting down") };
        assert!(matches!(decide(&stopped, 7, POLICY), Decision::RetryAfter(_)));
        assert_eq!(decide(&stopped, 1, RetryPolicy::ONCE), Decision::Settle);
        assert_eq!(decide(&failed(Retry::Temporary), 1, RetryPolicy::ONCE), Decision::Settle);
    }

    #[test]
    fn stored_values_are_the_strings_earlier_versions_wrote() {
        use sea_orm::{ActiveEnum, Iterable};
        for status in Status::iter() {
            assert_eq!(status.to_value(), status.as_str());
        }
        for trigger in Trigger::iter() {
            assert_eq!(trigger.to_value(), trigger.as_str());
        }
        for phase in Phase::iter() {
            assert_eq!(phase.to_value(), phase.as_str());
        }
        let old = ["queued", "running", "succeeded", "failed", "skipped"];
        assert!(old.iter().all(|s| Status::try_from_value(&(*s).to_owned()).is_ok()));
        let old = ["schedule", "manual", "cli", "safety"];
        assert!(old.iter().all(|s| Trigger::try_from_value(&(*s).to_owned()).is_ok()));
    }
}
