//! `concurrent`: one `serve` backs up 16 apps at once (256 MiB each, `MAX_CONCURRENT_BACKUPS`
//! = 16). First one app alone through the same `serve` (the single-stream figure), then all of
//! them pressed "Test now" together: aggregate MB/s from the first start to the last end, its
//! ratio to the single stream, and `serve`'s peak RSS after each phase.

use std::time::Duration;

use drive_double::Options;
use e2e::harness::Harness;

use crate::api::{Api, wait_ended};
use crate::args::Args;
use crate::fast_app;
use crate::measure::{SERVE_DEFAULTS, emit, mb_per_s, mib, peak_rss_kib, ratio, table};

pub(crate) async fn run(args: &Args) {
    let n = args.apps(16, 3);
    let size = args.sizes(&[256], &[16])[0];
    let mut h = Harness::sqlite_with(Options { hash_only: true, ..Options::default() }).await;
    args.upload_settings(&mut h);
    h.set("EXPORT_IDLE_TIMEOUT", "120");
    let mut apps = Vec::new();
    for i in 0..n {
        let app = fast_app::spawn(size, 0xc0 + i as u64).await;
        let name = format!("c-{i:02}");
        h.add_app(&name, &app.url, &h.folder(&name), &["--keep-last", "1", "--compress", "none"]).await;
        apps.push((name, app));
    }
    let concurrency = n.to_string();
    let mut env = SERVE_DEFAULTS.to_vec();
    env.push(("MAX_CONCURRENT_BACKUPS", &concurrency));
    let mut served = h.serve(&env).await;
    let api = Api::new(&served).await;
    let db = h.db().await;

    let single = wait_ended(&db, api.run_now(&apps[0].0).await).await;
    assert_eq!(single.status.as_str(), "succeeded", "{:?}", single.error);
    let single_mb_s =
        mb_per_s(single.bytes as u64, Duration::from_millis(single.duration_ms.unwrap_or(1).max(1) as u64));
    let single_rss = peak_rss_kib(served.pid).unwrap_or_default();

    let mut ids = Vec::new();
    for (name, _) in &apps {
        ids.push(api.run_now(name).await);
    }
    let mut ended = Vec::new();
    for id in ids {
        ended.push(wait_ended(&db, id).await);
    }
    let all_rss = peak_rss_kib(served.pid).unwrap_or_default();
    served.terminate().await;
    let failed: Vec<String> =
        ended.iter().filter(|r| r.status.as_str() != "succeeded").map(|r| format!("{:?}", r.error)).collect();
    assert!(failed.is_empty(), "every concurrent run succeeds: {failed:?}");
    let first = ended.iter().filter_map(|r| r.started_at).min().unwrap_or_default();
    let last = ended.iter().filter_map(|r| r.finished_at).max().unwrap_or_default();
    let bytes: u64 = ended.iter().map(|r| r.bytes as u64).sum();
    let aggregate = mb_per_s(bytes, Duration::from_millis((last - first).max(1) as u64));
    emit(serde_json::json!({
        "scenario": "concurrent", "apps": n, "size_mib": size >> 20, "chunk": args.chunk,
        "read_ahead": args.read_ahead.as_deref().unwrap_or("default"),
        "single_mb_s": single_mb_s, "aggregate_mb_s": aggregate, "ratio": ratio(aggregate, single_mb_s),
        "peak_rss_single_mib": mib(single_rss), "peak_rss_mib": mib(all_rss),
    }));
    table(
        &format!("concurrent: {n} apps x {} MiB through one serve, {} chunks", size >> 20, args.chunk),
        &["single MB/s", "aggregate MB/s", "ratio", "peak RSS single MiB", "peak RSS all MiB"],
        &[vec![
            format!("{single_mb_s:.1}"),
            format!("{aggregate:.1}"),
            format!("{:.3}", ratio(aggregate, single_mb_s)),
            format!("{:.1}", mib(single_rss)),
            format!("{:.1}", mib(all_rss)),
        ]],
    );
}
