//! `orchestrator restore SOURCE COPY --into TARGET`: a production copy restored into staging.
//! The copy is still checked as the source's own; the target must take its type; the safety
//! backup and the restore record are the target's, and the record names the source.

use std::time::Duration;

use e2e::harness::Harness;
use e2e::sdk_apps::{self, Behaviour, expected_sha256};
use orchestrator::db::entities::{app, audit_entry, backup_run, restore};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

const SIZE: u64 = 150_000;

fn good() -> Behaviour {
    Behaviour::Good { size: SIZE, delay: Duration::ZERO }
}

async fn app_id(h: &Harness, name: &str) -> i64 {
    let db = h.db().await;
    app::Entity::find().filter(app::Column::Name.eq(name)).one(&db).await.unwrap().expect("registered").id
}

async fn restores(h: &Harness) -> Vec<restore::Model> {
    restore::Entity::find().order_by_asc(restore::Column::Id).all(&h.db().await).await.unwrap()
}

async fn runs(h: &Harness) -> Vec<backup_run::Model> {
    backup_run::Entity::find().order_by_asc(backup_run::Column::Id).all(&h.db().await).await.unwrap()
}

#[tokio::test]
async fn restore_into_another_app_takes_a_safety_backup_of_the_target_and_records_the_source() {
    let h = Harness::sqlite().await;
    let prod = sdk_apps::spawn_restorable(good(), 11).await;
    let staging = sdk_apps::spawn_restorable(good(), 12).await;
    let (prod_folder, staging_folder) = (h.folder("prod"), h.folder("staging"));
    h.add_app("prod", &prod.url, &prod_folder, &[]).await;
    h.add_app("staging", &staging.url, &staging_folder, &[]).await;
    let copy = h.backup("prod", &[]).await;

    let out = h.cli(&["restore", "prod", &copy, "--into", "staging"]).await;
    out.assert_success();
    let wanted = expected_sha256(SIZE, 11);
    assert_eq!(out.field("sha256").as_deref(), Some(wanted.as_str()));
    assert!(out.stdout_text().contains(&format!("restored staging from {copy} of prod")), "{}", out.stdout_text());
    assert_eq!(staging.restored(), std::slice::from_ref(&wanted), "staging now holds production's data");
    assert!(prod.restored().is_empty(), "production was not touched");

    // The safety backup is staging's, in staging's folder; production's folder is as it was.
    let staging_files = h.double.files_in(&staging_folder);
    assert_eq!(staging_files.len(), 1);
    assert_eq!(staging_files[0].app_properties["app"], "staging");
    assert_eq!(staging_files[0].sha256, expected_sha256(SIZE, 12), "staging's state from before the restore");
    assert_eq!(h.double.files_in(&prod_folder).len(), 1);

    let (prod_id, staging_id) = (app_id(&h, "prod").await, app_id(&h, "staging").await);
    let rows = restores(&h).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!((row.app_id, row.status.as_str()), (staging_id, "succeeded"));
    assert_eq!((row.source_app_id, row.source_app.as_deref()), (Some(prod_id), Some("prod")));
    let safety = runs(&h).await.into_iter().find(|r| Some(r.id) == row.safety_run_id).expect("a safety run");
    assert_eq!((safety.app_id, safety.trigger.as_str(), safety.status.as_str()), (staging_id, "safety", "succeeded"));

    let audit = audit_entry::Entity::find().all(&h.db().await).await.unwrap();
    let start = audit.iter().find(|e| e.action == "restore.start").unwrap();
    assert_eq!(start.target.as_deref(), Some("staging"));
    assert!(start.detail.as_deref().unwrap_or_default().contains(&format!("{copy} ")), "{:?}", start.detail);
    assert!(start.detail.as_deref().unwrap_or_default().contains("of prod"), "{:?}", start.detail);
}

#[tokio::test]
async fn restore_into_an_app_that_cannot_take_the_copy_is_refused_and_changes_nothing() {
    use sha2::{Digest, Sha256};
    let h = Harness::sqlite().await;
    let prod = sdk_apps::spawn_restorable(good(), 21).await;
    let staging = sdk_apps::spawn_restorable(good(), 22).await;
    let report = sdk_apps::spawn(good(), 23).await;
    let prod_folder = h.folder("prod");
    let staging_folder = h.folder("staging");
    h.add_app("prod", &prod.url, &prod_folder, &[]).await;
    h.add_app("staging", &staging.url, &staging_folder, &[]).await;
    h.add_app("report", &report.url, &h.folder("report"), &[]).await;
    let copy = h.backup("prod", &[]).await;
    // A copy of production of a type staging does not offer.
    let marks = h.double.files_in(&prod_folder)[0].app_properties.clone();
    let bytes = b"a schema-only dump";
    let sha = hex::encode(Sha256::digest(bytes));
    let schema_marks =
        [("dep", marks["dep"].as_str()), ("app", "prod"), ("type", "schema"), ("sha256", &sha), ("verified", "1")];
    h.double.add_file(&prod_folder, "prod-schema.sql", bytes, &schema_marks);
    let asked_before = report.requests().len();

    let refused = |out: &e2e::cli::Run, words: &str| {
        assert_eq!(out.status.code(), Some(1), "{}", out.stdout_text());
        assert!(out.stderr.contains(words), "expected {words:?} in: {}", out.stderr);
    };
    let no_restores = h.cli(&["restore", "prod", &copy, "--into", "report"]).await;
    refused(&no_restores, "report does not accept restores");
    assert_eq!(report.requests()[asked_before..], ["GET /backup/capabilities"], "only asked what it offers");
    let wrong_type = h.cli(&["restore", "prod", "prod-schema.sql", "--into", "staging"]).await;
    refused(&wrong_type, "is a \"schema\" backup of prod, a type staging does not offer (it offers full)");
    let unknown = h.cli(&["restore", "prod", "nope.bin", "--into", "staging"]).await;
    refused(&unknown, "there is no copy named \"nope.bin\"");
    let nowhere = h.cli(&["restore", "prod", &copy, "--into", "nosuch"]).await;
    assert!(!nowhere.status.success() && nowhere.stderr.contains("nosuch"), "{}", nowhere.stderr);
    // A copy of staging's own is not production's.
    let of_staging = h.backup("staging", &[]).await;
    let not_prods = h.cli(&["restore", "prod", &of_staging, "--into", "staging"]).await;
    refused(&not_prods, &format!("there is no copy named \"{of_staging}\""));

    assert!(restores(&h).await.is_empty(), "no restore was recorded");
    assert_eq!(runs(&h).await.len(), 2, "no safety backup was taken");
    assert_eq!(h.double.files_in(&staging_folder).len(), 1);
    assert!(staging.restored().is_empty() && prod.restored().is_empty());
}

#[tokio::test]
async fn restore_into_from_the_page_and_the_api_names_the_target_and_the_source() {
    use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER};
    use e2e::web::{self, follow_to_end, location, sign_in};
    use reqwest::StatusCode;
    use serde_json::json;

    let h = Harness::sqlite().await;
    let prod = sdk_apps::spawn_restorable(good(), 31).await;
    let staging = sdk_apps::spawn_restorable(good(), 32).await;
    h.add_app("prod", &prod.url, &h.folder("prod"), &[]).await;
    h.add_app("staging", &staging.url, &h.folder("staging"), &[]).await;
    let copy = h.backup("prod", &[]).await;
    let served = h.serve(&[]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;

    let path = format!("/apps/prod/copies/{copy}/restore");
    let page = session.page(&format!("{path}?into=staging")).await;
    assert!(page.contains("id=\"restore-from\"") && page.contains("is a copy of prod"), "{page}");
    let typed_source =
        session.post(&path, &[("confirm", "prod"), ("password", ADMIN_PASSWORD), ("into", "staging")]).await;
    assert_eq!(typed_source.status(), StatusCode::UNPROCESSABLE_ENTITY, "the target's name must be typed");
    let started = session
        .post(
            &path,
            &[("confirm", "staging"), ("password", ADMIN_PASSWORD), ("into", "staging"), ("safety_backup", "on")],
        )
        .await;
    let restore_path = location(&started);
    let end = follow_to_end(session.get(&format!("{restore_path}/events")).await, Duration::from_secs(90)).await;
    assert_eq!(end["status"], "succeeded", "{end}");
    assert_eq!(staging.restored(), [expected_sha256(SIZE, 31)]);

    let token = session.api_token("into").await;
    let http = web::client();
    let refused = http
        .post(format!("{}/api/v1/apps/prod/copies/{copy}/restore", served.url))
        .bearer_auth(&token)
        .json(&json!({"confirm": "staging", "into": "nosuch"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["fields"][0]["field"], "into", "{body}");
    let started = http
        .post(format!("{}/api/v1/apps/prod/copies/{copy}/restore", served.url))
        .bearer_auth(&token)
        .json(&json!({"confirm": "staging", "into": "staging", "safety_backup": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let view: serde_json::Value = started.json().await.unwrap();
    assert_eq!((view["app"].clone(), view["from_app"].clone()), (json!("staging"), json!("prod")));
    let events = http.get(format!("{}/api/v1/restores/{}/events", served.url, view["id"])).bearer_auth(&token);
    assert_eq!(follow_to_end(events.send().await.unwrap(), Duration::from_secs(90)).await["status"], "succeeded");
    assert_eq!(staging.restored().len(), 2);
    assert!(prod.restored().is_empty());
}
