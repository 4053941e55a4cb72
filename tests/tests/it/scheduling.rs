//! `orchestrator serve`: schedules from the registry, jobs through the queue, every fire once,
//! on one process (SQLite) or several (PostgreSQL), a killed process losing nothing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use e2e::harness::Harness;
use e2e::postgres::TestPostgres;
use e2e::sdk_apps::{self, Behaviour};
use orchestrator::db::entities::backup_run;
use sea_orm::sqlx::Row;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

async fn runs_of(h: &Harness, app: &str) -> Vec<backup_run::Model> {
    let db = h.db().await;
    let app = orchestrator::db::entities::app::Entity::find()
        .filter(orchestrator::db::entities::app::Column::Name.eq(app))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    backup_run::Entity::find().filter(backup_run::Column::AppId.eq(app.id)).all(&db).await.unwrap()
}

/// Waits until `check` holds, or panics after `limit` saying `what`.
pub(crate) async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test]
async fn cron_next_prints_fire_times_in_the_schedules_zone() {
    let h = Harness::sqlite().await;
    let out = h
        .cli(&["cron", "next", "30 2 * * *", "--tz", "Europe/Madrid", "--after", "2026-03-28T12:00:00Z", "-n", "2"])
        .await;
    out.assert_success();
    assert_eq!(out.stdout_text(), "2026-03-29T03:00:00+02:00\n2026-03-30T02:30:00+02:00\n");
    let bad = h.cli(&["cron", "next", "0 3 * * 9"]).await;
    assert!(!bad.status.success() && bad.stderr.contains("day of week"), "{}", bad.stderr);
}

#[tokio::test]
async fn edited_and_paused_schedules_take_effect_while_serving() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(Behaviour::Good { size: 100_000, delay: Duration::ZERO }, 21).await;
    h.add_app("yearly", &app.url, &h.folder("yearly"), &["--keep-last", "1000"]).await;
    h.cli(&["apps", "edit", "yearly", "--schedule", "0 0 1 1 *"]).await.assert_success();
    h.add_app("paused", &app.url, &h.folder("paused"), &["--paused", "--keep-last", "1000"]).await;
    h.cli(&["apps", "edit", "paused", "--schedule", "*/2 * * * * *"]).await.assert_success();
    let mut served = h.serve(&[]).await;

    let ready = reqwest::get(format!("{}/readyz", served.url)).await.unwrap();
    assert!(ready.status().is_success() || ready.status().as_u16() == 503);
    eventually(Duration::from_secs(10), "the scheduler reports ready", || async {
        reqwest::get(format!("{}/readyz", served.url)).await.is_ok_and(|r| r.status().is_success())
    })
    .await;
    assert_eq!(reqwest::get(format!("{}/healthz", served.url)).await.unwrap().text().await.unwrap(), "ok");

    h.cli(&["apps", "edit", "yearly", "--schedule", "*/2 * * * * *"]).await.assert_success();
    eventually(Duration::from_secs(20), "the edited schedule runs", || async {
        runs_of(&h, "yearly").await.iter().any(|r| r.trigger.as_str() == "schedule" && r.status.as_str() == "succeeded")
    })
    .await;
    assert!(runs_of(&h, "paused").await.is_empty(), "a paused app does not run");

    h.cli(&["apps", "edit", "paused", "--resume"]).await.assert_success();
    eventually(Duration::from_secs(20), "the resumed app runs", || async {
        runs_of(&h, "paused").await.iter().any(|r| r.status.as_str() == "succeeded")
    })
    .await;

    h.cli(&["apps", "edit", "yearly", "--paused"]).await.assert_success();
    let paused_at = jiff::Timestamp::now().as_millisecond() + 500;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let late: Vec<_> =
        runs_of(&h, "yearly").await.into_iter().filter(|r| r.scheduled_for.unwrap_or(0) > paused_at).collect();
    assert!(late.is_empty(), "no fire after pausing: {late:?}");
    assert!(served.terminate().await.success(), "SIGTERM stops serve cleanly");
}

#[tokio::test]
async fn every_fire_runs_once_across_processes_and_a_killed_process_loses_nothing() {
    let Some(pg) = TestPostgres::from_env("every_fire_runs_once_across_processes_and_a_killed_process_loses_nothing")
    else {
        return;
    };
    let database = pg.create_database("orch_sched");
    let h = Harness::postgres(pg.url_for(&database)).await;
    // Each export takes about a second, so a kill lands mid-run; one app process per app, as
    // each allows one export at a time.
    const APPS: usize = 30;
    let mut apps = Vec::new();
    for i in 0..APPS {
        let app =
            sdk_apps::spawn(Behaviour::Good { size: 1024 * 1024, delay: Duration::from_millis(60) }, 22 + i as u64)
                .await;
        let name = format!("app-{i:02}");
        h.add_app(&name, &app.url, &h.folder(&name), &["--keep-last", "1000", "--schedule", "*/10 * * * * *"]).await;
        apps.push(app);
    }
    let extra = [("MAX_CONCURRENT_BACKUPS", "6")];
    let mut first = h.serve(&extra).await;
    let second = h.serve(&extra).await;
    let started = Instant::now();
    let db = h.db().await;
    let pool = db.get_postgres_connection_pool().clone();

    // Both processes take work...
    let pids = [first.pid.to_string(), second.pid.to_string()];
    eventually(Duration::from_secs(40), "both processes completed backups", || async {
        let done =
            backup_run::Entity::find().filter(backup_run::Column::Status.eq("succeeded")).all(&db).await.unwrap();
        pids.iter().all(|p| done.iter().any(|r| r.runner.as_deref().is_some_and(|w| w.ends_with(&format!(":{p}")))))
    })
    .await;
    // ...then the first is killed while it runs something: a run that began moments ago, so it
    // is still far from its end when the kill lands, however loaded the machine.
    let first_holder = format!(":{}", first.pid);
    let runs_of_first = || async {
        backup_run::Entity::find()
            .filter(backup_run::Column::Status.eq("running"))
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.runner.as_deref().is_some_and(|w| w.ends_with(&first_holder)))
            .collect::<Vec<_>>()
    };
    eventually(Duration::from_secs(30), "the first process begins a backup", || async {
        let now = jiff::Timestamp::now().as_millisecond();
        runs_of_first().await.iter().any(|r| r.started_at.is_some_and(|s| now - s < 400))
    })
    .await;
    let killed_at = jiff::Timestamp::now().as_millisecond();
    first.kill().await;
    assert!(!runs_of_first().await.is_empty(), "the kill landed while the first process was running a backup");
    // The survivor carries on alone for the rest of the minute.
    // (a killed run is retried once its lease lapses: up to LEASE_TTL after the kill)
    tokio::time::sleep(Duration::from_secs(60).saturating_sub(started.elapsed()).max(Duration::from_secs(45))).await;
    let mut second = second;
    assert!(second.terminate().await.success());

    // Every fire has exactly one run record, and every run finished.
    let fires: Vec<(i64, i64)> = sea_orm::sqlx::query("SELECT app_id, fire_at FROM schedule_fires")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let runs = backup_run::Entity::find().all(&db).await.unwrap();
    assert!(fires.len() >= APPS * 5, "a minute of fires every 10 s: {}", fires.len());
    let mut per_fire: HashMap<(i64, i64), usize> = HashMap::new();
    for r in &runs {
        *per_fire.entry((r.app_id, r.scheduled_for.expect("scheduled runs only"))).or_default() += 1;
    }
    for fire in &fires {
        assert_eq!(per_fire.get(fire), Some(&1), "fire {fire:?} has exactly one run record");
    }
    assert_eq!(per_fire.len(), fires.len(), "no run without a fire");
    let statuses: HashMap<&str, usize> = runs.iter().fold(HashMap::new(), |mut m, r| {
        *m.entry(r.status.as_str()).or_default() += 1;
        m
    });
    // Fires after the second process stopped stay queued; everything else ended.
    let stuck: Vec<_> = runs.iter().filter(|r| r.status.as_str() == "running").collect();
    assert!(stuck.is_empty(), "no run stays running: {stuck:?} ({statuses:?})");

    // The run interrupted by the kill was retried to success, and says so.
    let interrupted: Vec<_> =
        runs.iter().filter(|r| r.error.as_deref().is_some_and(|e| e.contains("interrupted"))).collect();
    assert!(!interrupted.is_empty(), "the killed run is recorded as interrupted");
    for r in &interrupted {
        assert_eq!(r.status.as_str(), "succeeded", "{r:?}");
        assert!(r.attempts >= 2, "{r:?}");
        assert!(r.started_at.unwrap_or(0) > killed_at, "retried after the kill: {r:?}");
    }

    // No partial file: every file in Drive holds a complete export, and every succeeded run's
    // file is there. (A process killed after finishing an upload but before recording it leaves
    // a complete copy that its retry does not reference.)
    let mut stored = std::collections::HashSet::new();
    for i in 0..APPS {
        let name = format!("app-{i:02}");
        let expected = e2e::sdk_apps::expected_sha256(1024 * 1024, 22 + i as u64);
        let folder = h.double.files_in(&h.drive).into_iter().find(|f| f.name == name).expect("folder").id;
        for file in h.double.files_in(&folder) {
            assert_eq!((file.size, &file.sha256), (1024 * 1024, &expected), "{} is a complete export", file.name);
            stored.insert(file.id);
        }
    }
    for r in runs.iter().filter(|r| r.status.as_str() == "succeeded") {
        assert!(stored.contains(r.file_id.as_ref().unwrap()), "the copy of succeeded run {} is in Drive", r.id);
    }
    drop(h);
    pg.drop_database(&database);
}

#[tokio::test]
async fn a_run_left_running_by_a_dead_process_is_marked_interrupted() {
    use orchestrator::backup::lifecycle::{self as record, Status, Trigger};
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(Behaviour::Good { size: 10, delay: Duration::ZERO }, 30).await;
    h.add_app("ghost", &app.url, &h.folder("ghost"), &[]).await;
    let db = orchestrator::db::connect(&h.database_url).await.unwrap();
    let app_id = runs_of(&h, "ghost").await.len() as i64 + 1;
    let run = record::create(&db, app_id, Trigger::Manual).await.unwrap();
    let mut row: backup_run::ActiveModel = run.clone().into();
    row.status = Set(Status::Running);
    row.updated_at = Set(run.updated_at - 10 * 60 * 1000);
    row.update(&db).await.unwrap();
    let fresh = record::create(&db, app_id, Trigger::Manual).await.unwrap();
    let mut row: backup_run::ActiveModel = fresh.clone().into();
    row.status = Set(Status::Running);
    row.update(&db).await.unwrap();

    assert_eq!(record::sweep_interrupted(&db, 5 * 60 * 1000).await.unwrap(), 1);
    let swept = record::get(&db, run.id).await.unwrap().unwrap();
    assert_eq!(swept.status.as_str(), "interrupted");
    assert!(swept.error.unwrap().contains("interrupted"));
    assert_eq!(
        record::get(&db, fresh.id).await.unwrap().unwrap().status.as_str(),
        "running",
        "a run with recent progress is left alone"
    );
}

#[tokio::test]
async fn shutdown_stops_a_long_backup_cleanly_and_the_next_process_finishes_it() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(Behaviour::Good { size: 4 * 1024 * 1024, delay: Duration::from_millis(80) }, 31).await;
    let folder = h.folder("long");
    h.add_app("long", &app.url, &folder, &[]).await;
    let mut served = h.serve(&[("SHUTDOWN_GRACE", "1")]).await;
    let queued = h.cli(&["run", "long", "--queued"]).await;
    queued.assert_success();
    assert!(queued.stdout_text().starts_with("queued run 1 of long"), "{}", queued.stdout_text());
    eventually(Duration::from_secs(20), "the manual run is running", || async {
        runs_of(&h, "long").await.iter().any(|r| r.status.as_str() == "running" && r.bytes > 0)
    })
    .await;
    assert!(served.terminate().await.success(), "SIGTERM stops serve cleanly");
    let run = runs_of(&h, "long").await.remove(0);
    assert_eq!(run.status.as_str(), "queued", "{run:?}");
    assert!(run.error.as_deref().unwrap_or_default().contains("shutting down"), "{run:?}");
    assert!(h.double.files_in(&folder).is_empty(), "no partial file");
    assert_eq!(h.double.open_sessions(), 0, "the upload session was cancelled");

    let mut again = h.serve(&[("RETRY_DELAY_SECS", "0")]).await;
    eventually(Duration::from_secs(60), "the next process finishes the run", || async {
        runs_of(&h, "long").await.iter().any(|r| r.status.as_str() == "succeeded")
    })
    .await;
    assert_eq!(h.double.files_in(&folder).len(), 1);
    again.terminate().await;
}

#[tokio::test]
async fn queued_jobs_are_taken_by_app_priority() {
    let h = Harness::sqlite().await;
    let slow = sdk_apps::spawn(Behaviour::Good { size: 2 * 1024 * 1024, delay: Duration::from_millis(60) }, 32).await;
    let quick = sdk_apps::spawn(Behaviour::Good { size: 1000, delay: Duration::ZERO }, 33).await;
    let quick2 = sdk_apps::spawn(Behaviour::Good { size: 1000, delay: Duration::ZERO }, 34).await;
    h.add_app("busy", &slow.url, &h.folder("busy"), &[]).await;
    h.add_app("later", &quick.url, &h.folder("later"), &["--priority", "low"]).await;
    h.add_app("urgent", &quick2.url, &h.folder("urgent"), &["--priority", "high"]).await;
    let mut served = h.serve(&[("MAX_CONCURRENT_BACKUPS", "1")]).await;
    h.cli(&["run", "busy", "--queued"]).await.assert_success();
    eventually(Duration::from_secs(20), "the only slot is busy", || async {
        runs_of(&h, "busy").await.iter().any(|r| r.status.as_str() == "running")
    })
    .await;
    // Queued while the slot is taken: low first, then high.
    h.cli(&["run", "later", "--queued"]).await.assert_success();
    h.cli(&["run", "urgent", "--queued"]).await.assert_success();
    eventually(Duration::from_secs(60), "all three ran", || async {
        let mut done = 0;
        for app in ["busy", "later", "urgent"] {
            done += runs_of(&h, app).await.iter().filter(|r| r.status.as_str() == "succeeded").count();
        }
        done == 3
    })
    .await;
    let started = |runs: Vec<backup_run::Model>| runs[0].started_at.unwrap();
    let (later, urgent) = (started(runs_of(&h, "later").await), started(runs_of(&h, "urgent").await));
    assert!(urgent < later, "the high-priority job ran first ({urgent} vs {later})");
    served.terminate().await;
}
