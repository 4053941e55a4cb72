//! `idle`: a fresh `serve` on a new SQLite database (migrations included): time from starting
//! the process until `/readyz` answers 200, and its resident memory once ready and settled.

use std::time::{Duration, Instant};

use e2e::harness::Harness;

use crate::args::Args;
use crate::measure::{SERVE_DEFAULTS, emit, mib, ms, peak_rss_kib, percentile, rss_kib, table};

pub(crate) async fn run(args: &Args) {
    let starts = args.runs(5, 1);
    let http = reqwest::Client::new();
    let (mut ready, mut rss, mut peak) = (Vec::new(), Vec::new(), Vec::new());
    // Built (or found up to date) before the clock starts: the first start is not a build.
    e2e::binaries::orchestrator();
    for _ in 0..starts {
        let h = Harness::sqlite().await;
        let started = Instant::now();
        let mut served = h.serve(&SERVE_DEFAULTS).await;
        loop {
            let answer = http.get(format!("{}/readyz", served.url)).send().await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ready.push(started.elapsed());
        // A few scheduler ticks and queue polls, as an idle service does all day.
        tokio::time::sleep(Duration::from_secs(if args.smoke { 1 } else { 3 })).await;
        rss.push(rss_kib(served.pid).unwrap_or_default());
        peak.push(peak_rss_kib(served.pid).unwrap_or_default());
        served.terminate().await;
    }
    ready.sort();
    rss.sort_unstable();
    peak.sort_unstable();
    let (ready_p50, ready_max) = (percentile(&ready, 0.5), ready[ready.len() - 1]);
    let (rss_mib, peak_mib) = (mib(rss[rss.len() / 2]), mib(peak[peak.len() / 2]));
    emit(serde_json::json!({
        "scenario": "idle", "starts": starts, "ready_p50_ms": ms(ready_p50), "ready_max_ms": ms(ready_max),
        "rss_mib": rss_mib, "peak_rss_mib": peak_mib,
    }));
    table(
        &format!("idle: fresh serve on SQLite, {starts} starts (medians)"),
        &["to /readyz ms", "max ms", "RSS MiB", "peak RSS MiB"],
        &[vec![
            format!("{:.0}", ms(ready_p50)),
            format!("{:.0}", ms(ready_max)),
            format!("{rss_mib:.1}"),
            format!("{peak_mib:.1}"),
        ]],
    );
}
