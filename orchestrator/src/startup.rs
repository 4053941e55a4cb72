//! Wiring: settings in, the open database, registry, destination and runner out. `main.rs` and
//! the tests go through here; nothing else reads the environment.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use sea_orm::DatabaseConnection;

use crate::backup::run::Runner;
use crate::config::Settings;
use crate::notify::Notifier;
use crate::registry::Registry;
use crate::secrets::{self, SecretBox};
use crate::storage::destination::Destination;

/// Everything a command needs.
#[derive(Debug, Clone)]
pub struct Context {
    /// The database.
    pub db: DatabaseConnection,
    /// Apps.
    pub registry: Registry,
    /// Runs backups.
    pub runner: Runner,
    /// Sends notifications.
    pub notifier: Notifier,
}

/// Opens the database (migrating it), checks `SECRET_KEY` against it, and opens the destination.
pub async fn open(settings: &Settings) -> anyhow::Result<Context> {
    let sqlite_file = settings.database_url.strip_prefix("sqlite:").map(|rest| {
        let path = rest.trim_start_matches("//");
        std::path::PathBuf::from(path.split('?').next().unwrap_or_default())
    });
    let key = secrets::load_key(settings.secret_key.clone(), sqlite_file.as_deref()).map_err(anyhow::Error::msg)?;
    let secrets = Arc::new(SecretBox::new(&key).map_err(anyhow::Error::msg)?);
    let db = crate::db::connect(&settings.database_url)
        .await
        .with_context(|| format!("could not open the database {}", redact_url(&settings.database_url)))?;
    if let Err(e) = secrets::check_fingerprint(&db, &secrets).await {
        bail!(e);
    }
    let destination = Destination::open(&settings.storage).map_err(|e| anyhow::anyhow!("storage: {}", e.message()))?;
    let holder = format!("{}:{}", hostname(), std::process::id());
    let notifier = Notifier::new(db.clone(), secrets.clone(), settings.notify.clone());
    let runner = Runner {
        db: db.clone(),
        destination,
        settings: settings.run,
        holder,
        stopping: Default::default(),
        notifier: notifier.clone(),
    };
    crate::runlog::attach(db.clone());
    Ok(Context { registry: Registry::new(db.clone(), secrets), db, runner, notifier })
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "localhost".into())
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
