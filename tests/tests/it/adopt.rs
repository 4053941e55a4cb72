//! Adopting files the orchestrator did not write (copies a script left in an app's folder):
//! a dry run first, then marks written into the files, retention keeping them outside its rules
//! unless told to count them, and restores from them. On the Drive double and on a local folder.

use std::time::Duration;

use e2e::harness::Harness;
use e2e::sdk_apps::{self, Behaviour};
use orchestrator::db::entities::audit_entry;
use sea_orm::EntityTrait;
use sha2::{Digest, Sha256};

fn good() -> Behaviour {
    Behaviour::Good { size: 60_000, delay: Duration::ZERO }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn line_of(text: &str, name: &str) -> String {
    text.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("no line for {name}:\n{text}")).to_owned()
}

#[tokio::test]
async fn adopt_on_drive_marks_old_copies_keeps_them_outside_retention_and_restores_them() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn_restorable(good(), 4).await;
    let folder = h.folder("crm");
    h.add_app("crm", &app.url, &folder, &["--keep-last", "1"]).await;
    let old = [b"a dump from the cron job, january".as_slice(), b"a dump from the cron job, february".as_slice()];
    h.double.add_file(&folder, "crm-2020-01.dump", old[0], &[]);
    h.double.add_file(&folder, "crm-2020-02.dump", old[1], &[]);
    h.double.add_file(&folder, "README.txt", b"not a backup", &[]);
    let own = h.backup("crm", &[]).await;

    // A dry run says what would happen and changes nothing.
    let dry = h.cli(&["apps", "adopt", "crm", "--match", "crm*", "--type", "full"]).await;
    dry.assert_success();
    let text = dry.stdout_text();
    assert!(
        text.contains("would adopt  crm-2020-01.dump\n") && text.contains("would adopt  crm-2020-02.dump\n"),
        "{text}"
    );
    assert!(line_of(&text, &own).starts_with("skip") && line_of(&text, &own).contains("already a copy of this app"));
    assert!(!text.contains("README.txt"), "{text}");
    assert!(text.contains("add --apply"), "{text}");
    assert!(
        h.double.files_in(&folder).iter().filter(|f| f.name.ends_with(".dump")).all(|f| f.app_properties.is_empty()),
        "a dry run writes no marks"
    );

    let applied = h.cli(&["apps", "adopt", "crm", "--match", "crm-2020-??.dump", "--type", "full", "--apply"]).await;
    applied.assert_success();
    assert!(applied.stdout_text().contains("2 file(s) adopted by crm as type full"), "{}", applied.stdout_text());
    let own_marks = h.double.files_in(&folder).into_iter().find(|f| f.name == own).unwrap().app_properties;
    let (dep, uid) = (own_marks["dep"].clone(), own_marks["uid"].clone());
    for (name, bytes) in [("crm-2020-01.dump", old[0]), ("crm-2020-02.dump", old[1])] {
        let file = h.double.files_in(&folder).into_iter().find(|f| f.name == name).unwrap();
        let marks: Vec<(&str, &str)> = file.app_properties.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let sha = sha256_hex(bytes);
        let expected = [
            ("adopted", "1"),
            ("app", "crm"),
            ("dep", dep.as_str()),
            ("sha256", sha.as_str()),
            ("type", "full"),
            ("uid", uid.as_str()),
            ("verified", "1"),
        ];
        assert_eq!(marks, expected, "{name}: Drive's own sha256, and no count mark");
    }
    let audit = audit_entry::Entity::find().all(&h.db().await).await.unwrap();
    let adopted = audit.iter().find(|e| e.action == "copy.adopt").expect("the adoption is audited");
    assert_eq!((adopted.actor.as_str(), adopted.target.as_deref()), ("cli", Some("crm")));

    let preview = h.cli(&["retention", "crm"]).await.stdout_text();
    assert_eq!(line_of(&preview, "crm-2020-01.dump"), "keep   crm-2020-01.dump (adopted)", "{preview}");
    assert!(line_of(&preview, &own).contains("last"), "adopted copies take no slot: {preview}");
    let list = h.cli(&["copies", "list", "crm"]).await.stdout_text();
    assert!(line_of(&list, "crm-2020-02.dump").contains("[adopted]"), "{list}");

    // keep-last 1: two more runs prune the app's own copies, never the adopted ones.
    h.backup("crm", &[]).await;
    let newest = h.backup("crm", &[]).await;
    let mut names: Vec<String> = h.double.files_in(&folder).into_iter().map(|f| f.name).collect();
    names.sort();
    assert_eq!(names, ["README.txt", "crm-2020-01.dump", "crm-2020-02.dump", newest.as_str()]);

    let out = h.cli(&["restore", "crm", "crm-2020-02.dump", "--no-safety-backup"]).await;
    out.assert_success();
    assert_eq!(out.field("sha256"), Some(sha256_hex(old[1])));
    assert_eq!(app.restored(), [sha256_hex(old[1])]);

    // Adopting again: everything matched is already the app's; nothing to do is an error.
    let again = h.cli(&["apps", "adopt", "crm", "--match", "crm-*", "--type", "full", "--apply"]).await;
    assert_eq!(again.status.code(), Some(1));
    assert!(line_of(&again.stdout_text(), "crm-2020-01.dump").contains("(already a copy of this app)"));
    assert!(again.stderr.contains("nothing to adopt"), "{}", again.stderr);
}

#[tokio::test]
async fn adopt_on_a_local_folder_reads_files_back_and_counted_copies_are_pruned_in_their_turn() {
    let mut h = Harness::local().await;
    h.set("DEPLOYMENT_ID", "site-a");
    let app = sdk_apps::spawn_restorable(good(), 6).await;
    h.add_app("wiki", &app.url, "wiki", &["--keep-last", "1", "--type", "full"]).await;
    let dir = h.dir().join("backups/wiki");
    std::fs::create_dir_all(&dir).unwrap();
    let old = b"wiki pages, tarred by hand".to_vec();
    std::fs::write(dir.join("wiki-old.tar"), &old).unwrap();

    // The app's configured type is used; the copy counts toward retention.
    let out = h.cli(&["apps", "adopt", "wiki", "--match", "*.tar", "--apply", "--count-in-retention"]).await;
    out.assert_success();
    assert!(out.stdout_text().contains("adopted  wiki-old.tar\n"), "{}", out.stdout_text());
    let props: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("wiki-old.tar.props.json")).unwrap()).unwrap();
    assert_eq!(props["sha256"], sha256_hex(&old), "hashed by reading the file back");
    assert_eq!(
        (props["dep"].as_str(), props["type"].as_str(), props["count"].as_str()),
        (Some("site-a"), Some("full"), Some("1"))
    );
    let list = h.cli(&["copies", "list", "wiki"]).await.stdout_text();
    assert!(line_of(&list, "wiki-old.tar").contains("adopted, counted in retention"), "{list}");
    let preview = h.cli(&["retention", "wiki"]).await.stdout_text();
    assert!(line_of(&preview, "wiki-old.tar").contains("(last, newest)"), "counted like any copy: {preview}");

    let restored = h.cli(&["restore", "wiki", "wiki-old.tar"]).await;
    restored.assert_success();
    assert_eq!(restored.field("sha256"), Some(sha256_hex(&old)));
    assert_eq!(app.restored(), [sha256_hex(&old)]);
    // A safety backup prunes nothing; the next run does, and the counted copy goes in its turn.
    assert!(h.stored_files("wiki").contains(&"wiki-old.tar".to_owned()));
    let newest = h.backup("wiki", &[]).await;
    assert_eq!(h.stored_files("wiki"), [newest]);
    assert!(!dir.join("wiki-old.tar.props.json").exists(), "its marks went with it");
}

#[tokio::test]
async fn bad_adoptions_are_refused_and_change_nothing() {
    let mut h = Harness::local().await;
    h.set("DEPLOYMENT_ID", "site-a");
    let app = sdk_apps::spawn_restorable(good(), 8).await;
    h.add_app("shop", &app.url, "shop", &[]).await;
    let own = h.backup("shop", &[]).await;
    let dir = h.dir().join("backups/shop");
    std::fs::write(dir.join("shop-old.sql"), b"select 1;").unwrap();
    std::fs::write(dir.join("other.bin"), b"another deployment's").unwrap();
    std::fs::write(dir.join("other.bin.props.json"), r#"{"dep":"site-b","app":"shop","type":"full"}"#).unwrap();
    let sidecars = |dir: &std::path::Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".props.json"))
            .collect();
        names.sort();
        names
    };
    let before = sidecars(&dir);

    let refused = |out: &e2e::cli::Run, words: &str| {
        assert!(!out.status.success(), "{}", out.stdout_text());
        assert!(out.stderr.contains(words), "expected {words:?} in: {}", out.stderr);
    };
    refused(&h.cli(&["apps", "adopt", "nosuch", "--match", "*", "--type", "full"]).await, "nosuch");
    refused(&h.cli(&["apps", "adopt", "shop", "--match", "*.sql"]).await, "name it with --type");
    let wrong = h.cli(&["apps", "adopt", "shop", "--match", "*.sql", "--type", "schema", "--apply"]).await;
    refused(&wrong, "does not offer the backup type \"schema\" (it offers full)");
    let long = "t".repeat(130);
    refused(&h.cli(&["apps", "adopt", "shop", "--match", "*.sql", "--type", &long]).await, "at most 124 bytes");
    let nothing = h.cli(&["apps", "adopt", "shop", "--match", "*.tar.gz", "--type", "full"]).await;
    refused(&nothing, "no file in the folder of shop (shop) has a name matching \"*.tar.gz\"");
    refused(&h.cli(&["apps", "adopt", "shop", "--match", " ", "--type", "full"]).await, "the pattern is empty");

    // Already ours, and another deployment's copy: skipped, with the reason.
    let mixed = h.cli(&["apps", "adopt", "shop", "--match", "*", "--type", "full"]).await;
    mixed.assert_success();
    let text = mixed.stdout_text();
    assert!(line_of(&text, &own).contains("(already a copy of this app)"), "{text}");
    assert!(line_of(&text, "other.bin").contains("for app shop of deployment site-b"), "{text}");
    assert!(text.contains("would adopt  shop-old.sql\n"), "{text}");
    assert_eq!(sidecars(&dir), before, "nothing was adopted");

    // Restores of what is not (yet) a copy, or of no file at all, are refused.
    let not_a_copy = h.cli(&["restore", "shop", "shop-old.sql", "--no-safety-backup"]).await;
    refused(&not_a_copy, "is not a copy made for shop");
    let unknown = h.cli(&["restore", "shop", "nope.sql", "--no-safety-backup"]).await;
    refused(&unknown, "there is no copy named \"nope.sql\"");
    assert!(app.restored().is_empty());
}

#[tokio::test]
async fn the_api_adopts_with_a_dry_run_first_and_names_the_field_to_fix() {
    use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER};
    use e2e::web::{self, sign_in};
    use reqwest::StatusCode;
    use serde_json::json;

    let mut h = Harness::local().await;
    h.set("DEPLOYMENT_ID", "site-a");
    let app = sdk_apps::spawn_restorable(good(), 3).await;
    h.add_app("crm", &app.url, "crm", &["--type", "full"]).await;
    let dir = h.dir().join("backups/crm");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("crm-1.dump"), b"one").unwrap();
    let served = h.serve(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("adopt").await;
    let http = web::client();
    let adopt = |body: serde_json::Value| {
        http.post(format!("{}/api/v1/apps/crm/adopt", served.url)).bearer_auth(&token).json(&body)
    };

    let dry: serde_json::Value = adopt(json!({"match": "*.dump"})).send().await.unwrap().json().await.unwrap();
    assert_eq!(dry["applied"], false);
    assert_eq!(dry["files"], json!([{"name": "crm-1.dump", "adopt": true, "skipped": null}]));
    assert!(!dir.join("crm-1.dump.props.json").exists());

    let none = adopt(json!({"match": "*.zip"})).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = none.json().await.unwrap();
    assert_eq!(body["fields"][0]["field"], "match", "{body}");
    let wrong = adopt(json!({"match": "*.dump", "type": "schema"})).send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::CONFLICT);

    let done = adopt(json!({"match": "*.dump", "apply": true})).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let done: serde_json::Value = done.json().await.unwrap();
    assert_eq!((done["applied"].clone(), done["adopted"].clone()), (json!(true), json!(1)));
    let copies: Vec<serde_json::Value> = http
        .get(format!("{}/api/v1/apps/crm/copies", served.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let copy = copies.iter().find(|c| c["name"] == "crm-1.dump").expect("an adopted copy is listed");
    assert_eq!((copy["adopted"].clone(), copy["counted"].clone()), (json!(true), json!(false)));
    assert_eq!(copy["sha256"], sha256_hex(b"one"));

    // The same from the app's page: a preview that changes nothing, then one confirmed post.
    std::fs::write(dir.join("crm-2.dump"), b"two").unwrap();
    assert!(session.page("/apps/crm").await.contains("/apps/crm/adopt"), "the copies card links to adopting");
    let preview = session.page("/apps/crm/adopt?match=crm-*.dump").await;
    assert!(preview.contains("1 file(s) would be adopted as copies of type full."), "{preview}");
    assert!(preview.contains("already a copy of this app") && preview.contains("id=\"adopt-apply\""), "{preview}");
    assert!(!dir.join("crm-2.dump.props.json").exists());
    let applied = session.post("/apps/crm/adopt", &[("match", "crm-*.dump"), ("type", "full")]).await;
    assert_eq!(applied.status(), StatusCode::OK);
    assert!(applied.text().await.unwrap().contains("1 file(s) adopted as copies of type full."));
    assert!(dir.join("crm-2.dump.props.json").exists());
    let none = session.get("/apps/crm/adopt?match=*.zip").await;
    assert_eq!(none.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let app_page = session.page("/apps/crm").await;
    assert!(app_page.contains("class=\"badge adopted\""), "{app_page}");
}
