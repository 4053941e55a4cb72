//! Benchmarks that print figures (never asserted in tests).
//!
//! `cargo run --release -p e2e --bin bench -- pickup [--runs N]`: time from queuing a manual
//! backup ("Test now") until the app receives the export request, on SQLite with `serve`'s
//! default polling, p50/p99 over N runs.

use std::time::{Duration, Instant};

use client_sdk::{BackupSource, BackupType, Capabilities, ExportStream, SourceError};
use e2e::apps::TOKEN;
use e2e::harness::Harness;
use orchestrator::backup::record::{self, Trigger};
use orchestrator::schedule::queue::{self, BackupJob};
use tokio::sync::mpsc;

struct Probe(mpsc::UnboundedSender<Instant>);

impl BackupSource for Probe {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new("probe", [BackupType::new("full", "application/octet-stream", "bin")])
    }

    async fn export(&self, _: &BackupType) -> Result<ExportStream, SourceError> {
        let _ = self.0.send(Instant::now());
        Ok(Box::pin(futures::stream::iter([Ok(bytes::Bytes::from_static(b"probe"))])))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn pickup(runs: usize) {
    let h = Harness::sqlite().await;
    let (tx, mut seen) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = client_sdk::router(Probe(tx), TOKEN.to_owned().into());
    tokio::spawn(async move { axum::serve(listener, router).await });
    h.add_app("probe", &url, &h.folder("probe"), &["--keep-last", "1"]).await;
    // serve's own defaults for polling and heartbeats, not the fast test ones.
    let mut served =
        h.serve(&[("QUEUE_POLL_MS", "250"), ("QUEUE_HEARTBEAT_MS", "10000"), ("SCHEDULER_TICK_MS", "1000")]).await;
    let db = h.db().await;
    let app_id = 1;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let run = record::create(&db, app_id, Trigger::Manual).await.unwrap();
        let queued = Instant::now();
        queue::push(&db, &[(BackupJob { run_id: run.id, app_id }, 6, Duration::ZERO)]).await.unwrap();
        let at = tokio::time::timeout(Duration::from_secs(30), seen.recv()).await.expect("picked up").unwrap();
        samples.push(at - queued);
        // Let the run finish before the next, as a person pressing Test now would.
        loop {
            let r = record::get(&db, run.id).await.unwrap().unwrap();
            if r.finished_at.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    served.terminate().await;
    samples.sort();
    let (p50, p99) = (percentile(&samples, 0.5), percentile(&samples, 0.99));
    println!(
        "{}",
        serde_json::json!({"scenario": "pickup", "runs": runs, "p50_ms": p50.as_secs_f64() * 1e3, "p99_ms": p99.as_secs_f64() * 1e3,
            "max_ms": samples.last().unwrap().as_secs_f64() * 1e3})
    );
    println!(
        "pickup (Test now -> export request), {runs} runs: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    match args.first().map(String::as_str) {
        Some("pickup") => pickup(runs).await,
        _ => {
            eprintln!("usage: bench pickup [--runs N]");
            std::process::exit(2);
        }
    }
}
