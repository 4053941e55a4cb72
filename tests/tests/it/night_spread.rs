//! The night spread: a group's limit of backups at once holds across processes, a scheduled run
//! that cannot start within its window is skipped with that reason (and never runs twice), and
//! the settings are validated the same way through the CLI and the API.

use std::time::Duration;

use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::postgres::TestPostgres;
use e2e::sdk_apps::{self, Behaviour, SdkApp};
use e2e::web::{self, sign_in};
use orchestrator::db::entities::{app, backup_run};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::scheduling::eventually;

/// An export of about a second: ten 64 KiB pieces, 100 ms apart.
fn second_long() -> Behaviour {
    Behaviour::Good { size: 640 * 1024, delay: Duration::from_millis(100) }
}

/// A cron expression (with seconds, UTC) that fires once, `lead` from now, and that instant.
fn fire_in(lead: Duration) -> (String, i64) {
    let at = jiff::Timestamp::now().checked_add(lead).unwrap().round(jiff::Unit::Second).unwrap();
    let z = at.to_zoned(jiff::tz::TimeZone::UTC);
    (format!("{} {} {} * * *", z.second(), z.minute(), z.hour()), at.as_millisecond())
}

/// Registers `n` apps named `{prefix}-NN` in `group`, each with an app process of its own.
async fn register(h: &Harness, prefix: &str, group: &str, n: usize, seed: u64) -> Vec<SdkApp> {
    let mut apps = Vec::new();
    for i in 0..n {
        let app = sdk_apps::spawn(second_long(), seed + i as u64).await;
        let name = format!("{prefix}-{i:02}");
        h.add_app(&name, &app.url, &h.folder(&name), &["--group", group, "--schedule", "0 0 1 1 *"]).await;
        apps.push(app);
    }
    apps
}

/// The runs of the apps of `group` for the fire at `fire`, once every one of them ended.
async fn settled_runs(db: &DatabaseConnection, group: &str, fire: i64, apps: usize) -> Vec<backup_run::Model> {
    let ids: Vec<i64> = app::Entity::find()
        .filter(app::Column::GroupName.eq(group))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    let runs = || async {
        backup_run::Entity::find()
            .filter(backup_run::Column::AppId.is_in(ids.clone()))
            .filter(backup_run::Column::ScheduledFor.eq(fire))
            .all(db)
            .await
            .unwrap()
    };
    eventually(Duration::from_secs(90), "every run of the fire ended", || async {
        let runs = runs().await;
        runs.len() >= apps && runs.iter().all(|r| !r.status.is_active())
    })
    .await;
    runs().await
}

/// The most runs of `runs` that were running at one instant (from their start and end).
fn most_at_once(runs: &[backup_run::Model]) -> usize {
    let mut edges: Vec<(i64, i32)> = Vec::new();
    for r in runs.iter().filter(|r| r.started_at.is_some()) {
        edges.push((r.started_at.unwrap(), 1));
        edges.push((r.finished_at.expect("an ended run has an end"), -1));
    }
    // At one instant, an end comes before a start: the slot was given back first.
    edges.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, step) in edges {
        now += step;
        most = most.max(now);
    }
    most as usize
}

#[tokio::test]
async fn a_groups_limit_holds_across_processes_and_late_runs_are_skipped_within_their_window() {
    let Some(pg) = TestPostgres::from_env("a_groups_limit_holds_across_processes_and_late_runs_are_skipped") else {
        return;
    };
    let database = pg.create_database("orch_spread");
    let h = Harness::postgres(pg.url_for(&database)).await;
    // db-1: 8 apps of about a second each, 2 at once, within 3 s: some cannot start in time.
    // db-2: 4 apps, no limit and no window: all run, side by side.
    let _db1 = register(&h, "erp", "db-1", 8, 300).await;
    let _db2 = register(&h, "crm", "db-2", 4, 320).await;
    h.cli(&["groups", "set", "db-1", "--max-concurrent", "2", "--window", "3s"]).await.assert_success();
    let listed = h.cli(&["groups", "list"]).await;
    assert!(listed.stdout_text().contains("db-1\t8\t2\t3s\t-"), "{}", listed.stdout_text());
    assert!(listed.stdout_text().contains("db-2\t4\t-\t-\t-"), "{}", listed.stdout_text());

    // Two workers each: neither process can take the whole fire alone.
    let extra = [("MAX_CONCURRENT_BACKUPS", "2")];
    let mut first = h.serve(&extra).await;
    let mut second = h.serve(&extra).await;
    // Every app due at the same second, as if just edited (one statement: editing twelve apps
    // one by one could outlast the lead).
    let (cron, fire) = fire_in(Duration::from_secs(5));
    let db = h.db().await;
    let now = orchestrator::db::now_ms();
    let sql = format!("UPDATE apps SET schedule = '{cron}', time_zone = 'UTC', updated_at = {now}");
    sea_orm::ConnectionTrait::execute_unprepared(&db, &sql).await.unwrap();
    let limited = settled_runs(&db, "db-1", fire, 8).await;
    let free = settled_runs(&db, "db-2", fire, 4).await;
    assert!(first.terminate().await.success() && second.terminate().await.success());

    // Every app ran once for the fire, or was skipped once: none twice.
    assert_eq!(limited.len(), 8, "{limited:?}");
    assert_eq!(free.len(), 4, "{free:?}");
    assert!(most_at_once(&limited) <= 2, "the group's limit held: {limited:#?}");
    let started: Vec<_> = limited.iter().filter(|r| r.status.as_str() == "succeeded").collect();
    let skipped: Vec<_> = limited.iter().filter(|r| r.status.as_str() == "skipped").collect();
    assert_eq!(started.len() + skipped.len(), 8, "each run either made a copy or was skipped: {limited:#?}");
    assert!(started.len() >= 2, "the first two start at once: {limited:#?}");
    assert!(!skipped.is_empty(), "8 runs of a second, 2 at once, cannot all start within 3 s: {limited:#?}");
    for r in &skipped {
        assert!(r.started_at.is_none() && r.first_started_at.is_none(), "a skipped run never started: {r:?}");
        let reason = r.error.as_deref().unwrap_or_default();
        assert!(reason.contains("did not start within its backup window (3s after"), "{reason}");
    }
    for r in &started {
        assert!(r.first_started_at.unwrap() >= fire, "{r:?}");
    }
    // Both processes took the group's runs: the limit is the group's, not a process's.
    let runners: std::collections::HashSet<_> =
        started.iter().copied().chain(free.iter()).filter_map(|r| r.runner.as_deref()).collect();
    assert!(runners.len() >= 2, "both processes ran backups: {runners:?}");
    assert!(free.iter().all(|r| r.status.as_str() == "succeeded"), "{free:#?}");
    assert!(most_at_once(&free) >= 2, "a group without a limit runs side by side: {free:#?}");
    drop(db);
    drop(h);
    pg.drop_database(&database);
}

#[tokio::test]
async fn windows_jitter_and_limits_are_validated_and_shown_everywhere() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(second_long(), 340).await;
    let bad = h
        .cli(&["apps", "add", "erp", "--url", &app.url, "--folder", "erp", "--window", "soon", "--jitter", "25h"])
        .await;
    assert!(!bad.status.success());
    assert!(
        bad.stderr.contains("window") && bad.stderr.contains("write it like 2h, 90m, 1h30m or 45s"),
        "{}",
        bad.stderr
    );
    assert!(bad.stderr.contains("jitter") && bad.stderr.contains("at most 12h"), "{}", bad.stderr);
    h.add_app("erp", &app.url, &h.folder("erp"), &["--window", "90m", "--jitter", "10m", "--group", "db-1"]).await;
    let shown = h.cli(&["apps", "show", "erp"]).await.stdout_text();
    assert!(shown.contains("window: 1h30m") && shown.contains("jitter: 10m"), "{shown}");
    let longer = h.cli(&["apps", "edit", "erp", "--jitter", "2h"]).await;
    assert!(!longer.status.success() && longer.stderr.contains("longer than the window (1h30m)"), "{}", longer.stderr);
    let refused = h.cli(&["groups", "set", "db-1", "--max-concurrent", "0"]).await;
    assert!(!refused.status.success() && refused.stderr.contains("--max-concurrent"), "{}", refused.stderr);
    let nothing = h.cli(&["groups", "set", "db-1"]).await;
    assert!(!nothing.status.success() && nothing.stderr.contains("give what to set"), "{}", nothing.stderr);
    assert!(h.cli(&["groups", "list"]).await.stdout_text().contains("db-1\t1\t-\t-\t-"), "nothing was stored");

    // The fleet file carries an app's window and jitter.
    let exported = h.cli(&["apps", "export"]).await.stdout_text();
    assert!(exported.contains("window: 1h30m") && exported.contains("jitter: 10m"), "{exported}");

    // The API: groups listed and set, errors per field, apps with their window.
    let served = h.serve(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("spread").await;
    let http = web::client();
    let put =
        |body: Value| http.put(format!("{}/api/v1/groups/db-1", served.url)).bearer_auth(&token).json(&body).send();
    let refused = put(json!({"max_concurrent": "many", "window": "1h", "jitter": "2h"})).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer: Value = refused.json().await.unwrap();
    let fields: Vec<&str> = answer["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["max_concurrent", "jitter"], "{answer}");
    let set: Value = put(json!({"max_concurrent": "1", "window": "2h"})).await.unwrap().json().await.unwrap();
    assert_eq!(set, json!({"name": "db-1", "apps": 1, "max_concurrent": 1, "window": "2h", "jitter": null}));
    let listed = web::get_json(&format!("{}/api/v1/groups", served.url), &token).await;
    assert_eq!(listed, json!([set]));
    let shown = web::get_json(&format!("{}/api/v1/apps/erp", served.url), &token).await;
    assert_eq!((&shown["window"], &shown["jitter"]), (&json!("1h30m"), &json!("10m")), "{shown}");
    let cleared = http
        .patch(format!("{}/api/v1/apps/erp", served.url))
        .bearer_auth(&token)
        .json(&json!({"window": "off", "jitter": "off"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), StatusCode::OK);
    let cleared: Value = cleared.json().await.unwrap();
    assert_eq!((&cleared["window"], &cleared["jitter"]), (&Value::Null, &Value::Null), "{cleared}");
    // The Groups page shows and sets the same; the app's page says where its settings come from.
    let groups_page = session.page("/groups").await;
    assert!(groups_page.contains(r#"id="max-db-1" name="max_concurrent" value="1""#), "{groups_page}");
    let refused = session.post("/groups/db-1", &[("max_concurrent", "lots"), ("window", "2h"), ("jitter", "")]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = refused.text().await.unwrap();
    assert!(
        refused.contains("give how many backups of the group may run at once") && refused.contains(r#"value="lots""#),
        "{refused}"
    );
    let saved = session.post("/groups/db-1", &[("max_concurrent", "3"), ("window", "2h"), ("jitter", "5m")]).await;
    assert!(saved.status().is_success() || saved.status().is_redirection(), "{}", saved.status());
    let app_page = session.page("/apps/erp").await;
    assert!(app_page.contains("2h (from group db-1)") && app_page.contains("3 at once in group db-1"), "{app_page}");
    let audited: Vec<String> = orchestrator::db::entities::audit_entry::Entity::find()
        .all(&h.db().await)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "group.set")
        .map(|e| e.target.unwrap_or_default())
        .collect();
    assert_eq!(audited, ["db-1", "db-1"], "each change audited (API, page); the refused ones changed nothing");
}

#[tokio::test]
async fn a_freed_slot_goes_to_the_waiting_run_of_the_highest_priority() {
    let h = Harness::sqlite().await;
    // The first holds the group's one slot for a few seconds; the other two wait for it.
    let long = sdk_apps::spawn(Behaviour::Good { size: 3 * 640 * 1024, delay: Duration::from_millis(100) }, 360).await;
    let quick = sdk_apps::spawn(second_long(), 361).await;
    let group = ["--group", "db-1", "--schedule", "0 0 1 1 *"];
    h.add_app("holder", &long.url, &h.folder("holder"), &group).await;
    let low = [&group[..], &["--priority", "low"]].concat();
    h.add_app("reports", &quick.url, &h.folder("reports"), &low).await;
    let high = [&group[..], &["--priority", "high"]].concat();
    h.add_app("billing", &quick.url, &h.folder("billing"), &high).await;
    h.cli(&["groups", "set", "db-1", "--max-concurrent", "1"]).await.assert_success();
    let served = h.serve(&[("MAX_CONCURRENT_BACKUPS", "4")]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("turns").await;
    let test_now =
        |app: &str| web::client().post(format!("{}/api/v1/apps/{app}/runs", served.url)).bearer_auth(&token).send();
    let db = h.db().await;
    let run_of = |name: &'static str| {
        let db = db.clone();
        async move {
            let app = app::Entity::find().filter(app::Column::Name.eq(name)).one(&db).await.unwrap().unwrap();
            backup_run::Entity::find().filter(backup_run::Column::AppId.eq(app.id)).one(&db).await.unwrap()
        }
    };
    assert!(test_now("holder").await.unwrap().status().is_success());
    eventually(Duration::from_secs(30), "the first run holds the slot", || async {
        run_of("holder").await.is_some_and(|r| r.started_at.is_some())
    })
    .await;
    // The low-priority run asks first and waits longest; the high-priority one comes later.
    assert!(test_now("reports").await.unwrap().status().is_success());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(test_now("billing").await.unwrap().status().is_success());
    eventually(Duration::from_secs(90), "every run ended", || async {
        let mut ended = 0;
        for name in ["holder", "reports", "billing"] {
            ended += usize::from(run_of(name).await.is_some_and(|r| !r.status.is_active()));
        }
        ended == 3
    })
    .await;
    let (holder, reports, billing) =
        (run_of("holder").await.unwrap(), run_of("reports").await.unwrap(), run_of("billing").await.unwrap());
    for r in [&holder, &reports, &billing] {
        assert_eq!(r.status.as_str(), "succeeded", "{r:?}");
    }
    assert!(
        holder.finished_at.unwrap() <= billing.started_at.unwrap()
            && billing.finished_at.unwrap() <= reports.started_at.unwrap(),
        "one at a time, the high-priority run before the low-priority one that waited longer: {holder:?} {billing:?} {reports:?}"
    );
}

#[tokio::test]
async fn a_jittered_fire_starts_each_app_no_sooner_than_its_own_delay() {
    let h = Harness::sqlite().await;
    let _apps = register(&h, "shop", "db-9", 3, 380).await;
    h.cli(&["groups", "set", "db-9", "--jitter", "6s"]).await.assert_success();
    let served = h.serve(&[("MAX_CONCURRENT_BACKUPS", "3")]).await;
    let (cron, fire) = fire_in(Duration::from_secs(4));
    let db = h.db().await;
    let now = orchestrator::db::now_ms();
    let sql = format!("UPDATE apps SET schedule = '{cron}', time_zone = 'UTC', updated_at = {now}");
    sea_orm::ConnectionTrait::execute_unprepared(&db, &sql).await.unwrap();
    let runs = settled_runs(&db, "db-9", fire, 3).await;
    drop(served);
    let group = orchestrator::db::entities::app_group::Entity::find_by_id("db-9".to_owned()).one(&db).await.unwrap();
    let spread = orchestrator::schedule::spread::Spread::new(None, None, group.as_ref());
    let mut delays = Vec::new();
    for run in &runs {
        assert_eq!(run.status.as_str(), "succeeded", "{run:?}");
        // The delay is the app's own for this fire, the same on every process: the run waited
        // at least that long after the fire.
        let delay = spread.delay(run.app_id, fire);
        assert!(delay < Duration::from_secs(6), "{delay:?}");
        let started = run.first_started_at.unwrap();
        assert!(started >= fire + delay.as_millis() as i64, "{run:?} started before its delay {delay:?}");
        delays.push(delay);
    }
    delays.sort();
    delays.dedup();
    assert_eq!(delays.len(), 3, "each app its own place in the spread: {delays:?}");
}
