//! `agent`: `backup-agent` streams one large export per recipe to a client that reads it as the
//! orchestrator does; figures are the wall time, the rate and the agent's peak resident memory
//! (`VmHWM`, the agent process alone: `pg_dump` and `tar` are its children). Recipes: `command`
//! (`head -c` of random bytes), `sqlite` (a database of that size: `VACUUM INTO`, then the file)
//! and `odoo` (a small database and a filestore of that size, zipped as it is read; only with
//! `TEST_POSTGRES_URL`).

use std::path::Path;
use std::time::Instant;

use e2e::apps::RunningApp;
use e2e::postgres::TestPostgres;

use crate::args::Args;
use crate::measure::{emit, mb_per_s, mib, table};

/// Reads the whole export of `app` and returns its size.
async fn drain(app: &RunningApp) -> u64 {
    let mut export = app.client().export(None).await.expect("the export starts");
    let mut bytes = 0u64;
    while let Some(chunk) = export.next_chunk().await.expect("the export streams") {
        bytes += chunk.len() as u64;
    }
    bytes
}

fn random_file(path: &Path, size: u64) {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("head -c {size} /dev/urandom > '{}'", path.display()))
        .status()
        .expect("sh runs");
    assert!(status.success(), "writing {} failed", path.display());
}

/// An SQLite database of about `size` bytes: rows of 1 MiB random blobs.
fn sqlite_database(path: &Path, size: u64) {
    let rows = (size >> 20).max(1);
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nc.execute('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)')\n\
             c.executemany('INSERT INTO blobs (data) VALUES (randomblob(1048576))', [()]*int(sys.argv[2]))\nc.commit()",
        ])
        .arg(path)
        .arg(rows.to_string())
        .status()
        .expect("python3 runs");
    assert!(status.success(), "making the SQLite database failed");
}

pub(crate) async fn run(args: &Args) {
    let size = args.sizes(&[1024], &[16])[0];
    let root = e2e::harness::temp_dir();
    let mut rows = Vec::new();
    let mut record = |recipe: &str, app: &RunningApp, bytes: u64, started: Instant| {
        let elapsed = started.elapsed();
        let peak = mib(app.peak_rss_kib());
        emit(serde_json::json!({
            "scenario": "agent", "recipe": recipe, "bytes": bytes, "seconds": elapsed.as_secs_f64(),
            "mb_per_s": mb_per_s(bytes, elapsed), "agent_peak_rss_mib": peak,
        }));
        rows.push(vec![
            recipe.to_owned(),
            format!("{:.0}", bytes as f64 / (1 << 20) as f64),
            format!("{:.1}", elapsed.as_secs_f64()),
            format!("{:.0}", mb_per_s(bytes, elapsed)),
            format!("{peak:.1}"),
        ]);
    };

    let data = root.join("export.bin");
    random_file(&data, size);
    let config = format!("app = \"bench\"\n[[type]]\nrecipe = \"command\"\nexport = \"cat '{}'\"\n", data.display());
    let app = RunningApp::agent(&config, &[]).await;
    let started = Instant::now();
    let bytes = drain(&app).await;
    record("command", &app, bytes, started);
    drop(app);
    std::fs::remove_file(&data).unwrap();

    let db = root.join("bench.db");
    sqlite_database(&db, size);
    let config = format!("app = \"bench\"\n[[type]]\nrecipe = \"sqlite\"\npath = \"{}\"\n", db.display());
    let app = RunningApp::agent(&config, &[]).await;
    let started = Instant::now();
    let bytes = drain(&app).await;
    record("sqlite", &app, bytes, started);
    drop(app);
    std::fs::remove_file(&db).unwrap();

    if let Some(pg) = TestPostgres::from_env("bench agent (odoo recipe)") {
        let database = pg.create_odoo_like_database("bench_odoo");
        let filestore = root.join("filestore").join(&database);
        std::fs::create_dir_all(filestore.join("ab")).unwrap();
        random_file(&filestore.join("ab/attachment.bin"), size);
        let config = format!(
            "app = \"bench\"\n[[type]]\nrecipe = \"odoo\"\ndatabase = \"{database}\"\nfilestore = \"{}\"\n",
            filestore.display()
        );
        let app = RunningApp::agent(&config, &pg.env()).await;
        let started = Instant::now();
        let bytes = drain(&app).await;
        record("odoo", &app, bytes, started);
        drop(app);
        pg.drop_database(&database);
    }
    let _ = std::fs::remove_dir_all(&root);
    table(
        &format!("agent: one {} MiB export per recipe, read whole by a client", size >> 20),
        &["recipe", "MiB out", "seconds", "MB/s", "agent peak RSS MiB"],
        &rows,
    );
}
