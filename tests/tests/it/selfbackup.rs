//! The orchestrator's own backup and `recover`: a lost database comes back from a sealed
//! self-backup with the same `SECRET_KEY`, its apps find their old copies again, and a new
//! database next to an old deployment's self-backups does not start under a new id.

use std::time::Duration;

use e2e::apps::TOKEN;
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::postgres::TestPostgres;
use e2e::receivers::Recorder;
use e2e::sdk_apps::{self, Behaviour, expected_sha256};
use e2e::web::{element_text, location, sign_in};
use orchestrator::db::entities::{app, drive_upload, setting};
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};

const SIZE: u64 = 150_000;
const SEED: u64 = 11;

fn good() -> Behaviour {
    Behaviour::Good { size: SIZE, delay: Duration::ZERO }
}

/// Where a test installation keeps its self-backups, and how the test reads what is stored.
enum Site {
    /// The Drive double: a folder id.
    Drive(String),
    /// A local folder under `FS_ROOT`.
    Local,
}

impl Site {
    fn app_folder(&self, h: &Harness, name: &str) -> String {
        match self {
            Site::Drive(_) => h.folder(name),
            Site::Local => name.to_owned(),
        }
    }

    /// The stored bytes of the self-backup printed by `orchestrator self-backup`.
    fn stored(&self, h: &Harness, name: &str, id: &str) -> Vec<u8> {
        match self {
            Site::Drive(_) => h.double.content(id).expect("the self-backup is in the double"),
            Site::Local => std::fs::read(h.dir().join("backups").join("orchestrator").join(name)).expect("stored"),
        }
    }
}

async fn apps_in(h: &Harness) -> u64 {
    app::Entity::find().count(&h.db().await).await.expect("count apps")
}

async fn deployment_in(h: &Harness) -> Option<String> {
    setting::Entity::find_by_id("deployment_id".to_owned())
        .one(&h.db().await)
        .await
        .expect("read settings")
        .map(|row| row.value)
}

/// Two backups, a self-backup, the database lost (`lose` makes the next commands use a new,
/// empty one), then recover with the same key; the bad inputs on the way.
async fn a_lost_database_comes_back(mut h: Harness, site: Site, lose: impl FnOnce(&mut Harness)) {
    if let Site::Drive(folder) = &site {
        h.set("SELF_BACKUP_FOLDER", folder);
    }
    let app = sdk_apps::spawn_restorable(good(), SEED).await;
    let folder = site.app_folder(&h, "wiki");
    h.add_app("wiki", &app.url, &folder, &["--keep-last", "5", "--group", "db-1", "--tag", "odoo", "--tag", "prod"])
        .await;
    let first = h.backup("wiki", &[]).await;
    h.backup("wiki", &[]).await;
    let sealed_token: String = app::Entity::find().one(&h.db().await).await.unwrap().unwrap().token_encrypted;

    let taken = h.cli(&["self-backup"]).await;
    taken.assert_success();
    let text = taken.stdout_text();
    let deployment = text
        .lines()
        .find_map(|l| l.strip_prefix("self-backup of deployment "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{text}"))
        .to_owned();
    let (name, id) = (taken.field("file").unwrap(), taken.field("file id").unwrap());
    let stored = site.stored(&h, &name, &id);
    use sha2::{Digest, Sha256};
    assert_eq!(Some(hex::encode(Sha256::digest(&stored))), taken.field("sha256"), "verified what is stored");
    if let Site::Drive(_) = site {
        // Drive's daily upload budget is the account's: the self-backup's bytes count, with no run.
        let counted: Vec<drive_upload::Model> = drive_upload::Entity::find().all(&h.db().await).await.unwrap();
        let own: Vec<i64> = counted.iter().filter(|u| u.run_id.is_none()).map(|u| u.bytes).collect();
        assert_eq!(own, vec![stored.len() as i64], "the self-backup counts against the budget: {counted:?}");
    }
    for clear in [TOKEN, sealed_token.as_str(), app.url.as_str(), "token_encrypted"] {
        assert!(
            !stored.windows(clear.len()).any(|w| w == clear.as_bytes()),
            "{clear:?} is in the self-backup in clear"
        );
    }

    lose(&mut h);

    // A new database next to the self-backups: nothing starts under a new id.
    let refused = h.cli(&["apps", "list"]).await;
    assert!(!refused.status.success());
    assert!(
        refused.stderr.contains("orchestrator recover") && refused.stderr.contains("DEPLOYMENT_ID"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains(&deployment), "names the deployment: {}", refused.stderr);
    let serve =
        tokio::time::timeout(Duration::from_secs(60), h.cli_with(&["serve"], &[("LISTEN_ADDR", "127.0.0.1:0")]))
            .await
            .expect("serve refuses at once instead of serving");
    assert!(!serve.status.success() && serve.stderr.contains("orchestrator recover"), "{}", serve.stderr);
    assert_eq!(deployment_in(&h).await, None, "no id was generated");

    let wrong_key = h.cli_with(&["recover"], &[("SECRET_KEY", "another-secret-key-abcdefabcdefabcdefabcdef")]).await;
    assert!(!wrong_key.status.success());
    assert!(wrong_key.stderr.contains("sealed with another SECRET_KEY"), "{}", wrong_key.stderr);
    assert_eq!(apps_in(&h).await, 0, "the database is left empty");
    assert_eq!(deployment_in(&h).await, None);

    let unknown = h.cli(&["recover", "--from", "orchestrator_nope.selfbackup"]).await;
    assert!(!unknown.status.success());
    assert!(
        unknown.stderr.contains("--from orchestrator_nope.selfbackup") && unknown.stderr.contains(&name),
        "names what there is: {}",
        unknown.stderr
    );

    let recovered = h.cli(&["recover"]).await;
    recovered.assert_success();
    let text = recovered.stdout_text();
    assert!(text.contains(&format!("recovered deployment {deployment} from {name}")), "{text}");
    assert!(text.contains("wiki: 2 copies found"), "{text}");
    assert_eq!(deployment_in(&h).await, Some(deployment));

    let again = h.cli(&["recover"]).await;
    assert!(!again.status.success());
    assert!(again.stderr.contains("already has 1 app(s)"), "{}", again.stderr);

    let list = h.cli(&["apps", "list"]).await;
    list.assert_success();
    assert!(list.stdout_text().contains("wiki"), "{}", list.stdout_text());
    // Its group and tags came back with it.
    let listed = h.cli(&["apps", "list", "--tag", "prod", "--group", "db-1"]).await.stdout_text();
    assert!(listed.lines().nth(1).is_some_and(|l| l.starts_with("wiki\t")), "{listed}");
    let preview = h.cli(&["retention", "wiki"]).await;
    preview.assert_success();
    let text = preview.stdout_text();
    assert!(!text.contains("not ours"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("keep ")).count(), 2, "{text}");

    let restored = h.cli(&["restore", "wiki", &first, "--no-safety-backup"]).await;
    restored.assert_success();
    assert_eq!(restored.field("sha256"), Some(expected_sha256(SIZE, SEED)));
    // The recovered installation backs up again, under the same id, next to its old copies.
    h.backup("wiki", &[]).await;
}

/// The SQLite file (and its WAL) deleted, as a lost machine would lose it.
fn delete_database(h: &mut Harness) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(h.dir().join(format!("orchestrator.db{suffix}")));
    }
}

#[tokio::test]
async fn a_deleted_database_is_recovered_from_its_self_backup_on_drive() {
    let h = Harness::sqlite().await;
    let folder = h.folder("orchestrator");
    a_lost_database_comes_back(h, Site::Drive(folder), delete_database).await;
}

#[tokio::test]
async fn a_deleted_database_is_recovered_from_its_self_backup_on_a_local_folder() {
    a_lost_database_comes_back(Harness::local().await, Site::Local, delete_database).await;
}

#[tokio::test]
async fn a_lost_postgres_database_is_recovered_into_a_new_one() {
    let Some(pg) = TestPostgres::from_env("a_lost_postgres_database_is_recovered_into_a_new_one") else { return };
    let (old, new) = (pg.create_database("orch_selfbackup_old"), pg.create_database("orch_selfbackup_new"));
    let mut h = Harness::postgres(pg.url_for(&old)).await;
    h.set("STORAGE", "fs");
    h.set("FS_ROOT", &h.dir().join("backups").display().to_string());
    let new_url = pg.url_for(&new);
    a_lost_database_comes_back(h, Site::Local, |h| {
        h.set("DATABASE_URL", &new_url);
        h.database_url = new_url.clone();
    })
    .await;
    pg.drop_database(&old);
    pg.drop_database(&new);
}

#[tokio::test]
async fn self_backups_beyond_the_keep_are_pruned_newest_first() {
    let mut h = Harness::local().await;
    h.set("SELF_BACKUP_KEEP", "2");
    let mut made = Vec::new();
    for _ in 0..3 {
        let out = h.cli(&["self-backup"]).await;
        out.assert_success();
        made.push(out.field("file").unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let kept = h.stored_files("orchestrator");
    assert_eq!(kept, made[1..].to_vec(), "the two newest stay");
    let out = h.cli(&["self-backup"]).await;
    assert_eq!(out.field("pruned"), Some(made[1].clone()), "{}", out.stdout_text());
}

#[tokio::test]
async fn without_a_self_backup_recover_lists_the_ids_it_finds_and_adopts_the_one_given() {
    let mut h = Harness::local().await;
    h.set("DEPLOYMENT_ID", "site-a");
    let app = sdk_apps::spawn_restorable(good(), SEED).await;
    h.add_app("crm", &app.url, "crm", &["--keep-last", "3"]).await;
    let copy = h.backup("crm", &[]).await;

    delete_database(&mut h);
    h.set("DEPLOYMENT_ID", "");
    // The operator points the self-backup folder at a folder of copies: its marks name ids.
    h.set("SELF_BACKUP_FOLDER", "crm");
    let listed = h.cli(&["recover"]).await;
    assert!(!listed.status.success());
    assert!(
        listed.stderr.contains("site-a") && listed.stderr.contains("recover --deployment-id ID"),
        "{}",
        listed.stderr
    );

    let adopted = h.cli(&["recover", "--deployment-id", "site-a"]).await;
    adopted.assert_success();
    assert!(adopted.stdout_text().contains("adopted deployment id site-a"), "{}", adopted.stdout_text());
    h.add_app("crm", &app.url, "crm", &["--keep-last", "3"]).await;
    let text = h.cli(&["retention", "crm"]).await.stdout_text();
    assert!(text.contains(&copy) && !text.contains("not ours"), "{text}");
    let refused = h.cli(&["recover", "--deployment-id", "site-b"]).await;
    assert!(!refused.status.success() && refused.stderr.contains("already has 1 app(s)"), "{}", refused.stderr);
}

#[tokio::test]
async fn serve_makes_verified_self_backups_on_its_schedule() {
    let h = Harness::local().await;
    let service = h.start(&[("SELF_BACKUP_SCHEDULE", "* * * * * *")]).await;
    let folder = h.dir().join("backups").join("orchestrator");
    let verified = || {
        h.stored_files("orchestrator")
            .into_iter()
            .filter(|name| {
                std::fs::read_to_string(folder.join(format!("{name}.props.json"))).is_ok_and(|marks| {
                    marks.contains("\"kind\":\"self-backup\"") && marks.contains("\"verified\":\"1\"")
                })
            })
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while verified() < 2 {
        assert!(std::time::Instant::now() < deadline, "two scheduled self-backups within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    service.stop().await;
}

/// The markup of the paragraph with `id`.
fn up_to_end_of(page: &str, id: &str) -> Option<String> {
    let at = page.find(&format!("id=\"{id}\""))?;
    let rest = &page[at..];
    Some(rest[..rest.find("</p>")?].to_owned())
}

#[tokio::test]
async fn the_self_backup_page_shows_the_id_makes_one_now_and_a_failing_schedule_is_told_once() {
    let h = Harness::local().await;
    let hooks = Recorder::start(0).await;
    let folder = h.dir().join("backups").join("orchestrator");
    // A file where the folder should be: every self-backup fails until it is moved away.
    std::fs::create_dir_all(folder.parent().unwrap()).unwrap();
    std::fs::write(&folder, b"in the way").unwrap();
    let served = h.start(&[("SELF_BACKUP_SCHEDULE", "* * * * * *")]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let hook_url = format!("{}/hook", hooks.url);
    let added = session
        .post(
            "/notifications",
            &[
                ("kind", "webhook"),
                ("name", "on-call"),
                ("url", &hook_url),
                ("signing_secret", "a-signing-secret-of-some-length"),
                ("on_failure", "on"),
                ("on_recovery", "on"),
            ],
        )
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);

    // Failing every second: the page says so in red, the channel hears it once.
    let failed = hooks.wait_for(Duration::from_secs(30), |seen| !seen.is_empty()).await;
    assert_eq!(failed[0].json()["event"], "failure", "{:?}", failed[0].json());
    assert!(failed[0].json()["summary"].as_str().unwrap().contains("own backup failed"), "{:?}", failed[0].json());
    tokio::time::sleep(Duration::from_secs(4)).await;
    let page = session.page("/settings/self-backup").await;
    let deployment = served.context().deployment_id.clone();
    assert_eq!(element_text(&page, "deployment-id"), Some(deployment));
    let shown = up_to_end_of(&page, "self-backup-last-failed").unwrap_or_else(|| panic!("{page}"));
    assert!(shown.contains("failed") && shown.contains("schedule: "), "the scheduled attempt, in red: {shown}");
    assert_eq!(hooks.received().len(), 1, "a failing streak is told once, not at every attempt");

    // Moved away: the next attempt (scheduled or the button) succeeds and recovery is told.
    std::fs::remove_file(&folder).unwrap();
    let recovered = hooks.wait_for(Duration::from_secs(30), |seen| seen.len() >= 2).await;
    assert_eq!(recovered[1].json()["event"], "recovery", "{:?}", recovered[1].json());
    let now = session.post("/settings/self-backup/run", &[]).await;
    assert_eq!(now.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&now), "/settings/self-backup");
    let page = session.page("/settings/self-backup").await;
    let ok = up_to_end_of(&page, "self-backup-last-ok").unwrap_or_else(|| panic!("{page}"));
    assert!(ok.contains("stored and verified") && ok.contains(ADMIN_USER), "the button's attempt: {ok}");
    assert!(page.contains("id=\"self-backup-files\"") && page.contains(".selfbackup</code>"), "{page}");
    assert!(!page.contains("not verified"), "every self-backup listed is verified");
    let audit = session.page("/audit").await;
    assert!(audit.contains("<code>self_backup.run</code>"), "the button is in the audit log");
    served.stop().await;
}
