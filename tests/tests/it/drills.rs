//! Restore drills, black-box: the SDK's directory example checks a copy through
//! `POST /backup/verify` (and fails a corrupt one with its own words), a drill restores a copy
//! into a scratch app, an encrypted copy with no identity is never counted as drilled, and the
//! conformance kit flags an app that advertises verify but passes garbage.

use std::path::{Path, PathBuf};
use std::time::Duration;

use contract_spec::conformance::{self, Options, Outcome};
use contract_spec::{BackupType, Capabilities, VerifyCheck, VerifyReport};
use e2e::apps::{RunningApp, TOKEN};
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::receivers::Recorder;
use e2e::web::{element_text, get_json, get_with_token, sign_in};
use futures::StreamExt;
use reqwest::StatusCode;

use crate::sdk_examples::{read_tree, write_tree};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("e2e-{name}-{}", e2e::harness::unique()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn directory_app(dir: &Path, restore_into: Option<&Path>) -> RunningApp {
    let mut args = vec!["--dir", dir.to_str().unwrap()];
    if let Some(target) = restore_into {
        args.extend_from_slice(&["--restore-into", target.to_str().unwrap()]);
    }
    RunningApp::start("directory", &args, &[]).await
}

/// Replaces a stored copy on a local folder by `bytes` and makes its marks agree (as if the app
/// had exported them): nothing but reading the copy as a restore would can tell.
fn corrupt_consistently(copy: &Path, bytes: &[u8]) {
    use sha2::Digest;
    std::fs::write(copy, bytes).unwrap();
    let props = PathBuf::from(format!("{}.props.json", copy.display()));
    let mut marks: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&props).unwrap()).unwrap();
    marks.insert("sha256".into(), hex::encode(sha2::Sha256::digest(bytes)).into());
    marks.insert("size".into(), bytes.len().to_string().into());
    std::fs::write(&props, serde_json::to_vec(&marks).unwrap()).unwrap();
}

#[tokio::test]
async fn a_drill_through_verify_passes_a_good_copy_and_fails_a_corrupt_one_with_the_apps_words() {
    let h = Harness::local().await;
    let root = temp_dir("drill");
    write_tree(&root.join("notes"));
    let app = directory_app(&root.join("notes"), None).await;
    h.add_app("notes", &app.url, "notes", &[]).await;
    let good = h.backup("notes", &[]).await;
    let bad = h.backup("notes", &[]).await;
    corrupt_consistently(&h.dir().join("backups/notes").join(&bad), b"this is not a tar.gz at all");

    let served = h.start(&[("METRICS_TOKEN", "scrape-me")]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let hooks = Recorder::start(0).await;
    session.add_failure_webhook("on-call", &format!("{}/hook", hooks.url)).await;
    let page = session.page("/apps/notes").await;
    assert!(element_text(&page, "proven").unwrap().contains("No copy has been proven"), "{page}");
    let health = element_text(&page, "app-health").unwrap_or_else(|| panic!("the app's health is shown: {page}"));
    assert!(health.contains("files 3"), "the directory source reports its folder: {health}");

    // The newest copy is the corrupt one: named, the good one passes.
    let passed = h.cli(&["drill", "notes", "--copy", &good]).await;
    passed.assert_success();
    let text = passed.stdout_text();
    assert!(text.contains("ok: the archive reads to its end"), "{text}");
    assert!(text.contains(&format!("passed: {good} would restore (checked by the app's verify")), "{text}");
    assert_eq!(read_tree(&root.join("notes")).len(), 3, "a drill changes nothing in the app");

    let failed = h.cli(&["drill", "notes", "--copy", &bad]).await;
    assert_eq!(failed.status.code(), Some(1), "{}", failed.stdout_text());
    assert!(failed.stdout_text().contains("FAILED: the archive reads to its end"), "{}", failed.stdout_text());
    assert!(
        failed.stderr.contains("notes says the copy would not restore: the archive reads to its end"),
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains("gzip"), "tar's own words: {}", failed.stderr);
    let told = hooks.wait_for(Duration::from_secs(30), |seen| !seen.is_empty()).await;
    let notice = told[0].json();
    assert_eq!(notice["event"], "drill", "{notice}");
    assert!(notice["summary"].as_str().unwrap().contains(&format!("the restore drill of {bad} failed")), "{notice}");

    // The page says when a copy was last proven restorable, and lists both drills.
    let page = session.page("/apps/notes").await;
    let proven = element_text(&page, "proven").unwrap();
    assert!(proven.contains(&good) && proven.contains("checked by the app"), "{proven}");
    assert!(page.contains("id=\"drills\"") && page.contains("status-failed"), "{page}");
    let (_, metrics) = get_with_token(&format!("{}/metrics", served.url), "scrape-me").await;
    assert!(metrics.contains("backup_last_drill_success_timestamp_seconds{app=\"notes\"}"), "{metrics}");

    // Through the API: the drill is queued as a job, runs, and carries the app's report.
    let created = h.cli(&["tokens", "create", "drills"]).await;
    let token = created.stdout_text().trim().to_owned();
    let http = reqwest::Client::new();
    let started = http
        .post(format!("{}/api/v1/apps/notes/drills", served.url))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "copy": good }))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let id = started.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();
    let mut view = serde_json::Value::Null;
    for _ in 0..100 {
        view = get_json(&format!("{}/api/v1/restores/{id}", served.url), &token).await;
        if view["status"] != "queued" && view["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!((view["status"].as_str(), view["kind"].as_str()), (Some("succeeded"), Some("drill")), "{view}");
    assert_eq!(view["report"]["ok"], true, "{view}");
    let bad_target = http
        .post(format!("{}/api/v1/apps/notes/drills", served.url))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "drill_target": "nope" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_target.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let history = get_json(&format!("{}/api/v1/apps/notes/drills", served.url), &token).await;
    assert_eq!(history.as_array().unwrap().len(), 3, "{history}");
    served.stop().await;
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn a_drill_into_a_scratch_app_restores_the_copy_there_without_a_safety_backup() {
    let h = Harness::local().await;
    let root = temp_dir("scratch");
    write_tree(&root.join("prod"));
    std::fs::create_dir_all(root.join("scratch")).unwrap();
    std::fs::write(root.join("scratch/old.txt"), "scratch data").unwrap();
    let prod = directory_app(&root.join("prod"), None).await;
    let scratch = directory_app(&root.join("scratch"), None).await;
    h.add_app("erp", &prod.url, "erp", &[]).await;
    h.add_app("erp-scratch", &scratch.url, "erp-scratch", &[]).await;
    let copy = h.backup("erp", &[]).await;

    let drilled = h.cli(&["drill", "erp", "--drill-target", "erp-scratch"]).await;
    drilled.assert_success();
    assert!(drilled.stdout_text().contains(&format!("passed: {copy} would restore (restored into a scratch app")));
    assert_eq!(read_tree(&root.join("scratch")), read_tree(&root.join("prod")), "the scratch app holds the copy");
    assert!(h.stored_files("erp-scratch").is_empty(), "no safety backup of the scratch app was taken");
    let unknown = h.cli(&["drill", "erp", "--drill-target", "nope"]).await;
    assert!(!unknown.status.success());
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn an_encrypted_copy_with_no_identity_here_is_not_drilled_and_never_counts_as_passed() {
    let mut h = Harness::local().await;
    let kit = h.cli(&["keys", "new"]).await;
    kit.assert_success();
    let recipient = kit
        .stdout_text()
        .lines()
        .find_map(|l| l.split_once("ENCRYPTION_RECIPIENTS=").map(|(_, r)| r.trim().to_owned()))
        .expect("the recipient");
    h.set("ENCRYPTION_RECIPIENTS", &recipient);
    let root = temp_dir("sealed");
    write_tree(&root.join("vault"));
    let app = directory_app(&root.join("vault"), None).await;
    h.add_app("vault", &app.url, "vault", &[]).await;
    let copy = h.backup("vault", &[]).await;
    assert!(copy.ends_with(".age"), "{copy}");

    let drilled = h.cli(&["drill", "vault"]).await;
    assert_eq!(drilled.status.code(), Some(1));
    assert!(drilled.stderr.contains("not drilled: no identity"), "{}", drilled.stderr);
    let served = h.start(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let page = session.page("/apps/vault").await;
    assert!(element_text(&page, "proven").unwrap().contains("No copy has been proven"), "never counted: {page}");
    assert!(page.contains("not drilled: no identity"), "{page}");
    served.stop().await;
    std::fs::remove_dir_all(&root).unwrap();
}

/// How a verify that proves nothing answers, having read the whole copy.
#[derive(Clone, Copy)]
enum Lie {
    /// ok to anything, garbage included.
    Anything,
    /// ok, with a byte count one short.
    ShortCount,
    /// ok, without a single check.
    NoChecks,
}

/// An app that advertises verify but answers as `Lie` says.
struct Lax(Lie);

impl client_sdk::BackupSource for Lax {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new("lax", [BackupType::new("full", "application/octet-stream", "bin").with_verify()])
    }

    async fn export(&self, _: &BackupType) -> Result<client_sdk::ExportStream, client_sdk::SourceError> {
        let chunks = (0..4).map(|i| Ok(bytes::Bytes::from(vec![i as u8; 16 * 1024])));
        Ok(Box::pin(futures::stream::iter(chunks)))
    }

    async fn verify(
        &self,
        _: &BackupType,
        mut body: client_sdk::ImportStream,
    ) -> Result<VerifyReport, client_sdk::SourceError> {
        let mut bytes = 0u64;
        while let Some(chunk) = body.next().await {
            bytes += chunk?.len() as u64;
        }
        let checks = vec![VerifyCheck::passed("looked at it", None)];
        Ok(match self.0 {
            Lie::Anything => VerifyReport::of(bytes, checks),
            Lie::ShortCount => VerifyReport::of(bytes - 1, checks),
            Lie::NoChecks => VerifyReport { ok: true, bytes, checks: Vec::new(), details: None },
        })
    }
}

/// Serves `source` with the SDK on a free port; its base URL.
async fn serve(source: Lax) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = client_sdk::router(source, TOKEN.to_owned().into());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

#[tokio::test]
async fn the_kit_flags_an_app_that_advertises_verify_but_passes_garbage_and_passes_one_that_checks() {
    let url = serve(Lax(Lie::Anything)).await;
    let report = conformance::check(&e2e::apps::client(&url, TOKEN), &Options::default()).await;
    let garbage = report.get("verify of garbage (full)").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(garbage.outcome, Outcome::Fail, "{report}");
    assert!(garbage.detail.contains("passed 256 KiB of garbage"), "{report}");
    assert_eq!(report.get("verify with a wrong Backup-Sha256 (full)").map(|f| f.outcome), Some(Outcome::Pass));
    assert!(!report.passed());

    let root = temp_dir("kit-verify");
    write_tree(&root.join("docs"));
    let app = directory_app(&root.join("docs"), None).await;
    let report = conformance::check(&app.client(), &Options::default()).await;
    assert!(report.passed(), "{report}");
    assert_eq!(report.get("verify of garbage (full)").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
    assert_eq!(report.get("verify of an export (full)").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn a_drill_schedule_drills_the_app_on_its_own_and_a_long_unproven_app_is_told_once() {
    let h = Harness::local().await;
    let root = temp_dir("scheduled");
    write_tree(&root.join("wiki"));
    write_tree(&root.join("crm"));
    let wiki = directory_app(&root.join("wiki"), None).await;
    let crm = directory_app(&root.join("crm"), None).await;
    h.add_app("wiki", &wiki.url, "wiki", &["--drill-schedule", "* * * * *", "--drill-copy", "random"]).await;
    h.add_app("crm", &crm.url, "crm", &["--drill-schedule", "0 5 1 1 *"]).await;
    h.backup("wiki", &[]).await;
    h.backup("crm", &[]).await;

    // Bad drill settings are refused with the field named, and change nothing.
    let bad = h.cli(&["apps", "edit", "wiki", "--drill-schedule", "61 * * * *", "--drill-copy", "oldest"]).await;
    assert!(!bad.status.success());
    assert!(bad.stderr.contains("drill_schedule") && bad.stderr.contains("drill_copy"), "{}", bad.stderr);
    let shown = h.cli(&["apps", "show", "wiki"]).await.stdout_text();
    assert!(shown.contains("restore drills: * * * * * (UTC), random copy"), "{shown}");

    // crm has not been proven restorable since its schedule was set, a year ago.
    let db = h.db().await;
    let year_ago = orchestrator::db::now_ms() - 365 * 24 * 3600 * 1000;
    use sea_orm::ConnectionTrait;
    db.execute_unprepared(&format!("UPDATE apps SET updated_at = {year_ago} WHERE name = 'crm'")).await.unwrap();

    let served = h.start(&[("DRILL_MAX_AGE_DAYS", "7"), ("ALERT_CHECK_SECS", "1")]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let hooks = Recorder::start(0).await;
    session.add_failure_webhook("on-call", &format!("{}/hook", hooks.url)).await;
    let dashboard = session.page("/").await;
    assert_eq!(element_text(&dashboard, "total-never-drilled").as_deref(), Some("2"), "{dashboard}");

    // Within a minute the schedule fires: a drill by the schedule, passed.
    let mut proven = String::new();
    for _ in 0..150 {
        proven = element_text(&session.page("/apps/wiki").await, "proven").unwrap_or_default();
        if proven.contains("Last proven restorable") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(proven.contains("Last proven restorable") && proven.contains("checked by the app"), "{proven}");
    let audit_log = session.page("/audit").await;
    assert!(audit_log.contains("<code>drill.start</code>") && audit_log.contains(">schedule<"), "{audit_log}");

    let told = hooks
        .wait_for(Duration::from_secs(30), |seen| {
            seen.iter()
                .any(|r| r.json()["summary"].as_str().is_some_and(|s| s.contains("crm: no copy proven restorable")))
        })
        .await;
    let overdue: Vec<_> =
        told.iter().filter(|r| r.json()["summary"].as_str().unwrap().contains("no copy proven")).collect();
    assert_eq!(overdue.len(), 1, "{told:?}");
    assert!(overdue[0].json()["summary"].as_str().unwrap().contains("for 7 days"), "{:?}", overdue[0].json());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again =
        hooks.received().iter().filter(|r| r.json()["summary"].as_str().unwrap().contains("no copy proven")).count();
    assert_eq!(again, 1, "told once per spell, not at every check");
    let dashboard = session.page("/").await;
    assert_eq!(element_text(&dashboard, "total-never-drilled").as_deref(), Some("1"), "{dashboard}");
    served.stop().await;
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn an_ok_that_does_not_prove_the_whole_copy_is_not_a_passed_drill() {
    let h = Harness::local().await;
    for (name, lie) in [("short", Lie::ShortCount), ("empty", Lie::NoChecks)] {
        let url = serve(Lax(lie)).await;
        h.add_app(name, &url, name, &[]).await;
        h.backup(name, &[]).await;
        let drilled = h.cli(&["drill", name]).await;
        assert_eq!(drilled.status.code(), Some(1), "{}", drilled.stdout_text());
        assert!(drilled.stderr.contains("not proven: the app answered ok"), "{}", drilled.stderr);
        let expected = match lie {
            Lie::NoChecks => "without checks that all passed",
            _ => "after checking 65535 bytes of 65536",
        };
        assert!(drilled.stderr.contains(expected), "{}", drilled.stderr);
    }
}

#[tokio::test]
async fn on_drive_a_drill_passes_a_good_copy_and_fails_a_corrupt_one_whose_marks_agree() {
    use sha2::Digest;
    let h = Harness::sqlite().await;
    let root = temp_dir("drive-drill");
    write_tree(&root.join("docs"));
    let app = directory_app(&root.join("docs"), None).await;
    let folder = h.folder("docs");
    h.add_app("docs", &app.url, &folder, &[]).await;
    let good = h.backup("docs", &[]).await;
    let bad = h.backup("docs", &[]).await;
    // Replaced in Drive, and its marks made to agree: only reading it as a restore would tells.
    let id = h.double.files_in(&folder).into_iter().find(|f| f.name == bad).unwrap().id;
    let garbage = b"not an archive, but recorded as one";
    h.double.replace_content(&id, garbage);
    h.double.set_app_property(&id, "sha256", &hex::encode(sha2::Sha256::digest(garbage)));
    h.double.set_app_property(&id, "size", &garbage.len().to_string());
    let audited = h.cli(&["audit", "docs"]).await;
    audited.assert_success();

    let passed = h.cli(&["drill", "docs", "--copy", &good]).await;
    passed.assert_success();
    assert!(passed.stdout_text().contains(&format!("passed: {good} would restore")), "{}", passed.stdout_text());
    let failed = h.cli(&["drill", "docs"]).await;
    assert_eq!(failed.status.code(), Some(1), "the newest copy is the corrupt one: {}", failed.stdout_text());
    assert!(
        failed.stderr.contains("docs says the copy would not restore: the archive reads to its end"),
        "{}",
        failed.stderr
    );
    std::fs::remove_dir_all(&root).unwrap();
}
