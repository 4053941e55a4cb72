//! The orchestrator's own backup and `recover`: a lost database comes back from a sealed
//! self-backup with the same `SECRET_KEY`, its apps find their old copies again, and a new
//! database next to an old deployment's self-backups does not start under a new id.

use std::time::Duration;

use e2e::apps::TOKEN;
use e2e::harness::Harness;
use e2e::postgres::TestPostgres;
use e2e::sdk_apps::{self, Behaviour, expected_sha256};
use orchestrator::db::entities::{app, setting};
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
    h.add_app("wiki", &app.url, &folder, &["--keep-last", "5"]).await;
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
