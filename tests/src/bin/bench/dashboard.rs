//! `dashboard`: 10,000 apps, 1,000,000 ended runs and a stored copy per app on SQLite, seeded in
//! bulk after the migrations; then p50/p95 of the dashboard page (`/`, signed in) and of the
//! runs API page (`/api/v1/runs`, with an API token), requests one after another.

use std::future::Future;
use std::time::{Duration, Instant};

use e2e::harness::{ADMIN_PASSWORD, ADMIN_USER, Harness};

use crate::api::Api;
use crate::args::Args;
use crate::measure::{SERVE_DEFAULTS, emit, ms, percentile, table};
use crate::seed;

async fn sample<F, Fut>(requests: usize, mut get: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = reqwest::Response>,
{
    // Warm caches (SQLite pages, templates) as a page in use would have them.
    for _ in 0..3 {
        let _ = get().await.bytes().await;
    }
    let mut samples = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        let response = get().await;
        assert!(response.status().is_success(), "the page answers ({})", response.status());
        let _ = response.bytes().await.expect("the whole page");
        samples.push(started.elapsed());
    }
    samples.sort();
    samples
}

pub(crate) async fn run(args: &Args) {
    let apps = args.apps(10_000, 200);
    let runs = if args.smoke { 20_000 } else { 1_000_000 };
    let requests = args.runs(200, 10);
    let h = Harness::sqlite().await;
    h.add_app("app-00000", "http://127.0.0.1:9", &h.folder("dashboard"), &["--no-check"]).await;
    let db = h.db().await;
    let seeded_apps = seed::apps(&db, apps - 1).await;
    let seeded_runs = seed::runs(&db, runs).await;
    seed::copies(&db).await;
    drop(db);
    let mut served = h.serve(&SERVE_DEFAULTS).await;
    let session = e2e::web::sign_in(&served.url, ADMIN_USER, ADMIN_PASSWORD).await;
    let api = Api::new(&served).await;
    let page = sample(requests, || session.get("/")).await;
    let api_page = sample(requests, || api.get("/api/v1/runs")).await;
    served.terminate().await;
    let figures = |s: &[Duration]| (ms(percentile(s, 0.5)), ms(percentile(s, 0.95)), ms(s[s.len() - 1]));
    let (d50, d95, dmax) = figures(&page);
    let (a50, a95, amax) = figures(&api_page);
    emit(serde_json::json!({
        "scenario": "dashboard", "apps": apps, "runs": runs, "requests": requests,
        "seed_apps_ms": ms(seeded_apps), "seed_runs_ms": ms(seeded_runs),
        "dashboard_p50_ms": d50, "dashboard_p95_ms": d95, "dashboard_max_ms": dmax,
        "runs_api_p50_ms": a50, "runs_api_p95_ms": a95, "runs_api_max_ms": amax,
    }));
    table(
        &format!(
            "dashboard: {apps} apps, {runs} runs on SQLite (seeded in {:.1} s), {requests} requests per page",
            (seeded_apps + seeded_runs).as_secs_f64()
        ),
        &["page", "p50 ms", "p95 ms", "max ms"],
        &[
            vec!["/ (signed in)".into(), format!("{d50:.1}"), format!("{d95:.1}"), format!("{dmax:.1}")],
            vec!["/api/v1/runs (token)".into(), format!("{a50:.1}"), format!("{a95:.1}"), format!("{amax:.1}")],
        ],
    );
}
