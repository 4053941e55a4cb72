//! Making failure loud and staleness visible.
//!
//! - A run that fails for good (no retry left) tells every failure channel of its app and the
//!   global ones; the first verified backup after failures or staleness tells recovery.
//! - An app whose newest verified copy is older than `STALE_AFTER_INTERVALS` times the longest
//!   gap of its schedule is stale: told once, when it becomes so (the `app_alerts` row is set with
//!   a conditional update, so two processes never both tell it), and again only after a verified
//!   backup ended it.
//! - Ping channels hear of every run: start, success, fail.
//!
//! Everything goes through the outbox ([`outbox`]), which retries.

pub mod channel;
pub mod formats;
pub mod message;
pub mod outbox;
pub mod send;
pub mod stale;

use std::sync::{Arc, OnceLock};

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter};

use crate::config::notify::NotifySettings;
use crate::db::entities::{app_alert, backup_run};
use crate::registry::App;
use crate::secrets::SecretBox;
use channel::{Channel, Kind};
use message::{AppRef, Event, Notice, RunRef};

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

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn ms_to_text(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
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

    async fn tell(&self, app_id: i64, notice: &Notice, wants: impl Fn(&Channel) -> bool) {
        let channels = match channel::for_app(&self.db, app_id).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "could not read notification channels");
                return;
            }
        };
        for c in channels.iter().filter(|c| wants(c)) {
            if let Err(e) = self.enqueue(c, notice).await {
                tracing::error!(channel = c.id, error = %e, "could not queue a notification");
            }
        }
    }

    /// Google refused the connected Drive account: every failure channel hears it once, with the
    /// way out (runs wait meanwhile, so no app fails for it).
    pub async fn drive_disconnected(&self, reason: &str) {
        let summary = "Google Drive is disconnected: backups wait until it is reconnected on the Destination page";
        self.tell_everywhere(Event::Failure, summary.to_owned(), Some(reason), "/settings/drive").await;
    }

    /// A scheduled self-backup failed: every failure channel hears it (no app is concerned; the
    /// next self-backup is a schedule's gap away).
    pub async fn self_backup_failed(&self, reason: &str) {
        let summary = "The orchestrator's own backup failed: without a recent self-backup, recovering from the loss of its database is harder";
        self.tell_everywhere(Event::Failure, summary.to_owned(), Some(reason), "/settings/self-backup").await;
    }

    /// A self-backup succeeded after a failure that was told: every recovery channel hears it.
    pub async fn self_backup_recovered(&self, file: &str) {
        let summary = format!("The orchestrator's own backup works again: {file} stored and verified");
        self.tell_everywhere(Event::Recovery, summary, None, "/settings/self-backup").await;
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
        let mut parts = Vec::new();
        if !lost.is_empty() {
            parts.push(format!("{} lost", plural(lost.len(), "copy", "copies")));
        }
        if !damaged.is_empty() {
            parts.push(format!("{} damaged", plural(damaged.len(), "copy", "copies")));
        }
        let summary = format!(
            "{}: {} found by an integrity audit; retention no longer counts them and keeps one more good copy",
            app.name,
            parts.join(", ")
        );
        let lines: Vec<String> = lost
            .iter()
            .map(|f| format!("lost: {} ({})", f.name, f.detail))
            .chain(damaged.iter().map(|f| format!("damaged: {} ({})", f.name, f.detail)))
            .collect();
        let mut notice = Notice::new(Event::Failure, summary);
        notice.reason = Some(lines.join("; "));
        notice.app = Some(AppRef { id: app.id, name: app.name.clone() });
        notice.link = self.link(&format!("/apps/{}", app.name));
        self.tell(app.id, &notice, |c| c.kind != Kind::Ping && c.on_failure).await;
    }

    /// A restore drill of the app's copy failed (or could not be made): its failure channels
    /// hear it; the copy is not proven restorable.
    pub async fn drill_failed(&self, app: &App, drill: &crate::db::entities::restore::Model, reason: &str) {
        let summary =
            format!("{}: the restore drill of {} failed: the copy is not proven restorable", app.name, drill.copy_name);
        let mut notice = Notice::new(Event::Failure, summary);
        notice.reason = Some(reason.to_owned());
        notice.app = Some(AppRef { id: app.id, name: app.name.clone() });
        notice.link = self.link(&format!("/restores/{}", drill.id));
        self.tell(app.id, &notice, |c| c.kind != Kind::Ping && c.on_failure).await;
    }

    /// A scheduled drill of the app could not be made (no verified copy, the app does not
    /// verify its type, a backup was running): its failure channels hear why.
    pub async fn drill_refused(&self, app: &App, reason: &str) {
        let summary = format!("{}: the scheduled restore drill could not be made", app.name);
        let mut notice = Notice::new(Event::Failure, summary);
        notice.reason = Some(reason.to_owned());
        notice.app = Some(AppRef { id: app.id, name: app.name.clone() });
        notice.link = self.link(&format!("/apps/{}", app.name));
        self.tell(app.id, &notice, |c| c.kind != Kind::Ping && c.on_failure).await;
    }

    /// No drill of the app has passed for `days` days: its failure channels hear it once per
    /// spell. `last` is when one last passed, if ever.
    pub async fn drill_overdue(&self, app: &App, last: Option<i64>, days: u32) {
        let summary =
            format!("{}: no copy proven restorable for {days} days (DRILL_MAX_AGE_DAYS): check its drills", app.name);
        let mut notice = Notice::new(Event::Failure, summary);
        notice.reason = Some(match last {
            Some(ms) => {
                format!("the last drill that passed ended {}", crate::http::format::in_zone(ms, &app.time_zone))
            }
            None => "no drill of its copies has ever passed".to_owned(),
        });
        notice.app = Some(AppRef { id: app.id, name: app.name.clone() });
        notice.link = self.link(&format!("/apps/{}", app.name));
        self.tell(app.id, &notice, |c| c.kind != Kind::Ping && c.on_failure).await;
    }

    /// Tells a notice about no app in particular to every enabled channel (but pings) that hears
    /// `event` (failure or recovery), whatever its app; it links to the page at `path`.
    async fn tell_everywhere(&self, event: Event, summary: String, reason: Option<&str>, path: &str) {
        let mut notice = Notice::new(event, summary);
        notice.reason = reason.map(str::to_owned);
        notice.link = self.link(path);
        let recovery = event == Event::Recovery;
        self.tell_every_channel(&notice, |c| if recovery { c.on_recovery } else { c.on_failure }).await;
    }

    /// Tells `notice` to every enabled channel (but pings) that `wants` it, whatever its app.
    async fn tell_every_channel(&self, notice: &Notice, wants: impl Fn(&Channel) -> bool) {
        let channels = match channel::list(&self.db).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "could not read notification channels");
                return;
            }
        };
        for c in channels.iter().filter(|c| c.enabled && c.kind != Kind::Ping && wants(c)) {
            if let Err(e) = self.enqueue(c, notice).await {
                tracing::error!(channel = c.id, error = %e, "could not queue a notification");
            }
        }
    }

    /// The address the UI is reached at: `PUBLIC_URL`, else where `serve` listens.
    pub fn base_url(&self) -> Option<String> {
        self.base_url.get().cloned()
    }

    /// A run began (an attempt of it): ping channels hear `start`.
    pub async fn run_started(&self, app: &App, run_id: i64) {
        let mut notice = Notice::new(Event::Start, format!("{}: backup started (run {run_id})", app.name));
        notice.app = Some(AppRef { id: app.id, name: app.name.clone() });
        notice.link = self.link(&format!("/runs/{run_id}"));
        self.tell(app.id, &notice, |c| c.kind == Kind::Ping).await;
    }

    fn run_notice(&self, event: Event, summary: String, app: &App, run: &backup_run::Model) -> Notice {
        let mut notice = Notice::new(event, summary);
        notice.reason = run.error.clone();
        notice.link = self.link(&format!("/runs/{}", run.id));
        notice.app = Some(AppRef { id: app.id, name: app.name.clone() });
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
    /// pings hear `fail`, failure channels the reason.
    pub async fn run_failed(&self, app: &App, run: &backup_run::Model) {
        let phase = run.phase.map(|p| format!(" during {}", p.as_str())).unwrap_or_default();
        let summary = format!("{}: backup failed{phase}", app.name);
        let notice = self.run_notice(Event::Failure, summary.clone(), app, run);
        let mut ping = self.run_notice(Event::Fail, summary, app, run);
        ping.link = notice.link.clone();
        if let Err(e) = self.mark(app.id, app_alert::Column::FailingSince).await {
            tracing::error!(app = %app.name, error = %e, "could not record the app as failing");
        }
        self.tell(app.id, &ping, |c| c.kind == Kind::Ping).await;
        self.tell(app.id, &notice, |c| c.kind != Kind::Ping && c.on_failure).await;
    }

    /// A run made a verified copy: pings hear `success`, and recovery channels hear that an app
    /// that was failing or stale works again.
    pub async fn run_succeeded(&self, app: &App, run: &backup_run::Model) {
        let ping = self.run_notice(Event::Success, format!("{}: backup succeeded", app.name), app, run);
        self.tell(app.id, &ping, |c| c.kind == Kind::Ping).await;
        let state = app_alert::Entity::find_by_id(app.id).one(&self.db).await.ok().flatten();
        let Some(state) = state.filter(|s| s.failing_since.is_some() || s.stale_since.is_some()) else { return };
        // Only the process whose update clears the state tells the recovery.
        let cleared = app_alert::Entity::update_many()
            .col_expr(app_alert::Column::FailingSince, Expr::value(Option::<i64>::None))
            .col_expr(app_alert::Column::StaleSince, Expr::value(Option::<i64>::None))
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
            (true, true) => "failing and stale",
            (true, false) => "failing",
            _ => "stale",
        };
        let mut notice =
            self.run_notice(Event::Recovery, format!("{}: backups work again (it was {was})", app.name), app, run);
        notice.reason = Some(format!("run {} made a verified copy", run.id));
        notice.since = state.failing_since.or(state.stale_since).map(ms_to_text);
        notice.last_verified_at = run.finished_at.map(ms_to_text);
        self.tell(app.id, &notice, |c| c.kind != Kind::Ping && c.on_recovery).await;
    }

    /// Sets `column` (failing or stale since) to now if it is unset; true when this call set it.
    async fn mark(&self, app_id: i64, column: app_alert::Column) -> Result<bool, sea_orm::DbErr> {
        let now = jiff::Timestamp::now().as_millisecond();
        let row = app_alert::ActiveModel {
            app_id: Set(app_id),
            failing_since: Set(None),
            stale_since: Set(None),
            updated_at: Set(now),
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
