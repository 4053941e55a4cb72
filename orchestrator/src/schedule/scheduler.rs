//! The scheduler loop. Every process runs it: each tick computes, per enabled app, the latest
//! fire time that has passed, and in ONE transaction inserts the due `(app, fire time)` rows into
//! `schedule_fires` (primary key = exactly once across processes), creates a run record for each
//! row it actually inserted, and queues its job. After downtime only the latest missed fire of
//! an app runs, once.
//!
//! Each app's next fire is kept in memory, so a tick with nothing due costs one narrow query
//! (`id, updated_at` of the enabled apps) and no cron arithmetic: only apps whose row changed since
//! the last tick are read in full and re-planned. Adding, editing, pausing or deleting an app still
//! takes effect at the next tick, without a restart. Between ticks the loop sleeps until the next
//! tick or the earliest known fire, whichever comes first, so a fire is queued as soon as it is due
//! rather than up to a tick later.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use sea_orm::sqlx;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect, Statement,
};

use crate::db::entities::{app, app_group};
use crate::db::now_ms;
use crate::jobs::queue::{Job, QUEUE, task};
use crate::registry::input::Priority;
use crate::schedule::cron::CronSchedule;
use crate::schedule::spread::Spread;

/// How often runs and restores left behind by stopped processes are looked for.
const SWEEP_EVERY_MS: i64 = 30_000;

/// Why a tick failed; the next tick tries again.
#[derive(Debug, thiserror::Error)]
pub enum TickError {
    /// The registry or the fires could not be read.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// The fires could not be recorded.
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    /// The jobs could not be queued.
    #[error("could not queue the fires: {0}")]
    Queue(String),
}

/// A due fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fire {
    app_id: i64,
    at: i64,
    priority: i32,
    /// How long after now its job starts (the app's jitter).
    delay: Duration,
}

/// What the scheduler knows of one enabled app.
struct Plan {
    schedule: CronSchedule,
    /// The row's `updated_at` when it was read: a different value means the app changed.
    updated_at: i64,
    priority: i32,
    /// The app's own window, jitter and group (the group's settings are read when it fires).
    spread: (Option<i64>, Option<i64>, Option<String>),
    /// Fires at or before this instant were considered already.
    after: Timestamp,
    /// The first fire after `after`; `None` when the schedule never fires again.
    next: Option<Timestamp>,
}

impl Plan {
    fn new(schedule: CronSchedule, row: &app::Model, priority: i32, after: Timestamp) -> Plan {
        let next = schedule.next_after(after);
        Plan { schedule, updated_at: row.updated_at, priority, spread: spread_of(row), after, next }
    }
}

/// The scheduler of one process.
pub struct Scheduler {
    db: DatabaseConnection,
    plans: HashMap<i64, Plan>,
    last_fires: Option<HashMap<i64, i64>>,
    last_sweep: i64,
    /// When the last tick completed (ms), for `/readyz`.
    pub last_tick: Arc<AtomicI64>,
}

impl Scheduler {
    /// A scheduler over `db`.
    pub fn new(db: DatabaseConnection) -> Self {
        Scheduler { db, plans: HashMap::new(), last_fires: None, last_sweep: 0, last_tick: Arc::new(AtomicI64::new(0)) }
    }

    /// Ticks at least every `every` until `stop` turns true, and at each known fire time.
    pub async fn run(mut self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let now = Timestamp::now();
            match self.tick(now).await {
                Ok(n) if n > 0 => tracing::info!(queued = n, "scheduled backups queued"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "scheduler tick failed; trying again next tick"),
            }
            let wait = wait(self.plans.values().filter_map(|p| p.next), Timestamp::now(), every);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// One tick at `now`: returns how many fires this process queued.
    pub async fn tick(&mut self, now: Timestamp) -> Result<usize, TickError> {
        self.refresh().await?;
        let mut due = Vec::new();
        let mut considered = Vec::new();
        for (id, plan) in self.plans.iter_mut() {
            if plan.next.is_none_or(|next| next > now) {
                continue;
            }
            if let Some(at) = latest_fire(&plan.schedule, plan.after, now) {
                due.push(Fire { app_id: *id, at: at.as_millisecond(), priority: plan.priority, delay: Duration::ZERO });
            }
            considered.push((*id, plan.after, plan.next));
            plan.after = now;
            plan.next = plan.schedule.next_after(now);
        }
        let queued = if due.is_empty() {
            Ok(0)
        } else {
            match self.spread(&mut due).await {
                Ok(()) => self.enqueue(&due).await,
                Err(e) => Err(e.into()),
            }
        };
        let queued = match queued {
            Ok(n) => {
                if n > 0 {
                    crate::jobs::queue::announce();
                }
                n
            }
            Err(e) => {
                // Not queued: the next tick considers these fires again (the fires table keeps
                // any that did commit from running twice).
                for (id, after, next) in considered {
                    if let Some(plan) = self.plans.get_mut(&id) {
                        (plan.after, plan.next) = (after, next);
                    }
                }
                return Err(e);
            }
        };
        if now.as_millisecond() - self.last_sweep >= SWEEP_EVERY_MS {
            self.last_sweep = now.as_millisecond();
            self.sweep().await;
        }
        self.last_tick.store(now_ms(), Ordering::Relaxed);
        Ok(queued)
    }

    /// Brings the plans in line with the registry: reads the enabled apps' `(id, updated_at)`,
    /// drops the plans of apps paused or deleted, and reads in full only new or changed apps.
    async fn refresh(&mut self) -> Result<(), TickError> {
        let current: HashMap<i64, i64> = app::Entity::find()
            .select_only()
            .column(app::Column::Id)
            .column(app::Column::UpdatedAt)
            .filter(app::Column::Enabled.eq(true))
            .into_tuple::<(i64, i64)>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        self.plans.retain(|id, _| current.contains_key(id));
        let changed: Vec<i64> = current
            .iter()
            .filter(|(id, updated_at)| self.plans.get(id).is_none_or(|p| p.updated_at != **updated_at))
            .map(|(id, _)| *id)
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        if self.last_fires.is_none() {
            self.last_fires = Some(self.load_last_fires().await?);
        }
        for ids in changed.chunks(500) {
            let rows = app::Entity::find()
                .filter(app::Column::Id.is_in(ids.iter().copied()))
                .filter(app::Column::Enabled.eq(true))
                .all(&self.db)
                .await?;
            for row in rows {
                self.replan(row);
            }
        }
        Ok(())
    }

    /// Plans an app read anew. Its fire cursor carries over unless its schedule changed: fires
    /// before the change, or already recorded, are not due.
    fn replan(&mut self, row: app::Model) {
        let priority = row.priority.parse::<Priority>().unwrap_or_default().rank();
        if let Some(plan) = self.plans.get_mut(&row.id)
            && plan.schedule.expression() == row.schedule
            && plan.schedule.time_zone() == row.time_zone
        {
            plan.updated_at = row.updated_at;
            plan.priority = priority;
            plan.spread = spread_of(&row);
            return;
        }
        let Ok(schedule) = CronSchedule::parse(&row.schedule, &row.time_zone) else {
            self.plans.remove(&row.id);
            return;
        };
        let recorded = self.last_fires.as_ref().and_then(|f| f.get(&row.id)).copied().unwrap_or(i64::MIN);
        let floor = row.updated_at.max(recorded);
        let after = Timestamp::from_millisecond(floor).unwrap_or_else(|_| Timestamp::now());
        self.plans.insert(row.id, Plan::new(schedule, &row, priority, after));
    }

    async fn sweep(&self) {
        match crate::backup::lifecycle::sweep_interrupted(&self.db, 5 * 60 * 1000).await {
            Ok(n) if n > 0 => tracing::warn!(runs = n, "marked runs of stopped processes as interrupted"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not sweep interrupted runs"),
        }
        let stale = crate::backup::restore::STALE_AFTER;
        match crate::backup::restore::record::sweep_interrupted(&self.db, stale).await {
            Ok(n) if n > 0 => tracing::warn!(restores = n, "marked restores of stopped processes as interrupted"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not sweep interrupted restores"),
        }
    }

    /// Gives each due fire its start delay: the jitter of its app, or of its app's group.
    async fn spread(&self, due: &mut [Fire]) -> Result<(), DbErr> {
        let jittered =
            |f: &Fire| self.plans.get(&f.app_id).is_some_and(|p| p.spread.1.is_some() || p.spread.2.is_some());
        if !due.iter().any(jittered) {
            return Ok(());
        }
        let groups: HashMap<String, app_group::Model> =
            app_group::Entity::find().all(&self.db).await?.into_iter().map(|g| (g.name.clone(), g)).collect();
        for fire in due.iter_mut() {
            let Some(plan) = self.plans.get(&fire.app_id) else { continue };
            let (window, jitter, group) = &plan.spread;
            let spread = Spread::new(*window, *jitter, group.as_ref().and_then(|g| groups.get(g)));
            fire.delay = spread.delay(fire.app_id, fire.at);
        }
        Ok(())
    }

    async fn load_last_fires(&self) -> Result<HashMap<i64, i64>, DbErr> {
        let sql = "SELECT app_id, MAX(fire_at) AS last FROM schedule_fires GROUP BY app_id";
        let rows = self.db.query_all_raw(Statement::from_string(self.db.get_database_backend(), sql)).await?;
        rows.iter().map(|r| Ok((r.try_get_by_index::<i64>(0)?, r.try_get_by_index::<i64>(1)?))).collect()
    }

    /// Inserts the fires, creates their run records and queues their jobs, all in one
    /// transaction; only the fires this process inserted are queued.
    async fn enqueue(&self, due: &[Fire]) -> Result<usize, TickError> {
        use crate::backup::lifecycle::{create_scheduled_pg, create_scheduled_sqlite};
        let mut queued = 0;
        for batch in due.chunks(500) {
            // Each batch is its own commit: its runs say when THEY were queued.
            let now = now_ms();
            let fires: Vec<(i64, i64)> = batch.iter().map(|f| (f.app_id, f.at)).collect();
            queued += match crate::db::pool(&self.db) {
                crate::db::Pool::Postgres(pool) => {
                    let mut tx = pool.begin().await?;
                    let runs = create_scheduled_pg(&mut tx, &fires, now).await?;
                    apalis_postgres::queries::push_tasks(&mut *tx, QUEUE, tasks_for(&runs, batch))
                        .await
                        .map_err(|e| TickError::Queue(e.to_string()))?;
                    tx.commit().await?;
                    runs.len()
                }
                crate::db::Pool::Sqlite(pool) => {
                    let mut tx = pool.begin().await?;
                    let runs = create_scheduled_sqlite(&mut tx, &fires, now).await?;
                    apalis_sqlite::queries::push_tasks(&mut *tx, QUEUE, &tasks_for(&runs, batch))
                        .await
                        .map_err(|e| TickError::Queue(e.to_string()))?;
                    tx.commit().await?;
                    runs.len()
                }
            };
        }
        Ok(queued)
    }
}

fn tasks_for(runs: &[(i64, i64)], fires: &[Fire]) -> Vec<apalis::prelude::Task<Vec<u8>>> {
    let priorities: HashMap<i64, i32> = fires.iter().map(|f| (f.app_id, f.priority)).collect();
    let delays: HashMap<i64, Duration> = fires.iter().map(|f| (f.app_id, f.delay)).collect();
    runs.iter()
        .map(|(run_id, app_id)| {
            let priority = priorities.get(app_id).copied().unwrap_or(Priority::Normal.rank());
            let delay = delays.get(app_id).copied().unwrap_or(Duration::ZERO);
            task(&Job::Backup { run_id: *run_id, app_id: *app_id }, priority, delay)
        })
        .collect()
}

/// The spread settings of an app's row.
fn spread_of(row: &app::Model) -> (Option<i64>, Option<i64>, Option<String>) {
    (row.window_secs, row.jitter_secs, row.group_name.clone())
}

/// How long to sleep after a tick: until the next tick, or just past the earliest fire.
fn wait(fires: impl Iterator<Item = Timestamp>, now: Timestamp, every: Duration) -> Duration {
    fires.min().map_or(every, |at| {
        // A hair past the fire, so the tick that wakes finds it due.
        let until = Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO);
        (until + Duration::from_millis(2)).min(every)
    })
}

/// The latest fire in `(after, now]`, if any. Bounded: a schedule firing every second over a
/// very long downtime is caught up from the last day only.
fn latest_fire(schedule: &CronSchedule, after: Timestamp, now: Timestamp) -> Option<Timestamp> {
    let day = jiff::SignedDuration::from_hours(24);
    let start = if now.duration_since(after) > day { now - day } else { after };
    let mut at = start;
    let mut latest = None;
    for _ in 0..100_000 {
        match schedule.next_after(at) {
            Some(next) if next <= now => {
                latest = Some(next);
                at = next;
            }
            _ => break,
        }
    }
    latest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_loop_wakes_for_the_earliest_fire_or_the_next_tick() {
        let now = ts("2026-11-22T05:00:00.300Z");
        let every = Duration::from_secs(1);
        let fires = [ts("2026-11-22T05:00:01Z"), ts("2026-11-22T05:00:00.500Z")];
        assert_eq!(wait(fires.into_iter(), now, every), Duration::from_millis(202));
        assert_eq!(wait([ts("2026-11-22T06:00:00Z")].into_iter(), now, every), every, "a far fire: tick as usual");
        assert_eq!(wait(std::iter::empty(), now, every), every);
        let overdue = ts("2026-11-22T05:00:00Z");
        assert_eq!(wait([overdue].into_iter(), now, every), Duration::from_millis(2), "an overdue fire: at once");
    }

    #[test]
    fn after_downtime_only_the_latest_missed_fire_is_due() {
        let s = CronSchedule::parse("0 * * * *", "UTC").unwrap();
        assert_eq!(
            latest_fire(&s, ts("2026-11-22T01:30:00Z"), ts("2026-11-22T05:10:00Z")),
            Some(ts("2026-11-22T05:00:00Z"))
        );
        assert_eq!(latest_fire(&s, ts("2026-11-22T05:00:00Z"), ts("2026-11-22T05:10:00Z")), None, "already considered");
        assert_eq!(
            latest_fire(&s, ts("2026-11-22T04:59:59Z"), ts("2026-11-22T05:00:00Z")),
            Some(ts("2026-11-22T05:00:00Z"))
        );
        let every_second = CronSchedule::parse("* * * * * *", "UTC").unwrap();
        assert_eq!(
            latest_fire(&every_second, ts("2020-01-01T00:00:00Z"), ts("2026-11-22T05:00:00Z")),
            Some(ts("2026-11-22T05:00:00Z"))
        );
    }
}
