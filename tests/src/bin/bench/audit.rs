//! `audit`: `orchestrator audit` of every app, on the Drive double, counting the requests Drive
//! receives. Apps (cloned in SQLite from one registered through the CLI) share a few folders,
//! each app's copies put into its folder with the marks a run writes; the same fleet is audited
//! with few and with many copies per app, and with the same copies in fewer, fuller folders, so
//! the table shows requests following folders and pages (Drive lists at most 1,000 files a
//! page), never copies. Each fleet is audited twice: the first audit fills the inventory, the
//! second is the steady state of a weekly audit.

use std::time::Instant;

use e2e::harness::Harness;
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};
use sha2::{Digest, Sha256};

use crate::args::Args;
use crate::measure::{emit, mib, ms, table};
use crate::seed;

#[derive(FromQueryResult)]
struct AppRow {
    id: i64,
    name: String,
}

#[derive(FromQueryResult)]
struct Value {
    value: String,
}

struct Fleet {
    apps: usize,
    copies_per_app: usize,
    folders: usize,
}

pub(crate) async fn run(args: &Args) {
    let apps = args.apps(200, 20);
    let (many, few) = if args.smoke { (5, 1) } else { (50, 5) };
    let fleets = [
        Fleet { apps, copies_per_app: few, folders: apps.div_ceil(10) },
        Fleet { apps, copies_per_app: many, folders: apps.div_ceil(10) },
        Fleet { apps, copies_per_app: many, folders: apps.div_ceil(40) },
    ];
    let mut rows = Vec::new();
    let mut figures = Vec::new();
    for fleet in &fleets {
        let (first, second) = audit_fleet(fleet).await;
        let copies = fleet.apps * fleet.copies_per_app;
        for (pass, m) in [("first", &first), ("second", &second)] {
            figures.push(serde_json::json!({
                "apps": fleet.apps, "copies": copies, "folders": fleet.folders, "pass": pass,
                "list_requests": m.lists, "other_requests": m.others, "ms": m.ms, "peak_rss_mib": m.rss_mib,
            }));
            rows.push(vec![
                copies.to_string(),
                fleet.apps.to_string(),
                fleet.folders.to_string(),
                pass.to_owned(),
                m.lists.to_string(),
                m.others.to_string(),
                format!("{:.1}", m.ms / 1000.0),
                format!("{:.0}", m.rss_mib),
            ]);
        }
    }
    emit(serde_json::json!({ "scenario": "audit", "audits": figures }));
    table(
        "audit: orchestrator audit of every app on the Drive double (requests as Drive received them)",
        &["copies", "apps", "folders", "audit", "files.list", "other requests", "seconds", "peak RSS MiB"],
        &rows,
    );
}

struct Measured {
    lists: usize,
    others: usize,
    ms: f64,
    rss_mib: f64,
}

/// Builds the fleet, audits it twice; what each audit cost.
async fn audit_fleet(fleet: &Fleet) -> (Measured, Measured) {
    let h = Harness::sqlite().await;
    let folders: Vec<String> = (0..fleet.folders).map(|i| h.folder(&format!("fleet-{i:03}"))).collect();
    h.add_app("app-00000", "http://127.0.0.1:9", &folders[0], &["--no-check"]).await;
    let db = h.db().await;
    seed::apps(&db, fleet.apps - 1).await;
    let backend = db.get_database_backend();
    let query = |sql: &str| Statement::from_string(backend, sql.to_owned());
    for (i, folder) in folders.iter().enumerate() {
        let sql = format!("UPDATE apps SET folder = '{folder}' WHERE (id - 1) % {} = {i}", fleet.folders);
        db.execute_unprepared(&sql).await.expect("spread the apps over the folders");
    }
    let deployment = Value::find_by_statement(query("SELECT value FROM settings WHERE key = 'deployment_id'"))
        .one(&db)
        .await
        .expect("read the deployment id")
        .expect("a deployment id")
        .value;
    let apps = AppRow::find_by_statement(query("SELECT id, name FROM apps ORDER BY id")).all(&db).await.unwrap();
    drop(db);
    for app in &apps {
        let folder = &folders[(app.id as usize - 1) % fleet.folders];
        for n in 0..fleet.copies_per_app {
            let content = format!("{} copy {n}", app.name);
            let sha256 = hex::encode(Sha256::digest(content.as_bytes()));
            let size = content.len().to_string();
            let run = (n + 1).to_string();
            let name = format!("{}_full_20261201_030000Z_{run}.bin", app.name);
            let marks = [
                ("dep", deployment.as_str()),
                ("app", app.name.as_str()),
                ("type", "full"),
                ("run_id", run.as_str()),
                ("sha256", sha256.as_str()),
                ("size", size.as_str()),
                ("verified", "1"),
            ];
            h.double.add_file(folder, &name, content.as_bytes(), &marks);
        }
    }
    let first = audit_once(&h, fleet).await;
    let second = audit_once(&h, fleet).await;
    (first, second)
}

async fn audit_once(h: &Harness, fleet: &Fleet) -> Measured {
    let before = h.double.requests().len();
    let started = Instant::now();
    let out = h.cli(&["audit"]).await;
    let elapsed = started.elapsed();
    out.assert_success();
    let copies = fleet.apps * fleet.copies_per_app;
    let summary = format!("{} apps: {copies} copies, {copies} good, 0 lost, 0 damaged", fleet.apps);
    assert!(out.stdout_text().contains(&summary), "the audit saw every copy: {}", out.stdout_text());
    let requests = h.double.requests();
    let new = &requests[before..];
    let lists = new.iter().filter(|r| r.method == "GET" && r.path == "/drive/v3/files").count();
    Measured { lists, others: new.len() - lists, ms: ms(elapsed), rss_mib: mib(out.peak_rss_kib) }
}
