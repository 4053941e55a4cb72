//! The Python package of `client-sdk/python` passes the kit, import included: a Flask app with
//! the blueprint registered in one line (served by werkzeug), the plain WSGI app served by the
//! package's own runner, and the runner on a PostgreSQL database. Nothing is installed:
//! `PYTHONPATH` points at the package's source.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use contract_spec::conformance::{self, Options, Outcome};
use e2e::apps::RunningApp;
use e2e::postgres::TestPostgres;
use sha2::{Digest, Sha256};

/// True when `python3` runs and can import `modules`. Otherwise a run outside CI says that `test`
/// skips and what to install; under `CI=true` (where `.ci/run` installs them) it is a failure.
fn python_has(test: &str, modules: &[&str]) -> bool {
    let code = modules.iter().map(|m| format!("import {m}")).collect::<Vec<_>>().join("\n");
    let ok = std::process::Command::new("python3").args(["-c", &code]).output().is_ok_and(|o| o.status.success());
    if !ok {
        let what =
            if modules.is_empty() { "python3".to_owned() } else { format!("python3 with {}", modules.join(", ")) };
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{what} is missing: in CI nothing skips");
        eprintln!("SKIPPED {test}: {what} is not installed");
    }
    ok
}

fn package_dir() -> PathBuf {
    e2e::binaries::workspace_root().join("client-sdk/python")
}

/// `python3` running from the package's source, writing no bytecode into the checkout.
fn python() -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("python3");
    cmd.env("PYTHONPATH", package_dir().join("src")).env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// A folder with a small and a larger file, in a fresh temporary directory.
fn data_folder(name: &str) -> PathBuf {
    let data = std::env::temp_dir().join(format!("e2e-{name}-{}", e2e::harness::unique())).join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("notes.txt"), "remember the milk\n").unwrap();
    let big: Vec<u8> = (0..2_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    std::fs::write(data.join("sub/big.bin"), big).unwrap();
    data
}

/// The kit with import passes, verify included; then an export imported after the folder was
/// changed puts it back as it was.
async fn passes_the_kit_and_restores(app: &RunningApp, data: &Path) {
    let report = conformance::check(&app.client(), &Options { with_import: true, ..Options::default() }).await;
    assert!(report.passed(), "{report}");
    for check in [
        "import round trip",
        "import with a wrong Backup-Sha256",
        "verify of an export (full)",
        "verify of garbage (full)",
    ] {
        assert_eq!(report.get(check).map(|f| f.outcome), Some(Outcome::Pass), "{check}: {report}");
    }
    assert_eq!(std::fs::read_to_string(data.join("notes.txt")).unwrap(), "remember the milk\n");

    let client = app.client();
    let mut export = client.export(Some("full")).await.unwrap();
    let mut archive = Vec::new();
    while let Some(chunk) = export.next_chunk().await.unwrap() {
        archive.extend_from_slice(&chunk);
    }
    std::fs::write(data.join("notes.txt"), "changed\n").unwrap();
    std::fs::write(data.join("added.txt"), "added after the backup\n").unwrap();
    let sha = hex::encode(Sha256::digest(&archive));
    let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(archive.clone()))]);
    let result = client.import("full", &sha, body).await.unwrap();
    assert!(result.restored && result.bytes == archive.len() as u64, "{result:?}");
    assert_eq!(std::fs::read_to_string(data.join("notes.txt")).unwrap(), "remember the milk\n");
    assert!(!data.join("added.txt").exists(), "the import replaced the folder");
    assert_eq!(std::fs::read(data.join("sub/big.bin")).unwrap().len(), 2_000_000);
}

#[tokio::test]
async fn the_python_flask_blueprint_passes_the_kit() {
    let test = "the_python_flask_blueprint_passes_the_kit";
    if !python_has(test, &["flask"]) {
        return;
    }
    let data = data_folder("py-flask");
    let mut cmd = python();
    cmd.arg(package_dir().join("examples/flask_app.py")).arg("127.0.0.1:0").env("DATA_DIR", &data);
    let app = RunningApp::spawn(cmd, "python flask blueprint").await;
    passes_the_kit_and_restores(&app, &data).await;
    drop(app);
    std::fs::remove_dir_all(data.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn the_python_wsgi_app_passes_the_kit() {
    if !python_has("the_python_wsgi_app_passes_the_kit", &[]) {
        return;
    }
    let data = data_folder("py-wsgi");
    let mut cmd = python();
    cmd.args(["-m", "backup_contract", "--listen", "127.0.0.1:0", "--app", "py-files", "--directory"]).arg(&data);
    let app = RunningApp::spawn(cmd, "python -m backup_contract").await;
    passes_the_kit_and_restores(&app, &data).await;
    drop(app);
    std::fs::remove_dir_all(data.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn the_python_runner_round_trips_a_postgres_database() {
    let test = "the_python_runner_round_trips_a_postgres_database";
    let Some(pg) = TestPostgres::from_env(test) else { return };
    if !python_has(test, &[]) {
        return;
    }
    const ROWS: &str = "SELECT id, name, amount FROM invoices ORDER BY id";
    let source = pg.create_database("py_src");
    let target = pg.create_database("py_dst");
    pg.psql(
        Some(&source),
        "CREATE TABLE invoices (id int PRIMARY KEY, name text NOT NULL, amount numeric(10,2));
         INSERT INTO invoices SELECT g, 'customer ' || g, g * 1.25 FROM generate_series(1, 500) g;",
    );
    pg.psql(Some(&target), "CREATE TABLE leftover (x int); INSERT INTO leftover VALUES (1);");

    let mut cmd = python();
    cmd.args([
        "-m",
        "backup_contract",
        "--listen",
        "127.0.0.1:0",
        "--postgres",
        &source,
        "--restore-database",
        &target,
    ])
    .envs(pg.env());
    let app = RunningApp::spawn(cmd, "python -m backup_contract --postgres").await;
    // A small dump is written in one go at its end: only a slow export is judged on streaming.
    let options = Options { with_import: true, streaming_min_duration: std::time::Duration::from_secs(3) };
    let report = conformance::check(&app.client(), &options).await;
    assert!(report.passed(), "{report}");
    assert_eq!(report.get("import round trip").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
    assert_eq!(report.get("verify of garbage (full)").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
    let expected = pg.psql(Some(&source), ROWS);
    assert_eq!(expected.lines().count(), 500);
    assert_eq!(pg.psql(Some(&target), ROWS), expected);

    drop(app);
    pg.drop_database(&source);
    pg.drop_database(&target);
}
