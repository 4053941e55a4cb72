//! Pinned copies and notes: a pinned copy is never pruned and takes no retention slot; pins and
//! notes live in the copy's own marks, so a rebuilt database still sees them.

use std::time::Duration;

use e2e::harness::Harness;
use e2e::sdk_apps::{self, Behaviour};

fn good() -> Behaviour {
    Behaviour::Good { size: 50_000, delay: Duration::ZERO }
}

fn line_of(text: &str, name: &str) -> String {
    text.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("no line for {name}:\n{text}")).to_owned()
}

#[tokio::test]
async fn a_pinned_copy_on_drive_outlives_retention_until_unpinned_and_keeps_its_note() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(good(), 1).await;
    let folder = h.folder("erp");
    h.add_app("erp", &app.url, &folder, &["--keep-last", "1"]).await;

    let first = h.backup("erp", &["--note", "antes de migrar a la v2"]).await;
    let stored = h.double.files_in(&folder);
    assert_eq!(stored[0].app_properties.get("note").map(String::as_str), Some("antes de migrar a la v2"));

    let out = h.cli(&["copies", "pin", "erp", &first, "--note", "  before the 2.0 upgrade  "]).await;
    out.assert_success();
    assert!(out.stdout_text().contains(&format!("pinned {first} of erp")), "{}", out.stdout_text());
    let second = h.backup("erp", &[]).await;
    let third = h.backup("erp", &[]).await;

    let names: Vec<String> = h.double.files_in(&folder).into_iter().map(|f| f.name).collect();
    assert!(names.contains(&first), "the pinned copy survived two prunes: {names:?}");
    assert!(names.contains(&third) && !names.contains(&second), "keep-last 1 still holds for the rest: {names:?}");
    let preview = h.cli(&["retention", "erp"]).await.stdout_text();
    assert!(line_of(&preview, &first).contains("(pinned)"), "{preview}");
    assert!(line_of(&preview, &third).contains("last"), "the pinned copy took no slot: {preview}");

    let list = h.cli(&["copies", "list", "erp"]).await;
    list.assert_success();
    let text = list.stdout_text();
    assert!(line_of(&text, &first).contains("[pinned]"), "{text}");
    assert!(text.contains("    note: before the 2.0 upgrade\n"), "the note is trimmed and shown: {text}");

    let out = h.cli(&["copies", "unpin", "erp", &first]).await;
    out.assert_success();
    h.backup("erp", &[]).await;
    let names: Vec<String> = h.double.files_in(&folder).into_iter().map(|f| f.name).collect();
    assert!(!names.contains(&first), "unpinned, it is pruned like any other: {names:?}");
}

#[tokio::test]
async fn bad_pins_are_refused_and_change_nothing() {
    let mut h = Harness::local().await;
    h.set("DEPLOYMENT_ID", "site-a");
    let app = sdk_apps::spawn(good(), 1).await;
    h.add_app("crm", &app.url, "crm", &["--keep-last", "1"]).await;
    let copy = h.backup("crm", &[]).await;
    let props = h.dir().join("backups/crm").join(format!("{copy}.props.json"));
    let before = std::fs::read_to_string(&props).unwrap();

    let unknown = h.cli(&["copies", "pin", "crm", "no-such-copy.bin"]).await;
    assert!(!unknown.status.success());
    assert!(unknown.stderr.contains("crm has no copy named \"no-such-copy.bin\""), "{}", unknown.stderr);
    assert!(unknown.stderr.contains("orchestrator copies list crm"), "{}", unknown.stderr);

    let long = "x".repeat(121);
    let too_long = h.cli(&["copies", "pin", "crm", &copy, "--note", &long]).await;
    assert!(!too_long.status.success());
    assert!(too_long.stderr.contains("at most 120 bytes"), "{}", too_long.stderr);
    let two_lines = h.cli(&["copies", "pin", "crm", &copy, "--note", "a\nb"]).await;
    assert!(two_lines.stderr.contains("write it on one line"), "{}", two_lines.stderr);
    let bad_run = h.cli(&["run", "crm", "--note", &long]).await;
    assert!(!bad_run.status.success() && bad_run.stderr.contains("at most 120 bytes"), "{}", bad_run.stderr);
    assert_eq!(std::fs::read_to_string(&props).unwrap(), before, "refused pins wrote nothing");
    assert_eq!(h.stored_files("crm"), vec![copy.clone()], "a refused run made no copy");

    // Pinned, then deleted by hand outside the orchestrator: the pin goes with it.
    h.cli(&["copies", "pin", "crm", &copy]).await.assert_success();
    std::fs::remove_file(h.dir().join("backups/crm").join(&copy)).unwrap();
    std::fs::remove_file(&props).unwrap();
    let gone = h.cli(&["copies", "unpin", "crm", &copy]).await;
    assert!(!gone.status.success() && gone.stderr.contains("has no copy named"), "{}", gone.stderr);
    let next = h.backup("crm", &[]).await;
    assert_eq!(h.stored_files("crm"), vec![next]);
}

#[tokio::test]
async fn pins_and_notes_survive_a_lost_database_because_they_live_in_the_copy() {
    let mut h = Harness::local().await;
    h.set("DEPLOYMENT_ID", "site-a");
    let app = sdk_apps::spawn(good(), 1).await;
    h.add_app("wiki", &app.url, "wiki", &["--keep-last", "1"]).await;
    let kept = h.backup("wiki", &["--note", "fin de año"]).await;
    h.cli(&["copies", "pin", "wiki", &kept]).await.assert_success();

    // The database is lost; the same deployment registers the app again.
    let db = h.database_url.trim_start_matches("sqlite://").split('?').next().unwrap().to_owned();
    std::fs::remove_file(&db).unwrap();
    h.add_app("wiki", &app.url, "wiki", &["--keep-last", "1"]).await;
    let text = h.cli(&["copies", "list", "wiki"]).await.stdout_text();
    assert!(line_of(&text, &kept).contains("[pinned]"), "{text}");
    assert!(text.contains("    note: fin de año\n"), "{text}");
    h.backup("wiki", &[]).await;
    h.backup("wiki", &[]).await;
    assert!(h.stored_files("wiki").contains(&kept), "still pinned after the rebuild");
    assert_eq!(h.stored_files("wiki").len(), 2);
}

#[tokio::test]
async fn the_api_pins_with_a_note_refuses_bad_notes_and_deleting_a_pinned_copy() {
    use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER};
    use e2e::web::{self, follow_to_end, sign_in};
    use reqwest::StatusCode;
    use serde_json::json;

    let h = Harness::local().await;
    let app = sdk_apps::spawn(good(), 2).await;
    h.add_app("crm", &app.url, "crm", &["--keep-last", "3"]).await;
    let served = h.serve(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("pins").await;
    let http = web::client();
    let api = |path: &str| format!("{}/api/v1/apps/crm{path}", served.url);

    // A run with a note; a bad note queues nothing.
    let long = json!({ "note": "x".repeat(121) });
    let refused = http.post(api("/runs")).bearer_auth(&token).json(&long).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["fields"][0]["field"], "note", "{body}");
    let not_json = http.post(api("/runs")).bearer_auth(&token).body("note=x").send().await.unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let started = http.post(api("/runs")).bearer_auth(&token).json(&json!({"note": "weekly"})).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let run: serde_json::Value = started.json().await.unwrap();
    let events = http.get(format!("{}/api/v1/runs/{}/events", served.url, run["id"])).bearer_auth(&token);
    assert_eq!(follow_to_end(events.send().await.unwrap(), Duration::from_secs(60)).await["status"], "succeeded");
    // Without a body, as before notes.
    let plain = http.post(api("/runs")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::ACCEPTED);

    let copies: Vec<serde_json::Value> =
        http.get(api("/copies")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let noted = copies.iter().find(|c| c["note"] == "weekly").expect("the run's note is on its copy");
    let name = noted["name"].as_str().unwrap().to_owned();
    assert_eq!(noted["pinned"], false);

    let pin = |body: serde_json::Value| http.put(api(&format!("/copies/{name}/pin"))).bearer_auth(&token).json(&body);
    let bad = pin(json!({"note": "a\tb"})).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = http.put(api("/copies/nope.bin/pin")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let pinned: serde_json::Value =
        pin(json!({"note": "keep for the audit"})).send().await.unwrap().json().await.unwrap();
    assert_eq!((pinned["pinned"].clone(), pinned["note"].clone()), (json!(true), json!("keep for the audit")));

    let delete = http.delete(api(&format!("/copies/{name}"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(delete.status(), StatusCode::CONFLICT, "a pinned copy is not deleted");
    assert!(delete.text().await.unwrap().contains("unpin it first"));
    assert!(h.stored_files("crm").contains(&name));

    let unpinned: serde_json::Value = http
        .delete(api(&format!("/copies/{name}/pin")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((unpinned["pinned"].clone(), unpinned["note"].clone()), (json!(false), json!("keep for the audit")));
    let delete = http.delete(api(&format!("/copies/{name}"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
}
