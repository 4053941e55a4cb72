//! A run's and a restore's life end to end: the inventory keeps every copy a run did not judge,
//! a safety backup is told like any run, and a restore is a job of the queue — listed while it
//! waits and runs, and recorded as interrupted (never resumed) when its process is killed.

use std::time::Duration;

use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::receivers::Recorder;
use e2e::sdk_apps::{self, Behaviour};
use e2e::web::{self, sign_in};
use orchestrator::db::entities::{backup_copy, backup_run, restore};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::scheduling::eventually;

const MIB: u64 = 1024 * 1024;

async fn live_copies(h: &Harness) -> Vec<backup_copy::Model> {
    backup_copy::Entity::find().filter(backup_copy::Column::DeletedAt.is_null()).all(&h.db().await).await.unwrap()
}

async fn runs(h: &Harness) -> Vec<backup_run::Model> {
    backup_run::Entity::find().order_by_asc(backup_run::Column::Id).all(&h.db().await).await.unwrap()
}

/// `GET path` on the API with `token`, as JSON.
async fn api_get(url: &str, token: &str, path: &str) -> serde_json::Value {
    web::client().get(format!("{url}{path}")).bearer_auth(token).send().await.unwrap().json().await.unwrap()
}

async fn restore_row(h: &Harness, id: i64) -> restore::Model {
    restore::Entity::find_by_id(id).one(&h.db().await).await.unwrap().expect("the restore is recorded")
}

#[tokio::test]
async fn a_backup_without_a_retention_pass_leaves_every_other_copy_in_the_inventory() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn_restorable(Behaviour::Good { size: 100_000, delay: Duration::ZERO }, 50).await;
    let folder = h.folder("ledger");
    h.add_app("ledger", &app.url, &folder, &["--keep-last", "5"]).await;
    let first = h.cli(&["run", "ledger"]).await;
    first.assert_success();
    h.cli(&["run", "ledger"]).await.assert_success();
    assert_eq!(live_copies(&h).await.len(), 2);

    // The safety backup before a restore makes a copy and runs no retention (no full listing):
    // the copies it did not look at stay counted.
    h.cli(&["restore", "ledger", &first.field("file").unwrap()]).await.assert_success();
    let safety = runs(&h).await.pop().unwrap();
    assert_eq!((safety.trigger.as_str(), safety.status.as_str()), ("safety", "succeeded"));
    assert_eq!(h.double.files_in(&folder).len(), 3);
    let live = live_copies(&h).await;
    assert_eq!(live.len(), 3, "every stored copy is still in the inventory: {live:#?}");
}

#[tokio::test]
async fn a_restore_is_a_queued_job_its_safety_backup_is_told_and_a_kill_mid_import_leaves_it_interrupted() {
    let h = Harness::sqlite().await;
    // 4 MiB taken back in 64 KiB pieces with a pause after each: several seconds of import, so
    // a kill lands in the middle of it.
    let size = 4 * MIB;
    let app = sdk_apps::spawn_slow_restorable(
        Behaviour::Good { size, delay: Duration::ZERO },
        51,
        Duration::from_millis(120),
    )
    .await;
    let folder = h.folder("ledger");
    h.add_app("ledger", &app.url, &folder, &[]).await;
    let made = h.cli(&["run", "ledger"]).await;
    made.assert_success();
    let copy = made.field("file").unwrap();

    let pings = Recorder::start(0).await;
    let mut served = h.serve(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let channel = session
        .post(
            "/notifications",
            &[
                ("kind", "ping"),
                ("name", "healthchecks"),
                ("app", "ledger"),
                ("ping_start", &format!("{}/ping/start", pings.url)),
                ("ping_success", &format!("{}/ping", pings.url)),
                ("ping_fail", &format!("{}/ping/fail", pings.url)),
            ],
        )
        .await;
    assert_eq!(channel.status(), reqwest::StatusCode::SEE_OTHER);
    let token = session.api_token("lifecycle").await;

    let started = web::client()
        .post(format!("{}/api/v1/apps/ledger/copies/{copy}/restore", served.url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"confirm": "ledger", "safety_backup": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), reqwest::StatusCode::ACCEPTED);
    let view: serde_json::Value = started.json().await.unwrap();
    let id = view["id"].as_i64().unwrap();
    assert_eq!(view["status"], "queued", "recorded, then queued as a job: {view}");

    // The safety backup runs as part of the restore job, and is told like any run.
    let pinged = pings.wait_for(Duration::from_secs(60), |s| s.len() >= 2).await;
    let paths: Vec<&str> = pinged.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/ping/start", "/ping"], "the safety backup says it started and that it succeeded");

    // While it imports, the queue (API and page) shows it.
    eventually(Duration::from_secs(60), "the restore is importing", || async {
        let queue = api_get(&served.url, &token, "/api/v1/queue").await;
        let restores = queue["restores"].as_array().cloned().unwrap_or_default();
        restores.iter().any(|r| r["id"] == id && r["status"] == "running" && r["phase"] == "import")
    })
    .await;
    let page = session.page("/queue").await;
    assert!(page.contains("id=\"restores\"") && page.contains(&format!("href=\"/restores/{id}\"")), "{page}");

    // Killed mid-import: the app sees its upload cut and commits nothing.
    served.kill().await;
    let row = restore_row(&h, id).await;
    assert_eq!(row.status.as_str(), "running", "the kill landed mid-restore: {row:?}");
    assert!((row.bytes as u64) < size, "the kill landed before the end of the copy: {row:?}");

    // After a restart the job comes back, finds the restore silent, and records it interrupted.
    let restarted = h.serve(&[]).await;
    eventually(Duration::from_secs(60), "the restore is recorded as interrupted", || async {
        restore_row(&h, id).await.status.as_str() == "interrupted"
    })
    .await;
    let row = restore_row(&h, id).await;
    assert!(row.error.as_deref().unwrap_or_default().contains("never resumed"), "{row:?}");
    assert!(row.finished_at.is_some());
    assert!(app.restored().is_empty(), "the app's data is as it left it: {:?}", app.restored());
    let queue = api_get(&restarted.url, &token, "/api/v1/queue").await;
    assert_eq!(queue["restores"], serde_json::json!([]), "an interrupted restore has left the queue");
    let safety = runs(&h).await.into_iter().find(|r| Some(r.id) == row.safety_run_id).unwrap();
    assert_eq!(safety.status.as_str(), "succeeded");
}

#[tokio::test]
async fn a_restore_waiting_in_the_queue_survives_a_restart_and_runs_after_it() {
    let h = Harness::sqlite().await;
    // One worker, kept busy by a slow backup, so the restore waits in the queue.
    let busy = sdk_apps::spawn(Behaviour::Good { size: 8 * MIB, delay: Duration::from_millis(100) }, 52).await;
    let ledger = sdk_apps::spawn_restorable(Behaviour::Good { size: 300_000, delay: Duration::ZERO }, 53).await;
    h.add_app("busy", &busy.url, &h.folder("busy"), &[]).await;
    h.add_app("ledger", &ledger.url, &h.folder("ledger"), &[]).await;
    let made = h.cli(&["run", "ledger"]).await;
    made.assert_success();
    let (copy, sha256) = (made.field("file").unwrap(), made.field("sha256").unwrap());

    let one_worker = [("MAX_CONCURRENT_BACKUPS", "1")];
    let mut served = h.serve(&one_worker).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("lifecycle").await;
    let post = |url: String, body: serde_json::Value| web::client().post(url).bearer_auth(&token).json(&body).send();
    let run = post(format!("{}/api/v1/apps/busy/runs", served.url), serde_json::json!({})).await.unwrap();
    assert_eq!(run.status(), reqwest::StatusCode::ACCEPTED);
    eventually(Duration::from_secs(30), "the slow backup runs", || async {
        runs(&h).await.iter().any(|r| r.status.as_str() == "running")
    })
    .await;
    let body = serde_json::json!({"confirm": "ledger", "safety_backup": false});
    let started = post(format!("{}/api/v1/apps/ledger/copies/{copy}/restore", served.url), body).await.unwrap();
    assert_eq!(started.status(), reqwest::StatusCode::ACCEPTED);
    let id = started.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();
    let queue = api_get(&served.url, &token, "/api/v1/queue").await;
    let waiting: Vec<&serde_json::Value> =
        queue["restores"].as_array().unwrap().iter().filter(|r| r["id"] == id).collect();
    assert_eq!(waiting.len(), 1, "{queue}");
    assert_eq!(waiting[0]["status"], "queued", "the only worker is busy: {queue}");

    served.kill().await;
    assert_eq!(restore_row(&h, id).await.status.as_str(), "queued");
    let _restarted = h.serve(&one_worker).await;
    eventually(Duration::from_secs(90), "the restore runs after the restart", || async {
        restore_row(&h, id).await.status.as_str() == "succeeded"
    })
    .await;
    assert_eq!(ledger.restored(), [sha256], "the app took the copy back once, whole");
}

#[tokio::test]
async fn a_run_retried_counts_every_attempt_and_every_wait_in_its_duration() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(Behaviour::FailsAtOnce, 71).await;
    h.add_app("flaky", &app.url, &h.folder("flaky"), &[]).await;
    let served = h.serve(&[("RETRY_DELAY_SECS", "1"), ("MAX_ATTEMPTS", "3")]).await;
    let queued = h.cli(&["run", "flaky", "--queued"]).await;
    queued.assert_success();
    let id: i64 = queued.stdout_text().split_whitespace().nth(2).unwrap().parse().unwrap();
    eventually(Duration::from_secs(60), "the run failed for good after three attempts", || async {
        runs(&h).await.iter().any(|r| r.id == id && r.status.as_str() == "failed")
    })
    .await;
    let run = runs(&h).await.into_iter().find(|r| r.id == id).unwrap();
    assert_eq!(run.attempts, 3, "{run:?}");
    let (first, last, finished) = (run.first_started_at.unwrap(), run.started_at.unwrap(), run.finished_at.unwrap());
    assert!(first < last, "the last attempt started after the first: {run:?}");
    // From the first attempt's start to the end: the attempts and the two waits of at least a
    // second between them, not the last attempt alone.
    assert_eq!(run.duration_ms, Some(finished - first), "{run:?}");
    assert!(run.duration_ms.unwrap() >= 2_000, "{run:?}");
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("duration").await;
    let shown = api_get(&served.url, &token, &format!("/api/v1/runs/{id}")).await;
    assert_eq!(shown["duration_ms"], serde_json::json!(finished - first), "{shown}");
}

#[tokio::test]
async fn the_upload_bandwidth_limit_holds_a_backup_to_its_rate_and_a_bad_one_is_refused() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(Behaviour::Good { size: 3 * MIB, delay: Duration::ZERO }, 72).await;
    h.add_app("files", &app.url, &h.folder("files"), &[]).await;
    let refused = h.cli_with(&["run", "files"], &[("UPLOAD_BANDWIDTH_LIMIT", "fast")]).await;
    assert!(!refused.status.success(), "a bad limit is refused");
    assert!(refused.stderr.contains("UPLOAD_BANDWIDTH_LIMIT=\"fast\": give bytes per second"), "{}", refused.stderr);
    assert!(runs(&h).await.is_empty(), "nothing ran");
    // 1 MiB/s, a second's worth at once: 3 MiB cannot be sent in less than two seconds, however
    // fast the machine (a bound the limit sets, not a speed measured).
    let began = std::time::Instant::now();
    let limited = h.cli_with(&["run", "files"], &[("UPLOAD_BANDWIDTH_LIMIT", "1MiB")]).await;
    let took = began.elapsed();
    limited.assert_success();
    assert!(took >= Duration::from_millis(1_900), "3 MiB at 1 MiB/s took {took:?}");
    let run = runs(&h).await.pop().unwrap();
    assert_eq!((run.status.as_str(), run.bytes), ("succeeded", 3 * MIB as i64), "{run:?}");
}
