//! Cancelling runs, and following them live: a running backup cancelled from the API, the run
//! page and the command line stops within seconds with no file and no open upload session, is
//! recorded as cancelled (not failed) and frees the app at once; a run waiting to retry is
//! cancelled at once and never retried; a second Test now points at the run under way instead of
//! recording a skipped one; the log streams while the run goes.

use std::time::Duration;

use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};
use e2e::sdk_apps::{self, Behaviour};
use e2e::web::{self, sign_in};
use futures::StreamExt;
use orchestrator::db::entities::{audit_entry, backup_run};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::scheduling::eventually;

const MIB: u64 = 1024 * 1024;

async fn run_row(h: &Harness, id: i64) -> backup_run::Model {
    backup_run::Entity::find_by_id(id).one(&h.db().await).await.unwrap().expect("the run is recorded")
}

async fn cancels(h: &Harness) -> Vec<audit_entry::Model> {
    audit_entry::Entity::find()
        .filter(audit_entry::Column::Action.eq("run.cancel"))
        .order_by_asc(audit_entry::Column::Id)
        .all(&h.db().await)
        .await
        .unwrap()
}

/// Reads a run's event stream until a `log` event carries `needle`, while the run still goes
/// (no `end` event before it); returns what was read.
async fn log_event_with(response: reqwest::Response, needle: &str) -> String {
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .unwrap_or_else(|_| panic!("no log event with {needle:?} in time:\n{text}"))
            .unwrap_or_else(|| panic!("the stream ended first:\n{text}"))
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        assert!(!text.contains("event: end"), "the run ended before its log was seen:\n{text}");
        if text.split("\n\n").any(|event| event.starts_with("event: log") && event.contains(needle)) {
            return text;
        }
    }
}

#[tokio::test]
async fn a_running_backup_is_cancelled_from_the_api_the_page_and_the_cli_and_leaves_nothing_behind() {
    let h = Harness::sqlite().await;
    // 16 MiB in 64 KiB pieces 100 ms apart: about 25 s, time enough to cancel it mid-stream.
    let app = sdk_apps::spawn(Behaviour::Good { size: 16 * MIB, delay: Duration::from_millis(100) }, 41).await;
    let folder = h.folder("slow");
    h.add_app("slow", &app.url, &folder, &[]).await;
    let mut served = h.serve(&[("GDRIVE_CHUNK_SIZE", "256KiB")]).await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let token = session.api_token("cancel").await;
    let api = |path: &str| format!("{}/api/v1{path}", served.url);
    let http = web::client();

    let started = http.post(api("/apps/slow/runs")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let id = started.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();

    // A second Test now is not recorded as skipped: it names the run under way.
    let again = http.post(api("/apps/slow/runs")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let said = again.text().await.unwrap();
    assert!(said.contains(&format!("run {id}")), "{said}");
    let page = session.post("/apps/slow/run", &[]).await;
    assert_eq!(web::location(&page), format!("/runs/{id}?already=1"), "Test now in the page shows the run under way");
    assert!(session.page(&format!("/runs/{id}?already=1")).await.contains("id=\"run-already\""));

    // The log streams while the run goes.
    let events = http.get(api(&format!("/runs/{id}/events"))).bearer_auth(&token).send().await.unwrap();
    log_event_with(events, "streaming the export into the destination").await;
    eventually(Duration::from_secs(30), "the export streams into an open upload session", || async {
        run_row(&h, id).await.bytes > MIB as i64 && h.double.open_sessions() == 1
    })
    .await;
    let queue = session.page("/queue").await;
    assert!(queue.contains(&format!("action=\"/runs/{id}/cancel\"")), "the queue page offers to cancel it");

    // Cancelled from the API: accepted, then stopped by the process running it.
    let cancel = http.post(api(&format!("/runs/{id}/cancel"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    let view: serde_json::Value = cancel.json().await.unwrap();
    assert!(view["cancel_requested_at"].is_string(), "{view}");
    eventually(Duration::from_secs(10), "the run is cancelled", || async {
        run_row(&h, id).await.status.as_str() == "cancelled"
    })
    .await;
    let run = run_row(&h, id).await;
    assert!(run.error.as_deref().unwrap_or_default().starts_with("cancelled by "), "{run:?}");
    assert!(run.file_name.is_none() && run.duration_ms.is_some(), "{run:?}");
    assert!(h.double.files_in(&folder).is_empty(), "no file is left");
    assert_eq!(h.double.open_sessions(), 0, "the upload session was cancelled");
    let twice = http.post(api(&format!("/runs/{id}/cancel"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(twice.status(), StatusCode::CONFLICT, "an ended run has nothing to cancel");

    // The app is free at once: the next Test now runs; the run page's button cancels it.
    let next = http.post(api("/apps/slow/runs")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(next.status(), StatusCode::ACCEPTED);
    let second = next.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();
    eventually(Duration::from_secs(30), "the second run streams", || async { run_row(&h, second).await.bytes > 0 })
        .await;
    let page = session.page(&format!("/runs/{second}")).await;
    assert!(page.contains("id=\"run-cancel\""), "the run page offers to cancel it");
    let second_id = second.to_string();
    let follow_args = ["runs", "logs", &second_id, "--follow"];
    let follow = h.cli(&follow_args);
    let cancel_in_page = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let posted = session.post(&format!("/runs/{second}/cancel"), &[]).await;
        assert_eq!(web::location(&posted), format!("/runs/{second}"));
    };
    let (followed, ()) = tokio::join!(follow, cancel_in_page);
    let out = followed.stdout_text();
    assert!(!followed.status.success(), "--follow exits 1 for a run that did not succeed");
    assert!(out.contains("streaming the export") && out.contains("backup cancelled"), "{out}");
    assert!(out.trim_end().ends_with(&format!("run {second} cancelled")), "{out}");
    assert!(h.double.files_in(&folder).is_empty());
    assert_eq!(h.double.open_sessions(), 0);

    // A third, cancelled from the command line.
    let third = h.cli(&["run", "slow", "--queued"]).await;
    third.assert_success();
    let third: i64 = third.stdout_text().split_whitespace().nth(2).unwrap().parse().unwrap();
    eventually(Duration::from_secs(30), "the third run streams", || async { run_row(&h, third).await.bytes > 0 }).await;
    let cancelled = h.cli(&["runs", "cancel", &third.to_string()]).await;
    cancelled.assert_success();
    assert!(cancelled.stdout_text().contains("is being cancelled"), "{}", cancelled.stdout_text());
    eventually(Duration::from_secs(10), "the third run is cancelled", || async {
        run_row(&h, third).await.status.as_str() == "cancelled"
    })
    .await;
    let listed = h.cli(&["runs", "list", "--app", "slow", "--status", "cancelled"]).await;
    listed.assert_success();
    assert_eq!(
        listed.stdout_text().lines().filter(|l| l.contains(" cancelled ")).count(),
        3,
        "{}",
        listed.stdout_text()
    );
    let shown = h.cli(&["runs", "show", &third.to_string()]).await;
    assert!(shown.stdout_text().contains("reason     cancelled by cli"), "{}", shown.stdout_text());
    let refused = h.cli(&["runs", "cancel", &third.to_string()]).await;
    assert!(!refused.status.success() && refused.stderr.contains("already ended (cancelled)"), "{}", refused.stderr);

    let audit: Vec<String> =
        cancels(&h).await.into_iter().map(|e| format!("{} {}", e.actor, e.detail.unwrap_or_default())).collect();
    assert_eq!(
        audit,
        [
            format!("{ADMIN_USER} (api:cancel) run {id}"),
            format!("{ADMIN_USER} run {second}"),
            format!("cli run {third}")
        ],
        "each cancel is audited with who asked"
    );
    assert!(h.double.files_in(&folder).is_empty());
    served.terminate().await;
}

#[tokio::test]
async fn a_run_waiting_to_retry_says_when_and_is_cancelled_at_once_never_to_run_again() {
    let h = Harness::sqlite().await;
    let app = sdk_apps::spawn(Behaviour::FailsAtOnce, 42).await;
    h.add_app("flaky", &app.url, &h.folder("flaky"), &[]).await;
    let mut served = h.serve(&[("RETRY_DELAY_SECS", "60"), ("MAX_ATTEMPTS", "3")]).await;
    let queued = h.cli(&["run", "flaky", "--queued"]).await;
    queued.assert_success();
    let id: i64 = queued.stdout_text().split_whitespace().nth(2).unwrap().parse().unwrap();
    eventually(Duration::from_secs(20), "the first attempt failed and the run waits to retry", || async {
        let run = run_row(&h, id).await;
        run.status.as_str() == "queued" && run.attempts == 1 && run.retry_at.is_some()
    })
    .await;
    let session = sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let page = session.page(&format!("/runs/{id}")).await;
    let retry = web::element_text(&page, "run-retry").expect("the page says when it retries");
    assert!(retry.contains("attempt 2 of 3") && retry.contains("Retrying in "), "{retry}");
    assert!(
        page.contains("class=\"notice\" role=\"alert\" id=\"run-error\""),
        "the last failure is a notice, not an alarm"
    );

    let cancelled = h.cli(&["runs", "cancel", &id.to_string()]).await;
    cancelled.assert_success();
    assert_eq!(cancelled.stdout_text().trim(), format!("run {id} of flaky cancelled"));
    let run = run_row(&h, id).await;
    assert_eq!((run.status.as_str(), run.attempts), ("cancelled", 1), "{run:?}");
    assert!(run.retry_at.is_none(), "{run:?}");
    // Its retry job comes and does nothing; the app is free for a new run.
    let next = h.cli(&["run", "flaky", "--queued"]).await;
    next.assert_success();
    served.terminate().await;
}
