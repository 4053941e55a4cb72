//! `stream`: one export through the full pipeline (`orchestrator run` as its own process:
//! capabilities, sha256 and md5 in flight, the resumable upload, verification against Drive's
//! checksums, marking the copy verified, retention), against the raw copy baseline of the same
//! bytes from the same app to the same double with the same chunk size, per size. The best of
//! `--runs` attempts counts for each (the machine is shared); the peak RSS is the highest seen.

use std::time::{Duration, Instant};

use drive_double::Options;
use e2e::harness::Harness;

use crate::args::Args;
use crate::measure::{emit, mb_per_s, mib, ratio, table};
use crate::{fast_app, raw_copy};

/// The figures of one size.
struct Figures {
    size: u64,
    raw_mb_s: f64,
    pipeline_mb_s: f64,
    pipeline_wall_mb_s: f64,
    peak_rss_kib: u64,
    same_sha256: bool,
}

/// One `orchestrator run`: throughput over the run record's duration (the pipeline, from
/// capabilities to retention) and over the process's whole life, its peak RSS and sha256.
pub(crate) struct PipelineRun {
    pub(crate) mb_s: f64,
    pub(crate) wall_mb_s: f64,
    pub(crate) peak_rss_kib: u64,
    pub(crate) sha256: String,
}

pub(crate) async fn pipeline(h: &Harness, app: &str) -> PipelineRun {
    let started = Instant::now();
    let run = h.cli(&["run", app]).await;
    let wall = started.elapsed();
    run.assert_success();
    let id: i64 = run
        .stdout_text()
        .lines()
        .find_map(|l| l.split("(run ").nth(1).and_then(|r| r.trim_end_matches(')').parse().ok()))
        .expect("`run` prints the run id");
    let record = orchestrator::backup::lifecycle::get(&h.db().await, id).await.expect("database").expect("the run");
    let bytes = record.bytes as u64;
    let duration = Duration::from_millis(record.duration_ms.unwrap_or_default().max(1) as u64);
    PipelineRun {
        mb_s: mb_per_s(bytes, duration),
        wall_mb_s: mb_per_s(bytes, wall),
        peak_rss_kib: run.peak_rss_kib,
        sha256: run.field("sha256").unwrap_or_default(),
    }
}

pub(crate) async fn run(args: &Args) {
    let sizes = args.sizes(&[256, 1024, 4096], &[16, 64]);
    let attempts = args.runs(2, 1);
    let chunk = args.chunk_bytes();
    let mut h = Harness::sqlite_with(Options { hash_only: true, ..Options::default() }).await;
    args.upload_settings(&mut h);
    h.set("EXPORT_IDLE_TIMEOUT", "60");
    let mut all = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let app = fast_app::spawn(size, 0x5eed + i as u64).await;
        let name = format!("stream-{}", size >> 20);
        let folder = h.folder(&name);
        let raw_folder = h.folder(&format!("raw-{}", size >> 20));
        h.add_app(&name, &app.url, &folder, &["--keep-last", "1"]).await;
        let mut figures = Figures {
            size,
            raw_mb_s: 0.0,
            pipeline_mb_s: 0.0,
            pipeline_wall_mb_s: 0.0,
            peak_rss_kib: 0,
            same_sha256: true,
        };
        for attempt in 0..attempts {
            let raw =
                raw_copy::copy(&h.double, &app.url, &raw_folder, &format!("raw-{attempt}.bin"), chunk as usize).await;
            assert_eq!(raw.bytes, size);
            let piped = pipeline(&h, &name).await;
            figures.raw_mb_s = figures.raw_mb_s.max(mb_per_s(raw.bytes, raw.elapsed));
            figures.pipeline_mb_s = figures.pipeline_mb_s.max(piped.mb_s);
            figures.pipeline_wall_mb_s = figures.pipeline_wall_mb_s.max(piped.wall_mb_s);
            figures.peak_rss_kib = figures.peak_rss_kib.max(piped.peak_rss_kib);
            figures.same_sha256 &= raw.sha256 == piped.sha256;
        }
        all.push(figures);
    }
    report(&all, chunk, attempts, args.read_ahead.as_deref().unwrap_or("default"));
}

fn report(all: &[Figures], chunk: u64, attempts: usize, read_ahead: &str) {
    let first_rss = all.first().map_or(0, |f| f.peak_rss_kib);
    let last_rss = all.last().map_or(0, |f| f.peak_rss_kib);
    let sizes: Vec<serde_json::Value> = all
        .iter()
        .map(|f| {
            serde_json::json!({
                "size_mib": f.size >> 20,
                "raw_mb_s": f.raw_mb_s,
                "pipeline_mb_s": f.pipeline_mb_s,
                "pipeline_wall_mb_s": f.pipeline_wall_mb_s,
                "ratio": ratio(f.pipeline_mb_s, f.raw_mb_s),
                "peak_rss_mib": mib(f.peak_rss_kib),
                "same_sha256": f.same_sha256,
            })
        })
        .collect();
    emit(serde_json::json!({
        "scenario": "stream",
        "chunk_mib": chunk >> 20,
        "read_ahead": read_ahead,
        "attempts": attempts,
        "sizes": sizes,
        "rss_largest_over_smallest": ratio(last_rss as f64, first_rss as f64),
    }));
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|f| {
            vec![
                format!("{} MiB", f.size >> 20),
                format!("{:.1}", f.raw_mb_s),
                format!("{:.1}", f.pipeline_mb_s),
                format!("{:.1}", f.pipeline_wall_mb_s),
                format!("{:.3}", ratio(f.pipeline_mb_s, f.raw_mb_s)),
                format!("{:.1}", mib(f.peak_rss_kib)),
                if f.same_sha256 { "yes" } else { "NO" }.into(),
            ]
        })
        .collect();
    table(
        &format!(
            "stream: full pipeline vs raw copy, {} MiB chunks, read-ahead {read_ahead}, best of {attempts}",
            chunk >> 20
        ),
        &["size", "raw MB/s", "pipeline MB/s", "process MB/s", "ratio", "peak RSS MiB", "same sha256"],
        &rows,
    );
    println!("  peak RSS, largest size over smallest: {:.3}", ratio(last_rss as f64, first_rss as f64));
}
