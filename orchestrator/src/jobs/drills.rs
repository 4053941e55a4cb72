//! Scheduled restore drills of `serve`: each app with a drill schedule (`--drill-schedule`, in
//! its time zone) has a drill queued at each fire, like a restore (same queue, lease, progress
//! and settle path), taking its newest good copy or a random verified one (`--drill-copy`).
//! Every replica runs this loop; each fire is claimed in `settings` first, so one fire is one
//! drill. Paused apps are not drilled. A fire missed while no process ran is not made up; one
//! that finds a backup or restore of the app running waits for it (up to an hour).
//!
//! It also watches the proof's age: an app with a drill schedule whose copies have not been
//! proven restorable for `DRILL_MAX_AGE_DAYS` (no passed drill; counted from when the schedule
//! was set) is told to its failure channels once, until a drill passes again.

use std::collections::HashMap;
use std::time::Duration;

use sea_orm::ActiveValue::Set;
use sea_orm::prelude::*;
use tokio::sync::watch;

use crate::backup::drill::{self, DrillRequest};
use crate::db::entities::setting;
use crate::db::now_ms;
use crate::registry::App;
use crate::schedule::cron::CronSchedule;
use crate::startup::Context;

/// Runs until `stop` turns true, looking every `tick`.
pub async fn run(ctx: Context, max_age_days: u32, tick: Duration, mut stop: watch::Receiver<bool>) {
    let mut since: HashMap<i64, jiff::Timestamp> = HashMap::new();
    // Fires won while the app was busy (a backup running): tried again each tick for an hour.
    let mut deferred: HashMap<i64, std::time::Instant> = HashMap::new();
    let started = jiff::Timestamp::now();
    // The proof's age is looked at as often as staleness is (ALERT_CHECK_SECS), not every tick.
    let age_every = ctx.notifier.settings().check_every;
    let mut age_checked = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let apps = match ctx.registry.list().await {
            Ok(apps) => apps,
            Err(e) => {
                tracing::warn!(error = %e, "could not list the apps to drill");
                continue;
            }
        };
        let now = jiff::Timestamp::now();
        let check_age = max_age_days > 0 && age_checked.elapsed() >= age_every;
        if check_age {
            age_checked = std::time::Instant::now();
        }
        for app in apps.iter().filter(|a| a.enabled) {
            let Some(expression) = &app.drill_schedule else { continue };
            let Ok(schedule) = CronSchedule::parse(expression, &app.time_zone) else { continue };
            let from = *since.get(&app.id).unwrap_or(&started);
            since.insert(app.id, now);
            if let Some(fire) = schedule.next_after(from).filter(|fire| *fire <= now)
                && claim(&ctx, app, fire).await
            {
                deferred.insert(app.id, std::time::Instant::now());
            }
            if let Some(since_fire) = deferred.get(&app.id).copied()
                && (drill_now(&ctx, app).await || since_fire.elapsed() > Duration::from_secs(3600))
            {
                deferred.remove(&app.id);
            }
            if check_age {
                watch_age(&ctx, app, max_age_days).await;
            }
        }
    }
}

/// Claims `app`'s fire at `fire`; true when this process won it.
async fn claim(ctx: &Context, app: &App, fire: jiff::Timestamp) -> bool {
    let key = format!("drill_fire:{}", app.id);
    match crate::jobs::self_backup::claim(&ctx.db, &key, fire.as_millisecond()).await {
        Ok(won) => won,
        Err(e) => {
            tracing::warn!(app = %app.name, error = %e, "could not claim a drill's fire; skipped");
            false
        }
    }
}

/// Queues a drill of `app` (its fire already claimed); false when the app was busy and the drill
/// should be tried again.
async fn drill_now(ctx: &Context, app: &App) -> bool {
    let copy = match app.drill_copy.as_str() {
        "random" => random_copy(ctx, app).await,
        _ => None,
    };
    let req = DrillRequest { copy, target: None, actor: "schedule".to_owned() };
    match crate::jobs::restore::queue_drill(&ctx.runner, app, &req).await {
        Ok(row) if row.status.is_active() => {
            tracing::info!(app = %app.name, drill = row.id, copy = %row.copy_name, "scheduled drill queued")
        }
        Ok(row) => {
            tracing::warn!(app = %app.name, drill = row.id, error = row.error.as_deref().unwrap_or(""), "scheduled drill not made")
        }
        Err(crate::error::Error::Busy(reason)) => {
            // A backup or restore of the app runs now: the drill waits for the next tick.
            tracing::info!(app = %app.name, %reason, "scheduled drill deferred");
            return false;
        }
        Err(e) => {
            tracing::warn!(app = %app.name, error = %e, "the scheduled drill could not be made");
            ctx.notifier.drill_refused(app, &e.to_string()).await;
        }
    }
    true
}

/// Any verified copy of the app that no listing or audit found damaged, at random.
async fn random_copy(ctx: &Context, app: &App) -> Option<String> {
    let copies = crate::backup::copies::list(&ctx.runner, app).await.ok()?;
    let damaged = crate::backup::inventory::damaged_ids(&ctx.db, app.id).await.ok()?;
    let good: Vec<_> =
        copies.into_iter().filter(|f| crate::backup::copies::verified(f) && !damaged.contains(&f.id)).collect();
    (!good.is_empty()).then(|| good[fastrand::usize(..good.len())].id.clone())
}

/// Tells, once per spell, that no drill of `app` has passed for `max_age_days`.
async fn watch_age(ctx: &Context, app: &App, max_age_days: u32) {
    let key = format!("drill_overdue:{}", app.id);
    let limit = now_ms() - i64::from(max_age_days) * 24 * 3600 * 1000;
    let last = match drill::last_passed(&ctx.db, app.id).await {
        Ok(last) => last.and_then(|d| d.finished_at),
        Err(e) => {
            tracing::warn!(app = %app.name, error = %e, "could not read the app's drills");
            return;
        }
    };
    // Never passed: counted from when the schedule was set (the app's last change).
    let proven = last.unwrap_or(app.updated_at);
    if proven >= limit {
        let _ = setting::Entity::delete_by_id(key).exec(&ctx.db).await;
        return;
    }
    let told = setting::Entity::insert(setting::ActiveModel { key: Set(key), value: Set(now_ms().to_string()) })
        .on_conflict_do_nothing_on([setting::Column::Key])
        .exec_without_returning(&ctx.db)
        .await;
    if matches!(told, Ok(sea_orm::TryInsertResult::Inserted(1))) {
        ctx.notifier.drill_overdue(app, last, max_age_days).await;
    }
}
