//! The `postgres` example against the machine's PostgreSQL: export a database with known rows,
//! import it into a fresh database, and the rows are the same.

use contract_spec::conformance::{self, Options, Outcome};
use e2e::apps::RunningApp;
use e2e::postgres::TestPostgres;

const ROWS: &str = "SELECT id, name, amount FROM invoices ORDER BY id";

#[tokio::test]
async fn the_postgres_example_round_trips_a_database() {
    let Some(pg) = TestPostgres::from_env("the_postgres_example_round_trips_a_database") else { return };
    let source = pg.create_database("sdk_src");
    let target = pg.create_database("sdk_dst");
    pg.psql(
        Some(&source),
        "CREATE TABLE invoices (id int PRIMARY KEY, name text NOT NULL, amount numeric(10,2));
         INSERT INTO invoices SELECT g, 'customer ' || g, g * 1.25 FROM generate_series(1, 500) g;",
    );
    pg.psql(Some(&target), "CREATE TABLE leftover (x int); INSERT INTO leftover VALUES (1);");

    let app = RunningApp::start("postgres", &["--database", &source, "--restore-database", &target], &pg.env()).await;
    // pg_dump writes a 5 KB dump in one go at its end: whether it streams shows only on large
    // databases, so the streaming check only judges exports slower than a loaded machine makes
    // this one (it once judged a 351 ms export on a loaded machine, and failed it).
    let options = Options { with_import: true, streaming_min_duration: std::time::Duration::from_secs(3) };
    let report = conformance::check(&app.client(), &options).await;
    assert!(report.passed(), "{report}");
    assert_eq!(report.get("import round trip").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
    // pg_restore --file=/dev/null reads the whole custom-format dump, and refuses garbage.
    assert_eq!(report.get("verify of an export (full)").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
    assert_eq!(report.get("verify of garbage (full)").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
    assert_eq!(report.get("verify of an export (schema)").map(|f| f.outcome), Some(Outcome::Skip), "{report}");

    let expected = pg.psql(Some(&source), ROWS);
    assert_eq!(expected.lines().count(), 500);
    assert_eq!(pg.psql(Some(&target), ROWS), expected);

    let mut schema = app.client().export(Some("schema")).await.unwrap();
    let mut sql = Vec::new();
    while let Some(chunk) = schema.next_chunk().await.unwrap() {
        sql.extend_from_slice(&chunk);
    }
    let sql = String::from_utf8(sql).unwrap();
    assert!(sql.contains("CREATE TABLE public.invoices"), "{sql}");
    assert!(!sql.contains("customer 1"), "a schema export holds no rows");

    drop(app);
    pg.drop_database(&source);
    pg.drop_database(&target);
}
