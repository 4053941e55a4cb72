//! Integrity audits, black-box: copies removed, trashed or replaced by hand in the destination
//! (the Drive double's web-interface actions, or the local folder's files) are found by
//! `orchestrator audit`, marked, told once, kept out of retention's count, and good again once
//! put back.

use std::time::Duration;

use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::receivers::Recorder;
use e2e::sdk_apps::{self, Behaviour};
use e2e::web::{element_text, get_json, get_with_token, location, sign_in};
use reqwest::StatusCode;

fn good() -> Behaviour {
    Behaviour::Good { size: 50_000, delay: Duration::ZERO }
}

/// The HTML of the table with `id`, if the page has one.
fn table_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let end = html[at..].find("</table>")? + at;
    Some(html[at..end].to_owned())
}

fn line_of(text: &str, needle: &str) -> String {
    text.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no line with {needle}:\n{text}")).to_owned()
}

#[tokio::test]
async fn on_drive_copies_trashed_or_replaced_by_hand_are_found_told_once_kept_out_of_retention_and_good_again() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(good(), 1).await;
    let folder = h.folder("erp");
    h.add_app("erp", &app.url, &folder, &["--keep-last", "2"]).await;
    let served = h.start(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let hooks = Recorder::start(0).await;
    session.add_failure_webhook("on-call", &format!("{}/hook", hooks.url)).await;

    let first = h.backup("erp", &[]).await;
    let second = h.backup("erp", &[]).await;
    let clean = h.cli(&["audit", "erp"]).await;
    clean.assert_success();
    assert!(
        clean.stdout_text().contains("erp: 2 copies, 2 good, 0 lost, 0 damaged, 0 read back"),
        "{}",
        clean.stdout_text()
    );

    // By hand, in Drive: the older copy trashed, the newer one's content replaced.
    let id_of = |name: &str| h.double.files_in(&folder).into_iter().find(|f| f.name == name).unwrap().id;
    let (first_id, second_id) = (id_of(&first), id_of(&second));
    let original = h.double.content(&second_id).unwrap();
    h.double.set_trashed(&first_id, true);
    h.double.replace_content(&second_id, b"not the dump any more");
    let found = h.cli(&["audit", "erp"]).await;
    assert_eq!(found.status.code(), Some(1), "an audit that finds bad copies exits 1: {}", found.stdout_text());
    let text = found.stdout_text();
    assert!(text.contains("erp: 2 copies, 0 good, 1 lost, 1 damaged"), "{text}");
    assert!(line_of(&text, "lost:").contains(&first), "{text}");
    let damaged = line_of(&text, "damaged:");
    assert!(damaged.contains(&second) && damaged.contains("holds 21 bytes; 50000 were stored"), "{text}");

    // Told once, with both copies, to the failure channel.
    let told = hooks.wait_for(Duration::from_secs(30), |seen| !seen.is_empty()).await;
    let notice = told[0].json();
    assert_eq!(notice["event"], "failure", "{notice}");
    let summary = notice["summary"].as_str().unwrap();
    assert!(summary.contains("erp: 1 copy lost, 1 copy damaged"), "{summary}");
    assert!(notice["reason"].as_str().unwrap().contains(&first), "{notice}");
    let again = h.cli(&["audit", "erp"]).await;
    assert_eq!(again.status.code(), Some(1));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(hooks.received().len(), 1, "a copy's loss or damage is told once, not at every audit");

    // The app's page shows them in red, and says when the copies were last audited.
    let page = session.page("/apps/erp").await;
    let bad = table_of(&page, "bad-copies").unwrap_or_else(|| panic!("{page}"));
    assert!(bad.contains(&first) && bad.contains(&second), "{bad}");
    assert!(element_text(&page, "last-audit").unwrap().contains("1 lost, 1 damaged"), "{page}");

    // Retention counts good copies only: two more backups, and the damaged copy stays beside two
    // good ones, neither deleted nor holding a slot.
    let third = h.backup("erp", &[]).await;
    let fourth = h.backup("erp", &[]).await;
    let names: Vec<String> = h.double.files_in(&folder).into_iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        vec![second.clone(), third.clone(), fourth.clone()],
        "the damaged copy is kept, two good beside it"
    );
    let preview = h.cli(&["retention", "erp"]).await.stdout_text();
    assert!(line_of(&preview, &second).contains("(damaged)"), "{preview}");

    // Put back: the trashed copy restored, the replaced content written again.
    h.double.set_trashed(&first_id, false);
    h.double.replace_content(&second_id, &original);
    let back = h.cli(&["audit", "erp"]).await;
    back.assert_success();
    let text = back.stdout_text();
    assert!(
        text.contains(&format!("good again: {first}")) && text.contains(&format!("good again: {second}")),
        "{text}"
    );
    assert!(text.contains("erp: 4 copies, 4 good, 0 lost, 0 damaged"), "{text}");
    let page = session.page("/apps/erp").await;
    assert!(table_of(&page, "bad-copies").is_none(), "nothing shown in red any more");

    // Gone for good, on purpose: once forgotten, it is no longer reported.
    h.double.set_trashed(&first_id, true);
    assert_eq!(h.cli(&["audit", "erp"]).await.status.code(), Some(1));
    let unknown = h.cli(&["copies", "forget", "erp", "no-such-copy"]).await;
    assert!(!unknown.status.success() && unknown.stderr.contains("has no lost copy"), "{}", unknown.stderr);
    h.cli(&["copies", "forget", "erp", &first]).await.assert_success();
    let after = h.cli(&["audit", "erp"]).await;
    after.assert_success();
    assert!(after.stdout_text().contains("erp: 3 copies, 3 good, 0 lost"), "{}", after.stdout_text());

    let created = h.cli(&["tokens", "create", "audit-reader"]).await;
    created.assert_success();
    let history = get_json(&format!("{}/api/v1/apps/erp/audits", served.url), created.stdout_text().trim()).await;
    let audits = history["audits"].as_array().unwrap();
    assert_eq!(audits.len(), 6, "{history}");
    assert_eq!((audits[0]["good"].as_i64(), audits[0]["trigger"].as_str()), (Some(3), Some("cli")), "{history}");
    assert_eq!((audits[4]["lost"].as_i64(), audits[4]["damaged"].as_i64()), (Some(1), Some(1)), "{history}");
    served.stop().await;
}

#[tokio::test]
async fn on_a_local_folder_a_removed_copy_is_lost_and_a_same_size_change_is_found_by_reading_back() {
    let h = Harness::local().await;
    let app = sdk_apps::spawn(good(), 1).await;
    h.add_app("crm", &app.url, "crm", &["--keep-last", "3"]).await;
    let first = h.backup("crm", &[]).await;
    let second = h.backup("crm", &[]).await;
    let third = h.backup("crm", &[]).await;
    let dir = h.dir().join("backups/crm");

    // Removed by hand (file and marks), and one byte of another changed: same size.
    let kept_aside = h.dir().join("aside");
    std::fs::create_dir_all(&kept_aside).unwrap();
    for suffix in ["", ".props.json"] {
        std::fs::rename(dir.join(format!("{first}{suffix}")), kept_aside.join(format!("{first}{suffix}"))).unwrap();
    }
    let path = dir.join(&second);
    let mut bytes = std::fs::read(&path).unwrap();
    let original = bytes.clone();
    bytes[1000] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();

    let listed = h.cli(&["audit", "crm"]).await;
    assert_eq!(listed.status.code(), Some(1));
    let text = listed.stdout_text();
    assert!(
        text.contains("crm: 3 copies, 2 good, 1 lost, 0 damaged, 0 read back"),
        "the listing cannot see it: {text}"
    );

    let bad_share = h.cli(&["audit", "crm", "--sample-percent", "101"]).await;
    assert!(!bad_share.status.success());
    assert!(bad_share.stderr.contains("101"), "{}", bad_share.stderr);

    // Read back: the changed bytes show.
    let read = h.cli(&["audit", "crm", "--sample-percent", "100"]).await;
    assert_eq!(read.status.code(), Some(1));
    let text = read.stdout_text();
    assert!(text.contains("crm: 3 copies, 1 good, 1 lost, 1 damaged, 2 read back"), "{text}");
    assert!(line_of(&text, "damaged:").contains(&second) && text.contains("reads back with sha256"), "{text}");
    let preview = h.cli(&["retention", "crm"]).await.stdout_text();
    assert!(line_of(&preview, &second).contains("(damaged)"), "{preview}");
    assert!(line_of(&preview, &third).contains("last"), "{preview}");

    // A listing-only audit cannot clear what reading found; reading the good bytes again does.
    std::fs::write(&path, &original).unwrap();
    for suffix in ["", ".props.json"] {
        std::fs::rename(kept_aside.join(format!("{first}{suffix}")), dir.join(format!("{first}{suffix}"))).unwrap();
    }
    let listing = h.cli(&["audit", "crm", "--json"]).await;
    let report: serde_json::Value = serde_json::from_str(&listing.stdout_text()).unwrap();
    assert_eq!(report[0]["recovered"], serde_json::json!([first]), "{report}");
    assert_eq!(report[0]["damaged"][0]["name"], second.as_str(), "{report}");
    let all = h.cli(&["audit", "--sample-percent", "100"]).await;
    all.assert_success();
    assert!(
        all.stdout_text().contains("crm: 3 copies, 3 good, 0 lost, 0 damaged, 3 read back"),
        "{}",
        all.stdout_text()
    );
}

#[tokio::test]
async fn the_audit_button_checks_the_share_asked_for_and_refuses_a_bad_one() {
    let h = Harness::local().await;
    let app = sdk_apps::spawn(good(), 1).await;
    h.add_app("wiki", &app.url, "wiki", &[]).await;
    h.backup("wiki", &[]).await;
    let served = h.start(&[("METRICS_TOKEN", "scrape-me")]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let page = session.page("/apps/wiki").await;
    assert!(element_text(&page, "last-audit").unwrap().contains("No audit yet"), "{page}");

    let refused = session.post("/apps/wiki/audit", &[("sample_percent", "lots")]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("from 0 to 100"));
    let done = session.post("/apps/wiki/audit", &[("sample_percent", "100")]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/apps/wiki#integrity");
    let page = session.page("/apps/wiki").await;
    let last = element_text(&page, "last-audit").unwrap();
    assert!(last.contains("(ui): 1 copies, 1 good, 0 lost, 0 damaged, 1 read back"), "{last}");
    assert!(session.page("/audit").await.contains("<code>copies.audit</code>"), "the button is in the audit log");
    let (_, metrics) = get_with_token(&format!("{}/metrics", served.url), "scrape-me").await;
    assert!(metrics.contains("backup_last_audit_timestamp_seconds{app=\"wiki\"}"), "{metrics}");
    served.stop().await;
}
