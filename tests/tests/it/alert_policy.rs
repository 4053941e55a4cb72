//! Alerts worth reading, black-box: a failing app alerts once per streak, is reminded while it
//! keeps failing and is told recovered when it ends; channels hear only the events and tags they
//! chose, in their own language; restores are told; the daily summary arrives at its hour in its
//! zone and language, once, with the right figures.

use std::time::Duration;

use e2e::apps::TOKEN;
use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::receivers::{Received, Recorder};
use e2e::sdk_apps::{self, Behaviour};
use e2e::web::{WebSession, get_json, sign_in};
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;

const SIGNING: &str = "a-signing-secret-of-some-length";
const WAIT: Duration = Duration::from_secs(60);

async fn add_channel(session: &WebSession, fields: &[(&str, &str)]) {
    let response = session.post("/notifications", fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "channel {fields:?} was refused");
}

/// A webhook channel to `hook` with `more` fields (events, tags, language...).
async fn add_hook(session: &WebSession, name: &str, hook: &Recorder, more: &[(&str, &str)]) {
    let url = format!("{}/{name}", hook.url);
    let mut fields = vec![("kind", "webhook"), ("name", name), ("url", url.as_str()), ("signing_secret", SIGNING)];
    fields.extend_from_slice(more);
    add_channel(session, &fields).await;
}

/// The codes of the notices a receiver accepted, in order.
/// The codes of the notices a receiver took, each delivery once: a delivery whose answer came too
/// late is sent again with the same `X-Backup-Delivery`, and a receiver keeps the first.
fn codes(seen: &[Received]) -> Vec<String> {
    let mut deliveries = std::collections::HashSet::new();
    seen.iter()
        .filter(|r| r.status == 200 && deliveries.insert(r.header("x-backup-delivery").map(str::to_owned)))
        .map(|r| r.json()["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn sql(h: &Harness, statement: &str) {
    let db = h.db().await;
    db.execute_unprepared(statement).await.unwrap();
}

#[tokio::test]
async fn a_failing_app_alerts_once_reminds_while_it_lasts_and_says_recovered() {
    let h = Harness::sqlite().await;
    let broken = sdk_apps::spawn(Behaviour::FailsAtOnce, 1).await;
    let good = sdk_apps::spawn_restorable(Behaviour::Good { size: 64 * 1024, delay: Duration::ZERO }, 2).await;
    let folder = h.folder("billing");
    h.add_app("billing", &broken.url, &folder, &["--tag", "odoo"]).await;
    let spanish = Recorder::start(0).await;
    let odoo = Recorder::start(0).await;
    let other = Recorder::start(0).await;
    let served = h
        .serve(&[
            ("MAX_ATTEMPTS", "1"),
            ("NOTIFY_RETRY_SECS", "1"),
            ("ALERT_CHECK_SECS", "1"),
            ("NOTIFY_REMINDER_HOURS", "1"),
            ("PUBLIC_URL", "http://backups.test"),
        ])
        .await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let every = [("on_failure", "on"), ("on_recovery", "on"), ("on_stale", "on")];
    let mut es = every.to_vec();
    es.extend([("language", "es"), ("on_restore", "on")]);
    add_hook(&session, "guardia", &spanish, &es).await;
    let mut tagged = every.to_vec();
    tagged.push(("tags", "odoo, erp"));
    add_hook(&session, "odoo-team", &odoo, &tagged).await;
    let mut untagged = every.to_vec();
    untagged.push(("tags", "wiki"));
    add_hook(&session, "wiki-team", &other, &untagged).await;

    // Two failures in a row: one alert per channel that hears the app, none for the other tag.
    for _ in 0..2 {
        let out = h.cli(&["run", "billing"]).await;
        assert!(!out.status.success(), "the broken app's backup fails");
    }
    let seen = spanish.wait_for(WAIT, |s| !codes(s).is_empty()).await;
    let first = seen[0].json();
    assert_eq!(first["code"], "backup.failed");
    assert_eq!(first["event"], "failure");
    assert_eq!(first["language"], "es");
    let said = first["summary"].as_str().unwrap();
    assert!(said.starts_with("billing: falló la copia de seguridad durante "), "{first}");
    odoo.wait_for(WAIT, |s| !codes(s).is_empty()).await;
    tokio::time::sleep(Duration::from_secs(3)).await; // several alert checks
    assert_eq!(codes(&spanish.received()), ["backup.failed"], "the second failure of the streak is not told");
    let english = odoo.received()[0].json();
    assert_eq!((english["code"].as_str(), english["language"].as_str()), (Some("backup.failed"), Some("en")));
    assert!(english["summary"].as_str().unwrap().starts_with("billing: backup failed during "), "{english}");
    assert_eq!(codes(&odoo.received()), ["backup.failed"]);
    assert!(other.received().is_empty(), "a channel of another tag hears nothing of billing");

    // An hour passes (the streak's start is moved back): one reminder, then none until the next.
    sql(&h, "UPDATE app_alerts SET failing_since = failing_since - 3600001").await;
    let seen = spanish.wait_for(WAIT, |s| codes(s).len() >= 2).await;
    let reminder = seen[1].json();
    assert_eq!(reminder["code"], "backup.still_failing");
    assert_eq!(reminder["event"], "failure");
    let reason = reminder["reason"].as_str().unwrap();
    assert!(reason.starts_with("2 ejecuciones fallidas desde entonces"), "{reason}");
    assert!(reason.contains("unreachable"), "the last error is passed on: {reason}");
    assert!(reminder["summary"].as_str().unwrap().starts_with("billing: las copias siguen fallando, desde el "));
    odoo.wait_for(WAIT, |s| codes(s).len() >= 2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(codes(&spanish.received()), ["backup.failed", "backup.still_failing"]);
    assert_eq!(codes(&odoo.received()), ["backup.failed", "backup.still_failing"]);

    // Fixed: the next success ends the streak with a recovery, once.
    h.cli_with(&["apps", "edit", "billing", "--url", &good.url, "--token"], &[("BACKUP_TOKEN", TOKEN)])
        .await
        .assert_success();
    let copy = h.backup("billing", &[]).await;
    let seen = spanish.wait_for(WAIT, |s| codes(s).len() >= 3).await;
    let recovered = seen[2].json();
    assert_eq!(recovered["code"], "backup.recovered");
    assert_eq!(recovered["summary"], "billing: las copias vuelven a funcionar (estaba fallando)");
    odoo.wait_for(WAIT, |s| codes(s).len() >= 3).await;
    assert_eq!(codes(&odoo.received())[2], "backup.recovered");
    // No reminder after the end: a further success tells nothing either.
    h.backup("billing", &[]).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(codes(&spanish.received()).len(), 3);

    // A restore is told to the channel that hears restores: started, then succeeded.
    h.cli(&["restore", "billing", &copy, "--no-safety-backup"]).await.assert_success();
    let seen = spanish.wait_for(WAIT, |s| codes(s).len() >= 5).await;
    assert_eq!(codes(&seen)[3..], ["restore.started", "restore.succeeded"]);
    let done = seen[4].json();
    assert_eq!(done["event"], "restore");
    assert_eq!(done["restore"]["copy_name"], copy);
    assert!(done["summary"].as_str().unwrap().contains("terminó bien"), "{done}");
    let odoo_codes = codes(&odoo.received());
    assert_eq!(odoo_codes.len(), 3, "a channel that does not hear restores is not told: {odoo_codes:?}");
}

#[tokio::test]
async fn the_summary_arrives_at_its_hour_in_its_zone_and_language_once() {
    let h = Harness::sqlite().await;
    let good = sdk_apps::spawn(Behaviour::Good { size: 100 * 1024, delay: Duration::ZERO }, 3).await;
    let broken = sdk_apps::spawn(Behaviour::FailsAtOnce, 4).await;
    h.add_app("ventas", &good.url, &h.folder("ventas"), &["--tag", "erp"]).await;
    h.add_app("nominas", &broken.url, &h.folder("nominas"), &["--tag", "erp", "--tz", "Europe/Madrid"]).await;
    h.add_app("wiki", &good.url, &h.folder("wiki"), &[]).await;
    h.backup("ventas", &[]).await;
    assert!(!h.cli(&["run", "nominas"]).await.status.success());

    // The hours now in UTC and in Kathmandu (+05:45): a summary set to the hour it is now in
    // its zone is sent; the same hour in another zone, where it has not come or is long past,
    // is not.
    let now = jiff::Timestamp::now();
    let hour_in = |zone: &str| now.to_zoned(jiff::tz::TimeZone::get(zone).unwrap()).hour().to_string();
    let (utc, kathmandu) = (hour_in("UTC"), hour_in("Asia/Kathmandu"));
    let hook = Recorder::start(0).await;
    let served = h.serve(&[("ALERT_CHECK_SECS", "1"), ("PUBLIC_URL", "http://backups.test")]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let summary = |hour: &'static str, zone: &'static str, language: &'static str| {
        [("summary", "daily"), ("summary_hour", hour), ("time_zone", zone), ("language", language), ("tags", "erp")]
    };
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    add_hook(&session, "resumen", &hook, &summary(leak(utc.clone()), "UTC", "es")).await;
    add_hook(&session, "kathmandu", &hook, &summary(leak(kathmandu.clone()), "Asia/Kathmandu", "en")).await;
    if kathmandu != utc {
        add_hook(&session, "wrong-zone", &hook, &summary(leak(kathmandu.clone()), "UTC", "en")).await;
    }

    let seen = hook.wait_for(WAIT, |s| s.len() >= 2).await;
    tokio::time::sleep(Duration::from_secs(4)).await; // several checks: each is sent once
    let seen_now = hook.received();
    assert_eq!(seen_now.len(), 2, "one summary per channel whose hour it is: {seen:#?}");
    let by = |path: &str| seen_now.iter().find(|r| r.path == path).unwrap_or_else(|| panic!("{path}")).json();
    let es = by("/resumen");
    assert_eq!((es["event"].as_str(), es["code"].as_str()), (Some("summary"), Some("summary.daily")));
    assert_eq!(es["summary"], "Resumen diario de copias de seguridad: 2 aplicaciones, 1 con fallos, 0 desactualizadas");
    let apps = es["apps"].as_array().unwrap();
    let names: Vec<&str> = apps.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["nominas", "ventas"], "the failing app first; only apps tagged erp");
    let (nominas, ventas) = (&apps[0], &apps[1]);
    assert_eq!((nominas["last_result"].as_str(), nominas["failures"].as_i64()), (Some("failed"), Some(1)));
    assert_eq!((nominas["copies"].as_i64(), nominas["failing"].as_bool()), (Some(0), Some(true)));
    assert_eq!((ventas["last_result"].as_str(), ventas["failures"].as_i64()), (Some("succeeded"), Some(0)));
    assert_eq!((ventas["copies"].as_i64(), ventas["bytes"].as_i64()), (Some(1), Some(100 * 1024)));
    assert!(ventas["next_run"].as_str().unwrap().ends_with("T03:00:00Z"), "{ventas}");
    let lines: Vec<&str> = es["lines"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert!(lines[1].starts_with("ventas: última copia: correcta, "), "{lines:?}");
    assert!(lines[1].contains("1 copias (100,0 KiB); 0 ejecuciones fallidas en el periodo"), "{lines:?}");
    assert!(lines[0].contains("CET (+01:00)"), "nominas' times are in its own zone: {lines:?}");
    let en = by("/kathmandu");
    assert_eq!(en["summary"], "Daily backup summary: 2 apps, 1 failing, 0 stale");

    // A summary changed to an hour already past today starts tomorrow: nothing more now.
    let token = session.api_token("summary").await;
    let channels = get_json(&format!("{}/api/v1/notification-channels", served.url), &token).await;
    let first = &channels[0];
    assert_eq!((first["summary"].as_str(), first["language"].as_str()), (Some("daily"), Some("es")));
    assert_eq!(first["tags"], serde_json::json!(["erp"]));
    let bad = reqwest::Client::new()
        .patch(format!("{}/api/v1/notification-channels/{}", served.url, first["id"]))
        .bearer_auth(&token)
        .json(&serde_json::json!({"summary": "hourly", "summary_hour": 30, "time_zone": "Mars/Base"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad: serde_json::Value = bad.json().await.unwrap();
    let text = bad.to_string();
    for field in ["summary", "time_zone"] {
        assert!(text.contains(&format!("\"{field}\"")), "{field} named in {text}");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(hook.received().len(), 2);

    // A run's log in Spanish on its page; in the API each operator's line keeps its code.
    let page = e2e::web::client()
        .get(format!("{}/runs/1", served.url))
        .header("cookie", format!("{}; lang=es", session.cookie))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let log = &page[page.find("id=\"run-log\"").expect("a log section")..];
    for said in
        ["pidiendo a la aplicación sus capacidades", "el destino guardó el archivo (102400 bytes;", "verificada"]
    {
        assert!(log.contains(said), "{said:?} in the Spanish log: {log}");
    }
    let lines = get_json(&format!("{}/api/v1/runs/1/log", served.url), &token).await;
    let stored = lines["lines"].as_array().unwrap().iter().find(|l| l["code"] == "upload.stored").expect("coded");
    assert!(stored["message"].as_str().unwrap().starts_with("the destination stored the file"), "{stored}");
    assert_eq!(stored["fields"]["size"], "102400");
}
