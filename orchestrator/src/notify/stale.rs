//! Staleness: an app whose newest verified copy is older than its schedule allows.
//!
//! The allowance is `STALE_AFTER_INTERVALS` times the longest gap between the app's next fires
//! (so "weekdays at 02:00" allows two weekends' worth, not two days, and no alert fires every
//! Monday). The clock starts at the newest verified copy, or at the app's last edit or resume
//! when that is later (a new or just-resumed app is not stale at once). Paused apps are never
//! stale.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};

use super::channel::Kind;
use super::message::{AppRef, Event, Notice};
use super::{Notifier, Reader, Subject};
use crate::db::entities::{app, backup_copy};
use crate::schedule::cron::CronSchedule;

/// How long `schedule` may go without a verified copy.
pub fn allowance(schedule: &CronSchedule, intervals: u32, now: Timestamp) -> Option<Duration> {
    let fires = schedule.upcoming(now, 9);
    let longest = fires.windows(2).map(|w| w[1].duration_since(w[0])).max()?;
    let longest = Duration::try_from(longest).ok()?;
    Some(longest.saturating_mul(intervals))
}

/// One app's freshness.
#[derive(Debug, Clone)]
pub struct Freshness {
    /// The app.
    pub app_id: i64,
    /// Its name.
    pub name: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its zone.
    pub time_zone: String,
    /// When the newest verified copy was made (ms), if there is one.
    pub newest_verified: Option<i64>,
    /// How long it may go without one.
    pub allowance: Duration,
    /// Past the allowance.
    pub stale: bool,
}

/// The freshness of every enabled, scheduled app.
pub async fn freshness(
    db: &DatabaseConnection,
    intervals: u32,
    now: Timestamp,
) -> Result<Vec<Freshness>, sea_orm::DbErr> {
    // Only the columns it needs: the dashboard's filters read this for every app on every view.
    let apps: Vec<(i64, String, String, String, i64, String)> = app::Entity::find()
        .select_only()
        .columns([
            app::Column::Id,
            app::Column::Name,
            app::Column::Schedule,
            app::Column::TimeZone,
            app::Column::UpdatedAt,
            app::Column::Tags,
        ])
        .filter(app::Column::Enabled.eq(true))
        .into_tuple()
        .all(db)
        .await?;
    let newest: HashMap<i64, Option<i64>> = backup_copy::Entity::find()
        .select_only()
        .column(backup_copy::Column::AppId)
        .column_as(backup_copy::Column::CreatedAt.max(), "newest")
        .filter(backup_copy::Column::Verified.eq(true))
        .filter(backup_copy::Column::DeletedAt.is_null())
        .group_by(backup_copy::Column::AppId)
        .into_tuple::<(i64, Option<i64>)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut out = Vec::new();
    // Apps mostly share a handful of schedules: each is parsed and walked once per check.
    let mut allowances: HashMap<(String, String), Option<Duration>> = HashMap::new();
    for (id, name, schedule, time_zone, updated_at, tags) in apps {
        let key = (schedule, time_zone.clone());
        let allowed = allowances.entry(key).or_insert_with_key(|(schedule, time_zone)| {
            CronSchedule::parse(schedule, time_zone).ok().and_then(|s| allowance(&s, intervals, now))
        });
        let Some(allowance) = *allowed else { continue };
        let newest_verified = newest.get(&id).copied().flatten();
        let since = newest_verified.unwrap_or(i64::MIN).max(updated_at);
        let age = now.as_millisecond().saturating_sub(since);
        out.push(Freshness {
            app_id: id,
            name,
            tags: crate::registry::labels::parse_stored(&tags),
            time_zone,
            newest_verified,
            allowance,
            stale: age > allowance.as_millis() as i64,
        });
    }
    Ok(out)
}

impl Notifier {
    /// Tells staleness once per stale spell; returns how many apps became stale.
    pub async fn check_stale(&self) -> Result<usize, sea_orm::DbErr> {
        let now = Timestamp::now();
        let mut told = 0;
        for f in freshness(&self.db, self.settings.stale_after_intervals, now).await? {
            if !f.stale || !self.mark(f.app_id, crate::db::entities::app_alert::Column::StaleSince).await? {
                continue;
            }
            told += 1;
            let hours = (f.allowance.as_secs() / 3600).max(1).to_string();
            let build = |r: &Reader<'_>| {
                let t = &r.t;
                let summary = t.fill("notify.stale", &[("app", &f.name)]);
                let mut notice = Notice::new(Event::Stale, "backup.stale", summary);
                notice.reason = Some(match f.newest_verified {
                    Some(_) => t.fill("notify.stale.reason_old", &[("hours", &hours)]),
                    None => t.fill("notify.stale.reason_none", &[("hours", &hours)]),
                });
                notice.last_verified_at = f.newest_verified.map(|ms| crate::http::format::in_zone(ms, &f.time_zone));
                notice.app = Some(AppRef { id: f.app_id, name: f.name.clone() });
                notice.link = self.link(&format!("/apps/{}", f.name));
                notice
            };
            tracing::warn!(app = %f.name, "no verified backup for too long: telling the stale channels");
            let subject = Subject { id: f.app_id, tags: &f.tags };
            self.tell(subject, &build, |c| c.kind != Kind::Ping && c.on_stale).await;
        }
        Ok(told)
    }

    /// Looks for stale apps, reminders and summaries that are due every `ALERT_CHECK_SECS` until
    /// `stop`.
    pub async fn watch_staleness(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut every = tokio::time::interval(self.settings.check_every);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            if let Err(e) = self.check_stale().await {
                tracing::warn!(error = %e, "could not check apps for staleness");
            }
            if let Err(e) = self.remind().await {
                tracing::warn!(error = %e, "could not remind about failing or stale apps");
            }
            if let Err(e) = self.send_summaries().await {
                tracing::warn!(error = %e, "could not send the summaries that are due");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowance_is_twice_the_longest_gap() {
        let now: Timestamp = "2026-11-18T12:00:00Z".parse().unwrap(); // a Wednesday
        let hourly = CronSchedule::parse("0 * * * *", "UTC").unwrap();
        assert_eq!(allowance(&hourly, 2, now), Some(Duration::from_secs(2 * 3600)));
        // Weekdays: the weekend gap (Friday to Monday) is the longest.
        let weekdays = CronSchedule::parse("0 2 * * 1-5", "UTC").unwrap();
        assert_eq!(allowance(&weekdays, 2, now), Some(Duration::from_secs(2 * 3 * 86400)));
        assert_eq!(allowance(&hourly, 3, now), Some(Duration::from_secs(3 * 3600)));
    }
}
