//! A 256 MiB export streams through an SDK app with flat memory: the app's peak RSS grows by
//! no more than a few MiB over its peak after a small export.

use e2e::apps::RunningApp;
use sha2::{Digest, Sha256};

const MIB: u64 = 1024 * 1024;

#[tokio::test]
async fn a_256_mib_export_streams_with_bounded_memory() {
    let size_file = std::env::temp_dir().join(format!("e2e-export-size-{}", std::process::id()));
    std::fs::write(&size_file, MIB.to_string()).unwrap();
    let export = format!("head -c $(cat {}) /dev/zero", size_file.display());
    let app = RunningApp::start("command", &["--export", &export], &[]).await;
    let client = app.client();

    let read_all = || async {
        let mut export = client.export(None).await.unwrap();
        let mut hasher = Sha256::new();
        while let Some(chunk) = export.next_chunk().await.unwrap() {
            hasher.update(&chunk);
        }
        (export.bytes(), hex::encode(hasher.finalize()), export.sha256().unwrap().to_owned())
    };

    let (bytes, _, _) = read_all().await;
    assert_eq!(bytes, MIB);
    let baseline = app.peak_rss_kib();

    std::fs::write(&size_file, (256 * MIB).to_string()).unwrap();
    let (bytes, ours, checked) = read_all().await;
    assert_eq!(bytes, 256 * MIB);
    assert_eq!(ours, checked);
    let peak = app.peak_rss_kib();
    std::fs::remove_file(&size_file).unwrap();

    eprintln!("command example peak RSS: {baseline} KiB after 1 MiB, {peak} KiB after 256 MiB");
    assert!(peak <= baseline + 8 * 1024, "peak RSS grew from {baseline} KiB to {peak} KiB streaming 256 MiB");
}
