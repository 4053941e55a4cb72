//! Restores: a verified copy streamed from the destination back into its app's
//! `POST /backup/import`, after a safety backup of the app's current state unless the operator
//! opts out. Owns the `restores` rows and their progress.
//!
//! A copy may also be restored into another app than its own (production into staging): the
//! copy is still checked as its own app's (the SOURCE), while the app restored into (the TARGET)
//! must take its type; the safety backup, the lease and the row are the target's, and the row
//! names the source.
//!
//! Three steps, so an HTTP handler can answer at once and leave the long part to a job
//! (`jobs::restore`): [`prepare`] finds the copy and asks the app whether it can take it back,
//! [`begin`] records the restore as queued, [`execute`] does the work. A refusal in the first two changes nothing: no
//! row, no safety backup, nothing sent to the app. The copy never touches a temporary file or
//! sits whole in memory: it goes from the destination to the app one chunk at a time, hashed and
//! counted on the way, while the row says how far it got about once a second (a page served by
//! another process reads progress from the database).

mod copy;
pub mod record;
mod tap;

use std::sync::Arc;
use std::time::{Duration, Instant};

use contract_spec::client::AppClient;
use sea_orm::ActiveValue::Set;
use sea_orm::prelude::*;

use crate::audit;
use crate::backup::cancel::CancelWatch;
use crate::backup::lease::Lease;
use crate::backup::lifecycle::{self, Outcome, Phase, RetryPolicy, Trigger};
use crate::backup::reason;
use crate::backup::run::{Ended, Progress, Runner};
use crate::catalogue::{Msg, Said};
use crate::codec::Stored;
use crate::codec::keys::Identities;
use crate::codec::stream::decode;
use crate::db::entities::{app_lease, restore};
use crate::db::now_ms;
use crate::error::{Class, Error};
use crate::registry::App;
use crate::storage::destination::StoredFile;
use copy::check_copy;
use tap::{Seen, Tap};

/// A running restore that has not reported for this long belongs to a process that is gone.
pub const STALE_AFTER: Duration = Duration::from_secs(120);

/// A restore record that restores a copy into its app (or another app).
pub const KIND_RESTORE: &str = "restore";
/// A restore drill through the app's `POST /backup/verify`: the copy is checked, nothing applied.
pub const KIND_DRILL: &str = "drill";
/// A restore drill that restores the copy into another (scratch) app, without a safety backup.
pub const KIND_DRILL_RESTORE: &str = "drill_restore";

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct RestoreRequest {
    /// The copy: its file name, or its destination file id.
    pub copy: String,
    /// Back up the app's current state first.
    pub safety_backup: bool,
    /// Who asked ("cli", a user name, an API token's name), for the row and the audit log.
    pub actor: String,
    /// [`KIND_RESTORE`], [`KIND_DRILL`] or [`KIND_DRILL_RESTORE`].
    pub kind: &'static str,
}

crate::backup::lifecycle::display_as_stored!(RestoreStatus, RestorePhase);

/// Where a restore stands, as stored in `restores.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum RestoreStatus {
    /// Recorded, waiting for a worker.
    #[sea_orm(string_value = "queued")]
    Queued,
    /// A worker is restoring it.
    #[sea_orm(string_value = "running")]
    Running,
    /// The app took the copy back.
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    /// It failed; the app's data is as the app left it.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// The process running it stopped. A restore is never resumed by itself: start it again.
    #[sea_orm(string_value = "interrupted")]
    Interrupted,
    /// An operator stopped it: the upload into the app was cut off before its end, so the app
    /// committed nothing; never alerted as a failure, never a passed drill.
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

impl RestoreStatus {
    /// The status as stored and as keyed in the translations.
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreStatus::Queued => "queued",
            RestoreStatus::Running => "running",
            RestoreStatus::Succeeded => "succeeded",
            RestoreStatus::Failed => "failed",
            RestoreStatus::Interrupted => "interrupted",
            RestoreStatus::Cancelled => "cancelled",
        }
    }

    /// Waiting or running: it may still change.
    pub fn is_active(self) -> bool {
        matches!(self, RestoreStatus::Queued | RestoreStatus::Running)
    }

    /// The statuses of a restore that may still change.
    pub const ACTIVE: [RestoreStatus; 2] = [RestoreStatus::Queued, RestoreStatus::Running];
}

/// Where a restore is, as stored in `restores.phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum RestorePhase {
    /// Backing up the app's current state.
    #[sea_orm(string_value = "safety_backup")]
    SafetyBackup,
    /// Finding and opening the copy in the destination.
    #[sea_orm(string_value = "download")]
    Download,
    /// Streaming the copy into the app.
    #[sea_orm(string_value = "import")]
    Import,
    /// Finished.
    #[sea_orm(string_value = "done")]
    Done,
}

impl RestorePhase {
    /// The phase as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RestorePhase::SafetyBackup => "safety_backup",
            RestorePhase::Download => "download",
            RestorePhase::Import => "import",
            RestorePhase::Done => "done",
        }
    }

    /// Its name in the catalogue.
    pub fn key(self) -> &'static str {
        match self {
            RestorePhase::SafetyBackup => "phase.safety_backup",
            RestorePhase::Download => "phase.download",
            RestorePhase::Import => "phase.import",
            RestorePhase::Done => "phase.done",
        }
    }
}

/// A progress report, about once a second and at each phase change.
#[derive(Debug, Clone, Copy)]
pub struct RestoreProgress {
    /// Phase.
    pub phase: RestorePhase,
    /// Bytes sent to the app; during the safety backup, bytes backed up so far.
    pub bytes: u64,
    /// The copy's size, while it is sent.
    pub total: Option<u64>,
    /// The safety backup's own phase, while it runs.
    pub backup: Option<Phase>,
    /// Time since the phase started.
    pub elapsed: Duration,
}

/// The backup taken before a restore.
#[derive(Debug, Clone)]
pub struct SafetyCopy {
    /// Its run.
    pub run_id: i64,
    /// The stored copy's name.
    pub file_name: String,
    /// The stored copy's id.
    pub file_id: String,
}

/// A restore that succeeded.
#[derive(Debug, Clone)]
pub struct Restored {
    /// Bytes sent to (and restored by) the app.
    pub bytes: u64,
    /// sha256 of those bytes.
    pub sha256: String,
    /// The safety backup, when one was taken.
    pub safety: Option<SafetyCopy>,
}

/// A restore that failed or was cancelled, recorded as such.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct RestoreFailure {
    /// Phase reached.
    pub phase: RestorePhase,
    /// What went wrong, for the operator; for a cancelled restore, who cancelled it and where
    /// it stopped.
    pub message: Msg,
    /// The safety backup, when one was taken before the failure: it holds the app's state from
    /// before the attempt.
    pub safety: Option<SafetyCopy>,
    /// An operator cancelled it (recorded as cancelled, not failed, and not alerted).
    pub cancelled: bool,
}

impl RestoreFailure {
    fn new(phase: RestorePhase, message: Msg) -> Self {
        RestoreFailure { phase, message, safety: None, cancelled: false }
    }

    /// A restore an operator cancelled during `phase`; `message` says who and what it left.
    fn cancelled(phase: RestorePhase, message: Msg) -> Self {
        RestoreFailure { cancelled: true, ..RestoreFailure::new(phase, message) }
    }
}

/// What `app` says it can do, asked before anything reaches it or the destination; refused
/// when it takes no restores. `nothing` ends the messages ("nothing was changed", "nothing was
/// stored"): what the refusal left as it was.
pub(crate) async fn restore_capabilities(
    runner: &Runner,
    app: &App,
    nothing: &'static str,
) -> Result<contract_spec::Capabilities, Error> {
    let client = AppClient::new(&app.url, app.token.clone(), runner.settings.timeouts).map_err(|e| {
        Error::Said(Class::Invalid, Msg::new("refusal.app_url").with("app", &app.name).quoting("detail", e))
    })?;
    let caps = client.capabilities().await.map_err(|e| {
        Error::app(format_args!("could not ask {} whether it accepts restores ({})", app.name, Msg::new(nothing)), &e)
    })?;
    if !caps.restore {
        return Err(Error::refused(
            Msg::new("refusal.no_restores").with("app", &app.name).with_msg("nothing", Msg::new(nothing)),
        ));
    }
    Ok(caps)
}

/// Finds `copy` (a name or a file id) in the folder of `source`, checks it can be restored as a
/// copy of `source` (an encrypted copy needs an identity that opens it: `identity`, handed in for
/// this restore, or `ENCRYPTION_IDENTITY_FILE`), and asks `target` (the app restored into:
/// `source` itself, or another app) whether it accepts restores of its type. Changes nothing.
pub async fn prepare(
    runner: &Runner,
    source: &App,
    target: &App,
    copy: &str,
    identity: Option<&Arc<Identities>>,
) -> Result<StoredFile, Error> {
    let file = find_copy(runner, source, copy).await?;
    let checked = check_copy(&runner.deployment_id, source, &file)?;
    check_identity(&file, opener(runner, identity).as_deref())?;
    let app = target;
    let caps = restore_capabilities(runner, app, "refusal.nothing_changed").await?;
    if caps.resolve_type(Some(&checked.backup_type)).is_none() {
        let offered: Vec<&str> = caps.types.iter().map(|t| t.name.as_str()).collect();
        if source.id != target.id {
            return Err(Error::refused(
                Msg::new("refusal.type_not_offered")
                    .with("copy", &file.name)
                    .with("type", format!("{:?}", checked.backup_type))
                    .with("source", &source.name)
                    .with("target", &target.name)
                    .with("offered", offered.join(", ")),
            ));
        }
        return Err(Error::refused(
            Msg::new("refusal.type_gone")
                .with("copy", &file.name)
                .with("type", format!("{:?}", checked.backup_type))
                .with("app", &app.name)
                .with("offered", offered.join(", ")),
        ));
    }
    Ok(file)
}

/// The copy of `app` called `copy` (a name or a file id).
async fn find_copy(runner: &Runner, app: &App, copy: &str) -> Result<StoredFile, Error> {
    runner
        .destination
        .find(&app.folder, copy)
        .await
        .map_err(|e| Error::destination(format_args!("could not look for {copy:?} in the folder of {}", app.name), &e))?
        .ok_or_else(|| {
            Error::Said(
                Class::NotFound,
                Msg::new("refusal.no_copy")
                    .with("copy", format!("{copy:?}"))
                    .with("app", &app.name)
                    .with("folder", &app.folder),
            )
        })
}

/// Finds `copy` in the folder of `app` and checks it can be drilled through the app's
/// `POST /backup/verify`: the app's own verified copy, openable here, of a type the app
/// advertises `verify: true` for. Changes nothing.
pub async fn prepare_drill(
    runner: &Runner,
    app: &App,
    copy: &str,
    identity: Option<&Arc<Identities>>,
) -> Result<StoredFile, Error> {
    let file = find_copy(runner, app, copy).await?;
    let checked = check_copy(&runner.deployment_id, app, &file)?;
    check_identity(&file, opener(runner, identity).as_deref())?;
    let client = AppClient::new(&app.url, app.token.clone(), runner.settings.timeouts)
        .map_err(|e| Error::Invalid(format!("{}: {e}", app.name)))?;
    let caps = client.capabilities().await.map_err(|e| {
        Error::app(format_args!("could not ask {} whether it verifies copies (nothing was drilled)", app.name), &e)
    })?;
    match caps.resolve_type(Some(&checked.backup_type)) {
        Some(t) if t.verify => Ok(file),
        Some(_) => Err(Error::refused(
            Msg::new("refusal.no_verify").with("app", &app.name).with("type", format!("{:?}", checked.backup_type)),
        )),
        None => Err(Error::refused(
            Msg::new("refusal.drill_type_gone")
                .with("copy", &file.name)
                .with("type", format!("{:?}", checked.backup_type))
                .with("app", &app.name),
        )),
    }
}

/// The identity that opens encrypted copies for this restore: the one handed in, else the
/// orchestrator's own (`ENCRYPTION_IDENTITY_FILE`).
fn opener(runner: &Runner, identity: Option<&Arc<Identities>>) -> Option<Arc<Identities>> {
    identity.cloned().or_else(|| runner.encryption.identities.clone())
}

/// An encrypted copy can be opened with `identity`: one is there and, when the copy's marks name
/// its recipients, one of them is the identity's.
fn check_identity(file: &StoredFile, identity: Option<&Identities>) -> Result<(), Error> {
    let stored = Stored::of(&file.properties)
        .map_err(|e| Error::refused(Msg::new("refusal.marks").with("copy", &file.name).quoting("detail", e)))?;
    if !stored.age {
        return Ok(());
    }
    let Some(identity) = identity else {
        return Err(Error::refused(Msg::new("refusal.no_identity").with("copy", &file.name)));
    };
    let ours = identity.fingerprints();
    if !stored.recipients.is_empty() && !stored.recipients.iter().any(|r| ours.contains(r)) {
        return Err(Error::refused(
            Msg::new("refusal.wrong_identity")
                .with("copy", &file.name)
                .with("recipients", stored.recipients.join(", "))
                .with("ours", ours.join(", ")),
        ));
    }
    Ok(())
}

/// Records a restore of `file` (a copy of `source`, found by [`prepare`]) into `target` as
/// queued, with the target's safety backup queued when one is asked for, and audits it. Refuses,
/// changing nothing, while a backup or another restore of the target runs. Returns at once:
/// [`execute`] does the work.
pub async fn begin(
    db: &DatabaseConnection,
    deployment: &str,
    source: &App,
    target: &App,
    file: &StoredFile,
    req: &RestoreRequest,
) -> Result<restore::Model, Error> {
    check_copy(deployment, source, file)?;
    let app = target;
    let elsewhere = source.id != target.id;
    record::sweep_interrupted(db, STALE_AFTER).await?;
    let running = restore::Entity::find()
        .filter(restore::Column::AppId.eq(app.id))
        .filter(restore::Column::Status.is_in(RestoreStatus::ACTIVE))
        .one(db)
        .await?;
    if let Some(other) = running {
        return Err(Error::Said(
            Class::Busy,
            Msg::new("refusal.restore_running").with("app", &app.name).with("id", other.id).with("actor", &other.actor),
        ));
    }
    let lease = app_lease::Entity::find_by_id(app.id).one(db).await?.filter(|l| l.expires_at > now_ms());
    if let Some(lease) = lease {
        let msg = match lease.run_id {
            Some(run) => Msg::new("refusal.backup_running").with("run", run),
            None => Msg::new("refusal.other_restore_running"),
        };
        return Err(Error::Said(Class::Busy, msg.with("app", &app.name)));
    }
    let now = now_ms();
    let row = restore::ActiveModel {
        app_id: Set(app.id),
        copy_file_id: Set(file.id.clone()),
        copy_name: Set(file.name.clone()),
        status: Set(RestoreStatus::Queued),
        phase: Set(None),
        bytes: Set(0),
        total_bytes: Set(file.size as i64),
        safety_run_id: Set(None),
        actor: Set(req.actor.clone()),
        started_at: Set(now),
        updated_at: Set(now),
        source_app_id: Set(elsewhere.then_some(source.id)),
        source_app: Set(elsewhere.then(|| source.name.clone())),
        kind: Set(req.kind.to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let row = if req.safety_backup {
        let safety = match lifecycle::create(db, app.id, Trigger::Safety).await {
            Ok(run) => run,
            Err(e) => {
                let _ = restore::Entity::delete_by_id(row.id).exec(db).await;
                return Err(e.into());
            }
        };
        let mut active: restore::ActiveModel = row.into();
        active.safety_run_id = Set(Some(safety.id));
        active.update(db).await?
    } else {
        row
    };
    // The copy, and the app it came from when that is not the app restored into.
    let copy = if elsewhere {
        Msg::new("audit_detail.copy_of").with("name", &file.name).with("id", &file.id).with("source", &source.name)
    } else {
        Msg::new("audit_detail.copy").with("name", &file.name).with("id", &file.id)
    };
    let (action, detail) = match req.kind {
        KIND_DRILL => ("drill.start", Msg::new("audit_detail.drill_start").with("id", row.id).with_msg("copy", copy)),
        KIND_DRILL_RESTORE => (
            "drill.start",
            Msg::new("audit_detail.drill_restore_start")
                .with("id", row.id)
                .with_msg("copy", copy)
                .with("app", &app.name),
        ),
        _ if req.safety_backup => {
            ("restore.start", Msg::new("audit_detail.restore_start_safety").with("id", row.id).with_msg("copy", copy))
        }
        _ => ("restore.start", Msg::new("audit_detail.restore_start").with("id", row.id).with_msg("copy", copy)),
    };
    audit::record_said(db, &req.actor, action, Some(&app.name), &detail).await;
    Ok(row)
}

/// Runs restore `restore_id` (from [`begin`]) of a copy of `source` into `app`: the app's safety
/// backup when one was asked for, then the copy streamed into the app. The row is kept up to date
/// and closed with the outcome, which is audited. `on_progress` hears about it about once a
/// second.
///
/// An operator's cancel (`record::cancel`) is heard while it runs: the safety backup is cancelled
/// by the same request and stops on its own; the stream into the app is dropped where it is, so
/// the app's import sees its upload end early and commits nothing; the app's lease is released
/// at once and the restore is recorded as cancelled (a drill is not told as a failure).
pub async fn execute(
    runner: &Runner,
    source: &App,
    app: &App,
    restore_id: i64,
    identity: Option<Arc<Identities>>,
    on_progress: &(dyn Fn(RestoreProgress) + Sync),
) -> Result<Restored, RestoreFailure> {
    let db = &runner.db;
    let row = record::claim(db, app, restore_id).await?;
    runner.notifier.restore_started(app, &row).await;
    let cancel = CancelWatch::for_restore(db, restore_id);
    let mut tracker = Tracker {
        db,
        restore_id,
        on_progress,
        phase: RestorePhase::Download,
        since: Instant::now(),
        total: row.total_bytes.max(0) as u64,
        seen: None,
    };
    let mut safety = None;
    let mut outcome = match row.safety_run_id {
        Some(run_id) => safety_backup(runner, app, run_id, &mut tracker).await.map(|copy| safety = Some(copy)),
        None => Ok(()),
    };
    if outcome.is_ok() {
        outcome = match asked_to_cancel(db, restore_id, &cancel).await {
            Some(reason) => Err(RestoreFailure::cancelled(
                RestorePhase::Download,
                Msg::new("restore_reason.nothing_sent").with_msg("reason", reason).with("app", &app.name),
            )),
            None => import(runner, source, app, &row, opener(runner, identity.as_ref()), &mut tracker, &cancel).await,
        };
    }
    let outcome = match outcome {
        Ok(()) => {
            let seen = tracker.seen.as_ref().expect("an import that succeeded has read the copy");
            Ok(Restored { bytes: seen.bytes(), sha256: seen.sha256().unwrap_or_default(), safety })
        }
        Err(failure) => {
            // The import decides for itself whether a cancel stopped it (one that came after the
            // whole copy was sent did not); before it, whatever stopped the restore (the safety
            // backup cancelled with it) is the cancel's doing when one was asked.
            let asked = match (failure.phase, failure.cancelled) {
                (RestorePhase::Import, _) | (RestorePhase::Download | RestorePhase::Done, true) => None,
                _ => asked_to_cancel(db, restore_id, &cancel).await,
            };
            let failure = match (asked, row.safety_run_id) {
                (Some(reason), Some(run_id)) if failure.phase == RestorePhase::SafetyBackup => {
                    RestoreFailure::cancelled(
                        RestorePhase::SafetyBackup,
                        Msg::new("restore_reason.cancelled_safety")
                            .with_msg("reason", reason)
                            .with("run", run_id)
                            .with("app", &app.name),
                    )
                }
                (Some(reason), _) => {
                    let message = Msg::new("restore_reason.cancelled_after")
                        .with_msg("reason", reason)
                        .with_msg("detail", failure.message);
                    RestoreFailure::cancelled(failure.phase, message)
                }
                (None, _) => failure,
            };
            Err(RestoreFailure { safety, ..failure })
        }
    };
    drop(cancel);
    record::finish(db, app, &row, tracker.bytes(), &outcome).await;
    runner.notifier.restore_ended(app, &row, tracker.bytes(), &outcome).await;
    if let (true, Err(failure)) = (row.kind != KIND_RESTORE, &outcome)
        && !failure.cancelled
    {
        runner.notifier.drill_failed(source, &row, &failure.message).await;
    }
    outcome
}

/// Who asked to cancel the restore `cancel` watches, once somebody did: heard by the watch, or
/// read from the row now (the watch reads it only every [`crate::backup::cancel::CANCEL_POLL`]).
async fn asked_to_cancel(db: &DatabaseConnection, restore_id: i64, cancel: &CancelWatch) -> Option<Msg> {
    if let Some(by) = cancel.reason() {
        return Some(reason::cancelled(by));
    }
    record::cancel_requested(db, restore_id).await.ok().flatten().map(|by| reason::cancelled(&by))
}

/// Backs up the app's current state (run `run_id`, queued by [`begin`]). If it fails, nothing is
/// sent to the app.
async fn safety_backup(
    runner: &Runner,
    app: &App,
    run_id: i64,
    tracker: &mut Tracker<'_>,
) -> Result<SafetyCopy, RestoreFailure> {
    tracker.phase(RestorePhase::SafetyBackup).await;
    let show = tracker.on_progress;
    let forward = move |p: Progress| {
        show(RestoreProgress {
            phase: RestorePhase::SafetyBackup,
            bytes: p.bytes,
            total: None,
            backup: Some(p.phase),
            elapsed: p.elapsed,
        })
    };
    let ended = tracker.while_running(runner.run(app, run_id, RetryPolicy::ONCE, &forward)).await;
    let (what, reason) = match ended {
        Ended::Settled(Outcome::Succeeded(success)) => {
            return Ok(SafetyCopy { run_id, file_name: success.file.name, file_id: success.file.id });
        }
        Ended::Settled(Outcome::Cancelled { reason }) => {
            // An operator cancelled the safety backup (or the restore, which cancels it too):
            // the restore cannot go on without it, and nothing was sent to the app.
            return Err(RestoreFailure::cancelled(
                RestorePhase::SafetyBackup,
                Msg::new("restore_reason.cancelled_with_safety")
                    .with("run", run_id)
                    .with_msg("reason", reason)
                    .with("app", &app.name),
            ));
        }
        Ended::Settled(Outcome::Skipped { reason })
        | Ended::Deferred { reason, .. }
        | Ended::Waiting { reason, .. } => ("restore_reason.safety_not_started", reason),
        Ended::Settled(other) => {
            ("restore_reason.safety_failed", other.reason().cloned().unwrap_or_else(|| Msg::new("reason.unknown")))
        }
        Ended::Retry { reason, .. } => ("restore_reason.safety_failed", reason),
    };
    Err(RestoreFailure::new(
        RestorePhase::SafetyBackup,
        Msg::new(what).with("run", run_id).with_msg("reason", reason).with("app", &app.name),
    ))
}

/// Streams the copy from the destination into the app's import, holding the app's lease so no
/// backup of it starts meanwhile. Cancelled, it stops where it is: the stream into the app (and
/// the read from the destination) is dropped, so the app sees its upload end before the end of
/// the copy and commits nothing, and the lease is released at once.
async fn import(
    runner: &Runner,
    source: &App,
    app: &App,
    row: &restore::Model,
    identity: Option<Arc<Identities>>,
    tracker: &mut Tracker<'_>,
    cancel: &CancelWatch,
) -> Result<(), RestoreFailure> {
    use RestorePhase::{Download, Import};
    tracker.phase(Download).await;
    let db = &runner.db;
    let holder = format!("{}:restore-{}", runner.holder, row.id);
    let lease = match Lease::acquire_for_restore(db, app.id, &holder).await {
        Ok(Ok(lease)) => lease,
        Ok(Err(held)) => {
            let message = match held.run_id {
                Some(r) => Msg::new("restore_reason.backup_meanwhile").with("run", r),
                None => Msg::new("restore_reason.restore_meanwhile"),
            };
            return Err(RestoreFailure::new(Download, message.with("app", &app.name).with("holder", &held.holder)));
        }
        Err(e) => return Err(RestoreFailure::new(Download, reason::database(&e))),
    };
    let seen = Arc::new(Seen::default());
    let work = async {
        let (file, checked) = source_copy(runner, source, row).await?;
        let refused = |detail: Said| Msg::new("restore_reason.copy_refused").with_said("detail", detail);
        check_identity(&file, identity.as_deref()).map_err(|e| RestoreFailure::new(Download, refused(e.said())))?;
        let stored =
            Stored::of(&file.properties).map_err(|e| RestoreFailure::new(Download, refused(e.to_string().into())))?;
        let stream = runner
            .destination
            .reader(&source.folder, &file)
            .await
            .map_err(|e| RestoreFailure::new(Download, reason::destination("restore_reason.read_failed", &e)))?;
        let stream: CopyStream = if stored.is_plain() {
            Box::pin(stream)
        } else {
            // Decoded on the way; a wrong identity or a copy that does not decode is told here,
            // before the app is sent anything.
            let mut decoded = decode(stream, stored.zstd, if stored.age { identity } else { None });
            decoded.ready().await.map_err(|e| {
                RestoreFailure::new(Download, Msg::new("restore_reason.decode_failed").quoting("detail", e))
            })?;
            Box::pin(decoded)
        };
        let client = AppClient::new(&app.url, app.token.clone(), runner.settings.timeouts)
            .map_err(|e| RestoreFailure::new(Download, reason::app(&e)))?;
        let tap = Tap::new(stream, seen.clone());
        tracker.seen = Some(seen.clone());
        tracker.phase(Import).await;
        let answer = if row.kind == KIND_DRILL {
            tracker.while_running(client.verify(&checked.backup_type, &checked.sha256, tap)).await.map(Answer::Checked)
        } else {
            tracker.while_running(client.import(&checked.backup_type, &checked.sha256, tap)).await.map(Answer::Restored)
        };
        tracker.report().await;
        let seen = tracker.seen.as_ref().expect("set above");
        match answer {
            Ok(Answer::Restored(result)) if result.restored => Ok(()),
            Ok(Answer::Restored(_)) => Err(RestoreFailure::new(Import, Msg::new("restore_reason.not_restored"))),
            Ok(Answer::Checked(report)) => {
                if let Err(e) = record::set_report(db, row.id, &report).await {
                    tracing::error!(restore_id = row.id, error = %e, "could not record the drill's report");
                }
                // A pass counts only for the whole copy, as recorded, checked by the app.
                let whole = seen.read_error().is_none() && seen.sha256().as_deref() == Some(checked.sha256.as_str());
                let unproven = if !whole {
                    Some(
                        Msg::new("restore_reason.unproven.not_whole")
                            .with("bytes", seen.bytes())
                            .with("sha256", seen.sha256().unwrap_or_else(|| "-".to_owned()))
                            .with("recorded", &checked.sha256),
                    )
                } else if report.bytes != seen.bytes() {
                    Some(
                        Msg::new("restore_reason.unproven.partial")
                            .with("checked", report.bytes)
                            .with("bytes", seen.bytes()),
                    )
                } else if report.checks.is_empty() || report.checks.iter().any(|c| !c.ok) {
                    Some(Msg::new("restore_reason.unproven.no_checks"))
                } else {
                    None
                };
                if let (true, Some(why)) = (report.ok, unproven) {
                    Err(RestoreFailure::new(Import, Msg::new("restore_reason.not_proven").with_msg("why", why)))
                } else if report.ok {
                    Ok(())
                } else {
                    Err(RestoreFailure::new(
                        Import,
                        Msg::new("restore_reason.would_not_restore")
                            .with("app", &app.name)
                            .quoting("detail", report.failures()),
                    ))
                }
            }
            Err(e) => {
                let mut message = match seen.read_error() {
                    Some(read) => Msg::new("restore_reason.read_cut")
                        .with("bytes", seen.bytes())
                        .quoting("read", read)
                        .with_msg("answer", reason::app(&e)),
                    None => reason::app(&e),
                };
                if let Some(actual) = seen.sha256().filter(|actual| *actual != checked.sha256) {
                    message = Msg::new("restore_reason.damaged")
                        .with_msg("reason", message)
                        .with("actual", actual)
                        .with("recorded", &checked.sha256);
                }
                Err(RestoreFailure::new(Import, message))
            }
        }
    };
    let mut work = Box::pin(work);
    let heard = tokio::select! {
        biased;
        out = &mut work => Ok(out),
        by = cancel.cancelled() => Err(reason::cancelled(&by)),
    };
    let outcome = match heard {
        Ok(outcome) => outcome,
        Err(reason) if seen.cut() => {
            // Stopped where it is: the request to the app (and the read from the destination)
            // is dropped, and the copy's end was never sent.
            drop(work);
            let phase = tracker.phase;
            let message = match phase {
                Import => Msg::new(if row.kind == KIND_DRILL {
                    "restore_reason.cut_drill"
                } else {
                    "restore_reason.cut_restore"
                })
                .with_msg("reason", reason)
                .with("app", &app.name)
                .with("sent", seen.bytes())
                .with("total", tracker.total),
                _ => Msg::new("restore_reason.nothing_sent").with_msg("reason", reason).with("app", &app.name),
            };
            Err(RestoreFailure::cancelled(phase, message))
        }
        Err(reason) => {
            // The whole copy had gone out: the app may be restoring it now, so its answer decides.
            tracing::warn!(restore_id = row.id, %reason, "cancel asked after the whole copy was sent; waiting for the app's answer");
            work.await
        }
    };
    lease.release().await;
    outcome
}

/// What the app answered: an import's result, or a drill's report.
enum Answer {
    Restored(contract_spec::ImportResult),
    Checked(contract_spec::VerifyReport),
}

/// The copy's plaintext on its way to the app.
type CopyStream = std::pin::Pin<Box<dyn futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send>>;
/// The copy the row names, looked up again in the folder of the app it belongs to (`source`,
/// which is the app restored into unless the copy comes from elsewhere) and checked again as
/// that app's.
async fn source_copy(
    runner: &Runner,
    source: &App,
    row: &restore::Model,
) -> Result<(StoredFile, copy::Checked), RestoreFailure> {
    use RestorePhase::Download;
    let file = runner
        .destination
        .find(&source.folder, &row.copy_file_id)
        .await
        .map_err(|e| RestoreFailure::new(Download, reason::destination("restore_reason.lookup_failed", &e)))?
        .ok_or_else(|| {
            RestoreFailure::new(
                Download,
                Msg::new("restore_reason.copy_gone").with("copy", &row.copy_name).with("app", &source.name),
            )
        })?;
    let checked = check_copy(&runner.deployment_id, source, &file).map_err(|e| {
        RestoreFailure::new(Download, Msg::new("restore_reason.copy_refused").with_said("detail", e.said()))
    })?;
    Ok((file, checked))
}

/// Reports progress to the caller and to the row.
struct Tracker<'a> {
    db: &'a DatabaseConnection,
    restore_id: i64,
    on_progress: &'a (dyn Fn(RestoreProgress) + Sync),
    phase: RestorePhase,
    since: Instant,
    total: u64,
    seen: Option<Arc<Seen>>,
}

impl Tracker<'_> {
    fn bytes(&self) -> u64 {
        self.seen.as_ref().map_or(0, |s| s.bytes())
    }

    async fn phase(&mut self, phase: RestorePhase) {
        self.phase = phase;
        self.since = Instant::now();
        self.report().await;
    }

    async fn report(&self) {
        let phase = self.phase;
        let bytes = self.bytes();
        if let Err(e) = record::progress(self.db, self.restore_id, phase, bytes).await {
            tracing::warn!(restore_id = self.restore_id, error = %e, "could not record restore progress");
        }
        // The safety backup reports its own progress (see `safety_backup`).
        if phase != RestorePhase::SafetyBackup {
            let total = (phase == RestorePhase::Import).then_some(self.total);
            (self.on_progress)(RestoreProgress { phase, bytes, total, backup: None, elapsed: self.since.elapsed() });
        }
    }

    /// Awaits `work`, reporting about once a second meanwhile (which also tells other processes
    /// the restore is alive).
    async fn while_running<T>(&self, work: impl Future<Output = T>) -> T {
        let mut work = std::pin::pin!(work);
        let start = tokio::time::Instant::now() + Duration::from_secs(1);
        let mut tick = tokio::time::interval_at(start, Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                out = &mut work => return out,
                _ = tick.tick() => self.report().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker runs a restore as a job, so its future must be `Send`.
    #[allow(dead_code)]
    fn execute_can_run_in_a_background_task(runner: Runner, app: App) {
        tokio::spawn(async move { execute(&runner, &app, &app, 1, None, &|_: RestoreProgress| {}).await });
    }
}
