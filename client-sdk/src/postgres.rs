//! A ready-made source for a PostgreSQL database, with the PostgreSQL client tools on the PATH.
//!
//! Types: `full` (`pg_dump --format=custom`, restored with `pg_restore`, checked by a drill with
//! `pg_restore --file=/dev/null`, which reads every object and all table data to the end) and
//! `schema` (plain SQL, restored with `psql`). Both restores run in one transaction that is rolled
//! back when the body is bad or a statement fails, so a failed restore leaves the database as it
//! was. The client tools must be at least the server's major version (`pg_dump` refuses a newer
//! server).

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use tokio::process::Command;

use contract_spec::{Health, VerifyReport};

use crate::process::{export_command, import_command, verify_command};
use crate::{BackupSource, BackupType, Capabilities, ExportStream, ImportStream, SourceError};

/// How the client tools reach the server. Unset fields fall back to libpq's own variables
/// (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `~/.pgpass`). Everything is passed in the tools'
/// environment, never as an argument a process list would show.
#[derive(Debug, Clone, Default)]
pub struct PgConnection {
    /// Host name, address, or socket folder.
    pub host: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// Role to connect as.
    pub user: Option<String>,
    /// Password of that role.
    pub password: Option<SecretString>,
}

impl PgConnection {
    /// The variables to set on a client tool's environment.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        if let Some(host) = &self.host {
            env.push(("PGHOST", host.clone()));
        }
        if let Some(port) = self.port {
            env.push(("PGPORT", port.to_string()));
        }
        if let Some(user) = &self.user {
            env.push(("PGUSER", user.clone()));
        }
        if let Some(password) = &self.password {
            env.push(("PGPASSWORD", password.expose_secret().to_owned()));
        }
        env
    }

    /// `program` (a PostgreSQL client tool) set up to reach the server, never prompting.
    pub(crate) fn tool(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        crate::process::without_token(&mut cmd).envs(self.env()).arg("--no-password");
        cmd
    }

    /// Runs one query with `psql` on `database` and returns its unaligned output, trimmed.
    pub(crate) async fn query(&self, database: &str, sql: &str) -> Result<String, SourceError> {
        let mut psql = self.tool("psql");
        psql.args(["--no-psqlrc", "--tuples-only", "--no-align", "--quiet", "-v", "ON_ERROR_STOP=1"])
            .arg("--dbname")
            .arg(database)
            .arg("--command")
            .arg(sql);
        let out = psql.output().await.map_err(|e| SourceError::failed(format!("could not start `psql`: {e}")))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(SourceError::failed(format!(
                "`psql` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// The size of `database` in bytes, for the app's health.
    pub(crate) async fn database_size(&self, database: &str) -> Option<u64> {
        self.query(database, "SELECT pg_database_size(current_database())").await.ok()?.parse().ok()
    }
}

/// Backs up the database `database`; restores into `restore_database` (by default the same).
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let source = client_sdk::Postgres::new("billing", "billing");
/// let app = client_sdk::router(source, std::env::var("BACKUP_TOKEN").unwrap().into());
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:9002").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Postgres {
    app: String,
    database: String,
    restore_database: String,
    connection: PgConnection,
}

impl Postgres {
    /// The database `database`, announced as `app`, reached through libpq's variables.
    pub fn new(app: impl Into<String>, database: impl Into<String>) -> Self {
        let database = database.into();
        Postgres { app: app.into(), restore_database: database.clone(), database, connection: PgConnection::default() }
    }

    /// Restores into `database` instead of the backed-up one.
    pub fn restore_into(mut self, database: impl Into<String>) -> Self {
        self.restore_database = database.into();
        self
    }

    /// Reaches the server with `connection` instead of libpq's variables alone.
    pub fn connection(mut self, connection: PgConnection) -> Self {
        self.connection = connection;
        self
    }

    /// The types this source offers: `full` (custom format, drilled) and `schema` (plain SQL).
    pub fn backup_types() -> [BackupType; 2] {
        [
            BackupType::new("full", "application/octet-stream", "dump").compressed(true).with_verify(),
            BackupType::new("schema", "application/sql", "sql"),
        ]
    }

    fn schema_only(backup_type: &BackupType) -> bool {
        backup_type.name == "schema"
    }
}

impl BackupSource for Postgres {
    fn capabilities(&self) -> Capabilities {
        Capabilities::new(&self.app, Self::backup_types()).with_restore()
    }

    async fn export(&self, backup_type: &BackupType) -> Result<ExportStream, SourceError> {
        let mut dump = self.connection.tool("pg_dump");
        dump.arg("--dbname").arg(&self.database);
        if Self::schema_only(backup_type) {
            dump.args(["--format=plain", "--schema-only", "--clean", "--if-exists"]);
        } else {
            dump.arg("--format=custom");
        }
        export_command(dump)
    }

    /// The database's size, asked of the server on each capabilities request.
    async fn health(&self) -> Option<Health> {
        let size = self.connection.database_size(&self.database).await?;
        Some(Health { size_bytes: Some(size), details: BTreeMap::from([("database".into(), self.database.clone())]) })
    }

    /// `pg_restore --file=/dev/null` reads every object and the data of every table to the end,
    /// so a truncated or corrupt dump fails (`--list` reads only the table of contents).
    async fn verify(&self, _: &BackupType, body: ImportStream) -> Result<VerifyReport, SourceError> {
        let mut check = Command::new("pg_restore");
        check.arg("--file=/dev/null");
        verify_command(check, body, "pg_restore reads the whole dump").await
    }

    async fn import(&self, backup_type: &BackupType, body: ImportStream) -> Result<(), SourceError> {
        let mut restore = if Self::schema_only(backup_type) {
            let mut psql = self.connection.tool("psql");
            psql.args(["--no-psqlrc", "--quiet", "--single-transaction", "-v", "ON_ERROR_STOP=1"]);
            psql
        } else {
            let mut pg_restore = self.connection.tool("pg_restore");
            pg_restore.args(["--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error"]);
            pg_restore
        };
        restore.arg("--dbname").arg(&self.restore_database);
        import_command(restore, body).await
    }
}
