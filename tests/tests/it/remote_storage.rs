//! `orchestrator remote put|ls|get|rm` against a local folder and a real S3-compatible server.

use e2e::cli::{Input, run};
use e2e::s3::MotoServer;

const MIB: u64 = 1024 * 1024;

fn temp_dir(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("e2e-{name}-{}", e2e::harness::unique()))
}

/// put, refuse to overwrite, ls, get, rm, ls again: the same story on every destination.
async fn story(env: &[(&str, &str)], folder: &str) {
    let put =
        run(&["remote", "put", folder, "first.bin"], env, Input::Generated { size: 20 * MIB + 123, seed: 7 }).await;
    put.assert_success();
    assert_eq!(put.field("sha256").unwrap(), put.input_sha256);
    assert_eq!(put.field("size").unwrap(), (20 * MIB + 123).to_string());

    let again = run(&["remote", "put", folder, "first.bin"], env, Input::Bytes(b"other".to_vec())).await;
    assert!(!again.status.success());
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);

    run(&["remote", "put", folder, "second.txt"], env, Input::Bytes(b"hello\n".to_vec())).await.assert_success();
    let ls = run(&["remote", "ls", folder], env, Input::None).await;
    ls.assert_success();
    let listing = ls.stdout_text();
    let names: Vec<&str> = listing.lines().skip(1).map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(names.len(), 2, "{listing}");
    assert!(names.contains(&"first.bin") && names.contains(&"second.txt"), "{listing}");
    assert!(
        listing.lines().any(|l| l.starts_with("first.bin\t") && l.contains(&format!("\t{}\t", 20 * MIB + 123))),
        "{listing}"
    );

    let get = run(&["remote", "get", folder, "first.bin"], env, Input::None).await;
    get.assert_success();
    let mut state = 7u64 | 1;
    let mut expected = vec![0u8; get.stdout.len()];
    for piece in expected.chunks_mut(1 << 20) {
        e2e::cli::generate(&mut state, piece);
    }
    assert_eq!(get.stdout.len() as u64, 20 * MIB + 123);
    assert!(get.stdout == expected, "the downloaded bytes differ from the uploaded ones");

    run(&["remote", "rm", folder, "first.bin"], env, Input::None).await.assert_success();
    let ls = run(&["remote", "ls", folder], env, Input::None).await;
    assert_eq!(ls.stdout_text().lines().count(), 2, "{}", ls.stdout_text());
    let missing = run(&["remote", "rm", folder, "first.bin"], env, Input::None).await;
    assert!(!missing.status.success());
    assert!(missing.stderr.contains("no file named \"first.bin\""), "{}", missing.stderr);
}

#[tokio::test]
async fn a_local_folder_stores_lists_streams_and_deletes() {
    let root = temp_dir("fs");
    let root_text = root.to_str().unwrap().to_owned();
    story(&[("STORAGE", "fs"), ("FS_ROOT", &root_text)], "app-one").await;
    let escape = run(&["remote", "ls", "../outside"], &[("FS_ROOT", &root_text)], Input::None).await;
    assert!(!escape.status.success() && escape.stderr.contains("without '/' or '..'"), "{}", escape.stderr);
    std::fs::remove_dir_all(root).unwrap();
}

#[tokio::test]
async fn s3_compatible_storage_stores_lists_streams_and_deletes() {
    let Some(s3) = MotoServer::start("s3_compatible_storage_stores_lists_streams_and_deletes", "backups").await else {
        return;
    };
    let env = [
        ("STORAGE", "s3"),
        ("S3_BUCKET", "backups"),
        ("S3_ENDPOINT", s3.endpoint.as_str()),
        ("S3_REGION", "us-east-1"),
        ("S3_ACCESS_KEY_ID", "test"),
        ("S3_SECRET_ACCESS_KEY", "test"),
    ];
    story(&env, "app-one").await;
}

#[tokio::test]
async fn bad_storage_settings_are_reported_together() {
    let out = run(
        &["remote", "ls", "x"],
        &[
            ("STORAGE", "gdrive"),
            ("GDRIVE_CREDENTIALS", "{}"),
            ("GDRIVE_CHUNK_SIZE", "100"),
            ("GDRIVE_DELETE", "shred"),
        ],
        Input::None,
    )
    .await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("GDRIVE_CHUNK_SIZE") && out.stderr.contains("GDRIVE_DELETE"), "{}", out.stderr);
}
