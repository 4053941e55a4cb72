//! The daily or weekly summary: at a channel's hour in its zone, one notice in its language
//! with, per app it hears, the last result, the copies stored and their size, the runs that
//! failed in the period, whether it is stale, and its next run.
//!
//! Each period's summary is sent once: the process whose conditional update records the period
//! on the channel sends it. A summary set after its hour has passed starts with the next period.

use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};

use super::channel::{self, Channel, Kind};
use super::message::{Event, Notice, SummaryApp};
use super::policy::Summary;
use super::{Notifier, Reader};
use crate::backup::lifecycle::Status;
use crate::db::entities::{backup_run, notification_channel};
use crate::http::format::in_zone;
use crate::schedule::cron::CronSchedule;

/// The figures of every app `channel` hears, as of `now` (ms), over the summary's period.
pub async fn figures(
    db: &DatabaseConnection,
    channel: &Channel,
    stale_intervals: u32,
    now: i64,
) -> Result<Vec<(SummaryApp, String)>, sea_orm::DbErr> {
    let filter = crate::fleet::filter::AppFilter::default();
    let (cards, selection) = crate::overview::cards(db, &filter, stale_intervals, 0, u32::MAX as u64).await?;
    let facts: HashMap<i64, &crate::fleet::filter::Facts> = selection.apps.iter().map(|p| (p.id, &p.facts)).collect();
    let since = now - channel.policy.summary.period_ms();
    let failures: HashMap<i64, i64> = backup_run::Entity::find()
        .select_only()
        .column(backup_run::Column::AppId)
        .column_as(backup_run::Column::Id.count(), "failures")
        .filter(backup_run::Column::Status.is_in([Status::Failed, Status::Interrupted]))
        .filter(backup_run::Column::FinishedAt.gte(since))
        .group_by(backup_run::Column::AppId)
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let at = jiff::Timestamp::from_millisecond(now).unwrap_or_else(|_| jiff::Timestamp::now());
    let mut out = Vec::new();
    for card in cards {
        let app = &card.app;
        let tags = crate::registry::labels::parse_stored(&app.tags);
        let hears = match channel.app_id {
            Some(id) => id == app.id,
            None => channel.policy.hears_tags(&tags),
        };
        if !hears {
            continue;
        }
        let next_run = app
            .enabled
            .then(|| CronSchedule::parse(&app.schedule, &app.time_zone).ok())
            .flatten()
            .and_then(|s| s.next_after(at))
            .map(|t| t.as_millisecond());
        let last = card.last_run.as_ref();
        let stale = facts.get(&app.id).is_some_and(|f| f.stale);
        let failing = facts.get(&app.id).is_some_and(|f| f.failing);
        out.push((
            SummaryApp {
                name: app.name.clone(),
                last_result: last.map(|r| r.status.as_str().to_owned()),
                last_at: last.and_then(|r| r.finished_at).map(crate::http::format::rfc3339),
                copies: card.copies,
                bytes: card.bytes,
                failures: failures.get(&app.id).copied().unwrap_or(0),
                failing,
                stale,
                paused: !app.enabled,
                next_run: next_run.map(crate::http::format::rfc3339),
            },
            app.time_zone.clone(),
        ));
    }
    Ok(out)
}

/// A summary's line for one app, in the reader's language, its times in the app's zone.
fn line(r: &Reader<'_>, app: &SummaryApp, zone: &str) -> String {
    let t = &r.t;
    let when = |rfc: &Option<String>| {
        rfc.as_deref()
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
            .map(|ts| in_zone(ts.as_millisecond(), zone))
            .unwrap_or_default()
    };
    let last = match &app.last_result {
        Some(status) => {
            // Statuses are capitalised for badges; within the sentence only their first letter drops.
            let word = t.status(status);
            let mut chars = word.chars();
            let word = chars.next().map(|c| c.to_lowercase().chain(chars).collect::<String>()).unwrap_or_default();
            t.fill("notify.summary.last", &[("status", &word), ("at", &when(&app.last_at))])
        }
        None => t.get("notify.summary.never").to_owned(),
    };
    let next = if app.paused {
        t.get("notify.summary.paused").to_owned()
    } else {
        t.fill("notify.summary.next", &[("at", &when(&app.next_run))])
    };
    let mut text = t.fill(
        "notify.summary.line",
        &[
            ("app", &app.name),
            ("last", &last),
            ("copies", &app.copies.to_string()),
            ("size", &t.bytes(app.bytes)),
            ("failures", &app.failures.to_string()),
            ("next", &next),
        ],
    );
    if app.stale {
        text.push_str(t.get("notify.summary.stale"));
    }
    text
}

impl Notifier {
    /// Sends every summary whose hour has come in its channel's zone and that was not sent for
    /// this period yet; returns how many were queued.
    pub async fn send_summaries(&self) -> Result<usize, sea_orm::DbErr> {
        let now = jiff::Timestamp::now();
        let mut sent = 0;
        for c in channel::list(&self.db).await? {
            if !c.enabled || c.kind == Kind::Ping || c.policy.summary == Summary::Off {
                continue;
            }
            let Some(period) = c.policy.summary.due_period(c.policy.summary_hour, &c.policy.zone(), now) else {
                continue;
            };
            if c.summary_sent_for.as_deref() == Some(period.as_str()) {
                continue;
            }
            // Only the process whose update records the period sends it.
            let claimed = notification_channel::Entity::update_many()
                .col_expr(notification_channel::Column::SummarySentFor, Expr::value(period.clone()))
                .filter(notification_channel::Column::Id.eq(c.id))
                .filter(
                    Condition::any()
                        .add(notification_channel::Column::SummarySentFor.is_null())
                        .add(notification_channel::Column::SummarySentFor.ne(period.clone())),
                )
                .exec(&self.db)
                .await?;
            if claimed.rows_affected != 1 {
                continue;
            }
            self.send_summary(&c, now.as_millisecond()).await?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Queues `channel`'s summary as of `now` (ms).
    pub async fn send_summary(&self, channel: &Channel, now: i64) -> Result<(), sea_orm::DbErr> {
        let apps = figures(&self.db, channel, self.settings.stale_after_intervals, now).await?;
        let weekly = channel.policy.summary == Summary::Weekly;
        let build = |r: &Reader<'_>| {
            let t = &r.t;
            let failing = apps.iter().filter(|(a, _)| a.failing).count();
            let stale = apps.iter().filter(|(a, _)| a.stale).count();
            let key = if weekly { "notify.summary.weekly" } else { "notify.summary.daily" };
            let title = t.fill(
                key,
                &[("n", &apps.len().to_string()), ("failing", &failing.to_string()), ("stale", &stale.to_string())],
            );
            let code = if weekly { "summary.weekly" } else { "summary.daily" };
            let mut notice = Notice::new(Event::Summary, code, title);
            notice.lines = apps.iter().map(|(a, zone)| line(r, a, zone)).collect();
            if notice.lines.is_empty() {
                notice.lines.push(t.get("notify.summary.none").to_owned());
            }
            notice.apps = apps.iter().map(|(a, _)| a.clone()).collect();
            notice.link = self.link("/");
            notice
        };
        self.enqueue_built(channel, &build).await;
        Ok(())
    }
}
