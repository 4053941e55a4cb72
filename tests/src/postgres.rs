//! The machine's PostgreSQL, for tests that need a real one. Its URL comes from
//! `TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`); without it those tests
//! say that they skip. `.ci/run` sets it, so in CI they always run.

use std::process::Command;

/// A PostgreSQL server reachable with the libpq environment variables below.
pub struct TestPostgres {
    env: Vec<(String, String)>,
    url: reqwest::Url,
}

impl TestPostgres {
    /// The server from `TEST_POSTGRES_URL`, or `None` (after printing why) when it is unset.
    pub fn from_env(test: &str) -> Option<TestPostgres> {
        let Ok(url) = std::env::var("TEST_POSTGRES_URL") else {
            eprintln!("SKIPPED {test}: set TEST_POSTGRES_URL=postgres://user@host:port/db to run it");
            return None;
        };
        let url = reqwest::Url::parse(&url).expect("TEST_POSTGRES_URL is a URL");
        let mut env = vec![
            ("PGHOST".to_owned(), url.host_str().unwrap_or("127.0.0.1").to_owned()),
            ("PGPORT".to_owned(), url.port().unwrap_or(5432).to_string()),
            ("PGDATABASE".to_owned(), url.path().trim_start_matches('/').to_owned()),
        ];
        if !url.username().is_empty() {
            env.push(("PGUSER".to_owned(), url.username().to_owned()));
        }
        if let Some(password) = url.password() {
            env.push(("PGPASSWORD".to_owned(), password.to_owned()));
        }
        Some(TestPostgres { env, url })
    }

    /// The URL of `database` on this server.
    pub fn url_for(&self, database: &str) -> String {
        let mut url = self.url.clone();
        url.set_path(&format!("/{database}"));
        url.to_string()
    }

    /// The libpq variables that reach this server.
    pub fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    /// Runs SQL with `psql` in `database` (or the URL's database) and returns its unaligned output.
    pub fn psql(&self, database: Option<&str>, sql: &str) -> String {
        let mut cmd = Command::new("psql");
        cmd.envs(self.env()).args(["--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql]);
        if let Some(db) = database {
            cmd.args(["--dbname", db]);
        }
        let out = cmd.output().expect("psql runs");
        assert!(out.status.success(), "psql {sql:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Creates an empty database with a unique name and returns the name.
    pub fn create_database(&self, prefix: &str) -> String {
        let name = format!("{prefix}_{}", crate::harness::unique());
        self.psql(None, &format!("CREATE DATABASE {name}"));
        name
    }

    /// A database that looks like Odoo's to the agent's odoo recipe: its module table (base
    /// 17.0 and sale installed, stock not), and 300 rows of `res_partner`.
    pub fn create_odoo_like_database(&self, prefix: &str) -> String {
        let db = self.create_database(prefix);
        self.psql(
            Some(&db),
            "CREATE TABLE ir_module_module (id serial PRIMARY KEY, name varchar NOT NULL, latest_version varchar, state varchar);
             INSERT INTO ir_module_module (name, latest_version, state) VALUES
               ('base', '17.0.1.3', 'installed'), ('sale', '17.0.1.2', 'installed'), ('stock', NULL, 'uninstalled');
             CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar NOT NULL, email varchar);
             INSERT INTO res_partner (name, email)
               SELECT 'Cliente ' || g, 'c' || g || '@example.com' FROM generate_series(1, 300) g;",
        );
        db
    }

    /// Drops a database made by [`TestPostgres::create_database`].
    pub fn drop_database(&self, name: &str) {
        self.psql(None, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}
