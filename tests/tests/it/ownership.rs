//! Whose a copy is: the deployment id and the app's name in its marks, not the app's row id. An
//! app removed and registered again keeps its copies; two deployments sharing a folder never
//! touch each other's.

use std::time::Duration;

use e2e::harness::Harness;
use e2e::sdk_apps::{self, Behaviour, expected_sha256};

const SIZE: u64 = 200_000;

fn good() -> Behaviour {
    Behaviour::Good { size: SIZE, delay: Duration::ZERO }
}

#[tokio::test]
async fn an_app_removed_and_registered_again_keeps_its_copies_and_restores_them() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn_restorable(good(), 5).await;
    let folder = h.folder("wiki");
    h.add_app("wiki", &app.url, &folder, &["--keep-last", "3"]).await;
    let first = h.backup("wiki", &[]).await;
    h.backup("wiki", &[]).await;

    h.cli(&["apps", "remove", "wiki"]).await.assert_success();
    // Another app takes a row first, so the new registration cannot reuse the old row id.
    h.add_app("other", &app.url, &h.folder("other"), &[]).await;
    h.add_app("wiki", &app.url, &folder, &["--keep-last", "3"]).await;

    let preview = h.cli(&["retention", "wiki"]).await;
    preview.assert_success();
    let text = preview.stdout_text();
    assert!(!text.contains("not ours"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("keep ")).count(), 2, "{text}");

    let out = h.cli(&["restore", "wiki", &first, "--no-safety-backup"]).await;
    out.assert_success();
    assert_eq!(out.field("sha256"), Some(expected_sha256(SIZE, 5)));
}

#[tokio::test]
async fn an_app_renamed_keeps_its_copies_by_its_stable_uid() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn_restorable(good(), 6).await;
    let folder = h.folder("wiki");
    h.add_app("wiki", &app.url, &folder, &["--keep-last", "3"]).await;
    let old = h.backup("wiki", &[]).await;
    let marks = h.double.files_in(&folder).remove(0).app_properties;
    let uid = marks.get("uid").cloned().expect("the copy carries the app's uid");
    assert!(uid.len() == 16 && uid.bytes().all(|b| b.is_ascii_hexdigit()), "{uid}");
    assert_eq!(marks.get("app").map(String::as_str), Some("wiki"));

    h.cli(&["apps", "edit", "wiki", "--rename", "docs"]).await.assert_success();
    let new = h.backup("docs", &[]).await;
    let marks = h.double.files_in(&folder).into_iter().find(|f| f.name == new).unwrap().app_properties;
    assert_eq!(marks.get("uid"), Some(&uid), "the uid outlives the rename");

    let text = h.cli(&["retention", "docs"]).await.stdout_text();
    assert!(!text.contains("not ours"), "the copy made as wiki is still the app's own: {text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("keep ")).count(), 2, "{text}");
    let out = h.cli(&["restore", "docs", &old, "--no-safety-backup"]).await;
    out.assert_success();
    assert_eq!(out.field("sha256"), Some(expected_sha256(SIZE, 6)));

    let shown = h.cli(&["apps", "show", "docs"]).await.stdout_text();
    assert!(shown.contains(&format!("uid: {uid}")), "{shown}");
}

#[tokio::test]
async fn two_deployments_in_one_folder_never_prune_restore_or_list_each_others_copies() {
    let mut a = Harness::local().await;
    let mut b = Harness::local().await;
    let root = a.dir().join("backups").display().to_string();
    b.set("FS_ROOT", &root);
    a.set("DEPLOYMENT_ID", "site-a");
    b.set("DEPLOYMENT_ID", "site-b");
    let app = sdk_apps::spawn_restorable(good(), 9).await;
    a.add_app("crm", &app.url, "crm", &["--keep-last", "1"]).await;
    b.add_app("crm", &app.url, "crm", &["--keep-last", "1"]).await;

    // A copy's file name holds its run id: b's runs are numbered apart from a's (a warm-up run
    // of another app first, and b prunes its run 2 before a makes its own run 2), so the two
    // never write the same name in the same second.
    b.add_app("warmup", &app.url, "warmup", &[]).await;
    a.backup("crm", &[]).await;
    b.backup("warmup", &[]).await;
    b.backup("crm", &[]).await;
    b.backup("crm", &[]).await;
    let of_a = a.backup("crm", &[]).await;
    let of_b = b.backup("crm", &[]).await;

    let copies: Vec<String> = a.stored_files("crm").into_iter().filter(|n| !n.ends_with(".props.json")).collect();
    assert_eq!(copies.len(), 2, "each deployment kept its newest copy and pruned only its own: {copies:?}");
    assert!(copies.contains(&of_a) && copies.contains(&of_b), "{copies:?}");

    let preview = a.cli(&["retention", "crm"]).await.stdout_text();
    assert!(preview.contains(&format!("keep   {of_b} (not ours)")), "{preview}");
    assert!(
        preview.lines().any(|l| l.starts_with(&format!("keep   {of_a} (")) && !l.contains("not ours")),
        "{preview}"
    );

    let refused = a.cli(&["restore", "crm", &of_b, "--no-safety-backup"]).await;
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("is not a copy made for crm"), "{}", refused.stderr);
    b.cli(&["restore", "crm", &of_b, "--no-safety-backup"]).await.assert_success();
}

#[tokio::test]
async fn copies_marked_the_old_way_by_row_id_are_still_the_apps_own() {
    use sha2::{Digest, Sha256};
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn_restorable(good(), 3).await;
    let folder = h.folder("crm");
    h.add_app("crm", &app.url, &folder, &["--keep-last", "5"]).await;
    h.backup("crm", &[]).await;
    let made = h.double.files_in(&folder)[0].app_properties.clone();
    let (app_id, backup_type) = (made["app_id"].as_str(), made["type"].as_str());

    // What the release before deployment ids wrote: the app's row id, no `dep`.
    let bytes = b"a copy made before deployment ids";
    let sha = hex::encode(Sha256::digest(bytes));
    let old = |id| {
        [
            ("app_id", id),
            ("app", "crm"),
            ("run_id", "1"),
            ("type", backup_type),
            ("sha256", sha.as_str()),
            ("verified", "1"),
        ]
    };
    h.double.add_file(&folder, "crm_full_20200101_000000Z_1.bin", bytes, &old(app_id));
    h.double.add_file(&folder, "crm_full_20200101_000000Z_2.bin", bytes, &old("9999"));

    let text = h.cli(&["retention", "crm"]).await.stdout_text();
    let line =
        |name: &str| text.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("{name}: {text}")).to_owned();
    assert!(line("_000000Z_1.bin").starts_with("keep ") && !line("_000000Z_1.bin").contains("not ours"), "{text}");
    assert!(line("_000000Z_2.bin").contains("not ours"), "another app's old copy: {text}");

    let out = h.cli(&["restore", "crm", "crm_full_20200101_000000Z_1.bin", "--no-safety-backup"]).await;
    out.assert_success();
    assert_eq!(out.field("sha256"), Some(sha));
}

#[tokio::test]
async fn two_deployments_in_one_drive_folder_never_prune_restore_or_list_each_others_copies() {
    let mut a = Harness::sqlite().await;
    let mut b = Harness::sqlite().await;
    // b writes into a's Drive double, as the same service account: one folder, two deployments.
    let credentials = b.dir().join("service-account-of-a.json");
    std::fs::write(&credentials, a.double.service_account_json()).unwrap();
    b.set("GDRIVE_CREDENTIALS", &credentials.display().to_string());
    b.set("GDRIVE_ENDPOINT", &a.double.endpoint());
    b.set("GDRIVE_TOKEN_URI", &a.double.token_uri());
    a.set("DEPLOYMENT_ID", "site-a");
    b.set("DEPLOYMENT_ID", "site-b");
    let folder = a.folder("crm");
    let app = sdk_apps::spawn_restorable(good(), 9).await;
    a.add_app("crm", &app.url, &folder, &["--keep-last", "1"]).await;
    b.add_app("crm", &app.url, &folder, &["--keep-last", "1"]).await;

    a.backup("crm", &[]).await;
    b.backup("crm", &[]).await;
    b.backup("crm", &[]).await;
    let of_a = a.backup("crm", &[]).await;
    let of_b = b.backup("crm", &[]).await;

    let stored = a.double.files_in(&folder);
    let names: Vec<&str> = stored.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names.len(), 2, "each deployment kept its newest copy and pruned only its own: {names:?}");
    assert!(names.contains(&of_a.as_str()) && names.contains(&of_b.as_str()), "{names:?}");
    let dep_of = |name: &str| stored.iter().find(|f| f.name == name).unwrap().app_properties["dep"].clone();
    assert_eq!((dep_of(&of_a), dep_of(&of_b)), ("site-a".to_owned(), "site-b".to_owned()));

    let preview = a.cli(&["retention", "crm"]).await.stdout_text();
    assert!(preview.contains(&format!("keep   {of_b} (not ours)")), "{preview}");
    assert!(
        preview.lines().any(|l| l.starts_with(&format!("keep   {of_a} (")) && !l.contains("not ours")),
        "{preview}"
    );
    let listed_by_a = a.cli(&["copies", "list", "crm"]).await.stdout_text();
    let listed_by_b = b.cli(&["copies", "list", "crm"]).await.stdout_text();
    assert!(listed_by_a.contains(&of_a) && !listed_by_a.contains(&of_b), "{listed_by_a}");
    assert!(listed_by_b.contains(&of_b) && !listed_by_b.contains(&of_a), "{listed_by_b}");

    let refused = a.cli(&["restore", "crm", &of_b, "--no-safety-backup"]).await;
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("is not a copy made for crm"), "{}", refused.stderr);
    let adopted = a.cli(&["apps", "adopt", "crm", "--match", "*", "--type", "full"]).await;
    assert!(adopted.stdout_text().contains("of deployment site-b: not ours to adopt"), "{}", adopted.stdout_text());
    let out = b.cli(&["restore", "crm", &of_b, "--no-safety-backup"]).await;
    out.assert_success();
    assert_eq!(out.field("sha256"), Some(expected_sha256(SIZE, 9)));
}
