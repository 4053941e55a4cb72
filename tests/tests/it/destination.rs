//! The destination check (`remote check`, the Check destination button, `POST
//! /api/v1/destination/check`) against the Drive double: each misconfiguration is named with
//! what to do, before the first backup meets it, and a working setup is said to be ready.

use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::web::{self, element_text, sign_in};
use reqwest::StatusCode;

const MIB: usize = 1024 * 1024;

/// Only trashed probe files are left in `folder` (retention's own way of deleting).
fn nothing_left_but_trashed_probes(h: &Harness, folder: &str) {
    for file in h.double.files_in(folder) {
        assert!(file.trashed && file.name.starts_with(".orchestrator-check-"), "left behind: {file:?}");
    }
}

#[tokio::test]
async fn a_shared_drive_the_service_account_manages_is_ready() {
    let h = Harness::sqlite().await;
    let check = h.cli(&["remote", "check", &h.drive]).await;
    check.assert_success();
    let out = check.stdout_text();
    assert!(out.contains(&format!("account: {}", h.double.service_account_email())), "{out}");
    assert!(out.contains("in the shared drive \"Backups\""), "{out}");
    assert!(out.contains("a test file was written and removed"), "{out}");
    assert!(out.contains("the destination is ready"), "{out}");
    assert!(!out.contains("PROBLEM"), "{out}");
    nothing_left_but_trashed_probes(&h, &h.drive);
    assert_eq!(h.double.open_sessions(), 0);
}

#[tokio::test]
async fn a_service_account_pointed_at_a_my_drive_folder_is_named_as_the_problem_with_the_fix() {
    let h = Harness::sqlite().await;
    let folder = h.double.create_folder("Backups in my drive");
    h.double.share_folder_with(&folder, &h.double.service_account_email());
    let check = h.cli(&["remote", "check", &folder]).await;
    assert!(!check.status.success(), "a problem exits non-zero:\n{}", check.stdout_text());
    let out = check.stdout_text();
    assert!(out.contains("PROBLEM"), "{out}");
    assert!(out.contains("is a service account, which has no storage quota"), "{out}");
    assert!(out.contains("shared drive") && out.contains("GDRIVE_SUBJECT") && out.contains("connect a Google account"));
    assert!(out.contains("backups will fail until they are fixed"), "{out}");
    assert!(h.double.files_in(&folder).is_empty(), "nothing was written");
}

#[tokio::test]
async fn a_missing_folder_a_file_and_a_folder_not_shared_are_each_explained() {
    let h = Harness::sqlite().await;
    let missing = h.cli(&["remote", "check", "1NoSuchFolderId"]).await;
    assert!(!missing.status.success());
    assert!(missing.stdout_text().contains("was not found, or is not shared with"), "{}", missing.stdout_text());
    let file = h.double.add_file(&h.drive, "notes.txt", b"hello", &[]);
    let not_a_folder = h.cli(&["remote", "check", &file]).await;
    assert!(!not_a_folder.status.success());
    assert!(
        not_a_folder.stdout_text().contains("is a file (notes.txt), not a folder"),
        "{}",
        not_a_folder.stdout_text()
    );
    let private = h.double.create_folder("Not shared");
    let unshared = h.cli(&["remote", "check", &private]).await;
    assert!(!unshared.status.success());
    assert!(unshared.stdout_text().contains("share the folder with that account"), "{}", unshared.stdout_text());
}

#[tokio::test]
async fn an_oauth_user_whose_my_drive_cannot_hold_the_copies_is_told_before_the_first_backup() {
    let mut h = Harness::sqlite().await;
    let credentials = h.dir().join("user.json");
    std::fs::write(&credentials, h.double.authorized_user_json()).unwrap();
    h.set("GDRIVE_CREDENTIALS", &credentials.display().to_string());
    let folder = h.double.create_folder("Backups");
    let ready = h.cli(&["remote", "check", &folder]).await;
    ready.assert_success();
    let out = ready.stdout_text();
    assert!(out.contains(&format!("account: {}", h.double.user_email())), "{out}");
    assert!(out.contains("is in a My Drive: copies count against"), "{out}");
    assert!(out.contains("GiB free"), "the storage is reported: {out}");

    // Other files fill the account past its storage: nothing more fits.
    h.double.add_file(&folder, "holiday.mov", &vec![7u8; 3 * MIB], &[]);
    h.double.set_storage_quota(&h.double.user_email(), 2 * MIB as u64);
    let full = h.cli(&["remote", "check", &folder]).await;
    assert!(!full.status.success());
    let out = full.stdout_text();
    assert!(out.contains("they will not fit"), "{out}");
    assert!(out.contains("could not write a test file"), "{out}");
}

#[tokio::test]
async fn the_destination_page_and_the_api_check_it_and_every_page_says_where_backups_go() {
    let h = Harness::sqlite().await;
    let served = h.start(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let dashboard = session.page("/").await;
    let footer = element_text(&dashboard, "footer-destination").expect("a footer on every page");
    assert!(footer.contains(&h.double.service_account_email()), "{footer}");

    let page = session.page("/settings/drive").await;
    assert!(page.contains("id=\"destination-check\""), "the Check destination button");
    let checked = session.post("/settings/drive/check", &[("folder", &h.drive)]).await;
    assert_eq!(checked.status(), StatusCode::OK);
    let report = checked.text().await.unwrap();
    assert!(report.contains("The destination is ready"), "{report}");
    assert_eq!(element_text(&report, "destination-account").unwrap(), h.double.service_account_email());
    let refused = session.post_raw("/settings/drive/check", &[("folder", &h.drive)]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "the probe needs the session's CSRF token");

    let token = session.api_token("check").await;
    let api = |body: &'static str| {
        web::client()
            .post(format!("{}/api/v1/destination/check", served.url))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
    };
    let missing: serde_json::Value =
        api(r#"{"folder": "1NoSuchFolderId"}"#).send().await.unwrap().json().await.unwrap();
    assert_eq!(missing["ok"], false, "{missing}");
    let finding =
        missing["findings"].as_array().unwrap().iter().find(|f| f["code"] == "folder").expect("a folder finding");
    assert_eq!(finding["level"], "problem");
    assert_eq!(finding["folder"], "1NoSuchFolderId");
    let bad = api(r#"{"folders": []}"#).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let destination: serde_json::Value = web::client()
        .get(format!("{}/api/v1/destination", served.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(destination["kind"], "gdrive");
    assert!(destination["location"].as_str().unwrap().contains(&h.double.service_account_email()));
    served.stop().await;
}
