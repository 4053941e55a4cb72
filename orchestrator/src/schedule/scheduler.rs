//! The scheduler loop. Every process runs it: each tick computes, per enabled app, the latest
//! fire time that has passed, and in ONE transaction inserts the due `(app, fire time)` rows into
//! `schedule_fires` (primary key = exactly once across processes), creates a run record for each
//! row it actually inserted, and queues its job. After downtime only the latest missed fire of
//! an app runs, once. Schedules are re-read from the registry every tick, so adding, editing,
//! pausing or deleting an app takes effect without a restart.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use sea_orm::sqlx::{self, QueryBuilder, Row};
use sea_orm::{DatabaseConnection, EntityTrait};

use crate::db::entities::app;
use crate::db::now_ms;
use crate::registry::input::Priority;
use crate::schedule::cron::CronSchedule;
use crate::schedule::queue::{BackupJob, QUEUE, task};

/// A due fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fire {
    app_id: i64,
    at: i64,
    priority: i32,
}

struct Cursor {
    schedule: CronSchedule,
    /// Fires at or before this instant were considered already.
    after: Timestamp,
}

/// The scheduler of one process.
pub struct Scheduler {
    db: DatabaseConnection,
    cursors: HashMap<i64, Cursor>,
    last_fires: Option<HashMap<i64, i64>>,
    /// When the last tick completed (ms), for `/readyz`.
    pub last_tick: Arc<AtomicI64>,
}

impl Scheduler {
    /// A scheduler over `db`.
    pub fn new(db: DatabaseConnection) -> Self {
        Scheduler { db, cursors: HashMap::new(), last_fires: None, last_tick: Arc::new(AtomicI64::new(0)) }
    }

    /// Ticks every `every` until `stop` turns true.
    pub async fn run(mut self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            match self.tick(Timestamp::now()).await {
                Ok(n) if n > 0 => tracing::info!(queued = n, "scheduled backups queued"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "scheduler tick failed; trying again next tick"),
            }
        }
    }

    /// One tick at `now`: returns how many fires this process queued.
    pub async fn tick(&mut self, now: Timestamp) -> Result<usize, String> {
        let apps = app::Entity::find().all(&self.db).await.map_err(|e| e.to_string())?;
        if self.last_fires.is_none() {
            self.last_fires = Some(self.load_last_fires().await?);
        }
        let last_fires = self.last_fires.as_ref().expect("loaded");
        let mut due = Vec::new();
        self.cursors.retain(|id, _| apps.iter().any(|a| a.id == *id && a.enabled));
        for app in apps.iter().filter(|a| a.enabled) {
            let changed = self
                .cursors
                .get(&app.id)
                .is_none_or(|c| c.schedule.expression() != app.schedule || c.schedule.time_zone() != app.time_zone);
            if changed {
                let Ok(schedule) = CronSchedule::parse(&app.schedule, &app.time_zone) else { continue };
                // Fires before the app was last changed, or already recorded, are not due.
                let floor = app.updated_at.max(last_fires.get(&app.id).copied().unwrap_or(i64::MIN));
                let after = Timestamp::from_millisecond(floor).unwrap_or(now);
                self.cursors.insert(app.id, Cursor { schedule, after });
            }
            let cursor = self.cursors.get_mut(&app.id).expect("inserted");
            if let Some(at) = latest_fire(&cursor.schedule, cursor.after, now) {
                let priority = app.priority.parse::<Priority>().unwrap_or_default().rank();
                due.push(Fire { app_id: app.id, at: at.as_millisecond(), priority });
            }
            cursor.after = cursor.after.max(now);
        }
        let queued = if due.is_empty() { 0 } else { self.enqueue(&due).await? };
        if now.as_second() % 30 == 0 {
            match crate::backup::record::sweep_interrupted(&self.db, 5 * 60 * 1000).await {
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
        self.last_tick.store(now_ms(), Ordering::Relaxed);
        Ok(queued)
    }

    async fn load_last_fires(&self) -> Result<HashMap<i64, i64>, String> {
        let sql = "SELECT app_id, MAX(fire_at) AS last FROM schedule_fires GROUP BY app_id";
        let rows: Vec<(i64, i64)> = if crate::db::is_postgres(&self.db) {
            let pool = self.db.get_postgres_connection_pool();
            sqlx::query(sql)
                .fetch_all(pool)
                .await
                .map_err(|e| e.to_string())?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect()
        } else {
            let pool = self.db.get_sqlite_connection_pool();
            sqlx::query(sql)
                .fetch_all(pool)
                .await
                .map_err(|e| e.to_string())?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect()
        };
        Ok(rows.into_iter().collect())
    }

    /// Inserts the fires, creates their run records and queues their jobs, all in one
    /// transaction; only the fires this process inserted are queued.
    async fn enqueue(&self, due: &[Fire]) -> Result<usize, String> {
        let mut queued = 0;
        for batch in due.chunks(500) {
            // Each batch is its own commit: its runs say when THEY were queued.
            let now = now_ms();
            queued += if crate::db::is_postgres(&self.db) {
                let mut tx = self.db.get_postgres_connection_pool().begin().await.map_err(|e| e.to_string())?;
                let runs = insert_fires_and_runs_pg(&mut tx, batch, now).await?;
                apalis_postgres::queries::push_tasks(&mut *tx, QUEUE, tasks_for(&runs, batch))
                    .await
                    .map_err(|e| e.to_string())?;
                tx.commit().await.map_err(|e| e.to_string())?;
                runs.len()
            } else {
                let mut tx = self.db.get_sqlite_connection_pool().begin().await.map_err(|e| e.to_string())?;
                let runs = insert_fires_and_runs_sqlite(&mut tx, batch, now).await?;
                apalis_sqlite::queries::push_tasks(&mut *tx, QUEUE, &tasks_for(&runs, batch))
                    .await
                    .map_err(|e| e.to_string())?;
                tx.commit().await.map_err(|e| e.to_string())?;
                runs.len()
            };
        }
        Ok(queued)
    }
}

/// Defines `$name`, which inserts the due fires in the transaction and, for each fire this
/// process inserted first, a queued run record; it returns `(run id, app id)` of each. The same
/// SQL for both databases, typed per driver.
macro_rules! insert_fires_and_runs {
    ($name:ident, $db:ty) => {
        async fn $name(tx: &mut sqlx::Transaction<'_, $db>, due: &[Fire], now: i64) -> Result<Vec<(i64, i64)>, String> {
            let mut q = QueryBuilder::<$db>::new("INSERT INTO schedule_fires (app_id, fire_at, created_at) ");
            q.push_values(due, |mut b, f| {
                b.push_bind(f.app_id).push_bind(f.at).push_bind(now);
            });
            q.push(" ON CONFLICT DO NOTHING RETURNING app_id, fire_at");
            let won: Vec<(i64, i64)> = q
                .build()
                .fetch_all(&mut **tx)
                .await
                .map_err(|e| e.to_string())?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            if won.is_empty() {
                return Ok(Vec::new());
            }
            let mut q = QueryBuilder::<$db>::new(
                "INSERT INTO backup_runs (app_id, trigger, scheduled_for, queued_at, status, bytes, attempts, updated_at) ",
            );
            q.push_values(&won, |mut b, (app, at)| {
                b.push_bind(*app)
                    .push_bind("schedule")
                    .push_bind(*at)
                    .push_bind(now)
                    .push_bind("queued")
                    .push_bind(0i64)
                    .push_bind(0i32)
                    .push_bind(now);
            });
            q.push(" RETURNING id, app_id");
            let rows = q.build().fetch_all(&mut **tx).await.map_err(|e| e.to_string())?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        }
    };
}

insert_fires_and_runs!(insert_fires_and_runs_pg, sqlx::Postgres);
insert_fires_and_runs!(insert_fires_and_runs_sqlite, sqlx::Sqlite);

fn tasks_for(runs: &[(i64, i64)], fires: &[Fire]) -> Vec<apalis::prelude::Task<Vec<u8>>> {
    runs.iter()
        .map(|(run_id, app_id)| {
            let priority = fires.iter().find(|f| f.app_id == *app_id).map_or(Priority::Normal.rank(), |f| f.priority);
            task(&BackupJob { run_id: *run_id, app_id: *app_id }, priority, Duration::ZERO)
        })
        .collect()
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
