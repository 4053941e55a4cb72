//! Making failure loud and staleness visible, in each channel's language.
//!
//! - A run that fails for good (no retry left) starts a failing streak: the failure channels of
//!   its app (its own, those of one of its tags, the global ones) hear it once; while the streak
//!   lasts they are reminded every `NOTIFY_REMINDER_HOURS`, and the first verified backup ends it
//!   with a recovery message. Each of these is claimed with a conditional update of the
//!   `app_alerts` row, so two processes never both tell it.
//! - An app whose newest verified copy is older than `STALE_AFTER_INTERVALS` times the longest
//!   gap of its schedule is stale: told once when it becomes so, reminded like a failure, and
//!   ended by a verified backup.
//! - Drills (failed, refused, overdue) and restores (started, done, failed) go to channels that
//!   hear them; a daily or weekly summary to channels that asked for one ([`summary`]).
//! - Ping channels hear of every run: start, success, fail.
//!
//! Each channel is told in its own language: a notice is built once per channel, from the
//! message catalogue (`web/i18n`), with a stable machine code beside the texts. Everything goes
//! through the outbox ([`outbox`]), which retries.

pub mod channel;
pub mod formats;
pub mod message;
pub mod outbox;
pub mod policy;
pub mod send;
pub mod stale;
pub mod summary;

use std::sync::{Arc, OnceLock};

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use crate::catalogue::T;
use crate::config::notify::NotifySettings;
use crate::db::entities::{app, app_alert, backup_run, restore};
use crate::registry::App;
use crate::secrets::SecretBox;
use channel::{Channel, Kind};
use message::{AppRef, Event, Notice, RestoreRef, RunRef};

/// Who a notice is built for: the channel's language, and its zone (for times not of an app).
pub struct Reader<'a> {
    /// The channel's language's texts.
    pub t: T,
    /// The channel's zone.
    pub zone: &'a str,
}

/// Builds a channel's notice in its language.
type Build<'a> = dyn Fn(&Reader<'_>) -> Notice + Sync + 'a;

/// The app a notice is about, as channels choose apps: by id (a channel of one app) or tag.
pub struct Subject<'a> {
    /// Id.
    pub id: i64,
    /// Its tags.
    pub tags: &'a [String],
}

impl<'a> From<&'a App> for Subject<'a> {
    fn from(app: &'a App) -> Self {
        Subject { id: app.id, tags: &app.tags }
    }
}

/// Sends notifications; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    db: DatabaseConnection,
    secrets: Arc<SecretBox>,
    settings: NotifySettings,
    base_url: Arc<OnceLock<String>>,
    kick: Arc<tokio::sync::Notify>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("settings", &self.settings).finish_non_exhaustive()
    }
}

fn ms_to_text(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// A phase's name in the reader's language (the stored word when the catalogue has none).
fn phase_text(t: &T, phase: &str) -> String {
    let key = format!("phase.{phase}");
    match t.get(&key) {
        text if text == key => phase.to_owned(),
        text => text.to_owned(),
    }
}

fn app_ref(app: &App) -> Option<AppRef> {
    Some(AppRef { id: app.id, name: app.name.clone() })
}

impl Notifier {
    /// A notifier over `db`, opening channel secrets with `secrets`.
    pub fn new(db: DatabaseConnection, secrets: Arc<SecretBox>, settings: NotifySettings) -> Notifier {
        let base_url = Arc::new(OnceLock::new());
        if let Some(url) = &settings.public_url {
            let _ = base_url.set(url.clone());
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("backup-orchestrator/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with default TLS builds");
        Notifier { db, secrets, settings, base_url, kick: Default::default(), http }
    }

    /// The settings in force.
    pub fn settings(&self) -> &NotifySettings {
        &self.settings
    }

    /// The address links start with, when `PUBLIC_URL` is unset (`serve` knows where it listens).
    pub fn default_base_url(&self, url: String) {
        let _ = self.base_url.set(url);
    }

    /// The secrets box, to seal channel secrets.
    pub fn secrets(&self) -> &SecretBox {
        &self.secrets
    }

    fn link(&self, path: &str) -> Option<String> {
        self.base_url.get().map(|base| format!("{base}{path}"))
    }

    /// Queues the notice `build` makes, in each channel's language, for every enabled channel
    /// of `subject` (its own, those of one of its tags, the global ones) that `wants` it.
    async fn tell(&self, subject: Subject<'_>, build: &Build<'_>, wants: impl Fn(&Channel) -> bool) {
        let channels = match channel::for_app(&self.db, subject.id).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "could not read notification channels");
                return;
            }
        };
        let hears = |c: &Channel| c.app_id.is_some() || c.policy.hears_tags(subject.tags);
        for c in channels.iter().filter(|c| hears(c) && wants(c)) {
            self.enqueue_built(c, build).await;
        }
    }

    /// Builds the notice for `channel` in its language and queues it.
    async fn enqueue_built(&self, channel: &Channel, build: &Build<'_>) {
        let reader = Reader { t: T { lang: channel.policy.language }, zone: &channel.policy.time_zone };
        let mut notice = build(&reader);
        notice.language = channel.policy.language.code().to_owned();
        if let Err(e) = self.enqueue(channel, &notice).await {
            tracing::error!(channel = channel.id, error = %e, "could not queue a notification");
        }
    }

    /// Google refused the connected Drive account: every failure channel hears it once, with the
    /// way out (runs wait meanwhile, so no app fails for it).
    pub async fn drive_disconnected(&self, reason: &str) {
        let build = |r: &Reader<'_>| {
            let mut notice =
                Notice::new(Event::Failure, "drive.disconnected", r.t.get("notify.drive_disconnected").to_owned());
            notice.reason = Some(reason.to_owned());
            notice.link = self.link("/settings/drive");
            notice
        };
        self.tell_every_channel(&build, |c| c.on_failure).await;
    }

    /// A scheduled self-backup failed: every failure channel hears it (no app is concerned; the
    /// next self-backup is a schedule's gap away).
    pub async fn self_backup_failed(&self, reason: &str) {
        let build = |r: &Reader<'_>| {
            let mut notice =
                Notice::new(Event::Failure, "self_backup.failed", r.t.get("notify.self_backup_failed").to_owned());
            notice.reason = Some(reason.to_owned());
            notice.link = self.link("/settings/self-backup");
            notice
        };
        self.tell_every_channel(&build, |c| c.on_failure).await;
    }

    /// A self-backup succeeded after a failure that was told: every recovery channel hears it.
    pub async fn self_backup_recovered(&self, file: &str) {
        let build = |r: &Reader<'_>| {
            let mut notice = Notice::new(
                Event::Recovery,
                "self_backup.recovered",
                r.t.fill("notify.self_backup_recovered", &[("file", file)]),
            );
            notice.link = self.link("/settings/self-backup");
            notice
        };
        self.tell_every_channel(&build, |c| c.on_recovery).await;
    }

    /// An audit found copies of the app lost (gone or trashed) or damaged (another size or
    /// checksum than stored): its failure channels hear it once per copy. Retention no longer
    /// counts them, so the app keeps one more good copy.
    pub async fn copies_lost_or_damaged(
        &self,
        app: &App,
        lost: &[crate::backup::audit::Finding],
        damaged: &[crate::backup::audit::Finding],
    ) {
        let build = |r: &Reader<'_>| {
            let t = &r.t;
            let mut parts = Vec::new();
            let count = |key: &str, n: usize| {
                let key = format!("{key}.{}", if n == 1 { "one" } else { "many" });
                t.fill(&key, &[("n", &n.to_string())])
            };
            if !lost.is_empty() {
                parts.push(count("notify.copies.lost", lost.len()));
            }
            if !damaged.is_empty() {
                parts.push(count("notify.copies.damaged", damaged.len()));
            }
            let summary = t.fill("notify.copies.summary", &[("app", &app.name), ("found", &parts.join(", "))]);
            let mut notice = Notice::new(Event::Failure, "copies.lost_or_damaged", summary);
            let line =
                |key: &str, f: &crate::backup::audit::Finding| t.fill(key, &[("name", &f.name), ("detail", &f.detail)]);
            notice.lines = lost
                .iter()
                .map(|f| line("notify.copies.lost_line", f))
                .chain(damaged.iter().map(|f| line("notify.copies.damaged_line", f)))
                .collect();
            notice.reason = Some(notice.lines.join("; "));
            notice.app = app_ref(app);
            notice.link = self.link(&format!("/apps/{}", app.name));
            notice
        };
        self.tell(app.into(), &build, |c| c.kind != Kind::Ping && c.on_failure).await;
    }

    /// A restore drill of the app's copy failed (or could not be made): its drill channels hear
    /// it; the copy is not proven restorable.
    pub async fn drill_failed(&self, app: &App, drill: &restore::Model, reason: &crate::catalogue::Msg) {
        let build = |r: &Reader<'_>| {
            let summary = r.t.fill("notify.drill_failed", &[("app", &app.name), ("copy", &drill.copy_name)]);
            let mut notice = Notice::new(Event::Drill, "drill.failed", summary);
            notice.reason = Some(r.t.msg(reason));
            notice.app = app_ref(app);
            notice.link = self.link(&format!("/restores/{}", drill.id));
            notice
        };
        self.tell(app.into(), &build, |c| c.kind != Kind::Ping && c.policy.on_drill).await;
    }

    /// A scheduled drill of the app could not be made (no verified copy, the app does not
    /// verify its type, a backup was running): its drill channels hear why.
    pub async fn drill_refused(&self, app: &App, reason: &str) {
        let build = |r: &Reader<'_>| {
            let summary = r.t.fill("notify.drill_refused", &[("app", &app.name)]);
            let mut notice = Notice::new(Event::Drill, "drill.refused", summary);
            notice.reason = Some(reason.to_owned());
            notice.app = app_ref(app);
            notice.link = self.link(&format!("/apps/{}", app.name));
            notice
        };
        self.tell(app.into(), &build, |c| c.kind != Kind::Ping && c.policy.on_drill).await;
    }

    /// No drill of the app has passed for `days` days: its drill channels hear it once per
    /// spell. `last` is when one last passed, if ever.
    pub async fn drill_overdue(&self, app: &App, last: Option<i64>, days: u32) {
        let build = |r: &Reader<'_>| {
            let t = &r.t;
            let summary = t.fill("notify.drill_overdue", &[("app", &app.name), ("days", &days.to_string())]);
            let mut notice = Notice::new(Event::Drill, "drill.overdue", summary);
            notice.reason = Some(match last {
                Some(ms) => {
                    t.fill("notify.drill_overdue.last", &[("at", &crate::http::format::in_zone(ms, &app.time_zone))])
                }
                None => t.get("notify.drill_overdue.never").to_owned(),
            });
            notice.app = app_ref(app);
            notice.link = self.link(&format!("/apps/{}", app.name));
            notice
        };
        self.tell(app.into(), &build, |c| c.kind != Kind::Ping && c.policy.on_drill).await;
    }

    /// Tells the notice `build` makes about no app in particular to every enabled channel (but
    /// pings) that `wants` it, whatever its app.
    async fn tell_every_channel(&self, build: &Build<'_>, wants: impl Fn(&Channel) -> bool) {
        let channels = match channel::list(&self.db).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "could not read notification channels");
                return;
            }
        };
        for c in channels.iter().filter(|c| c.enabled && c.kind != Kind::Ping && wants(c)) {
            self.enqueue_built(c, build).await;
        }
    }

    /// The address the UI is reached at: `PUBLIC_URL`, else where `serve` listens.
    pub fn base_url(&self) -> Option<String> {
        self.base_url.get().cloned()
    }

    /// A run began (an attempt of it): ping channels hear `start`.
    pub async fn run_started(&self, app: &App, run_id: i64) {
        let build = |r: &Reader<'_>| {
            let summary = r.t.fill("notify.run_started", &[("app", &app.name), ("id", &run_id.to_string())]);
            let mut notice = Notice::new(Event::Start, "backup.started", summary);
            notice.app = app_ref(app);
            notice.link = self.link(&format!("/runs/{run_id}"));
            notice
        };
        self.tell(app.into(), &build, |c| c.kind == Kind::Ping).await;
    }

    fn run_notice(
        &self,
        t: &crate::catalogue::T,
        event: Event,
        code: &str,
        summary: String,
        app: &App,
        run: &backup_run::Model,
    ) -> Notice {
        let mut notice = Notice::new(event, code, summary);
        notice.reason =
            crate::backup::reason::Stored::read(run.error.as_deref(), run.error_msg.as_deref()).map(|r| r.text(t.lang));
        notice.link = self.link(&format!("/runs/{}", run.id));
        notice.app = app_ref(app);
        notice.run = Some(RunRef {
            id: run.id,
            trigger: run.trigger.as_str().to_owned(),
            status: run.status.as_str().to_owned(),
            phase: run.phase.map(|p| p.as_str().to_owned()),
            attempts: run.attempts,
            bytes: run.bytes,
            file_name: run.file_name.clone(),
            finished_at: run.finished_at.map(ms_to_text),
        });
        notice
    }

    /// A run failed for good (the queue will not retry it), as recorded by the run's lifecycle:
    /// pings hear `fail`; failure channels hear it when it starts a failing streak (later
    /// failures of the streak are reminded, not told one by one).
    pub async fn run_failed(&self, app: &App, run: &backup_run::Model) {
        let safety = run.trigger == crate::backup::lifecycle::Trigger::Safety;
        let summary = |t: &T| {
            let key = if safety { "notify.safety_failed" } else { "notify.backup_failed" };
            let mut text = t.fill(key, &[("app", &app.name)]);
            if let Some(phase) = run.phase {
                text.push_str(&t.fill("notify.text.during", &[("phase", &phase_text(t, phase.as_str()))]));
            }
            text
        };
        let code = if safety { "safety_backup.failed" } else { "backup.failed" };
        let ping = |r: &Reader<'_>| self.run_notice(&r.t, Event::Fail, code, summary(&r.t), app, run);
        self.tell(app.into(), &ping, |c| c.kind == Kind::Ping).await;
        let starts_streak = match self.mark(app.id, app_alert::Column::FailingSince).await {
            Ok(set) => set,
            Err(e) => {
                // Better told twice than not at all.
                tracing::error!(app = %app.name, error = %e, "could not record the app as failing");
                true
            }
        };
        if starts_streak {
            let build = |r: &Reader<'_>| self.run_notice(&r.t, Event::Failure, code, summary(&r.t), app, run);
            self.tell(app.into(), &build, |c| c.kind != Kind::Ping && c.on_failure).await;
        } else {
            tracing::info!(app = %app.name, run_id = run.id, "the app was already failing: its channels are reminded, not told again");
        }
    }

    /// A run made a verified copy: pings hear `success`, and recovery channels hear that an app
    /// that was failing or stale works again.
    pub async fn run_succeeded(&self, app: &App, run: &backup_run::Model) {
        let ping = |r: &Reader<'_>| {
            let summary = r.t.fill("notify.backup_succeeded", &[("app", &app.name)]);
            self.run_notice(&r.t, Event::Success, "backup.succeeded", summary, app, run)
        };
        self.tell(app.into(), &ping, |c| c.kind == Kind::Ping).await;
        let state = app_alert::Entity::find_by_id(app.id).one(&self.db).await.ok().flatten();
        let Some(state) = state.filter(|s| s.failing_since.is_some() || s.stale_since.is_some()) else { return };
        // Only the process whose update clears the state tells the recovery.
        let cleared = app_alert::Entity::update_many()
            .col_expr(app_alert::Column::FailingSince, Expr::value(Option::<i64>::None))
            .col_expr(app_alert::Column::StaleSince, Expr::value(Option::<i64>::None))
            .col_expr(app_alert::Column::RemindedAt, Expr::value(Option::<i64>::None))
            .col_expr(app_alert::Column::UpdatedAt, Expr::value(jiff::Timestamp::now().as_millisecond()))
            .filter(app_alert::Column::AppId.eq(app.id))
            .filter(
                Condition::any()
                    .add(app_alert::Column::FailingSince.is_not_null())
                    .add(app_alert::Column::StaleSince.is_not_null()),
            )
            .exec(&self.db)
            .await;
        if !matches!(cleared, Ok(r) if r.rows_affected == 1) {
            return;
        }
        let was = match (state.failing_since.is_some(), state.stale_since.is_some()) {
            (true, true) => "notify.was.failing_stale",
            (true, false) => "notify.was.failing",
            _ => "notify.was.stale",
        };
        let since = state.failing_since.or(state.stale_since);
        let build = |r: &Reader<'_>| {
            let t = &r.t;
            let summary = t.fill("notify.recovered", &[("app", &app.name), ("was", t.get(was))]);
            let mut notice = self.run_notice(&r.t, Event::Recovery, "backup.recovered", summary, app, run);
            notice.reason = Some(t.fill("notify.recovered.reason", &[("id", &run.id.to_string())]));
            notice.since = since.map(|ms| crate::http::format::in_zone(ms, &app.time_zone));
            notice.last_verified_at = run.finished_at.map(|ms| crate::http::format::in_zone(ms, &app.time_zone));
            notice
        };
        self.tell(app.into(), &build, |c| c.kind != Kind::Ping && c.on_recovery).await;
    }

    /// A restore into the app began: its restore channels hear it (drills are told only when
    /// they fail).
    pub async fn restore_started(&self, app: &App, row: &restore::Model) {
        if row.kind != crate::backup::restore::KIND_RESTORE {
            return;
        }
        let build = |r: &Reader<'_>| {
            let summary = r.t.fill(
                "notify.restore_started",
                &[("app", &app.name), ("id", &row.id.to_string()), ("copy", &row.copy_name)],
            );
            let mut notice = self.restore_notice("restore.started", summary, app, row, "running", 0);
            if row.safety_run_id.is_some() {
                notice.reason = Some(r.t.get("notify.restore_started.safety").to_owned());
            }
            notice
        };
        self.tell(app.into(), &build, |c| c.kind != Kind::Ping && c.policy.on_restore).await;
    }

    /// A restore into the app ended: succeeded, failed (with why, and whether the app was left
    /// as it was) or cancelled. Its restore channels hear it.
    pub async fn restore_ended(
        &self,
        app: &App,
        row: &restore::Model,
        bytes: u64,
        outcome: &Result<crate::backup::restore::Restored, crate::backup::restore::RestoreFailure>,
    ) {
        if row.kind != crate::backup::restore::KIND_RESTORE {
            return;
        }
        let build = |r: &Reader<'_>| {
            let t = &r.t;
            let args = [("app", app.name.as_str()), ("copy", row.copy_name.as_str())];
            let id = row.id.to_string();
            let mut args = args.to_vec();
            args.push(("id", &id));
            match outcome {
                Ok(_) => {
                    let size = t.bytes(bytes as i64);
                    args.push(("size", &size));
                    let summary = t.fill("notify.restore_succeeded", &args);
                    self.restore_notice("restore.succeeded", summary, app, row, "succeeded", bytes)
                }
                Err(f) => {
                    let (key, code, status) = if f.cancelled {
                        ("notify.restore_cancelled", "restore.cancelled", "cancelled")
                    } else {
                        ("notify.restore_failed", "restore.failed", "failed")
                    };
                    let phase = phase_text(t, f.phase.as_str());
                    args.push(("phase", &phase));
                    let summary = t.fill(key, &args);
                    let mut notice = self.restore_notice(code, summary, app, row, status, bytes);
                    notice.reason = Some(t.msg(&f.message));
                    notice
                }
            }
        };
        self.tell(app.into(), &build, |c| c.kind != Kind::Ping && c.policy.on_restore).await;
    }

    fn restore_notice(
        &self,
        code: &str,
        summary: String,
        app: &App,
        row: &restore::Model,
        status: &str,
        bytes: u64,
    ) -> Notice {
        let mut notice = Notice::new(Event::Restore, code, summary);
        notice.app = app_ref(app);
        notice.link = self.link(&format!("/restores/{}", row.id));
        notice.restore = Some(RestoreRef {
            id: row.id,
            copy_name: row.copy_name.clone(),
            status: status.to_owned(),
            bytes: bytes as i64,
        });
        notice
    }

    /// Reminds the channels of apps still failing, or still stale, once every
    /// `NOTIFY_REMINDER_HOURS` of the spell; returns how many apps were reminded about.
    pub async fn remind(&self) -> Result<usize, sea_orm::DbErr> {
        let Some(every) = self.settings.reminder_every else { return Ok(0) };
        let now = jiff::Timestamp::now().as_millisecond();
        let due_before = now - every.as_millis() as i64;
        let spells = app_alert::Entity::find()
            .filter(
                Condition::any()
                    .add(app_alert::Column::FailingSince.is_not_null())
                    .add(app_alert::Column::StaleSince.is_not_null()),
            )
            .all(&self.db)
            .await?;
        let mut reminded = 0;
        for spell in spells {
            let Some(began) = spell.failing_since.or(spell.stale_since) else { continue };
            let last = spell.reminded_at.unwrap_or(began);
            if last > due_before {
                continue;
            }
            // Only the process whose update moves the reminder on tells it.
            let as_read = match spell.reminded_at {
                Some(at) => app_alert::Column::RemindedAt.eq(at),
                None => app_alert::Column::RemindedAt.is_null(),
            };
            let claimed = app_alert::Entity::update_many()
                .col_expr(app_alert::Column::RemindedAt, Expr::value(now))
                .filter(app_alert::Column::AppId.eq(spell.app_id))
                .filter(as_read)
                .exec(&self.db)
                .await?;
            if claimed.rows_affected != 1 {
                continue;
            }
            let Some(row) = app::Entity::find_by_id(spell.app_id).one(&self.db).await? else { continue };
            if !row.enabled {
                continue; // a paused app is not expected to back up
            }
            self.remind_about(&row, &spell).await?;
            reminded += 1;
        }
        Ok(reminded)
    }

    async fn remind_about(&self, app: &app::Model, spell: &app_alert::Model) -> Result<(), sea_orm::DbErr> {
        let tags = crate::registry::labels::parse_stored(&app.tags);
        let subject = Subject { id: app.id, tags: &tags };
        let link = self.link(&format!("/apps/{}", app.name));
        let app_ref = Some(AppRef { id: app.id, name: app.name.clone() });
        if let Some(since) = spell.failing_since {
            let failed =
                backup_run::Entity::find()
                    .filter(backup_run::Column::AppId.eq(app.id))
                    .filter(backup_run::Column::Status.is_in([
                        crate::backup::lifecycle::Status::Failed,
                        crate::backup::lifecycle::Status::Interrupted,
                    ]))
                    .filter(backup_run::Column::FinishedAt.gte(since));
            let count = failed.clone().count(&self.db).await?;
            let last = failed.order_by_desc(backup_run::Column::Id).one(&self.db).await?;
            let build = |r: &Reader<'_>| {
                let t = &r.t;
                let since = crate::http::format::in_zone(since, &app.time_zone);
                let summary = t.fill("notify.still_failing", &[("app", &app.name), ("since", &since)]);
                let mut notice = Notice::new(Event::Failure, "backup.still_failing", summary);
                let error = last
                    .as_ref()
                    .and_then(|r| crate::backup::reason::Stored::read(r.error.as_deref(), r.error_msg.as_deref()))
                    .map(|r| r.text(t.lang))
                    .unwrap_or_default();
                notice.reason =
                    Some(t.fill("notify.still_failing.reason", &[("n", &count.max(1).to_string()), ("error", &error)]));
                notice.since = Some(since);
                notice.app = app_ref.clone();
                notice.link = last.as_ref().and_then(|r| self.link(&format!("/runs/{}", r.id))).or(link.clone());
                notice
            };
            self.tell(subject, &build, |c| c.kind != Kind::Ping && c.on_failure).await;
        } else if let Some(since) = spell.stale_since {
            let build = |r: &Reader<'_>| {
                let t = &r.t;
                let since = crate::http::format::in_zone(since, &app.time_zone);
                let summary = t.fill("notify.still_stale", &[("app", &app.name), ("since", &since)]);
                let mut notice = Notice::new(Event::Stale, "backup.still_stale", summary);
                notice.since = Some(since);
                notice.app = app_ref.clone();
                notice.link = link.clone();
                notice
            };
            self.tell(subject, &build, |c| c.kind != Kind::Ping && c.on_stale).await;
        }
        Ok(())
    }

    /// Sets `column` (failing or stale since) to now if it is unset; true when this call set it.
    async fn mark(&self, app_id: i64, column: app_alert::Column) -> Result<bool, sea_orm::DbErr> {
        let now = jiff::Timestamp::now().as_millisecond();
        let row = app_alert::ActiveModel {
            app_id: Set(app_id),
            failing_since: Set(None),
            stale_since: Set(None),
            updated_at: Set(now),
            reminded_at: Set(None),
        };
        match app_alert::Entity::insert(row)
            .on_conflict(OnConflict::column(app_alert::Column::AppId).do_nothing().to_owned())
            .exec_without_returning(&self.db)
            .await
        {
            Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => {}
            Err(e) => return Err(e),
        }
        let set = app_alert::Entity::update_many()
            .col_expr(column, Expr::value(now))
            .col_expr(app_alert::Column::UpdatedAt, Expr::value(now))
            .filter(app_alert::Column::AppId.eq(app_id))
            .filter(column.is_null())
            .exec(&self.db)
            .await?;
        Ok(set.rows_affected == 1)
    }
}
