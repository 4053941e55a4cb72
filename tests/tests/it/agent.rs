//! `backup-agent`, the SDK's binary that serves contract v1 with no code: every recipe passes
//! the conformance kit with a restore round trip; a PostgreSQL database goes through the
//! orchestrator into the Drive double and back; a failing `pg_dump` fails the run and stores
//! nothing; a corrupt copy leaves the database as it was; the odoo recipe writes Odoo's own
//! backup layout; mistakes in the configuration are refused at start-up with what to fix.

use std::path::{Path, PathBuf};
use std::process::Command;

use contract_spec::conformance::{self, Options, Outcome};
use e2e::apps::{RunningApp, TOKEN};
use e2e::harness::Harness;
use e2e::postgres::TestPostgres;

use crate::sdk_examples::{read_tree, write_tree};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("e2e-agent-{name}-{}", e2e::harness::unique()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The kit with a restore round trip, its verify checks included.
async fn kit(app: &RunningApp) -> conformance::Report {
    // Small exports come in one piece: whether they stream is judged only on slow ones.
    let options = Options { with_import: true, streaming_min_duration: std::time::Duration::from_secs(3) };
    let report = conformance::check(&app.client(), &options).await;
    assert!(report.passed(), "{report}");
    assert_eq!(report.get("import round trip").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
    report
}

/// The app's whole export of its first type, and its sha256.
async fn export_whole(app: &RunningApp) -> (Vec<u8>, String) {
    let mut export = app.client().export(None).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = export.next_chunk().await.unwrap() {
        bytes.extend_from_slice(&chunk);
    }
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    (bytes, sha)
}

fn sqlite(path: &Path, sql: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nfor r in c.execute(sys.argv[2]): print('|'.join(map(str,r)))\nc.commit()"])
        .arg(path)
        .arg(sql)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn the_sqlite_directory_and_command_recipes_pass_the_kit_and_restore() {
    let root = temp_dir("recipes");
    // sqlite, in WAL mode.
    let db = root.join("app.db");
    sqlite(&db, "PRAGMA journal_mode=WAL");
    sqlite(&db, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
    sqlite(&db, "INSERT INTO notes (body) SELECT 'note ' || value FROM json_each('[1,2,3,4,5]')");
    let app = RunningApp::agent(
        &format!("app = \"notes\"\n[[type]]\nrecipe = \"sqlite\"\npath = \"{}\"\n", db.display()),
        &[],
    )
    .await;
    let report = kit(&app).await;
    assert_eq!(report.get("verify of an export (full)").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
    assert_eq!(report.get("verify of garbage (full)").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
    assert_eq!(sqlite(&db, "SELECT count(*), max(body) FROM notes"), "5|note 5\n");
    // A restore after changes brings the exported rows back; a file that is no database is refused.
    let (copy, sha) = export_whole(&app).await;
    sqlite(&db, "DELETE FROM notes WHERE id > 2");
    app.client().import("full", &sha, once(copy)).await.unwrap();
    assert_eq!(sqlite(&db, "SELECT count(*), max(body) FROM notes"), "5|note 5\n");
    let garbage = b"SQLite format 3\0 but nothing after".to_vec();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&garbage));
    let refused = app.client().import("full", &sha, once(garbage)).await.unwrap_err().to_string();
    assert!(refused.contains("nothing was restored"), "{refused}");
    assert_eq!(sqlite(&db, "SELECT count(*) FROM notes"), "5\n");
    drop(app);

    // directory, configured by environment variables alone.
    let (files, restored) = (root.join("files"), root.join("restored"));
    write_tree(&files);
    let app = RunningApp::agent_from_env(&[
        ("BACKUP_AGENT_APP", "files"),
        ("BACKUP_AGENT_RECIPE", "directory"),
        ("BACKUP_AGENT_PATH", files.to_str().unwrap()),
        ("BACKUP_AGENT_RESTORE_INTO", restored.to_str().unwrap()),
    ])
    .await;
    kit(&app).await;
    assert_eq!(read_tree(&restored), read_tree(&files));
    drop(app);

    // command: anything with a command line, restore and check included.
    let data = root.join("data.txt");
    std::fs::write(&data, "ledger line 1\nledger line 2\n").unwrap();
    let config = format!(
        "app = \"ledger\"\n[[type]]\nname = \"ledger\"\nrecipe = \"command\"\nmedia_type = \"text/plain\"\nextension = \"txt\"\n\
         export = \"cat {d}\"\nimport = \"cat > {d}.new && mv {d}.new {d}\"\nverify = \"grep -q '^ledger line'\"\n",
        d = data.display()
    );
    let app = RunningApp::agent(&config, &[]).await;
    let report = kit(&app).await;
    assert_eq!(report.get("verify of garbage (ledger)").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
    assert_eq!(std::fs::read_to_string(&data).unwrap(), "ledger line 1\nledger line 2\n");
    let (copy, sha) = export_whole(&app).await;
    std::fs::write(&data, "overwritten\n").unwrap();
    app.client().import("ledger", &sha, once(copy)).await.unwrap();
    assert_eq!(std::fs::read_to_string(&data).unwrap(), "ledger line 1\nledger line 2\n");
    drop(app);
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn a_configuration_mistake_is_refused_at_start_with_what_to_fix() {
    let root = temp_dir("config");
    // (configuration, environment, what the error must say)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 8] = [
        ("app = \"x\"\n[[type]]\nrecipe = \"mysql\"\n", &[("BACKUP_TOKEN", TOKEN)], "unknown recipe \"mysql\""),
        (
            "app = \"x\"\n[[type]]\nrecipe = \"postgres\"\npath = \"/srv\"\n",
            &[("BACKUP_TOKEN", TOKEN)],
            "`path` does not apply to the postgres recipe",
        ),
        ("app = \"x\"\ntokn_file = \"/t\"\n", &[("BACKUP_TOKEN", TOKEN)], "unknown field `tokn_file`"),
        ("app = \"x\"\n[[type]]\nrecipe = \"sqlite\"\npath = \"/srv/a.db\"\n", &[], "no token: set BACKUP_TOKEN_FILE"),
        (
            "app = \"x\"\n[[type]]\nrecipe = \"directory\"\npath = \"/a\"\n[[type]]\nrecipe = \"sqlite\"\npath = \"/b.db\"\n",
            &[("BACKUP_TOKEN", TOKEN)],
            "two types are named \"full\"",
        ),
        (
            "app = \"x\"\n[[type]]\nrecipe = \"postgres\"\ndatabase = \"billing\"\nrestore_database = \"\"\n",
            &[("BACKUP_TOKEN", TOKEN)],
            "`restore_database` is empty",
        ),
        (
            "app = \"x\"\n[[type]]\nrecipe = \"sqlite\"\npath = \"data/app.db\"\n",
            &[("BACKUP_TOKEN", TOKEN)],
            "needs `path`, an absolute path",
        ),
        (
            "app = \"x\"\n[[type]]\nrecipe = \"odoo\"\ndatabase = \"prod\"\nfilestore = \"/srv/../etc\"\n",
            &[("BACKUP_TOKEN", TOKEN)],
            "without `..`",
        ),
    ];
    for (i, (config, env, expected)) in cases.into_iter().enumerate() {
        let path = root.join(format!("{i}.toml"));
        std::fs::write(&path, config).unwrap();
        let out = Command::new(e2e::binaries::agent())
            .arg("--config")
            .arg(&path)
            .env_remove("BACKUP_TOKEN")
            .env_remove("BACKUP_TOKEN_FILE")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{config}: {stderr}");
        assert!(stderr.contains(expected), "{config}: expected {expected:?} in {stderr}");
    }
    // The token comes from a file as well, and `--check` shows what would be served.
    std::fs::write(root.join("token"), format!("{TOKEN}\n")).unwrap();
    std::fs::create_dir_all(root.join("files")).unwrap();
    std::fs::write(root.join("files/a.txt"), "abc").unwrap();
    let out = Command::new(e2e::binaries::agent())
        .arg("--check")
        .env_remove("BACKUP_TOKEN")
        .env("BACKUP_TOKEN_FILE", root.join("token"))
        .env("BACKUP_AGENT_APP", "files")
        .env("BACKUP_AGENT_RECIPE", "directory")
        .env("BACKUP_AGENT_PATH", root.join("files"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let caps: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(caps["types"][0]["name"], "full");
    assert_eq!(caps["health"]["size_bytes"], 3);
    std::fs::remove_dir_all(&root).unwrap();
}

const ROWS: &str = "SELECT id, name, amount FROM invoices ORDER BY id";

fn pg_config(database: &str) -> String {
    format!(
        "app = \"billing\"\n[[type]]\nname = \"full\"\nrecipe = \"postgres\"\ndatabase = \"{database}\"\n\
         [[type]]\nname = \"schema\"\nrecipe = \"postgres\"\ndatabase = \"{database}\"\nschema_only = true\n"
    )
}

#[tokio::test]
async fn a_postgres_database_goes_through_the_agent_into_drive_and_back() {
    let test = "a_postgres_database_goes_through_the_agent_into_drive_and_back";
    let Some(pg) = TestPostgres::from_env(test) else { return };
    let db = pg.create_database("agent_pg");
    pg.psql(
        Some(&db),
        "CREATE TABLE invoices (id int PRIMARY KEY, name text NOT NULL, amount numeric(10,2));
         INSERT INTO invoices SELECT g, 'customer ' || g, g * 1.25 FROM generate_series(1, 2000) g;",
    );
    let expected = pg.psql(Some(&db), ROWS);
    let app = RunningApp::agent(&pg_config(&db), &pg.env()).await;
    let report = kit(&app).await;
    assert_eq!(report.get("verify of an export (full)").map(|f| f.outcome), Some(Outcome::Pass), "{report}");

    let h = Harness::sqlite().await;
    let folder = h.folder("billing");
    h.add_app("billing", &app.url, &folder, &[]).await;
    let good = h.backup("billing", &[]).await;
    assert_eq!(h.double.files_in(&folder).len(), 1);

    pg.psql(Some(&db), "DROP TABLE invoices");
    let restored = h.cli(&["restore", "billing", &good, "--no-safety-backup"]).await;
    restored.assert_success();
    assert_eq!(pg.psql(Some(&db), ROWS), expected, "the rows are back");

    // A copy replaced in Drive by a truncated dump, with marks that agree: the orchestrator
    // hands it over, pg_restore fails in its single transaction, and nothing changes.
    use sha2::Digest;
    let bad = h.backup("billing", &[]).await;
    let id = h.double.files_in(&folder).into_iter().find(|f| f.name == bad).unwrap().id;
    let whole = h.double.content(&id).unwrap();
    let truncated = &whole[..whole.len() * 2 / 3];
    h.double.replace_content(&id, truncated);
    h.double.set_app_property(&id, "sha256", &hex::encode(sha2::Sha256::digest(truncated)));
    h.double.set_app_property(&id, "size", &truncated.len().to_string());
    pg.psql(Some(&db), "UPDATE invoices SET amount = 0 WHERE id <= 10");
    let changed = pg.psql(Some(&db), ROWS);
    let refused = h.cli(&["restore", "billing", &bad, "--no-safety-backup"]).await;
    assert_ne!(refused.status.code(), Some(0), "{}", refused.stdout_text());
    assert!(refused.stderr.contains("pg_restore"), "the tool's words reach the operator: {}", refused.stderr);
    assert_eq!(pg.psql(Some(&db), ROWS), changed, "a failed restore leaves the database as it was");
    drop(app);

    // Credentials the server refuses: the run fails with pg_dump's words and stores nothing.
    let folder = h.folder("refused");
    let mut env = pg.env();
    env.retain(|(k, _)| *k != "PGUSER");
    env.push(("PGUSER", "no_such_backup_role"));
    let app = RunningApp::agent(&pg_config(&db), &env).await;
    h.add_app("refused", &app.url, &folder, &[]).await;
    let failed = h.cli(&["run", "refused"]).await;
    assert_ne!(failed.status.code(), Some(0));
    assert!(failed.stderr.contains("pg_dump"), "{}", failed.stderr);
    assert!(failed.stderr.contains("no_such_backup_role"), "{}", failed.stderr);
    assert!(h.double.files_in(&folder).is_empty(), "a failed dump stores nothing");
    drop(app);
    pg.drop_database(&db);
}

/// A body of one piece, for the client's streaming calls.
fn once(bytes: Vec<u8>) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    futures::stream::once(async move { Ok(bytes::Bytes::from(bytes)) })
}

const PARTNERS: &str = "SELECT id, name, email FROM res_partner ORDER BY id";

#[tokio::test]
async fn the_odoo_recipe_writes_odoos_layout_and_restores_database_and_filestore() {
    let test = "the_odoo_recipe_writes_odoos_layout_and_restores_database_and_filestore";
    let Some(pg) = TestPostgres::from_env(test) else { return };
    let db = pg.create_odoo_like_database("agent_odoo");
    let root = temp_dir("odoo");
    let filestore = root.join("filestore").join(&db);
    write_tree(&filestore);
    let config = format!(
        "app = \"erp\"\n[[type]]\nrecipe = \"odoo\"\ndatabase = \"{db}\"\nfilestore = \"{}\"\n",
        filestore.display()
    );
    let app = RunningApp::agent(&config, &pg.env()).await;
    let expected = pg.psql(Some(&db), PARTNERS);
    let files_before = read_tree(&filestore);
    let report = kit(&app).await;
    assert_eq!(report.get("verify of an export (full)").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
    assert_eq!(report.get("verify of garbage (full)").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
    assert_eq!(pg.psql(Some(&db), PARTNERS), expected, "the round trip restored the database");
    assert_eq!(read_tree(&filestore), files_before);

    // The zip, read by Python's zipfile as Odoo's restore reads it.
    let mut export = app.client().export(None).await.unwrap();
    let mut zip = Vec::new();
    while let Some(chunk) = export.next_chunk().await.unwrap() {
        zip.extend_from_slice(&chunk);
    }
    let zip_path = root.join("backup.zip");
    std::fs::write(&zip_path, &zip).unwrap();
    let unpacked = root.join("unpacked");
    let out = Command::new("python3")
        .args(["-c", "import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nz.extractall(sys.argv[2])\nprint('\\n'.join(sorted(z.namelist())))"])
        .arg(&zip_path)
        .arg(&unpacked)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let names = String::from_utf8(out.stdout).unwrap();
    assert!(names.lines().any(|n| n == "dump.sql"), "{names}");
    assert!(names.lines().any(|n| n == "manifest.json"), "{names}");
    assert!(names.lines().any(|n| n == "filestore/sub/deeper/c.txt"), "{names}");
    assert_eq!(read_tree(&unpacked.join("filestore")), read_tree(&filestore));

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(unpacked.join("manifest.json")).unwrap()).unwrap();
    let mut keys: Vec<&str> = manifest.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["db_name", "major_version", "modules", "odoo_dump", "pg_version", "version", "version_info"]);
    assert_eq!(manifest["odoo_dump"], "1");
    assert_eq!(manifest["db_name"], db.as_str());
    assert_eq!(manifest["version"], "17.0");
    assert_eq!(manifest["modules"], serde_json::json!({"base": "17.0.1.3", "sale": "17.0.1.2"}));
    let server = pg.psql(Some(&db), "SHOW server_version_num").trim().parse::<u64>().unwrap();
    assert_eq!(manifest["pg_version"], format!("{}.0", server / 10000));

    // dump.sql is plain SQL without owners that psql loads into an empty database.
    let empty = pg.create_database("agent_odoo_load");
    let load = Command::new("psql")
        .envs(pg.env())
        .args(["--no-psqlrc", "-v", "ON_ERROR_STOP=1", "--quiet", "--dbname", &empty, "-f"])
        .arg(unpacked.join("dump.sql"))
        .output()
        .unwrap();
    assert!(load.status.success(), "{}", String::from_utf8_lossy(&load.stderr));
    assert_eq!(pg.psql(Some(&empty), PARTNERS), expected);
    let dump = std::fs::read_to_string(unpacked.join("dump.sql")).unwrap();
    assert!(!dump.contains("OWNER TO"), "pg_dump --no-owner");

    // A round trip after changes: database and filestore both come back.
    pg.psql(Some(&db), "DELETE FROM res_partner WHERE id > 100");
    std::fs::remove_file(filestore.join("a.txt")).unwrap();
    std::fs::write(filestore.join("added-later.txt"), "gone after the restore").unwrap();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&zip));
    let imported = app.client().import("full", &sha, once(zip.clone())).await;
    assert!(imported.is_ok(), "{imported:?}");
    assert_eq!(pg.psql(Some(&db), PARTNERS), expected);
    assert_eq!(read_tree(&filestore), read_tree(&unpacked.join("filestore")));

    // A zip whose entries are sound but whose dump.sql stops half-way (a dump cut short before
    // it was zipped): refused before the swap, nothing changed.
    pg.psql(Some(&db), "DELETE FROM res_partner WHERE id > 250");
    let changed = pg.psql(Some(&db), PARTNERS);
    let short_zip = root.join("short.zip");
    let out = Command::new("python3")
        .args([
            "-c",
            "import zipfile,sys\nsrc=zipfile.ZipFile(sys.argv[1])\nout=zipfile.ZipFile(sys.argv[2],'w',zipfile.ZIP_DEFLATED)\n\
             for n in src.namelist():\n  data=src.read(n)\n  out.writestr(n, data[:len(data)//2] if n=='dump.sql' else data)\nout.close()",
        ])
        .arg(&zip_path)
        .arg(&short_zip)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let short = std::fs::read(&short_zip).unwrap();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&short));
    let refused = app.client().import("full", &sha, once(short)).await.unwrap_err().to_string();
    assert!(refused.contains("cut short"), "{refused}");
    assert_eq!(pg.psql(Some(&db), PARTNERS), changed);
    assert_eq!(read_tree(&filestore), read_tree(&unpacked.join("filestore")));
    let leftovers = pg.psql(None, &format!("SELECT count(*) FROM pg_database WHERE datname LIKE '{db}_%'"));
    assert_eq!(leftovers.trim(), "0", "no staging database is left behind");

    // A zip cut short with a matching checksum: refused, nothing changed.
    pg.psql(Some(&db), "DELETE FROM res_partner WHERE id > 200");
    let changed = pg.psql(Some(&db), PARTNERS);
    let cut = &zip[..zip.len() / 2];
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(cut));
    assert!(app.client().import("full", &sha, once(cut.to_vec())).await.is_err());
    assert_eq!(pg.psql(Some(&db), PARTNERS), changed);
    assert_eq!(read_tree(&filestore), read_tree(&unpacked.join("filestore")));

    drop(app);

    // Credentials the server refuses: the export is refused with the tools' own words.
    let mut env = pg.env();
    env.retain(|(k, _)| *k != "PGUSER");
    env.push(("PGUSER", "no_such_backup_role"));
    let app = RunningApp::agent(&config, &env).await;
    let refused = app.client().export(None).await.map(|_| ()).unwrap_err().to_string();
    assert!(refused.contains("no_such_backup_role"), "{refused}");
    drop(app);
    pg.drop_database(&db);
    pg.drop_database(&empty);
    std::fs::remove_dir_all(&root).unwrap();
}
