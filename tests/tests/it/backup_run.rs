//! `orchestrator run`: real apps built with client-sdk, the Drive double, SQLite and PostgreSQL.
//! Every fault ends with a failed run, a readable reason, no new file, no open upload session,
//! and every older backup still there.

use std::time::Duration;

use drive_double::FileInfo;
use e2e::apps::TOKEN;
use e2e::broken::{self, Fault};
use e2e::harness::Harness;
use e2e::postgres::TestPostgres;
use e2e::sdk_apps::{self, Behaviour, expected_sha256};
use orchestrator::db::entities::backup_run;
use sea_orm::{EntityTrait, QueryOrder};

const MIB: u64 = 1024 * 1024;

fn good(size: u64) -> Behaviour {
    Behaviour::Good { size, delay: Duration::ZERO }
}

async fn runs(h: &Harness) -> Vec<backup_run::Model> {
    backup_run::Entity::find().order_by_asc(backup_run::Column::Id).all(&h.db().await).await.unwrap()
}

async fn happy_path(h: &Harness) {
    let app = sdk_apps::spawn(good(3 * MIB + 11), 1).await;
    let folder = h.folder("billing");
    h.add_app("billing", &app.url, &folder, &[]).await;
    let out = h.cli(&["run", "billing"]).await;
    out.assert_success();
    let files = h.double.files_in(&folder);
    assert_eq!(files.len(), 1);
    let expected = expected_sha256(3 * MIB + 11, 1);
    assert_eq!(files[0].sha256, expected, "the file in Drive has the app's bytes");
    assert_eq!(files[0].app_properties.get("verified").map(String::as_str), Some("1"));
    assert_eq!(files[0].app_properties.get("sha256"), Some(&expected));
    assert!(files[0].name.starts_with("billing_full_") && files[0].name.ends_with(".bin"), "{}", files[0].name);
    assert_eq!(out.field("sha256"), Some(expected.clone()));
    let runs = runs(h).await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.status.as_str(), "succeeded");
    assert_eq!(run.trigger.as_str(), "cli");
    assert_eq!(run.bytes, (3 * MIB + 11) as i64);
    assert_eq!(run.sha256.as_deref(), Some(expected.as_str()));
    assert_eq!(run.file_id.as_deref(), Some(files[0].id.as_str()));
    assert_eq!(run.attempts, 1);
    assert!(run.duration_ms.is_some() && run.error.is_none());
}

#[tokio::test]
async fn a_backup_lands_in_drive_verified_on_sqlite() {
    happy_path(&Harness::sqlite().await).await;
}

#[tokio::test]
async fn a_backup_lands_in_drive_verified_on_postgres() {
    let Some(pg) = TestPostgres::from_env("a_backup_lands_in_drive_verified_on_postgres") else { return };
    let database = pg.create_database("orch_happy");
    let mut h = Harness::postgres(pg.url_for(&database)).await;
    happy_path(&h).await;
    h.set("SECRET_KEY", "another-secret-key-that-is-long-enough-000000");
    let refused = h.cli(&["apps", "list"]).await;
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("SECRET_KEY does not match"), "{}", refused.stderr);
    h.set("SECRET_KEY", "");
    let missing = h.cli(&["apps", "list"]).await;
    assert!(missing.stderr.contains("SECRET_KEY is required with PostgreSQL"), "{}", missing.stderr);
    drop(h);
    pg.drop_database(&database);
}

#[tokio::test]
async fn retention_keeps_the_newest_copies_and_never_touches_foreign_files() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(good(300_000), 2).await;
    let folder = h.folder("crm");
    let foreign = h.double.add_file(&folder, "notes-from-a-human.txt", b"keep me", &[]);
    let lookalike = h.double.add_file(&folder, "crm_full_20200101_000000Z_1.bin", b"not ours either", &[]);
    h.add_app("crm", &app.url, &folder, &["--keep-last", "3"]).await;
    let mut made = Vec::new();
    for _ in 0..5 {
        let out = h.cli(&["run", "crm"]).await;
        out.assert_success();
        made.push(out.field("file id").unwrap());
    }
    let remaining: Vec<FileInfo> = h.double.files_in(&folder);
    let names: Vec<&str> = remaining.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(remaining.len(), 5, "3 backups + 2 foreign files: {names:?}");
    for id in &made[2..] {
        assert!(remaining.iter().any(|f| &f.id == id), "the 3 newest copies remain");
    }
    for id in &made[..2] {
        assert!(h.double.file(id).unwrap().trashed, "the 2 oldest went to the trash");
    }
    assert!(remaining.iter().any(|f| f.id == foreign) && remaining.iter().any(|f| f.id == lookalike));
    let distinct: std::collections::HashSet<&String> = made.iter().collect();
    assert_eq!(distinct.len(), 5, "five runs, possibly within one second, made five copies");
    let pruned: Vec<Option<String>> = runs(&h).await.into_iter().map(|r| r.pruned).collect();
    assert_eq!(pruned.iter().filter(|p| p.is_some()).count(), 2);

    // Lowering keep-last shows what the next run would delete, and deletes nothing.
    h.cli(&["apps", "edit", "crm", "--keep-last", "1"]).await.assert_success();
    let preview = h.cli(&["retention", "crm"]).await;
    preview.assert_success();
    let text = preview.stdout_text();
    assert_eq!(text.lines().filter(|l| l.starts_with("delete ")).count(), 2, "{text}");
    assert!(text.contains("notes-from-a-human.txt (not ours)"), "{text}");
    assert_eq!(h.double.files_in(&folder).len(), 5, "a dry run deletes nothing");
}

#[tokio::test]
async fn two_runs_of_the_same_app_at_once_one_is_refused() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(Behaviour::Good { size: 2 * MIB, delay: Duration::from_millis(40) }, 3).await;
    let folder = h.folder("slow");
    h.add_app("slow", &app.url, &folder, &[]).await;
    let (a, b) = tokio::join!(h.cli(&["run", "slow"]), h.cli(&["run", "slow"]));
    let (ok, refused) = if a.status.success() { (a, b) } else { (b, a) };
    ok.assert_success();
    assert!(!refused.status.success());
    assert!(
        refused.stderr.contains("refused") && refused.stderr.contains("another backup of slow is running"),
        "{}",
        refused.stderr
    );
    assert_eq!(h.double.files_in(&folder).len(), 1);
    let statuses: Vec<String> = runs(&h).await.into_iter().map(|r| r.status.as_str().to_owned()).collect();
    assert!(statuses.contains(&"succeeded".to_owned()) && statuses.contains(&"skipped".to_owned()), "{statuses:?}");
}

/// Makes one good backup of `name`, then points the app at `url` (and `token`) and runs again,
/// expecting a clean failure that says `reason`.
async fn fault(h: &Harness, name: &str, url: &str, token: &str, extra: &[(&str, &str)], reason: &str) {
    let good_app = sdk_apps::spawn(good(500_000), 9).await;
    let folder = h.folder(name);
    h.add_app(name, &good_app.url, &folder, &["--keep-last", "1"]).await;
    h.cli(&["run", name]).await.assert_success();
    let before = h.double.files_in(&folder);
    assert_eq!(before.len(), 1);
    // Saved without asking the app: it is the broken app the run must then fail on.
    h.cli_with(&["apps", "edit", name, "--url", url, "--token", "--no-check"], &[("BACKUP_TOKEN", token)])
        .await
        .assert_success();
    let out = h.cli_with(&["run", name], extra).await;
    assert!(!out.status.success(), "{name}: the run should fail\n{}", out.stdout_text());
    assert!(out.stderr.contains(reason), "{name}: the reason should mention {reason:?}:\n{}", out.stderr);
    let after = h.double.files_in(&folder);
    assert_eq!(
        after.iter().map(|f| &f.id).collect::<Vec<_>>(),
        before.iter().map(|f| &f.id).collect::<Vec<_>>(),
        "{name}: no new file, the old one kept"
    );
    assert_eq!(h.double.open_sessions(), 0, "{name}: no upload session left open");
    let db = h.db().await;
    let last = backup_run::Entity::find().order_by_desc(backup_run::Column::Id).one(&db).await.unwrap().unwrap();
    assert_eq!(last.status.as_str(), "failed", "{name}");
    assert!(last.error.as_deref().unwrap_or_default().contains(reason), "{name}: {:?}", last.error);
}

#[tokio::test]
async fn faults_at_the_app_fail_cleanly_and_keep_old_backups() {
    let h = Harness::sqlite().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    fault(&h, "unreachable", &closed, TOKEN, &[], "could not reach the app").await;
    let fine = sdk_apps::spawn(good(100_000), 4).await;
    fault(&h, "wrong-token", &fine.url, "not-the-token", &[], "refused the token (401)").await;
    let fails = sdk_apps::spawn(Behaviour::FailsAtOnce, 5).await;
    fault(&h, "export-500", &fails.url, TOKEN, &[], "500 export_failed: the database is unreachable").await;
    let dies = sdk_apps::spawn(Behaviour::DiesMidStream { size: 3 * MIB }, 6).await;
    fault(&h, "dies", &dies.url, TOKEN, &[], "cut off after").await;
    let stalls = sdk_apps::spawn(Behaviour::Stalls, 7).await;
    fault(&h, "stalls", &stalls.url, TOKEN, &[("EXPORT_IDLE_TIMEOUT", "1")], "the export stalled").await;
    let big = sdk_apps::spawn(good(3 * MIB), 8).await;
    fault(&h, "too-big", &big.url, TOKEN, &[("MAX_BACKUP_SIZE", "1MiB")], "larger than MAX_BACKUP_SIZE").await;
    let empty = broken::spawn(Fault::EmptyBody, TOKEN).await;
    fault(&h, "empty", &empty.url, TOKEN, &[], "the export was empty").await;
    let v2 = broken::spawn(Fault::WrongContract, TOKEN).await;
    fault(&h, "contract-v2", &v2.url, TOKEN, &[], "only \"v1\" is supported").await;
    let liar = broken::spawn(Fault::LyingTrailer, TOKEN).await;
    fault(&h, "lying-trailer", &liar.url, TOKEN, &[], "trailer backup-sha256 says").await;
}

#[tokio::test]
async fn faults_at_drive_fail_cleanly_and_keep_old_backups() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(good(3 * MIB), 10).await;
    h.double.fail_next_chunks(0, 500);
    let folder = h.folder("drive-down");
    h.add_app("drive-down", &app.url, &folder, &["--keep-last", "1"]).await;
    h.cli(&["run", "drive-down"]).await.assert_success();
    let before: Vec<String> = h.double.files_in(&folder).into_iter().map(|f| f.id).collect();
    h.double.fail_next_chunks(100, 503);
    let out = h.cli(&["run", "drive-down"]).await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("Drive failed on its side"), "{}", out.stderr);
    assert_eq!(h.double.files_in(&folder).into_iter().map(|f| f.id).collect::<Vec<_>>(), before);
    assert_eq!(h.double.open_sessions(), 0);

    h.double.fail_next_chunks(0, 503);
    h.double.corrupt_next_checksum();
    let out = h.cli(&["run", "drive-down"]).await;
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("the destination reports sha256") && out.stderr.contains("the copy was deleted"),
        "{}",
        out.stderr
    );
    assert_eq!(
        h.double.files_in(&folder).into_iter().map(|f| f.id).collect::<Vec<_>>(),
        before,
        "the old copy stays, the bad one is gone"
    );
    assert_eq!(h.double.open_sessions(), 0);
}

#[tokio::test]
async fn a_postgres_database_round_trips_through_drive() {
    let Some(pg) = TestPostgres::from_env("a_postgres_database_round_trips_through_drive") else { return };
    let source = pg.create_database("orch_src");
    let target = pg.create_database("orch_dst");
    pg.psql(
        Some(&source),
        "CREATE TABLE orders (id int PRIMARY KEY, customer text, total numeric(12,2));
         INSERT INTO orders SELECT g, 'client ' || g, g * 3.5 FROM generate_series(1, 2000) g;",
    );
    let app =
        e2e::apps::RunningApp::start("postgres", &["--database", &source, "--restore-database", &target], &pg.env())
            .await;
    let h = Harness::sqlite().await;
    let folder = h.folder("pg");
    h.add_app("pg", &app.url, &folder, &[]).await;
    let out = h.cli(&["run", "pg"]).await;
    out.assert_success();
    let file = &h.double.files_in(&folder)[0];
    let content = h.double.content(&file.id).unwrap();
    let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(content))]);
    let restored = app.client().import("full", &file.sha256, body).await.unwrap();
    assert!(restored.restored);
    let rows = "SELECT id, customer, total FROM orders ORDER BY id";
    assert_eq!(pg.psql(Some(&target), rows), pg.psql(Some(&source), rows));
    drop(app);
    pg.drop_database(&source);
    pg.drop_database(&target);
}

#[tokio::test]
async fn the_token_appears_in_no_database_file_log_or_output() {
    let mut h = Harness::sqlite().await;
    h.set("LOG", "trace");
    let app = sdk_apps::spawn(good(200_000), 11).await;
    let folder = h.folder("secretive");
    let add = h
        .cli_with(
            &["apps", "add", "secretive", "--url", &app.url, "--folder", &folder, "--schedule", "@daily"],
            &[("BACKUP_TOKEN", TOKEN)],
        )
        .await;
    add.assert_success();
    let mut outputs = vec![add];
    outputs.push(h.cli(&["run", "secretive"]).await);
    outputs.push(h.cli(&["apps", "show", "secretive"]).await);
    outputs.push(h.cli(&["apps", "list"]).await);
    for out in &outputs {
        assert!(
            !out.stdout_text().contains(TOKEN) && !out.stderr.contains(TOKEN),
            "the token leaked:\n{}\n{}",
            out.stdout_text(),
            out.stderr
        );
    }
    assert!(
        outputs[1].stderr.contains("TRACE") || outputs[1].stderr.contains("DEBUG"),
        "logs were on at the finest level"
    );
    for entry in std::fs::read_dir(h.dir()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let found = bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes());
        assert!(!found, "the token is in {} in clear", path.display());
    }
}
