//! `pickup`: time from pressing "Test now" (the API call an operator's script or the UI makes)
//! until the app receives the export request, on SQLite with `serve`'s default polling,
//! p50/p99 over `--runs` runs, each started after the previous one ended.

use std::time::{Duration, Instant};

use client_sdk::{BackupSource, BackupType, Capabilities, ExportStream, SourceError};
use e2e::apps::TOKEN;
use e2e::harness::Harness;
use tokio::sync::mpsc;

use crate::api::{Api, wait_ended};
use crate::args::Args;
use crate::measure::{SERVE_DEFAULTS, emit, ms, percentile, table};

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

pub(crate) async fn run(args: &Args) {
    let runs = args.runs(50, 3);
    let h = Harness::sqlite().await;
    let (tx, mut seen) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let router = client_sdk::router(Probe(tx), TOKEN.to_owned().into());
    tokio::spawn(async move { axum::serve(listener, router).await });
    h.add_app("probe", &url, &h.folder("probe"), &["--keep-last", "1"]).await;
    let mut served = h.serve(&SERVE_DEFAULTS).await;
    let api = Api::new(&served).await;
    let db = h.db().await;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let pressed = Instant::now();
        let id = api.run_now("probe").await;
        let at = tokio::time::timeout(Duration::from_secs(30), seen.recv()).await.expect("picked up").expect("probe");
        samples.push(at - pressed);
        // Like a person pressing Test now again: after the previous run ended.
        wait_ended(&db, id).await;
    }
    served.terminate().await;
    samples.sort();
    let (p50, p99, max) = (percentile(&samples, 0.5), percentile(&samples, 0.99), samples[samples.len() - 1]);
    emit(
        serde_json::json!({"scenario": "pickup", "runs": runs, "p50_ms": ms(p50), "p99_ms": ms(p99), "max_ms": ms(max)}),
    );
    table(
        &format!("pickup: Test now (POST /api/v1/apps/NAME/runs) -> export request, {runs} runs, QUEUE_POLL_MS=250"),
        &["p50 ms", "p99 ms", "max ms"],
        &[vec![format!("{:.0}", ms(p50)), format!("{:.0}", ms(p99)), format!("{:.0}", ms(max))]],
    );
}
