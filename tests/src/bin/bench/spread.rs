//! `spread`: the night spread. 200 apps (SDK apps of about a second each) all due at the same
//! second, in groups of 20 with a limit of 2 backups at once per group (a database host each),
//! half the groups with a window of 25 s and a jitter of 2 s, the other half with a window of
//! 8 s — too short for 20 one-second backups two at a time, so some runs must be skipped. One
//! `serve` with `MAX_CONCURRENT_BACKUPS=20`. Reports how many apps started within their window,
//! how many were skipped with the window as reason, apps that ran twice or not at all, the most
//! runs of one group seen at once (from the runs' start and end), how late starts were after the
//! fire, and the latest start past a window's end.

use std::collections::HashMap;
use std::time::Duration;

use e2e::harness::Harness;
use e2e::sdk_apps::{self, Behaviour};
use orchestrator::db::entities::{app, backup_run};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::args::Args;
use crate::measure::{SERVE_DEFAULTS, emit, ms, percentile, table};
use crate::seed;

const PER_GROUP: usize = 20;
const LIMIT: usize = 2;

/// Group `g`'s window and jitter, in seconds.
fn spread_of(g: usize, smoke: bool) -> (u64, Option<u64>) {
    match (g % 2, smoke) {
        (0, false) => (25, Some(2)),
        (_, false) => (8, None),
        (0, true) => (6, Some(1)),
        (_, true) => (2, None),
    }
}

/// The most intervals open at one instant (an end before a start at the same instant).
fn most_at_once(runs: &[&backup_run::Model]) -> usize {
    let mut edges: Vec<(i64, i32)> = Vec::new();
    for r in runs {
        if let (Some(s), Some(f)) = (r.started_at, r.finished_at) {
            edges.push((s, 1));
            edges.push((f, -1));
        }
    }
    edges.sort();
    let (mut now, mut most) = (0, 0);
    for (_, step) in edges {
        now += step;
        most = most.max(now);
    }
    most as usize
}

pub(crate) async fn run(args: &Args) {
    let apps = args.apps(200, 20);
    let per_group = if args.smoke { PER_GROUP / 2 } else { PER_GROUP };
    let groups = apps.div_ceil(per_group);
    // About a second each (a third of one in the smoke run): 64 KiB pieces, 100 ms apart.
    let pieces = if args.smoke { 3 } else { 10 };
    let behaviour = Behaviour::Good { size: pieces * 64 * 1024, delay: Duration::from_millis(100) };
    let h = Harness::sqlite().await;
    let mut servers = Vec::new();
    for i in 0..apps {
        servers.push(sdk_apps::spawn(behaviour, 400 + i as u64).await);
    }
    let folder = h.folder("spread");
    h.add_app("app-00000", &servers[0].url, &folder, &["--keep-last", "1000"]).await;
    let db = h.db().await;
    seed::apps(&db, apps - 1).await;
    let rows = app::Entity::find().all(&db).await.expect("apps");
    let mut group_of: HashMap<i64, usize> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let g = i / per_group;
        group_of.insert(row.id, g);
        let sql = format!(
            "UPDATE apps SET url = '{}', group_name = 'db-{g:02}', uid = '{:016x}' WHERE id = {}",
            servers[i].url, row.id, row.id
        );
        db.execute_unprepared(&sql).await.expect("spread the apps");
    }
    for g in 0..groups {
        let (window, jitter) = spread_of(g, args.smoke);
        let name = format!("db-{g:02}");
        let (window, jitter) = (format!("{window}s"), jitter.map_or("off".into(), |j| format!("{j}s")));
        let limit = LIMIT.to_string();
        let set = ["groups", "set", &name, "--max-concurrent", &limit, "--window", &window, "--jitter", &jitter];
        h.cli(&set).await.assert_success();
    }
    let lead = Duration::from_secs(if args.smoke { 4 } else { 8 });
    let fire = jiff::Timestamp::now().checked_add(lead).expect("time").round(jiff::Unit::Second).expect("round");
    let at = fire.to_zoned(jiff::tz::TimeZone::UTC);
    seed::schedule_all(&db, &format!("{} {} {} * * *", at.second(), at.minute(), at.hour())).await;
    let concurrency = (groups * LIMIT).to_string();
    let mut extra = SERVE_DEFAULTS.to_vec();
    extra.push(("MAX_CONCURRENT_BACKUPS", &concurrency));
    let mut served = h.serve(&extra).await;
    let fire_ms = fire.as_millisecond();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    let runs = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let runs = backup_run::Entity::find()
            .filter(backup_run::Column::ScheduledFor.eq(fire_ms))
            .all(&db)
            .await
            .expect("runs");
        let ended = runs.iter().filter(|r| !r.status.is_active()).count();
        if (runs.len() >= apps && ended == runs.len()) || tokio::time::Instant::now() > deadline {
            break runs;
        }
    };
    served.terminate().await;

    let mut per_app: HashMap<i64, usize> = HashMap::new();
    for r in &runs {
        *per_app.entry(r.app_id).or_default() += 1;
    }
    let twice = per_app.values().filter(|n| **n > 1).count();
    let missing = apps - per_app.len();
    let started: Vec<&backup_run::Model> = runs.iter().filter(|r| r.first_started_at.is_some()).collect();
    let succeeded = runs.iter().filter(|r| r.status.as_str() == "succeeded").count();
    let skipped = runs
        .iter()
        .filter(|r| r.status.as_str() == "skipped" && r.error.as_deref().unwrap_or("").contains("backup window"))
        .count();
    let other = runs.len() - started.len() - skipped;
    let mut lateness: Vec<Duration> =
        started.iter().map(|r| Duration::from_millis((r.first_started_at.unwrap() - fire_ms).max(0) as u64)).collect();
    lateness.sort();
    // How far past its window's end the latest start went (negative: all inside).
    let past_window_ms = started
        .iter()
        .map(|r| {
            let (window, _) = spread_of(group_of[&r.app_id], args.smoke);
            r.first_started_at.unwrap() - (fire_ms + window as i64 * 1000)
        })
        .max()
        .unwrap_or(i64::MIN);
    let most = (0..groups)
        .map(|g| {
            let of_group: Vec<&backup_run::Model> = runs.iter().filter(|r| group_of[&r.app_id] == g).collect();
            most_at_once(&of_group)
        })
        .max()
        .unwrap_or(0);
    let last_end = runs.iter().filter_map(|r| r.finished_at).max().unwrap_or(fire_ms);
    let wall = Duration::from_millis((last_end - fire_ms).max(0) as u64);
    let (p50, p95) = (percentile(&lateness, 0.5), percentile(&lateness, 0.95));
    emit(serde_json::json!({
        "scenario": "spread", "apps": apps, "groups": groups, "group_limit": LIMIT,
        "runs": runs.len(), "started": started.len(), "succeeded": succeeded, "skipped_window": skipped,
        "other": other, "apps_twice": twice, "apps_without_run": missing, "most_at_once_in_a_group": most,
        "start_after_fire_p50_ms": ms(p50), "start_after_fire_p95_ms": ms(p95),
        "latest_start_past_window_ms": past_window_ms, "fire_to_last_end_s": wall.as_secs_f64(),
    }));
    table(
        &format!(
            "spread: {apps} apps due at one second, {groups} groups of {per_group}, {LIMIT} at once per group, \
             windows {}s/{}s",
            spread_of(0, args.smoke).0,
            spread_of(1, args.smoke).0
        ),
        &[
            "started",
            "skipped (window)",
            "other",
            "twice",
            "no run",
            "most at once",
            "start p50 ms",
            "p95 ms",
            "past window ms",
            "wall s",
        ],
        &[vec![
            format!("{}/{apps}", started.len()),
            skipped.to_string(),
            other.to_string(),
            twice.to_string(),
            missing.to_string(),
            format!("{most}/{LIMIT}"),
            format!("{:.0}", ms(p50)),
            format!("{:.0}", ms(p95)),
            past_window_ms.to_string(),
            format!("{:.1}", wall.as_secs_f64()),
        ]],
    );
}
