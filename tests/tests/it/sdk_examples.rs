//! The SDK's example apps, run as real processes, pass the conformance kit; a dump that dies
//! half-way fails it; the kit's command line reports through its exit code.

use std::path::Path;

use contract_spec::conformance::{self, Options, Outcome};
use e2e::apps::{RunningApp, TOKEN};
use futures::StreamExt;

pub(crate) fn write_tree(root: &Path) {
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    std::fs::write(root.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(root.join("sub/b.bin"), (0..=255u8).cycle().take(300_000).collect::<Vec<u8>>()).unwrap();
    std::fs::write(root.join("sub/deeper/c.txt"), "gamma\n").unwrap();
}

pub(crate) fn read_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("e2e-{name}-{}", e2e::harness::unique()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn the_directory_example_passes_the_kit_and_restores_the_folder() {
    let root = temp_dir("directory");
    let (source, target) = (root.join("source"), root.join("restored"));
    write_tree(&source);
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("stale.txt"), "replaced by the restore").unwrap();
    let app = RunningApp::start(
        "directory",
        &["--dir", source.to_str().unwrap(), "--restore-into", target.to_str().unwrap()],
        &[],
    )
    .await;
    let report = conformance::check(&app.client(), &Options { with_import: true, ..Options::default() }).await;
    assert!(report.passed(), "{report}");
    assert_eq!(report.get("import round trip").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
    assert_eq!(report.get("import with a wrong Backup-Sha256").map(|f| f.outcome), Some(Outcome::Pass));
    assert!(report.get("export[full] matches its trailers and length").unwrap().detail.contains("trailers match"));
    assert_eq!(read_tree(&target), read_tree(&source));
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn an_import_with_a_wrong_checksum_leaves_the_folder_as_it_was() {
    let root = temp_dir("mismatch");
    let (source, target) = (root.join("source"), root.join("target"));
    write_tree(&source);
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("keep.txt"), "precious").unwrap();
    let app = RunningApp::start(
        "directory",
        &["--dir", source.to_str().unwrap(), "--restore-into", target.to_str().unwrap()],
        &[],
    )
    .await;
    let client = app.client();
    let mut export = client.export(None).await.unwrap();
    let mut body = Vec::new();
    while let Some(chunk) = export.next_chunk().await.unwrap() {
        body.extend_from_slice(&chunk);
    }
    let wrong = "0".repeat(64);
    let stream = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(body))]).boxed();
    let err = client.import("full", &wrong, stream).await.unwrap_err();
    assert!(err.to_string().contains("checksum_mismatch"), "{err}");
    assert_eq!(read_tree(&target), vec![("keep.txt".to_owned(), b"precious".to_vec())]);
    let leftovers: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "no staging folder is left behind: {leftovers:?}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn the_command_example_passes_the_kit_and_streams() {
    // Longer than the second a busy app waits before answering 409.
    let export = "for i in 1 2 3 4 5 6; do head -c 100000 /dev/urandom; sleep 0.3; done";
    let app = RunningApp::start("command", &["--export", export, "--type", "data"], &[]).await;
    let report = conformance::check(&app.client(), &Options::default()).await;
    assert!(report.passed(), "{report}");
    assert_eq!(report.get("export[data] streams").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
    let concurrent = report.get("two exports at once").unwrap();
    assert!(concurrent.detail.contains("409 export_in_progress"), "one export at a time by default: {concurrent}");
}

#[tokio::test]
async fn a_command_that_exits_non_zero_halfway_fails_the_kit() {
    let export = "head -c 1000000 /dev/urandom; sleep 0.2; echo 'disk full' >&2; exit 3";
    let app = RunningApp::start("command", &["--export", export], &[]).await;
    let report = conformance::check(&app.client(), &Options::default()).await;
    let finding = report.get("export[full] ends cleanly").unwrap();
    assert_eq!(finding.outcome, Outcome::Fail, "{report}");
    assert!(finding.detail.contains("cut off after"), "{report}");
}

#[tokio::test]
async fn a_command_that_fails_before_any_byte_gets_a_readable_error() {
    let app = RunningApp::start("command", &["--export", "echo 'cannot connect to db' >&2; exit 1"], &[]).await;
    let err = app.client().export(None).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("500 export_failed") && text.contains("cannot connect to db"), "{text}");
}

#[tokio::test]
async fn the_kit_command_exits_zero_only_when_every_check_passes() {
    let good = RunningApp::start("command", &["--export", "echo hello"], &[]).await;
    let out = std::process::Command::new(e2e::binaries::orchestrator())
        .args(["contract", "check", &good.url])
        .env("BACKUP_TOKEN", TOKEN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("pass  capabilities")), "{stdout}");

    let out = std::process::Command::new(e2e::binaries::orchestrator())
        .args(["contract", "check", &good.url])
        .env("BACKUP_TOKEN", "not-the-token")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("FAIL  capabilities") && l.contains("401")), "{stdout}");

    let out = std::process::Command::new(e2e::binaries::orchestrator())
        .args(["contract", "check", &good.url])
        .env_remove("BACKUP_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("set BACKUP_TOKEN"));
}

#[tokio::test]
async fn examples_refuse_bad_arguments_with_a_clear_message() {
    let run = |name: &str, args: &[&str], token: Option<&str>| {
        let mut cmd = std::process::Command::new(e2e::binaries::example(name));
        cmd.args(args);
        match token {
            Some(t) => cmd.env("BACKUP_TOKEN", t),
            None => cmd.env_remove("BACKUP_TOKEN"),
        };
        let out = cmd.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = run("directory", &["--dir", "/no/such/folder"], Some(TOKEN));
    assert_eq!(code, Some(2));
    assert!(err.contains("--dir /no/such/folder is not a folder"), "{err}");
    let (code, err) = run("directory", &["--dir", "/tmp"], None);
    assert_eq!(code, Some(2));
    assert!(err.contains("set BACKUP_TOKEN"), "{err}");
    let (code, err) = run("command", &["--export", "true", "--type", "no spaces"], Some(TOKEN));
    assert_eq!(code, Some(2));
    assert!(err.contains("type name \"no spaces\" is invalid"), "{err}");
    let (code, err) = run("command", &["--export", "true", "--listen", "not-an-address"], Some(TOKEN));
    assert_eq!(code, Some(2));
    assert!(err.contains("--listen"), "{err}");
}
