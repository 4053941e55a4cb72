//! The JSON the API speaks. Tokens are accepted, never returned.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::db::entities::backup_run;
use crate::http::format::rfc3339;
use crate::overview::AppCard;
use crate::registry::App;
use crate::schedule::spread::format_span;

/// An app as the API shows it (no token: `token_set` says one is stored).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AppView {
    /// Unique name.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// Always true: a token is stored, and never shown.
    pub token_set: bool,
    /// Cron expression.
    pub schedule: String,
    /// IANA time zone of the schedule.
    pub time_zone: String,
    /// Destination folder.
    pub folder: String,
    /// Retention.
    pub retention: RetentionView,
    /// Backup type (`null` = the app's first).
    pub backup_type: Option<String>,
    /// high | normal | low.
    pub priority: String,
    /// Scheduled (false = paused).
    pub enabled: bool,
    /// Next scheduled run (RFC 3339), when enabled.
    pub next_run: Option<String>,
    /// The latest run that ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunView>,
    /// Copies stored (from the inventory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copies: Option<i64>,
    /// Their total size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_stored: Option<i64>,
    /// zstd | none | auto (compress unless the export is already compressed).
    pub compress: String,
    /// Encrypt copies (`null` = whenever recipients are configured).
    pub encrypt: Option<bool>,
    /// The app's own age recipients, added to the deployment's.
    pub recipients: Vec<String>,
    /// When restore drills run (cron, in the app's time zone); `null` = no scheduled drills.
    pub drill_schedule: Option<String>,
    /// Which copy a scheduled drill takes: newest | random.
    pub drill_copy: String,
    /// The app's group (one label, e.g. the database host it lives on); `null` = none.
    pub group: Option<String>,
    /// The app's tags, sorted.
    pub tags: Vec<String>,
    /// Its own backup window (how long after its scheduled time a run may still start, e.g.
    /// `2h`); `null` = its group's, or none.
    pub window: Option<String>,
    /// Its own jitter (its scheduled start spread at random over up to this long, e.g. `15m`);
    /// `null` = its group's, or none.
    pub jitter: Option<String>,
}

/// Retention of an app.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
pub struct RetentionView {
    /// Keep the N newest.
    pub keep_last: u32,
    /// One per day for N days.
    pub keep_daily: u32,
    /// One per week for N weeks.
    pub keep_weekly: u32,
    /// One per month for N months.
    pub keep_monthly: u32,
    /// Everything newer than N days.
    pub keep_within_days: u32,
}

impl AppView {
    /// From an app.
    pub fn new(app: &App) -> AppView {
        AppView {
            name: app.name.clone(),
            url: app.url.clone(),
            token_set: true,
            schedule: app.schedule.clone(),
            time_zone: app.time_zone.clone(),
            folder: app.folder.clone(),
            retention: RetentionView {
                keep_last: app.retention.keep_last,
                keep_daily: app.retention.keep_daily,
                keep_weekly: app.retention.keep_weekly,
                keep_monthly: app.retention.keep_monthly,
                keep_within_days: app.retention.keep_within_days,
            },
            backup_type: app.backup_type.clone(),
            priority: app.priority.to_string(),
            enabled: app.enabled,
            next_run: next_run(app.enabled, &app.schedule, &app.time_zone),
            last_run: None,
            copies: None,
            bytes_stored: None,
            compress: app.compress.as_str().to_owned(),
            encrypt: app.encrypt,
            recipients: app.recipients.iter().map(|r| r.as_str().to_owned()).collect(),
            drill_schedule: app.drill_schedule.clone(),
            drill_copy: app.drill_copy.clone(),
            group: app.group.clone(),
            tags: app.tags.clone(),
            window: app.window_secs.map(format_span),
            jitter: app.jitter_secs.map(format_span),
        }
    }

    /// From a dashboard card.
    pub fn of_card(card: &AppCard) -> AppView {
        let a = &card.app;
        AppView {
            name: a.name.clone(),
            url: a.url.clone(),
            token_set: true,
            schedule: a.schedule.clone(),
            time_zone: a.time_zone.clone(),
            folder: a.folder.clone(),
            retention: RetentionView {
                keep_last: a.keep_last as u32,
                keep_daily: a.keep_daily as u32,
                keep_weekly: a.keep_weekly as u32,
                keep_monthly: a.keep_monthly as u32,
                keep_within_days: a.keep_within_days as u32,
            },
            backup_type: a.backup_type.clone(),
            priority: a.priority.clone(),
            enabled: a.enabled,
            next_run: next_run(a.enabled, &a.schedule, &a.time_zone),
            last_run: card.last_run.as_ref().map(|r| RunView::new(r, &a.name)),
            copies: Some(card.copies),
            bytes_stored: Some(card.bytes),
            compress: a.compress.clone().unwrap_or_else(|| "auto".to_owned()),
            encrypt: a.encrypt,
            recipients: a.recipients.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect(),
            drill_schedule: a.drill_schedule.clone(),
            drill_copy: a.drill_copy.clone(),
            group: a.group_name.clone(),
            tags: crate::registry::labels::parse_stored(&a.tags),
            window: a.window_secs.map(format_span),
            jitter: a.jitter_secs.map(format_span),
        }
    }
}

fn next_run(enabled: bool, schedule: &str, time_zone: &str) -> Option<String> {
    enabled
        .then(|| crate::schedule::cron::CronSchedule::parse(schedule, time_zone).ok())
        .flatten()
        .and_then(|s| s.next_after(jiff::Timestamp::now()))
        .map(|t| t.to_string())
}

/// Registering or changing an app. When changing, absent fields keep their value; `token` is
/// replaced only when given, and must be given again when `url` names another address.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AppBody {
    /// Unique name: lowercase letters, digits and '-'.
    pub name: Option<String>,
    /// Base URL (http or https).
    pub url: Option<String>,
    /// The bearer token the app expects (write-only).
    pub token: Option<String>,
    /// Cron expression (five fields, or @daily and friends).
    pub schedule: Option<String>,
    /// IANA time zone (default UTC).
    pub time_zone: Option<String>,
    /// Destination folder.
    pub folder: Option<String>,
    /// Keep the N newest (default 7).
    pub keep_last: Option<u32>,
    /// One per day for N days.
    pub keep_daily: Option<u32>,
    /// One per week for N weeks.
    pub keep_weekly: Option<u32>,
    /// One per month for N months.
    pub keep_monthly: Option<u32>,
    /// Everything newer than N days.
    pub keep_within_days: Option<u32>,
    /// Backup type ("" = the app's first).
    pub backup_type: Option<String>,
    /// high | normal | low.
    pub priority: Option<String>,
    /// Scheduled (default true).
    pub enabled: Option<bool>,
    /// zstd | none | auto (default: compress unless the export is already compressed).
    pub compress: Option<String>,
    /// Encrypt copies: true or false; `null` = whenever recipients are configured (the default).
    #[serde(default, deserialize_with = "present")]
    pub encrypt: Option<Option<bool>>,
    /// The app's own age recipients (`age1...`), added to ENCRYPTION_RECIPIENTS; `[]` removes them.
    pub recipients: Option<Vec<String>>,
    /// When restore drills run (cron, in the app's time zone, e.g. "0 5 * * 0"); "" or "off"
    /// turns them off (the default).
    pub drill_schedule: Option<String>,
    /// Which copy a scheduled drill takes: newest (the newest good verified copy, the default) or
    /// random (any verified copy).
    pub drill_copy: Option<String>,
    /// The app's group: one label of 1 to 40 lowercase letters, digits, '-', '_' or '.'; ""
    /// removes it.
    pub group: Option<String>,
    /// The app's tags (labels like the group, at most 20; duplicates folded); `[]` removes them.
    pub tags: Option<Vec<String>>,
    /// The backup window: how long after its scheduled time a run may still start (`2h`, `90m`,
    /// `1h30m`, at most 24h); a run that cannot start in it is skipped with that reason. "off"
    /// = the group's window, or none.
    pub window: Option<String>,
    /// Spread the scheduled start at random over up to this long (`15m`, at most 12h, never more
    /// than half the window); "off" = the group's jitter, or none.
    pub jitter: Option<String>,
    /// Save without asking the app first (an app that is down today). Otherwise saving asks the
    /// app for its capabilities — when registering, and when the URL, token or backup type
    /// change — and refuses, with the app's own answer, what cannot work.
    #[serde(default)]
    pub no_check: bool,
}

/// A field that may be given as `null`: absent is `None`, `null` is `Some(None)`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<bool>>, D::Error> {
    Option::<bool>::deserialize(d).map(Some)
}

impl AppBody {
    /// The registry's input.
    pub fn input(&self) -> crate::registry::input::AppInput {
        crate::registry::input::AppInput {
            name: self.name.clone(),
            url: self.url.clone(),
            token: self.token.clone().map(secrecy::SecretString::from),
            schedule: self.schedule.clone(),
            time_zone: self.time_zone.clone(),
            folder: self.folder.clone(),
            keep_last: self.keep_last,
            keep_daily: self.keep_daily,
            keep_weekly: self.keep_weekly,
            keep_monthly: self.keep_monthly,
            keep_within_days: self.keep_within_days,
            backup_type: self.backup_type.clone(),
            priority: self.priority.clone(),
            enabled: self.enabled,
            compress: self.compress.clone(),
            encrypt: self.encrypt,
            recipients: self.recipients.clone(),
            drill_schedule: self.drill_schedule.clone(),
            drill_copy: self.drill_copy.clone(),
            group: self.group.clone(),
            tags: self.tags.clone(),
            window: self.window.clone(),
            jitter: self.jitter.clone(),
        }
    }
}

/// A page of apps.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AppList {
    /// The apps on this page: failing apps first, then by name.
    pub apps: Vec<AppView>,
    /// How many apps match in all.
    pub total: u64,
    /// Per state (failing, stale, paused, never_run, running), how many apps the name, tag and
    /// group criteria pick in it.
    pub states: std::collections::BTreeMap<String, u64>,
}

/// Which apps a bulk action applies to, by what they are (an empty filter picks every app).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AppFilterBody {
    /// Part of the name.
    pub q: Option<String>,
    /// Apps carrying this tag.
    pub tag: Option<String>,
    /// Apps in this group.
    pub group: Option<String>,
    /// Apps in this state: failing | stale | paused | never_run | running.
    pub state: Option<String>,
}

/// One action on many apps: `apps` (names) or `filter`, not both. Input the action needs that
/// is invalid (a bad schedule, retention, tag or group) refuses the whole batch with 422 before
/// any app changes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// The apps, by name (all must exist).
    pub apps: Option<Vec<String>>,
    /// Or every app this filter picks.
    pub filter: Option<AppFilterBody>,
    /// pause | resume | test_now | set_schedule | set_retention | add_tags | remove_tags |
    /// set_group.
    pub action: String,
    /// For set_schedule: the cron expression (in each app's time zone).
    pub schedule: Option<String>,
    /// For set_retention (it replaces the whole retention): keep the N newest (default 7).
    pub keep_last: Option<u32>,
    /// For set_retention: one per day for N days (default 0).
    pub keep_daily: Option<u32>,
    /// For set_retention: one per week for N weeks (default 0).
    pub keep_weekly: Option<u32>,
    /// For set_retention: one per month for N months (default 0).
    pub keep_monthly: Option<u32>,
    /// For set_retention: everything newer than N days (default 0).
    pub keep_within_days: Option<u32>,
    /// For add_tags and remove_tags.
    pub tags: Option<Vec<String>>,
    /// For set_group: the group; "" removes it.
    pub group: Option<String>,
}

/// What a bulk action did to one app.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BulkOutcomeView {
    /// The app.
    pub app: String,
    /// changed | unchanged (already as asked) | failed.
    pub result: String,
    /// What was done, or why not.
    pub detail: String,
    /// The run test_now queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
}

/// What a bulk action did, per app.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BulkView {
    /// The action.
    pub action: String,
    /// Apps changed.
    pub changed: u64,
    /// Apps already as asked.
    pub unchanged: u64,
    /// Apps that refused or failed.
    pub failed: u64,
    /// Per app, in the order taken.
    pub results: Vec<BulkOutcomeView>,
}

impl BulkView {
    /// From a report.
    pub fn of(report: &crate::fleet::bulk::Report) -> BulkView {
        use crate::fleet::bulk::Done;
        BulkView {
            action: report.action.name().to_owned(),
            changed: report.count(Done::Changed) as u64,
            unchanged: report.count(Done::Unchanged) as u64,
            failed: report.count(Done::Failed) as u64,
            results: report
                .outcomes
                .iter()
                .map(|o| BulkOutcomeView {
                    app: o.app.clone(),
                    result: o.done.as_str().to_owned(),
                    detail: o.detail.clone(),
                    run_id: o.run_id,
                })
                .collect(),
        }
    }
}

/// What "check connection" found.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CheckView {
    /// The app answered with valid capabilities.
    pub ok: bool,
    /// The app's name for itself.
    pub app: Option<String>,
    /// Backup types offered.
    pub types: Vec<String>,
    /// Whether the app accepts restores.
    pub restore: bool,
    /// What is wrong, when not ok.
    pub error: Option<String>,
}

/// A URL and token to check before registering.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    /// The app's base URL.
    pub url: String,
    /// The token to try.
    pub token: String,
}

/// One run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunView {
    /// Id.
    pub id: i64,
    /// The app.
    pub app: String,
    /// schedule | manual | cli | safety.
    pub trigger: String,
    /// queued | running | waiting | succeeded | failed | skipped | interrupted | cancelled (`waiting`: for Drive's daily upload budget; `error` says when it frees, and the run starts again by itself then).
    pub status: String,
    /// Furthest phase reached.
    pub phase: Option<String>,
    /// Bytes so far / in all.
    pub bytes: i64,
    /// Attempts.
    pub attempts: i32,
    /// Queued (RFC 3339).
    pub queued_at: String,
    /// Started.
    pub started_at: Option<String>,
    /// Ended.
    pub finished_at: Option<String>,
    /// Duration in milliseconds, from its first attempt's start: every attempt and the waits
    /// between them.
    pub duration_ms: Option<i64>,
    /// Queued again after a failed attempt: when the next attempt is due (RFC 3339).
    pub retry_at: Option<String>,
    /// When an operator asked to cancel it while it ran (RFC 3339); it ends as `cancelled`.
    pub cancel_requested_at: Option<String>,
    /// The stored file's name.
    pub file_name: Option<String>,
    /// sha256 of the export.
    pub sha256: Option<String>,
    /// How the copy was stored: zstd | age | zstd+age (`null` = as the app sent it).
    pub codec: Option<String>,
    /// Bytes stored, when compression or encryption changed them (`bytes` is the export's size).
    pub stored_bytes: Option<i64>,
    /// sha256 of the stored bytes, when compression or encryption changed them.
    pub stored_sha256: Option<String>,
    /// What went wrong, in English.
    pub error: Option<String>,
    /// The stable machine code of `error` (e.g. `reason.app.unauthorized`); absent for runs
    /// recorded before codes were kept.
    pub error_code: Option<String>,
}

/// The machine code of a stored reason, when it was stored with one.
fn stored_code(text: Option<&str>, msg: Option<&str>) -> Option<String> {
    crate::backup::reason::Stored::read(text, msg).and_then(|r| r.code()).map(str::to_owned)
}

impl RunView {
    /// From a record.
    pub fn new(r: &backup_run::Model, app: &str) -> RunView {
        RunView {
            id: r.id,
            app: app.to_owned(),
            trigger: r.trigger.as_str().to_owned(),
            status: r.status.as_str().to_owned(),
            phase: r.phase.map(|p| p.as_str().to_owned()),
            bytes: r.bytes,
            attempts: r.attempts,
            queued_at: rfc3339(r.queued_at),
            started_at: r.started_at.map(rfc3339),
            finished_at: r.finished_at.map(rfc3339),
            duration_ms: r.duration_ms,
            retry_at: r.retry_at.filter(|_| r.status == crate::backup::lifecycle::Status::Queued).map(rfc3339),
            cancel_requested_at: r.cancel_requested_at.map(rfc3339),
            file_name: r.file_name.clone(),
            sha256: r.sha256.clone(),
            codec: r.codec.clone(),
            stored_bytes: r.stored_bytes,
            stored_sha256: r.stored_sha256.clone(),
            error: r.error.clone(),
            error_code: stored_code(r.error.as_deref(), r.error_msg.as_deref()),
        }
    }
}

/// A page of runs, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunList {
    /// The runs.
    pub runs: Vec<RunView>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<i64>,
}

/// What the queue holds now: runs and restores waiting or running, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct QueueView {
    /// Backup runs queued or running.
    pub runs: Vec<RunView>,
    /// Restores queued or running.
    pub restores: Vec<RestoreView>,
}

/// A stored copy.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CopyView {
    /// File name (its handle in URLs).
    pub name: String,
    /// Destination file id.
    pub id: String,
    /// Size in bytes.
    pub size: u64,
    /// Creation time.
    pub created: Option<String>,
    /// Verified after upload.
    pub verified: bool,
    /// Verified sha256.
    pub sha256: Option<String>,
    /// Pinned: retention never deletes it and it takes no retention slot.
    pub pinned: bool,
    /// The operator's note about it.
    pub note: Option<String>,
    /// How it is stored: zstd | age | zstd+age (`null` = as the app sent it).
    pub codec: Option<String>,
    /// The export's size, when the marks say it (`size` is what is stored).
    pub plain_size: Option<u64>,
    /// Fingerprints of the age recipients that can open it.
    pub recipients: Vec<String>,
    /// Adopted from a file the orchestrator did not write.
    pub adopted: bool,
    /// Counted by retention (false for an adopted copy the operator did not ask to count).
    pub counted: bool,
}

impl CopyView {
    /// The view of a listed copy.
    pub fn of(file: &crate::storage::destination::StoredFile) -> CopyView {
        use crate::backup::copies;
        CopyView {
            name: file.name.clone(),
            id: file.id.clone(),
            size: file.size,
            created: file.created.clone(),
            verified: copies::verified(file),
            sha256: copies::sha256(file),
            pinned: copies::pinned(file),
            note: copies::note(file).map(str::to_owned),
            codec: file.properties.get(crate::codec::CODEC_MARK).cloned(),
            plain_size: file.properties.get(crate::codec::SIZE_MARK).and_then(|s| s.parse().ok()),
            recipients: crate::codec::Stored::of(&file.properties).map(|s| s.recipients).unwrap_or_default(),
            adopted: copies::adopted(file),
            counted: !copies::adopted_uncounted(file),
        }
    }
}

/// `POST /api/v1/apps/{name}/audit`: how much to read back.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditBody {
    /// Also read back whole and re-hash this share of the app's copies, 0 to 100 (always the
    /// newest, then those read longest ago); default 0, the listing only.
    pub sample_percent: Option<u32>,
}

/// A copy an audit found lost or damaged, or could not read.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AuditFindingView {
    /// The copy's file name.
    pub name: String,
    /// What was found.
    pub detail: String,
}

/// What an audit of one app found.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AuditView {
    /// The app.
    pub app: String,
    /// Copies checked: the app's copies listed, and those of the inventory not found.
    pub copies: u64,
    /// Found as stored.
    pub good: u64,
    /// Missing or trashed, though the orchestrator did not delete them; retention no longer counts them.
    pub lost: Vec<AuditFindingView>,
    /// Another size or checksum than stored; retention neither counts nor deletes them.
    pub damaged: Vec<AuditFindingView>,
    /// Read back whole and re-hashed.
    pub read_back: u64,
    /// Could not be read back (the destination failed, not the copy): left as they were.
    pub unreadable: Vec<AuditFindingView>,
    /// Lost or damaged before, found as stored now.
    pub recovered: Vec<String>,
    /// Why the app could not be audited (nothing was marked).
    pub error: Option<String>,
}

impl AuditView {
    /// The view of an audit's result.
    pub fn of(report: &crate::backup::audit::AppAudit) -> AuditView {
        let findings = |list: &[crate::backup::audit::Finding]| {
            list.iter().map(|f| AuditFindingView { name: f.name.clone(), detail: f.detail.clone() }).collect()
        };
        AuditView {
            app: report.app.clone(),
            copies: report.copies as u64,
            good: report.good as u64,
            lost: findings(&report.lost),
            damaged: findings(&report.damaged),
            read_back: report.read_back as u64,
            unreadable: findings(&report.unreadable),
            recovered: report.recovered.clone(),
            error: report.error.clone(),
        }
    }
}

/// One past audit of an app.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AuditRecordView {
    /// Who asked: schedule | cli | ui | api.
    pub trigger: String,
    /// When it began (RFC 3339).
    pub started_at: String,
    /// When it ended (RFC 3339).
    pub finished_at: String,
    /// Copies checked.
    pub copies: i64,
    /// Found as stored.
    pub good: i64,
    /// Found lost.
    pub lost: i64,
    /// Found damaged.
    pub damaged: i64,
    /// Read back whole.
    pub read_back: i64,
    /// Why it could not be made.
    pub error: Option<String>,
}

/// An app's audits, newest first, and its copies now lost or damaged.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AuditHistoryView {
    /// The newest audits first (at most 50).
    pub audits: Vec<AuditRecordView>,
    /// Copies lost or damaged now.
    pub bad_copies: Vec<BadCopyView>,
}

/// A copy lost or damaged now.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BadCopyView {
    /// File name.
    pub name: String,
    /// lost | damaged.
    pub health: String,
    /// What was found.
    pub detail: Option<String>,
    /// Since when (RFC 3339).
    pub since: Option<String>,
}

/// `PUT /api/v1/apps/{name}/copies/{copy}/pin` and `POST /api/v1/apps/{name}/runs`: an optional note.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// At most 120 bytes, one line. On a pin it replaces the copy's note ("" clears it); absent
    /// leaves the note as it is.
    #[serde(default)]
    pub note: Option<String>,
}

/// Totals, as on the dashboard.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct StatsView {
    /// Registered apps.
    pub apps: i64,
    /// Paused apps.
    pub paused: i64,
    /// Successful backups in the last 24 hours.
    pub backups_24h: i64,
    /// Failed runs in the last 24 hours.
    pub failures_24h: i64,
    /// Copies stored.
    pub copies: i64,
    /// Bytes stored.
    pub bytes_stored: i64,
    /// Runs waiting in the queue.
    pub queued: i64,
    /// Runs in progress.
    pub running: i64,
    /// Runs waiting for Drive's daily upload budget to free.
    pub waiting: i64,
    /// Drive's daily upload budget of the destination's account; absent on a folder or S3.
    pub drive_budget: Option<DriveBudgetView>,
    /// Apps whose last run failed for good (no success since).
    pub failing_apps: i64,
    /// Apps told stale (no verified backup for longer than their schedule allows).
    pub stale_apps: i64,
    /// Notifications waiting to be sent (or retried).
    pub notifications_pending: i64,
    /// Notifications given up after their last attempt.
    pub notifications_failed: i64,
}

/// How much of Drive's daily upload budget the destination's Google account has used.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DriveBudgetView {
    /// The Google account uploads count against.
    pub account: String,
    /// Bytes uploaded in the window.
    pub used_bytes: u64,
    /// Bytes allowed per window (`GDRIVE_DAILY_UPLOAD_LIMIT`); absent when counting is off.
    pub limit_bytes: Option<u64>,
    /// The rolling window in seconds (`GDRIVE_DAILY_UPLOAD_WINDOW`).
    pub window_seconds: u64,
    /// No upload starts now: runs wait until `frees_at`.
    pub spent: bool,
    /// When runs may upload again (RFC 3339), when spent.
    pub frees_at: Option<String>,
    /// Until when Drive's own answer at its cap holds the account (RFC 3339), when it does.
    pub held_until: Option<String>,
}

impl DriveBudgetView {
    /// From the budget now.
    pub fn new(u: &crate::backup::budget::Usage) -> DriveBudgetView {
        DriveBudgetView {
            account: u.account.clone(),
            used_bytes: u.used,
            limit_bytes: u.limit,
            window_seconds: u.window.as_secs(),
            spent: u.spent(),
            frees_at: u.frees_at.map(rfc3339),
            held_until: u.held_until.map(rfc3339),
        }
    }
}

/// One line of a run's own log.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunLogLine {
    /// The line's id, increasing within the run (`?after=` takes the lines after one).
    pub id: i64,
    /// When (RFC 3339).
    pub at: String,
    /// error | warn | info.
    pub level: String,
    /// The line, with its fields, in English.
    pub message: String,
    /// The stable machine code of a line meant for operators (e.g. `upload.stored`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The line's fields by name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fields: std::collections::BTreeMap<String, String>,
}

/// A run's own log: its phases, retries, the destination's answers, what retention deleted.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunLogView {
    /// The run.
    pub run_id: i64,
    /// Its lines, oldest first.
    pub lines: Vec<RunLogLine>,
}

/// `POST /api/v1/apps/{name}/adopt`: adopt files of the app's folder that the orchestrator did
/// not write.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdoptBody {
    /// Which files, by name: a glob where `*` matches any run of characters and `?` one.
    #[serde(rename = "match")]
    pub pattern: String,
    /// Adopt them; without it (or false), only say what would be adopted and what is skipped.
    #[serde(default)]
    pub apply: Option<bool>,
    /// Let retention count the adopted copies, and so delete them in their turn (default false:
    /// retention keeps them and they take none of its slots).
    #[serde(default)]
    pub count_in_retention: Option<bool>,
    /// The backup type the files hold (default: the app's configured type).
    #[serde(default, rename = "type")]
    pub backup_type: Option<String>,
}

/// What an adoption did, or would do.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AdoptView {
    /// The marks were written (false: a dry run).
    pub applied: bool,
    /// The type the adopted copies are marked with.
    #[serde(rename = "type")]
    pub backup_type: String,
    /// The adopted copies count toward retention.
    pub count_in_retention: bool,
    /// How many files were (or would be) adopted.
    pub adopted: usize,
    /// Every file the glob matched, by name.
    pub files: Vec<AdoptFileView>,
}

/// One file an adoption matched.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AdoptFileView {
    /// File name.
    pub name: String,
    /// Adopted (or, in a dry run, would be).
    pub adopt: bool,
    /// Why it is left alone, when it is.
    pub skipped: Option<String>,
}

impl AdoptView {
    /// The view of an adoption.
    pub fn of(adoption: &crate::backup::adopt::Adoption) -> AdoptView {
        AdoptView {
            applied: adoption.applied,
            backup_type: adoption.backup_type.clone(),
            count_in_retention: adoption.count_in_retention,
            adopted: adoption.adopted().count(),
            files: adoption
                .files
                .iter()
                .map(|c| AdoptFileView {
                    name: c.file.name.clone(),
                    adopt: c.skip.is_none(),
                    skipped: c.skip.as_ref().map(ToString::to_string),
                })
                .collect(),
        }
    }
}

/// Asking for a restore. Destructive: `confirm` must repeat the app's name.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreBody {
    /// The name of the app restored into, typed again.
    pub confirm: String,
    /// Back up the current state of the app restored into first (default true).
    #[serde(default)]
    pub safety_backup: Option<bool>,
    /// The age identity file's text (AGE-SECRET-KEY-1...) that opens an encrypted copy, for this
    /// restore only: never stored, never logged. Without it, ENCRYPTION_IDENTITY_FILE is used.
    #[serde(default, skip_serializing)]
    #[schemars(with = "Option<String>")]
    pub identity: Option<secrecy::SecretString>,
    /// Restore the copy into this app instead of its own (e.g. production into staging); it
    /// must accept restores of the copy's type.
    #[serde(default)]
    pub into: Option<String>,
}

/// One restore.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RestoreView {
    /// Id.
    pub id: i64,
    /// The app.
    pub app: String,
    /// The copy's file name.
    pub copy: String,
    /// queued | running | succeeded | failed | interrupted | cancelled.
    pub status: String,
    /// safety_backup | download | import | done.
    pub phase: Option<String>,
    /// Bytes sent to the app.
    pub bytes: i64,
    /// The copy's size.
    pub total_bytes: i64,
    /// The safety backup's run, when one was taken.
    pub safety_run_id: Option<i64>,
    /// Who asked.
    pub actor: String,
    /// Started (RFC 3339).
    pub started_at: String,
    /// Ended.
    pub finished_at: Option<String>,
    /// What went wrong, in English.
    pub error: Option<String>,
    /// The stable machine code of `error`, when it has one.
    pub error_code: Option<String>,
    /// The app whose copy it is, when it is not `app`.
    pub from_app: Option<String>,
    /// restore; drill (checked by the app's POST /backup/verify, nothing applied); drill_restore
    /// (a drill restoring into a scratch app).
    pub kind: String,
    /// A drill's report, as the app answered it.
    pub report: Option<contract_spec::VerifyReport>,
    /// When an operator asked to cancel it (RFC 3339), once somebody did.
    pub cancel_requested_at: Option<String>,
}

/// `POST /api/v1/apps/{name}/drills`: which copy, and how.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DrillBody {
    /// The copy (file name or id); default: the newest good verified copy.
    #[serde(default)]
    pub copy: Option<String>,
    /// Restore the copy into this registered app (a scratch instance, without a safety backup)
    /// instead of having the app check it through its POST /backup/verify.
    #[serde(default)]
    pub drill_target: Option<String>,
}

impl RestoreView {
    /// From a row.
    pub fn new(r: &crate::db::entities::restore::Model, app: &str) -> RestoreView {
        RestoreView {
            id: r.id,
            app: app.to_owned(),
            copy: r.copy_name.clone(),
            status: r.status.as_str().to_owned(),
            phase: r.phase.map(|p| p.as_str().to_owned()),
            bytes: r.bytes,
            total_bytes: r.total_bytes,
            safety_run_id: r.safety_run_id,
            actor: r.actor.clone(),
            started_at: rfc3339(r.started_at),
            finished_at: r.finished_at.map(rfc3339),
            error: r.error.clone(),
            error_code: stored_code(r.error.as_deref(), r.error_msg.as_deref()),
            from_app: r.source_app.clone(),
            kind: r.kind.clone(),
            report: r.report.as_deref().and_then(|j| serde_json::from_str(j).ok()),
            cancel_requested_at: r.cancel_requested_at.map(rfc3339),
        }
    }
}

/// One app's stats.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AppStatsView {
    /// The app.
    pub app: String,
    /// Copies in the destination.
    pub copies: i64,
    /// Their total size in bytes.
    pub bytes_stored: i64,
    /// Successful runs in the last 30 days.
    pub succeeded_30d: i64,
    /// Failed runs in the last 30 days.
    pub failed_30d: i64,
    /// succeeded / (succeeded + failed) over 30 days; null with no ended run.
    pub success_rate_30d: Option<f64>,
    /// When the last successful backup ended (RFC 3339).
    pub last_success_at: Option<String>,
    /// When the last failed run ended.
    pub last_error_at: Option<String>,
    /// Why it failed.
    pub last_error: Option<String>,
}

/// Where backups go.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DestinationView {
    /// `gdrive`, `fs` or `s3`.
    pub kind: String,
    /// Where backups go, in words: the Drive account, the local root folder, the bucket.
    pub location: String,
    /// The folders the registered apps write to.
    pub folders: Vec<String>,
    /// Whether Drive uses an account connected on the Destination page (`STORAGE=gdrive` without
    /// `GDRIVE_CREDENTIALS`).
    pub connectable: bool,
    /// The connected Google account, when one is.
    pub account: Option<GoogleAccountView>,
    /// Drive's daily upload budget of the account (Drive only).
    pub drive_budget: Option<DriveBudgetView>,
}

/// A Google account connected through Connect Google Drive (never its token).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GoogleAccountView {
    /// The account's email.
    pub email: String,
    /// The scopes granted (`https://www.googleapis.com/auth/drive.file` by default).
    pub scope: String,
    /// When it was connected (RFC 3339).
    pub connected_at: String,
    /// Why it must be reconnected, when Google refused it; runs wait meanwhile.
    pub problem: Option<String>,
}

/// What to check; without a folder, every registered app's folder.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationCheckBody {
    /// A Drive folder ID (or sub-folder / key prefix for fs and s3).
    #[serde(default)]
    pub folder: Option<String>,
}

/// The destination check's answer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DestinationCheckView {
    /// True when nothing stops backups (no finding at level `problem`).
    pub ok: bool,
    /// The findings, the account and the storage.
    #[serde(flatten)]
    pub report: crate::storage::check::Report,
}
