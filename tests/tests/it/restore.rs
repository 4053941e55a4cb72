//! `orchestrator restore`: a copy streamed from the Drive double back into a real app — the
//! `directory` example, which restores a folder from a tar.gz, or an SDK app that offers no
//! restore. A refusal changes nothing; a failed import is recorded with the app's own words.

use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e::apps::RunningApp;
use e2e::harness::Harness;
use e2e::postgres::TestPostgres;
use e2e::sdk_apps::{self, Behaviour};
use orchestrator::db::entities::{audit_entry, backup_run, restore};
use sea_orm::{EntityTrait, QueryOrder};
use sha2::{Digest, Sha256};

use crate::sdk_examples::{read_tree, write_tree};

/// An installation with the `directory` example registered as `name`, backing up a folder of
/// its own into a Drive folder of its own.
struct Setup {
    h: Harness,
    _app: RunningApp,
    name: &'static str,
    data: PathBuf,
    folder: String,
}

async fn directory_app(name: &'static str, extra: &[&str]) -> Setup {
    directory_app_in(Harness::sqlite().await, name, extra).await
}

async fn directory_app_in(h: Harness, name: &'static str, extra: &[&str]) -> Setup {
    let data = h.dir().join(name);
    write_tree(&data);
    let app = RunningApp::start("directory", &["--dir", data.to_str().unwrap()], &[]).await;
    let folder = h.folder(name);
    h.add_app(name, &app.url, &folder, extra).await;
    Setup { h, _app: app, name, data, folder }
}

impl Setup {
    /// Backs the app up; returns the copy's name.
    async fn backup(&self) -> String {
        let out = self.h.cli(&["run", self.name]).await;
        out.assert_success();
        out.field("file").unwrap()
    }

    /// The app's id, as its copies' properties say.
    fn app_id(&self) -> String {
        self.h.double.files_in(&self.folder)[0].app_properties["app_id"].clone()
    }
}

/// Changes a file, deletes one and adds one.
fn change_tree(root: &Path) {
    std::fs::write(root.join("a.txt"), "changed after the backup\n").unwrap();
    std::fs::remove_file(root.join("sub/deeper/c.txt")).unwrap();
    std::fs::write(root.join("new.txt"), "added after the backup\n").unwrap();
}

async fn restores(h: &Harness) -> Vec<restore::Model> {
    restore::Entity::find().order_by_asc(restore::Column::Id).all(&h.db().await).await.unwrap()
}

async fn runs(h: &Harness) -> Vec<backup_run::Model> {
    backup_run::Entity::find().order_by_asc(backup_run::Column::Id).all(&h.db().await).await.unwrap()
}

async fn audit(h: &Harness) -> Vec<audit_entry::Model> {
    audit_entry::Entity::find().order_by_asc(audit_entry::Column::Id).all(&h.db().await).await.unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn round_trip(s: &Setup) {
    let original = read_tree(&s.data);
    let copy = s.backup().await;
    change_tree(&s.data);
    assert_ne!(read_tree(&s.data), original);

    let out = s.h.cli(&["restore", s.name, &copy]).await;
    out.assert_success();
    assert_eq!(read_tree(&s.data), original, "the folder is exactly as it was backed up");
    assert!(out.stdout_text().contains(&format!("restored {} from {copy}", s.name)), "{}", out.stdout_text());
    assert!(out.stderr.contains("[import]"), "progress is shown on stderr: {}", out.stderr);

    let stored = s.h.double.files_in(&s.folder).into_iter().find(|f| f.name == copy).unwrap();
    assert_eq!(out.field("sha256").as_deref(), Some(stored.sha256.as_str()));
    let rows = restores(&s.h).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!((row.status.as_str(), row.phase.map(|p| p.as_str())), ("succeeded", Some("done")));
    assert_eq!((row.copy_name.as_str(), row.copy_file_id.as_str()), (copy.as_str(), stored.id.as_str()));
    assert_eq!(row.bytes, stored.size as i64);
    assert_eq!(row.total_bytes, stored.size as i64);
    assert_eq!(row.actor, "cli");
    assert!(row.error.is_none() && row.finished_at.is_some());

    let entries = audit(&s.h).await;
    let actions: Vec<(&str, &str, Option<&str>)> =
        entries.iter().map(|e| (e.action.as_str(), e.actor.as_str(), e.target.as_deref())).collect();
    assert_eq!(actions, [("restore.start", "cli", Some(s.name)), ("restore.finish", "cli", Some(s.name))]);
    assert!(entries[1].detail.as_deref().unwrap_or_default().contains("succeeded"), "{:?}", entries[1].detail);
}

#[tokio::test]
async fn restoring_a_copy_puts_the_folder_back_exactly() {
    round_trip(&directory_app("notes", &[]).await).await;
}

#[tokio::test]
async fn restoring_a_copy_puts_the_folder_back_exactly_on_postgres() {
    let Some(pg) = TestPostgres::from_env("restoring_a_copy_puts_the_folder_back_exactly_on_postgres") else { return };
    let database = pg.create_database("orch_restore");
    let s = directory_app_in(Harness::postgres(pg.url_for(&database)).await, "notes", &[]).await;
    round_trip(&s).await;
    drop(s);
    pg.drop_database(&database);
}

#[tokio::test]
async fn a_safety_backup_is_taken_first_unless_asked_not_to() {
    // keep-last 1: the safety backup must not push out the copy about to be restored.
    let s = directory_app("wiki", &["--keep-last", "1"]).await;
    let original = read_tree(&s.data);
    let copy = s.backup().await;
    change_tree(&s.data);
    let changed = read_tree(&s.data);

    let out = s.h.cli(&["restore", "wiki", &copy]).await;
    out.assert_success();
    assert_eq!(read_tree(&s.data), original);
    let all_runs = runs(&s.h).await;
    assert_eq!(all_runs.len(), 2);
    let safety = &all_runs[1];
    assert_eq!((safety.trigger.as_str(), safety.status.as_str()), ("safety", "succeeded"));
    assert_eq!(safety.pruned, None, "a safety backup prunes nothing");
    let files = s.h.double.files_in(&s.folder);
    assert_eq!(files.len(), 2, "the restored copy and the safety copy");
    let safety_file = files.iter().find(|f| Some(&f.id) == safety.file_id.as_ref()).expect("the safety copy is stored");
    assert_eq!(safety_file.app_properties.get("verified").map(String::as_str), Some("1"));
    let shown = out.field("safety backup").unwrap();
    assert!(shown.starts_with(&safety_file.name) && shown.contains(&format!("run {}", safety.id)), "{shown}");
    assert_eq!(restores(&s.h).await[0].safety_run_id, Some(safety.id));

    // The safety copy holds the state from before the restore; restoring it takes no new backup.
    let out = s.h.cli(&["restore", "wiki", &safety_file.id, "--no-safety-backup"]).await;
    out.assert_success();
    assert_eq!(read_tree(&s.data), changed);
    assert_eq!(out.field("safety backup").as_deref(), Some("none"));
    assert_eq!(runs(&s.h).await.len(), 2, "no backup was run");
    assert_eq!(s.h.double.files_in(&s.folder).len(), 2, "no copy was made");
    let second = &restores(&s.h).await[1];
    assert_eq!((second.status.as_str(), second.safety_run_id), ("succeeded", None));
}

#[tokio::test]
async fn an_app_that_does_not_offer_restore_is_refused_and_nothing_is_sent() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(Behaviour::Good { size: 200_000, delay: Duration::ZERO }, 21).await;
    let folder = h.folder("ledger");
    h.add_app("ledger", &app.url, &folder, &[]).await;
    let out = h.cli(&["run", "ledger"]).await;
    out.assert_success();
    let copy = out.field("file").unwrap();
    let seen_before = app.requests().len();

    let out = h.cli(&["restore", "ledger", &copy]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("restore of ledger refused")
            && out.stderr.contains("ledger does not accept restores")
            && out.stderr.contains("restore: false"),
        "{}",
        out.stderr
    );
    assert_eq!(app.requests()[seen_before..], ["GET /backup/capabilities"], "only asked what the app offers");
    assert!(restores(&h).await.is_empty());
    assert_eq!(runs(&h).await.len(), 1, "no safety backup");
    assert_eq!(h.double.files_in(&folder).len(), 1);
    assert!(audit(&h).await.is_empty());
}

#[tokio::test]
async fn copies_that_cannot_be_restored_are_refused_clearly() {
    let s = directory_app("photos", &[]).await;
    s.backup().await;
    change_tree(&s.data);
    let changed = read_tree(&s.data);
    let app_id = s.app_id();
    let bytes = s.h.double.content(&s.h.double.files_in(&s.folder)[0].id).unwrap();
    let sha = sha256_hex(&bytes);
    s.h.double.add_file(&s.folder, "photos_full_20200101_000000Z_90.tar.gz", &bytes, &[]);
    let unverified = [("app_id", app_id.as_str()), ("sha256", sha.as_str()), ("type", "full")];
    s.h.double.add_file(&s.folder, "photos_full_20200101_000000Z_91.tar.gz", &bytes, &unverified);

    let cases = [
        ("photos_full_20990101_000000Z_1.tar.gz", "there is no copy named \"photos_full_20990101_000000Z_1.tar.gz\""),
        ("photos_full_20200101_000000Z_90.tar.gz", "is not a copy made for photos"),
        ("photos_full_20200101_000000Z_91.tar.gz", "was never verified"),
    ];
    for (name, reason) in cases {
        let out = s.h.cli(&["restore", "photos", name]).await;
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(
            out.stderr.contains("restore of photos refused") && out.stderr.contains(reason),
            "{name}: {}",
            out.stderr
        );
    }
    assert_eq!(read_tree(&s.data), changed, "the app's data is untouched");
    assert!(restores(&s.h).await.is_empty());
    assert_eq!(runs(&s.h).await.len(), 1, "no safety backup");
    assert_eq!(s.h.double.files_in(&s.folder).len(), 3);
}

#[tokio::test]
async fn a_failing_import_is_recorded_as_a_failed_restore_with_the_apps_message() {
    let s = directory_app("forms", &[]).await;
    let copy = s.backup().await;
    change_tree(&s.data);
    let changed = read_tree(&s.data);
    let app_id = s.app_id();

    // A verified copy whose bytes the app cannot extract: the app's own error is recorded.
    let junk = b"these bytes are not a tar.gz archive".repeat(100);
    let junk_sha = sha256_hex(&junk);
    let props = [("app_id", app_id.as_str()), ("sha256", junk_sha.as_str()), ("type", "full"), ("verified", "1")];
    s.h.double.add_file(&s.folder, "forms_full_20200101_000000Z_80.tar.gz", &junk, &props);
    let out = s.h.cli(&["restore", "forms", "forms_full_20200101_000000Z_80.tar.gz", "--no-safety-backup"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("failed during import") && out.stderr.contains("500 import_failed"), "{}", out.stderr);
    assert_eq!(read_tree(&s.data), changed, "a failed import leaves the folder as it was");
    let row = restores(&s.h).await.pop().unwrap();
    assert_eq!((row.status.as_str(), row.phase.map(|p| p.as_str())), ("failed", Some("import")));
    let error = row.error.unwrap_or_default();
    assert!(error.contains("500 import_failed") && error.contains("tar"), "the app's message: {error}");
    assert!(row.finished_at.is_some());

    // A copy whose bytes no longer match the checksum recorded with it: the app refuses it.
    let good = s.h.double.files_in(&s.folder).into_iter().find(|f| f.name == copy).unwrap();
    let content = s.h.double.content(&good.id).unwrap();
    let wrong = "0".repeat(64);
    let props = [("app_id", app_id.as_str()), ("sha256", wrong.as_str()), ("type", "full"), ("verified", "1")];
    s.h.double.add_file(&s.folder, "forms_full_20200101_000000Z_81.tar.gz", &content, &props);
    let out = s.h.cli(&["restore", "forms", "forms_full_20200101_000000Z_81.tar.gz", "--no-safety-backup"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("422 checksum_mismatch") && out.stderr.contains("it is damaged, restore another copy"),
        "{}",
        out.stderr
    );
    assert_eq!(read_tree(&s.data), changed);
    let row = restores(&s.h).await.pop().unwrap();
    assert_eq!(row.status.as_str(), "failed");
    assert!(row.error.unwrap_or_default().contains("checksum_mismatch"));
    let last = audit(&s.h).await.pop().unwrap();
    assert_eq!(last.action, "restore.finish");
    assert!(last.detail.unwrap_or_default().contains("failed during import"));
}

#[tokio::test]
async fn a_256_mib_copy_streams_into_the_app_with_bounded_memory() {
    const MIB: u64 = 1024 * 1024;
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn_restorable(Behaviour::Good { size: 1, delay: Duration::ZERO }, 41).await;
    let folder = h.folder("archive");
    h.add_app("archive", &app.url, &folder, &[]).await;
    let db = h.db().await;
    let app_id = orchestrator::db::entities::app::Entity::find().one(&db).await.unwrap().unwrap().id.to_string();
    // Copies put straight into the folder, as a run would have left them.
    let put = |name: &str, size: u64| {
        let mut bytes = vec![0u8; size as usize];
        e2e::cli::generate(&mut (size | 1), &mut bytes);
        let sha = sha256_hex(&bytes);
        let props = [("app_id", app_id.as_str()), ("sha256", sha.as_str()), ("type", "full"), ("verified", "1")];
        h.double.add_file(&folder, name, &bytes, &props);
    };
    put("archive_full_20200101_000000Z_1.bin", MIB);
    put("archive_full_20200102_000000Z_2.bin", 256 * MIB);

    let small = h.cli(&["restore", "archive", "archive_full_20200101_000000Z_1.bin", "--no-safety-backup"]).await;
    small.assert_success();
    let big = h.cli(&["restore", "archive", "archive_full_20200102_000000Z_2.bin", "--no-safety-backup"]).await;
    big.assert_success();
    assert_eq!(big.field("size").as_deref(), Some(format!("{} bytes", 256 * MIB).as_str()));
    let (baseline, peak) = (small.peak_rss_kib, big.peak_rss_kib);
    eprintln!("restore peak RSS: {baseline} KiB for 1 MiB, {peak} KiB for 256 MiB");
    assert!(peak <= baseline + 16 * 1024, "peak RSS grew from {baseline} KiB to {peak} KiB restoring 256 MiB");
}
