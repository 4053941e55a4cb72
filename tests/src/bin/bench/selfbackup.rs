//! `selfbackup`: 10,000 apps and 1,000,000 ended runs on SQLite (seeded in bulk after the
//! migrations), then `orchestrator self-backup` into a local folder, timed with its peak memory;
//! then the database deleted and `orchestrator recover` from that self-backup, timed the same way.

use std::time::Instant;

use e2e::harness::Harness;

use crate::args::Args;
use crate::measure::{emit, mib, ms, table};
use crate::seed;

pub(crate) async fn run(args: &Args) {
    let apps = args.apps(10_000, 200);
    let runs = if args.smoke { 20_000 } else { 1_000_000 };
    let h = Harness::local().await;
    h.add_app("app-00000", "http://127.0.0.1:9", "bench", &["--no-check"]).await;
    let db = h.db().await;
    let seeded_apps = seed::apps(&db, apps - 1).await;
    let seeded_runs = seed::runs(&db, runs).await;
    seed::copies(&db).await;
    drop(db);

    let started = Instant::now();
    let taken = h.cli(&["self-backup"]).await;
    let backup_time = started.elapsed();
    taken.assert_success();
    let bytes: u64 =
        taken.field("size").and_then(|s| s.trim_end_matches(" bytes").parse().ok()).expect("the self-backup's size");
    let rows: u64 = taken.field("rows").and_then(|r| r.parse().ok()).expect("rows");

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(h.dir().join(format!("orchestrator.db{suffix}")));
    }
    let started = Instant::now();
    let recovered = h.cli(&["recover"]).await;
    let recover_time = started.elapsed();
    recovered.assert_success();

    emit(serde_json::json!({
        "scenario": "selfbackup", "apps": apps, "runs": runs, "rows": rows, "bytes": bytes,
        "seed_apps_ms": ms(seeded_apps), "seed_runs_ms": ms(seeded_runs),
        "self_backup_ms": ms(backup_time), "self_backup_peak_rss_mib": mib(taken.peak_rss_kib),
        "recover_ms": ms(recover_time), "recover_peak_rss_mib": mib(recovered.peak_rss_kib),
    }));
    table(
        &format!(
            "selfbackup: {apps} apps, {runs} runs on SQLite ({rows} rows, sealed {:.1} MiB)",
            bytes as f64 / (1 << 20) as f64
        ),
        &["command", "seconds", "peak RSS MiB"],
        &[
            vec![
                "self-backup".into(),
                format!("{:.1}", backup_time.as_secs_f64()),
                format!("{:.0}", mib(taken.peak_rss_kib)),
            ],
            vec![
                "recover".into(),
                format!("{:.1}", recover_time.as_secs_f64()),
                format!("{:.0}", mib(recovered.peak_rss_kib)),
            ],
        ],
    );
}
