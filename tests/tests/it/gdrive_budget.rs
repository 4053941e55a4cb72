//! Drive's daily upload budget end to end: what each account uploaded is counted in the database,
//! a run past the budget waits (neither failed nor retried, nothing asked of its app), a run Drive
//! stops at its cap waits too, and both succeed by themselves once the budget frees.

use std::time::Duration;

use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::postgres::TestPostgres;
use e2e::receivers::Recorder;
use e2e::sdk_apps::{self, Behaviour};
use e2e::web::{self, WebSession, sign_in};
use orchestrator::db::entities::drive_upload;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use crate::scheduling::eventually;

const MIB: u64 = 1024 * 1024;
/// Longer than a test needs to look at a waiting run, short enough to wait out.
const WINDOW: &str = "20s";
const PATIENCE: Duration = Duration::from_secs(120);

async fn api_get(url: &str, token: &str, path: &str) -> Value {
    web::client().get(format!("{url}{path}")).bearer_auth(token).send().await.unwrap().json().await.unwrap()
}

async fn run_now(url: &str, token: &str, app: &str) -> i64 {
    let response = web::client().post(format!("{url}/api/v1/apps/{app}/runs")).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
    response.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn run_view(url: &str, token: &str, id: i64) -> Value {
    api_get(url, token, &format!("/api/v1/runs/{id}")).await
}

async fn until_status(url: &str, token: &str, id: i64, status: &str) -> Value {
    eventually(PATIENCE, &format!("run {id} is {status}"), || async {
        let run = run_view(url, token, id).await;
        assert_ne!(run["status"], "failed", "the run must not fail: {run}");
        run["status"] == status
    })
    .await;
    run_view(url, token, id).await
}

/// A ping channel for `app`, so the test can tell whether a failure was announced.
async fn ping_channel(session: &WebSession, app: &str, pings: &Recorder) {
    let channel = session
        .post(
            "/notifications",
            &[
                ("kind", "ping"),
                ("name", "healthchecks"),
                ("app", app),
                ("ping_start", &format!("{}/ping/start", pings.url)),
                ("ping_success", &format!("{}/ping", pings.url)),
                ("ping_fail", &format!("{}/ping/fail", pings.url)),
            ],
        )
        .await;
    assert_eq!(channel.status(), reqwest::StatusCode::SEE_OTHER);
}

/// A page as a browser set to Spanish gets it.
async fn in_spanish(url: &str, session: &WebSession, path: &str) -> String {
    let response = web::client()
        .get(format!("{url}{path}"))
        .header("cookie", &session.cookie)
        .header("accept-language", "es")
        .send();
    response.await.unwrap().text().await.unwrap()
}

fn failure_pings(pings: &Recorder) -> Vec<String> {
    pings.received().into_iter().map(|r| r.path).filter(|p| p.contains("fail")).collect()
}

#[tokio::test]
async fn gdrive_a_run_past_the_upload_budget_waits_uploads_nothing_and_succeeds_when_the_window_frees() {
    past_the_budget(Harness::sqlite().await).await;
}

#[tokio::test]
async fn gdrive_a_run_past_the_upload_budget_waits_on_postgres_too() {
    let Some(pg) = TestPostgres::from_env("gdrive_a_run_past_the_upload_budget_waits_on_postgres_too") else {
        return;
    };
    let database = pg.create_database("budget");
    past_the_budget(Harness::postgres(pg.url_for(&database)).await).await;
    pg.drop_database(&database);
}

async fn past_the_budget(h: Harness) {
    let big = sdk_apps::spawn(Behaviour::Good { size: 2 * MIB, delay: Duration::ZERO }, 61).await;
    let small = sdk_apps::spawn(Behaviour::Good { size: MIB, delay: Duration::ZERO }, 62).await;
    let (big_folder, small_folder) = (h.folder("alpha"), h.folder("beta"));
    h.add_app("alpha", &big.url, &big_folder, &[]).await;
    h.add_app("beta", &small.url, &small_folder, &[]).await;
    let budget = [("GDRIVE_DAILY_UPLOAD_LIMIT", "1MB"), ("GDRIVE_DAILY_UPLOAD_WINDOW", WINDOW)];
    let served = h.serve(&budget).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("budget").await;
    let pings = Recorder::start(0).await;
    ping_channel(&session, "beta", &pings).await;

    let stats = api_get(&served.url, &token, "/api/v1/stats").await;
    let fresh = &stats["drive_budget"];
    assert_eq!(fresh["used_bytes"], 0, "{stats}");
    assert_eq!((fresh["limit_bytes"].as_u64(), fresh["window_seconds"].as_u64()), (Some(1_000_000), Some(20)));
    assert_eq!(fresh["spent"], false);
    assert_eq!(fresh["account"], h.double.service_account_email());

    // The first run is under the budget when it starts: it crosses it, and is let finish.
    let first = run_now(&served.url, &token, "alpha").await;
    until_status(&served.url, &token, first, "succeeded").await;
    let stats = api_get(&served.url, &token, "/api/v1/stats").await;
    let budget = &stats["drive_budget"];
    assert_eq!(budget["used_bytes"].as_u64(), Some(2 * MIB), "what Drive took is counted: {stats}");
    assert_eq!(budget["spent"], true, "{stats}");
    assert!(budget["frees_at"].is_string(), "{stats}");

    // The second waits, before its app is asked for anything.
    let second = run_now(&served.url, &token, "beta").await;
    let waiting = until_status(&served.url, &token, second, "waiting").await;
    let reason = waiting["error"].as_str().unwrap_or_default().to_owned();
    assert!(reason.starts_with("waiting for Drive's daily upload budget"), "{waiting}");
    assert!(reason.contains("of 1 MB uploaded by") && reason.contains("it frees at"), "{waiting}");
    assert_eq!(waiting["attempts"], 0, "waiting is not an attempt: {waiting}");
    // Test now meanwhile is refused, naming the run that waits.
    let again =
        web::client().post(format!("{}/api/v1/apps/beta/runs", served.url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(again.status(), reqwest::StatusCode::CONFLICT);
    let said = again.text().await.unwrap();
    assert!(said.contains(&format!("already waiting (run {second})")), "{said}");
    // A scheduled fire meanwhile does not pile up behind it.
    let db = h.db().await;
    let beta = orchestrator::db::entities::app::Entity::find()
        .filter(orchestrator::db::entities::app::Column::Name.eq("beta"))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    let fired =
        orchestrator::backup::lifecycle::create(&db, beta.id, orchestrator::backup::lifecycle::Trigger::Schedule)
            .await
            .unwrap();
    let job = orchestrator::jobs::queue::Job::Backup { run_id: fired.id, app_id: beta.id };
    orchestrator::jobs::queue::push(&db, &[(job, 0, Duration::ZERO)]).await.unwrap();
    let third = fired.id;
    let skipped = until_status(&served.url, &token, third, "skipped").await;
    assert!(
        skipped["error"].as_str().unwrap_or_default().contains(&format!("run {second} of beta is already waiting")),
        "{skipped}"
    );
    // Only the check when it was registered: nothing since.
    assert_eq!(small.requests(), ["GET /backup/capabilities"], "nothing was asked of the app since");
    assert!(h.double.files_in(&small_folder).is_empty());
    let stats = api_get(&served.url, &token, "/api/v1/stats").await;
    assert_eq!(stats["waiting"], 1, "{stats}");
    assert_eq!(stats["failures_24h"], 0, "{stats}");
    let queue = api_get(&served.url, &token, "/api/v1/queue").await;
    assert!(queue["runs"].as_array().unwrap().iter().any(|r| r["id"] == second && r["status"] == "waiting"), "{queue}");

    // The pages say so, in both languages.
    let page = session.page(&format!("/runs/{second}")).await;
    assert!(page.contains("status-waiting") && page.contains("Waiting for Drive"), "{page}");
    assert!(page.contains("id=\"run-waiting\"") && page.contains("not a failure"), "{page}");
    let queue_page = session.page("/queue").await;
    assert!(queue_page.contains(&format!("href=\"/runs/{second}\"")) && queue_page.contains("status-waiting"));
    let app_page = session.page("/apps/beta").await;
    assert!(app_page.contains("status-waiting") && app_page.contains("waiting for Drive"), "{app_page}");
    let dashboard = session.page("/").await;
    assert!(dashboard.contains("id=\"drive-budget\"") && dashboard.contains("of 1 MB in the last 20 s"), "{dashboard}");
    assert!(dashboard.contains("id=\"drive-budget-frees\""), "{dashboard}");
    let page = in_spanish(&served.url, &session, &format!("/runs/{second}")).await;
    assert!(page.contains("Esperando a Drive") && page.contains("No es un fallo"), "{page}");
    let dashboard = in_spanish(&served.url, &session, "/").await;
    assert!(dashboard.contains("Límite de subida a Drive"), "{dashboard}");

    // When the first upload leaves the window, the waiting run starts by itself and succeeds.
    let done = until_status(&served.url, &token, second, "succeeded").await;
    assert_eq!(done["attempts"], 1, "{done}");
    assert_eq!(h.double.files_in(&small_folder).len(), 1);
    assert!(failure_pings(&pings).is_empty(), "no failure was announced: {:?}", pings.received());
}

#[tokio::test]
async fn gdrive_a_run_drive_stops_at_its_daily_cap_waits_and_succeeds_once_the_cap_lifts() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(Behaviour::Good { size: 3 * MIB, delay: Duration::ZERO }, 63).await;
    let folder = h.folder("gamma");
    h.add_app("gamma", &app.url, &folder, &[]).await;
    // Our own count is far from its limit: only Drive's answer stops the run.
    let served = h.serve(&[("GDRIVE_DAILY_UPLOAD_WINDOW", WINDOW)]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("cap").await;
    let pings = Recorder::start(0).await;
    ping_channel(&session, "gamma", &pings).await;
    // The first 1 MiB chunk commits; Drive refuses the next one at its cap.
    h.double.set_daily_upload_cap(MIB);

    let id = run_now(&served.url, &token, "gamma").await;
    let waiting = until_status(&served.url, &token, id, "waiting").await;
    let reason = waiting["error"].as_str().unwrap_or_default();
    assert!(reason.contains("Drive answered that") && reason.contains("reached its daily upload limit"), "{waiting}");
    assert_eq!(waiting["attempts"], 0, "{waiting}");
    assert_eq!(waiting["bytes"], 0, "nothing of the aborted upload is shown as kept: {waiting}");
    assert!(h.double.files_in(&folder).is_empty(), "no file appeared");
    assert_eq!(h.double.open_sessions(), 0, "the upload session was cancelled");
    let exports = app.requests().iter().filter(|r| r.ends_with("/backup/export")).count();
    assert_eq!(exports, 1);
    // What Drive took before its answer counts against the account.
    let db = h.db().await;
    let counted = drive_upload::Entity::find().filter(drive_upload::Column::RunId.eq(id)).all(&db).await.unwrap();
    assert_eq!(counted.iter().map(|c| c.bytes).collect::<Vec<_>>(), [MIB as i64], "{counted:?}");
    assert_eq!(counted[0].account, h.double.service_account_email());

    h.double.set_daily_upload_cap(u64::MAX);
    let done = until_status(&served.url, &token, id, "succeeded").await;
    assert_eq!(done["attempts"], 1, "{done}");
    assert_eq!(h.double.files_in(&folder).len(), 1);
    assert_eq!(done["sha256"], sdk_apps::expected_sha256(3 * MIB, 63));
    assert!(failure_pings(&pings).is_empty(), "no failure was announced: {:?}", pings.received());
    let stats = api_get(&served.url, &token, "/api/v1/stats").await;
    assert_eq!((stats["failures_24h"].as_i64(), stats["waiting"].as_i64()), (Some(0), Some(0)), "{stats}");
}

#[tokio::test]
async fn gdrive_bad_upload_budget_settings_are_reported_with_every_other_bad_setting() {
    let h = Harness::sqlite().await;
    let bad =
        [("GDRIVE_DAILY_UPLOAD_LIMIT", "plenty"), ("GDRIVE_DAILY_UPLOAD_WINDOW", "0s"), ("MAX_BACKUP_SIZE", "huge")];
    let run = h.cli_with(&["apps", "list"], &bad).await;
    assert!(!run.status.success(), "{}", run.stderr);
    assert!(
        run.stderr.contains("GDRIVE_DAILY_UPLOAD_LIMIT=\"plenty\"") && run.stderr.contains("750GB"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("GDRIVE_DAILY_UPLOAD_WINDOW=\"0s\"") && run.stderr.contains("24h"), "{}", run.stderr);
    assert!(run.stderr.contains("MAX_BACKUP_SIZE=\"huge\""), "{}", run.stderr);
    // `off` is a valid way to stop counting.
    h.cli_with(&["apps", "list"], &[("GDRIVE_DAILY_UPLOAD_LIMIT", "off")]).await.assert_success();
}
