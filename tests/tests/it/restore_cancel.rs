//! Cancelling restores and drills: a restore streaming a 16 MiB copy into a real SDK app is
//! cancelled mid-stream from the API, the restore page, the queue page and the command line; the
//! app sees its upload end early and commits nothing, the app is free at once, the restore is
//! recorded as cancelled and audited with who asked. A queued restore ends at once with its
//! safety backup; a safety backup under way is cancelled with its restore; a cancelled drill is
//! not told as a failure and never proves a copy. What the SDK does with an import cut short is
//! shown on its own too. The restore pages show their times in the app's zone, with the offset.

use std::path::Path;
use std::time::Duration;

use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::receivers::Recorder;
use e2e::sdk_apps::{self, Behaviour};
use e2e::web::{self, element_text, sign_in};
use orchestrator::db::entities::{app, app_lease, audit_entry, backup_run, restore};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::scheduling::eventually;
use crate::sdk_examples::{read_tree, write_tree};

const MIB: u64 = 1024 * 1024;
/// The copy restored: large enough that a cancel lands mid-stream.
const SIZE: u64 = 16 * MIB;

async fn restore_row(h: &Harness, id: i64) -> restore::Model {
    restore::Entity::find_by_id(id).one(&h.db().await).await.unwrap().expect("the restore is recorded")
}

async fn run_row(h: &Harness, id: i64) -> backup_run::Model {
    backup_run::Entity::find_by_id(id).one(&h.db().await).await.unwrap().expect("the run is recorded")
}

async fn audits(h: &Harness, action: &str) -> Vec<(String, String)> {
    audit_entry::Entity::find()
        .filter(audit_entry::Column::Action.eq(action))
        .order_by_asc(audit_entry::Column::Id)
        .all(&h.db().await)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.detail.unwrap_or_default()))
        .collect()
}

/// Whether `name` holds a live lease (a backup or a restore of it running).
async fn leased(h: &Harness, name: &str) -> bool {
    let db = h.db().await;
    let app = app::Entity::find().filter(app::Column::Name.eq(name)).one(&db).await.unwrap().expect("the app");
    app_lease::Entity::find_by_id(app.id).one(&db).await.unwrap().is_some()
}

/// An SDK app that offers restores and takes an import in slowly (a pause after each piece it
/// reads, a small receive buffer), so that a 16 MiB restore into it lasts long enough to be
/// cancelled mid-stream.
async fn slow_importer(seed: u64) -> sdk_apps::SdkApp {
    let good = Behaviour::Good { size: SIZE, delay: Duration::ZERO };
    sdk_apps::spawn_slow_restorable_small_window(good, seed, Duration::from_millis(30)).await
}

/// POST `path` on the API with `token` and a JSON body.
async fn api_post(url: &str, token: &str, path: &str, body: serde_json::Value) -> reqwest::Response {
    web::client().post(format!("{url}/api/v1{path}")).bearer_auth(token).json(&body).send().await.unwrap()
}

/// Starts a restore of `copy` of `source` into `into` through the API; its id.
async fn start_restore(url: &str, token: &str, source: &str, copy: &str, into: &str, safety: bool) -> i64 {
    let body = serde_json::json!({"confirm": into, "into": into, "safety_backup": safety});
    let started = api_post(url, token, &format!("/apps/{source}/copies/{copy}/restore"), body).await;
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    started.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// Waits until restore `id` is streaming the copy into the app, past its first MiB.
async fn wait_importing(h: &Harness, id: i64) {
    eventually(Duration::from_secs(60), "the restore streams the copy into the app", || async {
        let row = restore_row(h, id).await;
        assert!(row.status.is_active(), "the restore ended before it could be cancelled: {row:?}");
        row.phase.map(|p| p.as_str()) == Some("import") && row.bytes > MIB as i64
    })
    .await;
}

/// Waits until restore `id` is cancelled, and checks what a cancel mid-import leaves.
async fn wait_cancelled_mid_import(h: &Harness, id: i64, by: &str) -> restore::Model {
    eventually(Duration::from_secs(20), "the restore is cancelled", || async {
        restore_row(h, id).await.status.as_str() == "cancelled"
    })
    .await;
    let row = restore_row(h, id).await;
    let error = row.error.clone().unwrap_or_default();
    assert!(error.starts_with(&format!("cancelled by {by} while the copy was streaming into ")), "{row:?}");
    assert!(error.contains("its end was never sent and the upload was cut off"), "{row:?}");
    assert_eq!(row.phase.map(|p| p.as_str()), Some("import"), "{row:?}");
    assert!(row.bytes > MIB as i64 && row.bytes as u64 <= SIZE, "{row:?}");
    assert!(row.finished_at.is_some() && row.cancel_requested_at.is_some(), "{row:?}");
    row
}

/// Waits until `app` has let go of the imports cut off by cancels (its SDK saw their uploads
/// end early), and checks that it committed none of them.
async fn let_go(app: &sdk_apps::SdkApp) {
    eventually(Duration::from_secs(30), "the app lets go of the cut import", || async { app.imports_running() == 0 })
        .await;
    assert!(app.restored().is_empty(), "the app's data is as it left it: {:?}", app.restored());
}

/// The local time of `ms` in `zone`, as the pages show it (without the zone's name).
fn local(ms: i64, zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap();
    jiff::Timestamp::from_millisecond(ms).unwrap().to_zoned(tz).strftime("%Y-%m-%d %H:%M").to_string()
}

#[tokio::test]
async fn a_restore_streaming_into_an_app_is_cancelled_from_the_api_the_page_and_the_cli_and_the_app_commits_nothing() {
    let h = Harness::sqlite().await;
    let ledger = slow_importer(61).await;
    let folder = h.folder("ledger");
    h.add_app("ledger", &ledger.url, &folder, &["--tz", "America/Bogota"]).await;
    let copy = h.backup("ledger", &[]).await;
    let mut served = h.serve(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("cancel").await;

    // 1. From the API, while the copy streams into the app.
    let first = start_restore(&served.url, &token, "ledger", &copy, "ledger", false).await;
    wait_importing(&h, first).await;
    assert!(leased(&h, "ledger").await, "the restore holds the app while it runs");
    let page = session.page(&format!("/restores/{first}")).await;
    assert!(page.contains("id=\"restore-cancel\"") && page.contains("Cancel this restore"), "{page}");
    let cancel = api_post(&served.url, &token, &format!("/restores/{first}/cancel"), serde_json::json!({})).await;
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    let view: serde_json::Value = cancel.json().await.unwrap();
    assert!(view["cancel_requested_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{view}");
    let row = wait_cancelled_mid_import(&h, first, &format!("{ADMIN_USER} (api:cancel)")).await;
    assert!(!leased(&h, "ledger").await, "the app's lease was released");
    let_go(&ledger).await;
    let twice = api_post(&served.url, &token, &format!("/restores/{first}/cancel"), serde_json::json!({})).await;
    assert_eq!(twice.status(), StatusCode::CONFLICT, "an ended restore has nothing to cancel");
    assert!(twice.text().await.unwrap().contains("already ended (cancelled)"));

    // Its page: cancelled (a notice, not an alarm), no button, times in the app's zone; the API
    // keeps UTC.
    let page = session.page(&format!("/restores/{first}")).await;
    assert_eq!(element_text(&page, "restore-status").as_deref(), Some("Cancelled"), "{page}");
    assert!(!page.contains("id=\"restore-cancel\""), "{page}");
    assert!(page.contains("class=\"notice\" role=\"alert\" id=\"restore-error\""), "{page}");
    let started = element_text(&page, "restore-started").unwrap();
    assert_eq!(started, format!("{} -05 (-05:00)", local(row.started_at, "America/Bogota")), "{page}");
    let finished = element_text(&page, "restore-finished").unwrap();
    assert_eq!(finished, format!("{} -05 (-05:00)", local(row.finished_at.unwrap(), "America/Bogota")));
    let json = web::get_json(&format!("{}/api/v1/restores/{first}", served.url), &token).await;
    assert_eq!(json["status"], "cancelled", "{json}");
    assert!(json["started_at"].as_str().unwrap().ends_with('Z'), "machine formats stay in UTC: {json}");

    // The app is free at once: a backup of it runs now.
    let run = api_post(&served.url, &token, "/apps/ledger/runs", serde_json::json!({})).await;
    assert_eq!(run.status(), StatusCode::ACCEPTED);
    let run = run.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();
    eventually(Duration::from_secs(60), "the backup succeeds", || async {
        run_row(&h, run).await.status.as_str() == "succeeded" && !leased(&h, "ledger").await
    })
    .await;

    // 2. From the restore page (the queue page offers it too, in the app's zone).
    let second = start_restore(&served.url, &token, "ledger", &copy, "ledger", false).await;
    wait_importing(&h, second).await;
    let queue = session.page("/queue").await;
    assert!(queue.contains(&format!("action=\"/restores/{second}/cancel\"")), "{queue}");
    assert!(queue.contains(" -05 (-05:00)"), "the queue shows the restore's time in its app's zone: {queue}");
    let posted = session.post(&format!("/restores/{second}/cancel"), &[]).await;
    assert_eq!(web::location(&posted), format!("/restores/{second}"));
    wait_cancelled_mid_import(&h, second, ADMIN_USER).await;
    let_go(&ledger).await;

    // 3. From the command line, of a restore running in the foreground of another command.
    let args = ["restore", "ledger", &copy, "--no-safety-backup"];
    let foreground = h.cli(&args);
    let cancel_it = async {
        let newest = async {
            loop {
                let db = h.db().await;
                let row = restore::Entity::find().order_by_desc(restore::Column::Id).one(&db).await.unwrap();
                if let Some(row) = row.filter(|r| r.id > second) {
                    return row.id;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        };
        let id =
            tokio::time::timeout(Duration::from_secs(60), newest).await.expect("the foreground restore is recorded");
        wait_importing(&h, id).await;
        let cancelled = h.cli(&["runs", "cancel", "--restore", &id.to_string()]).await;
        cancelled.assert_success();
        assert!(cancelled.stdout_text().contains(&format!("restore {id} of ledger is being cancelled")));
        id
    };
    let (foreground, third) = tokio::join!(foreground, cancel_it);
    assert_eq!(foreground.status.code(), Some(1), "{}", foreground.stdout_text());
    assert!(
        foreground.stderr.contains(&format!("error: restore {third} of ledger was cancelled by cli while the copy")),
        "{}",
        foreground.stderr
    );
    wait_cancelled_mid_import(&h, third, "cli").await;
    let_go(&ledger).await;
    let again = h.cli(&["runs", "cancel", "--restore", &third.to_string()]).await;
    assert_eq!(again.status.code(), Some(1));
    assert!(again.stderr.contains("already ended (cancelled)"), "{}", again.stderr);
    let unknown = h.cli(&["runs", "cancel", "--restore", "9999"]).await;
    assert!(!unknown.status.success() && unknown.stderr.contains("there is no restore 9999"), "{}", unknown.stderr);

    // The app committed none of them; each cancel is audited with who asked, and each end.
    assert!(ledger.restored().is_empty(), "the app's data is as it left it: {:?}", ledger.restored());
    assert_eq!(
        audits(&h, "restore.cancel").await,
        [
            (format!("{ADMIN_USER} (api:cancel)"), format!("restore {first}")),
            (ADMIN_USER.to_owned(), format!("restore {second}")),
            ("cli".to_owned(), format!("restore {third}")),
        ]
    );
    let ends = audits(&h, "restore.finish").await;
    assert_eq!(ends.len(), 3, "{ends:?}");
    assert!(ends.iter().all(|(_, detail)| detail.contains(": cancelled by ")), "{ends:?}");
    served.terminate().await;
}

#[tokio::test]
async fn a_queued_restore_ends_at_once_with_its_safety_backup_and_a_running_safety_backup_is_cancelled_with_its_restore()
 {
    let h = Harness::sqlite().await;
    let ledger = sdk_apps::spawn_restorable(Behaviour::Good { size: MIB, delay: Duration::ZERO }, 62).await;
    // Its export lasts about 25 s (64 KiB pieces 100 ms apart): a backup of it can be caught.
    let slow = sdk_apps::spawn_restorable(Behaviour::Good { size: SIZE, delay: Duration::from_millis(100) }, 63).await;
    let slow_folder = h.folder("slow");
    h.add_app("ledger", &ledger.url, &h.folder("ledger"), &[]).await;
    h.add_app("slow", &slow.url, &slow_folder, &[]).await;
    let copy = h.backup("ledger", &[]).await;
    let mut served = h.serve(&[("MAX_CONCURRENT_BACKUPS", "1")]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("ops").await;

    // The only worker is busy with a backup of slow: a restore of ledger waits in the queue.
    let busy = api_post(&served.url, &token, "/apps/slow/runs", serde_json::json!({})).await;
    let busy = busy.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();
    eventually(Duration::from_secs(30), "the slow backup runs", || async {
        run_row(&h, busy).await.status.as_str() == "running"
    })
    .await;
    let queued = start_restore(&served.url, &token, "ledger", &copy, "ledger", true).await;
    let safety = restore_row(&h, queued).await.safety_run_id.expect("a safety backup is queued with it");
    let cancel = api_post(&served.url, &token, &format!("/restores/{queued}/cancel"), serde_json::json!({})).await;
    assert_eq!(cancel.status(), StatusCode::OK, "a queued restore is cancelled at once");
    let view: serde_json::Value = cancel.json().await.unwrap();
    assert_eq!(view["status"], "cancelled", "{view}");
    let row = restore_row(&h, queued).await;
    assert!(row.error.as_deref().unwrap_or_default().contains("before it started; nothing was sent"), "{row:?}");
    assert_eq!(run_row(&h, safety).await.status.as_str(), "cancelled", "its safety backup is cancelled with it");

    // The worker frees; the restore's job then comes and does nothing.
    let freed = api_post(&served.url, &token, &format!("/runs/{busy}/cancel"), serde_json::json!({})).await;
    assert_eq!(freed.status(), StatusCode::ACCEPTED);
    eventually(Duration::from_secs(20), "the slow backup is cancelled", || async {
        run_row(&h, busy).await.status.as_str() == "cancelled"
    })
    .await;
    let after = api_post(&served.url, &token, "/apps/ledger/runs", serde_json::json!({})).await;
    let after = after.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();
    eventually(Duration::from_secs(60), "a backup queued after the restore ran", || async {
        run_row(&h, after).await.status.as_str() == "succeeded"
    })
    .await;
    let row = restore_row(&h, queued).await;
    assert_eq!((row.status.as_str(), row.phase), ("cancelled", None), "its job changed nothing: {row:?}");
    assert!(!ledger.requests().iter().any(|r| r == "POST /backup/import"), "{:?}", ledger.requests());
    assert!(run_row(&h, safety).await.file_name.is_none());

    // A restore into slow with a safety backup first: cancelled while that backup streams.
    let running = start_restore(&served.url, &token, "ledger", &copy, "slow", true).await;
    let safety = restore_row(&h, running).await.safety_run_id.expect("a safety backup");
    eventually(Duration::from_secs(60), "the safety backup streams", || async {
        let row = restore_row(&h, running).await;
        row.phase.map(|p| p.as_str()) == Some("safety_backup") && run_row(&h, safety).await.bytes > MIB as i64
    })
    .await;
    let cancel = api_post(&served.url, &token, &format!("/restores/{running}/cancel"), serde_json::json!({})).await;
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    eventually(Duration::from_secs(20), "the restore is cancelled", || async {
        restore_row(&h, running).await.status.as_str() == "cancelled"
    })
    .await;
    let row = restore_row(&h, running).await;
    let error = row.error.clone().unwrap_or_default();
    assert!(error.starts_with(&format!("cancelled by {ADMIN_USER} (api:ops) during the safety backup")), "{row:?}");
    assert!(error.contains("nothing was sent to slow"), "{row:?}");
    let run = run_row(&h, safety).await;
    assert_eq!(run.status.as_str(), "cancelled", "{run:?}");
    assert!(run.file_name.is_none(), "{run:?}");
    assert!(h.double.files_in(&slow_folder).is_empty(), "the safety backup left no file");
    assert_eq!(h.double.open_sessions(), 0, "nor an open upload session");
    assert!(!slow.requests().iter().any(|r| r == "POST /backup/import"), "nothing was sent to the app");
    assert!(!leased(&h, "slow").await, "the app is free");
    let next = api_post(&served.url, &token, "/apps/slow/runs", serde_json::json!({})).await;
    assert_eq!(next.status(), StatusCode::ACCEPTED, "a backup of it can start at once");

    let cancels = audits(&h, "restore.cancel").await;
    assert_eq!(
        cancels,
        [
            (format!("{ADMIN_USER} (api:ops)"), format!("restore {queued}")),
            (format!("{ADMIN_USER} (api:ops)"), format!("restore {running}"))
        ]
    );
    served.terminate().await;
}

#[tokio::test]
async fn a_cancelled_drill_is_not_told_as_a_failure_and_never_proves_a_copy() {
    let h = Harness::sqlite().await;
    let prod = sdk_apps::spawn_restorable(Behaviour::Good { size: SIZE, delay: Duration::ZERO }, 64).await;
    let scratch = slow_importer(65).await;
    let broken = sdk_apps::spawn(Behaviour::FailsAtOnce, 66).await;
    h.add_app("erp", &prod.url, &h.folder("erp"), &["--tz", "Europe/Madrid"]).await;
    h.add_app("erp-scratch", &scratch.url, &h.folder("erp-scratch"), &["--tz", "Europe/Madrid"]).await;
    h.add_app("broken", &broken.url, &h.folder("broken"), &[]).await;
    h.backup("erp", &[]).await;
    // One worker: a job taken after the drill's starts only once the drill's job has ended.
    let mut served = h.serve(&[("MAX_CONCURRENT_BACKUPS", "1"), ("MAX_ATTEMPTS", "1")]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let hooks = Recorder::start(0).await;
    session.add_failure_webhook("on-call", &format!("{}/hook", hooks.url)).await;
    let token = session.api_token("drills").await;

    let started =
        api_post(&served.url, &token, "/apps/erp/drills", serde_json::json!({"drill_target": "erp-scratch"})).await;
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let id = started.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();
    wait_importing(&h, id).await;
    let page = session.page(&format!("/restores/{id}")).await;
    assert!(page.contains("Cancel this drill"), "{page}");
    let queue = session.page("/queue").await;
    assert!(queue.contains(&format!("action=\"/restores/{id}/cancel\"")), "{queue}");
    let posted = session.post(&format!("/restores/{id}/cancel"), &[]).await;
    assert_eq!(web::location(&posted), format!("/restores/{id}"));
    let row = wait_cancelled_mid_import(&h, id, ADMIN_USER).await;
    assert_eq!(row.kind, "drill_restore");
    let_go(&scratch).await;
    assert!(!leased(&h, "erp-scratch").await, "the scratch app is free");

    // The next failure told is the broken app's own: the cancelled drill was told to nobody.
    let failing = api_post(&served.url, &token, "/apps/broken/runs", serde_json::json!({})).await;
    assert_eq!(failing.status(), StatusCode::ACCEPTED);
    let told = hooks.wait_for(Duration::from_secs(60), |seen| !seen.is_empty()).await;
    let summaries: Vec<String> =
        told.iter().map(|r| r.json()["summary"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    assert!(summaries[0].starts_with("broken:"), "only the failed backup is told: {summaries:?}");

    // Never a passed drill, nor a failed one; its times in the app's zone (Madrid).
    let app_page = session.page("/apps/erp").await;
    assert!(element_text(&app_page, "proven").unwrap().contains("No copy has been proven"), "{app_page}");
    assert!(app_page.contains("status-cancelled"), "the drill is listed as cancelled: {app_page}");
    let dashboard = session.page("/").await;
    assert_eq!(element_text(&dashboard, "total-drill-failed").as_deref(), Some("0"), "{dashboard}");
    assert_eq!(element_text(&dashboard, "total-never-drilled").as_deref(), Some("3"), "{dashboard}");
    let drill_page = session.page(&format!("/restores/{id}")).await;
    let started = element_text(&drill_page, "restore-started").unwrap();
    let zone = if started.contains("(+02:00)") { "CEST (+02:00)" } else { "CET (+01:00)" };
    assert_eq!(started, format!("{} {zone}", local(row.started_at, "Europe/Madrid")), "{drill_page}");
    let history = web::get_json(&format!("{}/api/v1/apps/erp/drills", served.url), &token).await;
    assert_eq!(history[0]["status"], "cancelled", "{history}");
    assert_eq!(audits(&h, "restore.cancel").await, [(ADMIN_USER.to_owned(), format!("drill {id}"))]);
    served.terminate().await;
}

/// The SDK's own directory source (stage, then swap) on an import whose upload ends before the
/// end of the body, as a cancelled restore ends it: the client drops the request mid-stream.
#[tokio::test]
async fn the_sdk_commits_nothing_of_an_import_whose_upload_ends_early() {
    use futures::StreamExt;
    let root = e2e::harness::temp_dir();
    let data = root.join("data");
    write_tree(&data);
    let before = read_tree(&data);
    // A copy of other contents, as a tar.gz of a whole folder, made by the SDK's own export.
    let other = root.join("other");
    write_tree(&other);
    std::fs::write(other.join("big.bin"), vec![7u8; 8 * MIB as usize]).unwrap();
    let exporter = client_sdk::Directory::new("notes", &other);
    let archive = {
        use client_sdk::BackupSource;
        let types = exporter.capabilities().types;
        let mut stream = exporter.export(&types[0]).await.unwrap();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.unwrap());
        }
        bytes
    };
    let sha256 = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&archive))
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = client_sdk::router(client_sdk::Directory::new("notes", &data), e2e::apps::TOKEN.to_owned().into());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    // Half the archive, then nothing more: the upload is under way when it is dropped.
    let half = bytes::Bytes::copy_from_slice(&archive[..archive.len() / 2]);
    let body = futures::stream::iter([Ok::<_, std::io::Error>(half)]).chain(futures::stream::pending());
    let upload = web::client()
        .post(format!("{url}/backup/import"))
        .bearer_auth(e2e::apps::TOKEN)
        .header(contract_spec::HEADER_BACKUP_TYPE, "full")
        .header(contract_spec::HEADER_BACKUP_SHA256, &sha256)
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let upload = tokio::spawn(upload);
    eventually(Duration::from_secs(30), "the app stages the import", || async { staged(&root).is_some() }).await;
    upload.abort();
    let _ = upload.await;

    eventually(Duration::from_secs(30), "the app drops what it staged", || async { staged(&root).is_none() }).await;
    assert_eq!(read_tree(&data), before, "the folder is as it was");
    server.abort();
    std::fs::remove_dir_all(&root).unwrap();
}

/// The folder the directory source stages an import in, beside its target, while there is one.
fn staged(root: &Path) -> Option<std::path::PathBuf> {
    std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(".data.incoming-")))
}
