//! `stream`: one export through the full pipeline (`orchestrator run` as its own process:
//! capabilities, sha256 and md5 in flight, the resumable upload, verification against Drive's
//! checksums, marking the copy verified, retention), against the raw copy baseline of the same
//! bytes from the same app to the same double with the same chunk size, per size. The best of
//! `--runs` attempts counts for each (the machine is shared); the peak RSS is the highest seen.
//!
//! With `--compress` (on a generated SQL dump, as compressible as real ones) and/or `--encrypt`,
//! a third run per attempt stores the same export compressed with zstd and/or encrypted with
//! age: its throughput against the raw copy and the plain pipeline, and the stored share of the
//! export. The smoke run always includes it, both codecs on.

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
    coded: Option<Coded>,
}

/// The figures of the run through the codecs.
#[derive(Default)]
struct Coded {
    mb_s: f64,
    wall_mb_s: f64,
    peak_rss_kib: u64,
    stored_share: f64,
    same_sha256: bool,
}

/// One `orchestrator run`: throughput over the run record's duration (the pipeline, from
/// capabilities to retention) and over the process's whole life, its peak RSS and sha256.
pub(crate) struct PipelineRun {
    pub(crate) mb_s: f64,
    pub(crate) wall_mb_s: f64,
    pub(crate) peak_rss_kib: u64,
    pub(crate) sha256: String,
    /// Bytes stored over bytes exported.
    pub(crate) stored_share: f64,
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
        stored_share: record.stored_bytes.unwrap_or(record.bytes) as f64 / bytes.max(1) as f64,
    }
}

pub(crate) async fn run(args: &Args) {
    let sizes = args.sizes(&[256, 1024, 4096], &[16, 64]);
    let attempts = args.runs(2, 1);
    let chunk = args.chunk_bytes();
    let mut h = Harness::sqlite_with(Options { hash_only: true, ..Options::default() }).await;
    args.upload_settings(&mut h);
    h.set("EXPORT_IDLE_TIMEOUT", "60");
    let (compress, encrypt) = match (args.compress, args.encrypt) {
        (false, false) if args.smoke => (true, true),
        asked => asked,
    };
    let recipient = orchestrator::codec::keys::generate().1;
    let mut codec_flags = vec!["--keep-last", "1", "--compress", if compress { "zstd" } else { "none" }];
    if encrypt {
        codec_flags.extend(["--encrypt", "--recipient", recipient.as_str()]);
    } else {
        codec_flags.push("--no-encrypt");
    }
    let mut all = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let app = if compress {
            fast_app::spawn_sql(size, 0x5eed + i as u64).await
        } else {
            fast_app::spawn(size, 0x5eed + i as u64).await
        };
        let name = format!("stream-{}", size >> 20);
        let folder = h.folder(&name);
        let raw_folder = h.folder(&format!("raw-{}", size >> 20));
        h.add_app(&name, &app.url, &folder, &["--keep-last", "1", "--compress", "none", "--no-encrypt"]).await;
        let coded_name = format!("coded-{}", size >> 20);
        if compress || encrypt {
            let coded_folder = h.folder(&coded_name);
            h.add_app(&coded_name, &app.url, &coded_folder, &codec_flags).await;
        }
        let mut figures = Figures {
            size,
            raw_mb_s: 0.0,
            pipeline_mb_s: 0.0,
            pipeline_wall_mb_s: 0.0,
            peak_rss_kib: 0,
            same_sha256: true,
            coded: (compress || encrypt).then(|| Coded { same_sha256: true, ..Coded::default() }),
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
            if let Some(coded) = figures.coded.as_mut() {
                let run = pipeline(&h, &coded_name).await;
                coded.mb_s = coded.mb_s.max(run.mb_s);
                coded.wall_mb_s = coded.wall_mb_s.max(run.wall_mb_s);
                coded.peak_rss_kib = coded.peak_rss_kib.max(run.peak_rss_kib);
                coded.stored_share = run.stored_share;
                coded.same_sha256 &= raw.sha256 == run.sha256;
            }
        }
        all.push(figures);
    }
    report(&all, chunk, attempts, args.read_ahead.as_deref().unwrap_or("default"));
    if compress || encrypt {
        let what = match (compress, encrypt) {
            (true, true) => "zstd + age",
            (true, false) => "zstd",
            _ => "age",
        };
        report_coded(&all, what, if compress { "a generated SQL dump" } else { "incompressible bytes" });
    }
}

fn report_coded(all: &[Figures], what: &str, source: &str) {
    let coded: Vec<(&Figures, &Coded)> = all.iter().filter_map(|f| f.coded.as_ref().map(|c| (f, c))).collect();
    let sizes: Vec<serde_json::Value> = coded
        .iter()
        .map(|(f, c)| {
            serde_json::json!({
                "size_mib": f.size >> 20,
                "coded_mb_s": c.mb_s,
                "coded_wall_mb_s": c.wall_mb_s,
                "over_raw": ratio(c.mb_s, f.raw_mb_s),
                "over_plain_pipeline": ratio(c.mb_s, f.pipeline_mb_s),
                "stored_share": c.stored_share,
                "peak_rss_mib": mib(c.peak_rss_kib),
                "same_sha256": c.same_sha256,
            })
        })
        .collect();
    emit(serde_json::json!({ "scenario": "stream-coded", "codecs": what, "source": source, "sizes": sizes }));
    let rows: Vec<Vec<String>> = coded
        .iter()
        .map(|(f, c)| {
            vec![
                format!("{} MiB", f.size >> 20),
                format!("{:.1}", f.raw_mb_s),
                format!("{:.1}", f.pipeline_mb_s),
                format!("{:.1}", c.mb_s),
                format!("{:.3}", ratio(c.mb_s, f.raw_mb_s)),
                format!("{:.3}", ratio(c.mb_s, f.pipeline_mb_s)),
                format!("{:.1}%", c.stored_share * 100.0),
                format!("{:.1}", mib(c.peak_rss_kib)),
                if c.same_sha256 { "yes" } else { "NO" }.into(),
            ]
        })
        .collect();
    table(
        &format!("stream through {what}, on {source} (MB/s of the export)"),
        &[
            "size",
            "raw MB/s",
            "plain MB/s",
            "coded MB/s",
            "over raw",
            "over plain",
            "stored",
            "peak RSS MiB",
            "same sha256",
        ],
        &rows,
    );
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
