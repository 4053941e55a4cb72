//! The run pipeline, one backup from capabilities to retention (see "The spine" in DESIGN.md).
//!
//! capabilities -> export (hashed and counted as it streams, one chunk in memory) -> upload ->
//! close -> verify what the destination stored -> mark verified -> record -> retention.
//! Any failure aborts the upload (no file, no open session), records a readable reason and
//! prunes NOTHING: a bad run never pushes a good backup out.
//!
//! On Drive, what each upload sent counts against the account's daily upload budget
//! (`backup::budget`): a run does not start while it is spent, and a run Drive stops at its cap
//! waits (neither failed nor retried) until the budget frees.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use contract_spec::client::{AppClient, ClientError};
use sea_orm::DatabaseConnection;

use crate::backup::budget::{self, Usage};
use crate::backup::cancel::CancelWatch;
use crate::backup::inventory;
use crate::backup::lease::Lease;
use crate::backup::lifecycle::{self, Decision, Failure, Outcome, Phase, RetryPolicy, Success};
use crate::backup::reason;
use crate::backup::retention::{self, Copy};
use crate::catalogue::Msg;
use crate::codec::stream::{EncodeInput, EncodeOutput};
use crate::config::run::RunSettings;
use crate::error::{Error, Retry};
use crate::registry::App;
use crate::storage::destination::{Destination, StoredFile};
use crate::storage::gdrive::{UploadMeter, is_upload_cap};

/// What a run needs.
#[derive(Debug, Clone)]
pub struct Runner {
    /// This deployment's id, written into every copy's marks and required of the copies it
    /// calls its own.
    pub deployment_id: String,
    /// The database.
    pub db: DatabaseConnection,
    /// Where copies go.
    pub destination: Destination,
    /// Limits.
    pub settings: RunSettings,
    /// This process, for leases ("host:pid").
    pub holder: String,
    /// Set when the process is shutting down and running backups must stop.
    pub stopping: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Tells channels that a run started and how it ended.
    pub notifier: crate::notify::Notifier,
    /// The Google account connected on the Destination page, when Drive runs without
    /// `GDRIVE_CREDENTIALS`.
    pub google: Option<crate::storage::google_account::GoogleAccount>,
    /// Who copies are encrypted to, and the identity that opens them here, if any.
    pub encryption: std::sync::Arc<crate::config::encryption::EncryptionSettings>,
    /// `UPLOAD_BANDWIDTH_LIMIT`, shared by every run of this process.
    pub bandwidth: Option<std::sync::Arc<crate::backup::bandwidth::Bandwidth>>,
}

/// A progress report, about once a second and at each phase change.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Phase.
    pub phase: Phase,
    /// Bytes streamed so far.
    pub bytes: u64,
    /// Time since the run started.
    pub elapsed: Duration,
}

/// What became of a run after one attempt.
#[derive(Debug, Clone)]
pub enum Ended {
    /// It ended for good: recorded, and the channels told.
    Settled(Outcome),
    /// The attempt failed and the run is queued again: its job goes back in the queue to run
    /// after `delay`.
    Retry {
        /// Pause before the next attempt.
        delay: Duration,
        /// Why the attempt failed.
        reason: Msg,
    },
    /// The attempt could not start (an earlier attempt of this same run may still hold the app,
    /// or the database failed): nothing was recorded; its job goes back in the queue.
    Deferred {
        /// Pause before trying again.
        delay: Duration,
        /// Why.
        reason: Msg,
    },
    /// Drive's daily upload budget is spent: the run is recorded as waiting (not failed, no
    /// attempt used) and its job goes back in the queue to run when the budget frees.
    Waiting {
        /// Until the budget frees.
        delay: Duration,
        /// Why, and when it frees.
        reason: Msg,
    },
}

/// Why the pipeline stopped before a verified copy.
#[derive(Debug)]
enum Stop {
    /// It failed.
    Failed(Failure),
    /// Drive answered at the account's daily upload cap (the upload was aborted).
    UploadCap(Failure),
    /// An operator cancelled the run (the upload, if begun, was aborted); who.
    Cancelled(String),
}

impl From<Failure> for Stop {
    fn from(f: Failure) -> Self {
        Stop::Failed(f)
    }
}

impl Stop {
    fn failure(self) -> Failure {
        match self {
            Stop::Failed(f) | Stop::UploadCap(f) => f,
            Stop::Cancelled(by) => Failure::new(Phase::Export, reason::cancelled(&by), Retry::Permanent),
        }
    }
}

/// How often a run waiting for a Google account to be (re)connected looks again.
const ACCOUNT_RECHECK: Duration = Duration::from_secs(10);

/// The least pause before a waiting run looks at the budget again.
const LEAST_WAIT: Duration = Duration::from_secs(1);

fn app_failure(phase: Phase, e: ClientError) -> Failure {
    let retry = Retry::when(e.is_retryable());
    Failure::new(phase, reason::app(&e), retry)
}

/// A destination call failed; `what` is the catalogue's key for the call.
fn storage_failure(phase: Phase, what: &'static str, e: opendal::Error) -> Failure {
    let retry = Retry::when(e.is_temporary());
    Failure::new(phase, reason::destination(what, &e), retry)
}

fn codec_failure(e: impl std::fmt::Display) -> Failure {
    Failure::new(Phase::Export, Msg::new("reason.codec").quoting("detail", e), Retry::Temporary)
}

fn database_failure(phase: Phase, e: sea_orm::DbErr) -> Failure {
    Failure::new(phase, reason::database(&e), Retry::Temporary)
}

/// A failed upload call; Drive's answer at its daily cap is told apart.
fn upload_stop(phase: Phase, what: &'static str, e: opendal::Error) -> Stop {
    let cap = is_upload_cap(&e);
    let failure = storage_failure(phase, what, e);
    if cap { Stop::UploadCap(failure) } else { Stop::Failed(failure) }
}

/// `{app}_{type}_{YYYYMMDD}_{HHMMSS}Z_{run}.{ext}`: sortable, and unique even for two runs in
/// the same second.
pub fn file_name(app: &str, backup_type: &str, at: jiff::Timestamp, run_id: i64, extension: &str) -> String {
    format!("{app}_{backup_type}_{}_{run_id}.{extension}", at.strftime("%Y%m%d_%H%M%SZ"))
}

/// [`file_name`] with `-N` after the run id, for the `n`th name tried (`n` = 1 is the plain name).
fn numbered_file_name(
    app: &str,
    backup_type: &str,
    at: jiff::Timestamp,
    run_id: i64,
    n: u32,
    extension: &str,
) -> String {
    if n <= 1 {
        return file_name(app, backup_type, at, run_id, extension);
    }
    format!("{app}_{backup_type}_{}_{run_id}-{n}.{extension}", at.strftime("%Y%m%d_%H%M%SZ"))
}

/// Names tried before a run gives up finding a free one.
const NAME_ATTEMPTS: u32 = 20;

impl Runner {
    /// Runs one attempt of the queued run `run_id` of `app`, holding the app's lease, and moves
    /// the run on through [`lifecycle`]: settled (recorded and told) when it ended for good,
    /// queued again when `policy` says another attempt may help. Everything logged meanwhile
    /// carries the app and the run id, and is kept in the run's own log.
    pub async fn run(
        &self,
        app: &App,
        run_id: i64,
        policy: RetryPolicy,
        on_progress: &(dyn Fn(Progress) + Sync),
    ) -> Ended {
        use tracing::Instrument;
        let span = tracing::info_span!(crate::runlog::SPAN, app = %app.name, run_id);
        let ended = self.attempt(app, run_id, policy, on_progress).instrument(span.clone()).await;
        span.in_scope(|| match &ended {
            Ended::Settled(Outcome::Succeeded(s)) => {
                tracing::info!(code = "backup.succeeded", bytes = s.bytes, file = %s.file.name, "backup succeeded")
            }
            Ended::Settled(Outcome::Skipped { reason }) => {
                tracing::info!(code = "backup.skipped", reason = %reason, reason_msg = %reason.to_json(), "backup skipped")
            }
            Ended::Settled(other) => {
                let reason = other.reason().cloned().unwrap_or_else(|| Msg::new("reason.unknown"));
                tracing::warn!(
                    code = "backup.failed",
                    status = other.status().as_str(),
                    phase = other.phase().map_or("-", Phase::as_str),
                    reason = %reason,
                    reason_msg = %reason.to_json(),
                    "backup failed"
                )
            }
            Ended::Retry { delay, reason } => tracing::warn!(
                code = "attempt.retrying",
                retry_in = ?delay,
                reason = %reason,
                reason_msg = %reason.to_json(),
                "attempt failed; retrying"
            ),
            Ended::Deferred { reason, .. } => tracing::info!(
                code = "attempt.deferred",
                reason = %reason,
                reason_msg = %reason.to_json(),
                "attempt deferred"
            ),
            Ended::Waiting { delay, reason } => tracing::info!(
                code = "run.waits",
                retry_in = ?delay,
                reason = %reason,
                reason_msg = %reason.to_json(),
                "run waits"
            ),
        });
        ended
    }

    /// Ends a run that never got to (or could not finish) an attempt here, e.g. its app was
    /// deleted or it ran past `JOB_TIMEOUT`: recorded and told like any other ending.
    pub async fn settle(&self, app: &App, run_id: i64, outcome: &Outcome) {
        if let Err(e) = lifecycle::settle(&self.db, &self.notifier, app, run_id, outcome, None).await {
            tracing::error!(run_id, error = %e, "could not record the end of the run");
        }
    }

    async fn attempt(
        &self,
        app: &App,
        run_id: i64,
        policy: RetryPolicy,
        on_progress: &(dyn Fn(Progress) + Sync),
    ) -> Ended {
        let deferred = |reason: Msg| Ended::Deferred { delay: crate::backup::lease::LEASE_TTL, reason };
        let run = match lifecycle::get(&self.db, run_id).await {
            Ok(Some(run)) => run,
            Ok(None) => {
                let reason = Msg::new("reason.run_gone").with("run", run_id);
                return Ended::Settled(Outcome::Failed(Failure::new(Phase::Capabilities, reason, Retry::Permanent)));
            }
            Err(e) => return deferred(reason::database(&e)),
        };
        let holder = format!("{}:run-{run_id}", self.holder);
        let lease = match Lease::acquire(&self.db, app.id, &holder, run_id).await {
            Ok(Ok(lease)) => lease,
            Ok(Err(held)) if held.run_id == Some(run_id) => {
                // The queue re-ran this job because its worker looked dead; the lease, renewed
                // by a live holder, is what decides.
                return deferred(
                    Msg::new("reason.earlier_attempt")
                        .with("run", run_id)
                        .with("app", &app.name)
                        .with("holder", &held.holder),
                );
            }
            Ok(Err(held)) => {
                let reason = match held.run_id {
                    Some(r) => Msg::new("reason.skipped.backup_running")
                        .with("app", &app.name)
                        .with("run", r)
                        .with("holder", &held.holder),
                    None => {
                        Msg::new("reason.skipped.restore_running").with("app", &app.name).with("holder", &held.holder)
                    }
                };
                let outcome = Outcome::Skipped { reason };
                self.settle(app, run_id, &outcome).await;
                return Ended::Settled(outcome);
            }
            Err(e) => return deferred(reason::database(&e)),
        };
        if let Some(account) = self.destination.drive_account() {
            match self.budget_allows(app, run_id, &account, policy).await {
                Ok(None) => {}
                Ok(Some(ended)) => {
                    lease.release().await;
                    return self.settle_if_ended(app, run_id, ended).await;
                }
                Err(e) => {
                    lease.release().await;
                    return deferred(reason::database(&e));
                }
            }
        }
        if let Some(google) = &self.google
            && let Err(reason) = google.sync().await
        {
            lease.release().await;
            let ended = self.wait_for_account(run_id, policy, reason).await;
            return self.settle_if_ended(app, run_id, ended).await;
        }
        // Still "running" with the lease free: the process of the previous attempt stopped.
        let resumed = (run.status == lifecycle::Status::Running)
            .then(|| Msg::new("reason.resumed").with("attempt", run.attempts.max(1)));
        let run = match lifecycle::start(&self.db, &run, &self.holder).await {
            Ok(Some(run)) => run,
            Ok(None) => {
                // It changed since it was read: an operator cancelled it.
                lease.release().await;
                return self.cancelled_before_start(app, run_id).await;
            }
            Err(e) => {
                lease.release().await;
                return deferred(reason::database(&e));
            }
        };
        let cancel = CancelWatch::start(&self.db, run_id);
        self.notifier.run_started(app, run_id).await;
        let counter = self.destination.drive_account().map(|account| budget::Counter::new(account, Some(run_id)));
        let mut tracker = Tracker {
            db: &self.db,
            run_id,
            started: Instant::now(),
            last: None,
            on_progress,
            bytes: 0,
            upload: counter.map(|c| (None, c)),
            counted_at: None,
        };
        let mut result = self.pipeline(app, run_id, &lease, &mut tracker, &cancel, run.trigger.prunes()).await;
        if let (Err(_), Some(reason)) = (&result, cancel.reason()) {
            // Whatever stopped it, the operator's cancel is why it ends.
            result = Err(Stop::Cancelled(reason.to_owned()));
        }
        drop(cancel);
        // What Drive took counts, whether the upload finished or not.
        tracker.count_upload().await;
        let outcome = match result {
            Ok(success) => Outcome::Succeeded(success),
            Err(Stop::Cancelled(by)) => {
                let reason = reason::cancelled(&by);
                tracing::warn!(
                    code = "backup.cancelled",
                    reason = %reason,
                    reason_msg = %reason.to_json(),
                    "backup cancelled; its upload was aborted"
                );
                Outcome::Cancelled { reason }
            }
            Err(stop) if self.is_stopping() || lease.is_lost() => {
                let failure = stop.failure();
                Outcome::Interrupted { phase: failure.phase, reason: failure.reason }
            }
            Err(Stop::UploadCap(failure)) => {
                let account = tracker.upload.as_ref().map(|(_, c)| c.account().to_owned()).unwrap_or_default();
                tracing::warn!(
                    code = "drive.daily_cap",
                    account = %account,
                    reason = %failure.reason,
                    reason_msg = %failure.reason.to_json(),
                    "Drive refused the upload at its daily cap"
                );
                let ended = match budget::hold(&self.db, &account, &self.settings.drive_budget).await {
                    Ok(usage) => Some(self.wait_for_budget(run_id, policy, &usage).await),
                    Err(e) => {
                        tracing::error!(run_id, error = %e, "could not record Drive's cap answer");
                        None
                    }
                };
                match ended {
                    Some(ended) => {
                        lease.release().await;
                        return self.settle_if_ended(app, run_id, ended).await;
                    }
                    // Not recorded: a failure that may pass, so no one waits on a lost answer.
                    None => Outcome::Failed(Failure { bytes: tracker.bytes, retry: Retry::Temporary, ..failure }),
                }
            }
            Err(Stop::Failed(failure)) => {
                if let Some(google) = &self.google
                    && let Some(refusal) = google.refused()
                {
                    // The connected account was revoked: one alert, and every run waits for a
                    // reconnect instead of failing one by one.
                    match google.mark_broken(&refusal).await {
                        Ok(first) => {
                            if first {
                                self.notifier.drive_disconnected(&refusal).await;
                            }
                            lease.release().await;
                            let reason = Msg::new("reason.google.reconnect").quoting("detail", &refusal);
                            let ended = self.wait_for_account(run_id, policy, reason).await;
                            return self.settle_if_ended(app, run_id, ended).await;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "could not record that Google refused the connected account")
                        }
                    }
                }
                Outcome::Failed(Failure { bytes: tracker.bytes, ..failure })
            }
        };
        let ended = match lifecycle::decide(&outcome, run.attempts, policy) {
            Decision::Settle => {
                if let Err(e) =
                    lifecycle::settle(&self.db, &self.notifier, app, run_id, &outcome, resumed.as_ref()).await
                {
                    tracing::error!(run_id, error = %e, "could not record the end of the run");
                }
                Ended::Settled(outcome)
            }
            Decision::RetryAfter(delay) => {
                let reason = outcome.reason().cloned().unwrap_or_else(|| Msg::new("reason.unknown"));
                if let Err(e) = lifecycle::retry_later(&self.db, run_id, &reason, delay).await {
                    tracing::error!(run_id, error = %e, "could not record the retry");
                }
                Ended::Retry { delay, reason }
            }
        };
        lease.release().await;
        ended
    }

    /// The run could not start because it changed since it was read — most often an operator
    /// cancelled it: already recorded as cancelled, or (asked while an earlier attempt ran, which
    /// then failed) recorded now.
    async fn cancelled_before_start(&self, app: &App, run_id: i64) -> Ended {
        let run = match lifecycle::get(&self.db, run_id).await {
            Ok(Some(run)) => run,
            Ok(None) | Err(_) => {
                return Ended::Settled(Outcome::Cancelled { reason: reason::cancelled("") });
            }
        };
        if run.status != lifecycle::Status::Cancelled && run.cancel_requested_at.is_none() {
            // Another process moved it on: the job looks at it again, and finds it ended.
            return Ended::Deferred {
                delay: crate::backup::lease::LEASE_TTL,
                reason: Msg::new("reason.changed_while_starting").with("run", run_id),
            };
        }
        let outcome =
            Outcome::Cancelled { reason: reason::cancelled(run.cancel_reason.as_deref().unwrap_or_default()) };
        if run.status.is_active() {
            self.settle(app, run_id, &outcome).await;
        }
        Ended::Settled(outcome)
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Before anything is asked of the app: `None` when the run may upload to Drive now, else how
    /// it ended — waiting for the budget, or skipped because an earlier run of the app already
    /// waits (scheduled fires do not pile up behind a spent budget).
    async fn budget_allows(
        &self,
        app: &App,
        run_id: i64,
        account: &str,
        policy: RetryPolicy,
    ) -> Result<Option<Ended>, sea_orm::DbErr> {
        if let Some(earlier) = lifecycle::waiting_run(&self.db, app.id, run_id).await?
            && earlier < run_id
        {
            let reason = Msg::new("reason.skipped.already_waiting").with("run", earlier).with("app", &app.name);
            return Ok(Some(Ended::Settled(Outcome::Skipped { reason })));
        }
        let usage = budget::usage(&self.db, account, &self.settings.drive_budget).await?;
        if !usage.spent() {
            return Ok(None);
        }
        Ok(Some(self.wait_for_budget(run_id, policy, &usage).await))
    }

    /// The run waits for the budget in `usage`: recorded as waiting and queued again for when it
    /// frees — or, when nothing would take it up again (`policy`), skipped, saying why.
    async fn wait_for_budget(&self, run_id: i64, policy: RetryPolicy, usage: &Usage) -> Ended {
        let reason = usage.reason();
        if !policy.queued {
            return Ended::Settled(Outcome::Skipped { reason: Msg::new("reason.skipped").with_msg("reason", reason) });
        }
        if let Err(e) = lifecycle::wait(&self.db, run_id, &reason).await {
            tracing::error!(run_id, error = %e, "could not record that the run waits");
        }
        let until = usage.frees_at.unwrap_or_default() - crate::db::now_ms();
        let delay = Duration::from_millis(until.max(0) as u64).max(LEAST_WAIT);
        Ended::Waiting { delay, reason }
    }

    /// The run waits for a Google account to be connected or reconnected: recorded as waiting and
    /// looked at again shortly (or skipped when nothing would take it up again).
    async fn wait_for_account(&self, run_id: i64, policy: RetryPolicy, reason: Msg) -> Ended {
        if !policy.queued {
            return Ended::Settled(Outcome::Skipped { reason: Msg::new("reason.skipped").with_msg("reason", reason) });
        }
        if let Err(e) = lifecycle::wait(&self.db, run_id, &reason).await {
            tracing::error!(run_id, error = %e, "could not record that the run waits");
        }
        Ended::Waiting { delay: ACCOUNT_RECHECK, reason }
    }

    /// Records and tells an ending the budget check or Drive's cap produced (a skip); a wait is
    /// already recorded.
    async fn settle_if_ended(&self, app: &App, run_id: i64, ended: Ended) -> Ended {
        if let Ended::Settled(outcome) = &ended {
            self.settle(app, run_id, outcome).await;
        }
        ended
    }

    /// The pipeline of one attempt. Until the upload is finished, an operator's cancel stops it
    /// where it waits (aborting the upload); after that the copy is finished, checked and kept.
    async fn pipeline(
        &self,
        app: &App,
        run_id: i64,
        lease: &Lease,
        tracker: &mut Tracker<'_>,
        cancel: &CancelWatch,
        prune: bool,
    ) -> Result<Success, Stop> {
        tracker.phase(Phase::Capabilities).await;
        tracing::info!(code = "app.capabilities", url = %app.url, "asking the app for its capabilities");
        let client = AppClient::new(&app.url, app.token.clone(), self.settings.timeouts)
            .map_err(|e| app_failure(Phase::Capabilities, e))?;
        let caps = cancel
            .unless_cancelled(client.capabilities())
            .await
            .map_err(Stop::Cancelled)?
            .map_err(|e| app_failure(Phase::Capabilities, e))?;
        let backup_type = caps.resolve_type(app.backup_type.as_deref()).cloned().ok_or_else(|| {
            let offered: Vec<&str> = caps.types.iter().map(|t| t.name.as_str()).collect();
            Failure::new(
                Phase::Capabilities,
                Msg::new("reason.type_not_offered")
                    .with("backup_type", app.backup_type.as_deref().unwrap_or_default())
                    .with("offered", offered.join(", ")),
                Retry::Permanent,
            )
        })?;

        let codec = app
            .codec(&self.encryption.recipients, &backup_type)
            .map_err(|_| Failure::new(Phase::Capabilities, Msg::new("reason.no_recipient"), Retry::Permanent))?;

        tracker.phase(Phase::Export).await;
        tracing::info!(code = "app.export", backup_type = %backup_type.name, "requesting the export");
        let mut export = cancel
            .unless_cancelled(client.export(Some(&backup_type.name)))
            .await
            .map_err(Stop::Cancelled)?
            .map_err(|e| app_failure(Phase::Export, e))?;
        let started_at = jiff::Timestamp::now();
        let extension = format!("{}{}", backup_type.extension, codec.suffix());
        let name = self.free_name(app, &backup_type.name, &extension, started_at, run_id).await?;
        let mut props = BTreeMap::from([
            ("app_id".to_owned(), app.id.to_string()),
            ("app".to_owned(), app.name.clone()),
            (inventory::UID_MARK.to_owned(), app.uid.clone()),
            (inventory::DEPLOYMENT_MARK.to_owned(), self.deployment_id.clone()),
            ("run_id".to_owned(), run_id.to_string()),
            ("type".to_owned(), backup_type.name.clone()),
        ]);
        if let Some(mark) = codec.mark() {
            props.insert(crate::codec::CODEC_MARK.to_owned(), mark.to_owned());
            props.extend(codec.recipient_marks());
        }
        if let Some(note) = self.run_note(run_id).await {
            props.insert(crate::backup::copies::NOTE_MARK.to_owned(), note);
        }
        let (mut writer, meter) = self
            .destination
            .metered_writer(&app.folder, &name, codec.content_type(&backup_type.media_type), &props)
            .await
            .map_err(|e| upload_stop(Phase::Export, "reason.destination.start_upload", e))?;
        if let Some((slot, _)) = tracker.upload.as_mut() {
            *slot = meter;
        }
        match codec.mark() {
            None => tracing::info!(
                code = "upload.streaming",
                file = %name,
                folder = %app.folder,
                "streaming the export into the destination"
            ),
            Some(how) => tracing::info!(
                code = "upload.streaming_codec",
                file = %name,
                folder = %app.folder,
                codec = how,
                recipients = codec.recipients.len(),
                "streaming the export into the destination, {}",
                match (codec.zstd, codec.encrypts()) {
                    (true, true) => "compressed and encrypted",
                    (true, false) => "compressed",
                    _ => "encrypted",
                }
            ),
        }
        let streaming = async {
            if codec.is_plain() {
                return self.export_into(&mut export, lease, tracker, Target::Writer(&mut writer)).await.map(|()| None);
            }
            let (input, mut output) = crate::codec::stream::encode(&codec);
            let export_loop = self.export_into(&mut export, lease, tracker, Target::Encoder(input));
            // The stored bytes go up while the export still comes in; the codecs run on threads
            // of their own between the two. The first failure stops both.
            let upload_loop = async {
                while let Some(piece) = output.next().await.map_err(codec_failure)? {
                    self.throttle(piece.len()).await;
                    writer
                        .write(piece)
                        .await
                        .map_err(|e| upload_stop(Phase::Export, "reason.destination.upload", e))?;
                }
                Ok::<(), Stop>(())
            };
            tokio::try_join!(export_loop, upload_loop).map(|_| Some(output))
        };
        // A stuck app or a stalled upload is stopped where it waits.
        let streamed: Result<Option<EncodeOutput>, Stop> =
            cancel.unless_cancelled(streaming).await.unwrap_or_else(|reason| Err(Stop::Cancelled(reason)));
        let output = match streamed {
            Ok(output) => output,
            Err(failure) => {
                // Without the final chunk no file appears; abort also cancels the upload session.
                let _ = writer.abort().await;
                return Err(failure);
            }
        };
        let bytes = export.bytes();
        let sha256 = export.sha256().unwrap_or_default().to_owned();
        let stored_as = output.as_ref().zip(codec.mark()).map(|(output, codec)| {
            Box::new(lifecycle::StoredAs { codec, bytes: output.bytes(), sha256: output.sha256() })
        });
        let (stored_bytes, stored_sha256) =
            stored_as.as_ref().map_or((bytes, sha256.clone()), |s| (s.bytes, s.sha256.clone()));
        tracker.bytes(bytes).await;

        tracker.phase(Phase::Upload).await;
        let meta =
            writer.close().await.map_err(|e| upload_stop(Phase::Upload, "reason.destination.finish_upload", e))?;
        let stored = self.destination.stored(&name, &meta);
        tracing::info!(
            code = "upload.stored",
            file_id = %stored.id,
            size = stored.size,
            sha256 = stored.sha256.as_deref().unwrap_or("-"),
            md5 = stored.md5.as_deref().unwrap_or("-"),
            "the destination stored the file"
        );

        tracker.phase(Phase::Verify).await;
        if let Err(mismatch) = self.verify(&app.folder, &stored, stored_bytes, &stored_sha256).await {
            if let Err(e) = self.destination.remove(&app.folder, &stored).await {
                tracing::error!(file = %stored.name, error = %e, "could not remove a copy that failed verification");
            }
            return Err(Failure::new(
                Phase::Verify,
                Msg::new("reason.verify.deleted").with_msg("mismatch", mismatch.0),
                Retry::Temporary,
            )
            .into());
        }
        match &stored_as {
            None => {
                tracing::info!(code = "verify.ok", bytes, sha256 = %sha256, "verified: the stored copy matches the export")
            }
            Some(s) => tracing::info!(
                code = "verify.ok_codec",
                bytes,
                sha256 = %sha256,
                stored_bytes = s.bytes,
                stored_sha256 = %s.sha256,
                "verified: the stored copy matches what was sent ({:.1}% of the export)",
                s.bytes as f64 * 100.0 / bytes.max(1) as f64
            ),
        }
        props.insert("sha256".into(), sha256.clone());
        props.insert(crate::codec::SIZE_MARK.into(), bytes.to_string());
        if let Some(s) = &stored_as {
            props.insert(crate::codec::STORED_SHA256_MARK.into(), s.sha256.clone());
            props.insert(crate::codec::STORED_SIZE_MARK.into(), s.bytes.to_string());
        }
        props.insert("verified".into(), "1".into());
        let file = self
            .destination
            .set_properties(&app.folder, &stored, &props)
            .await
            .map_err(|e| storage_failure(Phase::Verify, "reason.destination.mark_verified", e))?;
        // Only this copy is added: the rest of the inventory is judged by full listings alone.
        inventory::record_copy(&self.db, app.id, &file).await.map_err(|e| database_failure(Phase::Verify, e))?;

        tracker.phase(Phase::Retention).await;
        let (pruned, retention_error) = if !prune {
            tracing::info!(code = "prune.safety", "retention skipped: a safety backup never prunes");
            (Vec::new(), None)
        } else {
            match self.prune(app).await {
                Ok(pruned) if pruned.is_empty() => {
                    tracing::info!(code = "prune.nothing", "retention: nothing to delete");
                    (pruned, None)
                }
                Ok(pruned) => {
                    tracing::info!(
                        code = "prune.deleted",
                        deleted = %pruned.join(", "),
                        "retention deleted {} copies",
                        pruned.len()
                    );
                    (pruned, None)
                }
                Err(e) => {
                    tracing::warn!(
                        code = "prune.failed",
                        app = %app.name,
                        error = %e,
                        "retention failed after a good backup"
                    );
                    (Vec::new(), Some(Msg::new("reason.retention_failed").quoting("detail", e)))
                }
            }
        };
        Ok(Success { file, bytes, sha256, stored: stored_as, pruned, retention_error })
    }

    /// Streams the export into `target`, one chunk at a time, within `MAX_BACKUP_SIZE`, while
    /// the service runs and this process holds the app's lease.
    async fn export_into(
        &self,
        export: &mut contract_spec::client::Export,
        lease: &Lease,
        tracker: &mut Tracker<'_>,
        mut target: Target<'_>,
    ) -> Result<(), Stop> {
        loop {
            let chunk = export.next_chunk().await.map_err(|e| app_failure(Phase::Export, e))?;
            let Some(chunk) = chunk else { return target.end().await };
            if let Some(max) = self.settings.max_backup_size
                && export.bytes() > max
            {
                return Err(Failure::new(
                    Phase::Export,
                    Msg::new("reason.too_large").with("max", max),
                    Retry::Permanent,
                )
                .into());
            }
            if self.is_stopping() {
                return Err(Failure::new(Phase::Export, Msg::new("reason.shutting_down"), Retry::Temporary).into());
            }
            if lease.is_lost() {
                return Err(Failure::new(Phase::Export, Msg::new("reason.lease_lost"), Retry::Temporary).into());
            }
            if matches!(target, Target::Writer(_)) {
                // Stored as sent: the bytes go up now. (Through the codecs, their output is what
                // goes up, and waits there.)
                self.throttle(chunk.len()).await;
            }
            target.put(chunk).await?;
            tracker.bytes(export.bytes()).await;
        }
    }

    /// Waits until `UPLOAD_BANDWIDTH_LIMIT` lets `bytes` more go up.
    async fn throttle(&self, bytes: usize) {
        if let Some(limit) = &self.bandwidth {
            limit.take(bytes).await;
        }
    }

    /// Compares what the destination stored with what the app sent (see
    /// [`Destination::verify_stored`]).
    pub(crate) async fn verify(
        &self,
        folder: &str,
        stored: &StoredFile,
        bytes: u64,
        sha256: &str,
    ) -> Result<(), Mismatch> {
        self.destination.verify_stored(folder, stored, bytes, sha256).await.map_err(Mismatch)
    }

    /// The copy's file name: the plain one unless the folder already holds a file of that name
    /// (a rebuilt database numbers its runs from 1 again; another deployment may share the
    /// folder), then `-2`, `-3`, ... Only this run writes under the app's lease, so a free name
    /// stays free.
    async fn free_name(
        &self,
        app: &App,
        backup_type: &str,
        extension: &str,
        at: jiff::Timestamp,
        run_id: i64,
    ) -> Result<String, Stop> {
        for n in 1..=NAME_ATTEMPTS {
            let name = numbered_file_name(&app.name, backup_type, at, run_id, n, extension);
            let taken = self
                .destination
                .find(&app.folder, &name)
                .await
                .map_err(|e| storage_failure(Phase::Export, "reason.destination.find_name", e))?;
            if taken.is_none() {
                return Ok(name);
            }
        }
        Err(Failure::new(
            Phase::Export,
            Msg::new("reason.names_taken").with("n", NAME_ATTEMPTS).with("folder", &app.folder),
            Retry::Permanent,
        )
        .into())
    }

    /// The operator's note on the run, if it has one (a manual backup's).
    async fn run_note(&self, run_id: i64) -> Option<String> {
        use sea_orm::EntityTrait;
        let run = crate::db::entities::backup_run::Entity::find_by_id(run_id).one(&self.db).await;
        run.ok().flatten().and_then(|run| run.note)
    }

    /// What retention would do to the app's folder now, without deleting anything (the dry run
    /// behind `orchestrator retention`, and the first half of pruning).
    pub async fn retention_plan(&self, app: &App) -> Result<(Vec<StoredFile>, retention::Plan), Error> {
        let listed_at = crate::db::now_ms();
        let listed = self
            .destination
            .list(&app.folder)
            .await
            .map_err(|e| Error::destination(format_args!("listing the folder {} failed", app.folder), &e))?;
        inventory::reconcile(&self.db, &self.destination, &self.deployment_id, app, &listed, listed_at).await?;
        crate::backup::audit::tell_new_findings(self, app).await;
        let damaged = inventory::damaged_ids(&self.db, app.id).await?;
        let copies: Vec<Copy> = listed
            .iter()
            .map(|f| Copy {
                id: f.id.clone(),
                created: created_of(f),
                ours: inventory::owned_by(f, &self.deployment_id, app),
                verified: f.properties.get("verified").is_some_and(|v| v == "1"),
                pinned: crate::backup::copies::pinned(f),
                adopted: crate::backup::copies::adopted_uncounted(f),
                damaged: damaged.contains(&f.id) || inventory::listing_problem(f).is_some(),
            })
            .collect();
        let tz = jiff::tz::TimeZone::get(&app.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
        Ok((listed, retention::plan(&copies, &app.retention, jiff::Timestamp::now(), &tz)))
    }

    /// Applies the app's retention to its folder, after a verified success only.
    async fn prune(&self, app: &App) -> Result<Vec<String>, Error> {
        let (listed, plan) = self.retention_plan(app).await?;
        let mut pruned = Vec::new();
        for id in &plan.delete {
            let Some(file) = listed.iter().find(|f| &f.id == id) else { continue };
            // Marked first, so no listing in between takes the copy for lost.
            inventory::mark_deleted(&self.db, app.id, &file.id).await?;
            self.destination
                .remove(&app.folder, file)
                .await
                .map_err(|e| Error::destination(format_args!("deleting {} failed", file.name), &e))?;
            pruned.push(file.name.clone());
        }
        Ok(pruned)
    }
}

/// Where the export's chunks go: straight into the upload, or into the codecs.
enum Target<'a> {
    Writer(&'a mut opendal::Writer),
    Encoder(EncodeInput),
    Ended,
}

impl Target<'_> {
    async fn put(&mut self, chunk: bytes::Bytes) -> Result<(), Stop> {
        match self {
            Target::Writer(writer) => {
                writer.write(chunk).await.map_err(|e| upload_stop(Phase::Export, "reason.destination.upload", e))
            }
            Target::Encoder(input) => input.push(chunk).await.map_err(|e| codec_failure(e).into()),
            Target::Ended => Ok(()),
        }
    }

    /// The export ended: the codecs close their formats (the writer is closed later).
    async fn end(&mut self) -> Result<(), Stop> {
        match std::mem::replace(self, Target::Ended) {
            Target::Encoder(input) => input.finish().await.map_err(|e| codec_failure(e).into()),
            _ => Ok(()),
        }
    }
}

/// What the destination stored is not what was sent.
#[derive(Debug)]
pub(crate) struct Mismatch(pub(crate) Msg);

/// When a copy was made: as the destination says, else as its name says.
fn created_of(file: &StoredFile) -> jiff::Timestamp {
    file.created.as_deref().and_then(|c| c.parse().ok()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// Reports progress to the caller and, about once a second, to the run record (so a page
/// served by another process can show it); on Drive, every few seconds, what the upload sent
/// counts against the account's budget (so other runs, on any replica, see it while it runs).
struct Tracker<'a> {
    db: &'a DatabaseConnection,
    run_id: i64,
    started: Instant,
    last: Option<(Phase, Instant)>,
    on_progress: &'a (dyn Fn(Progress) + Sync),
    bytes: u64,
    /// On Drive: the upload's meter, once it started, and its count in the budget.
    upload: Option<(Option<UploadMeter>, budget::Counter)>,
    counted_at: Option<Instant>,
}

/// How often a running upload's count is brought up to date.
const COUNT_EVERY: Duration = Duration::from_secs(5);

impl Tracker<'_> {
    async fn phase(&mut self, phase: Phase) {
        self.report(phase, true).await;
    }

    async fn bytes(&mut self, bytes: u64) {
        self.bytes = bytes;
        let phase = self.last.map_or(Phase::Export, |(p, _)| p);
        self.report(phase, false).await;
        if self.counted_at.is_none_or(|at| at.elapsed() >= COUNT_EVERY) {
            self.count_upload().await;
        }
    }

    /// Records what Drive acknowledged of the upload so far in the account's budget.
    async fn count_upload(&mut self) {
        self.counted_at = Some(Instant::now());
        let Some((Some(meter), counter)) = &mut self.upload else { return };
        if let Err(e) = counter.record(self.db, meter.sent()).await {
            tracing::warn!(run_id = self.run_id, error = %e, "could not count the upload against Drive's budget");
        }
    }

    async fn report(&mut self, phase: Phase, force: bool) {
        let due = self.last.is_none_or(|(p, at)| p != phase || at.elapsed() >= Duration::from_secs(1));
        if !(force || due) {
            return;
        }
        self.last = Some((phase, Instant::now()));
        (self.on_progress)(Progress { phase, bytes: self.bytes, elapsed: self.started.elapsed() });
        if let Err(e) = lifecycle::progress(self.db, self.run_id, phase, self.bytes).await {
            tracing::warn!(run_id = self.run_id, error = %e, "could not record progress");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_line_break_in_an_advertised_media_type_fails_the_run_for_good_naming_the_field() {
        let capabilities = serde_json::json!({
            "contract": "v1",
            "app": "crm",
            "types": [{"name": "full", "media_type": "application/gzip; level=9\r\nX-Injected: yes", "extension": "gz"}],
        });
        let app = axum::Router::new().route(
            contract_spec::CAPABILITIES_PATH,
            axum::routing::get(move || async move { axum::Json(capabilities) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = AppClient::new(&url, secrecy::SecretString::from("t"), Default::default()).unwrap();
        let error = client.capabilities().await.unwrap_err();
        server.abort();
        let failure = app_failure(Phase::Capabilities, error);
        assert_eq!(failure.retry, Retry::Permanent, "{}", failure.reason);
        assert!(failure.reason.to_string().contains("media_type"), "{}", failure.reason);
    }

    #[test]
    fn file_names_sort_by_time_and_stay_unique_per_run() {
        let at: jiff::Timestamp = "2026-11-22T03:04:05Z".parse().unwrap();
        assert_eq!(file_name("billing", "full", at, 42, "sql.gz"), "billing_full_20261122_030405Z_42.sql.gz");
        assert_ne!(file_name("billing", "full", at, 42, "gz"), file_name("billing", "full", at, 43, "gz"));
        assert_eq!(numbered_file_name("billing", "full", at, 42, 1, "gz"), file_name("billing", "full", at, 42, "gz"));
        assert_eq!(
            numbered_file_name("billing", "full", at, 42, 3, "sql.gz"),
            "billing_full_20261122_030405Z_42-3.sql.gz"
        );
    }
}
