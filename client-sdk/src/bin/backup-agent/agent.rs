//! The agent as one [`BackupSource`]: each advertised type is served by its recipe.

use std::collections::{BTreeMap, BTreeSet};

use client_sdk::{
    BackupSource, BackupType, Capabilities, Commands, Directory, ExportStream, Health, ImportStream, Odoo, Postgres,
    SourceError, Sqlite, VerifyReport,
};

pub(crate) enum Recipe {
    Postgres(Postgres),
    Sqlite(Sqlite),
    Directory(Directory),
    Odoo(Odoo),
    Command(Commands),
}

/// Runs `$body` with `$r` bound to whichever recipe `$recipe` holds.
macro_rules! with_recipe {
    ($recipe:expr, $r:ident => $body:expr) => {
        match $recipe {
            Recipe::Postgres($r) => $body,
            Recipe::Sqlite($r) => $body,
            Recipe::Directory($r) => $body,
            Recipe::Odoo($r) => $body,
            Recipe::Command($r) => $body,
        }
    };
}

impl Recipe {
    /// The programs this recipe runs, to check at start-up.
    pub(crate) fn tools(&self) -> &'static [&'static str] {
        match self {
            Recipe::Postgres(_) => &["pg_dump", "pg_restore", "psql"],
            Recipe::Odoo(_) => &["pg_dump", "psql"],
            Recipe::Directory(_) => &["tar", "gzip"],
            Recipe::Command(_) => &["sh"],
            Recipe::Sqlite(_) => &[],
        }
    }
}

/// One advertised type: the name the orchestrator sees, the recipe's own type, the recipe.
pub(crate) struct Entry {
    pub(crate) advertised: BackupType,
    pub(crate) inner: BackupType,
    pub(crate) recipe: Recipe,
    /// What it backs up (`postgres:billing`), so two types over one database count it once.
    pub(crate) target: String,
}

pub(crate) struct Agent {
    pub(crate) app: String,
    pub(crate) entries: Vec<Entry>,
}

impl Agent {
    fn entry(&self, backup_type: &BackupType) -> Result<&Entry, SourceError> {
        self.entries
            .iter()
            .find(|e| e.advertised.name == backup_type.name)
            .ok_or_else(|| SourceError::failed(format!("no recipe serves the type {:?}", backup_type.name)))
    }
}

impl BackupSource for Agent {
    fn capabilities(&self) -> Capabilities {
        let mut capabilities = Capabilities::new(&self.app, self.entries.iter().map(|e| e.advertised.clone()));
        capabilities.restore = self.entries.iter().any(|e| with_recipe!(&e.recipe, r => r.capabilities().restore));
        capabilities
    }

    async fn export(&self, backup_type: &BackupType) -> Result<ExportStream, SourceError> {
        let entry = self.entry(backup_type)?;
        with_recipe!(&entry.recipe, r => r.export(&entry.inner).await)
    }

    async fn import(&self, backup_type: &BackupType, body: ImportStream) -> Result<(), SourceError> {
        let entry = self.entry(backup_type)?;
        with_recipe!(&entry.recipe, r => r.import(&entry.inner, body).await)
    }

    async fn verify(&self, backup_type: &BackupType, body: ImportStream) -> Result<VerifyReport, SourceError> {
        let entry = self.entry(backup_type)?;
        with_recipe!(&entry.recipe, r => r.verify(&entry.inner, body).await)
    }

    /// Each type's health under its name (`full.database`, `uploads.files`); the size is the sum
    /// over what is backed up, each database or folder counted once.
    async fn health(&self) -> Option<Health> {
        let mut details = BTreeMap::new();
        let mut size = None::<u64>;
        let mut counted = BTreeSet::new();
        for entry in &self.entries {
            let Some(health) = with_recipe!(&entry.recipe, r => r.health().await) else { continue };
            let name = &entry.advertised.name;
            for (key, value) in health.details {
                details.insert(format!("{name}.{key}"), value);
            }
            if let Some(bytes) = health.size_bytes {
                details.insert(format!("{name}.size_bytes"), bytes.to_string());
                if counted.insert(entry.target.as_str()) {
                    size = Some(size.unwrap_or(0) + bytes);
                }
            }
        }
        (size.is_some() || !details.is_empty()).then_some(Health { size_bytes: size, details })
    }
}
