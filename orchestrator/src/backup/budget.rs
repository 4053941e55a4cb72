//! Drive's daily upload budget: bytes uploaded per Google account in a rolling window, counted in
//! the database so every replica sees the same count, and whether a run may start uploading now.
//!
//! Google lets one account upload 750 GB per rolling 24 hours and answers the upload past that
//! with 403 "User rate limit exceeded.". The upload that crosses the limit is let finish, so a
//! run starts whenever the budget is not yet spent, however large its export. A run waits when
//! (a) our own count says the budget is spent, or (b) Drive answered at its cap: then the account
//! is held (a row of `drive_upload_holds`) until our count says something has freed.
//!
//! This lives beside the run pipeline rather than in `storage/`: it decides whether a run may
//! start and records what a run sent, in the database, which the storage adapter never touches.
//! The arithmetic ([`assess`], [`hold_until`]) is pure and takes `now`.

use crate::catalogue::Msg;
use std::time::Duration;

use sea_orm::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};

use crate::config::budget::BudgetSettings;
use crate::db::entities::{drive_upload, drive_upload_hold};
use crate::db::now_ms;

/// Rows older than this are deleted (whatever the window, a day more than Google's).
const KEEP_MS: i64 = 48 * 3600 * 1000;

/// The budget of one account now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// The Google account.
    pub account: String,
    /// Bytes counted in the window.
    pub used: u64,
    /// Bytes per window; `None` when counting is off.
    pub limit: Option<u64>,
    /// The rolling window.
    pub window: Duration,
    /// When Drive answered at its cap, until when nothing starts (ms).
    pub held_until: Option<i64>,
    /// When spent: when runs may upload again (ms).
    pub frees_at: Option<i64>,
}

impl Usage {
    /// No upload may start now.
    pub fn spent(&self) -> bool {
        self.frees_at.is_some()
    }

    /// Why a run waits, for the operator: "waiting for Drive's daily upload budget ...".
    pub fn reason(&self) -> Msg {
        let why = match (self.held_until, self.limit) {
            (Some(_), _) => Msg::new("reason.budget.cap").with("account", &self.account),
            (None, Some(limit)) => Msg::new("reason.budget.used")
                .with("used", human_bytes(self.used))
                .with("limit", human_bytes(limit))
                .with("account", &self.account)
                .with("window", human_window(self.window)),
            (None, None) => Msg::new("reason.budget.spent"),
        };
        match self.frees_at {
            Some(at) => Msg::new("reason.budget.waiting_until").with_msg("why", why).with("at", time(at)),
            None => Msg::new("reason.budget.waiting").with_msg("why", why),
        }
    }
}

/// What the uploads in the window add up to, and when a spent budget frees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assessment {
    /// Bytes in the window.
    pub used: u64,
    /// When spent: the first moment it no longer is (ms).
    pub frees_at: Option<i64>,
}

/// Assesses `uploads` (`(counted_at ms, bytes)`, any order) at `now`: bytes count while
/// `counted_at > now - window`. Spent when `limit` is reached or a hold is still on; it frees
/// when enough of the oldest uploads left the window to be under the limit, and the hold is over.
pub fn assess(
    uploads: &[(i64, u64)],
    limit: Option<u64>,
    held_until: Option<i64>,
    window: Duration,
    now: i64,
) -> Assessment {
    let window_ms = window.as_millis() as i64;
    let mut live: Vec<(i64, u64)> = uploads.iter().copied().filter(|(at, _)| *at > now - window_ms).collect();
    live.sort_unstable();
    let used: u64 = live.iter().map(|(_, b)| b).sum();
    let held = held_until.filter(|until| *until > now);
    let by_count = limit.filter(|limit| used >= *limit).map(|limit| {
        let mut left = used;
        let mut frees = now;
        for (at, bytes) in &live {
            left -= bytes;
            frees = at + window_ms;
            if left < limit {
                break;
            }
        }
        frees
    });
    let frees_at = match (by_count, held) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    Assessment { used, frees_at }
}

/// Until when an account stays held after Drive answered at its cap at `now`. Google counts
/// uploads we may not know of (other tools on the same account), so our count cannot say when its
/// window frees; the earliest anything we know of frees is when our oldest counted upload leaves
/// the window. Not sooner than a 24th of the window (an hour of Google's day: each try asks an
/// app for a whole export, and Drive would refuse it again), not later than a whole window, after
/// which Google's count holds nothing from before the answer.
pub fn hold_until(uploads: &[(i64, u64)], window: Duration, now: i64) -> i64 {
    let window_ms = window.as_millis() as i64;
    let oldest = uploads.iter().map(|(at, _)| *at).filter(|at| *at > now - window_ms).min();
    let earliest = now + window_ms / 24;
    oldest.map_or(now + window_ms, |at| at + window_ms).clamp(earliest, now + window_ms)
}

/// The budget of `account` now.
pub async fn usage(db: &DatabaseConnection, account: &str, settings: &BudgetSettings) -> Result<Usage, DbErr> {
    let now = now_ms();
    let uploads = counted(db, account, settings.window, now).await?;
    let held_until = drive_upload_hold::Entity::find_by_id(account.to_owned())
        .one(db)
        .await?
        .map(|h| h.held_until)
        .filter(|until| *until > now);
    let a = assess(&uploads, settings.limit, held_until, settings.window, now);
    Ok(Usage {
        account: account.to_owned(),
        used: a.used,
        limit: settings.limit,
        window: settings.window,
        held_until,
        frees_at: a.frees_at,
    })
}

/// The budget of the destination's Google account; `None` when the destination has no upload
/// budget (a folder, S3).
pub async fn of_destination(
    db: &DatabaseConnection,
    destination: &crate::storage::destination::Destination,
    settings: &BudgetSettings,
) -> Result<Option<Usage>, DbErr> {
    match destination.drive_account() {
        Some(account) => usage(db, &account, settings).await.map(Some),
        None => Ok(None),
    }
}

/// The uploads of `account` still in the window at `now`.
async fn counted(db: &DatabaseConnection, account: &str, window: Duration, now: i64) -> Result<Vec<(i64, u64)>, DbErr> {
    let rows: Vec<(i64, i64)> = drive_upload::Entity::find()
        .select_only()
        .column(drive_upload::Column::CountedAt)
        .column(drive_upload::Column::Bytes)
        .filter(drive_upload::Column::Account.eq(account))
        .filter(drive_upload::Column::CountedAt.gt(now - window.as_millis() as i64))
        .order_by_asc(drive_upload::Column::CountedAt)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(at, bytes)| (at, bytes.max(0) as u64)).collect())
}

/// The count of one upload: created at its first acknowledged bytes, then kept up to date.
#[derive(Debug)]
pub struct Counter {
    account: String,
    run_id: Option<i64>,
    row: Option<i64>,
    counted: u64,
}

impl Counter {
    /// Counts an upload of run `run_id` (`None`: the orchestrator's own self-backup) against
    /// `account`.
    pub fn new(account: String, run_id: Option<i64>) -> Counter {
        Counter { account, run_id, row: None, counted: 0 }
    }

    /// The account counted against.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Records that Drive has acknowledged `bytes` of this upload in all, now.
    pub async fn record(&mut self, db: &DatabaseConnection, bytes: u64) -> Result<(), DbErr> {
        if bytes == self.counted {
            return Ok(());
        }
        let now = now_ms();
        match self.row {
            Some(id) => {
                drive_upload::Entity::update_many()
                    .col_expr(drive_upload::Column::Bytes, Expr::value(bytes as i64))
                    .col_expr(drive_upload::Column::CountedAt, Expr::value(now))
                    .filter(drive_upload::Column::Id.eq(id))
                    .exec(db)
                    .await?;
            }
            None => {
                // Old rows count for nothing: one upload in many clears them.
                drive_upload::Entity::delete_many()
                    .filter(drive_upload::Column::CountedAt.lt(now - KEEP_MS))
                    .exec(db)
                    .await?;
                let row = drive_upload::ActiveModel {
                    account: Set(self.account.clone()),
                    run_id: Set(self.run_id),
                    bytes: Set(bytes as i64),
                    counted_at: Set(now),
                    ..Default::default()
                }
                .insert(db)
                .await?;
                self.row = Some(row.id);
            }
        }
        self.counted = bytes;
        Ok(())
    }
}

/// Records that Drive answered at its cap for `account` now: the account is held (see
/// [`hold_until`]), so every run of every replica waits. Returns the budget as it now stands.
pub async fn hold(db: &DatabaseConnection, account: &str, settings: &BudgetSettings) -> Result<Usage, DbErr> {
    let now = now_ms();
    let uploads = counted(db, account, settings.window, now).await?;
    let until = hold_until(&uploads, settings.window, now);
    drive_upload_hold::Entity::insert(drive_upload_hold::ActiveModel {
        account: Set(account.to_owned()),
        reported_at: Set(now),
        held_until: Set(until),
    })
    .on_conflict(
        OnConflict::column(drive_upload_hold::Column::Account)
            .update_columns([drive_upload_hold::Column::ReportedAt, drive_upload_hold::Column::HeldUntil])
            .to_owned(),
    )
    .exec(db)
    .await?;
    usage(db, account, settings).await
}

/// `2026-11-22T03:04:06Z`: `ms` rounded up to the second (never earlier than it frees).
pub fn time(ms: i64) -> String {
    jiff::Timestamp::from_second((ms + 999).div_euclid(1000)).map(|t| t.to_string()).unwrap_or_default()
}

/// `12.3 GB`: decimal units, as Google states its limit.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 || value >= 100.0 || value.fract() < 0.05 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `24 h`, `90 min`, `5 s`.
pub fn human_window(window: Duration) -> String {
    let secs = window.as_secs();
    if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);
    const H: i64 = 3600 * 1000;
    const GB: u64 = 1_000_000_000;
    const NOW: i64 = 1_000 * H;

    type Uploads = &'static [(i64, u64)];

    #[test]
    fn the_budget_is_what_the_window_holds() {
        // (name, uploads, limit, held until, expected used, expected frees_at)
        type Case = (&'static str, Uploads, Option<u64>, Option<i64>, u64, Option<i64>);
        let cases: [Case; 11] = [
            ("nothing uploaded", &[], Some(750 * GB), None, 0, None),
            ("under the limit", &[(NOW - 2 * H, 700 * GB)], Some(750 * GB), None, 700 * GB, None),
            // Reaching it exactly spends it; the one upload frees a day after it was counted.
            ("at the limit", &[(NOW - 2 * H, 750 * GB)], Some(750 * GB), None, 750 * GB, Some(NOW + 22 * H)),
            // Past it, it frees when enough of the oldest left: 100 leaving is not enough, 100 + 200 is.
            (
                "past the limit",
                &[(NOW - 20 * H, 100 * GB), (NOW - 10 * H, 200 * GB), (NOW - H, 600 * GB)],
                Some(750 * GB),
                None,
                900 * GB,
                Some(NOW + 14 * H),
            ),
            (
                "order does not matter",
                &[(NOW - H, 600 * GB), (NOW - 20 * H, 100 * GB), (NOW - 10 * H, 200 * GB)],
                Some(750 * GB),
                None,
                900 * GB,
                Some(NOW + 14 * H),
            ),
            // What left the window counts for nothing.
            (
                "older than the window",
                &[(NOW - 25 * H, 900 * GB), (NOW - H, 10 * GB)],
                Some(750 * GB),
                None,
                10 * GB,
                None,
            ),
            ("counting off", &[(NOW - H, 900 * GB)], None, None, 900 * GB, None),
            // Drive's cap answer holds the account even when our count is low, or counting is off.
            ("held by Drive", &[(NOW - H, GB)], Some(750 * GB), Some(NOW + 3 * H), GB, Some(NOW + 3 * H)),
            ("held with counting off", &[], None, Some(NOW + H), 0, Some(NOW + H)),
            ("a hold that ended", &[], Some(750 * GB), Some(NOW - 1), 0, None),
            // Spent by count and held: it frees when both are over.
            (
                "held and spent",
                &[(NOW - 23 * H, 800 * GB)],
                Some(750 * GB),
                Some(NOW + 2 * H),
                800 * GB,
                Some(NOW + 2 * H),
            ),
        ];
        for (name, uploads, limit, held, used, frees_at) in cases {
            assert_eq!(assess(uploads, limit, held, DAY, NOW), Assessment { used, frees_at }, "{name}");
        }
    }

    #[test]
    fn after_drives_cap_answer_the_account_waits_until_something_frees() {
        let cases: [(&str, Uploads, i64); 4] = [
            // Our oldest upload in the window frees first: the hold lasts until then.
            ("our oldest upload frees", &[(NOW - 20 * H, GB), (NOW - H, GB)], NOW + 4 * H),
            // Not sooner than an hour of a day's window, even when our oldest is about to leave it.
            ("at least an hour", &[(NOW - 24 * H + 60_000, GB)], NOW + H),
            // Nothing of ours in the window: Google's count is of uploads we don't know; a whole window.
            ("nothing known", &[(NOW - 30 * H, GB)], NOW + 24 * H),
            ("nothing at all", &[], NOW + 24 * H),
        ];
        for (name, uploads, until) in cases {
            assert_eq!(hold_until(uploads, DAY, NOW), until, "{name}");
        }
    }

    #[test]
    fn a_short_window_scales_the_hold() {
        let window = Duration::from_secs(5);
        assert_eq!(hold_until(&[(NOW - 1000, 1)], window, NOW), NOW + 4000);
        assert_eq!(hold_until(&[], window, NOW), NOW + 5000);
    }

    #[test]
    fn the_reason_says_how_much_of_what_and_when_it_frees() {
        let usage = Usage {
            account: "bot@x.iam.gserviceaccount.com".into(),
            used: 12_345_000_000,
            limit: Some(750 * GB),
            window: DAY,
            held_until: None,
            frees_at: Some(0),
        };
        assert_eq!(
            usage.reason().to_string(),
            "waiting for Drive's daily upload budget (12.3 GB of 750 GB uploaded by bot@x.iam.gserviceaccount.com in the last 24 h); it frees at 1970-01-01T00:00:00Z"
        );
        let held = Usage { held_until: Some(0), ..usage };
        assert!(
            held.reason()
                .to_string()
                .contains("Drive answered that bot@x.iam.gserviceaccount.com reached its daily upload limit")
        );
    }

    #[test]
    fn sizes_and_windows_read_as_google_states_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(750 * GB), "750 GB");
        assert_eq!(human_bytes(12_345_000_000), "12.3 GB");
        assert_eq!(human_bytes(1_048_576), "1 MB");
        assert_eq!(human_window(DAY), "24 h");
        assert_eq!(human_window(Duration::from_secs(5400)), "90 min");
        assert_eq!(human_window(Duration::from_secs(5)), "5 s");
    }
}
