//! The agent's settings: one TOML file, or environment variables for a single recipe.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use client_sdk::{BackupType, Commands, Directory, Odoo, PgConnection, Postgres, SecretString, Sqlite};
use serde::Deserialize;

use crate::agent::{Entry, Recipe};

/// The whole file. Unknown keys are errors, so a misspelt setting is never silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct File {
    /// The app name announced in capabilities.
    pub(crate) app: Option<String>,
    /// Where to listen (default 0.0.0.0:9000).
    pub(crate) listen: Option<SocketAddr>,
    /// A file holding the bearer token (else `BACKUP_TOKEN_FILE` or `BACKUP_TOKEN`).
    pub(crate) token_file: Option<PathBuf>,
    /// How the `postgres` and `odoo` recipes reach the server (else libpq's variables).
    pub(crate) postgres: Option<PgSettings>,
    /// One entry per backup type offered.
    #[serde(default, rename = "type")]
    pub(crate) types: Vec<TypeSettings>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PgSettings {
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    /// A file holding the password (never the password itself in this file).
    password_file: Option<PathBuf>,
}

/// One backup type: a recipe and its settings. Which keys apply depends on the recipe.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TypeSettings {
    name: Option<String>,
    recipe: String,
    database: Option<String>,
    restore_database: Option<String>,
    schema_only: Option<bool>,
    path: Option<PathBuf>,
    restore_into: Option<PathBuf>,
    filestore: Option<PathBuf>,
    maintenance_database: Option<String>,
    export: Option<String>,
    import: Option<String>,
    verify: Option<String>,
    media_type: Option<String>,
    extension: Option<String>,
}

/// What the agent runs with, checked.
pub(crate) struct Settings {
    pub(crate) app: String,
    pub(crate) listen: SocketAddr,
    pub(crate) token: SecretString,
    pub(crate) entries: Vec<Entry>,
}

pub(crate) const DEFAULT_LISTEN: &str = "0.0.0.0:9000";

const RECIPES: &str = "postgres, sqlite, directory, odoo, command";

impl File {
    /// Reads and parses the TOML file at `path`.
    pub(crate) fn read(path: &Path) -> Result<File, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{} is not a valid agent configuration: {e}", path.display()))
    }

    /// The settings of a one-recipe agent from `BACKUP_AGENT_*` variables (`var` reads one).
    pub(crate) fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<File, String> {
        let get = |key: &str| var(&format!("BACKUP_AGENT_{key}")).filter(|v| !v.trim().is_empty());
        let Some(recipe) = get("RECIPE") else {
            return Err(format!(
                "no configuration: pass --config FILE (or set BACKUP_AGENT_CONFIG), or set BACKUP_AGENT_RECIPE to one of {RECIPES} with its BACKUP_AGENT_* settings"
            ));
        };
        let listen = match get("LISTEN") {
            Some(l) => Some(
                l.parse().map_err(|e| format!("BACKUP_AGENT_LISTEN={l:?} is not an address like 0.0.0.0:9000: {e}"))?,
            ),
            None => None,
        };
        let base = TypeSettings {
            name: get("TYPE"),
            recipe: recipe.clone(),
            database: get("DATABASE"),
            restore_database: get("RESTORE_DATABASE"),
            path: get("PATH").map(PathBuf::from),
            restore_into: get("RESTORE_INTO").map(PathBuf::from),
            filestore: get("FILESTORE").map(PathBuf::from),
            maintenance_database: get("MAINTENANCE_DATABASE"),
            export: get("EXPORT"),
            import: get("IMPORT"),
            verify: get("VERIFY"),
            media_type: get("MEDIA_TYPE"),
            extension: get("EXTENSION"),
            schema_only: None,
        };
        // A PostgreSQL database offers both of its types, as seed 001 has them.
        let mut types = Vec::new();
        if recipe == "postgres" && base.name.is_none() {
            types.push(TypeSettings { schema_only: Some(true), name: Some("schema".into()), ..base.clone() });
        }
        types.insert(0, base);
        Ok(File { app: get("APP"), listen, token_file: None, postgres: None, types })
    }

    /// Checks every setting and builds the agent's entries; `token` is the token from the
    /// environment, used when the file names no token file.
    pub(crate) fn into_settings(self, env_token: Option<SecretString>) -> Result<Settings, String> {
        let app = self
            .app
            .filter(|a| !a.trim().is_empty())
            .ok_or("set `app` (BACKUP_AGENT_APP): the name the orchestrator shows for this app".to_owned())?;
        let token = match &self.token_file {
            Some(path) => read_secret(path, "token_file")?,
            None => env_token.ok_or(
                "no token: set BACKUP_TOKEN_FILE (a file holding it) or BACKUP_TOKEN, or token_file in the configuration (it is never an argument)"
                    .to_owned(),
            )?,
        };
        let connection = match self.postgres {
            None => PgConnection::default(),
            Some(pg) => PgConnection {
                host: pg.host,
                port: pg.port,
                user: pg.user,
                password: match &pg.password_file {
                    Some(path) => Some(read_secret(path, "postgres.password_file")?),
                    None => None,
                },
            },
        };
        if self.types.is_empty() {
            return Err("no backup type: add at least one [[type]] with a recipe".into());
        }
        let mut entries = Vec::new();
        let mut names = BTreeSet::new();
        for (i, settings) in self.types.into_iter().enumerate() {
            let entry =
                settings.into_entry(&app, &connection).map_err(|e| format!("[[type]] number {}: {e}", i + 1))?;
            if !names.insert(entry.advertised.name.clone()) {
                return Err(format!(
                    "two types are named {:?}: give each [[type]] its own `name`",
                    entry.advertised.name
                ));
            }
            entries.push(entry);
        }
        let listen = self.listen.unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("a valid default"));
        Ok(Settings { app, listen, token, entries })
    }
}

/// Reads a secret from a file, trimmed; an empty file is an error.
pub(crate) fn read_secret(path: &Path, what: &str) -> Result<SecretString, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{what}: cannot read {}: {e}", path.display()))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("{what}: {} is empty", path.display()));
    }
    Ok(SecretString::from(text.to_owned()))
}

impl TypeSettings {
    /// The keys set on this entry, by name, to refuse those its recipe does not use.
    fn keys_set(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        let mut key = |name, set: bool| {
            if set {
                keys.push(name)
            }
        };
        key("database", self.database.is_some());
        key("restore_database", self.restore_database.is_some());
        key("schema_only", self.schema_only.is_some());
        key("path", self.path.is_some());
        key("restore_into", self.restore_into.is_some());
        key("filestore", self.filestore.is_some());
        key("maintenance_database", self.maintenance_database.is_some());
        key("export", self.export.is_some());
        key("import", self.import.is_some());
        key("verify", self.verify.is_some());
        key("media_type", self.media_type.is_some());
        key("extension", self.extension.is_some());
        keys
    }

    fn into_entry(self, app: &str, connection: &PgConnection) -> Result<Entry, String> {
        let allowed: &[&str] = match self.recipe.as_str() {
            "postgres" => &["database", "restore_database", "schema_only"],
            "sqlite" => &["path"],
            "directory" => &["path", "restore_into"],
            "odoo" => &["database", "filestore", "maintenance_database"],
            "command" => &["export", "import", "verify", "media_type", "extension"],
            other => return Err(format!("unknown recipe {other:?}: use one of {RECIPES}")),
        };
        if let Some(extra) = self.keys_set().into_iter().find(|k| !allowed.contains(k)) {
            return Err(format!(
                "`{extra}` does not apply to the {} recipe (it takes {})",
                self.recipe,
                allowed.join(", ")
            ));
        }
        let recipe = self.recipe.clone();
        let need = |value: Option<String>, key: &str| {
            value.filter(|v| !v.trim().is_empty()).ok_or(format!("the {recipe} recipe needs `{key}`, not empty"))
        };
        // A key that may be left out, but not set to nothing: an empty database name would make
        // libpq fall back to its default database.
        let optional = |value: Option<String>, key: &str| match value {
            Some(v) if v.trim().is_empty() => Err(format!("`{key}` is empty: remove it or give a value")),
            other => Ok(other),
        };
        let need_path = |value: Option<PathBuf>, key: &str| {
            value
                .filter(|p| p.is_absolute() && !p.components().any(|c| c == std::path::Component::ParentDir))
                .ok_or(format!("the {recipe} recipe needs `{key}`, an absolute path without `..`"))
        };
        let restore_database = optional(self.restore_database, "restore_database")?;
        let maintenance_database = optional(self.maintenance_database, "maintenance_database")?;
        let (import, verify) = (optional(self.import, "import")?, optional(self.verify, "verify")?);
        let (media_type, extension) =
            (optional(self.media_type, "media_type")?, optional(self.extension, "extension")?);
        let (recipe, inner, target) = match self.recipe.as_str() {
            "postgres" => {
                let database = need(self.database, "database")?;
                let target = format!("postgres:{database}");
                let mut pg = Postgres::new(app, database).connection(connection.clone());
                if let Some(db) = restore_database {
                    pg = pg.restore_into(db);
                }
                let [full, schema] = Postgres::backup_types();
                (Recipe::Postgres(pg), if self.schema_only.unwrap_or(false) { schema } else { full }, target)
            }
            "sqlite" => {
                let path = need_path(self.path, "path")?;
                let target = format!("sqlite:{}", path.display());
                (Recipe::Sqlite(Sqlite::new(app, path)), Sqlite::backup_type(), target)
            }
            "directory" => {
                let path = need_path(self.path, "path")?;
                let target = format!("directory:{}", path.display());
                let mut dir = Directory::new(app, path);
                if let Some(into) = self.restore_into {
                    dir = dir.restore_into(need_path(Some(into), "restore_into")?);
                }
                (Recipe::Directory(dir), BackupType::new("full", "application/gzip", "tar.gz").with_verify(), target)
            }
            "odoo" => {
                let database = need(self.database, "database")?;
                if maintenance_database.as_deref() == Some(database.as_str()) {
                    return Err(format!(
                        "`maintenance_database` must be another database than {database:?}: a restore renames that one"
                    ));
                }
                let target = format!("odoo:{database}");
                let mut odoo =
                    Odoo::new(app, database, need_path(self.filestore, "filestore")?).connection(connection.clone());
                if let Some(db) = maintenance_database {
                    odoo = odoo.maintenance_database(db);
                }
                (Recipe::Odoo(odoo), Odoo::backup_type(), target)
            }
            _ => {
                let backup_type = BackupType::new(
                    "full",
                    media_type.unwrap_or_else(|| "application/octet-stream".into()),
                    extension.unwrap_or_else(|| "bin".into()),
                );
                let export = need(self.export, "export")?;
                let target = format!("command:{export}");
                let mut commands = Commands::new(app, backup_type.clone(), export);
                if let Some(import) = import {
                    commands = commands.import(import);
                }
                let verifies = verify.is_some();
                if let Some(check) = verify {
                    commands = commands.verify(check);
                }
                (Recipe::Command(commands), BackupType { verify: verifies, ..backup_type }, target)
            }
        };
        let advertised = BackupType { name: self.name.unwrap_or_else(|| inner.name.clone()), ..inner.clone() };
        Ok(Entry { advertised, inner, recipe, target })
    }
}
